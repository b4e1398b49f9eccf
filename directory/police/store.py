"""Police forces, neighbourhood teams and officers: stored, re-imported, and found by place.

A re-import updates what it finds and marks what it no longer finds as inactive: a team or an
officer never silently disappears (their posts and subscriptions may refer to them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from directory.accounts import Account
from directory.geography.area_cache import AREAS
from directory.geography.areas import Area, union_area
from directory.geography.geo import bbox_around, distance_m
from directory.geography.models import Postcode
from directory.geography.postcodes import (
    postcode_teams_in_box,
    postcodes_of_teams,
    set_postcode_teams,
)
from directory.police.data import CONTACT_KEYS, ForceData, NeighbourhoodData, OfficerData
from directory.police.models import Neighbourhood, Officer, PoliceForce
from directory.storage import Page, Reader, connection_of, database_key, paginate, utcnow
from directory.text import plain_text


class ForceNotFound(LookupError):
    """No force with that id."""


class NeighbourhoodNotFound(LookupError):
    """No neighbourhood with that force and id."""


@dataclass
class PoliceImportCounts:
    neighbourhoods_new: int = 0
    neighbourhoods_updated: int = 0
    neighbourhoods_inactive: int = 0
    officers_new: int = 0
    officers_updated: int = 0
    officers_inactive: int = 0


@dataclass(frozen=True)
class NeighbourhoodMatch:
    """A neighbourhood found for a place: contains it, or is within the radius of it."""

    neighbourhood: Neighbourhood
    distance_m: float
    reason: Literal["covers", "nearby"]


def save_police_import(
    session: Session, force: ForceData, neighbourhoods: list[NeighbourhoodData]
) -> PoliceImportCounts:
    """Write one force's import: upsert what came, deactivate what did not (no commit)."""
    now = utcnow()
    counts = PoliceImportCounts()
    row = session.get(PoliceForce, force.id) or PoliceForce(id=force.id)
    row.name, row.url, row.description = force.name, force.url, force.description
    row.telephone, row.engagement, row.updated_at = force.telephone, force.engagement, now
    session.add(row)
    existing = {
        n.code: n
        for n in session.scalars(select(Neighbourhood).where(Neighbourhood.force_id == force.id))
    }
    for data in neighbourhoods:
        neighbourhood = existing.pop(data.code, None)
        if neighbourhood is None:
            neighbourhood = Neighbourhood(force_id=force.id, code=data.code)
            session.add(neighbourhood)
            counts.neighbourhoods_new += 1
        else:
            counts.neighbourhoods_updated += 1
        _set_neighbourhood(neighbourhood, data, now)
        session.flush()
        new, updated, gone = _sync_officers(session, neighbourhood, data.officers, now)
        counts.officers_new += new
        counts.officers_updated += updated
        counts.officers_inactive += gone
    for neighbourhood in existing.values():
        if neighbourhood.active:
            neighbourhood.active = False
            neighbourhood.updated_at = now
            counts.neighbourhoods_inactive += 1
        _, _, gone = _sync_officers(session, neighbourhood, [], now)
        counts.officers_inactive += gone
    session.flush()
    force_teams = session.scalars(select(Neighbourhood).where(Neighbourhood.force_id == force.id))
    assign_postcodes(session, list(force_teams))
    return counts


def _set_neighbourhood(row: Neighbourhood, data: NeighbourhoodData, now) -> None:  # type: ignore[no-untyped-def]
    row.name, row.description, row.url_force = data.name, data.description, data.url_force
    row.centre_lat, row.centre_lng = data.centre if data.centre else (None, None)
    set_boundary(row, data.boundary)
    row.contact_details = data.contact_details
    row.accounts = [a.to_json() for a in data.accounts]
    row.links = data.links
    row.active = True
    row.updated_at = now


def set_boundary(row: Neighbourhood, area: Area | None) -> None:
    """Store a neighbourhood's boundary and copy its bounding box into the indexed columns."""
    if area is None:
        row.boundary = None
        row.min_lat = row.min_lng = row.max_lat = row.max_lng = None
        return
    row.boundary = area.to_json()
    box = area.bbox
    row.min_lat, row.min_lng, row.max_lat, row.max_lng = (
        box.min_lat, box.min_lng, box.max_lat, box.max_lng
    )  # fmt: skip


