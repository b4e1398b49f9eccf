"""Feeds the service polls, and the posts read from them."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields, validate

from api.auth import key_allows, optional_key, require_scope
from api.blueprint import Blueprint
from api.database import db_session, get_database
from api.pagination import PageQuerySchema, PaginationSchema, page_args, page_body
from api.places import near_of
from api.police import team_sites
from directory.police.patches import neighbourhoods_near
from directory.police.store import find_officer
from directory.sites.store import get_site
from feeds.ingest.models import FEED_KINDS, FEED_STATUSES, Feed, Post
from feeds.ingest.posts import (
    all_police,
    item_problems,
    list_posts,
    of_officer,
    of_police,
    of_sites,
)
from feeds.ingest.store import get_feed, list_feeds
from feeds.worker import refresh_and_publish

blp = Blueprint("feeds", __name__, description="Feeds the service polls, and their posts")

POSTS_RADIUS_DEFAULT_M = 2_000
POSTS_RADIUS_MAX_M = 25_000  # larger values are clamped to this
OWNER_PATTERN = r"^(site|neighbourhood|officer):[1-9][0-9]{0,9}$|^force:[a-z0-9-]{1,60}$"


class FeedSchema(Schema):
    id = fields.Integer()
    url = fields.String(metadata={"example": "https://wv11.example.org/feed/"})
    owner = fields.String(
        metadata={
            "description": "site:<id>, neighbourhood:<id>, officer:<id> or force:<id>",
            "example": "site:12",
        }  # fmt: skip
    )
    kind = fields.String(metadata={"enum": list(FEED_KINDS)})
    source = fields.String(
        metadata={
            "enum": ["listed", "account", "home_page"],
            "description": "listed by its owner, an official account's feed, or found on the "
            "owner's home page",
        }
    )
    title = fields.String()
    status = fields.String(
        metadata={
            "enum": list(FEED_STATUSES),
            "description": "failing: many failures in a row, now tried daily; retired: gone "
            "(410) or no longer listed",
        }
    )
    last_fetch_at = fields.DateTime(allow_none=True)
    last_success_at = fields.DateTime(allow_none=True)
    last_http_status = fields.Integer(allow_none=True)
    error_count = fields.Integer(metadata={"description": "failures in a row"})
    last_error = fields.String(allow_none=True)
    problem = fields.String(
        allow_none=True, metadata={"description": "read, but malformed (what the parser said)"}
    )
    discovered_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "set when `url` is the feed a page at the listed address "
                  "announces: when the page last announced it (checked again daily)"},
    )  # fmt: skip
    next_check_at = fields.DateTime(allow_none=True)
    interval_seconds = fields.Integer()
    item_count = fields.Integer()
    created_at = fields.DateTime()


class ItemProblemSchema(Schema):
    post_id = fields.Integer()
    title = fields.String()
    first_seen_at = fields.DateTime()
    problem = fields.String(metadata={"example": "not made a bulletin: ValueError: …"})


class FeedDetailSchema(FeedSchema):
    items_with_problems = fields.Integer(
        metadata={"description": "posts of this feed that something went wrong with (each is "
                  "stored, and never held up the others)"}
    )  # fmt: skip
    recent_problems = fields.List(
        fields.Nested(ItemProblemSchema), metadata={"description": "the latest few of them"}
    )


class FeedPageSchema(Schema):
    items = fields.List(fields.Nested(FeedSchema))
    pagination = fields.Nested(PaginationSchema)


class FeedQuerySchema(PageQuerySchema):
    owner = fields.String(
        validate=validate.Regexp(OWNER_PATTERN, error="owner is site:<id>, neighbourhood:<id>, "
                                 "officer:<id> or force:<force-id>"),
        metadata={"example": "site:12"},
    )  # fmt: skip
    status = fields.String(validate=validate.OneOf(FEED_STATUSES))
    kind = fields.String(validate=validate.OneOf(FEED_KINDS))


class RefreshSchema(Schema):
    outcome = fields.String(
        metadata={"enum": ["new_items", "unchanged", "not_modified", "error", "gone", "skipped"]}
    )
    new_posts = fields.Integer()
    error = fields.String(allow_none=True)
    feed = fields.Nested(FeedSchema)


class PostPointSchema(Schema):
    lat = fields.Float()
    lng = fields.Float()


class PostSchema(Schema):
    id = fields.Integer()
    feed_id = fields.Integer()
    owner = fields.String(metadata={"example": "officer:7"})
    kind = fields.String(metadata={"enum": list(FEED_KINDS)})
    title = fields.String()
    link = fields.String(allow_none=True)
    content_html = fields.String(metadata={"description": "sanitised HTML"})
    author = fields.String()
    published_at = fields.DateTime(
        metadata={"description": "the item's date (UTC), or when it was first seen"}
    )
    first_seen_at = fields.DateTime()
    tags = fields.List(fields.String(), metadata={"example": ["truepicture", "policing"]})
    point = fields.Nested(PostPointSchema, allow_none=True)
    problem = fields.String(
        allow_none=True,
        metadata={"description": "what went wrong with this item: stored without its content, "
                  "or not made a bulletin"},
    )  # fmt: skip
    edited_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "when the publisher last changed its title or text in place "
                  "(the same guid); title and content_html are the latest version"},
    )  # fmt: skip
    original_title = fields.String(allow_none=True, metadata={"description": "the first "
                                   "version's title, when it was edited"})  # fmt: skip
    original_content_html = fields.String(allow_none=True)


class PostPageSchema(Schema):
    items = fields.List(fields.Nested(PostSchema))
    pagination = fields.Nested(PaginationSchema)


class TaggedPostQuerySchema(PageQuerySchema):
    tag = fields.String(
        validate=validate.Length(min=1, max=60),
        metadata={"description": "an RSS category or #hashtag", "example": "truepicture"},
    )
    near = fields.String(
        validate=validate.Length(max=200),
        metadata={
            "description": "a postcode (any precision) or 'lat,lng': posts of the teams "
            "around it, their officers and their forces",
            "example": "WV11 1AA",
        },
    )
    radius = fields.Float(
        load_default=POSTS_RADIUS_DEFAULT_M,
        validate=validate.Range(min=0),
        metadata={"description": f"with near: metres; default {POSTS_RADIUS_DEFAULT_M}, "
                  f"maximum {POSTS_RADIUS_MAX_M} (larger values are clamped to it)"},
    )  # fmt: skip
    kind = fields.String(validate=validate.OneOf(("officer", "police")))


def feed_json(feed: Feed) -> dict[str, Any]:
    return {name: getattr(feed, name) for name in FeedSchema._declared_fields}


def post_json(post: Post, owner: str, kind: str) -> dict[str, Any]:
    point = None
    if post.latitude is not None and post.longitude is not None:
        point = {"lat": post.latitude, "lng": post.longitude}
    return {
        "id": post.id, "feed_id": post.feed_id, "owner": owner, "kind": kind,
        "title": post.title, "link": post.link, "content_html": post.content_html,
        "author": post.author, "published_at": post.published_at,
        "first_seen_at": post.first_seen_at, "tags": post.tags, "point": point,
        "problem": post.problem, "edited_at": post.edited_at,
        "original_title": post.original_title,
        "original_content_html": post.original_content_html,
    }  # fmt: skip


def feed_detail_json(session: Any, feed: Feed) -> dict[str, Any]:
    count, latest = item_problems(session, feed.id)
    problems = [{"post_id": post.id, "title": post.title, "first_seen_at": post.first_seen_at,
                 "problem": post.problem} for post in latest]  # fmt: skip
    return {**feed_json(feed), "items_with_problems": count, "recent_problems": problems}


def posts_page(owners: Any, args: dict[str, Any], **filters: Any) -> dict[str, Any]:
    """The requested page of the posts of ``owners`` (a ``feeds.ingest.posts`` clause), as the
    API shows it."""
    page, per_page = page_args(args)
    found = list_posts(db_session(), owners, page=page, per_page=per_page, **filters)
    items = [post_json(post, owner, kind) for post, owner, kind in found.items]
    return page_body(items, found.page, found.per_page, found.total)


@blp.route("/feeds")
class Feeds(MethodView):
    @blp.arguments(FeedQuerySchema, location="query")
    @blp.response(200, FeedPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List the feeds the service polls, with how polling them stands"""
        page, per_page = page_args(args)
        found = list_feeds(db_session(), owner=args.get("owner"), status=args.get("status"),
                           kind=args.get("kind"), page=page, per_page=per_page)  # fmt: skip
        return page_body([feed_json(f) for f in found.items], found.page, found.per_page,
                         found.total)  # fmt: skip


