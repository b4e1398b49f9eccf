"""covering bounding-box indexes for sites and neighbourhoods

Point lookups scanned the (status/active, min_lat) index and then read each candidate row,
whose coverage JSON spans overflow pages; an index with all four box columns and updated_at
answers the prefilter (and the area cache's freshness check) alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BOX = ["min_lat", "max_lat", "min_lng", "max_lng", "updated_at"]


def upgrade() -> None:
    op.drop_index("ix_sites_status_min_lat", table_name="sites")
    op.create_index("ix_sites_bbox", "sites", ["status", *BOX])
    op.drop_index("ix_neighbourhoods_active_min_lat", table_name="neighbourhoods")
    op.create_index("ix_neighbourhoods_bbox", "neighbourhoods", ["active", *BOX])


def downgrade() -> None:
    op.drop_index("ix_neighbourhoods_bbox", table_name="neighbourhoods")
    op.create_index("ix_neighbourhoods_active_min_lat", "neighbourhoods", ["active", "min_lat"])
    op.drop_index("ix_sites_bbox", table_name="sites")
    op.create_index("ix_sites_status_min_lat", "sites", ["status", "min_lat"])
