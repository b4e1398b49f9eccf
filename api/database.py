"""The database as the web app sees it: one engine per app, one session per request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from directory.schema import require_current_schema
from directory.storage import create_db_engine, make_session_factory

EXTENSION = "hyperlocal_db"


@dataclass
class Database:
    """The engine and session factory bound to an app."""

    engine: Engine
    sessions: sessionmaker[Session]
    app: Flask


def database_url(app: Flask) -> str:
    """The configured URL, defaulting to a SQLite file in the app's instance folder."""
    url = app.config.get("DATABASE_URL")
    if url:
        return str(url)
    return f"sqlite:///{app.instance_path}/hyperlocal.db"


def init_database(app: Flask) -> Database:
    """Create the engine, check the schema (unless told not to) and close sessions per request."""
    url = database_url(app)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(url)
    if app.config.get("VERIFY_SCHEMA", True):
        try:
            require_current_schema(engine)
        except Exception:
            engine.dispose()
            raise
    database = Database(engine=engine, sessions=make_session_factory(engine), app=app)
    app.extensions[EXTENSION] = database
    app.teardown_appcontext(_close_session)
    return database


def get_database(app: Flask | None = None) -> Database:
    """The Database of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]


def db_session() -> Session:
    """The session of the current request, created on first use (for anything that writes)."""
    if "db_session" not in g:
        g.db_session = get_database().sessions()
    return g.db_session


def db_reader() -> Connection:
    """A connection for the current request's reads, opened on first use.

    Read-only endpoints use this rather than a Session: the Session's transaction bookkeeping
    costs about as much as the primary-key query a postcode lookup makes.
    """
    if "db_reader" not in g:
        g.db_reader = get_database().engine.connect()
    return g.db_reader


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
    reader = g.pop("db_reader", None)
    if reader is not None:
        reader.close()
