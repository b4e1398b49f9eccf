"""The queue tasks' claims (``feeds.queue``), run in-process on both databases: a task delivered
twice, or after its claim was superseded, does nothing; a claim left by a dead worker is
claimed again once its lease runs out. The Celery wiring itself: tests/test_celery.py."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select, update

from directory.storage import utcnow
from directory.urls import registrable_domain
from feeds.ingest.models import Feed, Post
from feeds.ingest.poll import DomainBudget
from feeds.queue import (
    BUSY,
    NEWS,
    POLICE,
    RedisDomainBudget,
    dispatch_polls,
    dispatch_sends,
    poll_claimed,
    queue_for,
    send_claimed_batch,
)
from feeds.syndication.models import Bulletin, WebhookMessage
from tests.conftest import redis_database
from tests.test_feed_ingestion import RSS
from tests.test_syndication import (
    APPEAL,
    MISSING,
    WEDNESFIELD,
    Receiver,
    police_feed,
    police_rss,
    site_id,
    subscribe,
)

REDIS_DB = 13
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.mark.parametrize(
    ("owner", "queue"),
    [("force:west-midlands", POLICE), ("neighbourhood:west-midlands:WV11", POLICE),
     ("officer:kent:12", POLICE), ("site:12", NEWS), ("forcesite:x", NEWS)],
)  # fmt: skip
def test_police_feeds_have_a_queue_of_their_own(owner: str, queue: str) -> None:
    assert queue_for(owner) == queue


def _police_feed_with(sessions, httpserver: HTTPServer, items) -> int:  # type: ignore[no-untyped-def]
    httpserver.expect_request("/police.rss").respond_with_data(police_rss(items), headers=RSS)
    feed_id = police_feed(sessions, httpserver.url_for("/police.rss"))
    with sessions() as session:  # only this feed is due
        session.execute(update(Feed).where(Feed.id != feed_id).values(status="retired"))
        session.commit()
    return feed_id


def _feed_fetches(httpserver: HTTPServer) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == "/police.rss")


def test_a_poll_task_delivered_twice_fetches_and_publishes_once(
    loopback_app, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    app = loopback_app
    client = app.extensions["hyperlocal_http"]
    feed_id = _police_feed_with(sessions, httpserver, [APPEAL, MISSING])

    tasks = dispatch_polls(sessions)
    assert [(t.feed_id, t.queue) for t in tasks] == [(feed_id, POLICE)]
    assert dispatch_polls(sessions) == []  # claimed: a second dispatch does not queue it again
    first = poll_claimed(sessions, client, tasks[0].feed_id, tasks[0].token)
    again = poll_claimed(sessions, client, tasks[0].feed_id, tasks[0].token)
    assert first is not None and first != BUSY and first.outcome == "new_items"
    assert again is None  # the second delivery found its claim taken over
    assert _feed_fetches(httpserver) == 1
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 2
        assert session.scalar(select(func.count()).select_from(Bulletin)) == 2


def test_a_superseded_claim_does_nothing_and_an_abandoned_one_is_claimed_again(
    loopback_app, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    client = loopback_app.extensions["hyperlocal_http"]
    feed_id = _police_feed_with(sessions, httpserver, [APPEAL])
    lost = dispatch_polls(sessions, lease=timedelta(seconds=1))  # its task never runs
    assert [t.feed_id for t in lost] == [feed_id]
    time.sleep(1.2)
    again = dispatch_polls(sessions)  # the lease ran out: the sweep is the next dispatch
    assert [t.feed_id for t in again] == [feed_id] and again[0].token != lost[0].token
    assert poll_claimed(sessions, client, feed_id, lost[0].token) is None  # superseded
    result = poll_claimed(sessions, client, feed_id, again[0].token)
    assert result is not None and result != BUSY and result.outcome == "new_items"
    assert _feed_fetches(httpserver) == 1


def test_a_busy_domain_leaves_the_claim_for_a_retry(
    loopback_app, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    client = loopback_app.extensions["hyperlocal_http"]
    feed_id = _police_feed_with(sessions, httpserver, [APPEAL])
    [task] = dispatch_polls(sessions)
    budget = DomainBudget(per_domain=1)
    url = httpserver.url_for("/police.rss")
    domain = registrable_domain(url) or url  # as DomainBudget.domain counts it
    assert budget.take(domain)  # another fetch to the same domain is in flight
    assert poll_claimed(sessions, client, feed_id, task.token, budget=budget) == BUSY
    assert _feed_fetches(httpserver) == 0
    budget.give_back(domain)
    result = poll_claimed(sessions, client, feed_id, task.token, budget=budget)
    assert result is not None and result != BUSY and result.outcome == "new_items"


def _appeal_queued_for_an_outlet(app, client, sessions, httpserver: HTTPServer):  # type: ignore[no-untyped-def]
    """An outlet's webhook on the test server, and the police appeal polled into a message
    queued for it: (the app's HTTP client, the receiver)."""
    http = app.extensions["hyperlocal_http"]
    hook = Receiver(httpserver, "/hook")
    subscribe(client, app, site_id(sessions, WEDNESFIELD), webhook_url=hook.url)
    feed_id = _police_feed_with(sessions, httpserver, [APPEAL])
    [task] = dispatch_polls(sessions)
    poll_claimed(sessions, http, feed_id, task.token)
    return http, hook


def test_a_send_task_delivered_twice_posts_each_message_once(
    loopback_app, client, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    http, hook = _appeal_queued_for_an_outlet(loopback_app, client, sessions, httpserver)

    sends = dispatch_sends(sessions, batch=1)
    assert sends and all(len(s.message_ids) == 1 for s in sends)
    assert dispatch_sends(sessions) == []  # claimed already
    for send in sends:
        assert send_claimed_batch(sessions, http, send.message_ids, send.token).delivered == 1
        assert send_claimed_batch(sessions, http, send.message_ids, send.token).sent == 0
    ids = [headers["Webhook-Id"] for headers, _ in hook.requests]
    assert len(ids) == len(sends) and len(set(ids)) == len(ids)
    with sessions() as session:
        statuses = set(session.scalars(select(WebhookMessage.status)))
    assert statuses == {"delivered"}


def test_a_send_claim_abandoned_mid_task_is_sent_again_under_the_same_id(
    loopback_app, client, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    http, hook = _appeal_queued_for_an_outlet(loopback_app, client, sessions, httpserver)
    [send] = dispatch_sends(sessions)
    with sessions() as session:  # a worker took the batch over, then died before sending
        session.execute(update(WebhookMessage).values(next_attempt_at=utcnow()))
        session.commit()
    [again] = dispatch_sends(sessions)
    assert again.message_ids == send.message_ids
    assert send_claimed_batch(sessions, http, send.message_ids, send.token).sent == 0
    assert send_claimed_batch(sessions, http, again.message_ids, again.token).delivered == 1


@pytest.fixture
def redis_db():  # type: ignore[no-untyped-def]
    with redis_database(REDIS_DB) as client:
        yield client


def test_the_domain_budget_is_shared_through_redis_and_a_dead_holder_lets_go(redis_db) -> None:  # type: ignore[no-untyped-def]
    # Two processes' budgets: separate connections, one count.
    one = RedisDomainBudget(redis.Redis.from_url(REDIS_URL), per_domain=2, hold=1.0)
    two = RedisDomainBudget(redis.Redis.from_url(REDIS_URL), per_domain=2, hold=1.0)
    assert one.take("police.uk") and two.take("police.uk")
    assert not one.take("police.uk") and not two.take("police.uk")
    assert two.take("example.org")  # other domains go ahead
    one.give_back("police.uk")
    assert two.take("police.uk")
    assert not one.take("police.uk")
    time.sleep(1.1)  # the holders "died" without giving back: their holds lapse
    assert one.take("police.uk") and two.take("police.uk")
