"""Import postcode data from the official downloads, exactly as distributed.

Two sources, detected from the file itself:

- **OS Code-Point Open** zip: ``Data/CSV/<area>.csv`` without header, British National Grid
  eastings/northings (converted to WGS84 with pyproj, one vectorised call per area file), and
  ``Doc/Codelist.xlsx`` naming every ward, district and county code.
- **ONS Postcode Directory** CSV (bare, or the zip with it under ``Data/``): header row, WGS84
  ``lat``/``long``, termination dates, Northern Ireland and the police force area (``pfa``).

Re-importing updates rows in place (upsert on the postcode), one transaction per batch, so the
service keeps answering from the old rows while an import runs and a re-run after an interruption
finishes the job. Nothing is ever deleted: a postcode missing from a newer release stays. The
archive is checked whole (structure and checksums) before the first write, so a corrupt or
unrecognised file changes nothing; a malformed row is skipped and counted with its reason.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from directory.geography.geo import UK_LAT_RANGE, UK_LNG_RANGE, in_uk
from directory.geography.models import AreaName, Postcode
from directory.geography.postcode_format import DISPLAY_UNIT_RE, PostcodeInvalid, parse_postcode

BATCH_SIZE = 50_000
CODEPOINT_COLUMNS = 10
_CODEPOINT_MEMBER = re.compile(r"^Data/CSV/([a-z]{1,2})\.csv$", re.IGNORECASE)
_GSS_CODE = re.compile(r"^[A-Z][0-9]{8}$")
_PSEUDO_CODE = re.compile(r"^[A-Z]99999999$")  # ONSPD "no such area here"
# Every ONSPD column the import reads; a file without one of them is refused (importing it
# anyway would overwrite stored values with blanks).
ONSPD_COLUMNS = (
    "pcds", "lat", "long", "doterm", "osgrdind", "oseast1m", "osnrth1m",
    "ctry", "oscty", "oslaua", "osward", "pfa",
)  # fmt: skip
ONSPD_NO_POSITION_LAT = 99.999999
# ONSPD grid reference quality (osgrdind 1-9) on the Code-Point positional quality scale.
ONSPD_QUALITY = {"1": 10, "2": 20, "3": 30, "4": 40, "5": 50, "6": 60, "8": 50, "9": 90}
NO_COORDINATES = 90
POSITIONAL_QUALITIES = frozenset({10, 20, 30, 40, 50, 60, 90})
# The British National Grid's extent in metres (Code-Point's eastings and northings).
GRID_MAX_EASTING = 700_000
GRID_MAX_NORTHING = 1_300_000

# The columns each source writes; a re-import only updates these, so a Code-Point import keeps
# the police force codes an earlier ONSPD import stored.
CODEPOINT_FIELDS = (
    "postcode", "latitude", "longitude", "lat_band", "eastings", "northings", "quality",
    "country_code", "county_code", "district_code", "ward_code", "terminated_on",
)  # fmt: skip
ONSPD_FIELDS = CODEPOINT_FIELDS + ("police_force_code",)

ProgressCallback = Callable[[int, int | None], None]


class ImportFormatError(ValueError):
    """The file is not a postcode download we can read, or it is damaged; nothing was written."""


@dataclass
class ImportSummary:
    """What an import did, for the closing line of the CLI and for tests."""

    source: str
    release: str | None = None
    rows_read: int = 0
    imported: int = 0
    updated: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    names: int = 0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def describe(self) -> str:
        """One paragraph a person reads at the end of an import."""
        release = f" release {self.release}" if self.release else ""
        lines = [
            f"{self.source}{release}: {self.rows_read:,} rows read, {self.imported:,} new "
            f"postcodes, {self.updated:,} already present (updated in place), "
            f"{self.skipped_total:,} skipped"
            + (f", {self.names:,} area names" if self.names else "")
        ]
        for reason, count in self.skipped.most_common():
            lines.append(f"  skipped {count:,}: {reason}")
        return "\n".join(lines)


@dataclass
class _Batch:
    fields: Sequence[str]
    rows: list[tuple[Any, ...]]


# --------------------------------------------------------------------------- Code-Point Open


MALFORMED = "malformed"  # what _optional_code returns for a value that is not a GSS code


def _optional_code(value: str) -> str | None:
    """A GSS code; None for blank and for the pseudo-codes meaning 'not applicable'; MALFORMED
    for anything else (a row holding one is skipped, never stored)."""
    value = value.strip()
    if not value or _PSEUDO_CODE.match(value):
        return None
    return value if _GSS_CODE.match(value) else MALFORMED


class _GssCodes(dict[str, str | None]):
    """``codes[raw]`` → cleaned code, computed once per distinct value (a few thousand a file)."""

    def __missing__(self, raw: str) -> str | None:
        value = self[raw] = _optional_code(raw)
        return value


def unit_key(text: str) -> str | None:
    """The stored key of a full postcode, or None; fast for rows already in display form."""
    text = text.strip()
    if DISPLAY_UNIT_RE.fullmatch(text):
        return text
    try:
        parsed = parse_postcode(text)
    except PostcodeInvalid:
        return None
    return parsed.display if parsed.kind == "unit" else None


class CodePointSource:
    """The OS Code-Point Open zip as downloaded from the OS Data Hub."""

    name = "OS Code-Point Open"
    fields = CODEPOINT_FIELDS

    def __init__(self, archive: zipfile.ZipFile, path: Path):
        self.archive = archive
        self.path = path
        self.members = sorted(n for n in archive.namelist() if _CODEPOINT_MEMBER.match(n))
        self.release = self._release()
        self.expected_rows = self._expected_rows()

    def _read_doc(self, name: str) -> str | None:
        try:
            return self.archive.read(name).decode("utf-8", "replace")
        except KeyError:
            return None

    def _release(self) -> str | None:
        text = self._read_doc("Doc/metadata.txt") or ""
        match = re.search(r"DATASET VERSION NUMBER:\s*(\S+)", text)
        return match.group(1) if match else None

    def _expected_rows(self) -> int | None:
        """metadata.txt lists each area's row count; used as the progress bar's total."""
        text = self._read_doc("Doc/metadata.txt") or ""
        counts = re.findall(r"^\s*[A-Z]{1,2}\s+(\d+)\s*$", text, re.MULTILINE)
        return sum(int(c) for c in counts) or None

    def area_names(self) -> list[tuple[str, str, str]]:
        """(code, name, kind) from Doc/Codelist.xlsx: one sheet per kind, rows (name, code)."""
        try:
            data = self.archive.read("Doc/Codelist.xlsx")
        except KeyError:
            return []
        import openpyxl  # imported here: only Code-Point imports need it

        try:
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged workbook
            raise ImportFormatError(
                f"{self.path}: Doc/Codelist.xlsx cannot be read ({exc})"
            ) from exc
        names = []
        for sheet in workbook.worksheets:
            if not re.fullmatch(r"[A-Z]{3}", sheet.title):
                continue
            for row in sheet.iter_rows(values_only=True):
                if len(row) >= 2 and isinstance(row[0], str) and isinstance(row[1], str):
                    code = row[1].strip()
                    if _GSS_CODE.match(code):
                        names.append((code, row[0].strip(), sheet.title))
        workbook.close()
        return names

    def batches(self, summary: ImportSummary) -> Iterator[_Batch]:
        """Validated, converted rows, one batch per area file (split when large)."""
        from pyproj import Transformer  # imported here: slow to import, only imports need it

        to_wgs84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
        for member in self.members:
            pcs, quality, east, north, codes = self._read_member(member, summary)
            if not pcs:
                continue
            eastings = np.array(east, dtype=np.float64)
            northings = np.array(north, dtype=np.float64)
            lngs, lats = to_wgs84.transform(eastings, northings)
            located = (np.array(quality) != NO_COORDINATES) & ((eastings != 0) | (northings != 0))
            in_bounds = (
                np.isfinite(lats) & np.isfinite(lngs)
                & (lats >= UK_LAT_RANGE[0]) & (lats <= UK_LAT_RANGE[1])
                & (lngs >= UK_LNG_RANGE[0]) & (lngs <= UK_LNG_RANGE[1])
            )  # fmt: skip
            usable = (~located | in_bounds).tolist()
            lats = np.where(located & in_bounds, np.round(lats, 6), 0.0)
            lngs = np.where(located & in_bounds, np.round(lngs, 6), 0.0)
            bands = np.floor(lats * 100).astype(np.int64)
            rows = []
            for pc, la, lo, ba, ea, no, qu, co, has_position, ok in zip(
                pcs, lats.tolist(), lngs.tolist(), bands.tolist(), east, north, quality,
                codes, located.tolist(), usable, strict=True,
            ):  # fmt: skip
                if not ok:
                    summary.skipped["position outside the UK"] += 1
                elif has_position:
                    rows.append((pc, la, lo, ba, ea, no, qu, *co, None))
                else:
                    rows.append((pc, None, None, None, None, None, NO_COORDINATES, *co, None))
            for start in range(0, len(rows), BATCH_SIZE):
                yield _Batch(self.fields, rows[start : start + BATCH_SIZE])

    def _read_member(self, member: str, summary: ImportSummary) -> Any:
        """Parallel lists (postcodes, quality, eastings, northings, codes) of the valid rows."""
        pcs: list[str] = []
        quality: list[int] = []
        east: list[int] = []
        north: list[int] = []
        codes: list[tuple[str | None, ...]] = []
        code = _GssCodes()
        with self.archive.open(member) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            for record in csv.reader(text):
                summary.rows_read += 1
                if len(record) != CODEPOINT_COLUMNS:
                    summary.skipped[f"not {CODEPOINT_COLUMNS} columns"] += 1
                    continue
                postcode = unit_key(record[0])
                if postcode is None:
                    summary.skipped["not a valid full postcode"] += 1
                    continue
                try:
                    q, e, n = int(record[1]), int(record[2] or 0), int(record[3] or 0)
                except ValueError:
                    summary.skipped["quality, eastings or northings not a number"] += 1
                    continue
                if q not in POSITIONAL_QUALITIES:
                    summary.skipped["unknown positional quality"] += 1
                    continue
                if not (0 <= e <= GRID_MAX_EASTING and 0 <= n <= GRID_MAX_NORTHING):
                    summary.skipped["eastings or northings outside the British National Grid"] += 1
                    continue
                row_codes = (code[record[4]], code[record[7]], code[record[8]], code[record[9]])
                if MALFORMED in row_codes:
                    summary.skipped["malformed area code"] += 1
                    continue
                pcs.append(postcode)
                quality.append(q)
                east.append(e)
                north.append(n)
                codes.append(row_codes)
        return pcs, quality, east, north, codes


# --------------------------------------------------------------- ONS Postcode Directory


def _termination_date(value: str) -> date | None:
    """ONSPD ``doterm`` is YYYYMM; a postcode terminated in a month counts from its first day."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"\d{6}", value) or not 1 <= int(value[4:]) <= 12:
        raise ValueError(value)
    return date(int(value[:4]), int(value[4:]), 1)


