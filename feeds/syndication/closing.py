"""What the public sees of a bulletin once it is closed: a short stub, never its details.

Pure. For ``CLOSING_SHOWN`` after a bulletin is resolved or cancelled (withdrawn), its
subscription feeds carry this stub in its place, under the same id, so feed readers replace
the appeal they kept ("Missing person appeal closed: found — thank you, please stop sharing");
``GET /bulletins/{id}`` answers 410 Gone with the same words. A missing person's stub names
no one and shows no photo, place or description.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

CLOSING_SHOWN = timedelta(hours=48)
CLOSED_STATUSES = ("resolved", "cancelled")
_APPEAL_NAMES = {"appeal": "Appeal", "missing": "Missing person appeal", "wanted": "Wanted appeal",
                 "warning": "Warning", "update": "Update"}  # fmt: skip
_OUTCOMES = {("missing", "resolved"): "found", ("wanted", "resolved"): "no longer wanted",
             ("warning", "resolved"): "over", ("appeal", "resolved"): "resolved"}  # fmt: skip


@dataclass(frozen=True)
class ClosingStub:
    """A closed bulletin as feeds show it: what ``feed_formats`` reads of a bulletin."""

    id: int
    kind: str
    status: str
    title: str
    body_html: str
    published_at: datetime
    updated_at: datetime
    force_id: str | None
    severity: str | None = None
    urgency: str | None = None
    expires_at: datetime | None = None
    link: None = None  # not the force's page: it may still carry the name and photo
    area: None = None
    located_by: str = "unlocated"
    location: None = None
    closing: bool = True


def closing_title(kind: str, status: str) -> str:
    """ "Missing person appeal closed: found — thank you, please stop sharing"."""
    outcome = "withdrawn" if status == "cancelled" else _OUTCOMES.get((kind, status), "closed")
    return (
        f"{_APPEAL_NAMES.get(kind, 'Bulletin')} closed: {outcome} — thank you, please stop sharing"
    )


def closing_stub(bulletin: Any) -> ClosingStub:
    """The stub of a resolved or cancelled bulletin: its kind and outcome only. Not its title
    either: a missing person's names them, a wanted appeal names a suspect."""
    title = closing_title(bulletin.kind, bulletin.status)
    body = f"<p>{escape(title)}.</p><p>Please remove or update anything you shared about it.</p>"
    closed = bulletin.resolved_at or bulletin.updated_at
    return ClosingStub(id=bulletin.id, kind=bulletin.kind, status=bulletin.status, title=title,
                       body_html=body, published_at=bulletin.published_at, updated_at=closed,
                       force_id=bulletin.force_id)  # fmt: skip


def forgotten_person(bulletin: Any) -> dict[str, Any]:
    """What a webhook event says of a closed missing-person appeal: only what was closed."""
    return {"id": bulletin.id, "kind": bulletin.kind, "status": bulletin.status,
            "force": bulletin.force_id, "title": closing_title(bulletin.kind, bulletin.status),
            "resolved_at": bulletin.resolved_at,
            "personal_details": "removed: the missing-person appeal is closed"}  # fmt: skip


def shows_closing(bulletin: Any, now: datetime) -> bool:
    """Whether feeds still carry the stub of this bulletin."""
    closed = bulletin.resolved_at
    return (
        bulletin.status in CLOSED_STATUSES and closed is not None and closed > now - CLOSING_SHOWN
    )
