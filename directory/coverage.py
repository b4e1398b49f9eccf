"""Where no hyperlocal site reaches: the postcode sectors of an area that no approved site covers.

A neighbourhood team asks "where should we help a community start a site?". The answer is
worked out on the postcode units inside the area: a unit is covered when some approved site's
coverage holds it (its own postcode for postcode-set coverage, its position otherwise). Every
sector with a unit no site covers is listed with how many (a sector no site reaches at all has
them all uncovered), and a district none of whose units is covered is listed whole.
``patch_gaps`` asks it of a team's patch or of a whole force (police and sites together, so this
module sits above both).
Point-in-polygon tests are vectorised (shapely over numpy arrays), so a force's tens of
thousands of units take a fraction of a second.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy.orm import Session

from directory.geography.area_builders import union_area
from directory.geography.areas import Area
from directory.geography.postcodes import postcode_teams_in_box
from directory.police.patches import neighbourhood_area
from directory.police.store import get_force, get_neighbourhood, neighbourhoods_of_force
from directory.sites.store import site_areas_in_box


@dataclass(frozen=True)
class Gap:
    """A sector or district inside the area with units no approved site covers."""

    code: str
    postcode_count: int  # its units inside the area
    latitude: float
    longitude: float
    uncovered_count: int = -1  # of those, the ones no site covers (-1: all of them)

    def __post_init__(self) -> None:
        if self.uncovered_count < 0:
            object.__setattr__(self, "uncovered_count", self.postcode_count)


@dataclass(frozen=True)
class CoverageReport:
    postcode_count: int  # live, located units inside the area
    covered_count: int
    sectors: list[Gap]
    districts: list[Gap]


def _inside(area: Area, lats: np.ndarray, lngs: np.ndarray) -> np.ndarray:
    return shapely.contains_xy(area.geometry, lngs, lats) | shapely.intersects_xy(
        area.geometry.boundary, lngs, lats
    )


def coverage_gaps(session: Session, area: Area) -> CoverageReport:
    """The sectors and districts of ``area`` that no approved site covers, with unit counts."""
    units = postcode_teams_in_box(session, area.bbox)
    if not units:
        return CoverageReport(0, 0, [], [])
    keys = np.array([u[0] for u in units])
    lats = np.array([u[1] for u in units])
    lngs = np.array([u[2] for u in units])
    inside = (
        _inside(area, lats, lngs)
        if area.kind != "postcodes"
        else np.array([area.covers_postcode(k) for k in keys])
    )
    keys, lats, lngs = keys[inside], lats[inside], lngs[inside]
    covered = np.zeros(len(keys), dtype=bool)
    for coverage in site_areas_in_box(session, area.bbox).values():
        if coverage.kind == "postcodes":
            covered |= np.array([coverage.covers_postcode(k) for k in keys], dtype=bool)
        elif coverage.kind == "circle":
            covered |= np.array(
                [coverage.contains(a, b) for a, b in zip(lats, lngs, strict=True)], dtype=bool
            )
        else:
            covered |= _inside(coverage, lats, lngs)
    by_sector: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        by_sector[str(key)[:-2]].append(index)
    sector_gaps: list[Gap] = []
    sectors_by_district: dict[str, list[bool]] = defaultdict(list)
    for sector, indexes in sorted(by_sector.items()):
        uncovered = int((~covered[indexes]).sum())
        sectors_by_district[sector.split(" ")[0]].append(uncovered == len(indexes))
        if uncovered:
            sector_gaps.append(Gap(sector, len(indexes), round(float(lats[indexes].mean()), 6),
                                   round(float(lngs[indexes].mean()), 6), uncovered))  # fmt: skip
    district_gaps = []
    for district, flags in sorted(sectors_by_district.items()):
        if all(flags):
            members = [g for g in sector_gaps if g.code.split(" ")[0] == district]
            count = sum(g.postcode_count for g in members)
            lat = sum(g.latitude * g.postcode_count for g in members) / count
            lng = sum(g.longitude * g.postcode_count for g in members) / count
            district_gaps.append(Gap(district, count, round(lat, 6), round(lng, 6)))
    return CoverageReport(len(keys), int(covered.sum()), sector_gaps, district_gaps)


class NoPatch(ValueError):
    """The teams asked about have no boundary to examine; the message says which."""


@dataclass(frozen=True)
class PatchGaps:
    label: str  # "neighbourhood west-midlands/WV11demo" or "force west-midlands"
    report: CoverageReport


def patch_gaps(
    session: Session, *, neighbourhood: tuple[str, str] | None = None, force: str | None = None
) -> PatchGaps:
    """The gaps in one team's patch (``neighbourhood=(force, id)``) or in every patch of a
    force; raises NeighbourhoodNotFound / ForceNotFound, or NoPatch without any boundary."""
    if neighbourhood is not None:
        force_id, code = neighbourhood
        teams = [get_neighbourhood(session, force_id, code)]
        label = f"neighbourhood {force_id}/{code}"
    elif force is not None:
        get_force(session, force)
        teams = list(neighbourhoods_of_force(session, force, 1, 10_000).items)
        label = f"force {force}"
    else:
        raise NoPatch("give ?neighbourhood=<force>/<id> or ?force=<force id>")
    areas = [a for a in (neighbourhood_area(session, t) for t in teams) if a is not None]
    if not areas:
        raise NoPatch(f"{label} has no neighbourhood boundaries to examine")
    return PatchGaps(label, coverage_gaps(session, union_area(areas)))
