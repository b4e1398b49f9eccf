"""The ONS Postcode Directory CSV (bare, or the zip with it under ``Data/``).

A header row, WGS84 ``lat``/``long``, termination dates, Northern Ireland and the police force
area (``pfa``). A file missing a column the import reads is refused.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from directory.geography.geo import in_uk
from directory.geography.postcode_rows import (
    GRID_MAX_NORTHING,
    MALFORMED,
    ONSPD_FIELDS,
    Batch,
    ImportFormatError,
    ImportSummary,
    optional_code,
    unit_key,
)
from directory.geography.postcodes import NO_COORDINATES

# Every ONSPD column the import reads; a file without one of them is refused (importing it
# anyway would overwrite stored values with blanks).
ONSPD_COLUMNS = (
    "pcds", "lat", "long", "doterm", "osgrdind", "oseast1m", "osnrth1m",
    "ctry", "oscty", "oslaua", "osward", "pfa",
)  # fmt: skip
ONSPD_NO_POSITION_LAT = 99.999999

# ONSPD grid reference quality (osgrdind 1-9) on the Code-Point positional quality scale.
ONSPD_QUALITY = {"1": 10, "2": 20, "3": 30, "4": 40, "5": 50, "6": 60, "8": 50, "9": 90}


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

    def batches(self, summary: ImportSummary, batch_size: int) -> Iterator[Batch]:
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
                if len(batch) >= batch_size:
                    yield Batch(self.fields, batch)
                    batch = []
        if batch:
            yield Batch(self.fields, batch)

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
        codes = tuple(optional_code(record[c]) for c in ("ctry", "oscty", "oslaua", "osward"))
        force = optional_code(record["pfa"])
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


def onspd_header(first_line: str, label: str) -> list[str]:
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
