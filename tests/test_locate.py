"""Locate what a person typed; place names through a loopback server that answers like Nominatim."""

from __future__ import annotations

import json

import pytest
from werkzeug import Response

from api import create_app
from directory.geography.locate import LocateError, locate, parse_lat_lng


@pytest.mark.parametrize(
    ("typed", "precision", "label"),
    [
        ("wv111aa", "unit", "WV11 1AA"),
        ("WV11 1", "sector", "WV11 1"),
        ("wv11", "district", "WV11"),
        ("M14", "district", "M14"),
        ("LE", "area", "LE"),
        ("52.60,-2.08", "point", "52.6,-2.08"),
        (" 52.6 , -2.08 ", "point", "52.6,-2.08"),
    ],
)
def test_locate_forms(client, typed, precision, label):
    response = client.get("/locate", query_string={"q": typed})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["precision"], body["label"]) == (precision, label)
    assert 49 < body["latitude"] < 61 and -9 < body["longitude"] < 2


def test_district_location_is_its_centroid(client):
    located = client.get("/locate?q=WV11").get_json()
    summary = client.get("/outcodes/WV11").get_json()
    assert (located["latitude"], located["longitude"]) == (
        summary["latitude"],
        summary["longitude"],
    )


@pytest.mark.parametrize(
    ("typed", "status", "message"),
    [
        ("Nowhereville", 422, "has no geocoder for other names"),
        ("95,0", 422, "not a valid latitude,longitude"),
        ("48.85,2.35", 422, "outside the UK"),
        ("WV99 9ZZ", 404, "postcode not found"),
        ("WV98 2AA", 422, "has no coordinates"),
        ("", 422, "Length must be between 1 and 200"),
    ],
)
def test_locate_errors(client, typed, status, message):
    response = client.get("/locate", query_string={"q": typed})
    assert response.status_code == status
    assert message in json.dumps(response.get_json())


def test_parse_lat_lng_only_takes_pairs():
    assert parse_lat_lng("52.6,-2.08") == (52.6, -2.08)
    assert parse_lat_lng("WV11") is None
    assert parse_lat_lng("52.6 -2.08") is None
    with pytest.raises(LocateError):
        parse_lat_lng("52.6,-200")


NOMINATIM_WEDNESFIELD = [
    {
        "place_id": 123,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. https://osm.org/copyright",
        "osm_type": "node",
        "osm_id": 21289413,
        "lat": "52.5998",
        "lon": "-2.0831",
        "class": "place",
        "type": "suburb",
        "display_name": "Wednesfield, Wolverhampton, West Midlands, England, United Kingdom",
        "boundingbox": ["52.5798", "52.6198", "-2.1031", "-2.0631"],
    }
]


@pytest.fixture
def geocoding_app(demo_url, httpserver):
    app = create_app(
        {
            "DATABASE_URL": demo_url,
            "GEOCODER": "nominatim",
            "GEOCODER_DOMAIN": f"127.0.0.1:{httpserver.port}",
            "GEOCODER_SCHEME": "http",
            "GEOCODER_MIN_DELAY_SECONDS": 0.0,
            "GEOCODER_TIMEOUT_SECONDS": 2.0,
            "GEOCODER_USER_AGENT": "hyperlocal-tests/1 (+https://example.org/contact)",
        }
    )
    yield app
    app.extensions["hyperlocal_db"].engine.dispose()


def test_place_name_through_nominatim_is_cached(geocoding_app, httpserver):
    pool = geocoding_app.extensions["hyperlocal_db"].engine.pool
    checked_out_while_geocoding = []

    def nominatim(request):  # type: ignore[no-untyped-def]
        checked_out_while_geocoding.append(pool.checkedout())
        return Response(json.dumps(NOMINATIM_WEDNESFIELD), content_type="application/json")

    httpserver.expect_request("/search").respond_with_handler(nominatim)
    client = geocoding_app.test_client()
    for _ in range(2):
        response = client.get("/locate?q=Fallings Park")
        assert response.status_code == 200
        body = response.get_json()
        assert body["precision"] == "place" and body["label"].startswith("Wednesfield")
        assert (body["latitude"], body["longitude"]) == (52.5998, -2.0831)
    assert len(httpserver.log) == 1  # the second answer came from the cache
    assert checked_out_while_geocoding == [0]  # no connection held while waiting on it
    request = httpserver.log[0][0]
    assert request.args["q"] == "Fallings Park" and request.args["countrycodes"] == "gb"
    assert request.headers["User-Agent"].startswith("hyperlocal-tests/1")
    # Postcodes never reach the geocoder.
    assert client.get("/locate?q=WV11").get_json()["precision"] == "district"
    assert len(httpserver.log) == 1


