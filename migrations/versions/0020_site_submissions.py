"""site submissions and dormancy: the submitter's status token, a rejection's reason, the
editor key taken, and when the site's feeds last published

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Sites submitted before this have no status link: their editors get keys from an admin.
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_token_hash", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("rejection_reason", sa.String(500), nullable=True))
        batch_op.add_column(
            sa.Column("editor_key_issued_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_published_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint(
            "uq_sites_submission_token_hash", ["submission_token_hash"]
        )
    # What the sites' feeds have published so far: no site turns dormant just by upgrading.
    op.execute(
        "UPDATE sites SET last_published_at = (SELECT max(posts.published_at) FROM posts "
        "JOIN feeds ON feeds.id = posts.feed_id WHERE feeds.site_id = sites.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_constraint("uq_sites_submission_token_hash", type_="unique")
        batch_op.drop_column("last_published_at")
        batch_op.drop_column("editor_key_issued_at")
        batch_op.drop_column("rejection_reason")
        batch_op.drop_column("submission_token_hash")
