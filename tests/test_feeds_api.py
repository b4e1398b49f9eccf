"""The feed and post endpoints over the app, with feeds served on loopback."""

from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Response

from api import http_client
from directory.accounts import check_account
from directory.police.store import add_officer, get_neighbourhood
from feeds.directory_changes import officer_changed
from tests.conftest import bearer
from tests.test_feed_ingestion import RSS, THREE, rss


def allow_loopback(app) -> None:  # type: ignore[no-untyped-def]
    """What HYPERLOCAL_HTTP_ALLOW_LOOPBACK=true configures."""
    app.extensions["hyperlocal_http"] = http_client({**app.config, "HTTP_ALLOW_LOOPBACK": True})


def submit_and_approve(client, app, feed_url: str, area=None) -> int:  # type: ignore[no-untyped-def]
    created = client.post("/sites", json={
        "name": "WV11 Posts", "url": "https://wv11-posts.example.org/", "feed_urls": [feed_url],
        "area": area or {"type": "postcodes", "postcodes": ["WV11 1"]},
    })  # fmt: skip
    assert created.status_code == 201, created.json
    site_id = created.json["id"]
    approved = client.patch(f"/sites/{site_id}", json={"status": "approved"},
                            headers=bearer(app, "admin"))  # fmt: skip
    assert approved.status_code == 200
    return site_id


def test_register_refresh_and_read_posts(client, app, httpserver: HTTPServer):
    httpserver.expect_request("/feed").respond_with_response(Response(THREE, headers=RSS))
    site_id = submit_and_approve(client, app, httpserver.url_for("/feed"))
    listed = client.get(f"/feeds?owner=site:{site_id}").json
    assert listed["pagination"]["total"] == 1
    feed = listed["items"][0]
    assert feed["status"] == "active" and feed["item_count"] == 0 and feed["kind"] == "news"

    # Nobody but an admin may trigger a fetch.
    assert client.post(f"/feeds/{feed['id']}/refresh").status_code == 401
    editor = bearer(app, f"editor:{site_id}")
    assert client.post(f"/feeds/{feed['id']}/refresh", headers=editor).status_code == 403

    # The guard is on by default: the loopback server is refused and sees nothing.
    admin = bearer(app, "admin")
    refused = client.post(f"/feeds/{feed['id']}/refresh", headers=admin).json
    assert refused["outcome"] == "error" and "forbidden_address" in refused["error"]
    assert refused["feed"]["error_count"] == 1 and len(httpserver.log) == 0

    allow_loopback(app)
    done = client.post(f"/feeds/{feed['id']}/refresh", headers=admin).json
    assert done["outcome"] == "new_items" and done["new_posts"] == 3
    assert done["feed"]["item_count"] == 3 and done["feed"]["error_count"] == 0
    one = client.get(f"/feeds/{feed['id']}").json
    assert one["last_success_at"] and one["next_check_at"] and one["title"] == "Test feed"

    posts = client.get(f"/sites/{site_id}/posts?per_page=2").json
    assert posts["pagination"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    assert [p["title"] for p in posts["items"]] == ["First", "Second"]  # newest first
    first = posts["items"][0]
    assert first["owner"] == f"site:{site_id}" and "truepicture" in first["tags"]
    assert first["content_html"].startswith("<p>") and first["point"] is None

    team = client.get("/neighbourhoods/west-midlands/WV11demo/posts")
    assert team.status_code == 404  # no demo teams loaded in this test


def test_errors_are_clear(client, app):
    assert client.get("/feeds/999999").json["message"] == "no feed with id 999999"
    bad = client.get("/feeds?owner=site:abc")
    assert bad.status_code == 422 and "owner" in bad.json["errors"]["query"]
    assert client.get("/feeds?status=broken").status_code == 422
    assert client.get("/sites/999999/posts").status_code == 404
    assert client.get("/officers/999999/posts").json["message"] == "no officer with id 999999"
    assert client.post("/feeds/999999/refresh", headers=bearer(app, "admin")).status_code == 404
    assert client.get("/posts?near=ZZ99 9ZZ").status_code in (404, 422)


def test_pending_sites_posts_are_private(client, app):
    created = client.post("/sites", json={
        "name": "Pending", "url": "https://pending.example.org/",
        "area": {"type": "postcodes", "postcodes": ["WV11 1"]},
    }).json  # fmt: skip
    assert client.get(f"/sites/{created['id']}/posts").status_code == 404
    editor = bearer(app, f"editor:{created['id']}")
    assert client.get(f"/sites/{created['id']}/posts", headers=editor).status_code == 200


def test_team_reading_list_and_truepicture_by_place(client, demo_directory, httpserver):
    app = demo_directory
    allow_loopback(app)
    httpserver.expect_request("/site").respond_with_response(Response(THREE, headers=RSS))
    officer_feed = rss([("o1", "Patrol in Wednesfield"), ("o2", "Speed checks")], "PC Demo")
    httpserver.expect_request("/pc").respond_with_response(Response(officer_feed, headers=RSS))
    site_id = submit_and_approve(client, app, httpserver.url_for("/site"))
    with app.extensions["hyperlocal_db"].sessions() as session:
        team = get_neighbourhood(session, "west-midlands", "WV11demo")
        officer = add_officer(session, team, name="PC Demo Poster", accounts=[
            check_account("rss", httpserver.url_for("/pc"))])  # fmt: skip
        officer_changed(session, officer)
        session.commit()
        officer_id = officer.id
    admin = bearer(app, "admin")
    for owner in (f"site:{site_id}", f"officer:{officer_id}"):
        feed_id = client.get(f"/feeds?owner={owner}").json["items"][0]["id"]
        assert client.post(f"/feeds/{feed_id}/refresh", headers=admin).json["new_posts"] > 0

    reading = client.get("/neighbourhoods/west-midlands/WV11demo/posts").json
    assert {p["owner"] for p in reading["items"]} == {f"site:{site_id}"}
    assert reading["pagination"]["total"] == 3

    mine = client.get(f"/officers/{officer_id}/posts").json
    assert [p["title"] for p in mine["items"]] == ["Patrol in Wednesfield", "Speed checks"]
    assert mine["items"][0]["kind"] == "officer"

    local = client.get("/posts?tag=truepicture&near=WV11 1AA").json
    assert {p["owner"] for p in local["items"]} == {f"officer:{officer_id}"}  # not the site's
    assert client.get("/posts?tag=%23TruePicture&near=WV11 1AA").json["pagination"]["total"] == 2
    assert client.get("/posts?tag=nothing&near=WV11 1AA").json["items"] == []
    elsewhere = client.get("/posts?tag=truepicture&near=LE1 1AA").json
    assert elsewhere["items"] == []
    assert client.get("/posts?kind=police").json["items"] == []
    assert client.get("/posts?kind=officer").json["pagination"]["total"] == 2
