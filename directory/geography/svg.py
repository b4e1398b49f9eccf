"""A small map as inline SVG: an area's outline and a marked point, no tile server. Pure.

Longitudes are scaled by the cosine of the middle latitude (a local equirectangular
projection: at a neighbourhood's size the distortion is far below a pixel), north up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

WIDTH = 320.0
PAD = 8.0
MAX_POINTS = 400  # per ring, after simplification: a light page however detailed the boundary


@dataclass(frozen=True)
class SvgMap:
    width: float
    height: float
    path: str  # the outline as one SVG path ("M x y L ... Z" per ring)
    marker: tuple[float, float] | None  # the place, in the same coordinates
    # The projection, so another place can be marked on the same outline (``with_marker``).
    origin: tuple[float, float] = (0.0, 0.0)  # (min lng, max lat)
    scale: tuple[float, float] = (1.0, 1.0)  # (cos of the middle latitude, pixels per degree)

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width:.0f} {self.height:.0f}"

    def with_marker(self, point: tuple[float, float]) -> SvgMap:
        """The same map with ``point`` (lat, lng) marked, or unmarked when it falls outside."""
        x = PAD + (point[1] - self.origin[0]) * self.scale[0] * self.scale[1]
        y = PAD + (self.origin[1] - point[0]) * self.scale[1]
        inside = 0 <= x <= self.width and 0 <= y <= self.height
        return replace(self, marker=(x, y) if inside else None)


def svg_map(geometry: BaseGeometry | None, point: tuple[float, float] | None,
            width: float = WIDTH) -> SvgMap | None:  # fmt: skip
    """The outline of ``geometry`` (lng/lat) and ``point`` (lat, lng) fitted into ``width``
    pixels; None when there is nothing to draw."""
    polygons = _polygons(geometry)
    if not polygons and point is None:
        return None
    lngs, lats = [], []
    for polygon in polygons:
        xs, ys = polygon.exterior.coords.xy
        lngs += list(xs)
        lats += list(ys)
    if point is not None:
        lats.append(point[0])
        lngs.append(point[1])
    min_lng, max_lng, min_lat, max_lat = min(lngs), max(lngs), min(lats), max(lats)
    scale_x = math.cos(math.radians((min_lat + max_lat) / 2))
    span_x = max((max_lng - min_lng) * scale_x, 0.002)
    span_y = max(max_lat - min_lat, 0.002)
    unit = (width - 2 * PAD) / max(span_x, span_y)
    height = span_y * unit + 2 * PAD
    width_used = span_x * unit + 2 * PAD

    def xy(lng: float, lat: float) -> tuple[float, float]:
        return (PAD + (lng - min_lng) * scale_x * unit, PAD + (max_lat - lat) * unit)

    parts = []
    for polygon in polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            coords = list(ring.coords)
            if len(coords) > MAX_POINTS:
                step = math.ceil(len(coords) / MAX_POINTS)
                coords = coords[::step] + [coords[0]]
            points = [xy(lng, lat) for lng, lat in coords]
            parts.append("M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in points) + " Z")
    marker = xy(point[1], point[0]) if point is not None else None
    return SvgMap(round(width_used, 1), round(height, 1), " ".join(parts), marker,
                  (min_lng, max_lat), (scale_x, unit))  # fmt: skip


def _polygons(geometry: BaseGeometry | None) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, MultiPolygon):
        return list(geometry.geoms)
    return []
