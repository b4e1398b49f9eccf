"""The postcode endpoints over HTTP (Flask test client on the demo database)."""

from __future__ import annotations

import pytest

from directory.geography.geo import distance_m


def test_get_postcode_in_any_form(client):
    response = client.get("/postcodes/wv111aa")
    assert response.status_code == 200
    body = response.get_json()
    assert body["postcode"] == "WV11 1AA" and body["canonical"] == "WV111AA"
    assert (body["outcode"], body["incode"], body["sector"], body["area"]) == (
        "WV11", "1AA", "WV11 1", "WV"
    )  # fmt: skip
    assert body["latitude"] == pytest.approx(52.615855) and body["longitude"] < -2
    assert body["positional_quality"]["code"] == 10
    assert body["country"] == {"code": "E92000001", "name": "England"}
    assert body["district"]["name"] == "City of Wolverhampton District (B)"
    assert body["ward"]["code"] == "E05014846"
    assert body["terminated"] is False and body["terminated_on"] is None
    assert "max-age" in response.headers["Cache-Control"]
    assert client.get("/postcodes/WV11%20%201aA").get_json()["postcode"] == "WV11 1AA"


def test_postcode_without_coordinates_says_so(client):
    body = client.get("/postcodes/WV98 2AA").get_json()
    assert body["latitude"] is None and body["positional_quality"]["code"] == 90


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/postcodes/WV111", 422, "'WV111' is not a UK postcode"),
        ("/postcodes/WV11", 422, "is a postcode district, not a full postcode; see /outcodes/WV11"),
        ("/postcodes/WV11 1", 422, "is a postcode sector"),
        ("/postcodes/WV", 422, "is a postcode area"),
        ("/postcodes/WV99 9ZZ", 404, "postcode not found"),
        ("/outcodes/WV99", 404, "district not found"),
        ("/outcodes/WV111AA", 422, "not an outcode"),
        ("/outcodes/nonsense/sectors", 422, "not a UK postcode"),
    ],
)
def test_invalid_and_unknown_have_distinct_messages(client, path, status, message):
    response = client.get(path)
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == status and message in body["message"]


def test_nearest_postcodes_are_sorted_and_within_radius(client):
    lat, lng = 52.6158, -2.0895
    body = client.get(f"/postcodes?lat={lat}&lng={lng}&radius=300&limit=5").get_json()
    results = body["results"]
    assert results[0]["postcode"] == "WV11 1AA"
    distances = [r["distance_m"] for r in results]
    assert distances == sorted(distances) and len(results) == 5 and distances[-1] <= 300
    for result in results:
        exact = distance_m(lat, lng, result["latitude"], result["longitude"])
        assert result["distance_m"] == pytest.approx(exact, abs=0.1)


def test_nearest_finds_every_postcode_within_the_radius(client, app):
    """Compared with brute force over the whole demo extract."""
    from sqlalchemy import select

    from directory.geography.models import Postcode

    lat, lng, radius = 52.5864, -2.1289, 600
    with app.extensions["hyperlocal_db"].sessions() as session:
        rows = session.execute(
            select(Postcode.postcode, Postcode.latitude, Postcode.longitude).where(
                Postcode.latitude.is_not(None)
            )
        ).all()
    expected = sorted(
        (distance_m(lat, lng, a, b), pc)
        for pc, a, b in rows
        if distance_m(lat, lng, a, b) <= radius
    )
    body = client.get(f"/postcodes?lat={lat}&lng={lng}&radius={radius}&limit=100").get_json()
    assert [r["postcode"] for r in body["results"]] == [pc for _, pc in expected][:100]
    assert len(expected) > 20


def test_nearest_matches_brute_force_at_random_points(app):
    """200 random points, radii and limits over the demo area, each against a full scan."""
    import random

    from sqlalchemy import select

    from directory.geography.models import Postcode
    from directory.geography.postcodes import nearest_postcodes

    engine = app.extensions["hyperlocal_db"].engine
    with engine.connect() as connection:
        rows = connection.execute(
            select(Postcode.postcode, Postcode.latitude, Postcode.longitude).where(
                Postcode.latitude.is_not(None), Postcode.terminated_on.is_(None)
            )
        ).all()
        rng = random.Random(20261121)
        for _ in range(200):
            _, lat, lng = rng.choice(rows)
            lat += rng.uniform(-0.01, 0.01)
            lng += rng.uniform(-0.015, 0.015)
            radius = rng.choice([30, 100, 250, 600, 1500, 3000])
            limit = rng.choice([1, 3, 10, 40, 100])
            expected = sorted(
                (d, pc) for pc, a, b in rows if (d := distance_m(lat, lng, a, b)) <= radius
            )[:limit]
            found = nearest_postcodes(connection, lat, lng, radius, limit)
            assert [n.record.postcode for n in found] == [pc for _, pc in expected], (
                lat, lng, radius, limit
            )  # fmt: skip


def test_nearest_defaults_and_clamps(client):
    body = client.get("/postcodes?lat=52.6158&lng=-2.0895").get_json()
    assert (body["radius"], body["limit"]) == (250, 10) and len(body["results"]) == 10
    body = client.get("/postcodes?lat=52.6158&lng=-2.0895&radius=99999&limit=5000").get_json()
    assert (body["radius"], body["limit"]) == (2000, 100) and len(body["results"]) == 100


