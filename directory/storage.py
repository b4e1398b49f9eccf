"""The storage base: declarative models, engines and sessions for SQLite and PostgreSQL.

SQLite is the embedded default (one file, WAL so readers never wait for the importer, a busy
timeout so writers queue instead of failing); PostgreSQL is selected by its URL alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    DateTime,
    Insert,
    MetaData,
    Select,
    Table,
    TypeDecorator,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

T = TypeVar("T")

# What read-only store functions accept: a Session, or a bare Connection where the per-request
# cost of a Session (its transaction bookkeeping, about as much as a primary-key query) matters.
Reader = Session | Connection

# Constraint names must be the same on SQLite and PostgreSQL, or Alembic cannot alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Page cache per connection, and memory-mapped reads (no read() call per page); both cut the
# cost of the random primary-key lookups that postcode queries make.
SQLITE_CACHE_KIB = 32_768
SQLITE_MMAP_BYTES = 128 * 1024 * 1024


class Base(DeclarativeBase):
    """Base of every model; carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the service read while an import writes; foreign keys are off by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
    cursor.close()


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings this service relies on for each backend."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def insert_ignoring(db: Reader, table: Table, index_elements: Sequence[str]) -> Insert:
    """``INSERT ... ON CONFLICT (index_elements) DO NOTHING`` for SQLite or PostgreSQL: the
    database, not a prior read, decides what is new, so concurrent writers never duplicate."""
    dialect = connection_of(db).dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=list(index_elements))


def connection_of(db: Reader) -> Connection:
    """The Core connection behind a session, or the connection itself."""
    return db.connection() if isinstance(db, Session) else db


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A savepoint: what the block writes is undone if it raises (and the error re-raised),
    while the rest of the session's transaction carries on.

    On SQLite the driver (Python's sqlite3 in its legacy transaction mode) sends no BEGIN
    before a SAVEPOINT, so a savepoint opened first would be the outermost transaction and its
    RELEASE would commit everything so far. The transaction is therefore begun for real first,
    as IMMEDIATE: it takes the write lock now (waiting out the busy timeout) rather than failing
    later to upgrade a read snapshot that another writer has moved past.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            driver.execute("BEGIN IMMEDIATE")
    with session.begin_nested():
        yield


def database_key(session: Session) -> str:
    """Which database a session works on (its URL without password): a cache namespace."""
    return session.get_bind().url.render_as_string(hide_password=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit, so results can be returned and serialised."""
    return sessionmaker(bind=engine, expire_on_commit=False)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, and how many there are in all."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page if self.total else 0


def paginate(
    session: Session, query: Select[Any], page: int, per_page: int, rows: bool = False
) -> Page[Any]:
    """A page of ``query``'s first column (usually a model), or of whole rows with ``rows``,
    counted through a subquery.

    The count is a separate query over the same filters without ordering, as flask-smorest's
    own pager cannot do with SQLAlchemy 2.
    """
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    paged = query.limit(per_page).offset((page - 1) * per_page)
    items = list(session.execute(paged).all() if rows else session.scalars(paged))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)
