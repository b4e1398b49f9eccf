"""The webhook outbox: events queued for subscriptions' endpoints in the publishing transaction.

A payload is fixed when the event happens, so every retry and redelivery sends the same bytes
under the same ``webhook-id``; ``feeds.syndication.webhooks`` sends them.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from feeds.syndication.models import Subscription, WebhookMessage

log = logging.getLogger(__name__)


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def event_payload(event: str, data: dict[str, Any], now: datetime) -> str:
    """The JSON body of a webhook event, as signed and sent (Standard Webhooks shape)."""
    return json.dumps(
        {"type": event, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
        default=_json_default,
    )


def redact_messages(session: Session, bulletin_id: int, data: dict[str, Any]) -> int:
    """Rewrite the stored payloads of every message about a bulletin with ``data`` in place of
    what they carried (a closed missing-person appeal's name, photo and description); their
    ids, times and outcomes stay. How many; no commit."""
    messages = WebhookMessage.__table__
    rows = session.execute(
        select(messages.c.id, messages.c.payload).where(messages.c.bulletin_id == bulletin_id)
    ).all()
    for ident, payload in rows:
        sent = json.loads(payload)
        body = {"type": sent.get("type"), "timestamp": sent.get("timestamp"), "data": data}
        session.execute(update(messages).where(messages.c.id == ident).values(
            payload=json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                               default=_json_default)))  # fmt: skip
    return len(rows)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot encode {type(value).__name__}")


# Set when a transaction that queued webhook messages commits: a sender in this process
# (``feeds.worker.send_loop``) waits on it, so a new message goes out in seconds, not at its
# next pass. Another process's sender still finds the message at its next pass.
OUTBOX_WAKE = threading.Event()
# Called, too, after such a commit: a queue deployment puts a send dispatch on its queue here
# (``api.tasks``), so new bulletins go out at once from whichever process published them.
ON_QUEUED: list[Callable[[], None]] = []


@event.listens_for(Session, "after_commit")
def _wake_senders(session: Session) -> None:
    if session.info.pop("outbox_queued", False):
        OUTBOX_WAKE.set()
        for listener in ON_QUEUED:
            try:
                listener()
            except Exception:  # the broker is down: the next periodic dispatch sends them
                log.exception("could not announce queued webhook messages")


@event.listens_for(Session, "after_rollback")
def _nothing_queued(session: Session) -> None:
    session.info.pop("outbox_queued", None)


def enqueue_events(
    session: Session,
    subscription_ids: Sequence[int],
    event: str,
    data: dict[str, Any],
    bulletin_id: int | None,
    now: datetime,
    first_attempt_at: datetime | None = None,
) -> list[int]:
    """Queue ``event`` for those of the subscriptions with an enabled webhook; the message
    ids (the rows', not the ``webhook-id``s)."""
    if not subscription_ids:
        return []
    rows = session.execute(
        select(Subscription.id, Subscription.channels).where(
            Subscription.id.in_(list(subscription_ids)),
            Subscription.webhook_state == "active",
            Subscription.active.is_(True),
        )
    )
    targets = sorted(i for i, channels in rows if "webhook" in channels)
    if not targets:
        return []
    payload = event_payload(event, data, now)
    session.info["outbox_queued"] = True
    messages = WebhookMessage.__table__
    inserted = session.execute(
        messages.insert().returning(messages.c.id, sort_by_parameter_order=True),
        [
            {
                "msg_id": new_message_id(),
                "subscription_id": target,
                "bulletin_id": bulletin_id,
                "event": event,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": first_attempt_at or now,
                "created_at": now,
            }
            for target in targets
        ],
    )
    return list(inserted.scalars())


def never_sent(session: Session, bulletin_id: int) -> set[int]:
    """The subscriptions every message of which about the bulletin is still unsent (queued or
    cancelled, never attempted): an outlet that never heard of it needs no withdrawal."""
    rows = session.execute(
        select(WebhookMessage.subscription_id, WebhookMessage.status, WebhookMessage.attempts)
        .where(WebhookMessage.bulletin_id == bulletin_id)
    ).all()  # fmt: skip
    tried = {s for s, status, attempts in rows if attempts > 0 or status == "delivered"}
    return {s for s, _status, _attempts in rows} - tried


def cancel_pending(
    session: Session,
    now: datetime,
    *,
    subscription_id: int | None = None,
    bulletin_id: int | None = None,
) -> None:
    """Stop queued messages: a disabled endpoint's (they stay in the log, redeliverable), or
    a withdrawn bulletin's (its withdrawal must be the last word)."""
    query = update(WebhookMessage).where(WebhookMessage.status == "pending")
    if subscription_id is not None:
        query = query.where(WebhookMessage.subscription_id == subscription_id)
    if bulletin_id is not None:
        query = query.where(WebhookMessage.bulletin_id == bulletin_id)
    session.execute(query.values(status="cancelled", next_attempt_at=None))
