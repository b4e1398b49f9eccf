"""data.police.uk's shapes, read into clean values: forces, neighbourhoods, boundaries, people.

Pure. Upstream data is untidy: every contact_details key is optional and ``{}`` is common,
names and descriptions carry HTML, coordinates are strings, boundaries have 60 to 2,000
vertices (first repeated last, not always valid polygons). What cannot be used is skipped and
reported through ``Report``; the rest is kept.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from directory.accounts import Account, AccountInvalid, check_account
from directory.contacts import CONTACT_KEYS, ContactInvalid, contact_channel
from directory.geography.area_builders import polygon_area, repaired_polygon_area
from directory.geography.areas import Area, AreaInvalid
from directory.geography.geo import in_uk
from directory.text import plain_text
from directory.urls import url_or_none

# contact_details keys that are accounts on a platform we list, and which platform.
ACCOUNT_KEYS = {
    "twitter": "x",
    "facebook": "facebook",
    "youtube": "youtube",
    "instagram": "instagram",
    "bluesky": "bluesky",
    "mastodon": "mastodon",
    "web": "web",
    "blog": "web",
    "rss": "rss",
}
# contact_details keys kept as contact channels (plain text).


class MalformedEntry(ValueError):
    """An upstream record that cannot be used at all."""


@dataclass
class Report:
    """What an import skipped or repaired, and why (shown to the person running it)."""

    problems: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def skip(self, where: str, why: str) -> None:
        self.problems.append(f"{where}: {why}")

    def note(self, what: str) -> None:
        self.counts[what] += 1


@dataclass(frozen=True)
class ForceData:
    id: str
    name: str
    url: str | None
    description: str
    telephone: str | None
    engagement: list[dict[str, str]]


@dataclass(frozen=True)
class OfficerData:
    name: str
    rank: str
    bio: str
    accounts: list[Account]


@dataclass(frozen=True)
class NeighbourhoodData:
    code: str
    name: str
    description: str
    url_force: str | None
    centre: tuple[float, float] | None
    boundary: Area | None
    contact_details: dict[str, str]
    accounts: list[Account]
    links: list[dict[str, str]]
    officers: list[OfficerData]


def _text(value: Any, limit: int = 10_000) -> str:
    return plain_text(value if isinstance(value, str) else "", limit)


def parse_force(body: Any) -> ForceData:
    """GET /api/forces/{force}."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        raise MalformedEntry("the force has no id")
    name = _text(body.get("name"), 200)
    if not name:
        raise MalformedEntry("the force has no name")
    engagement = []
    for method in body.get("engagement_methods") or []:
        if not isinstance(method, dict):
            continue
        url = url_or_none(method.get("url"))
        if url is None:
            continue
        engagement.append({
            "type": _text(method.get("type"), 60).lower() or "web",
            "title": _text(method.get("title"), 200),
            "description": _text(method.get("description"), 2000),
            "url": url,
        })  # fmt: skip
    return ForceData(
        id=body["id"],
        name=name,
        url=url_or_none(body.get("url")),
        description=_text(body.get("description")),
        telephone=_text(body.get("telephone"), 60) or None,
        engagement=engagement,
    )


def contact_channels(
    details: Any, report: Report, where: str
) -> tuple[dict[str, str], list[Account]]:
    """(contact channels, official accounts) from a contact_details object (any subset, or {})."""
    if not isinstance(details, dict):
        return {}, []
    contacts: dict[str, str] = {}
    for key in CONTACT_KEYS:
        try:
            value = contact_channel(key, _text(details.get(key), 500))
        except ContactInvalid as exc:
            report.skip(where, f"contact channel not used: {exc}")
            continue
        if value:
            contacts[key] = value
    accounts: list[Account] = []
    for key, platform in ACCOUNT_KEYS.items():
        value = details.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            account = check_account(platform, value.strip())
        except AccountInvalid as exc:
            report.skip(where, f"{key} account not used: {exc}")
            continue
        if account not in accounts:
            accounts.append(account)
    for key in details:
        if key not in ACCOUNT_KEYS and key not in CONTACT_KEYS:
            report.note(f"contact channel '{key}' not listed (not an official platform)")
    return contacts, accounts


