"""Outlets' subscriptions to bulletins: their feeds, their webhooks and the delivery log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import abort

from api.auth import require_scope
from api.blueprint import Blueprint
from api.database import db_session, get_database
from api.pagination import PageQuerySchema, list_page, page_args, page_body
from api.subscription_schemas import (
    MessagePageSchema,
    MessageSchema,
    SecretSchema,
    SubscriptionCreateSchema,
    SubscriptionPageSchema,
    SubscriptionSchema,
    SubscriptionUpdateSchema,
    TestResultSchema,
)
from directory.geography.area_specs import area_from_spec
from directory.sites.store import get_site
from directory.storage import utcnow
from feeds.syndication.delivery_log import (
    delivery_log,
    get_message,
    redeliver,
    send_test_event,
)
from feeds.syndication.models import Subscription, WebhookAttempt, WebhookMessage
from feeds.syndication.resume import resume
from feeds.syndication.subscription_feeds import (
    FEED_CONTENT_TYPES,
    FeedLinks,
    subscription_feed_body,
    subscription_feed_version,
)
from feeds.syndication.subscriptions import (
    create_subscription,
    enable_webhook,
    force_wide_kinds,
    get_subscription,
    list_subscriptions,
    rotate_secret,
    signing_secrets,
    update_subscription,
)

blp = Blueprint("subscriptions", __name__,
                description="Outlets' subscriptions: bulletin feeds and webhooks")  # fmt: skip

NO_STORE = {"Cache-Control": "no-store"}


def subscription_json(subscription: Subscription) -> dict[str, Any]:
    token = subscription.feed_token
    now = utcnow()
    live = signing_secrets(subscription.webhook_secrets, now)
    return {
        "id": subscription.id,
        "site_id": subscription.site_id,
        "label": subscription.label,
        "kinds": subscription.kinds,
        "follows_site": subscription.follows_site,
        "radius_m": subscription.radius_m,
        "area": {k: v for k, v in subscription.area.items() if k != "own"},
        "channels": subscription.channels,
        "force_wide_kinds": force_wide_kinds(subscription),
        "feeds": {
            fmt: url_for("subscriptions.SubscriptionFeed", token=token, fmt=fmt, _external=True)
            for fmt in FEED_CONTENT_TYPES
        },
        "webhook": {
            "url": subscription.webhook_url,
            "state": subscription.webhook_state,
            "disabled_reason": subscription.webhook_disabled_reason,
            "failing_since": subscription.webhook_failing_since,
            "secret": live[0] if live else None,
            "previous_secrets_until": [
                datetime.fromisoformat(s["expires_at"])
                for s in subscription.webhook_secrets
                if s.get("expires_at")
            ],
        },
        "active": subscription.active,
        "created_at": subscription.created_at,
        "updated_at": subscription.updated_at,
    }


def message_json(message: WebhookMessage, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {
        "id": message.msg_id,
        "event": message.event,
        "bulletin_id": message.bulletin_id,
        "status": message.status,
        "attempts": [
            {
                "at": a.at,
                "http_status": a.http_status,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],  # fmt: skip
        "next_attempt_at": message.next_attempt_at,
        "created_at": message.created_at,
        "delivered_at": message.delivered_at,
        "payload": json.loads(message.payload),
    }


@blp.route("/sites/<int:site_id>/subscriptions")
class Subscriptions(MethodView):
    @require_scope(blp, "editor:{site_id}")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, SubscriptionPageSchema)
    def get(self, args: dict[str, Any], site_id: int) -> Any:
        """A site's subscriptions (its editors), a page at a time"""
        session = db_session()
        get_site(session, site_id)
        found = list_subscriptions(session, site_id)
        return list_page(found, args, subscription_json), 200, NO_STORE

    @require_scope(blp, "editor:{site_id}")
    @blp.arguments(SubscriptionCreateSchema)
    @blp.response(201, SubscriptionSchema)
    def post(self, body: dict[str, Any], site_id: int) -> Any:
        """Subscribe the outlet to bulletins (its editors)

        Bulletins posted from now on whose area meets the subscription's are delivered: in
        its feeds at once, and to its webhook as signed `bulletin.published` events. The
        response holds the webhook's signing secret.
        """
        session = db_session()
        site = get_site(session, site_id)
        if site.status != "approved":
            abort(409, message=f"site {site_id} is {site.status}: it can subscribe once an "
                               "admin approves it")  # fmt: skip
        area = area_from_spec(session, body["area"]) if body["area"] is not None else None
        subscription = create_subscription(
            session, site, label=body["label"], kinds=body["kinds"], area=area,
            radius_m=body["radius_m"], channels=body["channels"],
            webhook_url=body["webhook_url"], guard=current_app.extensions["hyperlocal_http"],
            force_wide_kinds=body["force_wide_kinds"],
        )  # fmt: skip
        session.commit()
        return subscription_json(subscription), 201, NO_STORE


@blp.route("/sites/<int:site_id>/subscriptions/<int:subscription_id>")
class SubscriptionItem(MethodView):
    @require_scope(blp, "editor:{site_id}")
    @blp.response(200, SubscriptionSchema)
    def get(self, site_id: int, subscription_id: int) -> Any:
        """One subscription (its site's editors)"""
        subscription = get_subscription(db_session(), site_id, subscription_id)
        return subscription_json(subscription), 200, NO_STORE

    @require_scope(blp, "editor:{site_id}")
    @blp.arguments(SubscriptionUpdateSchema)
    @blp.response(200, SubscriptionSchema)
    def patch(self, changes: dict[str, Any], site_id: int, subscription_id: int) -> Any:
        """Change a subscription; `webhook_enabled: true` turns a disabled endpoint back on"""
        session = db_session()
        subscription = get_subscription(session, site_id, subscription_id)
        site = get_site(session, site_id)
        enable = changes.pop("webhook_enabled", None)
        if "area" in changes and changes["area"] is not None:
            changes["area"] = area_from_spec(session, changes["area"])
        update_subscription(session, subscription, site, **changes,
                            guard=current_app.extensions["hyperlocal_http"])  # fmt: skip
        if enable:
            enable_webhook(subscription)
        resume(session, subscription, utcnow())  # what it missed while paused, if it was
        session.commit()
        return subscription_json(subscription), 200, NO_STORE

    @require_scope(blp, "editor:{site_id}")
    @blp.response(204)
    def delete(self, site_id: int, subscription_id: int) -> None:
        """End a subscription (its feeds stop answering; queued events are dropped)"""
        session = db_session()
        session.delete(get_subscription(session, site_id, subscription_id))
        session.commit()


