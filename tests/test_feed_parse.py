"""Feed documents (golden files in tests/data/feeds) into clean items."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.ingest.parse import FeedInvalid, parse_feed

FEEDS = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
XML = {"content-type": "application/rss+xml"}


def _parse(name: str, headers=XML):  # type: ignore[no-untyped-def]
    return parse_feed((FEEDS / name).read_bytes(), headers, now=NOW)


def test_police_rss_items_are_clean_located_and_deduplicated():
    feed = _parse("police_rss2.xml")
    assert feed.title == "Demo Police & Partners — News" and feed.ttl_minutes == 30
    assert feed.link == "https://demo-police.example.org/news" and feed.problem is None
    keys = [item.key for item in feed.items]
    assert keys[:2] == [
        "guid:appeal-1234",
        "link:https://demo-police.example.org/news/missing-heath-town",
    ]
    assert keys[2].startswith("hash:") and len(keys) == 4  # the repeated guid is dropped
    appeal, missing, wordy, future = feed.items
    assert appeal.published_at == datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
    assert missing.published_at == datetime(2026, 11, 17, 18, 5, tzinfo=UTC)
    assert wordy.published_at is None and future.published_at is None  # none, and 2100
    assert appeal.point == (52.6159, -2.0895) and missing.point == (52.599, -2.101)
    assert future.point is None  # Paris is not a UK point
    assert appeal.tags == ("appeals", "wednesfield", "policing")
    assert missing.tags == ("truepicture",)
    html = appeal.content_html
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert "Officers want to speak to this man." in html and '<img src="x.jpg">' in html


def test_atom_titles_become_plain_text_and_dates_utc():
    (item,) = _parse("site_atom.xml").items
    assert item.title == "Bin days change next week"
    assert item.published_at == datetime(2026, 11, 18, 8, 0, tzinfo=UTC)
    assert item.link == "https://wednesfield-news.example.org/2026/11/bin-days"
    assert item.content_html == "<p>Collections move to Thursdays.</p>" and item.author == "Editor"


@pytest.mark.parametrize(
    ("name", "title", "problem"),
    [
        ("wrong_encoding.xml", "Café reopens", "declared as utf-8"),
        ("no_declaration.xml", "Plain", None),
        ("truncated.xml", "First complete item", "no element found"),
    ],
)
def test_untidy_feeds_are_read(name, title, problem):
    feed = _parse(name)
    assert feed.items[0].title == title and len(feed.items) == 1
    assert (problem in feed.problem) if problem else feed.problem is None


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_entity_attacks_are_not_expanded(name):
    feed = _parse(name)
    text = feed.title + "".join(i.title + i.content_html for i in feed.items)
    assert "lollollol" not in text and "root:" not in text and len(text) < 200


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"", XML, "empty"),
        (b"   \n", XML, "empty"),
        ((FEEDS / "web_page.html").read_bytes(), {"content-type": "text/html"}, "web page"),
        ((FEEDS / "web_page.html").read_bytes(), XML, "web page"),
        (b"<html><body>Error 500</body></html>", XML, "web page"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", {"content-type": "image/png"}, "not"),
        (b"just some text", {"content-type": "text/plain"}, "not"),
    ],
)
def test_documents_that_are_not_feeds(body, headers, message):
    with pytest.raises(FeedInvalid, match=message):
        parse_feed(body, headers, now=NOW)


def test_relative_item_links_are_read_against_the_feed_address():
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Force news</title>'
            b"<item><guid>a</guid><title>Appeal</title><link>/news/appeal-1</link></item>"
            b"<item><guid>b</guid><title>Warning</title><link>warning-2</link></item>"
            b"<item><guid>c</guid><title>Elsewhere</title><link>https://other.example/x</link>"
            b"</item><item><guid>d</guid><title>Bad</title><link>javascript:alert(1)</link>"
            b"</item></channel></rss>")  # fmt: skip
    feed = parse_feed(body, XML, now=NOW, base_url="https://police.example.org/feeds/news.rss")
    assert [item.link for item in feed.items] == [
        "https://police.example.org/news/appeal-1",
        "https://police.example.org/feeds/warning-2",
        "https://other.example/x",
        None,
    ]


def test_characters_no_database_can_store_never_stop_a_feed():
    """A NUL in a guid, a lone surrogate from "&#xD800;" in a title or description: each would
    make the sanitiser or PostgreSQL refuse the item (and the whole fetch with it)."""
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T &#xDBFF;</title>'
            b"<item><guid>a\x00b</guid><title>One &#xD800; two</title>"
            b"<description>x &#xDC00; y</description><author>A&#0;B</author>"
            b"<category>t&#xD800;ag</category></item>"
            b"<item><guid>c</guid><title>Fine</title></item></channel></rss>")  # fmt: skip
    feed = parse_feed(body, XML, now=NOW)
    first, second = feed.items
    assert first.guid == "ab" and first.key == "guid:ab" and first.title == "One two"
    assert first.content_html == "x  y" and first.tags == ("tag",) and "\x00" not in first.author
    assert second.title == "Fine" and feed.title == "T"
    for text in (first.key, first.guid, first.title, first.content_html, first.author):
        text.encode("utf-8")  # no lone surrogate left: PostgreSQL can store it
