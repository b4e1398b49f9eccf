"""post edits: a police item edited in place keeps its first version beside the latest

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_title", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("original_content_html", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("edited_at")
        batch_op.drop_column("original_content_html")
        batch_op.drop_column("original_title")
