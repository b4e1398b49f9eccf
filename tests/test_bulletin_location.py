"""Locating police items: point, postcodes, place names, the team's patch, the force area."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from directory.police.models import Neighbourhood
from feeds.syndication.bulletin_location import clean_place_name, locate_item


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
