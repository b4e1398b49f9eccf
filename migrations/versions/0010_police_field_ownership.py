"""police field ownership: what data.police.uk said, and what a force set through the API

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows imported before this revision have no record of what data.police.uk said: their
    # next import is taken whole, as every import was until now.
    for table in ("neighbourhoods", "officers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("upstream", sa.JSON(), nullable=True))
            batch_op.add_column(sa.Column("edited", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("officers", "neighbourhoods"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("edited")
            batch_op.drop_column("upstream")
