"""What an update refers to: the earlier bulletin a "found safe" or "charged" notice closes.

Pure: a decision over the candidates the caller read. The same guid wins, then the one
bulletin with the same link; else the subject decides, as a reader would link the two: the
person (a first name with the same age, a full name, a surname), a reference number, the
date, the road, the places and the offence, each worth what it says (``WEIGHTS``). Weekdays,
months, street types and the words police items are made of are never "names". A
missing-person notice is closed only by news that someone was found (or sadly was); a warning
only by news that it is over. The best candidate wins when it reaches ``THRESHOLD`` and is
clearly ahead of the next (``MARGIN``); otherwise nothing is closed, and the reason says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from directory.geography.places import place_key
from directory.text import plain_text
from feeds.syndication.models import Bulletin

UPDATE_WINDOW = timedelta(days=180)  # how far back an update looks in its own force
OTHER_FORCES_WINDOW = timedelta(days=60)  # and for a person found in another force's area
THRESHOLD = 7
MARGIN = 2
WEIGHTS = {"reference": 10, "person": 8, "name": 5, "road": 3, "date": 3, "place": 2,
           "offence": 2, "word": 1}  # fmt: skip
CAPS = {"road": 6, "date": 3, "place": 4, "offence": 2, "word": 3, "name": 10}

MONTHS = ("january february march april may june july august september october november "
          "december").split()  # fmt: skip
_MONTH = "|".join(MONTHS)
# Capitalised words that are never the name of a person or place an update shares.
COMMON = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday today yesterday tonight update
    missing appeal appeals wanted found safe police officers officer detectives detective
    constable sergeant inspector superintendent chief pc pcso dc ds di dci sgt mr mrs ms miss
    dr the a an this that these those he she they his her their we our it its if when while
    after before anyone anybody people please thank thanks man woman boy girl teenager cctv
    image images charged arrested court crown magistrates hospital police station road street
    lane avenue drive close way court place crescent grove hill park square terrace gardens
    high north south east west new old update: sad news body help information witnesses
    witness footage dashcam there st saint
    """.split()
) | frozenset(MONTHS)
_ROAD_TYPES = ("Road|Street|Lane|Avenue|Drive|Close|Way|Crescent|Grove|Hill|Square|Terrace|"
               "Gardens|Parade|Row|Walk|Place|Boulevard|Bypass|Esplanade|Promenade|Quay|Mews|"
               "Broadway")  # fmt: skip
_CAP = r"[A-Z][a-z'’]+(?:-[A-Z]?[a-z'’]+)*"
_SP = r"[^\S\n]+"  # spaces, not a line break: a name never runs from title into summary
_PERSON_AGE = re.compile(
    rf"\b({_CAP})(?:{_SP}({_CAP}))?[^\S\n]*(?:,|\()[^\S\n]*(?:aged{_SP})?(\d{{1,3}})\b"
)
_AGE_PERSON = re.compile(
    rf"\b(\d{{1,3}})-year-old{_SP}(?:[a-z]+{_SP}){{0,2}}({_CAP})(?:{_SP}({_CAP}))?"
)
_CAPITALISED = re.compile(rf"(?<![.!?:]\s)(?<!^)\b({_CAP})\b")
_REFERENCE = re.compile(
    r"\b(?:\d{6,}|[A-Z]{2,3}-\d{6,}-\d+|\d{2}[A-Z]{2}/\d+[A-Z]?/\d{2}|\d{2,6}\*\d{5,})\b"
)
_LOG = re.compile(
    rf"\blog\s+(\d+)\s+of\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*(?:/\s*(\d{{1,2}})|({_MONTH}))",
    re.IGNORECASE,
)
_DATE = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\b|\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b",
    re.IGNORECASE,
)
_ROAD = re.compile(rf"\b((?:{_CAP}\s+){{1,2}}(?:{_ROAD_TYPES}))\b|\b([ABM]\d{{1,4}})\b")
_OFFENCES = {
    "stabbing": r"stab(?:bing|bed|s)?|knife attack",
    "assault": r"assault(?:ed|s)?|attack(?:ed)?|punched|beaten",
    "robbery": r"robbery|robbed|raid(?:ed)?|mugg(?:ed|ing)",
    "burglary": r"burglar(?:y|ies)|break-ins?|broke into",
    "collision": r"collision|crash|hit[- ]and[- ]run|failed to stop|knocked (?:down|off)",
    "theft": r"theft|thefts|stolen|stole|snatched|shoplifting",
    "arson": r"arson|set alight|set on fire|fire",
    "fraud": r"fraud|scam|bogus|distraction",
}
_OFFENCE = {name: re.compile(rf"\b(?:{p})\b", re.IGNORECASE) for name, p in _OFFENCES.items()}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]{3,}")
_STOPWORDS = (
    frozenset(
        """
    about after again also area around asked been being call calls contact could from have
    having help into known last later like more most name named near over please police public
    quoting reported said seen since some such that their them then there these they this those
    thank thanks time today told under until very want wanted were what when where which while
    with would your yours officers officer appeal appeals found safe well missing update charged
    arrested sharing shared information witnesses anyone people everyone earlier following
    incident released image images continue continuing enquiries investigation year-old years
    """.split()
    )
    | COMMON
)
_FINDING = re.compile(
    r"\b(found|traced|located|returned (home|safely)|back home|no longer missing|safe and well|"
    r"body|sad(ly)? news|sadly|died|passed away|reunited)\b", re.IGNORECASE,
)  # fmt: skip
# An appeal or an image closed in so many words: "appeal withdrawn", "image removed".
_WITHDRAWN = re.compile(
    r"\b(withdrawn|no longer (required|needed)|images? (has|have) (now )?been removed|"
    r"(been|was|were) identified|come forward|came forward|stood down)\b", re.IGNORECASE,
)  # fmt: skip
_OVER = re.compile(r"\b(lifted|reopened|re-opened|no longer|ended|over|cancelled|withdrawn|"
                   r"stood down|all clear)\b", re.IGNORECASE)  # fmt: skip


