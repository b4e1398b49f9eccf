"""Postcode geography store: look up units, find the nearest, summarise districts and sectors.

All SQL about postcodes lives here. Results are frozen dataclasses, not ORM objects, so callers
(API views, the locator, later the area matcher) never touch the session's identity map; the hot
queries run on the session's connection (Core), skipping the ORM's result machinery, which
costs more than the query itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import Connection, Row, bindparam, func, select, update
from sqlalchemy.orm import aliased

from directory.geography.geo import (
    BoundingBox,
    bbox_around,
    haversine_from,
    haversine_of_metres,
    lat_band,
    lat_bands,
    metres_from_haversine,
)
from directory.geography.models import AreaName, Postcode
from directory.geography.police_force_areas import ForceArea, force_area_of_district
from directory.geography.postcode_format import ParsedPostcode, PostcodeInvalid, parse_postcode
from directory.storage import Reader, connection_of

COUNTRY_NAMES = {
    "E92000001": "England",
    "W92000004": "Wales",
    "S92000003": "Scotland",
    "N92000002": "Northern Ireland",
    "L93000001": "Channel Islands",
    "M83000003": "Isle of Man",
}

# Code-Point Open positional quality indicators (user guide, "Positional Quality Indicator").
QUALITY_DESCRIPTIONS = {
    10: "within the building of the matched address closest to the postcode mean",
    20: "as 10, by visual inspection of Landline maps (Scotland only)",
    30: "approximate to within 50 m",
    40: "mean of addresses since deleted or recoded",
    50: "estimated from surrounding postcodes, usually to 100 m",
    60: "postcode sector mean",
    90: "no coordinates available",
}
NO_COORDINATES = 90

# The nearest search starts with this radius and widens fourfold until it has enough results.
FIRST_SEARCH_RADIUS_M = 250.0
# The widest nearest search: its box spans at most BAND_SLOTS latitude bands.
MAX_SEARCH_RADIUS_M = 3_000.0


class PostcodeNotFound(LookupError):
    """A well-formed postcode that is not in the imported data."""


class NamedCode(NamedTuple):
    """A GSS code with its name when the Codelist had one."""

    code: str
    name: str | None


class PostcodeRecord(NamedTuple):
    """Everything known about one postcode unit.

    A NamedTuple rather than a frozen dataclass: the nearest search builds thousands a second
    and a frozen dataclass's __init__ costs several times as much.
    """

    postcode: str
    latitude: float | None
    longitude: float | None
    eastings: int | None
    northings: int | None
    quality: int
    country: NamedCode | None
    county: NamedCode | None
    district: NamedCode | None
    ward: NamedCode | None
    police_force_code: str | None
    terminated_on: date | None

    @property
    def parsed(self) -> ParsedPostcode:
        return parse_postcode(self.postcode)

    @property
    def has_position(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def terminated(self) -> bool:
        return self.terminated_on is not None

    @property
    def quality_description(self) -> str:
        return QUALITY_DESCRIPTIONS.get(self.quality, "unknown")

    @property
    def force_area(self) -> ForceArea | None:
        """The police force area its district lies in (from the shipped lookup)."""
        return force_area_of_district(self.district.code if self.district else None)


@dataclass(frozen=True, slots=True)
class NearbyPostcode:
    """A postcode found by the nearest search, with its distance from the query point."""

    record: PostcodeRecord
    distance_m: float


_county = aliased(AreaName, name="county")
_district = aliased(AreaName, name="district")
_ward = aliased(AreaName, name="ward")
_RECORD_QUERY = (
    select(
        Postcode.postcode,
        Postcode.latitude,
        Postcode.longitude,
        Postcode.eastings,
        Postcode.northings,
        Postcode.quality,
        Postcode.country_code,
        Postcode.county_code,
        _county.name,
        Postcode.district_code,
        _district.name,
        Postcode.ward_code,
        _ward.name,
        Postcode.police_force_code,
        Postcode.terminated_on,
    )
    .outerjoin(_county, _county.code == Postcode.county_code)
    .outerjoin(_district, _district.code == Postcode.district_code)
    .outerjoin(_ward, _ward.code == Postcode.ward_code)
)
_ONE_QUERY = _RECORD_QUERY.where(Postcode.postcode == bindparam("postcode"))
# Statements with a fixed number of key slots (padded by repeating a key) are compiled once;
# an expanding IN is re-rendered on every call, which costs more than the lookup itself.
_KEY_SLOTS = (10, 100)
_MANY_QUERIES = {
    slots: _RECORD_QUERY.where(Postcode.postcode.in_([bindparam(f"k{i}") for i in range(slots)]))
    for slots in _KEY_SLOTS
}
# A fixed number of band slots (unused ones repeat the last band) keeps the statement constant, so
# it is compiled once; an expanding IN would be re-rendered on every call.
BAND_SLOTS = 8
_CANDIDATES_QUERY = select(Postcode.postcode, Postcode.latitude, Postcode.longitude).where(
    Postcode.lat_band.in_([bindparam(f"band{i}") for i in range(BAND_SLOTS)]),
    Postcode.longitude.between(bindparam("min_lng"), bindparam("max_lng")),
    Postcode.latitude.between(bindparam("min_lat"), bindparam("max_lat")),
)


def _record(row: Row) -> PostcodeRecord:
    (pc, lat, lng, east, north, quality, country, county, county_name, district, district_name,
     ward, ward_name, pfa, terminated_on) = row  # fmt: skip
    # Positional and inline: this runs for every row the nearest search returns.
    return PostcodeRecord(
        pc, lat, lng, east, north, quality,
        NamedCode(country, COUNTRY_NAMES.get(country)) if country else None,
        NamedCode(county, county_name) if county else None,
        NamedCode(district, district_name) if district else None,
        NamedCode(ward, ward_name) if ward else None,
        pfa, terminated_on,
    )  # fmt: skip


def get_postcode(db: Reader, text: str) -> PostcodeRecord:
    """The record of one postcode unit typed in any form.

    Raises PostcodeInvalid when the text is not a unit (with a pointer to the right endpoint for
    sectors and districts) and PostcodeNotFound when it is well formed but unknown.
    """
    parsed = parse_postcode(text)
    if parsed.kind == "area":
        raise PostcodeInvalid(
            f"'{parsed.display}' is a postcode area, not a full postcode such as 'WV11 1AA'"
        )
    if parsed.kind != "unit":
        raise PostcodeInvalid(
            f"'{parsed.display}' is a postcode {parsed.kind}, not a full postcode; "
            f"see /outcodes/{parsed.outcode}"
        )
    row = connection_of(db).execute(_ONE_QUERY, {"postcode": parsed.display}).first()
    if row is None:
        raise PostcodeNotFound(
            f"postcode not found: '{parsed.display}' is not in the postcode data"
        )
    return _record(row)


def lookup_postcodes(db: Reader, texts: Sequence[str]) -> list[PostcodeRecord | None]:
    """Records for many postcodes in one query, in the given order; None for invalid or unknown."""
    wanted: list[str | None] = []
    for text in texts:
        try:
            parsed = parse_postcode(text)
        except PostcodeInvalid:
            wanted.append(None)
            continue
        wanted.append(parsed.display if parsed.kind == "unit" else None)
    found = _records_by_key(connection_of(db), sorted({key for key in wanted if key}))
    return [found.get(key) if key else None for key in wanted]


def _records_by_key(connection: Connection, keys: Sequence[str]) -> dict[str, PostcodeRecord]:
    """Records of the given display-form keys (missing ones absent), in as few queries as fit."""
    found: dict[str, PostcodeRecord] = {}
    biggest = _KEY_SLOTS[-1]
    for start in range(0, len(keys), biggest):
        chunk = keys[start : start + biggest]
        slots = next(size for size in _KEY_SLOTS if size >= len(chunk))
        params = {f"k{i}": chunk[min(i, len(chunk) - 1)] for i in range(slots)}
        for row in connection.execute(_MANY_QUERIES[slots], params).all():
            found[row[0]] = _record(row)
    return found


def nearest_postcodes(
    db: Reader, lat: float, lng: float, radius_m: float, limit: int
) -> list[NearbyPostcode]:
    """Live postcodes within ``radius_m`` of a point, nearest first, at most ``limit``.

    Searches a small box first and widens it fourfold only while it holds fewer than ``limit``
    postcodes within its own radius; every point within that radius is in the box, so the
    nearest ones found are the true nearest. Each box is a few index range scans.
    """
    if limit <= 0 or radius_m <= 0:
        return []
    if radius_m > MAX_SEARCH_RADIUS_M:
        raise ValueError(f"radius {radius_m} m is over the maximum of {MAX_SEARCH_RADIUS_M} m")
    connection = connection_of(db)
    haversine = haversine_from(lat, lng)
    search = min(radius_m, FIRST_SEARCH_RADIUS_M)
    while True:
        box = bbox_around(lat, lng, search)
        bands = lat_bands(box)
        params: dict[str, float | int] = {
            f"band{i}": bands[min(i, len(bands) - 1)] for i in range(BAND_SLOTS)
        }
        params.update(
            min_lng=box.min_lng, max_lng=box.max_lng, min_lat=box.min_lat, max_lat=box.max_lat
        )
        candidates = connection.execute(_CANDIDATES_QUERY, params).all()
        # Ranked by the haversine term, which orders exactly as great-circle distance;
        # metres are worked out only for the results.
        limit_h = haversine_of_metres(search)
        within = sorted(
            (h, row) for row in candidates if (h := haversine(row[1], row[2])) <= limit_h
        )
        if len(within) >= limit or search >= radius_m:
            break
        search = min(radius_m, search * 4)
    chosen = within[:limit]
    if not chosen:
        return []
    records = _records_by_key(connection, [row[0] for _, row in chosen])
    return [
        NearbyPostcode(records[row[0]], round(metres_from_haversine(h), 1)) for h, row in chosen
    ]


def key_range(parsed: ParsedPostcode) -> tuple:
    """The primary-key range holding every unit of a district, sector or area.

    Keys compare byte-wise: units of district "WV1" lie in ['WV1 ', 'WV1!') (space < '!'), of
    sector "WV11 1" in ['WV11 1', 'WV11 1~'), of area "B" in ['B0', 'B:') (digits only, so
    not "BA...").
    """
    if parsed.kind == "district":
        low, high = parsed.display + " ", parsed.display + "!"
    elif parsed.kind == "sector":
        low, high = parsed.display, parsed.display + "~"
    elif parsed.kind == "area":
        low, high = parsed.display + "0", parsed.display + ":"
    else:
        low = high = parsed.display
        return (Postcode.postcode == low,)
    return (Postcode.postcode >= low, Postcode.postcode < high)


def postcode_positions(db: Reader, codes: Sequence[str]) -> dict[str, list[tuple[float, float]]]:
    """The (lat, lng) of every located, live unit of each unit/sector/district in ``codes``.

    Keys are the display forms; a code that is malformed, unknown or without located units is
    simply absent (the caller names it). Feeds ``directory.geography.areas.postcode_area``.
    """
    connection = connection_of(db)
    positions: dict[str, list[tuple[float, float]]] = {}
    for code in codes:
        try:
            parsed = parse_postcode(code)
        except PostcodeInvalid:
            continue
        if parsed.kind == "area":
            continue
        rows = connection.execute(
            select(Postcode.latitude, Postcode.longitude).where(
                *key_range(parsed),
                Postcode.latitude.is_not(None),
                Postcode.terminated_on.is_(None),
            )
        ).all()
        if rows:
            positions[parsed.display] = [(lat, lng) for lat, lng in rows]
    return positions


def postcode_teams_in_box(
    db: Reader, box: BoundingBox
) -> list[tuple[str, float, float, int | None]]:
    """(postcode, lat, lng, neighbourhood_id) of the live, located units in a box."""
    bands = list(range(lat_band(box.min_lat), lat_band(box.max_lat) + 1))
    return [
        (pc, lat, lng, team)
        for pc, lat, lng, team in connection_of(db).execute(
            select(Postcode.postcode, Postcode.latitude, Postcode.longitude,
                   Postcode.neighbourhood_id).where(
                Postcode.lat_band.in_(bands),
                Postcode.longitude.between(box.min_lng, box.max_lng),
                Postcode.latitude.between(box.min_lat, box.max_lat),
            )
        )
    ]  # fmt: skip


def postcodes_of_teams(db: Reader, team_ids: Sequence[int]) -> list[tuple[str, int]]:
    """(postcode, neighbourhood_id) of every unit assigned to one of these teams."""
    found: list[tuple[str, int]] = []
    connection = connection_of(db)
    for start in range(0, len(team_ids), 500):
        chunk = list(team_ids[start : start + 500])
        found += [
            (pc, team)
            for pc, team in connection.execute(
                select(Postcode.postcode, Postcode.neighbourhood_id).where(
                    Postcode.neighbourhood_id.in_(chunk)
                )
            )
        ]
    return found


def set_postcode_teams(db: Reader, changes: Sequence[tuple[int | None, str]]) -> None:
    """Record (neighbourhood_id or None, postcode) assignments, many at once."""
    if changes:
        connection_of(db).execute(
            update(Postcode)
            .where(Postcode.postcode == bindparam("pc"))
            .values(neighbourhood_id=bindparam("team")),
            [{"team": team, "pc": pc} for team, pc in changes],
        )


def count_postcodes(db: Reader) -> int:
    """How many postcode units are stored (for /health)."""
    return connection_of(db).scalar(select(func.count()).select_from(Postcode)) or 0


# Open Government Licence attribution the Code-Point Open data requires wherever it is served.
POSTCODE_DATA_ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right 2025. "
    "Contains Royal Mail data © Royal Mail copyright and database right 2025. "
    "Contains National Statistics data © Crown copyright and database right 2025."
)
POSTCODE_DATA_LICENCE = "Open Government Licence v3.0"
POSTCODE_DATA_LICENCE_URL = (
    "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
)
