"""WSGI entry point: ``gunicorn wsgi:app``. Settings come from CLAIMSITE_* environment variables (see README)."""

import sys

from core import create_app
from core.campaigns import CampaignConfigError
from core.settings import SettingsError

try:
    app = create_app()
except (SettingsError, CampaignConfigError) as exc:
    # A person reads this: say what is wrong and stop, without a traceback.
    sys.stderr.write(f"claimsite cannot start:\n{exc}\n")
    raise SystemExit(1) from None
