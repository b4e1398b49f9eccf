"""What a change to the directory means for feeds and subscriptions, in the same transaction.

The directory never imports ``feeds``: whoever changes a site, team, officer or force (an API
view, a CLI command, the demo) calls the matching function here afterwards, before committing,
so the feeds polled and the subscriptions' areas always follow what the directory says.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from directory.police.models import Neighbourhood, Officer, PoliceForce
from directory.sites.models import Site
from feeds.ingest.registry import (
    sync_force_feeds,
    sync_neighbourhood_feeds,
    sync_officer_feeds,
    sync_site_feeds,
)
from feeds.syndication.subscriptions import follow_site_area


def site_changed(session: Session, site: Site, *, area_changed: bool = False) -> None:
    """After a site is submitted, edited, moderated: its feeds, and (when its coverage
    changed) the areas of the subscriptions that follow it."""
    if area_changed:
        session.flush()
        follow_site_area(session, site)
    sync_site_feeds(session, site)


def team_changed(session: Session, team: Neighbourhood) -> None:
    """After a force edits a team: the team's own feeds and its officers'."""
    sync_neighbourhood_feeds(session, team)


def officer_changed(session: Session, officer: Officer) -> None:
    """After an officer is added, edited or stood down: the feeds of their accounts."""
    sync_officer_feeds(session, officer)


def force_imported(session: Session, force_id: str) -> None:
    """After a police import: the feeds of the force, of all its teams and of their officers."""
    force = session.get(PoliceForce, force_id)
    if force is not None:
        sync_force_feeds(session, force)
