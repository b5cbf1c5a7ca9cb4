"""Joining a campaign: the form, e-mail verification, the agreements and the signature."""
