"""The PBX actions the product uses: click-to-dial, pause, members, hang up, redirect.

Each validates its input, sends one AMI action through the link (which rejects CR/LF and applies
a deadline) and turns Asterisk's answer into a result or an AmiActionFailed naming the reason.
An Originate is resolved by its OriginateResponse event (matched by ActionID), or times out.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Final

from cti.ami.errors import AmiActionTimeout
from cti.ami.frames import AmiMessage, first
from cti.ami.link import AmiLink
from cti.ami.translate import DIALLED

# OriginateResponse Reason: the last control frame seen on the first leg (frame.h).
ORIGINATE_REASONS: Final = {
    "0": "failed",
    "1": "hung up",
    "3": "no answer",
    "4": "answered",
    "5": "busy",
    "8": "congestion",
}


@dataclass(frozen=True, slots=True)
class OriginateResult:
    answered: bool
    reason: str
    uniqueid: str
    channel: str


class PbxActions:
    # The events observe() reads.
    EVENTS: Final = ("OriginateResponse",)

    def __init__(self, link: AmiLink, *, outbound_context: str) -> None:
        self._link = link
        self._outbound_context = outbound_context
        self._originating: dict[str, asyncio.Future[OriginateResult]] = {}

    def observe(self, event: AmiMessage) -> None:
        """Feed every event here; OriginateResponse resolves the click-to-dial waiting for it."""
        if first(event, "Event") != "OriginateResponse":
            return
        future = self._originating.get(first(event, "ActionID"))
        if future is not None and not future.done():
            reason = first(event, "Reason")
            future.set_result(
                OriginateResult(
                    answered=first(event, "Response") == "Success",
                    reason=ORIGINATE_REASONS.get(reason, f"reason {reason}"),
                    uniqueid=first(event, "Uniqueid"),
                    channel=first(event, "Channel"),
                )
            )

    async def click_to_dial(
        self, device: str, number: str, *, caller_id: str = "", ring_seconds: float = 30.0
    ) -> OriginateResult:
        """Ring the agent's device first; when they answer, the PBX dials `number`."""
        if not number.lstrip("+").isdigit():
            raise ValueError(f"cannot dial {number!r}: digits only, with an optional leading +")
        action_id = f"cti-dial-{secrets.token_hex(6)}"
        future: asyncio.Future[OriginateResult] = asyncio.get_running_loop().create_future()
        self._originating[action_id] = future
        action = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": device,
            "Context": self._outbound_context,
            "Exten": number,
            "Priority": "1",
            "Timeout": str(int(ring_seconds * 1000)),
            # Rides on the agent's leg: a call whose agent never answers still has its number.
            "Variable": f"{DIALLED}={number}",
        }
        if caller_id:
            action["CallerID"] = caller_id
        try:
            await self._link.send(action)
            try:
                async with asyncio.timeout(ring_seconds + 10):
                    return await future
            except TimeoutError:
                raise AmiActionTimeout(
                    f"Originate to {device}: no OriginateResponse within {ring_seconds + 10:g} s"
                ) from None
        finally:
            self._originating.pop(action_id, None)

    async def pause(
        self, interface: str, *, paused: bool, reason: str = "", queue: str = ""
    ) -> None:
        action = {"Action": "QueuePause", "Interface": interface, "Paused": str(paused).lower()}
        if reason:
            action["Reason"] = reason
        if queue:
            action["Queue"] = queue
        await self._link.send(action)

    async def add_member(
        self,
        queue: str,
        interface: str,
        *,
        name: str = "",
        state_interface: str = "",
        penalty: int = 0,
    ) -> None:
        action = {
            "Action": "QueueAdd",
            "Queue": queue,
            "Interface": interface,
            "Penalty": str(penalty),
        }
        if name:
            action["MemberName"] = name
        if state_interface:
            action["StateInterface"] = state_interface
        await self._link.send(action)

    async def remove_member(self, queue: str, interface: str) -> None:
        await self._link.send({"Action": "QueueRemove", "Queue": queue, "Interface": interface})

    async def hangup(self, channel: str, cause: int = 16) -> None:
        """Hang up a channel, named or by Uniqueid."""
        await self._link.send({"Action": "Hangup", "Channel": channel, "Cause": str(cause)})

    async def redirect(
        self, channel: str, context: str, exten: str, *, priority: int = 1, extra_channel: str = ""
    ) -> None:
        """Send a channel (and its bridged peer, if given as `extra_channel`) elsewhere."""
        action = {
            "Action": "Redirect",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
        }
        if extra_channel:
            action |= {
                "ExtraChannel": extra_channel,
                "ExtraContext": context,
                "ExtraExten": exten,
                "ExtraPriority": str(priority),
            }
        await self._link.send(action)
