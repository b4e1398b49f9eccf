"""Plane-free geometry on the Earth's surface: distances, bounding boxes, latitude bands.

Pure functions. Distances are great-circle metres on geopy's mean Earth radius; the closed form
is written here because the nearest-postcode search evaluates it for every candidate row, where
``geopy.distance.great_circle`` (same formula, same radius, ~6 µs a call) would dominate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from geopy.distance import EARTH_RADIUS

EARTH_RADIUS_M = EARTH_RADIUS * 1000.0
METRES_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180.0

# Latitude bands of 1/100 degree (~1.1 km) index postcodes for the nearest search.
LAT_BANDS_PER_DEGREE = 100

# Generous bounds of the UK, the Channel Islands and the Isle of Man, for input checks.
UK_LAT_RANGE = (49.0, 61.0)
UK_LNG_RANGE = (-8.8, 2.0)


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A latitude/longitude rectangle, for SQL prefiltering."""

    min_lat: float
    min_lng: float
    max_lat: float
    max_lng: float

    @property
    def extent_m(self) -> float:
        """The longer side in metres (the width measured at the middle latitude)."""
        height = (self.max_lat - self.min_lat) * METRES_PER_DEGREE_LAT
        width = (
            (self.max_lng - self.min_lng)
            * METRES_PER_DEGREE_LAT
            * math.cos(math.radians((self.min_lat + self.max_lat) / 2))
        )
        return max(height, width)

    def contains(self, lat: float, lng: float) -> bool:
        """True if the point lies inside or on the edge."""
        return self.min_lat <= lat <= self.max_lat and self.min_lng <= lng <= self.max_lng


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine; equal to geopy's great_circle)."""
    return metres_from_haversine(haversine_from(lat1, lng1)(lat2, lng2))


def haversine_from(lat: float, lng: float) -> Callable[[float, float], float]:
    """A function giving the haversine term h from (lat, lng) to another point.

    h grows with distance, so ranking and radius tests can use it directly and leave the
    asin/sqrt of :func:`metres_from_haversine` to the few results that are returned.
    """
    p1 = math.radians(lat)
    cos_p1 = math.cos(p1)
    radians, sin, cos = math.radians, math.sin, math.cos

    def haversine(lat2: float, lng2: float) -> float:
        p2 = radians(lat2)
        return sin((p2 - p1) / 2) ** 2 + cos_p1 * cos(p2) * sin(radians(lng2 - lng) / 2) ** 2

    return haversine


def haversine_of_metres(metres: float) -> float:
    """The haversine term h of a distance: points within ``metres`` have h at most this."""
    return math.sin(metres / (2 * EARTH_RADIUS_M)) ** 2


def metres_from_haversine(h: float) -> float:
    """The great-circle distance in metres of a haversine term h."""
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bbox_around(lat: float, lng: float, radius_m: float) -> BoundingBox:
    """The smallest lat/lng box holding every point within ``radius_m`` of (lat, lng)."""
    dlat = radius_m / METRES_PER_DEGREE_LAT
    cos_lat = max(math.cos(math.radians(min(89.9, abs(lat) + dlat))), 1e-6)
    dlng = dlat / cos_lat
    return BoundingBox(lat - dlat, lng - dlng, lat + dlat, lng + dlng)


def lat_band(lat: float) -> int:
    """The index band of a latitude (hundredths of a degree, floored)."""
    return math.floor(lat * LAT_BANDS_PER_DEGREE)


def lat_bands(box: BoundingBox) -> list[int]:
    """Every band a bounding box touches, for ``lat_band IN (...)``."""
    return list(range(lat_band(box.min_lat), lat_band(box.max_lat) + 1))


def in_uk(lat: float, lng: float) -> bool:
    """True if the point is within the (generous) bounds of the UK and Crown Dependencies."""
    return UK_LAT_RANGE[0] <= lat <= UK_LAT_RANGE[1] and UK_LNG_RANGE[0] <= lng <= UK_LNG_RANGE[1]
