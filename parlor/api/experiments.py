"""Experiments, for admins: `GET /api/admin/experiments`, `GET|PUT|DELETE /api/admin/experiments/{name}`
(a PUT takes effect on this replica at once, on the others within PARLOR_EXPERIMENTS_REFRESH_SECONDS) and
`GET /api/admin/experiments/{name}/results` (per variant, aggregated in SQL)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from pydantic import AfterValidator, ValidationError

from parlor.api.deps import AdminDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.inputs import checked_body
from parlor.config import EXPERIMENT_NAME, ExperimentConfig
from parlor.experiments import InvalidExperiment
from parlor.experiments.results import parse_since

router = APIRouter(prefix="/api/admin/experiments", tags=["experiments"])
Name = Annotated[str, Path(pattern=EXPERIMENT_NAME)]
NOT_FOUND = ApiError(404, "experiment_not_found", "No experiment of that name.")


@router.get("")
async def list_experiments(svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    return {"experiments": [e.as_json() for e in await svc.experiments.store.list()]}


@router.get("/{name}")
async def get_experiment(name: Name, svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    found = await svc.experiments.store.get(name)
    if found is None:
        raise NOT_FOUND
    return found.as_json()


@router.put("/{name}")
async def put_experiment(name: Name, svc: ServicesDep, _: AdminDep, response: Response,
                         body: Annotated[dict[str, Any], Body(), AfterValidator(checked_body)]) -> dict[str, Any]:
    """Creates or replaces the experiment (the body: everything but its name, which is the path's)."""
    if body.get("name", name) != name:
        raise ApiError(422, "invalid_experiment", "name: the body's name differs from the path's.")
    try:
        config = ExperimentConfig.model_validate({**body, "name": name})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(422, "invalid_experiment", f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
    try:
        stored, created = await svc.experiments.put(config)
    except InvalidExperiment as exc:
        raise ApiError(422, "invalid_experiment", str(exc)) from None
    response.status_code = 201 if created else 200
    return stored.as_json()


@router.delete("/{name}", status_code=204)
async def delete_experiment(name: Name, svc: ServicesDep, _: AdminDep) -> Response:
    """Its threads go on as usual from their next turn; their recorded runs stay (results still read)."""
    if not await svc.experiments.delete(name):
        raise NOT_FOUND
    return Response(status_code=204)


@router.get("/{name}/results")
async def experiment_results(name: Name, svc: ServicesDep, _: AdminDep, since: str | None = None) -> dict[str, Any]:
    """Per variant: users, turns, thumbs-up rate (Wilson 95 % interval), stop, regenerate and error
    rates, p50/p95 time to first token, tokens and cost per turn. `since`: ISO time or 15m, 6h, 7d."""
    try:
        start = parse_since(since)
    except ValueError:
        raise ApiError(422, "invalid_request", "since: an ISO 8601 time or a span like 15m, 6h, 7d.") from None
    results = await svc.experiments.report(name, start)
    if results is None:
        raise NOT_FOUND
    return {"experiment": name, "since": since, "variants": [r.as_json() for r in results]}
