"""Rate limits (flask-limiter), counted in Redis when one is configured.

Every request counts against its client: the API key it bears (by a hash of the key, never the
key), else its address. Keys get ``RATE_LIMIT_KEYS``; everyone else ``RATE_LIMIT_PUBLIC`` (generous:
a newsroom's widget on a busy night is many readers behind one address). On top of that, the
writes anyone can make without a key have tight limits of their own: submitting a site
(``POST /sites``), the submitter's status link and editor key, the moderators' login; and a
force's bulletin posting has ``RATE_LIMIT_BULLETINS``. Health, readiness, metrics and publishers'
WebSub pushes to us are not limited.

Where the counts live: ``RATE_LIMIT_STORAGE_URL``, else ``BROKER_URL`` (the Redis Celery uses),
else this process's memory, in which case each gunicorn worker counts on its own (a limit of
N is then N per worker). When Redis is configured but down, requests are still served, counted
in memory per process until it is back (a choice: a cache outage must not take the public site
down on the night it is needed; the log says so).

A 429 answers in the one error shape, with ``Retry-After`` and the ``X-RateLimit-*`` headers.
Behind a proxy, set ``PROXY_HOPS`` so the client's address is the one it forwarded.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from api.errors import error_payload

log = logging.getLogger(__name__)

UNLIMITED = ("health.Health", "operations.Ready", "operations.Metrics", "websub.Callback", "static")


def client_key() -> str:
    """Whom a request counts against: its API key (hashed), else its address."""
    if _has_key():
        key = request.headers["Authorization"][7:].strip()
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    return "addr:" + (request.remote_addr or "unknown")


def _has_key() -> bool:
    header = request.headers.get("Authorization", "")
    return header.lower().startswith("bearer ") and bool(header[7:].strip())


def _per_client() -> str:
    settings = current_app.config
    return settings["RATE_LIMIT_KEYS"] if _has_key() else settings["RATE_LIMIT_PUBLIC"]


def _unlimited() -> bool:
    return request.endpoint in UNLIMITED


def storage_url(settings: dict[str, Any]) -> str:
    return settings["RATE_LIMIT_STORAGE_URL"] or settings["BROKER_URL"] or "memory://"


LIMIT_SETTINGS = ("RATE_LIMIT_PUBLIC", "RATE_LIMIT_KEYS", "RATE_LIMIT_SUBMISSIONS",
                  "RATE_LIMIT_BULLETINS")  # fmt: skip


def check_limits(settings: dict[str, Any]) -> None:
    """Refuse, by name, a limit flask-limiter could not read (it would switch limiting off)."""
    for name in LIMIT_SETTINGS:
        try:
            parse_many(str(settings[name]))
        except ValueError:
            raise ValueError(
                f"HYPERLOCAL_{name}={settings[name]!r}: write a limit such as "
                "'600 per minute' or '20/hour'"
            ) from None


def init_limits(app: Flask) -> Limiter:
    """The app's limiter; ``limit_blueprints`` puts the tight limits on once they exist."""
    if app.config["PROXY_HOPS"] > 0:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    url = storage_url(app.config)

    @app.after_request  # registered first, so it runs after the limiter has added its headers
    def _retry_after_only_when_refused(response: Response) -> Response:
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response

    limiter = Limiter(
        client_key,
        app=app,
        default_limits=[_per_client],
        default_limits_exempt_when=_unlimited,
        storage_uri=url,
        storage_options={"socket_timeout": 1, "socket_connect_timeout": 1}
        if url.startswith("redis")
        else {},
        strategy="moving-window",
        headers_enabled=True,
        swallow_errors=True,  # Redis down: serve, counting in memory (below)
        in_memory_fallback_enabled=True,
        key_prefix="hyperlocal",
        enabled=app.config["RATE_LIMITS"],
    )
    app.extensions["hyperlocal_limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many)
    return limiter


def limit_blueprints(app: Flask, limiter: Limiter, blueprints: dict[str, Any]) -> None:
    """The tight limits on writes anyone can make, and on bulletin posting."""
    settings = app.config
    limiter.limit(lambda: settings["RATE_LIMIT_SUBMISSIONS"], methods=["POST"],
                  override_defaults=False)(blueprints["sites"])  # fmt: skip
    limiter.limit(lambda: settings["RATE_LIMIT_SUBMISSIONS"], override_defaults=False)(
        blueprints["submissions"])  # fmt: skip
    limiter.limit(lambda: settings["RATE_LIMIT_SUBMISSIONS"], methods=["POST"],
                  override_defaults=False)(blueprints["moderation"])  # fmt: skip
    limiter.limit(lambda: settings["RATE_LIMIT_BULLETINS"], methods=["POST"],
                  override_defaults=False)(blueprints["bulletins"])  # fmt: skip


def _too_many(error: RateLimitExceeded):  # type: ignore[no-untyped-def]
    limit = error.limit.limit if error.limit else None
    what = f"at most {limit}" if limit else "a limit"
    error.description = (
        f"too many requests: this allows {what} for each client; wait for the time in "
        "Retry-After and try again"
    )
    return error_payload(error)
