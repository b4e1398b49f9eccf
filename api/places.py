"""What a person typed as a place, located once for every endpoint that takes ``near``.

One function so that every ``?near=`` (sites, teams, posts, bulletins, the resident lookup)
understands the same things: postcode units, sectors and districts, ``lat,lng``, and place
names through the gazetteer and then the configured geocoder.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from api.database import db_session, get_database
from directory.geography.locate import Location, locate
from directory.geography.models import Place
from directory.geography.places import places_named


def gazetteer(name: str) -> list[Place]:
    """The gazetteer's places of ``name``, on a connection of their own that is back in the pool
    before any geocoder is asked."""
    with get_database().engine.connect() as connection:
        return places_named(connection, name)


def place_of(text: str) -> Location:
    """Locate ``text`` on the request's session (LocateError, PlaceNotFound: 422, 404)."""
    session = db_session()
    return locate(lambda: session, text, current_app.extensions.get("hyperlocal_geocoder"),
                  gazetteer)  # fmt: skip


def near_of(args: dict[str, Any], max_radius_m: float) -> tuple[Location, float] | None:
    """The place of ``?near=`` and its ``radius`` clamped to ``max_radius_m``; None without it."""
    if not args.get("near"):
        return None
    return place_of(args["near"]), min(args["radius"], max_radius_m)
