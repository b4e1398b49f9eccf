"""Everything local to a place, for the resident's page: who, what they say, what is appealed.

``local_digest`` gathers, for a point (and its postcode when it is one): the directory's
answer (``directory.local.local_to``: the team, force, officers, sites), the police bulletins
whose area holds the point (active ones, newest first, and for 48 hours the closing stubs of
those closed, never their details), each local site's latest headlines, the team's recent
posts, and the team's patch outline for a small map. No Flask: the pages render it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session, undefer

from directory.geography.areas import geometry_from_json
from directory.geography.geo import bbox_around
from directory.local import LocalAnswer, local_to
from directory.police.models import Neighbourhood
from directory.storage import utcnow
from feeds.ingest.posts import list_posts, of_police, of_sites
from feeds.syndication.bulletin_queries import list_bulletins
from feeds.syndication.closing import CLOSED_STATUSES, ClosingStub, closing_stub, shows_closing

BULLETINS_SHOWN = 20
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


def local_digest(session: Session, lat: float, lng: float, unit: str | None = None) -> LocalDigest:
    """What is local to the point (see the module)."""
    digest = LocalDigest(local_to(session, lat, lng, unit))
    near, box = (lat, lng, 0.0), bbox_around(lat, lng, 1.0)
    digest.bulletins = list_bulletins(session, near=near, box=box,
                                      per_page=BULLETINS_SHOWN).items  # fmt: skip
    now = utcnow()
    closed = list_bulletins(session, near=near, box=box, statuses=CLOSED_STATUSES,
                            per_page=BULLETINS_SHOWN).items  # fmt: skip
    digest.closed = [closing_stub(b) for b in closed if shows_closing(b, now)]
    for match in digest.local.sites:
        rows = list_posts(session, of_sites([match.site.id]), per_page=HEADLINES_PER_SITE).items
        digest.headlines[match.site.id] = [row[0] for row in rows]
    team = digest.local.neighbourhood
    if team is not None:
        rows = list_posts(session, of_police([team.id], []), per_page=TEAM_POSTS_SHOWN).items
        digest.team_posts = [row[0] for row in rows]
        stored = session.get(Neighbourhood, team.id, options=[undefer(Neighbourhood.boundary)])
        if stored is not None and stored.boundary:
            digest.patch = geometry_from_json(stored.boundary["geometry"])
    return digest
