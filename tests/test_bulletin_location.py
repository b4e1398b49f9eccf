"""Locating police items: point, postcodes, place names, the team's patch, the force area."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.geography.models import Postcode
from directory.police.models import Neighbourhood
from feeds.syndication.bulletin_location import (
    Known,
    _one_of,
    _ward_aliases,
    _with_places,
    clean_place_name,
    locate_item,
)
from feeds.syndication.place_mentions import Candidate


@pytest.fixture
def session(demo_directory):  # type: ignore[no-untyped-def]
    with demo_directory.extensions["hyperlocal_db"].sessions() as session:
        yield session


def team_id(session, code: str) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(Neighbourhood.id).where(Neighbourhood.code == code))


def test_a_georss_point_wins(session) -> None:  # type: ignore[no-untyped-def]
    located = locate_item(session, "Appeal after burglary in WV11 1AA", (52.6, -2.08),
                          "west-midlands", None)  # fmt: skip
    assert located.by == "point" and located.area.kind == "circle"
    assert located.area.contains(52.6, -2.08)


def test_postcodes_in_the_text_but_not_roads_or_number_plates(session) -> None:  # type: ignore[no-untyped-def]
    located = locate_item(session, "Collision on the M6 southbound; car registration WV11 ABC "
                          "seen near WV11 1AB", None, "west-midlands", None)  # fmt: skip
    assert (located.by, located.description) == ("postcode", "WV11 1AB")
    sector = locate_item(session, "Burglaries across the WV11 2 area", None, None, None)
    assert (sector.by, sector.description) == ("postcode", "WV11 2")
    unknown = locate_item(session, "Seen in ZZ9 9ZZ", None, None, None)
    assert unknown.by == "unlocated"  # not in the postcode data, and nothing else to go on


def test_place_names_from_the_gazetteer_and_wards_in_the_force_area(session) -> None:  # type: ignore[no-untyped-def]
    located = locate_item(session, "Appeal after a robbery in Wednesfield", None,
                          "west-midlands", None)  # fmt: skip
    assert (located.by, located.description) == ("place", "Wednesfield (place)")
    assert located.area.contains(52.5998, -2.0831)
    ward = locate_item(session, "Cars damaged overnight in Wednesfield North", None,
                       "west-midlands", None)  # fmt: skip
    assert (ward.by, ward.description) == ("place", "Wednesfield North (ward)")
    # Fallowfield is in Manchester: not a place of West Midlands Police.
    far = locate_item(session, "Appeal after a robbery in Fallowfield", None,
                      "west-midlands", None)  # fmt: skip
    assert far.by == "force"


@pytest.mark.parametrize(
    ("text", "described"),
    [
        # Not only after a preposition: lists, adjectives, after a street, bilingual names.
        ("Thefts from vans in Wednesfield, Bilston and Willenhall", "Wednesfield (place); "
         "Bilston (place); Willenhall (place)"),
        ("A Wolverhampton man has been charged after the assault", "Wolverhampton (place)"),
        ("A man was assaulted on Lichfield Road, Wednesfield, on Friday", "Wednesfield (place)"),
        # A person is not a place; nor is a street.
        ("Have you seen Ashley, 15, who was last seen in Bilston?", "Bilston (place)"),
    ],
)  # fmt: skip
def test_places_named_anywhere_as_a_local_reads_them(session, text, described) -> None:  # type: ignore[no-untyped-def]
    located = locate_item(session, text, None, "west-midlands", None)
    assert (located.by, located.description) == ("place", described)


def test_a_town_of_a_neighbouring_force_is_not_taken(session) -> None:  # type: ignore[no-untyped-def]
    """Cannock is Staffordshire's: a West Midlands item that names only it is force-wide,
    and one that names a West Midlands town too is located there."""
    only = locate_item(session, "Appeal after a man from Cannock was assaulted", None,
                       "west-midlands", None)  # fmt: skip
    assert only.by == "force"
    both = locate_item(session, "A Cannock man was assaulted in Bilston", None,
                       "west-midlands", None)  # fmt: skip
    assert (both.by, both.description) == ("place", "Bilston (place)")


def test_the_teams_patch_then_the_force(session) -> None:  # type: ignore[no-untyped-def]
    team = team_id(session, "WV11demo")
    by_team = locate_item(session, "Officers are appealing for information", None,
                          "west-midlands", team)  # fmt: skip
    assert by_team.by == "neighbourhood" and by_team.neighbourhood_id == team
    by_force = locate_item(session, "Officers are appealing for information", None,
                           "west-midlands", None)  # fmt: skip
    assert by_force.by == "force"
    assert by_force.area.geometry.covers(by_team.area.geometry.buffer(-0.001))


def test_official_names_as_people_write_them() -> None:
    assert clean_place_name("City of Wolverhampton District (B)") == "Wolverhampton"
    assert clean_place_name("Wednesfield North Ward") == "Wednesfield North"


def test_a_force_without_teams_is_located_by_its_districts(session) -> None:  # type: ignore[no-untyped-def]
    """Greater Manchester's teams are not in the demo; its districts' postcodes are."""
    located = locate_item(session, "Officers are appealing for information", None,
                          "greater-manchester", None)  # fmt: skip
    assert located.by == "force"
    manchester = session.execute(
        select(Postcode.latitude, Postcode.longitude).where(Postcode.postcode.like("M%"),
                                                            Postcode.latitude.is_not(None))
    ).first()  # fmt: skip
    assert located.area.contains(*manchester)
    assert not located.area.contains(52.5998, -2.0831)  # Wednesfield is West Midlands'


def test_postcodes_keep_the_places_and_take_in_those_away_from_them(session) -> None:  # type: ignore[no-untyped-def]
    """The places a postcode-located item names are kept; a place the postcodes lie in adds
    nothing to the area, one away from them ("may have travelled to ...") is part of it."""
    near = locate_item(session, "Appeal after an assault in Wednesfield (WV11 1AB)", None,
                       "west-midlands", None)  # fmt: skip
    assert (near.by, near.postcodes, near.places) == ("postcode", ("WV11 1AB",), ("Wednesfield",))
    assert near.area.kind == "postcodes"
    postcodes = (near.area, ["WV11 1AB"])
    text = "last seen in WV11 1AB; may have travelled to Dudley"
    dudley = Candidate("Dudley", text.index("Dudley"), len(text), True)
    away = _with_places(
        session,
        postcodes,
        [(dudley, Known("place", "Dudley", "2650928", 52.5123, -2.0811, 79_379))],
        None,
    )
    assert (away.by, away.places, away.description) == (
        "postcode",
        ("Dudley",),
        "WV11 1AB; Dudley (place)",
    )
    assert away.area.contains(52.5123, -2.0811) and away.area.contains(*near.area.centroid)


def test_a_list_of_places_is_read_as_places(session) -> None:  # type: ignore[no-untyped-def]
    """Uncued names in a list of the force's places are places; one alone is not trusted
    when the text has cued ones ("Willenhall" here could be a surname)."""
    located = locate_item(session, "A Bilston man who associates with Wednesfield, Willenhall "
                          "and Wolverhampton gangs", None, "west-midlands", None)  # fmt: skip
    assert located.places == ("Bilston", "Wednesfield", "Willenhall", "Wolverhampton")
    alone = locate_item(session, "A Bilston man was arrested; Willenhall said nothing", None,
                        "west-midlands", None)  # fmt: skip
    assert alone.places == ("Bilston",)


def test_a_ward_is_known_by_each_place_it_is_named_after(session) -> None:  # type: ignore[no-untyped-def]
    """ "Bushbury South and Low Hill" ward answers to "Low Hill"; a part is never a name."""
    located = locate_item(session, "Cars were damaged in Low Hill overnight", None,
                          "west-midlands", None)  # fmt: skip
    assert (located.by, located.description) == ("place", "Low Hill (ward)")
    burn = locate_item(session, "A collision near Wednesfield Burn", None, "west-midlands",
                       None)  # fmt: skip
    assert burn.by == "force"  # not "Wednesfield": the rest of the name is not a describing word


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # A place over the ward named after it, a district over a ward.
        ([Known("ward", "Egremont", "E05000001"), Known("place", "Egremont", "1", 54.48, -3.53)],
         "1"),
        ([Known("ward", "Dudley", "E05000002"), Known("district", "Dudley", "E08000027")],
         "E08000027"),
        # A name of its own over a short form: Barrow the village, not Barrow-in-Furness.
        ([Known("place", "Barrow-in-Furness", "2", 54.11, -3.23, 56_000, short=True),
          Known("place", "Barrow", "3", 53.99, -2.39, 300)], "3"),
        # Two namesakes: the town far bigger; the hamlet of OS Open Names by its kind.
        ([Known("place", "Newtown", "4", 52.51, -3.31, kind="Town"),
          Known("place", "Newtown", "5", 52.20, -3.10, kind="Hamlet")], "4"),
        ([Known("place", "Newtown", "6", 52.5, -3.3, 900), Known("place", "Newtown", "7", 52.1,
                                                                 -3.1, 700)], None),
    ],
)  # fmt: skip
def test_one_place_of_several_namesakes_or_none(options, expected) -> None:  # type: ignore[no-untyped-def]
    picked = _one_of(options, None)
    assert (picked.ident if picked else None) == expected


def test_a_family_of_wards_is_one_place(session) -> None:  # type: ignore[no-untyped-def]
    """Bushbury is Bushbury North and Bushbury South & Low Hill: both wards' postcodes."""
    located = locate_item(session, "Sheds broken into in Bushbury overnight", None,
                          "west-midlands", None)  # fmt: skip
    assert (located.by, located.description) == ("place", "Bushbury (ward)")
    wards = session.execute(
        select(Postcode.ward_code, Postcode.latitude, Postcode.longitude)
        .where(Postcode.ward_code.in_(("E05014841", "E05014842")), Postcode.latitude.is_not(None))
    ).all()  # fmt: skip
    assert {w.ward_code for w in wards} == {"E05014841", "E05014842"}
    assert all(located.area.contains(w.latitude, w.longitude) for w in wards)


