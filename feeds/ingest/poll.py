"""A polling pass over ids and a session factory.

``poll_due`` claims the feeds that are due (a lease, committed first), refreshes them on a
bounded thread pool, and returns a summary. ``feeds.worker.run_worker`` repeats it (and sends
what syndication queued) until told to stop; ``feeds.worker.poll_and_publish`` is this pass
with bulletins made from police items. A queue worker can call
``feeds.worker.refresh_and_publish`` per id instead: nothing here holds state between passes.

Politeness is per registrable domain, not per host: many forces' feeds are on one host
(police.uk), many hyperlocals on one blogging platform's subdomains. At most
``PER_DOMAIN`` fetches to one domain are in flight at a time, whatever the concurrency; the
others wait in the pass's queue while feeds of other domains go ahead.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from directory.storage import utcnow
from directory.urls import registrable_domain
from feeds.ingest import schedule
from feeds.ingest.http import HttpClient
from feeds.ingest.refresh import NewPostsHook, RefreshResult, SessionFactory, refresh_state
from feeds.ingest.store import (
    FeedState,
    Unchanged,
    claim_due_feeds,
    pull_in_police_feeds,
    record_unchanged,
)

# How long a claimed feed is reserved for its poller: far longer than a batch can take, so only
# a poller that died leaves the lease to expire (see lease_for).
LEASE = timedelta(minutes=10)
UNCHANGED_FLUSH = 200
FLUSH_SECONDS = 30.0  # or sooner: 304s wait no longer than this to be recorded
BATCH_PER_THREAD = 4  # claimed at a time, per thread: leases stay short
PER_DOMAIN = 2  # fetches in flight to one registrable domain


class DomainBudget:
    """How many fetches are in flight to each registrable domain (thread-safe)."""

    def __init__(self, per_domain: int = PER_DOMAIN) -> None:
        self.per_domain = max(1, per_domain)
        self._busy: Counter[str] = Counter()
        self._lock = threading.Lock()

    @staticmethod
    def domain(state: FeedState) -> str:
        return registrable_domain(state.url) or state.url

    def take(self, domain: str) -> bool:
        with self._lock:
            if self._busy[domain] >= self.per_domain:
                return False
            self._busy[domain] += 1
            return True

    def give_back(self, domain: str) -> None:
        with self._lock:
            self._busy[domain] -= 1


def lease_for(client: HttpClient) -> timedelta:
    """A lease outlasting a claimed feed's wait in the queue: at most 2 x concurrency feeds
    are queued, plus one claim, each fetched at most twice (discovery) within the client's
    total deadline, by concurrency threads; doubled for safety."""
    worst = client.policy.total_timeout * 2 * (2 + BATCH_PER_THREAD) * 2
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
    on_new_posts: NewPostsHook | None = None,
    police_interval: timedelta = schedule.POLICE_INTERVAL,
    per_domain: int = PER_DOMAIN,
) -> PollSummary:
    """One pass over every feed due at ``now``, ``concurrency`` fetches at a time.

    A pipeline, not rounds: feeds are claimed a few at a time whenever fewer than
    ``2 x concurrency`` are queued, so no thread waits for a round's slowest feed and every
    lease stays short. 304s are recorded in bulk every ``UNCHANGED_FLUSH`` answers or
    ``FLUSH_SECONDS``; until then those feeds stay leased, so a poller that dies only causes
    one more conditional GET.
    Each refresh uses its own clock unless ``now`` is given (tests pin it). ``on_new_posts``
    runs in each feed's storing transaction (see ``refresh_feed``). Police feeds are checked at
    least every ``police_interval``; at most ``per_domain`` fetches go to one domain at once.
    """
    summary = PollSummary()
    workers = max(1, concurrency)
    lease = lease_for(client)
    unchanged: list[Unchanged] = []
    pending: set[Future[RefreshResult]] = set()
    queued: deque[FeedState] = deque()  # claimed, waiting for their domain's budget
    budget = DomainBudget(per_domain)
    domains: dict[Future[RefreshResult], str] = {}
    exhausted = False
    flushed = time.monotonic()
    with sessions() as session:
        pull_in_police_feeds(session, now or utcnow(), police_interval)
        session.commit()

    def refresh(state: FeedState) -> RefreshResult:
        return refresh_state(
            sessions, state, client, now, defer_not_modified=True, on_new_posts=on_new_posts,
            police_interval=police_interval,
        )  # fmt: skip

    def submit_what_fits(pool: ThreadPoolExecutor) -> None:
        for _ in range(len(queued)):
            state = queued.popleft()
            domain = budget.domain(state)
            if len(pending) < 2 * workers and budget.take(domain):
                future = pool.submit(refresh, state)
                pending.add(future)
                domains[future] = domain
            else:
                queued.append(state)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        while True:
            if not exhausted and len(pending) + len(queued) < 2 * workers:
                with sessions() as session:
                    claimed = claim_due_feeds(session, now or utcnow(),
                                              workers * BATCH_PER_THREAD, lease)  # fmt: skip
                exhausted = not claimed
                queued.extend(claimed)
            submit_what_fits(pool)
            if not pending:  # nothing in flight: every domain had budget, so nothing waits
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                budget.give_back(domains.pop(future))
                result = future.result()
                _count(summary, result, keep_results)
                if result.unchanged is not None:
                    unchanged.append(result.unchanged)
                if progress:
                    progress(summary.feeds, None)
            if unchanged and (len(unchanged) >= UNCHANGED_FLUSH or not pending
                              or time.monotonic() - flushed > FLUSH_SECONDS):  # fmt: skip
                with sessions() as session:
                    record_unchanged(session, unchanged)
                    session.commit()
                unchanged, flushed = [], time.monotonic()
    return summary


def _count(summary: PollSummary, result: RefreshResult, keep: bool) -> None:
    summary.feeds += 1
    summary.outcomes[result.outcome] += 1
    summary.new_posts += len(result.new_posts)
    if result.status == "failing" and result.outcome == "error":
        summary.failing.append(result.feed_id)
    if keep:
        summary.results.append(result)
