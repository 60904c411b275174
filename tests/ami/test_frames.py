"""Byte-level AMI framing and header parsing (ground truth §1.2 and §4.3 D4, D5)."""

from __future__ import annotations

import pytest

from cti.ami.frames import MAX_FRAME, FrameSplitter, every, first, parse_frame, unescape_c

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
EVENT = "Event: Newchannel\r\nCallerIDName: 王先生\r\nAccountCode: \r\n\r\n".encode()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 17])
def test_frames_survive_any_split_including_inside_a_utf8_character(size: int) -> None:
    data = BANNER + EVENT * 3
    splitter = FrameSplitter()
    frames = [
        f for start in range(0, len(data), size) for f in splitter.feed(data[start : start + size])
    ]
    assert splitter.banner == "Asterisk Call Manager/11.0.0"
    assert [parse_frame(f) for f in frames] == [
        {"Event": "Newchannel", "CallerIDName": "王先生", "AccountCode": ""}
    ] * 3


def test_repeated_headers_become_lists_and_stray_lines_are_skipped() -> None:
    message = parse_frame(
        b"Response: Success\r\nOutput: line one\r\nOutput: \r\nOutput: line three\r\n"
        b"a line without a colon\r\nMessage: Command output follows"
    )
    assert every(message, "Output") == ["line one", "", "line three"]
    assert first(message, "Output") == "line one"
    assert first(message, "Message") == "Command output follows"
    assert "a line without a colon" not in str(message)
    assert every(message, "Missing") == []
    assert first(message, "Missing", "default") == "default"


def test_a_value_may_hold_colons_and_keeps_them() -> None:
    assert parse_frame(b"Timestamp: 1795389458.827162\r\nAppData: a:b: c") == {
        "Timestamp": "1795389458.827162",
        "AppData": "a:b: c",
    }


def test_an_oversized_frame_is_dropped_and_the_stream_goes_on() -> None:
    splitter = FrameSplitter()
    splitter.feed(BANNER)
    assert splitter.feed(b"X" * (MAX_FRAME + 10)) == []
    assert splitter.oversized == 1
    assert [parse_frame(f) for f in splitter.feed(b"\r\n\r\n" + EVENT)][-1]["Event"] == "Newchannel"


def test_a_stream_without_banner_is_framed_too() -> None:
    assert FrameSplitter().feed(EVENT) == [EVENT[:-4]]


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        ("O\\'Brien", "O'Brien"),
        ('\\"Acme\\"', '"Acme"'),
        ("tab\\there", "tab\there"),
        ("back\\\\slash", "back\\slash"),
        ("plain", "plain"),
        ("trailing\\", "trailing\\"),
    ],
)
def test_c_escapes_are_undone(escaped: str, plain: str) -> None:
    assert unescape_c(escaped) == plain
