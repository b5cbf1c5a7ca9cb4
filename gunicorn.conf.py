"""gunicorn's settings for claimsite, read by ``gunicorn ... wsgi:app`` when started in this folder (gunicorn looks
for ./gunicorn.conf.py by itself); the command line (workers, bind) adds to them.

Forwarded headers: only the app decides which to believe, through ``CLAIMSITE_TRUSTED_PROXIES`` (werkzeug's
ProxyFix in core/__init__.py). gunicorn would otherwise set the scheme from ``X-Forwarded-Proto`` (and
``X-Forwarded-Ssl``, ``X-Forwarded-Protocol``) itself for any request from 127.0.0.1, whatever that setting says.
"""

import gunicorn

forwarded_allow_ips = ""  # no peer may set the scheme (or SCRIPT_NAME/PATH_INFO) through headers at gunicorn's level
secure_scheme_headers: dict[str, str] = {}

# The Server banner only tells a scanner what to try. gunicorn has no setting for it and writes it on every answer
# (an app's own Server header would be sent besides it); the value comes from gunicorn.SERVER, read when its HTTP
# module is first imported, which is after this file runs. An empty value is the most it allows without patching
# its code. tests/test_gunicorn.py checks the answer of a real gunicorn.
gunicorn.SERVER = ""

# gunicorn 25 and newer open a control socket (an unauthenticated admin interface for `gunicornc`) at one path per
# user, $XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl: several instances on one host (claimsite-web@PORT)
# would take it from each other, and the first to stop removes the socket of the next. Nothing here uses it.
control_socket_disable = True
