"""The worker: poll the feeds that are due, publish what they bring, send what is queued.

What ``hyperlocal worker`` and ``hyperlocal serve`` run, over both halves of ``feeds``, as two
loops that never wait on each other: one polls (``feeds.ingest.poll``), police items becoming
bulletins in the transaction that stores them (``feeds.syndication.bulletins``), and expires old
bulletins; the other sends queued webhook events (``feeds.syndication.webhooks``). Each sleeps
until its next feed or event is due; the sender is woken when a pass may have queued events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from directory.storage import utcnow
from feeds.ingest.http import HttpClient
from feeds.ingest.poll import PollSummary, poll_due
from feeds.ingest.refresh import RefreshResult, SessionFactory, refresh_feed
from feeds.ingest.schedule import POLICE_INTERVAL
from feeds.ingest.store import next_due_at
from feeds.ingest.websub import maintain_leases
from feeds.syndication.bulletins import bulletins_from_posts, expire_bulletins
from feeds.syndication.outbox import OUTBOX_WAKE
from feeds.syndication.webhooks import next_message_due, send_due
from feeds.syndication.websub_hub import hub_pass, next_hub_due

log = logging.getLogger(__name__)


def poll_and_publish(sessions: SessionFactory, client: HttpClient, **options: Any) -> PollSummary:
    """One polling pass (``poll_due`` and its options) in which police items become bulletins."""
    return poll_due(sessions, client, on_new_posts=bulletins_from_posts, **options)


def refresh_and_publish(
    sessions: SessionFactory, feed_id: int, client: HttpClient
) -> RefreshResult:
    """Poll one feed now (an admin asked); its police items become bulletins as in a pass."""
    return refresh_feed(sessions, feed_id, client, on_new_posts=bulletins_from_posts)


def run_worker(
    sessions: SessionFactory,
    client: HttpClient,
    stop: threading.Event,
    *,
    concurrency: int = 8,
    send_concurrency: int = 8,
    max_sleep: float = 60.0,
    on_pass: Callable[[PollSummary], None] | None = None,
    police_interval: timedelta = POLICE_INTERVAL,
    public_url: str | None = None,
) -> None:
    """Poll feeds and send webhook events until ``stop`` is set, each in its own loop.

    Polling runs here and sending in a thread of its own, each with its own bounded
    concurrency, so a slow webhook endpoint never delays a police feed and a slow feed never
    delays a withdrawal. A pass that stored new posts wakes the sender at once (they may have
    queued events).
    """
    wake = OUTBOX_WAKE  # set by a commit that queued messages, and by the poll loop
    sender = threading.Thread(
        target=send_loop, args=(sessions, client, stop, wake),
        kwargs={"concurrency": send_concurrency, "max_sleep": max_sleep},
        name="webhook-sender", daemon=True,
    )  # fmt: skip
    sender.start()
    try:
        poll_loop(sessions, client, stop, wake, concurrency=concurrency, max_sleep=max_sleep,
                  on_pass=on_pass, police_interval=police_interval,
                  public_url=public_url)  # fmt: skip
    finally:
        stop.set()
        wake.set()
        sender.join(timeout=client.policy.total_timeout + 5)


def poll_loop(
    sessions: SessionFactory,
    client: HttpClient,
    stop: threading.Event,
    wake_sender: threading.Event,
    *,
    concurrency: int = 8,
    max_sleep: float = 60.0,
    on_pass: Callable[[PollSummary], None] | None = None,
    police_interval: timedelta = POLICE_INTERVAL,
    public_url: str | None = None,
) -> None:
    """Poll due feeds, expire old bulletins and keep WebSub leases on publishers' hubs until
    ``stop``; sleeps until the next feed is due (at most ``max_sleep``)."""
    while not stop.is_set():
        try:
            summary = poll_and_publish(sessions, client, concurrency=concurrency,
                                       police_interval=police_interval)  # fmt: skip
            if summary.new_posts:
                wake_sender.set()
            if summary.feeds and on_pass:
                on_pass(summary)
            with sessions() as session:
                if expire_bulletins(session):
                    wake_sender.set()  # withdrawals to send
                session.commit()
            maintain_leases(sessions, client, public_url)
            with sessions() as session:
                due = next_due_at(session)
        except Exception:  # a database outage must not end the worker; retry shortly
            log.exception("polling pass failed")
            due = None
        stop.wait(_sleep_until(due, max_sleep))


def send_loop(
    sessions: SessionFactory,
    client: HttpClient,
    stop: threading.Event,
    wake: threading.Event,
    *,
    concurrency: int = 8,
    max_sleep: float = 60.0,
) -> None:
    """Send queued webhook events until ``stop``; sleeps until the next one is due or until
    ``wake`` is set (something was queued)."""
    while not stop.is_set():
        wake.clear()
        try:
            sent = send_due(sessions, client, concurrency=concurrency)
            if sent.sent:
                log.info(sent.line())
            hub_pass(sessions, client)  # our WebSub hub: verify readers, push changed feeds
            with sessions() as session:
                due = min(filter(None, [next_message_due(session), next_hub_due(session)]),
                          default=None)  # fmt: skip
        except Exception:  # a database outage must not end the sender; retry shortly
            log.exception("sending pass failed")
            due = None
        wake.wait(_sleep_until(due, max_sleep))


def _sleep_until(due: datetime | None, max_sleep: float) -> float:
    if due is None:
        return max_sleep
    return min(max_sleep, max(0.5, (due - utcnow()).total_seconds()))
