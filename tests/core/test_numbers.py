"""Caller-number normalisation across countries, PBX prefixes and garbage."""

from __future__ import annotations

import pytest

from cti.core.numbers import Number, NumberKind, NumberRules, normalize, reversed_digits

US = NumberRules(region="US")
FR = NumberRules(region="FR")
DE_PBX = NumberRules(region="DE", outside_line="0")
CN = NumberRules(region="CN")
GB_TRUNK = NumberRules(region="GB", international_prefix="9", trunk_prefix="")


@pytest.mark.parametrize(
    ("raw", "rules", "e164"),
    [
        ("+1 (212) 555-0199", US, "+12125550199"),
        ("212.555.0199", US, "+12125550199"),
        ("12125550199", US, "+12125550199"),
        ("011 33 1 42 68 53 00", US, "+33142685300"),
        ("01 42 68 53 00", FR, "+33142685300"),
        ("0033142685300", FR, "+33142685300"),
        ("+33 6 12 34 56 78", FR, "+33612345678"),
        ("0 030 1234567", DE_PBX, "+49301234567"),
        ("0 0033 1 42 68 53 00", DE_PBX, "+33142685300"),
        ("13800138000", CN, "+8613800138000"),
        ("+86 138 0013 8000", US, "+8613800138000"),
        ("944 20 7946 0958", GB_TRUNK, "+442079460958"),
        ("020 7946 0958", GB_TRUNK, "+442079460958"),
        ("sip:+33142685300@trunk.example;user=phone", US, "+33142685300"),
        ("tel:+1-212-555-0199", US, "+12125550199"),
    ],
)
def test_numbers_become_e164(raw: str, rules: NumberRules, e164: str) -> None:
    number = normalize(raw, rules)
    assert number == Number(raw.strip(), NumberKind.E164, e164)
    assert number.known


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("anonymous", NumberKind.ANONYMOUS),
        ("Anonymous", NumberKind.ANONYMOUS),
        ("anonymous@anonymous.invalid", NumberKind.ANONYMOUS),
        ("Restricted", NumberKind.WITHHELD),
        ("PRIVATE", NumberKind.WITHHELD),
        ("withheld", NumberKind.WITHHELD),
        ("", NumberKind.UNKNOWN),
        (None, NumberKind.UNKNOWN),
        ("<unknown>", NumberKind.UNKNOWN),
        ("unavailable", NumberKind.UNKNOWN),
        ("1001", NumberKind.INVALID),
        ("+1 555", NumberKind.INVALID),
        ("call me maybe", NumberKind.INVALID),
        ("+33 1 42 68 53 00 ext 12", NumberKind.INVALID),
        ("١٢١٢٥٥٥٠١٩٩", NumberKind.INVALID),
        ("<script>alert(1)</script>", NumberKind.INVALID),
        ("9" * 500, NumberKind.INVALID),
        ("+", NumberKind.INVALID),
        ("\x00\r\n", NumberKind.INVALID),
    ],
)
def test_non_numbers_are_named_and_never_raise(raw: str | None, kind: NumberKind) -> None:
    number = normalize(raw, US)
    assert number.kind is kind
    assert number.e164 == ""
    assert not number.known
    assert number.last_digits(8) == ""


def test_last_digits_and_reversed_digits_serve_the_suffix_search() -> None:
    number = normalize("+33 1 42 68 53 00", FR)
    assert number.last_digits(8) == "42685300"
    assert reversed_digits(number.e164) == "00358624133"
    assert reversed_digits(number.e164).startswith(number.last_digits(8)[::-1])
