"""Where each team works: its patch, the force's area, the teams around a point, and the team
every postcode unit lies in.

``assign_postcodes`` records each unit's team after an import or a boundary change, so the
resident lookup (``neighbourhood_for_postcode``) is one indexed read of Core rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import Session

from directory.geography.area_builders import union_area
from directory.geography.area_cache import AREAS
from directory.geography.areas import Area
from directory.geography.geo import bbox_around, distance_m
from directory.geography.models import Postcode
from directory.geography.postcodes import (
    postcode_teams_in_box,
    postcodes_of_teams,
    set_postcode_teams,
)
from directory.police.models import Neighbourhood, Officer, PoliceForce
from directory.storage import Reader, connection_of, database_key


@dataclass(frozen=True)
class NeighbourhoodMatch:
    """A neighbourhood found for a place: contains it, or is within the radius of it."""

    neighbourhood: Neighbourhood
    distance_m: float
    reason: Literal["covers", "nearby"]


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


def teams_of_postcodes(db: Reader, prefix: str) -> list[Row]:
    """The active teams recorded for the units of a sector ("WV11 1") or district ("WV11"), by
    how many of its units each serves: a group that straddles patches lists every team."""
    start = prefix.strip().upper() + (" " if " " not in prefix.strip() else "")
    units = Postcode.__table__.c
    query = (
        select(_TEAM.c.id, _TEAM.c.code, _TEAM.c.name, _TEAM.c.force_id,
               func.count().label("units"))
        .select_from(_TEAM)
        .join(Postcode.__table__, units.neighbourhood_id == _TEAM.c.id)
        .where(units.postcode >= start, units.postcode < start + "~", _TEAM.c.active.is_(True))
        .group_by(_TEAM.c.id, _TEAM.c.code, _TEAM.c.name, _TEAM.c.force_id)
        .order_by(func.count().desc(), _TEAM.c.name)
    )  # fmt: skip
    return list(connection_of(db).execute(query))


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
