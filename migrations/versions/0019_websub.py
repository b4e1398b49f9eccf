"""WebSub both ways: our leases on publishers' hubs, and readers' subscriptions to our hub

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(_at("pushed_until"))
    op.create_table(
        "websub_leases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "feed_id",
            sa.Integer(),
            sa.ForeignKey("feeds.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),  # fmt: skip
        sa.Column("hub_url", sa.String(2000), nullable=False),
        sa.Column("topic_url", sa.String(2000), nullable=False),
        sa.Column("callback_token", sa.String(64), nullable=False, unique=True),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("lease_seconds", sa.Integer(), nullable=True),
        _at("expires_at"),
        _at("next_attempt_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("requested_at"),
        _at("verified_at"),
        _at("last_push_at"),
        sa.Column("pushes", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_websub_leases_next_attempt_at", "websub_leases", ["next_attempt_at"])
    op.create_table(
        "hub_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("fmt", sa.String(5), nullable=False),
        sa.Column("topic_url", sa.String(2000), nullable=False),
        sa.Column("callback_url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("mode", sa.String(12), nullable=True),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        _at("expires_at"),
        _at("next_attempt_at"),
        sa.Column("pushed_version", sa.String(100), nullable=True),
        _at("last_push_at"),
        sa.Column("last_status", sa.SmallInteger(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subscription_id", "fmt", "callback_url"),
    )
    op.create_index("ix_hub_subscriptions_subscription_id", "hub_subscriptions",
                    ["subscription_id"])  # fmt: skip
    op.create_index("ix_hub_subscriptions_next_attempt_at", "hub_subscriptions",
                    ["next_attempt_at"])  # fmt: skip


def downgrade() -> None:
    op.drop_table("hub_subscriptions")
    op.drop_table("websub_leases")
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("pushed_until")