def test_unknown_place_is_404(geocoding_app, httpserver):
    httpserver.expect_request("/search").respond_with_json([])
    response = geocoding_app.test_client().get("/locate?q=Nowhereville")
    assert response.status_code == 404
    assert "no place called 'Nowhereville'" in response.get_json()["message"]


def test_place_outside_the_uk_is_not_found(geocoding_app, httpserver):
    paris = [dict(NOMINATIM_WEDNESFIELD[0], lat="48.8566", lon="2.3522", display_name="Paris")]
    httpserver.expect_request("/search").respond_with_json(paris)
    assert geocoding_app.test_client().get("/locate?q=Paris").status_code == 404


def test_geocoder_failure_is_503_and_not_cached(geocoding_app, httpserver):
    httpserver.expect_ordered_request("/search").respond_with_response(
        Response("overloaded", status=503)
    )
    httpserver.expect_ordered_request("/search").respond_with_json(NOMINATIM_WEDNESFIELD)
    client = geocoding_app.test_client()
    failed = client.get("/locate?q=Fallings Park")
    assert failed.status_code == 503
    assert "geocoder failed" in failed.get_json()["message"]
    assert client.get("/locate?q=Fallings Park").status_code == 200


def test_locate_function_takes_any_geocoder(app):
    from directory.geography.locate import GeocodedPlace

    calls = []

    def fake(name: str) -> GeocodedPlace | None:
        calls.append(name)
        return GeocodedPlace(52.6, -2.08, name)

    def no_database():  # type: ignore[no-untyped-def]
        raise AssertionError("a place name must not open a database connection")

    assert locate(no_database, "Fallings Park", fake, lambda name: []).precision == "place"
    with app.extensions["hyperlocal_db"].sessions() as session:
        assert locate(lambda: session, "WV11 1AA", fake).precision == "unit"
    assert calls == ["Fallings Park"]


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("Wednesfield", "Wednesfield"),
        ("wednesfield", "Wednesfield"),
        ("Abertawe", "Abertawe"),  # Swansea under its Welsh name
        ("Caerfyrddin", "Caerfyrddin"),
        ("hebden-bridge", "Hebden Bridge"),
    ],
)
def test_place_names_are_found_in_the_gazetteer_without_a_geocoder(client, typed, label):
    """/locate?q=<town> needed a geocoder; the embedded gazetteer knows every GB town."""
    body = client.get("/locate", query_string={"q": typed}).get_json()
    assert body["precision"] == "place" and body["label"] == label, body


def test_a_name_shared_by_several_places_is_the_most_populous_and_says_so(client):
    body = client.get("/locate?q=Newport").get_json()
    assert body["label"].startswith("Newport (the most populous of ")
    assert round(body["latitude"], 1) == 51.6  # Newport, Gwent (Casnewydd)


@pytest.mark.parametrize(
    ("name", "key"),
    [("St. Mellons", "st mellons"), ("Saint Mellons", "st mellons"), ("Ynys Môn", "ynys mon"),
     ("Hebden-Bridge", "hebden bridge"), ("Bishop's Stortford", "bishops stortford"),
     ("St David’s", "st davids"),
     ("  STAPLEFORD  ", "stapleford")],
)  # fmt: skip
def test_place_keys_ignore_case_accents_punctuation_and_saint(name, key):
    from directory.geography.places import names_of, place_key

    assert place_key(name) == key
    assert names_of("Abertawe - Swansea") == ["Abertawe", "Swansea"]
    assert names_of("Caerdydd/Cardiff") == ["Caerdydd", "Cardiff"]
    assert names_of("Stoke-on-Trent") == ["Stoke-on-Trent"]


def test_places_by_the_start_of_their_name(client):
    body = client.get("/places?q=wednes").get_json()
    wednesfield = body["items"][0]
    assert wednesfield["name"] == "Wednesfield" and wednesfield["source"] == "geonames"
    assert wednesfield["police_force"] == {"id": "west-midlands", "name": "West Midlands"}
    assert wednesfield["district"]["code"] == "E08000031"  # Wolverhampton
    assert "GeoNames" in body["attribution"]
    # Most populous first; a place's Welsh name is found too, once per place.
    newports = client.get("/places?q=Newport&limit=20").get_json()["items"]
    assert newports[0]["name"] == "Newport" and newports[0]["population"] > 100_000
    assert [p["name"] for p in client.get("/places?q=abertaw").get_json()["items"]] == ["Abertawe"]
    bees = [client.get(f"/places?q={q}").get_json()["items"] for q in ("st bees", "St. Bees",
                                                                       "saint bees")]  # fmt: skip
    assert bees[0] and bees[0] == bees[1] == bees[2]
    assert client.get("/places?q=w").status_code == 422
    assert client.get("/places?q=zzzzqqq").get_json()["items"] == []
