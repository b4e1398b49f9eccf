"""data.police.uk import: saved JSON and a loopback server speaking the API's shapes."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug import Response

from directory.police.data import Report, parse_boundary
from directory.police.importer import (
    LivePoliceApi,
    PoliceImportError,
    RateLimiter,
    SavedPoliceData,
    backoff_seconds,
    import_police_force,
)
from directory.police.models import Neighbourhood, Officer, PoliceForce
from directory.police.patches import neighbourhood_at
from directory.police.provenance import digest, merge
from directory.police.store import active_officers, get_neighbourhood
from directory.storage import make_session_factory

DEMO_POLICE = Path(str(files("directory.data").joinpath("police")))


@pytest.fixture
def sessions(migrated_url, engine_for):  # type: ignore[no-untyped-def]
    return make_session_factory(engine_for(migrated_url))


@pytest.fixture
def saved(tmp_path) -> Path:
    """A writable copy of the demo data, to break or change per test."""
    target = tmp_path / "police"
    shutil.copytree(DEMO_POLICE, target)
    return target


def _write(root: Path, path: str, body) -> None:  # type: ignore[no-untyped-def]
    file = root / f"{path}.json"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(body))


def test_import_from_saved_json(sessions, saved):
    with sessions() as session:
        summary = import_police_force(session, SavedPoliceData(saved), "west-midlands")
    assert summary.counts.neighbourhoods_new == 2 and summary.counts.officers_new == 4
    with sessions() as session:
        force = session.get(PoliceForce, "west-midlands")
        assert force.name == "West Midlands Police" and force.description.startswith("DEMO DATA")
        assert force.engagement[0]["type"] == "rss"
        team = get_neighbourhood(session, "west-midlands", "WV11demo")
        assert team.name == "Wednesfield & Fallings Park (demo)"  # HTML entity decoded
        assert "<p>" not in team.description and "\n" in team.description
        assert team.contact_details == {"email": "wednesfield.demo@example.org", "telephone": "101"}
        assert {a["platform"] for a in team.accounts} == {"x", "facebook"}
        assert (team.centre_lat, team.centre_lng) == (52.6106, -2.0719)
        officers = active_officers(session, team.id)
        assert [o.name for o in officers] == [
            "PC Demo Priya Shah", "PCSO Demo Tom Lee", "PS Demo Alex Morgan"
        ]  # fmt: skip
        assert officers[2].accounts == [
            {"platform": "x", "handle": "", "url": "https://x.com/demo_sgt_morgan"}
        ]
        # The boundary finds the team for a point in Wednesfield, not for one in Leicester.
        assert neighbourhood_at(session, 52.615855, -2.089476).code == "WV11demo"
        assert neighbourhood_at(session, 52.6389, -1.13619) is None


def test_reimport_updates_and_deactivates_never_deletes(sessions, saved):
    with sessions() as session:
        import_police_force(session, SavedPoliceData(saved), "west-midlands")
    _write(saved, "west-midlands/neighbourhoods", [{"id": "WV11demo", "name": "Wednesfield"}])
    people = json.loads((saved / "west-midlands/WV11demo/people.json").read_text())
    _write(saved, "west-midlands/WV11demo/people", people[:2])  # the PCSO has moved on
    with sessions() as session:
        summary = import_police_force(session, SavedPoliceData(saved), "west-midlands")
    counts = summary.counts
    assert (counts.neighbourhoods_new, counts.neighbourhoods_updated) == (0, 1)
    assert counts.neighbourhoods_inactive == 1
    assert counts.officers_inactive == 2  # the PCSO, and the inspector of the dropped team
    with sessions() as session:
        rows = session.scalars(select(Neighbourhood).order_by(Neighbourhood.code)).all()
        assert [(n.code, n.active) for n in rows] == [("WV11demo", True), ("WV1demo", False)]
        tom = session.scalar(select(Officer).where(Officer.name == "PCSO Demo Tom Lee"))
        assert tom is not None and tom.active is False
        assert neighbourhood_at(session, 52.5864, -2.1289) is None  # inactive teams not found


def test_malformed_entries_are_skipped_and_reported(sessions, saved):
    _write(saved, "west-midlands/neighbourhoods", [
        {"id": "WV11demo"}, {"id": "WV1demo"}, {"id": "GONE"}, {"name": "no id"}, "junk",
    ])  # fmt: skip
    _write(saved, "west-midlands/WV1demo/boundary", [{"latitude": "52.5", "longitude": "east"}])
    (saved / "west-midlands/WV11demo/people.json").write_text("{not json")
    with sessions() as session:
        summary = import_police_force(session, SavedPoliceData(saved), "west-midlands")
    problems = "\n".join(summary.report.problems)
    assert "neighbourhood GONE: not found" in problems
    assert "neighbourhood list entry 4: has no id" in problems
    assert "neighbourhood list entry 5: has no id" in problems
    assert "is not a latitude/longitude pair" in problems
    assert "people.json is not JSON" in problems
    # WV1demo is kept without a boundary; WV11demo (unreadable people) is skipped whole.
    with sessions() as session:
        codes = [n.code for n in session.scalars(select(Neighbourhood))]
    assert codes == ["WV1demo"]


def test_unknown_force_changes_nothing(sessions, saved):
    with sessions() as session, pytest.raises(PoliceImportError, match="no force 'kent'"):
        import_police_force(session, SavedPoliceData(saved), "kent")
    with sessions() as session:
        assert session.scalars(select(PoliceForce)).all() == []


def test_contact_details_of_any_shape(sessions, saved):
    details = json.loads((saved / "leicestershire/NC04demo.json").read_text())
    details["contact_details"] = {}
    _write(saved, "leicestershire/NC04demo", details)
    _write(saved, "leicestershire/NC04demo/people", [
        {"name": "PC <b>Bold</b>", "rank": None, "bio": None, "contact_details": None},
        {"name": "PC Link", "rank": "PC", "bio": None,
         "contact_details": {"facebook": "https://evil.example/facebook"}},
    ])  # fmt: skip
    with sessions() as session:
        summary = import_police_force(session, SavedPoliceData(saved), "leicestershire")
        team = get_neighbourhood(session, "leicestershire", "NC04demo")
        assert team.contact_details == {} and team.accounts == []
        names = [(o.name, o.accounts) for o in active_officers(session, team.id)]
    assert names == [("PC Bold", []), ("PC Link", [])]
    assert any("facebook account not used" in p for p in summary.report.problems)


def test_boundaries_are_closed_checked_and_repaired():
    report = Report()

    def points(*pairs):  # type: ignore[no-untyped-def]
        return [{"latitude": la, "longitude": lo} for la, lo in pairs]

    open_ring = points(("52.60", "-2.10"), ("52.60", "-2.06"), ("52.63", "-2.06"))
    assert parse_boundary(open_ring, report, "x").contains(52.61, -2.07)
    bow_tie = points(("52.6", "-2.1"), ("52.7", "-2.0"), ("52.6", "-2.0"), ("52.7", "-2.1"),
                     ("52.6", "-2.1"))  # fmt: skip
    assert parse_boundary(bow_tie, report, "x") is not None
    assert report.counts["boundaries repaired (self-intersecting upstream)"] == 1
    paris = [{"latitude": "48.85", "longitude": "2.35"}] * 4
    assert parse_boundary(paris, report, "x") is None and "outside the UK" in report.problems[-1]


def test_rate_limiter_spaces_calls():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(15, clock=lambda: now[0], sleep=sleep)
    for _ in range(31):
        limiter.wait()
    assert now[0] == pytest.approx(30 / 15)  # 31 calls take 2 s at 15 a second
    assert all(s == pytest.approx(1 / 15) for s in slept)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "low", "high"),
    [(1, None, 1, 1.25), (3, None, 4, 5), (1, "7", 7, 7), (2, "999", 60, 60), (10, None, 60, 75)],
)
def test_backoff(attempt, retry_after, low, high):
    assert low <= backoff_seconds(attempt, retry_after) <= high


def _serve_saved(httpserver, root: Path) -> None:  # type: ignore[no-untyped-def]
    """Answer /api/<path> from the saved files, with data.police.uk's plain 404 body."""

    def handler(request):  # type: ignore[no-untyped-def]
        path = request.path.removeprefix("/api/")
        file = root / f"{path}.json"
        if not file.is_file():
            return Response("Not Found", status=404, content_type="text/html")
        return Response(file.read_text(), content_type="application/json")

    httpserver.expect_request(
        __import__("re").compile(r"^/api/.*"), method="GET"
    ).respond_with_handler(handler)


