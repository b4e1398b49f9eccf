"""Fetch -> parse -> store for one feed, in one function a thread, a CLI or a queue can call.

``refresh_feed(sessions, feed_id, client)`` takes an id and a session factory (never a live
session or an ORM object), so it runs unchanged in a thread pool or a queue worker; what becomes
of the new posts is the caller's ``on_new_posts`` (``feeds.worker.refresh_and_publish`` makes
police items bulletins: call that one, not this, to poll as the service does). It holds no
database connection while it waits on the network: it reads the feed's state, closes the
session, fetches, and then writes the outcome in one short transaction:

- 200 with a feed: new items, the new ETag/Last-Modified, the title and the next check, all in
  one commit. Killed before that commit, the next run fetches in full and stores the same
  items once (the database keeps (feed, key) unique);
- 200 with a web page: the feed the page's ``<link rel="alternate">`` announces, on the same
  registrable domain, is fetched at once and then instead of the page (discovery); the listed
  page stays the source of truth and is fetched again once a day (``REVERIFY_DISCOVERY``);
- 304: no parsing; only the schedule moves;
- 301/308 (all hops permanent): the stored address becomes the new one;
- 410: the feed is retired; other errors count up and back off (see feeds.ingest.schedule).

Nothing here raises for a bad feed or a dead server: every outcome is recorded on the feed.
Stored items are never removed by a failure.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from directory.storage import utcnow
from directory.urls import same_site, url_or_none
from feeds.ingest import schedule
from feeds.ingest.discover import feed_links
from feeds.ingest.http import FetchError, FetchResponse, HttpClient
from feeds.ingest.parse import FeedInvalid, ParsedFeed, parse_feed
from feeds.ingest.store import (
    FeedNotFound,
    FeedState,
    NewPost,
    Unchanged,
    confirm_discovery,
    feed_state,
    point_feed,
    record_outcome,
    store_items,
    url_taken,
)
from feeds.ingest.websub import note_hub

log = logging.getLogger(__name__)
SessionFactory = Callable[[], Session]
# What the caller does with the posts stored for the first time, inside the transaction that
# stores them (syndication passes ``bulletins_from_posts``): called as (session, feed owner,
# new posts, now, edited=posts seen before whose title or text changed).
NewPostsHook = Callable[..., object]
# How long the feed a page announced is trusted before the page is fetched again.
REVERIFY_DISCOVERY = timedelta(days=1)
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"  # noqa: E501
)


@dataclass
class RefreshResult:
    feed_id: int
    outcome: str  # new_items, unchanged, not_modified, error, gone, skipped
    new_posts: list[NewPost] = field(default_factory=list)
    error: str | None = None
    status: str | None = None  # the feed's status afterwards
    # A 304 left for the caller to record with others in one transaction (see poll_due).
    unchanged: Unchanged | None = None


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers = {"Accept": ACCEPT}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def refresh_feed(
    sessions: SessionFactory,
    feed_id: int,
    client: HttpClient,
    now: datetime | None = None,
    rng: random.Random | None = None,
    *,
    on_new_posts: NewPostsHook | None = None,
    police_interval: timedelta = schedule.POLICE_INTERVAL,
) -> RefreshResult:
    """Poll one feed and record what happened; returns the posts stored for the first time.

    ``on_new_posts`` runs in the transaction that stores them (police items become bulletins
    there, so a bulletin is never lost between two commits).
    """
    with sessions() as session:
        try:
            state = feed_state(session, feed_id)
        except FeedNotFound:
            return RefreshResult(feed_id, "skipped", error="the feed no longer exists")
    return refresh_state(sessions, state, client, now, rng, on_new_posts=on_new_posts,
                         police_interval=police_interval)  # fmt: skip


def refresh_state(
    sessions: SessionFactory,
    state: FeedState,
    client: HttpClient,
    now: datetime | None = None,
    rng: random.Random | None = None,
    defer_not_modified: bool = False,
    *,
    on_new_posts: NewPostsHook | None = None,
    police_interval: timedelta = schedule.POLICE_INTERVAL,
) -> RefreshResult:
    """``refresh_feed`` for a feed whose state the caller has already read (a claimed one).

    With ``defer_not_modified`` a 304 is not written here but returned as ``unchanged`` for
    the caller to record in bulk (``record_unchanged``); until then the feed stays leased, so
    a caller that dies before writing only causes one more conditional GET.
    """
    now = now or utcnow()
    jitter = (rng or random).uniform(0.8, 1.2)
    pushed = state.pushed_until is not None and state.pushed_until > now
    state = replace(state, ceiling=schedule.ceiling_for(state.owner, police_interval, pushed))
    feed_id = state.id
    if state.status == "retired":
        return RefreshResult(feed_id, "skipped", error="the feed is retired", status="retired")
    try:
        return _refresh(sessions, state, client, now, jitter, on_new_posts,
                        defer_not_modified=defer_not_modified)  # fmt: skip
    except SQLAlchemyError as exc:
        # Nothing of this fetch was committed. Say so on the feed and back off like any other
        # failure; if the database is down altogether the lease expires and it is tried again.
        log.warning("feed %s: database error %s", feed_id, exc)
        message = f"database error: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    except Exception as exc:  # a bug, or input nobody foresaw: one feed must not stop the rest
        log.exception("feed %s: unexpected error", feed_id)
        message = f"internal error: {type(exc).__name__}: {exc}"[:300]
    try:
        return _fail(sessions, state, now, jitter, message)
    except SQLAlchemyError:
        return RefreshResult(feed_id, "error", error=message)


def _fail(
    sessions: SessionFactory,
    state: FeedState,
    now: datetime,
    jitter: float,
    message: str,
    http_status: int | None = None,
    wait: timedelta | None = None,
) -> RefreshResult:
    if http_status == 410:
        decision = schedule.gone(state.interval, state.error_count)
    else:
        decision = schedule.after_failure(now, state.interval, state.error_count, wait, jitter)
    with sessions() as session:
        if not record_outcome(session, state.id, now, decision, http_status=http_status,
                              error=message):  # fmt: skip
            return _retired_meanwhile(state)
        session.commit()
    if decision.status == "failing" and state.status != "failing":
        log.warning("feed %s (%s) parked as failing: %s", state.id, state.url, message)
    outcome = "gone" if http_status == 410 else "error"
    return RefreshResult(state.id, outcome, error=message, status=decision.status)


def _refresh(
    sessions: SessionFactory,
    state: FeedState,
    client: HttpClient,
    now: datetime,
    jitter: float,
    on_new_posts: NewPostsHook | None,
    discover: bool = True,
    defer_not_modified: bool = False,
) -> RefreshResult:
    if (
        discover
        and state.discovered_at is not None
        and (now - state.discovered_at >= REVERIFY_DISCOVERY)
    ):
        return _reverify(sessions, state, client, now, jitter, on_new_posts)
    try:
        response = client.get(state.url, _conditional_headers(state))
    except FetchError as exc:
        return _fail(sessions, state, now, jitter, f"{exc.kind}: {exc}")
    new_url = response.url if response.moved_permanently else None
    if response.status == 304:
        decision = schedule.after_not_modified(
            now, state.interval, schedule.max_age(response.headers), state.ceiling
        )
        etag = response.headers.get("etag") or state.etag
        modified = response.headers.get("last-modified") or state.last_modified
        if defer_not_modified and new_url is None:
            unchanged = Unchanged(state.id, now, decision, etag, modified)
            return RefreshResult(state.id, "not_modified", status="active", unchanged=unchanged)
        with sessions() as session:
            if not record_outcome(session, state.id, now, decision, http_status=304,
                                  success=True, etag=etag, last_modified=modified,
                                  url=_usable(session, state, new_url)):  # fmt: skip
                return _retired_meanwhile(state)
            session.commit()
        return RefreshResult(state.id, "not_modified", status="active")
    if response.status != 200:
        return _fail(sessions, state, now, jitter, _status_message(response), response.status,
                     schedule.retry_after(response.headers, now))  # fmt: skip
    try:
        parsed = parse_feed(response.body, response.headers, now, base_url=response.url)
    except FeedInvalid as exc:
        # One level only: an announced address that is itself a page is an error, not a hunt.
        if not discover:
            return _fail(sessions, state, now, jitter, f"not a feed: {exc}", 200)
        found = _discover(response, state, state.url)
        if found.url is None:
            return _fail(sessions, state, now, jitter, found.refusal or f"not a feed: {exc}", 200)
        return _follow_discovery(sessions, state, client, now, jitter, found.url, on_new_posts)
    return _store(sessions, state, response, parsed, now, on_new_posts,
                  url=_usable_url(sessions, state, new_url))  # fmt: skip


def _store(
    sessions: SessionFactory,
    state: FeedState,
    response: FetchResponse,
    parsed: ParsedFeed,
    now: datetime,
    on_new_posts: NewPostsHook | None,
    *,
    url: str | None = None,
    discovered_at: datetime | None | object = "keep",
) -> RefreshResult:
    """Store a fetched feed's new items with its validators and next check, in one commit."""
    with sessions() as session:
        stored = store_items(session, state.id, parsed.items, now)
        new_posts = stored.posts
        note_hub(session, state.id, parsed.hub, parsed.self_url or response.url, now)
        if on_new_posts is not None:  # e.g. police items become bulletins, in this commit
            on_new_posts(session, state.owner, new_posts, now, edited=stored.edited)
        # How often it publishes, from the dates of the items it lists now.
        published = [item.published_at for item in parsed.items if item.published_at]
        decision = schedule.after_success(
            now, state.interval, published,
            ttl=timedelta(minutes=parsed.ttl_minutes) if parsed.ttl_minutes else None,
            cache_max_age=schedule.max_age(response.headers), ceiling=state.ceiling,
        )  # fmt: skip
        recorded = record_outcome(
            session, state.id, now, decision, http_status=200, success=True,
            new_items=len(new_posts), etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            url=url, discovered_at=discovered_at, title=parsed.title,
            problem=_joined(parsed.problem, stored.problem()),
        )  # fmt: skip
        if not recorded:
            session.rollback()  # its items too: the owner no longer lists this feed
            return _retired_meanwhile(state)
        session.commit()
    outcome = "new_items" if new_posts else "unchanged"
    return RefreshResult(state.id, outcome, new_posts=new_posts, status="active")


