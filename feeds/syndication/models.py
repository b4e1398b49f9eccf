"""The syndication tables: bulletins, subscriptions and the webhook outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

# Posts (and through them the directory's tables) are referenced by foreign key.
import feeds.ingest.models  # noqa: F401
from directory.storage import Base, UTCDateTime

BULLETIN_KINDS = ("appeal", "missing", "wanted", "warning", "update")
BULLETIN_STATUSES = ("active", "resolved", "cancelled", "expired")
# How a bulletin's area was found, most precise first (see feeds.syndication.bulletin_location).
LOCATED_BY = ("given", "point", "postcode", "place", "neighbourhood", "force", "unlocated")
# Force-wide bulletins a subscription gets unless it says otherwise: warnings concern everyone
# in the force area; an appeal or a missing person with no place is noise to most outlets.
DEFAULT_FORCE_WIDE = ("warning",)
# How precise each way of locating is, as outlets read it ("force": the whole force area).
PRECISION = {"given": "given", "point": "point", "postcode": "postcode", "place": "place",
             "neighbourhood": "team", "force": "force", "unlocated": None}  # fmt: skip


class Bulletin(Base):
    """A police appeal, missing-person notice, wanted notice, warning or update.

    Made from a new item of a police-owned feed (``post_id``) or posted directly by a force.
    ``area`` is the target Area's JSON with its bounding box copied into indexed columns, like a
    site's coverage; NULL (and no box) when nothing located it. Only ``active`` bulletins are
    syndicated; a missing-person bulletin that is resolved or cancelled is withdrawn.
    """

    __tablename__ = "bulletins"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('appeal', 'missing', 'wanted', 'warning', 'update')", name="kind_known"
        ),
        CheckConstraint(
            "status IN ('active', 'resolved', 'cancelled', 'expired')", name="status_known"
        ),
        Index("ix_bulletins_bbox", "status", "min_lat", "max_lat", "min_lng", "max_lng"),
        Index("ix_bulletins_force_id_published_at", "force_id", "published_at"),
        Index("ix_bulletins_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(500))
    body_html: Mapped[str] = mapped_column(Text)  # sanitised (nh3) as every stored post is
    link: Mapped[str | None] = mapped_column(String(2000), index=True)
    guid: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(10))  # "feed" or "direct"
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), unique=True
    )
    force_id: Mapped[str | None] = mapped_column(ForeignKey("police_forces.id", ondelete="CASCADE"))
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(500))  # why this kind (the deciding rules)
    severity: Mapped[str | None] = mapped_column(String(10))  # CAP 1.2, warnings only
    urgency: Mapped[str | None] = mapped_column(String(10))
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    area_kind: Mapped[str | None] = mapped_column(String(10))
    min_lat: Mapped[float | None] = mapped_column(Float)
    min_lng: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    max_lng: Mapped[float | None] = mapped_column(Float)
    located_by: Mapped[str] = mapped_column(String(15))
    location: Mapped[str | None] = mapped_column(String(300))  # what located it, in words
    # What located it, as lists: the postcodes the text names that the postcode data knows
    # ("LS8", "LS9") and the places of the force's area it names ("Harehills", "Leeds").
    postcodes: Mapped[list[str] | None] = mapped_column(JSON)
    places: Mapped[list[str] | None] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulletins.id", ondelete="SET NULL")
    )
    resolution: Mapped[str | None] = mapped_column(String(300))
    # When its words changed after publication (ISO 8601, oldest first): each is a CAP Update.
    revisions: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


WEBHOOK_STATES = ("none", "active", "disabled")


class Subscription(Base):
    """An outlet's subscription to bulletins: which kinds, where, and how they reach it.

    ``area`` is the effective target (the site's coverage, widened by ``radius_m``, unless the
    editor gave one: ``follows_site``); its box is in indexed columns for matching. Feeds are
    served at ``/subscriptions/feeds/<token>``; a webhook endpoint gets signed events.
    ``webhook_secrets`` holds the current secret first and, during a rotation, the previous
    ones with when they stop being used to sign.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index(
            "ix_subscriptions_bbox",
            "active",
            "min_lat",
            "max_lat",
            "min_lng",
            "max_lng",
            "updated_at",
        ),  # fmt: skip
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    follows_site: Mapped[bool] = mapped_column(Boolean)
    radius_m: Mapped[float] = mapped_column(Float)
    area: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    area_kind: Mapped[str] = mapped_column(String(10))
    min_lat: Mapped[float] = mapped_column(Float)
    min_lng: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    max_lng: Mapped[float] = mapped_column(Float)
    channels: Mapped[list[str]] = mapped_column(JSON)  # "feed", "webhook"
    # The kinds it also wants when a bulletin could only be located to a whole force area
    # (null: DEFAULT_FORCE_WIDE). Force-wide is a choice, not an accident.
    force_wide_kinds: Mapped[list[str] | None] = mapped_column(JSON)
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secrets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    webhook_state: Mapped[str] = mapped_column(String(10))
    webhook_disabled_reason: Mapped[str | None] = mapped_column(String(300))
    webhook_failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Since when events have not reached the outlet (paused, or its webhook disabled); the
    # resume sends the latest state of what changed meanwhile (feeds/syndication/resume.py).
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BulletinDelivery(Base):
    """A bulletin matched to a subscription: the outbox row, unique per pair.

    Written in the transaction that publishes the bulletin, so a bulletin is never public
    without its deliveries, and two workers matching it at once deliver it once.
    """

    __tablename__ = "bulletin_deliveries"
    __table_args__ = (Index("ix_bulletin_deliveries_subscription", "subscription_id",
                            "bulletin_id"),)  # fmt: skip

    bulletin_id: Mapped[int] = mapped_column(
        ForeignKey("bulletins.id", ondelete="CASCADE"), primary_key=True
    )
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)


WEBHOOK_EVENTS = ("bulletin.published", "bulletin.updated", "bulletin.withdrawn", "test")
MESSAGE_STATUSES = ("pending", "delivered", "failed", "cancelled")


class WebhookMessage(Base):
    """One event for one subscription's endpoint; ``msg_id`` is its stable ``webhook-id``.

    The payload is fixed when the event happens, so a retry or a redelivery sends the same
    bytes under the same id (receivers deduplicate on it). ``next_attempt_at`` schedules
    retries and leases the message to the worker sending it.
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        Index("ix_webhook_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_messages_subscription_id_id", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(40), unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    bulletin_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulletins.id", ondelete="SET NULL"), index=True
    )
    event: Mapped[str] = mapped_column(String(30))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON bytes signed and sent
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """One try at sending a message: the delivery log an editor reads."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)


class HubSubscription(Base):
    """A feed reader's WebSub subscription to one of our subscription feeds (we are the hub).

    ``pending`` until the callback confirmed the intent (``mode`` is what was asked:
    subscribe or unsubscribe), then ``active`` until ``expires_at``. When the feed changes
    (its version differs from ``pushed_version``) its new content is pushed, signed with
    ``secret`` when the subscriber gave one.
    """

    __tablename__ = "hub_subscriptions"
    __table_args__ = (UniqueConstraint("subscription_id", "fmt", "callback_url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    fmt: Mapped[str] = mapped_column(String(5))
    topic_url: Mapped[str] = mapped_column(String(2000))
    callback_url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(10))  # pending, active
    mode: Mapped[str | None] = mapped_column(String(12))  # awaiting verification of this
    lease_seconds: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    pushed_version: Mapped[str | None] = mapped_column(String(100))
    last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(String(300))
    failures: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
