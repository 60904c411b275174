"""Action dispatch and the session-level actions: Login, Logoff, Challenge, Ping, Events, Filter,
Command, UserEvent, ListCommands. Response texts are Asterisk 22's (ground truth §1.3-1.9).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from cti.ami.classes import ALL, parse_classes
from cti.ami.frames import parse_frame
from cti.sim import call_actions, queue_actions
from cti.sim.privileges import command_list, permitted
from cti.sim.request import Action, PbxHandler
from cti.sim.session import Session
from cti.sim.wire import Fields

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx

VERSION: Final = (
    "Asterisk 22.6.0 built by root @ vm on a x86_64 running Linux on 2026-11-22 23:13:45 UTC"
)
_BEFORE_LOGIN: Final = frozenset({"login", "logoff", "challenge"})


Handler = Callable[["Actions", Session, Action], Awaitable[None]]


class Actions:
    def __init__(self, pbx: Pbx, on_restart: Callable[[], None]) -> None:
        self.pbx = pbx
        self.on_restart = on_restart

    async def handle(self, session: Session, frame: bytes) -> None:
        action = Action(parse_frame(frame))
        name = action.get("Action").strip()
        if not name:
            session.send(action.reply("Error", "Missing action in request"))
            return
        key = name.lower()
        if not session.authenticated and key not in _BEFORE_LOGIN:
            session.send(action.reply("Error", "Permission denied"))
            return
        known = key in _HANDLERS or key in _PBX_HANDLERS
        if known and not permitted(key, session.writeperm):
            session.send(action.reply("Error", "Permission denied"))
            return
        handler = _HANDLERS.get(key)
        if handler is not None:
            await handler(self, session, action)
            return
        pbx_handler = _PBX_HANDLERS.get(key)
        if pbx_handler is not None:
            await pbx_handler(self.pbx, session, action)
            return
        message = (
            f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
        )
        session.send(action.reply("Error", message))


async def _login(actions: Actions, session: Session, action: Action) -> None:
    pbx = actions.pbx
    if session.authenticated:
        session.send(action.reply("Success", "Already authenticated"))
        return
    user = pbx.config.user(action.get("Username"))
    secret = "" if user is None else user.secret
    if action.get("AuthType").lower() == "md5":
        digest = hashlib.md5((session.challenge + secret).encode()).hexdigest()  # noqa: S324 - the AMI MD5 scheme
        good = bool(session.challenge) and action.get("Key").lower() == digest
    else:
        good = secrets.compare_digest(action.get("Secret"), secret)
    if user is None or not good:
        # manager.c sleeps a second before it answers a failed login, then hangs up.
        await pbx.clock.sleep(1.0)
        session.send(action.reply("Error", "Authentication failed"))
        session.close()
        return
    events = action.get("Events")
    session.mask = parse_classes(events) if events else ALL
    session.readperm, session.writeperm = user.read, user.write
    session.authenticated = True
    session.send(action.reply("Success", "Authentication accepted"))
    # Written by action_login itself, only to a user who reads system (manager.c:3379-3403).
    if session.reads("system"):
        uptime = str(int(pbx.clock.now() - pbx.booted))
        booted: Fields = [("Event", "FullyBooted"), ("Privilege", "system,all")]
        booted += [("Uptime", uptime), ("LastReload", uptime), ("Status", "Fully Booted")]
        session.send(booted)


async def _logoff(actions: Actions, session: Session, action: Action) -> None:
    session.send(action.reply("Goodbye", "Thanks for all the fish."))
    session.close()


async def _challenge(actions: Actions, session: Session, action: Action) -> None:
    if action.get("AuthType").lower() != "md5":
        session.send(action.reply("Error", "Must specify AuthType"))
        return
    session.challenge = str(secrets.randbelow(900_000_000) + 100_000_000)
    session.send([*action.reply("Success"), ("Challenge", session.challenge)])


async def _ping(actions: Actions, session: Session, action: Action) -> None:
    stamp = f"{actions.pbx.clock.now():.6f}"
    session.send([*action.reply("Success"), ("Ping", "Pong"), ("Timestamp", stamp)])


async def _events(actions: Actions, session: Session, action: Action) -> None:
    session.mask = parse_classes(action.get("EventMask"))
    session.send([*action.reply("Success"), ("Events", "On" if session.mask else "Off")])


async def _filter(actions: Actions, session: Session, action: Action) -> None:
    if action.get("Operation").lower() != "add":
        session.send(action.reply("Error", "Unknown operation"))
        return
    pattern = action.get("Filter")
    exclude = pattern.startswith("!")
    try:
        compiled = re.compile(pattern[1:] if exclude else pattern)
    except re.error:
        message = "Filter did not compile.  Check the syntax of the filter given."
        session.send(action.reply("Error", message))
        return
    (session.excludes if exclude else session.includes).append(compiled)
    session.send(action.reply("Success", "Success"))


async def _command(actions: Actions, session: Session, action: Action) -> None:
    command = " ".join(action.get("Command").split())
    if command.startswith("core restart"):
        # The issuing session gets nothing at all, then EOF (restart.jsonl).
        actions.on_restart()
        return
    lines = _cli(actions.pbx, command)
    status = "Success" if lines is not None else "Error"
    if lines is None:
        hint = f"(type 'core show help {command}' for other possible commands)"
        lines = [f"No such command '{command}' {hint}"]
    session.send(
        [*action.reply(status, "Command output follows"), *(("Output", ln) for ln in lines)]
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _cli(pbx: Pbx, command: str) -> list[str] | None:
    if command == "core show version":
        return [VERSION]
    if command == "core show channels count":
        active = len(pbx.channels)
        calls = len({c.linkedid for c in pbx.channels.values()})
        return [
            f"{_plural(active, 'active channel')}",
            f"{_plural(calls, 'active call')}",
            f"{_plural(pbx.calls_processed, 'call')} processed",
        ]
    if command == "core show uptime seconds":
        uptime = int(pbx.clock.now() - pbx.booted)
        return [f"System uptime: {uptime}", f"Last reload: {uptime}"]
    return None


async def _user_event(actions: Actions, session: Session, action: Action) -> None:
    name = action.get("UserEvent")
    if not name:
        session.send(action.reply("Error", "Missing UserEvent"))
        return
    session.send(action.reply("Success", "Event Sent"))
    # Every header but Action and UserEvent is echoed, the ActionID included (manager.c:6442).
    extra = [(k, v) for k, v in action.order if k.lower() not in ("action", "userevent")]
    actions.pbx.emit("UserEvent", "user", [("UserEvent", name), *extra])


async def _list_commands(actions: Actions, session: Session, action: Action) -> None:
    session.send([*action.reply("Success"), *command_list(session.writeperm)])


_HANDLERS: dict[str, Handler] = {
    "login": _login,
    "logoff": _logoff,
    "challenge": _challenge,
    "ping": _ping,
    "events": _events,
    "filter": _filter,
    "command": _command,
    "userevent": _user_event,
    "listcommands": _list_commands,
}
_PBX_HANDLERS: dict[str, PbxHandler] = {**call_actions.HANDLERS, **queue_actions.HANDLERS}
