from __future__ import annotations

import pytest

from cti.sms.keywords import Keyword, classify


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", Keyword.STOP),
        ("stop", Keyword.STOP),
        (" Stop. ", Keyword.STOP),
        ("STOPALL", Keyword.STOP),
        ("unsubscribe", Keyword.STOP),
        ("Cancel", Keyword.STOP),
        ("END", Keyword.STOP),
        ("quit!", Keyword.STOP),
        ("退订", Keyword.STOP),
        ("退订。", Keyword.STOP),
        ("td", Keyword.STOP),
        ("“TD”", Keyword.STOP),
        ("START", Keyword.START),
        ("unstop", Keyword.START),
        ("Yes", Keyword.START),
        ("HELP", Keyword.HELP),
        ("info", Keyword.HELP),
        ("please stop calling me", None),
        ("STOP IT", None),
        ("5", None),
        ("", None),
        ("我想退订", None),
    ],
)
def test_keywords_are_whole_messages_in_any_case(body: str, keyword: Keyword | None) -> None:
    assert classify(body) is keyword
