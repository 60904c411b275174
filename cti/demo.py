"""`cti demo`: the whole product on its embedded defaults, with demo users and customers."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path
from typing import Final

from sqlalchemy import func, select

from cti.app import run
from cti.config import (
    Config,
    DatabaseConfig,
    NumbersConfig,
    PbxConfig,
    Secret,
    ServerConfig,
    SmsConfig,
)
from cti.db import migrate, users
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import Customer, User
from cti.demo_data import write_customers_csv
from cti.importer import import_customers
from cti.sms import template_store

DEMO_CUSTOMERS: Final = 500
# Demo-only credentials, printed at start-up; real deployments use `cti user add`.
# The agents answer on the simulator's agent phones (its queues are the Asterisk rig's).
DEMO_USERS: Final = (
    ("admin", "Ada Admin", "admin", "demo-admin-1", "en", ()),
    ("super", "Sam Supervisor", "supervisor", "demo-super-1", "en", ()),
    ("alice", "Alice Agent", "agent", "demo-agent-1", "en", ("Local/agent1@agents",)),
    ("bo", "王博", "agent", "demo-agent-2", "zh_Hans", ("Local/agent2@agents",)),
    ("carol", "Carol Agent", "agent", "demo-agent-3", "en", ("Local/agent3@agents",)),
    ("dave", "Dave Agent", "agent", "demo-agent-4", "en", ("Local/agent4@agents",)),
)


DEMO_TEMPLATES: Final = (
    ("call-thanks", "", "Thank you for calling {{ center }}, {{ salutation }} {{ name }}."),
    ("call-thanks", "zh", "{{ name }}，感谢您致电{{ center }}。"),
    (
        "appointment-reminder",
        "",
        "Reminder: your appointment at {{ center }} is on {{ appointment_date }} at "
        "{{ appointment_time }}.",
    ),
)


def demo_config(data_dir: Path, port: int) -> Config:
    database = DatabaseConfig(url=f"sqlite+aiosqlite:///{data_dir.resolve() / 'cti.db'}")
    simulator = PbxConfig(
        name="demo",
        port=0,
        secret=Secret(secrets.token_urlsafe(16)),
        simulator=True,
        wrapup_seconds={"support": 2},
        # The simulator's dialplan, like the rig's, dials customers from [outbound].
        outbound_context="outbound",
    )
    return Config(
        server=ServerConfig(host="127.0.0.1", port=port),
        database=database,
        pbx=[simulator],
        numbers=NumbersConfig(default_region="FR"),
        sms=SmsConfig(center_name="Hôtel du Port"),
    )


async def seed(config: Config, data_dir: Path) -> None:
    """Migrate, then add the demo users and customers unless an earlier run already did."""
    engine = create_engine(config.database)
    try:
        await migrate.upgrade(engine)
        db = sessionmaker(engine)
        async with db.begin() as session:
            if await session.scalar(select(func.count()).select_from(User)) == 0:
                for username, name, role, password, locale, devices in DEMO_USERS:
                    await users.create_user(
                        session,
                        username=username,
                        display_name=name,
                        role=role,
                        password=password,
                        locale=locale,
                        timezone="Europe/Paris",
                        devices=devices,
                    )
            customers = await session.scalar(select(func.count()).select_from(Customer))
            if not await template_store.all_templates(session):
                for name, language, body in DEMO_TEMPLATES:
                    await template_store.save(session, name, language, body, transactional=True)
        if customers == 0:
            path = write_customers_csv(data_dir / "demo-customers.csv", DEMO_CUSTOMERS)
            await import_customers(db, path, region="FR")
    finally:
        await engine.dispose()


def run_demo(data_dir: Path, port: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = demo_config(data_dir, port)
    asyncio.run(seed(config, data_dir))
    logins = "\n".join(
        f"    {role:<11} {username:<6} / {password}"
        for username, _, role, password, _, _ in DEMO_USERS
    )
    sys.stdout.write(
        f"cti demo: open {config.server.base_url}/ and sign in as\n{logins}\n"
        "The built-in PBX simulator is sending calls: agents see pops on their Console,\n"
        "supervisors the Live floor.\n"
        f"Data in {data_dir.resolve()}; Ctrl-C stops.\n"
    )
    sys.stdout.flush()
    run(config)
