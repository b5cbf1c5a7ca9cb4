"""What runs around the app in production: the nginx configuration generated from the campaigns
(:mod:`core.deploy.nginx`). The systemd units and nginx's error pages are files in ``deploy/``."""