class OnspdSource:
    """The ONS Postcode Directory: one CSV with a header row (UK-wide, incl. terminated)."""

    name = "ONS Postcode Directory"
    fields = ONSPD_FIELDS
    expected_rows = None

    def __init__(self, opener: Callable[[], io.TextIOBase], label: str, header: list[str]):
        self.opener = opener
        self.label = label
        self.columns = {name: header.index(name) for name in ONSPD_COLUMNS}
        self.release = None

    def area_names(self) -> list[tuple[str, str, str]]:
        return []

    def batches(self, summary: ImportSummary) -> Iterator[_Batch]:
        batch: list[tuple[Any, ...]] = []
        width = max(self.columns.values()) + 1
        with self.opener() as text:
            reader = csv.reader(text)
            next(reader, None)  # the header, checked by open_source
            for record in reader:
                summary.rows_read += 1
                if len(record) < width:
                    summary.skipped["too few columns"] += 1
                    continue
                row = self._row(
                    {name: record[i].strip() for name, i in self.columns.items()}, summary
                )
                if row is not None:
                    batch.append(row)
                if len(batch) >= BATCH_SIZE:
                    yield _Batch(self.fields, batch)
                    batch = []
        if batch:
            yield _Batch(self.fields, batch)

    @staticmethod
    def _row(record: dict[str, str], summary: ImportSummary) -> tuple[Any, ...] | None:
        postcode = unit_key(record["pcds"])
        if postcode is None:
            summary.skipped["not a valid full postcode"] += 1
            return None
        try:
            lat, lng = float(record["lat"]), float(record["long"])
            terminated_on = _termination_date(record["doterm"])
            east = int(record["oseast1m"]) if record["oseast1m"] else None
            north = int(record["osnrth1m"]) if record["osnrth1m"] else None
        except ValueError:
            summary.skipped["lat, long, doterm or grid reference malformed"] += 1
            return None
        quality = ONSPD_QUALITY.get(record["osgrdind"])
        if quality is None:
            summary.skipped["unknown grid reference quality (osgrdind)"] += 1
            return None
        if not all(0 <= v <= GRID_MAX_NORTHING for v in (east, north) if v is not None):
            summary.skipped["grid reference out of range"] += 1
            return None
        codes = tuple(_optional_code(record[c]) for c in ("ctry", "oscty", "oslaua", "osward"))
        force = _optional_code(record["pfa"])
        if MALFORMED in codes or force == MALFORMED:
            summary.skipped["malformed area code"] += 1
            return None
        if lat == ONSPD_NO_POSITION_LAT:
            lat = lng = None  # type: ignore[assignment]
            quality = NO_COORDINATES
        elif not (math.isfinite(lat) and math.isfinite(lng) and in_uk(lat, lng)):
            summary.skipped["position outside the UK"] += 1
            return None
        # No band for terminated units: the nearest search only walks live ones.
        band = math.floor(lat * 100) if lat is not None and terminated_on is None else None
        return (postcode, lat, lng, band, east, north, quality, *codes, terminated_on, force)


