"""Every table of the service, as SQLAlchemy 2 typed models.

Queries live in the store modules (``postcodes``, ``api_keys``); this module only says what is
stored, so Alembic's autogenerate and the migrations have one place to compare against.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.storage import Base, UTCDateTime

# Byte-order comparison for postcode keys on PostgreSQL too, whatever the database's locale, so
# that "all units of WV1" is the primary-key range ['WV1 ', 'WV1!').
POSTCODE_KEY = String(8).with_variant(String(8, collation="C"), "postgresql")


class AreaName(Base):
    """The name of a GSS code (ward, district, county, country), from Code-Point's Codelist."""

    __tablename__ = "area_names"
    __table_args__ = {"sqlite_with_rowid": False}  # joined by code on every postcode read

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(3))  # Codelist sheet: CTY, DIS, MTW, UTA, ...


class Postcode(Base):
    """One postcode unit, keyed by its display form ("WV11 1AA").

    Keyed by display form so a district's or sector's units are one primary-key range.
    ``lat_band`` (latitude in hundredths of a degree) with ``longitude`` is the index the
    nearest-postcode search walks: a few short range scans instead of an R*Tree, cheap to fill;
    ``latitude`` is in the index too, so the search never reads the table. ``lat_band`` is NULL
    for units the search must not return: those without coordinates (quality 90, kept with
    NULL position) and terminated ones.
    """

    __tablename__ = "postcodes"
    __table_args__ = (
        Index("ix_postcodes_lat_band_longitude", "lat_band", "longitude", "latitude"),
        # Partial: most units of a fresh import have no team yet, and an index of NULLs would
        # only slow the import down.
        Index(
            "ix_postcodes_neighbourhood_id",
            "neighbourhood_id",
            sqlite_where=text("neighbourhood_id IS NOT NULL"),
            postgresql_where=text("neighbourhood_id IS NOT NULL"),
        ),
        # A place named in a police appeal ("in Wednesfield") is located by its ward's or
        # district's units (directory.bulletin_location).
        Index("ix_postcodes_ward_code", "ward_code"),
        Index("ix_postcodes_district_code", "district_code"),
        {"sqlite_with_rowid": False},
    )

    postcode: Mapped[str] = mapped_column(POSTCODE_KEY, primary_key=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    lat_band: Mapped[int | None] = mapped_column(Integer)
    eastings: Mapped[int | None] = mapped_column(Integer)
    northings: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[int] = mapped_column(SmallInteger)  # Code-Point positional quality indicator
    country_code: Mapped[str | None] = mapped_column(String(9))
    county_code: Mapped[str | None] = mapped_column(String(9))
    district_code: Mapped[str | None] = mapped_column(String(9))
    ward_code: Mapped[str | None] = mapped_column(String(9))
    police_force_code: Mapped[str | None] = mapped_column(String(9))  # ONSPD "pfa"
    terminated_on: Mapped[date | None] = mapped_column(Date)
    # The neighbourhood team whose boundary holds this unit, worked out when boundaries or
    # postcodes change (directory.police.assign_postcodes), so "who is my team" is one read.
    neighbourhood_id: Mapped[int | None] = mapped_column(Integer)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(120))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


SITE_STATUSES = ("pending", "approved", "rejected")


