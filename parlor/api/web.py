"""The built web UI: files from its `dist/` folder, and index.html for every client-side route."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from parlor.api.errors import error_response

NOT_BUILT = """<!doctype html><title>Parlor</title><body style="font-family:sans-serif;margin:3rem">
<h1>Parlor is running</h1><p>The web UI is not built. Run <code>make run</code> (or
<code>npm --prefix web ci && npm --prefix web run build</code>) and reload.</p>
<p>The API is at <code>/api</code> and <code>/v1</code>.</p></body>"""


def mount_web(app: FastAPI, web_dir: Path) -> None:
    web_dir = web_dir.resolve()
    index = web_dir / "index.html"
    if (web_dir / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=web_dir / "assets"), name="assets")
    router = APIRouter(include_in_schema=False)

    @router.get("/{path:path}")
    async def spa(path: str) -> Response:
        if path.startswith(("api/", "v1/")):
            return error_response("/" + path, 404, "not_found", "No such route.")
        candidate = (web_dir / path).resolve()
        if path and candidate.is_relative_to(web_dir) and candidate.is_file():
            return FileResponse(candidate)
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(NOT_BUILT)

    app.include_router(router)
