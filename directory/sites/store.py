"""Hyperlocal sites: submit, moderate, edit, list, and find the ones around a place.

Anyone may submit a site; it waits as ``pending`` until an admin approves or rejects it. Only
approved sites are public. A site's coverage is an Area; its bounding box is copied into indexed
columns, so finding the sites around a point starts with a range query and only then does
geometry. The directory knows nothing of feeds: whoever submits, edits or moderates a site calls
``feeds.directory_changes.site_changed`` before committing, so its feeds and subscriptions follow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, undefer

from directory.accounts import Account
from directory.contacts import ContactInvalid, email_address
from directory.geography.area_cache import AREAS
from directory.geography.areas import Area, set_area_columns
from directory.geography.geo import METRES_PER_DEGREE_LAT, BoundingBox, bbox_around
from directory.keys.store import revoke_scope
from directory.sites.models import SITE_STATUSES, Site
from directory.storage import Page, database_key, paginate, utcnow
from directory.text import folded
from directory.urls import UrlInvalid, normalise_url

MAX_FEEDS = 10
# A hyperlocal site's coverage fits in a box this many metres across. Besides being what
# "hyperlocal" means, the bound lets point searches scan only boxes that start within this
# distance south of the point, not every box that starts anywhere south of it.
MAX_SITE_EXTENT_M = 100_000.0
_MAX_SITE_HEIGHT_DEG = MAX_SITE_EXTENT_M / METRES_PER_DEGREE_LAT
_PLATFORM_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class SiteNotFound(LookupError):
    """No site with that id (or not one the caller may see)."""


class SiteConflict(ValueError):
    """Another site already has that url."""


class SiteInvalid(ValueError):
    """A field that cannot be stored; the message names it."""


@dataclass(frozen=True)
class SiteMatch:
    """A site found near a place: how far, and why it matched."""

    site: Site  # or a row with the same attribute names (see _sites)
    distance_m: float
    reason: Literal["covers", "nearby"]


def _clean_feeds(feed_urls: Sequence[str]) -> list[str]:
    if len(feed_urls) > MAX_FEEDS:
        raise SiteInvalid(f"a site may list at most {MAX_FEEDS} feeds")
    feeds: list[str] = []
    for index, url in enumerate(feed_urls, start=1):
        try:
            normal = normalise_url(url, f"feed {index}")
        except UrlInvalid as exc:
            raise SiteInvalid(str(exc)) from None
        if normal not in feeds:
            feeds.append(normal)
    return feeds


def _clean_email(email: str | None) -> str | None:
    try:
        return email_address(email, "contact_email")
    except ContactInvalid as exc:
        raise SiteInvalid(str(exc)) from None


def _clean_platform(platform: str | None) -> str | None:
    platform = (platform or "").strip().lower()
    if not platform:
        return None
    if not _PLATFORM_RE.match(platform):
        raise SiteInvalid(
            f"platform '{platform}' should be a short word such as wordpress, ghost or substack"
        )
    return platform


def _clean_text(value: str, what: str, limit: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise SiteInvalid(f"{what} is required")
    if len(value) > limit:
        raise SiteInvalid(f"{what} is at most {limit:,} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise SiteInvalid(f"{what} contains control characters")
    return value


def _set_area(site: Site, area: Area) -> None:
    extent = area.bbox.extent_m
    if extent > MAX_SITE_EXTENT_M:
        raise SiteInvalid(
            f"the area is {extent / 1000:,.0f} km across; a hyperlocal site covers "
            f"at most {MAX_SITE_EXTENT_M / 1000:,.0f} km"
        )
    set_area_columns(site, area)


def _check_url_free(session: Session, url: str, site_id: int | None = None) -> None:
    existing = session.scalar(select(Site).where(Site.url == url))
    if existing is None or existing.id == site_id:
        return
    if existing.status == "approved":  # public anyway: say where it is
        raise SiteConflict(f"{url} is already listed (site {existing.id})")
    # A pending or rejected site is not public: its id is nobody else's business.
    raise SiteConflict(f"{url} has already been submitted to the directory")


def _feeds_free(session: Session, feeds: list[str], site_id: int | None = None) -> list[str]:
    """``feeds``, if no other site lists one of them: a feed is one publisher's (otherwise a
    newcomer could claim an established site's news as theirs)."""
    if not feeds:
        return feeds
    wanted = set(feeds)
    others = select(Site.id, Site.status, Site.feed_urls)
    if site_id is not None:
        others = others.where(Site.id != site_id)
    for other_id, status, listed in session.execute(others):
        taken = wanted.intersection(listed or ())
        if taken:
            feed = sorted(taken)[0]
            if status == "approved":
                raise SiteConflict(f"{feed} is already the feed of a listed site (site {other_id})")
            raise SiteConflict(f"{feed} is already the feed of a site submitted to the directory")
    return feeds


