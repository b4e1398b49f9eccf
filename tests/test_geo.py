"""Distances, boxes and latitude bands."""

import pytest
from geopy.distance import great_circle

from directory.geography.geo import bbox_around, distance_m, in_uk, lat_band, lat_bands

PAIRS = [
    ((52.615855, -2.089476), (52.616, -2.0895)),  # next door
    ((52.615855, -2.089476), (52.6389, -1.13619)),  # Wolverhampton to Leicester
    ((50.0657, -5.7132), (58.6373, -3.0689)),  # Land's End to John o' Groats
    ((54.596538, -5.930069), (51.5014, -0.1419)),  # Belfast to London
]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_distance_matches_geopy_great_circle(a: tuple, b: tuple) -> None:
    assert distance_m(*a, *b) == pytest.approx(great_circle(a, b).m, rel=1e-9, abs=1e-6)


def test_distance_to_self_is_zero() -> None:
    assert distance_m(52.6, -2.08, 52.6, -2.08) == 0


@pytest.mark.parametrize("radius", [10, 250, 1000, 3000])
def test_bbox_holds_every_point_of_the_circle(radius: float) -> None:
    lat, lng = 52.615855, -2.089476
    box = bbox_around(lat, lng, radius)
    for bearing in range(0, 360, 15):
        edge = great_circle(meters=radius * 0.9999).destination((lat, lng), bearing)
        assert box.contains(edge.latitude, edge.longitude), bearing
    assert not box.contains(lat + 2 * radius / 111_000, lng)


def test_bands_cover_the_box() -> None:
    box = bbox_around(52.6099, -2.08, 500)
    bands = lat_bands(box)
    assert bands[0] == lat_band(box.min_lat) and bands[-1] == lat_band(box.max_lat)
    assert bands == list(range(bands[0], bands[-1] + 1))
    assert lat_band(52.6099) == 5260
    assert lat_band(-0.001) == -1


@pytest.mark.parametrize(
    ("lat", "lng", "inside"),
    [(52.6, -2.08, True), (54.6, -5.93, True), (60.15, -1.15, True), (48.85, 2.35, False),
     (40.7, -74.0, False), (53.3, -6.26, True)],  # Dublin is inside the generous box: say so
)  # fmt: skip
def test_uk_bounds(lat: float, lng: float, inside: bool) -> None:
    assert in_uk(lat, lng) is inside
