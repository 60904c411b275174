"""The composition root: `create_app(config)` builds every object and owns every background task."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from sqlalchemy import select

from cti import keys
from cti.ami.feed import PbxFeed
from cti.bus import EventBus
from cti.calllog.agent_time import AgentTimeWriter
from cti.calllog.today import TodayBoard
from cti.calllog.writer import CallLogWriter
from cti.clock import Clock, utcnow
from cti.config import Config
from cti.core.events import (
    AgentChanged,
    CallAnswered,
    CallDialled,
    CallEnded,
    CallEvent,
    CallRinging,
    RingStopped,
)
from cti.core.kpi import Targets
from cti.core.numbers import NumberRules
from cti.db import users
from cti.db.card_lookup import CardLookup
from cti.db.engine import create_engine, ensure_migrated, sessionmaker
from cti.db.models import Customer, PhoneNumber
from cti.db.sessions import purge_expired
from cti.directory import Directory
from cti.health import HealthRegistry
from cti.i18n import Translations
from cti.metrics import Metrics
from cti.screenpop.external import ExternalSource
from cti.screenpop.service import ScreenPop
from cti.sim.config import DEMO_CALLERS, SimulatorConfig
from cti.sim.simulator import SimulatorHandle, run_simulator
from cti.sms import gateways as sms_gateways
from cti.sms.policy import SendPolicy
from cti.sms.routing import Router
from cti.sms.service import SmsService
from cti.sms.worker import OutboxWorker
from cti.webapp import floor
from cti.webapp.errors import error_pages
from cti.webapp.push import PushHub
from cti.webapp.render import create_environment
from cti.webapp.routes import setup_routes
from cti.webapp.security import access_control, security_headers

logger = logging.getLogger(__name__)


def create_app(config: Config, *, clock: Clock = utcnow) -> web.Application:
    """The service, on `clock` for "now" (tests fix it): which day is today, the call log's and
    the SMS outbox's times. The live floor keeps the instants the PBX link stamps events with."""
    app = web.Application(
        middlewares=[security_headers, error_pages, access_control],
        client_max_size=8 * 1024 * 1024,
    )
    app[keys.CONFIG] = config
    app[keys.CLOCK] = clock
    app[keys.METRICS] = _metrics()
    app[keys.HEALTH] = HealthRegistry()
    app[keys.TEMPLATES] = create_environment()
    app[keys.TRANSLATIONS] = Translations()
    app[keys.BUS] = EventBus(app[keys.METRICS])
    app[keys.PUSH] = PushHub()
    app[keys.BUS].subscribe("floor", functools.partial(floor.publish, app))
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(http_session)
    app.cleanup_ctx.append(event_bus)
    app.cleanup_ctx.append(call_log)
    app.cleanup_ctx.append(screen_pop)
    app.cleanup_ctx.append(sms)
    app.cleanup_ctx.append(today_board)
    app.cleanup_ctx.append(pbx_feeds)
    setup_routes(app)
    return app


def _metrics() -> Metrics:
    metrics = Metrics()
    started = time.monotonic()
    metrics.describe("cti_uptime_seconds", "Seconds since this process started serving.")
    metrics.gauge_fn("cti_uptime_seconds", lambda: time.monotonic() - started)
    metrics.describe("cti_http_requests_total", "HTTP requests answered, by status code.")
    return metrics


async def _close_sockets(app: web.Application) -> None:
    await app[keys.PUSH].close()


async def database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[keys.CONFIG].database)
    try:
        await ensure_migrated(engine)
    except BaseException:
        await engine.dispose()
        raise
    app[keys.ENGINE] = engine
    app[keys.DB] = sessionmaker(engine)
    await _apply_agent_devices(app)
    app[keys.DIRECTORY] = Directory()
    await app[keys.DIRECTORY].load(app[keys.DB])
    purged = await purge_expired(app[keys.DB])
    if purged:
        logger.info("removed %d expired sign-in sessions", purged)
    app[keys.HEALTH].report("database", "ok")
    yield
    await engine.dispose()
    logger.info("database closed")


