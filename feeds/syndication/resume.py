"""A paused subscription, or one whose webhook was disabled, catches up when it resumes.

While paused nothing is queued for it (a month of events to an outlet that turned them off
would arrive stale and in bulk). What it is owed is the latest state of each bulletin that
changed meanwhile, and that is what the resume queues, once per bulletin:

- a bulletin it had whose status changed (found, cancelled, expired) gets its withdrawal or
  update, so a missing person found during a pause is taken down afterwards;
- a bulletin it had that was edited gets ``bulletin.updated`` with the current text;
- a bulletin it matched during a webhook outage, never received, gets ``bulletin.published``
  if it is still active (a closed one it never heard of needs nothing);
- a bulletin published while the subscription itself was paused (and so never matched to
  it) is matched now, and published if it is still active.

"Had" means a message about it was delivered or is still queued; failed and cancelled
messages are not what the outlet heard.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.geography.areas import area_from_json
from feeds.syndication.bulletins import bulletin_json, closed_event_data, withdrawal_event
from feeds.syndication.matching import deliver, subscriptions_matching
from feeds.syndication.models import Bulletin, BulletinDelivery, Subscription, WebhookMessage
from feeds.syndication.outbox import enqueue_events

HEARD = ("delivered", "pending")


def receiving(subscription: Subscription) -> bool:
    """Whether events reach this subscription now."""
    return subscription.active and subscription.webhook_state in ("active", "none")


def resume(session: Session, subscription: Subscription, now: datetime) -> int:
    """If the subscription was paused and receives again, queue what it missed (see the
    module); how many events were queued. No commit."""
    since = subscription.paused_at
    if since is None or not receiving(subscription):
        return 0
    subscription.paused_at = None
    session.flush()
    _match_missed(session, subscription, since, now)
    queued = 0
    for bulletin, last_heard in _changed_since(session, subscription.id, since):
        event = _owed(bulletin, last_heard)
        if event is None:
            continue
        data = (
            bulletin_json(bulletin) if bulletin.status == "active" else closed_event_data(bulletin)
        )
        queued += len(enqueue_events(session, [subscription.id], event, data, bulletin.id, now))
    return queued


def _owed(bulletin: Bulletin, last_heard: datetime | None) -> str | None:
    """The event that brings an outlet from what it last heard of the bulletin to now."""
    if last_heard is None:
        return "bulletin.published" if bulletin.status == "active" else None
    if bulletin.updated_at <= last_heard:
        return None
    return "bulletin.updated" if bulletin.status == "active" else withdrawal_event(bulletin)


def _changed_since(
    session: Session, subscription_id: int, since: datetime
) -> list[tuple[Bulletin, datetime | None]]:
    """The subscription's bulletins changed or published since ``since``, each with when a
    message about it that the outlet heard was last queued."""
    heard = (
        select(WebhookMessage.bulletin_id, func.max(WebhookMessage.created_at).label("at"))
        .where(
            WebhookMessage.subscription_id == subscription_id,
            WebhookMessage.status.in_(HEARD),
        )
        .group_by(WebhookMessage.bulletin_id)
        .subquery()
    )
    rows = session.execute(
        select(Bulletin, heard.c.at)
        .join(BulletinDelivery, BulletinDelivery.bulletin_id == Bulletin.id)
        .outerjoin(heard, heard.c.bulletin_id == Bulletin.id)
        .where(BulletinDelivery.subscription_id == subscription_id, Bulletin.updated_at >= since)
        .order_by(Bulletin.published_at, Bulletin.id)
    ).all()
    return [(bulletin, at) for bulletin, at in rows]


def _match_missed(session: Session, subscription: Subscription, since: datetime,
                  now: datetime) -> None:  # fmt: skip
    """Match to the subscription the active bulletins published while it was paused (the
    same rule as at publication: the area, the kinds, force-wide choices, an approved site)."""
    delivered = select(BulletinDelivery.bulletin_id).where(
        BulletinDelivery.subscription_id == subscription.id
    )
    candidates = session.scalars(
        select(Bulletin).where(
            Bulletin.status == "active",
            Bulletin.published_at >= since,
            Bulletin.kind.in_(subscription.kinds),
            Bulletin.id.not_in(delivered),
        )
    ).all()
    for bulletin in candidates:
        if bulletin.area is None:
            continue
        area = area_from_json(bulletin.area)
        matched = subscriptions_matching(session, area, bulletin.kind,
                                         force_wide=bulletin.located_by == "force")  # fmt: skip
        if subscription.id in matched:
            deliver(session, bulletin.id, [subscription.id], now)
