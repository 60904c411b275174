"""The words customers reply with to stop, restart or ask for help, as carriers require."""

from __future__ import annotations

import re
from enum import Enum
from typing import Final


class Keyword(Enum):
    STOP = "stop"
    START = "start"
    HELP = "help"


_WORDS: Final = {
    **dict.fromkeys(("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"), Keyword.STOP),
    **dict.fromkeys(("退订", "TD", "T"), Keyword.STOP),
    **dict.fromkeys(("START", "UNSTOP", "YES"), Keyword.START),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}
# Phones add punctuation, quotes and full-width spaces around a one-word answer.
_TRIM: Final = re.compile(r"^[\s\"'“”‘’.!。！,，]+|[\s\"'“”‘’.!。！,，]+$")


def classify(body: str) -> Keyword | None:
    """The keyword a message consists of; a keyword inside a sentence is not one."""
    word = _TRIM.sub("", body).upper()
    return _WORDS.get(word)
