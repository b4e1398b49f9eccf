"""OPML 2.0 subscription lists, so a team loads every local site's feed in one step."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime


@dataclass(frozen=True)
class FeedOutline:
    title: str
    xml_url: str
    html_url: str
    description: str = ""


def opml_document(title: str, outlines: Iterable[FeedOutline], created: datetime) -> bytes:
    """An OPML 2.0 document (UTF-8 bytes) with one rss outline per feed."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(created)
    body = ET.SubElement(root, "body")
    for outline in outlines:
        attributes = {
            "type": "rss",
            "text": outline.title,
            "title": outline.title,
            "xmlUrl": outline.xml_url,
            "htmlUrl": outline.html_url,
        }
        if outline.description:
            attributes["description"] = outline.description[:500]
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
