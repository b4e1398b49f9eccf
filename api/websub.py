"""WebSub (W3C): our hub for the subscription feeds, and our callback for publishers' hubs."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import EXCLUDE, Schema, fields, validate

from api.blueprint import Blueprint
from api.database import db_session, get_database
from directory.storage import utcnow
from feeds.ingest.websub import IntentRefused, LeaseNotFound, accept_push, verify_intent
from feeds.syndication.bulletins import bulletins_from_posts
from feeds.syndication.websub_hub import HubRequestInvalid, hub_request

blp = Blueprint(
    "websub", __name__, description="WebSub: push for subscription feeds, and from publishers' hubs"
)


class HubRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # WebSub lets a request carry other parameters

    mode = fields.String(
        data_key="hub.mode", required=True, validate=validate.OneOf(["subscribe", "unsubscribe"])
    )
    topic = fields.String(
        data_key="hub.topic",
        required=True,
        validate=validate.Length(1, 2000),
        metadata={"description": "one of our subscription feeds' addresses"},
    )
    callback = fields.String(
        data_key="hub.callback", required=True, validate=validate.Length(1, 2000)
    )
    secret = fields.String(
        data_key="hub.secret",
        validate=validate.Length(1, 199),
        metadata={"description": "signs each push (X-Hub-Signature: sha256=...)"},
    )
    lease_seconds = fields.Integer(
        data_key="hub.lease_seconds",
        validate=validate.Range(1, 10**9),
        metadata={"description": "default 10 days; held to between 1 hour and 30 days"},
    )


class VerificationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    mode = fields.String(
        data_key="hub.mode",
        required=True,
        validate=validate.OneOf(["subscribe", "unsubscribe", "denied"]),
    )
    topic = fields.String(data_key="hub.topic", required=True)
    challenge = fields.String(data_key="hub.challenge", validate=validate.Length(0, 1000))
    lease_seconds = fields.String(data_key="hub.lease_seconds")
    reason = fields.String(data_key="hub.reason", validate=validate.Length(0, 1000))


_FORM_FIELDS = {"mode": "hub.mode", "topic": "hub.topic", "callback": "hub.callback",
                "secret": "hub.secret", "lease_seconds": "hub.lease_seconds",
                "challenge": "hub.challenge", "reason": "hub.reason"}  # fmt: skip


def _hub_form(args: dict[str, Any]) -> dict[str, str]:
    return {_FORM_FIELDS[k]: str(v) for k, v in args.items()}


@blp.route("/websub/hub")
class Hub(MethodView):
    @blp.arguments(HubRequestSchema, location="form")
    @blp.response(202, description="accepted: the callback will be asked to confirm")
    @blp.alt_response(422, response="DEFAULT_ERROR", description="what to change")
    def post(self, args: dict[str, Any]) -> Any:
        """Subscribe a feed reader to a subscription feed (WebSub hub)

        `application/x-www-form-urlencoded`, as WebSub has it. The intent is then verified
        with a GET to `hub.callback` (echo `hub.challenge`); from then on the feed's new
        content is POSTed there whenever it changes, signed with `hub.secret` if given.
        """
        session = db_session()
        try:
            hub_request(session, _hub_form(args), request.url_root,
                        current_app.extensions["hyperlocal_http"], utcnow())  # fmt: skip
        except HubRequestInvalid as exc:
            abort(422, message=str(exc))
        session.commit()
        return Response("", status=202)


@blp.route("/websub/callback/<string:token>")
class Callback(MethodView):
    @blp.arguments(VerificationSchema, location="query")
    @blp.response(200, content_type="text/plain", description="the challenge, echoed")
    @blp.alt_response(404, response="DEFAULT_ERROR", description="we did not ask for this")
    def get(self, args: dict[str, Any], token: str) -> Any:
        """A publisher's hub confirms our subscription (WebSub verification of intent)"""
        session = db_session()
        try:
            challenge = verify_intent(session, token, _hub_form(args), utcnow())
        except (LeaseNotFound, IntentRefused) as exc:
            abort(404, message=str(exc))
        session.commit()
        return Response(challenge, status=200, mimetype="text/plain")

    @blp.response(202, description="received (stored if its signature holds)")
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no subscription here")
    def post(self, token: str) -> Any:
        """A publisher's hub pushes its feed's new content (signed with X-Hub-Signature)

        Stored as a poll would store it; content whose signature does not match our secret
        is acknowledged and ignored, as WebSub requires.
        """
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            accept_push(get_database().sessions, token, request.get_data(cache=False), headers,
                        utcnow(), on_new_posts=bulletins_from_posts)  # fmt: skip
        except LeaseNotFound as exc:
            abort(404, message=str(exc))
        return Response("", status=202)