def create_site(
    session: Session,
    *,
    name: str,
    url: str,
    area: Area,
    feed_urls: Sequence[str] = (),
    description: str = "",
    platform: str | None = None,
    social_accounts: Sequence[Account] = (),
    contact_email: str | None = None,
) -> Site:
    """Submit a site; it is ``pending`` whatever the caller says, until an admin decides."""
    try:
        normal = normalise_url(url)
    except UrlInvalid as exc:
        raise SiteInvalid(str(exc)) from None
    _check_url_free(session, normal)
    now = utcnow()
    site = Site(
        name=_clean_text(name, "name", 200, required=True),
        url=normal,
        feed_urls=_feeds_free(session, _clean_feeds(feed_urls)),
        description=_clean_text(description, "description", 5000),
        platform=_clean_platform(platform),
        social_accounts=[a.to_json() for a in social_accounts],
        contact_email=_clean_email(contact_email),
        status="pending",
        created_at=now,
        updated_at=now,
    )
    _set_area(site, area)
    session.add(site)
    session.flush()
    return site


UNSET = object()


def update_site(
    session: Session,
    site: Site,
    *,
    name: str | None = None,
    url: str | None = None,
    area: Area | None = None,
    feed_urls: Sequence[str] | None = None,
    description: str | None = None,
    platform: str | None | object = UNSET,
    social_accounts: Sequence[Account] | None = None,
    contact_email: str | None | object = UNSET,
) -> Site:
    """Change the given fields (None leaves a field as it is); the status is not touched."""
    if name is not None:
        site.name = _clean_text(name, "name", 200, required=True)
    if url is not None:
        try:
            normal = normalise_url(url)
        except UrlInvalid as exc:
            raise SiteInvalid(str(exc)) from None
        _check_url_free(session, normal, site.id)
        site.url = normal
    if area is not None:
        _set_area(site, area)
    if feed_urls is not None:
        site.feed_urls = _feeds_free(session, _clean_feeds(feed_urls), site.id)
    if description is not None:
        site.description = _clean_text(description, "description", 5000)
    if platform is not UNSET:
        site.platform = _clean_platform(platform)  # type: ignore[arg-type]
    if social_accounts is not None:
        site.social_accounts = [a.to_json() for a in social_accounts]
    if contact_email is not UNSET:
        site.contact_email = _clean_email(contact_email)  # type: ignore[arg-type]
    site.updated_at = utcnow()
    session.flush()
    return site


def set_site_status(session: Session, site: Site, status: str, reason: str | None = None) -> Site:
    """An admin's decision: approved or rejected (with the ``reason`` the submitter is shown at
    their status link), or back to pending."""
    if status not in SITE_STATUSES:
        raise SiteInvalid(f"status '{status}' is not one of {', '.join(SITE_STATUSES)}")
    if reason is not None and status != "rejected":
        raise SiteInvalid("a rejection_reason goes with status 'rejected'")
    if site.status != status:
        site.status = status
        site.reviewed_at = site.updated_at = utcnow()
    site.rejection_reason = (reason or "").strip()[:500] or None if status == "rejected" else None
    return site


def get_site(session: Session, site_id: int) -> Site:
    """The site with this id, whatever its status; raises SiteNotFound."""
    site = session.get(Site, site_id, options=[undefer(Site.area)]) if 0 < site_id < 2**31 else None
    if site is None:
        raise SiteNotFound(f"no site with id {site_id}")
    return site


def delete_site(session: Session, site: Site) -> None:
    """Remove a site from the directory, and revoke its editors' keys: ids may be reused."""
    revoke_scope(session, f"editor:{site.id}")
    session.delete(site)
    session.flush()


