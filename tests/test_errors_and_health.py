"""One error shape everywhere; health and attribution."""

from __future__ import annotations

from sqlalchemy import text

from api import create_app
from tests.conftest import DEMO_POSTCODE_COUNT

ERROR_KEYS = {"code", "status", "message"}


def test_unknown_route_is_json_404(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404 and response.is_json
    body = response.get_json()
    assert set(body) >= ERROR_KEYS and "/no/such/thing" in body["message"]


def test_wrong_method_is_json_405(client):
    response = client.delete("/postcodes/WV111AA")
    assert response.status_code == 405 and response.is_json
    assert set(response.get_json()) >= ERROR_KEYS and "GET" in response.headers["Allow"]


def test_malformed_json_body_is_a_clear_error(client):
    response = client.post(
        "/postcodes/lookup", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422) and set(response.get_json()) >= ERROR_KEYS


def test_unexpected_failure_is_json_500_without_details(demo_url):
    app = create_app({"DATABASE_URL": demo_url})

    @app.get("/explode")
    def explode():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/explode")
    assert response.status_code == 500
    body = response.get_json()
    assert set(body) >= ERROR_KEYS and "secret" not in body["message"]
    app.extensions["hyperlocal_db"].engine.dispose()


def test_health_counts_postcodes_and_serves_attribution(client):
    body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["postcodes"] == DEMO_POSTCODE_COUNT
    assert "Contains OS data © Crown copyright" in body["attribution"]["attribution"]
    about = client.get("/about").get_json()
    assert "Royal Mail" in about["attribution"][0]["attribution"]


def test_health_reports_an_unreachable_database_without_its_details():
    """Port 9 on loopback: nothing listens, so the connection is refused at once."""
    url = "postgresql+psycopg://secret_role@127.0.0.1:9/nowhere"
    app = create_app({"DATABASE_URL": url, "VERIFY_SCHEMA": False})
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["postcodes"] is None
    assert "secret_role" not in response.get_data(as_text=True)
    assert "127.0.0.1" not in response.get_data(as_text=True)
    app.extensions["hyperlocal_db"].engine.dispose()


def test_health_reports_a_broken_schema(migrated_url):
    app = create_app({"DATABASE_URL": migrated_url})
    engine = app.extensions["hyperlocal_db"].engine
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE postcodes"))
    response = app.test_client().get("/health")
    assert response.status_code == 503 and "postcodes" not in response.get_json()["database"]
    engine.dispose()


def test_body_that_is_not_json_is_415(client):
    for content_type in ("application/x-www-form-urlencoded", "text/plain"):
        response = client.post(
            "/postcodes/lookup",
            data='{"postcodes": ["WV11 1AA"]}',
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 415
        assert "Content-Type: application/json" in response.get_json()["message"]


def test_wrong_method_names_the_right_ones(client):
    body = client.put("/postcodes/WV111AA").get_json()
    assert body["message"] == "PUT is not allowed here; use GET"
    lookup = client.get("/postcodes/lookup")
    assert lookup.status_code == 405 and lookup.headers["Allow"] == "POST"
    assert "POST /postcodes/lookup" in lookup.get_json()["message"]


def test_index_points_to_where_to_start(client):
    body = client.get("/").get_json()
    assert body["links"]["documentation"] == "/docs"
    assert client.get(body["links"]["postcode"]).status_code == 200
    assert "Contains OS data" in body["attribution"][0]["attribution"]


def _body_endpoints(app):  # type: ignore[no-untyped-def]
    """(method, path) of every route that takes a body, with placeholder path values."""
    import re

    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH"}):
            path = re.sub(r"<int(\([^)]*\))?:[^>]+>", "1", rule.rule)
            path = re.sub(r"<(any\([^)]*\)|string|path)?:?[^>]*>", "x", path)
            yield method, path


def test_deeply_nested_json_is_a_clear_error_on_every_endpoint(app, client):
    """A thousand levels of [[[...]]] overflow the JSON decoder's recursion: every endpoint
    that takes a body answers 400 in the one shape, never 500."""
    nested = "[" * 5000 + "]" * 5000
    endpoints = list(_body_endpoints(app))
    assert len(endpoints) >= 10  # sites, subscriptions, bulletins, keys, officers, lookup...
    for method, path in endpoints:
        response = client.open(path, method=method, data=nested,
                               headers={"Content-Type": "application/json"})  # fmt: skip
        assert response.status_code == 400, (method, path, response.status_code)
        body = response.get_json()
        assert set(body) >= ERROR_KEYS and "nested" in body["message"], (method, path, body)
