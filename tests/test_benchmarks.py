"""Every benchmark in bench/ runs to its end at tiny sizes, so none can silently stop finishing.

Each run is a process of its own, started as an operator starts it, with a deadline. Its last line
must be its RESULT line and every figure on it a number; where a figure can tell that the run went
wrong (no pops, duplicates, rows lost), it is checked. How fast things are is bench/'s business.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
# A tiny run takes a few seconds; the rest is for a machine busy with other work.
DEADLINE = 90.0


def bench(name: str, *args: str) -> dict[str, float]:
    """Run bench/<name>.py and return the figures of its RESULT line."""
    # A session of its own: past the deadline, the helpers it started (a simulator, `cti serve`,
    # an SMS provider) are killed with it.
    with subprocess.Popen(
        [sys.executable, str(BENCH / f"{name}.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            pytest.fail(f"{name} did not finish within {DEADLINE:g} s:\n{out}\n{err}")
    assert process.returncode == 0, f"{name} failed:\n{out}\n{err}"
    last = out.splitlines()[-1].split() if out.strip() else []
    assert last[:1] == ["RESULT"], f"{name} did not end with a RESULT line:\n{out}\n{err}"
    assert last[1:], f"{name}: a RESULT line without figures"
    figures = {}
    for pair in last[1:]:
        key, _, value = pair.partition("=")
        figures[key] = float(value)
        assert math.isfinite(figures[key]), f"{name}: {pair} is not a figure"
    return figures


def positive(figures: dict[str, float], *keys: str) -> bool:
    return all(figures[key] > 0 for key in keys)


def test_ami_ingest_consumes_the_whole_replay_sieved_and_not() -> None:
    """Since the sieve landed it waited forever for the events the sieve drops."""
    figures = bench("ami_ingest", "--events=1", "--calls=200")
    assert figures["calls"] == 200
    assert 0 < figures["skipped_share"] < 1
    assert positive(
        figures,
        "pipeline_vs_panoramisk",
        "unsieved_vs_panoramisk",
        "parse_vs_raw",
        "calls_peak_rss_mb",
    )


@pytest.mark.postgres
def test_import_customers_stores_every_row_asked() -> None:
    figures = bench("import_customers", "--rows=150")
    assert (figures["rows"], figures["pg_rows"]) == (150, 150)
    assert positive(figures, "rows_per_s", "pg_rows_per_s")


@pytest.mark.postgres
def test_reports_time_reports_export_and_the_floor() -> None:
    figures = bench(
        "reports",
        "--calls=1000",
        "--months=1",
        "--export-rows=200",
        "--wallboard-customers=100",
        "--wallboard-agents=3",
        "--wallboard-seconds=1",
    )
    assert positive(figures, "report_p50_ms", "export_rows_per_s")


@pytest.mark.postgres
def test_screenpop_latency_sees_pops() -> None:
    figures = bench(
        "screenpop_latency",
        "--customers=100",
        "--agents=3",
        "--rate=10",
        "--seconds=1",
        "--lookups=20",
    )
    assert figures["pops"] > 0


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_sms_outbox_sends_each_message_once(database: str) -> None:
    postgres = ["--postgres"] if database == "postgresql" else []
    figures = bench(
        "sms_outbox", "--messages=60", "--steady=30", "--batch=10", "--timeout=30", *postgres
    )
    assert figures["duplicates"] == 0
    assert figures["msgs_per_s"] > 0


def test_outage_tells_every_call_of_a_cut_and_a_crash_as_the_pbx_does() -> None:
    figures = bench("outage", "--rate=60", "--seconds=12", "--cut=2", "--down=1", "--longest=2")
    assert (figures["missing"], figures["duplicates"], figures["open"]) == (0, 0, 0)
    assert figures["cut_right"] == figures["cut_calls"]
    assert figures["crash_right"] == figures["crash_calls"]
    assert figures["cut_calls"] + figures["crash_calls"] > 0