class Site(Base):
    """A hyperlocal community site: what it is, where it publishes, the area it covers.

    ``area`` is the Area's JSON (see directory.areas); the bounding box columns copy its bbox so
    "which sites could cover this point" is an indexed range query before any geometry.
    """

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status_known"),
        # Holds every bounding-box column, so "which boxes hold this point" is answered from the
        # index alone, never reading the rows with their large coverage JSON.
        Index("ix_sites_bbox", "status", "min_lat", "max_lat", "min_lng", "max_lng", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    feed_urls: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text)
    platform: Mapped[str | None] = mapped_column(String(40))
    # Deferred: most queries only need the box columns; readers ask for it (undefer) or go
    # through directory.area_cache.
    area: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    area_kind: Mapped[str] = mapped_column(String(10))
    min_lat: Mapped[float] = mapped_column(Float)
    min_lng: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    max_lng: Mapped[float] = mapped_column(Float)
    social_accounts: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PoliceForce(Base):
    """A police force, keyed by its data.police.uk id ("leicestershire")."""

    __tablename__ = "police_forces"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text)
    telephone: Mapped[str | None] = mapped_column(String(60))
    # data.police.uk engagement methods: [{type, title, url, description}], RSS feeds included.
    engagement: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Neighbourhood(Base):
    """A neighbourhood policing team's patch: boundary, centre, contact channels.

    ``code`` is data.police.uk's neighbourhood id, unique within the force and case-sensitive.
    The boundary's bounding box is copied into indexed columns for point lookups. A team that a
    re-import no longer finds is marked inactive, never deleted.
    """

    __tablename__ = "neighbourhoods"
    __table_args__ = (
        UniqueConstraint("force_id", "code"),
        Index(
            "ix_neighbourhoods_bbox",
            "active",
            "min_lat",
            "max_lat",
            "min_lng",
            "max_lng",
            "updated_at",
        ),  # fmt: skip
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    force_id: Mapped[str] = mapped_column(ForeignKey("police_forces.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    url_force: Mapped[str | None] = mapped_column(String(2000))
    centre_lat: Mapped[float | None] = mapped_column(Float)
    centre_lng: Mapped[float | None] = mapped_column(Float)
    # A polygon Area's JSON; deferred like Site.area.
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    min_lat: Mapped[float | None] = mapped_column(Float)
    min_lng: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    max_lng: Mapped[float | None] = mapped_column(Float)
    contact_details: Mapped[dict[str, str]] = mapped_column(JSON)  # data.police.uk's, cleaned
    accounts: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # checked official accounts
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Loaded with the team in the same query: every view of a team names its force.
    force: Mapped[PoliceForce] = relationship(lazy="joined", innerjoin=True)


class Officer(Base):
    """A member of a neighbourhood team, with official accounts only."""

    __tablename__ = "officers"
    __table_args__ = (UniqueConstraint("neighbourhood_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    neighbourhood_id: Mapped[int] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    rank: Mapped[str] = mapped_column(String(120))
    bio: Mapped[str] = mapped_column(Text)
    accounts: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


FEED_KINDS = ("news", "officer", "police")
FEED_STATUSES = ("active", "failing", "retired")
FEED_OWNER_KINDS = ("site", "neighbourhood", "officer", "force")


class Feed(Base):
    """An RSS/Atom feed the service polls, and where polling it stands.

    Exactly one owner column is set (``owner`` spells it out as "site:12"). ``listed_url`` is
    the address the directory knows the feed by (a listed feed url, an account's feed, a home
    page) and is unique per owner; ``url`` is where it is fetched now, after a permanent
    redirect or discovery from a home page. ``etag``/``last_modified`` are saved in the
    transaction that stores the items they describe, so a poller killed before that commit
    simply fetches in full again.
    ``next_check_at`` both schedules the feed and leases it to the poller that claimed it.
    """

    __tablename__ = "feeds"
    __table_args__ = (
        UniqueConstraint("owner", "listed_url"),
        CheckConstraint("kind IN ('news', 'officer', 'police')", name="kind_known"),
        CheckConstraint("status IN ('active', 'failing', 'retired')", name="status_known"),
        Index("ix_feeds_status_next_check_at", "status", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listed_url: Mapped[str] = mapped_column(String(2000))
    url: Mapped[str] = mapped_column(String(2000))
    owner: Mapped[str] = mapped_column(String(80))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), index=True
    )
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhoods.id", ondelete="CASCADE"), index=True
    )
    officer_id: Mapped[int | None] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    force_id: Mapped[str | None] = mapped_column(
        ForeignKey("police_forces.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    # How the feed came to be known: "listed" (a feed url given by its owner), "account" (a
    # per-account feed of an official account), "home_page" (found on the owner's home page).
    source: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10))
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_http_status: Mapped[int | None] = mapped_column(SmallInteger)
    error_count: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    problem: Mapped[str | None] = mapped_column(String(300))  # read, but malformed
    interval_seconds: Mapped[int] = mapped_column(Integer)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    item_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Post(Base):
    """One item of a feed, sanitised, unique per feed by its dedupe key.

    ``published_at`` is the item's own date in UTC, or when it was first seen if it had none.
    """

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("feed_id", "key"),
        Index("ix_posts_feed_id_published_at", "feed_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(520))
    guid: Mapped[str | None] = mapped_column(String(500))
    link: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(500))
    content_html: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tags: Mapped[list[str]] = mapped_column(JSON)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class PostTag(Base):
    """A post's tag (RSS category or #hashtag, lower case), for "posts tagged X" queries."""

    __tablename__ = "post_tags"
    __table_args__ = (Index("ix_post_tags_tag_post_id", "tag", "post_id"),)

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(60), primary_key=True)


BULLETIN_KINDS = ("appeal", "missing", "wanted", "warning", "update")
BULLETIN_STATUSES = ("active", "resolved", "cancelled", "expired")
# How a bulletin's area was found, most precise first (see directory.bulletins).
LOCATED_BY = ("given", "point", "postcode", "place", "neighbourhood", "force", "unlocated")


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
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulletins.id", ondelete="SET NULL")
    )
    resolution: Mapped[str | None] = mapped_column(String(300))
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
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secrets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    webhook_state: Mapped[str] = mapped_column(String(10))
    webhook_disabled_reason: Mapped[str | None] = mapped_column(String(300))
    webhook_failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
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
