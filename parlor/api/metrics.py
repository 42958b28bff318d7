"""`GET /metrics`: Prometheus text format on the main port; with PARLOR_METRICS_TOKEN set, only for
`Authorization: Bearer <that token>`."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from parlor.api.deps import UNAUTHORIZED, ServicesDep, bearer
from parlor.observability import Telemetry
from parlor.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["observability"])


def telemetry_of(request: Request) -> Telemetry:
    found: Telemetry = request.app.state.telemetry
    return found


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, svc: ServicesDep) -> Response:
    token = svc.settings.metrics_token
    if token is not None:
        given = bearer(request) or ""
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise UNAUTHORIZED
    return Response(await telemetry_of(request).metrics.render(), media_type=CONTENT_TYPE)
