"""Which police force's area a point or an area lies in, from the nearest postcode's district
(``directory.geography.police_force_areas``): known before any team boundary is imported."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.geography.area_builders import footprint_area, union_area
from directory.geography.areas import Area
from directory.geography.models import Postcode
from directory.geography.police_force_areas import (
    ForceArea,
    districts_of_force,
    force_area_of_district,
)
from directory.geography.postcodes import nearest_postcodes
from directory.storage import Reader, database_key

NEAREST_POSTCODE_M = 3_000  # a point's district is its nearest postcode's, this close
FOOTPRINT_TOLERANCE_DEG = 0.001  # about 100 m: a force's area is for matching, not maps
_FOOTPRINTS: dict[tuple[str, str, int], Area] = {}
_FOOTPRINTS_LOCK = threading.Lock()


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


def force_footprint(db: Session, force_id: str) -> Area | None:
    """A force's area from the postcodes of its districts (each district's footprint, joined),
    for a force whose team boundaries are not imported: None when the lookup does not know
    the force or the postcode data has none of its districts. Kept per process until the
    number of its postcodes changes."""
    districts = sorted(districts_of_force(force_id))
    if not districts:
        return None
    live = (Postcode.district_code.in_(districts), Postcode.latitude.is_not(None),
            Postcode.terminated_on.is_(None))  # fmt: skip
    count = db.scalar(select(func.count()).select_from(Postcode).where(*live)) or 0
    if not count:
        return None
    key = (database_key(db), force_id, count)
    with _FOOTPRINTS_LOCK:
        if key in _FOOTPRINTS:
            return _FOOTPRINTS[key]
    groups: dict[str, list[tuple[float, float]]] = {}
    rows = db.execute(select(Postcode.district_code, Postcode.latitude, Postcode.longitude)
                      .where(*live))  # fmt: skip
    for district, lat, lng in rows:
        groups.setdefault(district, []).append((lat, lng))
    area = union_area([footprint_area([points]) for points in groups.values()],
                      FOOTPRINT_TOLERANCE_DEG)  # fmt: skip
    with _FOOTPRINTS_LOCK:
        if len(_FOOTPRINTS) > 64:
            _FOOTPRINTS.clear()
        _FOOTPRINTS[key] = area
    return area
