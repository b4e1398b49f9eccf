"""Feeds and posts in the database: claiming due feeds, storing items, recording outcomes.

Every function takes a Session and leaves committing to the caller, except where noted;
``refresh_feed`` sequences them so that a feed's items, its validators (ETag, Last-Modified)
and its schedule are committed together.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from directory.sites.models import Site
from directory.storage import Page, insert_ignoring, paginate, savepoint
from directory.text import plain_text
from feeds.ingest.models import Feed, Post, PostTag
from feeds.ingest.parse import ParsedItem
from feeds.ingest.schedule import MAX_INTERVAL, POLICE_OWNERS, Decision

MAX_ERROR_CHARS = 500
MAX_PROBLEM_CHARS = 300  # posts.problem
log = logging.getLogger(__name__)


class FeedNotFound(LookupError):
    """No feed with that id."""


@dataclass(frozen=True)
class FeedState:
    """What a poller needs to know about a feed before fetching it (no session held)."""

    id: int
    url: str
    owner: str
    etag: str | None
    last_modified: str | None
    interval: timedelta
    error_count: int
    status: str
    listed_url: str = ""
    discovered_at: datetime | None = None  # see Feed.discovered_at
    ceiling: timedelta = MAX_INTERVAL  # the longest it may go unchecked (police feeds: minutes)
    pushed_until: datetime | None = None  # see Feed.pushed_until


@dataclass(frozen=True)
class NewPost:
    """A post stored for the first time (what syndication consumes)."""

    id: int
    feed_id: int
    key: str
    title: str
    link: str | None
    published_at: datetime
    point: tuple[float, float] | None
    guid: str | None = None
    content_html: str = ""
    problem: str | None = None  # stored without its content (see store_items)


@dataclass(frozen=True)
class Stored:
    """What ``store_items`` stored, and why the items it could not store were refused."""

    posts: list[NewPost]
    refused: list[str] = field(default_factory=list)
    edited: list[NewPost] = field(default_factory=list)  # seen before, now with a new text

    def problem(self) -> str | None:
        if not self.refused:
            return None
        count = len(self.refused)
        return f"{count} item{'s' if count > 1 else ''} could not be stored: {self.refused[0]}"


@dataclass(frozen=True)
class Unchanged:
    """A 304 answer waiting to be recorded."""

    feed_id: int
    at: datetime
    decision: Decision
    etag: str | None
    last_modified: str | None


def get_feed(session: Session, feed_id: int) -> Feed:
    feed = session.get(Feed, feed_id) if 0 < feed_id < 2**31 else None
    if feed is None:
        raise FeedNotFound(f"no feed with id {feed_id}")
    return feed


_STATE = (Feed.id, Feed.url, Feed.owner, Feed.etag, Feed.last_modified,
          Feed.interval_seconds, Feed.error_count, Feed.status, Feed.listed_url,
          Feed.discovered_at, Feed.pushed_until)  # fmt: skip
FEEDS = Feed.__table__  # plain UPDATEs: no ORM bookkeeping on the polling path


def _state(row: Any) -> FeedState:
    return FeedState(row.id, row.url, row.owner, row.etag, row.last_modified,
                     timedelta(seconds=row.interval_seconds), row.error_count,
                     row.status, row.listed_url, row.discovered_at,
                     pushed_until=row.pushed_until)  # fmt: skip


def feed_state(session: Session, feed_id: int) -> FeedState:
    row = session.execute(select(*_STATE).where(Feed.id == feed_id)).first()
    if row is None:
        raise FeedNotFound(f"no feed with id {feed_id}")
    return _state(row)


def claim_due_feeds(
    session: Session, now: datetime, limit: int, lease: timedelta
) -> list[FeedState]:
    """Up to ``limit`` feeds due now, leased to the caller until ``now + lease``.

    The lease (moving ``next_check_at`` forward) is committed here, so a second poller does not
    take the same feeds, and a poller killed mid-fetch leaves them due again when it expires.
    One ``UPDATE ... RETURNING`` claims them, so two pollers never both take a feed: SQLite
    runs the statement under its write lock; PostgreSQL skips rows another poller is locking
    and re-checks that each is still due.
    """
    due = (Feed.status.in_(("active", "failing")), Feed.next_check_at <= now)
    chosen = (
        select(Feed.id)
        .where(*due)
        .order_by(Feed.next_check_at, Feed.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(FEEDS)
        .where(FEEDS.c.id.in_(chosen.scalar_subquery()), FEEDS.c.next_check_at <= now)
        .values(next_check_at=now + lease)
        .returning(*(FEEDS.c[column.key] for column in _STATE))
    ).all()
    session.commit()
    return sorted((_state(row) for row in rows), key=lambda state: state.id)


def take_claimed_feed(
    session: Session, feed_id: int, claimed_until: datetime, now: datetime, lease: timedelta
) -> FeedState | None:
    """Take over a feed that ``claim_due_feeds`` leased until ``claimed_until`` (a queue task
    carries that as its token), leasing it anew until ``now + lease`` (committed). None when
    the claim is no longer the one the task was given (a second delivery of the task, or the
    lease ran out and the feed was claimed again): the caller does nothing."""
    row = session.execute(
        update(FEEDS)
        .where(FEEDS.c.id == feed_id, FEEDS.c.next_check_at == claimed_until,
               FEEDS.c.status.in_(("active", "failing")))
        .values(next_check_at=now + lease)
        .returning(*(FEEDS.c[column.key] for column in _STATE))
    ).first()  # fmt: skip
    session.commit()
    return None if row is None else _state(row)


def pull_in_police_feeds(session: Session, now: datetime, police_interval: timedelta) -> int:
    """Make due now the police feeds scheduled further out than ``police_interval`` allows
    (an older schedule, or a changed setting); leased feeds (due within the hour) are left to
    their poller. How many; no commit."""
    owners = [Feed.owner.startswith(f"{kind}:") for kind in POLICE_OWNERS]
    result = session.execute(
        update(FEEDS)
        .where(or_(*owners), FEEDS.c.status.in_(("active", "failing")),
               FEEDS.c.error_count == 0,
               FEEDS.c.next_check_at > now + police_interval + timedelta(hours=1))
        .values(next_check_at=now)
    )  # fmt: skip
    return result.rowcount or 0


POSTS = Post.__table__


def store_items(
    session: Session, feed_id: int, items: Sequence[ParsedItem], now: datetime
) -> list[NewPost]:
    """Insert the items not stored yet for this feed; return only those (no commit).

    Uniqueness per (feed, dedupe key) is the database's: ``ON CONFLICT DO NOTHING`` means two
    pollers storing the same items at once, or a rerun after a crash, never duplicate a post.
    One item the database refuses never costs the others: the batch is tried in a savepoint,
    and if it fails each item is tried alone; an item refused alone is stored without its
    content (saying why in ``problem``), or, if even that is refused, left out and counted in
    ``refused`` (the caller says so on the feed; the next fetch tries it again).
    """
    if not items:
        return Stored([])
    keys = [item.key for item in items]
    known = {post.key: post for post in session.scalars(
        select(Post).where(Post.feed_id == feed_id, Post.key.in_(keys)))}  # fmt: skip
    edited = _edit_in_place(session, [i for i in items if i.key in known], known, now)
    fresh = [item for item in items if item.key not in known]
    if not fresh:
        return Stored([], edited=edited)
    rows = [_row(feed_id, item, now) for item in fresh]
    refused: list[str] = []
    try:
        with savepoint(session):
            stored = _insert(session, rows)
    except SQLAlchemyError as exc:
        log.warning("feed %s: a batch of %d items was refused (%s); storing one by one",
                    feed_id, len(rows), _first_line(exc))  # fmt: skip
        stored = []
        for row in rows:
            alone = _insert_alone(session, feed_id, row)
            if isinstance(alone, str):
                refused.append(alone)
            else:
                stored.extend(alone)
    by_key = {item.key: item for item in fresh}
    posts = [
        NewPost(
            row["id"],
            feed_id,
            row["key"],
            row["title"],
            row["link"],
            row["published_at"],
            by_key[row["key"]].point if row["problem"] is None else None,
            row["guid"],
            row["content_html"],
            row["problem"],
        )  # fmt: skip
        for row in stored
    ]
    if posts:
        _site_published(session, feed_id, max(post.published_at for post in posts))
    return Stored(posts, refused, edited)


def _site_published(session: Session, feed_id: int, newest: datetime) -> None:
    """A site's feed brought new posts: the site published (it is not dormant)."""
    site_id = select(Feed.site_id).where(Feed.id == feed_id).scalar_subquery()
    session.execute(
        update(Site.__table__)
        .where(Site.id == site_id, or_(Site.last_published_at.is_(None),
                                       Site.last_published_at < newest))
        .values(last_published_at=newest)
    )  # fmt: skip


