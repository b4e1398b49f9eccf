"""Fetch -> parse -> store on loopback servers, on SQLite and PostgreSQL.

Every hostile or broken answer ends the same way: the feed's status and error recorded, the
posts already stored intact, and no exception escaping to the poller.
"""

from __future__ import annotations

import gzip
import threading
import time
from datetime import timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug import Response

from directory.geography.areas import circle_area
from directory.police.models import PoliceForce
from directory.sites.store import create_site, set_site_status, update_site
from directory.storage import utcnow
from feeds.directory_changes import site_changed
from feeds.ingest.http import FetchPolicy, HttpClient
from feeds.ingest.models import Feed, Post, PostTag
from feeds.ingest.poll import poll_due
from feeds.ingest.refresh import refresh_feed
from feeds.ingest.registry import sync_force_feeds
from feeds.ingest.schedule import MAX_FAILURES
from tests.conftest import TEST_DATA

FEEDS = TEST_DATA / "feeds"
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def rss(items: list[tuple[str, str]], title: str = "Test feed", extra: str = "") -> bytes:
    """An RSS 2.0 document of (guid, title) items, a day apart, newest first."""
    now = utcnow()
    parts = [
        f"<item><guid>{guid}</guid><title>{text}</title><link>https://news.example.org/{guid}"
        f"</link><pubDate>{format_datetime(now - timedelta(days=i))}</pubDate>"
        f"<description>&lt;p&gt;{text} #truepicture&lt;/p&gt;</description></item>"
        for i, (guid, text) in enumerate(items)
    ]
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title>{extra}{''.join(parts)}</channel></rss>").encode()  # fmt: skip


THREE = rss([("a", "First"), ("b", "Second"), ("c", "Third")])


@pytest.fixture
def fetcher() -> HttpClient:
    return HttpClient(
        FetchPolicy(
            allowed_networks=("127.0.0.1/32",),
            max_bytes=1_000_000,
            total_timeout=1.5,
            read_timeout=1,
            connect_timeout=1,
        )
    )


def add_site(sessions, feed_urls, url="https://news.example.org/", **kwargs) -> int:  # type: ignore[no-untyped-def]
    """An approved site with these feeds; returns its id."""
    with sessions() as session:
        site = create_site(session, name="Test News", url=url, feed_urls=feed_urls,
                           area=circle_area(52.6, -2.1, 1500), **kwargs)  # fmt: skip
        set_site_status(session, site, "approved")
        site_changed(session, site)
        session.commit()
        return site.id


def feed_of(sessions, site_id: int) -> Feed:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalars(
            select(Feed).where(Feed.site_id == site_id, Feed.status != "retired")
        ).one()


def post_count(sessions, feed_id: int) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(func.count()).where(Post.feed_id == feed_id))


def serve(httpserver: HTTPServer, path: str, body: bytes, **headers: str) -> None:
    httpserver.clear()
    httpserver.expect_request(path).respond_with_response(
        Response(body, headers={**RSS, **headers})
    )


def test_first_poll_stores_clean_items_and_the_next_sends_validators(sessions, fetcher, httpserver):
    body = (FEEDS / "police_rss2.xml").read_bytes()
    serve(
        httpserver, "/feed", body, ETag='"v1"', **{"Last-Modified": "Sat, 21 Nov 2026 08:00:00 GMT"}
    )
    site_id = add_site(sessions, [httpserver.url_for("/feed")])
    feed = feed_of(sessions, site_id)

    first = refresh_feed(sessions, feed.id, fetcher)
    assert first.outcome == "new_items" and first.error is None
    titles = {p.title for p in first.new_posts}
    assert "CCTV appeal after burglary in Wednesfield" in titles
    with sessions() as session:
        stored = session.get(Feed, feed.id)
        assert stored.etag == '"v1"' and stored.item_count == len(first.new_posts)
        assert stored.title == "Demo Police & Partners — News" and stored.last_error is None
        assert stored.next_check_at > utcnow() + timedelta(minutes=29)  # the feed's ttl is 30
        appeal = session.scalars(select(Post).where(Post.key == "guid:appeal-1234")).one()
        assert "<script" not in appeal.content_html and "onerror" not in appeal.content_html
        assert "javascript:" not in appeal.content_html
        assert (appeal.latitude, appeal.longitude) == (52.6159, -2.0895)
        assert appeal.published_at.isoformat() == "2026-11-16T09:30:00+00:00"
        tags = set(session.scalars(select(PostTag.tag).where(PostTag.post_id == appeal.id)))
        assert {"appeals", "wednesfield", "policing"} <= tags
        undated = session.scalars(select(Post).where(Post.title == "No link, no guid")).one()
        assert undated.published_at == undated.first_seen_at  # no date: first seen
    # The same guid twice in the document is one post.
    assert post_count(sessions, feed.id) == len(first.new_posts)

    httpserver.clear()
    httpserver.expect_request(
        "/feed",
        headers={"If-None-Match": '"v1"', "If-Modified-Since": "Sat, 21 Nov 2026 08:00:00 GMT"},
    ).respond_with_data("", status=304)
    second = refresh_feed(sessions, feed.id, fetcher)
    assert second.outcome == "not_modified" and second.new_posts == []
    with sessions() as session:
        assert session.get(Feed, feed.id).last_http_status == 304


