"""Pages for people, over HTTP: the home page's search and "your area", on SQLite and
PostgreSQL, on what `hyperlocal demo` serves (its feeds polled: bulletins, sites' posts).

What a person gets for every kind of input (a postcode, a town, a name several places share,
nothing, nonsense, an unknown postcode), what the area page shows (the team, officers to
follow, local sites with headlines, appeals with how precisely they are placed, the closed
ones without details, the patch drawn as SVG), and that every page is cacheable.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import urllib3

from directory.geography.svg import svg_map

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:  # type: ignore[no-untyped-def]
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(body: bytes) -> str:
    parser = _Text()
    parser.feed(body.decode())
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def links_of(body: bytes) -> list[str]:
    parser = _Text()
    parser.feed(body.decode())
    return parser.links


def test_the_home_page_is_a_search_box_and_the_api_index_stays_json(demo_served) -> None:  # type: ignore[no-untyped-def]
    app, _ = demo_served
    client = app.test_client()
    page = client.get("/", headers=HTML)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert '<label for="q">' in page.text and 'action="/search"' in page.text
    assert 'lang="en-GB"' in page.text and "<main" in page.text
    # An API client (no Accept, or JSON first) still gets the index.
    assert client.get("/").get_json()["links"]["documentation"] == "/docs"


def test_search_answers_every_kind_of_input(demo_served) -> None:  # type: ignore[no-untyped-def]
    app, _ = demo_served
    client = app.test_client()
    postcode = client.get("/search?q=wv11+1aa", headers=HTML)
    assert postcode.status_code == 303 and postcode.location == "/area/WV11%201AA"
    town = client.get("/search?q=wednesfield", headers=HTML)
    assert town.status_code == 303 and town.location == "/area/Wednesfield"
    several = client.get("/search?q=Newport", headers=HTML)
    assert several.status_code == 200 and "more than one Newport" in text_of(several.data)
    choices = [link for link in links_of(several.data) if link.startswith("/area/Newport")]
    assert len(choices) >= 2 and all("place=" in link for link in choices)
    chosen = client.get(choices[0], headers=HTML)
    assert chosen.status_code == 200 and "Newport" in text_of(chosen.data)
    typo = client.get("/search?q=Wednesfeld", headers=HTML)
    assert typo.status_code == 404 and "could not find" in text_of(typo.data)
    prefix = client.get("/search?q=Wednes", headers=HTML)
    assert prefix.status_code == 404 and "/area/Wednesfield" in " ".join(links_of(prefix.data))
    long = client.get("/search?q=" + "x" * 3000, headers=HTML)
    assert long.status_code == 404 and "x" * 100 not in text_of(long.data)  # cut short
    assert client.get("/area/", headers=HTML).status_code == 303
    jargon = client.get("/area/%3Cscript%3E", headers=HTML)
    assert "could not find" in text_of(jargon.data) and "gazetteer" not in jargon.text
    assert "<script>" not in jargon.text
    empty = client.get("/search?q=", headers=HTML)
    assert empty.status_code == 400 and "Type a postcode" in text_of(empty.data)
    unknown = client.get("/area/ZZ99%209ZZ", headers=HTML)
    assert unknown.status_code in (404, 422) and 'role="alert"' in unknown.text
    assert "ZZ99 9ZZ" in text_of(unknown.data)


def test_the_area_page_shows_team_officers_sites_and_local_appeals(demo_served) -> None:  # type: ignore[no-untyped-def]
    app, base = demo_served
    client = app.test_client()
    page = client.get("/area/WV11%201AA", headers=HTML)
    assert page.status_code == 200
    words = text_of(page.data)
    assert "Wednesfield & Fallings Park (demo)" in words and "West Midlands Police" in words
    assert "PS Demo Alex Morgan" in words and "(Sergeant)" in words
    links = links_of(page.data)
    assert "https://x.com/demo_sgt_morgan" in links  # an officer to follow
    assert "Wednesfield Community News (demo)" in words
    assert "CCTV appeal after burglary in Wednesfield (demo)" in words  # a demo bulletin
    assert re.search(r"Appeal (around|across) ", words)  # how precisely it is placed
    assert '<svg class="map"' in page.text and 'class="patch"' in page.text
    assert "\\u00" not in page.text  # text, not escaped JSON
    # A site's latest headlines, from its polled feed.
    sites = client.get("/sites", query_string={"near": "WV11 1AA"}).get_json()["items"]
    [wednesfield] = [s["id"] for s in sites if s["name"] == "Wednesfield Community News (demo)"]
    headline = client.get(f"/sites/{wednesfield}/posts").get_json()["items"][0]["title"]
    assert headline in words


def test_a_place_outside_any_imported_team_says_why(demo_served) -> None:  # type: ignore[no-untyped-def]
    app, _ = demo_served
    page = app.test_client().get("/area/M14%205AA", headers=HTML)
    words = text_of(page.data)
    if page.status_code == 200:
        assert "Greater Manchester" in words or "not imported" in words or "do not know" in words


def test_pages_are_cacheable(demo_served) -> None:  # type: ignore[no-untyped-def]
    app, base = demo_served
    http = urllib3.PoolManager()
    first = http.request("GET", f"{base}/area/WV11%201AA", headers=HTML)
    assert first.status == 200 and "max-age" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    again = http.request("GET", f"{base}/area/WV11%201AA",
                         headers={**HTML, "If-None-Match": etag})  # fmt: skip
    assert again.status == 304
    css = http.request("GET", f"{base}/static/site.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")


def test_docs_load_nothing_from_elsewhere(demo_served) -> None:  # type: ignore[no-untyped-def]
    app, _ = demo_served
    client = app.test_client()
    docs = client.get("/docs")
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        with client.get(source) as asset:  # a streamed file: closed here
            assert asset.status_code == 200, source


def test_the_map_fits_the_patch_and_the_place() -> None:
    from shapely.geometry import Polygon

    patch = Polygon([(-2.10, 52.60), (-2.05, 52.60), (-2.05, 52.63), (-2.10, 52.63)])
    drawn = svg_map(patch, (52.615, -2.075), width=320)
    assert drawn is not None and drawn.path.startswith("M") and drawn.path.endswith("Z")
    x, y = drawn.marker
    assert 0 < x < drawn.width and 0 < y < drawn.height
    # North is up, and the place sits in the middle of this square-ish patch.
    assert abs(x - drawn.width / 2) < 5 and abs(y - drawn.height / 2) < 5
    assert svg_map(None, None) is None
    assert svg_map(None, (52.6, -2.0)) is not None  # no patch: the place alone


def test_the_widget_never_shows_an_error_and_says_how_fresh_it_is(demo_served) -> None:  # type: ignore[no-untyped-def]
    from api.embed import ago
    from directory.storage import utcnow

    app, _ = demo_served
    client = app.test_client()
    listed = client.get("/embed/appeals?near=WV11%201AA")
    # Framable by any page, a file: preview included (frame-ancestors * would refuse that).
    assert listed.status_code == 200 and "Content-Security-Policy" not in listed.headers
    assert "X-Frame-Options" not in listed.headers
    words = text_of(listed.data)
    assert "CCTV appeal after burglary in Wednesfield (demo)" in words and "updated" in words
    # A wrong place, a wrong token, nothing at all: a plain "nothing", never an error text.
    for query in ("near=Nowhere-at-all", "token=not-a-token", "", "near=LE1%201AA&kinds=wanted"):
        quiet = client.get(f"/embed/appeals?{query}")
        assert quiet.status_code == 200 and "No police appeals" in text_of(quiet.data), query
        assert "rror" not in text_of(quiet.data)
    data = client.get("/embed/appeals.json?near=WV11%201AA&kinds=appeal")
    assert data.headers["Access-Control-Allow-Origin"] == "*"
    body = data.get_json()
    assert [i["kind"] for i in body["items"]] == ["appeal"] and body["checked_at"]
    assert "not a postcode" in client.get("/embed/appeals.json?near=zz").get_json()["problem"]
    # A keyed request is not opened to other sites.
    keyed = client.get("/postcodes/WV111AA", headers={"Authorization": "Bearer x"})
    assert "Access-Control-Allow-Origin" not in keyed.headers
    assert client.get("/postcodes/WV111AA").headers["Access-Control-Allow-Origin"] == "*"
    now = utcnow()
    from datetime import timedelta

    assert ago(None, now) == "not updated yet" and ago(now, now) == "updated just now"
    assert ago(now - timedelta(minutes=1), now) == "updated 1 minute ago"
    assert ago(now - timedelta(minutes=125), now) == "updated 2 hours ago"
    assert ago(now - timedelta(days=3), now) == "updated 3 days ago"


def test_an_area_can_be_followed_in_any_feed_reader(demo_served) -> None:  # type: ignore[no-untyped-def]
    import feedparser

    app, _ = demo_served
    client = app.test_client()
    page = client.get("/area/WV11%201AA", headers=HTML)
    alternate = re.search(r'<link rel="alternate" type="application/rss\+xml"[^>]*href="([^"]+)"',
                          page.text)  # fmt: skip
    assert alternate and alternate.group(1) == "/area/WV11%201AA/feed.rss"
    rss = feedparser.parse(client.get(alternate.group(1)).data)
    titles = [e.title for e in rss.entries]
    assert "Appeal: CCTV appeal after burglary in Wednesfield (demo)" in titles
    # The team's own posts too (the demo team's feed, polled).
    posts = [e.title for e in rss.entries if e.tags[0].term == "post"]
    assert "Our week on the beat around the High Street (demo)" in posts
    for fmt in ("atom", "json"):
        served = client.get(f"/area/WV11%201AA/feed.{fmt}")
        assert served.status_code == 200 and served.headers["ETag"]
    parsed = feedparser.parse(client.get("/area/WV11%201AA/feed.atom").data)
    assert not parsed.bozo and len(parsed.entries) == len(rss.entries)
    assert client.get("/area/WV11%201AA/feed.json").get_json()["version"].endswith("1.1")
    assert client.get("/area/Newport/feed.rss").status_code == 404


def test_the_team_page_shows_its_reading_list_and_where_no_site_reaches(demo_served) -> None:  # type: ignore[no-untyped-def]
    app, _ = demo_served
    client = app.test_client()
    page = client.get("/teams/west-midlands/WV11demo", headers=HTML)
    assert page.status_code == 200
    words = text_of(page.data)
    gaps = client.get("/coverage/gaps?neighbourhood=west-midlands/WV11demo").get_json()
    uncovered = gaps["postcode_count"] - gaps["covered_count"]
    assert f"{uncovered:,} of the patch's {gaps['postcode_count']:,} postcodes" in words
    for gap in gaps["sectors"]:  # every sector with uncovered postcodes, partly covered too
        assert f"{gap['code']} {gap['uncovered_count']}" in words
    opml = "/neighbourhoods/west-midlands/WV11demo/sites.opml"
    assert opml in links_of(page.data) and client.get(opml).status_code == 200
    assert "PS Demo Alex Morgan" in words and "Wednesfield Community News (demo)" in words
    assert client.get("/teams/west-midlands/nope", headers=HTML).status_code == 404


def test_a_site_silent_for_months_is_dormant_until_it_publishes_again(
    demo_served, httpserver
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import select, update

    from directory.sites.models import Site
    from directory.storage import utcnow
    from feeds.ingest.models import Feed
    from feeds.worker import refresh_and_publish
    from tests.test_feed_ingestion import RSS
    from tests.test_syndication import police_rss

    app, _ = demo_served
    client = app.test_client()
    sessions = app.extensions["hyperlocal_db"].sessions
    name = "Wednesfield Community News (demo)"
    local = client.get("/postcodes/WV111AA/local").get_json()
    assert name in [s["name"] for s in local["sites"]] and local["dormant_sites"] == []
    with sessions() as session:
        site = session.scalar(select(Site).where(Site.name == name))
        assert site.last_published_at is not None  # its polled feed published
        eight_months = utcnow() - timedelta(days=240)
        session.execute(update(Site).where(Site.id == site.id)
                        .values(last_published_at=eight_months))  # fmt: skip
        session.commit()
        site_id = site.id
    local = client.get("/postcodes/WV111AA/local").get_json()
    assert name not in [s["name"] for s in local["sites"]]
    assert [s["name"] for s in local["dormant_sites"]] == [name]
    assert client.get(f"/sites/{site_id}").get_json()["dormant"] is True
    assert "Quiet for months" in text_of(client.get("/area/WV11%201AA", headers=HTML).data)
    # It publishes again: back among the local sites, by itself.
    fete = police_rss([{"guid": "fete-1", "title": "Summer fete on the green"}])
    httpserver.expect_request("/feed.xml").respond_with_data(fete, headers=RSS)
    with sessions() as session:
        feed = session.scalar(select(Feed).where(Feed.site_id == site_id))
        feed.url = httpserver.url_for("/feed.xml")
        session.commit()
        feed_id = feed.id
    refresh_and_publish(sessions, feed_id, app.extensions["hyperlocal_http"])
    local = client.get("/postcodes/WV111AA/local").get_json()
    assert name in [s["name"] for s in local["sites"]] and local["dormant_sites"] == []
    assert client.get(f"/sites/{site_id}").get_json()["dormant"] is False


def test_a_sector_that_straddles_patches_lists_every_team(demo_served) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from directory.geography.models import Postcode
    from directory.police.models import Neighbourhood

    app, _ = demo_served
    with app.extensions["hyperlocal_db"].sessions() as session:
        expected = set(session.scalars(
            select(Neighbourhood.name).join(Postcode, Postcode.neighbourhood_id == Neighbourhood.id)
            .where(Postcode.postcode.startswith("WV10 ")).group_by(Neighbourhood.name)
            .having(func.count() > 0)))  # fmt: skip
    assert len(expected) > 1  # the demo's WV10 is shared by two teams
    page = app.test_client().get("/area/WV10", headers=HTML)
    words = text_of(page.data)
    assert f"served by {len(expected)} teams" in words
    assert all(name in words for name in expected)
    single = app.test_client().get("/area/WV11%201AA", headers=HTML)
    assert "teams; yours depends" not in text_of(single.data)


def test_the_editors_page_asks_which_place_when_several_share_the_name(demo_served) -> None:  # type: ignore[no-untyped-def]
    app, _ = demo_served
    client = app.test_client()
    ambiguous = client.get("/embed?near=Newport", headers=HTML)
    assert "several places are called Newport" in text_of(ambiguous.data)
    assert "<iframe src=" not in ambiguous.text.replace("&lt;iframe", "")
    # A chosen namesake's page keeps the choice in its feed link.
    choice = [link for link in links_of(client.get("/search?q=Newport", headers=HTML).data)
              if link.startswith("/area/Newport")][0]  # fmt: skip
    page = client.get(choice, headers=HTML)
    feed = re.search(r'rel="alternate" type="application/rss\+xml"[^>]*href="([^"]+)"', page.text)
    assert feed and "place=" in feed.group(1)
    assert client.get(feed.group(1).replace("&amp;", "&")).status_code == 200
    # Unicode is shown as text in the JSON a browser displays too.
    assert "\\u00" not in client.get("/postcodes/WV111AA/local").text
