"""site search text: name, description and address folded for case- and accent-blind search

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 21:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from directory.sites.models import site_search_text

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=True))
    sites = sa.table("sites", sa.column("id", sa.Integer), sa.column("name", sa.String),
                     sa.column("description", sa.Text), sa.column("url", sa.String),
                     sa.column("search_text", sa.Text))  # fmt: skip
    connection = op.get_bind()
    rows = connection.execute(sa.select(sites.c.id, sites.c.name, sites.c.description,
                                        sites.c.url)).all()  # fmt: skip
    for row in rows:
        connection.execute(
            sites.update().where(sites.c.id == row.id)
            .values(search_text=site_search_text(row.name, row.description, row.url))
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("search_text")
