"""The pages in a real browser: Debian's Chromium driven by Playwright, against the demo
served on loopback (its feeds polled), on SQLite and PostgreSQL.

A resident searches by postcode and by town, by keyboard alone too; the area page shows the
team, officers to follow, local sites and local appeals; the place suggestions appear as one
types; /docs renders with every request outside loopback refused. Screenshots of each page at
390 px (a phone) and 1280 px go to the folder the run prints at its end.

Skipped, saying so, where Chromium is not installed (``apt-get install chromium``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import SCREENSHOT_DIR, SHOTS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTHS = {"phone": 390, "desktop": 1280}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("skipped: no Chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, demo_served) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A fresh page that may reach only the served demo: anything else is refused."""
    _, base = demo_served
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base)
                  else route.abort())  # fmt: skip
    opened = context.new_page()
    yield opened
    context.close()


def screenshots(page: Any, name: str, folder: Path) -> None:  # type: ignore[no-untyped-def]
    """The page as it is now, full length, at a phone's width and a desktop's."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        path = folder / f"{name}-{label}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        SHOTS.append(path)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture(scope="session")
def shot_folder() -> Path:
    """A fixed folder, emptied at the start of the run; the run's summary prints it."""
    shutil.rmtree(SCREENSHOT_DIR, ignore_errors=True)
    SCREENSHOT_DIR.mkdir(parents=True)
    return SCREENSHOT_DIR


def test_a_resident_finds_their_team_by_postcode(page, shot_folder) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    assert page.get_by_role("heading", level=1).is_visible()
    screenshots(page, "home", shot_folder)
    page.get_by_label("Your postcode or town").fill("wv11 1aa")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url("**/area/WV11%201AA")
    assert page.get_by_role("heading", level=1).inner_text() == "WV11 1AA"
    team = page.get_by_role("region", name="Your police team")
    assert "Wednesfield & Fallings Park (demo)" in team.inner_text()
    assert team.get_by_role("link", name="X").first.get_attribute("href")
    assert page.locator("svg.map path.patch").count() == 1
    appeals = page.get_by_role("region", name="Police appeals and warnings here")
    assert "CCTV appeal after burglary in Wednesfield (demo)" in appeals.inner_text()
    sites = page.get_by_role("region", name="Local news sites")
    assert "Wednesfield Community News (demo)" in sites.inner_text()
    screenshots(page, "area", shot_folder)
    team.get_by_role("link", name="Wednesfield & Fallings Park (demo)").click()
    page.wait_for_url("**/teams/west-midlands/WV11demo")
    gaps = page.get_by_role("region", name="Where no local site reaches")
    assert gaps.get_by_role("table").is_visible()
    assert page.get_by_role("link", name="Download the reading list (OPML)").is_visible()
    screenshots(page, "team", shot_folder)


def test_a_resident_finds_a_town_and_chooses_among_namesakes(page, shot_folder) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_label("Your postcode or town").fill("Newport")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=Newport")
    assert "more than one Newport" in page.get_by_role("heading", level=1).inner_text()
    screenshots(page, "choose", shot_folder)
    page.get_by_role("link", name="Newport").first.click()
    page.wait_for_url("**/area/Newport?place=*")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Newport")
    page.goto("/search?q=Wednesfeld")
    assert page.get_by_role("alert").is_visible()
    screenshots(page, "not-found", shot_folder)
    page.goto("/area/WV10")  # a district two teams share
    screenshots(page, "district-two-teams", shot_folder)


