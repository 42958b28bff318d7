"""PostgreSQL's pool pings only connections that sat idle, and replaces one that died meanwhile."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from parlor.db import create_engine
from parlor.db import engine as engine_module
from tests import pg


async def test_a_connection_killed_while_idle_is_replaced_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    async with pg.fresh_database() as url:
        engine, admin = create_engine(url, pool_size=1, max_overflow=0), create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                killed = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with admin.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed})
            monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", -1.0)  # as if it had sat idle for long
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != killed
        finally:
            await engine.dispose()
            await admin.dispose()
