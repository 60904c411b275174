"""Which calls a call-log page or export shows: filters read from a query string, checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, or_, select

from cti.core.events import Outcome
from cti.core.numbers import NumberRules, normalize
from cti.db.models import Call, Customer
from cti.errors import DomainError

MAX_DAYS: Final = 366
OUTCOMES: Final = tuple(o.value for o in Outcome)


@dataclass(frozen=True, slots=True)
class CallFilter:
    start: datetime
    end: datetime
    queue: str = ""
    agent_user_id: int | None = None
    outcome: str = ""
    search: str = ""
    day_from: date | None = None
    day_to: date | None = None
    # For roles that may not see who a withheld caller is: such rows show "withheld", and a
    # search by number, name or customer must not find them either.
    hide_withheld: bool = False

    @classmethod
    def parse(cls, query: Mapping[str, str], zone: ZoneInfo, today: date) -> CallFilter:
        """From `from`, `to` (dates, in the viewer's zone), `queue`, `agent`, `outcome`, `q`."""
        first = _date(query.get("from", ""), "from") or today
        last = _date(query.get("to", ""), "to") or first
        if last < first:
            raise DomainError("'to' is before 'from'", {"to": last.isoformat()})
        if (last - first).days >= MAX_DAYS:
            raise DomainError(f"a range may span at most {MAX_DAYS} days")
        agent = query.get("agent", "")
        if agent and not agent.isdigit():
            raise DomainError("'agent' must be a user number", {"agent": agent[:40]})
        outcome = query.get("outcome", "")
        if outcome and outcome not in OUTCOMES:
            raise DomainError(f"unknown outcome {outcome[:40]!r}", {"outcome": ", ".join(OUTCOMES)})
        return cls(
            start=datetime.combine(first, time(), zone).astimezone(UTC),
            end=datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC),
            queue=query.get("queue", "")[:80],
            agent_user_id=int(agent) if agent else None,
            outcome=outcome,
            search=query.get("q", "").strip()[:100],
            day_from=first,
            day_to=last,
        )

    def restricted_to(self, user_id: int) -> CallFilter:
        """An agent sees their own calls only."""
        return replace(self, agent_user_id=user_id)

    def hiding_withheld(self) -> CallFilter:
        return replace(self, hide_withheld=True)

    def conditions(self, region: str) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [
            Call.started_at >= self.start,
            Call.started_at < self.end,
        ]
        if self.queue:
            where.append(Call.queue == self.queue)
        if self.agent_user_id is not None:
            where.append(Call.agent_user_id == self.agent_user_id)
        if self.outcome:
            where.append(Call.outcome == self.outcome)
        if self.search:
            number = normalize(self.search, NumberRules(region))
            pattern = f"%{self.search.replace('%', '').replace('_', '')}%"
            matches: list[ColumnElement[bool]] = [
                Call.caller_name.ilike(pattern),
                Call.caller_number.like(pattern),
            ]
            if number.known:
                matches.append(Call.caller_e164 == number.e164)
            customers = select(Customer.id).where(Customer.name.ilike(pattern))
            matches.append(Call.customer_id.in_(customers))
            found = or_(*matches)
            where.append(and_(Call.withheld.is_(False), found) if self.hide_withheld else found)
        return where

    def select(self, region: str) -> Select[Call]:
        return select(Call).where(*self.conditions(region))

    def as_query(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.day_from:
            out["from"] = self.day_from.isoformat()
        if self.day_to:
            out["to"] = self.day_to.isoformat()
        for key, value in (("queue", self.queue), ("outcome", self.outcome), ("q", self.search)):
            if value:
                out[key] = value
        if self.agent_user_id is not None:
            out["agent"] = str(self.agent_user_id)
        return out


def _date(raw: str, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise DomainError(f"'{name}' must be a date such as 2026-11-29", {name: raw[:40]}) from None
