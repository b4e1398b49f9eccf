"""Polling passes and the continuous worker, over ids and a session factory.

``poll_due`` claims the feeds that are due (a lease, committed first), refreshes them on a
bounded thread pool, and returns a summary. ``run_worker`` repeats that until told to stop,
sleeping until the next feed is due. A queue worker can call ``refresh_feed`` per id instead:
nothing here holds state between passes.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from directory.storage import utcnow
from feeds.http import HttpClient
from feeds.refresh import RefreshResult, SessionFactory, refresh_state
from feeds.store import claim_due_feeds, next_due_at, record_unchanged

log = logging.getLogger(__name__)
# How long a claimed feed is reserved for its poller: far longer than a batch can take, so only
# a poller that died leaves the lease to expire (see lease_for).
LEASE = timedelta(minutes=10)
BATCH_PER_THREAD = 4  # feeds claimed per pass step: a few per thread keeps leases short


def lease_for(client: HttpClient) -> timedelta:
    """A lease outlasting a batch: each thread fetches BATCH_PER_THREAD feeds, each at most
    twice (discovery) within the client's total deadline; doubled for safety."""
    worst = client.policy.total_timeout * 2 * BATCH_PER_THREAD * 2
    return max(LEASE, timedelta(seconds=worst))


@dataclass
class PollSummary:
    feeds: int = 0
    new_posts: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failing: list[int] = field(default_factory=list)  # feeds parked as failing in this pass
    results: list[RefreshResult] = field(default_factory=list)

    def line(self) -> str:
        parts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in
                          sorted(self.outcomes.items()))  # fmt: skip
        text = f"polled {self.feeds} feeds: {self.new_posts} new posts"
        if parts:
            text += f" ({parts})"
        if self.failing:
            text += f"; failing: feeds {', '.join(map(str, self.failing[:20]))}"
        return text


def poll_due(
    sessions: SessionFactory,
    client: HttpClient,
    *,
    concurrency: int = 8,
    now: datetime | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    keep_results: bool = False,
) -> PollSummary:
    """One pass over every feed due at ``now``, ``concurrency`` fetches at a time.

    Each refresh uses its own clock unless ``now`` is given (tests pin it).
    """
    summary = PollSummary()
    workers = max(1, concurrency)
    lease = lease_for(client)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while True:
            with sessions() as session:
                claimed = claim_due_feeds(session, now or utcnow(), workers * BATCH_PER_THREAD,
                                          lease)  # fmt: skip
            if not claimed:
                break
            unchanged = []
            for result in pool.map(
                lambda s: refresh_state(sessions, s, client, now, defer_not_modified=True), claimed
            ):
                if result.unchanged is not None:
                    unchanged.append(result.unchanged)
                summary.feeds += 1
                summary.outcomes[result.outcome] += 1
                summary.new_posts += len(result.new_posts)
                if result.status == "failing" and result.outcome == "error":
                    summary.failing.append(result.feed_id)
                if keep_results:
                    summary.results.append(result)
                if progress:
                    progress(summary.feeds, None)
            with sessions() as session:
                record_unchanged(session, unchanged)
                session.commit()
    return summary


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
            summary = poll_due(sessions, client, concurrency=concurrency)
            if summary.feeds and on_pass:
                on_pass(summary)
            with sessions() as session:
                due = next_due_at(session)
        except Exception:  # a database outage must not end the worker; retry shortly
            log.exception("polling pass failed")
            due = None
        wait = max_sleep
        if due is not None:
            wait = min(max_sleep, max(0.5, (due - utcnow()).total_seconds()))
        stop.wait(wait)
