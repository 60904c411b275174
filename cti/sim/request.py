"""A client's action as the simulator reads it: headers matched case-insensitively (manager.c)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from cti.ami.frames import AmiMessage
from cti.sim.wire import Fields, response

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx
    from cti.sim.session import Session


class Action:
    def __init__(self, message: AmiMessage) -> None:
        self.headers: dict[str, list[str]] = {}
        self.order: list[tuple[str, str]] = []
        for key, value in message.items():
            values = [value] if isinstance(value, str) else value
            self.headers.setdefault(key.lower(), []).extend(values)
            self.order.extend((key, v) for v in values)

    def get(self, key: str, default: str = "") -> str:
        values = self.headers.get(key.lower())
        return values[0] if values else default

    def all(self, key: str) -> list[str]:
        return self.headers.get(key.lower(), [])

    @property
    def id(self) -> str | None:
        return self.get("ActionID") or None

    def reply(self, status: str = "Success", message: str | None = None) -> Fields:
        return response(self.id, status, message)

    def list_start(self, message: str) -> Fields:
        """The head of a list response: EventList sits between ActionID and Message."""
        fields = response(self.id)
        return [*fields, ("EventList", "start"), ("Message", message)]

    def list_complete(self, event: str, items: int) -> Fields:
        fields: Fields = [("Event", event)]
        if self.id is not None:
            fields.append(("ActionID", self.id))
        return [*fields, ("EventList", "Complete"), ("ListItems", str(items))]

    def item(self, event: str, fields: Fields, *, id_first: bool = False) -> Fields:
        """A list item: no Privilege or Timestamp; ActionID last (first for CoreShowChannel)."""
        action_id: Fields = [("ActionID", self.id)] if self.id is not None else []
        if id_first:
            return [("Event", event), *action_id, *fields]
        return [("Event", event), *fields, *action_id]


PbxHandler = Callable[["Pbx", "Session", Action], Awaitable[None]]
