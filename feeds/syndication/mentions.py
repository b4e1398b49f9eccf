"""Postcodes mentioned in a police item's text. Pure.

Full units ("WV11 1AA", "wv111aa" is not taken: press releases write postcodes in capitals),
sectors ("WV11 1") and districts ("WV11"), in the order they appear. What looks like a district
but is something else is left out:

- a road: "on the M6", "M6 southbound", "the B44", "J10 of the M6"; a bare motorway-shaped
  district (M1-M99 are Manchester districts too) counts only when the text says it is a
  postcode or an area ("postcode M14", "the M14 area", each of "the B23 and B44 areas");
- a vehicle registration: "AB12 CDE", or anything after "registration"/"reg"/"plate".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from directory.geography.postcode_format import PostcodeInvalid, parse_postcode

_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9])(?P<outward>[A-Z]{1,2}[0-9][A-Z0-9]?)"
    r"(?:(?P<gap>[ \t]?)(?P<sector>[0-9])(?P<unit>[A-Z]{2})?)?(?![A-Za-z0-9])"
)
_ROAD_BEFORE = re.compile(r"\b(the|on|along|onto|off|via|junction \d+ of|j\d+ of)\s+$", re.I)
_ROAD_AFTER = re.compile(
    r"^\s*(\(?[nsew]\w*bound\)?|junction|j\d+|jct|motorway|slip|carriageway|road|link|"
    r"between|at junction|hard shoulder|services)\b", re.I,
)  # fmt: skip
_POSTCODE_BEFORE = re.compile(r"\b(postcodes?|postcode area|postcode district)\s+$", re.I)
# "WV11 area"; and each district of a list that ends so: "the LS8, LS9 and LS11 areas".
_AREA_AFTER = re.compile(
    r"^(?:\s*(?:,|and|or|&|/)\s*(?:the\s+)?[A-Z]{1,2}[0-9][A-Z0-9]?(?:[ \t][0-9])?)*"
    r"\s+(?:areas?|postcodes?|districts?|postcode (?:areas?|districts?))\b"
)
_REGISTRATION_AFTER = re.compile(r"^ ?[A-Z]{3}\b")
_REGISTRATION_BEFORE = re.compile(
    r"\b(registration|reg|reg\.|plate|plates|index)( number)?( of| is| was| beginning| starting"
    r"( with)?)?\s*:?\s*['\"‘“]?$", re.I,
)  # fmt: skip
_MOTORWAY = re.compile(r"^M[0-9]{1,2}$")


@dataclass(frozen=True)
class Mention:
    code: str  # display form: "WV11 1AA", "WV11 1", "WV11"
    kind: str  # unit, sector, district
    start: int  # where it is in the text


def postcode_mentions(text: str) -> list[Mention]:
    """Postcode units, sectors and districts named in ``text``, in order, without repeats."""
    found: list[Mention] = []
    seen: set[str] = set()
    for match in _CANDIDATE.finditer(text or ""):
        outward, sector, unit = match.group("outward", "sector", "unit")
        if unit:
            candidate = f"{outward} {sector}{unit}"
        elif sector:
            if not match.group("gap"):
                continue  # "TS007", "SS312": a standard's number, not a sector written compact
            candidate = f"{outward} {sector}"
        else:
            candidate = outward
        try:
            parsed = parse_postcode(candidate)
        except PostcodeInvalid:
            continue
        if parsed.kind == "area":
            continue
        before, after = text[: match.start()][-40:], text[match.end() :][:80]
        if _REGISTRATION_BEFORE.search(before):
            continue
        if parsed.kind == "district" and not _district_is_a_place(outward, before, after):
            continue
        if parsed.display not in seen:
            seen.add(parsed.display)
            found.append(Mention(parsed.display, parsed.kind, match.start()))
    return found


def _district_is_a_place(outward: str, before: str, after: str) -> bool:
    said_postcode = bool(_POSTCODE_BEFORE.search(before) or _AREA_AFTER.match(after))
    if said_postcode:
        return True
    if _REGISTRATION_AFTER.match(after):
        return False  # "AB12 CDE": a number plate
    if _ROAD_BEFORE.search(before) or _ROAD_AFTER.match(after):
        return False
    return not _MOTORWAY.match(outward)
