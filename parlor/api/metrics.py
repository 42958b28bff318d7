"""`GET /metrics`: Prometheus text format on the main port; with PARLOR_METRICS_TOKEN set, only for
`Authorization: Bearer <that token>`. (`parlor worker` serves its own: parlor/observability/exposition.py.)"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from parlor.api.deps import UNAUTHORIZED, ServicesDep
from parlor.observability.exposition import token_matches
from parlor.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["observability"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, svc: ServicesDep) -> Response:
    if not token_matches(request.headers.get("authorization", ""), svc.settings.metrics_token):
        raise UNAUTHORIZED
    return Response(await svc.metrics.render(), media_type=CONTENT_TYPE)
