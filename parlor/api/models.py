"""`GET /api/models`: the models the caller's tier may use, what each can do and costs, and the default."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.chat import ModelEntry

router = APIRouter(tags=["models"])


def model_json(model: ModelEntry, default: bool) -> dict[str, Any]:
    price = {"input": model.price.input, "output": model.price.output} if model.price is not None else None
    capabilities = model.capabilities
    return {"id": model.id, "label": model.label, "kind": model.kind, "model": model.model,
            "capabilities": {"vision": capabilities.vision, "tools": capabilities.tools,
                             "reasoning": capabilities.reasoning},
            "context_window": model.context_window, "price": price, "default": default}


@router.get("/api/models")
async def list_models(svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """In fallback order; `default` marks the one a chat with no model chosen starts with. `price`: US
    dollars per million tokens (null: not known)."""
    default = svc.models.default(who.tier)
    return {"models": [model_json(m, m == default) for m in svc.models.for_tier(who.tier)]}
