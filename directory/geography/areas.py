"""What a site, a police team or a subscription covers: one type, three shapes.

- **postcodes**: a set of units, sectors and districts ("WV11 1AA", "WV11 1", "WV11");
- **circle**: a centre and a radius in metres;
- **polygon**: a GeoJSON Polygon or MultiPolygon (police neighbourhood boundaries).

Every shape answers ``contains(point)``, ``intersects(other)``, ``bbox`` (for SQL prefiltering)
and ``centroid``. Geometry is shapely's, in GeoJSON axis order (x = longitude, y = latitude);
distances are great-circle metres as geopy computes them. A postcode set also has a
*footprint*: the hull of its units' positions, widened a little, resolved from the postcode data
when the area is made, so that it can meet circles and polygons.

Pure: nothing here reads the database. Invalid input raises :class:`AreaInvalid` naming the
problem, so an API can hand the message straight to the person who sent it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely
from geopy.distance import great_circle
from shapely import affinity, ops
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.validation import explain_validity

from directory.geography.geo import (
    METRES_PER_DEGREE_LAT,
    BoundingBox,
    bbox_around,
    distance_m,
    in_uk,
)
from directory.geography.postcode_format import PostcodeInvalid, parse_postcode

AreaKind = Literal["postcodes", "circle", "polygon"]

MAX_RADIUS_M = 50_000.0
CIRCLE_SEGMENTS = 64  # vertices of the polygon that stands in for a circle in intersections
# A postcode set's footprint: the hull of each code's units, widened by about 100 m (in degrees
# of latitude; longitude is scaled), since a unit's point is only the middle of its addresses.
FOOTPRINT_MARGIN_DEG = 0.0009
FOOTPRINT_GRID_DEG = 1e-6
MAX_POSTCODES_PER_AREA = 500
MAX_POLYGON_VERTICES = 20_000


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


def _check_point(lat: float, lng: float, what: str) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise AreaInvalid(f"{what} must be finite numbers")
    if not in_uk(lat, lng):
        raise AreaInvalid(f"{what} ({lat}, {lng}) is outside the UK")


def circle_area(lat: float, lng: float, radius_m: float) -> Area:
    """A circle of ``radius_m`` metres (more than 0, at most 50 km) around a UK point."""
    _check_point(lat, lng, "the centre")
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


def _shape(geojson: Mapping[str, Any]) -> Polygon | MultiPolygon:
    """A (Multi)Polygon from GeoJSON, through numpy arrays: shapely's ``shape`` walks every
    vertex in Python, which is most of the cost of reading a 500-vertex boundary."""
    coordinates = geojson["coordinates"]
    if geojson["type"] == "Polygon":
        return _polygon(coordinates)
    return MultiPolygon([_polygon(rings) for rings in coordinates])


def _polygon(rings: Sequence[Any]) -> Polygon:
    shell = np.asarray([p[:2] for p in rings[0]], dtype=float)
    holes = [np.asarray([p[:2] for p in ring], dtype=float) for ring in rings[1:]]
    return shapely.polygons(shell, holes=holes or None)


def polygon_area(geojson: Mapping[str, Any]) -> Area:
    """A GeoJSON Polygon or MultiPolygon, checked ring by ring.

    Refused: another type, rings that are not closed or have fewer than 4 positions, positions
    that are not [longitude, latitude] numbers in the UK, and self-intersections.
    """
    if not isinstance(geojson, Mapping):
        raise AreaInvalid("a polygon must be a GeoJSON object with 'type' and 'coordinates'")
    kind = geojson.get("type")
    coordinates = geojson.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon"):
        raise AreaInvalid(f"a polygon must be GeoJSON type Polygon or MultiPolygon, not {kind!r}")
    if not isinstance(coordinates, list) or not coordinates:
        raise AreaInvalid("a polygon needs 'coordinates': a list of rings")
    polygons = coordinates if kind == "MultiPolygon" else [coordinates]
    vertices = 0
    for p, rings in enumerate(polygons, start=1):
        if not isinstance(rings, list) or not rings:
            raise AreaInvalid(f"polygon {p} has no rings")
        for r, ring in enumerate(rings, start=1):
            vertices += _check_ring(
                ring, f"polygon {p} ring {r}" if kind == "MultiPolygon" else f"ring {r}"
            )
    if vertices > MAX_POLYGON_VERTICES:
        raise AreaInvalid(f"a polygon may have at most {MAX_POLYGON_VERTICES:,} positions")
    geometry = _shape({"type": kind, "coordinates": coordinates})
    if not geometry.is_valid:
        raise AreaInvalid(f"the polygon is not valid: {_explain(geometry)}")
    if geometry.is_empty or geometry.area == 0:
        raise AreaInvalid("the polygon encloses no area")
    return Area("polygon", geometry)


def repaired_polygon_area(geojson: Mapping[str, Any]) -> Area:
    """Like polygon_area, but a self-intersecting outline is repaired (shapely's make_valid)
    instead of refused: for imported boundaries, where upstream data is not ours to fix.
    Other problems (unclosed rings, positions outside the UK) are still refused."""
    try:
        return polygon_area(geojson)
    except AreaInvalid as exc:
        if "not valid" not in str(exc):
            raise
    repaired = shapely.make_valid(shape(dict(geojson)))
    polygons = [g for g in getattr(repaired, "geoms", [repaired]) if isinstance(g, Polygon)]
    polygons += [
        p for g in getattr(repaired, "geoms", []) if isinstance(g, MultiPolygon) for p in g.geoms
    ]
    if not polygons:
        raise AreaInvalid("the polygon cannot be repaired into an area")
    geometry = polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
    if geometry.area == 0:
        raise AreaInvalid("the polygon encloses no area")
    return Area("polygon", geometry)


def _check_ring(ring: Any, name: str) -> int:
    if not isinstance(ring, list) or len(ring) < 4:
        raise AreaInvalid(f"{name} needs at least 4 positions (the first repeated last)")
    for position in ring:
        if not isinstance(position, list | tuple) or len(position) not in (2, 3):
            raise AreaInvalid(
                f"{name} has a position that is not [longitude, latitude]: {str(position)[:80]}"
            )
        lng, lat = (as_number(v, f"{name} position") for v in position[:2])
        if len(position) == 3:
            as_number(position[2], f"{name} position's altitude")
        _check_point(lat, lng, f"{name} position")
    if list(ring[0][:2]) != list(ring[-1][:2]):
        raise AreaInvalid(
            f"{name} is not closed: it starts at {list(ring[0][:2])} and ends at "
            f"{list(ring[-1][:2])}"
        )
    return len(ring)


def _explain(geometry: Any) -> str:
    """shapely's reason, in words: 'Self-intersection[-2.08 52.61]' → 'self-intersection at ...'."""
    reason = explain_validity(geometry)
    if "[" in reason:
        what, _, where = reason.partition("[")
        coords = where.rstrip("]").split()
        if len(coords) == 2:
            lng, lat = float(coords[0]), float(coords[1])
            return f"{what.strip().lower()} at latitude {lat:.6f}, longitude {lng:.6f}"
    return reason.lower()


def parse_postcode_set(codes: Iterable[str]) -> tuple[str, ...]:
    """Display forms of units, sectors and districts, de-duplicated and sorted.

    Raises AreaInvalid naming the first entry that is not one of those (areas like "WV" are too
    coarse to cover, and are refused too).
    """
    result = set()
    for code in codes:
        if not isinstance(code, str):
            raise AreaInvalid(f"{code!r} is not a postcode")
        try:
            parsed = parse_postcode(code)
        except PostcodeInvalid as exc:
            raise AreaInvalid(str(exc)) from None
        if parsed.kind == "area":
            raise AreaInvalid(
                f"'{parsed.display}' is a whole postcode area; list its districts instead"
            )
        result.add(parsed.display)
    if not result:
        raise AreaInvalid("a postcode area needs at least one postcode, sector or district")
    if len(result) > MAX_POSTCODES_PER_AREA:
        raise AreaInvalid(f"a postcode area may list at most {MAX_POSTCODES_PER_AREA} entries")
    return tuple(sorted(result))


def postcode_area(
    codes: Sequence[str], positions: Mapping[str, Sequence[tuple[float, float]]]
) -> Area:
    """A postcode set, with its footprint built from ``positions`` (code → its units' (lat, lng)).

    ``positions`` comes from the postcode data (``postcodes.postcode_positions``); a
    code with no located unit there is unknown and refused by name.
    """
    display = parse_postcode_set(codes)
    groups = []
    for code in display:
        points = positions.get(code) or []
        if not points:
            raise AreaInvalid(f"'{code}' is not in the postcode data (unknown or without position)")
        groups.append(points)
    return Area("postcodes", _footprint(groups), postcodes=display)


def footprint_area(groups: Sequence[Sequence[tuple[float, float]]]) -> Area:
    """A polygon area around groups of (lat, lng) points (a ward's or district's units): the
    hull of each group, widened as a postcode set's footprint is."""
    if not any(groups):
        raise AreaInvalid("a footprint needs at least one point")
    return Area("polygon", _footprint([g for g in groups if g]))


def _footprint(groups: Sequence[Sequence[tuple[float, float]]]) -> Polygon | MultiPolygon:
    parts = []
    for points in groups:
        hull = shapely.MultiPoint([(lng, lat) for lat, lng in points]).convex_hull
        # Widen where a degree of longitude is as long as one of latitude, then scale back.
        k = math.cos(math.radians(sum(p[0] for p in points) / len(points)))
        squashed = affinity.scale(hull, xfact=k, origin=(0, 0))
        widened = squashed.buffer(FOOTPRINT_MARGIN_DEG, quad_segs=4)
        parts.append(affinity.scale(widened, xfact=1 / k, origin=(0, 0)))
    # Snapped to a 1e-6 degree grid (~0.1 m): shorter JSON, and the stored outline is exactly
    # the one the bounding box was taken from.
    footprint = shapely.set_precision(shapely.union_all(parts), FOOTPRINT_GRID_DEG)
    if isinstance(footprint, Polygon | MultiPolygon):
        return footprint
    # a union of polygons is one of the two; keep mypy and readers sure of it
    return MultiPolygon([g for g in footprint.geoms if isinstance(g, Polygon)])


def union_area(areas: Sequence[Area], tolerance_deg: float = 0.0) -> Area:
    """One polygon area covering all of ``areas`` (a force made of its teams' patches);
    ``tolerance_deg`` simplifies the outline (never shrinking it below the parts' union by
    more than the tolerance), which keeps a force's area small enough to store and test."""
    if len(areas) == 1 and not tolerance_deg:
        return areas[0]
    merged = shapely.union_all([a.geometry for a in areas])
    if tolerance_deg:
        merged = merged.buffer(tolerance_deg, quad_segs=2).simplify(tolerance_deg)
    polygons = [g for g in getattr(merged, "geoms", [merged]) if isinstance(g, Polygon)]
    geometry = merged if isinstance(merged, Polygon | MultiPolygon) else MultiPolygon(polygons)
    return Area("polygon", geometry)


def widen_area(area: Area, metres: float) -> Area:
    """``area`` grown by ``metres`` all round (a circle stays a circle; anything else becomes
    the polygon of its outline, buffered where a degree of longitude is as long as one of
    latitude and scaled back, as footprints are)."""
    if metres <= 0:
        return area
    if area.kind == "circle":
        assert area.center is not None and area.radius_m is not None
        return circle_area(area.center[0], area.center[1], area.radius_m + metres)
    k = math.cos(math.radians(area.centroid[0]))
    squashed = affinity.scale(area.geometry, xfact=k, origin=(0, 0))
    widened = squashed.buffer(metres / METRES_PER_DEGREE_LAT, quad_segs=8)
    geometry = shapely.set_precision(
        affinity.scale(widened, xfact=1 / k, origin=(0, 0)), FOOTPRINT_GRID_DEG
    )
    return Area("polygon", geometry)


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
        return Area("polygon", _shape(data["geometry"]))
    if kind == "postcodes":
        return Area("postcodes", _shape(data["footprint"]), postcodes=tuple(data["postcodes"]))
    raise AreaInvalid(f"unknown area type {kind!r}: use postcodes, circle or polygon")
