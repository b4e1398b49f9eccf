"""Where a police item is about: the target area of a bulletin, and how it was found.

In order, the first that gives an answer wins (``Located.by`` records which):

1. ``point``: the item's own GeoRSS point, as a circle of ``POINT_RADIUS_M``;
2. ``postcode``: postcode units, sectors or districts named in the text
   (``feeds.syndication.mentions``: not roads, not number plates) that the postcode data knows;
3. ``place``: a place named after "in", "at", "near", "from"... that is one of the force's
   neighbourhood names, or a ward or district name of the postcode data lying in the force's
   area ("in Wednesfield" is both Wednesfield wards);
4. ``neighbourhood``: the boundary of the team that published it;
5. ``force``: the union of the force's teams' boundaries;
6. ``unlocated``: none of those (a force without boundaries): kept, matched to no one.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.geography.area_builders import footprint_area, postcode_area
from directory.geography.areas import Area, AreaInvalid, circle_area
from directory.geography.geo import BoundingBox
from directory.geography.models import AreaName, Postcode
from directory.geography.postcodes import postcode_positions
from directory.police.models import Neighbourhood
from directory.police.patches import force_area, neighbourhood_area
from directory.storage import database_key
from feeds.syndication.mentions import postcode_mentions

POINT_RADIUS_M = 500.0
WARD_KINDS = ("DIW", "LBW", "MTW", "UTE", "UTW")
DISTRICT_KINDS = ("DIS", "LBO", "MTD", "UTA")
MAX_PLACE_WORDS = 4
# A place is a run of capitalised words after one of these ("burglary in Wednesfield").
_PLACE = re.compile(
    r"\b(?:in|at|near|from|around|across|outside|throughout|of)\s+"
    r"(?P<place>(?:[A-Z][\w'’-]*)(?:\s+(?:[A-Z][\w'’-]*|upon|on|under|le|en|in|by|the)){0,5})"
)
_NAME_NOISE = re.compile(r"\s*\((?:B|DET)\)\s*|\s+(?:Ward|District|County|ED)$|^City of\s+")


@dataclass(frozen=True)
class Located:
    area: Area | None
    by: str  # point, postcode, place, neighbourhood, force, unlocated (or given)
    description: str | None  # what located it, in words: "WV11 1AA", "Wednesfield (ward)"
    neighbourhood_id: int | None = None


def locate_item(
    session: Session,
    text: str,
    point: tuple[float, float] | None,
    force_id: str | None,
    neighbourhood_id: int | None,
) -> Located:
    """The target area of a police item with this ``text`` (title and summary, plain)."""
    if point is not None:
        try:
            area = circle_area(point[0], point[1], POINT_RADIUS_M)
        except AreaInvalid:
            area = None  # a point outside the UK: the feed is wrong; locate by the words
        if area is not None:
            return Located(area, "point", f"{point[0]:.5f},{point[1]:.5f}", neighbourhood_id)
    by_postcode = _by_postcodes(session, text)
    if by_postcode is not None:
        return Located(by_postcode[0], "postcode", by_postcode[1], neighbourhood_id)
    if force_id is not None:
        by_place = _by_place(session, text, force_id)
        if by_place is not None:
            return by_place
    if neighbourhood_id is not None:
        team = session.get(Neighbourhood, neighbourhood_id)
        area = neighbourhood_area(session, team) if team is not None else None
        if team is not None and area is not None:
            return Located(area, "neighbourhood", f"{team.name} (the team's patch)", team.id)
    if force_id is not None:
        area = force_area(session, force_id)
        if area is not None:
            return Located(area, "force", f"the {force_id} force area", neighbourhood_id)
    return Located(None, "unlocated", None, neighbourhood_id)


def _by_postcodes(session: Session, text: str) -> tuple[Area, str] | None:
    codes = [m.code for m in postcode_mentions(text)][:20]
    if not codes:
        return None
    positions = postcode_positions(session, codes)
    known = [code for code in codes if code in positions]
    if not known:
        return None
    return postcode_area(known, positions), ", ".join(known)


def place_phrases(text: str) -> list[str]:
    """Candidate place names: capitalised runs after a preposition, longest first, then each
    shorter leading part ("Wednesfield Village Centre", "Wednesfield Village", ...)."""
    found: list[str] = []
    for match in _PLACE.finditer(text):
        words = match.group("place").split()
        while words and words[-1][0].islower():
            words.pop()
        for size in range(min(len(words), MAX_PLACE_WORDS), 0, -1):
            phrase = " ".join(words[:size])
            if phrase not in found:
                found.append(phrase)
    return found


def clean_place_name(name: str) -> str:
    """An official name as people write it: "City of Wolverhampton District (B)" ->
    "Wolverhampton", "Wednesfield North Ward" -> "Wednesfield North"."""
    previous = None
    while previous != name:
        previous = name
        name = _NAME_NOISE.sub("", name).strip()
    return name


class _PlaceNames:
    """Ward and district names by lower-case name (and by each name's first word, so
    "Wednesfield" finds "Wednesfield North" and "Wednesfield South"), per database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_db: dict[tuple[str, int], dict[str, list[tuple[str, str, str]]]] = {}

    def lookup(self, session: Session) -> dict[str, list[tuple[str, str, str]]]:
        count = session.scalar(select(func.count()).select_from(AreaName)) or 0
        key = (database_key(session), count)
        with self._lock:
            if key in self._by_db:
                return self._by_db[key]
        index: dict[str, list[tuple[str, str, str]]] = {}
        rows = session.execute(
            select(AreaName.code, AreaName.name, AreaName.kind).where(
                AreaName.kind.in_(WARD_KINDS + DISTRICT_KINDS)
            )
        )
        for code, name, kind in rows:
            clean = clean_place_name(name)
            level = "ward" if kind in WARD_KINDS else "district"
            entry = (code, clean, level)
            names = {clean.lower()}
            # "Brewood, Coven & Blymhill" names three places; "Wednesfield North" is in
            # "Wednesfield".
            names.update(p.strip().lower() for p in re.split(r",|&| and ", clean) if p.strip())
            first = clean.split()[0].lower() if " " in clean else None
            if first and len(first) > 3:
                names.add(first)
            for each in names:
                index.setdefault(each, []).append(entry)
        with self._lock:
            self._by_db = {key: index}
        return index


