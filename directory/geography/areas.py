"""What a site, a police team or a subscription covers: one type, three shapes.

- **postcodes**: a set of units, sectors and districts ("WV11 1AA", "WV11 1", "WV11");
- **circle**: a centre and a radius in metres;
- **polygon**: a GeoJSON Polygon or MultiPolygon (police neighbourhood boundaries).

Every shape answers ``contains(point)``, ``intersects(other)``, ``bbox`` (for SQL prefiltering)
and ``centroid``. Geometry is shapely's, in GeoJSON axis order (x = longitude, y = latitude);
distances are great-circle metres as geopy computes them. A postcode set also has a
*footprint*: the hull of its units' positions, widened a little, resolved from the postcode data
when the area is made, so that it can meet circles and polygons.

The type, circles and the stored JSON live here; polygons, postcode sets, unions and widening
are made in ``area_builders``. Pure: nothing here reads the database. Invalid input raises
:class:`AreaInvalid` naming the problem, so an API can hand the message straight to the person
who sent it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from geopy.distance import great_circle
from shapely import ops
from shapely.geometry import MultiPolygon, Point, Polygon, mapping

from directory.geography.geo import BoundingBox, bbox_around, distance_m, in_uk
from directory.geography.postcode_format import PostcodeInvalid, parse_postcode

AreaKind = Literal["postcodes", "circle", "polygon"]

MAX_RADIUS_M = 50_000.0
CIRCLE_SEGMENTS = 64  # vertices of the polygon that stands in for a circle in intersections


class AreaInvalid(ValueError):
    """The area cannot be used; the message names the problem."""


@dataclass(frozen=True)
class Area:
    """An area of one of the three shapes; build it with the ``*_area`` functions."""

    kind: AreaKind
    # None for a circle until its outline is first needed: its own questions are answered by
    # distance, and building 64 geodesic vertices for every stored circle would dominate lookups.
    _geometry: Polygon | MultiPolygon | None = field(default=None, repr=False)
    center: tuple[float, float] | None = None  # (lat, lng), circles only
    radius_m: float | None = None  # circles only
    postcodes: tuple[str, ...] = ()  # display forms, postcode sets only

    def __post_init__(self) -> None:
        if self._geometry is not None:
            shapely.prepare(self._geometry)  # repeated contains/intersects get much faster

    @property
    def geometry(self) -> Polygon | MultiPolygon:
        """The outline (for a circle, a 64-gon through points on its edge)."""
        if self._geometry is None:
            assert self.center is not None and self.radius_m is not None
            outline = _circle_outline(self.center[0], self.center[1], self.radius_m)
            shapely.prepare(outline)
            object.__setattr__(self, "_geometry", outline)
        return self._geometry  # type: ignore[return-value]

    # ------------------------------------------------------------------ questions

    def contains(self, lat: float, lng: float, postcode: str | None = None) -> bool:
        """True if the point is inside (or on the edge).

        For a postcode set, a point whose own postcode unit is known is inside exactly when that
        unit, its sector or its district is in the set; otherwise the footprint decides.
        """
        if self.kind == "circle":
            assert self.center is not None and self.radius_m is not None
            return distance_m(self.center[0], self.center[1], lat, lng) <= self.radius_m
        if self.kind == "postcodes" and postcode is not None:
            return self.covers_postcode(postcode)
        return bool(self.geometry.covers(Point(lng, lat)))

    def covers_postcode(self, postcode: str) -> bool:
        """True if the unit (display form), its sector or its district is in a postcode set."""
        try:
            parsed = parse_postcode(postcode)
        except PostcodeInvalid:
            return False
        wanted = set(self.postcodes)
        return bool({parsed.unit, parsed.sector, parsed.outcode} & wanted)

    def intersects(self, other: Area) -> bool:
        """True if the two areas share any point."""
        if self.kind == "circle" and other.kind == "circle":
            assert self.center and other.center and self.radius_m and other.radius_m
            gap = distance_m(*self.center, *other.center)
            return gap <= self.radius_m + other.radius_m
        if self.kind == "circle" and other.kind != "circle":
            return other.intersects(self)
        if other.kind == "circle":
            assert other.center is not None and other.radius_m is not None
            if self.geometry.covers(Point(other.center[1], other.center[0])):
                return True
            return distance_to_geometry_m(other.center, self.geometry) <= other.radius_m
        return bool(self.geometry.intersects(other.geometry))

    def distance_m(self, lat: float, lng: float) -> float:
        """Metres from the point to the nearest part of the area (0 inside it)."""
        if self.contains(lat, lng):
            return 0.0
        if self.kind == "circle":
            assert self.center is not None and self.radius_m is not None
            return max(0.0, distance_m(*self.center, lat, lng) - self.radius_m)
        return distance_to_geometry_m((lat, lng), self.geometry)

    @property
    def bbox(self) -> BoundingBox:
        """The smallest lat/lng box holding the area."""
        if self.kind == "circle":  # exact, not the inscribed polygon's
            assert self.center is not None and self.radius_m is not None
            return bbox_around(self.center[0], self.center[1], self.radius_m)
        min_lng, min_lat, max_lng, max_lat = self.geometry.bounds
        return BoundingBox(min_lat, min_lng, max_lat, max_lng)

    @property
    def centroid(self) -> tuple[float, float]:
        """(lat, lng) of the middle: a circle's centre, else the geometry's centroid."""
        if self.center is not None:
            return self.center
        point = self.geometry.centroid
        return (point.y, point.x)

    # ------------------------------------------------------------------ storage

    def to_json(self) -> dict[str, Any]:
        """The area as stored and as the API shows it (GeoJSON geometry for polygons)."""
        if self.kind == "circle":
            assert self.center is not None
            return {
                "type": "circle",
                "center": {"lat": self.center[0], "lng": self.center[1]},
                "radius_m": self.radius_m,
            }
        if self.kind == "postcodes":
            return {
                "type": "postcodes",
                "postcodes": list(self.postcodes),
                "footprint": _geojson(self.geometry),
            }
        return {"type": "polygon", "geometry": _geojson(self.geometry)}


def _geojson(geometry: Polygon | MultiPolygon) -> dict[str, Any]:
    """GeoJSON with lists, as JSON has them."""
    data = mapping(geometry)
    return {"type": data["type"], "coordinates": _lists(data["coordinates"])}


def _lists(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    return value


def distance_to_geometry_m(point: tuple[float, float], geometry: Polygon | MultiPolygon) -> float:
    """Great-circle metres from (lat, lng) to the nearest point of a geometry's boundary."""
    lat, lng = point
    nearest = ops.nearest_points(geometry.boundary, Point(lng, lat))[0]
    return distance_m(lat, lng, nearest.y, nearest.x)


