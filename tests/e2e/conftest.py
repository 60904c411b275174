"""Headless Debian Chromium driven by Playwright, against cti served on a loopback port."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from cti.app import create_app
from cti.config import Config

CHROMIUM = shutil.which("chromium")
# The closed network refuses Chromium's background connections; these flags stop it trying.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed; ./scripts/test-deps installs it")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@pytest.fixture
async def live_server(web_config: Config) -> AsyncIterator[str]:
    server = TestServer(create_app(web_config), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    page = await context.new_page()
    yield page
    await context.close()
