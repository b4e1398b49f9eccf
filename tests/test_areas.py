"""Areas: postcode sets, circles and polygons; contains, intersects, bbox, centroid, refusals."""

from __future__ import annotations

import pytest
from geopy.distance import great_circle
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.geography.area_builders import polygon_area, postcode_area
from directory.geography.areas import AreaInvalid, area_from_json, circle_area
from directory.geography.postcodes import postcode_positions

# A box around Wednesfield (WV11), in GeoJSON order [lng, lat].
WEDNESFIELD = {
    "type": "Polygon",
    "coordinates": [
        [[-2.10, 52.60], [-2.06, 52.60], [-2.06, 52.63], [-2.10, 52.63], [-2.10, 52.60]]
    ],
}
# Leicester city centre (LE1), with a hole cut out of the middle.
LEICESTER_WITH_HOLE = {
    "type": "Polygon",
    "coordinates": [
        [[-1.15, 52.62], [-1.11, 52.62], [-1.11, 52.65], [-1.15, 52.65], [-1.15, 52.62]],
        [[-1.135, 52.632], [-1.125, 52.632], [-1.125, 52.638], [-1.135, 52.638], [-1.135, 52.632]],
    ],
}
TWO_PATCHES = {
    "type": "MultiPolygon",
    "coordinates": [WEDNESFIELD["coordinates"], [LEICESTER_WITH_HOLE["coordinates"][0]]],
}


@pytest.mark.parametrize(
    ("geojson", "lat", "lng", "inside"),
    [
        (WEDNESFIELD, 52.6158, -2.0895, True),
        (WEDNESFIELD, 52.60, -2.08, True),  # on the edge counts
        (WEDNESFIELD, 52.5864, -2.1289, False),  # Wolverhampton centre
        (LEICESTER_WITH_HOLE, 52.625, -1.14, True),
        (LEICESTER_WITH_HOLE, 52.635, -1.13, False),  # in the hole
        (TWO_PATCHES, 52.6158, -2.0895, True),
        (TWO_PATCHES, 52.625, -1.14, True),
        (TWO_PATCHES, 52.4, -1.5, False),  # Coventry, between them
    ],
)
def test_polygon_contains(geojson, lat, lng, inside):
    assert polygon_area(geojson).contains(lat, lng) is inside


@pytest.mark.parametrize(
    ("radius", "metres_away", "inside"),
    [(500, 0, True), (500, 499, True), (500, 501, False), (50_000, 49_990, True), (1, 2, False)],
)
def test_circle_contains_by_great_circle_distance(radius, metres_away, inside):
    centre = (52.6158, -2.0895)
    point = great_circle(meters=metres_away).destination(centre, 73)
    assert circle_area(*centre, radius).contains(point.latitude, point.longitude) is inside


def test_circle_bbox_and_centroid():
    area = circle_area(52.6158, -2.0895, 1000)
    box = area.bbox
    assert area.centroid == (52.6158, -2.0895)
    north = great_circle(meters=1000).destination((52.6158, -2.0895), 0)
    east = great_circle(meters=1000).destination((52.6158, -2.0895), 90)
    assert box.max_lat == pytest.approx(north.latitude, abs=1e-6)
    assert box.max_lng == pytest.approx(east.longitude, abs=2e-5)


@pytest.mark.parametrize(
    ("a", "b", "meet"),
    [
        ("wednesfield", "leicester", False),
        ("wednesfield", "patches", True),
        ("circle_in_wednesfield", "wednesfield", True),
        ("circle_near_wednesfield", "wednesfield", True),  # centre outside, edge reaches in
        ("circle_far", "wednesfield", False),
        ("circle_in_wednesfield", "circle_near_wednesfield", False),  # centres 2.9 km apart
        ("circle_in_wednesfield", "circle_overlapping", True),
        ("circle_far", "circle_in_wednesfield", False),
        ("circle_in_hole", "leicester", False),  # entirely inside the hole
    ],
)
def test_intersects_is_symmetric(a, b, meet):
    areas = {
        "wednesfield": polygon_area(WEDNESFIELD),
        "leicester": polygon_area(LEICESTER_WITH_HOLE),
        "patches": polygon_area(TWO_PATCHES),
        "circle_in_wednesfield": circle_area(52.6158, -2.0895, 300),
        # 52.59 is ~1.1 km south of the box's edge at 52.60
        "circle_near_wednesfield": circle_area(52.59, -2.08, 1500),
        "circle_far": circle_area(52.59, -2.08, 900),
        "circle_overlapping": circle_area(52.6158, -2.0800, 400),  # 640 m from the other
        "circle_in_hole": circle_area(52.635, -1.13, 100),
    }
    assert areas[a].intersects(areas[b]) is meet
    assert areas[b].intersects(areas[a]) is meet


