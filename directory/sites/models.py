"""The hyperlocal site table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from directory.storage import Base, UTCDateTime
from directory.text import folded

SITE_STATUSES = ("pending", "approved", "rejected")


class Site(Base):
    """A hyperlocal community site: what it is, where it publishes, the area it covers.

    ``area`` is the Area's JSON (see directory.geography.areas); the bounding box columns copy its
    bbox so "which sites could cover this point" is an indexed range query before any geometry.
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
    # through directory.geography.area_cache.
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
    # Self-service (directory.sites.submissions): the submitter's status link is a token shown
    # once (only its hash is kept); an admin's reason for a rejection; when the site's editor
    # key was taken there (once).
    submission_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    editor_key_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The newest post its feeds brought (feeds.ingest.store): a site whose feeds have published
    # nothing for months is dormant (``is_dormant``) until it publishes again.
    last_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Name, description and address folded (directory.text.folded): what ?q= searches, so
    # case and accents match alike on SQLite and PostgreSQL. Kept up to date on every flush.
    search_text: Mapped[str | None] = mapped_column(Text)


def is_dormant(site: Any, published_since: datetime | None) -> bool:
    """Whether the site (a model, or a row with its columns) has feeds and has published
    nothing since ``published_since``, counting from when it was added if it never has;
    ``published_since=None``: nothing is dormant."""
    if published_since is None or not site.feed_urls:
        return False
    return bool((site.last_published_at or site.created_at) < published_since)


def site_search_text(name: str | None, description: str | None, url: str | None) -> str:
    return folded(" ".join(part for part in (name, description, url) if part))


@event.listens_for(Site, "before_insert")
@event.listens_for(Site, "before_update")
def _fold_search_text(_mapper: Any, _connection: Any, site: Site) -> None:
    site.search_text = site_search_text(site.name, site.description, site.url)
