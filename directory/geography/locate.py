"""Turn whatever a person typed into a place: a postcode of any precision, "lat,lng", or a name.

One function, :func:`locate`, used by every endpoint that takes a location, so "near WV11",
"near 52.60,-2.08" and "near Wednesfield" mean the same everywhere. Place names are looked up in
the gazetteer (``directory.geography.places``), then in a geocoder when one is configured (see
``directory.geography.geocoding``); a name neither knows is refused with a clear reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from directory.geography.geo import in_uk
from directory.geography.models import Place
from directory.geography.places import places_named
from directory.geography.postcode_format import PostcodeInvalid, parse_postcode
from directory.geography.postcode_groups import postcode_group_summary
from directory.geography.postcodes import get_postcode
from directory.storage import Reader

Precision = Literal["unit", "sector", "district", "area", "point", "place"]

_LAT_LNG_RE = re.compile(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*,\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")
MAX_QUERY_LENGTH = 200


class LocateError(ValueError):
    """The text cannot be turned into a place; the message says why and what would work."""


class PlaceNotFound(LookupError):
    """A geocoder was asked and knows no such place in the UK."""


@dataclass(frozen=True, slots=True)
class GeocodedPlace:
    """What a geocoder returns for a place name."""

    latitude: float
    longitude: float
    label: str


# A geocoder takes a place name and returns the place, or None when there is no such place.
Geocoder = Callable[[str], GeocodedPlace | None]


@dataclass(frozen=True, slots=True)
class Location:
    """A point with how precise it is and what it was found from."""

    latitude: float
    longitude: float
    precision: Precision
    label: str
    postcode: str | None = None  # display form when the input was a postcode


def parse_lat_lng(text: str) -> tuple[float, float] | None:
    """(lat, lng) from "52.60,-2.08"; None if the text is not in that form.

    Raises LocateError for numbers out of range or outside the UK.
    """
    match = _LAT_LNG_RE.match(text)
    if not match:
        return None
    lat, lng = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise LocateError(f"'{text.strip()}' is not a valid latitude,longitude pair")
    if not in_uk(lat, lng):
        raise LocateError(
            f"{lat},{lng} is outside the UK (expected latitude,longitude such as 52.60,-2.08)"
        )
    return lat, lng


def locate(
    database: Callable[[], Reader],
    text: str,
    geocoder: Geocoder | None = None,
    gazetteer: Callable[[str], list[Place]] | None = None,
) -> Location:
    """Locate a postcode unit/sector/district/area, a "lat,lng" pair, or a place name.

    ``database`` is called only for postcodes and, without ``gazetteer`` (a lookup that opens
    and closes its own connection), for the gazetteer, so with one a place name never holds a
    database connection while the (rate-limited) geocoder answers. Raises LocateError
    (unusable input), PostcodeNotFound (well-formed, unknown postcode) and PlaceNotFound (no
    such place).
    """
    query = (text or "").strip()
    if not query:
        raise LocateError("say where: a postcode such as 'WV11 1AA', or '52.60,-2.08'")
    if len(query) > MAX_QUERY_LENGTH:
        raise LocateError(f"a location is at most {MAX_QUERY_LENGTH} characters")
    point = parse_lat_lng(query)
    if point is not None:
        return Location(point[0], point[1], "point", f"{point[0]},{point[1]}")
    try:
        parsed = parse_postcode(query)
    except PostcodeInvalid as invalid:
        known = gazetteer(query) if gazetteer else places_named(database(), query)
        if known:  # the gazetteer first: no network, and the same names bulletins are read with
            place = known[0]
            label = place.name
            if len(known) > 1:
                label = f"{place.name} (the most populous of {len(known)} places of that name)"
            return Location(place.latitude, place.longitude, "place", label)
        if geocoder is None:
            raise LocateError(
                f"'{query}' is not a postcode, a latitude,longitude pair or a place in the "
                "gazetteer, and this server has no geocoder for other names: give a postcode "
                "such as 'WV11 1AA', a town such as 'Wednesfield' or coordinates such as "
                "'52.60,-2.08'"
            ) from invalid
        place = geocoder(query)
        if place is None:
            raise PlaceNotFound(f"place not found: no place called '{query}' in the UK") from None
        return Location(place.latitude, place.longitude, "place", place.label)
    if parsed.kind == "unit":
        record = get_postcode(database(), query)
        if record.latitude is None or record.longitude is None:
            raise LocateError(f"postcode '{record.postcode}' has no coordinates in the data")
        return Location(record.latitude, record.longitude, "unit", record.postcode, record.postcode)
    summary = postcode_group_summary(database(), parsed)
    if summary.latitude is None or summary.longitude is None:
        raise LocateError(f"postcode {parsed.kind} '{parsed.display}' has no coordinates")
    return Location(
        summary.latitude, summary.longitude, parsed.kind, parsed.display, parsed.display
    )
