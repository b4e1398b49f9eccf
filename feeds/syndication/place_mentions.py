"""Where in a police item's text a place may be named: candidate phrases, found anywhere.

Pure. A candidate is a run of capitalised words ("Hebden Bridge", "Stoke-on-Trent", "Newcastle
upon Tyne", "St. Mellons"), with each shorter run inside it offered too (the resolver keeps the
longest that is a known place, and never a part of a longer known one). Not only after "in" or
"at": in lists ("in Hinckley, Coalville and Loughborough"), as adjectives ("a Wolverhampton
man"), after "on <street>," ("on Church Street, Bilston"), either half of a bilingual name
("Abertawe - Swansea"). A candidate is *cued* when the words around it say it is a place (a
preposition of place before it, a person or area noun after it, or a list that began so);
the resolver trusts uncued ones only when nothing cued is found.

A part of a name is offered only where the rest of it is a preposition ("Assault In Harehills")
or words that say what the place is ("Hirst Park", "Leeds City Centre", "North Leeds"): never
"Seaton" out of "Seaton Burn" or "Vauxhall" out of "Vauxhall Astra".

Left out: streets and roads (a run ending "Street", "Road"...), people's names after a title
or before an age ("PC Sam Ashley", "Shirley, 67,"), and the capitalised words police items
begin sentences with ("Officers", "Police", "Detectives").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_WORDS = 5

_WORD = r"(?:St\.?\s+)?[A-Z][A-Za-zÀ-ÿŵŷ'’]*(?:-[A-Za-zÀ-ÿŵŷ'’]+)*"
_GAP = r"[^\S\n]+"  # spaces, never a line break: a name does not run from title to summary
_JOIN = rf"(?:{_GAP}(?:upon|on|under|le|la|de|en|in|by|the|next|y|yr|ar){_GAP}|{_GAP}|-)"
_RUN = re.compile(rf"{_WORD}(?:{_JOIN}{_WORD}){{0,{MAX_WORDS + 2}}}")
_SPLIT = re.compile(r"\s+|-(?=[A-Z])")
_PLACE_WORDS = (
    r"in|at|near|from|around|outside|of|to|towards|between|across|throughout|within|into|"
    r"through|off|along|over|via|beyond|entering|leaving|visit(?:ing|s)?|frequent(?:s|ing)?|"
    r"area of|parts of|streets of|centre of|heart of|outskirts of|"
    r"yn|yng|ym|ger|ardal"  # Welsh: in, near, the area of
)
_COMPASS = r"north|south|east|west|north-east|north-west|south-east|south-west|central|rural"
_CUE_BEFORE = re.compile(  # any case: "Across the West Midlands", "Assault In Harehills"
    rf"\b(?:(?:{_PLACE_WORDS})\s+(?:the\s+)?|(?:{_COMPASS})\s+)$", re.IGNORECASE
)
_LIST_BEFORE = re.compile(r"(?:,|\band|\bor|&)\s*$")
_CUE_AFTER = re.compile(
    r"^\s*(?:man|woman|men|women|boy|girl|teenager|teen|pensioner|resident|residents|couple|"
    r"family|area|areas|officers|police|team|community|communities|town|village|estate|"
    r"centre|city|district|neighbourhood|based|born|native|youths?)\b", re.IGNORECASE,
)  # fmt: skip
_PERSON_BEFORE = re.compile(
    r"\b(?:named|called|PC|PCSO|DC|DS|DI|DCI|Sgt|Sergeant|Inspector|Constable|Mr|Mrs|Ms|Miss|"
    r"Dr|aged)\s*$"
)
_PERSON_AFTER = re.compile(r"^\s*,?\s*(?:aged\s+)?\d{1,3}\b|^\s*'s\b")
STREET_WORDS = frozenset(
    "street road lane avenue close drive way crescent terrace grove walk row place square "
    "gardens court mews parade rise boulevard bypass roundabout junction motorway".split()
)
# Capitalised at the start of a sentence or as titles, never places themselves.
NOT_PLACES = frozenset(
    "a an the this that these those officers officer police detectives detective we our he she "
    "they his her their it its if when while after before anyone anybody people members "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may "
    "june july august september october november december update appeal missing wanted warning "
    "urgent crimestoppers call please help do did can have has are is was were witness "
    "witnesses cctv pc pcso dc ds sgt inspector superintendent chief constable mr mrs ms miss "
    "dr court crown magistrates hospital station i thank thanks".split()
)


DATE_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may "
    "june july august september october november december".split()
)
# Words that end one name and begin another in a run of capitalised words ("Assault In
# Harehills" in a title-case headline, "Newcastle upon Tyne" joined by one).
BREAK_WORDS = frozenset(
    "in at on of for to from after near by with and or the upon under into onto off outside "
    "around towards following between across".split()
)
# Words that say what kind of place a name is, so the name inside is the place: "Hirst Park",
# "Sunderland City Centre", "Bilston Police Station", "North Leeds".
DESCRIBING_WORDS = frozenset(
    "park centre center city town estate retail shopping industrial business police station "
    "hospital university college school academy council borough county district ward cid "
    "neighbourhood team north south east west central upper lower water meadows common "
    "village area precinct market square bus railway train airport services fire rescue "
    "crown court magistrates library leisure sports stadium cathedral minster harbour marina "
    "beach pier promenade seafront quay docks hall church mosque temple mall arcade campus "
    "prison hmp marathon half festival carnival pride show fair parade races fc "
    "hanner gŵyl gwyl canol dinas tref heddlu gorsaf cyngor ysgol ysbyty parc".split()  # Welsh
)


@dataclass(frozen=True)
class Candidate:
    phrase: str  # as written
    start: int  # character offset in the text
    end: int
    cued: bool


def place_candidates(text: str) -> list[Candidate]:
    """Every capitalised run of the text that may name a place, and each run inside it, longest
    first within a run; runs that are streets or people are left out."""
    found: list[Candidate] = []
    for match in _RUN.finditer(text):
        words = _words(match.group(0), match.start())
        if not words:
            continue
        before, after = text[: words[0][1]], text[words[-1][2] :]
        dated = words[-1][0].lower() in DATE_WORDS  # "Aberystwyth on Saturday, 10 October"
        if _PERSON_BEFORE.search(before) or (_PERSON_AFTER.match(after) and not dated):
            continue
        if words[-1][0].lower().rstrip(".") in STREET_WORDS or words[0][0] in _STREET_FIRST:
            continue  # "Church Street": a street, and "Church" in it is not a place either
        run_cued = _cued(text, before, after)
        for size in range(len(words), 0, -1):
            for first in range(0, len(words) - size + 1):
                span = words[first : first + size]
                if not (span[0][0][:1].isupper() and span[-1][0][:1].isupper()):
                    continue  # "Wednesfield on", "in Hinckley": a connector at an edge
                if {span[0][0].lower(), span[-1][0].lower()} & BREAK_WORDS:
                    continue  # "For Witnesses", "Assault In": a title-case preposition
                if not _whole(words, first, first + size):
                    continue  # "Seaton" of "Seaton Burn": a part of a name is not a place
                phrase = text[span[0][1] : span[-1][2]]
                if phrase.lower() in NOT_PLACES:
                    continue
                cued = run_cued or _cued(text, text[: span[0][1]], text[span[-1][2] :])
                found.append(Candidate(phrase, span[0][1], span[-1][2], cued))
    return found


def _whole(words: list[tuple[str, int, int]], first: int, end: int) -> bool:
    """Whether words[first:end] is a name on its own: next to a break word or the run's edge,
    or with only describing words between it and one."""
    before = (w[0].lower() for w in reversed(words[:first]))
    after = (w[0].lower() for w in words[end:])
    for side in (before, after):
        for word in side:
            if word in BREAK_WORDS:
                break
            if word not in DESCRIBING_WORDS:
                return False
    return True


def _words(run: str, offset: int) -> list[tuple[str, int, int]]:
    """The run's capitalised words (with "St." kept to its name), dropping leading words that
    are never places ("Officers in", "Police")."""
    words: list[tuple[str, int, int]] = []
    position = 0
    for part in _SPLIT.split(run):
        start = run.index(part, position)
        position = start + len(part)
        if not part:
            continue
        if words and words[-1][0] in ("St", "St.") and part[:1].isupper():
            words[-1] = (f"{words[-1][0]} {part}", words[-1][1], offset + position)
            continue
        words.append((part, offset + start, offset + position))
    while words and (words[0][0].lower() in NOT_PLACES or not words[0][0][:1].isupper()):
        words.pop(0)
    while words and not words[-1][0][:1].isupper():
        words.pop()
    return words


_NAMES = rf"{_WORD}(?:{_JOIN}{_WORD}){{0,{MAX_WORDS + 2}}}"
_LISTED = re.compile(
    rf"\b(?:{_PLACE_WORDS})\s+(?:the\s+)?{_NAMES}"
    rf"(?:\s*(?:,|and|or|&)\s*{_NAMES})*\s*(?:,|\band|\bor|&)\s*$"
)
# "Belgrave Road, Leicester", "Heol Eglwys Fair, Caerdydd": a street, then its town.
_STREET_FIRST = ("Heol", "Ffordd", "Stryd", "Lôn", "Rhodfa", "Cilgant")  # Welsh: road, way...
_AFTER_STREET = re.compile(
    rf"(?:{_NAMES}\s+(?:{'|'.join(w.title() for w in sorted(STREET_WORDS))})|"
    rf"\b(?:{'|'.join(_STREET_FIRST)})\s+{_NAMES})\s*,\s*$"
)
_LIST_GAP = re.compile(
    r"(?:\s+(?:town|city|centre|center|area|areas|estate|village|district))*"
    rf"\s*(?:,|and|or|&|,\s*and|,\s*or)\s*(?:{_NAMES}\s*(?:,|and|or|&|,\s*and|,\s*or)\s*)*"
)


def list_gap(text: str) -> bool:
    """Whether the text between two names makes them one list: ", ", " and ", " town centre and
    ", or other names listed between ("Grangetown, Cardiff Bay and Penarth")."""
    return bool(_LIST_GAP.fullmatch(text))


_BILINGUAL_PARTNER = re.compile(rf"{_WORD}\s*(?:\s-\s|/)\s*$")


def _cued(text: str, before: str, after: str) -> bool:
    if _CUE_BEFORE.search(before[-40:]) or _CUE_AFTER.match(after[:30]):
        return True
    near = re.split(r"[.;:!?]\s", before[-200:])[-1]
    if _AFTER_STREET.search(near) or _BILINGUAL_PARTNER.search(near):
        return True  # "on Church Street, Bilston"; "Abertawe - Swansea"
    # "in Hinckley, Coalville and Loughborough": the list began with a cue.
    return bool(_LIST_BEFORE.search(before[-6:]) and _LISTED.search(near))