def _sync_officers(
    session: Session, neighbourhood: Neighbourhood, officers: list[OfficerData], now
) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    existing = {
        o.name: o
        for o in session.scalars(
            select(Officer).where(Officer.neighbourhood_id == neighbourhood.id)
        )
    }
    new = updated = gone = 0
    for data in officers:
        officer = existing.pop(data.name, None)
        if officer is None:
            officer = Officer(neighbourhood_id=neighbourhood.id, name=data.name)
            session.add(officer)
            new += 1
        else:
            updated += 1
        officer.rank, officer.bio = data.rank, data.bio
        officer.accounts = [a.to_json() for a in data.accounts]
        officer.active, officer.updated_at = True, now
    for officer in existing.values():
        if officer.active:
            officer.active, officer.updated_at = False, now
            gone += 1
    return new, updated, gone


# ------------------------------------------------------------------------------ reading


def get_force(session: Session, force_id: str) -> PoliceForce:
    force = session.get(PoliceForce, force_id)
    if force is None:
        raise ForceNotFound(f"no police force '{force_id}'")
    return force


def list_forces(session: Session) -> list[PoliceForce]:
    return list(session.scalars(select(PoliceForce).order_by(PoliceForce.name)))


def get_neighbourhood(session: Session, force_id: str, code: str) -> Neighbourhood:
    neighbourhood = session.scalar(
        select(Neighbourhood).where(Neighbourhood.force_id == force_id, Neighbourhood.code == code)
    )
    if neighbourhood is None:
        raise NeighbourhoodNotFound(f"no neighbourhood '{code}' in force '{force_id}'")
    return neighbourhood


def neighbourhoods_of_force(
    session: Session, force_id: str, page: int, per_page: int
) -> Page[Neighbourhood]:
    """A force's active teams, by name."""
    query = (
        select(Neighbourhood)
        .where(Neighbourhood.force_id == force_id, Neighbourhood.active.is_(True))
        .order_by(Neighbourhood.name, Neighbourhood.id)
    )
    return paginate(session, query, page, per_page)


def active_officers(session: Session, neighbourhood_id: int) -> list[Officer]:
    return list(
        session.scalars(
            select(Officer)
            .where(Officer.neighbourhood_id == neighbourhood_id, Officer.active.is_(True))
            .order_by(Officer.name)
        )
    )


def _areas(session: Session, rows: Sequence[tuple[int, Any]]) -> dict[int, Area]:
    """Boundaries of (id, updated_at) rows, parsed once per change (``geography.area_cache``)."""

    def load(ids: list[int]) -> dict[int, Any]:
        query = select(Neighbourhood.id, Neighbourhood.boundary).where(Neighbourhood.id.in_(ids))
        return {row_id: boundary for row_id, boundary in session.connection().execute(query)}

    return AREAS.areas((database_key(session), "neighbourhoods"), rows, load)


def neighbourhood_area(session: Session, neighbourhood: Neighbourhood) -> Area | None:
    """The team's boundary as an Area (None for a team without one)."""
    found = _areas(session, [(neighbourhood.id, neighbourhood.updated_at)])
    return found.get(neighbourhood.id)


FORCE_OUTLINE_TOLERANCE_DEG = 0.001  # about 100 m: a force's area is for matching, not maps
_FORCE_AREAS: dict[tuple[str, str, Any, int], Area] = {}


def force_area(session: Session, force_id: str) -> Area | None:
    """The union of a force's active teams' boundaries, simplified (None without any).

    Kept per process until one of the teams changes: the union of a hundred boundaries takes
    longer than everything else a bulletin needs.
    """
    rows = session.execute(
        select(Neighbourhood.id, Neighbourhood.updated_at).where(
            Neighbourhood.force_id == force_id,
            Neighbourhood.active.is_(True),
            Neighbourhood.min_lat.is_not(None),
        )
    ).all()
    if not rows:
        return None
    key = (database_key(session), force_id, max(r.updated_at for r in rows), len(rows))
    if key not in _FORCE_AREAS:
        areas = list(_areas(session, [(r.id, r.updated_at) for r in rows]).values())
        if not areas:
            return None
        if len(_FORCE_AREAS) > 64:
            _FORCE_AREAS.clear()
        _FORCE_AREAS[key] = union_area(areas, FORCE_OUTLINE_TOLERANCE_DEG)
    return _FORCE_AREAS[key]


