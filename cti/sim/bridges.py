"""Two-party bridges, as Queue and Dial create them once the callee answers (ground truth §2.2)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from cti.sim import cdr
from cti.sim.channels import Channel, set_var
from cti.sim.wire import UNKNOWN, Fields

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx


class Bridge:
    """A basic two-party bridge (simple_bridge), as Queue and Dial create them."""

    def __init__(self) -> None:
        self.uniqueid = str(uuid.uuid4())
        self.channels: list[Channel] = []

    def fields(self) -> Fields:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", UNKNOWN),
            ("BridgeName", UNKNOWN),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]


def bridge_pair(pbx: Pbx, first: Channel, second: Channel) -> Bridge:
    """BridgeCreate, both enter (the callee's leg first, as in the captures), BRIDGEPEER set."""
    bridge = Bridge()
    pbx.emit("BridgeCreate", "call", bridge.fields())
    for chan in (first, second):
        bridge.channels.append(chan)
        chan.bridge = bridge
        pbx.emit("BridgeEnter", "call", [*bridge.fields(), *chan.snapshot()])
        peers = ",".join(c.name for c in bridge.channels if c is not chan)
        cdr.cel(pbx, chan, "BRIDGE_ENTER", peer=peers, extra=_bridge_extra(bridge))
    # A channel entering a bridge adopts the oldest linkedid present (bridge_channel.c:392).
    oldest = min((c.linkedid for c in bridge.channels), key=_id_order)
    for chan in bridge.channels:
        pbx.relink(chan, oldest)
    set_var(pbx, first, "BRIDGEPEER", second.name)
    set_var(pbx, second, "BRIDGEPEER", first.name)
    return bridge


def bridge_leave(pbx: Pbx, chan: Channel) -> None:
    bridge = chan.bridge
    if bridge is None:
        return
    bridge.channels.remove(chan)
    chan.bridge = None
    pbx.emit("BridgeLeave", "call", [*bridge.fields(), *chan.snapshot()])
    peers = ",".join(c.name for c in bridge.channels)
    cdr.cel(pbx, chan, "BRIDGE_EXIT", peer=peers, extra=_bridge_extra(bridge))
    if not bridge.channels:
        pbx.emit("BridgeDestroy", "call", bridge.fields())


def bridge_clear_peers(pbx: Pbx, bridge: Bridge, leaving: Channel) -> None:
    """BRIDGEPEER is emptied on both sides when the bridge breaks up, the leaving side first."""
    for chan in sorted(bridge.channels, key=lambda c: c is not leaving):
        set_var(pbx, chan, "BRIDGEPEER", "")


def _bridge_extra(bridge: Bridge) -> str:
    return f'{{"bridge_id":"{bridge.uniqueid}","bridge_technology":"simple_bridge"}}'


def _id_order(uid: str) -> tuple[float, int]:
    head, _, seq = uid.rpartition(".")
    try:
        return float(head.rsplit("-", 1)[-1]), int(seq)
    except ValueError:
        return float("inf"), 0