def parse_boundary(points: Any, report: Report, where: str) -> Area | None:
    """GET /api/{force}/{neighbourhood}/boundary: [{latitude, longitude} as strings]."""
    if not points:
        return None
    if not isinstance(points, list):
        report.skip(where, "boundary is not a list of points")
        return None
    ring = []
    for point in points:
        try:
            lat, lng = float(point["latitude"]), float(point["longitude"])
        except (TypeError, KeyError, ValueError):
            report.skip(where, f"boundary point {point!r} is not a latitude/longitude pair")
            return None
        if not (math.isfinite(lat) and math.isfinite(lng) and in_uk(lat, lng)):
            report.skip(where, f"boundary point ({lat}, {lng}) is outside the UK")
            return None
        ring.append([lng, lat])
    if len(ring) >= 3 and ring[0] != ring[-1]:
        ring.append(ring[0])
    geometry = {"type": "Polygon", "coordinates": [ring]}
    try:
        return polygon_area(geometry)
    except AreaInvalid as exc:
        try:
            area = repaired_polygon_area(geometry)
        except AreaInvalid:
            report.skip(where, f"boundary not usable: {exc}")
            return None
        report.note("boundaries repaired (self-intersecting upstream)")
        return area


def parse_people(body: Any, report: Report, where: str) -> list[OfficerData]:
    """GET /api/{force}/{neighbourhood}/people: [{name, rank, bio, contact_details}]."""
    if not isinstance(body, list):
        return []
    officers: list[OfficerData] = []
    seen: set[str] = set()
    for index, person in enumerate(body, start=1):
        if not isinstance(person, dict):
            report.skip(where, f"person {index} is not an object")
            continue
        name = _text(person.get("name"), 200)
        if not name:
            report.skip(where, f"person {index} has no name")
            continue
        if name in seen:
            continue
        seen.add(name)
        _, accounts = contact_channels(person.get("contact_details"), report, f"{where} {name}")
        officers.append(OfficerData(
            name=name, rank=_text(person.get("rank"), 120), bio=_text(person.get("bio")),
            accounts=accounts,
        ))  # fmt: skip
    return officers


def parse_neighbourhood(
    code: str, body: Any, boundary: Any, people: Any, report: Report
) -> NeighbourhoodData:
    """GET /api/{force}/{neighbourhood} with its boundary and people."""
    where = f"neighbourhood {code}"
    if not isinstance(body, dict):
        raise MalformedEntry("details are not an object")
    name = _text(body.get("name"), 200)
    if not name:
        raise MalformedEntry("no name")
    centre = None
    raw_centre = body.get("centre")
    if isinstance(raw_centre, dict):
        try:
            lat, lng = float(raw_centre["latitude"]), float(raw_centre["longitude"])
            if math.isfinite(lat) and math.isfinite(lng) and in_uk(lat, lng):
                centre = (lat, lng)
        except (TypeError, KeyError, ValueError):
            report.skip(where, "centre is not a latitude/longitude pair")
    area = parse_boundary(boundary, report, where)
    if centre is None and area is not None:
        centre = area.centroid
    contacts, accounts = contact_channels(body.get("contact_details"), report, where)
    links = []
    for link in body.get("links") or []:
        url = url_or_none(link.get("url")) if isinstance(link, dict) else None
        if url:
            links.append({"url": url, "title": _text(link.get("title"), 200),
                          "description": _text(link.get("description"), 2000)})  # fmt: skip
    return NeighbourhoodData(
        code=code,
        name=name,
        description=_text(body.get("description")),
        url_force=url_or_none(body.get("url_force")),
        centre=centre,
        boundary=area,
        contact_details=contacts,
        accounts=accounts,
        links=links,
        officers=parse_people(people, report, where),
    )
