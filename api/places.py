"""What a person typed as a place, located once for every endpoint that takes ``near``.

One function so that every ``?near=`` (sites, teams, posts, bulletins, the resident lookup)
understands the same things: postcode units, sectors and districts, ``lat,lng``, and place
names through the configured geocoder.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from api.database import db_session
from directory.geography.locate import Location, locate


def place_of(text: str) -> Location:
    """Locate ``text`` on the request's session (LocateError, PlaceNotFound: 422, 404)."""
    session = db_session()
    return locate(lambda: session, text, current_app.extensions.get("hyperlocal_geocoder"))


def near_of(args: dict[str, Any], max_radius_m: float) -> tuple[Location, float] | None:
    """The place of ``?near=`` and its ``radius`` clamped to ``max_radius_m``; None without it."""
    if not args.get("near"):
        return None
    return place_of(args["near"]), min(args["radius"], max_radius_m)