def _edit_in_place(
    session: Session, items: Sequence[ParsedItem], known: dict[str, Post], now: datetime
) -> list[NewPost]:
    """Items seen before whose title or text changed ("UPDATE: found safe" over the same
    guid): the post takes the new version and keeps its first (no commit)."""
    edited = []
    for item in items:
        post = known[item.key]
        if post.problem is not None or not _changed(post, item):
            continue
        if post.original_title is None:
            post.original_title, post.original_content_html = post.title, post.content_html
        post.title, post.content_html, post.edited_at = item.title, item.content_html, now
        edited.append(NewPost(post.id, post.feed_id, post.key, post.title, post.link,
                              post.published_at, item.point, post.guid,
                              post.content_html))  # fmt: skip
    session.flush()
    return edited


def _changed(post: Post, item: ParsedItem) -> bool:
    """Whether the words changed (not the markup or the spacing)."""

    def words(title: str, html: str) -> str:
        return " ".join(f"{title} {plain_text(html, 20_000)}".split())

    return words(post.title, post.content_html) != words(item.title, item.content_html)


def _row(feed_id: int, item: ParsedItem, now: datetime) -> dict[str, Any]:
    return {
        "feed_id": feed_id,
        "key": item.key,
        "guid": item.guid and item.guid[:500],
        "link": item.link,
        "title": item.title,
        "content_html": item.content_html,
        "author": item.author,
        "published_at": item.published_at or now,
        "first_seen_at": now,
        "tags": list(item.tags),
        "latitude": item.point[0] if item.point else None,
        "longitude": item.point[1] if item.point else None,
        "problem": None,
    }  # fmt: skip


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the rows (and their tags) that are new; the rows stored, each with its id."""
    statement = insert_ignoring(session, POSTS, ["feed_id", "key"]).returning(
        POSTS.c.id, POSTS.c.key
    )
    inserted = {key: post_id for post_id, key in session.execute(statement, rows)}
    stored = [{**row, "id": inserted[row["key"]]} for row in rows if row["key"] in inserted]
    tags = [{"post_id": row["id"], "tag": tag} for row in stored for tag in row["tags"]]
    if tags:
        session.execute(insert(PostTag.__table__), tags)
    return stored


def _insert_alone(
    session: Session, feed_id: int, row: dict[str, Any]
) -> list[dict[str, Any]] | str:
    """One row in its own savepoint; if refused, the same item without its content; if that
    is refused too, why."""
    try:
        with savepoint(session):
            return _insert(session, [row])
    except SQLAlchemyError as exc:
        reason = _first_line(exc)
    bare = {**row, "guid": None, "content_html": "", "author": "", "tags": [],
            "latitude": None, "longitude": None,
            "problem": f"stored without its content, which the database refused: {reason}"[
                :MAX_PROBLEM_CHARS]}  # fmt: skip
    try:
        with savepoint(session):
            return _insert(session, [bare])
    except SQLAlchemyError as exc:
        reason = _first_line(exc)
        log.warning("feed %s: item %r could not be stored: %s", feed_id, row["key"][:80], reason)
        return reason


def _first_line(exc: BaseException) -> str:
    """A database error's message without the statement and parameters SQLAlchemy appends."""
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}"[
        :200
    ]


