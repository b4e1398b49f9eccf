"""What a police item is: appeal, missing, wanted, warning, update, or not a bulletin at all.

Pure. The rules are data (``feeds/syndication/data/bulletin_rules.csv``): regular expressions
with a kind and a weight, negative weights for the traps ("Court of Appeal", a missing dog,
"volunteers wanted"). A title counts twice, a summary once; the kind with the highest total
wins when it reaches ``THRESHOLD`` and beats the "none" total (court results, recruitment,
ceremonies). The phrases that decided are kept as the reason, so a wrong call can be traced to
its rule.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

KINDS = ("appeal", "missing", "wanted", "warning", "update")
THRESHOLD = 3
TITLE_WEIGHT = 2
# Ties go to the kind that says most about what happened next (an update closes the others).
PRECEDENCE = ("update", "missing", "wanted", "warning", "appeal")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")


@dataclass(frozen=True)
class Rule:
    kind: str
    weight: int
    pattern: re.Pattern[str]
    note: str


@dataclass(frozen=True)
class Classification:
    kind: str | None  # None: not a bulletin
    reason: str
    scores: dict[str, int] = field(default_factory=dict)
    severity: str | None = None  # warnings only (CAP 1.2)
    urgency: str | None = None


_PIECE = re.compile(r"%([A-Z_]+)%")


def parse_rules(text: str) -> list[Rule]:
    """Rules from the CSV text (lines starting with # are comments); errors name the line.

    A row of kind ``define`` names a piece of pattern (its note is the name) that later
    patterns use as ``%NAME%``: the list of pet words, say, written once.
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rules = []
    pieces: dict[str, str] = {}
    for number, row in enumerate(csv.DictReader(io.StringIO("\n".join(lines))), start=2):
        kind = row["kind"].strip()
        if row.get(None):  # type: ignore[call-overload]
            raise ValueError(f"rule {number}: more than 4 fields (a pattern with a comma, as in "
                             "{0,2}, must be in double quotes)")  # fmt: skip
        try:
            source = _PIECE.sub(lambda m: f"(?:{pieces[m.group(1)]})", row["pattern"])
        except KeyError as exc:
            raise ValueError(f"rule {number}: %{exc.args[0]}% is not defined above it") from None
        if kind == "define":
            pieces[(row.get("note") or "").strip()] = source
            continue
        valid = kind in KINDS or kind == "none" or (
            kind.startswith("severity:") and kind[9:] in SEVERITIES
        ) or (kind.startswith("urgency:") and kind[8:] in URGENCIES)  # fmt: skip
        if not valid:
            raise ValueError(f"rule {number}: unknown kind '{kind}'")
        try:
            pattern = re.compile(source, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"rule {number}: bad pattern ({exc})") from None
        rules.append(Rule(kind, int(row["weight"]), pattern, (row.get("note") or "").strip()))
    return rules


@cache
def default_rules() -> tuple[Rule, ...]:
    rules = files("feeds.syndication").joinpath("data", "bulletin_rules.csv")
    text = rules.read_text(encoding="utf-8")
    return tuple(parse_rules(text))


def classify(
    title: str, summary: str = "", rules: tuple[Rule, ...] | None = None
) -> Classification:
    """The kind of a police item from its title and summary (plain text)."""
    rules = rules if rules is not None else default_rules()
    scores = dict.fromkeys((*KINDS, "none"), 0)
    matched: dict[str, list[str]] = {kind: [] for kind in scores}
    levels: dict[str, int] = {}
    for rule in rules:
        found = [(TITLE_WEIGHT, m) for m in rule.pattern.finditer(title)][:1] or [
            (1, m) for m in rule.pattern.finditer(summary)
        ][:1]
        if not found:
            continue
        factor, match = found[0]
        if rule.kind in scores:
            scores[rule.kind] += rule.weight * factor
            sign = "+" if rule.weight > 0 else ""
            matched[rule.kind].append(f"'{match.group(0).lower()}' {sign}{rule.weight * factor}")
        else:
            levels[rule.kind] = levels.get(rule.kind, 0) + rule.weight * factor
    ranked = sorted(KINDS, key=lambda k: (-scores[k], PRECEDENCE.index(k)))
    best = ranked[0]
    if scores[best] < THRESHOLD:
        return Classification(None, "no bulletin phrase: " + _why(matched, "none", scores),
                              scores)  # fmt: skip
    if scores["none"] >= scores[best]:
        return Classification(None, "not a bulletin: " + _why(matched, "none", scores), scores)
    reason = f"{best}: " + _why(matched, best, scores)
    if best != "warning":
        return Classification(best, reason, scores)
    return Classification(best, reason, scores, _level(levels, "severity", SEVERITIES, "Moderate"),
                          _level(levels, "urgency", URGENCIES, "Expected"))  # fmt: skip


def _why(matched: dict[str, list[str]], kind: str, scores: dict[str, int]) -> str:
    phrases = ", ".join(matched[kind]) or "nothing matched"
    return f"{phrases} (scores: " + ", ".join(f"{k} {v}" for k, v in scores.items() if v) + ")"


def _level(levels: dict[str, int], prefix: str, order: tuple[str, ...], default: str) -> str:
    """The most pressing level whose phrases matched (CAP order: Extreme/Immediate first)."""
    for level in order:
        if levels.get(f"{prefix}:{level}", 0) > 0:
            return level
    return default
