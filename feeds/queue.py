"""Background work as queue tasks: what a Celery deployment runs (``api/tasks.py`` wires it).

The database stays the source of truth, as for the in-process worker (``feeds.worker``):

- a *dispatch* claims what is due (feeds, webhook messages) with the leases the worker uses,
  and returns one task per feed or per batch of messages, each carrying the claim's end as its
  token;
- a *task* first takes its claim over with a conditional update on that token. A task
  delivered twice (Redis redelivers an unacknowledged task after its visibility timeout) or
  one that comes after its lease ran out finds the token gone and does nothing; a worker killed
  mid-task leaves a lease that expires, and the next dispatch claims the feed or message again
  (the sweep). A message is sent at least once, a feed's items are stored once.

Politeness across workers: at most ``PER_DOMAIN`` fetches to one registrable domain at once,
counted in Redis (``RedisDomainBudget``) when several processes poll; a task that finds its
domain busy is retried a moment later with its claim intact.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from directory.storage import utcnow
from feeds.ingest import schedule
from feeds.ingest.http import HttpClient
from feeds.ingest.poll import PER_DOMAIN, DomainBudget
from feeds.ingest.poll import lease_for as poll_lease
from feeds.ingest.refresh import RefreshResult, SessionFactory, refresh_state
from feeds.ingest.store import (
    FeedNotFound,
    claim_due_feeds,
    feed_state,
    pull_in_police_feeds,
    take_claimed_feed,
)
from feeds.syndication.bulletins import bulletins_from_posts
from feeds.syndication.webhooks import (
    BATCH,
    SendSummary,
    active_endpoints,
    claim_due_messages,
    send_claimed,
    take_claimed_messages,
)
from feeds.syndication.webhooks import lease_for as send_lease

log = logging.getLogger(__name__)

POLICE, NEWS, SEND = "police", "news", "send"  # the queues: police polls never wait on news
QUEUES = (POLICE, NEWS, SEND)
# How long a dispatched feed or message batch stays claimed before its task takes it over: a
# task still queued after this is superseded by a new claim (and skips when it runs).
DISPATCH_LEASE = timedelta(minutes=3)
DISPATCH_LIMIT = 2_000  # feeds claimed by one dispatch; the next one takes the rest
BUSY = "busy"  # a poll task's answer when its domain's budget is taken: retry it shortly


class Budget(Protocol):
    def take(self, domain: str) -> bool: ...

    def give_back(self, domain: str) -> None: ...


def queue_for(owner: str) -> str:
    """The queue a feed's polls go to: police feeds' own, or the news sites'."""
    return POLICE if owner.split(":", 1)[0] in schedule.POLICE_OWNERS else NEWS


@dataclass(frozen=True)
class PollTask:
    feed_id: int
    token: str  # the claim's end, ISO 8601
    queue: str


@dataclass(frozen=True)
class SendTask:
    message_ids: list[int]
    token: str


def dispatch_polls(
    sessions: SessionFactory,
    *,
    now: datetime | None = None,
    lease: timedelta = DISPATCH_LEASE,
    limit: int = DISPATCH_LIMIT,
    police_interval: timedelta = schedule.POLICE_INTERVAL,
) -> list[PollTask]:
    """Claim every feed due now (up to ``limit``): one poll task each, police feeds first."""
    now = now or utcnow()
    with sessions() as session:
        pull_in_police_feeds(session, now, police_interval)
        session.commit()
        states = claim_due_feeds(session, now, limit, lease)
    token = (now + lease).isoformat()
    tasks = [PollTask(state.id, token, queue_for(state.owner)) for state in states]
    return sorted(tasks, key=lambda task: task.queue != POLICE)


