"""Which police force covers a local authority district, before any boundary is imported.

Reference data shipped with the code (``directory/data/district_police_force.csv``): every
district code that Code-Point Open uses, with the ONS police force area (code and name) it lies
in and that force's data.police.uk id. Police force areas are made of whole districts, so a
postcode's district names its force; a postcode *district* (WV11) can straddle two forces, so
always go through a unit's own district. Scottish districts have no data.police.uk force.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class ForceArea:
    code: str  # ONS police force area code ("E23000014"); "" for Police Scotland
    name: str  # ONS name ("West Midlands")
    force_id: str | None  # data.police.uk id ("west-midlands"); None in Scotland


@cache
def district_forces() -> dict[str, ForceArea]:
    """District code -> its police force area."""
    text = files("directory.data").joinpath("district_police_force.csv").read_text("utf-8")
    return {
        row["district_code"]: ForceArea(row["pfa_code"], row["pfa_name"], row["force_id"] or None)
        for row in csv.DictReader(io.StringIO(text))
    }


def force_area_of_district(district_code: str | None) -> ForceArea | None:
    return district_forces().get(district_code or "")


@cache
def districts_of_force(force_id: str) -> frozenset[str]:
    """The district codes that make up a force's area."""
    return frozenset(code for code, area in district_forces().items() if area.force_id == force_id)


@cache
def force_area_name(force_id: str) -> str | None:
    """The ONS name of a force's area ("Merseyside", "Devon & Cornwall"), if the lookup has it."""
    return next((a.name for a in district_forces().values() if a.force_id == force_id), None)
