"""How many SMS segments a text costs, and in which encoding it travels.

Carriers bill per segment, so the console shows the count while an agent types. A text made only
of the GSM 03.38 default alphabet travels as GSM-7: 160 septets in one segment, 153 per segment
once it is split (the user data header takes the rest). A single character outside that alphabet
(a Chinese character, an emoji, a curly quote) switches the whole message to UCS-2: 70 UTF-16
code units in one segment, 67 per segment when split. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# GSM 03.38 basic table in code order, less 0x1B: that code escapes to the extension table.
_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape code, so each costs two septets.
_GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

_GSM_SINGLE: Final = 160
_GSM_PART: Final = 153
_UCS2_SINGLE: Final = 70
_UCS2_PART: Final = 67


@dataclass(frozen=True, slots=True)
class Encoding:
    scheme: Literal["GSM-7", "UCS-2"]
    units: int
    """Septets for GSM-7, UTF-16 code units for UCS-2."""
    segments: int
    characters: int


def analyse(text: str) -> Encoding:
    gsm = _gsm_costs(text)
    if gsm is not None:
        return Encoding("GSM-7", sum(gsm), _segments(gsm, _GSM_SINGLE, _GSM_PART), len(text))
    ucs2 = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return Encoding("UCS-2", sum(ucs2), _segments(ucs2, _UCS2_SINGLE, _UCS2_PART), len(text))


def _gsm_costs(text: str) -> list[int] | None:
    """The septets of each character, or None when one of them is outside the GSM alphabet."""
    costs: list[int] = []
    for ch in text:
        if ch in _GSM_BASIC:
            costs.append(1)
        elif ch in _GSM_EXTENSION:
            costs.append(2)
        else:
            return None
    return costs


def _segments(costs: list[int], single: int, part: int) -> int:
    """Pack characters into segments; a character never straddles two, so ceil(units/part) can
    be one short: an escape pair or a surrogate pair that does not fit starts the next segment.
    """
    total = sum(costs)
    if total <= single:
        return 1 if total else 0
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return segments