def poll_claimed(
    sessions: SessionFactory,
    client: HttpClient,
    feed_id: int,
    token: str,
    *,
    budget: Budget | None = None,
    police_interval: timedelta = schedule.POLICE_INTERVAL,
    lease: timedelta | None = None,
) -> RefreshResult | str | None:
    """Run one poll task: the feed's refresh (police items becoming bulletins), if its claim is
    still ``token``'s, leased for ``lease`` (default: long enough for any fetch). ``BUSY`` when
    its domain's budget is taken (the claim is left for a retry); None when the claim is gone
    (a duplicate delivery, or superseded)."""
    try:
        with sessions() as session:
            state = feed_state(session, feed_id)
    except FeedNotFound:
        return None
    budget = budget or DomainBudget()
    domain = DomainBudget.domain(state)
    if not budget.take(domain):
        return BUSY
    try:
        with sessions() as session:
            taken = take_claimed_feed(session, feed_id, datetime.fromisoformat(token), utcnow(),
                                      lease or poll_lease(client))  # fmt: skip
        if taken is None:
            return None
        return refresh_state(sessions, taken, client, on_new_posts=bulletins_from_posts,
                             police_interval=police_interval)  # fmt: skip
    finally:
        budget.give_back(domain)


def dispatch_sends(
    sessions: SessionFactory,
    *,
    now: datetime | None = None,
    lease: timedelta = DISPATCH_LEASE,
    batch: int = BATCH,
    limit: int = 20_000,
) -> list[SendTask]:
    """Claim every webhook message due now (up to ``limit``), ``batch`` to a send task."""
    now = now or utcnow()
    tasks: list[SendTask] = []
    token = (now + lease).isoformat()
    with sessions() as session:
        while sum(len(task.message_ids) for task in tasks) < limit:
            claimed = claim_due_messages(session, now, batch, lease)
            if not claimed:
                break
            tasks.append(SendTask([message.id for message in claimed], token))
    return tasks


def send_claimed_batch(
    sessions: SessionFactory,
    client: HttpClient,
    message_ids: list[int],
    token: str,
    *,
    concurrency: int = 8,
    lease: timedelta | None = None,
) -> SendSummary:
    """Run one send task: POST the messages still under ``token``'s claim and record each
    attempt (retries are scheduled in the database, as by the in-process sender)."""
    summary = SendSummary()
    with sessions() as session:
        lease = lease or send_lease(client, concurrency)
        claimed = take_claimed_messages(session, message_ids, datetime.fromisoformat(token),
                                        utcnow(), lease)  # fmt: skip
        endpoints = active_endpoints(session, {c.subscription_id for c in claimed}, utcnow())
    if claimed:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            send_claimed(sessions, client, pool, claimed, endpoints, summary)
    return summary


# At most ``limit`` holders in a domain's sorted set, each scored by when its hold lapses (a
# worker that died gives its slot back when that time passes).
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class RedisDomainBudget:
    """``DomainBudget`` shared by every process using the same Redis: at most ``per_domain``
    fetches in flight to a domain across all of them. A hold lapses after ``hold`` seconds
    (a fetch's whole deadline, and more), so a killed worker never keeps a slot."""

    def __init__(self, redis: Any, per_domain: int = PER_DOMAIN, hold: float = 120.0,
                 prefix: str = "hyperlocal:domain:") -> None:  # fmt: skip
        self.redis = redis
        self.per_domain = max(1, per_domain)
        self.hold = hold
        self.prefix = prefix
        self._take = redis.register_script(_TAKE)
        self._held: defaultdict[str, list[str]] = defaultdict(list)

    def take(self, domain: str) -> bool:
        holder = uuid.uuid4().hex
        now = time.time()
        got = self._take(keys=[self.prefix + domain],
                         args=[now, now + self.hold, self.per_domain, holder,
                               int(self.hold) + 1])  # fmt: skip
        if got:
            self._held[domain].append(holder)
        return bool(got)

    def give_back(self, domain: str) -> None:
        if self._held[domain]:
            self.redis.zrem(self.prefix + domain, self._held[domain].pop())
