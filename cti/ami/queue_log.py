"""Asterisk's queue_log, read after an outage: the PBX's own account of the queue calls we missed.

app_queue writes a line for every step of a queue call whether or not any AMI client listens, to
a file (`time|callid|queue|agent|event|data...`, time in epoch seconds) or, with realtime, to a
database table (`time`, `callid`, `queuename`, `agent`, `event`, then `data1`..`data5` or one
`data` joined with '|'; time written in the PBX's local zone unless queue_log_realtime_use_gmt).
Both read the same way: every line from a given instant on, as domain QueueRecords.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Column, MetaData, Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cti.config import PbxConfig
from cti.core.observations import QueueRecord

logger = logging.getLogger(__name__)

# Read backwards from the end of the file this many bytes at a time, up to the wanted instant.
_BLOCK = 64 * 1024
_DATA_COLUMNS = ("data1", "data2", "data3", "data4", "data5")


class QueueLogSource(Protocol):
    """Where the queue log is kept."""

    async def since(self, moment: datetime) -> list[QueueRecord]:
        """Every line written at `moment` or later, in the order written."""
        ...

    async def close(self) -> None: ...


def open_queue_log(config: PbxConfig) -> QueueLogSource | None:
    """The PBX's queue log as configured, or None when it has none."""
    if config.queue_log_file:
        return QueueLogFile(Path(config.queue_log_file))
    if config.queue_log_database:
        engine = create_async_engine(config.queue_log_database.reveal())
        return QueueLogTable(engine, config.queue_log_table, ZoneInfo(config.queue_log_zone))
    return None


def parse_line(line: str) -> QueueRecord | None:
    """One line of the file, or None if it is not one (a torn last line, garbage)."""
    fields = line.rstrip("\r\n").split("|")
    if len(fields) < 5 or not fields[4]:
        return None
    try:
        at = datetime.fromtimestamp(float(fields[0]), UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return QueueRecord(at, fields[1], fields[2], fields[3], fields[4], tuple(fields[5:]))


class QueueLogFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def since(self, moment: datetime) -> list[QueueRecord]:
        # A long file is read from its end, but still off the event loop.
        return await asyncio.to_thread(read_file_since, self.path, moment)

    async def close(self) -> None:
        pass


def read_file_since(path: Path, moment: datetime) -> list[QueueRecord]:
    """The file's lines from `moment` on: blocks are read from the end until an older line."""
    with path.open("rb") as handle:
        position = handle.seek(0, 2)
        tail = b""
        while position > 0:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
            newline = tail.find(b"\n")
            if position > 0 and newline < 0:
                continue  # one line longer than a block: read on
            first = tail if position == 0 else tail[newline + 1 :]
            oldest = parse_line(first.split(b"\n", 1)[0].decode("utf-8", "replace"))
            if oldest is not None and oldest.at < moment:
                break
    if position > 0:
        tail = tail[tail.find(b"\n") + 1 :]  # the first line is cut
    records = []
    for raw in tail.split(b"\n"):
        record = parse_line(raw.decode("utf-8", "replace"))
        if record is not None and record.at >= moment:
            records.append(record)
    return records


class QueueLogTable:
    def __init__(self, engine: AsyncEngine, name: str, zone: ZoneInfo) -> None:
        self._engine = engine
        self._schema, _, self._name = name.rpartition(".")
        self._zone = zone
        self._table: Table | None = None

    async def since(self, moment: datetime) -> list[QueueRecord]:
        async with self._engine.connect() as conn:
            if self._table is None:
                self._table = await conn.run_sync(self._reflect)
            table = self._table
            time_column = table.c.time
            statement = select(table).where(time_column >= self._bound(time_column, moment))
            order = [time_column, *([table.c.id] if "id" in table.c else [])]
            rows = (await conn.execute(statement.order_by(*order))).mappings().all()
        return [record for row in rows if (record := self._record(row)) is not None]

    async def close(self) -> None:
        await self._engine.dispose()

    def _reflect(self, conn: Connection) -> Table:
        return Table(self._name, MetaData(), schema=self._schema or None, autoload_with=conn)

    def _bound(self, column: Column[Any], moment: datetime) -> Any:
        """The instant as the column holds it: a datetime, or Asterisk's "%F %T.%6q" text."""
        local = moment.astimezone(self._zone).replace(tzinfo=None)
        try:
            is_datetime = column.type.python_type is datetime
        except NotImplementedError:
            is_datetime = False
        return local if is_datetime else local.strftime("%Y-%m-%d %H:%M:%S.%f")

    def _record(self, row: Any) -> QueueRecord | None:
        at = self._instant(row["time"])
        if at is None or not row["event"]:
            return None
        data = _data(row.get(name) for name in _DATA_COLUMNS)
        if not data and row.get("data"):
            data = tuple(str(row["data"]).split("|"))
        return QueueRecord(
            at,
            str(row["callid"] or ""),
            str(row["queuename"] or ""),
            str(row["agent"] or ""),
            str(row["event"]),
            data,
        )

    def _instant(self, value: Any) -> datetime | None:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return None
        if not isinstance(value, datetime):
            return None
        return (value if value.tzinfo else value.replace(tzinfo=self._zone)).astimezone(UTC)


def _data(values: Iterable[Any]) -> tuple[str, ...]:
    """data1..data5 with the empty ones at the end dropped, as the file would show them."""
    fields: Sequence[str] = ["" if v is None else str(v) for v in values]
    while fields and not fields[-1]:
        fields = fields[:-1]
    return tuple(fields)
