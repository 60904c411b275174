"""Caller numbers: any format a PBX or a CSV gives, to E.164 or a named kind of non-number.

Pure: phonenumbers' metadata is data, not I/O. The rules that differ per PBX (an outside-line
digit before every outbound number, a national trunk prefix, the international access code) arrive
in `NumberRules`; the country a bare national number belongs to is `NumberRules.region`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import phonenumbers

MAX_RAW_LENGTH: Final = 64
_ANONYMOUS: Final = frozenset({"anonymous", "anonymous@anonymous.invalid"})
_WITHHELD: Final = frozenset({"private", "restricted", "withheld", "blocked", "prohibited"})
_UNKNOWN: Final = frozenset({"", "unknown", "unavailable", "<unknown>", "n/a", "s"})
_SEPARATORS: Final = re.compile(r"[\s().\-/]")
_SIP_URI: Final = re.compile(r"^(?:sips?|tel):(\+?[^@;]+)", re.IGNORECASE)


class NumberKind(StrEnum):
    E164 = "e164"
    ANONYMOUS = "anonymous"
    WITHHELD = "withheld"
    UNKNOWN = "unknown"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class NumberRules:
    """How one PBX writes numbers. Empty strings switch a rule off."""

    region: str = "US"
    outside_line: str = ""
    trunk_prefix: str = ""
    international_prefix: str = ""


@dataclass(frozen=True, slots=True)
class Number:
    raw: str
    kind: NumberKind
    e164: str = ""

    @property
    def known(self) -> bool:
        return self.kind is NumberKind.E164

    def last_digits(self, count: int) -> str:
        return digits_only(self.e164)[-count:] if self.known else ""


def digits_only(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def reversed_digits(e164: str) -> str:
    """The digits back to front, so that a suffix search is an indexed prefix search."""
    return digits_only(e164)[::-1]


def _strip_outside_line(candidate: str, rules: NumberRules) -> str:
    # The outside-line digit only precedes a dialled number longer than an internal extension.
    if rules.outside_line and candidate.startswith(rules.outside_line) and len(candidate) > 6:
        return candidate[len(rules.outside_line) :]
    return candidate


def _to_international(candidate: str, rules: NumberRules) -> str:
    """Rewrite the PBX's own prefixes; the region's usual ones are left to phonenumbers."""
    if candidate.startswith("+"):
        return candidate
    if rules.international_prefix and candidate.startswith(rules.international_prefix):
        return "+" + candidate[len(rules.international_prefix) :]
    if rules.trunk_prefix and candidate.startswith(rules.trunk_prefix):
        return candidate[len(rules.trunk_prefix) :]
    return candidate


def normalize(raw: str | None, rules: NumberRules = NumberRules()) -> Number:
    """Classify and normalise one caller number; never raises on any input."""
    text = (raw or "").strip()
    if len(text) > MAX_RAW_LENGTH:
        return Number(text[:MAX_RAW_LENGTH], NumberKind.INVALID)
    lowered = text.lower().strip("<>\"'")
    if lowered in _UNKNOWN:
        return Number(text, NumberKind.UNKNOWN)
    if lowered in _ANONYMOUS or lowered.startswith("anonymous@"):
        return Number(text, NumberKind.ANONYMOUS)
    if lowered in _WITHHELD:
        return Number(text, NumberKind.WITHHELD)
    uri = _SIP_URI.match(text)
    candidate = _SEPARATORS.sub("", uri.group(1) if uri else text)
    body = candidate.removeprefix("+")
    if not body.isdigit() or not body.isascii():
        return Number(text, NumberKind.INVALID)
    candidate = _to_international(_strip_outside_line(candidate, rules), rules)
    try:
        parsed = phonenumbers.parse(candidate, rules.region or None)
    except phonenumbers.NumberParseException:
        return Number(text, NumberKind.INVALID)
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        return Number(text, NumberKind.INVALID)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Number(text, NumberKind.E164, e164)
