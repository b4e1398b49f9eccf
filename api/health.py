"""Service health and data attribution."""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy.exc import SQLAlchemyError

from api.blueprint import Blueprint
from api.database import db_reader
from api.pages import home
from directory.geography.places import GEONAMES_ATTRIBUTION
from directory.geography.postcodes import (
    POSTCODE_DATA_ATTRIBUTION,
    POSTCODE_DATA_LICENCE,
    POSTCODE_DATA_LICENCE_URL,
    count_postcodes,
)

blp = Blueprint("health", __name__, description="Service health and data attribution")
log = logging.getLogger(__name__)


class AttributionSchema(Schema):
    data = fields.String(metadata={"example": "OS Code-Point Open"})
    attribution = fields.String()
    licence = fields.String()
    licence_url = fields.String()


class HealthSchema(Schema):
    status = fields.String(metadata={"enum": ["ok", "unavailable"]})
    database = fields.String(metadata={"description": "'ok' or why it is unreachable"})
    postcodes = fields.Integer(allow_none=True, metadata={"description": "postcode units stored"})
    attribution = fields.Nested(AttributionSchema)


class AboutSchema(Schema):
    name = fields.String()
    description = fields.String()
    links = fields.Dict(keys=fields.String(), values=fields.String())
    attribution = fields.List(fields.Nested(AttributionSchema))


def attribution() -> dict[str, str]:
    """The OGL attribution of the postcode data."""
    return {
        "data": "OS Code-Point Open; ONS Postcode Directory",
        "attribution": POSTCODE_DATA_ATTRIBUTION,
        "licence": POSTCODE_DATA_LICENCE,
        "licence_url": POSTCODE_DATA_LICENCE_URL,
    }


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="the database is unreachable")
    def get(self) -> Any:
        """Is the service up: database reachable, how many postcodes are loaded"""
        try:
            count = count_postcodes(db_reader())
        except SQLAlchemyError:
            # The driver's message names hosts, ports and roles: it goes to the log only.
            log.exception("health check: the database is unreachable")
            body = {"status": "unavailable", "database": "unreachable (details in the log)",
                    "postcodes": None, "attribution": attribution()}  # fmt: skip
            return HealthSchema().dump(body), 503
        return {"status": "ok", "database": "ok", "postcodes": count, "attribution": attribution()}


def about() -> dict[str, Any]:
    """What this service is, where to start, and whose data it serves."""
    return {
        "name": "hyperlocal",
        "description": "UK hyperlocal sites and neighbourhood policing, by postcode",
        "links": {
            "documentation": "/docs",
            "openapi": "/openapi.json",
            "postcode": "/postcodes/WV111AA",
            "nearest": "/postcodes?lat=52.6158&lng=-2.0895",
            "locate": "/locate?q=WV11",
            "places": "/places?q=Wednes",
            "health": "/health",
        },
        "attribution": [attribution(), {
            "data": "GeoNames (the embedded gazetteer)", "attribution": GEONAMES_ATTRIBUTION,
            "licence": "Creative Commons Attribution 4.0",
            "licence_url": "https://creativecommons.org/licenses/by/4.0/",
        }],
    }  # fmt: skip


@blp.route("/about")
class About(MethodView):
    @blp.response(200, AboutSchema)
    def get(self) -> Any:
        """What this service is and whose data it serves"""
        return about()


@blp.route("/")
class Index(MethodView):
    @blp.response(200, AboutSchema)
    def get(self) -> Any:
        """Where to start: the same as /about (a browser asking for HTML gets the home page)"""
        if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
            return home()
        return about()