@blp.route("/sites/<int:site_id>/subscriptions/<int:subscription_id>/rotate-secret")
class RotateSecret(MethodView):
    @require_scope(blp, "editor:{site_id}")
    @blp.response(200, SecretSchema)
    def post(self, site_id: int, subscription_id: int) -> Any:
        """A new webhook signing secret

        Events are signed with both the new and the previous secret for 24 hours (several
        `v1,` signatures in `webhook-signature`), so the receiver can switch without a gap.
        """
        session = db_session()
        subscription = get_subscription(session, site_id, subscription_id)
        secret = rotate_secret(subscription)
        session.commit()
        until = [s["expires_at"] for s in subscription.webhook_secrets[1:2]]
        previous = datetime.fromisoformat(until[0]) if until else None
        return {"secret": secret, "previous_valid_until": previous}, 200, NO_STORE


@blp.route("/sites/<int:site_id>/subscriptions/<int:subscription_id>/test")
class TestEvent(MethodView):
    @require_scope(blp, "editor:{site_id}")
    @blp.response(200, TestResultSchema)
    def post(self, site_id: int, subscription_id: int) -> Any:
        """Send a signed `test` event to the webhook now, and say how it went

        The attempt is in the delivery log like any other; a failed test is retried as
        events are.
        """
        session = db_session()
        subscription = get_subscription(session, site_id, subscription_id)
        client = current_app.extensions["hyperlocal_http"]
        sent = send_test_event(session, get_database().sessions, client, subscription)
        body = {"message": message_json(sent.message, sent.attempts), "delivered": sent.delivered}
        return body, 200, NO_STORE


@blp.route("/sites/<int:site_id>/subscriptions/<int:subscription_id>/deliveries")
class Deliveries(MethodView):
    @require_scope(blp, "editor:{site_id}")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, MessagePageSchema)
    def get(self, args: dict[str, Any], site_id: int, subscription_id: int) -> Any:
        """The webhook delivery log: every event, newest first, with its attempts"""
        session = db_session()
        get_subscription(session, site_id, subscription_id)
        page, per_page = page_args(args)
        messages, attempts, total = delivery_log(session, subscription_id, page, per_page)
        items = [message_json(m, attempts[m.id]) for m in messages]
        return page_body(items, page, per_page, total), 200, NO_STORE


@blp.route("/sites/<int:site_id>/subscriptions/<int:subscription_id>/deliveries/"
           "<string:msg_id>/redeliver")  # fmt: skip
class Redeliver(MethodView):
    @require_scope(blp, "editor:{site_id}")
    @blp.response(202, MessageSchema)
    def post(self, site_id: int, subscription_id: int, msg_id: str) -> Any:
        """Send a logged event again (same `webhook-id`, same body, fresh retries)"""
        session = db_session()
        subscription = get_subscription(session, site_id, subscription_id)
        if subscription.webhook_state != "active":
            abort(409, message="the webhook is not active: set webhook_enabled first")
        message = get_message(session, subscription_id, msg_id)
        redeliver(session, message)
        session.commit()
        return message_json(message, []), 202, NO_STORE


@blp.route("/subscriptions/feeds/<string:token>/<any(rss, atom, json, cap):fmt>")
class SubscriptionFeed(MethodView):
    @blp.response(
        200,
        content_type="application/rss+xml",
        description="RSS 2.0, Atom, JSON Feed 1.1, or an Atom list of CAP alerts",
    )
    @blp.alt_response(304, description="not modified since the ETag or date sent")
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such feed")
    def get(self, token: str, fmt: str) -> Any:
        """A subscription's active bulletins, newest first

        The address is the credential: anyone with it can read the feed. `cap` lists the
        warnings, each linking to its CAP 1.2 alert.
        """
        session = db_session()
        version = subscription_feed_version(session, token, fmt)
        links = FeedLinks(
            self_url=url_for("subscriptions.SubscriptionFeed", token=token, fmt=fmt,
                             _external=True),
            home_url=url_for("bulletins.Bulletins", _external=True),
            item_url=url_for("bulletins.BulletinItem", bulletin_id=0, _external=True)[:-1] + "{id}",
            hub_url=url_for("websub.Hub", _external=True),
        )  # fmt: skip
        response = Response(status=200)
        response.set_etag(version.etag)
        # WebSub discovery (section 4): readers may subscribe at our hub for pushes.
        response.headers["Link"] = f'<{links.hub_url}>; rel="hub", <{links.self_url}>; rel="self"'

        response.last_modified = version.modified
        response.headers["Cache-Control"] = "no-cache"
        if request.if_none_match.contains(version.etag) or (
            not request.if_none_match and request.if_modified_since
            and request.if_modified_since >= version.modified
        ):  # fmt: skip
            response.status_code = 304
            return response
        response.set_data(subscription_feed_body(session, version, fmt, links))
        response.headers["Content-Type"] = FEED_CONTENT_TYPES[fmt]
        return response
