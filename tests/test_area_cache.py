"""The per-process area cache: bounded, keyed by row and change, loads only misses."""

from directory.geography.area_cache import AreaCache
from directory.geography.areas import circle_area


def _json(radius: float) -> dict:
    return circle_area(52.6, -2.08, radius).to_json()


def test_loads_misses_once_and_reloads_on_change():
    cache = AreaCache(max_items=10)
    loads: list[list[int]] = []

    def load(ids):  # type: ignore[no-untyped-def]
        loads.append(sorted(ids))
        return {i: _json(100 * i) for i in ids}

    first = cache.areas("db", [(1, "t1"), (2, "t1")], load)
    assert {i: a.radius_m for i, a in first.items()} == {1: 100, 2: 200}
    cache.areas("db", [(1, "t1"), (2, "t1")], load)
    assert loads == [[1, 2]]  # the second call was served from memory
    cache.areas("db", [(1, "t2")], load)  # row 1 changed
    assert loads == [[1, 2], [1]]
    cache.areas("other-db", [(1, "t2")], load)  # another database is another namespace
    assert loads[-1] == [1] and len(loads) == 3


def test_bounded_and_skips_empty_areas():
    cache = AreaCache(max_items=3)
    found = cache.areas(
        "db", [(i, 0) for i in range(1, 6)], lambda ids: {i: _json(50) for i in ids}
    )
    assert len(found) == 5 and len(cache._items) == 3
    empty = cache.areas("db", [(9, 0)], lambda ids: {9: None})
    assert empty == {}
