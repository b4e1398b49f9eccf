"""The submitter's status link: is my site approved, and my editor key (once), no admin needed.

``/submissions/{token}`` answers JSON, or the page a person reads when the browser asks for
HTML; ``POST /submissions/{token}/editor-key`` gives the site's editor key once it is approved,
the one time.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request
from flask import abort as flask_abort
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.database import db_session
from api.pages import home
from directory.sites.models import SITE_STATUSES, Site
from directory.sites.submissions import (
    KeyNotAvailable,
    SubmissionNotFound,
    editor_key_state,
    site_by_submission,
    take_editor_key,
)
from directory.storage import utcnow

blp = Blueprint(
    "submissions", __name__, description="The submitter's status link: status, the editor key"
)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class SubmissionSchema(Schema):
    site_id = fields.Integer()
    name = fields.String()
    url = fields.String()
    status = fields.String(metadata={"enum": list(SITE_STATUSES)})
    rejection_reason = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime()
    editor_key = fields.String(
        metadata={"enum": ["available", "taken", "not yet"],
                  "description": "whether the editor key can be taken here now"}
    )  # fmt: skip


class EditorKeySchema(Schema):
    key = fields.String(metadata={"description": "shown once: Authorization: Bearer <key>"})
    scope = fields.String(metadata={"example": "editor:12"})


def _wants_html() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _site(token: str) -> Site:
    try:
        return site_by_submission(db_session(), token)
    except SubmissionNotFound as exc:
        if _wants_html():  # a person following the link: a page that says so
            flask_abort(home(f"{exc}.", status=404))
        abort(404, message=str(exc))
        raise


def submission_json(site: Site) -> dict[str, Any]:
    return {"site_id": site.id, "name": site.name, "url": site.url, "status": site.status,
            "rejection_reason": site.rejection_reason, "reviewed_at": site.reviewed_at,
            "submitted_at": site.created_at, "editor_key": editor_key_state(site)}  # fmt: skip


def _page(site: Site, key: str | None = None, problem: str | None = None) -> Response:
    html = render_template("submission.html", site=submission_json(site), key=key,
                           problem=problem)  # fmt: skip
    return Response(html, mimetype="text/html", headers=NO_STORE)


@blp.route("/submissions/<string:token>")
class Submission(MethodView):
    @blp.response(200, SubmissionSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no site has this link")
    def get(self, token: str) -> Any:
        """A submitted site's status, at the private link its submitter was given"""
        site = _site(token)
        if _wants_html():
            return _page(site)
        return submission_json(site), 200, NO_STORE


@blp.route("/submissions/<string:token>/editor-key")
class SubmissionEditorKey(MethodView):
    @blp.response(201, EditorKeySchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no site has this link")
    @blp.alt_response(409, response="DEFAULT_ERROR",
                      description="not approved yet, or the key was already taken")  # fmt: skip
    def post(self, token: str) -> Any:
        """Take the approved site's editor key, once (no admin needed)"""
        session = db_session()
        site = _site(token)
        try:
            key = take_editor_key(session, site, utcnow())
        except KeyNotAvailable as exc:
            if _wants_html():
                return _page(site, problem=str(exc))
            abort(409, message=str(exc))
        session.commit()
        if _wants_html():
            return _page(site, key=key.secret)
        return {"key": key.secret, "scope": f"editor:{site.id}"}, 201, NO_STORE
