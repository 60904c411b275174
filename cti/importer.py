"""`cti import customers`: a CSV file upserted into customers and their numbers, all or nothing.

A row updates the customer with its external id, else the one customer holding one of its numbers,
else it creates a customer. Rows that cannot be used are reported with their line and reason and
change nothing; a fatal error (an unreadable file, a database failure) rolls the whole import back.
New customers and numbers are written with bulk inserts in chunks, so 100,000 rows take seconds.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.core.numbers import NumberRules
from cti.customer_csv import CustomerRow, ImportFileError, Phone, read_rows
from cti.db.models import Customer, PhoneNumber
from cti.errors import ImportRowError

CHUNK: Final = 2000
Progress = Callable[[int, int], None]


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    phones_added: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    rejected: list[ImportRowError] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.created} customers created, {self.updated} updated, "
            f"{self.phones_added} numbers added, {len(self.rejected)} rows rejected"
        )
        if self.ignored_columns:
            text += f"; columns ignored: {', '.join(self.ignored_columns)}"
        return text


@dataclass(slots=True)
class _Pending:
    """A customer this import creates; its id is known once its chunk is inserted."""

    values: dict[str, Any]
    phones: dict[str, Phone]
    id: int | None = None


Target = int | _Pending


class _Upserter:
    def __init__(self, session: AsyncSession, report: ImportReport) -> None:
        self._session = session
        self._report = report
        # What earlier chunks of this file created, so a later row about them updates them.
        self._by_external: dict[str, Target] = {}
        self._by_phone: dict[str, list[Target]] = defaultdict(list)

    async def apply(self, rows: Sequence[CustomerRow]) -> None:
        known_external, known_phone = await self._lookup(rows)
        pending: list[_Pending] = []
        updates: dict[int, dict[str, Any]] = {}
        new_phones: dict[int, dict[str, Phone]] = defaultdict(dict)
        for row in rows:
            try:
                target = self._target(row, known_external, known_phone)
            except ImportRowError as error:
                self._report.rejected.append(error)
                continue
            if target is None:
                target = _Pending(dict(row.values), {p.e164: p for p in row.phones})
                pending.append(target)
                if row.external_id:
                    target.values["external_id"] = row.external_id
                    self._by_external[row.external_id] = target
            elif isinstance(target, _Pending):
                target.values.update(row.values)
                for phone in row.phones:
                    target.phones.setdefault(phone.e164, phone)
            else:
                updates.setdefault(target, {}).update(row.values)
                for phone in row.phones:
                    new_phones[target].setdefault(phone.e164, phone)
            for phone in row.phones:
                if target not in self._by_phone[phone.e164]:
                    self._by_phone[phone.e164].append(target)
        await self._insert(pending)
        await self._update(updates)
        for customer in pending:
            assert customer.id is not None
            new_phones[customer.id].update(customer.phones)
            self._settle(customer, customer.id)
        await self._add_phones(new_phones)

    def _settle(self, customer: _Pending, customer_id: int) -> None:
        """Point the file's maps at the new id, so the pending row's values can be freed."""
        external_id = customer.values.get("external_id")
        if external_id:
            self._by_external[external_id] = customer_id
        for e164 in customer.phones:
            holders = self._by_phone[e164]
            holders[holders.index(customer)] = customer_id

    async def _lookup(
        self, rows: Sequence[CustomerRow]
    ) -> tuple[dict[str, int], dict[str, list[int]]]:
        externals = {r.external_id for r in rows if r.external_id}
        known_external: dict[str, int] = {}
        if externals:
            result = await self._session.execute(
                select(Customer.external_id, Customer.id).where(Customer.external_id.in_(externals))
            )
            known_external = {ext: cid for ext, cid in result if ext is not None}
        numbers = {p.e164 for r in rows if not r.external_id for p in r.phones}
        known_phone: dict[str, list[int]] = defaultdict(list)
        if numbers:
            holders = await self._session.execute(
                select(PhoneNumber.e164, PhoneNumber.customer_id).where(
                    PhoneNumber.e164.in_(numbers)
                )
            )
            for e164, customer_id in holders:
                known_phone[e164].append(customer_id)
        return known_external, known_phone

    def _target(
        self,
        row: CustomerRow,
        known_external: dict[str, int],
        known_phone: dict[str, list[int]],
    ) -> Target | None:
        if row.external_id:
            if row.external_id in self._by_external:
                return self._by_external[row.external_id]
            if row.external_id in known_external:
                return known_external[row.external_id]
            if "name" not in row.values:
                raise ImportRowError(row.line, "a new customer needs a name")
            return None
        candidates: list[Target] = []
        for phone in row.phones:
            for target in [*known_phone.get(phone.e164, ()), *self._by_phone.get(phone.e164, ())]:
                if target not in candidates:
                    candidates.append(target)
        if len(candidates) > 1:
            raise ImportRowError(
                row.line,
                f"its numbers belong to {len(candidates)} customers; "
                "add an external id column to say which one",
            )
        if candidates:
            return candidates[0]
        if "name" not in row.values:
            raise ImportRowError(row.line, "a new customer needs a name")
        return None

    async def _insert(self, pending: list[_Pending]) -> None:
        if not pending:
            return
        columns = sorted({name for p in pending for name in p.values})
        defaults = {c: getattr(Customer.__table__.c, c).default for c in columns}
        params = [{c: p.values.get(c, _default(defaults[c])) for c in columns} for p in pending]
        result = await self._session.execute(
            insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
            params,
        )
        for customer, customer_id in zip(pending, result.scalars(), strict=True):
            customer.id = customer_id
        self._report.created += len(pending)

    async def _update(self, updates: dict[int, dict[str, Any]]) -> None:
        if not updates:
            return
        customers = await self._session.scalars(
            select(Customer).where(Customer.id.in_(updates.keys()))
        )
        for customer in customers:
            for name, value in updates[customer.id].items():
                setattr(customer, name, value)
        await self._session.flush()
        self._report.updated += len(updates)

    async def _add_phones(self, phones: dict[int, dict[str, Phone]]) -> None:
        wanted = {(cid, e164) for cid, numbers in phones.items() for e164 in numbers}
        if not wanted:
            return
        existing = await self._session.execute(
            select(PhoneNumber.customer_id, PhoneNumber.e164).where(
                PhoneNumber.customer_id.in_(phones.keys())
            )
        )
        missing = wanted - {(cid, e164) for cid, e164 in existing}
        params = [
            {
                "customer_id": cid,
                "raw": phones[cid][e164].raw[:64],
                "e164": e164,
                "reversed_digits": phones[cid][e164].reversed_digits,
                "label": phones[cid][e164].label[:40],
            }
            for cid, e164 in sorted(missing)
        ]
        if params:
            await self._session.execute(insert(PhoneNumber), params)
        self._report.phones_added += len(params)


def _default(column_default: Any) -> Any:
    if column_default is None:
        return None
    arg = column_default.arg
    return arg(None) if callable(arg) else arg


def _chunks(
    rows: Iterable[CustomerRow | ImportRowError], report: ImportReport
) -> Iterable[list[CustomerRow]]:
    chunk: list[CustomerRow] = []
    for row in rows:
        if isinstance(row, ImportRowError):
            report.rejected.append(row)
            continue
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_lines(path: Path) -> int:
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    with path.open("rb") as stream:
        return max(sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b"")), 1)


async def import_customers(
    db: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    region: str,
    progress: Progress | None = None,
    rules: NumberRules | None = None,
) -> ImportReport:
    """Upsert the customers of a CSV file in one transaction; see the module's docstring."""
    total = await asyncio.to_thread(_count_lines, path)
    report = ImportReport()
    number_rules = rules or NumberRules(region=region)
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            columns, rows = read_rows(stream, number_rules)
            report.ignored_columns = columns.ignored
            async with db.begin() as session:
                upserter = _Upserter(session, report)
                done = 0
                for chunk in _chunks(rows, report):
                    await upserter.apply(chunk)
                    done = chunk[-1].line
                    if progress is not None:
                        progress(min(done, total), total)
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8 CSV and retry; "
            "nothing was imported"
        ) from error
    await _refresh_statistics(db)
    if progress is not None:
        progress(total, total)
    report.rejected.sort(key=lambda r: r.line)
    return report


async def _refresh_statistics(db: async_sessionmaker[AsyncSession]) -> None:
    """Tell PostgreSQL's planner what the import changed: a freshly filled table has no
    statistics until autovacuum comes round, and plans (and pops) suffer meanwhile. SQLite's
    planner goes by its indexes alone."""
    async with db.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("ANALYZE customers, phone_numbers"))