def _joined(*problems: str | None) -> str | None:
    return "; ".join(p for p in problems if p) or None


def _retired_meanwhile(state: FeedState) -> RefreshResult:
    return RefreshResult(state.id, "skipped", error="the feed was retired while being fetched",
                         status="retired")  # fmt: skip


def _usable(session: Session, state: FeedState, new_url: str | None) -> str | None:
    """The new address after a permanent redirect, unless it cannot be stored or the owner
    already has a feed there."""
    new_url = url_or_none(new_url)
    if new_url is None or new_url == state.url or url_taken(session, state.owner, new_url,
                                                            state.id):  # fmt: skip
        return None
    return new_url


def _usable_url(sessions: SessionFactory, state: FeedState, new_url: str | None) -> str | None:
    if new_url is None:
        return None
    with sessions() as session:
        return _usable(session, state, new_url)


@dataclass(frozen=True)
class Discovered:
    url: str | None  # the feed the page announces that may be followed
    links: tuple[str, ...] = ()  # every feed it announces
    refusal: str | None = None  # why an announced feed is not followed


def _discover(response: FetchResponse, state: FeedState, page_url: str) -> Discovered:
    """The feed a page announces that this feed may be pointed at: the first
    ``<link rel="alternate">`` on the same registrable domain as the listed address (or the
    address the page was fetched from). A feed on another domain is never followed: a page
    that once served something else, or was tampered with, cannot re-point the feed there."""
    content_type = response.headers.get("content-type", "")
    if "html" not in content_type.lower() and b"<html" not in response.body[:4096].lower():
        return Discovered(None)
    charset = None
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip('"') or None
    try:
        links = feed_links(response.body, response.url, charset)
    except LookupError:  # an unknown charset name
        links = feed_links(response.body, response.url)
    links = [link for link in links if link != page_url]
    listed = state.listed_url or page_url
    ours = [link for link in links if same_site(link, listed) or same_site(link, page_url)]
    if ours:
        return Discovered(ours[0], tuple(links))
    if links:
        return Discovered(None, tuple(links), f"the page announces {links[0][:200]}, on another "
                          "domain than the listed address: not followed (list that address "
                          "itself if it is the owner's feed)")  # fmt: skip
    return Discovered(None)


