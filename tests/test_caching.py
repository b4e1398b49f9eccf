"""Caching headers on every public read: Cache-Control a shared cache may act on, an ETag
answered with 304, ``Vary: Authorization``; reads with a key kept private; operators'
endpoints never cached."""

from __future__ import annotations

import time

import pytest

from tests.conftest import bearer

PUBLIC_READS = [
    "/postcodes/WV111AA",
    "/postcodes/WV111AA/local",
    "/outcodes/WV11",
    "/sites",
    "/forces",
    "/neighbourhoods?near=WV11+1AA",
    "/bulletins",
    "/posts",
    "/area/WV11%201AA",
    "/area/WV11%201AA/feed.rss",
    "/embed/appeals?postcode=WV11+1AA",
    "/embed/appeals.json?postcode=WV11+1AA",
    "/",
]


@pytest.mark.parametrize("path", PUBLIC_READS)
def test_a_public_read_is_shared_cacheable_and_revalidates_to_a_304(
    client, demo_directory, path: str
) -> None:  # type: ignore[no-untyped-def]
    first = client.get(path)
    assert first.status_code == 200, (path, first.get_data(as_text=True)[:300])
    policy = first.headers["Cache-Control"]
    assert "public" in policy and "max-age=" in policy, policy
    assert "authorization" in {v.strip().lower() for v in first.headers["Vary"].split(",")}
    etag = first.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    assert client.head(path, headers={"If-None-Match": etag}).status_code == 304
    changed = client.get(path, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.data == first.data


def test_short_lived_reads_allow_stale_while_revalidate(client, demo_directory) -> None:  # type: ignore[no-untyped-def]
    policy = client.get("/bulletins").headers["Cache-Control"]
    assert policy == "public, max-age=30, stale-while-revalidate=60"
    # Postcodes change a few times a year: an hour.
    assert client.get("/postcodes/WV111AA").headers["Cache-Control"] == "public, max-age=3600"


def test_a_read_with_a_key_is_private_and_still_revalidates(client, demo_directory) -> None:  # type: ignore[no-untyped-def]
    admin = bearer(demo_directory, "admin")
    first = client.get("/sites?status=pending", headers=admin)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = client.get("/sites?status=pending",
                       headers={**admin, "If-None-Match": first.headers["ETag"]})  # fmt: skip
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
def test_operators_endpoints_are_never_cached(client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert "ETag" not in response.headers


def test_keys_and_errors_stay_out_of_caches(client, demo_directory) -> None:  # type: ignore[no-untyped-def]
    keys = client.get("/keys", headers=bearer(demo_directory, "admin"))
    assert keys.headers["Cache-Control"] == "no-store" and "ETag" not in keys.headers
    missing = client.get("/postcodes/WV991ZZ")
    assert missing.status_code == 404 and "ETag" not in missing.headers


def test_an_area_feed_built_again_later_keeps_its_etag(client, demo_directory) -> None:  # type: ignore[no-untyped-def]
    paths = [f"/area/WV11%201AA/feed.{fmt}" for fmt in ("rss", "atom", "json")]
    first = {path: client.get(path) for path in paths}
    time.sleep(1.1)  # a feed dated by when it was built would differ now
    for path, answer in first.items():
        again = client.get(path, headers={"If-None-Match": answer.headers["ETag"]})
        assert again.status_code == 304, path


def test_a_served_read_has_one_date_header(demo_directory) -> None:  # type: ignore[no-untyped-def]
    import urllib3

    from tests.conftest import serve

    base, stop = serve(demo_directory)
    try:
        answer = urllib3.PoolManager().request("GET", base + "/area/WV11%201AA")
        assert answer.status == 200 and len(answer.headers.getlist("Date")) == 1
    finally:
        stop()
