"""A subscription's bulletins as RSS 2.0 (with GeoRSS), Atom, JSON Feed 1.1 and CAP 1.2.

RSS and Atom are written by feedgen, with its GeoRSS extension: each item carries the centre
of its target area (``georss:point``) and its bounding box (``georss:box``). JSON Feed has no
library of note; it is a plain dictionary, with the bulletin's kind, status, area and
how it was located under the ``_hyperlocal`` extension key. CAP 1.2 (OASIS Common Alerting
Protocol) is written with ElementTree, one ``<alert>`` per warning, the area as a CAP polygon
or circle.

Pure: takes bulletins (models or rows with the same attributes) and returns bytes or dicts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from feedgen.feed import FeedGenerator
from lxml import etree
from shapely.geometry import MultiPolygon, Polygon

from directory.geography.areas import Area, area_from_json
from directory.text import plain_text, xml_safe
from feeds.syndication.models import PRECISION

PRECISION_SCHEME = "https://hyperlocal.example/precision"  # the category scheme for precision
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
CAP_SENDER = "hyperlocal"
CAP_MAX_POLYGON_POINTS = 200
KIND_LABELS = {
    "appeal": "Appeal",
    "missing": "Missing person",
    "wanted": "Wanted",
    "warning": "Warning",
    "update": "Update",
}


@dataclass(frozen=True)
class FeedInfo:
    """What the feed says about itself."""

    title: str
    description: str
    self_url: str  # this feed's own address (any of the formats)
    home_url: str  # where a person reads more (the API's bulletin list)
    item_url: str  # "{base}/bulletins/{id}": a bulletin's own address in the API
    hub_url: str | None = None  # the WebSub hub that pushes this feed's changes


def _item_link(info: FeedInfo, bulletin: Any) -> str:
    return bulletin.link or info.item_url.format(id=bulletin.id)


def _guid(info: FeedInfo, bulletin: Any) -> str:
    return info.item_url.format(id=bulletin.id)


def _title(bulletin: Any) -> str:
    if getattr(bulletin, "closing", False):  # a closing stub says what it is itself
        return xml_safe(bulletin.title)
    return xml_safe(f"{KIND_LABELS[bulletin.kind]}: {bulletin.title}")


def _area(bulletin: Any) -> Area | None:
    return area_from_json(bulletin.area) if bulletin.area else None


def _generator(
    info: FeedInfo,
    bulletins: Sequence[Any],
    link_rel_self: str,
    cap_links: bool = False,
    hub_link: bool = True,
) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("geo")
    fg.id(info.self_url)
    fg.title(info.title)
    fg.subtitle(info.description)
    fg.description(info.description)
    fg.link(href=info.home_url, rel="alternate")
    fg.link(href=link_rel_self, rel="self")
    if info.hub_url and hub_link:  # WebSub discovery (section 4): readers subscribe there
        fg.link(href=info.hub_url, rel="hub")
    fg.language("en-GB")
    fg.generator("hyperlocal")
    updated = max((b.updated_at for b in bulletins), default=None)
    if updated is not None:
        fg.updated(updated)
        fg.lastBuildDate(updated)
    # feedgen prepends entries: add oldest first so the newest leads.
    for bulletin in reversed(list(bulletins)):
        entry = fg.add_entry()
        entry.id(_guid(info, bulletin))
        entry.guid(_guid(info, bulletin), permalink=False)
        entry.title(_title(bulletin))
        if cap_links:
            entry.link(href=info.item_url.format(id=bulletin.id), rel="alternate",
                       type="application/cap+xml")  # fmt: skip
        else:
            entry.link(href=_item_link(info, bulletin))
        entry.published(bulletin.published_at)
        entry.updated(bulletin.updated_at)
        entry.category(term=bulletin.kind, label=KIND_LABELS[bulletin.kind])
        precision = PRECISION.get(bulletin.located_by)
        if precision:  # how precisely it is located, for readers that filter on it
            entry.category(term=f"precision:{precision}", label=f"precision:{precision}",
                           scheme=PRECISION_SCHEME)  # fmt: skip
        summary = plain_text(bulletin.body_html, 600) or bulletin.title
        entry.summary(summary)
        if bulletin.body_html:
            # Escaped HTML: Atom's type="html" (RFC 4287), RSS's content:encoded. (type="CDATA"
            # is feedgen's RSS-only idiom; in Atom it is not a valid content type.)
            entry.content(xml_safe(bulletin.body_html), type="html")
        if bulletin.force_id:
            entry.author(name=bulletin.force_id)
        area = _area(bulletin)
        if area is not None:
            lat, lng = area.centroid
            box = area.bbox
            entry.geo.point(f"{lat:.6f} {lng:.6f}")
            corners = (box.min_lat, box.min_lng, box.max_lat, box.max_lng)
            entry.geo.box(" ".join(f"{c:.6f}" for c in corners))
    return fg


def rss(info: FeedInfo, bulletins: Sequence[Any], self_url: str) -> bytes:
    document = _generator(info, bulletins, self_url, hub_link=False).rss_str(pretty=True)
    if not info.hub_url:
        return document
    # feedgen writes only rel="self" as an atom:link in RSS (another rel replaces <link>):
    # the hub goes in beside it, as WebSub publishers' RSS feeds carry it.
    root = etree.fromstring(document)
    channel = root.find("channel")
    assert channel is not None
    own = channel.find(f"{{{ATOM_NS}}}link")
    hub = etree.Element(f"{{{ATOM_NS}}}link", href=info.hub_url, rel="hub")
    hub.tail = own.tail if own is not None else None
    channel.insert(list(channel).index(own) + 1 if own is not None else 0, hub)
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def atom(info: FeedInfo, bulletins: Sequence[Any], self_url: str) -> bytes:
    return _generator(info, bulletins, self_url).atom_str(pretty=True)


def cap_index(info: FeedInfo, bulletins: Sequence[Any], self_url: str) -> bytes:
    """An Atom feed of warnings whose entries link to their CAP 1.2 alerts (the usual way
    CAP alerts are listed, as the UK's and others' alert hubs do)."""
    return _generator(info, bulletins, self_url, cap_links=True).atom_str(pretty=True)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def json_feed(info: FeedInfo, bulletins: Sequence[Any], self_url: str) -> dict[str, Any]:
    """A JSON Feed 1.1 document (https://jsonfeed.org/version/1.1)."""
    items = []
    for bulletin in bulletins:
        area = _area(bulletin)
        items.append(
            {
                "id": _guid(info, bulletin),
                "url": _item_link(info, bulletin),
                "title": _title(bulletin),
                "content_html": bulletin.body_html or bulletin.title,
                "summary": plain_text(bulletin.body_html, 600) or bulletin.title,
                "date_published": _iso(bulletin.published_at),
                "date_modified": _iso(bulletin.updated_at),
                "tags": [bulletin.kind],
                "authors": [{"name": bulletin.force_id}] if bulletin.force_id else [],
                "_hyperlocal": {
                    "bulletin_id": bulletin.id,
                    "kind": bulletin.kind,
                    "status": bulletin.status,
                    "expires_at": _iso(bulletin.expires_at),
                    "severity": bulletin.severity,
                    "urgency": bulletin.urgency,
                    "located_by": bulletin.located_by,
                    "precision": PRECISION.get(bulletin.located_by),
                    "location": bulletin.location,
                    "centre": list(area.centroid) if area else None,
                    "bbox": list(_box(area)) if area else None,
                },
            }
        )
    return {
        "version": JSON_FEED_VERSION,
        "title": info.title,
        "description": info.description,
        "home_page_url": info.home_url,
        "feed_url": self_url,
        "language": "en-GB",
        **({"hubs": [{"type": "WebSub", "url": info.hub_url}]} if info.hub_url else {}),
        "items": items,
    }


def json_feed_bytes(info: FeedInfo, bulletins: Sequence[Any], self_url: str) -> bytes:
    return json.dumps(json_feed(info, bulletins, self_url), ensure_ascii=False).encode()


def _box(area: Area) -> tuple[float, float, float, float]:
    box = area.bbox
    return (box.min_lat, box.min_lng, box.max_lat, box.max_lng)


# ---------------------------------------------------------------------------- CAP 1.2


def _cap_time(value: datetime) -> str:
    """CAP's dateTime: no fractional seconds, an explicit offset ("2026-11-21T08:00:00+00:00")."""
    return value.replace(microsecond=0).isoformat()


def _cap_polygons(area: Area) -> list[str]:
    geometry = area.geometry
    polygons = list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]
    texts = []
    for polygon in polygons:
        if not isinstance(polygon, Polygon):
            continue
        ring = polygon.exterior
        if len(ring.coords) > CAP_MAX_POLYGON_POINTS:
            ring = polygon.simplify(0.0005).exterior
        points = [f"{lat:.5f},{lng:.5f}" for lng, lat in ring.coords]
        if points[0] != points[-1]:
            points.append(points[0])
        texts.append(" ".join(points))
    return texts


