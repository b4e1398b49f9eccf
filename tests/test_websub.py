"""WebSub both ways on loopback, on SQLite and PostgreSQL.

Subscriber: a police feed served by a real server advertises a hub we run here; the worker's
lease pass asks it, the hub verifies our intent by calling our real HTTP server (the app on a
loopback port), then pushes signed content that becomes bulletins through the poll's path
(the same dedupe, the webhook reaching the outlet); a forged push is ignored; the lease is
renewed. Hub: a feed reader we run subscribes to a subscription feed at our hub, confirms
the challenge, and receives each change of the feed signed with its secret, until it
unsubscribes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import feedparser
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select, update
from werkzeug import Request, Response

from directory.storage import utcnow
from feeds.ingest import schedule
from feeds.ingest.models import Feed, WebSubLease
from feeds.ingest.parse import link_header
from feeds.ingest.websub import hub_signature, maintain_leases, signature_valid
from feeds.syndication.models import Bulletin, HubSubscription
from feeds.syndication.webhooks import send_due
from feeds.syndication.websub_hub import hub_pass
from feeds.worker import refresh_and_publish
from tests.conftest import bearer
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


class Hub:
    """A publisher's WebSub hub on the loopback server: accepts subscription requests with
    202, then verifies the intent at the callback as a hub does, and pushes on demand."""

    def __init__(self, server: HTTPServer, lease_seconds: int = 3600):
        self.url = server.url_for("/hub")
        self.requests: list[dict[str, str]] = []
        self.verified: list[bool] = []
        self.lease_seconds = lease_seconds
        server.expect_request("/hub", method="POST").respond_with_handler(self._subscribe)

    def _subscribe(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        self.requests.append(form)
        threading.Thread(target=self._verify, args=(form,), daemon=True).start()
        return Response("", status=202)

    def _verify(self, form: dict[str, str]) -> None:
        time.sleep(0.05)  # after the 202, as an asynchronous hub does
        query = urlencode({
            "hub.mode": "subscribe", "hub.topic": form["hub.topic"], "hub.challenge": "kxq-77",
            "hub.lease_seconds": self.lease_seconds})  # fmt: skip
        with urllib.request.urlopen(f"{form['hub.callback']}?{query}", timeout=5) as answer:
            self.verified.append(answer.status == 200 and answer.read() == b"kxq-77")

    def wait_verified(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.verified) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.verified == [True] * count

    def push(self, callback: str, body: bytes, secret: str) -> int:
        headers = {"Content-Type": "application/rss+xml", "X-Hub-Signature":
                   hub_signature(secret, body), "Link": f'<{self.url}>; rel="hub"'}  # fmt: skip
        request = urllib.request.Request(callback, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status


def _with_hub(feed: bytes, hub: str, topic: str) -> bytes:
    links = f'<atom:link rel="hub" href="{hub}"/><atom:link rel="self" href="{topic}"/>'
    return feed.replace(b'xmlns:georss="http://www.georss.org/georss"',
                        b'xmlns:georss="http://www.georss.org/georss" '
                        b'xmlns:atom="http://www.w3.org/2005/Atom"').replace(
        b"</title>", b"</title>" + links.encode(), 1)  # fmt: skip


def test_a_feed_that_advertises_a_hub_is_pushed_to_us_and_pushes_become_bulletins(
    live_app, client, sessions, fetcher, httpserver: HTTPServer
):  # type: ignore[no-untyped-def]
    app = live_app
    public = app.config["PUBLIC_URL"]
    hub = Hub(httpserver)
    topic = httpserver.url_for("/police.rss")
    outlet = Receiver(httpserver, "/outlet")
    sub = subscribe(client, app, site_id(sessions, WEDNESFIELD), webhook_url=outlet.url)
    httpserver.expect_request("/police.rss").respond_with_data(
        _with_hub(police_rss([MISSING]), hub.url, topic), headers=RSS)  # fmt: skip
    feed_id = police_feed(sessions, topic)
    refresh_and_publish(sessions, feed_id, fetcher)
    with sessions() as session:
        lease = session.scalar(select(WebSubLease).where(WebSubLease.feed_id == feed_id))
        assert (lease.state, lease.hub_url, lease.topic_url) == ("wanted", hub.url, topic)

    # Without a public address no hub could call back: nothing is asked.
    assert maintain_leases(sessions, fetcher, None).requested == 0 and hub.requests == []
    assert maintain_leases(sessions, fetcher, public).requested == 1
    hub.wait_verified(1)
    [asked] = hub.requests
    assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == topic
    assert asked["hub.callback"].startswith(f"{public}/websub/callback/")
    with sessions() as session:
        lease = session.get(WebSubLease, lease.id)
        feed = session.get(Feed, feed_id)
    assert lease.state == "active" and lease.secret == asked["hub.secret"]
    assert lease.expires_at - lease.verified_at == timedelta(seconds=3600)
    assert feed.pushed_until == lease.expires_at
    assert lease.next_attempt_at < lease.expires_at  # renewed before it ends

    # A push signed with our secret is stored as a poll would store it: a bulletin, sent on.
    callback, secret = asked["hub.callback"], asked["hub.secret"]
    pushed = _with_hub(police_rss([MISSING, APPEAL]), hub.url, topic)
    assert hub.push(callback, pushed, secret) == 202
    send_due(sessions, fetcher)
    events = outlet.events(sub["webhook"]["secret"])
    assert [e["data"]["title"] for e in events if "burglary" in e["data"]["title"]] == [
        APPEAL["title"]]  # fmt: skip

    # A forged push (another secret) is acknowledged and ignored, and says why on the lease.
    forged = _with_hub(police_rss([{**APPEAL, "guid": "forged-1", "title": "Appeal after a "
                                    "robbery in Wednesfield"}]), hub.url, topic)  # fmt: skip
    assert hub.push(callback, forged, "not-our-secret") == 202
    with sessions() as session:
        titles = set(session.scalars(select(Bulletin.title)))
        lease = session.get(WebSubLease, lease.id)
    assert not any("robbery" in t for t in titles) and "X-Hub-Signature" in lease.last_error
    assert lease.pushes == 1

    # The same items polled afterwards are not stored again (the same dedupe).
    with sessions() as session:
        session.execute(update(Feed).values(next_check_at=utcnow(), etag=None))
        session.commit()
    before = len(titles)
    refresh_and_publish(sessions, feed_id, fetcher)
    with sessions() as session:
        assert len(set(session.scalars(select(Bulletin.title)))) == before

    # Renewal before the lease ends: the hub is asked again, with the same callback.
    with sessions() as session:
        session.execute(update(WebSubLease).values(next_attempt_at=utcnow()))
        session.commit()
    assert maintain_leases(sessions, fetcher, public).requested == 1
    hub.wait_verified(2)
    assert hub.requests[1]["hub.callback"] == callback


def test_the_callback_refuses_what_we_did_not_ask_for(
    live_app, client, sessions, fetcher, httpserver: HTTPServer
):  # type: ignore[no-untyped-def]
    hub = Hub(httpserver)
    topic = httpserver.url_for("/police.rss")
    httpserver.expect_request("/police.rss").respond_with_data(
        _with_hub(police_rss([APPEAL]), hub.url, topic), headers=RSS)  # fmt: skip
    feed_id = police_feed(sessions, topic)
    refresh_and_publish(sessions, feed_id, fetcher)
    with sessions() as session:
        token = session.scalar(select(WebSubLease.callback_token))
    path = f"/websub/callback/{token}"
    ask = {"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c1"}
    # Not asked yet ("wanted"): a hub confirming it is refused.
    assert client.get(path, query_string=ask).status_code == 404
    assert client.get("/websub/callback/nope", query_string=ask).status_code == 404
    maintain_leases(sessions, fetcher, live_app.config["PUBLIC_URL"])
    hub.wait_verified(1)
    other = client.get(path, query_string={**ask, "hub.topic": "https://elsewhere.example/"})
    assert other.status_code == 404 and "not subscribed" in other.get_json()["message"]
    unsubscribe = client.get(path, query_string={**ask, "hub.mode": "unsubscribe"})
    assert unsubscribe.status_code == 404
    assert client.post("/websub/callback/nope", data=b"<rss/>").status_code == 404
    denied = client.get(path, query_string={"hub.mode": "denied", "hub.topic": topic,
                                            "hub.reason": "not on this hub"})  # fmt: skip
    assert denied.status_code == 200
    with sessions() as session:
        lease = session.scalar(select(WebSubLease))
    assert lease.state == "denied" and "not on this hub" in lease.last_error


def test_a_pushed_police_feed_is_still_polled_but_less_often() -> None:
    police, pushed = "force:west-midlands", timedelta(minutes=5)
    assert schedule.ceiling_for(police, pushed) == timedelta(minutes=5)
    assert schedule.ceiling_for(police, pushed, pushed=True) == schedule.PUSHED_CEILING
    assert schedule.ceiling_for("site:3", pushed, pushed=True) == schedule.MAX_INTERVAL


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        ("sha256={}", True),
        ("sha1={}", True),
        ("sha512={}", True),
        ("SHA256={}", True),
        ("sha256=00{}", False),
        ("md5={}", False),
        ("", False),
        ("sha256=", False),
    ],
)
def test_push_signatures(header: str, valid: bool) -> None:
    body, secret = b"<rss>x</rss>", "s3cret"
    method = (header.split("=")[0] or "sha256").lower()
    digest = hmac.new(secret.encode(), body, getattr(hashlib, method, hashlib.sha256)).hexdigest()
    assert signature_valid(secret, body, header.format(digest) if header else None) is valid


# ---------------------------------------------------------------------------- our hub


class Reader:
    """A feed reader's WebSub callback on the loopback server."""

    def __init__(self, server: HTTPServer, path: str = "/reader", confirm: bool = True):
        self.url = server.url_for(path)
        self.checks: list[dict[str, str]] = []
        self.pushes: list[tuple[dict[str, str], bytes]] = []
        self.confirm = confirm
        self.status = 204
        server.expect_request(path, method="GET").respond_with_handler(self._verify)
        server.expect_request(path, method="POST").respond_with_handler(self._receive)

    def _verify(self, request: Request) -> Response:
        self.checks.append(dict(request.args))
        if not self.confirm:
            return Response("no", status=404)
        return Response(request.args["hub.challenge"], status=200)

    def _receive(self, request: Request) -> Response:
        self.pushes.append((dict(request.headers), request.get_data()))
        return Response("", status=self.status)


