"""Import postcode data from the official downloads, exactly as distributed.

Two sources, detected from the file itself:

- **OS Code-Point Open** zip (``codepoint``): ``Data/CSV/<area>.csv`` without header,
  British National Grid eastings/northings (converted to WGS84 with pyproj, one vectorised call
  per area file), and ``Doc/Codelist.xlsx`` naming every ward, district and county code.
- **ONS Postcode Directory** CSV (``onspd``; bare, or the zip with it under ``Data/``): header
  row, WGS84 ``lat``/``long``, termination dates, Northern Ireland and the police force area.

Re-importing updates rows in place (upsert on the postcode), one transaction per batch, so the
service keeps answering from the old rows while an import runs and a re-run after an interruption
finishes the job. Nothing is ever deleted: a postcode missing from a newer release stays. The
archive is checked whole (structure and checksums) before the first write, so a corrupt or
unrecognised file changes nothing; a malformed row is skipped and counted with its reason.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from directory.geography.codepoint import CODEPOINT_MEMBER, CodePointSource
from directory.geography.models import AreaName, Postcode
from directory.geography.onspd import OnspdSource, onspd_header
from directory.geography.postcode_rows import Batch, ImportFormatError, ImportSummary, checked_zip

BATCH_SIZE = 50_000  # rows a transaction
ProgressCallback = Callable[[int, int | None], None]


# ------------------------------------------------------------------------- detection


def open_source(path: str | Path) -> CodePointSource | OnspdSource:
    """Recognise the download at ``path`` and check it is whole, before anything is written.

    Raises ImportFormatError with a message naming the file and what is wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist or is not a file")
    with open(path, "rb") as handle:
        looks_zipped = handle.read(4) == b"PK\x03\x04"
    if looks_zipped and not zipfile.is_zipfile(path):
        raise ImportFormatError(
            f"{path} is a damaged zip file: its directory is missing (truncated?)"
        )
    if looks_zipped:
        archive = checked_zip(path)
        if any(CODEPOINT_MEMBER.match(n) for n in archive.namelist()):
            return CodePointSource(archive, path)
        csvs = [n for n in archive.namelist() if n.lower().endswith(".csv") and "/Data/" in "/" + n]
        for name in sorted(csvs, key=lambda n: archive.getinfo(n).file_size, reverse=True)[:1]:
            with archive.open(name) as raw:
                first = io.TextIOWrapper(raw, encoding="utf-8-sig").readline()
            header = onspd_header(first, f"{path}:{name}")
            return OnspdSource(
                lambda name=name: io.TextIOWrapper(
                    archive.open(name), encoding="utf-8-sig", errors="replace", newline=""
                ),
                f"{path}:{name}",
                header,
            )
        raise ImportFormatError(
            f"{path} is a zip but neither the OS Code-Point Open download (Data/CSV/<area>.csv) "
            "nor the ONS Postcode Directory (Data/ONSPD_*.csv)"
        )
    try:
        with open(path, "rb") as handle:  # only the header line must decode cleanly
            first = handle.readline(1 << 16).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            f"{path} is not a postcode download: expected the Code-Point Open zip or an "
            "ONS Postcode Directory CSV"
        ) from exc
    header = onspd_header(first, str(path))
    return OnspdSource(
        lambda: open(path, encoding="utf-8-sig", errors="replace", newline=""), str(path), header
    )


# --------------------------------------------------------------------------- writing


def _upsert(engine: Engine, table: Table, fields: Sequence[str], key: str) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE of ``fields``, in the engine's dialect."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values({f: None for f in fields})
    return statement.on_conflict_do_update(
        index_elements=[key],
        set_={f: statement.excluded[f] for f in fields if f != key},
    )


def _write_sqlite(engine: Engine, batch: Batch) -> None:
    """One transaction per batch through the driver's executemany (no per-row ORM work)."""
    compiled = _upsert(engine, Postcode.__table__, batch.fields, "postcode").compile(
        dialect=engine.dialect
    )
    order = [batch.fields.index(name) for name in compiled.positiontup or []]
    rows = batch.rows
    if order != list(range(len(batch.fields))):
        rows = [tuple(row[i] for i in order) for row in rows]
    with engine.begin() as connection:
        connection.exec_driver_sql(str(compiled), rows)


def _write_postgresql(engine: Engine, batch: Batch) -> None:
    """COPY the batch into a temporary table, then upsert it: one transaction per batch."""
    columns = ", ".join(batch.fields)
    updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in batch.fields if f != "postcode")
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            # A crash loses at most the last batches, which a re-run writes again.
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS postcodes_incoming "
                "(LIKE postcodes) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY postcodes_incoming ({columns}) FROM STDIN") as copy:
                for row in batch.rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO postcodes ({columns}) SELECT {columns} FROM postcodes_incoming "
                f"ON CONFLICT (postcode) DO UPDATE SET {updates}"
            )
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def _deduplicate(batch: Batch, summary: ImportSummary) -> Batch:
    """Keep the last row of a postcode repeated within a batch: an upsert may touch a row once.

    A repeat in a later batch simply updates the row again, which is harmless.
    """
    unique = {row[0]: row for row in batch.rows}
    if len(unique) < len(batch.rows):
        summary.skipped["postcode repeated in the file"] += len(batch.rows) - len(unique)
        return Batch(batch.fields, list(unique.values()))
    return batch


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Postcode)) or 0


def import_area_names(engine: Engine, names: Iterable[tuple[str, str, str]]) -> int:
    """Upsert (code, name, kind) rows into area_names; returns how many were written."""
    rows = [{"code": c, "name": n, "kind": k} for c, n, k in names]
    if not rows:
        return 0
    statement = _upsert(engine, AreaName.__table__, ("code", "name", "kind"), "code")
    with engine.begin() as connection:
        connection.execute(statement, rows)
    return len(rows)


def import_postcodes(
    engine: Engine, path: str | Path, on_progress: ProgressCallback | None = None
) -> ImportSummary:
    """Import a Code-Point Open zip or ONSPD CSV at ``path``; returns what was done.

    Raises ImportFormatError, having written nothing, when the file is unrecognised, damaged,
    or holds no usable row. ``on_progress(rows_read, expected_rows_or_None)`` is called after
    every batch.
    """
    source = open_source(path)
    summary = ImportSummary(source=source.name, release=source.release)
    names = source.area_names()
    before = _count(engine)
    write = _write_postgresql if engine.dialect.name == "postgresql" else _write_sqlite
    written = 0
    # On PostgreSQL, reading and converting the next batch overlaps with the server writing
    # this one (psycopg releases the GIL while it waits). SQLite works in this process, where a
    # thread only adds GIL contention. A failed write stops the import.
    overlap = engine.dialect.name == "postgresql"
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="postcode-writer") as writer:
        pending: Future[None] | None = None
        for batch in source.batches(summary, BATCH_SIZE):
            batch = _deduplicate(batch, summary)
            if pending is not None:
                pending.result()
                pending = None
            if batch.rows:
                pending = writer.submit(write, engine, batch)
                if not overlap:
                    pending.result()
                written += len(batch.rows)
            if on_progress:
                on_progress(summary.rows_read, source.expected_rows)
        if pending is not None:
            pending.result()
    if written == 0:
        reasons = "; ".join(f"{n:,} {why}" for why, n in summary.skipped.most_common(3))
        raise ImportFormatError(
            f"{path} holds no usable postcode rows ({summary.rows_read:,} read"
            + (f"; skipped: {reasons})" if reasons else ")")
        )
    summary.names = import_area_names(engine, names)
    summary.imported = _count(engine) - before
    summary.updated = written - summary.imported
    return summary
