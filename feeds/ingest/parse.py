"""Turn a fetched feed (bytes plus response headers) into clean items. Pure: no I/O.

feedparser only ever sees the bytes and the headers, never a URL or a path, so it cannot
fetch anything itself. Every item leaves with:

- a dedupe key, unique within its feed: the guid, else the link, else a hash of title and
  content (so a feed without guids and links still does not repeat itself);
- a plain-text title, HTML content sanitised by nh3 (no scripts, event handlers or
  ``javascript:`` links), an http(s) link or none;
- a UTC publication time, or None (the store uses "first seen");
- tags from RSS/Atom categories and #hashtags in the text, lower-cased;
- a point from GeoRSS or geo:lat/geo:long when the feed gives one inside the UK.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import feedparser
import nh3

from directory.geography.geo import in_uk
from directory.text import plain_text, xml_safe
from directory.urls import url_or_none

MAX_ITEMS = 500
MAX_CONTENT_CHARS = 100_000
MAX_TAG = 60  # post_tags.tag
_TAG = re.compile(r"<[^>]*>")
_HASHTAG = re.compile(r"(?<![\w&#])#([A-Za-z][A-Za-z0-9_]{1,60})")
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html)[\s>]", re.I | re.S)
# Publication times this far in the future are publisher mistakes; treat them as unknown.
FUTURE_SLACK = timedelta(days=1)


class FeedInvalid(ValueError):
    """The document is not a feed we can read (an HTML page, empty, or broken beyond repair)."""


@dataclass(frozen=True)
class ParsedItem:
    key: str
    guid: str | None
    link: str | None
    title: str
    content_html: str
    author: str
    published_at: datetime | None
    tags: tuple[str, ...]
    point: tuple[float, float] | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    ttl_minutes: int | None
    items: list[ParsedItem]
    problem: str | None  # set when the feed was read despite being malformed
    # WebSub (W3C): the hub the publisher pushes through and the feed's own address (the
    # topic), from the Link header or else the feed's rel="hub"/rel="self" links.
    hub: str | None = None
    self_url: str | None = None


def _utc(parsed: Any, now: datetime) -> datetime | None:
    if not parsed:
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, TypeError):
        return None
    return None if moment > now + FUTURE_SLACK else moment


def _point(entry: Any) -> tuple[float, float] | None:
    candidates = []
    where = entry.get("where")
    if isinstance(where, Mapping) and where.get("type") == "Point":
        coordinates = where.get("coordinates") or ()
        if len(coordinates) >= 2:
            candidates.append((coordinates[1], coordinates[0]))
    if entry.get("geo_lat") and entry.get("geo_long"):
        candidates.append((entry["geo_lat"], entry["geo_long"]))
    for lat, lng in candidates:
        try:
            lat, lng = float(lat), float(lng)
        except (TypeError, ValueError):
            continue
        if math.isfinite(lat) and math.isfinite(lng) and in_uk(lat, lng):
            return (round(lat, 6), round(lng, 6))
    return None


# &#xD800;-&#xDFFF; and their decimal forms (55296-57343), leading zeros allowed.
_SURROGATE_REFERENCE = re.compile(
    rb"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}|0*(?:5529[6-9]|553[0-9]{2}|55[4-9][0-9]{2}"
    rb"|56[0-9]{3}|57[0-2][0-9]{2}|573[0-3][0-9]|5734[0-3]));"
)


def _content(entry: Any) -> str:
    for part in entry.get("content") or []:
        if isinstance(part, Mapping) and part.get("value"):
            return str(part["value"])
    return str(entry.get("summary") or entry.get("description") or "")


def _tags(entry: Any, text: str) -> tuple[str, ...]:
    tags: list[str] = []
    for tag in entry.get("tags") or []:
        term = plain_text(str(tag.get("term") or ""), 200).lower().lstrip("#")[:MAX_TAG]
        if term and term not in tags:
            tags.append(term)
    for match in _HASHTAG.finditer(text):
        term = match.group(1).lower()[:MAX_TAG]  # lower() can lengthen: cut after
        if term not in tags:
            tags.append(term)
    return tuple(tags[:30])


def _minutes(ttl: Any) -> int | None:
    """An RSS ``ttl`` in minutes, if it is a sane whole number (capped at a year)."""
    if isinstance(ttl, str) and re.fullmatch(r"\s*[0-9]{1,9}\s*", ttl):
        return min(int(ttl), 366 * 24 * 60)
    return None


def _link(value: Any, base_url: str | None) -> str | None:
    """An item's link as an absolute http(s) URL: a relative one ("/news/appeal-1") is read
    against the feed's address, as relative links in the content are."""
    if not isinstance(value, str) or not value.strip():
        return None
    return url_or_none(urljoin(base_url, value.strip()) if base_url else value)