async def _apply_agent_devices(app: web.Application) -> None:
    """The `[agents]` table, when present, is the source of truth for users' device interfaces."""
    agents = app[keys.CONFIG].agents
    if not agents:
        return
    async with app[keys.DB].begin() as session:
        unknown = await users.sync_devices(session, agents)
    for username in unknown:
        note = f"[agents] names {username!r}, who is not a user; ignored"
        if app[keys.HEALTH].note_once("config", note):
            logger.warning(note)


async def http_session(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=15, connect=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        app[keys.HTTP] = session
        yield


async def event_bus(app: web.Application) -> AsyncIterator[None]:
    bus = app[keys.BUS]
    await bus.start()
    yield
    await bus.stop(grace=app[keys.CONFIG].server.shutdown_timeout)


def _devices_of(app: web.Application, pbx: str, interface: str) -> tuple[str, ...]:
    """Every endpoint an agent interface answers on, as that PBX's floor knows them."""
    feed = app[keys.FEEDS].get(pbx) if keys.FEEDS in app else None
    return feed.state.floor.devices_of(interface) if feed else (interface,)


def _number_rules(config: Config) -> dict[str, NumberRules]:
    return {pbx.name: pbx.number_rules(config.numbers.default_region) for pbx in config.pbx}


async def today_board(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    kpi = config.kpi

    board = TodayBoard(
        app[keys.DB],
        app[keys.PUSH],
        settings={
            "": config.kpi_settings(),
            **{p.name: config.kpi_settings(p) for p in config.pbx},
        },
        hours=config.hours.weekly,
        zone=config.hours.zone,
        targets=Targets(kpi.service_level_target, kpi.abandon_rate_limit, kpi.longest_wait_limit),
        clock=app[keys.CLOCK],
    )
    await board.load()
    app[keys.TODAY] = board
    app[keys.BUS].subscribe("today", board.handle, CallEnded)
    yield


async def screen_pop(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    settings = config.screenpop
    external = None
    if settings.external_url:
        external = ExternalSource(
            app[keys.HTTP],
            settings.external_url,
            timeout=settings.external_timeout_ms / 1000,
            cache_seconds=settings.external_cache_seconds,
            health=app[keys.HEALTH],
        )
    cards = CardLookup(app[keys.ENGINE], busy_timeout_ms=config.database.busy_timeout_ms)
    pops = ScreenPop(
        cards=cards,
        hub=app[keys.PUSH],
        directory=app[keys.DIRECTORY],
        devices_of=functools.partial(_devices_of, app),
        rules=_number_rules(config),
        default_rules=NumberRules(config.numbers.default_region),
        config=settings,
        privacy=config.privacy,
        suffix_digits=config.numbers.suffix_digits,
        health=app[keys.HEALTH],
        external=external,
    )
    app[keys.BUS].subscribe(
        "screen-pop", pops.handle, CallRinging, CallDialled, RingStopped, CallAnswered, CallEnded
    )
    yield
    await pops.settle()
    cards.close()


async def sms(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    settings = config.sms
    callback_base = (settings.callback_url or config.server.base_url).rstrip("/")
    gateways = sms_gateways.build(settings, app[keys.HTTP], callback_base)
    worker = OutboxWorker(
        app[keys.DB],
        gateways,
        settings,
        SendPolicy.parse(
            settings.quiet_hours, settings.daily_cap, settings.opt_out_applies_to_transactional
        ),
        config.hours.zone,
        app[keys.METRICS],
        clock=app[keys.CLOCK],
    )
    app[keys.SMS_WORKER] = worker
    app[keys.SMS] = SmsService(
        app[keys.DB],
        Router(gateways, sms_gateways.countries(settings)),
        wake=worker.wake,
        bus=app[keys.BUS],
        rules=NumberRules(config.numbers.default_region),
        suffix_digits=config.numbers.suffix_digits,
        center_name=settings.center_name,
        clock=app[keys.CLOCK],
    )
    worker.start()
    yield
    await worker.stop(grace=config.server.shutdown_timeout)
    for gateway in gateways.values():
        await gateway.close()


async def call_log(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
    writer = CallLogWriter(
        app[keys.DB],
        directory=app[keys.DIRECTORY],
        devices_of=functools.partial(_devices_of, app),
        rules=_number_rules(config),
        default_rules=NumberRules(config.numbers.default_region),
        metrics=app[keys.METRICS],
        # The stored sums are what reports read: the same wrap-up times as theirs.
        report_settings=config.kpi_settings(),
        clock=app[keys.CLOCK],
    )
    app[keys.BUS].subscribe("call-log", writer.handle, CallEvent)
    agent_time = AgentTimeWriter(app[keys.DB])
    app[keys.BUS].subscribe("agent-time", agent_time.handle, AgentChanged)
    writer.start()
    agent_time.start()
    yield
    # The feeds have stopped; what they published must reach the writer before it flushes.
    try:
        async with asyncio.timeout(config.server.shutdown_timeout):
            await app[keys.BUS].drain()
    except TimeoutError:
        logger.warning("call log: the bus did not drain before shutdown")
    await writer.stop()
    await agent_time.stop()


async def pbx_feeds(app: web.Application) -> AsyncIterator[None]:
    """One feed per configured PBX; they connect in the background and reconnect forever.

    A PBX marked `simulator = true` is the built-in simulator, started here with traffic whose
    callers are drawn from the customer base.
    """
    config = app[keys.CONFIG]
    devices = app[keys.DIRECTORY].devices()
    simulators: list[SimulatorHandle] = []
    feeds: dict[str, PbxFeed] = {}
    for pbx in config.pbx:
        if pbx.simulator:
            simulator = await run_simulator(
                SimulatorConfig(
                    host=pbx.host,
                    port=pbx.port,
                    username=pbx.username,
                    secret=pbx.secret.reveal(),
                    caller_numbers=await _callers(app) or DEMO_CALLERS,
                    calls_per_minute=pbx.simulator_calls_per_minute,
                )
            )
            simulator.start_traffic()
            simulators.append(simulator)
            pbx = dataclasses.replace(pbx, port=simulator.port)
        feeds[pbx.name] = PbxFeed(
            pbx,
            bus=app[keys.BUS],
            health=app[keys.HEALTH],
            metrics=app[keys.METRICS],
            devices=devices.get(pbx.name, []) + devices.get("", []),
        )
    app[keys.FEEDS] = feeds
    for feed in feeds.values():
        await feed.start()
    yield
    await asyncio.gather(*(feed.close() for feed in feeds.values()))
    for simulator in simulators:
        await simulator.stop()


async def _callers(app: web.Application, limit: int = 300) -> tuple[str, ...]:
    """Caller IDs for simulated traffic: customers' names and numbers, as a trunk presents them."""
    async with app[keys.DB]() as session:
        rows = await session.execute(
            select(Customer.name, PhoneNumber.e164)
            .join(PhoneNumber, PhoneNumber.customer_id == Customer.id)
            .order_by(PhoneNumber.id)
            .limit(limit)
        )
        return tuple(f'"{name.replace(chr(34), "")}" <{e164}>' for name, e164 in rows)


async def _tune_garbage_collector(app: web.Application) -> None:
    """Under load, the cyclic collector's full passes held the loop (and every pop in flight)
    for 100-200 ms every few seconds. What start-up made lives as long as the process, so it is
    frozen out of them; and full passes wait for a hundred times more young collections than
    Python's default (young ones stay frequent and short)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1000)


def run(config: Config) -> None:
    """Serve until SIGINT/SIGTERM, then stop accepting, finish in-flight work and flush."""
    app = create_app(config)
    app.on_startup.append(_tune_garbage_collector)
    web.run_app(
        app,
        host=config.server.host,
        port=config.server.port,
        shutdown_timeout=config.server.shutdown_timeout,
        access_log=None,
        print=None,
        handle_signals=True,
    )
