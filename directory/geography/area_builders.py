"""Making areas from what people and imports give: checked polygons, postcode sets with their
footprint, unions and widened areas.

A polygon a person sends is refused with the reason (unclosed ring, self-intersection and where,
too many vertices, outside the UK); an imported boundary that crosses itself is repaired and
counted instead. The ``Area`` type and its stored JSON are ``directory.geography.areas``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from directory.geography.areas import (
    Area,
    AreaInvalid,
    as_number,
    check_point,
    circle_area,
    geometry_from_json,
)
from directory.geography.geo import (
    METRES_PER_DEGREE_LAT,
)
from directory.geography.postcode_format import PostcodeInvalid, parse_postcode

# A postcode set's footprint: the hull of each code's units, widened by about 100 m (in degrees
# of latitude; longitude is scaled), since a unit's point is only the middle of its addresses.
FOOTPRINT_MARGIN_DEG = 0.0009
FOOTPRINT_GRID_DEG = 1e-6
MAX_POSTCODES_PER_AREA = 500
MAX_POLYGON_VERTICES = 20_000


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
    geometry = geometry_from_json({"type": kind, "coordinates": coordinates})
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
        check_point(lat, lng, f"{name} position")
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
