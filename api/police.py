"""Police forces and neighbourhood teams; the resident's lookup; the team's tools."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import abort

from api.auth import require_scope
from api.blueprint import Blueprint
from api.database import db_session
from api.pagination import PageQuerySchema, list_page, page_args, page_body
from api.places import near_of, place_of
from api.police_schemas import (
    NEAR_RADIUS_MAX_M,
    ForcePageSchema,
    ForceSchema,
    GapsQuerySchema,
    GapsSchema,
    LocalSchema,
    NeighbourhoodPageSchema,
    NeighbourhoodQuerySchema,
    NeighbourhoodSchema,
    NeighbourhoodUpdateSchema,
    OfficerCreateSchema,
    OfficerSchema,
    OfficerUpdateSchema,
)
from api.sites import SitePageSchema, published_since, site_json
from directory.accounts import accounts_from_json
from directory.coverage import patch_gaps
from directory.geography.area_builders import polygon_area
from directory.geography.locate import Location
from directory.local import LocalAnswer, local_to
from directory.police.models import Neighbourhood, Officer, PoliceForce
from directory.police.patches import (
    NeighbourhoodMatch,
    neighbourhood_area,
    neighbourhoods_near,
)
from directory.police.store import (
    active_officers,
    add_officer,
    get_force,
    get_neighbourhood,
    get_officer,
    list_forces,
    neighbourhoods_of_force,
    update_neighbourhood,
    update_officer,
)
from directory.sites.opml import FeedOutline, opml_document
from directory.sites.store import sites_intersecting
from directory.storage import utcnow
from feeds.directory_changes import officer_changed, team_changed

blp = Blueprint("police", __name__, description="Police forces, neighbourhood teams, officers")

PRECISION_NOTES = {
    "unit": "for this full postcode",
    "sector": "for the middle of this postcode sector; a full postcode is more precise",
    "district": "for the middle of this postcode district; a full postcode is more precise",
    "area": "for the middle of this postcode area; a full postcode is more precise",
}


# ------------------------------------------------------------------------ representation


def force_json(force: PoliceForce) -> dict[str, Any]:
    return {
        "id": force.id,
        "name": force.name,
        "url": force.url,
        "description": force.description,
        "telephone": force.telephone,
        "engagement": force.engagement,
    }


def officer_json(officer: Officer) -> dict[str, Any]:
    return {
        "id": officer.id,
        "name": officer.name,
        "rank": officer.rank,
        "bio": officer.bio,
        "accounts": officer.accounts,
        "active": officer.active,
    }


def neighbourhood_json(
    neighbourhood: Neighbourhood,
    officers: list[Officer] | None = None,
    match: NeighbourhoodMatch | None = None,
    boundary: bool = True,
) -> dict[str, Any]:
    """A team as the API shows it; ``boundary=False`` leaves out the (large) outline."""
    body: dict[str, Any] = {
        "force": neighbourhood.force_id,
        "id": neighbourhood.code,
        "name": neighbourhood.name,
        "description": neighbourhood.description,
        "url_force": neighbourhood.url_force,
        "centre": (
            {"lat": neighbourhood.centre_lat, "lng": neighbourhood.centre_lng}
            if neighbourhood.centre_lat is not None
            else None
        ),
        "contact_details": neighbourhood.contact_details,
        "accounts": neighbourhood.accounts,
        "links": neighbourhood.links,
        "active": neighbourhood.active,
    }
    if boundary:
        stored = neighbourhood.boundary
        body["boundary"] = stored["geometry"] if stored else None
    if officers is not None:
        body["officers"] = [officer_json(o) for o in officers]
    if match is not None:
        body["distance_m"] = match.distance_m
        body["reason"] = match.reason
    return body


def local_json(place: Location, local: LocalAnswer) -> dict[str, Any]:
    """The resident lookup's answer, in LocalSchema's shape (a test holds the two together)."""
    return {
        "query": place.label,
        "precision": place.precision,
        "note": PRECISION_NOTES.get(place.precision, "for the middle of this place")
        + (f"; {local.no_team}" if local.no_team else ""),
        "location": {"lat": place.latitude, "lng": place.longitude},
        "force": local.force,
        "neighbourhood": (
            neighbourhood_json(local.neighbourhood, boundary=False)
            if local.neighbourhood is not None
            else None
        ),  # fmt: skip
        "officers": [officer_json(o) for o in local.officers],
        "sites": [site_json(m.site, private=False, match=m, area=False) for m in local.sites],
        "dormant_sites": [
            site_json(m.site, private=False, match=m, area=False) for m in local.dormant
        ],  # fmt: skip
    }


def _isoformat(value: Any) -> str:
    """JSON for the datetimes in a body, as marshmallow's DateTime writes them."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ----------------------------------------------------------------------------- routes


