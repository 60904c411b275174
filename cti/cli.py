"""The `cti` command: serve, demo, check-config, db upgrade, user add/passwd/list, import."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from cti import __version__
from cti.config import Config, load
from cti.errors import CtiError

T = TypeVar("T")
logger = logging.getLogger("cti")


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("CTI_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every plugin it loads at INFO; only its warnings concern an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        code = command(args)
    except CtiError as error:
        print(f"cti: {error}", file=sys.stderr)  # noqa: T201
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cti", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cti {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str) -> Any:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("-c", "--config", required=True, type=Path, help="configuration file")
        return p

    with_config(command("serve", _serve, "run the service"))
    with_config(command("check-config", _check_config, "validate a configuration file"))
    demo = command("demo", _demo, "run on SQLite with the PBX simulator and demo data")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--data-dir", type=Path, default=Path("cti-demo"))

    db = sub.add_parser("db", help="database maintenance").add_subparsers(required=True)
    upgrade = with_config(db.add_parser("upgrade", help="migrate the database to this version"))
    upgrade.set_defaults(func=_db_upgrade)

    user = sub.add_parser("user", help="manage users").add_subparsers(required=True)
    add = with_config(user.add_parser("add", help="create a user"))
    add.add_argument("username")
    add.add_argument("--role", choices=["agent", "supervisor", "admin"], required=True)
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--locale", default="en", choices=["en", "zh_Hans"])
    add.add_argument("--timezone", default="UTC")
    add.add_argument("--device", action="append", default=[], help="device interface, repeatable")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=_user_add)
    passwd = with_config(user.add_parser("passwd", help="set a user's password"))
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=_user_passwd)
    with_config(user.add_parser("list", help="list users")).set_defaults(func=_user_list)

    imp = sub.add_parser("import", help="import data").add_subparsers(required=True)
    customers = with_config(imp.add_parser("customers", help="import customers from CSV"))
    customers.add_argument("file", type=Path)
    customers.set_defaults(func=_import_customers)
    return parser


def _config(args: argparse.Namespace) -> Config:
    return load(args.config, os.environ)


def _serve(args: argparse.Namespace) -> int:
    from cti.app import run

    run(_config(args))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    config = _config(args)
    print(f"{args.config}: valid ({len(config.pbx)} PBX, {len(config.agents)} agents)")  # noqa: T201
    return 0


def _demo(args: argparse.Namespace) -> int:
    from cti.demo import run_demo

    run_demo(args.data_dir, args.port)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from cti.db import migrate
    from cti.db.engine import create_engine

    config = _config(args)

    async def upgrade() -> None:
        engine = create_engine(config.database)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(upgrade())
    print(f"database at revision {migrate.head_revision()}")  # noqa: T201
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise CtiError("the two passwords differ; nothing was changed")
    return first


def _with_db(args: argparse.Namespace, work: Callable[[Any], Awaitable[T]]) -> T:
    from cti.db.engine import create_engine, ensure_migrated, sessionmaker

    config = _config(args)

    async def run() -> T:
        engine = create_engine(config.database)
        try:
            await ensure_migrated(engine)
            return await work(sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _user_add(args: argparse.Namespace) -> int:
    from cti.db import users

    password = _read_password(args.password_stdin)

    async def work(db: Any) -> None:
        async with db.begin() as session:
            await users.create_user(
                session,
                username=args.username,
                display_name=args.name,
                role=args.role,
                password=password,
                locale=args.locale,
                timezone=args.timezone,
                devices=args.device,
            )

    _with_db(args, work)
    print(f"user {args.username} created ({args.role})")  # noqa: T201
    return 0


def _user_passwd(args: argparse.Namespace) -> int:
    from cti.db import users

    password = _read_password(args.password_stdin)

    async def work(db: Any) -> None:
        async with db.begin() as session:
            await users.set_password(session, args.username, password)

    _with_db(args, work)
    print(f"password of {args.username} changed")  # noqa: T201
    return 0


def _user_list(args: argparse.Namespace) -> int:
    from cti.db import users

    async def work(db: Any) -> list[Any]:
        async with db() as session:
            return list(await users.list_users(session))

    rows = _with_db(args, work)
    for user in rows:
        devices = ", ".join(d.interface for d in user.devices)
        state = "" if user.active else " (inactive)"
        print(f"{user.username:<20} {user.role:<11} {user.display_name}{state}  {devices}")  # noqa: T201
    return 0


def _import_customers(args: argparse.Namespace) -> int:
    from cti.importer import import_customers
    from cti.progress import ProgressBar

    config = _config(args)
    bar = ProgressBar(sys.stderr)

    async def work(db: Any) -> Any:
        return await import_customers(
            db, args.file, region=config.numbers.default_region, progress=bar.update
        )

    report = _with_db(args, work)
    bar.finish()
    print(report.summary())  # noqa: T201
    for rejected in report.rejected:
        print(f"  line {rejected.line}: {rejected.reason}")  # noqa: T201
    return 0 if not report.rejected else 1
