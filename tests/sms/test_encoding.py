"""SMS encoding and segment counts at every boundary carriers bill on."""

from __future__ import annotations

import pytest

from cti.sms.encoding import Encoding, analyse

HAN = "中"
EMOJI = "😀"


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm_segments_at_the_boundaries(length: int, segments: int) -> None:
    assert analyse("a" * length) == Encoding("GSM-7", length, segments, length)


def test_empty_text_costs_nothing() -> None:
    assert analyse("") == Encoding("GSM-7", 0, 0, 0)


def test_whole_basic_table_is_gsm() -> None:
    basic = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    assert len(basic) == 127
    assert analyse(basic) == Encoding("GSM-7", 127, 1, 127)


@pytest.mark.parametrize("char", ["\f", "^", "{", "}", "\\", "[", "~", "]", "|", "€"])
def test_extension_characters_cost_two_septets(char: str) -> None:
    assert analyse(char) == Encoding("GSM-7", 2, 1, 1)


def test_one_euro_sign_pushes_160_characters_into_two_segments() -> None:
    assert analyse("a" * 159 + "€") == Encoding("GSM-7", 161, 2, 160)
    assert analyse("a" * 158 + "€") == Encoding("GSM-7", 160, 1, 159)


def test_extension_character_is_not_split_across_segments() -> None:
    # 306 septets would fit two segments of 153, but the € would straddle them.
    assert analyse("a" * 152 + "€" + "a" * 152) == Encoding("GSM-7", 306, 3, 305)
    assert analyse("a" * 151 + "€" + "a" * 153) == Encoding("GSM-7", 306, 2, 305)


@pytest.mark.parametrize(
    "char", ["ç", "á", "ê", "`", "’", "“", "\t", "\u00a0", "Ж", "ı", HAN, EMOJI]
)
def test_one_character_outside_the_alphabet_makes_the_message_ucs2(char: str) -> None:
    result = analyse("a" * 100 + char)
    assert result.scheme == "UCS-2"
    assert result.characters == 101


def test_unsubscribe_keyword_in_chinese_is_ucs2() -> None:
    assert analyse("退订") == Encoding("UCS-2", 2, 1, 2)


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_segments_at_the_boundaries(length: int, segments: int) -> None:
    assert analyse(HAN * length) == Encoding("UCS-2", length, segments, length)


def test_emoji_counts_two_code_units() -> None:
    assert analyse(EMOJI) == Encoding("UCS-2", 2, 1, 1)
    assert analyse(EMOJI * 35) == Encoding("UCS-2", 70, 1, 35)
    assert analyse(EMOJI * 36) == Encoding("UCS-2", 72, 2, 36)


def test_surrogate_pair_is_not_split_across_segments() -> None:
    # 134 code units would fit two segments of 67, but the emoji would straddle them.
    assert analyse(HAN * 66 + EMOJI + HAN * 66) == Encoding("UCS-2", 134, 3, 133)
    assert analyse(HAN * 65 + EMOJI + HAN * 67) == Encoding("UCS-2", 134, 2, 133)


def test_gsm_text_with_one_emoji_is_counted_in_ucs2_units() -> None:
    assert analyse("Your code is 1234 " + EMOJI) == Encoding("UCS-2", 20, 1, 19)