def _key(guid: str | None, link: str | None, title: str, content: str) -> str:
    if guid:
        return "guid:" + guid[:500]
    if link:
        return "link:" + link[:500]
    digest = hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()
    return "hash:" + digest


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    now: datetime | None = None,
    base_url: str | None = None,
) -> ParsedFeed:
    """Items of an RSS/Atom document; raises FeedInvalid when it is not a usable feed.

    ``base_url`` (where the feed was fetched from) resolves relative item links, and relative
    links and images in the content, so an outlet showing the post elsewhere still points at
    the publisher.
    """
    now = now or datetime.now(UTC)
    if not body.strip():
        raise FeedInvalid("the response is empty")
    content_type = (headers.get("content-type") or "").lower()
    looks_html = _HTML_START.match(body[:4096]) or content_type.startswith("text/html")
    if looks_html and b"<rss" not in body[:4096] and b"<feed" not in body[:4096]:
        raise FeedInvalid("the address serves a web page, not a feed")
    # A character reference to a lone surrogate ("&#xD800;", never valid XML) makes feedparser
    # itself raise, and with it the whole feed: it is dropped before parsing.
    body = _SURROGATE_REFERENCE.sub(b"", body)
    # nh3 sanitises and resolves relative addresses below, in one pass in Rust: feedparser's
    # own two passes over every item's HTML would be spent twice, and slower.
    parsed = feedparser.parse(body, response_headers=dict(headers), sanitize_html=False,
                              resolve_relative_uris=False)  # fmt: skip
    relative = ("rewrite_with_base", base_url) if base_url else "pass_through"
    problem = None
    if parsed.get("bozo"):
        problem = f"malformed feed: {parsed.get('bozo_exception')}"[:300]
    if not parsed.get("version") and not parsed.entries:
        raise FeedInvalid("not an RSS or Atom feed" + (f" ({problem})" if problem else ""))
    items: list[ParsedItem] = []
    seen: set[str] = set()
    for entry in parsed.entries[:MAX_ITEMS]:
        title = plain_text(str(entry.get("title") or ""), 500)
        # NUL and lone surrogates ("&#xD800;") would make the sanitiser or the database refuse
        # the item, and with it the whole fetch: they go before anything reads the text.
        raw = xml_safe(_content(entry))[:MAX_CONTENT_CHARS]
        content_html = nh3.clean(raw, link_rel="noopener noreferrer nofollow",
                                 url_relative=relative)  # fmt: skip
        link = _link(entry.get("link"), base_url)
        if not (title or plain_text(raw) or link):
            continue  # nothing to show (a truncated feed's last, empty item)
        guid = xml_safe(str(entry.get("id") or "")).strip()[:500] or None
        key = _key(guid, link, title, content_html)
        if key in seen:
            continue  # a feed repeating a guid: the first wins
        seen.add(key)
        # Hashtags are read from the sanitised HTML's text: nh3's output is well formed, so
        # dropping its tags is a plain substitution (no second sanitising pass).
        text = f"{title}\n{html.unescape(_TAG.sub(' ', content_html))}"
        items.append(ParsedItem(
            key=key, guid=guid, link=link, title=title, content_html=content_html,
            author=plain_text(str(entry.get("author") or ""), 200),
            published_at=_utc(entry.get("published_parsed") or entry.get("updated_parsed"), now),
            tags=_tags(entry, text), point=_point(entry),
        ))  # fmt: skip
    feed = parsed.get("feed", {})
    ttl = feed.get("ttl")
    return ParsedFeed(
        title=plain_text(str(feed.get("title") or ""), 300),
        link=url_or_none(feed.get("link")),
        ttl_minutes=_minutes(ttl),
        items=items,
        problem=problem,
        hub=_advertised("hub", headers, feed, base_url),
        self_url=_advertised("self", headers, feed, base_url),
    )


_LINK_VALUE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_LINK_REL = re.compile(r'rel\s*=\s*"?([^";,]+)"?', re.I)


def link_header(value: str) -> dict[str, str]:
    """rel -> address of an HTTP ``Link`` header (RFC 8288), the first of each rel."""
    found: dict[str, str] = {}
    for match in _LINK_VALUE.finditer(value or ""):
        rel = _LINK_REL.search(match.group(2))
        for name in rel.group(1).lower().split() if rel else ():
            found.setdefault(name, match.group(1).strip())
    return found


def _advertised(
    rel: str, headers: Mapping[str, str], feed: Any, base_url: str | None
) -> str | None:
    """A WebSub link: the ``Link`` header's first, then the document's (WebSub section 4)."""
    address = link_header(headers.get("link") or "").get(rel)
    if address is None:
        address = next((link.get("href") for link in feed.get("links", ())
                        if link.get("rel") == rel and link.get("href")), None)  # fmt: skip
    return url_or_none(urljoin(base_url or "", address)) if address else None
