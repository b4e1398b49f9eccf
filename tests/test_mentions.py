"""Postcodes in police text: units, sectors, districts; not roads, not number plates."""

from __future__ import annotations

import pytest

from feeds.syndication.mentions import postcode_mentions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Burglary at a house in WV11 1AA on Monday", ["WV11 1AA"]),
        ("Homes in the WV11 1 and WV11 2 sectors were targeted", ["WV11 1", "WV11 2"]),
        ("Thefts reported across WV10 and WV11", ["WV10", "WV11"]),
        ("Leaflets were delivered in LE1.", ["LE1"]),
        ("Officers patrolled M14 4 after the reports", ["M14 4"]),
        ("Residents in postcode M14 are asked to check their cameras", ["M14"]),
        ("Extra patrols in the M14 area tonight", ["M14"]),
        # every district of a list that ends "areas", even after "the"
        ("footage from the LS8 and LS9 areas", ["LS8", "LS9"]),
        ("anyone in the CA12, CA13 or CA14 areas", ["CA12", "CA13", "CA14"]),
        ("patrols across the M14 and M15 postcode areas", ["M14", "M15"]),
        ("thefts in the SA19 and SA32 areas", ["SA19", "SA32"]),
        ("Compact WV111AA is read too", ["WV11 1AA"]),
        ("WV11 1AA, WV11 1AA and WV11 1AB", ["WV11 1AA", "WV11 1AB"]),
        # roads
        ("Collision on the M6 southbound between J10 and J11", []),
        ("The M6 is closed at junction 10", []),
        ("Delays on the A449 near the B4484", []),
        ("Lorry fire: M6 (northbound) closed", []),
        ("Traffic queues back to J10 of the M6", []),
        ("Crash on the B44 this morning", []),
        ("Delays on the M6 and M5 motorways", []),
        ("Lane closures on the B4100 and B4101 at the weekend", []),
        ("Van stolen from WV10 driven along the M54", ["WV10"]),
        # number plates
        ("A silver Ford Focus, registration AB12 CDE, was seen", []),
        ("The car, WV11 ABC, was found burnt out", []),
        ("Reg: LE12 XYZ", []),
        ("an Audi with a partial registration of 'WR7' failed to stop", []),
        ("a van, registration beginning LE19, was seen", []),
        # not postcodes at all
        ("A 14-year-old, about 5ft 4in, wearing a size 10 coat", []),
        ("Call 101 quoting log 1234 of 16 November", []),
        ("COVID19 rules", []),
        ("an anti-snap lock to TS007 3-star or SS312 Diamond standard", []),
        ("", []),
    ],
)
def test_postcode_mentions(text, expected):
    assert [m.code for m in postcode_mentions(text)] == expected


def test_mentions_say_their_precision_and_place():
    found = postcode_mentions("Seen in WV11 1AA, then WV11 2, then WV10")
    assert [(m.kind, m.start) for m in found] == [("unit", 8), ("sector", 23), ("district", 36)]
