"""Feed discovery: the feeds a web page announces with ``<link rel="alternate">``. Pure.

RSS autodiscovery (the convention every blogging platform follows): a page names its feeds in
its head as ``<link rel="alternate" type="application/rss+xml" href="...">`` (or
``application/atom+xml``). Relative addresses are resolved against the page (and its
``<base href>``); only http(s) addresses are returned, RSS before Atom, in page order.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

from directory.urls import url_or_none

FEED_TYPES = ("application/rss+xml", "application/atom+xml")
MAX_PAGE_BYTES = 512 * 1024  # the head is near the top; never scan a huge page whole


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, str]] = []  # (type, href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"].strip()
        if tag != "link":
            return
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_TYPES and values.get("href", "").strip():
            self.links.append((kind, values["href"].strip()))


def feed_links(page: bytes, page_url: str, encoding: str | None = None) -> list[str]:
    """The feed addresses ``page`` (fetched from ``page_url``) announces, best first."""
    text = page[:MAX_PAGE_BYTES].decode(encoding or "utf-8", errors="replace")
    finder = _LinkFinder()
    finder.feed(text)
    finder.close()
    base = urljoin(page_url, finder.base) if finder.base else page_url
    found: list[str] = []
    for wanted in FEED_TYPES:
        for kind, href in finder.links:
            url = url_or_none(urljoin(base, href)) if kind == wanted else None
            if url and url not in found:
                found.append(url)
    return found