@dataclass(frozen=True)
class CapMessage:
    """One message of a warning's CAP history: its type, identifier and time sent."""

    msg_type: str  # Alert, Update, Cancel
    identifier: str
    sent: datetime

    def reference(self, sender: str) -> str:
        """This message as CAP names it in ``references``: "sender,identifier,sent"."""
        return f"{sender},{self.identifier},{_cap_time(self.sent)}"


def cap_messages(bulletin: Any) -> list[CapMessage]:
    """A warning's CAP messages, oldest first: the ``Alert`` when it was published, an
    ``Update`` for each revision of its words, a ``Cancel`` once resolved or cancelled. An
    expired warning's last message stands (its ``expires`` has passed)."""
    base = f"hyperlocal-bulletin-{bulletin.id}"
    messages = [CapMessage("Alert", base, bulletin.published_at)]
    for n, at in enumerate(bulletin.revisions or [], 1):
        messages.append(CapMessage("Update", f"{base}-update-{n}", datetime.fromisoformat(at)))
    if bulletin.status in ("resolved", "cancelled"):
        closed = bulletin.resolved_at or bulletin.updated_at
        messages.append(CapMessage("Cancel", f"{base}-cancel", closed))
    return messages


def cap_alert(bulletin: Any, web: str, sent_by: str = CAP_SENDER) -> bytes:
    """A warning's latest CAP 1.2 message (see ``cap_messages``); an Update or a Cancel
    references every message before it."""
    ET.register_namespace("", CAP_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
        if text is not None:
            element.text = text
        return element

    *earlier, latest = cap_messages(bulletin)
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    sub(alert, "identifier", latest.identifier)
    sub(alert, "sender", sent_by)
    sub(alert, "sent", _cap_time(latest.sent))
    sub(alert, "status", "Actual")
    sub(alert, "msgType", latest.msg_type)
    sub(alert, "scope", "Public")
    if latest.msg_type == "Cancel":
        outcome = "cancelled" if bulletin.status == "cancelled" else "over"
        sub(alert, "note", f"The warning is {outcome}" + (
            f": {bulletin.resolution}" if bulletin.resolution else ""))  # fmt: skip
    if earlier:
        sub(alert, "references", " ".join(m.reference(sent_by) for m in earlier))
    info = sub(alert, "info")
    sub(info, "language", "en-GB")
    sub(info, "category", "Safety")
    sub(info, "event", bulletin.title[:200])
    sub(info, "urgency", bulletin.urgency or "Unknown")
    sub(info, "severity", bulletin.severity or "Unknown")
    sub(info, "certainty", "Observed" if bulletin.severity in ("Extreme", "Severe") else "Likely")
    sub(info, "effective", _cap_time(bulletin.published_at))
    if bulletin.expires_at:
        sub(info, "expires", _cap_time(bulletin.expires_at))
    if bulletin.force_id:
        sub(info, "senderName", bulletin.force_id)
    sub(info, "headline", bulletin.title[:160])
    sub(info, "description", plain_text(bulletin.body_html, 5000) or bulletin.title)
    sub(info, "web", bulletin.link or web)
    area = _area(bulletin)
    if area is not None:
        cap_area = sub(info, "area")
        sub(cap_area, "areaDesc", bulletin.location or bulletin.located_by)
        if area.kind == "circle":
            assert area.center is not None and area.radius_m is not None
            sub(
                cap_area,
                "circle",
                f"{area.center[0]:.5f},{area.center[1]:.5f} {area.radius_m / 1000:.3f}",
            )
        else:
            for text in _cap_polygons(area):
                sub(cap_area, "polygon", text)
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)