@dataclass(frozen=True)
class Subject:
    """What an item is about, as a reader links two items: who, which reference, when, where,
    what happened; and the rest of its words."""

    people: frozenset[tuple[str, int]] = frozenset()  # (first name, age)
    full_names: frozenset[str] = frozenset()  # "graham taylor"
    names: frozenset[str] = frozenset()  # capitalised words that are not common ones
    references: frozenset[str] = frozenset()
    dates: frozenset[tuple[int, str]] = frozenset()  # (day, month)
    roads: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()  # place keys
    offences: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    title_names: frozenset[str] = frozenset()  # the names of its title ("Have you seen Tyler?")


@dataclass(frozen=True)
class Link:
    """The bulletin an update closes and why, or why nothing."""

    target: Bulletin | None
    reason: str
    score: int = 0
    evidence: tuple[str, ...] = field(default_factory=tuple)


def subject_of(text: str, places: Sequence[str] = ()) -> Subject:
    """The subject of an item's text (its title, a line break, its summary; plain) and the
    places it names."""
    people, full = set(), set()
    for first, last, age in _PERSON_AGE.findall(text):
        if first.lower() not in COMMON and 0 < int(age) < 110:
            people.add((first.lower(), int(age)))
            if last and last.lower() not in COMMON:
                full.add(f"{first} {last}".lower())
    for age, first, last in _AGE_PERSON.findall(text):
        if first.lower() not in COMMON and 0 < int(age) < 110:
            people.add((first.lower(), int(age)))
            if last and last.lower() not in COMMON:
                full.add(f"{first} {last}".lower())
    names = {w.lower() for w in _CAPITALISED.findall(text) if w.lower() not in COMMON}
    references = set(_REFERENCE.findall(text))
    for number, day, month_number, month in _LOG.findall(text):
        if not month and 0 < int(month_number or 0) <= 12:
            month = MONTHS[int(month_number) - 1]
        references.add(f"log {number} of {day} {month.lower()}" if month else f"log {number}")
    dates = set()
    for day, month, month2, day2 in _DATE.findall(text):
        dates.add((int(day or day2), (month or month2).lower()))
    roads = {(a or b).lower() for a, b in _ROAD.findall(text)}
    offences = {name for name, pattern in _OFFENCE.items() if pattern.search(text)}
    words = {w.lower().strip("'’-") for w in _WORD.findall(text)} - _STOPWORDS
    words = {w for w in words if not any(p.fullmatch(w) for p in _OFFENCE.values())}
    title = text.split("\n", 1)[0]
    title_names = {w.lower() for w in re.findall(rf"\b{_CAP}\b", title) if len(w) > 2} - COMMON
    return Subject(frozenset(people), frozenset(full), frozenset(names), frozenset(references),
                   frozenset(dates), frozenset(roads), frozenset(place_key(p) for p in places),
                   frozenset(offences), frozenset(words), frozenset(title_names))  # fmt: skip


