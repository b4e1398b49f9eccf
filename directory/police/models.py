"""The police tables: forces, neighbourhood teams and their officers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.storage import Base, UTCDateTime


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
    # Who owns each field (directory.police.provenance): digests of what data.police.uk said
    # at the last import, and the fields the force set through the API since.
    upstream: Mapped[dict[str, str] | None] = mapped_column(JSON)
    edited: Mapped[list[str] | None] = mapped_column(JSON)
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
    # As for teams; ``upstream`` is null for an officer a force added that data.police.uk
    # has never listed (a re-import leaves such an officer alone).
    upstream: Mapped[dict[str, str] | None] = mapped_column(JSON)
    edited: Mapped[list[str] | None] = mapped_column(JSON)