def test_live_import_against_a_loopback_api(sessions, saved, httpserver):
    _write(saved, "west-midlands/neighbourhoods", [
        {"id": "WV11demo"}, {"id": "WV1demo"}, {"id": "GONE"},
    ])  # fmt: skip
    # The first request is refused with 429, as the real API does when pushed too hard.
    httpserver.expect_ordered_request("/api/forces/west-midlands").respond_with_response(
        Response("Too Many Requests", status=429, headers={"Retry-After": "0"})
    )
    _serve_saved(httpserver, saved)
    sleeps: list[float] = []
    api = LivePoliceApi(httpserver.url_for("/api/"), rate_per_second=1000, sleep=sleeps.append)
    progress: list[tuple[int, int]] = []
    with sessions() as session:
        summary = import_police_force(
            session, api, "west-midlands", lambda d, t: progress.append((d, t))
        )
    assert summary.counts.neighbourhoods_new == 2
    assert "neighbourhood GONE: not found" in summary.report.problems
    assert progress[-1] == (3, 3)
    assert 0 in sleeps  # the Retry-After: 0 was honoured
    paths = [request.path for request, _ in httpserver.log]
    assert paths[:2] == ["/api/forces/west-midlands", "/api/forces/west-midlands"]
    assert "/api/west-midlands/WV11demo/boundary" in paths
    assert all("hyperlocal" in r.headers["User-Agent"] for r, _ in httpserver.log)


