"""Turns ringing calls into pops on the right agents' sockets, and takes them back.

Targeting: the interface that rings (AgentCalled's member, or the device of a direct dial), or the
agent whose outbound call is dialling the customer, is matched to users through every endpoint the
floor knows for it; an interface that rings nobody is reported once on /healthz and in the log.
The customer lookup gets a time budget: past it, the pop goes out with the number alone and an
update follows when the lookup answers. A caller who withheld their number pops as "withheld",
with no number, name or card, for the users whose role may not see it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from cti.config import PrivacyConfig, ScreenPopConfig
from cti.core.events import (
    CallAnswered,
    CallDialled,
    CallEnded,
    CallRinging,
    CallSnapshot,
    RingResult,
    RingStopped,
)
from cti.core.numbers import Number, NumberKind, NumberRules, normalize
from cti.db.card_lookup import CardLookup
from cti.db.customers import Card
from cti.directory import Directory, Person
from cti.health import HealthRegistry
from cti.screenpop.external import ExternalMatch, ExternalSource, fill
from cti.webapp.push import PushHub

logger = logging.getLogger(__name__)

# A shared number can belong to dozens of customers; the pop shows the most recent few.
POP_CARDS = 5
DevicesOf = Callable[[str, str], tuple[str, ...]]


def channel_of(user_id: int) -> str:
    return f"agent:{user_id}"


def call_key(call: CallSnapshot) -> str:
    return f"{call.pbx}/{call.call_id}"


class ScreenPop:
    def __init__(
        self,
        *,
        cards: CardLookup,
        hub: PushHub,
        directory: Directory,
        devices_of: DevicesOf,
        rules: Mapping[str, NumberRules],
        default_rules: NumberRules,
        config: ScreenPopConfig,
        privacy: PrivacyConfig,
        suffix_digits: int,
        health: HealthRegistry,
        external: ExternalSource | None = None,
    ) -> None:
        self._cards = cards
        self._hub = hub
        self._directory = directory
        self._devices_of = devices_of
        self._rules = rules
        self._default_rules = default_rules
        self._config = config
        self._privacy = privacy
        self._suffix_digits = suffix_digits
        self._health = health
        self._external = external
        self._late: set[asyncio.Task[None]] = set()
        self._popping: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def handle(self, event: object) -> None:
        """Bus subscriber. Each pop runs as its own task, so a slow lookup never delays the
        next call's pop; what follows a pop (answered, withdrawn) waits for it to be out."""
        match event:
            case (
                CallRinging(call=call, interface=interface)
                | CallDialled(call=call, interface=interface)
            ):
                key = (call_key(call), interface)
                task = asyncio.create_task(self._ring(call, interface), name=f"pop:{key[0]}")
                self._popping[key] = task
                task.add_done_callback(lambda _: self._popping.pop(key, None))
            case RingStopped(call=call, interface=interface, result=result):
                if result is not RingResult.ANSWERED:  # CallAnswered tells that one
                    await self._after_pop(call, interface)
                    self._tell(call, interface, "withdraw", {"result": result.value})
            case CallAnswered(call=call, interface=interface):
                await self._after_pop(call, interface)
                self._tell(call, interface, "answered", {"result": "answered"})
            case CallEnded(call=call) if call.agent_interface:
                await self._after_pop(call, call.agent_interface)
                self._tell(call, call.agent_interface, "ended", {"outcome": str(call.outcome)})

    async def _after_pop(self, call: CallSnapshot, interface: str) -> None:
        task = self._popping.get((call_key(call), interface))
        if task is not None:
            await asyncio.wait([task])

    async def settle(self, timeout: float = 1.0, late: bool = True) -> None:  # noqa: ASYNC109
        """Let pops (and, with `late`, late lookups) deliver; give up on the stragglers."""
        if self._popping:
            await asyncio.wait(list(self._popping.values()), timeout=timeout)
        if not late:
            return
        if self._late:
            await asyncio.wait(list(self._late), timeout=timeout)
        for task in self._late:
            task.cancel()
        await asyncio.gather(*self._late, return_exceptions=True)

    def _people(self, call: CallSnapshot, interface: str) -> list[Person]:
        people = self._directory.people(call.pbx, self._devices_of(call.pbx, interface))
        if not people:
            note = f"{call.pbx}: {interface} rings no cti user (add it to a user's devices)"
            if self._health.note_once("screenpop", note):
                logger.warning("screen-pop: %s", note)
        return people

    def _tell(self, call: CallSnapshot, interface: str, kind: str, data: dict[str, Any]) -> None:
        for person in self._people(call, interface):
            self._hub.publish(channel_of(person.user_id), kind, {"key": call_key(call), **data})

    async def _ring(self, call: CallSnapshot, interface: str) -> None:
        people = self._people(call, interface)
        shown = [p for p in people if self._privacy.shows_withheld(p.role)]
        if call.withheld and len(shown) < len(people):
            hidden = [p for p in people if p not in shown]
            self._publish(hidden, "pop", self._withheld(call, interface))
            people = shown
        if not people:
            return
        number = normalize(call.number, self._rules.get(call.pbx, self._default_rules))
        pop = self._payload(call, interface, number)
        # Past calls of withheld callers only on cards all of these people may see them on.
        withheld = len(shown) == len(people)
        lookup = asyncio.create_task(
            self._lookup(number, withheld), name=f"pop-lookup:{call.call_id}"
        )
        try:
            async with asyncio.timeout(self._config.lookup_budget_ms / 1000):
                cards, external = await asyncio.shield(lookup)
        except TimeoutError:
            self._publish(people, "pop", pop)
            late = asyncio.create_task(
                self._update_later(lookup, people, call, pop, number),
                name=f"pop-update:{call.call_id}",
            )
            self._late.add(late)
            late.add_done_callback(self._late.discard)
            return
        self._publish(people, "pop", self._enriched(pop, call, number, cards, external))

    async def _update_later(
        self,
        lookup: asyncio.Task[tuple[list[Card], ExternalMatch | None]],
        people: list[Person],
        call: CallSnapshot,
        pop: dict[str, Any],
        number: Number,
    ) -> None:
        try:
            cards, external = await lookup
        except asyncio.CancelledError:
            lookup.cancel()
            raise
        self._publish(people, "pop-update", self._enriched(pop, call, number, cards, external))

    def _publish(self, people: list[Person], kind: str, data: dict[str, Any]) -> None:
        for person in people:
            self._hub.publish(channel_of(person.user_id), kind, data)

    async def _lookup(
        self, number: Number, withheld: bool
    ) -> tuple[list[Card], ExternalMatch | None]:
        try:
            cards = await self._cards.cards(
                number, self._suffix_digits, POP_CARDS, withheld=withheld
            )
        except Exception:
            # A failing database must not cost the agent the pop itself.
            logger.exception("screen-pop: customer lookup failed")
            cards = []
        external = None
        if not cards and number.known and self._external is not None:
            external = await self._external.lookup(number.e164, number.raw)
        return cards, external

    def _payload(self, call: CallSnapshot, interface: str, number: Number) -> dict[str, Any]:
        return {
            "key": call_key(call),
            "pbx": call.pbx,
            "call_id": call.call_id,
            "interface": interface,
            "direction": call.direction.value,
            "queue": call.queue,
            "number": call.number,
            "name": call.name,
            "number_kind": number.kind.value,
            "e164": number.e164,
            "customers": [],
            "external": None,
            "pop_url": "",
            "complete": False,
        }

    def _withheld(self, call: CallSnapshot, interface: str) -> dict[str, Any]:
        """The pop of a withheld caller for those who may not see who it is: no lookup at all."""
        hidden = Number("", NumberKind.WITHHELD)
        return {
            **self._payload(call, interface, hidden),
            "number": "",
            "name": "",
            "complete": True,
        }

    def _enriched(
        self,
        pop: dict[str, Any],
        call: CallSnapshot,
        number: Number,
        cards: list[Card],
        external: ExternalMatch | None,
    ) -> dict[str, Any]:
        template = self._config.pop_urls.get(call.queue, "")
        pop_url = ""
        if template:
            first = cards[0] if cards else None
            pop_url = fill(
                template,
                {
                    "customer_id": str(first.id) if first else "",
                    "external_id": first.external_id
                    if first
                    else (external.id if external else ""),
                    "e164": number.e164,
                    "number": call.number,
                    "queue": call.queue,
                    "call_id": call.call_id,
                },
            )
        return {
            **pop,
            "customers": [card.as_json() for card in cards],
            "external": external.as_json() if external else None,
            "pop_url": pop_url,
            "complete": True,
        }
