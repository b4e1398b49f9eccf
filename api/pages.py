"""Pages for people: the home page's search, and "your area" (server-rendered, no JavaScript
needed; a script only adds place suggestions to the search box).

Not part of the JSON API (and so not in /openapi.json). Every page is cacheable: a short
``Cache-Control`` and an ``ETag`` answered with 304.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from swagger_ui_bundle import swagger_ui_path

from api.database import db_session
from api.gazetteer import place_json
from api.places import gazetteer, place_of
from api.police import local_json, neighbourhood_json, officer_json
from api.sites import published_since, site_json
from directory.geography.locate import LocateError, Location, PlaceNotFound
from directory.geography.models import Place
from directory.geography.places import place_key, search_places
from directory.geography.postcode_format import PostcodeInvalid, parse_postcode
from directory.geography.postcodes import PostcodeNotFound
from directory.geography.svg import SvgMap, svg_map
from directory.police.patches import teams_of_postcodes
from directory.police.store import NeighbourhoodNotFound
from feeds.area_feed import area_feed
from feeds.local_digest import local_digest, team_digest
from feeds.syndication.models import PRECISION

blp = Blueprint("pages", __name__)

PAGE_CACHE = "public, max-age=60, stale-while-revalidate=300"
PLATFORMS = {"x": "X", "twitter": "X", "facebook": "Facebook", "instagram": "Instagram",
             "mastodon": "Mastodon", "bluesky": "Bluesky", "threads": "Threads",
             "youtube": "YouTube", "tiktok": "TikTok", "nextdoor": "Nextdoor", "rss": "RSS feed",
             "linkedin": "LinkedIn"}  # fmt: skip
KIND_WORDS = {"appeal": "Appeal", "missing": "Missing person", "wanted": "Wanted",
              "warning": "Warning", "update": "Update"}  # fmt: skip


def page(template: str, status: int = 200, **context: Any) -> Response:
    """A rendered page, cacheable: 304 when the client holds this very version."""
    response = Response(render_template(template, **context), status=status,
                        mimetype="text/html")  # fmt: skip
    response.headers["Cache-Control"] = PAGE_CACHE if status == 200 else "no-cache"
    if status == 200:
        response.add_etag()
        response.make_conditional(request)
    return response


def home(message: str | None = None, query: str = "", status: int = 200) -> Response:
    return page("home.html", status, message=message, query=query[:200])


def shown(text: str, limit: int = 60) -> str:
    """What a person typed, as a message repeats it (long input cut short)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def not_found(query: str) -> str:
    return (
        f"We could not find “{shown(query)}”. Try a full postcode such as WV11 1AA, or a "
        "town or village name."
    )


@blp.route("/search")
def search() -> Any:
    """The search box's answer: a postcode or a known place goes to its page; several places
    of that name give a choice; anything else says what to type."""
    query = request.args.get("q", "").strip()
    if not query:
        return home("Type a postcode (such as WV11 1AA) or the name of a town.", status=400)
    try:
        parse_postcode(query)
    except PostcodeInvalid:
        pass
    else:
        return redirect(url_for("pages.area", where=query.upper()), code=303)
    places = gazetteer(query)
    if len(places) == 1:
        return redirect(url_for("pages.area", where=places[0].name), code=303)
    if len(places) > 1:
        return page("choose.html", query=query,
                    choices=[_choice(place) for place in places[:20]])  # fmt: skip
    similar = search_places(db_session(), query, limit=8)
    if similar:
        return page("choose.html", status=404, query=query, similar=True,
                    choices=[_choice(place) for place in similar])  # fmt: skip
    return home(not_found(query), query, status=404)


def _choice(place: Place) -> dict[str, Any]:
    """A place to choose, told apart by its district and force (as ``GET /places`` has it)."""
    described = place_json(place, db_session())
    district = (described["district"] or {}).get("name")
    force = (described["police_force"] or {}).get("name")
    if not (district or force):  # no postcode data there: say where it is on the map
        district = f"near {place.latitude:.2f}, {place.longitude:.2f}"
    return {"name": place.name, "kind": place.kind, "district": district, "force": force,
            "url": url_for("pages.area", where=place.name, place=place.id)}  # fmt: skip


@blp.route("/area/")
def area_root() -> Any:
    return redirect("/", code=303)


@blp.route("/area/<path:where>")
def area(where: str) -> Any:
    """Your area: the team, officers to follow, local sites, and local police appeals."""
    session = db_session()
    try:
        place = _located(where)
    except PostcodeNotFound:
        return home(f"We do not know the postcode “{shown(where)}”: check it, or try the name of "
                    "the town.", where, status=404)  # fmt: skip
    except (LocateError, PostcodeInvalid, PlaceNotFound):
        return home(not_found(where), where, status=404)
    if place is None:  # several places of that name: choose one
        return redirect(url_for("pages.search", q=where), code=303)
    unit = place.postcode if place.precision == "unit" else None
    digest = local_digest(session, place.latitude, place.longitude, unit,
                          published_since=published_since())  # fmt: skip
    local = local_json(place, digest.local)
    teams_here = []
    if place.precision in ("sector", "district") and place.postcode:
        teams_here = teams_of_postcodes(session, place.postcode)
    headlines = digest.headlines
    return page(
        "area.html",
        place=place,
        local=local,
        no_team=digest.local.no_team,
        bulletins=[_bulletin(b, local) for b in digest.bulletins],
        closed=digest.closed,
        sites=[{**site, "headlines": headlines.get(site["id"], [])} for site in local["sites"]],
        dormant=local["dormant_sites"],
        teams_here=teams_here,
        team_posts=digest.team_posts,
        map=_place_map(digest.patch, digest.patch_key, (place.latitude, place.longitude)),
        platforms=PLATFORMS,
        kinds=KIND_WORDS,
        feed_url=url_for(
            "pages.area_feed_view",
            where=where,
            fmt="rss",
            place=request.args.get("place", type=int),
        ),  # fmt: skip
        api_url=f"/postcodes/{quote(place.postcode)}/local" if place.postcode else None,
    )


