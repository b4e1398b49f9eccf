"""One source of truth: a hand-built representation and its schema describe the same fields.

Several views build their JSON with ``*_json`` functions and send it (some straight past
marshmallow), while the marshmallow schema beside each builder is what openapi.yaml publishes.
A field the builder adds, drops or shapes differently makes openapi.yaml lie, and nothing at run
time notices: a dump through the schema silently drops what it does not declare. So each
(builder, schema) pair is held together here, on real rows of a real database (SQLite and
PostgreSQL): the fullest body a builder makes has exactly the schema's fields, nested schemas
included, with nulls only where the schema allows them, and each smaller variant a subset of
them; and dumping a body through its schema gives back the JSON the body itself goes out as.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from itertools import product
from typing import Any

import pytest
from marshmallow import Schema, fields
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from api import http_client
from api.bulletins import BulletinSchema
from api.feeds import (
    FeedDetailSchema,
    FeedSchema,
    PostSchema,
    feed_detail_json,
    feed_json,
    post_json,
)
from api.gazetteer import PlaceSchema
from api.police import force_json, neighbourhood_json, officer_json
from api.police_schemas import ForceSchema, LocalSchema, NeighbourhoodSchema, OfficerSchema
from api.postcode_schemas import PostcodeSchema
from api.postcodes import postcode_json
from api.sites import SiteSchema, site_json
from api.subscription_schemas import MessageSchema, SubscriptionSchema
from api.subscriptions import message_json, subscription_json
from directory.geography.postcodes import get_postcode
from directory.police.models import Officer
from directory.police.patches import neighbourhoods_near
from directory.police.store import active_officers, list_forces
from directory.sites.models import Site
from directory.sites.store import sites_near
from feeds.demo import DEMO_SUBSCRIBER, demo_feed_names, demo_feed_path, load_demo_directory
from feeds.ingest.models import Feed
from feeds.ingest.posts import list_posts
from feeds.syndication.bulletins import bulletin_json
from feeds.syndication.models import Bulletin, Subscription, WebhookAttempt, WebhookMessage
from feeds.syndication.webhooks import send_due
from feeds.worker import refresh_and_publish
from tests.conftest import bearer

PLACE = "WV11 1AA"  # a demo unit with a team, officers and a covering site


def wire(app, value: Any) -> Any:  # type: ignore[no-untyped-def]
    """``value`` as the JSON it goes out as: the app's JSON provider, with datetimes in ISO 8601
    as marshmallow's DateTime (and the views that skip it) write them."""

    def default(item: Any) -> Any:
        return item.isoformat() if isinstance(item, date | datetime) else app.json.default(item)

    return json.loads(app.json.dumps(value, default=default))


def shape_errors(body: dict, schema: Schema, leave_out: dict | None = None, at: str = "") -> list:
    """Where the keys of ``body`` (and of the objects nested in it) differ from the fields of
    ``schema``, or hold a null it does not allow; ``leave_out`` names fields a variant omits, by
    path ("/sites")."""
    expected = set(schema.fields) - (leave_out or {}).get(at, set())
    errors = []
    if set(body) != expected:
        errors.append(f"{at or '/'}: extra {sorted(set(body) - expected)}, "
                      f"missing {sorted(expected - set(body))}")  # fmt: skip
    for name, field in schema.fields.items():
        inner = field.inner if isinstance(field, fields.List) else field
        value = body.get(name)
        if value is None and name in body and not field.allow_none:
            errors.append(f"{at}/{name}: null, which the schema does not allow")
        if not isinstance(inner, fields.Nested) or value is None:
            continue
        for item in value if isinstance(field, fields.List) else [value]:
            errors += shape_errors(item, inner.schema, leave_out, f"{at}/{name}")
    return errors