def evidence(update_: Subject, candidate: Subject) -> tuple[int, list[str]]:
    """How strongly two subjects are one story, and what they share."""
    found: list[str] = []
    score = 0

    def add(kind: str, shared: set[str] | frozenset[str]) -> None:
        nonlocal score
        if shared:
            score += min(CAPS.get(kind, 99), WEIGHTS[kind] * len(shared))
            found.append(f"{kind}: {', '.join(sorted(shared))}")

    add("reference", update_.references & candidate.references)
    people = {f"{n} ({a})" for n, a in update_.people & candidate.people}
    people |= update_.full_names & candidate.full_names
    add("person", people)
    # A name of the person the candidate is about, said again without an age ("Ellie-Mae
    # has been found"), or a surname ("Morgan was arrested").
    theirs = (
        {n for n, _ in candidate.people}
        | {part for full in candidate.full_names for part in full.split()}
        | (candidate.title_names - candidate.places)
    )
    said = {n for n in (update_.names | {p for p, _ in update_.people}) & theirs
            if not any(n in p for p in people)}  # fmt: skip
    add("name", said)
    add("road", update_.roads & candidate.roads)
    add("date", {f"{d} {m}" for d, m in update_.dates & candidate.dates})
    add("place", update_.places & candidate.places)
    add("offence", update_.offences & candidate.offences)
    add("word", (update_.words & candidate.words) - update_.places - candidate.names)
    return score, found


def referenced_by(
    update_: Bulletin, earlier: Sequence[Bulletin], *, people_only: bool = False
) -> Link:
    """The bulletin among ``earlier`` that ``update_`` closes, and why (or why none).

    ``people_only`` is for another force's bulletins: only a person said again (a name with
    the same age, or a full name) links across forces.
    """
    text = f"{update_.title}\n{plain_text(update_.body_html, 2000)}"
    finding, over = bool(_FINDING.search(text)), bool(_OVER.search(text))
    withdrawn = bool(_WITHDRAWN.search(text))
    eligible = [b for b in earlier
                if (b.kind != "missing" or finding) and (b.kind != "warning" or over)]  # fmt: skip
    if not people_only:
        same_guid = [b for b in eligible if update_.guid and b.guid == update_.guid]
        if same_guid:
            return Link(same_guid[0], "the same guid", 99)
        # A link shared by several bulletins is a general page ("/appeals"), not a reference.
        by_link = [b for b in earlier if update_.link and b.link == update_.link]
        if len(by_link) == 1 and by_link[0] in eligible:
            return Link(by_link[0], "the same link", 99)
    mine = subject_of(text, update_.places or [])
    scored = []
    for candidate in eligible:
        theirs = subject_of(f"{candidate.title}\n{plain_text(candidate.body_html, 2000)}",
                            candidate.places or [])  # fmt: skip
        score, shared = evidence(mine, theirs)
        if people_only and not any(s.startswith("person") for s in shared):
            continue
        if finding and candidate.kind == "missing":
            score += 2  # news that someone was found, about a missing person
        elif withdrawn and candidate.kind in ("appeal", "wanted"):
            score += 2  # an appeal or image withdrawn, about an appeal or image
        elif over and candidate.kind == "warning":
            score += 2  # "reopened", "lifted": the end of what it warned of
        scored.append((score, candidate.published_at, candidate, shared))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    if not scored or scored[0][0] < THRESHOLD:
        best = ""
        if scored:
            best = f" (best {scored[0][0]}: {'; '.join(scored[0][3]) or 'nothing shared'})"
        return Link(None, f"no earlier bulletin shares enough of its subject{best}")
    best = scored[0]
    if len(scored) > 1 and scored[1][0] > best[0] - MARGIN:
        return Link(None, f"ambiguous: bulletins {best[2].id} and {scored[1][2].id} fit as well")
    return Link(best[2], "; ".join(best[3]), best[0], tuple(best[3]))
