"""postcodes, area names and api keys

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=120), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "area_names",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_area_names")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "postcodes",
        sa.Column(
            "postcode",
            sa.String(length=8).with_variant(sa.String(length=8, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("lat_band", sa.Integer(), nullable=True),
        sa.Column("eastings", sa.Integer(), nullable=True),
        sa.Column("northings", sa.Integer(), nullable=True),
        sa.Column("quality", sa.SmallInteger(), nullable=False),
        sa.Column("country_code", sa.String(length=9), nullable=True),
        sa.Column("county_code", sa.String(length=9), nullable=True),
        sa.Column("district_code", sa.String(length=9), nullable=True),
        sa.Column("ward_code", sa.String(length=9), nullable=True),
        sa.Column("police_force_code", sa.String(length=9), nullable=True),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("postcode", name=op.f("pk_postcodes")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_postcodes_lat_band_longitude",
        "postcodes",
        ["lat_band", "longitude", "latitude"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_postcodes_lat_band_longitude", table_name="postcodes")
    op.drop_table("postcodes")
    op.drop_table("area_names")
    op.drop_table("api_keys")
