"""Reading stored posts: by site, by team, by officer, by tag around a place. Newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session

from directory.police.models import Officer
from directory.storage import Page, paginate
from feeds.ingest.models import Feed, Post, PostTag


def list_posts(
    session: Session,
    owners: ColumnElement[bool],
    *,
    tag: str | None = None,
    kinds: Sequence[str] | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Any]:
    """Posts of the feeds matching ``owners``, newest first, as (Post, owner, kind) rows."""
    query = (
        select(Post, Feed.owner, Feed.kind)
        .join(Feed, Feed.id == Post.feed_id)
        .where(owners)
        .order_by(Post.published_at.desc(), Post.id.desc())
    )
    if kinds:
        query = query.where(Feed.kind.in_(kinds))
    if tag:
        query = query.where(
            Post.id.in_(select(PostTag.post_id).where(PostTag.tag == tag.lower().lstrip("#")))
        )
    return paginate(session, query, page, per_page, rows=True)


def latest_posts(session: Session, owners: ColumnElement[bool], limit: int) -> list[Post]:
    """The newest ``limit`` posts of the feeds matching ``owners`` (no count: one query)."""
    query = (
        select(Post).join(Feed, Feed.id == Post.feed_id).where(owners)
        .order_by(Post.published_at.desc(), Post.id.desc()).limit(limit)
    )  # fmt: skip
    return list(session.scalars(query))


def latest_by_site(
    session: Session, site_ids: Sequence[int], per_site: int
) -> dict[int, list[Post]]:
    """Each site's newest ``per_site`` posts, in one query (a window over the sites' feeds)."""
    if not site_ids:
        return {}
    rank = func.row_number().over(
        partition_by=Feed.site_id, order_by=(Post.published_at.desc(), Post.id.desc())
    )
    ranked = (
        select(Post.id.label("post_id"), Feed.site_id.label("site_id"), rank.label("rank"))
        .join(Feed, Feed.id == Post.feed_id).where(Feed.site_id.in_(list(site_ids)))
        .subquery()
    )  # fmt: skip
    rows = session.execute(
        select(Post, ranked.c.site_id).join(ranked, ranked.c.post_id == Post.id)
        .where(ranked.c.rank <= per_site).order_by(ranked.c.site_id, ranked.c.rank)
    ).all()  # fmt: skip
    found: dict[int, list[Post]] = {site_id: [] for site_id in site_ids}
    for post, site_id in rows:
        found[site_id].append(post)
    return found


def of_sites(site_ids: Sequence[int]) -> ColumnElement[bool]:
    return Feed.site_id.in_(site_ids) if site_ids else false()


def of_officer(officer_id: int) -> ColumnElement[bool]:
    return Feed.officer_id == officer_id


def of_police(team_ids: Sequence[int], force_ids: Sequence[str]) -> ColumnElement[bool]:
    """Feeds of these teams, their officers, and these forces."""
    clauses: list[ColumnElement[bool]] = []
    if team_ids:
        clauses.append(Feed.neighbourhood_id.in_(team_ids))
        officers = select(Officer.id).where(Officer.neighbourhood_id.in_(team_ids))
        clauses.append(Feed.officer_id.in_(officers))
    if force_ids:
        clauses.append(Feed.force_id.in_(force_ids))
    return or_(*clauses) if clauses else false()


def all_police() -> ColumnElement[bool]:
    return or_(Feed.neighbourhood_id.is_not(None), Feed.officer_id.is_not(None),
               Feed.force_id.is_not(None))  # fmt: skip


def item_problems(session: Session, feed_id: int, limit: int = 5) -> tuple[int, list[Post]]:
    """How many of a feed's posts say something went wrong with them, and the latest few."""
    with_problem = (Post.feed_id == feed_id, Post.problem.is_not(None))
    count = session.scalar(select(func.count()).select_from(Post).where(*with_problem))
    latest = session.scalars(
        select(Post).where(*with_problem).order_by(Post.first_seen_at.desc(), Post.id.desc())
        .limit(limit)
    ).all()  # fmt: skip
    return count or 0, list(latest)
