"""Which feeds the service polls, derived from the directory: sites, forces, teams, officers.

A site's listed feed urls, a force's data.police.uk engagement methods of type RSS, and the
per-account feeds of official accounts (Mastodon ``https://host/@name.rss``, Bluesky
``https://bsky.app/profile/<handle>/rss``, or an account of platform ``rss``) each become a
feed of their owner. An approved site that lists no feed at all gets its home page, and the
poller discovers the feed from the page's ``<link rel="alternate">``. A feed is known by the
address it was listed under (``listed_url``), so one that moved (301, discovery) stays itself.

``sync_*`` reconcile an owner's feeds with what the directory says now: new ones are added,
ones no longer wanted are retired (never deleted: their posts stay readable), retired ones that
come back are reactivated. Only approved sites and active teams and officers are polled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.police.models import Neighbourhood, Officer, PoliceForce
from directory.sites.models import Site
from directory.storage import utcnow
from directory.urls import url_or_none
from feeds.ingest.models import Feed

DEFAULT_INTERVAL_SECONDS = 3600
NO_LONGER_LISTED = "no longer listed by its owner"


@dataclass(frozen=True)
class WantedFeed:
    url: str
    kind: str  # news, officer, police
    source: str  # listed, account, home_page


def account_feed_url(account: dict[str, Any]) -> str | None:
    """The per-account feed of an official account, when its platform publishes one."""
    platform, url = account.get("platform"), str(account.get("url") or "")
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    feed = None
    if platform == "rss":
        feed = url
    elif platform == "mastodon" and path.startswith("/@") and "/" not in path[2:]:
        feed = f"https://{parts.netloc}{path}.rss"
    elif platform == "bluesky" and path.startswith("/profile/") and path.count("/") == 2:
        feed = f"https://bsky.app{path}/rss"
    return url_or_none(feed)  # also None when the suffix made it too long to store


def _account_feeds(accounts: Iterable[dict[str, Any]], kind: str) -> list[WantedFeed]:
    feeds = []
    for account in accounts or ():
        url = account_feed_url(account)
        if url:
            feeds.append(WantedFeed(url, kind, "account"))
    return feeds


def site_feeds_wanted(site: Site) -> list[WantedFeed]:
    if site.status != "approved":
        return []
    wanted = [WantedFeed(url, "news", "listed") for url in site.feed_urls or ()]
    if not wanted:  # the site's own news, then, from its home page's <link rel="alternate">
        wanted.append(WantedFeed(site.url, "news", "home_page"))
    return wanted + _account_feeds(site.social_accounts, "news")


def force_feeds_wanted(force: PoliceForce) -> list[WantedFeed]:
    wanted = []
    for method in force.engagement or ():
        if method.get("type") == "rss" and method.get("url"):
            wanted.append(WantedFeed(method["url"], "police", "listed"))
    return wanted


def neighbourhood_feeds_wanted(team: Neighbourhood) -> list[WantedFeed]:
    return _account_feeds(team.accounts, "police") if team.active else []


def officer_feeds_wanted(officer: Officer) -> list[WantedFeed]:
    return _account_feeds(officer.accounts, "officer") if officer.active else []


Owner = tuple[str, dict[str, Any], list[WantedFeed]]  # ("site:12", {"site_id": 12}, wanted)


def _sync(session: Session, owners: Sequence[Owner]) -> None:
    """Reconcile these owners' feeds with what they want, reading them in one query.

    Matched by ``listed_url``: a feed that moved (301, discovery) is still the same feed.
    """
    now = utcnow()
    existing: dict[str, dict[str, Feed]] = {owner: {} for owner, _, _ in owners}
    names = list(existing)
    for chunk in (names[i : i + 500] for i in range(0, len(names), 500)):
        for feed in session.scalars(select(Feed).where(Feed.owner.in_(chunk))):
            existing[feed.owner][feed.listed_url] = feed
    for owner, columns, wanted in owners:
        mine = existing[owner]
        seen: set[str] = set()
        for want in wanted:
            if want.url in seen:
                continue
            seen.add(want.url)
            feed = mine.get(want.url)
            if feed is None:
                session.add(new_feed(owner, columns, want, now))
            else:
                feed.kind, feed.source = want.kind, want.source
                _reactivate(feed, now)
        for url, feed in mine.items():
            if url not in seen and feed.status != "retired":
                feed.status, feed.last_error, feed.next_check_at = "retired", NO_LONGER_LISTED, None
                feed.updated_at = now


def _reactivate(feed: Feed, now: datetime) -> None:
    if feed.status == "retired" and feed.last_error == NO_LONGER_LISTED:
        feed.status, feed.last_error, feed.error_count = "active", None, 0
        feed.next_check_at, feed.updated_at = now, now


def new_feed(owner: str, columns: dict[str, Any], want: WantedFeed, now: datetime) -> Feed:
    """A feed row due at once."""
    return Feed(
        listed_url=want.url, url=want.url, owner=owner, kind=want.kind, source=want.source,
        title="", status="active", error_count=0, interval_seconds=DEFAULT_INTERVAL_SECONDS,
        next_check_at=now, item_count=0, created_at=now, updated_at=now, **columns,
    )  # fmt: skip


def _site(site: Site) -> Owner:
    return f"site:{site.id}", {"site_id": site.id}, site_feeds_wanted(site)


def _officer(officer: Officer) -> Owner:
    return f"officer:{officer.id}", {"officer_id": officer.id}, officer_feeds_wanted(officer)


def _team_and_officers(session: Session, teams: Sequence[Neighbourhood]) -> list[Owner]:
    owners: list[Owner] = [
        (f"neighbourhood:{t.id}", {"neighbourhood_id": t.id}, neighbourhood_feeds_wanted(t))
        for t in teams
    ]
    ids = [t.id for t in teams]
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        officers = session.scalars(select(Officer).where(Officer.neighbourhood_id.in_(chunk)))
        owners += [_officer(officer) for officer in officers]
    return owners


def sync_site_feeds(session: Session, site: Site) -> None:
    """Bring the site's feeds in line with the site (call after any change to it; no commit)."""
    session.flush()  # a new site gets its id
    _sync(session, [_site(site)])


def sync_officer_feeds(session: Session, officer: Officer) -> None:
    session.flush()  # a new officer gets its id
    _sync(session, [_officer(officer)])


def sync_neighbourhood_feeds(session: Session, team: Neighbourhood) -> None:
    """The team's own feeds and its officers'."""
    session.flush()
    _sync(session, _team_and_officers(session, [team]))


def sync_force_feeds(session: Session, force: PoliceForce) -> None:
    """The force's feeds, and those of all its teams and officers (after an import)."""
    session.flush()
    teams = session.scalars(select(Neighbourhood).where(Neighbourhood.force_id == force.id))
    force_owner: Owner = (f"force:{force.id}", {"force_id": force.id}, force_feeds_wanted(force))
    _sync(session, [force_owner, *_team_and_officers(session, list(teams))])


def sync_all_feeds(session: Session) -> None:
    """Reconcile every owner's feeds (after an upgrade, or when in doubt); commits."""
    _sync(session, [_site(site) for site in session.scalars(select(Site))])
    for force in session.scalars(select(PoliceForce)):
        sync_force_feeds(session, force)
    session.commit()
