"""The server's entry point: `create_app(settings)` (uvicorn's factory). The wiring is parlor/wiring/."""

from parlor.wiring.server import create_app

__all__ = ["create_app"]
