"""bulletin postcodes and places: what located a bulletin, as lists

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for the bulletins already there: they were located before places were recorded.
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postcodes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("places", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.drop_column("places")
        batch_op.drop_column("postcodes")
