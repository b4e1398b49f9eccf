"""Who is local to a place: the team whose patch holds it, its force, officers and local sites.

The resident's question, answered from police and sites together (so this module sits above
both). A unit's team was recorded when boundaries were loaded and is one indexed read of Core
rows; anything else (a sector, a district, a unit imported since) is placed by geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.geography.force_at import force_area_at
from directory.geography.models import Postcode
from directory.geography.police_force_areas import ForceArea, force_area_of_district
from directory.police.models import PoliceForce
from directory.police.patches import (
    active_officer_rows,
    neighbourhood_at,
    neighbourhood_for_postcode,
)
from directory.sites.models import is_dormant
from directory.sites.store import SiteMatch, sites_near

LOCAL_SITES_RADIUS_M = 2_000  # sites this close count as "local" to a resident
LOCAL_SITES_MAX = 20


@dataclass(frozen=True)
class LocalAnswer:
    neighbourhood: Any  # the recorded team's Core row, or a Neighbourhood; None outside any
    force: dict[str, Any] | None  # id, name, url, telephone
    officers: list[Any]  # the team's active officers (Core rows)
    sites: list[SiteMatch]  # covering the place first, then nearby
    no_team: str | None = None  # why there is no team, in words, when there is none
    dormant: list[SiteMatch] = field(default_factory=list)  # local, but silent for months


def local_to(session: Session, lat: float, lng: float, unit: str | None = None,
             published_since: datetime | None = None) -> LocalAnswer:  # fmt: skip
    """What is local to the point; ``unit`` is its own postcode when it is one (display form).
    Sites that have published nothing since ``published_since`` are set apart as dormant."""
    neighbourhood: Any = neighbourhood_for_postcode(session, unit) if unit else None
    force: dict[str, Any] | None = None
    if neighbourhood is not None:
        team = neighbourhood
        force = {"id": team.force_id, "name": team.force_name, "url": team.force_url,
                 "telephone": team.force_telephone}  # fmt: skip
    else:
        neighbourhood = neighbourhood_at(session, lat, lng)
        if neighbourhood is not None:
            f = neighbourhood.force
            force = {"id": f.id, "name": f.name, "url": f.url, "telephone": f.telephone}
    sites = sites_near(session, lat, lng, LOCAL_SITES_RADIUS_M, postcode=unit,
                       with_area=False)[:LOCAL_SITES_MAX]  # fmt: skip
    officers = active_officer_rows(session, neighbourhood.id) if neighbourhood else []
    no_team = None
    if neighbourhood is None:
        area = _force_area_at(session, lat, lng, unit)
        force = force or _force_of(session, area)
        no_team = _why_no_team(session, area)
    dormant = [match for match in sites if is_dormant(match.site, published_since)]
    live = [match for match in sites if match not in dormant]
    return LocalAnswer(neighbourhood, force, officers, live, no_team, dormant)


def _force_area_at(session: Session, lat: float, lng: float, unit: str | None) -> ForceArea | None:
    """The police force area of the unit, or of the postcode nearest the point (a sector's or a
    district's centre), from the districts' lookup: known before any team is imported."""
    if unit:
        district = session.scalar(select(Postcode.district_code).where(Postcode.postcode == unit))
        if district is not None:
            return force_area_of_district(district)
    return force_area_at(session, lat, lng)


def _force_of(session: Session, area: ForceArea | None) -> dict[str, Any] | None:
    if area is None or area.force_id is None:
        return None
    known = session.get(PoliceForce, area.force_id)
    if known is not None:
        return {"id": known.id, "name": known.name, "url": known.url,
                "telephone": known.telephone}  # fmt: skip
    return {"id": area.force_id, "name": area.name, "url": None, "telephone": None}


def _why_no_team(session: Session, area: ForceArea | None) -> str:
    """Why no team answers for a place: whose area it is, and which forces the directory has
    teams for."""
    forces = list(session.scalars(select(PoliceForce.id).order_by(PoliceForce.id)))
    if area is not None and area.force_id is None:
        return (f"this place is policed by {area.name}, which data.police.uk does not cover: "
                "no neighbourhood teams can be imported for it")  # fmt: skip
    where = f" (the {area.name} police force area, `{area.force_id}`)" if area else ""
    if not forces:
        return (f"no police teams have been imported yet{where}: an operator adds a force "
                "with `hyperlocal police import --force <force-id>`")  # fmt: skip
    return (f"no neighbourhood team in the directory covers this place{where}; teams are "
            f"imported for {', '.join(forces)} only")  # fmt: skip
