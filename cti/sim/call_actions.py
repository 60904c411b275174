"""Call actions: Originate, Hangup, Redirect, Setvar, Getvar, CoreShowChannels (manager.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.sim import channels as ch
from cti.sim import dialplan
from cti.sim.originate import OriginateRequest, originate
from cti.sim.request import Action, PbxHandler
from cti.sim.wire import Fields, escape_c, hms

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx
    from cti.sim.session import Session

_TRUE = ("yes", "true", "y", "t", "1", "on")


def _variables(action: Action) -> list[tuple[str, str]]:
    """`Variable:` repeats, and each may be a comma list of name=value (manager.c:1689)."""
    pairs = []
    for header in action.all("Variable"):
        for item in header.split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                pairs.append((name.strip(), value))
    return pairs


async def originate_action(pbx: Pbx, session: Session, action: Action) -> None:
    channel = action.get("Channel")
    if not channel:
        session.send(action.reply("Error", "Channel not specified"))
        return
    if action.get("Application"):
        session.send(action.reply("Error", "Application originate is not simulated"))
        return
    context, exten = action.get("Context"), action.get("Exten")
    priority = action.get("Priority") or "1"
    if not priority.isdigit() or not dialplan.exists(pbx, context, exten):
        session.send(action.reply("Error", "Extension does not exist."))
        return
    timeout = action.get("Timeout")
    req = OriginateRequest(
        channel,
        context,
        exten,
        int(priority),
        callerid=action.get("CallerID"),
        variables=_variables(action),
        timeout=int(timeout) / 1000 if timeout.isdigit() else 30.0,
        action_id=action.id,
        channel_id=action.get("ChannelId"),
        other_channel_id=action.get("OtherChannelId"),
    )
    if action.get("Async").lower() in _TRUE:
        session.send(action.reply("Success", "Originate successfully queued"))
        pbx.spawn(originate(pbx, req), f"sim-originate-{channel}")
        return
    # A synchronous Originate holds this session (and its events) until the call is answered.
    outcome = await originate(pbx, req)
    if outcome.reason == 4:
        session.send(action.reply("Success", "Originate successfully queued"))
    else:
        session.send(action.reply("Error", "Originate failed"))


async def hangup_action(pbx: Pbx, session: Session, action: Action) -> None:
    name = action.get("Channel")
    if not name:
        session.send(action.reply("Error", "No channel specified"))
        return
    chan = pbx.find(name)
    if chan is None:
        session.send(action.reply("Error", "No such channel"))
        return
    cause = action.get("Cause")
    session.send(action.reply("Success", "Channel Hungup"))
    ch.request_hangup(pbx, chan, int(cause) if cause.isdigit() else 0, announce=False)


async def redirect_action(pbx: Pbx, session: Session, action: Action) -> None:
    """Move a channel that runs dialplan to context,exten,priority (and ExtraChannel with it)."""
    name = action.get("Channel")
    if not name:
        session.send(action.reply("Error", "Channel not specified"))
        return
    moves = [(name, action.get("Context"), action.get("Exten"), action.get("Priority"))]
    extra = action.get("ExtraChannel")
    if extra:
        moves.append(
            (
                extra,
                action.get("ExtraContext") or moves[0][1],
                action.get("ExtraExten") or moves[0][2],
                action.get("ExtraPriority") or moves[0][3],
            )
        )
    targets = []
    for chan_name, context, exten, priority in moves:
        chan = pbx.find(chan_name)
        if chan is None:
            session.send(action.reply("Error", f"Channel does not exist: {chan_name}"))
            return
        if not context or not exten or not priority.isdigit():
            session.send(action.reply("Error", "Redirect failed"))
            return
        if not chan.runs_pbx or not dialplan.exists(pbx, context, exten):
            session.send(action.reply("Error", "Redirect failed"))
            return
        targets.append((chan, (context, exten, int(priority))))
    word = "Dual Redirect successful" if extra else "Redirect successful"
    session.send(action.reply("Success", word))
    for chan, target in targets:
        ch.redirect(pbx, chan, target)


async def setvar_action(pbx: Pbx, session: Session, action: Action) -> None:
    """Set a channel variable, or without a channel a global one (pbx_builtin_setvar_helper)."""
    variable = action.get("Variable")
    if not variable:
        session.send(action.reply("Error", "No variable specified"))
        return
    name = action.get("Channel")
    chan = pbx.find(name) if name else None
    if name and chan is None:
        session.send(action.reply("Error", "No such channel"))
        return
    value = action.get("Value")
    if chan is None:
        pbx.globals[variable] = value
        # A global's VarSet has no channel snapshot, only these two placeholders
        # (stasis_channels.c varset_to_ami).
        snapshot = [("Channel", "none"), ("Uniqueid", "none")]
        pbx.emit(
            "VarSet", "dialplan", [*snapshot, ("Variable", variable), ("Value", escape_c(value))]
        )
    elif variable == "CDR(userfield)":
        chan.userfield = value
    else:
        ch.set_var(pbx, chan, variable, value)
    session.send(action.reply("Success", "Variable Set"))


async def getvar_action(pbx: Pbx, session: Session, action: Action) -> None:
    """Read a channel variable, or without a channel a global one."""
    variable = action.get("Variable")
    if not variable:
        session.send(action.reply("Error", "No variable specified"))
        return
    name = action.get("Channel")
    chan = pbx.find(name) if name else None
    if name and chan is None:
        session.send(action.reply("Error", "No such channel"))
        return
    if chan is None:
        value = pbx.globals.get(variable, "")
    elif variable == "CDR(userfield)":
        value = chan.userfield
    else:
        value = chan.variables.get(variable, "")
    session.send([*action.reply("Success"), ("Variable", variable), ("Value", value)])


async def core_show_channels(pbx: Pbx, session: Session, action: Action) -> None:
    now = pbx.clock.now()
    items: list[Fields] = []
    for chan in pbx.channels.values():
        fields: Fields = [
            *chan.snapshot(),
            ("Application", chan.app),
            ("ApplicationData", chan.appdata),
            ("Duration", hms(now - chan.created)),
            ("BridgeId", chan.bridge.uniqueid if chan.bridge is not None else ""),
        ]
        items.append(action.item("CoreShowChannel", fields, id_first=True))
    session.send(action.list_start("Channels will follow"))
    for item in items:
        session.send(item)
    session.send(action.list_complete("CoreShowChannelsComplete", len(items)))


HANDLERS: dict[str, PbxHandler] = {
    "originate": originate_action,
    "hangup": hangup_action,
    "redirect": redirect_action,
    "setvar": setvar_action,
    "getvar": getvar_action,
    "coreshowchannels": core_show_channels,
}
