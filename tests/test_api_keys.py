"""API keys: created once and hashed, listed, revoked; 401 vs 403 on protected routes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from api.cli import main
from directory.keys.models import ApiKey
from directory.keys.store import (
    InvalidScope,
    create_api_key,
    hash_key,
    parse_scope,
    scope_allows,
)


@pytest.mark.parametrize(
    ("scope", "ok"),
    [
        ("admin", True),
        ("police:leicestershire", True),
        ("police:west-midlands", True),
        ("editor:42", True),
        ("editor:my-site_2", False),  # sites are known by their number
        ("editor:abc", False),
        ("editor:0", False),
        ("editor:007", False),
        ("police:", False),
        ("police:West Midlands", False),
        ("editor:", False),
        ("root", False),
        ("admin ", True),  # surrounding space is trimmed
        ("ADMIN", False),
        ("police:leics;drop", False),
    ],
)
def test_scope_forms(scope: str, ok: bool) -> None:
    if ok:
        assert parse_scope(scope) == scope.strip()
    else:
        with pytest.raises(InvalidScope, match="is not a scope"):
            parse_scope(scope)


@pytest.mark.parametrize(
    ("granted", "required", "allowed"),
    [
        ("admin", "admin", True),
        ("admin", "police:leicestershire", True),
        ("admin", "editor:7", True),
        ("police:leicestershire", "police:leicestershire", True),
        ("police:leicestershire", "police:metropolitan", False),
        ("police:leicestershire", "admin", False),
        ("editor:7", "editor:7", True),
        ("editor:7", "editor:70", False),
        ("editor:7", "police:7", False),
    ],
)
def test_scope_allows(granted: str, required: str, allowed: bool) -> None:
    assert scope_allows(granted, required) is allowed


def _session(app):  # type: ignore[no-untyped-def]
    return app.extensions["hyperlocal_db"].sessions()


def _key(app, scope: str) -> str:
    with _session(app) as session:
        created = create_api_key(session, scope)
        session.commit()
        return created.secret


def test_only_the_hash_is_stored(app):
    secret = _key(app, "admin")
    with _session(app) as session:
        stored = session.scalars(select(ApiKey)).one()
        assert stored.key_hash == hash_key(secret) and secret not in (
            stored.key_hash,
            stored.prefix,
        )
        assert secret.startswith(stored.prefix) and len(secret) > 40


def test_missing_unknown_revoked_are_401_wrong_scope_is_403(client, app):
    admin = _key(app, "admin")
    police = _key(app, "police:leicestershire")
    response = client.get("/keys")
    assert response.status_code == 401 and "Bearer" in response.headers["WWW-Authenticate"]
    assert "needs an API key" in response.get_json()["message"]
    assert client.get("/keys", headers={"Authorization": "Bearer hl_nope"}).status_code == 401
    assert client.get("/keys", headers={"Authorization": f"Basic {admin}"}).status_code == 401
    forbidden = client.get("/keys", headers={"Authorization": f"Bearer {police}"})
    assert forbidden.status_code == 403
    assert "scope 'admin'" in forbidden.get_json()["message"]
    listed = client.get("/keys", headers={"Authorization": f"Bearer {admin}"})
    assert listed.status_code == 200
    page = listed.get_json()
    assert page["pagination"] == {"page": 1, "per_page": 20, "total": 2, "pages": 1}
    assert {k["scope"] for k in page["items"]} == {"admin", "police:leicestershire"}
    assert all("key" not in k and "key_hash" not in k for k in page["items"])
    police_id = next(k["id"] for k in page["items"] if k["scope"].startswith("police"))
    revoked = client.delete(f"/keys/{police_id}", headers={"Authorization": f"Bearer {admin}"})
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    after = client.get("/keys", headers={"Authorization": f"Bearer {police}"})
    assert after.status_code == 401 and "revoked" in after.get_json()["message"]


def _a_site(app) -> int:  # type: ignore[no-untyped-def]
    """A demo site's id (ids depend on what earlier tests made)."""
    from directory.sites.models import Site

    with _session(app) as session:
        return session.scalar(select(Site.id).order_by(Site.id).limit(1))


