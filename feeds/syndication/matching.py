"""Which subscriptions a bulletin's area meets, and the deliveries that record each match once.

A box query over the subscriptions' indexed bounding boxes (bounded by the largest extent a
subscription may have), then area intersection with the areas from the per-process cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from directory.geography.area_cache import AREAS
from directory.geography.areas import Area
from directory.geography.geo import METRES_PER_DEGREE_LAT
from directory.sites.models import Site
from directory.storage import database_key, insert_ignoring
from feeds.syndication.models import DEFAULT_FORCE_WIDE, BulletinDelivery, Subscription
from feeds.syndication.subscriptions import MAX_SUBSCRIPTION_EXTENT_M

# How far south of a bulletin's box a matching subscription's box may start.
_MAX_HEIGHT_DEG = MAX_SUBSCRIPTION_EXTENT_M / METRES_PER_DEGREE_LAT
_BOXES = (
    select(
        Subscription.id, Subscription.updated_at, Subscription.kinds, Subscription.force_wide_kinds
    )
    .join(Site, Site.id == Subscription.site_id)
    .where(Site.status == "approved")
    .where(
        Subscription.active.is_(True),
        Subscription.min_lat.between(bindparam("lowest_min_lat"), bindparam("max_lat")),
        Subscription.max_lat >= bindparam("min_lat"),
        Subscription.min_lng <= bindparam("max_lng"),
        Subscription.max_lng >= bindparam("min_lng"),
    )
)
_AREAS = select(Subscription.id, Subscription.area).where(
    Subscription.id.in_(bindparam("ids", expanding=True))
)


def subscriptions_matching(
    session: Session, area: Area, kind: str, force_wide: bool = False
) -> list[int]:
    """Ids of the active subscriptions that want ``kind`` and whose area meets ``area``; a
    ``force_wide`` bulletin (located only to a whole force area) only those that want its kind
    force-wide too (``Subscription.force_wide_kinds``).

    The box index narrows the candidates; the kinds are checked on the rows it returns; only
    then are areas (from the cache) intersected.
    """
    box = area.bbox
    connection = session.connection()
    rows = connection.execute(
        _BOXES,
        {
            "lowest_min_lat": box.min_lat - _MAX_HEIGHT_DEG,
            "max_lat": box.max_lat,
            "min_lat": box.min_lat,
            "max_lng": box.max_lng,
            "min_lng": box.min_lng,
        },
    ).all()

    def wants(row: Any) -> bool:
        if kind not in row.kinds:
            return False
        chosen = row.force_wide_kinds if row.force_wide_kinds is not None else DEFAULT_FORCE_WIDE
        return not force_wide or kind in chosen

    wanted = [(row.id, row.updated_at) for row in rows if wants(row)]
    if not wanted:
        return []

    def load(ids: list[int]) -> dict[int, Any]:
        return dict(connection.execute(_AREAS, {"ids": ids}).all())

    areas = AREAS.areas((database_key(session), "subscriptions"), wanted, load)
    return sorted(i for i, covered in areas.items() if covered.intersects(area))


def deliver(session: Session, bulletin_id: int, subscription_ids: Sequence[int],
            now: datetime) -> list[int]:  # fmt: skip
    """Record the matches (unique per pair); returns the subscriptions newly matched, so a
    second worker matching the same bulletin adds nothing."""
    if not subscription_ids:
        return []
    table = BulletinDelivery.__table__
    rows = [
        {"bulletin_id": bulletin_id, "subscription_id": s, "matched_at": now}
        for s in subscription_ids
    ]
    statement = insert_ignoring(session, table, ["bulletin_id", "subscription_id"]).returning(
        table.c.subscription_id
    )
    return sorted(session.scalars(statement, rows).all())


def delivered_to(session: Session, bulletin_id: int) -> list[int]:
    return list(
        session.scalars(
            select(BulletinDelivery.subscription_id).where(
                BulletinDelivery.bulletin_id == bulletin_id
            )
        )
    )
