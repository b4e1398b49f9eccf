"""places: keys without apostrophes ("St David's" is "St Davids"), and how far a place reaches

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from directory.geography.places import place_key

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # OS Open Names gives each settlement's extent; GeoNames rows keep NULL (their population
    # says how far they reach).
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.add_column(sa.Column("radius_m", sa.Float(), nullable=True))
    _rekey()


def downgrade() -> None:
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_column("radius_m")


def _rekey() -> None:
    """Every row's key as ``place_key`` makes it now (names with an apostrophe change)."""
    bind = op.get_bind()
    places = sa.table("places", sa.column("id", sa.Integer), sa.column("name", sa.String),
                      sa.column("key", sa.String))  # fmt: skip
    changed = [{"row": ident, "new_key": place_key(name)}
               for ident, name, key in bind.execute(sa.select(places.c.id, places.c.name,
                                                              places.c.key))
               if place_key(name) != key]  # fmt: skip
    if changed:
        bind.execute(places.update().where(places.c.id == sa.bindparam("row"))
                     .values(key=sa.bindparam("new_key")), changed)  # fmt: skip
