"""An editor's view of their webhook: the delivery log, a redelivery, a test event sent now.

Everything here goes through the same outbox and the same sender as the worker's deliveries, so
what an editor tries is what the worker does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.storage import utcnow
from feeds.ingest.http import HttpClient
from feeds.ingest.refresh import SessionFactory
from feeds.syndication.models import Bulletin, Subscription, WebhookAttempt, WebhookMessage
from feeds.syndication.outbox import enqueue_events
from feeds.syndication.webhooks import (
    JITTER,
    Attempt,
    Claimed,
    active_endpoints,
    lease_for,
    record_attempt,
    send,
)


class MessageNotFound(LookupError):
    """No such message in this subscription's log."""


def get_message(session: Session, subscription_id: int, msg_id: str) -> WebhookMessage:
    message = session.scalar(select(WebhookMessage).where(WebhookMessage.msg_id == msg_id))
    if message is None or message.subscription_id != subscription_id:
        raise MessageNotFound(f"subscription {subscription_id} has no message {msg_id}")
    return message


def delivery_log(
    session: Session, subscription_id: int, page: int, per_page: int
) -> tuple[list[WebhookMessage], dict[int, list[WebhookAttempt]], int]:
    """A subscription's messages, newest first, with their attempts; and the total."""
    total = (
        session.scalar(
            select(func.count()).where(WebhookMessage.subscription_id == subscription_id)
        )
        or 0
    )
    messages = list(session.scalars(
        select(WebhookMessage).where(WebhookMessage.subscription_id == subscription_id)
        .order_by(WebhookMessage.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ))  # fmt: skip
    attempts: dict[int, list[WebhookAttempt]] = {m.id: [] for m in messages}
    if messages:
        for attempt in session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.message_id.in_(list(attempts)))
            .order_by(WebhookAttempt.id)
        ):  # fmt: skip
            attempts[attempt.message_id].append(attempt)
    return messages, attempts, total


def send_now(
    sessions: SessionFactory, client: HttpClient, message_id: int, now: datetime | None = None
) -> Attempt | None:
    """Send one message at once (a test event, a redelivery asked for in the API) and record
    it; None if its endpoint is not active."""
    now = now or utcnow()
    with sessions() as session:
        row = session.get(WebhookMessage, message_id)
        if row is None:
            return None
        claimed = Claimed(row.id, row.msg_id, row.subscription_id, row.event, row.payload,
                          row.attempts)  # fmt: skip
        endpoint = active_endpoints(session, {row.subscription_id}, now).get(row.subscription_id)
    if endpoint is None:
        return None
    attempt = send(client, claimed, endpoint[0], endpoint[1], now)
    with sessions() as session:
        record_attempt(session, claimed, attempt, now, random.uniform(*JITTER))
        session.commit()
    return attempt


class RedeliveryRefused(ValueError):
    """The message must not be sent again (it would bring back a withdrawn bulletin)."""


def redeliver(session: Session, message: WebhookMessage, now: datetime | None = None) -> None:
    """Queue a logged message again, same id and bytes, with a fresh set of retries.

    A ``published`` or ``updated`` event of a bulletin that has been withdrawn is refused:
    sending it again would put the withdrawn notice back up.
    """
    if message.event in ("bulletin.published", "bulletin.updated") and message.bulletin_id:
        status = session.scalar(select(Bulletin.status).where(Bulletin.id == message.bulletin_id))
        if status is not None and status != "active":
            raise RedeliveryRefused(
                f"bulletin {message.bulletin_id} is {status}: its earlier events are not sent "
                "again (its withdrawal or update is in the log)"
            )
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = now or utcnow()


class WebhookUnavailable(ValueError):
    """The subscription has no webhook that can be called now; the message says why."""


@dataclass(frozen=True)
class TestSent:
    message: WebhookMessage
    attempts: list[WebhookAttempt]
    delivered: bool


def send_test_event(
    session: Session, sessions: SessionFactory, client: HttpClient, subscription: Subscription
) -> TestSent:
    """Queue a signed ``test`` event for the subscription's webhook, send it at once, and
    return it with its attempt (commits: the event is in the log like any other, and a
    failed test is retried as events are)."""
    if subscription.webhook_state != "active":
        reason = (
            "disabled: " + (subscription.webhook_disabled_reason or "")
            if subscription.webhook_state == "disabled"
            else "not set: add a webhook_url"
        )
        raise WebhookUnavailable("the webhook is " + reason)
    data = {"subscription_id": subscription.id, "message": "a test event from hyperlocal"}
    now = utcnow()
    # Queued already leased, so that a running worker does not send it as well.
    ids = enqueue_events(session, [subscription.id], "test", data, None, now,
                         first_attempt_at=now + lease_for(client, 1))  # fmt: skip
    if not ids:
        raise WebhookUnavailable("the subscription's channels do not include webhook")
    session.commit()
    attempt = send_now(sessions, client, ids[0], now)
    session.expire_all()
    message = session.get(WebhookMessage, ids[0])
    assert message is not None  # committed above
    attempts = list(session.scalars(
        select(WebhookAttempt).where(WebhookAttempt.message_id == ids[0])
        .order_by(WebhookAttempt.id)
    ))  # fmt: skip
    return TestSent(message, attempts, bool(attempt and attempt.ok))
