"""Customer fields as people type them (a CSV cell, a form field), checked and converted."""

from __future__ import annotations

import re
from typing import Any, Final

from cti.core.hours import is_time_zone
from cti.errors import DomainError

MAX_LENGTH: Final = {
    "external_id": 128,
    "name": 200,
    "salutation": 40,
    "language": 16,
    "segment": 40,
    "email": 254,
    "notes": 10_000,
}
TEXT_FIELDS: Final = ("external_id", "name", "salutation", "language", "timezone", "segment")
_TRUE: Final = frozenset({"1", "yes", "y", "true", "vip", "x", "on"})
_FALSE: Final = frozenset({"0", "no", "n", "false", "", "off"})
_LANGUAGE: Final = re.compile(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*")


def clean(name: str, value: str) -> Any:
    """The stored form of one field, or DomainError naming what is wrong with it."""
    if name == "vip":
        lowered = value.lower()
        if lowered not in _TRUE | _FALSE:
            raise DomainError(f"vip {value!r} is not yes or no")
        return lowered in _TRUE
    if name == "tags":
        return sorted({t.strip() for t in re.split(r"[;,|]", value) if t.strip()})
    if name == "timezone" and value and not is_time_zone(value):
        raise DomainError(f"time zone {value!r} is unknown (expected e.g. Europe/Paris)")
    if name == "language" and value and not _LANGUAGE.fullmatch(value):
        raise DomainError(f"language {value!r} is not a language tag such as en or zh-CN")
    if name == "email" and value and "@" not in value:
        raise DomainError(f"email {value!r} has no '@'")
    limit = MAX_LENGTH.get(name)
    if limit is not None and len(value) > limit:
        raise DomainError(f"{name} is longer than {limit} characters")
    return value
