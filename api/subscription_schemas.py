"""Marshmallow schemas of an outlet's subscriptions, their webhook endpoint and delivery log.

They describe the JSON in openapi.yaml; ``api.subscriptions``' views build it with the
``*_json`` functions beside them, and tests/test_representations.py holds the two together.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.pagination import PaginationSchema
from feeds.syndication.models import BULLETIN_KINDS
from feeds.syndication.subscriptions import (
    CHANNELS,
    MAX_WIDEN_M,
)


class WebhookSchema(Schema):
    url = fields.String(allow_none=True)
    state = fields.String(metadata={"enum": ["none", "active", "disabled"]})
    disabled_reason = fields.String(allow_none=True)
    failing_since = fields.DateTime(allow_none=True)
    secret = fields.String(
        allow_none=True,
        metadata={"description": "the signing secret (whsec_...): verify with any Standard "
                  "Webhooks library"},
    )  # fmt: skip
    previous_secrets_until = fields.List(fields.DateTime())


class SubscriptionSchema(Schema):
    id = fields.Integer()
    site_id = fields.Integer()
    label = fields.String()
    kinds = fields.List(fields.String(metadata={"enum": list(BULLETIN_KINDS)}))
    follows_site = fields.Boolean(metadata={"description": "the area is the site's coverage"})
    radius_m = fields.Float(metadata={"description": "metres the area is widened by"})
    area = fields.Dict(metadata={"description": "the effective area bulletins are matched to"})
    channels = fields.List(fields.String(metadata={"enum": list(CHANNELS)}))
    force_wide_kinds = fields.List(
        fields.String(metadata={"enum": list(BULLETIN_KINDS)}),
        metadata={"description": "kinds also wanted when a bulletin is located only to a whole "
                  "force area (its precision is force)"},
    )  # fmt: skip
    feeds = fields.Dict(
        keys=fields.String(), values=fields.String(),
        metadata={"description": "rss, atom, json and cap (warnings) addresses: unguessable, "
                  "anyone holding one can read it"},
    )  # fmt: skip
    webhook = fields.Nested(WebhookSchema)
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


KINDS_EMPTY = "kinds must name at least one kind of bulletin"
CHANNELS_EMPTY = "channels must name at least one of feed, webhook"


class SubscriptionCreateSchema(Schema):
    label = fields.String(load_default="", validate=validate.Length(max=200))
    kinds = fields.List(
        fields.String(validate=validate.OneOf(BULLETIN_KINDS)), load_default=None,
        validate=validate.Length(min=1, error=KINDS_EMPTY),
        metadata={"description": "default: every kind"},
    )  # fmt: skip
    area = fields.Dict(
        load_default=None, allow_none=True,
        metadata={"description": "default (null): the site's coverage, kept in step with it"},
    )  # fmt: skip
    radius_m = fields.Float(
        load_default=0.0,
        validate=validate.Range(min=0, max=MAX_WIDEN_M),
        metadata={"description": "widen the area by this many metres"},
    )
    channels = fields.List(
        fields.String(validate=validate.OneOf(CHANNELS)),
        load_default=None,
        validate=validate.Length(min=1, error=CHANNELS_EMPTY),
        metadata={"description": "default: feed, and webhook with a url"},
    )
    webhook_url = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=2000))  # fmt: skip
    force_wide_kinds = fields.List(
        fields.String(validate=validate.OneOf(BULLETIN_KINDS)), load_default=None,
        metadata={"description": "kinds wanted even when a bulletin could only be located to "
                  "a whole force area; default: warning (appeals and missing people that say "
                  "no place only if you opt in); [] for none"},
    )  # fmt: skip


class SubscriptionUpdateSchema(Schema):
    label = fields.String(validate=validate.Length(max=200))
    kinds = fields.List(fields.String(validate=validate.OneOf(BULLETIN_KINDS)),
                        validate=validate.Length(min=1, error=KINDS_EMPTY))  # fmt: skip
    area = fields.Dict(allow_none=True)
    radius_m = fields.Float(validate=validate.Range(min=0, max=MAX_WIDEN_M))
    channels = fields.List(
        fields.String(validate=validate.OneOf(CHANNELS)),
        validate=validate.Length(min=1, error=CHANNELS_EMPTY),
    )
    webhook_url = fields.String(allow_none=True, validate=validate.Length(max=2000))
    force_wide_kinds = fields.List(
        fields.String(validate=validate.OneOf(BULLETIN_KINDS)),
        metadata={"description": "kinds wanted even when a bulletin could only be located to "
                  "a whole force area; default: warning (appeals and missing people that say "
                  "no place only if you opt in); [] for none"},
    )  # fmt: skip
    webhook_enabled = fields.Boolean(
        metadata={"description": "true: turn a disabled endpoint back on"}
    )
    active = fields.Boolean()


class SubscriptionPageSchema(Schema):
    items = fields.List(fields.Nested(SubscriptionSchema))
    pagination = fields.Nested(PaginationSchema)


class AttemptSchema(Schema):
    at = fields.DateTime()
    http_status = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()


class MessageSchema(Schema):
    id = fields.String(metadata={"description": "the webhook-id header"})
    event = fields.String()
    bulletin_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"enum": ["pending", "delivered", "failed", "cancelled"]})
    attempts = fields.List(fields.Nested(AttemptSchema))
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    payload = fields.Dict()


class MessagePageSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    pagination = fields.Nested(PaginationSchema)


class TestResultSchema(Schema):
    message = fields.Nested(MessageSchema)
    delivered = fields.Boolean()


class SecretSchema(Schema):
    secret = fields.String()
    previous_valid_until = fields.DateTime(allow_none=True)