def list_sites(
    session: Session,
    *,
    statuses: Sequence[str] = ("approved",),
    platform: str | None = None,
    text: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Site]:
    """Sites with these statuses, optionally of one platform or matching words, by name."""
    query = select(Site).where(Site.status.in_(list(statuses))).options(undefer(Site.area))
    if platform:
        query = query.where(Site.platform == platform.strip().lower())
    if text:
        for word in folded(text).split()[:5]:
            pattern = f"%{_escape_like(word)}%"
            query = query.where(Site.search_text.like(pattern, escape="\\"))
    return paginate(session, query.order_by(Site.name, Site.id), page, per_page)


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Built once: constructing a select() costs more than SQLite spends answering it.
_SITE_BOXES = select(Site.id, Site.updated_at).where(
    Site.status == bindparam("status"),
    Site.min_lat.between(bindparam("lowest_min_lat"), bindparam("max_lat")),
    Site.max_lat >= bindparam("min_lat"),
    Site.min_lng <= bindparam("max_lng"),
    Site.max_lng >= bindparam("min_lng"),
)
_SITE_AREAS = select(Site.id, Site.area).where(Site.id.in_(bindparam("ids", expanding=True)))
_SITE_WITHOUT_AREA = select(*[c for c in Site.__table__.c if c.name != "area"]).where(
    Site.__table__.c.id.in_(bindparam("ids", expanding=True))
)


def site_areas_in_box(
    session: Session, box: BoundingBox, statuses: Sequence[str] = ("approved",)
) -> dict[int, Area]:
    """Coverage of the sites whose box meets ``box``: from the box index and the area cache."""
    connection = session.connection()
    rows: list[tuple[int, Any]] = []
    for status in statuses:
        rows += connection.execute(
            _SITE_BOXES,
            {
                "status": status,
                "lowest_min_lat": box.min_lat - _MAX_SITE_HEIGHT_DEG,
                "max_lat": box.max_lat,
                "min_lat": box.min_lat,
                "max_lng": box.max_lng,
                "min_lng": box.min_lng,
            },
        ).all()

    def load(ids: list[int]) -> dict[int, Any]:
        return dict(connection.execute(_SITE_AREAS, {"ids": ids}).all())

    return AREAS.areas((database_key(session), "sites"), rows, load)


def _sites(session: Session, ids: Sequence[int], with_area: bool = True) -> dict[int, Any]:
    """Sites by id: models with their coverage, or (``with_area=False``) plain rows without it,
    read through Core, which is several times cheaper when the rows are only shown."""
    if not ids:
        return {}
    if not with_area:
        rows = session.connection().execute(_SITE_WITHOUT_AREA, {"ids": list(ids)})
        return {row.id: row for row in rows}
    query = select(Site).where(Site.id.in_(list(ids))).options(undefer(Site.area))
    return {site.id: site for site in session.scalars(query)}


def sites_near(
    session: Session,
    lat: float,
    lng: float,
    radius_m: float,
    *,
    postcode: str | None = None,
    statuses: Sequence[str] = ("approved",),
    with_area: bool = True,
) -> list[SiteMatch]:
    """Sites whose coverage holds the point first, then those within ``radius_m`` of it.

    ``postcode`` (the point's own unit, when known) lets a postcode-set coverage decide by
    membership rather than by its footprint. Ordered: covering sites by name, then nearby ones
    by distance. ``with_area=False`` leaves the sites' coverage JSON unread.
    """
    areas = site_areas_in_box(session, bbox_around(lat, lng, radius_m), statuses)
    covering: list[int] = []
    nearby: dict[int, float] = {}
    for site_id, area in areas.items():
        if area.contains(lat, lng, postcode):
            covering.append(site_id)
        elif (distance := area.distance_m(lat, lng)) <= radius_m:
            nearby[site_id] = round(distance, 1)
    found = _sites(session, covering + list(nearby), with_area)
    matches = [SiteMatch(found[i], 0.0, "covers") for i in covering]
    matches.sort(key=lambda m: (m.site.name.lower(), m.site.id))
    near = [SiteMatch(found[i], d, "nearby") for i, d in nearby.items()]
    near.sort(key=lambda m: (m.distance_m, m.site.id))
    return matches + near


def sites_intersecting(session: Session, area: Area) -> list[Site]:
    """Approved sites whose coverage meets ``area`` (bounding boxes first, then geometry)."""
    areas = site_areas_in_box(session, area.bbox)
    found = _sites(session, [i for i, coverage in areas.items() if coverage.intersects(area)])
    return sorted(found.values(), key=lambda site: (site.name.lower(), site.id))
