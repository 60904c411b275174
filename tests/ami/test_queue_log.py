"""Asterisk's queue_log read from its file and from a realtime table (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cti.ami.queue_log import QueueLogTable, open_queue_log, parse_line, read_file_since
from cti.config import PbxConfig, Secret
from cti.core.observations import QueueRecord
from tests.conftest import POSTGRES_DSN

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# A queue call as app_queue logs it: queue-wide lines, then the caller's steps.
LINES: list[tuple[int, tuple[str, ...]]] = [
    (0, ("NONE", "NONE", "NONE", "QUEUESTART", "")),
    (1, ("1772441999.7", "support", "NONE", "ENTERQUEUE", "", "+14155550100", "1")),
    (3, ("1772441999.7", "support", "Alice", "RINGNOANSWER", "2000")),
    (6, ("1772441999.7", "support", "Bob", "CONNECT", "5", "1772442005.9", "1")),
    (40, ("1772441999.7", "support", "Bob", "COMPLETECALLER", "5", "34", "1")),
]


def file_line(seconds: int, *fields: str) -> str:
    return "|".join([str(int((START + timedelta(seconds=seconds)).timestamp())), *fields])


def test_lines_parse_and_garbage_is_skipped() -> None:
    record = parse_line(file_line(6, *LINES[3][1]) + "\n")
    assert record == QueueRecord(
        START + timedelta(seconds=6),
        "1772441999.7",
        "support",
        "Bob",
        "CONNECT",
        ("5", "1772442005.9", "1"),
    )
    for bad in ("", "garbage", "x|1|q|a|EVENT", "1772441999|1|q|a|", "1772441999|torn"):
        assert parse_line(bad) is None


def test_the_file_is_read_from_the_instant_on(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    # A year of older traffic before, so the reader must stop reading backwards in time.
    filler = [
        file_line(-86400 + i, "1.1", "sales", "NONE", "ENTERQUEUE", "", "1", "1")
        for i in range(5000)
    ]
    lines = [file_line(seconds, *fields) for seconds, fields in LINES]
    log.write_text("\n".join([*filler, *lines]) + "\n" + "1772442050|torn-last-li")
    records = read_file_since(log, START + timedelta(seconds=1))
    assert [r.event for r in records] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETECALLER"]
    assert records[-1].data == ("5", "34", "1")
    assert read_file_since(log, START + timedelta(hours=1)) == []
    assert len(read_file_since(log, START - timedelta(days=2))) == 5000 + len(LINES)


async def test_a_missing_file_is_an_error_not_an_empty_log(tmp_path: Path) -> None:
    source = open_queue_log(
        PbxConfig(name="a", secret=Secret("s"), queue_log_file=str(tmp_path / "none"))
    )
    assert source is not None
    with pytest.raises(FileNotFoundError):
        await source.since(START)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'asterisk.db'}"
        return
    name = f"ast_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
        yield (
            POSTGRES_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
            + f"/{name}"
        )
    finally:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


@pytest.mark.parametrize(
    ("time_type", "split"),
    [("TIMESTAMP", True), ("VARCHAR(26)", True), ("TIMESTAMP", False)],
)
async def test_the_realtime_table_is_read_in_the_pbx_zone(
    database_url: str, time_type: str, split: bool
) -> None:
    """Asterisk's own schema: time, callid, queuename, agent, event, data1..data5 or data; times
    written in the PBX's local zone, as text "%F %T.%6q" or a timestamp."""
    engine = create_async_engine(database_url)
    data_columns = (
        ", ".join(f"data{i} VARCHAR(100)" for i in range(1, 6)) if split else "data VARCHAR(200)"
    )
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"CREATE TABLE queue_log (id INTEGER PRIMARY KEY, time {time_type}, "
                f"callid VARCHAR(80), queuename VARCHAR(256), agent VARCHAR(80), "
                f"event VARCHAR(32), {data_columns})"
            )
        )
        for index, (seconds, (callid, queue, agent, event, *data)) in enumerate(LINES):
            local = (START + timedelta(seconds=seconds)).astimezone(SHANGHAI).replace(tzinfo=None)
            stamp = local.strftime("%Y-%m-%d %H:%M:%S.%f")
            values = {"id": index, "callid": callid, "queuename": queue, "agent": agent}
            # Asterisk hands every value over as text; PostgreSQL's driver wants a timestamp.
            as_text = "CHAR" in time_type or database_url.startswith("sqlite")
            values |= {"event": event, "time": stamp if as_text else local}
            if split:
                values |= {f"data{i + 1}": value for i, value in enumerate(data)}
                names = ", ".join(f"data{i + 1}" for i in range(len(data)))
            else:
                values["data"] = "|".join(data)
                names = "data"
            await conn.execute(
                text(
                    "INSERT INTO queue_log (id, time, callid, queuename, agent, event, "
                    f"{names}) VALUES (:id, :time, :callid, :queuename, :agent, :event, "
                    f"{', '.join(':' + n.strip() for n in names.split(','))})"
                ),
                values,
            )
    source = QueueLogTable(engine, "queue_log", SHANGHAI)
    try:
        records = await source.since(START + timedelta(seconds=3))
    finally:
        await source.close()
    assert [(r.at, r.event, r.agent) for r in records] == [
        (START + timedelta(seconds=3), "RINGNOANSWER", "Alice"),
        (START + timedelta(seconds=6), "CONNECT", "Bob"),
        (START + timedelta(seconds=40), "COMPLETECALLER", "Bob"),
    ]
    assert records[-1].data == ("5", "34", "1")
