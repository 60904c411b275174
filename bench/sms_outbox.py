"""SMS outbox throughput: N messages through the outbox worker to a loopback HTTP provider.

The service side is wired as cti/app.py `sms()` wires it (HttpGateway, OutboxWorker, SmsService,
Router), with the rate limit off, no quiet hours and no daily cap, on a SQLite file (or a fresh
PostgreSQL schema with --postgres). The provider runs in a process of its own, so that answering
requests never delays the worker's event loop and the peak RSS measured here is the service's: it
accepts JSON POSTs and records, per idempotency key, how many requests came and when the first
was accepted. A message's latency runs from SmsService.send_many to the provider accepting it.

Two phases: N messages stored at once (throughput: msgs_per_s), then a steady flow at --rate
(latency: p50/p99, without the wait in a backlog). Target: >= 500 msgs/s on SQLite, no duplicates.

Usage: python bench/sms_outbox.py [--messages N] [--batch B] [--concurrency C] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.bus import EventBus
from cti.clock import utcnow
from cti.config import DatabaseConfig, SmsConfig, SmsGatewayConfig
from cti.core.numbers import NumberRules
from cti.db import migrate
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import SmsMessage
from cti.metrics import Metrics
from cti.sms import status as st
from cti.sms.http_gateway import HttpGateway
from cti.sms.policy import SendPolicy
from cti.sms.routing import Router
from cti.sms.service import SmsRequest, SmsService
from cti.sms.worker import OutboxWorker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procfs import peak_rss_mb  # noqa: E402
from screenpop_latency import free_port, percentile  # noqa: E402

POSTGRES_DSN = os.environ.get("CTI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
KEY_HEADER = "Idempotency-Key"
BODY = "Your appointment is confirmed for tomorrow at 14:30. Reply STOP to opt out."


async def provider_role(port: int) -> None:
    """The loopback provider: serve until stdin closes."""
    requests: Counter[str] = Counter()
    first_accepted: dict[str, float] = {}
    expected = 0
    all_in = asyncio.Event()

    async def send(request: web.Request) -> web.Response:
        await request.json()
        key = request.headers[KEY_HEADER]
        requests[key] += 1
        first_accepted.setdefault(key, time.time())
        if expected and len(first_accepted) >= expected:
            all_in.set()
        return web.json_response({"id": f"loop-{len(first_accepted)}"})

    async def wait(request: web.Request) -> web.Response:
        """Answer once `count` distinct keys were accepted: the bench need not poll."""
        nonlocal expected
        expected = int(request.query["count"])
        if len(first_accepted) >= expected:
            all_in.set()
        else:
            all_in.clear()
        await all_in.wait()
        answer = {"requests": requests.total(), "keys": len(first_accepted)}
        return web.json_response({**answer, "accepted": first_accepted})

    app = web.Application()
    app.router.add_post("/send", send)
    app.router.add_get("/wait", wait)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await runner.cleanup()


async def outstanding(db: async_sessionmaker[Any]) -> int:
    async with db() as session:
        count: int = await session.scalar(
            select(func.count()).where(SmsMessage.status.in_([st.PENDING, st.SENDING]))
        )
    return count


async def statuses(db: async_sessionmaker[Any]) -> dict[str, int]:
    async with db() as session:
        rows = await session.execute(
            select(SmsMessage.status, func.count()).group_by(SmsMessage.status)
        )
    return {status: count for status, count in rows}


async def run(config: DatabaseConfig, url: str, args: argparse.Namespace) -> dict[str, float]:
    engine = create_engine(config)
    try:
        await migrate.upgrade(engine)
        return await measure(sessionmaker(engine), url, args)
    finally:
        await engine.dispose()


async def measure(
    db: async_sessionmaker[Any], url: str, args: argparse.Namespace
) -> dict[str, float]:
    gateway_config = SmsGatewayConfig(
        name="loopback",
        kind="http",
        sender="ACME",
        rate_per_second=0,
        url=f"{url}/send",
        body={"to": "{to}", "from": "{sender}", "text": "{body}", "ref": "{id}"},
        idempotency_header=KEY_HEADER,
        response_id="id",
    )
    settings = SmsConfig(
        gateways=[gateway_config], concurrency=args.concurrency, quiet_hours="", daily_cap=0
    )
    metrics = Metrics()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15, connect=5)) as http:
        gateways = {
            "loopback": HttpGateway(
                gateway_config, http, "http://127.0.0.1:8080/sms/http/loopback/status"
            )
        }
        worker = OutboxWorker(
            db,
            gateways,
            settings,
            SendPolicy.parse(
                settings.quiet_hours, settings.daily_cap, settings.opt_out_applies_to_transactional
            ),
            ZoneInfo("UTC"),
            metrics,
        )
        service = SmsService(
            db,
            Router(gateways, {"loopback": []}),
            wake=worker.wake,
            bus=EventBus(metrics),
            rules=NumberRules("GB"),
            suffix_digits=8,
            center_name="Bench",
            clock=utcnow,
        )
        worker.start()
        try:
            # Throughput: everything stored as fast as the service takes it.
            cpu_start = time.process_time()
            burst = await phase(service, db, http, url, args, 0, args.messages, pace=0.0)
            cpu_seconds = time.process_time() - cpu_start
            # Latency: a steady flow at the target rate, so waiting in a backlog is not counted.
            steady = await phase(
                service, db, http, url, args, args.messages, args.steady, pace=args.rate
            )
        finally:
            await worker.stop()
            for gateway in gateways.values():
                await gateway.close()
    print(f"  statuses {await statuses(db)}")
    return {
        "msgs_per_s": args.messages / burst.elapsed,
        "duplicates": steady.duplicates,
        "burst_p99_ms": percentile(burst.latencies, 0.99),
        "p50_ms": statistics.median(steady.latencies),
        "p99_ms": percentile(steady.latencies, 0.99),
        "max_ms": max(steady.latencies),
        "cpu_ms_per_msg": cpu_seconds * 1000 / args.messages,
        "peak_rss_mb": peak_rss_mb(os.getpid()),
    }


@dataclass(frozen=True, slots=True)
class Phase:
    elapsed: float
    latencies: list[float]
    duplicates: int


async def phase(
    service: SmsService,
    db: async_sessionmaker[Any],
    http: aiohttp.ClientSession,
    url: str,
    args: argparse.Namespace,
    offset: int,
    count: int,
    pace: float,
) -> Phase:
    """Store `count` messages `args.batch` at a time (at `pace` messages a second, 0: at once) and
    wait until the provider has every one of them."""
    enqueued: dict[str, float] = {}
    started = time.time()
    # Reminders and campaigns are stored many at a time, as a scheduler would.
    for first in range(offset, offset + count, args.batch):
        if pace:
            await asyncio.sleep(max(0.0, started + (first - offset) / pace - time.time()))
        batch = [
            SmsRequest(f"+4479111{index:05d}", BODY, key=f"bench-{index}")
            for index in range(first, min(first + args.batch, offset + count))
        ]
        at = time.time()
        await service.send_many(batch)
        enqueued.update((request.key or "", at) for request in batch)
    try:
        async with asyncio.timeout(args.timeout):
            async with http.get(
                f"{url}/wait",
                params={"count": offset + count},
                timeout=aiohttp.ClientTimeout(total=None),
            ) as response:
                seen: dict[str, Any] = await response.json()
            # The last answers' outcomes are written just after the provider gave them.
            while await outstanding(db):  # noqa: ASYNC110 - the state is in the database
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise SystemExit(f"not done {args.timeout:.0f} s after the last enqueue") from None
    accepted: dict[str, float] = seen["accepted"]
    latencies = [(accepted[key] - at) * 1000 for key, at in enqueued.items()]
    elapsed = max(accepted[key] for key in enqueued) - started
    print(
        f"  {count:,} messages{f' at {pace:.0f}/s' if pace else ' at once'}: "
        f"all accepted after {elapsed:.2f} s ({count / elapsed:,.0f}/s), "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
    )
    return Phase(elapsed, latencies, seen["requests"] - seen["keys"])


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    provider = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--role",
        "provider",
        "--port",
        str(port),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert provider.stdin is not None
    assert provider.stdout is not None
    await provider.stdout.readline()  # "ready"
    label = "postgresql" if args.postgres else "sqlite"
    print(
        f"[{label}] {args.messages:,} messages stored {args.batch} at a time, worker concurrency "
        f"{args.concurrency}, rate limit off, provider in a separate process"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if not args.postgres:
                config = DatabaseConfig(url=f"sqlite+aiosqlite:///{Path(tmp) / 'sms.db'}")
                figures = await run(config, f"http://127.0.0.1:{port}", args)
            else:
                schema = f"bench_{secrets.token_hex(4)}"
                conn = await asyncpg.connect(POSTGRES_DSN)
                await conn.execute(f"CREATE SCHEMA {schema}")
                try:
                    pg_url = POSTGRES_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)
                    config = DatabaseConfig(url=pg_url, schema=schema)
                    figures = await run(config, f"http://127.0.0.1:{port}", args)
                finally:
                    await conn.execute(f"DROP SCHEMA {schema} CASCADE")
                    await conn.close()
    finally:
        provider.stdin.close()
        await asyncio.wait_for(provider.wait(), 30)
    print(
        "  "
        + "  ".join(
            f"{k}={v:.1f}" if k != "duplicates" else f"{k}={v:.0f}" for k, v in figures.items()
        )
    )
    print(
        f"RESULT msgs_per_s={figures['msgs_per_s']:.0f} duplicates={figures['duplicates']:.0f} "
        f"p99_ms={figures['p99_ms']:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=SmsConfig().concurrency)
    parser.add_argument("--batch", type=int, default=100, help="messages stored per send_many")
    parser.add_argument("--steady", type=int, default=5_000, help="messages in the latency phase")
    parser.add_argument("--rate", type=float, default=500.0, help="messages/s in that phase")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait after the last enqueue"
    )
    parser.add_argument("--role", choices=["bench", "provider"], default="bench")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    asyncio.run(provider_role(options.port) if options.role == "provider" else main(options))
