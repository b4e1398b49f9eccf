"""The editors' widget: local police appeals on an outlet's own site, that never shows an error.

- ``/embed/appeals?near=WV11 1AA`` (or ``?token=<subscription feed token>``; ``kinds=``,
  ``limit=``, ``accent=``): a compact HTML list for an ``<iframe>``;
- ``/embed/appeals.json``: the same items as JSON (CORS open), what ``/embed/appeals.js``
  reads to inject the list into the page without an iframe, keeping the last good answer in
  the browser so a failed fetch still shows it;
- ``/embed``: the page for editors: the snippet to copy and a live preview.

The list always says how fresh it is ("updated 4 minutes ago": when the force's feeds last
answered), and when nothing is active it says so plainly. A widget whose place or token is
wrong says what to change on the editors' page, but the list itself shows "no appeals" text,
never an error, on the outlet's page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from api.database import db_session
from api.pages import KIND_WORDS, page
from api.places import gazetteer, place_of
from directory.geography.locate import LocateError, PlaceNotFound
from directory.geography.postcodes import PostcodeNotFound
from directory.storage import utcnow
from feeds.local_digest import WIDGET_MAX, Appeals, appeals_for
from feeds.syndication.models import BULLETIN_KINDS
from feeds.syndication.subscriptions import SubscriptionNotFound

blp = Blueprint("embed", __name__)

DEFAULT_KINDS = ("appeal", "missing", "wanted", "warning")
_COLOUR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
EMBED_CACHE = "public, max-age=60, stale-while-revalidate=600, stale-if-error=86400"


def ago(moment: datetime | None, now: datetime) -> str:
    """ "updated 4 minutes ago", in words a reader takes in at a glance."""
    if moment is None:
        return "not updated yet"
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 1:
        return "updated just now"
    if minutes < 60:
        return f"updated {minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = minutes // 60
    if hours < 48:
        return f"updated {hours} hour{'s' if hours != 1 else ''} ago"
    return f"updated {hours // 24} days ago"


def _answer(args: Mapping[str, str]) -> tuple[Appeals | None, str | None]:
    """The widget's items for the query, or None and why (said on the editors' page)."""
    kinds = [k for k in args.get("kinds", "").split(",") if k in BULLETIN_KINDS]
    try:
        limit = int(args.get("limit") or 8)
    except ValueError:
        limit = 8
    token, near = args.get("token"), args.get("near", "").strip()
    session, wanted = db_session(), kinds or DEFAULT_KINDS
    try:
        if token:
            return appeals_for(session, token=token, kinds=wanted, limit=limit), None
        if not near:
            return None, "say where: near=<postcode or town>, or token=<subscription feed token>"
        place = place_of(near)
        point = (place.latitude, place.longitude)
        return appeals_for(session, point=point, kinds=wanted, limit=limit), None
    except SubscriptionNotFound:
        return None, "no subscription has this token: copy it from the subscription's feeds"
    except (LocateError, PlaceNotFound, PostcodeNotFound) as exc:
        return None, str(exc)


def _items(appeals: Appeals | None) -> list[dict[str, Any]]:
    if appeals is None:
        return []
    return [{"id": b.id, "kind": b.kind, "label": KIND_WORDS.get(b.kind, ""), "title": b.title,
             "url": b.link or url_for("bulletins.BulletinItem", bulletin_id=b.id, _external=True),
             "published_at": b.published_at.isoformat()}
            for b in appeals.bulletins]  # fmt: skip


@blp.route("/embed/appeals")
def appeals() -> Any:
    """The list for an iframe: styleable with ``accent=``, never an error on the page."""
    found, _problem = _answer(request.args)
    accent = _COLOUR.match(request.args.get("accent", ""))
    response = Response(render_template(
        "embed_appeals.html", items=_items(found),
        updated=ago(found.checked_at if found else None, utcnow()),
        accent=f"#{accent.group(1)}" if accent else None,
    ), mimetype="text/html")  # fmt: skip
    response.headers["Cache-Control"] = EMBED_CACHE
    # Meant to be framed by any outlet's page (file: previews too): no frame-ancestors limit.
    response.add_etag()
    return response.make_conditional(request)


@blp.route("/embed/appeals.json")
def appeals_json() -> Any:
    """The widget's items as JSON, for ``appeals.js`` and for sites that render their own."""
    found, problem = _answer(request.args)
    body = {"items": _items(found), "updated": ago(found.checked_at if found else None, utcnow()),
            "checked_at": found.checked_at.isoformat() if found and found.checked_at else None,
            "problem": problem}  # fmt: skip
    response = jsonify(body)
    response.headers["Cache-Control"] = EMBED_CACHE
    return response


@blp.route("/embed/appeals.js")
def appeals_js() -> Any:
    response = Response(render_template("embed_appeals.js"), mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@blp.route("/embed")
def editors() -> Any:
    """The editors' page: choose the place and kinds, copy the snippet, see it live."""
    near = request.args.get("near", "").strip()
    token = request.args.get("token", "").strip()
    kinds = [k for k in request.args.getlist("kinds") if k in BULLETIN_KINDS]
    problem = None
    query: dict[str, str] = {}
    if near and not token and len(gazetteer(near)) > 1:
        problem = (
            f"several places are called {near}: give a postcode (such as WV11 1AA) "
            "so the widget shows the right one"
        )
    elif near or token:
        query = {"token": token} if token else {"near": near}
        if kinds:
            query["kinds"] = ",".join(kinds)
        _found, problem = _answer(query)
    return page("embed.html", near=near, token=token, kinds=kinds or list(DEFAULT_KINDS),
                all_kinds=[k for k in BULLETIN_KINDS if k != "update"], words=KIND_WORDS,
                problem=problem, query=query, max=WIDGET_MAX,
                base=request.url_root.rstrip("/"))  # fmt: skip


def public_cors(response: Response) -> Response:
    """Public JSON reads may be fetched from any site's page (no credentials involved)."""
    if (request.method in ("GET", "HEAD") and "Authorization" not in request.headers
            and response.mimetype in ("application/json", "application/feed+json")):  # fmt: skip
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response
