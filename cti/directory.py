"""Which users answer on which devices: the bridge from PBX interfaces to people.

Loaded from the users' device interfaces and refreshed when an admin changes them. An agent
interface is matched through every endpoint the floor knows for it (a member
`Local/1001@from-queue/n` answers on its state interface `PJSIP/1001`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.db.models import User, UserDevice


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    username: str
    display_name: str
    role: str


class Directory:
    def __init__(self) -> None:
        self._by_device: dict[tuple[str, str], Person] = {}

    async def load(self, db: async_sessionmaker[AsyncSession]) -> None:
        async with db() as session:
            rows = await session.execute(
                select(
                    UserDevice.pbx,
                    UserDevice.interface,
                    User.id,
                    User.username,
                    User.display_name,
                    User.role,
                )
                .join(User, User.id == UserDevice.user_id)
                .where(User.active.is_(True))
            )
            self._by_device = {
                (pbx, interface): Person(user_id, username, display_name, role)
                for pbx, interface, user_id, username, display_name, role in rows
            }

    def people(self, pbx: str, devices: Iterable[str]) -> list[Person]:
        """The users on any of these devices, for this PBX or configured for every PBX."""
        found: dict[int, Person] = {}
        for device in devices:
            for key in ((pbx, device), ("", device)):
                person = self._by_device.get(key)
                if person is not None:
                    found[person.user_id] = person
        return list(found.values())

    def devices(self) -> dict[str, list[str]]:
        """Every known device per PBX name ("" for any PBX)."""
        out: dict[str, list[str]] = {}
        for pbx, interface in self._by_device:
            out.setdefault(pbx, []).append(interface)
        return out
