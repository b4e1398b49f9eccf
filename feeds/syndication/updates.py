"""What an update refers to: the earlier bulletin a "found safe" or "charged" notice closes.

A pure decision over the candidates the caller read (the force's active bulletins of the last
``UPDATE_WINDOW``): the same guid, else the one bulletin with the same link, else the one that
shares the most subject words including a name or place. A missing-person notice is closed only
by news that someone was found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from directory.text import plain_text
from feeds.syndication.models import Bulletin

UPDATE_WINDOW = timedelta(days=30)  # how far back an update looks for what it resolves
MIN_SHARED_WORDS = 2

# Words that say what kind of item it is, not what it is about: they do not make two items
# the same subject ("missing", "appeal", "found").
_KIND_WORDS = frozenset(
    """
    missing appeal appeals appealing found safe well located traced charged charge arrested arrest
    arrests update updated thank thanks sharing shared share help helped public officers police
    no longer required wanted man woman boy girl teenager year years old aged information
    witnesses witness cctv released images image following after earlier our we have been has the
    and for with from who was were are his her their this that last seen named concern concerned
    have your you any anyone contact please call quoting reference crime stoppers """.split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]+|\d{2,}")
_FOUND = re.compile(
    r"\b(found|traced|located|returned (home|safely)|back home|no longer missing|"
    r"has been (found|traced|located))\b", re.IGNORECASE,
)  # fmt: skip
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z'’-]{2,})\b")
_STREET_WORDS = frozenset("road street lane avenue drive close way court place crescent "
                          "grove hill park square terrace gardens".split())  # fmt: skip


def _names(text: str) -> set[str]:
    """Capitalised words inside sentences (names, places), not street-type words."""
    return {
        word.lower() for word in _NAME.findall(text)
        if word.lower() not in _KIND_WORDS and word.lower() not in _STREET_WORDS
    }  # fmt: skip


def subject_words(text: str) -> set[str]:
    """What an item is about, as a set of words: names, places, offences; not kind words."""
    return {
        word.lower().strip("'’-")
        for word in _WORD.findall(text)
        if word.lower() not in _KIND_WORDS and len(word) > 2
    }


def referenced_by(update_: Bulletin, earlier: Sequence[Bulletin]) -> list[Bulletin]:
    """The bulletins among ``earlier`` that ``update_`` closes (at most one unless by guid)."""
    text = f"{update_.title} {plain_text(update_.body_html, 2000)}"
    finding = bool(_FOUND.search(text))
    # A missing-person notice is closed only by news that someone was found.
    eligible = [b for b in earlier if b.kind != "missing" or finding]
    same_guid = [b for b in eligible if update_.guid and b.guid == update_.guid]
    # A link shared by several bulletins is a general page ("/appeals"), not a reference.
    by_link = [b for b in earlier if update_.link and b.link == update_.link]
    chosen = same_guid or [b for b in by_link if b in eligible and len(by_link) == 1]
    if chosen:
        return chosen
    words = subject_words(text)
    names = _names(text)
    scored = []
    for candidate in eligible:
        theirs_text = f"{candidate.title} {plain_text(candidate.body_html, 2000)}"
        shared = words & subject_words(theirs_text)
        # Two shared words, one of them a name or place written as one ("Jayden",
        # "Heath Town"), so that "Stafford Road" alone does not tie two stories.
        if len(shared) >= MIN_SHARED_WORDS and names & _names(theirs_text):
            scored.append((len(shared), candidate.published_at, candidate))
    if scored:
        return [max(scored, key=lambda s: (s[0], s[1]))[2]]
    return []
