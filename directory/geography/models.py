"""The postcode tables: every unit and the names of the codes it carries."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Date,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from directory.storage import Base

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
        # district's units (feeds.syndication.bulletin_location).
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
    # postcodes change (directory.police.patches.assign_postcodes), so "who is my team" is one read.
    neighbourhood_id: Mapped[int | None] = mapped_column(Integer)


class Place(Base):
    """A named place from a gazetteer: a city, town, village, suburb or locality, one row per
    name (a Welsh place has a row for each of its names, with the same ``source_id``).

    ``key`` is the name as searches compare it (``directory.geography.places.place_key``):
    case, accents, punctuation and "St"/"St."/"Saint" do not count.
    """

    __tablename__ = "places"
    __table_args__ = (
        Index("ix_places_key_population", "key", "population"),
        Index("ix_places_source_source_id", "source", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))  # OS Open Names LOCAL_TYPE, or "place"
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    population: Mapped[int | None] = mapped_column(Integer)
    radius_m: Mapped[float | None] = mapped_column(Float)  # its extent (OS Open Names), if known
    source: Mapped[str] = mapped_column(String(20))  # "geonames" or "os-open-names"
    source_id: Mapped[str] = mapped_column(String(60))