def neighbourhoods_near(
    session: Session, lat: float, lng: float, radius_m: float = 0.0
) -> list[NeighbourhoodMatch]:
    """Active neighbourhoods whose boundary holds the point, then those within ``radius_m``.

    The box index answers which boundaries might be involved; the boundaries themselves come
    from the area cache. A team without a boundary is 'nearby' by its centre.
    """
    box = bbox_around(lat, lng, max(radius_m, 1.0))
    rows = (
        session.connection()
        .execute(
            select(Neighbourhood.id, Neighbourhood.updated_at).where(
                Neighbourhood.active.is_(True),
                Neighbourhood.min_lat <= box.max_lat,
                Neighbourhood.max_lat >= box.min_lat,
                Neighbourhood.min_lng <= box.max_lng,
                Neighbourhood.max_lng >= box.min_lng,
            )
        )
        .all()
    )
    areas = _areas(session, [(row_id, changed) for row_id, changed in rows])
    covering: list[tuple[int, float]] = []
    nearby: list[tuple[int, float]] = []
    for row_id, area in areas.items():
        if area.contains(lat, lng):
            covering.append((row_id, 0.0))
        elif radius_m > 0 and (d := area.distance_m(lat, lng)) <= radius_m:
            nearby.append((row_id, round(d, 1)))
    found = _by_id(session, [row_id for row_id, _ in covering + nearby])
    matches = [NeighbourhoodMatch(found[i], d, "covers") for i, d in sorted(covering)]
    near = [NeighbourhoodMatch(found[i], d, "nearby") for i, d in nearby]
    if radius_m > 0:
        near += _centres_near(session, lat, lng, radius_m)
    near.sort(key=lambda m: (m.distance_m, m.neighbourhood.id))
    return matches + near


def _by_id(session: Session, ids: list[int]) -> dict[int, Neighbourhood]:
    if not ids:
        return {}
    return {
        n.id: n for n in session.scalars(select(Neighbourhood).where(Neighbourhood.id.in_(ids)))
    }


def _centres_near(
    session: Session, lat: float, lng: float, radius_m: float
) -> list[NeighbourhoodMatch]:
    box = bbox_around(lat, lng, radius_m)
    rows = session.scalars(
        select(Neighbourhood).where(
            Neighbourhood.active.is_(True),
            Neighbourhood.min_lat.is_(None),  # no boundary
            Neighbourhood.centre_lat.between(box.min_lat, box.max_lat),
            Neighbourhood.centre_lng.between(box.min_lng, box.max_lng),
        )
    ).all()
    found = []
    for row in rows:
        d = distance_m(lat, lng, row.centre_lat, row.centre_lng)  # type: ignore[arg-type]
        if d <= radius_m:
            found.append(NeighbourhoodMatch(row, round(d, 1), "nearby"))
    return found


