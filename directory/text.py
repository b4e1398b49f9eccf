"""Plain text from the HTML that upstream data sprinkles into names and descriptions."""

from __future__ import annotations

import html
import re
import unicodedata

import nh3

_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6])\s*/?\s*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]+")  # control characters other than newline


# Characters XML 1.0 cannot carry (C0 controls but tab and newlines, surrogates, U+FFFE/FFFF):
# one of them in a stored text would make every RSS, Atom and CAP document holding it invalid.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("", value)


def plain_text(value: str | None, limit: int = 10_000) -> str:
    """Tags removed (nh3, nothing allowed), entities decoded, whitespace tidied, at most
    ``limit`` characters. Paragraph and line breaks become newlines."""
    if not value:
        return ""
    # Characters no database, XML document or HTML parser should meet (NUL, lone surrogates
    # from a "&#xD800;") go first: nh3 cannot even be handed a lone surrogate.
    with_breaks = _BREAKS.sub("\n", xml_safe(value))
    stripped = html.unescape(nh3.clean(with_breaks, tags=set()))
    lines = [_SPACES.sub(" ", line).strip() for line in stripped.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    text = xml_safe(_CONTROL.sub("", text))
    return text[:limit]


def sanitise_html(value: str) -> str:
    """HTML safe to show anywhere: nh3's default tags only, no scripts or event handlers,
    links marked so they pass no referrer or ranking, nothing XML cannot carry."""
    return xml_safe(nh3.clean(value or "", link_rel="noopener noreferrer nofollow"))


# Letters that carry no accent to strip but that people type without (a search for "Tromso"
# finds "Tromsø"); ß needs nothing here (casefold makes it "ss").
_BASE_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                               "þ": "th", "ı": "i"})  # fmt: skip


def folded(value: str | None) -> str:
    """Text as searches compare it, the same on every database: compatibility forms unified,
    accents dropped, case folded, whitespace collapsed ("Ünïcødé  Café" -> "unicode cafe")."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().translate(_BASE_LETTERS).split())
