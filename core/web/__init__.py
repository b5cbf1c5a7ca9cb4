"""The HTTP side: tenancy, rendering, templating, assets, headers, sessions and the views."""