PLACE_NAMES = _PlaceNames()


def _force_box(session: Session, force_id: str) -> BoundingBox | None:
    row = session.execute(
        select(
            func.min(Neighbourhood.min_lat), func.min(Neighbourhood.min_lng),
            func.max(Neighbourhood.max_lat), func.max(Neighbourhood.max_lng),
        ).where(Neighbourhood.force_id == force_id, Neighbourhood.active.is_(True))
    ).first()  # fmt: skip
    if row is None or row[0] is None:
        return None
    return BoundingBox(*row)


def _by_place(session: Session, text: str, force_id: str) -> Located | None:
    phrases = place_phrases(text)
    if not phrases:
        return None
    teams = session.execute(
        select(Neighbourhood.id, Neighbourhood.name).where(
            Neighbourhood.force_id == force_id,
            Neighbourhood.active.is_(True),
            Neighbourhood.min_lat.is_not(None),
        )
    ).all()
    team_names = {name.lower(): team_id for team_id, name in teams}
    box = _force_box(session, force_id)
    names = PLACE_NAMES.lookup(session)
    for phrase in phrases:
        lowered = phrase.lower()
        if lowered in team_names:
            team = session.get(Neighbourhood, team_names[lowered])
            area = neighbourhood_area(session, team) if team is not None else None
            if area is not None:
                return Located(area, "place", f"{phrase} (neighbourhood)", team_names[lowered])
        if box is None:
            continue
        found = _places_in_box(session, names.get(lowered, []), box)
        if found is not None:
            area, described = found
            return Located(area, "place", f"{phrase} ({described})")
    return None


def _places_in_box(
    session: Session, entries: list[tuple[str, str, str]], box: BoundingBox
) -> tuple[Area, str] | None:
    """The footprint of the wards (else districts) among ``entries`` that lie in ``box``."""
    for level in ("ward", "district"):
        column = Postcode.ward_code if level == "ward" else Postcode.district_code
        groups = []
        named = []
        for code, clean, entry_level in entries:
            if entry_level != level:
                continue
            points = session.execute(
                select(Postcode.latitude, Postcode.longitude).where(
                    column == code,
                    Postcode.latitude.is_not(None),
                    Postcode.terminated_on.is_(None),
                )
            ).all()
            inside = [(lat, lng) for lat, lng in points if box.contains(lat, lng)]
            if inside:
                groups.append(inside)
                named.append(clean)
        if groups:
            return footprint_area(groups), f"{level}: {', '.join(sorted(set(named)))}"
    return None
