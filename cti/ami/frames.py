"""AMI framing at the byte level: split on CRLFCRLF, decode each whole frame, keep every header.

panoramisk 1.4 decodes each TCP read on its own (a UTF-8 character split across reads is lost) and
drops a trailing header with an empty value (ground truth §4.3 D4, D5). Framing here works on bytes,
decodes only complete frames, and keeps empty values and repeated keys.
"""

from __future__ import annotations

from typing import Final

AmiMessage = dict[str, str | list[str]]

FRAME_END: Final = b"\r\n\r\n"
BANNER_PREFIX: Final = b"Asterisk Call Manager/"
# A frame larger than this is not AMI; it is dropped instead of growing the buffer without bound.
MAX_FRAME: Final = 1 << 20


class FrameSplitter:
    """Turns a byte stream into complete frames; the first line may be the version banner."""

    __slots__ = ("_buffer", "banner", "_expect_banner", "oversized")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.banner: str | None = None
        self._expect_banner = True
        self.oversized = 0

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        if not self._expect_banner and FRAME_END not in bytes(buffer[-3:]) + data[:3]:
            if FRAME_END not in data:
                # Most of a large frame arriving in small reads: no need to split again.
                buffer += data
                return self._guard_size()
        buffer += data
        if self._expect_banner and not self._take_banner():
            return []
        frames = bytes(buffer).split(FRAME_END)
        buffer[:] = frames.pop()
        self._guard_size()
        return [frame for frame in frames if frame]

    def _guard_size(self) -> list[bytes]:
        if len(self._buffer) > MAX_FRAME:
            self.oversized += 1
            self._buffer.clear()
        return []

    def _take_banner(self) -> bool:
        """Strip the banner line (it has no blank line after it); False while it is incomplete."""
        buffer = self._buffer
        if len(buffer) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buffer)):
            return False
        self._expect_banner = False
        if buffer.startswith(BANNER_PREFIX):
            end = buffer.find(b"\r\n")
            if end < 0:
                self._expect_banner = True
                return False
            self.banner = buffer[:end].decode("utf-8", "replace")
            del buffer[: end + 2]
        return True

    def reset(self) -> None:
        """Forget a half-received frame (after a reconnect) and expect a new banner."""
        self._buffer.clear()
        self._expect_banner = True


def parse_frame(raw: bytes) -> AmiMessage:
    """Parse one frame's header lines; repeated keys become lists, empty values stay ''.

    Asterisk writes every header as `Key: value`, so the value is what follows ": ", leading
    blanks included. Frames with a repeated key, a stray line or a bare `Key:` take the slow path.
    """
    lines = raw.decode("utf-8", "replace").split("\r\n")
    message: AmiMessage = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            return _parse_slowly(lines)
        message[key] = value
    if len(message) < len(lines):
        return _parse_slowly(lines)
    return message


def _parse_slowly(lines: list[str]) -> AmiMessage:
    message: AmiMessage = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            # Asterisk does not escape some values (Newexten AppData): a line without a colon
            # is a fragment of the previous value, not a header.
            continue
        value = value.removeprefix(" ")
        old = message.get(key)
        if old is None:
            message[key] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            message[key] = [old, value]
    return message


def first(message: AmiMessage, key: str, default: str = "") -> str:
    """The value of a header, or the first one if it was repeated."""
    value = message.get(key)
    if value is None:
        return default
    return value if isinstance(value, str) else (value[0] if value else default)


def every(message: AmiMessage, key: str) -> list[str]:
    """All values of a header that may repeat (Output, ChanVariable)."""
    value = message.get(key)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


C_ESCAPES: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def unescape_c(value: str) -> str:
    """Undo Asterisk's ast_escape_c (CallerIDName, ConnectedLineName, VarSet Value)."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append(C_ESCAPES.get(nxt, "\\" + nxt))
        else:
            out.append(char)
    return "".join(out)
