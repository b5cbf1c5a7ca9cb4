"""Joining a campaign: the form, e-mail verification, the agreements, the signature and mandate, payment, the
participant's own page, and the jobs and sweeps that finish what a request started."""
