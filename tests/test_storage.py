"""Savepoints that truly nest, on SQLite and PostgreSQL (what one item's isolation rests on)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from directory.storage import create_db_engine, make_session_factory, savepoint

metadata = MetaData()
THINGS = Table("things", metadata, Column("id", Integer, primary_key=True),
               Column("name", String(20), unique=True))  # fmt: skip


@pytest.fixture
def sessions(fresh_database_url):  # type: ignore[no-untyped-def]
    engine = create_db_engine(fresh_database_url())
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def names(sessions) -> list[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return sorted(session.scalars(select(THINGS.c.name)))


def test_a_savepoint_opened_first_does_not_commit_the_transaction(sessions):
    """Python's sqlite3 sends no BEGIN before a SAVEPOINT: a bare ``begin_nested()`` as the
    first statement is the outermost transaction, and its RELEASE commits. Rolling back the
    session must undo what the savepoint did."""
    with sessions() as session:
        session.scalar(select(func.count()).select_from(THINGS))  # a read first, as callers do
        with savepoint(session):
            session.execute(insert(THINGS).values(name="inside"))
        session.execute(insert(THINGS).values(name="after"))
        session.rollback()
    assert names(sessions) == []


def test_a_failing_savepoint_undoes_only_itself(sessions):
    with sessions() as session:
        session.execute(insert(THINGS).values(name="before"))
        with pytest.raises(IntegrityError), savepoint(session):
            session.execute(insert(THINGS).values(name="inside"))
            session.execute(insert(THINGS).values(name="before"))  # unique: refused
        with savepoint(session):
            session.execute(insert(THINGS).values(name="next"))
        session.commit()
    assert names(sessions) == ["before", "next"]