def test_only_new_items_are_returned(sessions, fetcher, httpserver):
    serve(httpserver, "/feed", THREE)
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    assert len(refresh_feed(sessions, feed.id, fetcher).new_posts) == 3
    serve(httpserver, "/feed", rss([("d", "Fourth"), ("a", "First"), ("b", "Second")]))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert [p.title for p in result.new_posts] == ["Fourth"]
    assert post_count(sessions, feed.id) == 4  # "Third" left the feed but stays stored
    assert refresh_feed(sessions, feed.id, fetcher).outcome == "unchanged"


class CommitFails(Session):
    """A database that dies at the moment of commit (a poller killed mid-write)."""

    def commit(self) -> None:
        raise OperationalError("COMMIT", {}, Exception("connection lost"))


def test_a_poller_killed_before_commit_loses_nothing_and_duplicates_nothing(
    sessions, fetcher, httpserver
):
    serve(httpserver, "/feed", THREE, ETag='"v1"')
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    dying = sessionmaker(bind=sessions.kw["bind"], class_=CommitFails, expire_on_commit=False)
    crashed = refresh_feed(dying, feed.id, fetcher)
    assert crashed.outcome == "error" and "database" in crashed.error
    assert post_count(sessions, feed.id) == 0
    with sessions() as session:
        assert session.get(Feed, feed.id).etag is None  # validators only with their items

    again = refresh_feed(sessions, feed.id, fetcher)
    assert len(again.new_posts) == 3 and post_count(sessions, feed.id) == 3


def test_two_pollers_on_one_feed_store_each_item_once(sessions, fetcher, httpserver):
    serve(httpserver, "/feed", rss([(f"g{i}", f"Item {i}") for i in range(40)]))
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        refresh_feed(sessions, feed.id, fetcher))) for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert post_count(sessions, feed.id) == 40
    assert sum(len(r.new_posts) for r in results) == 40  # each post reported new exactly once
    with sessions() as session:
        assert session.get(Feed, feed.id).item_count == 40


def _drip():  # type: ignore[no-untyped-def]
    for _ in range(50):
        yield b"<"
        time.sleep(0.1)


def _endless():  # type: ignore[no-untyped-def]
    chunk = b"x" * 65536
    for _ in range(16_384):  # 1 GB if it were all read
        yield chunk


RELEASE = threading.Event()


def _hang(request):  # type: ignore[no-untyped-def]
    RELEASE.wait(5)  # until the test is over: the shared server must answer the next test
    return Response(THREE, headers=RSS)


BOMB = gzip.compress(b"<rss>" + b" " * 200_000_000, compresslevel=9)


