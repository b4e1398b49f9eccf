"""Plain text from the HTML that upstream data sprinkles into names and descriptions."""

from __future__ import annotations

import html
import re

import nh3

_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6])\s*/?\s*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]+")  # control characters other than newline


def plain_text(value: str | None, limit: int = 10_000) -> str:
    """Tags removed (nh3, nothing allowed), entities decoded, whitespace tidied, at most
    ``limit`` characters. Paragraph and line breaks become newlines."""
    if not value:
        return ""
    with_breaks = _BREAKS.sub("\n", value)
    stripped = html.unescape(nh3.clean(with_breaks, tags=set()))
    lines = [_SPACES.sub(" ", line).strip() for line in stripped.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    text = _CONTROL.sub("", text)
    return text[:limit]


def sanitise_html(value: str) -> str:
    """HTML safe to show anywhere: nh3's default tags only, no scripts or event handlers,
    links marked so they pass no referrer or ranking."""
    return nh3.clean(value or "", link_rel="noopener noreferrer nofollow")