@blp.route("/forces")
class Forces(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, ForcePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Police forces in the directory"""
        return list_page(list_forces(db_session()), args, force_json)


@blp.route("/forces/<string:force_id>")
class ForceItem(MethodView):
    @blp.response(200, ForceSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such force")
    def get(self, force_id: str) -> Any:
        """One police force, with its engagement channels (RSS feeds included)"""
        return force_json(get_force(db_session(), force_id))


@blp.route("/neighbourhoods")
class Neighbourhoods(MethodView):
    @blp.arguments(NeighbourhoodQuerySchema, location="query")
    @blp.response(200, NeighbourhoodPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Find neighbourhood teams by place, or list a force's teams

        With `near`: the team whose patch holds the place (`reason: covers`), then, if
        `radius` is given, teams within it; each with its active officers.
        """
        session = db_session()
        if near := near_of(args, NEAR_RADIUS_MAX_M):
            place, radius = near
            matches = neighbourhoods_near(session, place.latitude, place.longitude, radius)
            return list_page(matches, args, lambda m: neighbourhood_json(
                m.neighbourhood, active_officers(session, m.neighbourhood.id), m))  # fmt: skip
        page, per_page = page_args(args)
        if not args.get("force"):
            abort(422, message="say where: ?near=<postcode or lat,lng>, or ?force=<force id>")
        get_force(session, args["force"])
        found = neighbourhoods_of_force(session, args["force"], page, per_page)
        items = [neighbourhood_json(n) for n in found.items]
        return page_body(items, found.page, found.per_page, found.total)


@blp.route("/neighbourhoods/<string:force>/<string:code>")
class NeighbourhoodItem(MethodView):
    @blp.response(200, NeighbourhoodSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no such neighbourhood")
    def get(self, force: str, code: str) -> Any:
        """One neighbourhood team: patch, contact channels, accounts and active officers"""
        session = db_session()
        neighbourhood = get_neighbourhood(session, force, code)
        return neighbourhood_json(neighbourhood, active_officers(session, neighbourhood.id))

    @require_scope(blp, "police:{force}")
    @blp.arguments(NeighbourhoodUpdateSchema)
    @blp.response(200, NeighbourhoodSchema)
    def patch(self, changes: dict[str, Any], force: str, code: str) -> Any:
        """Correct a team (its force's key or an admin)

        A later import from data.police.uk replaces what it publishes.
        """
        session = db_session()
        neighbourhood = get_neighbourhood(session, force, code)
        if "accounts" in changes:
            changes["accounts"] = accounts_from_json(changes["accounts"])
        if "boundary" in changes:
            changes["boundary"] = polygon_area(changes["boundary"])
        update_neighbourhood(session, neighbourhood, **changes)
        team_changed(session, neighbourhood)
        session.commit()
        return neighbourhood_json(neighbourhood, active_officers(session, neighbourhood.id))


@blp.route("/neighbourhoods/<string:force>/<string:code>/officers")
class NeighbourhoodOfficers(MethodView):
    @require_scope(blp, "police:{force}")
    @blp.arguments(OfficerCreateSchema)
    @blp.response(201, OfficerSchema)
    def post(self, body: dict[str, Any], force: str, code: str) -> Any:
        """Add an officer to a team, with official accounts only (its force's key or an admin)"""
        session = db_session()
        neighbourhood = get_neighbourhood(session, force, code)
        officer = add_officer(
            session, neighbourhood, name=body["name"], rank=body["rank"], bio=body["bio"],
            accounts=accounts_from_json(body["accounts"]),
        )  # fmt: skip
        officer_changed(session, officer)
        session.commit()
        return officer_json(officer)


@blp.route(
    f"/neighbourhoods/<string:force>/<string:code>/officers/<int(max={2**31 - 1}):officer_id>"
)
class NeighbourhoodOfficer(MethodView):
    @require_scope(blp, "police:{force}")
    @blp.arguments(OfficerUpdateSchema)
    @blp.response(200, OfficerSchema)
    def patch(self, changes: dict[str, Any], force: str, code: str, officer_id: int) -> Any:
        """Change an officer's rank, bio, accounts, or mark them no longer in the team"""
        session = db_session()
        officer = get_officer(session, get_neighbourhood(session, force, code), officer_id)
        if "accounts" in changes:
            changes["accounts"] = accounts_from_json(changes["accounts"])
        update_officer(session, officer, **changes)
        officer_changed(session, officer)
        session.commit()
        return officer_json(officer)


def team_sites(force: str, code: str) -> tuple[Neighbourhood, list]:
    session = db_session()
    neighbourhood = get_neighbourhood(session, force, code)
    area = neighbourhood_area(session, neighbourhood)
    if area is None:
        abort(422, message=f"neighbourhood '{code}' has no boundary, so its sites are unknown")
    return neighbourhood, sites_intersecting(session, area)


@blp.route("/neighbourhoods/<string:force>/<string:code>/sites")
class NeighbourhoodSites(MethodView):
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, SitePageSchema)
    def get(self, args: dict[str, Any], force: str, code: str) -> Any:
        """Approved sites covering or overlapping the team's patch (also as .opml)"""
        _, sites = team_sites(force, code)
        return list_page(sites, args, lambda site: site_json(site, private=False))


@blp.route("/neighbourhoods/<string:force>/<string:code>/sites.opml")
class NeighbourhoodSitesOpml(MethodView):
    @blp.response(200, content_type="text/x-opml")
    def get(self, force: str, code: str) -> Response:
        """The team's local sites as OPML 2.0, to load into a feed reader in one step"""
        neighbourhood, sites = team_sites(force, code)
        outlines = [
            FeedOutline(site.name, feed, site.url, site.description)
            for site in sites
            for feed in site.feed_urls
        ]
        document = opml_document(
            f"Hyperlocal sites in {neighbourhood.name}", outlines, created=utcnow()
        )
        return Response(
            document,
            mimetype="text/x-opml",
            headers={"Content-Disposition": f'inline; filename="{force}-{code}-sites.opml"'},
        )


@blp.route("/postcodes/<postcode:postcode>/local")
class Local(MethodView):
    @blp.response(200, LocalSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="postcode not found")
    def get(self, postcode: str) -> Any:
        """Who is local to this postcode

        The neighbourhood team and force, the team's contact channels, its active officers
        with their official accounts, and the local hyperlocal sites. Works for a full
        postcode, a sector or a district; `precision` and `note` say how precise it is.
        """
        place = place_of(postcode)
        if place.precision not in PRECISION_NOTES:
            abort(422, message=f"'{postcode}' is not a postcode; try /sites?near= for places")
        unit = place.postcode if place.precision == "unit" else None
        local = local_to(db_session(), place.latitude, place.longitude, unit,
                         published_since=published_since())  # fmt: skip
        body = local_json(place, local)
        # Every value is already in LocalSchema's shape (a test holds them together); the
        # busiest directory endpoint skips the second pass through marshmallow.
        return Response(json.dumps(body, default=_isoformat, ensure_ascii=False),
                        mimetype="application/json")  # fmt: skip


@blp.route("/coverage/gaps")
class CoverageGaps(MethodView):
    @blp.arguments(GapsQuerySchema, location="query")
    @blp.response(200, GapsSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Postcode sectors and districts of a patch that no approved site covers

        Give `neighbourhood=force/id` for one team's patch, or `force=` for every team of a
        force: where a team could help a community start a site.
        """
        team = args.get("neighbourhood")  # "force/id"
        force_and_code = tuple(team.partition("/")[::2]) if team else None
        found = patch_gaps(db_session(), neighbourhood=force_and_code, force=args.get("force"))
        report = found.report
        return {
            "area": found.label,
            "postcode_count": report.postcode_count,
            "covered_count": report.covered_count,
            "sectors": report.sectors,
            "districts": report.districts,
        }
