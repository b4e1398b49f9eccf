"""Self-service: a submitter's private status link, the rejection's reason, and the editor key
taken there once; on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.conftest import bearer

NEW = {"name": "Bilston Bugle", "url": "https://bilston-bugle.example.org/",
       "area": {"type": "postcodes", "postcodes": ["WV11 1"]}}  # fmt: skip
HTML = {"Accept": "text/html"}


def _submit(client, **change):  # type: ignore[no-untyped-def]
    created = client.post("/sites", json={**NEW, **change})
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def test_the_submitter_follows_their_site_and_takes_its_editor_key_once(app, client) -> None:  # type: ignore[no-untyped-def]
    site = _submit(client)
    link = site["submission"]["status_url"]
    assert link == f"http://localhost/submissions/{site['submission']['token']}"
    status = client.get(link)
    assert status.headers["Cache-Control"] == "no-store"
    assert status.get_json() == {"site_id": site["id"], "name": "Bilston Bugle",
                                 "url": NEW["url"], "status": "pending", "rejection_reason": None,
                                 "reviewed_at": None, "editor_key": "not yet",
                                 "submitted_at": site["created_at"]}  # fmt: skip
    early = client.post(f"{link}/editor-key")
    assert early.status_code == 409 and "approves it" in early.get_json()["message"]
    # The token is shown once: not in the site as anyone else sees it later.
    admin = bearer(app, "admin")
    assert "submission" not in client.get(f"/sites/{site['id']}", headers=admin).get_json()

    client.patch(f"/sites/{site['id']}", json={"status": "approved"}, headers=admin)
    assert client.get(link).get_json()["editor_key"] == "available"
    taken = client.post(f"{link}/editor-key")
    assert taken.status_code == 201 and taken.get_json()["scope"] == f"editor:{site['id']}"
    editor = {"Authorization": f"Bearer {taken.get_json()['key']}"}
    subscriptions = client.get(f"/sites/{site['id']}/subscriptions", headers=editor)
    assert subscriptions.status_code == 200  # the key works, for this site
    other = _submit(client, url="https://another.example.org/")
    client.patch(f"/sites/{other['id']}", json={"status": "approved"}, headers=admin)
    assert client.get(f"/sites/{other['id']}/subscriptions", headers=editor).status_code == 403
    again = client.post(f"{link}/editor-key")
    assert again.status_code == 409 and "ask an admin" in again.get_json()["message"]
    assert client.get(link).get_json()["editor_key"] == "taken"


def test_a_rejection_says_why_at_the_link(app, client) -> None:  # type: ignore[no-untyped-def]
    site = _submit(client)
    link = site["submission"]["status_url"]
    admin = bearer(app, "admin")
    # Only an admin decides, and a reason goes with a rejection only.
    refused = client.patch(f"/sites/{site['id']}", json={"rejection_reason": "no"})
    assert refused.status_code in (401, 403)
    mixed = client.patch(f"/sites/{site['id']}", headers=admin,
                         json={"status": "approved", "rejection_reason": "x"})  # fmt: skip
    assert mixed.status_code == 422
    reason = "It is a shop, not a community news site."
    rejected = client.patch(f"/sites/{site['id']}", headers=admin,
                            json={"status": "rejected", "rejection_reason": reason})  # fmt: skip
    assert rejected.status_code == 200
    assert rejected.get_json()["rejection_reason"].startswith("It is a shop")
    body = client.get(link).get_json()
    assert body["status"] == "rejected" and body["rejection_reason"].startswith("It is a shop")
    page = client.get(link, headers=HTML)
    assert page.mimetype == "text/html" and "It is a shop, not a community news site." in page.text
    assert client.post(f"{link}/editor-key").status_code == 409
    # Approved later after all: the reason goes.
    client.patch(f"/sites/{site['id']}", headers=admin, json={"status": "approved"})
    assert client.get(link).get_json()["rejection_reason"] is None


def test_a_wrong_link_is_not_found(client) -> None:  # type: ignore[no-untyped-def]
    for token in ("hls_nope", "nope", "hls_" + "x" * 200):
        answer = client.get(f"/submissions/{token}")
        assert answer.status_code == 404 and "status link" in answer.get_json()["message"]
    assert client.post("/submissions/hls_nope/editor-key").status_code == 404


def test_admins_review_pending_sites_on_the_moderation_page(app, client) -> None:  # type: ignore[no-untyped-def]
    from directory.keys.store import create_api_key

    with app.extensions["hyperlocal_db"].sessions() as session:
        admin_key = create_api_key(session, "admin").secret
        editor_key = create_api_key(session, "editor:1").secret
        session.commit()
    site = _submit(client)
    same = {"Origin": "http://localhost"}
    signed_out = client.get("/admin/moderation", headers=HTML)
    assert signed_out.status_code == 401 and 'type="password"' in signed_out.text
    assert client.post("/admin/login", data={"key": editor_key}, headers=same).status_code == 403
    # From another site's page: refused, even with the right key.
    elsewhere = client.post("/admin/login", data={"key": admin_key},
                            headers={"Origin": "https://evil.example"})  # fmt: skip
    assert elsewhere.status_code == 403
    signed_in = client.post("/admin/login", data={"key": admin_key}, headers=same)
    assert signed_in.status_code == 303
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    listing = client.get("/admin/moderation", headers=HTML)
    assert listing.status_code == 200 and "Bilston Bugle" in listing.text
    assert listing.headers["Cache-Control"] == "no-store"
    forged = client.post(f"/admin/moderation/{site['id']}", headers={"Origin": "https://x.example"},
                         data={"decision": "approved"})  # fmt: skip
    assert forged.status_code == 403
    decided = client.post(f"/admin/moderation/{site['id']}", headers=same,
                          data={"decision": "rejected", "reason": "Not local news."})  # fmt: skip
    assert decided.status_code == 303 and "rejected" in decided.location
    status = client.get(site["submission"]["status_url"]).get_json()
    assert status["status"] == "rejected" and status["rejection_reason"] == "Not local news."
    assert "No site is waiting" in client.get("/admin/moderation", headers=HTML).text
    client.post("/admin/logout", headers=same)
    assert client.get("/admin/moderation", headers=HTML).status_code == 401
