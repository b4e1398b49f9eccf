"""A paused subscription, or a disabled webhook, gets what it missed when it resumes.

Through the API and a real receiver on loopback, on SQLite and PostgreSQL: a missing person
found during the pause is withdrawn afterwards, an edit arrives as an update, an appeal
published meanwhile arrives as published; what opened and closed during the pause sends
nothing; a second resume sends nothing again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer

from feeds.syndication.models import Bulletin
from feeds.syndication.resume import _owed
from feeds.syndication.webhooks import send_due
from tests.conftest import bearer
from tests.test_syndication import WEDNESFIELD, Receiver, site_id, subscribe


def _post(client, police, kind: str, title: str) -> int:  # type: ignore[no-untyped-def]
    response = client.post("/bulletins", headers=police, json={
        "kind": kind, "title": title, "body_html": "<p>Seen near WV11 1AA.</p>"})  # fmt: skip
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _events(hook: Receiver, secret: str, start: int) -> list[tuple[str, int]]:
    return [(e["type"], e["data"]["id"]) for e in hook.events(secret)[start:]]


def test_a_paused_subscription_gets_the_latest_state_when_it_resumes(
    loopback_app, client, sessions, fetcher, httpserver: HTTPServer
):  # type: ignore[no-untyped-def]
    app = loopback_app
    site = site_id(sessions, WEDNESFIELD)
    editor = bearer(app, f"editor:{site}")
    police = bearer(app, "police:west-midlands")
    hook = Receiver(httpserver, "/hook")
    sub = subscribe(client, app, site, webhook_url=hook.url)
    secret, item = sub["webhook"]["secret"], f"/sites/{site}/subscriptions/{sub['id']}"
    missing = _post(client, police, "missing", "Missing Jayden, 14, from Wednesfield")
    appeal = _post(client, police, "appeal", "Appeal after a burglary in Wednesfield")
    untouched = _post(client, police, "appeal", "Appeal after a car fire in Wednesfield")
    send_due(sessions, fetcher)
    assert sorted(_events(hook, secret, 0)) == sorted(
        [("bulletin.published", missing), ("bulletin.published", appeal),
         ("bulletin.published", untouched)])  # fmt: skip

    assert client.patch(item, json={"active": False}, headers=editor).status_code == 200
    assert client.patch(f"/bulletins/{missing}", json={"status": "resolved", "note": "found"},
                        headers=police).status_code == 200  # fmt: skip
    retitled = {"title": "Appeal after a burglary in Wednesfield: CCTV released"}
    assert client.patch(f"/bulletins/{appeal}", json=retitled, headers=police).status_code == 200
    during = _post(client, police, "appeal", "Appeal after a robbery in Wednesfield")
    gone = _post(client, police, "appeal", "Appeal after a fight in Wednesfield")
    client.patch(f"/bulletins/{gone}", json={"status": "cancelled"}, headers=police)
    assert send_due(sessions, fetcher).sent == 0
    assert len(hook.requests) == 3

    resumed = client.patch(item, json={"active": True}, headers=editor)
    assert resumed.status_code == 200 and resumed.get_json()["active"] is True
    send_due(sessions, fetcher)
    caught_up = hook.events(secret)[3:]
    assert sorted((e["type"], e["data"]["id"]) for e in caught_up) == sorted(
        [("bulletin.withdrawn", missing), ("bulletin.updated", appeal),
         ("bulletin.published", during)])  # fmt: skip
    by_id = {e["data"]["id"]: e["data"] for e in caught_up}
    assert "Jayden" not in str(by_id[missing]) and by_id[missing]["status"] == "resolved"
    assert by_id[appeal]["title"].endswith("CCTV released")
    # The bulletin matched at the resume is in the subscription's feed too.
    feed = client.get(sub["feeds"]["json"]).get_json()
    assert during in [int(i["id"].rsplit("/", 1)[-1]) for i in feed["items"]]

    # Resuming again, or an unrelated change, sends nothing more.
    client.patch(item, json={"active": True, "label": "newsroom"}, headers=editor)
    send_due(sessions, fetcher)
    assert len(hook.requests) == 6


def test_a_disabled_webhook_enabled_again_gets_what_it_missed(
    loopback_app, client, sessions, fetcher, httpserver: HTTPServer
):  # type: ignore[no-untyped-def]
    app = loopback_app
    site = site_id(sessions, WEDNESFIELD)
    editor = bearer(app, f"editor:{site}")
    police = bearer(app, "police:west-midlands")
    hook = Receiver(httpserver, "/hook")
    sub = subscribe(client, app, site, webhook_url=hook.url)
    secret, item = sub["webhook"]["secret"], f"/sites/{site}/subscriptions/{sub['id']}"
    missing = _post(client, police, "missing", "Missing Amira, 15, from Wednesfield")
    send_due(sessions, fetcher)
    assert _events(hook, secret, 0) == [("bulletin.published", missing)]

    hook.status = 410  # the outlet's endpoint is gone: disabled at once
    refused = _post(client, police, "appeal", "Appeal after an assault in Wednesfield")
    assert send_due(sessions, fetcher).disabled == [sub["id"]]
    assert client.get(item, headers=editor).get_json()["webhook"]["state"] == "disabled"
    during = _post(client, police, "appeal", "Appeal after a robbery in Wednesfield")
    client.patch(f"/bulletins/{missing}", json={"status": "resolved"}, headers=police)
    send_due(sessions, fetcher)
    assert len(hook.requests) == 2  # the published one, and the 410

    hook.status = 204  # fixed; the editor turns it back on
    enabled = client.patch(item, json={"webhook_enabled": True}, headers=editor)
    assert enabled.get_json()["webhook"]["state"] == "active"
    send_due(sessions, fetcher)
    assert sorted(_events(hook, secret, 2)) == sorted(
        [("bulletin.published", refused), ("bulletin.published", during),
         ("bulletin.withdrawn", missing)])  # fmt: skip


T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "status", "updated", "heard", "owed"),
    [
        ("appeal", "active", T0, None, "bulletin.published"),  # matched, never received
        ("appeal", "resolved", T0, None, None),  # opened and closed unseen: nothing to take down
        ("appeal", "active", T0, T0, None),  # heard as it is
        ("appeal", "active", T0 + timedelta(hours=1), T0, "bulletin.updated"),  # edited since
        ("missing", "resolved", T0 + timedelta(hours=1), T0, "bulletin.withdrawn"),  # found
        ("appeal", "resolved", T0 + timedelta(hours=1), T0, "bulletin.updated"),
        ("appeal", "expired", T0 + timedelta(hours=1), T0, "bulletin.withdrawn"),
        ("warning", "cancelled", T0 + timedelta(hours=1), T0, "bulletin.withdrawn"),
        ("missing", "resolved", T0, T0 + timedelta(minutes=1), None),  # withdrawal heard
    ],
)
def test_what_a_resumed_outlet_is_owed(kind, status, updated, heard, owed) -> None:  # type: ignore[no-untyped-def]
    bulletin = Bulletin(kind=kind, status=status, updated_at=updated)
    assert _owed(bulletin, heard) == owed


def test_a_bulletin_closed_before_it_was_sent_sends_nothing_at_all(
    loopback_app, client, sessions, fetcher, httpserver: HTTPServer
):  # type: ignore[no-untyped-def]
    """Published and found in the same poll (or before the sender ran): the outlet that was
    never told of the missing person is not told to take them down either."""
    app = loopback_app
    site = site_id(sessions, WEDNESFIELD)
    police = bearer(app, "police:west-midlands")
    hook = Receiver(httpserver, "/hook")
    sub = subscribe(client, app, site, webhook_url=hook.url)
    missing = _post(client, police, "missing", "Missing Jayden, 14, from Wednesfield")
    client.patch(f"/bulletins/{missing}", json={"status": "resolved"}, headers=police)
    seen = _post(client, police, "missing", "Missing Amira, 15, from Wednesfield")
    send_due(sessions, fetcher)
    client.patch(f"/bulletins/{seen}", json={"status": "resolved"}, headers=police)
    send_due(sessions, fetcher)
    assert _events(hook, sub["webhook"]["secret"], 0) == [
        ("bulletin.published", seen), ("bulletin.withdrawn", seen)]  # fmt: skip
