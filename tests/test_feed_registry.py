"""Which feeds exist follows the directory: sites, forces, teams and officers."""

from __future__ import annotations

from sqlalchemy import select

from directory.accounts import check_account
from directory.geography.areas import circle_area
from directory.police.models import Officer
from directory.police.store import add_officer, get_neighbourhood, update_officer
from directory.sites.store import create_site, delete_site, get_site, set_site_status, update_site
from feeds.directory_changes import officer_changed, site_changed
from feeds.ingest.models import Feed


def feeds(session, owner: str) -> dict[str, tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    rows = session.scalars(select(Feed).where(Feed.owner == owner))
    return {f.url: (f.kind, f.source, f.status) for f in rows}


def test_a_site_has_feeds_once_approved_and_they_follow_its_edits(app):
    with app.extensions["hyperlocal_db"].sessions() as session:
        site = create_site(
            session, name="WV11 News", url="https://wv11.example.org/",
            feed_urls=["https://wv11.example.org/feed/"], area=circle_area(52.6, -2.1, 1000),
            social_accounts=[check_account("mastodon", "https://mastodon.social/@wv11"),
                             check_account("x", "https://x.com/wv11")],
        )  # fmt: skip
        owner = f"site:{site.id}"
        assert feeds(session, owner) == {}  # pending sites are not polled
        set_site_status(session, site, "approved")
        site_changed(session, site)
        assert feeds(session, owner) == {
            "https://wv11.example.org/feed/": ("news", "listed", "active"),
            "https://mastodon.social/@wv11.rss": ("news", "account", "active"),
        }
        update_site(session, site, feed_urls=["https://wv11.example.org/atom.xml"])
        site_changed(session, site)
        assert feeds(session, owner)["https://wv11.example.org/feed/"][2] == "retired"
        assert feeds(session, owner)["https://wv11.example.org/atom.xml"][2] == "active"
        update_site(session, site, feed_urls=["https://wv11.example.org/feed/"])
        site_changed(session, site)
        assert feeds(session, owner)["https://wv11.example.org/feed/"][2] == "active"
        set_site_status(session, site, "rejected")
        site_changed(session, site)
        assert {status for _, _, status in feeds(session, owner).values()} == {"retired"}
        session.commit()

        delete_site(session, get_site(session, site.id))
        session.commit()
        assert feeds(session, owner) == {}


def test_a_site_without_feeds_is_polled_through_its_home_page(app):
    with app.extensions["hyperlocal_db"].sessions() as session:
        site = create_site(session, name="Blog", url="https://blog.example.org/",
                           area=circle_area(52.6, -2.1, 1000))  # fmt: skip
        set_site_status(session, site, "approved")
        site_changed(session, site)
        assert feeds(session, f"site:{site.id}") == {
            "https://blog.example.org/": ("news", "home_page", "active")
        }
        update_site(session, site, feed_urls=["https://blog.example.org/rss"])
        site_changed(session, site)
        assert feeds(session, f"site:{site.id}") == {
            "https://blog.example.org/": ("news", "home_page", "retired"),
            "https://blog.example.org/rss": ("news", "listed", "active"),
        }
        session.rollback()


def test_forces_teams_and_officers_have_their_feeds(demo_directory):
    with demo_directory.extensions["hyperlocal_db"].sessions() as session:
        # The demo force lists an RSS engagement method (and an X account, which has no feed).
        assert feeds(session, "force:west-midlands") == {
            "https://demo-police.example.org/west-midlands/news.rss": ("police", "listed",
                                                                       "active"),
        }  # fmt: skip
        team = get_neighbourhood(session, "west-midlands", "WV11demo")
        officer = add_officer(session, team, name="PC Demo Feeds", accounts=[
            check_account("bluesky", "https://bsky.app/profile/pcdemo.bsky.social"),
        ])  # fmt: skip
        officer_changed(session, officer)
        assert feeds(session, f"officer:{officer.id}") == {
            "https://bsky.app/profile/pcdemo.bsky.social/rss": ("officer", "account", "active"),
        }
        update_officer(session, officer, active=False)  # left the team: no longer polled
        officer_changed(session, officer)
        assert {s for _, _, s in feeds(session, f"officer:{officer.id}").values()} == {"retired"}
        others = session.scalars(select(Officer).where(Officer.id != officer.id)).all()
        assert others  # the importer's officers are there, with or without feeds
        session.rollback()
