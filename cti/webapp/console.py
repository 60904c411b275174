"""The agent console: pops on the agent's own socket, wrap-up, and click-to-dial."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import select

from cti import keys
from cti.ami.errors import AmiActionTimeout
from cti.core.numbers import normalize
from cti.db.models import Call, UserDevice
from cti.errors import AmiError, ConflictError, DomainError, NotFoundError
from cti.i18n import N_
from cti.screenpop.service import channel_of
from cti.webapp.policy import Role, requires
from cti.webapp.render import locale_text, render
from cti.webapp.requests import json_object
from cti.webapp.security import check_origin, current_session, user_role

logger = logging.getLogger(__name__)

MAX_NOTES = 4000
LABELS = {
    "ringing": N_("Ringing"),
    "answered": N_("In call"),
    "withdraw": N_("Answered elsewhere or gone"),
    "ended": N_("Call ended"),
    "live": N_("live"),
    "reconnecting": N_("reconnecting"),
    "saved": N_("Saved."),
    "calling": N_("Calling…"),
    "anonymous": N_("Withheld number"),
    "withheld": N_("Withheld number"),
    "unknown": N_("No caller number"),
    "incoming": N_("Incoming call"),
    "outgoing": N_("Outgoing call"),
    "outcome-busy": N_("busy"),
    "outcome-ring-no-answer": N_("no answer"),
    "outcome-failed": N_("failed"),
    "outcome-abandoned": N_("hung up before an answer"),
    "several": N_("Several customers have this number: pick the caller."),
}


@requires(Role.AGENT)
async def console_page(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    text = locale_text(request)
    context = {
        "dispositions": request.app[keys.CONFIG].screenpop.dispositions,
        "labels": {key: text.gettext(label) for key, label in LABELS.items()},
        "user_id": session.user.id,
    }
    return await render(request, "console.html", context)


@requires(Role.AGENT)
async def agent_socket(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    user_id = current_session(request).user.id
    return await request.app[keys.PUSH].serve(request, channel_of(user_id))


@requires(Role.AGENT)
async def save_wrapup(request: web.Request) -> web.StreamResponse:
    body = await json_object(request)
    disposition = body.get("disposition", "")
    notes = body.get("notes", "")
    allowed = request.app[keys.CONFIG].screenpop.dispositions
    if disposition not in allowed:
        raise DomainError(
            f"disposition {disposition!r} is not one of the configured codes",
            {"disposition": ", ".join(allowed)},
        )
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        raise DomainError(f"notes must be text of at most {MAX_NOTES} characters")
    session = current_session(request)
    pbx, uniqueid = request.match_info["pbx"], request.match_info["uniqueid"]
    async with request.app[keys.DB].begin() as db:
        call = await db.scalar(select(Call).where(Call.pbx == pbx, Call.uniqueid == uniqueid))
        if call is None:
            raise NotFoundError(f"no call {pbx}/{uniqueid} in the call log yet; retry in a moment")
        if user_role(session) < Role.SUPERVISOR and call.agent_user_id not in (
            None,
            session.user.id,
        ):
            raise ConflictError("this call was answered by another agent")
        call.disposition = disposition
        call.notes = notes
    return web.json_response({"saved": True, "disposition": disposition})


@requires(Role.AGENT)
async def click_to_dial(request: web.Request) -> web.StreamResponse:
    body = await json_object(request)
    raw = body.get("number", "")
    if not isinstance(raw, str):
        raise DomainError("number must be text")
    session = current_session(request)
    config = request.app[keys.CONFIG]
    async with request.app[keys.DB]() as db:
        devices = list(
            await db.execute(
                select(UserDevice.pbx, UserDevice.interface).where(
                    UserDevice.user_id == session.user.id
                )
            )
        )
    feeds = request.app[keys.FEEDS]
    only = next(iter(feeds)) if len(feeds) == 1 else ""
    usable = [
        (pbx_name or only, device) for pbx_name, device in devices if (pbx_name or only) in feeds
    ]
    if not usable:
        raise DomainError("you have no phone device on a connected PBX; ask an admin to add one")
    pbx_name, device = usable[0]
    pbx = next(p for p in config.pbx if p.name == pbx_name)
    number = normalize(raw, pbx.number_rules(config.numbers.default_region))
    if not number.known:
        raise DomainError(f"{raw!r} is not a number that can be dialled ({number.kind.value})")
    dialled = pbx.outside_line + number.e164.removeprefix("+")
    try:
        result = await feeds[pbx_name].actions.click_to_dial(
            device, dialled, caller_id=session.user.display_name or session.user.username
        )
    except AmiActionTimeout as exc:
        raise ConflictError(f"the PBX did not answer the call request: {exc}") from None
    except AmiError as exc:
        raise ConflictError(f"the PBX refused the call: {exc}") from None
    return web.json_response(
        {"answered": result.answered, "reason": result.reason, "dialled": dialled}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/console", console_page, name="console")
    app.router.add_get("/ws/agent", agent_socket, name="agent-socket")
    app.router.add_post("/api/calls/{pbx}/{uniqueid}/wrapup", save_wrapup, name="wrapup")
    app.router.add_post("/api/dial", click_to_dial, name="dial")
