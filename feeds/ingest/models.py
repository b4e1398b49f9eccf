"""The ingestion tables: the feeds polled and the posts read from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
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

# Owners' tables, referenced by foreign key: registered on the metadata before these.
import directory.police.models  # noqa: F401
import directory.sites.models  # noqa: F401
from directory.storage import Base, UTCDateTime

FEED_KINDS = ("news", "officer", "police")
FEED_STATUSES = ("active", "failing", "retired")
FEED_OWNER_KINDS = ("site", "neighbourhood", "officer", "force")


class Feed(Base):
    """An RSS/Atom feed the service polls, and where polling it stands.

    Exactly one owner column is set (``owner`` spells it out as "site:12"). ``listed_url`` is
    the address the directory knows the feed by (a listed feed url, an account's feed, a home
    page) and is unique per owner; ``url`` is where it is fetched now, after a permanent
    redirect or discovery from a home page (see ``discovered_at``). ``etag``/``last_modified``
    are saved in the transaction that stores the items they describe, so a poller killed
    before that commit simply fetches in full again.
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
    # Set when ``url`` was announced by the page at ``listed_url`` (discovery): when the page
    # last announced it. The listed page stays the source of truth: it is fetched again once
    # a day, and the discovered address is dropped as soon as the page stops announcing it.
    discovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Until when its publisher's WebSub hub pushes it to us (a verified lease): polling is
    # then the fallback, at a longer ceiling (feeds.ingest.schedule.PUSHED_CEILING).
    pushed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    item_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


LEASE_STATES = ("wanted", "requested", "active", "denied", "failed")


class WebSubLease(Base):
    """Our subscription to the WebSub hub a feed advertises (W3C WebSub, subscriber side).

    ``wanted`` when a fetch first sees the hub; ``requested`` once asked (the hub then checks
    our intent at the callback, ``/websub/callback/{callback_token}``); ``active`` when it
    did, until ``expires_at``; renewed at ``next_attempt_at`` before it ends. ``denied`` and
    ``failed`` are retried later. Content the hub pushes is signed with ``secret``.
    """

    __tablename__ = "websub_leases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), unique=True)
    hub_url: Mapped[str] = mapped_column(String(2000))
    topic_url: Mapped[str] = mapped_column(String(2000))
    callback_token: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10))
    lease_seconds: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pushes: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
    # What went wrong with this item (stored without its content, or not made a bulletin);
    # the item itself is kept, and the rest of its feed is not held up by it.
    problem: Mapped[str | None] = mapped_column(String(300))
    # Edited in place (the same guid, a new title or text): the first version is kept here and
    # the columns above hold the latest.
    original_title: Mapped[str | None] = mapped_column(String(500))
    original_content_html: Mapped[str | None] = mapped_column(Text)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PostTag(Base):
    """A post's tag (RSS category or #hashtag, lower case), for "posts tagged X" queries."""

    __tablename__ = "post_tags"
    __table_args__ = (Index("ix_post_tags_tag_post_id", "tag", "post_id"),)

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(60), primary_key=True)
