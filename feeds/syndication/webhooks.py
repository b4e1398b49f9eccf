"""Sending queued webhook events: Standard Webhooks signing, retries, and giving up.

Each ``webhook_messages`` row is one event for one endpoint, with a stable ``msg_id`` (the
``webhook-id`` header: receivers deduplicate on it, since delivery is at least once). A worker
claims due messages with one ``UPDATE ... RETURNING`` that moves ``next_attempt_at`` forward as
a lease (as feeds are claimed), POSTs each through ``feeds.ingest.http`` (the same address guard as
feed fetches; redirects are not followed) and records the attempt:

- 2xx: delivered; the endpoint is healthy again;
- 410 Gone: the receiver asked us to stop: the endpoint is disabled and its queue cancelled;
- anything else (a 3xx, 4xx, 5xx, a timeout, a refused address): retried after
  ``RETRY_SCHEDULE`` with jitter (about 27 hours in all); a message that runs out of retries
  fails, and an endpoint that has not accepted anything for ``DISABLE_AFTER`` is disabled.

The subscription says why it was disabled; an editor re-enables it and redelivers from the log.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from directory.storage import utcnow
from feeds.ingest.http import FetchError, HttpClient
from feeds.ingest.refresh import SessionFactory
from feeds.syndication.models import Subscription, WebhookAttempt, WebhookMessage
from feeds.syndication.outbox import cancel_pending
from feeds.syndication.subscriptions import signing_secrets

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd, ... failed attempt (the Standard Webhooks / Svix schedule).
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
JITTER = (0.8, 1.2)  # each wait is scaled by a factor drawn from this range
# An endpoint whose message ran out of retries is disabled if it has accepted nothing for this
# long. Shorter than the quickest the jittered schedule can run out (0.8 x 27.6 h = 22 h): at
# 24 h, about one message in fifty ran out early and left a dead endpoint enabled.
DISABLE_AFTER = timedelta(hours=20)
LEASE = timedelta(minutes=2)
BATCH = 64
MESSAGES = WebhookMessage.__table__


def next_attempt_at(attempts: int, now: datetime, jitter: float = 1.0) -> datetime | None:
    """When to try again after ``attempts`` failed attempts (None: give up). Pure."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + RETRY_SCHEDULE[attempts - 1] * jitter


def signature_headers(msg_id: str, body: str, secrets: list[str], at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one ``v1,`` signature per live secret (rotation)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets),
        "Content-Type": "application/json",
    }


@dataclass(frozen=True)
class Claimed:
    id: int
    msg_id: str
    subscription_id: int
    event: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class Attempt:
    message_id: int
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class SendSummary:
    sent: int = 0
    delivered: int = 0
    failed: int = 0  # attempts that did not succeed (retried or given up)
    disabled: list[int] = field(default_factory=list)

    def line(self) -> str:
        text = f"sent {self.sent} webhook events: {self.delivered} delivered, {self.failed} failed"
        if self.disabled:
            text += f"; endpoints disabled: subscriptions {', '.join(map(str, self.disabled))}"
        return text


