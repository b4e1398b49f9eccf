"""A place's feed for any feed reader: its police bulletins and its team's and officers' posts.

RSS 2.0 and Atom through feedgen, JSON Feed 1.1 by hand, newest first, from a
``LocalDigest``. Bulletins are the active ones whose area holds the place (a closed one gives
way to its closing stub for 48 hours, as in the subscription feeds); posts are the team's and
its officers' own. Pure: the page's view gives the addresses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from feedgen.feed import FeedGenerator

from directory.storage import utcnow
from directory.text import plain_text, xml_safe
from feeds.local_digest import LocalDigest
from feeds.syndication.feed_formats import KIND_LABELS

FEED_ITEMS = 50


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    link: str
    published: datetime
    updated: datetime
    html: str
    category: str  # a bulletin's kind, or "post"


def entries(digest: LocalDigest, item_url: str) -> list[Entry]:
    """The feed's entries, newest first (``item_url`` is "{base}/bulletins/{id}")."""
    found = []
    for bulletin in [*digest.bulletins, *digest.closed]:
        own = item_url.format(id=bulletin.id)
        closing = getattr(bulletin, "closing", False)
        label = "" if closing else f"{KIND_LABELS.get(bulletin.kind, 'Bulletin')}: "
        found.append(Entry(own, xml_safe(label + bulletin.title), bulletin.link or own,
                           bulletin.published_at, bulletin.updated_at,
                           xml_safe(bulletin.body_html or ""), bulletin.kind))  # fmt: skip
    for post in digest.team_posts:
        link = post.link or ""
        found.append(Entry(link or f"urn:hyperlocal:post:{post.id}",
                           xml_safe(post.title or "(untitled)"), link, post.published_at,
                           post.edited_at or post.published_at, xml_safe(post.content_html or ""),
                           "post"))  # fmt: skip
    return sorted(found, key=lambda e: e.published, reverse=True)[:FEED_ITEMS]


def area_feed(digest: LocalDigest, fmt: str, *, title: str, self_url: str, home_url: str,
              item_url: str) -> bytes:  # fmt: skip
    """The place's feed as ``rss``, ``atom`` or ``json``."""
    items = entries(digest, item_url)
    description = f"Police appeals and warnings, and the neighbourhood team's posts: {title}"
    if fmt == "json":
        return json.dumps({
            "version": "https://jsonfeed.org/version/1.1", "title": title,
            "description": description, "home_page_url": home_url, "feed_url": self_url,
            "language": "en-GB",
            "items": [{"id": e.id, "url": e.link or None, "title": e.title,
                       "content_html": e.html or e.title, "summary": plain_text(e.html, 600),
                       "date_published": e.published.isoformat(),
                       "date_modified": e.updated.isoformat(), "tags": [e.category]}
                      for e in items],
        }, ensure_ascii=False).encode()  # fmt: skip
    generator = FeedGenerator()
    generator.id(self_url)
    generator.title(title)
    generator.description(description)
    generator.subtitle(description)
    generator.link(href=self_url, rel="self")
    generator.link(href=home_url, rel="alternate")
    generator.language("en-GB")
    generator.generator("hyperlocal")
    # Dated by its newest item (today's start when empty), never by the time it was built: the
    # same content gives the same bytes, so its ETag holds and a cache's revalidation is a 304.
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    updated = max((e.updated for e in items), default=today)
    generator.updated(updated)
    generator.lastBuildDate(updated)
    for item in reversed(items):  # feedgen prepends
        entry = generator.add_entry()
        entry.id(item.id)
        entry.guid(item.id, permalink=False)
        entry.title(item.title)
        if item.link:
            entry.link(href=item.link)
        entry.published(item.published)
        entry.updated(item.updated)
        entry.category(term=item.category)
        if item.html:
            entry.summary(plain_text(item.html, 600) or item.title)
            entry.content(item.html, type="html")
    return generator.atom_str(pretty=True) if fmt == "atom" else generator.rss_str(pretty=True)