def test_live_api_gives_up_after_retries(sessions, httpserver):
    httpserver.expect_request("/api/forces/kent").respond_with_response(
        Response("down", status=503)
    )
    api = LivePoliceApi(httpserver.url_for("/api/"), rate_per_second=1000, max_retries=2,
                        sleep=lambda s: None)  # fmt: skip
    with sessions() as session, pytest.raises(PoliceImportError, match="503 after 2 retries"):
        import_police_force(session, api, "kent")
    assert len(httpserver.log) == 3


def test_live_api_unreachable(sessions):
    api = LivePoliceApi("http://127.0.0.1:9/api/", rate_per_second=1000, max_retries=1,
                        timeout=2, sleep=lambda s: None)  # fmt: skip
    with sessions() as session, pytest.raises(PoliceImportError, match="unreachable"):
        import_police_force(session, api, "kent")


def test_postcodes_remember_their_team_and_follow_changes(sessions, saved, migrated_url):
    from directory.geography.area_builders import polygon_area
    from directory.geography.postcode_import import import_postcodes
    from directory.geography.postcodes import get_postcode, postcodes_of_teams
    from directory.police.patches import neighbourhood_for_postcode
    from directory.police.store import update_neighbourhood
    from tests.conftest import DEMO_EXTRACT

    with sessions() as session:
        import_postcodes(session.get_bind(), DEMO_EXTRACT)
        import_police_force(session, SavedPoliceData(saved), "west-midlands")
        team = get_neighbourhood(session, "west-midlands", "WV11demo")
        assert neighbourhood_for_postcode(session, "WV11 1AA").code == "WV11demo"
        assert neighbourhood_for_postcode(session, "LE1 1AA") is None
        assigned = {pc for pc, _ in postcodes_of_teams(session, [team.id])}
        # Exactly the units the boundary holds, as the geometry says.
        for pc in list(assigned)[:50]:
            record = get_postcode(session, pc)
            assert neighbourhood_at(session, record.latitude, record.longitude).id == team.id
        # Shrink the patch to a small box around WV11 1AA: the others are released.
        box = {"type": "Polygon", "coordinates": [[[-2.092, 52.614], [-2.087, 52.614],
               [-2.087, 52.618], [-2.092, 52.618], [-2.092, 52.614]]]}  # fmt: skip
        update_neighbourhood(session, team, boundary=polygon_area(box))
        session.commit()
        now = {pc for pc, _ in postcodes_of_teams(session, [team.id])}
        assert "WV11 1AA" in now and len(now) < len(assigned) / 10
        update_neighbourhood(session, team, active=False)
        session.commit()
        assert postcodes_of_teams(session, [team.id]) == []
        assert neighbourhood_for_postcode(session, "WV11 1AA") is None


@pytest.mark.parametrize(
    ("upstream", "edited", "incoming", "take", "still_edited"),
    [
        # Nothing edited: the import writes everything.
        (None, None, {"name": "A", "active": True}, {"name", "active"}, []),
        # Edited, data.police.uk unchanged since: the force's value stays.
        ({"name": digest("A")}, ["name"], {"name": "A", "rank": "PC"}, {"rank"}, ["name"]),
        # Edited, then data.police.uk changes it: its new value wins, the mark goes.
        ({"name": digest("A")}, ["name"], {"name": "B"}, {"name"}, []),
        # Edited before anything was recorded of data.police.uk (added by the force, or
        # imported before provenance was kept): the import's first word wins.
        (None, ["rank", "active"], {"rank": "PC", "active": True}, {"rank", "active"}, []),
        # A mark on a field this import does not carry is kept.
        ({"active": digest(True)}, ["active", "bio"], {"active": False}, {"active"}, ["bio"]),
        # Key order inside a value does not count as a change.
        ({"c": digest({"a": 1, "b": 2})}, ["c"], {"c": {"b": 2, "a": 1}}, set(), ["c"]),
    ],
)
def test_who_owns_a_field(upstream, edited, incoming, take, still_edited):
    merged = merge(upstream, edited, incoming)
    assert merged.take == take and merged.edited == still_edited
    assert merged.upstream == {**(upstream or {}), **{k: digest(v) for k, v in incoming.items()}}