@pytest.mark.parametrize(
    ("case", "respond", "error"),
    [
        ("html page", lambda s: s.respond_with_data("<!doctype html><html><body>Hi</body></html>",
                                                    content_type="text/html"), "web page"),
        ("empty 200", lambda s: s.respond_with_data(""), "empty"),
        ("not xml at all", lambda s: s.respond_with_data("just words, no feed"), "not a feed"),
        ("500", lambda s: s.respond_with_data("boom", status=500), "server failed (500)"),
        ("404", lambda s: s.respond_with_data("nope", status=404), "not found (404)"),
        ("hang", lambda s: s.respond_with_handler(_hang), "timeout"),
        ("drip", lambda s: s.respond_with_response(Response(_drip())), "timeout"),
        ("1 GB body", lambda s: s.respond_with_response(Response(_endless())), "too_large"),
        ("gzip bomb", lambda s: s.respond_with_data(BOMB, headers={"Content-Encoding": "gzip"}),
         "too_large"),
        ("bad gzip", lambda s: s.respond_with_data(b"not gzip",
                                                   headers={"Content-Encoding": "gzip"}),
         "bad_encoding"),
        ("redirect loop", lambda s: s.respond_with_data("", status=302,
                                                        headers={"Location": "/feed"}),
         "redirect_loop"),
        ("redirect to metadata", lambda s: s.respond_with_data(
            "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}),
         "forbidden_address"),
    ],
)  # fmt: skip
def test_broken_and_hostile_answers_are_recorded_and_keep_the_posts(
    sessions, fetcher, httpserver, case, respond, error
):
    RELEASE.clear()
    serve(httpserver, "/feed", THREE, ETag='"v1"')
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    assert len(refresh_feed(sessions, feed.id, fetcher).new_posts) == 3

    httpserver.clear()
    respond(httpserver.expect_request("/feed"))
    started = time.monotonic()
    result = refresh_feed(sessions, feed.id, fetcher)
    RELEASE.set()
    assert time.monotonic() - started < 3
    assert result.outcome == "error" and error in result.error, result.error
    with sessions() as session:
        stored = session.get(Feed, feed.id)
        assert stored.status == "active" and stored.error_count == 1
        assert error in stored.last_error
        assert stored.etag == '"v1"'  # the last good validators are kept
        assert stored.next_check_at > utcnow()
    assert post_count(sessions, feed.id) == 3


def test_a_feed_dripping_its_headers_fails_within_the_total_deadline(
    sessions, fetcher, header_drip_server
):
    """A byte of status line or header every 0.1 s never trips a read timeout; the feed's
    fetch still ends at the client's total deadline (1.5 s here) and is recorded as such."""
    feed = feed_of(sessions, add_site(sessions, [header_drip_server + "/feed"]))
    started = time.monotonic()
    result = refresh_feed(sessions, feed.id, fetcher)
    assert time.monotonic() - started < 3
    assert result.outcome == "error" and "timeout" in result.error, result.error
    with sessions() as session:
        assert session.get(Feed, feed.id).error_count == 1


def test_a_redirect_to_a_forbidden_loopback_server_never_reaches_it(
    sessions, fetcher, httpserver, forbidden_server
):
    target = f"http://127.0.0.2:{forbidden_server.port}/"
    httpserver.expect_request("/feed").respond_with_data("", status=301,
                                                         headers={"Location": target})  # fmt: skip
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert result.outcome == "error" and "forbidden_address" in result.error
    assert len(forbidden_server.log) == 0
    assert feed_of(sessions, feed.site_id).url == httpserver.url_for("/feed")


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_entity_attacks_are_not_expanded(sessions, fetcher, httpserver, name):
    serve(httpserver, "/feed", (FEEDS / name).read_bytes())
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert result.error is None
    with sessions() as session:
        stored = session.get(Feed, feed.id)
        assert stored.problem and "malformed" in stored.problem
        texts = " ".join(p.title + p.content_html for p in session.scalars(select(Post)))
    assert "lollol" not in texts and "root:" not in texts and len(texts) < 1000


def test_a_malformed_but_readable_feed_keeps_its_items_and_says_so(sessions, fetcher, httpserver):
    serve(httpserver, "/feed", (FEEDS / "truncated.xml").read_bytes())
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert [p.title for p in result.new_posts] == ["First complete item"]
    with sessions() as session:
        assert "malformed" in session.get(Feed, feed.id).problem


def test_permanent_redirects_move_the_feed_temporary_ones_do_not(sessions, fetcher, httpserver):
    httpserver.expect_request("/old").respond_with_data("", status=301,
                                                        headers={"Location": "/new"})  # fmt: skip
    httpserver.expect_request("/new").respond_with_response(Response(THREE, headers=RSS))
    httpserver.expect_request("/temp").respond_with_data("", status=302,
                                                         headers={"Location": "/new"})  # fmt: skip
    moved = feed_of(sessions, add_site(sessions, [httpserver.url_for("/old")]))
    kept = feed_of(sessions, add_site(sessions, [httpserver.url_for("/temp")],
                                      url="https://other.example.org/"))  # fmt: skip
    assert refresh_feed(sessions, moved.id, fetcher).outcome == "new_items"
    assert refresh_feed(sessions, kept.id, fetcher).outcome == "new_items"
    with sessions() as session:
        assert session.get(Feed, moved.id).url == httpserver.url_for("/new")
        assert session.get(Feed, kept.id).url == httpserver.url_for("/temp")


def test_gone_retires_the_feed_and_keeps_its_posts(sessions, fetcher, httpserver):
    serve(httpserver, "/feed", THREE)
    site_id = add_site(sessions, [httpserver.url_for("/feed")])
    feed = feed_of(sessions, site_id)
    refresh_feed(sessions, feed.id, fetcher)
    httpserver.clear()
    httpserver.expect_request("/feed").respond_with_data("gone", status=410)
    assert refresh_feed(sessions, feed.id, fetcher).outcome == "gone"
    with sessions() as session:
        stored = session.get(Feed, feed.id)
        assert stored.status == "retired" and stored.next_check_at is None
        assert "410" in stored.last_error
    assert post_count(sessions, feed.id) == 3
    assert refresh_feed(sessions, feed.id, fetcher).outcome == "skipped"
    summary = poll_due(sessions, fetcher, now=utcnow() + timedelta(days=30))
    assert summary.feeds == 0  # retired feeds are never claimed


def test_repeated_failures_park_the_feed_and_a_success_revives_it(sessions, fetcher, httpserver):
    httpserver.expect_request("/feed").respond_with_data(
        "boom", status=503, headers={"Retry-After": "7200"}
    )
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    now = utcnow()
    result = refresh_feed(sessions, feed.id, fetcher, now=now)
    with sessions() as session:
        assert session.get(Feed, feed.id).next_check_at == now + timedelta(hours=2)
    for _ in range(MAX_FAILURES - 1):
        result = refresh_feed(sessions, feed.id, fetcher, now=now)
    assert result.status == "failing"
    with sessions() as session:
        stored = session.get(Feed, feed.id)
        assert stored.status == "failing" and stored.error_count == MAX_FAILURES
    serve(httpserver, "/feed", THREE)
    assert refresh_feed(sessions, feed.id, fetcher).status == "active"
    with sessions() as session:
        stored = session.get(Feed, feed.id)
        assert (stored.status, stored.error_count, stored.last_error) == ("active", 0, None)


def test_a_home_page_is_enough_the_feed_is_discovered(sessions, fetcher, httpserver):
    page = (
        '<!doctype html><html><head><title>News</title><link rel="alternate" '
        'type="application/rss+xml" href="/feed.xml"></head><body>Hello</body></html>'
    )
    httpserver.expect_request("/").respond_with_data(page, content_type="text/html")
    httpserver.expect_request("/feed.xml").respond_with_response(Response(THREE, headers=RSS))
    site_id = add_site(sessions, [], url=httpserver.url_for("/"))
    feed = feed_of(sessions, site_id)
    assert feed.source == "home_page" and feed.url == httpserver.url_for("/")
    result = refresh_feed(sessions, feed.id, fetcher)
    assert result.outcome == "new_items" and len(result.new_posts) == 3
    assert feed_of(sessions, site_id).url == httpserver.url_for("/feed.xml")
    # Editing the site keeps the discovered feed rather than starting again from the page.
    with sessions() as session:
        from directory.sites.store import get_site

        update_site(session, get_site(session, site_id), description="Now with a description")
        site_changed(session, get_site(session, site_id))
        session.commit()
    again = feed_of(sessions, site_id)
    assert again.id == feed.id and again.url == httpserver.url_for("/feed.xml")


def test_a_home_page_without_a_feed_link_is_an_error_that_says_so(sessions, fetcher, httpserver):
    httpserver.expect_request("/").respond_with_data("<html><body>no feed</body></html>",
                                                     content_type="text/html")  # fmt: skip
    feed = feed_of(sessions, add_site(sessions, [], url=httpserver.url_for("/")))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert result.outcome == "error" and "web page" in result.error


def test_poll_due_polls_every_due_feed_once_and_reports(sessions, fetcher, httpserver):
    for i in range(6):
        httpserver.expect_request(f"/f{i}").respond_with_response(
            Response(rss([(f"{i}-a", "One"), (f"{i}-b", "Two")]), headers=RSS)
        )
    httpserver.expect_request("/broken").respond_with_data("boom", status=500)
    urls = [httpserver.url_for(f"/f{i}") for i in range(6)] + [httpserver.url_for("/broken")]
    for i, url in enumerate(urls):
        add_site(sessions, [url], url=f"https://site{i}.example.org/")
    summary = poll_due(sessions, fetcher, concurrency=3, keep_results=True)
    assert summary.feeds == 7 and summary.new_posts == 12
    assert summary.outcomes == {"new_items": 6, "error": 1}
    assert "polled 7 feeds: 12 new posts" in summary.line()
    assert poll_due(sessions, fetcher).feeds == 0  # nothing is due again yet


def test_the_guard_is_on_unless_loopback_is_allowed(sessions, httpserver):
    serve(httpserver, "/feed", THREE)
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    result = refresh_feed(sessions, feed.id, HttpClient())
    assert result.outcome == "error" and "forbidden_address" in result.error
    assert len(httpserver.log) == 0


def test_feeds_claimed_by_a_poller_that_died_are_polled_when_the_lease_ends(
    sessions, fetcher, httpserver
):
    from feeds.ingest.poll import LEASE
    from feeds.ingest.store import claim_due_feeds

    serve(httpserver, "/feed", THREE)
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    now = utcnow()
    with sessions() as session:
        assert [s.id for s in claim_due_feeds(session, now, 10, LEASE)] == [
            feed.id
        ]  # ...and then it dies
    assert poll_due(sessions, fetcher, now=now + timedelta(minutes=1)).feeds == 0  # leased
    later = poll_due(sessions, fetcher, now=now + LEASE + timedelta(seconds=1))
    assert later.feeds == 1 and later.new_posts == 3


def test_a_pass_of_304s_is_recorded_in_bulk_and_keeps_what_it_knew(sessions, fetcher, httpserver):
    body = (FEEDS / "truncated.xml").read_bytes()  # readable, with a problem worth keeping
    httpserver.expect_request("/feed", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304, headers={"Cache-Control": "max-age=7200"}
    )
    httpserver.expect_request("/feed").respond_with_response(
        Response(body, headers={**RSS, "ETag": '"v1"'})
    )
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    assert poll_due(sessions, fetcher).new_posts == 1
    later = utcnow() + timedelta(days=2)
    second = poll_due(sessions, fetcher, now=later)
    assert second.outcomes == {"not_modified": 1}
    with sessions() as session:
        stored = session.get(Feed, feed.id)
        assert stored.last_http_status == 304 and stored.etag == '"v1"'
        assert stored.next_check_at == later + timedelta(hours=2)  # max-age honoured
        assert stored.last_fetch_at == later and "malformed" in stored.problem
    assert post_count(sessions, feed.id) == 1


@pytest.mark.parametrize(
    ("status", "headers", "extra"),
    [
        (200, {"Cache-Control": "max-age=99999999999999999999"}, ""),
        (200, {}, "<ttl>99999999999999</ttl>"),
        (200, {}, "<ttl>²</ttl>"),
        (503, {"Retry-After": "99999999999999999999"}, ""),
        (503, {"Retry-After": "²"}, ""),
        (429, {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}, ""),
    ],
)
def test_absurd_server_hints_are_bounded_not_fatal(
    sessions, fetcher, httpserver, status, headers, extra
):
    httpserver.expect_request("/feed").respond_with_response(
        Response(rss([("a", "One")], extra=extra), status=status, headers={**RSS, **headers})
    )
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    now = utcnow()
    result = refresh_feed(sessions, feed.id, fetcher, now=now)
    assert result.outcome == ("new_items" if status == 200 else "error")
    with sessions() as session:
        stored = session.get(Feed, feed.id)
        assert now < stored.next_check_at <= now + timedelta(hours=24, seconds=1)
        assert stored.last_http_status == status


def test_tags_fit_their_column_whatever_the_case_mapping(sessions, fetcher, httpserver):
    long_tag = "a" * 70
    extra_item = (f"<item><guid>t</guid><title>Tags #{long_tag}</title><category>{'İ' * 60}"
                  f"</category></item>")  # fmt: skip
    body = rss([("a", "One")]).replace(b"</channel>", extra_item.encode() + b"</channel>")
    serve(httpserver, "/feed", body)
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    assert refresh_feed(sessions, feed.id, fetcher).outcome == "new_items"
    with sessions() as session:
        tags = list(session.scalars(select(PostTag.tag)))
    assert "a" * 60 in tags and max(len(t) for t in tags) == 60


def test_a_permanent_redirect_to_an_unstorable_address_is_followed_not_stored(
    sessions, fetcher, httpserver
):
    target = "/new?" + "q" * 2100
    httpserver.expect_request("/old").respond_with_data("", status=301,
                                                        headers={"Location": target})  # fmt: skip
    httpserver.expect_request("/new").respond_with_response(Response(THREE, headers=RSS))
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/old")]))
    assert refresh_feed(sessions, feed.id, fetcher).outcome == "new_items"
    assert feed_of(sessions, feed.site_id).url == httpserver.url_for("/old")


def test_a_moved_or_discovered_feed_stays_itself_when_the_directory_resyncs(
    sessions, fetcher, httpserver
):
    from feeds.ingest.registry import sync_all_feeds

    page = ('<html><head><link rel="alternate" type="application/rss+xml" href="/found.xml">'
            "</head></html>")  # fmt: skip
    httpserver.expect_request("/").respond_with_data(page, content_type="text/html")
    httpserver.expect_request("/found.xml").respond_with_response(Response(THREE, headers=RSS))
    httpserver.expect_request("/old").respond_with_data(
        "", status=308, headers={"Location": "/found.xml"}
    )
    home = add_site(sessions, [], url=httpserver.url_for("/"))
    moved = add_site(sessions, [httpserver.url_for("/old")], url="https://moved.example.org/")
    for site_id in (home, moved):
        assert refresh_feed(sessions, feed_of(sessions, site_id).id, fetcher).new_posts
    with sessions() as session:
        sync_all_feeds(session)
        assert session.scalar(select(func.count()).select_from(Feed)) == 2
    later = poll_due(sessions, fetcher, now=utcnow() + timedelta(days=2))
    assert later.new_posts == 0 and later.feeds == 2
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 6


def test_a_home_page_site_keeps_its_discovered_feed_alongside_account_feeds(sessions):
    from directory.accounts import check_account
    from directory.sites.store import get_site

    site_id = add_site(sessions, [], url="https://blog.example.org/")
    home = feed_of(sessions, site_id)
    with sessions() as session:
        site = get_site(session, site_id)
        update_site(session, site, social_accounts=[
            check_account("mastodon", "https://mastodon.social/@blog")])  # fmt: skip
        site_changed(session, site)
        session.commit()
        live = session.scalars(select(Feed).where(Feed.site_id == site_id,
                                                  Feed.status == "active")).all()  # fmt: skip
    assert {f.source for f in live} == {"home_page", "account"}
    assert home.id in {f.id for f in live}


def test_a_feed_retired_during_its_fetch_stays_retired_and_stores_nothing(
    sessions, fetcher, httpserver
):
    from directory.sites.store import get_site
    from feeds.ingest.refresh import refresh_state
    from feeds.ingest.store import feed_state

    serve(httpserver, "/feed", THREE)
    site_id = add_site(sessions, [httpserver.url_for("/feed")])
    feed = feed_of(sessions, site_id)
    with sessions() as session:
        state = feed_state(session, feed.id)  # the poller has read it and is fetching...
        update_site(session, get_site(session, site_id), feed_urls=[])  # ...when it is dropped
        site_changed(session, get_site(session, site_id))
        session.commit()
    result = refresh_state(sessions, state, fetcher)
    assert result.outcome == "skipped" and result.status == "retired"
    assert post_count(sessions, feed.id) == 0
    with sessions() as session:
        assert session.get(Feed, feed.id).status == "retired"


def test_concurrent_claims_never_share_a_feed(sessions):
    from feeds.ingest.poll import LEASE
    from feeds.ingest.store import claim_due_feeds

    for i in range(60):
        add_site(sessions, [f"https://feeds{i}.example.org/rss"], url=f"https://s{i}.example.org/")
    now = utcnow()
    claimed: list[int] = []
    lock = threading.Lock()

    def claim() -> None:
        while True:
            with sessions() as session:
                got = claim_due_feeds(session, now, 3, LEASE)
            if not got:
                return
            with lock:
                claimed.extend(s.id for s in got)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 60 and len(set(claimed)) == 60


def test_text_no_database_can_store_does_not_block_the_feed(sessions, fetcher, httpserver):
    """On PostgreSQL a NUL in a guid made every insert of the fetch fail, and a "&#xD800;"
    stopped the parser: each feed stored none of its items, on every poll. Both databases
    now store every item, cleaned."""
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Force &#xD800;news</title>'
            b"<item><guid>appeal\x00-1</guid><title>Appeal &#xDC01;in Wednesfield</title>"
            b"<description>Call 101 &#55296;quoting 123.</description></item>"
            b"<item><guid>warning-2</guid><title>Warning</title></item>"
            b"</channel></rss>")  # fmt: skip
    serve(httpserver, "/feed", body)
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert result.outcome == "new_items" and len(result.new_posts) == 2, result.error
    with sessions() as session:
        titles = sorted(session.scalars(select(Post.title).where(Post.feed_id == feed.id)))
        guids = sorted(session.scalars(select(Post.guid).where(Post.feed_id == feed.id)))
    assert titles == ["Appeal in Wednesfield", "Warning"] and guids == ["appeal-1", "warning-2"]


