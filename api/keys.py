"""API key management for admins (the same operations as ``hyperlocal keys``)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates

from api.auth import current_key, require_scope
from api.blueprint import Blueprint
from api.database import db_session
from api.pagination import PageQuerySchema, PaginationSchema, list_page
from directory.key_scopes import create_scoped_key
from directory.keys.store import (
    MAX_KEY_ID,
    MAX_LABEL_LENGTH,
    InvalidScope,
    list_api_keys,
    parse_scope,
    revoke_api_key,
)

NO_STORE = {"Cache-Control": "no-store"}  # responses about keys stay out of every cache

blp = Blueprint("keys", __name__, description="API keys (admin only)")


class ApiKeySchema(Schema):
    id = fields.Integer(dump_only=True)
    prefix = fields.String(
        dump_only=True, metadata={"description": "first characters of the key, to recognise it"}
    )
    scope = fields.String(metadata={"example": "police:leicestershire"})
    label = fields.String(allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class NewApiKeyRequestSchema(Schema):
    scope = fields.String(
        required=True,
        metadata={
            "description": "admin, police:<force-id> or editor:<site-id>",
            "example": "police:leicestershire",
        },
    )
    label = fields.String(
        load_default=None,
        validate=validate.Length(max=MAX_LABEL_LENGTH),
        metadata={"example": "press office"},
    )

    @validates("scope")
    def check_scope(self, value: str, **_: Any) -> None:
        try:
            parse_scope(value)
        except InvalidScope as exc:
            raise ValidationError(str(exc)) from exc


class ApiKeyPageSchema(Schema):
    items = fields.List(fields.Nested(ApiKeySchema))
    pagination = fields.Nested(PaginationSchema)


class NewApiKeySchema(ApiKeySchema):
    key = fields.String(
        dump_only=True, metadata={"description": "the key itself; shown only this once"}
    )


@blp.route("/keys")
class ApiKeys(MethodView):
    @require_scope(blp, "admin")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, ApiKeyPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List API keys (never the keys themselves), oldest first, a page at a time"""
        return list_page(list_api_keys(db_session()), args, lambda key: key), 200, NO_STORE

    @require_scope(blp, "admin")
    @blp.arguments(NewApiKeyRequestSchema)
    @blp.response(201, NewApiKeySchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create an API key; the response is the only time the key is shown"""
        session = db_session()
        created = create_scoped_key(session, body["scope"], body["label"])
        session.commit()
        fields = ApiKeySchema().fields
        body = {name: getattr(created.key, name) for name in fields} | {"key": created.secret}
        return body, 201, NO_STORE


@blp.route(f"/keys/<int(max={MAX_KEY_ID}):key_id>")
class ApiKeyItem(MethodView):
    @require_scope(blp, "admin")
    @blp.response(200, ApiKeySchema)
    @blp.alt_response(409, response="DEFAULT_ERROR",
                      description="the last working admin key cannot revoke itself")  # fmt: skip
    def delete(self, key_id: int) -> Any:
        """Revoke an API key (it stops working at once; the record stays)"""
        session = db_session()
        key = revoke_api_key(session, key_id, by=current_key())
        session.commit()
        return key, 200, NO_STORE