def _reverify(
    sessions: SessionFactory,
    state: FeedState,
    client: HttpClient,
    now: datetime,
    jitter: float,
    on_new_posts: NewPostsHook | None,
) -> RefreshResult:
    """Fetch the listed page again before trusting the feed it announced a day ago.

    Still announcing it: the feed is fetched as usual. Announcing another feed of the same
    domain: the feed follows it. Serving a feed itself again: the feed goes back to the listed
    address. Announcing nothing usable: the feed goes back to the listed address and the
    fetch fails, saying why. Unreachable: the fetch fails (and is tried again, page first).
    """
    page = state.listed_url
    try:
        response = client.get(page, {"Accept": ACCEPT})
    except FetchError as exc:
        return _fail(
            sessions, state, now, jitter, f"the listed page {page[:200]}: {exc.kind}: {exc}"
        )
    if response.status != 200:
        return _fail(sessions, state, now, jitter,
                     f"the listed page {page[:200]}: {_status_message(response)}",
                     response.status, schedule.retry_after(response.headers, now))  # fmt: skip
    back = FeedState(state.id, page, state.owner, None, None, state.interval, state.error_count,
                     state.status, state.listed_url, None)  # fmt: skip
    try:
        parsed = parse_feed(response.body, response.headers, now, base_url=response.url)
    except FeedInvalid as exc:
        found = _discover(response, state, page)
        if found.url is None:
            with sessions() as session:
                point_feed(session, state.id, page, None, now)
                session.commit()
            reason = found.refusal or f"it no longer announces a feed ({exc})"
            return _fail(sessions, back, now, jitter, f"the listed page {page[:200]}: {reason}",
                         200)  # fmt: skip
        if found.url != state.url:
            return _follow_discovery(sessions, state, client, now, jitter, found.url,
                                     on_new_posts)  # fmt: skip
        confirmed = FeedState(state.id, state.url, state.owner, state.etag, state.last_modified,
                              state.interval, state.error_count, state.status, state.listed_url,
                              now)  # fmt: skip
        with sessions() as session:
            confirm_discovery(session, state.id, now)
            session.commit()
        return _refresh(sessions, confirmed, client, now, jitter, on_new_posts, discover=False)
    log.info("feed %s: the listed page %s serves a feed again", state.id, page)
    return _store(sessions, back, response, parsed, now, on_new_posts, url=page,
                  discovered_at=None)  # fmt: skip