def test_an_item_the_database_refuses_is_kept_without_its_content_and_blocks_nothing(
    sessions, fetcher, httpserver, refusing_database, client
):
    """The batch of a fetch is tried in a savepoint; refused, each item is tried alone, and an
    item refused alone is kept without its content, saying why: the others, the validators
    and the schedule commit as normal."""
    refusing_database("posts", "content_html")
    body = rss([("a", "First"), ("b", "Second REFUSE-ME"), ("c", "Third")])
    serve(httpserver, "/feed", body, ETag='"v1"')
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert result.outcome == "new_items" and len(result.new_posts) == 3, result.error
    with sessions() as session:
        posts = {
            p.guid or p.key: p for p in session.scalars(select(Post).where(Post.feed_id == feed.id))
        }
        stored = session.get(Feed, feed.id)
    assert sorted(p.title for p in posts.values()) == ["First", "Second REFUSE-ME", "Third"]
    kept = posts["guid:b"]
    assert kept.content_html == "" and "refused" in kept.problem and "test trigger" in kept.problem
    assert posts["a"].problem is None and "First" in posts["a"].content_html
    assert stored.etag == '"v1"' and stored.item_count == 3 and stored.error_count == 0
    detail = client.get(f"/feeds/{feed.id}").get_json()
    assert detail["items_with_problems"] == 1
    assert detail["recent_problems"][0]["post_id"] == kept.id
    assert "stored without its content" in detail["recent_problems"][0]["problem"]


