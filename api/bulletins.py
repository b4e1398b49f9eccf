"""Bulletins: police appeals, missing-person notices, wanted notices, warnings and updates."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields, validate

from api.auth import authorise, key_allows, optional_key
from api.blueprint import Blueprint
from api.database import db_session
from api.pagination import PageQuerySchema, PaginationSchema, page_args, page_body
from api.places import near_of
from directory.geography.area_specs import area_from_spec
from directory.geography.areas import Area, AreaInvalid
from directory.geography.geo import bbox_around
from directory.police.models import Neighbourhood
from directory.police.patches import neighbourhood_area
from directory.police.store import get_neighbourhood
from feeds.syndication.bulletin_queries import (
    deliveries_of,
    get_bulletin,
    list_bulletins,
    outlets_of,
)
from feeds.syndication.bulletins import bulletin_json, change_status, edit_bulletin, post_bulletin
from feeds.syndication.classify import SEVERITIES, URGENCIES
from feeds.syndication.closing import CLOSED_STATUSES, closing_title
from feeds.syndication.feed_formats import cap_alert
from feeds.syndication.models import BULLETIN_KINDS, BULLETIN_STATUSES, LOCATED_BY, Bulletin

blp = Blueprint("bulletins", __name__, description="Police appeals and warnings, located")

NEAR_RADIUS_MAX_M = 25_000
AREA_DESCRIPTION = (
    "where it applies: {'type': 'postcodes', 'postcodes': [...]}, {'type': 'circle', 'center', "
    "'radius_m'}, {'type': 'polygon', 'geometry'} or {'type': 'neighbourhood', 'id': '<team id "
    "in your force>'}; left out, it is located from the words, as feed items are"
)


class BulletinSchema(Schema):
    id = fields.Integer(allow_none=True, metadata={"description": "null only in a dry run"})
    kind = fields.String(metadata={"enum": list(BULLETIN_KINDS)})
    status = fields.String(metadata={"enum": list(BULLETIN_STATUSES)})
    title = fields.String(metadata={"example": "CCTV appeal after burglary in Wednesfield"})
    body_html = fields.String(metadata={"description": "sanitised HTML"})
    summary = fields.String(metadata={"description": "plain text, at most 600 characters"})
    link = fields.String(allow_none=True)
    source = fields.String(metadata={"enum": ["feed", "direct"]})
    force = fields.String(allow_none=True, metadata={"example": "west-midlands"})
    neighbourhood_id = fields.Integer(allow_none=True)
    reason = fields.String(metadata={"description": "why it is this kind: the deciding rules"})
    severity = fields.String(allow_none=True, metadata={"enum": list(SEVERITIES)})
    urgency = fields.String(allow_none=True, metadata={"enum": list(URGENCIES)})
    located_by = fields.String(metadata={"enum": list(LOCATED_BY)})
    precision = fields.String(
        allow_none=True,
        metadata={"enum": ["given", "point", "postcode", "place", "team", "force"],
                  "description": "how precisely it is located: force means the whole force "
                  "area (nothing in it said where); null when it could not be located"},
    )  # fmt: skip
    location = fields.String(allow_none=True, metadata={"example": "WV11 1AA"})
    postcodes = fields.List(
        fields.String(),
        metadata={"example": ["WV11 1AA"], "description": "the postcodes (units, sectors, "
                  "districts) its text names that the postcode data knows"},
    )  # fmt: skip
    places = fields.List(
        fields.String(),
        metadata={"example": ["Wednesfield"], "description": "the places of the force's area "
                  "its text names, whatever located it (a postcode may have drawn the area)"},
    )  # fmt: skip
    area = fields.Dict(allow_none=True, metadata={"description": "the target area, as stored"})
    published_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.Integer(allow_none=True, metadata={"description": "the update's id"})
    resolution = fields.String(allow_none=True)
    updated_at = fields.DateTime()


class BulletinPageSchema(Schema):
    items = fields.List(fields.Nested(BulletinSchema))
    pagination = fields.Nested(PaginationSchema)


class BulletinQuerySchema(PageQuerySchema):
    near = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "a postcode (any precision) or 'lat,lng'", "example": "WV11 1AA"},
    )
    radius = fields.Float(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={"description": f"with near: metres around the place; default 0, maximum "
                  f"{NEAR_RADIUS_MAX_M} (larger values are clamped)"},
    )  # fmt: skip
    kind = fields.String(validate=validate.OneOf(BULLETIN_KINDS))
    status = fields.String(
        load_default="active",
        validate=validate.OneOf(BULLETIN_STATUSES),
        metadata={"description": "other than active: the force's own key or an admin's"},
    )
    force = fields.String(validate=validate.Length(max=60))


class BulletinCreateSchema(Schema):
    force = fields.String(
        validate=validate.Length(max=60),
        metadata={"description": "the force posting; implied by a police:<force> key"},
    )
    kind = fields.String(required=True, validate=validate.OneOf(BULLETIN_KINDS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    body_html = fields.String(load_default="", validate=validate.Length(max=50_000))
    link = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    area = fields.Dict(load_default=None, allow_none=True,
                       metadata={"description": AREA_DESCRIPTION})  # fmt: skip
    expires_at = fields.AwareDateTime(
        load_default=None, allow_none=True,
        metadata={"description": "default: 7 to 28 days by kind"},
    )  # fmt: skip
    severity = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(SEVERITIES))  # fmt: skip
    urgency = fields.String(load_default=None, allow_none=True,
                            validate=validate.OneOf(URGENCIES))  # fmt: skip
    outside_force = fields.Boolean(
        load_default=False,
        metadata={"description": "true: post an area that lies outside the force's own area "
                  "on purpose (a cross-border appeal); needs outside_reason"},
    )  # fmt: skip
    outside_reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=200),
        metadata={"example": "suspect known to visit Cannock"},
    )  # fmt: skip


class DryRunQuerySchema(Schema):
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "true: say what would happen (kind, location, the outlets "
                  "it would reach) and write nothing"},
    )  # fmt: skip


class OutletSchema(Schema):
    site_id = fields.Integer()
    site_name = fields.String()
    subscription_id = fields.Integer()
    channels = fields.List(fields.String(metadata={"enum": ["feed", "webhook"]}))


class DryRunSchema(Schema):
    dry_run = fields.Boolean(metadata={"enum": [True]})
    bulletin = fields.Nested(BulletinSchema, metadata={"description": "as it would be (no id)"})
    outlets = fields.List(fields.Nested(OutletSchema))
    outlet_count = fields.Integer()


class BulletinUpdateSchema(Schema):
    status = fields.String(
        validate=validate.OneOf(["resolved", "cancelled"]),
        metadata={"description": "resolved (found, charged, no longer needed) or cancelled "
                  "(posted in error); a missing-person bulletin is then withdrawn everywhere"},
    )  # fmt: skip
    note = fields.String(validate=validate.Length(max=300), allow_none=True)
    title = fields.String(validate=validate.Length(min=1, max=500))
    body_html = fields.String(validate=validate.Length(max=50_000))
    expires_at = fields.AwareDateTime()


def _visible(bulletin: Bulletin) -> None:
    """Active bulletins are public; others only to their force and admins (a withdrawn
    missing-person notice must not stay readable). To anyone else a resolved or cancelled
    one is 410 Gone with its closing words (the links of feeds point here)."""
    if bulletin.status == "active":
        return
    key = optional_key()
    if key_allows(key, f"police:{bulletin.force_id}"):
        return
    if bulletin.status in CLOSED_STATUSES:
        abort(410, message=f"{closing_title(bulletin.kind, bulletin.status)}.")
    abort(404, message=f"no bulletin with id {bulletin.id}")


def _area(session: Any, spec: dict[str, Any] | None, force: str
          ) -> tuple[Area | None, Neighbourhood | None]:  # fmt: skip
    if spec is None:
        return None, None
    if spec.get("type") == "neighbourhood":
        code = spec.get("id")
        if not isinstance(code, str) or not code:
            raise AreaInvalid("a neighbourhood area needs 'id': the team's id in your force")
        team = get_neighbourhood(session, force, code)
        area = neighbourhood_area(session, team)
        if area is None:
            raise AreaInvalid(f"neighbourhood {code} has no boundary: give postcodes or a circle")
        return area, team
    return area_from_spec(session, spec), None


def _posting_force(named: str | None) -> str:
    """The force a bulletin is posted for: the one named (an admin key), else the key's own
    (``police:<force>``); the key must be allowed to post for it (401/403 otherwise)."""
    key = optional_key()
    force = named
    if force is None and key is not None and key.scope.startswith("police:"):
        force = key.scope.partition(":")[2]
    if force is None:
        if key is None or key.scope != "admin":
            authorise("police:<force>")  # 401 without a key, 403 for an editor's key
        abort(422, message="say which force posts it: 'force' (an admin key) or a "
                           "police:<force> key")  # fmt: skip
    authorise(f"police:{force}")
    return force


@blp.route("/bulletins")
class Bulletins(MethodView):
    @blp.arguments(BulletinQuerySchema, location="query")
    @blp.response(200, BulletinPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List bulletins, newest first

        With `near`, those whose target area holds the place or lies within `radius`.
        Active bulletins are public; other statuses need `force=` and that force's key.
        """
        session = db_session()
        status = args["status"]
        if status != "active":
            if not args.get("force"):
                abort(422, message=f"status={status} needs force=<force id> and its key")
            authorise(f"police:{args['force']}")
        page, per_page = page_args(args)
        near = box = None
        if found_near := near_of(args, NEAR_RADIUS_MAX_M):
            place, radius = found_near
            near = (place.latitude, place.longitude, radius)
            box = bbox_around(place.latitude, place.longitude, max(radius, 1.0))
        found = list_bulletins(
            session, box=box, near=near, kinds=[args["kind"]] if args.get("kind") else [],
            statuses=[status], force_id=args.get("force"), page=page, per_page=per_page,
        )  # fmt: skip
        return page_body([bulletin_json(b) for b in found.items], found.page, found.per_page,
                         found.total)  # fmt: skip

    @blp.arguments(DryRunQuerySchema, location="query", as_kwargs=True)
    @blp.arguments(BulletinCreateSchema)
    @blp.response(201, BulletinSchema)
    @blp.alt_response(200, schema=DryRunSchema, description="dry_run=true: what would happen")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, body: dict[str, Any], dry_run: bool = False) -> Any:
        """Post a bulletin (a police:<force> key)

        It is located (the given area, or from its words), matched to the outlets whose
        subscriptions cover it and queued for their webhooks, all in one transaction. An
        area whose centre lies in another force's area is refused (422) unless
        `outside_force: true` comes with an `outside_reason`. With `?dry_run=true` nothing
        is written: the answer (200) says what would happen and which outlets it would reach.
        """
        force = _posting_force(body.get("force"))
        session = db_session()
        area, team = _area(session, body["area"], force)
        published = post_bulletin(
            session, force, kind=body["kind"], title=body["title"], body_html=body["body_html"],
            link=body["link"], area=area, neighbourhood=team, expires_at=body["expires_at"],
            severity=body["severity"], urgency=body["urgency"],
            outside_force=body["outside_force"], outside_reason=body["outside_reason"],
        )  # fmt: skip
        if dry_run:
            outlets = outlets_of(session, published.subscriptions)
            would_be = {**bulletin_json(published.bulletin), "id": None}
            session.rollback()  # nothing of it is kept: no bulletin, delivery or event
            answer = {"dry_run": True, "bulletin": would_be, "outlets": outlets,
                      "outlet_count": len(outlets)}  # fmt: skip
            return jsonify(DryRunSchema().dump(answer)), 200
        session.commit()
        headers = {"Location": url_for("bulletins.BulletinItem", bulletin_id=published.bulletin.id)}
        return bulletin_json(published.bulletin), 201, headers


