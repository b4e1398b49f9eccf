"""WebSub, subscriber side: publishers that offer a hub push their feed to us (W3C WebSub).

A fetch that sees a hub (``Link: <…>; rel="hub"`` or the feed's own ``rel="hub"`` link)
notes a lease as ``wanted`` (``note_hub``); the worker's pass (``maintain_leases``) asks the
hub to subscribe our callback (``{PUBLIC_URL}/websub/callback/{token}``) to the topic with a
secret and a lease, and renews it before it ends. The hub confirms with a GET carrying a
challenge (``verify_intent``), then POSTs the feed whenever it changes (``accept_push``): the
body is stored through the same path as a poll (the same dedupe, the same bulletins) only if
its ``X-Hub-Signature`` is the HMAC of the body under our secret. Polling goes on as the
fallback, at ``schedule.PUSHED_CEILING`` while the lease holds.

No Flask here: the API's callback view calls ``verify_intent`` and ``accept_push``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from directory.storage import utcnow
from feeds.ingest.http import FetchError, HttpClient
from feeds.ingest.models import Feed, WebSubLease
from feeds.ingest.parse import FeedInvalid, parse_feed
from feeds.ingest.store import store_items

log = logging.getLogger(__name__)
SessionFactory = Callable[[], Session]
LEASES = WebSubLease.__table__

LEASE_ASKED = timedelta(days=10)  # what we ask for; the hub decides
RENEW_BEFORE = 0.1  # of the lease: renewed when this much of it is left (at least a minute)
VERIFY_WAIT = timedelta(minutes=15)  # asked and never verified: ask again after this
RETRY = (timedelta(minutes=5), timedelta(hours=1), timedelta(hours=6), timedelta(days=1))
DENIED_RETRY = timedelta(days=1)
MAX_PUSH_BYTES = 5 * 1024 * 1024
SIGNATURES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
              "sha512": hashlib.sha512}  # fmt: skip


class LeaseNotFound(LookupError):
    """No lease has this callback (a stale or guessed address)."""


def hub_signature(secret: str, body: bytes, method: str = "sha256") -> str:
    """The ``X-Hub-Signature`` value of ``body``: "sha256=<hex HMAC>" (WebSub section 8)."""
    return f"{method}={hmac.new(secret.encode(), body, SIGNATURES[method]).hexdigest()}"


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    method, _, _digest = (header or "").partition("=")
    if method.lower() not in SIGNATURES:
        return False
    return hmac.compare_digest(hub_signature(secret, body, method.lower()), (header or "").lower())


def callback_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/websub/callback/{token}"


# ---------------------------------------------------------------------------- discovery


def note_hub(session: Session, feed_id: int, hub: str | None, topic: str, now: datetime) -> None:
    """Remember that the feed advertises ``hub`` for ``topic`` (no commit). A new hub or topic
    starts the lease again; the same one leaves it as it is."""
    if hub is None:
        return
    lease = session.scalar(select(WebSubLease).where(WebSubLease.feed_id == feed_id))
    if lease is not None and (lease.hub_url, lease.topic_url) == (hub, topic):
        return
    if lease is None:
        lease = WebSubLease(feed_id=feed_id, callback_token=secrets.token_urlsafe(24),
                            pushes=0, created_at=now)  # fmt: skip
        session.add(lease)
    lease.hub_url, lease.topic_url = hub[:2000], topic[:2000]
    lease.secret = secrets.token_urlsafe(32)
    lease.state, lease.attempts, lease.next_attempt_at = "wanted", 0, now
    lease.expires_at = lease.lease_seconds = None
    session.execute(update(Feed.__table__).where(Feed.id == feed_id).values(pushed_until=None))


# ---------------------------------------------------------------------------- subscribing


@dataclass
class LeaseSummary:
    requested: int = 0
    failed: int = 0


def maintain_leases(sessions: SessionFactory, client: HttpClient, public_url: str | None,
                    now: Callable[[], datetime] = utcnow) -> LeaseSummary:  # fmt: skip
    """Ask the hubs of the leases due (new, ending soon, unverified or failed) to subscribe
    us. Without a public address no hub could call us back: nothing is asked."""
    summary = LeaseSummary()
    if not public_url:
        return summary
    with sessions() as session:
        due = session.execute(
            select(WebSubLease.id, WebSubLease.hub_url, WebSubLease.topic_url,
                   WebSubLease.callback_token, WebSubLease.secret, WebSubLease.attempts)
            .where(WebSubLease.next_attempt_at <= now())
            .order_by(WebSubLease.next_attempt_at).limit(100)
        ).all()  # fmt: skip
        # Marked before asking: a hub may verify before it even answers the request.
        # An active lease being renewed stays active until the hub confirms the renewal.
        session.execute(update(LEASES).where(LEASES.c.id.in_([row.id for row in due])).values(
            state=case((LEASES.c.state == "active", "active"), else_="requested"),
            requested_at=now(), next_attempt_at=now() + VERIFY_WAIT,
        ))  # fmt: skip
        session.commit()
    for row in due:
        form = {"hub.mode": "subscribe", "hub.topic": row.topic_url,
                "hub.callback": callback_url(public_url, row.callback_token),
                "hub.secret": row.secret,
                "hub.lease_seconds": str(int(LEASE_ASKED.total_seconds()))}  # fmt: skip
        error = _ask(client, row.hub_url, form)
        if error is None:
            summary.requested += 1
            continue
        summary.failed += 1
        wait = RETRY[min(row.attempts, len(RETRY) - 1)]
        with sessions() as session:
            session.execute(update(LEASES).where(LEASES.c.id == row.id).values(
                attempts=row.attempts + 1, last_error=error[:300],
                next_attempt_at=now() + wait,
            ))  # fmt: skip
            session.execute(
                update(LEASES)
                .where(LEASES.c.id == row.id, LEASES.c.state == "requested")
                .values(state="failed")
            )
            session.commit()
        log.info("websub: hub %s refused feed %s: %s", row.hub_url, row.topic_url, error)
    return summary


def _ask(client: HttpClient, hub: str, form: Mapping[str, str]) -> str | None:
    """POST a subscription request; None when the hub accepted it (202, or any 2xx)."""
    try:
        response = client.post(hub, urlencode(form).encode(),
                               {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    except FetchError as exc:
        return f"{exc.kind}: {exc}"
    if 200 <= response.status < 300:
        return None
    said = response.body[:200].decode("utf-8", "replace").strip()
    return f"the hub answered {response.status}" + (f": {said}" if said else "")


# ---------------------------------------------------------------------------- the callback


class IntentRefused(ValueError):
    """The hub asked about something we did not ask for (answered 404, as WebSub says)."""


def verify_intent(session: Session, token: str, params: Mapping[str, str],
                  now: datetime) -> str:  # fmt: skip
    """The hub's GET to the callback: the challenge to echo when we asked for this (no
    commit); raises LeaseNotFound or IntentRefused otherwise. ``hub.mode=denied`` records
    the refusal and answers empty."""
    lease = _lease(session, token)
    mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
    if mode == "denied":
        lease.state, lease.next_attempt_at = "denied", now + DENIED_RETRY
        lease.last_error = f"denied by the hub: {params.get('hub.reason', 'no reason given')}"[:300]
        return ""
    if topic != lease.topic_url:
        raise IntentRefused(f"not subscribed to {topic[:200]!r} here")
    if mode != "subscribe" or lease.state not in ("requested", "active", "failed"):
        raise IntentRefused(f"no {mode or 'mode'} was asked for at this callback")
    challenge = params.get("hub.challenge", "")
    if not challenge:
        raise IntentRefused("hub.challenge is missing")
    try:
        seconds = max(60, int(params.get("hub.lease_seconds") or LEASE_ASKED.total_seconds()))
    except ValueError:
        raise IntentRefused("hub.lease_seconds is not a number") from None
    lease_time = timedelta(seconds=seconds)
    lease.state, lease.lease_seconds, lease.verified_at = "active", seconds, now
    lease.expires_at, lease.attempts, lease.last_error = now + lease_time, 0, None
    lease.next_attempt_at = now + lease_time - max(lease_time * RENEW_BEFORE, timedelta(minutes=1))
    session.execute(update(Feed.__table__).where(Feed.id == lease.feed_id)
                    .values(pushed_until=lease.expires_at))  # fmt: skip
    return challenge


@dataclass(frozen=True)
class PushOutcome:
    stored: bool
    new_posts: int = 0
    reason: str | None = None  # why it was ignored


def accept_push(
    sessions: SessionFactory,
    token: str,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    on_new_posts: Callable[..., object] | None = None,
) -> PushOutcome:
    """Content the hub pushed: stored like a poll's when the signature holds (committed).
    Raises LeaseNotFound for an unknown callback; anything else is acknowledged and, when
    not valid, ignored with the reason recorded on the lease (WebSub section 8)."""
    with sessions() as session:
        lease = _lease(session, token)
        feed = session.get(Feed, lease.feed_id)
        reason = None
        if lease.state != "active" or feed is None or feed.status == "retired":
            reason = "no active subscription at this callback"
        elif len(body) > MAX_PUSH_BYTES:
            reason = f"the pushed content is over {MAX_PUSH_BYTES // 1024 // 1024} MB"
        elif not signature_valid(lease.secret, body, headers.get("x-hub-signature")):
            reason = "X-Hub-Signature is missing or does not match the body"
        if reason is None:
            assert feed is not None
            try:
                parsed = parse_feed(body, headers, now, base_url=feed.url)
            except FeedInvalid as exc:
                reason = f"the pushed content is not a feed: {exc}"
        if reason is not None:
            lease.last_error = f"push ignored at {now:%Y-%m-%d %H:%M} UTC: {reason}"[:300]
            session.commit()
            return PushOutcome(False, reason=reason)
        assert feed is not None
        stored = store_items(session, feed.id, parsed.items, now)
        if on_new_posts is not None:  # the same hook as a poll: police items become bulletins
            on_new_posts(session, feed.owner, stored.posts, now, edited=stored.edited)
        lease.pushes += 1
        lease.last_push_at = now
        feed.item_count += len(stored.posts)
        session.commit()
        return PushOutcome(True, new_posts=len(stored.posts))


def _lease(session: Session, token: str) -> WebSubLease:
    lease = session.scalar(select(WebSubLease).where(WebSubLease.callback_token == token))
    if lease is None:
        raise LeaseNotFound("no WebSub subscription has this callback address")
    return lease