def test_an_item_refused_even_without_content_is_named_on_the_feed_and_tried_again(
    sessions, fetcher, httpserver, refusing_database
):
    refusing_database("posts", "title")
    serve(httpserver, "/feed", rss([("a", "First"), ("b", "REFUSE-ME"), ("c", "Third")]))
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert result.outcome == "new_items" and len(result.new_posts) == 2
    with sessions() as session:
        stored = session.get(Feed, feed.id)
    assert post_count(sessions, feed.id) == 2 and stored.status == "active"
    assert stored.problem.startswith("1 item could not be stored: ")
    assert "test trigger" in stored.problem
    # Nothing of it was stored, so the next fetch tries it again (and still stores the rest).
    again = refresh_feed(sessions, feed.id, fetcher)
    assert again.outcome == "unchanged" and post_count(sessions, feed.id) == 2


def page_announcing(href: str) -> str:
    return (f'<html><head><link rel="alternate" type="application/rss+xml" href="{href}">'
            "</head><body>News</body></html>")  # fmt: skip


def test_a_page_cannot_point_a_listed_feed_at_another_domain(sessions, fetcher, httpserver):
    """A listed feed url that once serves a page announcing a feed elsewhere used to be
    re-pointed there for good. Another registrable domain is never followed."""
    foreign = f"http://127.0.0.1:{httpserver.port}/evil.xml"
    httpserver.expect_request("/feed").respond_with_data(page_announcing(foreign),
                                                         content_type="text/html")  # fmt: skip
    httpserver.expect_request("/evil.xml").respond_with_response(Response(THREE, headers=RSS))
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    result = refresh_feed(sessions, feed.id, fetcher)
    assert (
        result.outcome == "error" and "another domain" in result.error and foreign in result.error
    )
    stored = feed_of(sessions, feed.site_id)
    assert stored.url == httpserver.url_for("/feed") and stored.discovered_at is None
    assert post_count(sessions, feed.id) == 0
    assert not [r for r, _ in httpserver.log if r.path == "/evil.xml"]


