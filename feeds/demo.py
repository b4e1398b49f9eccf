"""The demo directory loaded by ``hyperlocal demo``: clearly marked, fictional, idempotent.

Police teams come from the packaged data.police.uk-shaped files through the normal importer;
sites are submitted and approved through the normal store functions, so the demo exercises the
same code a real deployment runs.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts import check_account
from directory.geography.area_specs import area_from_spec
from directory.police.importer import PoliceImportSummary, SavedPoliceData, import_police_force
from directory.police.models import Neighbourhood, PoliceForce
from directory.sites.models import Site
from directory.sites.store import create_site, set_site_status, update_site
from feeds.directory_changes import force_imported, site_changed, team_changed
from feeds.syndication.models import Subscription
from feeds.syndication.subscriptions import create_subscription

DEMO_FORCES = ("west-midlands", "leicestershire")
# A force's demo news feed (appeals, a missing person, a warning, a court result), served by
# the demo in place of the force's listed RSS address, so its items become bulletins through
# the normal ingestion path.
DEMO_POLICE_FEEDS = {"west-midlands": "west-midlands-police.xml"}
# A demo team's own posts (tagged #TruePicture, as teams tag them), served by the demo as the
# feed of an official account of the team, so /posts?tag=truepicture&near=WV11 1AA has posts.
DEMO_TEAM_FEEDS = {("west-midlands", "WV11demo"): "wv11-team.xml"}
# The demo outlet that subscribes to bulletins (feed channel only: no webhook to call).
DEMO_SUBSCRIBER = "https://wednesfield-news.example.org/"
DEMO_NOTE = "DEMO DATA: a fictional site for the hyperlocal demo."
DEMO_SITES = [
    {
        "name": "Wednesfield Community News (demo)",
        "url": "https://wednesfield-news.example.org/",
        "feeds": ["https://wednesfield-news.example.org/feed/"],
        "demo_feed": "wednesfield-news.xml",
        "platform": "wordpress",
        "area": {"type": "postcodes", "postcodes": ["WV11 1", "WV11 2", "WV11 3"]},
        "accounts": [("x", "https://x.com/demo_wednesfield_news")],
        "status": "approved",
    },
    {
        "name": "Heath Town Voice (demo)",
        "url": "https://heathtown-voice.example.org/",
        "feeds": ["https://heathtown-voice.example.org/rss.xml"],
        "demo_feed": "heathtown-voice.xml",
        "platform": "ghost",
        "area": {"type": "circle", "center": "WV10 0", "radius_m": 1200},
        "accounts": [],
        "status": "approved",
    },
    {
        "name": "Leicester Centre Chronicle (demo)",
        "url": "https://le1-chronicle.example.org/",
        "feeds": ["https://le1-chronicle.example.org/feed"],
        "demo_feed": "le1-chronicle.xml",
        "platform": "wordpress",
        "area": {"type": "postcodes", "postcodes": ["LE1"]},
        "accounts": [("facebook", "https://www.facebook.com/demo.le1chronicle")],
        "status": "approved",
    },
    {
        "name": "Fallowfield Forum (demo)",
        "url": "https://fallowfield-forum.example.org/",
        "feeds": ["https://fallowfield-forum.example.org/index.xml"],
        "demo_feed": "fallowfield-forum.xml",
        "platform": "hugo",
        "area": {"type": "postcodes", "postcodes": ["M14"]},
        "accounts": [],
        "status": "approved",
    },
    {
        "name": "New WV11 blog, awaiting review (demo)",
        "url": "https://new-wv11-blog.example.org/",
        "feeds": [],
        "platform": None,
        "area": {"type": "postcodes", "postcodes": ["WV11 1"]},
        "accounts": [],
        "status": "pending",
    },
]


def demo_police_dir() -> Path:
    return Path(str(files("directory.data").joinpath("police")))


def demo_feed_path(name: str) -> Path:
    return Path(str(files("directory.data").joinpath("feeds", name)))


def demo_feed_names() -> set[str]:
    sites = {str(spec["demo_feed"]) for spec in DEMO_SITES if spec.get("demo_feed")}
    return sites | set(DEMO_POLICE_FEEDS.values()) | set(DEMO_TEAM_FEEDS.values())


def _feeds(spec: dict, feed_base: str | None) -> list[str]:
    """The demo site's feed: served by the demo itself when it knows its address."""
    if feed_base and spec.get("demo_feed"):
        return [f"{feed_base.rstrip('/')}/demo/feeds/{spec['demo_feed']}"]
    return list(spec["feeds"])