def test_nearest_far_from_any_postcode_is_empty(client):
    body = client.get("/postcodes?lat=57.0&lng=-4.0").get_json()
    assert body["results"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lat=91&lng=0", "lat"),
        ("lat=52&lng=-200", "lng"),
        ("lat=abc&lng=0", "lat"),
        ("lng=0", "lat"),
        ("lat=52.6&lng=-2&radius=0", "radius"),
        ("lat=52.6&lng=-2&radius=-5", "radius"),
        ("lat=52.6&lng=-2&limit=0", "limit"),
        ("lat=52.6&lng=-2&limit=ten", "limit"),
    ],
)
def test_nearest_rejects_bad_parameters(client, query, field):
    response = client.get(f"/postcodes?{query}")
    assert response.status_code == 422
    body = response.get_json()
    assert field in body["errors"]["query"] and body["message"]


def test_bulk_lookup_keeps_order_and_nulls(client):
    sent = ["wv111aa", "NOT A POSTCODE", "LE1 1AA", "WV99 9ZZ", "WV11", "m145ws"]
    response = client.post("/postcodes/lookup", json={"postcodes": sent})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["query"] for r in results] == sent
    found = [r["result"]["postcode"] if r["result"] else None for r in results]
    assert found[:5] == ["WV11 1AA", None, "LE1 1AA", None, None]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"postcodes": []}, "between 1 and 100"),
        ({"postcodes": ["WV11 1AA"] * 101}, "between 1 and 100"),
        ({}, "Missing data"),
        ({"postcodes": "WV11 1AA"}, "Not a valid list"),
        ({"postcodes": [1, 2]}, "Not a valid string"),
    ],
)
def test_bulk_lookup_validates(client, body, fragment):
    response = client.post("/postcodes/lookup", json=body)
    assert response.status_code == 422
    assert fragment in str(response.get_json()["errors"])


def test_bulk_lookup_of_100(client):
    response = client.post("/postcodes/lookup", json={"postcodes": ["WV11 1AA"] * 100})
    assert response.status_code == 200 and len(response.get_json()["results"]) == 100


def test_outcode_summary(client):
    body = client.get("/outcodes/wv11").get_json()
    assert body["code"] == "WV11" and body["postcode_count"] == body["live_count"] > 600
    box = body["bbox"]
    assert box["min_lat"] < body["latitude"] < box["max_lat"]
    assert box["min_lng"] < body["longitude"] < box["max_lng"]
    # WV1 is its own district: the WV10 and WV11 units are not counted in it.
    wv1 = client.get("/outcodes/WV1").get_json()
    sectors = client.get("/outcodes/WV1/sectors").get_json()["sectors"]
    assert sum(s["postcode_count"] for s in sectors) == wv1["postcode_count"]
    assert all(s["code"].startswith("WV1 ") for s in sectors)


def test_outcode_centroid_ignores_units_without_coordinates(client, app):
    """WV98 (PO boxes) mixes located units with 137 that have none."""
    from sqlalchemy import func, select

    from directory.geography.models import Postcode

    with app.extensions["hyperlocal_db"].sessions() as session:
        located = Postcode.postcode.like("WV98 %") & Postcode.latitude.is_not(None)
        mean_lat = session.scalar(select(func.avg(Postcode.latitude)).where(located))
    body = client.get("/outcodes/WV98").get_json()
    assert body["postcode_count"] == 534
    assert body["latitude"] == pytest.approx(mean_lat, abs=1e-6)


def test_sectors(client):
    body = client.get("/outcodes/WV11/sectors").get_json()
    codes = [s["code"] for s in body["sectors"]]
    assert body["outcode"] == "WV11" and codes == sorted(codes) and "WV11 1" in codes
    assert sum(s["postcode_count"] for s in body["sectors"]) == 683


def test_single_lookup_body_is_exactly_what_the_schema_documents(client, app, migrated_url):
    """GET /postcodes/{pc} skips marshmallow at run time; its body must still be the schema's."""
    from api.postcode_schemas import PostcodeSchema
    from api.postcodes import postcode_json
    from directory.geography.postcode_import import import_postcodes
    from directory.geography.postcodes import get_postcode
    from directory.storage import create_db_engine
    from tests.conftest import TEST_DATA

    engine = create_db_engine(migrated_url)
    import_postcodes(engine, TEST_DATA / "onspd_sample.csv")  # terminated, unlocated, NI
    with engine.connect() as connection:
        for postcode in ("WV1 1ZZ", "WV10 9ZZ", "BT1 5GS", "WV11 1AA"):
            body = postcode_json(get_postcode(connection, postcode))
            assert PostcodeSchema().dump(body) == body
            assert set(body) == set(PostcodeSchema().fields)
    engine.dispose()
    served = client.get("/postcodes/WV111AA").get_json()
    assert PostcodeSchema().dump(served) == served


@pytest.mark.parametrize(
    ("postcode", "force", "name"),
    [
        ("WV11 1AA", "west-midlands", "West Midlands"),
        # WV10 straddles the boundary: this unit lies in South Staffordshire.
        ("WV10 7AA", "staffordshire", "Staffordshire"),
        ("LE1 1AA", "leicestershire", "Leicestershire"),
        ("M14 5RX", "greater-manchester", "Greater Manchester"),
    ],
)
def test_every_postcode_names_its_police_force_from_code_point_alone(client, postcode, force,
                                                                     name):  # fmt: skip
    """With Code-Point alone police_force_area was null and no force was known until its
    team boundaries were imported; the shipped district lookup names it from day one."""
    body = client.get(f"/postcodes/{postcode}").get_json()
    assert body["police_force"] == {"id": force, "name": name}
    assert body["police_force_area"].startswith("E23")