def test_the_listed_page_stays_the_source_of_truth_for_a_discovered_feed(
    sessions, fetcher, httpserver
):
    """The feed a page announced is used while the page keeps announcing it: the page is
    fetched again a day later; a feed served at the listed address again wins back; a page
    that stops announcing sends the feed back to the listed address."""
    listed = httpserver.url_for("/feed")
    httpserver.expect_ordered_request("/feed").respond_with_data(
        page_announcing("/found.xml"), content_type="text/html"
    )
    httpserver.expect_ordered_request("/found.xml").respond_with_response(
        Response(THREE, headers=RSS)
    )
    feed = feed_of(sessions, add_site(sessions, [listed]))
    first = refresh_feed(sessions, feed.id, fetcher)
    assert first.outcome == "new_items"
    found = feed_of(sessions, feed.site_id)
    assert found.url == httpserver.url_for("/found.xml") and found.discovered_at is not None
    # Within the day: only the discovered feed is fetched.
    httpserver.expect_ordered_request("/found.xml").respond_with_response(
        Response(THREE, headers=RSS)
    )
    assert (
        refresh_feed(sessions, feed.id, fetcher, now=utcnow() + timedelta(hours=2)).outcome
        == "unchanged"
    )
    # A day on, the page first: still announcing it, so it is confirmed and fetched.
    later = utcnow() + timedelta(days=1, hours=1)
    httpserver.expect_ordered_request("/feed").respond_with_data(
        page_announcing("/found.xml"), content_type="text/html"
    )
    httpserver.expect_ordered_request("/found.xml").respond_with_response(
        Response(THREE, headers=RSS)
    )
    assert refresh_feed(sessions, feed.id, fetcher, now=later).outcome == "unchanged"
    assert feed_of(sessions, feed.site_id).discovered_at == later
    # Another day: the listed address serves a feed itself again, and the feed goes back to it.
    after = later + timedelta(days=1, hours=1)
    four = rss([("a", "First"), ("b", "Second"), ("c", "Third"), ("d", "Fourth")])
    httpserver.expect_ordered_request("/feed").respond_with_response(Response(four, headers=RSS))
    back = refresh_feed(sessions, feed.id, fetcher, now=after)
    assert back.outcome == "new_items" and [p.key for p in back.new_posts] == ["guid:d"]
    stored = feed_of(sessions, feed.site_id)
    assert stored.url == listed and stored.discovered_at is None
    httpserver.check_assertions()


