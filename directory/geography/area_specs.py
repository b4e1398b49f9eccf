"""Areas as people send them, turned into Areas: postcode sets are resolved against the data.

{"type": "postcodes", "postcodes": ["WV11 1", "WV10 6AA"]}
{"type": "circle", "center": {"lat": 52.61, "lng": -2.08}, "radius_m": 1500}
{"type": "circle", "center": "WV11 1AA", "radius_m": 1500}     (any postcode form)
{"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [...]}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from directory.geography.area_builders import parse_postcode_set, polygon_area, postcode_area
from directory.geography.areas import Area, AreaInvalid, as_number, circle_area
from directory.geography.locate import LocateError, locate
from directory.geography.postcodes import PostcodeNotFound, postcode_positions
from directory.storage import Reader

AREA_TYPES = ("postcodes", "circle", "polygon")


def area_from_spec(db: Reader, spec: Any) -> Area:
    """The Area a request describes; raises AreaInvalid saying what to change."""
    if not isinstance(spec, Mapping):
        raise AreaInvalid(f"an area is an object with 'type': one of {', '.join(AREA_TYPES)}")
    kind = spec.get("type")
    if kind == "postcodes":
        codes = spec.get("postcodes")
        if not isinstance(codes, list):
            raise AreaInvalid("a postcodes area needs 'postcodes': a list such as ['WV11 1']")
        parse_postcode_set(codes)  # refuse bad or too many entries before any lookup
        return postcode_area(
            codes, postcode_positions(db, [c for c in codes if isinstance(c, str)])
        )
    if kind == "circle":
        if "radius_m" not in spec:
            raise AreaInvalid("a circle needs 'radius_m': a number of metres")
        radius = as_number(spec["radius_m"], "the circle's 'radius_m'")
        lat, lng = _centre(db, spec.get("center"))
        return circle_area(lat, lng, radius)
    if kind == "polygon":
        return polygon_area(spec.get("geometry"))  # type: ignore[arg-type]
    raise AreaInvalid(f"unknown area type {kind!r}: use one of {', '.join(AREA_TYPES)}")


def _centre(db: Reader, center: Any) -> tuple[float, float]:
    if isinstance(center, Mapping):
        return (
            as_number(center.get("lat"), "the circle's centre 'lat'"),
            as_number(center.get("lng"), "the circle's centre 'lng'"),
        )
    if isinstance(center, str):
        try:
            located = locate(lambda: db, center)
        except (LocateError, PostcodeNotFound) as exc:
            raise AreaInvalid(f"the circle's centre: {exc}") from None
        return located.latitude, located.longitude
    raise AreaInvalid("a circle needs 'center': {'lat': .., 'lng': ..} or a postcode")
