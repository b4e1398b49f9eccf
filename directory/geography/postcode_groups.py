"""Districts (outcodes) and sectors of the postcode data: their centroid, box and unit counts.

Each is one primary-key range of the display-form keys ("WV11 " to "WV11!"), so a summary is a
single indexed aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select

from directory.geography.geo import (
    BoundingBox,
)
from directory.geography.models import Postcode
from directory.geography.postcode_format import ParsedPostcode, PostcodeInvalid, parse_postcode
from directory.geography.postcodes import NO_COORDINATES, PostcodeNotFound, key_range
from directory.storage import Reader, connection_of


@dataclass(frozen=True, slots=True)
class PostcodeGroupSummary:
    """Centroid, extent and counts of the units in a district or sector."""

    code: str
    postcode_count: int
    live_count: int
    terminated_count: int
    latitude: float | None
    longitude: float | None
    bbox: BoundingBox | None


def _summary_columns() -> list:
    """Aggregates shared by district and sector summaries; positions only from located units."""
    located = Postcode.quality != NO_COORDINATES
    return [
        func.count(),
        func.count(Postcode.terminated_on),
        func.avg(case((located, Postcode.latitude))),
        func.avg(case((located, Postcode.longitude))),
        func.min(case((located, Postcode.latitude))),
        func.min(case((located, Postcode.longitude))),
        func.max(case((located, Postcode.latitude))),
        func.max(case((located, Postcode.longitude))),
    ]


def _summary(code: str, row: Sequence) -> PostcodeGroupSummary:
    total, terminated, lat, lng, min_lat, min_lng, max_lat, max_lng = row
    return PostcodeGroupSummary(
        code=code,
        postcode_count=total,
        live_count=total - terminated,
        terminated_count=terminated,
        latitude=round(lat, 6) if lat is not None else None,
        longitude=round(lng, 6) if lng is not None else None,
        bbox=BoundingBox(min_lat, min_lng, max_lat, max_lng) if min_lat is not None else None,
    )


def _parse_outcode(text: str) -> ParsedPostcode:
    parsed = parse_postcode(text)
    if parsed.kind != "district":
        raise PostcodeInvalid(
            f"'{parsed.display}' is a postcode {parsed.kind}, not an outcode such as 'WV11'"
        )
    return parsed


def postcode_group_summary(db: Reader, parsed: ParsedPostcode) -> PostcodeGroupSummary:
    """Centroid, bounding box and postcode counts of a district, sector or area.

    Raises PostcodeNotFound when no units are stored under it.
    """
    row = connection_of(db).execute(select(*_summary_columns()).where(*key_range(parsed))).one()
    if row[0] == 0:
        raise PostcodeNotFound(f"{parsed.kind} not found: no postcodes in '{parsed.display}'")
    return _summary(parsed.display, row)


def outcode_summary(db: Reader, text: str) -> PostcodeGroupSummary:
    """Centroid, bounding box and postcode counts of a district ("WV11").

    Raises PostcodeInvalid for text that is not an outcode, PostcodeNotFound for one with no units.
    """
    return postcode_group_summary(db, _parse_outcode(text))


def sector_summaries(db: Reader, text: str) -> list[PostcodeGroupSummary]:
    """The summary of every sector of a district, in order ("WV11 1", "WV11 2", ...)."""
    parsed = _parse_outcode(text)
    sector_key = func.substr(Postcode.postcode, 1, func.length(Postcode.postcode) - 2)
    rows = (
        connection_of(db)
        .execute(
            select(sector_key, *_summary_columns())
            .where(*key_range(parsed))
            .group_by(sector_key)
            .order_by(sector_key)
        )
        .all()
    )
    if not rows:
        raise PostcodeNotFound(f"district not found: no postcodes in '{parsed.display}'")
    return [_summary(row[0], row[1:]) for row in rows]
