"""When a feed is checked next, feed discovery, and per-account feed addresses: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feeds.ingest import schedule
from feeds.ingest.discover import feed_links
from feeds.ingest.registry import account_feed_url

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def every(gap: timedelta, n: int = 10) -> list[datetime]:
    return [NOW - gap * i for i in range(n)]


@pytest.mark.parametrize(
    ("published", "previous", "ttl", "max_age", "expected"),
    [
        (every(2 * H), H, None, None, 2 * H),  # publishes every 2 h: check every 2 h
        (every(M), H, None, None, 5 * M),  # every minute: bounded below by 5 min
        (every(timedelta(days=7)), H, None, None, 24 * H),  # weekly: bounded above by a day
        ([], 3 * H, None, None, 3 * H),  # no dates: keep what we had
        ([NOW], 3 * H, None, None, 3 * H),  # one date is no cadence
        (every(20 * M), H, 60 * M, None, H),  # ttl asks for no more than hourly
        (every(20 * M), H, None, 2 * H, 2 * H),  # so does Cache-Control max-age
        (every(20 * M), H, 48 * H, None, 24 * H),  # but never less than daily
        ([NOW - 3 * H, NOW - 1 * H, NOW - 2 * H, NOW - 2 * H], H, None, None, H),  # unsorted, dup
    ],
)
def test_success_adapts_to_publishing(published, previous, ttl, max_age, expected):
    decision = schedule.after_success(NOW, previous, published, ttl, max_age)
    assert decision.interval == expected
    assert decision.next_check_at == NOW + expected
    assert decision.status == "active" and decision.error_count == 0


@pytest.mark.parametrize(
    ("errors_before", "wait", "jitter", "delay", "status"),
    [
        (0, None, 1.0, 5 * M, "active"),
        (1, None, 1.0, 10 * M, "active"),
        (3, None, 1.0, 40 * M, "active"),
        (3, None, 1.2, 48 * M, "active"),
        (0, 2 * H, 1.0, 2 * H, "active"),  # Retry-After longer than the backoff wins
        (3, 1 * M, 1.0, 40 * M, "active"),  # a shorter Retry-After does not shorten backoff
        (0, timedelta(days=3), 1.0, 24 * H, "active"),  # but nothing waits more than a day
        (6, None, 1.0, 320 * M, "active"),
        (7, None, 1.0, 640 * M, "failing"),  # the 8th failure in a row parks it
        (30, None, 1.0, 24 * H, "failing"),  # parked feeds are still tried daily
    ],
)
def test_failures_back_off_and_park(errors_before, wait, jitter, delay, status):
    decision = schedule.after_failure(NOW, H, errors_before, wait, jitter)
    assert decision.next_check_at == NOW + delay
    assert decision.status == status
    assert decision.error_count == errors_before + 1
    assert decision.interval == H  # the publishing interval is remembered for the recovery


def test_not_modified_keeps_the_interval_unless_asked_for_longer():
    assert schedule.after_not_modified(NOW, H).next_check_at == NOW + H
    assert schedule.after_not_modified(NOW, H, 3 * H).interval == 3 * H
    assert schedule.after_not_modified(NOW, M).interval == 5 * M


def test_gone_retires():
    decision = schedule.gone(H, 2)
    assert decision.status == "retired" and decision.next_check_at is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "public, max-age=600"}, 10 * M),
        ({"cache-control": "s-maxage=120, max-age=60"}, M),  # s-maxage is for shared caches
        ({"cache-control": "no-cache"}, None),
        ({}, None),
    ],
)
def test_max_age(headers, expected):
    assert schedule.max_age(headers) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 2 * M),
        ("Sat, 21 Nov 2026 13:00:00 GMT", H),
        ("Sat, 21 Nov 2026 11:00:00 GMT", timedelta(0)),  # in the past: no wait
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after(value, expected):
    assert schedule.retry_after({"retry-after": value}, NOW) == expected


def test_discovery_finds_rss_then_atom_resolving_relative_links():
    page = b"""<!doctype html><html><head>
      <link rel="stylesheet" href="/style.css">
      <link rel="alternate" type="application/atom+xml" href="/atom.xml" title="Atom">
      <link rel="Alternate" type="application/rss+xml; charset=utf-8" href="feed/">
      <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
      <link rel="alternate" type="text/html" href="/fr/">
    </head><body><a href="/not-a-feed.xml">feed</a></body></html>"""
    assert feed_links(page, "https://news.example.org/blog/") == [
        "https://news.example.org/blog/feed/",
        "https://news.example.org/atom.xml",
    ]


def test_discovery_honours_base_and_finds_nothing_in_a_plain_page():
    page = (
        b'<html><head><base href="https://cdn.example.org/x/">'
        b'<link rel="alternate" type="application/rss+xml" href="rss"></head></html>'
    )
    assert feed_links(page, "https://site.example.org/") == ["https://cdn.example.org/x/rss"]
    assert feed_links(b"<html><body>hello</body></html>", "https://site.example.org/") == []
    assert feed_links(b"\xff\xfe<<<>>>not html", "https://site.example.org/") == []


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ({"platform": "mastodon", "url": "https://mastodon.social/@wmpolice"},
         "https://mastodon.social/@wmpolice.rss"),
        ({"platform": "mastodon", "url": "https://police.example/@pc_smith/"},
         "https://police.example/@pc_smith.rss"),
        ({"platform": "mastodon", "url": "https://mastodon.social/@a/123"}, None),  # a post
        ({"platform": "bluesky", "url": "https://bsky.app/profile/wmp.bsky.social"},
         "https://bsky.app/profile/wmp.bsky.social/rss"),
        ({"platform": "bluesky", "url": "https://bsky.app/profile/x/post/1"}, None),
        ({"platform": "rss", "url": "https://team.example.org/feed.xml"},
         "https://team.example.org/feed.xml"),
        ({"platform": "x", "url": "https://x.com/wmpolice"}, None),  # no per-account feed
        ({"platform": "facebook", "url": "https://facebook.com/wmp"}, None),
    ],
)  # fmt: skip
def test_account_feeds(account, expected):
    assert account_feed_url(account) == expected


@pytest.mark.parametrize(
    ("owner", "expected"),
    [("force:kent", 5 * M), ("neighbourhood:12", 5 * M), ("officer:3", 5 * M),
     ("site:12", 24 * H)],
)  # fmt: skip
def test_police_feeds_have_a_ceiling(owner, expected):
    ceiling = schedule.ceiling_for(owner)
    assert ceiling == expected
    weekly = schedule.after_success(NOW, H, every(timedelta(days=7)), ttl=2 * H, ceiling=ceiling)
    assert weekly.interval == min(expected, 24 * H)  # whatever it publishes or asks
    assert schedule.after_not_modified(NOW, 3 * H, 6 * H, ceiling).interval == min(expected, 6 * H)
    assert schedule.ceiling_for(owner, 2 * M) == (2 * M if owner != "site:12" else 24 * H)
