"""Rate limits: the 429 in the one error shape with Retry-After, the tighter limits on open
writes, keys counted apart from addresses, operators' endpoints never limited, Redis down
(served, counted in memory), and two server processes sharing one count in the real Redis."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
import urllib3

from api import create_app
from tests.conftest import _clear, bearer, free_port, hyperlocal_command, redis_database

REDIS_DB = 15
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
POSTCODE = "/postcodes/WV111AA"


@pytest.fixture
def limited(demo_url: str):  # type: ignore[no-untyped-def]
    apps = []

    def make(**settings: object):  # type: ignore[no-untyped-def]
        config = {"DATABASE_URL": demo_url, "TESTING": True, "RATE_LIMITS": True,
                  "RATE_LIMIT_STORAGE_URL": "memory://", **settings}  # fmt: skip
        apps.append(create_app(config))
        return apps[-1]

    yield make
    for app in apps:
        _clear(app)  # the keys a test made; closes the app's connections


def test_a_client_over_its_limit_gets_a_429_in_the_error_shape_with_retry_after(limited) -> None:  # type: ignore[no-untyped-def]
    client = limited(RATE_LIMIT_PUBLIC="3 per minute").test_client()
    answers = [client.get(POSTCODE) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert "Retry-After" not in answers[0].headers  # only a refusal says when to come back
    refused = answers[-1]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    body = refused.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests"
    assert "3 per 1 minute" in body["message"] and "Retry-After" in body["message"]
    # Operators' endpoints are never limited.
    assert all(client.get("/health").status_code == 200 for _ in range(5))
    assert all(client.get("/metrics").status_code == 200 for _ in range(5))


def test_open_writes_have_tighter_limits_and_keys_count_apart(limited) -> None:  # type: ignore[no-untyped-def]
    app = limited(RATE_LIMIT_SUBMISSIONS="2 per hour", RATE_LIMIT_KEYS="2 per minute",
                  RATE_LIMIT_PUBLIC="100 per minute")  # fmt: skip
    client = app.test_client()
    submissions = [client.post("/sites", json={"name": ""}).status_code for _ in range(3)]
    assert submissions == [422, 422, 429]  # counted though invalid: a flood is a flood
    assert client.get("/sites").status_code == 200  # reads have their own, generous limit
    one, two = bearer(app, "admin"), bearer(app, "admin")
    assert [client.get("/keys", headers=one).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/keys", headers=two).status_code == 200  # another key, another count
    assert client.get(POSTCODE).status_code == 200  # the address's own count is untouched


def test_with_redis_down_requests_are_served_and_counted_in_memory(limited, caplog) -> None:  # type: ignore[no-untyped-def]
    app = limited(RATE_LIMIT_PUBLIC="3 per minute", RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:1/0")
    client = app.test_client()
    started = time.monotonic()
    codes = [client.get(POSTCODE).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]  # the limit holds, per process
    assert time.monotonic() - started < 5  # a dead Redis does not stall the requests
    assert "falling back to in-memory storage" in caplog.text


@pytest.fixture
def shared_redis() -> Iterator[None]:
    with redis_database(REDIS_DB):
        yield


def _serve(demo_url: str, storage: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "HYPERLOCAL_DATABASE_URL": demo_url, "HYPERLOCAL_WORKER": "off",
           "HYPERLOCAL_RATE_LIMITS": "true", "HYPERLOCAL_RATE_LIMIT_PUBLIC": "4 per minute",
           "HYPERLOCAL_RATE_LIMIT_STORAGE_URL": storage}  # fmt: skip
    process = subprocess.Popen([*hyperlocal_command(), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def _codes(http: urllib3.PoolManager, base: str, count: int) -> list[int]:
    return [http.request("GET", base + POSTCODE).status for _ in range(count)]


def test_two_processes_share_one_count_in_redis(demo_url: str, shared_redis) -> None:  # type: ignore[no-untyped-def]
    servers = [_serve(demo_url, REDIS_URL) for _ in range(2)]
    servers += [_serve(demo_url, "memory://") for _ in range(2)]
    starting = urllib3.PoolManager(retries=urllib3.Retry(connect=50, backoff_factor=0.1))
    http = urllib3.PoolManager(retries=False)  # a 429 is an answer here, not a retry
    try:
        (_, a), (_, b), (_, c), (_, d) = servers
        for base in (a, b, c, d):  # up (retried while it starts)
            assert starting.request("GET", base + "/health").status == 200
        # Shared: 4 a minute across both processes.
        assert _codes(http, a, 2) + _codes(http, b, 2) == [200] * 4
        assert _codes(http, a, 1) + _codes(http, b, 1) == [429, 429]
        # In memory: each process counts on its own (what the README warns of).
        assert _codes(http, c, 4) + _codes(http, d, 4) == [200] * 8
        assert _codes(http, c, 1) == [429]
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(10)


def test_a_limit_that_does_not_parse_is_refused_by_name(demo_url: str) -> None:
    with pytest.raises(ValueError, match="HYPERLOCAL_RATE_LIMIT_PUBLIC='5': write a limit"):
        create_app({"DATABASE_URL": demo_url, "RATE_LIMIT_PUBLIC": "5"})
