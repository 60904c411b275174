"""Every object shared through the aiohttp Application, as typed keys (no singletons)."""

from __future__ import annotations

from typing import Any

import aiohttp
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.ami.feed import PbxFeed
from cti.bus import EventBus
from cti.calllog.today import TodayBoard
from cti.clock import Clock
from cti.config import Config
from cti.directory import Directory
from cti.health import HealthRegistry
from cti.i18n import Translations
from cti.metrics import Metrics
from cti.sms.service import SmsService
from cti.sms.worker import OutboxWorker
from cti.webapp.push import PushHub

CONFIG = web.AppKey("config", Config)
# What the service takes for "now" (see create_app); a Callable is no class, so the key is typed
# by its annotation.
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
METRICS = web.AppKey("metrics", Metrics)
HEALTH = web.AppKey("health", HealthRegistry)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[Any])
BUS = web.AppKey("bus", EventBus)
HTTP = web.AppKey("http", aiohttp.ClientSession)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
TRANSLATIONS = web.AppKey("translations", Translations)
FEEDS = web.AppKey("feeds", dict[str, PbxFeed])
PUSH = web.AppKey("push", PushHub)
DIRECTORY = web.AppKey("directory", Directory)
TODAY = web.AppKey("today", TodayBoard)
SMS = web.AppKey("sms", SmsService)
SMS_WORKER = web.AppKey("sms_worker", OutboxWorker)
