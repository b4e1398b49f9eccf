"""WebSub, hub side: outlets' feed readers subscribe to our subscription feeds for pushes.

Every subscription feed advertises ``rel="hub"`` (``{base}/websub/hub``) beside its
``rel="self"``. A reader POSTs ``hub.mode=subscribe`` with the feed as ``hub.topic`` and its
``hub.callback`` (``hub_request``: 202, checked at once: our own feed, a callback we may call).
The sender's pass (``hub_pass``) then verifies the intent (a GET with a challenge the callback
must echo), and from then on, whenever the feed's version moves (a bulletin arrives, changes
or is withdrawn), POSTs the feed's new content to the callback, signed with the reader's
``hub.secret`` as ``X-Hub-Signature: sha256=…``, with ``Link`` headers naming the hub and the
topic. A lease ends unless renewed; a callback that keeps failing is dropped.

No Flask: the API's hub view calls ``hub_request`` with the request's own root address.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from directory.storage import utcnow
from directory.urls import UrlInvalid, normalise_url
from feeds.ingest.http import FetchError, HttpClient
from feeds.ingest.websub import hub_signature
from feeds.syndication.models import HubSubscription
from feeds.syndication.subscription_feeds import (
    FEED_CONTENT_TYPES,
    FeedLinks,
    subscription_feed_body,
    subscription_feed_version,
)
from feeds.syndication.subscriptions import SubscriptionNotFound, subscription_by_token

log = logging.getLogger(__name__)
SessionFactory = Callable[[], Session]

TOPIC_PATH = re.compile(r"^(?P<root>.*)/subscriptions/feeds/(?P<token>[A-Za-z0-9_-]{1,64})/"
                        r"(?P<fmt>rss|atom|json|cap)$")  # fmt: skip
LEASE_DEFAULT = timedelta(days=10)
LEASE_MIN = timedelta(hours=1)
LEASE_MAX = timedelta(days=30)
MAX_SECRET_BYTES = 199  # WebSub: "less than 200 bytes"
RETRY = (timedelta(seconds=30), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
         timedelta(hours=6))  # fmt: skip
GIVE_UP_AFTER = 8  # failed pushes in a row, about a day: the reader is gone


class HubRequestInvalid(ValueError):
    """A subscription request the hub refuses; the message says what to change."""


def hub_url(root: str) -> str:
    return f"{root.rstrip('/')}/websub/hub"


def feed_links(topic_url: str) -> FeedLinks:
    """The links a feed at ``topic_url`` carries (as its GET would render them)."""
    match = TOPIC_PATH.match(topic_url)
    assert match is not None, topic_url
    root = match["root"]
    return FeedLinks(self_url=topic_url, home_url=f"{root}/bulletins",
                     item_url=f"{root}/bulletins/{{id}}", hub_url=hub_url(root))  # fmt: skip


def hub_request(session: Session, form: Mapping[str, str], own_root: str,
                guard: HttpClient | None, now: datetime) -> HubSubscription:  # fmt: skip
    """Accept a subscribe or unsubscribe request for verification (no commit); raises
    HubRequestInvalid."""
    mode = form.get("hub.mode", "")
    if mode not in ("subscribe", "unsubscribe"):
        raise HubRequestInvalid("hub.mode must be subscribe or unsubscribe")
    topic = form.get("hub.topic", "")
    match = TOPIC_PATH.match(topic)
    if match is None or match["root"].rstrip("/") != own_root.rstrip("/"):
        raise HubRequestInvalid(
            "hub.topic must be one of this service's subscription feeds "
            f"({own_root.rstrip('/')}/subscriptions/feeds/<token>/<rss|atom|json|cap>)"
        )
    try:
        callback = normalise_url(form.get("hub.callback", ""))
    except UrlInvalid as exc:
        raise HubRequestInvalid(f"hub.callback: {exc}") from None
    if guard is not None and (refusal := guard.address_refusal(callback)):
        raise HubRequestInvalid(f"hub.callback cannot be called: {refusal}")
    secret = form.get("hub.secret") or None
    if secret is not None and len(secret.encode()) > MAX_SECRET_BYTES:
        raise HubRequestInvalid("hub.secret must be less than 200 bytes")
    lease = _lease_asked(form.get("hub.lease_seconds"))
    try:
        subscription = subscription_by_token(session, match["token"])
        subscription_feed_version(session, match["token"], match["fmt"])
    except SubscriptionNotFound:
        raise HubRequestInvalid("hub.topic: no subscription feed at this address") from None
    row = session.scalar(select(HubSubscription).where(
        HubSubscription.subscription_id == subscription.id,
        HubSubscription.fmt == match["fmt"], HubSubscription.callback_url == callback))  # fmt: skip
    if row is None:
        if mode == "unsubscribe":
            raise HubRequestInvalid("hub.callback is not subscribed to this topic")
        row = HubSubscription(subscription_id=subscription.id, fmt=match["fmt"],
                              callback_url=callback, state="pending", failures=0,
                              created_at=now)  # fmt: skip
        session.add(row)
    row.topic_url, row.mode, row.next_attempt_at = topic, mode, now
    if mode == "subscribe":
        row.secret, row.lease_seconds = secret, int(lease.total_seconds())
    session.flush()
    session.info["outbox_queued"] = True  # wake the sender: it verifies
    return row


def _lease_asked(value: str | None) -> timedelta:
    if not value:
        return LEASE_DEFAULT
    try:
        asked = timedelta(seconds=int(value))
    except (ValueError, OverflowError):
        raise HubRequestInvalid("hub.lease_seconds must be a whole number of seconds") from None
    return min(max(asked, LEASE_MIN), LEASE_MAX)


# ---------------------------------------------------------------------------- the pass


@dataclass
class HubSummary:
    verified: int = 0
    refused: int = 0
    pushed: int = 0
    failed: int = 0
    expired: int = 0


def hub_pass(sessions: SessionFactory, client: HttpClient,
             now: Callable[[], datetime] = utcnow) -> HubSummary:  # fmt: skip
    """Verify pending requests, end lapsed leases, and push every feed that changed."""
    summary = HubSummary()
    with sessions() as session:
        gone = session.execute(delete(HubSubscription).where(
            HubSubscription.state == "active", HubSubscription.expires_at <= now()))  # fmt: skip
        summary.expired = gone.rowcount or 0
        due = session.scalars(select(HubSubscription).where(
            or_(HubSubscription.next_attempt_at.is_(None),
                HubSubscription.next_attempt_at <= now()))
            .order_by(HubSubscription.id).limit(500)).all()  # fmt: skip
        session.commit()
        for row in due:
            if row.mode is not None:
                _verify(session, client, row, now(), summary)
            elif row.state == "active":
                _push_if_changed(session, client, row, now(), summary)
            session.commit()
    return summary


def _verify(session: Session, client: HttpClient, row: HubSubscription, now: datetime,
            summary: HubSummary) -> None:  # fmt: skip
    challenge = secrets.token_urlsafe(24)
    query = {"hub.mode": row.mode, "hub.topic": row.topic_url, "hub.challenge": challenge}
    if row.mode == "subscribe":
        query["hub.lease_seconds"] = str(row.lease_seconds)
    separator = "&" if "?" in row.callback_url else "?"
    try:
        response = client.get(row.callback_url + separator + urlencode(query))
        confirmed = 200 <= response.status < 300 and response.body.strip() == challenge.encode()
    except FetchError as exc:
        log.info("websub hub: %s not verified: %s", row.callback_url, exc)
        confirmed = False
    if not confirmed:
        summary.refused += 1
        if row.state == "pending" or row.mode == "unsubscribe":
            row.mode, row.next_attempt_at = None, None
            if row.state == "pending":
                session.delete(row)  # never subscribed: nothing to keep
        else:
            row.mode = None  # a renewal the reader did not confirm: the old lease stands
        return
    summary.verified += 1
    if row.mode == "unsubscribe":
        session.delete(row)
        return
    token = TOPIC_PATH.match(row.topic_url)["token"]  # type: ignore[index]
    row.pushed_version = subscription_feed_version(session, token, row.fmt).etag
    row.state, row.mode, row.next_attempt_at = "active", None, None
    row.expires_at = now + timedelta(seconds=row.lease_seconds)


def _push_if_changed(session: Session, client: HttpClient, row: HubSubscription, now: datetime,
                     summary: HubSummary) -> None:  # fmt: skip
    token = TOPIC_PATH.match(row.topic_url)["token"]  # type: ignore[index]
    try:
        version = subscription_feed_version(session, token, row.fmt)
    except SubscriptionNotFound:  # the site is no longer approved: the feed is not there
        session.delete(row)
        return
    if version.etag == row.pushed_version:
        return
    links = feed_links(row.topic_url)
    body = subscription_feed_body(session, version, row.fmt, links)
    headers = {
        "Content-Type": FEED_CONTENT_TYPES[row.fmt],
        "Link": f'<{links.hub_url}>; rel="hub", <{row.topic_url}>; rel="self"',
    }
    if row.secret:
        headers["X-Hub-Signature"] = hub_signature(row.secret, body)
    try:
        response = client.post(row.callback_url, body, headers)
        error = None if 200 <= response.status < 300 else f"answered {response.status}"
        row.last_status = response.status
    except FetchError as exc:
        error = f"{exc.kind}: {exc}"
    row.last_push_at = now
    if error is None:
        summary.pushed += 1
        row.pushed_version, row.failures, row.last_error, row.next_attempt_at = (
            version.etag, 0, None, None)  # fmt: skip
        return
    summary.failed += 1
    row.failures += 1
    row.last_error = error[:300]
    if row.failures >= GIVE_UP_AFTER:
        log.info("websub hub: dropping %s after %s failed pushes", row.callback_url, row.failures)
        session.delete(row)
        return
    row.next_attempt_at = now + RETRY[min(row.failures - 1, len(RETRY) - 1)]


def next_hub_due(session: Session) -> datetime | None:
    """When the hub next has something to do (None: only when woken)."""
    return session.scalar(select(func.min(HubSubscription.next_attempt_at)))
