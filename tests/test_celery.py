"""Celery for real: ``celery -A api.tasks worker`` and ``beat`` as subprocesses on the Redis at
127.0.0.1:6379 (skipped, saying so, where none answers), on both databases.

A police item reaches an outlet's webhook through beat and the workers; a bulletin posted to
the API goes out at once (no beat running: only the announcement to the send queue can carry
it); a task delivered twice does its work once; a worker killed mid-send loses nothing (its
claim runs out and the message goes out again, under the same ``webhook-id``); beat restarted
carries on, queueing nothing twice.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select, update
from werkzeug import Request, Response

from directory.storage import utcnow
from feeds.ingest.models import Feed
from feeds.syndication.models import Bulletin, WebhookMessage
from tests.conftest import bearer, redis_database
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

REDIS_DB = 14  # a database of its own, emptied around each test
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds:g} s: {what}")


class Celery:
    """Workers and beat of ``api.tasks`` in processes of their own, on the test's database."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "HYPERLOCAL_DATABASE_URL": database_url,
                    "HYPERLOCAL_BROKER_URL": REDIS_URL, "HYPERLOCAL_HTTP_ALLOW_LOOPBACK": "true",
                    "HYPERLOCAL_HTTP_TIMEOUT_SECONDS": "3", "HYPERLOCAL_TASK_LEASE_SECONDS": "4",
                    "HYPERLOCAL_DISPATCH_LEASE_SECONDS": "10"}  # fmt: skip
        self.processes: list[subprocess.Popen] = []

    def _start(self, name: str, *args: str, ready: str) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        with log.open("a") as out:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "api.tasks", *args, "--loglevel", "INFO"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: killing it kills its pool's children
            )  # fmt: skip
        self.processes.append(process)
        wait_for(lambda: ready in log.read_text() or process.poll() is not None, 60,
                 f"{name} started")  # fmt: skip
        assert process.poll() is None, log.read_text()[-3000:]
        return process

    def worker(self, name: str, queues: str = "police,news,send") -> subprocess.Popen:
        return self._start(name, "worker", "-Q", queues, "-c", "2", "-n", f"{name}@%h",
                           "--without-mingle", "--without-gossip", ready="ready.")  # fmt: skip

    def beat(self) -> subprocess.Popen:
        return self._start("beat", "beat", "-s", str(self.tmp / "beat-schedule"),
                           ready="beat: Starting")  # fmt: skip

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def ran(self, task: str) -> int:
        """How many runs of ``task`` have finished, in every worker's log."""
        pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded")
        return sum(len(pattern.findall(log.read_text())) for log in self.tmp.glob("w*.log"))

    @staticmethod
    def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(30)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    with redis_database(REDIS_DB) as client:
        yield client  # type: ignore[misc]


@pytest.fixture
def celery(loopback_app, broker, tmp_path: Path) -> Iterator[Celery]:  # type: ignore[no-untyped-def]
    """Start workers and beat with ``celery.worker(...)``, ``celery.beat()``; this test's app
    announces queued messages to the same Redis (as a web process with the broker set)."""
    from api import tasks
    from feeds.syndication.outbox import ON_QUEUED

    url = loopback_app.extensions["hyperlocal_db"].engine.url.render_as_string(
        hide_password=False)  # fmt: skip
    tasks.configure(REDIS_URL)
    ON_QUEUED.append(tasks.announce_queued)
    runner = Celery(url, tmp_path)
    try:
        yield runner
    finally:
        ON_QUEUED.remove(tasks.announce_queued)
        runner.stop()


def _only_feed(sessions, httpserver: HTTPServer, body: Callable[[], bytes]) -> int:  # type: ignore[no-untyped-def]
    httpserver.expect_request("/police.rss").respond_with_handler(
        lambda request: Response(body(), headers=RSS)
    )
    feed_id = police_feed(sessions, httpserver.url_for("/police.rss"))
    with sessions() as session:  # the other demo feeds are not the test's
        session.execute(update(Feed).where(Feed.id != feed_id).values(status="retired"))
        session.commit()
    return feed_id