@blp.route("/bulletins/<int:bulletin_id>")
class BulletinItem(MethodView):
    @blp.response(200, BulletinSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such (visible) bulletin")
    @blp.alt_response(410, response="DEFAULT_ERROR",
                      description="closed (resolved or cancelled): its closing words")  # fmt: skip
    def get(self, bulletin_id: int) -> Any:
        """One bulletin"""
        bulletin = get_bulletin(db_session(), bulletin_id)
        _visible(bulletin)
        return bulletin_json(bulletin)

    @blp.arguments(BulletinUpdateSchema)
    @blp.response(200, BulletinSchema)
    @blp.doc(security=[{"bearerAuth": []}])
    def patch(self, changes: dict[str, Any], bulletin_id: int) -> Any:
        """Resolve, cancel or correct a bulletin (its force's key)

        `status: resolved` or `cancelled` takes it out of every subscription feed and tells
        the outlets' webhooks (`bulletin.withdrawn` for missing people and cancellations,
        `bulletin.updated` otherwise). Title, body and expiry edits send `bulletin.updated`.
        """
        session = db_session()
        bulletin = get_bulletin(session, bulletin_id)
        authorise(f"police:{bulletin.force_id or '<none>'}")
        if not changes:
            abort(422, message="send status, or title/body_html/expires_at to change")
        edits = {k: changes[k] for k in ("title", "body_html", "expires_at") if k in changes}
        if edits:
            edit_bulletin(session, bulletin, **edits)
        if "status" in changes:
            change_status(session, bulletin, changes["status"], changes.get("note"))
        session.commit()
        return bulletin_json(bulletin)


@blp.route("/bulletins/<int:bulletin_id>/cap")
class BulletinCap(MethodView):
    @blp.response(200, content_type="application/cap+xml",
                  description="a CAP 1.2 alert (warnings only)")  # fmt: skip
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such warning")
    def get(self, bulletin_id: int) -> Any:
        """A warning's latest CAP 1.2 message: `Alert`, `Update` after an edit, `Cancel`

        `Alert` when published, an `Update` for each edit of its words, a `Cancel` once
        resolved or cancelled; an `Update` or `Cancel` lists every earlier message in
        `references` ("sender,identifier,sent"). Public whatever its status, so that CAP
        consumers see the Cancel.
        """
        bulletin = get_bulletin(db_session(), bulletin_id)
        if bulletin.kind != "warning":
            _visible(bulletin)
            abort(404, message=f"bulletin {bulletin_id} is {bulletin.kind}, not a warning: "
                               "CAP is published for warnings")  # fmt: skip
        web = url_for("bulletins.BulletinItem", bulletin_id=bulletin.id, _external=True)
        return Response(cap_alert(bulletin, web), mimetype="application/cap+xml")


class WebhookEventSchema(Schema):
    event = fields.String(metadata={"enum": ["bulletin.published", "bulletin.updated",
                                             "bulletin.withdrawn"]})  # fmt: skip
    status = fields.String(metadata={"enum": ["pending", "delivered", "failed", "cancelled"]})
    attempts = fields.Integer()
    last_status = fields.Integer(allow_none=True, metadata={"description": "HTTP status"})
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class DeliverySchema(OutletSchema):
    matched_at = fields.DateTime()
    webhook = fields.List(fields.Nested(WebhookEventSchema),
                          metadata={"description": "events sent about this bulletin"})  # fmt: skip


class DeliveriesSchema(Schema):
    bulletin_id = fields.Integer()
    outlet_count = fields.Integer(metadata={"description": "outlets it reached"})
    webhooks = fields.Dict(keys=fields.String(), values=fields.Integer(),
                           metadata={"description": "events by status",
                                     "example": {"delivered": 3, "pending": 1}})  # fmt: skip
    items = fields.List(fields.Nested(DeliverySchema))


@blp.route("/bulletins/<int:bulletin_id>/deliveries")
class BulletinDeliveries(MethodView):
    @blp.response(200, DeliveriesSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such bulletin")
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, bulletin_id: int) -> Any:
        """Which outlets a bulletin reached and how its webhooks went (its force's key)"""
        session = db_session()
        bulletin = get_bulletin(session, bulletin_id)
        authorise(f"police:{bulletin.force_id}")
        items = deliveries_of(session, bulletin.id)
        by_status: dict[str, int] = {}
        for item in items:
            for event in item["webhook"]:
                by_status[event["status"]] = by_status.get(event["status"], 0) + 1
        return {"bulletin_id": bulletin.id, "outlet_count": len(items), "webhooks": by_status,
                "items": items}  # fmt: skip