def test_polygon_bbox_centroid_and_distance():
    area = polygon_area(WEDNESFIELD)
    box = area.bbox
    assert (box.min_lat, box.min_lng, box.max_lat, box.max_lng) == (52.60, -2.10, 52.63, -2.06)
    assert area.centroid == pytest.approx((52.615, -2.08))
    assert area.distance_m(52.6158, -2.0895) == 0
    south = great_circle(meters=2000).destination((52.60, -2.08), 180)
    assert area.distance_m(south.latitude, south.longitude) == pytest.approx(2000, rel=1e-3)


@pytest.mark.parametrize(
    ("geojson", "message"),
    [
        ({"type": "Point", "coordinates": [-2.08, 52.6]}, "Polygon or MultiPolygon, not 'Point'"),
        ({"type": "Polygon"}, "needs 'coordinates'"),
        ({"type": "Polygon", "coordinates": [[[-2.1, 52.6], [-2.0, 52.6], [-2.0, 52.7]]]},
         "ring 1 needs at least 4 positions"),
        ({"type": "Polygon", "coordinates": [[[-2.1, 52.6], [-2.0, 52.6], [-2.0, 52.7],
                                              [-2.1, 52.7]]]}, "ring 1 is not closed"),
        ({"type": "Polygon", "coordinates": [[[-2.1, 52.6], [-2.0, 52.7], [-2.0, 52.6],
                                              [-2.1, 52.7], [-2.1, 52.6]]]},
         "self-intersection at latitude 52.650000, longitude -2.050000"),
        ({"type": "Polygon", "coordinates": [[[2.35, 48.85], [2.36, 48.85], [2.36, 48.86],
                                              [2.35, 48.85]]]}, "outside the UK"),
        ({"type": "Polygon", "coordinates": [[["a", 52.6], [-2.0, 52.6], [-2.0, 52.7],
                                              ["a", 52.6]]]}, "position must be a number"),
        ({"type": "Polygon", "coordinates": [[[-2.1, 52.6], [-2.0, 52.6], [-2.05, 52.6],
                                              [-2.1, 52.6]]]}, "the polygon is not valid"),
        ("not an object", "must be a GeoJSON object"),
    ],
)  # fmt: skip
def test_invalid_polygons_are_refused_by_name(geojson, message):
    with pytest.raises(AreaInvalid, match=message.replace("[", r"\[").replace("(", r"\(")):
        polygon_area(geojson)


@pytest.mark.parametrize(
    ("lat", "lng", "radius", "message"),
    [
        (52.6, -2.08, 0, "must be more than 0"),
        (52.6, -2.08, -10, "must be more than 0"),
        (52.6, -2.08, 50_001, "at most 50,000 m"),
        (52.6, -2.08, float("nan"), "must be more than 0"),
        (40.7, -74.0, 100, "outside the UK"),
    ],
)
def test_invalid_circles_are_refused(lat, lng, radius, message):
    with pytest.raises(AreaInvalid, match=message):
        circle_area(lat, lng, radius)