def _received(hook: Receiver) -> list[tuple[str, dict]]:
    return [(headers["Webhook-Id"], json.loads(body)) for headers, body in hook.requests]


def _statuses(sessions) -> set[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return set(session.scalars(select(WebhookMessage.status)))


def _published_titles(hook: Receiver) -> list[str]:
    return [event["data"]["title"] for _, event in _received(hook)
            if event["type"] == "bulletin.published"]  # fmt: skip


def test_a_police_item_reaches_the_outlet_through_beat_and_two_workers_once(
    celery: Celery, loopback_app, client, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    app = loopback_app
    hook = Receiver(httpserver, "/hook")
    subscribe(client, app, site_id(sessions, WEDNESFIELD), webhook_url=hook.url)
    items = [APPEAL]
    _only_feed(sessions, httpserver, lambda: police_rss(items))
    celery.worker("w1")
    celery.worker("w2")
    celery.beat()
    wait_for(lambda: APPEAL["title"] in _published_titles(hook), 60, "the appeal delivered")

    # A bulletin posted to the API: announced to the send queue as it commits.
    police = bearer(app, "police:west-midlands")
    posted = time.monotonic()
    response = client.post("/bulletins", headers=police, json={
        "kind": "appeal", "title": "Appeal after a shop fire in Wednesfield",
        "body_html": "<p>Anyone near WV11 1AA with footage is asked to call 101.</p>"})  # fmt: skip
    assert response.status_code == 201, response.get_json()
    wait_for(lambda: "Appeal after a shop fire in Wednesfield" in _published_titles(hook), 30,
             "the posted bulletin delivered")  # fmt: skip
    assert time.monotonic() - posted < 30
    time.sleep(6)  # another round of beat's dispatches: nothing more goes out
    ids = [msg_id for msg_id, _ in _received(hook)]
    assert len(ids) == len(set(ids)) == 2
    assert _statuses(sessions) == {"delivered"}
    assert "hyperlocal.poll_feed" in celery.log("w1") + celery.log("w2")


def test_a_new_bulletin_goes_to_the_send_queue_at_once_without_beat(
    celery: Celery, loopback_app, client, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    app = loopback_app
    hook = Receiver(httpserver, "/hook")
    subscribe(client, app, site_id(sessions, WEDNESFIELD), webhook_url=hook.url)
    celery.worker("w1", queues="send")
    police = bearer(app, "police:west-midlands")
    posted = time.monotonic()
    response = client.post("/bulletins", headers=police, json={
        "kind": "appeal", "title": "Witness appeal after a crash in Wednesfield",
        "body_html": "<p>The crash happened near WV11 1AA. Call 101.</p>"})  # fmt: skip
    assert response.status_code == 201, response.get_json()
    wait_for(lambda: hook.requests, 20, "delivered with no beat to dispatch it")
    assert time.monotonic() - posted < 10  # in seconds, not at a periodic pass


def test_a_task_delivered_twice_does_its_work_once(
    celery: Celery, loopback_app, client, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    from api.tasks import poll_feed, send_batch
    from feeds.queue import dispatch_polls, dispatch_sends

    app = loopback_app
    hook = Receiver(httpserver, "/hook")
    subscribe(client, app, site_id(sessions, WEDNESFIELD), webhook_url=hook.url)
    _only_feed(sessions, httpserver, lambda: police_rss([APPEAL, MISSING]))
    celery.worker("w1")
    celery.worker("w2")
    [task] = dispatch_polls(sessions)
    for _ in range(2):  # as Redis does after a visibility timeout
        poll_feed.apply_async((task.feed_id, task.token), queue=task.queue)
    wait_for(lambda: celery.ran("hyperlocal.poll_feed") == 2, 30, "both copies ran")
    fetches = [r for r, _ in httpserver.log if r.path == "/police.rss"]
    assert len(fetches) == 1
    assert "skipped: claimed by another task" in celery.log("w1") + celery.log("w2")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Bulletin)) == 2
    # The announcement sends the messages; a send batch delivered twice sends nothing more.
    wait_for(lambda: _statuses(sessions) == {"delivered"}, 30, "the messages delivered")
    settled = -1
    while settled != celery.ran("hyperlocal.send_batch"):  # every send task has finished
        settled = celery.ran("hyperlocal.send_batch")
        time.sleep(1.5)
    with sessions() as session:
        session.execute(update(WebhookMessage).values(status="pending", next_attempt_at=utcnow()))
        session.commit()  # as if not yet sent: claim them for two copies of one task
    sends = dispatch_sends(sessions)
    assert sends
    before, runs = len(hook.requests), celery.ran("hyperlocal.send_batch")
    for send in sends:
        for _ in range(2):
            send_batch.apply_async((send.message_ids, send.token), queue="send")
    wait_for(lambda: celery.ran("hyperlocal.send_batch") >= runs + 2 * len(sends), 30,
             "every copy ran")  # fmt: skip
    time.sleep(1)
    assert len(hook.requests) - before == sum(len(s.message_ids) for s in sends)


def test_a_worker_killed_mid_send_loses_nothing(
    celery: Celery, loopback_app, client, sessions, broker
) -> None:  # type: ignore[no-untyped-def]
    app = loopback_app
    server = HTTPServer(threaded=True)
    server.start()
    arrived: list[str] = []
    hang = threading.Event()

    def receive(request: Request) -> Response:
        arrived.append(request.headers["Webhook-Id"])
        if len(arrived) == 1:
            hang.wait(20)  # the first attempt never gets its answer in time
        return Response("", status=204)

    server.expect_request("/hook", method="POST").respond_with_handler(receive)
    try:
        subscribe(client, app, site_id(sessions, WEDNESFIELD), webhook_url=server.url_for("/hook"))
        first = celery.worker("w1", queues="send")
        police = bearer(app, "police:west-midlands")
        response = client.post("/bulletins", headers=police, json={
            "kind": "missing", "title": "Missing 15-year-old Kian from Wednesfield",
            "body_html": "<p>Kian was last seen near WV11 1AA.</p>"})  # fmt: skip
        assert response.status_code == 201
        wait_for(lambda: arrived, 20, "the first attempt reached the outlet")
        celery.kill(first)  # mid-send: the task is neither acknowledged nor recorded
        celery.worker("w2", queues="send")
        celery.beat()  # its dispatches are the sweep: the claim runs out in 4 s
        wait_for(lambda: len(arrived) >= 2, 40, "sent again by the second worker")
        hang.set()
        wait_for(lambda: _statuses(sessions) == {"delivered"}, 20, "recorded as delivered")
        assert len(set(arrived)) == 1  # the same webhook-id: the outlet deduplicates on it
    finally:
        hang.set()
        server.clear()
        if server.is_running():
            server.stop()


def test_beat_restarted_carries_on_and_queues_nothing_twice(
    celery: Celery, loopback_app, client, sessions, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    app = loopback_app
    hook = Receiver(httpserver, "/hook")
    subscribe(client, app, site_id(sessions, WEDNESFIELD), webhook_url=hook.url)
    items = [APPEAL]
    feed_id = _only_feed(sessions, httpserver, lambda: police_rss(items))
    celery.worker("w1")
    beat = celery.beat()
    wait_for(lambda: len(hook.requests) == 1, 60, "the first appeal delivered")
    celery.kill(beat, signal.SIGTERM)
    items.append(MISSING)  # published while beat is down
    with sessions() as session:  # due now (the police interval is minutes)
        session.execute(update(Feed).where(Feed.id == feed_id).values(next_check_at=utcnow()))
        session.commit()
    time.sleep(3)
    assert len(hook.requests) == 1  # nothing dispatches while beat is down
    celery.beat()  # restarted, with the schedule file it left
    wait_for(lambda: MISSING["title"] in _published_titles(hook), 60, "picked up after restart")
    time.sleep(6)
    ids = [msg_id for msg_id, _ in _received(hook)]
    assert len(ids) == len(set(ids)) == 2