def _follow_discovery(
    sessions: SessionFactory,
    state: FeedState,
    client: HttpClient,
    now: datetime,
    jitter: float,
    discovered: str,
    on_new_posts: NewPostsHook | None,
) -> RefreshResult:
    """Point the feed at the address its page announces, then fetch that once."""
    with sessions() as session:
        if url_taken(session, state.owner, discovered, state.id):
            session.rollback()
            return _fail(sessions, state, now, jitter,
                         f"the page announces {discovered}, which is already a feed of its owner",
                         200)  # fmt: skip
        if not point_feed(session, state.id, discovered, now, now):
            return _retired_meanwhile(state)
        session.commit()
    log.info("feed %s: discovered %s on %s", state.id, discovered, state.url)
    moved = FeedState(state.id, discovered, state.owner, None, None, state.interval,
                      state.error_count, state.status, state.listed_url, now)  # fmt: skip
    return _refresh(sessions, moved, client, now, jitter, on_new_posts, discover=False)


def _status_message(response: FetchResponse) -> str:
    reasons = {
        404: "the feed was not found (404)",
        410: "the publisher removed the feed (410 Gone)",
        429: "the server asked us to slow down (429)",
        401: "the feed needs a login (401)",
        403: "the server refused access (403)",
    }
    if response.status in reasons:
        return reasons[response.status]
    if response.status >= 500:
        return f"the server failed ({response.status})"
    return f"unexpected HTTP status {response.status}"