@pytest.fixture
def world(app, httpserver: HTTPServer):  # type: ignore[no-untyped-def]
    """The demo directory with its feeds served on loopback and polled (posts, and bulletins
    from the police feed), a direct bulletin, and an outlet subscribed with a webhook whose
    secret was rotated and whose events were delivered. Returns the app and the subscription."""
    http = http_client({**app.config, "HTTP_ALLOW_LOOPBACK": True})
    app.extensions["hyperlocal_http"] = http
    for name in demo_feed_names():
        httpserver.expect_request(f"/demo/feeds/{name}").respond_with_data(
            demo_feed_path(name).read_bytes(), content_type="application/rss+xml"
        )
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    sessions = app.extensions["hyperlocal_db"].sessions
    with sessions() as session:
        load_demo_directory(session, feed_base=httpserver.url_for("/"))
        site = session.scalar(select(Site.id).where(Site.url == DEMO_SUBSCRIBER))
    client, editor = app.test_client(), bearer(app, f"editor:{site}")
    base = f"/sites/{site}/subscriptions"
    hook = httpserver.url_for("/hook")
    created = client.post(base, json={"label": "newsroom", "webhook_url": hook}, headers=editor)
    assert created.status_code == 201, created.get_json()
    sub_id = created.get_json()["id"]
    assert client.post(f"{base}/{sub_id}/rotate-secret", headers=editor).status_code == 200
    with sessions() as session:
        feed_ids = list(session.scalars(select(Feed.id).where(Feed.status == "active")))
    for feed_id in feed_ids:
        assert refresh_and_publish(sessions, feed_id, http).outcome == "new_items"
    warning = {"kind": "warning", "title": "Warning: distraction burglars in Wednesfield",
               "body_html": "<p>Two men posing as water board staff.</p>",
               "area": {"type": "postcodes", "postcodes": ["WV11 1"]}}  # fmt: skip
    found = {"kind": "update", "title": "Update: Kai, 15, missing from Heath Town, found safe",
             "link": "https://demo-police.example.org/west-midlands/news/missing-kai"}  # fmt: skip
    police = bearer(app, "police:west-midlands")
    for bulletin in (warning, found):  # the update resolves the missing-person bulletin
        posted = client.post("/bulletins", json=bulletin, headers=police)
        assert posted.status_code == 201, posted.get_json()
    assert client.post(f"{base}/{sub_id}/test", headers=editor).get_json()["delivered"]
    send_due(sessions, http)
    return app, sub_id


# ------------------------------------------------------------------ builders of real rows
# Each returns the bodies one builder makes of the world's rows: its fullest variant first.


def _postcodes(session, sub_id):  # type: ignore[no-untyped-def]
    return [postcode_json(get_postcode(session, pc)) for pc in (PLACE, "LE1 1AA")]


def _feeds(session, sub_id):  # type: ignore[no-untyped-def]
    return [feed_json(feed) for feed in session.scalars(select(Feed).order_by(Feed.id))]


def _places(session, sub_id):  # type: ignore[no-untyped-def]
    from api.gazetteer import place_json
    from directory.geography.places import search_places

    return [place_json(place, session) for place in search_places(session, "Wednes")]


def _feed_details(session, sub_id):  # type: ignore[no-untyped-def]
    return [feed_detail_json(session, f) for f in session.scalars(select(Feed).order_by(Feed.id))]


def _posts(session, sub_id):  # type: ignore[no-untyped-def]
    rows = list_posts(session, Feed.id.is_not(None), per_page=100).items
    rows.sort(key=lambda row: row[0].latitude is None)  # one with a point first
    return [post_json(post, owner, kind) for post, owner, kind in rows]


def _forces(session, sub_id):  # type: ignore[no-untyped-def]
    forces = sorted(list_forces(session), key=lambda force: not force.engagement)
    return [force_json(force) for force in forces]  # one with engagement channels first


def _officers(session, sub_id):  # type: ignore[no-untyped-def]
    return [officer_json(o) for o in session.scalars(select(Officer).order_by(Officer.id))]


def _neighbourhoods(session, sub_id):  # type: ignore[no-untyped-def]
    place = get_postcode(session, PLACE)
    match = neighbourhoods_near(session, place.latitude, place.longitude)[0]
    team = match.neighbourhood
    officers = active_officers(session, team.id)
    return [neighbourhood_json(team, officers=o, match=m, boundary=b)
            for o, m, b in product((officers, None), (match, None), (True, False))]  # fmt: skip


def _sites(session, sub_id):  # type: ignore[no-untyped-def]
    place = get_postcode(session, PLACE)
    match = sites_near(session, place.latitude, place.longitude, 2_000, postcode=PLACE)[0]
    return [site_json(match.site, private=p, match=m, area=a)
            for p, m, a in product((True, False), (match, None), (True, False))]  # fmt: skip


