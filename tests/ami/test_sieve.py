"""EventSieve: events nobody reads are dropped by name before parsing; nothing else is."""

from __future__ import annotations

import pytest

from cti.ami.sieve import EventSieve
from tests.ami.fake_ami import encode

SIEVE = EventSieve({"Newchannel", "VarSet", "Hangup"}, {"QUEUESTATUS"})


def frame(*headers: tuple[str, str]) -> bytes:
    return encode(headers).removesuffix(b"\r\n\r\n")


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (frame(("Event", "Newchannel"), ("Channel", "PJSIP/1001-00000001")), True),
        (frame(("Event", "Newexten"), ("Channel", "PJSIP/1001-00000001")), False),
        # A name that only starts like a wanted one.
        (frame(("Event", "NewchannelX")), False),
        (frame(("Event", "Hangup")), True),
        (frame(("Event", "VarSet"), ("Variable", "QUEUESTATUS"), ("Value", "TIMEOUT")), True),
        (frame(("Event", "VarSet"), ("Variable", "QUEUESTATUS_X"), ("Value", "1")), False),
        (frame(("Event", "VarSet"), ("Variable", "BRIDGEPEER"), ("Value", "QUEUESTATUS")), False),
        (frame(("Event", "VarSet"), ("Value", "no variable header")), False),
        # Answers to actions always pass: list items, an async Originate's result.
        (frame(("Event", "QueueMember"), ("ActionID", "cti-1"), ("Queue", "support")), True),
        (frame(("Event", "OriginateResponse"), ("ActionID", "cti-dial-1")), True),
        (frame(("Response", "Success"), ("ActionID", "cti-2")), True),
        # Not shaped like an event: left to the parser to judge.
        (frame(("Privilege", "call,all"), ("Event", "Newexten")), True),
        (b"Event:Newexten", True),
        (b"Event: Newexten", False),
        (b"", True),
    ],
)
def test_keeps_wanted_events_and_answers_only(raw: bytes, kept: bool) -> None:
    assert SIEVE.keeps(raw) is kept


def test_counts_what_it_drops_and_keeps_every_varset_when_no_variables_are_named() -> None:
    sieve = EventSieve({"VarSet"})
    assert sieve.keeps(frame(("Event", "VarSet"), ("Variable", "ANYTHING")))
    assert not sieve.keeps(frame(("Event", "Newexten")))
    assert not sieve.keeps(frame(("Event", "DeviceStateChange")))
    assert sieve.skipped == 2
