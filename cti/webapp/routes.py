"""The whole URL map in one place."""

from __future__ import annotations

from aiohttp import web

from cti.webapp import (
    admin_users,
    auth,
    calls,
    console,
    customers,
    floor,
    health,
    http_hooks,
    kannel_hooks,
    pages,
    reports,
    sms_pages,
    tiles,
    twilio_hooks,
)
from cti.webapp.render import asset_root


def setup_routes(app: web.Application) -> None:
    auth.setup(app)
    pages.setup(app)
    admin_users.setup(app)
    health.setup(app)
    floor.setup(app)
    console.setup(app)
    customers.setup(app)
    calls.setup(app)
    reports.setup(app)
    tiles.setup(app)
    sms_pages.setup(app)
    http_hooks.setup(app)
    twilio_hooks.setup(app)
    kannel_hooks.setup(app)
    app.router.add_static("/static", asset_root() / "static", name="static")
