"""Blueprints: public campaign pages, their static files, and error pages."""
