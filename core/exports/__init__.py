"""Packages for the foundation's lawyers and staff: participant lists and the evidence package."""
