"""Hyperlocal sites: anyone submits, admins moderate, editors keep their own site up to date."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import EXCLUDE, Schema, fields, validate

from api.auth import key_allows, optional_key, require_scope
from api.blueprint import Blueprint
from api.database import db_session
from api.pagination import PageQuerySchema, PaginationSchema, list_page, page_args, page_body
from api.places import near_of
from directory.accounts import accounts_from_json
from directory.geography.area_specs import area_from_spec
from directory.sites.models import SITE_STATUSES, Site, is_dormant
from directory.sites.store import (
    SiteMatch,
    create_site,
    delete_site,
    get_site,
    list_sites,
    set_site_status,
    sites_near,
    update_site,
)
from directory.sites.submissions import new_submission_token
from directory.storage import utcnow
from feeds.directory_changes import site_changed

blp = Blueprint("sites", __name__, description="Hyperlocal sites and the areas they cover")

SEARCH_RADIUS_DEFAULT_M = 2_000
SEARCH_RADIUS_MAX_M = 25_000  # larger values are clamped to this
NO_STORE = {"Cache-Control": "no-store"}

AREA_EXAMPLE = {"type": "postcodes", "postcodes": ["WV11 1", "WV11 2"]}
AREA_DESCRIPTION = (
    "what the site covers: {'type': 'postcodes', 'postcodes': [units, sectors, districts]}, "
    "{'type': 'circle', 'center': {'lat', 'lng'} or a postcode, 'radius_m'} or "
    "{'type': 'polygon', 'geometry': GeoJSON Polygon/MultiPolygon}"
)


class AccountSchema(Schema):
    platform = fields.String(
        metadata={
            "enum": ["x", "facebook", "instagram", "youtube", "bluesky", "mastodon", "web", "rss"]
        }  # fmt: skip
    )
    handle = fields.String(metadata={"example": "@WV11news"})
    url = fields.String(metadata={"example": "https://x.com/WV11news"})


class SubmissionLinkSchema(Schema):
    token = fields.String(metadata={"description": "shown once; keep it: it is the link's key"})
    status_url = fields.String(
        metadata={"description": "where to check the status and, once approved, take the "
                  "site's editor key (once)", "example": "/submissions/hls_..."}
    )  # fmt: skip


class SiteSchema(Schema):
    id = fields.Integer()
    name = fields.String(metadata={"example": "WV11 News"})
    url = fields.String(metadata={"example": "https://wv11.example.org/"})
    feed_urls = fields.List(
        fields.String(), metadata={"example": ["https://wv11.example.org/feed"]}
    )
    description = fields.String()
    platform = fields.String(allow_none=True, metadata={"example": "wordpress"})
    area = fields.Dict(
        metadata={
            "description": "the coverage, as stored (left out of /postcodes/{pc}/local)",
            "example": AREA_EXAMPLE,
        }
    )
    social_accounts = fields.List(fields.Nested(AccountSchema))
    status = fields.String(metadata={"enum": list(SITE_STATUSES)})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    contact_email = fields.String(
        metadata={"description": "only shown to admins and the site's editors"}
    )
    reviewed_at = fields.DateTime(
        allow_none=True, metadata={"description": "only shown to admins and the site's editors"}
    )
    distance_m = fields.Float(
        metadata={"description": "with ?near=: metres from the place (0 when covered)"}
    )
    dormant = fields.Boolean(
        metadata={"description": "its feeds have published nothing for months "
                  "(DORMANT_MONTHS): not offered as a local site until they do"}
    )  # fmt: skip
    last_published_at = fields.DateTime(
        allow_none=True, metadata={"description": "the newest post its feeds brought"}
    )
    rejection_reason = fields.String(
        allow_none=True,
        metadata={"description": "why it was rejected (admins, its editors, the submitter)"},
    )
    reason = fields.String(
        metadata={"enum": ["covers", "nearby"], "description": "with ?near=: why it matched"}
    )


class SubmittedSiteSchema(SiteSchema):
    submission = fields.Nested(
        SubmissionLinkSchema,
        metadata={"description": "the submitter's private status link, shown only here, once"},
    )


class SitePageSchema(Schema):
    items = fields.List(fields.Nested(SiteSchema))
    pagination = fields.Nested(PaginationSchema)


class SiteCreateSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # a submitted "status" or "approved" is ignored, not an error

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    area = fields.Dict(
        required=True, metadata={"description": AREA_DESCRIPTION, "example": AREA_EXAMPLE}
    )
    feed_urls = fields.List(
        fields.String(validate=validate.Length(min=1, max=2000)), load_default=list
    )
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    platform = fields.String(load_default=None, allow_none=True)
    social_accounts = fields.List(fields.Dict(), load_default=list)
    contact_email = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "for the moderators; never shown publicly"},
    )


class SiteUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    url = fields.String(validate=validate.Length(min=1, max=2000))
    area = fields.Dict(metadata={"description": AREA_DESCRIPTION})
    feed_urls = fields.List(fields.String(validate=validate.Length(min=1, max=2000)))
    description = fields.String(validate=validate.Length(max=5000))
    platform = fields.String(allow_none=True)
    social_accounts = fields.List(fields.Dict())
    contact_email = fields.String(allow_none=True)
    status = fields.String(
        validate=validate.OneOf(SITE_STATUSES),
        metadata={"description": "admins only: approve or reject a submitted site"},
    )
    rejection_reason = fields.String(
        validate=validate.Length(max=500),
        metadata={"description": "admins, with status rejected: shown to the submitter"},
    )


class SiteListQuerySchema(PageQuerySchema):
    status = fields.String(
        validate=validate.OneOf(SITE_STATUSES),
        metadata={"description": "admins only; the public sees approved sites"},
    )
    platform = fields.String(metadata={"example": "wordpress"})
    q = fields.String(validate=validate.Length(max=200), metadata={"description": "words"})
    near = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "a postcode (any precision) or 'lat,lng'", "example": "WV11 1AA"},
    )
    radius = fields.Float(
        load_default=SEARCH_RADIUS_DEFAULT_M,
        validate=validate.Range(min=0, min_inclusive=False),
        metadata={
            "exclusiveMinimum": True,  # apispec writes only minimum: 0 for min_inclusive=False
            "description": f"with near: metres; default {SEARCH_RADIUS_DEFAULT_M}, maximum "
            f"{SEARCH_RADIUS_MAX_M} (larger values are clamped to it)",
        },
    )


def published_since() -> datetime | None:
    """Sites silent since before this are dormant (``DORMANT_MONTHS``; None when it is 0)."""
    months = current_app.config["DORMANT_MONTHS"]
    return utcnow() - timedelta(days=30.44 * months) if months else None


def site_json(
    site: Site, private: bool, match: SiteMatch | None = None, area: bool = True
) -> dict[str, Any]:
    """A site as the API shows it; contact details only when ``private``; ``area=False``
    leaves out the coverage (the resident lookup does)."""
    body: dict[str, Any] = {
        "id": site.id,
        "name": site.name,
        "url": site.url,
        "feed_urls": site.feed_urls,
        "description": site.description,
        "platform": site.platform,
        "social_accounts": site.social_accounts,
        "status": site.status,
        "created_at": site.created_at,
        "updated_at": site.updated_at,
    }
    body["dormant"] = is_dormant(site, published_since())
    body["last_published_at"] = site.last_published_at
    if area:
        body["area"] = site.area
    if private:
        body["contact_email"] = site.contact_email
        body["reviewed_at"] = site.reviewed_at
        body["rejection_reason"] = site.rejection_reason
    if match is not None:
        body["distance_m"] = match.distance_m
        body["reason"] = match.reason
    return body


def _statuses(requested: str | None, is_admin: bool) -> list[str]:
    if requested and requested != "approved" and not is_admin:
        abort(403, message="only admins can list pending or rejected sites")
    if requested:
        return [requested]
    return ["approved"]


@blp.route("/sites")
class Sites(MethodView):
    @blp.arguments(SiteListQuerySchema, location="query")
    @blp.response(200, SitePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List or search sites

        The public sees approved sites; an admin key may ask for `status=pending` or
        `rejected`. With `near`, sites whose coverage holds the place come first
        (`reason: covers`), then those within `radius` (`reason: nearby`) by distance.
        """
        key = optional_key()
        is_admin = key_allows(key, "admin")
        statuses = _statuses(args.get("status"), is_admin)
        session = db_session()
        if near := near_of(args, SEARCH_RADIUS_MAX_M):
            place, radius = near
            matches = sites_near(
                session, place.latitude, place.longitude, radius,
                postcode=place.postcode if place.precision == "unit" else None,
                statuses=statuses,
            )  # fmt: skip
            return list_page(matches, args, lambda m: site_json(m.site, is_admin, m))
        page, per_page = page_args(args)
        found = list_sites(
            session, statuses=statuses, platform=args.get("platform"), text=args.get("q"),
            page=page, per_page=per_page,
        )  # fmt: skip
        items = [site_json(site, is_admin) for site in found.items]
        return page_body(items, found.page, found.per_page, found.total)

    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SubmittedSiteSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Submit a site (no key needed)

        It is created `pending` and listed once an admin approves it. A `status` or
        `approved` field in the body is ignored.
        """
        session = db_session()
        site = create_site(
            session,
            name=body["name"],
            url=body["url"],
            area=area_from_spec(session, body["area"]),
            feed_urls=body["feed_urls"],
            description=body["description"],
            platform=body["platform"],
            social_accounts=accounts_from_json(body["social_accounts"]),
            contact_email=body["contact_email"],
        )
        token = new_submission_token(site)
        site_changed(session, site)
        session.commit()
        body = site_json(site, private=True)
        status_url = url_for("submissions.Submission", token=token, _external=True)
        body["submission"] = {"token": token, "status_url": status_url}
        return body, 201, NO_STORE


@blp.route("/sites/<int:site_id>")
class SiteItem(MethodView):
    @blp.response(200, SiteSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such (visible) site")
    def get(self, site_id: int) -> Any:
        """One site

        Pending and rejected sites are visible only to admins and the site's editors.
        """
        key = optional_key()
        private = key_allows(key, f"editor:{site_id}")
        site = get_site(db_session(), site_id)
        if site.status != "approved" and not private:
            abort(404, message=f"no site with id {site_id}")
        return site_json(site, private), 200, (NO_STORE if private else {})

    @require_scope(blp, "editor:{site_id}")
    @blp.arguments(SiteUpdateSchema)
    @blp.response(200, SiteSchema)
    def patch(self, changes: dict[str, Any], site_id: int) -> Any:
        """Edit a site (its editors or an admin); only an admin changes its status"""
        session = db_session()
        site = get_site(session, site_id)
        status = changes.pop("status", None)
        reason = changes.pop("rejection_reason", None)
        if (status is not None or reason is not None) and not key_allows(optional_key(), "admin"):
            abort(403, message="only an admin can approve or reject a site")
        if "area" in changes:
            changes["area"] = area_from_spec(session, changes["area"])
        if "social_accounts" in changes:
            changes["social_accounts"] = accounts_from_json(changes["social_accounts"])
        update_site(session, site, **changes)
        if status is not None or reason is not None:
            set_site_status(session, site, status or site.status, reason)
        site_changed(session, site, area_changed="area" in changes)
        session.commit()
        return site_json(site, private=True), 200, NO_STORE

    @require_scope(blp, "admin")
    @blp.response(204)
    def delete(self, site_id: int) -> None:
        """Remove a site from the directory (admins)"""
        session = db_session()
        delete_site(session, get_site(session, site_id))
        session.commit()
