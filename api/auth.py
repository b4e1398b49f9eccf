"""Bearer-key authentication and scopes: the one helper every protected view uses.

``@require_scope(blp, "admin")`` or ``@require_scope(blp, "police:{force}")`` (filled from the
view's URL arguments). A missing, unknown or revoked key is 401; a valid key without the scope
is 403. The helper also documents the security requirement and both errors in the OpenAPI spec.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, request
from flask_smorest import abort
from flask_smorest.error_handler import ErrorSchema

from api.blueprint import Blueprint
from api.database import db_session
from directory.keys.models import ApiKey
from directory.keys.store import authenticate, scope_allows

SECURITY_SCHEME = "bearerAuth"
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "an API key: hl_..."}
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="hyperlocal"'}


def current_key() -> ApiKey | None:
    """The key that authenticated this request, if any."""
    return g.get("api_key")


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def optional_key() -> ApiKey | None:
    """The request's key when one is sent (401 if it is unknown or revoked), else None.

    For public endpoints that show more to some callers (pending sites to admins).
    """
    secret = _presented_key()
    if secret is None:
        if request.headers.get("Authorization"):
            abort(401, message="send the API key as 'Authorization: Bearer <key>'",
                  headers=_CHALLENGE)  # fmt: skip
        return None
    key = authenticate(db_session(), secret)
    if key is None:
        abort(401, message="the API key is unknown or has been revoked", headers=_CHALLENGE)
    g.api_key = key
    return key


def key_allows(key: ApiKey | None, scope: str) -> bool:
    """True if ``key`` exists and its scope allows ``scope``."""
    return key is not None and scope_allows(key.scope, scope)


def authorise(required: str) -> ApiKey:
    """The request's key if it allows ``required``; else 401 (none, unknown, revoked) or 403.

    For views whose scope depends on what they read (a bulletin's force); ``require_scope``
    is the decorator for scopes named by the URL.
    """
    secret = _presented_key()
    if secret is None:
        abort(401, message="this needs an API key: send 'Authorization: Bearer <key>'",
              headers=_CHALLENGE)  # fmt: skip
    key = authenticate(db_session(), secret)
    if key is None:
        abort(401, message="the API key is unknown or has been revoked", headers=_CHALLENGE)
    if not scope_allows(key.scope, required):
        abort(403, message=f"this needs an API key with scope '{required}'; "
                           f"yours has scope '{key.scope}'")  # fmt: skip
    g.api_key = key
    return key


def require_scope(blp: Blueprint, scope_template: str) -> Callable:
    """Protect a view: the request needs a live key whose scope allows ``scope_template``.

    ``scope_template`` may name URL arguments ("police:{force}"); admin keys pass everywhere.
    """

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authorise(scope_template.format(**kwargs))
            return view(*args, **kwargs)

        documented = blp.doc(security=[{SECURITY_SCHEME: []}])(wrapper)
        documented = blp.alt_response(
            401, schema=ErrorSchema, description="missing, unknown or revoked API key"
        )(documented)
        return blp.alt_response(
            403, schema=ErrorSchema, description=f"the key lacks scope '{scope_template}'"
        )(documented)

    return decorator
