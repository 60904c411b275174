"""Reports for supervisors: KPIs per period and queue or agent, with a chart, breakdowns and CSV."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime
from typing import Any, Final, cast, get_args
from zoneinfo import ZoneInfo

from aiohttp import web

from cti import keys
from cti.calllog.reports import (
    Breakdown,
    Period,
    ReportRow,
    agent_time,
    breakdown,
    day_range,
    kpi_report,
)
from cti.calllog.rollup import Group
from cti.core.kpi import KpiSettings
from cti.errors import DomainError
from cti.webapp.charts import bar_chart
from cti.webapp.policy import Role, requires
from cti.webapp.render import render, user_timezone, user_today

# An hourly report over a year would be 8,760 rows per queue; each period has its own limit.
MAX_DAYS: Final = {"hour": 31, "day": 366, "week": 731, "month": 1830}
CSV_COLUMNS: Final = (
    "period",
    "key",
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "timed_out",
    "no_agent",
    "cut_off",
    "unknown",
    "answered_in_time",
    "service_level",
    "asa_seconds",
    "aht_seconds",
    "abandon_rate",
    "longest_wait_seconds",
)


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        raise DomainError(f"'{name}' must be one of {', '.join(allowed)}", {name: value[:40]})
    return value


def _day(request: web.Request, name: str, default: date) -> date:
    raw = request.query.get(name, "")
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DomainError(f"'{name}' must be a date such as 2026-11-29", {name: raw[:40]}) from None


def _settings(request: web.Request) -> KpiSettings:
    return request.app[keys.CONFIG].kpi_settings()


async def _report(request: web.Request) -> tuple[dict[str, Any], list[ReportRow]]:
    zone = ZoneInfo(user_timezone(request))
    today = user_today(request)
    period = _choice(request, "period", get_args(Period), "day")
    group = _choice(request, "group", get_args(Group), "queue")
    last = _day(request, "to", today)
    first = _day(request, "from", last.replace(day=1))
    if last < first:
        raise DomainError("'to' is before 'from'")
    if (last - first).days >= MAX_DAYS[period]:
        raise DomainError(f"a {period}ly report may span at most {MAX_DAYS[period]} days")
    start, end = day_range(first, last, zone)
    hours = request.app[keys.CONFIG].hours
    async with request.app[keys.DB]() as session:
        rows = await kpi_report(
            session,
            start=start,
            end=end,
            period=cast(Period, period),
            group=cast(Group, group),
            settings=_settings(request),
            hours=hours.weekly,
            zone=hours.zone,
        )
        breakdowns = {
            by: await breakdown(session, start=start, end=end, by=by) for by in get_args(Breakdown)
        }
        times = await agent_time(session, start=start, end=end) if group == "agent" else []
    params = {"from": first.isoformat(), "to": last.isoformat(), "period": period, "group": group}
    return {"params": params, "breakdowns": breakdowns, "agent_times": times}, rows


def _label(moment: datetime, period: str) -> str:
    return moment.strftime("%Y-%m-%d %H:00" if period == "hour" else "%Y-%m-%d")


@requires(Role.SUPERVISOR)
async def report_page(request: web.Request) -> web.StreamResponse:
    context, rows = await _report(request)
    period = context["params"]["period"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        bucket = totals[_label(row.period, period)]
        bucket[0] += row.kpis.offered
        bucket[1] += row.kpis.answered
        bucket[2] += row.kpis.abandoned
    labels = sorted(totals)
    context["chart"] = bar_chart(
        labels,
        {
            "offered": [totals[label][0] for label in labels],
            "answered": [totals[label][1] for label in labels],
            "abandoned": [totals[label][2] for label in labels],
        },
    )
    context["rows"] = [(_label(row.period, period), row) for row in rows]
    return await render(request, "reports.html", context)


@requires(Role.SUPERVISOR)
async def report_csv(request: web.Request) -> web.StreamResponse:
    context, rows = await _report(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        k = row.kpis
        writer.writerow(
            [
                _label(row.period, context["params"]["period"]),
                row.key,
                k.offered,
                k.answered,
                k.abandoned,
                k.short_abandoned,
                k.timed_out,
                k.no_agent,
                k.cut_off,
                k.unknown,
                k.answered_in_time,
                _fmt(k.service_level),
                _fmt(k.asa_seconds),
                _fmt(k.aht_seconds),
                _fmt(k.abandon_rate),
                _fmt(k.longest_wait_seconds),
            ]
        )
    return web.Response(
        text=buffer.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="report.csv"'},
    )


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def setup(app: web.Application) -> None:
    app.router.add_get("/reports", report_page, name="reports")
    app.router.add_get("/reports.csv", report_csv, name="reports-csv")
