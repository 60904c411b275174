"""/healthz (the database, each PBX link, and every component that reported to the health
registry; 503 while one has failed, see cti.health and docs/health.md) and /metrics (Prometheus
text format)."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cti import keys
from cti.webapp.policy import ProbeOrRole, Role, requires

logger = logging.getLogger(__name__)


async def check_database(app: web.Application) -> None:
    health = app[keys.HEALTH]
    try:
        async with app[keys.ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        health.report("database", "failed", type(exc).__name__)
    else:
        health.report("database", "ok")


@requires(ProbeOrRole(Role.SUPERVISOR))
async def healthz(request: web.Request) -> web.StreamResponse:
    await check_database(request.app)
    snapshot = request.app[keys.HEALTH].snapshot()
    status = 200 if snapshot["status"] != "failed" else 503
    return web.json_response(snapshot, status=status)


@requires(ProbeOrRole(Role.SUPERVISOR))
async def metrics(request: web.Request) -> web.StreamResponse:
    return web.Response(
        text=request.app[keys.METRICS].render(), content_type="text/plain", charset="utf-8"
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/metrics", metrics, name="metrics")
