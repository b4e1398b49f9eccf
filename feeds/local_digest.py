"""Everything local to a place, for the resident's page: who, what they say, what is appealed.

``local_digest`` gathers, for a point (and its postcode when it is one): the directory's
answer (``directory.local.local_to``: the team, force, officers, sites), the police bulletins
whose area holds the point (active ones, newest first, and for 48 hours the closing stubs of
those closed, never their details), each local site's latest headlines, the team's recent
posts, and the team's patch outline for a small map. No Flask: the pages render it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.coverage import CoverageReport, patch_gaps
from directory.geography.geo import bbox_around
from directory.local import LocalAnswer, local_to
from directory.police.models import Neighbourhood
from directory.police.patches import active_officer_rows, neighbourhood_area
from directory.police.store import get_neighbourhood
from directory.sites.store import sites_intersecting
from directory.storage import utcnow
from feeds.ingest.models import Feed
from feeds.ingest.posts import latest_by_site, latest_posts, of_police
from feeds.syndication.bulletin_queries import list_bulletins, subscription_bulletins
from feeds.syndication.closing import CLOSED_STATUSES, ClosingStub, closing_stub, shows_closing
from feeds.syndication.subscriptions import subscription_by_token

BULLETINS_SHOWN = 20
WIDGET_MAX = 20
HEADLINES_PER_SITE = 3
TEAM_POSTS_SHOWN = 5


@dataclass
class LocalDigest:
    local: LocalAnswer
    bulletins: list[Any] = field(default_factory=list)  # active Bulletins, newest first
    closed: list[ClosingStub] = field(default_factory=list)  # closed in the last 48 hours
    headlines: dict[int, list[Any]] = field(default_factory=dict)  # site id -> latest Posts
    team_posts: list[Any] = field(default_factory=list)  # the team's and its officers' Posts
    patch: BaseGeometry | None = None  # the team's outline (lng/lat)
    patch_key: tuple[Any, ...] | None = None  # what the outline is of: (team id, updated_at)


def local_digest(session: Session, lat: float, lng: float, unit: str | None = None,
                 team_posts: int = TEAM_POSTS_SHOWN,
                 published_since: datetime | None = None) -> LocalDigest:  # fmt: skip
    """What is local to the point (see the module)."""
    digest = LocalDigest(local_to(session, lat, lng, unit, published_since))
    near, box = (lat, lng, 0.0), bbox_around(lat, lng, 1.0)
    # Active and closed in one pass over the box: the closed ones become their stubs.
    found = list_bulletins(session, near=near, box=box, statuses=("active", *CLOSED_STATUSES),
                           per_page=2 * BULLETINS_SHOWN).items  # fmt: skip
    now = utcnow()
    digest.bulletins = [b for b in found if b.status == "active"][:BULLETINS_SHOWN]
    digest.closed = [closing_stub(b) for b in found if shows_closing(b, now)]
    digest.headlines = latest_by_site(session, [m.site.id for m in digest.local.sites],
                                      HEADLINES_PER_SITE)  # fmt: skip
    team = digest.local.neighbourhood
    if team is not None:
        digest.team_posts = latest_posts(session, of_police([team.id], []), team_posts)
        stored = session.get(Neighbourhood, team.id)
        area = neighbourhood_area(session, stored) if stored is not None else None
        if area is not None:  # from the per-process area cache: no boundary read or parse
            digest.patch = area.geometry
            digest.patch_key = (stored.id, stored.updated_at)
    return digest


@dataclass(frozen=True)
class Appeals:
    """What an editor's widget lists, and how fresh it is."""

    bulletins: list[Any]  # active, newest first
    checked_at: datetime | None  # when the police feeds behind them last answered


def appeals_for(session: Session, *, token: str | None = None,
                point: tuple[float, float] | None = None, kinds: Sequence[str] = (),
                limit: int = 10) -> Appeals:  # fmt: skip
    """The active bulletins of a subscription (its feed ``token``) or whose area holds
    ``point``, of ``kinds`` (all when empty); raises SubscriptionNotFound for a bad token."""
    limit = max(1, min(limit, WIDGET_MAX))
    if token is not None:
        subscription = subscription_by_token(session, token)
        found = [b for b in subscription_bulletins(session, subscription.id, 50)
                 if b.status == "active" and (not kinds or b.kind in kinds)]  # fmt: skip
    else:
        assert point is not None
        near, box = (point[0], point[1], 0.0), bbox_around(point[0], point[1], 1.0)
        found = list_bulletins(session, near=near, box=box, kinds=kinds, per_page=limit).items
    forces = {b.force_id for b in found if b.force_id}
    owners = Feed.owner.in_([f"force:{force}" for force in forces])
    checked = session.scalar(select(func.max(Feed.last_success_at)).where(
        owners if forces else Feed.kind == "police"))  # fmt: skip
    return Appeals(found[:limit], checked)


@dataclass
class TeamDigest:
    """A neighbourhood team's page: its patch, officers, the sites reaching it and what they
    say, where no site reaches, and what the team says."""

    team: Neighbourhood
    officers: list[Any]
    sites: list[Any]  # approved Sites covering or overlapping the patch
    headlines: dict[int, list[Any]]
    gaps: CoverageReport | None  # None without a boundary
    team_posts: list[Any]
    patch: BaseGeometry | None


def team_digest(session: Session, force_id: str, code: str) -> TeamDigest:
    """Raises NeighbourhoodNotFound (directory.police.store) for an unknown team."""
    team = get_neighbourhood(session, force_id, code)
    area = neighbourhood_area(session, team)
    sites = sites_intersecting(session, area) if area is not None else []
    headlines = latest_by_site(session, [site.id for site in sites], HEADLINES_PER_SITE)
    posts = latest_posts(session, of_police([team.id], []), TEAM_POSTS_SHOWN)
    gaps = patch_gaps(session, neighbourhood=(force_id, code)).report if area is not None else None
    patch = area.geometry if area is not None else None
    officers = active_officer_rows(session, team.id)
    return TeamDigest(team, officers, sites, headlines, gaps, posts, patch)
