"""Where a police item may name a place: candidates found anywhere, cued or not (pure)."""

from __future__ import annotations

import pytest

from feeds.syndication.place_mentions import list_gap, place_candidates


def cued(text: str) -> list[str]:
    return [c.phrase for c in place_candidates(text) if c.cued]


def every(text: str) -> list[str]:
    return [c.phrase for c in place_candidates(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Burglary in Wednesfield on Tuesday", ["Wednesfield on Tuesday", "Wednesfield"]),
        ("Thefts in Hinckley, Coalville and Loughborough", ["Hinckley", "Coalville",
                                                            "Loughborough"]),
        ("A Wolverhampton man has been charged", ["Wolverhampton"]),
        ("Assault on Church Street, Bilston, last night", ["Bilston"]),
        ("Police in Abertawe - Swansea are appealing", ["Abertawe", "Swansea"]),
        ("A woman was hurt in St. Mellons", ["St. Mellons"]),
        ("He has links to Newcastle upon Tyne", ["Newcastle upon Tyne", "Newcastle", "Tyne"]),
        ("Oldham officers are looking for a man", ["Oldham"]),
        ("He may have travelled to Egremont, Cleator Moor or Maryport",
         ["Egremont", "Cleator Moor", "Maryport"]),
        ("Thefts in Keswick, Cockermouth and Workington\nPolice are investigating",
         ["Keswick", "Cockermouth", "Workington"]),
    ],
)  # fmt: skip
def test_cued_candidates(text, expected):
    assert cued(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "PC Sam Ashley spoke to residents",  # a title before a name: a person
        "Have you seen Shirley, 67?",  # a name before an age
        "Officers attended Church Street",  # a street, and no part of it
        "Police are appealing for witnesses",  # sentence openers
    ],
)
def test_people_streets_and_openers_are_not_candidates(text):
    assert not {"Sam Ashley", "Ashley", "Shirley", "Church", "Church Street", "Police",
                "Officers"} & set(every(text))  # fmt: skip


def test_uncued_names_are_offered_but_marked():
    found = {c.phrase: c.cued for c in place_candidates("Stoke-on-Trent residents and Kayden")}
    assert found["Stoke-on-Trent"] is True and found["Kayden"] is False


@pytest.mark.parametrize(
    ("text", "offered", "not_offered"),
    [
        ("A collision on the A19 near Seaton Burn", ["Seaton Burn"], ["Seaton", "Burn"]),
        ("A silver Vauxhall Astra was seen", ["Vauxhall Astra"], ["Vauxhall", "Astra"]),
        ("A quad bike was ridden in Hirst Park", ["Hirst Park", "Hirst"], ["Park"]),
        ("Officers in Leeds City Centre", ["Leeds City Centre", "Leeds"], ["City"]),
        (
            "Appeal For Witnesses After Assault In Harehills",
            ["Harehills"],
            ["For Witnesses", "Assault In", "In Harehills"],
        ),
    ],
)
def test_a_part_of_a_name_is_offered_only_beside_describing_or_break_words(
    text, offered, not_offered
):
    found = every(text)
    assert set(offered) <= set(found) and not set(not_offered) & set(found), found


@pytest.mark.parametrize(
    ("gap", "one_list"),
    [(", ", True), (" and ", True), (", or ", True), (" town centre and ", True),
     (", Cardiff Bay and ", True), (" man was arrested; ", False), (" before ", False)],
)  # fmt: skip
def test_what_makes_two_names_one_list(gap, one_list):
    assert list_gap(gap) is one_list
