"""One JSON error shape for every error, and the mapping of domain exceptions onto it.

The shape is flask-smorest's, always with a message a person can act on:
``{"code": 404, "status": "Not Found", "message": "...", "errors": {...}}`` (``errors`` only for
field validation). Unknown routes, wrong methods and unexpected failures answer the same way.
"""

from __future__ import annotations

import json
import logging
import re

from flask import Flask, has_request_context, request
from flask_smorest import abort
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from directory.accounts import AccountInvalid
from directory.coverage import NoPatch
from directory.geography.areas import AreaInvalid
from directory.geography.geocoding import GeocoderUnavailable
from directory.geography.locate import LocateError, PlaceNotFound
from directory.geography.postcode_format import PostcodeInvalid
from directory.geography.postcodes import PostcodeNotFound
from directory.keys.store import ApiKeyNotFound, InvalidLabel, InvalidScope, LastAdminKey
from directory.police.store import (
    ForceNotFound,
    NeighbourhoodNotFound,
    OfficerNotFound,
    PoliceInvalid,
)
from directory.sites.store import SiteConflict, SiteInvalid, SiteNotFound
from feeds.ingest.store import FeedNotFound
from feeds.syndication.bulletin_queries import BulletinNotFound
from feeds.syndication.bulletins import BulletinInvalid
from feeds.syndication.delivery_log import MessageNotFound, RedeliveryRefused, WebhookUnavailable
from feeds.syndication.subscriptions import SubscriptionInvalid, SubscriptionNotFound

log = logging.getLogger(__name__)

# Domain exception → HTTP status. The exception's message is what the client reads.
DOMAIN_ERRORS: dict[type[Exception], int] = {
    PostcodeInvalid: 422,
    LocateError: 422,
    InvalidScope: 422,
    InvalidLabel: 422,
    AreaInvalid: 422,
    AccountInvalid: 422,
    SiteInvalid: 422,
    SiteConflict: 409,
    SiteNotFound: 404,
    ForceNotFound: 404,
    NeighbourhoodNotFound: 404,
    OfficerNotFound: 404,
    PoliceInvalid: 422,
    NoPatch: 422,
    PostcodeNotFound: 404,
    PlaceNotFound: 404,
    ApiKeyNotFound: 404,
    LastAdminKey: 409,
    FeedNotFound: 404,
    BulletinNotFound: 404,
    BulletinInvalid: 422,
    SubscriptionNotFound: 404,
    SubscriptionInvalid: 422,
    MessageNotFound: 404,
    RedeliveryRefused: 409,
    WebhookUnavailable: 409,
    GeocoderUnavailable: 503,
}

VALIDATION_MESSAGE = "the request is not valid: see 'errors' for what to change"


def error_payload(error: HTTPException) -> tuple[dict, int, dict]:
    """(body, status, headers) for an HTTP error, in the one shape."""
    data = getattr(error, "data", None) or {}
    payload: dict = {"code": error.code, "status": error.name}
    errors = data.get("errors") or data.get("messages")
    message = data.get("message") or (VALIDATION_MESSAGE if errors else error.description)
    if error.code == 404 and has_request_context() and request.url_rule is None:
        message = f"there is no {request.path}; the API is described at /openapi.json"
    payload["message"] = message
    if errors:
        payload["errors"] = errors
    headers = dict(data.get("headers") or {})
    allowed = getattr(error, "valid_methods", None)
    if error.code == 405 and allowed and not data.get("message"):
        headers["Allow"] = ", ".join(allowed)
        shown = [m for m in allowed if m not in ("HEAD", "OPTIONS")]
        payload["message"] = (
            f"{request.method} is not allowed on {request.path}; use {', '.join(shown)}"
        )
    return payload, error.code or 500, headers


# WebSub speaks forms (subscription requests) and feeds (pushed content), as its spec says;
# the pages for people post forms.
NOT_JSON = ("/websub/", "/admin/", "/submissions/")


def require_json_bodies() -> None:
    """Refuse a request body that is not declared as JSON, instead of ignoring it.

    Without this, a JSON document sent as a form (curl's default) reads as an empty body and
    the client is told its fields are missing.
    """
    body = request.method in ("POST", "PUT", "PATCH") and bool(request.content_length)
    if body and not request.is_json and not request.path.startswith(NOT_JSON):
        abort(415, message="send the body as JSON with 'Content-Type: application/json'")


# A \\uD800-\\uDBFF escape not followed by a low one, or a low one not preceded by a high one.
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<![0-9a-fA-F]{2})(?<!\\u[dD][89abAB])\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def refuse_nul_characters() -> None:
    """Refuse NUL characters anywhere in a request: PostgreSQL cannot store them in text, and
    no postcode, name or URL contains one."""
    raw_query = request.query_string
    if "\x00" in request.path or b"%00" in raw_query or b"\x00" in raw_query:
        abort(422, message="the request contains a NUL character")
    if request.content_length and request.is_json:
        body = request.get_data(cache=True)
        if b"\x00" in body or b"\\u0000" in body.lower():
            abort(422, message="the request body contains a NUL character")
        if _LONE_SURROGATE.search(body):
            abort(422, message="the request body contains an unpaired UTF-16 surrogate "
                  "(\\ud800-\\udfff): send text as valid Unicode")  # fmt: skip


def refuse_deep_json() -> None:
    """Refuse a JSON body nested deeper than the decoder can follow ([[[...]]] a thousand
    levels), which would otherwise surface as a RecursionError, a 500, on any endpoint."""
    if request.content_length and request.is_json:
        try:
            json.loads(request.get_data(cache=True))
        except RecursionError:
            abort(400, message="the JSON body is nested too deeply: send a flatter document")
        except ValueError:
            return  # not JSON at all: the endpoint's parser says so in its own words


def register_error_handlers(app: Flask) -> None:
    """Answer every error (HTTP, domain, unexpected) in the one JSON shape."""

    def handle_http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        return error_payload(error)

    def handle_domain_error(error: Exception):  # type: ignore[no-untyped-def]
        status = next(code for kind, code in DOMAIN_ERRORS.items() if isinstance(error, kind))
        return error_payload(default_exceptions[status](description=str(error)))

    def handle_unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error", exc_info=error)
        return error_payload(
            InternalServerError("something went wrong on our side; it has been logged")
        )

    app.register_error_handler(HTTPException, handle_http_error)
    for kind in DOMAIN_ERRORS:
        app.register_error_handler(kind, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
