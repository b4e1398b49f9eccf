"""`hyperlocal feeds poll --once` and `hyperlocal worker`, as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from click.testing import CliRunner
from sqlalchemy import func, select
from werkzeug import Response

from api.cli import main
from directory.storage import create_db_engine, make_session_factory
from feeds.ingest.models import Post
from tests.conftest import free_port, hyperlocal_command
from tests.test_feed_ingestion import RSS, THREE
from tests.test_feed_ingestion import add_site as approved_site


def add_site(url: str, feed_url: str) -> None:
    engine = create_db_engine(url)
    approved_site(make_session_factory(engine), [feed_url], url="https://cli.example.org/")
    engine.dispose()


def count_posts(url: str) -> int:
    engine = create_db_engine(url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Post))
    engine.dispose()
    return count or 0


def test_poll_once_reports_what_it_did(migrated_url, monkeypatch, httpserver):
    httpserver.expect_request("/feed").respond_with_response(Response(THREE, headers=RSS))
    httpserver.expect_request("/broken").respond_with_data("boom", status=500)
    add_site(migrated_url, httpserver.url_for("/feed"))
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", migrated_url)
    monkeypatch.setenv("HYPERLOCAL_HTTP_ALLOW_LOOPBACK", "true")
    result = CliRunner().invoke(main, ["feeds", "poll", "--once"])
    assert result.exit_code == 0, result.output
    assert "polled 1 feeds: 3 new posts (1 new items)" in result.output
    again = CliRunner().invoke(main, ["feeds", "poll", "--once"])
    assert "polled 0 feeds: 0 new posts" in again.output
    assert count_posts(migrated_url) == 3


def test_poll_once_without_the_loopback_setting_refuses_loopback(
    migrated_url, monkeypatch, httpserver
):
    add_site(migrated_url, httpserver.url_for("/feed"))
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", migrated_url)
    result = CliRunner().invoke(main, ["feeds", "poll", "--once"])
    assert "polled 1 feeds: 0 new posts (1 error)" in result.output
    assert len(httpserver.log) == 0


def test_worker_polls_until_told_to_stop(migrated_url, httpserver):
    httpserver.expect_request("/feed").respond_with_response(Response(THREE, headers=RSS))
    add_site(migrated_url, httpserver.url_for("/feed"))
    command = hyperlocal_command()
    env = dict(os.environ, HYPERLOCAL_DATABASE_URL=migrated_url,
               HYPERLOCAL_HTTP_ALLOW_LOOPBACK="1")  # fmt: skip
    worker = subprocess.Popen([*command, "worker"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.time() + 30
        while count_posts(migrated_url) < 3:
            assert worker.poll() is None and time.time() < deadline, "the worker stopped early"
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert "polled 1 feeds: 3 new posts" in output and "worker stopped" in output
    assert count_posts(migrated_url) == 3


def test_the_demo_polls_its_own_feeds_over_loopback(tmp_path):
    """`hyperlocal demo` as a new user runs it: the demo sites' posts appear by themselves."""
    import json
    import urllib.request

    port = free_port()
    command = hyperlocal_command()
    env = dict(os.environ, HYPERLOCAL_DATABASE_URL=f"sqlite:///{tmp_path}/demo.db")
    env.pop("HYPERLOCAL_HTTP_ALLOW_LOOPBACK", None)
    demo = subprocess.Popen([*command, "demo", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def get(path: str):  # type: ignore[no-untyped-def]
        with urllib.request.urlopen(base + path, timeout=5) as reply:
            return json.load(reply)

    try:
        deadline = time.time() + 60
        while True:
            try:
                site = get("/sites?q=Wednesfield")["items"][0]
                posts = get(f"/sites/{site['id']}/posts")
                if posts["pagination"]["total"] == 5:
                    break
            except OSError:
                pass
            assert demo.poll() is None and time.time() < deadline, "no demo posts arrived"
            time.sleep(0.5)
        assert posts["items"][0]["title"] == "Library opening hours change from December"
        feed = get(f"/feeds?owner=site:{site['id']}")["items"][0]
        assert feed["url"] == f"{base}/demo/feeds/wednesfield-news.xml"
        assert feed["status"] == "active" and feed["last_error"] is None
        team = get("/neighbourhoods/west-midlands/WV11demo/posts")
        assert {p["owner"] for p in team["items"]} >= {f"site:{site['id']}"}

        # The demo force's feed, served by the demo too, yields bulletins that reach the demo
        # outlet's subscription feed.
        while not get("/bulletins")["items"]:
            assert time.time() < deadline, "no demo bulletins arrived"
            time.sleep(0.5)
        near = get("/bulletins?near=WV11%201AA")["items"]
        assert [b["title"] for b in near] == ["CCTV appeal after burglary in Wednesfield (demo)"]
        assert near[0]["located_by"] == "postcode"
        kinds = {b["kind"] for b in get("/bulletins")["items"]}
        assert kinds == {"appeal", "missing", "warning"}  # the court result is not a bulletin
        # The README's example: the demo team's own #TruePicture posts around WV11 1AA (its
        # feed is polled in the same pass but committed on its own: wait for it too).
        while not (tagged := get("/posts?tag=truepicture&near=WV11%201AA")["items"]):
            assert time.time() < deadline, "no demo team posts arrived"
            time.sleep(0.5)
        assert {p["title"] for p in tagged} == {
            "Coffee with your local officers at Wednesfield Library (demo)",
            "Our week on the beat around the High Street (demo)",
        }
        assert {p["kind"] for p in tagged} == {"police"}
        import sqlite3

        with sqlite3.connect(tmp_path / "demo.db") as db:
            (token,) = db.execute("SELECT feed_token FROM subscriptions").fetchone()
        with urllib.request.urlopen(f"{base}/subscriptions/feeds/{token}/rss", timeout=5) as r:
            rss = r.read().decode()
        assert "CCTV appeal after burglary in Wednesfield (demo)" in rss
        assert "Crown Court" not in rss
    finally:
        demo.terminate()
        demo.wait(timeout=10)
