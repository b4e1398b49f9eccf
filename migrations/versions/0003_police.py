"""police forces, neighbourhoods and officers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "police_forces",
        sa.Column("id", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("telephone", sa.String(length=60), nullable=True),
        sa.Column("engagement", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_police_forces")),
    )
    op.create_table(
        "neighbourhoods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("force_id", sa.String(length=60), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url_force", sa.String(length=2000), nullable=True),
        sa.Column("centre_lat", sa.Float(), nullable=True),
        sa.Column("centre_lng", sa.Float(), nullable=True),
        sa.Column("boundary", sa.JSON(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("min_lng", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
        sa.Column("max_lng", sa.Float(), nullable=True),
        sa.Column("contact_details", sa.JSON(), nullable=False),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["force_id"],
            ["police_forces.id"],
            name=op.f("fk_neighbourhoods_force_id_police_forces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neighbourhoods")),
        sa.UniqueConstraint("force_id", "code", name=op.f("uq_neighbourhoods_force_id_code")),
    )
    with op.batch_alter_table("neighbourhoods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_neighbourhoods_active_min_lat", ["active", "min_lat"], unique=False
        )

    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("neighbourhood_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rank", sa.String(length=120), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["neighbourhood_id"],
            ["neighbourhoods.id"],
            name=op.f("fk_officers_neighbourhood_id_neighbourhoods"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officers")),
        sa.UniqueConstraint(
            "neighbourhood_id", "name", name=op.f("uq_officers_neighbourhood_id_name")
        ),
    )
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_officers_neighbourhood_id"), ["neighbourhood_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officers_neighbourhood_id"))

    op.drop_table("officers")
    with op.batch_alter_table("neighbourhoods", schema=None) as batch_op:
        batch_op.drop_index("ix_neighbourhoods_active_min_lat")

    op.drop_table("neighbourhoods")
    op.drop_table("police_forces")
