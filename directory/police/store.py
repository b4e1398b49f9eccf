"""Police forces, neighbourhood teams and officers: stored, re-imported, read and edited.

A re-import updates what it finds and marks what it no longer finds as inactive: a team or an
officer never silently disappears (their posts and subscriptions may refer to them). What a
force set through the API survives a re-import until data.police.uk itself changes that field
(``directory.police.provenance``); an officer the force added is never stood down by one. Where the
teams work (patches, the team of a postcode, teams near a point) is ``directory.police.patches``.
Whoever edits a team or an officer calls ``feeds.directory_changes.team_changed`` or
``officer_changed`` before committing (an import takes ``before_commit=force_imported``), so the
feeds polled follow; the directory itself never imports ``feeds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts import Account
from directory.contacts import CONTACT_KEYS, ContactInvalid, contact_channel
from directory.geography.areas import Area
from directory.police.data import ForceData, NeighbourhoodData, OfficerData
from directory.police.models import Neighbourhood, Officer, PoliceForce
from directory.police.patches import assign_postcodes
from directory.police.provenance import marked_edited, merge
from directory.storage import Page, paginate, utcnow
from directory.text import plain_text

OFFICER_FIELDS = ("rank", "bio", "accounts", "active")  # what a force may set on an officer


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
        gone = merge(neighbourhood.upstream, neighbourhood.edited, {"active": False})
        neighbourhood.upstream, neighbourhood.edited = gone.upstream, gone.edited
        if "active" in gone.take and neighbourhood.active:
            neighbourhood.active = False
            neighbourhood.updated_at = now
            counts.neighbourhoods_inactive += 1
        _, _, gone_officers = _sync_officers(session, neighbourhood, [], now)
        counts.officers_inactive += gone_officers
    session.flush()
    force_teams = session.scalars(select(Neighbourhood).where(Neighbourhood.force_id == force.id))
    assign_postcodes(session, list(force_teams))
    return counts


def _set_neighbourhood(row: Neighbourhood, data: NeighbourhoodData, now) -> None:  # type: ignore[no-untyped-def]
    """Write what data.police.uk says of a team, except the fields the force has corrected
    since and data.police.uk has not changed (``directory.police.provenance``)."""
    incoming = {
        "name": data.name, "description": data.description,
        "contact_details": data.contact_details, "accounts": [a.to_json() for a in data.accounts],
        "boundary": data.boundary.to_json() if data.boundary else None, "active": True,
    }  # fmt: skip
    merged = merge(row.upstream, row.edited, incoming)
    for name in merged.take - {"boundary"}:
        setattr(row, name, incoming[name])
    if "boundary" in merged.take:
        row.centre_lat, row.centre_lng = data.centre if data.centre else (None, None)
        set_boundary(row, data.boundary)
    row.url_force, row.links = data.url_force, data.links
    row.upstream, row.edited = merged.upstream, merged.edited
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
        incoming = {"rank": data.rank, "bio": data.bio, "active": True,
                    "accounts": [a.to_json() for a in data.accounts]}  # fmt: skip
        merged = merge(officer.upstream, officer.edited, incoming)
        for name in merged.take:
            setattr(officer, name, incoming[name])
        officer.upstream, officer.edited = merged.upstream, merged.edited
        officer.updated_at = now
    for officer in existing.values():
        if officer.upstream is None and officer.edited:
            continue  # added by the force, never listed by data.police.uk: the force's
        left = merge(officer.upstream, officer.edited, {"active": False})
        officer.upstream, officer.edited = left.upstream, left.edited
        if "active" in left.take and officer.active:
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
    """A force's contact details for its team, each channel checked as a site's would be."""
    unknown = sorted(set(details) - set(CONTACT_KEYS))
    if unknown:
        raise PoliceInvalid(
            f"contact_details may hold {', '.join(CONTACT_KEYS)}; not {', '.join(unknown)} "
            "(accounts go in 'accounts')"
        )
    contacts = {}
    for key, value in details.items():
        try:
            checked = contact_channel(key, value) if value else None
        except ContactInvalid as exc:
            raise PoliceInvalid(f"contact_details: {exc}") from None
        if checked:
            contacts[key] = checked
    return contacts


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
    """A force's own correction to its team: it survives re-imports until data.police.uk
    itself changes the field (``directory.police.provenance``)."""
    given = {"name": name, "description": description, "contact_details": contact_details,
             "accounts": accounts, "boundary": boundary, "active": active}  # fmt: skip
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
    changed = [field for field, value in given.items() if value is not None]
    neighbourhood.edited = marked_edited(neighbourhood.edited, changed)
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
        updated_at=utcnow(), upstream=None, edited=sorted(OFFICER_FIELDS),
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
    """Change an officer's rank, bio, accounts or whether they are active in the team (kept
    through re-imports until data.police.uk itself changes the field)."""
    given = {"rank": rank, "bio": bio, "accounts": accounts, "active": active}
    if rank is not None:
        officer.rank = plain_text(rank, 120)
    if bio is not None:
        officer.bio = plain_text(bio)
    if accounts is not None:
        officer.accounts = [a.to_json() for a in accounts]
    if active is not None:
        officer.active = active
    officer.edited = marked_edited(officer.edited, [f for f, v in given.items() if v is not None])
    officer.updated_at = utcnow()
    session.flush()
    return officer
