"""Call log pages: the filtered list, one call's detail, and a streamed CSV export."""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from cti import keys
from cti.calllog.export import HEADER, export_statement
from cti.calllog.query import OUTCOMES, CallFilter
from cti.core.events import EndSource
from cti.db.models import Call, Customer, User
from cti.errors import NotFoundError
from cti.i18n import N_
from cti.webapp.policy import Role, requires
from cti.webapp.render import render, user_timezone, user_today
from cti.webapp.security import current_session, sees_withheld, user_role

PAGE: Final = 100
# How the timeline names a call's end that was not seen live.
_ENDED: Final = {
    EndSource.OUTAGE.value: N_("Link to the PBX lost; the end was not seen"),
    EndSource.QUEUE_LOG.value: N_("Ended, as the PBX's queue log tells"),
}


def _filter(request: web.Request) -> CallFilter:
    zone = ZoneInfo(user_timezone(request))
    wanted = CallFilter.parse(request.query, zone, user_today(request))
    session = current_session(request)
    if user_role(session) < Role.SUPERVISOR:
        wanted = wanted.restricted_to(session.user.id)
    return wanted if sees_withheld(request) else wanted.hiding_withheld()


@requires(Role.AGENT)
async def call_list(request: web.Request) -> web.StreamResponse:
    wanted = _filter(request)
    region = request.app[keys.CONFIG].numbers.default_region
    before = request.query.get("before", "")
    statement = wanted.select(region).order_by(Call.id.desc()).limit(PAGE + 1)
    if before.isdigit():
        statement = statement.where(Call.id < int(before))
    async with request.app[keys.DB]() as session:
        rows = list(await session.scalars(statement))
        queues = list(await session.scalars(select(Call.queue).where(Call.queue != "").distinct()))
        agents = list(
            await session.execute(select(User.id, User.display_name).where(User.role == "agent"))
        )
    context = {
        "calls": rows[:PAGE],
        "more": rows[PAGE].id + 1 if len(rows) > PAGE else None,
        "filter": wanted,
        "query": wanted.as_query(),
        "queues": sorted(queues),
        "agents": agents,
        "outcomes": OUTCOMES,
        "hide_withheld": wanted.hide_withheld,
    }
    return await render(request, "calls.html", context)


@requires(Role.AGENT)
async def call_detail(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["call_id"]
    if not raw.isdigit():
        raise NotFoundError(f"no call {raw!r}")
    session_ = current_session(request)
    async with request.app[keys.DB]() as session:
        call = await session.get(Call, int(raw))
        if call is None or (
            user_role(session_) < Role.SUPERVISOR and call.agent_user_id != session_.user.id
        ):
            raise NotFoundError(f"no call {raw}")
        hidden = call.withheld and not sees_withheld(request)
        customer_id = None if hidden else call.customer_id
        customer = await session.get(Customer, customer_id) if customer_id else None
    timeline = [
        (moment, label, "")
        for moment, label in (
            (call.started_at, N_("Call started")),
            (call.enqueued_at, N_("Entered the queue")),
            (call.first_ring_at, N_("First agent phone rang")),
            (call.answered_at, N_("Answered")),
            (call.ended_at, _ENDED.get(call.end_source, N_("Ended"))),
        )
        if moment is not None
    ]
    for attempt in call.attempts or []:
        agent = str(attempt.get("agent", ""))
        timeline.append((datetime.fromisoformat(attempt["rung_at"]), N_("Rang"), agent))
        if attempt.get("ended_at"):
            result = f"{agent}: {attempt.get('result') or ''}"
            timeline.append(
                (datetime.fromisoformat(attempt["ended_at"]), N_("Stopped ringing"), result)
            )
    return await render(
        request,
        "call.html",
        {
            "call": call,
            "hidden": hidden,
            "customer": customer,
            "timeline": sorted(timeline, key=lambda t: t[0]),
        },
    )


@requires(Role.AGENT)
async def call_export(request: web.Request) -> web.StreamResponse:
    """Every matching call as CSV, written as it is read: memory stays flat at any size."""
    wanted = _filter(request)
    region = request.app[keys.CONFIG].numbers.default_region
    statement = export_statement(wanted, region, request.app[keys.ENGINE].dialect.name)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="calls.csv"',
        }
    )
    await response.prepare(request)
    await response.write(f"{HEADER}\r\n".encode())
    # Core rows, not the ORM's: at a million rows its per-row loading would cost a third.
    async with request.app[keys.ENGINE].connect() as connection:
        result = await connection.stream(statement.execution_options(yield_per=5000))
        async for records in result.scalars().partitions():
            await response.write(("\r\n".join(records) + "\r\n").encode())
    await response.write_eof()
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/calls", call_list, name="calls")
    app.router.add_get("/calls.csv", call_export, name="calls-csv")
    app.router.add_get("/calls/{call_id}", call_detail, name="call")
