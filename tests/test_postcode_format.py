"""Postcode parsing: every form, any case and spacing, and clear reasons for rejection."""

import pytest

from directory.geography.postcode_format import PostcodeInvalid, parse_postcode

VALID = [
    # (typed, kind, display, canonical)
    ("WV11 1AA", "unit", "WV11 1AA", "WV111AA"),
    ("wv111aa", "unit", "WV11 1AA", "WV111AA"),
    ("  Wv11   1aA ", "unit", "WV11 1AA", "WV111AA"),
    ("Sw1A  0aa", "unit", "SW1A 0AA", "SW1A0AA"),
    ("sw1a0aa", "unit", "SW1A 0AA", "SW1A0AA"),
    ("EC1A 1BB", "unit", "EC1A 1BB", "EC1A1BB"),
    ("W1A 0AX", "unit", "W1A 0AX", "W1A0AX"),
    ("M1 1AE", "unit", "M1 1AE", "M11AE"),
    ("B33 8TH", "unit", "B33 8TH", "B338TH"),
    ("CR2 6XH", "unit", "CR2 6XH", "CR26XH"),
    ("DN55 1PT", "unit", "DN55 1PT", "DN551PT"),
    ("le11aa", "unit", "LE1 1AA", "LE11AA"),
    ("BT1 5GS", "unit", "BT1 5GS", "BT15GS"),
    ("gir 0aa", "unit", "GIR 0AA", "GIR0AA"),
    ("GIR0AA", "unit", "GIR 0AA", "GIR0AA"),
    ("\tm14 5xx\n", "unit", "M14 5XX", "M145XX"),
    ("WV11 1", "sector", "WV11 1", "WV11 1"),
    ("wv11  1", "sector", "WV11 1", "WV11 1"),
    ("sw1a 1", "sector", "SW1A 1", "SW1A 1"),
    ("B1 1", "sector", "B1 1", "B1 1"),
    ("WV11", "district", "WV11", "WV11"),
    ("b1", "district", "B1", "B1"),
    ("EC1A", "district", "EC1A", "EC1A"),
    ("sw1a", "district", "SW1A", "SW1A"),
    ("W1A", "district", "W1A", "W1A"),
    ("M14", "district", "M14", "M14"),
    ("WV", "area", "WV", "WV"),
    ("b", "area", "B", "B"),
    ("ec", "area", "EC", "EC"),
]


@pytest.mark.parametrize(("typed", "kind", "display", "canonical"), VALID)
def test_parses_every_form(typed: str, kind: str, display: str, canonical: str) -> None:
    parsed = parse_postcode(typed)
    assert (parsed.kind, parsed.display, parsed.canonical) == (kind, display, canonical)


def test_unit_parts() -> None:
    parsed = parse_postcode("wv111aa")
    assert (parsed.area, parsed.outcode, parsed.sector, parsed.unit, parsed.incode) == (
        "WV", "WV11", "WV11 1", "WV11 1AA", "1AA"
    )  # fmt: skip
    sector = parse_postcode("WV11 1")
    assert (sector.area, sector.outcode, sector.unit, sector.incode) == ("WV", "WV11", None, None)


INVALID = [
    # (typed, fragment of the reason)
    ("WV111", "'WV111' is not a UK postcode"),
    ("", "a postcode is required"),
    ("   ", "a postcode is required"),
    ("XX1 1AA", "not a UK postcode"),  # X is never a first letter
    ("QA1 1AA", "not a UK postcode"),
    ("ZZ1 1AA", "not a UK postcode"),
    ("AA1 1AA", "there is no area 'AA'"),
    ("ZZ99 9ZZ", "there is no postcode area 'ZZ'"),
    ("QQ1 1AA", "there is no postcode area 'QQ'"),
    ("AA1", "there is no area 'AA'"),
    ("XY", "not a UK postcode"),
    ("ZX", "not a UK postcode area"),
    ("WV11 1AC", "not a UK postcode"),  # C never in the unit letters
    ("WV11 1IA", "not a UK postcode"),
    ("WV11 AAA", "not a UK postcode"),
    ("WV11 11", "not a UK postcode"),
    ("WV 11 1AA x", "not a UK postcode"),
    ("12345", "not a UK postcode"),
    ("WV11-1AA", "not a UK postcode"),
    ("WV11 1AA; DROP TABLE", "too long"),
    ("ÉV11 1AA", "not a UK postcode"),
    ("WV1111AA", "not a UK postcode"),
    ("Q", "not a UK postcode"),
]


@pytest.mark.parametrize(("typed", "reason"), INVALID)
def test_rejects_with_a_reason(typed: str, reason: str) -> None:
    with pytest.raises(PostcodeInvalid) as raised:
        parse_postcode(typed)
    assert reason in str(raised.value)


def test_whole_message_for_the_classic_mistake() -> None:
    with pytest.raises(PostcodeInvalid, match=r"^'WV111' is not a UK postcode: expected a full"):
        parse_postcode("WV111")


def test_display_units_are_recognised_without_full_parsing() -> None:
    from directory.geography.postcode_format import DISPLAY_UNIT_RE

    assert DISPLAY_UNIT_RE.match("WV11 1AA")
    assert DISPLAY_UNIT_RE.match("SW1A 0AA")
    assert not DISPLAY_UNIT_RE.match("WV111AA")
    assert not DISPLAY_UNIT_RE.match("wv11 1aa")