def test_postcode_set_from_the_postcode_data(app):
    codes = ["wv111aa", "WV11 2", "LE1", "WV11 2"]
    with app.extensions["hyperlocal_db"].engine.connect() as connection:
        positions = postcode_positions(connection, codes)
        area = postcode_area(codes, positions)
        assert area.postcodes == ("LE1", "WV11 1AA", "WV11 2")
        # Membership by the point's own postcode: unit, sector or district.
        assert area.contains(0, 0, postcode="WV11 1AA")
        assert area.contains(0, 0, postcode="WV11 2AB")  # sector WV11 2
        assert area.contains(0, 0, postcode="LE1 5WW")  # district LE1
        assert not area.contains(0, 0, postcode="WV11 1AB")
        # Without a postcode, the footprint decides.
        assert area.contains(52.6389, -1.13619)  # Leicester city centre
        assert not area.contains(52.5864, -2.1289)  # Wolverhampton centre (WV1)
        assert area.intersects(polygon_area(LEICESTER_WITH_HOLE))
        assert not area.intersects(circle_area(52.5864, -2.1289, 300))
        with pytest.raises(AreaInvalid, match="'WV99 9ZZ' is not in the postcode data"):
            postcode_area(["WV99 9ZZ"], postcode_positions(connection, ["WV99 9ZZ"]))


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (["WV111"], "'WV111' is not a UK postcode"),
        (["WV"], "is a whole postcode area"),
        ([], "needs at least one"),
        ([42], "is not a postcode"),
    ],
)
def test_invalid_postcode_sets(codes, message):
    with pytest.raises(AreaInvalid, match=message):
        postcode_area(codes, {})


@pytest.mark.parametrize(
    "make",
    [
        lambda: circle_area(52.6158, -2.0895, 750),
        lambda: polygon_area(LEICESTER_WITH_HOLE),
        lambda: polygon_area(TWO_PATCHES),
        lambda: postcode_area(["WV11 1"], {"WV11 1": [(52.60, -2.09), (52.61, -2.08)]}),
    ],
)
def test_json_round_trip(make):
    import json

    area = make()
    again = area_from_json(json.loads(json.dumps(area.to_json())))
    assert again.kind == area.kind and again.to_json() == area.to_json()
    assert again.bbox == area.bbox
    lat, lng = area.centroid
    assert again.contains(lat, lng) == area.contains(lat, lng)


# ------------------------------------------------------------ property: the codec round-trips


def _ngon(cx: float, cy: float, r: float, n: int, turn: float) -> list[list[float]]:
    import math

    ring = [[round(cx + r * math.cos(turn + 2 * math.pi * k / n), 6),
             round(cy + r * 0.6 * math.sin(turn + 2 * math.pi * k / n), 6)]
            for k in range(n)]  # fmt: skip
    return ring + [ring[0]]


@st.composite
def holed_polygons(draw, west: float, south: float) -> list[list[list[float]]]:  # type: ignore[no-untyped-def]
    """A 0.2-degree box with up to 6 holes of 3 to 40 vertices each, one per cell of a 3x3
    grid so they never touch (a force area made of teams that do not tile exactly)."""
    cells = draw(st.lists(st.integers(0, 8), unique=True, max_size=6))
    size = 0.2
    shell = [[west, south], [west + size, south], [west + size, south + size],
             [west, south + size], [west, south]]  # fmt: skip
    holes = []
    for cell in cells:
        cx = west + size * (cell % 3 + 0.5) / 3
        cy = south + size * (cell // 3 + 0.5) / 3
        n = draw(st.integers(3, 40))
        radius = draw(st.floats(0.002, 0.025))
        holes.append(_ngon(cx, cy, radius, n, draw(st.floats(0, 3.14))))
    return [shell, *holes]


@st.composite
def area_geojson(draw):  # type: ignore[no-untyped-def]
    parts = draw(st.integers(1, 3))
    polygons = [draw(holed_polygons(-3.0 + 0.5 * i, 52.0)) for i in range(parts)]
    if parts == 1 and draw(st.booleans()):
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


@settings(max_examples=60, deadline=None, database=None)
@given(geojson=area_geojson())
def test_any_polygon_with_any_holes_reads_back_as_stored(geojson):
    """Two holes of different vertex counts could not be read back (numpy could not stack
    the rings), so a force area made of teams that do not tile stopped its whole feed."""
    import json

    area = polygon_area(geojson)
    stored = json.loads(json.dumps(area.to_json()))
    again = area_from_json(stored)
    assert again.to_json() == area.to_json()
    assert again.geometry.equals(area.geometry)
    holes = sum(len(rings) - 1 for rings in
                (geojson["coordinates"] if geojson["type"] == "MultiPolygon"
                 else [geojson["coordinates"]]))  # fmt: skip
    parts = getattr(again.geometry, "geoms", [again.geometry])
    assert sum(len(p.interiors) for p in parts) == holes
