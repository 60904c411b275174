"""The `cti` command as an operator types it, each run in its own process on a SQLite file."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp

from cti.db import migrate
from cti.demo import DEMO_USERS
from tests.test_lifecycle import free_port


def cti(
    config: Path, *args: str, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "cti", *args[:2], "-c", str(config), *args[2:]]
        if args[0] in ("user", "import", "db")
        else [sys.executable, "-m", "cti", *args, "-c", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CTI_LOG_LEVEL": "WARNING"},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "cti.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cti.db"}"\n'
        '[numbers]\ndefault_region = "GB"\n'
    )
    return path


def test_users_are_added_listed_and_given_new_passwords(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    head = migrate.head_revision()
    assert f"database at revision {head}" in cti(config, "db", "upgrade").stdout
    added = cti(
        config,
        "user",
        "add",
        "alice",
        "--role",
        "agent",
        "--name",
        "Alice A.",
        "--device",
        "PJSIP/1001",
        "--password-stdin",
        stdin="long enough password\n",
    )
    assert added.stdout.strip() == "user alice created (agent)"
    duplicate = cti(
        config,
        "user",
        "add",
        "alice",
        "--role",
        "admin",
        "--password-stdin",
        stdin="another password\n",
        check=False,
    )
    assert duplicate.returncode == 2
    assert "a user named 'alice' already exists" in duplicate.stderr
    listing = cti(config, "user", "list").stdout
    assert re.search(r"^alice\s+agent\s+Alice A\.\s+PJSIP/1001$", listing, re.MULTILINE)
    assert "admin" not in listing
    weak = cti(config, "user", "passwd", "alice", "--password-stdin", stdin="short\n", check=False)
    assert weak.returncode == 2
    assert "at least 10 characters" in weak.stderr


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    result = cti(config_file(tmp_path), "user", "list", check=False)
    assert result.returncode == 2
    assert "cti db upgrade" in result.stderr


def test_import_reports_rejected_rows_with_their_lines(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    cti(config, "db", "upgrade")
    csv = tmp_path / "customers.csv"
    csv.write_text(
        "id,name,phone\nK1,Kay Lee,020 7946 0958\nK2,Bad Number,12\nK3,Ray Ng,07400 123456\n"
    )
    result = cti(config, "import", "customers", str(csv), check=False)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "2 customers created, 0 updated, 2 numbers added, 1 rows rejected",
        "  line 3: phone '12' is not a valid number (invalid)",
    ]
    assert "100.0%" in result.stderr, "the progress bar reached its end"
    again = cti(config, "import", "customers", str(csv), check=False)
    assert again.stdout.splitlines()[0].startswith("0 customers created, 2 updated")


def test_check_config_names_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 'eighty'\n")
    result = cti(path, "check-config", check=False)
    assert result.returncode == 2
    assert "server.port" in result.stderr


async def test_demo_seeds_prints_logins_and_serves(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "demo",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "demo"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        banner = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert banner.strip() == f"cti demo: open http://127.0.0.1:{port}/ and sign in as"
        admin = (await process.stdout.readline()).decode().split()
        assert admin[:2] == ["admin", "admin"]
        jar = aiohttp.CookieJar(unsafe=True)  # the demo serves on an IP address
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", cookie_jar=jar) as http:
            for _ in range(100):
                try:
                    async with http.get("/login") as page:
                        assert page.status == 200
                        body = await page.text()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            token = re.search(r'name="csrf_token" value="([^"]+)"', body)
            assert token
            async with http.post(
                "/login",
                data={"username": "admin", "password": admin[3], "csrf_token": token.group(1)},
                allow_redirects=False,
            ) as signed_in:
                assert signed_in.status == 303
            async with http.get("/admin/users") as users:
                assert "王博" in await users.text()
        agent = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", cookie_jar=agent) as http:
            async with http.get("/login") as page:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
            assert token
            password = next(user[3] for user in DEMO_USERS if user[0] == "alice")
            login = {"username": "alice", "password": password, "csrf_token": token.group(1)}
            async with http.post("/login", data=login, allow_redirects=False) as signed_in:
                assert signed_in.status == 303
            async with http.get("/account") as page:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
            assert token
            # Click-to-dial reaches the demo's simulated PBX (it was refused: no such context).
            headers = {"X-CSRF-Token": token.group(1)}
            async with http.post(
                "/api/dial", json={"number": "01 42 68 53 00"}, headers=headers
            ) as dial:
                assert dial.status == 200, await dial.text()
                assert (await dial.json())["dialled"] == "33142685300"
    finally:
        process.terminate()
        await process.wait()
