"""Who is local to a place: the team whose patch holds it, its force, officers and local sites.

The resident's question, answered from police and sites together (so this module sits above
both). A unit's team was recorded when boundaries were loaded and is one indexed read of Core
rows; anything else (a sector, a district, a unit imported since) is placed by geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.geography.models import Postcode
from directory.police.models import PoliceForce
from directory.police.patches import (
    active_officer_rows,
    neighbourhood_at,
    neighbourhood_for_postcode,
)
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


def local_to(session: Session, lat: float, lng: float, unit: str | None = None) -> LocalAnswer:
    """What is local to the point; ``unit`` is its own postcode when it is one (display form)."""
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
    no_team = None if neighbourhood is not None else _why_no_team(session, unit)
    return LocalAnswer(neighbourhood, force, officers, sites, no_team)


def _why_no_team(session: Session, unit: str | None) -> str:
    """Why no team answers for a place: which forces the directory has teams for (and the
    unit's police force area code, when the postcode data carries one)."""
    forces = list(session.scalars(select(PoliceForce.id).order_by(PoliceForce.id)))
    area = session.scalar(select(Postcode.police_force_code).where(Postcode.postcode == unit))
    where = f" (its police force area code is {area})" if unit and area else ""
    if not forces:
        return (f"no police teams have been imported yet{where}: an operator adds a force "
                "with `hyperlocal police import --force <force-id>`")  # fmt: skip
    return (f"no neighbourhood team in the directory covers this place{where}; teams are "
            f"imported for {', '.join(forces)} only")  # fmt: skip
