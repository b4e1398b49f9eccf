"""The OS Code-Point Open zip as distributed: one headerless CSV per postcode area.

British National Grid eastings/northings are converted to WGS84 with pyproj, one vectorised call
per area file; ``Doc/Codelist.xlsx`` names every ward, district and county code.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from directory.geography.geo import UK_LAT_RANGE, UK_LNG_RANGE
from directory.geography.postcode_rows import (
    CODEPOINT_COLUMNS,
    CODEPOINT_FIELDS,
    GRID_MAX_EASTING,
    GRID_MAX_NORTHING,
    GSS_CODE,
    MALFORMED,
    POSITIONAL_QUALITIES,
    Batch,
    GssCodes,
    ImportFormatError,
    ImportSummary,
    unit_key,
)
from directory.geography.postcodes import NO_COORDINATES

CODEPOINT_MEMBER = re.compile(r"^Data/CSV/([a-z]{1,2})\.csv$", re.IGNORECASE)


class CodePointSource:
    """The OS Code-Point Open zip as downloaded from the OS Data Hub."""

    name = "OS Code-Point Open"
    fields = CODEPOINT_FIELDS

    def __init__(self, archive: zipfile.ZipFile, path: Path):
        self.archive = archive
        self.path = path
        self.members = sorted(n for n in archive.namelist() if CODEPOINT_MEMBER.match(n))
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
                    if GSS_CODE.match(code):
                        names.append((code, row[0].strip(), sheet.title))
        workbook.close()
        return names

    def batches(self, summary: ImportSummary, batch_size: int) -> Iterator[Batch]:
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
            for start in range(0, len(rows), batch_size):
                yield Batch(self.fields, rows[start : start + batch_size])

    def _read_member(self, member: str, summary: ImportSummary) -> Any:
        """Parallel lists (postcodes, quality, eastings, northings, codes) of the valid rows."""
        pcs: list[str] = []
        quality: list[int] = []
        east: list[int] = []
        north: list[int] = []
        codes: list[tuple[str | None, ...]] = []
        code = GssCodes()
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
