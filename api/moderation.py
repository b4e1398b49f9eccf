"""The admins' moderation page: the sites waiting for review, approved or rejected in a click.

A browser holds the admin key in a cookie set by the page's own form (``HttpOnly``,
``SameSite=Strict``, ``Path=/admin``, ``Secure`` over https): a page on another site cannot
make the browser send it, and every form post is also checked to come from this origin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, request, url_for

from api.database import db_session
from api.pages import page
from directory.keys.store import authenticate, scope_allows
from directory.sites.store import SiteInvalid, SiteNotFound, get_site, list_sites, set_site_status

blp = Blueprint("moderation", __name__)
COOKIE = "hl_admin"
PENDING_SHOWN = 100


def _admin() -> bool:
    secret = request.cookies.get(COOKIE)
    key = authenticate(db_session(), secret) if secret else None
    return key is not None and scope_allows(key.scope, "admin")


def _same_origin() -> bool:
    """A form post from this site's own page (Origin, else Referer, names this host)."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return urlsplit(source).netloc == request.host


def _moderation_page(message: str | None = None, status: int = 200) -> Response:
    if not _admin():
        response = page("admin_login.html", status=401 if status == 200 else status,
                        message=message)  # fmt: skip
    else:
        pending = list_sites(db_session(), statuses=("pending",), per_page=PENDING_SHOWN)
        response = page("moderation.html", status=status, sites=pending.items,
                        total=pending.total, message=message)  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/admin/moderation")
def moderation() -> Any:
    return _moderation_page(request.args.get("done"))


@blp.route("/admin/login", methods=["POST"])
def login() -> Any:
    if not _same_origin():
        return _moderation_page("Sign in from this page.", status=403)
    secret = request.form.get("key", "").strip()
    key = authenticate(db_session(), secret) if secret else None
    if key is None or not scope_allows(key.scope, "admin"):
        return _moderation_page("That is not an admin key.", status=403)
    response = redirect(url_for("moderation.moderation"), code=303)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="Strict", path="/admin",
                        secure=request.is_secure, max_age=8 * 3600)  # fmt: skip
    return response


@blp.route("/admin/logout", methods=["POST"])
def logout() -> Any:
    response = redirect(url_for("moderation.moderation"), code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


@blp.route("/admin/moderation/<int:site_id>", methods=["POST"])
def decide(site_id: int) -> Any:
    if not _same_origin():
        return _moderation_page("Decide from this page.", status=403)
    if not _admin():
        return _moderation_page("Sign in with an admin key first.", status=401)
    session = db_session()
    decision = request.form.get("decision")
    if decision not in ("approved", "rejected"):
        return _moderation_page("Choose approve or reject.", status=422)
    try:
        site = get_site(session, site_id)
        reason = request.form.get("reason", "").strip() or None
        set_site_status(session, site, decision, reason if decision == "rejected" else None)
    except (SiteNotFound, SiteInvalid) as exc:
        return _moderation_page(str(exc), status=422)
    session.commit()
    words = "approved" if decision == "approved" else "rejected"
    return redirect(url_for("moderation.moderation", done=f"{site.name}: {words}."), code=303)