# ---------------------------------------------------------------------- building


def as_number(value: Any, what: str) -> float:
    """A finite float from a JSON number; AreaInvalid for anything else (huge integers too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AreaInvalid(f"{what} must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise AreaInvalid(f"{what} is out of range") from None
    if not math.isfinite(number):
        raise AreaInvalid(f"{what} must be a finite number")
    return number


def check_point(lat: float, lng: float, what: str) -> None:
    """Refuse a position that is not finite or not in the UK, naming ``what`` it is."""
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise AreaInvalid(f"{what} must be finite numbers")
    if not in_uk(lat, lng):
        raise AreaInvalid(f"{what} ({lat}, {lng}) is outside the UK")


def circle_area(lat: float, lng: float, radius_m: float) -> Area:
    """A circle of ``radius_m`` metres (more than 0, at most 50 km) around a UK point."""
    check_point(lat, lng, "the centre")
    if not (math.isfinite(radius_m) and 0 < radius_m <= MAX_RADIUS_M):
        raise AreaInvalid(
            f"radius {radius_m:g} m is not allowed: it must be more than 0 and at most "
            f"{MAX_RADIUS_M:,.0f} m"
        )
    return Area("circle", None, center=(lat, lng), radius_m=float(radius_m))


def _circle_outline(lat: float, lng: float, radius_m: float) -> Polygon:
    ring = []
    for step in range(CIRCLE_SEGMENTS):
        edge = great_circle(meters=radius_m).destination((lat, lng), 360 * step / CIRCLE_SEGMENTS)
        ring.append((edge.longitude, edge.latitude))
    return Polygon(ring)


def geometry_from_json(geojson: Mapping[str, Any]) -> Polygon | MultiPolygon:
    """A (Multi)Polygon from GeoJSON, through numpy arrays: shapely's ``shape`` walks every
    vertex in Python, which is most of the cost of reading a 500-vertex boundary."""
    coordinates = geojson["coordinates"]
    if geojson["type"] == "Polygon":
        return _polygon(coordinates)
    return MultiPolygon([_polygon(rings) for rings in coordinates])


def _polygon(rings: Sequence[Any]) -> Polygon:
    shell = np.asarray([p[:2] for p in rings[0]], dtype=float)
    # Each hole a ring of its own: handed over as bare arrays, holes of different vertex
    # counts cannot be stacked into one array, and the polygon could not be read back.
    holes = [shapely.linearrings(np.asarray([p[:2] for p in ring], dtype=float))
             for ring in rings[1:]]  # fmt: skip
    return shapely.polygons(shell, holes=holes or None)


def set_area_columns(row: Any, area: Area | None, data: dict[str, Any] | None = None) -> None:
    """Store ``area`` on a row with ``area``, ``area_kind`` and bounding-box columns (sites,
    subscriptions, bulletins): its JSON (or ``data``) and its box, for the box indexes."""
    if area is None:
        row.area = row.area_kind = None
        row.min_lat = row.min_lng = row.max_lat = row.max_lng = None
        return
    box = area.bbox
    row.area = data if data is not None else area.to_json()
    row.area_kind = area.kind
    row.min_lat, row.min_lng, row.max_lat, row.max_lng = (
        box.min_lat, box.min_lng, box.max_lat, box.max_lng
    )  # fmt: skip


def area_from_json(data: Mapping[str, Any]) -> Area:
    """Rebuild a stored area (the inverse of ``Area.to_json``).

    Stored areas were checked when they were made, so polygons are not checked again here: a
    lookup rebuilds several boundaries of hundreds of vertices each.
    """
    kind = data.get("type")
    if kind == "circle":
        center = data["center"]
        return circle_area(center["lat"], center["lng"], data["radius_m"])
    if kind == "polygon":
        return Area("polygon", geometry_from_json(data["geometry"]))
    if kind == "postcodes":
        return Area(
            "postcodes", geometry_from_json(data["footprint"]), postcodes=tuple(data["postcodes"])
        )
    raise AreaInvalid(f"unknown area type {kind!r}: use postcodes, circle or polygon")