def assign_postcodes(session: Session, teams: Sequence[Neighbourhood] | None = None) -> int:
    """Record, on each postcode unit, the active team whose boundary holds it.

    ``teams``: the teams whose boundary or state changed (default: every team). Units inside
    them are worked out again (vectorised point-in-polygon over the units in each box) and units
    that left them are cleared; units of other teams are left alone. Where patches overlap the
    smaller one wins (ties: the lower id), also against teams outside ``teams``, so one force
    redrawing a boundary cannot take another force's units by drawing a larger one. Only rows
    whose team changes are written. Returns how many units changed.
    """
    if teams is None:
        teams = list(session.scalars(select(Neighbourhood)))
    changed_ids = {t.id for t in teams}
    live = [t for t in teams if t.active and t.min_lat is not None]
    areas = _areas(session, [(t.id, t.updated_at) for t in live])
    desired: dict[str, int] = {}
    current: dict[str, int | None] = {}
    holders: dict[str, int] = {}  # units inside a changed team but recorded for another team
    for team in sorted(live, key=lambda t: (-areas[t.id].geometry.area, -t.id) if t.id in areas
                       else (0, 0)):  # fmt: skip
        area = areas.get(team.id)
        units = postcode_teams_in_box(session, area.bbox) if area is not None else []
        if not units:
            continue
        lats = np.array([u[1] for u in units])
        lngs = np.array([u[2] for u in units])
        inside = shapely.intersects_xy(area.geometry, lngs, lats)  # type: ignore[union-attr]
        for (pc, _, _, team_now), is_inside in zip(units, inside.tolist(), strict=True):
            if is_inside:
                desired[pc] = team.id
                current[pc] = team_now
                if team_now is not None and team_now not in changed_ids:
                    holders[pc] = team_now
    _keep_smaller_holders(session, desired, holders, areas)
    for pc, team_now in postcodes_of_teams(session, list(changed_ids)):
        current.setdefault(pc, team_now)
    changes = [
        (desired.get(pc), pc) for pc, team_now in current.items() if desired.get(pc) != team_now
    ]
    set_postcode_teams(session, changes)
    session.flush()
    return len(changes)


def _keep_smaller_holders(
    session: Session, desired: dict[str, int], holders: dict[str, int], areas: dict[int, Area]
) -> None:
    """Give units back to the other active team that holds them when its patch is smaller."""
    if not holders:
        return
    others = (
        session.connection()
        .execute(
            select(Neighbourhood.id, Neighbourhood.updated_at).where(
                Neighbourhood.id.in_(set(holders.values())), Neighbourhood.active.is_(True)
            )
        )
        .all()
    )
    other_areas = _areas(session, [(i, changed) for i, changed in others])
    for pc, holder in holders.items():
        mine = areas[desired[pc]].geometry.area
        theirs = other_areas.get(holder)
        if theirs is not None and (theirs.geometry.area, holder) < (mine, desired[pc]):
            desired[pc] = holder


# The resident lookup's reads run as Core queries returning rows with the same attribute
# names as the models (plus the force's, prefixed): the ORM's loading costs several times the
# queries themselves, and these rows are only read.
_TEAM = Neighbourhood.__table__
_FORCE = PoliceForce.__table__
_TEAM_OF_POSTCODE = (
    select(
        *[column for column in _TEAM.c if column.name != "boundary"],
        _FORCE.c.name.label("force_name"),
        _FORCE.c.url.label("force_url"),
        _FORCE.c.telephone.label("force_telephone"),
    )
    .join(Postcode.__table__, Postcode.__table__.c.neighbourhood_id == _TEAM.c.id)
    .join(_FORCE, _FORCE.c.id == _TEAM.c.force_id)
    .where(Postcode.__table__.c.postcode == bindparam("postcode"), _TEAM.c.active.is_(True))
)
_ACTIVE_OFFICERS = (
    select(Officer.__table__)
    .where(
        Officer.__table__.c.neighbourhood_id == bindparam("team"),
        Officer.__table__.c.active.is_(True),
    )
    .order_by(Officer.__table__.c.name)
)


def neighbourhood_for_postcode(db: Reader, postcode: str) -> Row | None:
    """The active team recorded for a unit (display form) and its force's name, url and
    telephone (``force_name``, ``force_url``, ``force_telephone``): one query, a plain row."""
    return connection_of(db).execute(_TEAM_OF_POSTCODE, {"postcode": postcode}).first()


def active_officer_rows(db: Reader, neighbourhood_id: int) -> list[Row]:
    """A team's active officers as plain rows, by name."""
    return list(connection_of(db).execute(_ACTIVE_OFFICERS, {"team": neighbourhood_id}))


def neighbourhood_at(session: Session, lat: float, lng: float) -> Neighbourhood | None:
    """The active neighbourhood whose boundary holds the point (the smallest, if several
    overlap, as neighbouring forces' boundaries sometimes do by a few metres)."""
    covering = [m.neighbourhood for m in neighbourhoods_near(session, lat, lng)]
    if len(covering) <= 1:
        return covering[0] if covering else None
    areas = _areas(session, [(n.id, n.updated_at) for n in covering])
    return min(covering, key=lambda n: areas[n.id].geometry.area)


