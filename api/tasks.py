"""Celery on Redis: the background work of a deployment that outgrows the in-process worker.

``HYPERLOCAL_BROKER_URL=redis://...`` switches it on. Run one beat and any number of workers::

    celery -A api.tasks beat
    celery -A api.tasks worker -Q police,send     # police feeds and webhook sends
    celery -A api.tasks worker -Q news            # news sites' feeds (as many as it takes)

Beat only says what is due, every few seconds; the tasks are ``feeds.queue``'s dispatches and
runs (claims in the database, taken over by token, so a task delivered twice or after its
worker died does no harm), plus expiry and the WebSub passes, each one at a time across all
workers (a Redis lock). Tasks are acknowledged late (after they ran) and prefetched one at a
time, so a killed worker's task is delivered again; a task that is lost altogether leaves a
lease that runs out, and the next dispatch claims the work again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cache
from typing import Any

import redis
from celery import Celery, signals
from flask import Flask

from api import create_app
from api.config import load_settings, police_interval
from api.database import get_database
from api.logs import configure_logging
from feeds.ingest.registry import sync_all_feeds
from feeds.ingest.websub import maintain_leases
from feeds.queue import (
    BUSY,
    NEWS,
    POLICE,
    SEND,
    RedisDomainBudget,
    dispatch_polls,
    dispatch_sends,
    poll_claimed,
    send_claimed_batch,
)
from feeds.syndication.bulletins import expire_bulletins
from feeds.syndication.outbox import ON_QUEUED
from feeds.syndication.websub_hub import hub_pass

log = logging.getLogger(__name__)

DISPATCH_EVERY = 5.0  # seconds between beat's dispatches of due feeds and messages

celery = Celery("hyperlocal")


def configure(broker_url: str) -> None:
    """Point the Celery app at ``broker_url`` with the settings the design relies on."""
    celery.conf.update(
        broker_url=broker_url,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2,
        # A publish while Redis is down gives up within a second (the request that published
        # goes on; the next periodic dispatch finds what it queued in the database).
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        # Redis redelivers a task not acknowledged within this; ours are minutes at most.
        broker_transport_options={"visibility_timeout": 900},
        task_acks_late=True,  # acknowledged after it ran: a worker that dies loses nothing
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a busy worker does not sit on tasks others could run
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=SEND,
        worker_hijack_root_logger=False,
        beat_schedule={
            "dispatch-polls": {
                "task": "hyperlocal.dispatch_polls",
                "schedule": DISPATCH_EVERY,
                "options": {"queue": POLICE, "expires": DISPATCH_EVERY * 2},
            },
            "dispatch-sends": {
                "task": "hyperlocal.dispatch_sends",
                "schedule": DISPATCH_EVERY,
                "options": {"queue": SEND, "expires": DISPATCH_EVERY * 2},
            },
            "expire-bulletins": {
                "task": "hyperlocal.expire_bulletins",
                "schedule": 60.0,
                "options": {"queue": POLICE, "expires": 60.0},
            },
            "hub-pass": {
                "task": "hyperlocal.hub_pass",
                "schedule": 15.0,
                "options": {"queue": SEND, "expires": 15.0},
            },
            "websub-leases": {
                "task": "hyperlocal.websub_leases",
                "schedule": 60.0,
                "options": {"queue": NEWS, "expires": 60.0},
            },
            "sync-feeds": {
                "task": "hyperlocal.sync_feeds",
                "schedule": 600.0,
                "options": {"queue": NEWS, "expires": 600.0},
            },
        },  # fmt: skip
    )


_BROKER = load_settings()["BROKER_URL"]
configure(_BROKER or "redis://127.0.0.1:6379/0")


@signals.setup_logging.connect
def _logging(**_: Any) -> None:
    """Workers and beat log as the web processes do (HYPERLOCAL_LOG_FORMAT; text if unset)."""
    settings = load_settings()
    configure_logging(settings["LOG_FORMAT"] or "text", settings["LOG_LEVEL"])


@signals.worker_init.connect
@signals.beat_init.connect
def _say_which_broker(**_: Any) -> None:
    if not _BROKER:
        log.warning("HYPERLOCAL_BROKER_URL is not set: using redis://127.0.0.1:6379/0")


@cache
def _app() -> Flask:
    """This worker process's app (database, HTTP client, settings), made on its first task:
    after the fork, so no connection is shared between processes."""
    return create_app()


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(celery.conf.broker_url, socket_timeout=5)


def _lease(settings: Mapping[str, Any]) -> timedelta | None:
    seconds = settings["TASK_LEASE_SECONDS"]
    return timedelta(seconds=seconds) if seconds > 0 else None


def announce_queued() -> None:
    """After a commit that queued webhook messages: send them now, not at the next dispatch."""
    dispatch_sends_task.apply_async(queue=SEND, expires=60)


def enable_in(app: Flask) -> None:
    """Make a web process (or any app) announce queued messages to the queue."""
    configure(app.config["BROKER_URL"])
    if announce_queued not in ON_QUEUED:
        ON_QUEUED.append(announce_queued)


@celery.task(name="hyperlocal.dispatch_polls")
def dispatch_polls_task() -> int:
    """Claim the feeds due now and queue a poll for each (police feeds on their own queue)."""
    settings = _app().config
    sessions = get_database(_app()).sessions
    tasks = dispatch_polls(sessions, lease=timedelta(seconds=settings["DISPATCH_LEASE_SECONDS"]),
                           police_interval=police_interval(settings))  # fmt: skip
    for task in tasks:
        poll_feed.apply_async((task.feed_id, task.token), queue=task.queue)
    return len(tasks)


@celery.task(name="hyperlocal.poll_feed", bind=True, max_retries=None)
def poll_feed(self: Any, feed_id: int, token: str) -> str:
    """Poll one claimed feed; its police items become bulletins (and their messages are
    announced to the send queue as they commit)."""
    app = _app()
    settings = app.config
    result = poll_claimed(
        get_database(app).sessions, app.extensions["hyperlocal_http"], feed_id, token,
        budget=RedisDomainBudget(_redis(), hold=settings["HTTP_TIMEOUT_SECONDS"] * 4),
        police_interval=police_interval(settings), lease=_lease(settings),
    )  # fmt: skip
    if result == BUSY:  # two fetches already in flight to its domain: wait our turn
        raise self.retry(countdown=random.uniform(0.5, 2.0))
    if result is None:
        return "skipped: claimed by another task"
    return result.outcome  # type: ignore[union-attr]


@celery.task(name="hyperlocal.dispatch_sends")
def dispatch_sends_task() -> int:
    """Claim the webhook messages due now and queue them in batches."""
    settings = _app().config
    tasks = dispatch_sends(get_database(_app()).sessions, batch=settings["SEND_BATCH"],
                           lease=timedelta(seconds=settings["DISPATCH_LEASE_SECONDS"]))  # fmt: skip
    for task in tasks:
        send_batch.apply_async((task.message_ids, task.token), queue=SEND)
    return sum(len(task.message_ids) for task in tasks)


@celery.task(name="hyperlocal.send_batch")
def send_batch(message_ids: list[int], token: str) -> str:
    app = _app()
    settings = app.config
    summary = send_claimed_batch(get_database(app).sessions, app.extensions["hyperlocal_http"],
                                 message_ids, token, concurrency=settings["SEND_CONCURRENCY"],
                                 lease=_lease(settings))  # fmt: skip
    if summary.sent:
        log.info(summary.line())
    return summary.line()


def _one_at_a_time(name: str, run: Callable[[Flask], object]) -> str:
    """``run`` under a Redis lock, so one worker at a time makes a pass (the lock lapses after
    10 minutes should its holder die)."""
    lock = _redis().lock(f"hyperlocal:lock:{name}", timeout=600, blocking=False)
    if not lock.acquire():
        return "skipped: running elsewhere"
    try:
        return str(run(_app()))
    finally:
        lock.release()


@celery.task(name="hyperlocal.expire_bulletins")
def expire_task() -> int:
    with get_database(_app()).sessions() as session:
        expired = expire_bulletins(session)
        session.commit()  # withdrawals queued here are announced to the send queue
    return expired


@celery.task(name="hyperlocal.hub_pass")
def hub_pass_task() -> str:
    """Our WebSub hub: verify readers, push the subscription feeds that changed."""
    return _one_at_a_time("hub_pass", lambda app: hub_pass(
        get_database(app).sessions, app.extensions["hyperlocal_http"]))  # fmt: skip


@celery.task(name="hyperlocal.websub_leases")
def websub_leases_task() -> str:
    """Ask publishers' hubs to push to us (leases new, ending or failed)."""
    return _one_at_a_time("websub_leases", lambda app: maintain_leases(
        get_database(app).sessions, app.extensions["hyperlocal_http"],
        app.config["PUBLIC_URL"]))  # fmt: skip


@celery.task(name="hyperlocal.sync_feeds")
def sync_feeds_task() -> str:
    """Bring the feed list up to date with the directory (as `hyperlocal worker` does at start)."""
    with get_database(_app()).sessions() as session:
        sync_all_feeds(session)
    return "synced"


if _BROKER and announce_queued not in ON_QUEUED:
    ON_QUEUED.append(announce_queued)  # a worker's own commits (new bulletins, withdrawals)