@blp.route("/feeds/<int:feed_id>")
class FeedItem(MethodView):
    @blp.response(200, FeedDetailSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such feed")
    def get(self, feed_id: int) -> Any:
        """One feed: status, last fetch and success, errors, next check, item count, and the
        items that something went wrong with"""
        session = db_session()
        return feed_detail_json(session, get_feed(session, feed_id))


@blp.route("/feeds/<int:feed_id>/refresh")
class FeedRefresh(MethodView):
    @require_scope(blp, "admin")
    @blp.response(200, RefreshSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such feed")
    def post(self, feed_id: int) -> Any:
        """Poll a feed now (admins); a retired feed is not fetched

        Answers when the fetch is over, with what it found; the outcome is also recorded on
        the feed as a scheduled poll's would be.
        """
        get_feed(db_session(), feed_id)
        database = get_database()
        client = current_app.extensions["hyperlocal_http"]
        result = refresh_and_publish(database.sessions, feed_id, client)
        session = db_session()
        session.expire_all()
        return {
            "outcome": result.outcome,
            "new_posts": len(result.new_posts),
            "error": result.error,
            "feed": feed_json(get_feed(session, feed_id)),
        }


@blp.route("/sites/<int:site_id>/posts")
class SitePosts(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, PostPageSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such (visible) site")
    def get(self, args: dict[str, Any], site_id: int) -> Any:
        """Posts from a site's feeds, newest first"""
        session = db_session()
        site = get_site(session, site_id)
        if site.status != "approved" and not key_allows(optional_key(), f"editor:{site_id}"):
            abort(404, message=f"no site with id {site_id}")
        return posts_page(of_sites([site_id]), args)


@blp.route("/neighbourhoods/<string:force>/<string:code>/posts")
class NeighbourhoodPosts(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, PostPageSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such neighbourhood")
    def get(self, args: dict[str, Any], force: str, code: str) -> Any:
        """What the team should be reading: posts of the sites covering its patch, newest first"""
        _, sites = team_sites(force, code)
        return posts_page(of_sites([s.id for s in sites]), args)


@blp.route("/officers/<int:officer_id>/posts")
class OfficerPosts(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, PostPageSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such officer")
    def get(self, args: dict[str, Any], officer_id: int) -> Any:
        """Posts from an officer's official accounts, newest first"""
        find_officer(db_session(), officer_id)
        return posts_page(of_officer(officer_id), args)


@blp.route("/posts")
class Posts(MethodView):
    @blp.arguments(TaggedPostQuerySchema, location="query")
    @blp.response(200, PostPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Police and officer posts by tag and place (e.g. ?tag=truepicture&near=WV11 1AA)

        Without `near`, posts of every team, officer and force feed; `kind` narrows to
        `officer` or `police` (team and force) feeds.
        """
        session = db_session()
        owners = all_police()
        if near := near_of(args, POSTS_RADIUS_MAX_M):
            place, radius = near
            matches = neighbourhoods_near(session, place.latitude, place.longitude, radius)
            teams = [match.neighbourhood for match in matches]
            owners = of_police([t.id for t in teams], sorted({t.force_id for t in teams}))
        kinds = [args["kind"]] if args.get("kind") else None
        return posts_page(owners, args, tag=args.get("tag"), kinds=kinds)
