from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.webtools import PASSWORDS

pytestmark = pytest.mark.browser


async def sign_in(page: Page, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def test_agent_signs_in_and_sees_the_start_page(page: Page, live_server: str) -> None:
    await sign_in(page, live_server, "agent", PASSWORDS["agent"])
    await expect(page.locator("h1")).to_have_text("Welcome, The agent")
    await expect(page.get_by_test_id("account-link")).to_be_visible()


async def test_wrong_password_shows_an_error_in_the_page(page: Page, live_server: str) -> None:
    await sign_in(page, live_server, "agent", "not-the-password")
    await expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")


async def test_switching_to_chinese_translates_the_pages(page: Page, live_server: str) -> None:
    await sign_in(page, live_server, "supervisor", PASSWORDS["supervisor"])
    await page.goto(f"{live_server}/account")
    await page.select_option("select[name=locale]", "zh_Hans")
    await page.select_option("select[name=timezone]", "Asia/Shanghai")
    await page.click("main button[type=submit]")
    await expect(page.locator("h1")).to_have_text("你的账户")
    await page.goto(f"{live_server}/")
    await expect(page.locator("h1")).to_have_text("欢迎，The supervisor")
    await expect(page.locator("main")).to_contain_text("年")


async def test_admin_creates_a_user_whose_name_holds_markup(page: Page, live_server: str) -> None:
    await sign_in(page, live_server, "admin", PASSWORDS["admin"])
    await page.goto(f"{live_server}/admin/users")
    await page.fill("input[name=username]", "mallory")
    await page.fill("input[name=display_name]", "<img src=x onerror=alert(1)>Mal")
    await page.fill("form[action='/admin/users'] input[name=password]", "mallory-pass-1")
    await page.fill("input[name=devices]", "PJSIP/1009")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.click("form[action='/admin/users'] button[type=submit]")
    row = page.locator("tr[data-username=mallory]")
    await expect(row).to_contain_text("<img src=x onerror=alert(1)>Mal")
    await expect(row).to_contain_text("PJSIP/1009")
    assert await page.locator("tr[data-username=mallory] img").count() == 0
    assert dialogs == []