def test_create_over_http_shows_the_key_once_and_it_works(client, demo_directory):
    app = demo_directory
    admin = {"Authorization": f"Bearer {_key(app, 'admin')}"}
    editor_scope = f"editor:{_a_site(app)}"
    response = client.post(
        "/keys", json={"scope": editor_scope, "label": "WV11 news"}, headers=admin
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["scope"] == editor_scope and body["key"].startswith(body["prefix"])
    listed = client.get("/keys", headers=admin).get_json()["items"]
    assert all("key" not in k for k in listed)
    bad = client.post("/keys", json={"scope": "superuser"}, headers=admin)
    assert bad.status_code == 422
    assert "is not a scope" in bad.get_json()["errors"]["json"]["scope"][0]
    nul = client.post("/keys", json={"scope": editor_scope, "label": "a\u0000b"}, headers=admin)
    assert nul.status_code == 422 and "NUL character" in nul.get_json()["message"]
    ctrl = client.post("/keys", json={"scope": editor_scope, "label": "a\u0007b"}, headers=admin)
    assert ctrl.status_code == 422 and "control characters" in ctrl.get_json()["message"]
    assert response.headers["Cache-Control"] == "no-store"
    for huge in ("2147483648", "99999999999999999999"):
        gone = client.delete(f"/keys/{huge}", headers=admin)
        assert gone.status_code == 404 and gone.is_json
    missing = client.delete("/keys/9999", headers=admin)
    assert missing.status_code == 404 and "no API key with id 9999" in missing.get_json()["message"]


def test_last_used_is_recorded(client, app):
    secret = _key(app, "admin")
    client.get("/keys", headers={"Authorization": f"Bearer {secret}"})
    with _session(app) as session:
        assert session.scalars(select(ApiKey)).one().last_used_at is not None


def test_cli_create_list_revoke(demo_directory, demo_url, monkeypatch):
    app = demo_directory
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", demo_url)
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--scope", "police:leicestershire"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    assert secret.startswith("hl_")
    listed = runner.invoke(main, ["keys", "list"])
    assert "police:leicestershire" in listed.output and secret not in listed.output
    assert secret[:10] in listed.output
    key_id = listed.output.strip().splitlines()[1].split()[0]
    revoked = runner.invoke(main, ["keys", "revoke", key_id])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    headers = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/keys", headers=headers).status_code == 401
    bad = runner.invoke(main, ["keys", "create", "--scope", "god"])
    assert bad.exit_code == 2 and "is not a scope" in bad.output
    assert runner.invoke(main, ["keys", "revoke", "9999"]).exit_code == 1
    assert runner.invoke(main, ["keys", "revoke", "99999999999999999999"]).exit_code == 2
    again = runner.invoke(main, ["keys", "revoke", key_id])
    assert again.exit_code == 0 and "was already revoked" in again.output
    labelled = runner.invoke(main, ["keys", "create", "--scope", "admin", "--label", "ops desk"])
    assert labelled.exit_code == 0
    assert "ops desk" in runner.invoke(main, ["keys", "list"]).output
    too_long = runner.invoke(main, ["keys", "create", "--scope", "admin", "--label", "x" * 201])
    assert too_long.exit_code == 2 and "at most 200 characters" in too_long.output


@pytest.mark.parametrize(
    ("scope", "says"),
    [
        ("editor:2147483647", "there is no site 2147483647"),  # ids run on, never this far
        ("editor:2147483648", "there is no site 2147483648"),
        ("police:nope", "there is no police force 'nope'"),
        ("editor:abc", "is not a scope"),
    ],
)
def test_a_key_must_name_a_site_or_force_that_exists(
    client, demo_directory, demo_url, monkeypatch, scope, says
):
    app = demo_directory
    admin = {"Authorization": f"Bearer {_key(app, 'admin')}"}
    response = client.post("/keys", json={"scope": scope}, headers=admin)
    assert response.status_code == 422 and says in json.dumps(response.get_json()), scope
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", demo_url)
    created = CliRunner().invoke(main, ["keys", "create", "--scope", scope])
    assert created.exit_code == 2 and says in created.output, created.output
    with _session(app) as session:  # nothing was made for it
        assert session.scalar(select(ApiKey).where(ApiKey.scope == scope)) is None


def test_keys_for_what_exists_are_made(client, demo_directory):
    admin = {"Authorization": f"Bearer {_key(demo_directory, 'admin')}"}
    for scope in (f"editor:{_a_site(demo_directory)}", "police:west-midlands", "admin"):
        assert client.post("/keys", json={"scope": scope}, headers=admin).status_code == 201


def test_the_last_admin_key_cannot_revoke_itself(client, app, demo_url, monkeypatch):
    secret = _key(app, "admin")
    admin = {"Authorization": f"Bearer {secret}"}
    own = client.get("/keys", headers=admin).get_json()["items"][0]["id"]
    refused = client.delete(f"/keys/{own}", headers=admin)
    assert refused.status_code == 409 and "last working admin key" in refused.get_json()["message"]
    assert client.get("/keys", headers=admin).status_code == 200  # still works
    second = client.post("/keys", json={"scope": "admin"}, headers=admin).get_json()
    assert client.delete(f"/keys/{own}", headers=admin).status_code == 200  # not the last
    other = {"Authorization": f"Bearer {second['key']}"}
    assert client.delete(f"/keys/{second['id']}", headers=other).status_code == 409
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", demo_url)
    revoked = CliRunner().invoke(main, ["keys", "revoke", str(second["id"])])
    assert revoked.exit_code == 0 and "revoked" in revoked.output  # the operator still can


def test_an_editor_key_cannot_post_a_bulletin(client, demo_directory):
    editor = {"Authorization": f"Bearer {_key(demo_directory, 'editor:1')}"}
    response = client.post("/bulletins", json={"kind": "appeal", "title": "Appeal"},
                           headers=editor)  # fmt: skip
    assert response.status_code == 403 and "police:" in response.get_json()["message"]
