"""Who owns a field of a team or an officer: data.police.uk, or the force through the API.

Pure. A re-import writes every field data.police.uk gives, except a field the force set
through the API that data.police.uk has not changed since: the force's correction survives
until data.police.uk itself says something new there. What data.police.uk said is kept as a
digest per field (``upstream``), what the force set as a list of field names (``edited``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def digest(value: Any) -> str:
    """A short fingerprint of a JSON-able value (key order and spacing do not count)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Merge:
    take: frozenset[str]  # the incoming fields the import writes
    upstream: dict[str, str]  # digests of what data.police.uk says now
    edited: list[str]  # fields that stay the force's


def merge(
    upstream: Mapping[str, str] | None, edited: Iterable[str] | None, incoming: Mapping[str, Any]
) -> Merge:
    """What an import of ``incoming`` (field -> data.police.uk's value) writes onto a record
    whose last import said ``upstream`` and whose ``edited`` fields the force set."""
    before = dict(upstream or {})
    mine = set(edited or ())
    now = {name: digest(value) for name, value in incoming.items()}
    keep = {name for name in mine if name in now and before.get(name) == now[name]}
    return Merge(frozenset(set(incoming) - keep), {**before, **now},
                 sorted(keep | (mine - set(incoming))))  # fmt: skip


def marked_edited(edited: Iterable[str] | None, fields: Iterable[str]) -> list[str]:
    """``edited`` with ``fields`` added (what a force's API change sets)."""
    return sorted(set(edited or ()) | set(fields))