@blp.route("/teams/<string:force>/<string:code>")
def team(force: str, code: str) -> Any:
    """A team's page: its patch, officers, the local sites and what they say, where no site
    reaches yet, and the reading list to download."""
    try:
        digest = team_digest(db_session(), force, code)
    except NeighbourhoodNotFound as exc:
        return home(f"{exc}. Search for a postcode or town to find its team.", status=404)
    centre = None
    if digest.team.centre_lat is not None and digest.team.centre_lng is not None:
        centre = (digest.team.centre_lat, digest.team.centre_lng)
    return page(
        "team.html",
        team=neighbourhood_json(digest.team, boundary=False),
        force=digest.team.force,
        officers=[officer_json(o) for o in digest.officers],
        sites=[{**site_json(site, private=False, area=False),
                "headlines": digest.headlines.get(site.id, [])} for site in digest.sites],
        gaps=digest.gaps,
        team_posts=digest.team_posts,
        map=svg_map(digest.patch, centre),
        platforms=PLATFORMS,
        opml=f"/neighbourhoods/{quote(force)}/{quote(code)}/sites.opml",
    )  # fmt: skip


FEED_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml",
              "json": "application/feed+json"}  # fmt: skip


@blp.route("/area/<path:where>/feed.<any(rss, atom, json):fmt>")
def area_feed_view(where: str, fmt: str) -> Any:
    """The place's police bulletins and its team's posts, for any feed reader."""
    try:
        place = _located(where)
    except (LocateError, PostcodeInvalid, PostcodeNotFound, PlaceNotFound) as exc:
        return Response(f"{exc}\n", status=404, mimetype="text/plain")
    if place is None:
        return Response(f"several places are called {where}: choose one at /search?q={where}\n",
                        status=404, mimetype="text/plain")  # fmt: skip
    unit = place.postcode if place.precision == "unit" else None
    digest = local_digest(db_session(), place.latitude, place.longitude, unit, team_posts=20)
    body = area_feed(
        digest, fmt, title=f"{place.label}: police appeals and the neighbourhood team",
        self_url=request.url, home_url=url_for("pages.area", where=where, _external=True),
        item_url=url_for("bulletins.BulletinItem", bulletin_id=0, _external=True)[:-1] + "{id}",
    )  # fmt: skip
    response = Response(body, mimetype=FEED_TYPES[fmt])
    response.headers["Cache-Control"] = PAGE_CACHE
    response.add_etag()
    return response.make_conditional(request)


_PATCH_MAPS: dict[tuple[Any, ...], SvgMap | None] = {}  # (team id, updated_at) -> outline


def _place_map(patch: Any, key: tuple[Any, ...] | None,
               point: tuple[float, float]) -> SvgMap | None:  # fmt: skip
    """The team's outline (drawn once per version of it) with the place marked."""
    if patch is None or key is None:
        return svg_map(None, point)
    if key not in _PATCH_MAPS:
        if len(_PATCH_MAPS) > 5000:  # a bound, not an LRU: teams are a few thousand
            _PATCH_MAPS.clear()
        _PATCH_MAPS[key] = svg_map(patch, None)
    drawn = _PATCH_MAPS[key]
    return drawn.with_marker(point) if drawn is not None else None


def _located(where: str) -> Location | None:
    """The place of the address's ``where``; with ``?place=<id>`` the gazetteer place of that
    name chosen from several; None when the name is ambiguous and none was chosen."""
    chosen = request.args.get("place", type=int)
    if chosen:
        found = db_session().get(Place, chosen)
        if found is not None and place_key(found.name) == place_key(where):
            return Location(found.latitude, found.longitude, "place", found.name)
    try:
        parse_postcode(where)
    except PostcodeInvalid:
        if len(gazetteer(where)) > 1:
            return None
    return place_of(where)


def _bulletin(bulletin: Any, local: dict[str, Any]) -> dict[str, Any]:
    """A bulletin as the page lists it, with how precisely it is placed, in words."""
    precision = PRECISION.get(bulletin.located_by)
    force = (local.get("force") or {}).get("name") or bulletin.force_id
    if precision == "force" or bulletin.located_by == "force":
        where = f"across {force}"
    elif bulletin.location:
        where = f"around {bulletin.location}"
    else:
        where = "near here"
    return {"bulletin": bulletin, "where": where, "kind": KIND_WORDS.get(bulletin.kind, "")}


@blp.route("/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Any:
    """Swagger UI's scripts and styles, from the swagger-ui-bundle package."""
    response = send_from_directory(swagger_ui_path, filename, max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
