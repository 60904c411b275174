"""Import 100,000 customers with 150,000 phone numbers from CSV into SQLite and PostgreSQL.

Each import runs in a child process that reads its own peak RSS; the customers and numbers it
stored are counted in the database afterwards. Target: 100,000 rows in under 30 s on SQLite.
Usage: python bench/import_customers.py [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
from sqlalchemy import func, select

from cti.config import DatabaseConfig
from cti.db import migrate
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import Customer, PhoneNumber
from cti.demo_data import write_customers_csv
from cti.importer import import_customers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procfs import peak_rss_mb  # noqa: E402

POSTGRES_DSN = os.environ.get("CTI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


async def run_one(target: str, csv: Path, workdir: Path) -> dict[str, float]:
    schema = ""
    if target == "sqlite":
        config = DatabaseConfig(url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    else:
        schema = f"bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(POSTGRES_DSN)
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.close()
        config = DatabaseConfig(
            url=POSTGRES_DSN.replace("postgresql://", "postgresql+asyncpg://", 1), schema=schema
        )
    engine = create_engine(config)
    try:
        await migrate.upgrade(engine)
        started = time.perf_counter()
        report = await import_customers(sessionmaker(engine), csv, region="FR")
        elapsed = time.perf_counter() - started
        async with sessionmaker(engine)() as session:
            rows = await session.scalar(select(func.count()).select_from(Customer))
            phones = await session.scalar(select(func.count()).select_from(PhoneNumber))
    finally:
        await engine.dispose()
        if schema:
            conn = await asyncpg.connect(POSTGRES_DSN)
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            await conn.close()
    if report.rejected:
        raise SystemExit(f"{len(report.rejected)} rows rejected: {report.rejected[:3]}")
    return {
        "rows": rows or 0,
        "phones": phones or 0,
        "seconds": elapsed,
        "rows_per_s": report.created / elapsed,
        "peak_rss_mb": peak_rss_mb(os.getpid()),
    }


def child(target: str, csv: Path, workdir: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", target, "--csv", str(csv), "--workdir", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", choices=["sqlite", "postgresql"])
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(run_one(args.child, args.csv, args.workdir))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        csv = write_customers_csv(workdir / "customers.csv", args.rows)
        size_mb = csv.stat().st_size / 1e6
        print(f"CSV: {args.rows} customers, {size_mb:.1f} MB")
        results = {target: child(target, csv, workdir) for target in ("sqlite", "postgresql")}
    for target, r in results.items():
        print(
            f"{target:<10} {r['rows']:.0f} customers + {r['phones']:.0f} numbers in "
            f"{r['seconds']:.1f} s = {r['rows_per_s']:,.0f} rows/s, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB"
        )
    print(
        f"RESULT rows_per_s={results['sqlite']['rows_per_s']:.0f} "
        f"pg_rows_per_s={results['postgresql']['rows_per_s']:.0f} "
        f"rows={results['sqlite']['rows']:.0f} pg_rows={results['postgresql']['rows']:.0f}"
    )


if __name__ == "__main__":
    main()