def lease_for(client: HttpClient, concurrency: int) -> timedelta:
    """A lease no batch outlives: its rounds of sends, each within the client's deadline."""
    rounds = -(-BATCH // max(1, concurrency))
    return max(LEASE, timedelta(seconds=rounds * client.policy.total_timeout + 60))


def claim_due_messages(
    session: Session, now: datetime, limit: int = BATCH, lease: timedelta = LEASE
) -> list[Claimed]:
    """Pending messages due now, leased to the caller until ``now + lease`` (committed)."""
    chosen = (
        select(WebhookMessage.id)
        .where(WebhookMessage.status == "pending", WebhookMessage.next_attempt_at <= now)
        .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(MESSAGES)
        .where(
            MESSAGES.c.id.in_(chosen.scalar_subquery()),
            MESSAGES.c.next_attempt_at <= now,
            MESSAGES.c.status == "pending",
        )  # fmt: skip
        .values(next_attempt_at=now + lease)
        .returning(
            MESSAGES.c.id,
            MESSAGES.c.msg_id,
            MESSAGES.c.subscription_id,
            MESSAGES.c.event,
            MESSAGES.c.payload,
            MESSAGES.c.attempts,
        )  # fmt: skip
    ).all()
    session.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def take_claimed_messages(
    session: Session, ids: list[int], claimed_until: datetime, now: datetime, lease: timedelta
) -> list[Claimed]:
    """Take over messages that ``claim_due_messages`` leased until ``claimed_until`` (a queue
    task's token), leasing them anew until ``now + lease`` (committed). Only those still under
    that claim: a second delivery of the task, or one whose lease ran out and whose messages
    were claimed again, gets none of them."""
    rows = session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id.in_(ids), MESSAGES.c.status == "pending",
               MESSAGES.c.next_attempt_at == claimed_until)
        .values(next_attempt_at=now + lease)
        .returning(MESSAGES.c.id, MESSAGES.c.msg_id, MESSAGES.c.subscription_id,
                   MESSAGES.c.event, MESSAGES.c.payload, MESSAGES.c.attempts)
    ).all()  # fmt: skip
    session.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def send(client: HttpClient, claimed: Claimed, url: str, secrets: list[str],
         now: datetime) -> Attempt:  # fmt: skip
    """POST one message; never raises for the receiver's faults."""
    started = time.monotonic()
    headers = signature_headers(claimed.msg_id, claimed.payload, secrets, now)
    try:
        response = client.post(url, claimed.payload.encode(), headers)
    except FetchError as exc:
        return Attempt(claimed.id, None, f"{exc.kind}: {exc}"[:500], _ms(started))
    error = None
    if 300 <= response.status < 400:
        error = f"redirects are not followed ({response.status} to " \
                f"{response.headers.get('location', '?')[:200]})"  # fmt: skip
    elif not 200 <= response.status < 300:
        error = f"the endpoint answered {response.status}"
    return Attempt(claimed.id, response.status, error, _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def record_attempt(
    session: Session, claimed: Claimed, attempt: Attempt, now: datetime, jitter: float = 1.0
) -> str | None:
    """Write the attempt and its consequences (no commit). Returns "disabled" when the
    endpoint was disabled by it."""
    session.execute(
        insert(WebhookAttempt.__table__).values(
            message_id=claimed.id, at=now, http_status=attempt.status,
            error=attempt.error, duration_ms=attempt.duration_ms,
        )
    )  # fmt: skip
    attempts = claimed.attempts + 1
    subscription = session.get(Subscription, claimed.subscription_id)
    if attempt.ok:
        session.execute(
            update(MESSAGES).where(MESSAGES.c.id == claimed.id).values(
                status="delivered", attempts=attempts, next_attempt_at=None,
                last_status=attempt.status, last_error=None, delivered_at=now,
            )
        )  # fmt: skip
        if subscription is not None and subscription.webhook_failing_since is not None:
            subscription.webhook_failing_since = None
        return None
    retry_at = None if attempt.status == 410 else next_attempt_at(attempts, now, jitter)
    session.execute(
        update(MESSAGES).where(MESSAGES.c.id == claimed.id).values(
            status="pending" if retry_at else "failed", attempts=attempts,
            next_attempt_at=retry_at, last_status=attempt.status, last_error=attempt.error,
        )
    )  # fmt: skip
    if subscription is None or subscription.webhook_state != "active":
        return None
    if subscription.webhook_failing_since is None:
        subscription.webhook_failing_since = now
    reason = None
    if attempt.status == 410:
        reason = f"the endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC"
    elif retry_at is None and now - subscription.webhook_failing_since >= DISABLE_AFTER:
        reason = (
            f"no event accepted since {subscription.webhook_failing_since:%Y-%m-%d %H:%M} UTC; "
            f"last: {attempt.error}"
        )[:300]
    if reason is None:
        return None
    subscription.webhook_state = "disabled"
    subscription.webhook_disabled_reason = reason
    if subscription.paused_at is None:  # from the first event it did not receive
        subscription.paused_at = min(
            subscription.webhook_failing_since,
            session.scalar(select(func.min(WebhookMessage.created_at)).where(
                WebhookMessage.subscription_id == subscription.id,
                WebhookMessage.status.in_(("pending", "failed")),
                WebhookMessage.created_at >= subscription.webhook_failing_since - DISABLE_AFTER,
            )) or now,
        )  # fmt: skip
    subscription.updated_at = now
    cancel_pending(session, now, subscription_id=subscription.id)
    log.warning("subscription %s: webhook disabled: %s", subscription.id, reason)
    return "disabled"


def active_endpoints(
    session: Session, ids: set[int], now: datetime
) -> dict[int, tuple[str, list[str]]]:
    """(url, signing secrets) of the subscriptions whose webhook may be called now."""
    rows = session.execute(
        select(Subscription.id, Subscription.webhook_url, Subscription.webhook_secrets,
               Subscription.channels).where(
            Subscription.id.in_(ids),
            Subscription.webhook_state == "active",
            Subscription.active.is_(True),
            Subscription.webhook_url.is_not(None),
        )
    )  # fmt: skip
    return {
        i: (url, signing_secrets(secrets, now))
        for i, url, secrets, channels in rows
        if "webhook" in channels
    }


def send_due(
    sessions: SessionFactory,
    client: HttpClient,
    *,
    concurrency: int = 8,
    now: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
    max_batches: int | None = None,
) -> SendSummary:
    """Send every message due now (or ``max_batches`` batches of them), ``concurrency`` at a
    time; the pass's summary."""
    summary = SendSummary()
    rng = rng or random.Random()
    batches = 0
    lease = lease_for(client, concurrency)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        while max_batches is None or batches < max_batches:
            batches += 1
            with sessions() as session:
                claimed = claim_due_messages(session, now(), lease=lease)
                endpoints = active_endpoints(session, {c.subscription_id for c in claimed}, now())
            if not claimed:
                break
            send_claimed(sessions, client, pool, claimed, endpoints, summary, now, rng)
    return summary


def send_claimed(
    sessions: SessionFactory,
    client: HttpClient,
    pool: ThreadPoolExecutor,
    claimed: list[Claimed],
    endpoints: dict[int, tuple[str, list[str]]],
    summary: SendSummary,
    now: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
) -> None:
    """Send messages leased to the caller (``claimed``) on ``pool`` and record each attempt;
    a message whose endpoint is not in ``endpoints`` (disabled or removed meanwhile) is
    cancelled. Adds to ``summary``."""
    rng = rng or random.Random()
    sendable = [c for c in claimed if c.subscription_id in endpoints]
    skipped = [c for c in claimed if c.subscription_id not in endpoints]
    targets = [endpoints[c.subscription_id] for c in sendable]
    attempts = list(pool.map(
        lambda c, target: send(client, c, target[0], target[1], now()), sendable, targets
    ))  # fmt: skip
    with sessions() as session:
        for message in skipped:  # the endpoint was disabled or removed meanwhile
            session.execute(update(MESSAGES).where(MESSAGES.c.id == message.id)
                            .values(status="cancelled", next_attempt_at=None))  # fmt: skip
        live = set(session.scalars(select(WebhookMessage.id).where(
            WebhookMessage.id.in_([m.id for m in sendable]))))  # fmt: skip
        for message, attempt in zip(sendable, attempts, strict=True):
            summary.sent += 1
            if attempt.ok:
                summary.delivered += 1
            else:
                summary.failed += 1
            if message.id not in live:
                continue  # its subscription was deleted during the send
            try:
                with session.begin_nested():
                    outcome = record_attempt(session, message, attempt, now(),
                                             rng.uniform(*JITTER))  # fmt: skip
            except IntegrityError:  # deleted between that check and this write
                continue
            if outcome == "disabled":
                summary.disabled.append(message.subscription_id)
        session.commit()


def next_message_due(session: Session) -> datetime | None:
    return session.scalar(
        select(func.min(WebhookMessage.next_attempt_at)).where(WebhookMessage.status == "pending")
    )
