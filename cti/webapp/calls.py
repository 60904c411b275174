"""Call log pages: the filtered list, one call's detail, and a streamed CSV export."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import String, Table, Text, case, func, literal, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from cti import keys
from cti.calllog.query import OUTCOMES, CallFilter
from cti.db.models import Call, Customer, User, UtcDateTime
from cti.errors import NotFoundError
from cti.i18n import N_
from cti.webapp.policy import Role, requires
from cti.webapp.render import render, user_timezone
from cti.webapp.security import current_session, user_role

PAGE: Final = 100
COLUMNS: Final = (
    "id",
    "pbx",
    "uniqueid",
    "direction",
    "caller_number",
    "caller_name",
    "caller_e164",
    "customer_id",
    "queue",
    "agent_name",
    "agent_interface",
    "started_at",
    "enqueued_at",
    "first_ring_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "ring_seconds",
    "talk_seconds",
    "outcome",
    "hangup_cause",
    "end_reason",
    "recording",
    "disposition",
    "notes",
)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _filter(request: web.Request) -> CallFilter:
    zone = ZoneInfo(user_timezone(request))
    wanted = CallFilter.parse(request.query, zone, datetime.now(zone).date())
    session = current_session(request)
    if user_role(session) < Role.SUPERVISOR:
        wanted = wanted.restricted_to(session.user.id)
    return wanted


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
        customer = (
            await session.get(Customer, call.customer_id) if call and call.customer_id else None
        )
    if call is None or (
        user_role(session_) < Role.SUPERVISOR and call.agent_user_id != session_.user.id
    ):
        raise NotFoundError(f"no call {raw}")
    timeline = [
        (moment, label, "")
        for moment, label in (
            (call.started_at, N_("Call started")),
            (call.enqueued_at, N_("Entered the queue")),
            (call.first_ring_at, N_("First agent phone rang")),
            (call.answered_at, N_("Answered")),
            (call.ended_at, N_("Ended")),
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
        {"call": call, "customer": customer, "timeline": sorted(timeline, key=lambda t: t[0])},
    )


def export_column(table: Table, name: str, dialect: str) -> Any:
    """A column as the CSV shows it, made by the database: at a million rows, converting each
    value in Python would cost most of the time."""
    column = table.c[name]
    if isinstance(column.type, UtcDateTime):
        iso: ColumnElement[str]
        if dialect == "postgresql":
            iso = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        else:
            # Stored as UTC text, "YYYY-MM-DD HH:MM:SS.ffffff".
            iso = func.replace(type_coerce(column, String), " ", "T").concat("+00:00")
        return iso.label(name)
    if isinstance(column.type, String | Text):
        # A spreadsheet runs a cell that starts with one of these as a formula.
        risky = func.substr(column, 1, 1).in_(_FORMULA_START)
        return case((risky, literal("'").concat(column)), else_=column).label(name)
    return column


@requires(Role.AGENT)
async def call_export(request: web.Request) -> web.StreamResponse:
    """Every matching call as CSV, written as it is read: memory stays flat at any size."""
    wanted = _filter(request)
    region = request.app[keys.CONFIG].numbers.default_region
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="calls.csv"',
        }
    )
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    table = cast(Table, Call.__table__)
    dialect = request.app[keys.ENGINE].dialect.name
    # Plain rows, not ORM objects: at a million rows the objects would cost most of the time.
    statement = (
        select(*(export_column(table, column, dialect) for column in COLUMNS))
        .where(*wanted.conditions(region))
        .order_by(table.c.started_at, table.c.id)
        .execution_options(yield_per=5000)
    )
    async with request.app[keys.DB]() as session:
        result = await session.stream(statement)
        async for partition in result.partitions():
            writer.writerows(partition)
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/calls", call_list, name="calls")
    app.router.add_get("/calls.csv", call_export, name="calls-csv")
    app.router.add_get("/calls/{call_id}", call_detail, name="call")
