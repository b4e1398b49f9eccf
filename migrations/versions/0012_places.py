"""places: the gazetteer, loaded with the embedded GeoNames default

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 21:35:00
"""

from collections.abc import Sequence
from itertools import islice

import sqlalchemy as sa
from alembic import op

from directory.geography.places import embedded_rows

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    places = op.create_table(
        "places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.create_index("ix_places_key_population", ["key", "population"], unique=False)
        batch_op.create_index("ix_places_source_source_id", ["source", "source_id"], unique=False)
    rows = embedded_rows()
    while batch := list(islice(rows, 2000)):
        op.bulk_insert(places, batch)


def downgrade() -> None:
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index("ix_places_source_source_id")
        batch_op.drop_index("ix_places_key_population")
    op.drop_table("places")