def _subscriptions(session, sub_id):  # type: ignore[no-untyped-def]
    ordered = select(Subscription).order_by((Subscription.id == sub_id).desc(), Subscription.id)
    return [subscription_json(subscription) for subscription in session.scalars(ordered)]


def _messages(session, sub_id):  # type: ignore[no-untyped-def]
    messages = list(session.scalars(select(WebhookMessage).order_by(WebhookMessage.id)
                                    .where(WebhookMessage.subscription_id == sub_id)))  # fmt: skip
    attempts: dict[int, list] = {m.id: [] for m in messages}
    sent = select(WebhookAttempt).where(WebhookAttempt.message_id.in_(list(attempts)))
    for attempt in session.scalars(sent.order_by(WebhookAttempt.id)):
        attempts[attempt.message_id].append(attempt)
    messages.sort(key=lambda m: not attempts[m.id])  # one that was sent first
    return [message_json(message, attempts[message.id]) for message in messages]


def _bulletins(session, sub_id):  # type: ignore[no-untyped-def]
    bulletins = list(session.scalars(select(Bulletin).order_by(Bulletin.id)))
    return [bulletin_json(b) for b in bulletins] + [bulletin_json(b, area=False) for b in bulletins]


PAIRS = [
    pytest.param(_postcodes, PostcodeSchema, id="postcode_json-PostcodeSchema"),
    pytest.param(_feeds, FeedSchema, id="feed_json-FeedSchema"),
    pytest.param(_places, PlaceSchema, id="place_json-PlaceSchema"),
    pytest.param(_feed_details, FeedDetailSchema, id="feed_detail_json-FeedDetailSchema"),
    pytest.param(_posts, PostSchema, id="post_json-PostSchema"),
    pytest.param(_forces, ForceSchema, id="force_json-ForceSchema"),
    pytest.param(_officers, OfficerSchema, id="officer_json-OfficerSchema"),
    pytest.param(_neighbourhoods, NeighbourhoodSchema, id="neighbourhood_json-NeighbourhoodSchema"),
    pytest.param(_sites, SiteSchema, id="site_json-SiteSchema"),
    pytest.param(_subscriptions, SubscriptionSchema, id="subscription_json-SubscriptionSchema"),
    pytest.param(_messages, MessageSchema, id="message_json-MessageSchema"),
    pytest.param(_bulletins, BulletinSchema, id="bulletin_json-BulletinSchema"),
]


@pytest.mark.parametrize(("build", "schema_class"), PAIRS)
def test_builder_and_schema_describe_the_same_json(world, build: Callable, schema_class: type):
    app, sub_id = world
    schema = schema_class()
    with app.test_request_context(), app.extensions["hyperlocal_db"].sessions() as session:
        bodies = build(session, sub_id)
    assert bodies, "no rows to build from"
    # The fullest variant (first), and any body as full: exactly the fields, nested ones too.
    for body in [bodies[0]] + [b for b in bodies[1:] if set(b) == set(schema.fields)]:
        assert shape_errors(body, schema) == []
    for body in bodies:
        assert set(body) <= set(schema.fields)
        assert wire(app, schema.dump(body)) == wire(app, body)


@pytest.mark.parametrize("postcode", [PLACE, "WV11 1"])
def test_local_body_is_what_local_schema_documents(client, demo_directory, postcode: str):
    """GET /postcodes/{pc}/local is built by hand in the view and sent past marshmallow."""
    served = client.get(f"/postcodes/{postcode}/local").get_json()
    assert served["neighbourhood"] and served["officers"] and served["sites"]
    # The lookup leaves out the team's outline and the sites' coverage and private details.
    private = {"area", "contact_email", "reviewed_at", "rejection_reason"}
    leave_out = {"/neighbourhood": {"boundary", "officers", "distance_m", "reason"},
                 "/sites": private, "/dormant_sites": private}  # fmt: skip
    assert shape_errors(served, LocalSchema(), leave_out) == []
    # Read back and written again, the body is unchanged: every value has the schema's type.
    schema = LocalSchema()
    assert wire(demo_directory, schema.dump(schema.load(served))) == served
