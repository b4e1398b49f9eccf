"""HTTP caching of public reads, so a CDN or caching proxy in front absorbs a spike.

Every successful GET or HEAD gets an ``ETag`` (unless its view set one) and is answered 304 when
the client already holds it; ``Vary: Authorization``, since a key may see more (an admin sees
pending sites). Anonymous reads without a ``Cache-Control`` of their own become shared-cacheable
for a short while: ``public, max-age=PUBLIC_CACHE_SECONDS,
stale-while-revalidate=STALE_WHILE_REVALIDATE_SECONDS`` (a proxy keeps answering while it
asks us again). Reads bearing a key are ``private, no-cache``. Views that know better keep
their own header: postcodes (an hour), pages and the widget (a minute), subscription feeds
(``no-cache``: revalidated every time, cheaply), keys, submissions and moderation
(``no-store``). Health, readiness and metrics are never cached: a cache must not hide an outage.
"""

from __future__ import annotations

from flask import Flask, Response, request

NEVER_CACHED = (
    "health.Health",
    "operations.Ready",
    "operations.Metrics",
    "websub.Hub",
    "websub.Callback",
)


def _vary(response: Response, header: str) -> None:
    if header.lower() not in {value.strip().lower() for value in response.vary}:
        response.vary.add(header)


def init_caching(app: Flask) -> None:
    @app.after_request
    def cache_reads(response: Response) -> Response:
        if request.method not in ("GET", "HEAD"):
            return response
        if request.endpoint in NEVER_CACHED:
            response.headers["Cache-Control"] = "no-store"
            return response
        if response.status_code != 200 or response.is_streamed or response.direct_passthrough:
            return response
        policy = response.headers.get("Cache-Control", "")
        if "no-store" in policy:
            return response
        _vary(response, "Authorization")
        if not policy:
            if "Authorization" in request.headers:
                response.headers["Cache-Control"] = "private, no-cache"
            else:
                settings = app.config
                response.headers["Cache-Control"] = (
                    f"public, max-age={settings['PUBLIC_CACHE_SECONDS']}, "
                    f"stale-while-revalidate={settings['STALE_WHILE_REVALIDATE_SECONDS']}"
                )
        if response.get_etag()[0] is None:
            response.add_etag()
        response.make_conditional(request)
        # make_conditional stamps a Date of its own; the server sends one: keep a single one.
        response.headers.pop("Date", None)
        return response
