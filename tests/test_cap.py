"""CAP 1.2 done properly: every message the service emits is valid against the OASIS schema.

A warning's life through the API (published, edited twice, cancelled; edited in place in its
force's feed, then closed there) answers at ``/bulletins/{id}/cap`` with an ``Alert``, then
``Update``s and a ``Cancel`` whose ``references`` name every earlier message; each is checked
against ``tests/data/cap/CAP-v1.2.xsd`` (the OASIS file, see its NOTICE) with ``xmlschema``,
and the rules the schema leaves as prose (CAP 1.2 section 3.2) are checked here: identifiers and
sender without spaces, commas or ``<``/``&``; references as "sender,identifier,sent"; polygons
of at least four closed points; a circle as "lat,lng radius".
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Response

from directory.storage import utcnow
from feeds.ingest.models import Feed
from feeds.syndication.models import Bulletin
from feeds.worker import refresh_and_publish
from tests.conftest import bearer
from tests.test_feed_ingestion import RSS
from tests.test_syndication import police_feed, police_rss

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "data" / "cap" / "CAP-v1.2.xsd")
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
_NO_SPACE = re.compile(r"^[^\s,<&]+$")
_POINT = r"-?\d+(\.\d+)?,-?\d+(\.\d+)?"


def valid_cap(body: bytes) -> ET.Element:
    """The alert, after the schema and the section 3.2 rules accepted it."""
    SCHEMA.validate(body.decode())  # raises with the failing path and the reason
    alert = ET.fromstring(body)
    for tag in ("identifier", "sender"):
        assert _NO_SPACE.match(alert.findtext(f"cap:{tag}", namespaces=NS) or ""), tag
    references = alert.findtext("cap:references", namespaces=NS)
    for reference in (references or "").split():
        sender, identifier, sent = reference.split(",")
        assert _NO_SPACE.match(sender) and _NO_SPACE.match(identifier)
        datetime.fromisoformat(sent)
    for polygon in alert.iterfind(".//cap:polygon", NS):
        points = polygon.text.split()
        assert len(points) >= 4 and points[0] == points[-1]
        assert all(re.fullmatch(_POINT, p) for p in points)
    for circle in alert.iterfind(".//cap:circle", NS):
        assert re.fullmatch(_POINT + r" \d+(\.\d+)?", circle.text)
    return alert


def _cap(client, bulletin_id: int) -> ET.Element:  # type: ignore[no-untyped-def]
    response = client.get(f"/bulletins/{bulletin_id}/cap")
    assert response.status_code == 200 and response.mimetype == "application/cap+xml"
    return valid_cap(response.data)


def _text(alert: ET.Element, tag: str) -> str:
    return alert.findtext(f"cap:{tag}", namespaces=NS) or ""


def _reference_ids(alert: ET.Element) -> list[str]:
    return [r.split(",")[1] for r in _text(alert, "references").split()]


def test_a_warning_is_an_alert_then_updates_then_a_cancel_each_schema_valid(demo_directory, client):  # type: ignore[no-untyped-def]
    police = bearer(demo_directory, "police:west-midlands")
    created = client.post("/bulletins", headers=police, json={
        "kind": "warning", "title": "Flooding: Lichfield Road closed near WV11 1AA",
        "body_html": "<p>Avoid the area & use the A4124 <b>instead</b>.</p>",
        "area": {"type": "circle", "center": "WV11 1AA", "radius_m": 800}})  # fmt: skip
    assert created.status_code == 201, created.get_json()
    warning = created.get_json()["id"]
    alert = _cap(client, warning)
    assert _text(alert, "msgType") == "Alert" and _text(alert, "references") == ""
    first = _text(alert, "identifier")

    client.patch(f"/bulletins/{warning}", headers=police, json={"title": "Flooding: Lichfield "
                 "Road still closed, diversion via the A4124"})  # fmt: skip
    update = _cap(client, warning)
    assert _text(update, "msgType") == "Update" and _reference_ids(update) == [first]
    assert "diversion" in update.findtext("cap:info/cap:headline", namespaces=NS)
    second = _text(update, "identifier")
    assert second != first

    client.patch(f"/bulletins/{warning}", headers=police,
                 json={"body_html": "<p>Pumps are on site.</p>"})  # fmt: skip
    again = _cap(client, warning)
    assert _reference_ids(again) == [first, second]
    third = _text(again, "identifier")

    client.patch(f"/bulletins/{warning}", headers=police,
                 json={"status": "cancelled", "note": "the road has reopened"})  # fmt: skip
    cancel = _cap(client, warning)
    assert _text(cancel, "msgType") == "Cancel"
    assert _reference_ids(cancel) == [first, second, third]
    assert "reopened" in _text(cancel, "note")
    # The earlier messages are named by the time each was sent, in order.
    sent = [datetime.fromisoformat(r.split(",")[2]) for r in _text(cancel, "references").split()]
    assert sent == sorted(sent) and datetime.fromisoformat(_text(cancel, "sent")) >= sent[-1]


@pytest.mark.parametrize(
    "area",
    [
        {"type": "postcodes", "postcodes": ["WV11 1AA", "WV10 6AA"]},
        {"type": "postcodes", "postcodes": ["WV11 1"]},
        {"type": "circle", "center": {"lat": 52.6, "lng": -2.08}, "radius_m": 50_000},
        {
            "type": "polygon",
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[-2.10, 52.60], [-2.05, 52.60], [-2.05, 52.62], [-2.10, 52.60]]],
                    [
                        [
                            [-2.00, 52.58],
                            [-1.98, 52.58],
                            [-1.98, 52.59],
                            [-2.00, 52.59],
                            [-2.00, 52.58],
                        ],
                        [[-1.995, 52.582], [-1.985, 52.582], [-1.985, 52.585], [-1.995, 52.582]],
                    ],
                ],
            },
        },
        None,  # located from its words, or to the force
    ],
    ids=["postcodes", "district", "circle", "multipolygon", "from-text"],
)
def test_every_area_and_awkward_text_gives_a_valid_message(demo_directory, client, area):  # type: ignore[no-untyped-def]
    police = bearer(demo_directory, "police:west-midlands")
    body = {"kind": "warning", "title": "Warning: <scam> calls & \"courier\" fraud, 100% fake",
            "body_html": "<p>" + "Hang up. " * 900 + "</p>",
            "severity": "Severe", "urgency": "Immediate"}  # fmt: skip
    if area is not None:
        body["area"] = area
    created = client.post("/bulletins", headers=police, json=body)
    assert created.status_code == 201, created.get_json()
    alert = _cap(client, created.get_json()["id"])
    assert alert.findtext("cap:info/cap:severity", namespaces=NS) == "Severe"
    client.patch(f"/bulletins/{created.get_json()['id']}", headers=police,
                 json={"status": "resolved"})  # fmt: skip
    assert _text(_cap(client, created.get_json()["id"]), "msgType") == "Cancel"


def test_a_warning_edited_in_place_in_its_feed_is_a_cap_update_then_a_cancel(
    loopback_app, client, sessions, fetcher, httpserver: HTTPServer
):  # type: ignore[no-untyped-def]
    item = {
        "guid": "road-1",
        "title": "Road closed: A449 Stafford Road near WV10 6AA",
        "description": "Police have closed the A449 after a collision. Avoid the area.",
    }
    served = [police_rss([item])]
    httpserver.expect_request("/police.rss").respond_with_handler(
        lambda request: Response(served[0], headers=RSS)
    )
    feed_id = police_feed(sessions, httpserver.url_for("/police.rss"))

    def poll(feed: bytes) -> None:
        served[0] = feed
        with sessions() as session:
            session.execute(Feed.__table__.update().values(next_check_at=utcnow(), etag=None))
            session.commit()
        refresh_and_publish(sessions, feed_id, fetcher)

    poll(police_rss([item]))
    with sessions() as session:
        bulletin_id = session.scalar(select(Bulletin.id).where(Bulletin.kind == "warning"))
    assert bulletin_id is not None
    first = _text(_cap(client, bulletin_id), "identifier")

    poll(
        police_rss(
            [
                {
                    **item,
                    "title": "Road closed: A449 Stafford Road, long delays",
                    "description": "The A449 remains closed while officers work.",
                }
            ]
        )
    )
    update = _cap(client, bulletin_id)
    assert _text(update, "msgType") == "Update" and _reference_ids(update) == [first]

    poll(
        police_rss(
            [
                {
                    **item,
                    "title": "UPDATE: A449 Stafford Road has reopened",
                    "description": "The road has now reopened. Thank you for your patience.",
                }
            ]
        )
    )
    cancel = _cap(client, bulletin_id)
    assert _text(cancel, "msgType") == "Cancel"
    assert _reference_ids(cancel) == [first, _text(update, "identifier")]
