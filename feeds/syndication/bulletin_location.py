"""Where a police item is about: the target area of a bulletin, and how it was found.

In order, the first that gives an answer wins (``Located.by`` records which):

1. ``point``: the item's own GeoRSS point, as a circle of ``POINT_RADIUS_M``;
2. ``postcode``: postcode units, sectors or districts named in the text
   (``feeds.syndication.mentions``: not roads, not number plates) that the postcode data knows;
3. ``place``: the places the text names (``feeds.syndication.place_mentions``: anywhere, not only
   after "in") that are the force's neighbourhoods, or gazetteer places, wards or districts
   lying in the force's area (its districts, from the shipped lookup): all of them, each as far
   as it reaches;
4. ``neighbourhood``: the boundary of the team that published it;
5. ``force``: the union of the force's teams' boundaries, or before any team is imported the
   footprint of the force's districts (``directory.geography.force_at.force_footprint``);
6. ``unlocated``: none of those (a force the lookup does not know): kept, matched to no one.

Whatever located it, ``Located.places`` names the places in the force's area the text names,
so a bulletin says where it is in words people use even when postcodes drew its area; named
places away from the postcodes are part of the area too ("last seen in CA28 ... may have
travelled to Maryport").
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.geography.area_builders import (
    footprint_area,
    postcode_area,
    union_area,
    widen_area,
)
from directory.geography.areas import Area, AreaInvalid, circle_area
from directory.geography.force_at import force_footprint
from directory.geography.geo import distance_m
from directory.geography.models import AreaName, Place, Postcode
from directory.geography.places import (
    is_generic_name,
    names_of,
    place_key,
    short_name,
    typical_population,
    ward_parts,
)
from directory.geography.police_force_areas import districts_of_force, force_area_name
from directory.geography.postcodes import nearest_postcodes, postcode_positions
from directory.police.models import Neighbourhood
from directory.police.patches import force_area, neighbourhood_area
from directory.storage import database_key
from feeds.syndication.mentions import postcode_mentions
from feeds.syndication.place_mentions import Candidate, list_gap, place_candidates

POINT_RADIUS_M = 500.0
WARD_KINDS = ("DIW", "LBW", "MTW", "UTE", "UTW")
DISTRICT_KINDS = ("DIS", "LBO", "MTD", "UTA")
PLACE_POSTCODE_RADIUS_M = 3_000  # a place's district is that of its nearest postcode
PLACE_RADIUS_MIN_M = 1_000.0
PLACE_RADIUS_MAX_M = 8_000.0
AGREE_M = 2_000.0  # a place agrees with postcodes whose area comes this close to its own
_NAME_NOISE = re.compile(
    r"\s*\((?:B|DET)\)\s*|\s+(?:Ward|District|County|ED|London Boro)$|^(?:City of|the)\s+"
)
# A ward named for a part of a place: "Reddish North" and "Reddish South" are Reddish.
_QUALIFIER = re.compile(
    r"^(?P<stem>.+?)\s+(?:North|South|East|West|Central|Upper|Lower|Mid|Rural)$"
)
_LEADING_QUALIFIER = re.compile(r"^(?:North|South|East|West|Mid|Central)\s+(?P<rest>.+)$")


@dataclass(frozen=True)
class Located:
    area: Area | None
    by: str  # point, postcode, place, neighbourhood, force, unlocated (or given)
    description: str | None  # what located it, in words: "WV11 1AA", "Wednesfield (ward)"
    neighbourhood_id: int | None = None
    places: tuple[str, ...] = ()  # the places of the force's area the text names
    postcodes: tuple[str, ...] = ()  # the postcodes it names that the postcode data knows


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
    picks: list[tuple[Candidate, Known | int]] = []
    if force_id is not None:
        clue = by_postcode[0].centroid if by_postcode else _team_centre(session, neighbourhood_id)
        picks = _place_picks(session, text, force_id, clue)
    if by_postcode is not None:
        return _with_places(session, by_postcode, picks, neighbourhood_id)
    by_place = _place_area(session, picks, neighbourhood_id)
    if by_place is not None:
        return by_place
    if neighbourhood_id is not None:
        team = session.get(Neighbourhood, neighbourhood_id)
        area = neighbourhood_area(session, team) if team is not None else None
        if team is not None and area is not None:
            return Located(area, "neighbourhood", f"{team.name} (the team's patch)", team.id)
    if force_id is not None:
        area = force_area(session, force_id) or force_footprint(session, force_id)
        if area is not None:
            return Located(area, "force", f"the {force_id} force area", neighbourhood_id)
    return Located(None, "unlocated", None, neighbourhood_id)


def _by_postcodes(session: Session, text: str) -> tuple[Area, list[str]] | None:
    codes = [m.code for m in postcode_mentions(text)][:20]
    if not codes:
        return None
    positions = postcode_positions(session, codes)
    known = [code for code in codes if code in positions]
    if not known:
        return None
    return postcode_area(known, positions), known


def clean_place_name(name: str) -> str:
    """An official name as people write it: "City of Wolverhampton District (B)" ->
    "Wolverhampton", "Wednesfield North Ward" -> "Wednesfield North"."""
    previous = None
    while previous != name:
        previous = name
        name = _NAME_NOISE.sub("", name).strip()
    return name


@dataclass(frozen=True)
class Known:
    """A name the place index knows: a gazetteer place, a ward or a district."""

    level: str  # "place", "ward", "district"
    name: str
    ident: str  # GeoNames/OS id of a place, the GSS code of a ward or district
    latitude: float | None = None
    longitude: float | None = None
    population: int | None = None
    kind: str | None = None  # a place's OS Open Names LOCAL_TYPE ("Town", "Hamlet"...)
    radius_m: float | None = None  # a place's extent, when the gazetteer gives it
    short: bool = False  # known by the short form of its name ("Barrow" for Barrow-in-Furness)
    family: bool = False  # a ward known by its first words, if another ward of its district is

    @property
    def codes(self) -> list[str]:
        """A ward's codes: more than one for a family of wards ("Reddish North+Reddish South")."""
        return self.ident.split("+")

    @property
    def size(self) -> int:
        return typical_population(self.population, self.kind)