def test_a_page_that_stops_announcing_its_feed_sends_the_feed_back(sessions, fetcher, httpserver):
    listed = httpserver.url_for("/")
    httpserver.expect_ordered_request("/").respond_with_data(page_announcing("/found.xml"),
                                                             content_type="text/html")  # fmt: skip
    httpserver.expect_ordered_request("/found.xml").respond_with_response(
        Response(THREE, headers=RSS)
    )
    httpserver.expect_ordered_request("/").respond_with_data(
        page_announcing(f"http://127.0.0.1:{httpserver.port}/found.xml"), content_type="text/html"
    )
    site = add_site(sessions, [], url=listed)
    feed = feed_of(sessions, site)
    assert refresh_feed(sessions, feed.id, fetcher).outcome == "new_items"
    result = refresh_feed(sessions, feed.id, fetcher, now=utcnow() + timedelta(days=2))
    assert result.outcome == "error" and "another domain" in result.error
    stored = feed_of(sessions, site)
    assert (
        stored.url == listed and stored.discovered_at is None and post_count(sessions, feed.id) == 3
    )
    httpserver.check_assertions()


class _SlowFeeds(ThreadingHTTPServer):
    """A loopback server answering every path with a feed after a pause, counting how many
    requests it is serving at once."""

    daemon_threads = True

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = self.most = self.served = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                with outer.lock:
                    outer.in_flight += 1
                    outer.most = max(outer.most, outer.in_flight)
                time.sleep(0.3)
                body = rss([(self.path.strip("/"), "An item")])
                self.send_response(200)
                self.send_header("Content-Type", RSS["Content-Type"])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with outer.lock:
                    outer.in_flight -= 1
                    outer.served += 1

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def test_one_domain_gets_at_most_its_budget_of_fetches_at_once(sessions, fetcher):
    """Six feeds on one host, eight threads: never more than two requests at a time there."""
    server = _SlowFeeds()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        add_site(sessions, [f"{base}/feed{i}" for i in range(6)])
        summary = poll_due(sessions, fetcher, concurrency=8, per_domain=2)
    finally:
        server.shutdown()
        server.server_close()
    assert summary.outcomes["new_items"] == 6 and server.served == 6
    assert server.most == 2