def record_item_problem(session: Session, post_id: int, problem: str) -> None:
    """Say on a stored post what went wrong with it after it was stored (no commit)."""
    session.execute(
        update(POSTS).where(POSTS.c.id == post_id).values(problem=problem[:MAX_PROBLEM_CHARS])
    )


def record_outcome(
    session: Session,
    feed_id: int,
    now: datetime,
    decision: Decision,
    *,
    http_status: int | None = None,
    error: str | None = None,
    success: bool = False,
    new_items: int = 0,
    etag: str | None = None,
    last_modified: str | None = None,
    url: str | None = None,
    title: str | None = None,
    problem: str | None | object = "keep",
    discovered_at: datetime | None | object = "keep",
) -> bool:
    """Write a fetch's outcome and the next check onto the feed (no commit).

    On success the validators are replaced (with what this response sent, possibly nothing);
    on failure they are kept, as are the items. Returns False, writing nothing, when the feed
    was retired meanwhile (its owner dropped it during the fetch): the caller rolls back.
    """
    values: dict[str, object] = {
        "last_fetch_at": now,
        "status": decision.status,
        "next_check_at": decision.next_check_at,
        "interval_seconds": int(decision.interval.total_seconds()),
        "error_count": decision.error_count,
        "last_http_status": http_status,
        "updated_at": now,
    }
    if error is not None:
        values["last_error"] = error[:MAX_ERROR_CHARS]
    if success:
        values.update(last_success_at=now, last_error=None, etag=etag and etag[:500],
                      last_modified=last_modified and last_modified[:100])  # fmt: skip
        if problem != "keep":
            values["problem"] = problem and str(problem)[:300]
        if new_items:
            values["item_count"] = FEEDS.c.item_count + new_items
    if title:
        values["title"] = title[:300]
    if url is not None:
        values["url"] = url
    if discovered_at != "keep":
        values["discovered_at"] = discovered_at
    result = session.execute(
        update(FEEDS).where(FEEDS.c.id == feed_id, FEEDS.c.status != "retired").values(**values)
    )
    return bool(result.rowcount)


