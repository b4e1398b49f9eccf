"""The figures an operator watches, read from the database (so every process agrees).

Feeds by status and kind, the webhook outbox by status with the age of the oldest message still
waiting, messages being retried, and how long delivered events took from being queued to being
accepted (the publish -> delivery latency, over the last hour). No Flask and no metrics library:
``api.metrics`` exposes these to Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feeds.ingest.models import Feed
from feeds.syndication.models import WebhookMessage

LATENCY_WINDOW = timedelta(hours=1)
LATENCY_SAMPLE = 2000


@dataclass
class Figures:
    feeds: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, kind) -> count
    messages: dict[str, int] = field(default_factory=dict)  # status -> count
    retrying: int = 0  # pending messages that have failed at least once
    oldest_pending_seconds: float = 0.0
    delivery_seconds: dict[float, float] = field(default_factory=dict)  # quantile -> seconds
    # How long the longest-waiting feed has been due and not yet taken, police and news apart:
    # a backlog shows here first (police feeds must stay within their interval).
    overdue_seconds: dict[str, float] = field(default_factory=dict)


def figures(session: Session, now: datetime) -> Figures:
    found = Figures()
    for status, kind, count in session.execute(
        select(Feed.status, Feed.kind, func.count()).group_by(Feed.status, Feed.kind)
    ):
        found.feeds[(status, kind)] = count
    for status, count in session.execute(
        select(WebhookMessage.status, func.count()).group_by(WebhookMessage.status)
    ):
        found.messages[status] = count
    pending = WebhookMessage.status == "pending"
    found.retrying = (
        session.scalar(select(func.count()).where(pending, WebhookMessage.attempts > 0)) or 0
    )
    oldest = session.scalar(select(func.min(WebhookMessage.created_at)).where(pending))
    found.oldest_pending_seconds = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    due = (Feed.status.in_(("active", "failing")), Feed.next_check_at <= now)
    for kind, owners in (("news", Feed.owner.startswith("site:")),
                         ("police", ~Feed.owner.startswith("site:"))):  # fmt: skip
        oldest = session.scalar(select(func.min(Feed.next_check_at)).where(*due, owners))
        found.overdue_seconds[kind] = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    recent = session.execute(
        select(WebhookMessage.created_at, WebhookMessage.delivered_at)
        .where(WebhookMessage.status == "delivered",
               WebhookMessage.delivered_at >= now - LATENCY_WINDOW)
        .order_by(WebhookMessage.delivered_at.desc()).limit(LATENCY_SAMPLE)
    ).all()  # fmt: skip
    waits = sorted((done - queued).total_seconds() for queued, done in recent)
    if waits:
        for quantile in (0.5, 0.95, 0.99):
            index = min(len(waits) - 1, int(quantile * len(waits)))
            found.delivery_seconds[quantile] = waits[index]
    return found
