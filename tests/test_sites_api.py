"""Sites over HTTP: submit, moderate, edit with the right key, list, filter, search by place."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from directory.sites.models import Site
from tests.conftest import bearer

WV11_SECTORS = {"type": "postcodes", "postcodes": ["WV11 1", "WV11 2"]}
LE1_CIRCLE = {"type": "circle", "center": "LE1 1AA", "radius_m": 800}
M14_BOX = {
    "type": "polygon",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[-2.24, 53.44], [-2.20, 53.44], [-2.20, 53.46], [-2.24, 53.46],
                         [-2.24, 53.44]]],
    },
}  # fmt: skip


def _submit(client, **fields):  # type: ignore[no-untyped-def]
    body = {"name": "WV11 News", "url": "https://wv11.example.org/", "area": WV11_SECTORS}
    body.update(fields)
    return client.post("/sites", json=body)


def _approved(client, admin, **fields) -> int:  # type: ignore[no-untyped-def]
    response = _submit(client, **fields)
    assert response.status_code == 201, response.get_json()
    site_id = response.get_json()["id"]
    assert (
        client.patch(f"/sites/{site_id}", json={"status": "approved"}, headers=admin).status_code
        == 200
    )
    return site_id


def _site_count(app) -> int:
    with app.extensions["hyperlocal_db"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Site))


def test_anyone_submits_a_pending_site_and_cannot_approve_it(client, app):
    response = _submit(
        client,
        url="HTTPS://WV11.Example.ORG",
        status="approved",
        approved=True,
        contact_email="editor@wv11.example.org",
        feed_urls=["https://wv11.example.org/feed", "https://wv11.example.org/feed"],
        social_accounts=[{"platform": "twitter", "url": "https://twitter.com/wv11news"}],
        platform="WordPress",
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending" and body["url"] == "https://wv11.example.org/"
    assert body["feed_urls"] == ["https://wv11.example.org/feed"]
    assert body["social_accounts"] == [
        {"platform": "x", "handle": "", "url": "https://twitter.com/wv11news"}
    ]
    assert body["platform"] == "wordpress" and body["area"]["postcodes"] == ["WV11 1", "WV11 2"]
    assert response.headers["Cache-Control"] == "no-store"
    # Not public until approved.
    assert client.get("/sites").get_json()["pagination"]["total"] == 0
    assert client.get(f"/sites/{body['id']}").status_code == 404


def test_admin_moderates_and_the_public_never_sees_the_email(client, app):
    admin = bearer(app, "admin")
    site_id = _submit(client, contact_email="ed@example.org").get_json()["id"]
    pending = client.get("/sites?status=pending", headers=admin).get_json()
    assert [s["id"] for s in pending["items"]] == [site_id]
    assert pending["items"][0]["contact_email"] == "ed@example.org"
    assert client.get("/sites?status=pending").status_code == 403
    approved = client.patch(f"/sites/{site_id}", json={"status": "approved"}, headers=admin)
    assert approved.status_code == 200 and approved.get_json()["reviewed_at"]
    public = client.get(f"/sites/{site_id}").get_json()
    assert public["status"] == "approved"
    assert "contact_email" not in public and "reviewed_at" not in public
    listed = client.get("/sites").get_json()["items"]
    assert [s["id"] for s in listed] == [site_id] and "contact_email" not in listed[0]
    rejected = client.patch(f"/sites/{site_id}", json={"status": "rejected"}, headers=admin)
    assert rejected.get_json()["status"] == "rejected"
    assert client.get("/sites").get_json()["items"] == []


def test_editors_edit_their_own_site_only(client, app):
    admin = bearer(app, "admin")
    mine = _approved(client, admin)
    theirs = _approved(client, admin, url="https://other.example.org/", name="Other")
    editor = bearer(app, f"editor:{mine}")
    renamed = client.patch(f"/sites/{mine}", json={"name": "WV11 Voice"}, headers=editor)
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "WV11 Voice"
    assert renamed.get_json()["status"] == "approved"
    # The editor sees the private view of their own site.
    assert "contact_email" in client.get(f"/sites/{mine}", headers=editor).get_json()
    assert client.patch(f"/sites/{theirs}", json={"name": "x"}, headers=editor).status_code == 403
    denied = client.patch(f"/sites/{mine}", json={"status": "approved"}, headers=editor)
    assert denied.status_code == 403 and "only an admin" in denied.get_json()["message"]
    assert client.patch(f"/sites/{mine}", json={"name": "x"}).status_code == 401
    assert client.delete(f"/sites/{mine}", headers=editor).status_code == 403


def test_admin_deletes(client, app):
    admin = bearer(app, "admin")
    site_id = _approved(client, admin)
    assert client.delete(f"/sites/{site_id}", headers=admin).status_code == 204
    assert client.get(f"/sites/{site_id}", headers=admin).status_code == 404


def test_same_site_twice_is_a_conflict(client, app):
    first = _submit(client)
    assert first.status_code == 201
    again = _submit(client, url="https://WV11.example.org:443/#about")
    # The first is still pending, so not public: the conflict does not give away its id.
    message = again.get_json()["message"]
    assert again.status_code == 409 and "already been submitted" in message
    assert f"site {first.get_json()['id']}" not in message and "(site" not in message
    admin = bearer(app, "admin")
    client.patch(f"/sites/{first.get_json()['id']}", json={"status": "approved"}, headers=admin)
    listed = _submit(client, url="https://wv11.example.org/")
    assert listed.status_code == 409 and "already listed (site" in listed.get_json()["message"]


def test_two_sites_may_not_list_the_same_feed(client, app):
    feed = "https://wv11.example.org/feed/"
    first = _submit(client, feed_urls=[feed])
    assert first.status_code == 201
    other = _submit(
        client, url="https://copycat.example.org/", feed_urls=["HTTPS://WV11.example.org/feed/"]
    )
    assert other.status_code == 409 and "already the feed of a site" in other.get_json()["message"]
    assert "(site" not in other.get_json()["message"]  # the first is pending: not public
    mine = _submit(client, url="https://copycat.example.org/")
    assert mine.status_code == 201
    editor = bearer(app, f"editor:{mine.get_json()['id']}")
    claimed = client.patch(f"/sites/{mine.get_json()['id']}", json={"feed_urls": [feed]},
                           headers=editor)  # fmt: skip
    assert claimed.status_code == 409
    own = client.patch(f"/sites/{first.get_json()['id']}", json={"feed_urls": [feed]},
                       headers=bearer(app, f"editor:{first.get_json()['id']}"))  # fmt: skip
    assert own.status_code == 200  # a site may keep listing its own feed


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "ftp://wv11.example.org/"}, "must start with http"),
        ({"area": {"type": "postcodes", "postcodes": ["WV99 9ZZ"]}}, "'WV99 9ZZ' is not in"),
        ({"area": {"type": "postcodes", "postcodes": ["WV111"]}}, "is not a UK postcode"),
        ({"area": {"type": "circle", "center": "WV11 1AA", "radius_m": 60_000}}, "at most 50,000"),
        ({"area": {"type": "circle", "center": {"lat": 40.7, "lng": -74}, "radius_m": 10}},
         "outside the UK"),
        ({"area": {"type": "square"}}, "unknown area type 'square'"),
        ({"area": {"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [
            [[-2.1, 52.6], [-2.0, 52.7], [-2.0, 52.6], [-2.1, 52.7], [-2.1, 52.6]]]}}},
         "self-intersection"),
        ({"social_accounts": [{"platform": "facebook", "url": "https://evil.example/"}]},
         "account 1: 'https://evil.example/' is not a facebook address"),
        ({"contact_email": "not-an-email"}, "is not an email address"),
        ({"feed_urls": ["javascript:alert(1)"]}, "feed 1"),
        ({"name": "  "}, "name is required"),
        ({"platform": "Word Press!"}, "should be a short word"),
    ],
)  # fmt: skip
def test_invalid_submissions_say_why_and_store_nothing(client, app, fields, message):
    response = _submit(client, **fields)
    assert response.status_code == 422
    assert message in response.get_json()["message"]
    assert _site_count(app) == 0


def test_missing_fields_are_field_errors(client):
    response = client.post("/sites", json={"name": "x"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"url", "area"}


def test_filters_and_pagination(client, app):
    admin = bearer(app, "admin")
    for n in range(25):
        _approved(client, admin, url=f"https://site{n:02}.example.org/", name=f"Site {n:02}",
                  platform="ghost" if n % 5 == 0 else "wordpress",
                  description="Allotments and bin days" if n == 7 else "")  # fmt: skip
    first = client.get("/sites?per_page=10").get_json()
    assert first["pagination"] == {"page": 1, "per_page": 10, "total": 25, "pages": 3}
    assert [s["name"] for s in first["items"]][:2] == ["Site 00", "Site 01"]
    last = client.get("/sites?per_page=10&page=3").get_json()
    assert len(last["items"]) == 5
    assert client.get("/sites?per_page=1000").get_json()["pagination"]["per_page"] == 100
    assert client.get("/sites?platform=ghost").get_json()["pagination"]["total"] == 5
    found = client.get("/sites?q=allotments").get_json()["items"]
    assert [s["name"] for s in found] == ["Site 07"]
    assert client.get("/sites?q=100%25").get_json()["items"] == []  # LIKE wildcards escaped
    assert client.get("/sites?page=0").status_code == 422


def test_search_by_place_covers_first_then_nearby(client, app):
    admin = bearer(app, "admin")
    covering = _approved(client, admin, name="WV11 News")
    circle = _approved(client, admin, name="Wednesfield Ring", url="https://ring.example.org/",
                       area={"type": "circle", "center": {"lat": 52.6158, "lng": -2.0700},
                             "radius_m": 600})  # fmt: skip
    _approved(client, admin, name="Leicester Live", url="https://le1.example.org/", area=LE1_CIRCLE)
    _approved(client, admin, name="Fallowfield", url="https://m14.example.org/", area=M14_BOX)
    pending = _submit(client, name="Pending", url="https://pending.example.org/").get_json()["id"]
    body = client.get("/sites?near=WV11 1AA&radius=2000").get_json()
    found = [(s["id"], s["reason"]) for s in body["items"]]
    assert found == [(covering, "covers"), (circle, "nearby")]
    nearby = body["items"][1]
    assert 0 < nearby["distance_m"] < 2000 and body["items"][0]["distance_m"] == 0
    assert pending not in [s["id"] for s in body["items"]]
    # The same by coordinates, and a tight radius leaves only the covering site.
    by_point = client.get("/sites?near=52.615855,-2.089476&radius=100").get_json()
    assert [s["id"] for s in by_point["items"]] == [covering]
    leicester = client.get("/sites?near=LE1").get_json()["items"]
    assert [s["name"] for s in leicester] == ["Leicester Live"]
    assert client.get("/sites?near=WV99 9ZZ").status_code == 404
    assert client.get("/sites?near=nowhere-at-all").status_code == 422


def test_a_changed_coverage_is_searched_at_once(client, app):
    """Areas are cached per process by row and last change: an edit must not serve stale."""
    admin = bearer(app, "admin")
    site_id = _approved(client, admin)
    assert [s["id"] for s in client.get("/sites?near=WV11 1AA&radius=100").get_json()["items"]] == [
        site_id
    ]
    moved = client.patch(f"/sites/{site_id}", json={"area": LE1_CIRCLE}, headers=admin)
    assert moved.status_code == 200
    assert client.get("/sites?near=WV11 1AA&radius=100").get_json()["items"] == []
    assert [s["id"] for s in client.get("/sites?near=LE1 1AA").get_json()["items"]] == [site_id]


def test_deleting_a_site_revokes_its_editors_keys(client, app):
    admin = bearer(app, "admin")
    first = _approved(client, admin)
    editor = bearer(app, f"editor:{first}")
    assert client.delete(f"/sites/{first}", headers=admin).status_code == 204
    # Whatever id the next site gets, the old editor key no longer works at all.
    _approved(client, admin, url="https://next.example.org/", name="Next")
    assert client.patch(f"/sites/{first}", json={"name": "mine"}, headers=editor).status_code == 401


@pytest.mark.parametrize(
    ("area", "message"),
    [
        ({"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [[[-2.1, 52.6],
          [-2.0, 52.6, 10], [-2.0, 52.7], [-2.1, 52.6]]]}}, None),  # mixed 2 and 3 numbers: fine
        ({"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [[[-2.1, 52.6, "x"],
          [-2.0, 52.6], [-2.0, 52.7], [-2.1, 52.6, "x"]]]}}, "altitude must be a number"),
        ({"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [[[-2.1, 52.6, 1, 2],
          [-2.0, 52.6], [-2.0, 52.7], [-2.1, 52.6]]]}}, "not [longitude, latitude]"),
        ({"type": "circle", "center": "WV11 1AA", "radius_m": 10**400}, "out of range"),
        ({"type": "circle", "center": {"lat": 10**400, "lng": -2}, "radius_m": 100},
         "out of range"),
        ({"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [[[10**400, 52.6],
          [-2.0, 52.6], [-2.0, 52.7], [10**400, 52.6]]]}}, "out of range"),
        ({"type": "postcodes", "postcodes": [f"B{n} {d}" for n in range(1, 61)
                                             for d in range(10)]}, "at most 500 entries"),
    ],
)  # fmt: skip
def test_odd_numbers_and_shapes_are_422_not_500(client, area, message):
    response = _submit(client, area=area)
    if message is None:
        assert response.status_code == 201
    else:
        assert response.status_code == 422, response.get_json()
        assert message in response.get_json()["message"]


def test_nul_characters_huge_pages_and_long_urls_are_refused(client):
    assert client.get("/sites?q=a%00b").status_code == 422
    assert client.get("/forces/a%00b").status_code == 422
    assert _submit(client, contact_email="a\u0000b@example.org").status_code == 422
    assert client.get("/sites?page=99999999999999999999").status_code == 422
    long_host = ".".join(["ä"] * 900) + ".org"
    response = _submit(client, url=f"https://{long_host}/")
    assert response.status_code == 422 and "once normalised" in response.get_json()["message"]


def test_a_site_covers_at_most_100_km(client):
    wide = {"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [[
        [-3.0, 52.0], [-1.0, 52.0], [-1.0, 52.5], [-3.0, 52.5], [-3.0, 52.0]]]}}  # fmt: skip
    response = _submit(client, area=wide)
    assert response.status_code == 422
    assert "km across; a hyperlocal site covers at most 100 km" in response.get_json()["message"]
    assert (
        _submit(
            client, area={"type": "circle", "center": "WV11 1AA", "radius_m": 49_000}
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    "query",
    ["Ünïcødé", "ünïcødé", "UNICODE", "unicode", "nïc", "CAFÉ", "cafe", "Tromso", "ﬁeld"],
)
def test_search_folds_case_and_accents_alike_on_every_database(client, app, query):
    """SQLite's LIKE folds ASCII only: q=Ünïcødé found nothing where q=nïc found the site."""
    admin = bearer(app, "admin")
    _approved(client, admin, url="https://unicode.example.org/", name="Ünïcødé Café News",
              description="News from Tromsø Road and Sheffield")  # fmt: skip
    _approved(client, admin, url="https://other.example.org/", name="Other News")
    found = client.get("/sites", query_string={"q": query}).get_json()["items"]
    assert [s["name"] for s in found] == ["Ünïcødé Café News"], query


def test_search_text_follows_every_edit(client, app):
    admin = bearer(app, "admin")
    site = _approved(client, admin, url="https://renamed.example.org/", name="Old Name")
    assert client.patch(f"/sites/{site}", json={"name": "Crème Brûlée Gazette"},
                        headers=admin).status_code == 200  # fmt: skip
    assert [s["id"] for s in client.get("/sites?q=creme brulee").get_json()["items"]] == [site]
    assert client.get("/sites?q=old").get_json()["items"] == []