def test_the_forces_own_name_is_the_force_area(session) -> None:  # type: ignore[no-untyped-def]
    across = locate_item(session, "Drivers across the West Midlands are urged to slow down",
                         None, "west-midlands", None)  # fmt: skip
    assert (across.by, across.places) == ("force", ("West Midlands",))
    both = locate_item(session, "Across the West Midlands, and in Wednesfield especially",
                       None, "west-midlands", None)  # fmt: skip
    assert (both.by, both.description) == ("place", "Wednesfield (place)")
    assert both.places == ("West Midlands", "Wednesfield")


@pytest.mark.parametrize(
    ("ward", "aliases"),
    [
        ("Reddish North", [("Reddish", False)]),
        ("Sutton Four Oaks", [("Four Oaks", False)]),
        ("Weston-super-Mare Mid Worle", [("Worle", False)]),
        ("Tettenhall Regis", [("Tettenhall", True)]),  # only beside a sibling ward
        ("Wednesfield North", [("Wednesfield", False)]),  # never "North"
        ("Gipton and Harehills", []),  # its parts are ward_parts' to give
        ("Fallowfield", []),
    ],
)
def test_what_else_a_ward_answers_to(ward, aliases) -> None:  # type: ignore[no-untyped-def]
    known = frozenset({"sutton", "weston super mare", "wednesfield"})
    assert _ward_aliases(ward, known) == aliases