def test_our_hub_verifies_a_reader_and_pushes_each_change_signed(
    loopback_app, client, sessions, fetcher, httpserver: HTTPServer
):  # type: ignore[no-untyped-def]
    app = loopback_app
    site = site_id(sessions, WEDNESFIELD)
    topic = subscribe(client, app, site)["feeds"]["atom"]
    served = client.get(topic)
    links = link_header(served.headers["Link"])
    assert links["self"] == topic and links["hub"].endswith("/websub/hub")
    assert feedparser.parse(served.data).feed.links[-1]["rel"] == "hub"
    rss = client.get(topic.replace("/atom", "/rss"))
    assert {"hub", "self"} <= {link["rel"] for link in feedparser.parse(rss.data).feed.links}
    assert client.get(topic.replace("/atom", "/json")).get_json()["hubs"][0]["type"] == "WebSub"

    reader = Reader(httpserver)
    form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": reader.url,
            "hub.secret": "reader-secret", "hub.lease_seconds": "86400"}  # fmt: skip
    accepted = client.post(links["hub"], data=form)
    assert accepted.status_code == 202, accepted.get_json()
    summary = hub_pass(sessions, fetcher)
    assert summary.verified == 1 and reader.checks[0]["hub.mode"] == "subscribe"
    assert (
        reader.checks[0]["hub.topic"] == topic and reader.checks[0]["hub.lease_seconds"] == "86400"
    )
    assert hub_pass(sessions, fetcher).pushed == 0  # nothing changed since

    police = bearer(app, "police:west-midlands")
    created = client.post("/bulletins", headers=police, json={
        "kind": "appeal", "title": "Appeal after a burglary near WV11 1AA"})  # fmt: skip
    assert hub_pass(sessions, fetcher).pushed == 1
    headers, body = reader.pushes[-1]
    expected = hmac.new(b"reader-secret", body, "sha256").hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature"], f"sha256={expected}")
    assert headers["Content-Type"].startswith("application/atom+xml")
    assert link_header(headers["Link"]) == {"hub": links["hub"], "self": topic}
    entries = feedparser.parse(body).entries
    assert [e.title for e in entries] == ["Appeal: Appeal after a burglary near WV11 1AA"]
    assert body == client.get(topic).data  # what a GET of the feed would have given
    assert hub_pass(sessions, fetcher).pushed == 0

    # The withdrawal reaches the reader too: the closing stub in the appeal's place.
    client.patch(f"/bulletins/{created.get_json()['id']}", json={"status": "resolved"},
                 headers=police)  # fmt: skip
    assert hub_pass(sessions, fetcher).pushed == 1
    assert "closed" in feedparser.parse(reader.pushes[-1][1]).entries[0].title

    # A failing reader is retried later, not at once.
    reader.status = 500
    client.post("/bulletins", headers=police, json={"kind": "appeal",
                "title": "Appeal after a robbery near WV11 1AA"})  # fmt: skip
    assert hub_pass(sessions, fetcher).failed == 1
    assert hub_pass(sessions, fetcher).failed == 0  # not due yet
    with sessions() as session:
        row = session.scalar(select(HubSubscription))
        assert row.failures == 1 and row.next_attempt_at > utcnow() and "500" in row.last_error
        session.execute(update(HubSubscription).values(next_attempt_at=utcnow()))
        session.commit()
    reader.status = 204
    assert hub_pass(sessions, fetcher).pushed == 1

    # Unsubscribing is verified too; then nothing more is pushed.
    assert client.post(links["hub"], data={**form, "hub.mode": "unsubscribe"}).status_code == 202
    assert hub_pass(sessions, fetcher).verified == 1
    assert reader.checks[-1]["hub.mode"] == "unsubscribe"
    with sessions() as session:
        assert session.scalar(select(HubSubscription)) is None


