"""``GET /healthz`` on any host: whether this process serves every campaign its files describe.

For load balancers and monitoring. It answers 200 while the process serves, also when some campaign files have
problems (``"status": "degraded"``): those campaigns are left out (or keep their last good version) and every
other campaign serves, so taking the server out of rotation would only make things worse. It gives counts, never
file names or messages: a draft campaign's name is not public. The problems themselves are in the log, in the
staff console and in ``flask campaigns check``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from core.campaigns import CampaignRegistry

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

HEALTH_PATH = "/healthz"


def health(registry: CampaignRegistry, start_response: StartResponse) -> Iterable[bytes]:
    snapshot = registry.snapshot
    files_with_problems = len({problem.file for problem in snapshot.errors})
    body = json.dumps(
        {
            "status": "degraded" if snapshot.errors else "ok",
            "campaigns_served": len(snapshot.campaigns),
            "campaign_files_with_problems": files_with_problems,
            "generation": snapshot.generation,
        }
    ).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
    )
    return [body]
