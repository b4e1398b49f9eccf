"""Which police force's area a point or an area lies in, from the nearest postcode's district
(``directory.geography.police_force_areas``): known before any team boundary is imported."""

from __future__ import annotations

from directory.geography.areas import Area
from directory.geography.police_force_areas import (
    ForceArea,
    districts_of_force,
    force_area_of_district,
)
from directory.geography.postcodes import nearest_postcodes
from directory.storage import Reader

NEAREST_POSTCODE_M = 3_000  # a point's district is its nearest postcode's, this close


def force_area_at(db: Reader, lat: float, lng: float) -> ForceArea | None:
    """The police force area of the postcode nearest a point (within 3 km), if any."""
    nearest = nearest_postcodes(db, lat, lng, NEAREST_POSTCODE_M, 1)
    if not nearest or nearest[0].record.district is None:
        return None
    return force_area_of_district(nearest[0].record.district.code)


def outside_force(db: Reader, area: Area, force_id: str) -> ForceArea | None:
    """The force area an area's centre lies in when that is not ``force_id``'s (None when it is
    inside, or when the force or the place is not in the lookup and nothing can be said)."""
    if not districts_of_force(force_id):
        return None
    lat, lng = area.centroid
    found = force_area_at(db, lat, lng)
    if found is None or found.force_id == force_id:
        return None
    return found
