"""Collective GDPR data requests: the foundation asks companies, in rounds, for the personal data of the participants
who mandated it (issue 20)."""
