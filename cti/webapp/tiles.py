"""The "today" dashboard: each feature adds its tiles (a count, a label, a link) to the home."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select

from cti import keys
from cti.db.models import Call
from cti.i18n import N_
from cti.webapp.policy import Role
from cti.webapp.render import user_today
from cti.webapp.security import current_session, user_role


@dataclass(frozen=True, slots=True)
class Tile:
    label: str  # a message id, translated when shown
    value: str
    href: str = ""
    grade: str = ""


TileSource = Callable[[web.Request], Awaitable[list[Tile]]]
TILES = web.AppKey("tiles", list[TileSource])


def add_tiles(app: web.Application, source: TileSource) -> None:
    app.setdefault(TILES, []).append(source)


async def collect(request: web.Request) -> list[Tile]:
    tiles: list[Tile] = []
    for source in request.app.get(TILES, []):
        tiles += await source(request)
    return tiles


async def center_today(request: web.Request) -> list[Tile]:
    """Supervisors: the day's totals over every queue, from the live board."""
    if user_role(current_session(request)) < Role.SUPERVISOR:
        return []
    rows = request.app[keys.TODAY].rows()
    offered = sum(r["offered"] for r in rows)
    answered = sum(r["answered"] for r in rows)
    abandoned = sum(r["abandoned"] for r in rows)
    return [
        Tile(N_("Calls offered today"), str(offered), "/floor"),
        Tile(N_("Answered"), str(answered), "/calls?outcome=answered"),
        Tile(
            N_("Abandoned"), str(abandoned), "/calls?outcome=abandoned", "warn" if abandoned else ""
        ),
    ]


async def my_calls_today(request: web.Request) -> list[Tile]:
    """Everyone: the calls they handled today, in their own time zone."""
    user = current_session(request).user
    zone = ZoneInfo(user.timezone)
    midnight = datetime.combine(user_today(request), time(), zone).astimezone(UTC)
    async with request.app[keys.DB]() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Call)
            .where(Call.agent_user_id == user.id, Call.started_at >= midnight)
        )
    return [Tile(N_("My calls today"), str(count or 0), "/calls")]


def setup(app: web.Application) -> None:
    add_tiles(app, my_calls_today)
    add_tiles(app, center_today)
