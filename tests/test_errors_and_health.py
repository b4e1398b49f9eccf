"""One error shape everywhere; health and attribution."""

from __future__ import annotations

import re

from sqlalchemy import text

from api import create_app
from tests.conftest import DEMO_POSTCODE_COUNT, bearer

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
    assert body["message"] == "PUT is not allowed on /postcodes/WV111AA; use GET"
    lookup = client.get("/postcodes/lookup")
    allowed = lambda response: set(response.headers["Allow"].split(", "))  # noqa: E731
    assert lookup.status_code == 405 and allowed(lookup) == {"OPTIONS", "POST"}
    assert lookup.get_json()["message"] == "GET is not allowed on /postcodes/lookup; use POST"
    # The bulk lookup's address is its own: OPTIONS used to advertise the unit lookup's GET.
    assert allowed(client.options("/postcodes/lookup")) == {"OPTIONS", "POST"}
    assert allowed(client.options("/postcodes/WV111AA")) == {"GET", "HEAD", "OPTIONS"}


def test_index_points_to_where_to_start(client):
    body = client.get("/").get_json()
    assert body["links"]["documentation"] == "/docs"
    assert client.get(body["links"]["postcode"]).status_code == 200
    assert "Contains OS data" in body["attribution"][0]["attribution"]


def _body_endpoints(app):  # type: ignore[no-untyped-def]
    """(method, path) of every route that takes a body, with placeholder path values."""
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


def test_a_body_the_spec_requires_is_required(app, client):
    """Every body in the spec is marked required, but a PATCH with no body at all answered
    200, changing nothing. Each now answers 422 saying what to send; {} is still a body."""

    spec = client.get("/openapi.json").get_json()
    required = {(method.upper(), path) for path, item in spec["paths"].items()
                for method, operation in item.items()
                if isinstance(operation, dict)
                and operation.get("requestBody", {}).get("required")}  # fmt: skip
    # WebSub's hub takes a form, as its spec says: a missing form names the fields it needs.
    forms = {(method.upper(), path) for method, path in required
             if "application/x-www-form-urlencoded"
             in spec["paths"][path][method.lower()]["requestBody"]["content"]}  # fmt: skip
    assert forms == {("POST", "/websub/hub")}
    for method, path in forms:
        response = client.open(path, method=method)
        assert response.status_code == 422 and "hub.topic" in response.get_json()["errors"]["form"]
    required -= forms
    assert len(required) >= 10
    admin = bearer(app, "admin")
    for method, path in _body_endpoints(app):
        rule = _rule_of(app, method, path)
        documented = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule)
        if (method, documented) not in required:
            continue
        required.discard((method, documented))
        response = client.open(path, method=method, headers=admin)
        body = response.get_json()
        refused = response.status_code == 422 and "needs a JSON body" in body["message"]
        assert refused, (method, path, body)
        assert set(body) >= ERROR_KEYS
    assert required == set(), "every required body was tried"
    new = {"name": "Empty PATCH News", "url": "https://empty-patch.example.org/",
           "area": {"type": "postcodes", "postcodes": ["WV11 1"]}}  # fmt: skip
    site = client.post("/sites", json=new).get_json()["id"]
    assert client.patch(f"/sites/{site}", json={}, headers=admin).status_code == 200


def _rule_of(app, method, path) -> str:  # type: ignore[no-untyped-def]
    adapter = app.url_map.bind("localhost")
    rule, _ = adapter.match(path, method=method, return_rule=True)
    return rule.rule


def test_the_spec_says_what_is_refused_as_empty(client):
    """radius=0, an empty url and empty channels were refused without the spec saying so."""
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    assert schemas["SiteCreate"]["properties"]["url"]["minLength"] == 1
    assert schemas["SiteUpdate"]["properties"]["url"]["minLength"] == 1
    assert schemas["SiteCreate"]["properties"]["feed_urls"]["items"]["minLength"] == 1
    for name in ("SubscriptionCreate", "SubscriptionUpdate"):
        assert schemas[name]["properties"]["channels"]["minItems"] == 1, name
        assert schemas[name]["properties"]["kinds"]["minItems"] == 1, name
