"""Schema migrations (Alembic) run from code, and the check that refuses an unmigrated database.

The migration scripts ship inside the ``migrations`` package, so an installed service can
migrate its own database with ``hyperlocal db upgrade`` and no alembic.ini on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

UPGRADE_COMMAND = "hyperlocal db upgrade"


class DatabaseNotMigrated(RuntimeError):
    """The database schema is not at the revision this code needs."""


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database is and where the code needs it to be."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migration scripts and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest), creating it if empty."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def schema_status(engine: Engine) -> SchemaStatus:
    """Compare the database's Alembic revision with the newest migration script."""
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    assert head is not None
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaStatus(current=current, head=head)


def require_current_schema(engine: Engine) -> None:
    """Raise :class:`DatabaseNotMigrated` naming the command to run, unless the schema is current.

    Why: serving on an old schema fails later with an obscure SQL error in the middle of a
    request; failing at start with the fix in the message is kinder.
    """
    status = schema_status(engine)
    if status.up_to_date:
        return
    where = engine.url.render_as_string(hide_password=True)
    if status.current is None:
        raise DatabaseNotMigrated(
            f"the database {where} has no schema yet; run `{UPGRADE_COMMAND}` first"
        )
    raise DatabaseNotMigrated(
        f"the database {where} is at schema revision {status.current} but this version of "
        f"hyperlocal needs {status.head}; run `{UPGRADE_COMMAND}`"
    )
