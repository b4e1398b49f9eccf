"""Forces, teams, the resident's lookup and the team's tools, over HTTP on the demo directory."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from api.cli import main
from feeds.demo import demo_police_dir
from tests.conftest import bearer


def test_forces(client, demo_directory):
    body = client.get("/forces").get_json()
    assert [f["id"] for f in body["items"]] == ["leicestershire", "west-midlands"]
    assert body["pagination"]["total"] == 2
    force = client.get("/forces/west-midlands").get_json()
    assert force["engagement"][0]["type"] == "rss"
    assert client.get("/forces/kent").status_code == 404


@pytest.mark.parametrize(
    ("postcode", "precision", "team", "officers", "first_site"),
    [
        ("wv111aa", "unit", "WV11demo", 3, "Wednesfield Community News (demo)"),
        ("WV11 1", "sector", "WV11demo", 3, "Wednesfield Community News (demo)"),
        ("WV11", "district", "WV11demo", 3, "Wednesfield Community News (demo)"),
        ("LE1 1AA", "unit", "NC04demo", 1, "Leicester Centre Chronicle (demo)"),
        ("M14", "district", None, 0, "Fallowfield Forum (demo)"),
    ],
)
def test_resident_lookup(client, demo_directory, postcode, precision, team, officers, first_site):
    response = client.get(f"/postcodes/{postcode}/local")
    assert response.status_code == 200
    body = response.get_json()
    assert body["precision"] == precision and body["note"]
    assert (body["neighbourhood"]["id"] if body["neighbourhood"] else None) == team
    assert len(body["officers"]) == officers
    assert body["sites"][0]["name"] == first_site and body["sites"][0]["reason"] == "covers"
    assert all("contact_email" not in s for s in body["sites"])
    assert all(s["status"] == "approved" for s in body["sites"])
    if team is None:  # says why there is no team, and for which forces there are
        assert "no neighbourhood team in the directory covers this place" in body["note"]
        assert "leicestershire, west-midlands" in body["note"]
        # The force is known from the districts' lookup, before any of its teams is imported.
        assert body["force"]["id"] == "greater-manchester" and "Greater Manchester" in body["note"]
    else:
        assert "team" not in body["note"]
    if team == "WV11demo":
        assert body["force"]["name"] == "West Midlands Police"
        assert body["neighbourhood"]["contact_details"]["telephone"] == "101"
        sergeant = next(o for o in body["officers"] if o["rank"] == "Sergeant")
        assert sergeant["accounts"][0]["platform"] == "x"


def test_without_any_team_the_lookup_says_how_to_get_one(client):
    note = client.get("/postcodes/M14 5WS/local").get_json()["note"]
    assert "no police teams have been imported yet" in note and "police import" in note


def test_resident_lookup_errors(client, demo_directory):
    assert client.get("/postcodes/WV99 9ZZ/local").status_code == 404
    assert client.get("/postcodes/WV111/local").status_code == 422
    assert "not a postcode" in client.get("/postcodes/52.6,-2.08/local").get_json()["message"]


def test_neighbourhoods_near_and_by_force(client, demo_directory):
    near = client.get("/neighbourhoods?near=WV11 1AA").get_json()
    assert [(n["id"], n["reason"]) for n in near["items"]] == [("WV11demo", "covers")]
    assert len(near["items"][0]["officers"]) == 3
    assert near["items"][0]["boundary"]["type"] == "Polygon"
    wider = client.get("/neighbourhoods?near=WV11 1AA&radius=10000").get_json()["items"]
    assert [(n["id"], n["reason"]) for n in wider] == [
        ("WV11demo", "covers"),
        ("WV1demo", "nearby"),
    ]
    assert 0 < wider[1]["distance_m"] < 10_000
    listed = client.get("/neighbourhoods?force=west-midlands").get_json()
    assert [n["id"] for n in listed["items"]] == ["WV11demo", "WV1demo"]  # by name
    assert listed["pagination"]["total"] == 2
    assert client.get("/neighbourhoods").status_code == 422
    assert client.get("/neighbourhoods?force=kent").status_code == 404
    team = client.get("/neighbourhoods/west-midlands/WV11demo").get_json()
    assert team["name"] == "Wednesfield & Fallings Park (demo)" and len(team["officers"]) == 3
    assert (
        client.get("/neighbourhoods/west-midlands/wv11demo").status_code == 404
    )  # ids are case-sensitive


def test_team_sites_and_opml(client, demo_directory):
    sites = client.get("/neighbourhoods/west-midlands/WV11demo/sites").get_json()
    names = [s["name"] for s in sites["items"]]
    assert "Wednesfield Community News (demo)" in names
    assert "Leicester Centre Chronicle (demo)" not in names
    assert "New WV11 blog, awaiting review (demo)" not in names  # pending
    response = client.get("/neighbourhoods/west-midlands/WV11demo/sites.opml")
    assert response.status_code == 200 and response.mimetype == "text/x-opml"
    root = ET.fromstring(response.data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    outlines = root.findall("./body/outline")
    assert {o.get("xmlUrl") for o in outlines} == {
        feed for s in sites["items"] for feed in s["feed_urls"]
    }
    assert all(o.get("type") == "rss" and o.get("htmlUrl") for o in outlines)
    assert client.get("/neighbourhoods/west-midlands/NOPE/sites.opml").status_code == 404


def test_coverage_gaps(client, demo_directory):
    team = client.get("/coverage/gaps?neighbourhood=west-midlands/WV11demo").get_json()
    assert team["postcode_count"] > team["covered_count"] > 0
    gap_codes = [g["code"] for g in team["sectors"]]
    # The demo sites cover WV11 1-3 and a circle in WV10; what they miss is a gap.
    assert all(not code.startswith(("WV11 1", "WV11 2", "WV11 3")) for code in gap_codes)
    assert gap_codes and all(g["postcode_count"] > 0 for g in team["sectors"])
    force = client.get("/coverage/gaps?force=west-midlands").get_json()
    assert force["postcode_count"] >= team["postcode_count"]
    assert client.get("/coverage/gaps").status_code == 422
    assert client.get("/coverage/gaps?neighbourhood=west-midlands/NOPE").status_code == 404


def test_coverage_gap_closes_when_a_site_covers_it(client, demo_directory, app):
    before = client.get("/coverage/gaps?neighbourhood=west-midlands/WV11demo").get_json()
    sector = before["sectors"][0]["code"]
    admin = bearer(app, "admin")
    created = client.post("/sites", json={
        "name": "Gap filler", "url": "https://gap.example.org/",
        "area": {"type": "postcodes", "postcodes": [sector]},
    }).get_json()  # fmt: skip
    client.patch(f"/sites/{created['id']}", json={"status": "approved"}, headers=admin)
    after = client.get("/coverage/gaps?neighbourhood=west-midlands/WV11demo").get_json()
    assert sector not in [g["code"] for g in after["sectors"]]
    gap = before["sectors"][0]
    assert after["covered_count"] == before["covered_count"] + gap["uncovered_count"]
    # Partly covered sectors are listed too, with how many of their units no site covers.
    partly = [g for g in after["sectors"] if g["uncovered_count"] < g["postcode_count"]]
    untouched = [g for g in after["sectors"] if g["uncovered_count"] == g["postcode_count"]]
    assert partly and untouched
    assert after["postcode_count"] - after["covered_count"] == sum(
        g["uncovered_count"] for g in after["sectors"])  # fmt: skip


def test_cli_police_import_from_saved(migrated_url, monkeypatch, tmp_path):
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", migrated_url)
    runner = CliRunner()
    result = runner.invoke(
        main, ["police", "import", "--force", "leicestershire", "--from", str(demo_police_dir())]
    )
    assert result.exit_code == 0, result.output
    assert "neighbourhoods 1 new" in result.output
    unknown = runner.invoke(
        main, ["police", "import", "--force", "kent", "--from", str(demo_police_dir())]
    )
    assert unknown.exit_code == 1 and "no force 'kent'" in unknown.output
    assert "nothing was changed" in unknown.output
    missing = runner.invoke(
        main, ["police", "import", "--force", "kent", "--from", str(tmp_path / "nope")]
    )
    assert missing.exit_code == 1 and "is not a directory" in missing.output


def test_a_force_manages_its_own_teams_only(client, demo_directory):
    app = demo_directory
    wmp = bearer(app, "police:west-midlands")
    leics = bearer(app, "police:leicestershire")
    team = "/neighbourhoods/west-midlands/WV11demo"
    changed = client.patch(team, json={
        "contact_details": {"email": "new.demo@example.org", "telephone": "101"},
        "accounts": [{"platform": "bluesky", "url": "https://bsky.app/profile/demo.bsky.social"}],
    }, headers=wmp)  # fmt: skip
    assert changed.status_code == 200
    body = changed.get_json()
    assert body["contact_details"]["email"] == "new.demo@example.org"
    assert body["accounts"][0]["platform"] == "bluesky"
    assert client.patch(team, json={"name": "x"}, headers=leics).status_code == 403
    assert client.patch(team, json={"name": "x"}).status_code == 401
    bad = client.patch(team, json={"contact_details": {"myspace": "x"}}, headers=wmp)
    assert bad.status_code == 422 and "not myspace" in bad.get_json()["message"]
    # Every channel is checked by its kind, as a site's contact email is; nothing is changed.
    for channel, value, says in [("email", "not-an-email", "is not an email address"),
                                 ("telephone", "call us!", "is not a telephone number"),
                                 ("mobile", "12", "is not a telephone number")]:  # fmt: skip
        refused = client.patch(team, json={"contact_details": {channel: value}}, headers=wmp)
        assert refused.status_code == 422 and says in refused.get_json()["message"], channel
    shown = client.get(team).get_json()["contact_details"]
    assert shown["email"] == "new.demo@example.org" and shown["telephone"] == "101"
    fine = client.patch(team, json={"contact_details": {
        "telephone": "+44 (0)121 626 5000", "address": "Demo Police Station, WV11"}},
        headers=wmp)  # fmt: skip
    assert fine.status_code == 200
    bad_account = client.patch(team, json={"accounts": [{"platform": "x", "url": "https://evil.example/"}]},
                               headers=wmp)  # fmt: skip
    assert (
        bad_account.status_code == 422 and "is not a x address" in bad_account.get_json()["message"]
    )


def test_officers_are_added_changed_and_stood_down(client, demo_directory):
    app = demo_directory
    wmp = bearer(app, "police:west-midlands")
    admin = bearer(app, "admin")
    officers = "/neighbourhoods/west-midlands/WV11demo/officers"
    added = client.post(officers, json={
        "name": "PC Demo New Starter", "rank": "PC",
        "accounts": [{"platform": "x", "url": "https://x.com/demo_new_starter"}],
    }, headers=wmp)  # fmt: skip
    assert added.status_code == 201
    officer_id = added.get_json()["id"]
    assert (
        client.post(officers, json={"name": "PC Demo New Starter"}, headers=admin).status_code
        == 422
    )
    local = client.get("/postcodes/WV111AA/local").get_json()
    assert "PC Demo New Starter" in [o["name"] for o in local["officers"]]
    stood_down = client.patch(f"{officers}/{officer_id}", json={"active": False}, headers=wmp)
    assert stood_down.status_code == 200 and stood_down.get_json()["active"] is False
    local = client.get("/postcodes/WV111AA/local").get_json()
    assert "PC Demo New Starter" not in [o["name"] for o in local["officers"]]
    assert client.patch(f"{officers}/999999", json={"rank": "x"}, headers=wmp).status_code == 404
    other_team = "/neighbourhoods/leicestershire/NC04demo/officers"
    assert client.post(other_team, json={"name": "x"}, headers=wmp).status_code == 403


def test_local_body_is_what_the_schema_documents(client, demo_directory):
    """/postcodes/{pc}/local skips marshmallow at run time; its keys must match the schema."""
    from api.police_schemas import ForceBriefSchema, LocalSchema, NeighbourhoodSchema, OfficerSchema
    from api.sites import SiteSchema

    body = client.get("/postcodes/WV111AA/local").get_json()
    assert set(body) == set(LocalSchema().fields)
    assert set(body["force"]) == set(ForceBriefSchema().fields)
    assert set(body["neighbourhood"]) <= set(NeighbourhoodSchema().fields)
    assert all(set(o) == set(OfficerSchema().fields) for o in body["officers"])
    assert all(set(s) <= set(SiteSchema().fields) for s in body["sites"])
    assert body["sites"][0]["created_at"].endswith("+00:00")  # ISO 8601, as marshmallow writes


def test_redrawing_one_team_leaves_other_teams_units_alone(client, demo_directory):
    """A force redraws a boundary: neighbouring teams keep their units, and a larger patch
    from another force cannot take units a smaller team already holds."""
    from directory.geography.postcodes import postcodes_of_teams
    from directory.police.models import Neighbourhood

    app = demo_directory
    with app.extensions["hyperlocal_db"].sessions() as session:
        wv1 = session.query(Neighbourhood).filter_by(code="WV1demo").one().id
        before = len(postcodes_of_teams(session, [wv1]))
    assert before > 100
    wmp = bearer(app, "police:west-midlands")
    leics = bearer(app, "police:leicestershire")
    # WV11demo grows a little square next to WV1demo's patch: WV1demo keeps every unit.
    square = {"type": "Polygon", "coordinates": [[[-2.06, 52.60], [-2.05, 52.60], [-2.05, 52.61],
              [-2.06, 52.61], [-2.06, 52.60]]]}  # fmt: skip
    assert client.patch("/neighbourhoods/west-midlands/WV11demo", json={"boundary": square},
                        headers=wmp).status_code == 200  # fmt: skip
    # Leicestershire draws a huge box over Wolverhampton: smaller local patches keep their units.
    huge = {"type": "Polygon", "coordinates": [[[-2.3, 52.5], [-1.9, 52.5], [-1.9, 52.7],
            [-2.3, 52.7], [-2.3, 52.5]]]}  # fmt: skip
    assert client.patch("/neighbourhoods/leicestershire/NC04demo", json={"boundary": huge},
                        headers=leics).status_code == 200  # fmt: skip
    with app.extensions["hyperlocal_db"].sessions() as session:
        assert len(postcodes_of_teams(session, [wv1])) == before
    local = client.get("/postcodes/WV1 1AA/local").get_json()
    assert local["neighbourhood"]["id"] == "WV1demo"


def test_what_a_force_sets_survives_a_reimport_until_data_police_uk_changes_it(
    client, demo_directory, tmp_path
):
    """Re-running the import (and `hyperlocal demo`) used to undo a force's API edits."""
    import json
    import shutil

    from directory.police.importer import SavedPoliceData, import_police_force
    from feeds.demo import load_demo_directory

    app = demo_directory
    wmp = bearer(app, "police:west-midlands")
    team = "/neighbourhoods/west-midlands/WV11demo"
    officers = f"{team}/officers"
    edit = {"contact_details": {"email": "front.desk@example.org"}, "name": "Wednesfield NPT"}
    assert client.patch(team, json=edit, headers=wmp).status_code == 200
    added = client.post(officers, json={"name": "PC Demo New Starter", "rank": "PC"}, headers=wmp)
    roster = {o["name"]: o["id"] for o in client.get(team).get_json()["officers"]}
    tom = roster["PCSO Demo Tom Lee"]
    assert client.patch(f"{officers}/{tom}", json={"active": False}, headers=wmp).status_code == 200
    priya = roster["PC Demo Priya Shah"]
    assert client.patch(f"{officers}/{priya}", json={"rank": "Detective Constable"},
                        headers=wmp).status_code == 200  # fmt: skip

    def state() -> tuple:
        body = client.get(team).get_json()
        active = {o["name"]: o["rank"] for o in body["officers"]}
        return body["name"], body["contact_details"], active

    def reimport(source) -> None:  # type: ignore[no-untyped-def]
        with app.extensions["hyperlocal_db"].sessions() as session:
            import_police_force(session, source, "west-midlands")

    with app.extensions["hyperlocal_db"].sessions() as session:
        load_demo_directory(session)  # what `hyperlocal demo` runs, every time
    name, contacts, active = state()
    assert name == "Wednesfield NPT" and contacts == {"email": "front.desk@example.org"}
    assert "PCSO Demo Tom Lee" not in active  # stood down stays stood down
    assert active["PC Demo New Starter"] == "PC" and added.status_code == 201  # added stays
    assert active["PC Demo Priya Shah"] == "Detective Constable"
    # data.police.uk then changes the team's contact details and Priya's rank (not the name):
    # those fields are its again; the rest stays the force's.
    saved = tmp_path / "police"
    shutil.copytree(demo_police_dir(), saved)
    detail = saved / "west-midlands" / "WV11demo.json"
    body = json.loads(detail.read_text())
    body["contact_details"] = {"email": "wednesfield.npt@example.org"}
    detail.write_text(json.dumps(body))
    people_file = saved / "west-midlands" / "WV11demo" / "people.json"
    people = json.loads(people_file.read_text())
    people[1]["rank"] = "Sergeant"
    people_file.write_text(json.dumps(people))
    reimport(SavedPoliceData(saved))
    name, contacts, active = state()
    assert name == "Wednesfield NPT" and contacts == {"email": "wednesfield.npt@example.org"}
    assert active["PC Demo Priya Shah"] == "Sergeant" and "PCSO Demo Tom Lee" not in active
    assert "PC Demo New Starter" in active
    # And an officer data.police.uk stops listing is stood down, as before.
    people_file.write_text(json.dumps([p for p in people if p["name"] != "PC Demo Priya Shah"]))
    reimport(SavedPoliceData(saved))
    assert "PC Demo Priya Shah" not in state()[2]
