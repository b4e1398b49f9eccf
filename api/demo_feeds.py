"""The demo's own feeds, served by the demo app so `hyperlocal demo` polls them offline.

Registered only when the app runs as the demo (``DEMO`` set by ``hyperlocal demo``). The feeds
are packaged files; the worker fetches them over HTTP like any other feed (conditional GET
included), so the demo shows the real ingestion path rather than a shortcut.
"""

from __future__ import annotations

import hashlib

from flask import Response, request
from flask.views import MethodView
from flask_smorest import abort

from api.blueprint import Blueprint
from feeds.demo import demo_feed_names, demo_feed_path

blp = Blueprint("demo", __name__, description="Demo feeds (only in `hyperlocal demo`)")


@blp.route("/demo/feeds/<string:name>")
class DemoFeed(MethodView):
    @blp.response(200, content_type="application/rss+xml")
    def get(self, name: str) -> Response:
        """A fictional demo feed (RSS 2.0)"""
        if name not in demo_feed_names():
            abort(404, message=f"no demo feed '{name}'")
        body = demo_feed_path(name).read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, mimetype="application/rss+xml", headers={"ETag": etag})