# ---------------------------------------------------------------------------- managing


class PoliceInvalid(ValueError):
    """A team or officer field that cannot be stored; the message names it."""


class OfficerNotFound(LookupError):
    """No officer with that id in that neighbourhood."""


def _name(value: str, what: str = "name") -> str:
    cleaned = plain_text(value, 200)
    if not cleaned:
        raise PoliceInvalid(f"{what} is required")
    return cleaned


def _contacts(details: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(details) - set(CONTACT_KEYS))
    if unknown:
        raise PoliceInvalid(
            f"contact_details may hold {', '.join(CONTACT_KEYS)}; not {', '.join(unknown)} "
            "(accounts go in 'accounts')"
        )
    return {k: plain_text(str(v), 500) for k, v in details.items() if v and plain_text(str(v))}


def update_neighbourhood(
    session: Session,
    neighbourhood: Neighbourhood,
    *,
    name: str | None = None,
    description: str | None = None,
    contact_details: Mapping[str, Any] | None = None,
    accounts: Sequence[Account] | None = None,
    boundary: Area | None = None,
    active: bool | None = None,
) -> Neighbourhood:
    """A force's own correction to its team (a later re-import from data.police.uk wins)."""
    if name is not None:
        neighbourhood.name = _name(name)
    if description is not None:
        neighbourhood.description = plain_text(description)
    if contact_details is not None:
        neighbourhood.contact_details = _contacts(contact_details)
    if accounts is not None:
        neighbourhood.accounts = [a.to_json() for a in accounts]
    if boundary is not None:
        set_boundary(neighbourhood, boundary)
        neighbourhood.centre_lat, neighbourhood.centre_lng = boundary.centroid
    if active is not None:
        neighbourhood.active = active
    neighbourhood.updated_at = utcnow()
    session.flush()
    if boundary is not None or active is not None:
        assign_postcodes(session, [neighbourhood])
    return neighbourhood


def add_officer(
    session: Session,
    neighbourhood: Neighbourhood,
    *,
    name: str,
    rank: str = "",
    bio: str = "",
    accounts: Sequence[Account] = (),
) -> Officer:
    """Add an officer to a team; a name already in the team is a conflict."""
    clean = _name(name)
    existing = session.scalar(
        select(Officer).where(Officer.neighbourhood_id == neighbourhood.id, Officer.name == clean)
    )
    if existing is not None:
        raise PoliceInvalid(f"'{clean}' is already in this team (officer {existing.id})")
    officer = Officer(
        neighbourhood_id=neighbourhood.id, name=clean, rank=plain_text(rank, 120),
        bio=plain_text(bio), accounts=[a.to_json() for a in accounts], active=True,
        updated_at=utcnow(),
    )  # fmt: skip
    session.add(officer)
    session.flush()  # the new officer gets its id
    return officer


def find_officer(session: Session, officer_id: int) -> Officer:
    """An officer by id alone, in whichever team."""
    officer = session.get(Officer, officer_id) if 0 < officer_id < 2**31 else None
    if officer is None:
        raise OfficerNotFound(f"no officer with id {officer_id}")
    return officer


def get_officer(session: Session, neighbourhood: Neighbourhood, officer_id: int) -> Officer:
    officer = session.get(Officer, officer_id) if 0 < officer_id < 2**31 else None
    if officer is None or officer.neighbourhood_id != neighbourhood.id:
        raise OfficerNotFound(f"no officer {officer_id} in neighbourhood '{neighbourhood.code}'")
    return officer


def update_officer(
    session: Session,
    officer: Officer,
    *,
    rank: str | None = None,
    bio: str | None = None,
    accounts: Sequence[Account] | None = None,
    active: bool | None = None,
) -> Officer:
    """Change an officer's rank, bio, accounts or whether they are active in the team."""
    if rank is not None:
        officer.rank = plain_text(rank, 120)
    if bio is not None:
        officer.bio = plain_text(bio)
    if accounts is not None:
        officer.accounts = [a.to_json() for a in accounts]
    if active is not None:
        officer.active = active
    officer.updated_at = utcnow()
    session.flush()
    return officer
