"""Import Ordnance Survey **OS Open Names** into the gazetteer, the zip as distributed.

The download (``opname_csv_gb.zip``) holds ``Doc/OS_Open_Names_Header.csv`` (the one header
line) and ``Data/<tile>.csv`` files without headers, one row per named feature: roads, water,
landforms and the populated places kept here (``TYPE`` ``populatedPlace``; ``LOCAL_TYPE`` City,
Town, Village, Hamlet, Suburban Area or Other Settlement). Positions and extents are British
National Grid metres (``GEOMETRY_X``/``Y``, ``MBR_*``), converted to WGS84 with pyproj.
A Welsh or Gaelic place has its second name in ``NAME2`` (``NAME2_LANG`` ``cym``/``gla``):
both are stored, under the same id.

OS Open Names is under the Open Government Licence v3.0: ``OPEN_NAMES_ATTRIBUTION``.

An import replaces the rows an earlier OS Open Names import made, and the embedded GeoNames
rows it matches (the same name within ``MATCH_M``), whose population moves onto the OS row:
GeoNames knows how many live in a town, OS Open Names how far it reaches. GeoNames names OS
Open Names does not have ("Milford" for Milford Haven) stay. One transaction: a failed import
changes nothing, and searches answer from the old rows until it commits.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from directory.geography.geo import distance_m
from directory.geography.models import Place
from directory.geography.places import OPEN_NAMES_ATTRIBUTION, place_key
from directory.geography.postcode_rows import (
    GRID_MAX_EASTING,
    GRID_MAX_NORTHING,
    ImportFormatError,
    checked_zip,
)

SOURCE = "os-open-names"
HEADER_MEMBER = re.compile(r"(?:^|/)doc/os_open_names_header\.csv$", re.IGNORECASE)
DATA_MEMBER = re.compile(r"(?:^|/)data/[^/]+\.csv$", re.IGNORECASE)
REQUIRED = ("ID", "NAME1", "NAME1_LANG", "NAME2", "NAME2_LANG", "TYPE", "LOCAL_TYPE",
            "GEOMETRY_X", "GEOMETRY_Y", "MBR_XMIN", "MBR_YMIN", "MBR_XMAX", "MBR_YMAX")  # fmt: skip
POPULATED_PLACE = "populatedPlace"
PLACE_TYPES = ("City", "Town", "Village", "Hamlet", "Suburban Area", "Other Settlement")
MATCH_M = 5_000.0  # a GeoNames place this close with the same name is the same place
INSERT_BATCH = 5_000
ProgressCallback = Callable[[int, int | None], None]


@dataclass
class PlacesImportSummary:
    """What an OS Open Names import did, for the CLI's closing lines and for tests."""

    source: str
    rows_read: int = 0
    features_skipped: int = 0  # roads, water, landforms: named features that are not places
    places: Counter[str] = field(default_factory=Counter)  # by LOCAL_TYPE
    second_names: int = 0  # Welsh or Gaelic names stored beside the English
    replaced: int = 0  # rows of an earlier import
    geonames_merged: int = 0  # embedded GeoNames rows the import took over
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def imported(self) -> int:
        return sum(self.places.values())

    def describe(self) -> str:
        kinds = ", ".join(f"{count:,} {kind}" for kind, count in self.places.most_common())
        lines = [
            f"{self.source}: {self.rows_read:,} rows read, {self.imported:,} places "
            f"({kinds or 'none'}), {self.second_names:,} Welsh or Gaelic names, "
            f"{self.features_skipped:,} other features left out, "
            f"{sum(self.skipped.values()):,} rows skipped",
            f"  replaced {self.replaced:,} rows of an earlier import; took over "
            f"{self.geonames_merged:,} GeoNames places (their populations kept)",
        ]
        lines += [f"  skipped {count:,}: {reason}" for reason, count in self.skipped.most_common()]
        lines.append(f"  {OPEN_NAMES_ATTRIBUTION}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Row:
    ident: str
    names: tuple[str, ...]
    kind: str
    x: float
    y: float
    half_extent_m: float


def import_open_names(
    engine: Engine, path: str | Path, on_progress: ProgressCallback | None = None
) -> PlacesImportSummary:
    """Import the populated places of an OS Open Names zip; see the module docstring.

    Raises ImportFormatError, before anything is written, when the file is not an OS Open
    Names download, is damaged, or holds no usable place. ``on_progress(files_read,
    files)`` is called after each data file.
    """
    path = Path(path)
    archive, header, members = _open(path)
    summary = PlacesImportSummary(source=f"OS Open Names ({path.name})")
    rows: list[_Row] = []
    with archive:
        for done, member in enumerate(members, start=1):
            rows.extend(_read_member(archive, member, header, summary))
            if on_progress:
                on_progress(done, len(members))
    if not rows:
        raise ImportFormatError(f"{path}: no populated place in any of its {len(members)} data "
                                "files")  # fmt: skip
    records = _to_records(rows)
    with engine.begin() as connection:
        _replace(connection, records, summary)
    return summary


def _open(path: Path) -> tuple[zipfile.ZipFile, list[str], list[str]]:
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist or is not a file")
    archive = checked_zip(path)
    names = archive.namelist()
    header_member = next((n for n in names if HEADER_MEMBER.search(n)), None)
    members = sorted(n for n in names if DATA_MEMBER.search(n))
    if header_member is None or not members:
        raise ImportFormatError(
            f"{path} is not an OS Open Names download: it needs Doc/OS_Open_Names_Header.csv "
            "and Data/*.csv (the CSV zip from the OS Data Hub)"
        )
    text = archive.read(header_member).decode("utf-8-sig").strip()
    header = [column.strip() for column in next(csv.reader([text]), [])]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise ImportFormatError(f"{path}:{header_member} lacks the columns {', '.join(missing)}")
    return archive, header, members


def _read_member(
    archive: zipfile.ZipFile, member: str, header: list[str], summary: PlacesImportSummary
) -> Iterator[_Row]:
    column = {name: index for index, name in enumerate(header)}
    with archive.open(member) as raw:
        for values in csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace")):
            if not values:
                continue
            summary.rows_read += 1
            if len(values) != len(header):
                summary.skipped[f"not {len(header)} columns"] += 1
                continue
            kind = values[column["LOCAL_TYPE"]].strip()
            if values[column["TYPE"]].strip() != POPULATED_PLACE or kind not in PLACE_TYPES:
                summary.features_skipped += 1
                continue
            row = _row(values, column, kind)
            if isinstance(row, str):
                summary.skipped[row] += 1
                continue
            summary.places[kind] += 1
            summary.second_names += len(row.names) - 1
            yield row


def _row(values: list[str], column: dict[str, int], kind: str) -> _Row | str:
    """A place, or why the row cannot be one."""
    names = [values[column["NAME1"]].strip()]
    second = values[column["NAME2"]].strip()
    if second and place_key(second) != place_key(names[0]):
        names.append(second)
    if not names[0] or not place_key(names[0]):
        return "no name"
    if any(len(name) > 200 for name in names):
        return "a name longer than 200 characters"
    try:
        x, y = float(values[column["GEOMETRY_X"]]), float(values[column["GEOMETRY_Y"]])
        box = [float(values[column[c]] or "nan") for c in ("MBR_XMIN", "MBR_YMIN", "MBR_XMAX",
                                                           "MBR_YMAX")]  # fmt: skip
    except ValueError:
        return "coordinates that are not numbers"
    if not (0 <= x <= GRID_MAX_EASTING and 0 <= y <= GRID_MAX_NORTHING):
        return "a position outside the British National Grid"
    extent = max(box[2] - box[0], box[3] - box[1]) / 2 if all(map(math.isfinite, box)) else 0.0
    ident = values[column["ID"]].strip()[:60]
    return _Row(ident, tuple(names), kind, x, y, max(extent, 0.0))


def _to_records(rows: list[_Row]) -> list[dict[str, Any]]:
    """``places`` rows (one per name) with WGS84 positions, converted in one call."""
    from pyproj import Transformer  # imported here: slow to import, only imports need it

    to_wgs84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    lngs, lats = to_wgs84.transform([r.x for r in rows], [r.y for r in rows])
    records = []
    for row, lat, lng in zip(rows, lats, lngs, strict=True):
        for name in row.names:
            records.append({"name": name, "key": place_key(name), "kind": row.kind,
                            "latitude": round(lat, 6), "longitude": round(lng, 6),
                            "population": None, "radius_m": row.half_extent_m or None,
                            "source": SOURCE, "source_id": row.ident})  # fmt: skip
    return records


def _replace(
    connection: Connection, records: list[dict[str, Any]], summary: PlacesImportSummary
) -> None:
    """Swap in the new rows: populations from the earlier import or the GeoNames place they
    match, the matched GeoNames rows and the earlier import's rows removed."""
    table = Place.__table__
    kept = select(Place.source_id, Place.population).where(
        Place.source == SOURCE, Place.population.is_not(None))  # fmt: skip
    earlier = dict(connection.execute(kept).all())
    geonames: dict[str, list[Any]] = {}
    embedded = select(Place.id, Place.key, Place.latitude, Place.longitude,
                      Place.population).where(Place.source == "geonames")  # fmt: skip
    for row in connection.execute(embedded):
        geonames.setdefault(row.key, []).append(row)
    merged: set[int] = set()
    for record in records:
        record["population"] = earlier.get(record["source_id"])
        for match in geonames.get(record["key"], ()):
            near = distance_m(record["latitude"], record["longitude"], match.latitude,
                              match.longitude) <= MATCH_M  # fmt: skip
            if near:
                merged.add(match.id)
                record["population"] = record["population"] or match.population
    summary.replaced = connection.execute(delete(table).where(table.c.source == SOURCE)).rowcount
    ids = sorted(merged)
    for start in range(0, len(ids), INSERT_BATCH):
        connection.execute(delete(table).where(table.c.id.in_(ids[start : start + INSERT_BATCH])))
    summary.geonames_merged = len(ids)
    for start in range(0, len(records), INSERT_BATCH):
        connection.execute(table.insert(), records[start : start + INSERT_BATCH])