def load_demo_directory(
    session: Session, feed_base: str | None = None
) -> tuple[list[PoliceImportSummary], int]:
    """Import the demo police teams and add the demo sites that are not there yet.

    With ``feed_base`` (the demo server's address, e.g. http://127.0.0.1:5000) the demo sites'
    feeds are the demo's own (``/demo/feeds/...``), set again on every run so a new port is
    picked up. Returns the police import summaries and how many sites were added.
    """
    source = SavedPoliceData(demo_police_dir())
    summaries = [import_police_force(session, source, force, before_commit=force_imported)
                 for force in DEMO_FORCES]  # fmt: skip
    added = 0
    for spec in DEMO_SITES:
        existing = session.scalar(select(Site).where(Site.url == spec["url"]))
        if existing is not None:
            if existing.feed_urls != _feeds(spec, feed_base):
                update_site(session, existing, feed_urls=_feeds(spec, feed_base))
                site_changed(session, existing)
            continue
        site = create_site(
            session,
            name=spec["name"],  # type: ignore[arg-type]
            url=spec["url"],  # type: ignore[arg-type]
            area=area_from_spec(session, spec["area"]),
            feed_urls=_feeds(spec, feed_base),
            description=DEMO_NOTE,
            platform=spec["platform"],  # type: ignore[arg-type]
            social_accounts=[check_account(p, u) for p, u in spec["accounts"]],  # type: ignore[attr-defined]
            contact_email="editor@example.org",
        )
        set_site_status(session, site, spec["status"])  # type: ignore[arg-type]
        site_changed(session, site)
        added += 1
    if feed_base:
        _serve_police_feeds(session, feed_base)
        _serve_team_feeds(session, feed_base)
    _subscribe_demo_outlet(session)
    session.commit()
    return summaries, added


def _serve_police_feeds(session: Session, feed_base: str) -> None:
    """Point each demo force's RSS engagement method at the demo's own copy of the feed."""
    for force_id, name in DEMO_POLICE_FEEDS.items():
        force = session.get(PoliceForce, force_id)
        if force is None:
            continue
        url = f"{feed_base.rstrip('/')}/demo/feeds/{name}"
        force.engagement = [
            {**method, "url": url} if method.get("type") == "rss" else method
            for method in force.engagement
        ]
        force_imported(session, force_id)


def _serve_team_feeds(session: Session, feed_base: str) -> None:
    """Give each demo team an official RSS account: the demo's own copy of its posts."""
    for (force_id, code), name in DEMO_TEAM_FEEDS.items():
        team = session.scalar(
            select(Neighbourhood).where(Neighbourhood.force_id == force_id,
                                        Neighbourhood.code == code)
        )  # fmt: skip
        if team is None:
            continue
        url = f"{feed_base.rstrip('/')}/demo/feeds/{name}"
        others = [a for a in team.accounts if a.get("platform") != "rss"]
        team.accounts = [*others, check_account("rss", url).to_json()]
        team_changed(session, team)


def _subscribe_demo_outlet(session: Session) -> None:
    site = session.scalar(select(Site).where(Site.url == DEMO_SUBSCRIBER))
    if site is None or session.scalar(
        select(Subscription.id).where(Subscription.site_id == site.id)
    ):
        return
    create_subscription(session, site, label="Demo newsroom (all bulletins)")


def demo_subscription_token(session: Session) -> str | None:
    """The demo outlet's subscription feed token (for the demo's welcome message)."""
    return session.scalar(
        select(Subscription.feed_token)
        .join(Site, Site.id == Subscription.site_id)
        .where(Site.url == DEMO_SUBSCRIBER)
        .order_by(Subscription.id)
        .limit(1)
    )
