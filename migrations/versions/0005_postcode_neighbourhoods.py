"""postcodes remember the neighbourhood team whose boundary holds them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("postcodes") as batch:
        batch.add_column(sa.Column("neighbourhood_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_postcodes_neighbourhood_id",
        "postcodes",
        ["neighbourhood_id"],
        sqlite_where=sa.text("neighbourhood_id IS NOT NULL"),
        postgresql_where=sa.text("neighbourhood_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_postcodes_neighbourhood_id", table_name="postcodes")
    with op.batch_alter_table("postcodes") as batch:
        batch.drop_column("neighbourhood_id")