def test_keyboard_alone_reaches_the_search_and_the_results(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to the content"  # the first stop: skip the header
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(5):  # onwards to the search box
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("Wednesfield")
    page.keyboard.press("Enter")
    page.wait_for_url("**/area/Wednesfield")
    assert "Wednesfield & Fallings Park (demo)" in page.locator("main").inner_text()


def test_place_suggestions_appear_as_one_types(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    page.get_by_label("Your postcode or town").press_sequentially("Wednes", delay=30)
    page.wait_for_function(
        "document.querySelectorAll('#place-suggestions option').length > 0", timeout=5000
    )
    values = page.eval_on_selector_all("#place-suggestions option", "os => os.map(o => o.value)")
    assert "Wednesfield" in values


def test_docs_render_with_no_network_beyond_loopback(page, shot_folder) -> None:  # type: ignore[no-untyped-def]
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15000)
    assert page.locator(".swagger-ui .opblock").count() > 20
    screenshots(page, "docs", shot_folder)


def test_every_screenshot_was_written() -> None:
    if not SHOTS:
        pytest.skip("no screenshots were taken (no Chromium)")
    assert all(path.exists() and path.stat().st_size > 1000 for path in SHOTS)


def test_the_widget_on_an_outlets_page_keeps_its_last_items_when_the_source_fails(
    browser, demo_served, httpserver, shot_folder
):  # type: ignore[no-untyped-def]
    app, base = demo_served
    outlet = httpserver.url_for("/news")  # another origin: localhost, another port
    snippet = (f'<iframe src="{base}/embed/appeals?near=WV11%201AA" title="Police appeals" '
               'style="width:400px;height:300px;border:0"></iframe>'
               f'<div id="side"><script src="{base}/embed/appeals.js" data-near="WV11 1AA">'
               "</script></div>")  # fmt: skip
    httpserver.expect_request("/news").respond_with_data(
        f"<!doctype html><html lang='en'><title>Outlet</title><h1>Local news</h1>{snippet}",
        content_type="text/html")  # fmt: skip
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(outlet)
    frame = page.frame_locator("iframe")
    appeal = "CCTV appeal after burglary in Wednesfield (demo)"
    assert frame.get_by_role("link", name=appeal).is_visible()
    assert "updated" in frame.locator(".hl-updated").inner_text()
    page.wait_for_selector("#side .hl-appeal")
    assert appeal in page.locator("#side").inner_text()
    screenshots(page, "widget-on-outlet", shot_folder)

    # The police feed goes down: the service keeps the last items; the list says how old.
    with app.extensions["hyperlocal_db"].sessions() as session:
        from sqlalchemy import update

        from feeds.ingest.models import Feed

        session.execute(update(Feed).where(Feed.owner == "force:west-midlands")
                        .values(url="http://127.0.0.1:9/gone.xml", next_check_at=None))  # fmt: skip
        session.commit()
    from feeds.worker import poll_and_publish

    poll_and_publish(app.extensions["hyperlocal_db"].sessions, app.extensions["hyperlocal_http"])
    # And the service itself becomes unreachable for the script: it shows what it kept.
    context.route(f"{base}/embed/appeals.json*", lambda route: route.abort())
    page.reload()
    assert frame.get_by_role("link", name=appeal).is_visible()
    page.wait_for_selector("#side .hl-appeal")
    side = page.locator("#side").inner_text()
    assert appeal in side and "updated" in side and "rror" not in side
    context.close()


def test_the_editors_page_gives_a_snippet_and_a_live_preview(page, shot_folder) -> None:  # type: ignore[no-untyped-def]
    page.goto("/embed")
    page.get_by_label("Your area: a postcode or town").fill("WV11 1AA")
    page.get_by_role("button", name="Make my widget").click()
    snippet = page.get_by_label("As an iframe (works everywhere)").input_value()
    assert "/embed/appeals?near=WV11+1AA" in snippet and snippet.startswith("<iframe")
    script = page.get_by_label("As a script", exact=False).input_value()
    assert 'data-near="WV11 1AA"' in script
    preview = page.frame_locator("iframe.preview")
    assert preview.get_by_role("link", name="CCTV appeal after burglary in Wednesfield (demo)")
    screenshots(page, "editors-widget", shot_folder)
    page.get_by_label("Your area: a postcode or town").fill("Nowhere-on-earth")
    page.get_by_role("button", name="Make my widget").click()
    assert page.get_by_role("alert").is_visible()


ACCESSIBLE = ["/", "/area/WV11%201AA", "/area/LE1%201AA", "/area/WV10", "/search?q=Newport",
              "/teams/west-midlands/WV11demo",
              "/search?q=Wednesfeld", "/embed", "/embed?near=WV11+1AA",
              "/embed/appeals?near=WV11%201AA", "/submissions/hls_unknown",
              "/admin/moderation"]  # fmt: skip


def test_every_page_passes_axe_cores_accessibility_rules(page) -> None:  # type: ignore[no-untyped-def]
    """axe-core (WCAG 2.x A and AA rules, and its best practices) finds nothing on any page,
    at a phone's width and a desktop's."""
    axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")
    axe = axe_sync.Axe()
    found = {}
    for width in WIDTHS.values():
        page.set_viewport_size({"width": width, "height": 900})
        for path in ACCESSIBLE:
            page.goto(path)
            results = axe.run(page)
            problems = [(v["id"], v["impact"], v["nodes"][0]["target"])
                        for v in results.response["violations"]]  # fmt: skip
            if problems:
                found[(path, width)] = problems
    assert found == {}


def test_a_submitter_checks_their_link_and_takes_the_editor_key(
    page, demo_served, shot_folder
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import bearer

    app, _ = demo_served
    client = app.test_client()
    created = client.post("/sites", json={"name": "Ashmore Park Post", "url":
                          "https://ashmore-post.example.org/", "area": {"type": "postcodes",
                          "postcodes": ["WV11 2"]}}).get_json()  # fmt: skip
    link = urlsplit(created["submission"]["status_url"]).path  # made by the test client
    page.goto(link)
    assert "waiting for review" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Take my editor key").count() == 0
    client.patch(f"/sites/{created['id']}", json={"status": "approved"},
                 headers=bearer(app, "admin"))  # fmt: skip
    page.reload()
    page.get_by_role("button", name="Take my editor key").click()
    key = page.get_by_label(f"Editor key for site {created['id']}").input_value()
    assert key.startswith("hlk_") or len(key) > 30
    screenshots(page, "submission-key", shot_folder)
    assert client.get(f"/sites/{created['id']}/subscriptions",
                      headers={"Authorization": f"Bearer {key}"}).status_code == 200  # fmt: skip
    page.goto(link)
    assert "taken here already" in page.locator("main").inner_text()


def test_an_admin_approves_a_pending_site_on_the_moderation_page(
    page, demo_served, shot_folder
) -> None:  # type: ignore[no-untyped-def]
    from directory.keys.store import create_api_key

    app, _ = demo_served
    with app.extensions["hyperlocal_db"].sessions() as session:
        admin = create_api_key(session, "admin").secret
        session.commit()
    keyed = {"Authorization": f"Bearer {admin}"}
    pending = app.test_client().get("/sites?status=pending", headers=keyed).get_json()
    name = pending["items"][0]["name"]
    page.goto("/admin/moderation")
    page.get_by_label("Admin key").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/moderation")
    entry = page.locator(".moderation > li", has_text=name)
    screenshots(page, "moderation", shot_folder)
    entry.get_by_role("button", name="Approve").click()
    assert page.get_by_role("status").inner_text() == f"{name}: approved."
    assert page.locator(".moderation > li", has_text=name).count() == 0