def point_feed(
    session: Session, feed_id: int, url: str, discovered_at: datetime | None, now: datetime
) -> bool:
    """Fetch the feed from ``url`` from now on (no commit); the validators, which described
    the old address, are dropped. The schedule is left alone: the feed stays leased to the
    poller that is fetching it. False when the feed was retired meanwhile."""
    result = session.execute(
        update(FEEDS).where(FEEDS.c.id == feed_id, FEEDS.c.status != "retired")
        .values(url=url, discovered_at=discovered_at, etag=None, last_modified=None,
                updated_at=now)
    )  # fmt: skip
    return bool(result.rowcount)


def confirm_discovery(session: Session, feed_id: int, now: datetime) -> None:
    """The listed page still announces the feed's address (no commit)."""
    session.execute(update(FEEDS).where(FEEDS.c.id == feed_id).values(discovered_at=now))


_UNCHANGED = (
    update(FEEDS)
    .where(FEEDS.c.id == bindparam("b_id"), FEEDS.c.status != "retired")
    .values(
        last_fetch_at=bindparam("b_at"), last_success_at=bindparam("b_at"),
        updated_at=bindparam("b_at"), status="active", error_count=0, last_error=None,
        last_http_status=304, next_check_at=bindparam("b_next"),
        interval_seconds=bindparam("b_interval"), etag=bindparam("b_etag"),
        last_modified=bindparam("b_modified"),
    )
)  # fmt: skip


def record_unchanged(session: Session, answers: Sequence[Unchanged]) -> None:
    """Record many 304s in one statement (no commit): what a polling pass mostly sees."""
    if not answers:
        return
    session.execute(_UNCHANGED, [
        {"b_id": a.feed_id, "b_at": a.at, "b_next": a.decision.next_check_at,
         "b_interval": int(a.decision.interval.total_seconds()),
         "b_etag": a.etag and a.etag[:500], "b_modified": a.last_modified and a.last_modified[:100]}
        for a in answers
    ])  # fmt: skip


def url_taken(session: Session, owner: str, url: str, feed_id: int) -> bool:
    """Whether another live feed of the same owner is already fetched from ``url``."""
    return (
        session.scalar(
            select(Feed.id).where(
                Feed.owner == owner, Feed.url == url, Feed.id != feed_id, Feed.status != "retired"
            )  # fmt: skip
        )
        is not None
    )


def list_feeds(
    session: Session,
    *,
    owner: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Feed]:
    query = select(Feed).order_by(Feed.id)
    if owner:
        query = query.where(Feed.owner == owner)
    if status:
        query = query.where(Feed.status == status)
    if kind:
        query = query.where(Feed.kind == kind)
    return paginate(session, query, page, per_page)


def next_due_at(session: Session) -> datetime | None:
    return session.scalar(
        select(func.min(Feed.next_check_at)).where(Feed.status.in_(("active", "failing")))
    )