def test_our_hub_refuses_what_it_cannot_serve(
    demo_directory, client, sessions, fetcher, httpserver: HTTPServer
):  # type: ignore[no-untyped-def]
    site = site_id(sessions, WEDNESFIELD)
    topic = subscribe(client, demo_directory, site)["feeds"]["rss"]
    good = {"hub.mode": "subscribe", "hub.topic": topic,
            "hub.callback": "https://reader.example.org/cb"}  # fmt: skip

    def refused(**change: str) -> str:
        response = client.post("/websub/hub", data={**good, **change})
        assert response.status_code == 422, response.get_json()
        return json.dumps(response.get_json())  # the message, and any field errors

    assert "subscription feeds" in refused(**{"hub.topic": "https://elsewhere.example/feed"})
    assert "no subscription feed" in refused(**{"hub.topic": topic.replace(
        urlsplit(topic).path.split("/")[3], "x" * 20)})  # fmt: skip
    # The app here may not reach loopback: a callback on it is an internal address.
    assert "cannot be called" in refused(**{"hub.callback": "http://127.0.0.1:9/cb"})
    assert "hub.callback" in refused(**{"hub.callback": "javascript:alert(1)"})
    assert "hub.mode" in refused(**{"hub.mode": "publish"})
    assert "not subscribed" in refused(**{"hub.mode": "unsubscribe"})
    assert "lease" in refused(**{"hub.lease_seconds": "soon"})

    # A reader that does not confirm the challenge is not subscribed.
    reader = Reader(httpserver, "/silent", confirm=False)
    allowed = loopback_hub_request(demo_directory, topic, reader.url)
    assert allowed.status_code == 202
    assert hub_pass(sessions, fetcher).refused == 1 and len(reader.checks) == 1
    with sessions() as session:
        assert session.scalar(select(HubSubscription)) is None


def loopback_hub_request(app, topic: str, callback: str):  # type: ignore[no-untyped-def]
    from api import http_client

    app.extensions["hyperlocal_http"] = http_client({**app.config, "HTTP_ALLOW_LOOPBACK": True})
    return app.test_client().post("/websub/hub", data={
        "hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback})  # fmt: skip
