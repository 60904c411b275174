"""AMI messages as Asterisk 22 writes them: ordered `Key: Value` lines, CRLF, a blank line.

Reading is cti.ami.frames' job; this is the writing side, with the escaping rules of ground truth
§1.2 (CallerIDName, ConnectedLineName and VarSet values are C-escaped, nothing else is).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

Fields = list[tuple[str, str]]

BANNER: Final = b"Asterisk Call Manager/11.0.0\r\n"
UNKNOWN: Final = "<unknown>"

_C_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "?": "\\?",
}
_ESCAPE_TABLE: Final = str.maketrans(_C_ESCAPES)
# Asterisk does not escape the other values; a CR or LF there would end the line. The simulator
# folds them into spaces instead of writing a frame no client could parse.
_UNSAFE: Final = str.maketrans({"\r": " ", "\n": " "})


def escape_c(value: str) -> str:
    """ast_escape_c: what CallerIDName, ConnectedLineName and VarSet Value go through."""
    return value.translate(_ESCAPE_TABLE)


def encode(fields: Fields) -> bytes:
    lines = [f"{key}: {value.translate(_UNSAFE)}\r\n" for key, value in fields]
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


def response(action_id: str | None, status: str = "Success", message: str | None = None) -> Fields:
    """The head of a response: Response, ActionID (only if the action had one), Message."""
    fields: Fields = [("Response", status)]
    if action_id is not None:
        fields.append(("ActionID", action_id))
    if message is not None:
        fields.append(("Message", message))
    return fields


def hms(seconds: float) -> str:
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def cdr_time(epoch: float | None) -> str:
    """Cdr times: server local time without a zone (the rig ran on UTC), empty when unset."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
