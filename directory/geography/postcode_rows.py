"""What a row of an official postcode download must hold, shared by both sources' readers.

GSS codes (and the pseudo-codes meaning "not applicable"), the positional quality scale, the
grid's extent, the columns each source writes, and the summary an import reports.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from directory.geography.postcode_format import DISPLAY_UNIT_RE, PostcodeInvalid, parse_postcode
from directory.geography.postcodes import QUALITY_DESCRIPTIONS

CODEPOINT_COLUMNS = 10
GSS_CODE = re.compile(r"^[A-Z][0-9]{8}$")
_PSEUDO_CODE = re.compile(r"^[A-Z]99999999$")  # ONSPD "no such area here"
POSITIONAL_QUALITIES = frozenset(QUALITY_DESCRIPTIONS)  # Code-Point's scale

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


class ImportFormatError(ValueError):
    """The file is not a postcode download we can read, or it is damaged; nothing was written."""


def checked_zip(path: Path) -> zipfile.ZipFile:
    """A downloaded zip, checked whole (directory and every member's checksum) before use."""
    try:
        archive = zipfile.ZipFile(path)
        damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise ImportFormatError(f"{path} is a damaged zip file ({exc})") from exc
    if damaged:
        archive.close()
        raise ImportFormatError(f"{path} is damaged: {damaged} fails its checksum")
    return archive


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
class Batch:
    fields: Sequence[str]
    rows: list[tuple[Any, ...]]


MALFORMED = "malformed"  # what optional_code returns for a value that is not a GSS code


def optional_code(value: str) -> str | None:
    """A GSS code; None for blank and for the pseudo-codes meaning 'not applicable'; MALFORMED
    for anything else (a row holding one is skipped, never stored)."""
    value = value.strip()
    if not value or _PSEUDO_CODE.match(value):
        return None
    return value if GSS_CODE.match(value) else MALFORMED


class GssCodes(dict[str, str | None]):
    """``codes[raw]`` → cleaned code, computed once per distinct value (a few thousand a file)."""

    def __missing__(self, raw: str) -> str | None:
        value = self[raw] = optional_code(raw)
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