# ------------------------------------------------------------------------- detection


def _onspd_header(first_line: str, label: str) -> list[str]:
    header = next(csv.reader([first_line]), [])
    header = [h.strip().lower().lstrip("\ufeff") for h in header]
    if "pcds" not in header:
        raise ImportFormatError(
            f"{label} is not a postcode download: expected the OS Code-Point Open zip or an "
            "ONS Postcode Directory CSV (a header row with pcds, lat, long, ...)"
        )
    missing = [c for c in ONSPD_COLUMNS if c not in header]
    if missing:
        raise ImportFormatError(
            f"{label} is not a complete ONS Postcode Directory CSV: its header has no "
            f"{', '.join(repr(m) for m in missing)} column"
        )
    return header


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
        try:
            archive = zipfile.ZipFile(path)
            damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise ImportFormatError(f"{path} is a damaged zip file ({exc})") from exc
        if damaged:
            raise ImportFormatError(f"{path} is damaged: {damaged} fails its checksum")
        if any(_CODEPOINT_MEMBER.match(n) for n in archive.namelist()):
            return CodePointSource(archive, path)
        csvs = [n for n in archive.namelist() if n.lower().endswith(".csv") and "/Data/" in "/" + n]
        for name in sorted(csvs, key=lambda n: archive.getinfo(n).file_size, reverse=True)[:1]:
            with archive.open(name) as raw:
                first = io.TextIOWrapper(raw, encoding="utf-8-sig").readline()
            header = _onspd_header(first, f"{path}:{name}")
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
    header = _onspd_header(first, str(path))
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


def _write_sqlite(engine: Engine, batch: _Batch) -> None:
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


def _write_postgresql(engine: Engine, batch: _Batch) -> None:
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


def _deduplicate(batch: _Batch, summary: ImportSummary) -> _Batch:
    """Keep the last row of a postcode repeated within a batch: an upsert may touch a row once.

    A repeat in a later batch simply updates the row again, which is harmless.
    """
    unique = {row[0]: row for row in batch.rows}
    if len(unique) < len(batch.rows):
        summary.skipped["postcode repeated in the file"] += len(batch.rows) - len(unique)
        return _Batch(batch.fields, list(unique.values()))
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
        for batch in source.batches(summary):
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
