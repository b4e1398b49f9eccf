"""Serving a subscription's feed: the version it is at, and its body in the format asked for.

The version (ETag and Last-Modified) moves when a bulletin reaches the subscription, changes or
is withdrawn, and when the subscription or its site changes, so a feed reader's conditional
GET costs one aggregate query and no rendering. The address is the credential; a feed whose
site is no longer approved is not there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from directory.sites.store import get_site
from feeds.syndication import feed_formats
from feeds.syndication.bulletin_queries import feed_version, subscription_bulletins
from feeds.syndication.subscriptions import SubscriptionNotFound, subscription_by_token

FEED_ITEMS = 50
FEED_CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "cap": "application/atom+xml; charset=utf-8",
}


@dataclass(frozen=True)
class FeedVersion:
    subscription_id: int
    site_name: str
    etag: str
    modified: datetime  # in whole seconds, as HTTP dates are


@dataclass(frozen=True)
class FeedLinks:
    self_url: str  # this feed's own address
    home_url: str  # the API's bulletin list
    item_url: str  # "{base}/bulletins/{id}"
    hub_url: str | None = None  # our WebSub hub ("{base}/websub/hub")


def subscription_feed_version(session: Session, token: str, fmt: str) -> FeedVersion:
    """Where the feed at ``token`` stands; raises SubscriptionNotFound."""
    subscription = subscription_by_token(session, token)
    site = get_site(session, subscription.site_id)
    if site.status != "approved":
        raise SubscriptionNotFound("no subscription feed at this address")
    count, changed = feed_version(session, subscription.id)
    modified = max(filter(None, [changed, subscription.updated_at, site.updated_at]))
    tag = hashlib.sha256(
        f"{subscription.id}:{subscription.updated_at}:{site.updated_at}:{count}:{changed}:"
        f"{fmt}".encode()
    ).hexdigest()[:24]
    # HTTP dates have whole seconds: a change later in the same second must not look old.
    whole = modified.replace(microsecond=0) + timedelta(seconds=1 if modified.microsecond else 0)
    return FeedVersion(subscription.id, site.name, tag, whole)


def subscription_feed_body(session: Session, version: FeedVersion, fmt: str,
                           links: FeedLinks) -> bytes:  # fmt: skip
    """The feed's newest bulletins as ``rss``, ``atom``, ``json`` or ``cap`` (warnings only)."""
    bulletins = subscription_bulletins(session, version.subscription_id, FEED_ITEMS)
    info = feed_formats.FeedInfo(
        title=f"Police bulletins for {version.site_name}",
        description=f"Police appeals and warnings for the area {version.site_name} covers "
        "(hyperlocal)",
        self_url=links.self_url,
        home_url=links.home_url,
        item_url=links.item_url,
        hub_url=links.hub_url,
    )
    if fmt == "rss":
        return feed_formats.rss(info, bulletins, links.self_url)
    if fmt == "atom":
        return feed_formats.atom(info, bulletins, links.self_url)
    if fmt == "json":
        return feed_formats.json_feed_bytes(info, bulletins, links.self_url)
    cap_info = feed_formats.FeedInfo(
        info.title + " (CAP warnings)", info.description, links.self_url, info.home_url,
        info.item_url + "/cap", info.hub_url,
    )  # fmt: skip
    warnings = [b for b in bulletins if b.kind == "warning"]
    return feed_formats.cap_index(cap_info, warnings, links.self_url)
