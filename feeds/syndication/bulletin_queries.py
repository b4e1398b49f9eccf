"""Reading bulletins: one by id, a page of them around a place, a subscription's feed.

Only what the API and the outlet feeds read; making, resolving and withdrawing bulletins is
``feeds.syndication.bulletins``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, undefer

from directory.geography.area_cache import AREAS
from directory.geography.areas import Area
from directory.geography.geo import BoundingBox
from directory.sites.models import Site
from directory.storage import Page, database_key, paginate, utcnow
from feeds.syndication.closing import CLOSED_STATUSES, CLOSING_SHOWN, ClosingStub, closing_stub
from feeds.syndication.models import Bulletin, BulletinDelivery, Subscription, WebhookMessage


class BulletinNotFound(LookupError):
    """No bulletin with that id."""


def bulletin_area(bulletin: Bulletin, session: Session) -> Area | None:
    """The bulletin's target area, from the area cache."""
    if bulletin.min_lat is None:
        return None

    def load(ids: list[int]) -> dict[int, Any]:
        return dict(session.execute(select(Bulletin.id, Bulletin.area)
                                    .where(Bulletin.id.in_(ids))).all())  # fmt: skip

    found = AREAS.areas(
        (database_key(session), "bulletins"), [(bulletin.id, bulletin.updated_at)], load
    )
    return found.get(bulletin.id)


def get_bulletin(session: Session, bulletin_id: int) -> Bulletin:
    bulletin = (
        session.get(Bulletin, bulletin_id, options=[undefer(Bulletin.area)])
        if 0 < bulletin_id < 2**31
        else None
    )
    if bulletin is None:
        raise BulletinNotFound(f"no bulletin with id {bulletin_id}")
    return bulletin


def list_bulletins(
    session: Session,
    *,
    box: BoundingBox | None = None,
    near: tuple[float, float, float] | None = None,
    kinds: Sequence[str] = (),
    statuses: Sequence[str] = ("active",),
    force_id: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Bulletin]:
    """Bulletins newest first; ``near`` = (lat, lng, radius_m) keeps those whose area holds
    the point or lies within the radius (``box`` is its bounding box, for the index)."""
    query = select(Bulletin).options(undefer(Bulletin.area))
    if statuses:
        query = query.where(Bulletin.status.in_(list(statuses)))
    if kinds:
        query = query.where(Bulletin.kind.in_(list(kinds)))
    if force_id:
        query = query.where(Bulletin.force_id == force_id)
    query = query.order_by(Bulletin.published_at.desc(), Bulletin.id.desc())
    if near is None or box is None:
        return paginate(session, query, page, per_page)
    lat, lng, radius = near
    query = query.where(
        Bulletin.min_lat <= box.max_lat, Bulletin.max_lat >= box.min_lat,
        Bulletin.min_lng <= box.max_lng, Bulletin.max_lng >= box.min_lng,
    )  # fmt: skip
    found = [
        b for b in session.scalars(query.limit(5000))
        if (area := bulletin_area(b, session)) is not None and area.distance_m(lat, lng) <= radius
    ]  # fmt: skip
    start = (page - 1) * per_page
    return Page(found[start : start + per_page], page, per_page, len(found))


def _in_feed(now: datetime) -> Any:
    """What a subscription feed carries: active bulletins, and for ``CLOSING_SHOWN`` the
    stubs of those resolved or cancelled."""
    closing = and_(Bulletin.status.in_(CLOSED_STATUSES), Bulletin.resolved_at > now - CLOSING_SHOWN)
    return or_(Bulletin.status == "active", closing)


def subscription_bulletins(
    session: Session, subscription_id: int, limit: int = 50, now: datetime | None = None
) -> list[Bulletin | ClosingStub]:
    """The bulletins delivered to a subscription, newest first (its feed): the active ones,
    and the closing stubs of those closed in the last 48 hours, in their place."""
    now = now or utcnow()
    query = (
        select(Bulletin)
        .join(BulletinDelivery, BulletinDelivery.bulletin_id == Bulletin.id)
        .where(BulletinDelivery.subscription_id == subscription_id, _in_feed(now))
        .options(undefer(Bulletin.area))
        .order_by(Bulletin.published_at.desc(), Bulletin.id.desc())
        .limit(limit)
    )
    return [b if b.status == "active" else closing_stub(b) for b in session.scalars(query)]


def feed_version(
    session: Session, subscription_id: int, now: datetime | None = None
) -> tuple[int, datetime | None]:
    """(count, newest change) of what a subscription's feed shows: an ETag and Last-Modified
    that move when a bulletin arrives, changes or is closed, and when a closing stub goes."""
    now = now or utcnow()
    row = session.execute(
        select(func.count(), func.max(Bulletin.updated_at))
        .select_from(BulletinDelivery)
        .join(Bulletin, BulletinDelivery.bulletin_id == Bulletin.id)
        .where(BulletinDelivery.subscription_id == subscription_id, _in_feed(now))
    ).first()
    return (row[0], row[1]) if row else (0, None)


def outlets_of(session: Session, subscription_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The outlets behind these subscriptions: each subscription's site and channels."""
    if not subscription_ids:
        return []
    rows = session.execute(
        select(Subscription.id, Subscription.channels, Site.id, Site.name)
        .join(Site, Site.id == Subscription.site_id)
        .where(Subscription.id.in_(list(subscription_ids)))
        .order_by(Site.name, Subscription.id)
    ).all()
    return [{"subscription_id": sub_id, "channels": channels, "site_id": site_id,
             "site_name": name} for sub_id, channels, site_id, name in rows]  # fmt: skip


def deliveries_of(session: Session, bulletin_id: int) -> list[dict[str, Any]]:
    """Each outlet a bulletin reached (its site, subscription and channels, when matched),
    with the webhook events sent to it about this bulletin and how each went."""
    rows = session.execute(
        select(BulletinDelivery.subscription_id, BulletinDelivery.matched_at,
               Subscription.channels, Site.id, Site.name)
        .join(Subscription, Subscription.id == BulletinDelivery.subscription_id)
        .join(Site, Site.id == Subscription.site_id)
        .where(BulletinDelivery.bulletin_id == bulletin_id)
        .order_by(Site.name, BulletinDelivery.subscription_id)
    ).all()  # fmt: skip
    events: dict[int, list[dict[str, Any]]] = {}
    messages = session.scalars(select(WebhookMessage).where(
        WebhookMessage.bulletin_id == bulletin_id).order_by(WebhookMessage.id))  # fmt: skip
    for message in messages:
        events.setdefault(message.subscription_id, []).append({
            "event": message.event, "status": message.status, "attempts": message.attempts,
            "last_status": message.last_status, "last_error": message.last_error,
            "delivered_at": message.delivered_at,
        })  # fmt: skip
    return [{"subscription_id": sub_id, "site_id": site_id, "site_name": name,
             "channels": channels, "matched_at": matched_at, "webhook": events.get(sub_id, [])}
            for sub_id, matched_at, channels, site_id, name in rows]  # fmt: skip
