"""The worker: poll the feeds that are due, publish what they bring, send what is queued.

The one loop ``hyperlocal worker`` and ``hyperlocal serve`` run, over both halves of ``feeds``:
ingestion polls (``feeds.ingest.poll``) and police items become bulletins in the transaction
that stores them (``feeds.syndication.bulletins``); then old bulletins expire and queued
webhook events are sent (``feeds.syndication.webhooks``). It sleeps until the next feed or
event is due.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from directory.storage import utcnow
from feeds.ingest.http import HttpClient
from feeds.ingest.poll import PollSummary, poll_due
from feeds.ingest.refresh import RefreshResult, SessionFactory, refresh_feed
from feeds.ingest.store import next_due_at
from feeds.syndication.bulletins import bulletins_from_posts, expire_bulletins
from feeds.syndication.webhooks import next_message_due, send_due

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
    max_sleep: float = 60.0,
    on_pass: Callable[[PollSummary], None] | None = None,
) -> None:
    """Poll due feeds until ``stop`` is set; sleeps until the next feed is due (<= max_sleep)."""
    while not stop.is_set():
        try:
            summary = poll_and_publish(sessions, client, concurrency=concurrency)
            if summary.feeds and on_pass:
                on_pass(summary)
            with sessions() as session:
                expire_bulletins(session)
                session.commit()
            sent = send_due(sessions, client, concurrency=concurrency)
            if sent.sent:
                log.info(sent.line())
            with sessions() as session:
                dues = [d for d in (next_due_at(session), next_message_due(session)) if d]
            due = min(dues) if dues else None
        except Exception:  # a database outage must not end the worker; retry shortly
            log.exception("polling pass failed")
            due = None
        wait = max_sleep
        if due is not None:
            wait = min(max_sleep, max(0.5, (due - utcnow()).total_seconds()))
        stop.wait(wait)