class _PlaceIndex:
    """Every name the place index knows, by ``place_key``: the gazetteer's places and the
    postcode data's wards and districts (a bilingual name under each of its names, a qualified
    one under its short form too, a ward under each place it is named after), per database,
    with the district each one lies in found once and remembered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_db: dict[tuple[str, int, int, int], dict[str, list[Known]]] = {}
        self._districts: dict[tuple[str, str, str], str | None] = {}

    def lookup(self, session: Session) -> dict[str, list[Known]]:
        places, newest = session.execute(select(func.count(), func.max(Place.id))).one()
        names = session.scalar(select(func.count()).select_from(AreaName)) or 0
        key = (database_key(session), places or 0, newest or 0, names)
        with self._lock:
            if key in self._by_db:
                return self._by_db[key]
        index: dict[str, list[Known]] = {}

        def add(known: Known) -> None:
            index.setdefault(place_key(known.name), []).append(known)
            short = short_name(known.name)
            if short:
                index.setdefault(place_key(short), []).append(replace(known, short=True))

        for row in session.execute(select(Place.name, Place.source_id, Place.latitude,
                                          Place.longitude, Place.population, Place.kind,
                                          Place.radius_m)):  # fmt: skip
            add(Known("place", row.name, row.source_id, row.latitude, row.longitude,
                      row.population, None if row.kind == "place" else row.kind,
                      row.radius_m))  # fmt: skip
        rows = session.execute(select(AreaName.code, AreaName.name, AreaName.kind).where(
            AreaName.kind.in_(WARD_KINDS + DISTRICT_KINDS)))  # fmt: skip
        wards = []
        for code, name, kind in rows:
            level = "ward" if kind in WARD_KINDS else "district"
            clean = clean_place_name(name)
            for each in {clean, *names_of(clean)}:
                add(Known(level, each, code))
            for part in ward_parts(clean):  # "Harehills" of Gipton and Harehills
                index.setdefault(place_key(part), []).append(Known(level, part, code, short=True))
            if level == "ward":
                wards.append((code, clean))
        names_known = frozenset(index)  # before any alias: the order of wards does not matter
        for code, clean in wards:
            for part in ward_parts(clean):  # "Bushbury South" of Bushbury South & Low Hill
                stem = _QUALIFIER.match(part)
                if stem and not is_generic_name(stem.group("stem")):
                    index.setdefault(place_key(stem.group("stem")), []).append(
                        Known("ward", stem.group("stem"), code, short=True)
                    )
            for alias, family in _ward_aliases(clean, names_known):
                index.setdefault(place_key(alias), []).append(
                    Known("ward", alias, code, short=True, family=family)
                )
        with self._lock:
            self._by_db = {key: index}
        return index

    def district_of(self, session: Session, known: Known) -> str | None:
        """The district a known name lies in (a place's nearest postcode's, a ward's)."""
        if known.level == "district":
            return known.ident
        cache_key = (database_key(session), known.level, known.ident)
        if cache_key in self._districts:
            return self._districts[cache_key]
        district = None
        if known.level == "ward":
            first = select(Postcode.district_code).where(Postcode.ward_code == known.codes[0])
            district = session.scalar(first.limit(1))
        elif known.latitude is not None and known.longitude is not None:
            nearest = nearest_postcodes(session, known.latitude, known.longitude,
                                        PLACE_POSTCODE_RADIUS_M, 1)  # fmt: skip
            if nearest and nearest[0].record.district:
                district = nearest[0].record.district.code
        with self._lock:
            if len(self._districts) > 100_000:
                self._districts.clear()
            self._districts[cache_key] = district
        return district


PLACE_INDEX = _PlaceIndex()


def _ward_aliases(name: str, index: frozenset[str]) -> list[tuple[str, bool]]:
    """Other names a ward answers to, and whether each needs a sibling ward to count:
    "Reddish North" -> Reddish; "Sutton Four Oaks" -> Four Oaks (Sutton being a place);
    "Weston-super-Mare Mid Worle" -> Worle; "Tettenhall Regis" -> Tettenhall, when the
    district has another Tettenhall ward too."""
    aliases: list[tuple[str, bool]] = []
    qualified = _QUALIFIER.match(name)
    if qualified:
        aliases.append((qualified.group("stem"), False))
    first, _, rest = name.partition(" ")
    if not rest or re.search(r",|&|\band\b|\bwith\b", name):
        return aliases  # one word, or named after several places (ward_parts)
    if place_key(first) in index:
        lead = _LEADING_QUALIFIER.match(rest)
        aliases.append((lead.group("rest") if lead else rest, False))
    elif not qualified and len(first) >= 4:
        aliases.append((first, True))
    return [(a, f) for a, f in aliases if len(a) >= 4 and not is_generic_name(a)]


def _place_picks(
    session: Session, text: str, force_id: str, clue: tuple[float, float] | None
) -> list[tuple[Candidate, Known | int]]:
    """The places the text names that lie in the force's area (its districts), as a local
    reads them: the longest known name wins over any part of it, a name the force's area has
    twice is settled by the ``clue`` (the postcodes' or the publishing team's whereabouts) or
    left out, and names the words around them mark as places are preferred to bare
    capitalised words. A pick is a known name, or the id of the force's team of that name."""
    candidates = place_candidates(text)
    if not candidates:
        return []
    index = PLACE_INDEX.lookup(session)
    teams = {place_key(name): ident for ident, name in session.execute(
        select(Neighbourhood.id, Neighbourhood.name).where(
            Neighbourhood.force_id == force_id, Neighbourhood.active.is_(True),
            Neighbourhood.min_lat.is_not(None)))}  # fmt: skip
    districts = districts_of_force(force_id)
    area_name = force_area_name(force_id) or ""
    force_names = {place_key(n) for n in (area_name, *ward_parts(area_name)) if n}
    taken: list[tuple[int, int]] = []
    chosen: list[tuple[Candidate, Known | int]] = []
    for candidate in sorted(candidates, key=lambda c: (c.start - c.end, c.start)):
        if any(candidate.start < end and start < candidate.end for start, end in taken):
            continue  # part of a longer known name: never shortened to it
        key = place_key(candidate.phrase)
        if key in force_names:  # "across Merseyside": the force's own area, said in words
            taken.append((candidate.start, candidate.end))
            chosen.append((candidate, Known("force", candidate.phrase, force_id)))
            continue
        if key in teams:
            taken.append((candidate.start, candidate.end))
            chosen.append((candidate, teams[key]))
            continue
        known = index.get(key)
        if not known:
            continue
        taken.append((candidate.start, candidate.end))  # known, even if outside the force
        inside = [k for k in known
                  if not districts or PLACE_INDEX.district_of(session, k) in districts]  # fmt: skip
        pick = _one_of(_ward_families(session, inside), clue)
        if pick is not None:
            chosen.append((candidate, pick))
    chosen.sort(key=lambda c: c[0].start)
    # A list of places ("Keighley, Bingley and Silsden") is read as places: two names of the
    # force's area side by side are no coincidence.
    chains: list[list[tuple[Candidate, Known | int]]] = []
    for pick in chosen:
        joined = chains and list_gap(text[chains[-1][-1][0].end : pick[0].start])
        if joined:
            chains[-1].append(pick)
        else:
            chains.append([pick])
    cued = [pick for chain in chains if len(chain) > 1 or chain[0][0].cued for pick in chain]
    return cued or chosen


def _pick_area(session: Session, pick: Known | int) -> tuple[Area | None, str]:
    if isinstance(pick, Known) and pick.level == "force":
        return force_area(session, pick.ident) or force_footprint(session, pick.ident), "force"
    if isinstance(pick, int):
        row = session.get(Neighbourhood, pick)
        return (neighbourhood_area(session, row) if row is not None else None), "neighbourhood"
    return _known_area(session, pick), pick.level


def _place_area(
    session: Session, picks: list[tuple[Candidate, Known | int]], team_id: int | None
) -> Located | None:
    """The union of the picked places' areas, each as far as it reaches; the force's area when
    the only place named is the force's own ("across Merseyside")."""
    names = tuple(dict.fromkeys(candidate.phrase for candidate, _ in picks))
    local = [p for p in picks if not (isinstance(p[1], Known) and p[1].level == "force")]
    if picks and not local:
        area, _ = _pick_area(session, picks[0][1])
        if area is None:
            return None
        return Located(area, "force", f"{names[0]} (the force area)", team_id, names)
    areas, said, team = [], [], team_id
    for candidate, pick in local:
        area, level = _pick_area(session, pick)
        if area is not None:
            areas.append(area)
            said.append(f"{candidate.phrase} ({level})")
            team = pick if isinstance(pick, int) else team
    if not areas:
        return None
    return Located(union_area(areas), "place", "; ".join(dict.fromkeys(said)), team, names)


def _with_places(
    session: Session,
    by_postcode: tuple[Area, list[str]],
    picks: list[tuple[Candidate, Known | int]],
    team_id: int | None,
) -> Located:
    """Postcodes, and the named places away from them: "last seen in CA28 ... may have
    travelled to Maryport" concerns Maryport too. A place the postcodes lie in or near
    ("Harehills ... LS8, LS9") adds nothing: the postcodes say it more precisely."""
    area, codes = by_postcode
    areas, said = [area], [", ".join(codes)]
    for candidate, pick in picks:
        if isinstance(pick, Known) and pick.level == "force":
            continue  # the postcodes say where in the force
        reach, level = _pick_area(session, pick)
        if reach is not None and not widen_area(reach, AGREE_M).intersects(area):
            areas.append(reach)
            said.append(f"{candidate.phrase} ({level})")
    names = tuple(dict.fromkeys(candidate.phrase for candidate, _ in picks))
    return Located(union_area(areas) if len(areas) > 1 else area, "postcode", "; ".join(said),
                   team_id, names, tuple(codes))  # fmt: skip


def _ward_families(session: Session, options: list[Known]) -> list[Known]:
    """Wards a name stands for together, as one: the wards of a district known by the same
    short name ("Reddish" for Reddish North and Reddish South). A ward known only by its
    first words ("Tettenhall" of Tettenhall Regis) counts only beside a sibling."""
    groups: dict[tuple[str, str | None], list[Known]] = {}
    others = []
    for known in options:
        if known.level == "ward" and known.short:
            group = (place_key(known.name), PLACE_INDEX.district_of(session, known))
            groups.setdefault(group, []).append(known)
        else:
            others.append(known)
    for members in groups.values():
        codes = sorted({code for k in members for code in k.codes})
        if len(codes) == 1 and all(k.family for k in members):
            continue
        others.append(replace(members[0], ident="+".join(codes), family=False))
    return others


def _one_of(options: list[Known], clue: tuple[float, float] | None) -> Known | None:
    """The one place meant by a name that lies in the force's area once or more.

    A name that is some place's own wins over a short form ("Barrow" the village over
    Barrow-in-Furness); a gazetteer place over the ward or district named after it (the town
    of Dudley, not its ward), and a district over a ward. Of several places: the one nearest
    the clue (the postcodes' or the publishing team's whereabouts), else one far bigger than
    its namesakes, else none: a name the text does not settle is left out.
    """
    distinct = list({(k.level, k.ident): k for k in options}.values())
    distinct = [k for k in distinct if not k.short] or distinct
    for level in ("place", "district", "ward"):
        same = [k for k in distinct if k.level == level]
        if same:
            distinct = same
            break
    if len(distinct) <= 1:
        return distinct[0] if distinct else None
    located = [k for k in distinct if k.latitude is not None]
    if clue is not None and located:
        return min(located, key=lambda k: distance_m(clue[0], clue[1], k.latitude, k.longitude))
    ranked = sorted(distinct, key=lambda k: -k.size)
    if ranked[0].size >= 5 * max(ranked[1].size, 1):
        return ranked[0]
    return None


def _team_centre(session: Session, team_id: int | None) -> tuple[float, float] | None:
    team = session.get(Neighbourhood, team_id) if team_id else None
    if team is None or team.centre_lat is None or team.centre_lng is None:
        return None
    return team.centre_lat, team.centre_lng


def place_radius_m(population: int | None) -> float:
    """How far a place reaches, from how many live there (a village 1 km, a city up to 8)."""
    return min(PLACE_RADIUS_MAX_M, max(PLACE_RADIUS_MIN_M, 15 * math.sqrt(population or 0)))


def _reach_m(known: Known) -> float:
    if known.radius_m:
        return min(PLACE_RADIUS_MAX_M, max(PLACE_RADIUS_MIN_M, known.radius_m))
    return place_radius_m(known.size)


def _known_area(session: Session, known: Known) -> Area | None:
    if known.level == "place" and known.latitude is not None and known.longitude is not None:
        try:
            return circle_area(known.latitude, known.longitude, _reach_m(known))
        except AreaInvalid:
            return None
    column = Postcode.ward_code if known.level == "ward" else Postcode.district_code
    points = session.execute(
        select(Postcode.latitude, Postcode.longitude).where(
            column.in_(known.codes), Postcode.latitude.is_not(None),
            Postcode.terminated_on.is_(None))).all()  # fmt: skip
    return footprint_area([[(lat, lng) for lat, lng in points]]) if points else None