def test_police_feeds_are_checked_within_the_police_interval(sessions, fetcher, httpserver):
    """A force's feed that publishes weekly is still checked every 5 minutes, and one a
    day out (an older schedule) is pulled in; a news site's weekly feed is left at a day."""
    weekly = rss([(f"w{i}", "Weekly") for i in range(5)])  # a day apart: a daily cadence
    serve(httpserver, "/force.rss", weekly)
    with sessions() as session:
        force = PoliceForce(id="ceiling-test", name="Ceiling Test", url=None, description="",
                            telephone=None, updated_at=utcnow(),
                            engagement=[{"type": "rss", "title": "News", "description": "",
                                         "url": httpserver.url_for("/force.rss")}])  # fmt: skip
        session.add(force)
        session.flush()
        sync_force_feeds(session, force)
        feed = session.scalars(select(Feed).where(Feed.force_id == "ceiling-test")).one()
        feed.next_check_at = utcnow() + timedelta(days=1)
        feed.interval_seconds = 24 * 3600
        session.commit()
        feed_id = feed.id
    site = feed_of(sessions, add_site(sessions, [httpserver.url_for("/force.rss")]))
    poll_due(sessions, fetcher, police_interval=timedelta(minutes=5))
    with sessions() as session:
        police, news = session.get(Feed, feed_id), session.get(Feed, site.id)
        assert police.last_http_status == 200 and police.interval_seconds == 300
        assert police.next_check_at <= utcnow() + timedelta(minutes=5)
        assert news.interval_seconds == 24 * 3600  # publishes daily: checked daily


def test_a_news_item_edited_in_place_takes_its_new_text_and_keeps_its_first(
    sessions, fetcher, httpserver
):
    serve(httpserver, "/feed", THREE)
    feed = feed_of(sessions, add_site(sessions, [httpserver.url_for("/feed")]))
    refresh_feed(sessions, feed.id, fetcher)
    # The same words in other markup and spacing are not an edit; a new title is.
    serve(httpserver, "/feed", THREE.replace(b"<title>Second</title>",
                                             b"<title>  Second </title>"))  # fmt: skip
    refresh_feed(sessions, feed.id, fetcher, now=utcnow() + timedelta(hours=1))
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Post.edited_at.is_not(None))) == 0
    serve(httpserver, "/feed", rss([("a", "First, corrected"), ("b", "Second"), ("c", "Third")]))
    refresh_feed(sessions, feed.id, fetcher, now=utcnow() + timedelta(hours=2))
    with sessions() as session:
        post = session.scalar(select(Post).where(Post.feed_id == feed.id, Post.guid == "a"))
        assert (post.title, post.original_title) == ("First, corrected", "First")
        assert post.edited_at is not None and "First #truepicture" in post.original_content_html
    assert post_count(sessions, feed.id) == 3
