"""Postcode endpoints: look up, nearest, bulk lookup, districts and sectors, locate."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app
from flask.views import MethodView

from api.blueprint import Blueprint
from api.config import NEAREST_LIMIT_MAX, NEAREST_RADIUS_MAX_M
from api.database import db_reader
from api.places import gazetteer
from api.postcode_schemas import (
    LocateQuerySchema,
    LocationSchema,
    LookupRequestSchema,
    LookupResultSchema,
    NearestQuerySchema,
    NearestResultSchema,
    PostcodeGroupSchema,
    PostcodeSchema,
    SectorListSchema,
)
from directory.geography.locate import locate
from directory.geography.postcode_format import area_of_outcode
from directory.geography.postcode_groups import outcode_summary, sector_summaries
from directory.geography.postcodes import (
    NamedCode,
    PostcodeRecord,
    get_postcode,
    lookup_postcodes,
    nearest_postcodes,
)

blp = Blueprint("postcodes", __name__, description="UK postcodes: look up, nearest, districts")


def _named(code: NamedCode | None) -> dict[str, str | None] | None:
    return {"code": code.code, "name": code.name} if code else None


def postcode_json(record: PostcodeRecord) -> dict[str, Any]:
    """The public representation of a postcode record, already JSON-ready.

    Exactly what PostcodeSchema would dump (a test holds the two together), so the busiest
    endpoint can send it without a second pass through marshmallow.
    """
    outcode, incode = record.postcode.split(" ")
    force = record.force_area
    return {
        "postcode": record.postcode,
        "canonical": outcode + incode,
        "outcode": outcode,
        "incode": incode,
        "sector": f"{outcode} {incode[0]}",
        "area": area_of_outcode(outcode),
        "latitude": record.latitude,
        "longitude": record.longitude,
        "eastings": record.eastings,
        "northings": record.northings,
        "positional_quality": {"code": record.quality, "description": record.quality_description},
        "country": _named(record.country),
        "county": _named(record.county),
        "district": _named(record.district),
        "ward": _named(record.ward),
        "police_force_area": record.police_force_code or (force and force.code) or None,
        "police_force": force and {"id": force.force_id, "name": force.name},
        "terminated": record.terminated,
        "terminated_on": record.terminated_on.isoformat() if record.terminated_on else None,
    }


@blp.route("/postcodes/<postcode:postcode>")
class PostcodeItem(MethodView):
    @blp.response(200, PostcodeSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="postcode not found")
    def get(self, postcode: str) -> Response:
        """Look up one postcode unit

        Any case and spacing ("wv111aa"). A sector or district gets 422 with a pointer to
        /outcodes; a well-formed postcode that is not in the data gets 404.
        """
        record = get_postcode(db_reader(), postcode)
        # Already in PostcodeSchema's shape; plain json.dumps reuses the stdlib's cached encoder,
        # where jsonify builds a new one per call.
        max_age = current_app.config["POSTCODE_CACHE_SECONDS"]
        return Response(
            json.dumps(postcode_json(record), ensure_ascii=False),
            mimetype="application/json",
            headers={"Cache-Control": f"public, max-age={max_age}"},
        )


@blp.route("/postcodes")
class NearestPostcodes(MethodView):
    @blp.arguments(NearestQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, NearestResultSchema)
    def get(self, lat: float, lng: float, radius: float, limit: int) -> dict[str, Any]:
        """Nearest postcodes to a point

        Live postcodes within `radius` metres, nearest first, each with its distance.
        """
        radius = min(radius, NEAREST_RADIUS_MAX_M)
        limit = min(limit, NEAREST_LIMIT_MAX)
        found = nearest_postcodes(db_reader(), lat, lng, radius, limit)
        return {
            "latitude": lat,
            "longitude": lng,
            "radius": radius,
            "limit": limit,
            "results": [postcode_json(n.record) | {"distance_m": n.distance_m} for n in found],
        }


@blp.route("/postcodes/lookup")
class PostcodeLookup(MethodView):
    @blp.arguments(LookupRequestSchema)
    @blp.response(200, LookupResultSchema)
    def post(self, body: dict[str, list[str]]) -> dict[str, Any]:
        """Look up many postcodes at once

        Up to 100; the results are in the order sent, each null when invalid or unknown.
        """
        records = lookup_postcodes(db_reader(), body["postcodes"])
        return {
            "results": [
                {"query": query, "result": postcode_json(record) if record else None}
                for query, record in zip(body["postcodes"], records, strict=True)
            ]
        }


@blp.route("/outcodes/<string:outcode>")
class OutcodeItem(MethodView):
    @blp.response(200, PostcodeGroupSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no postcodes in this outcode")
    def get(self, outcode: str) -> Any:
        """A postcode district: centroid, bounding box and postcode count"""
        return outcode_summary(db_reader(), outcode)


@blp.route("/outcodes/<string:outcode>/sectors")
class OutcodeSectors(MethodView):
    @blp.response(200, SectorListSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="no postcodes in this outcode")
    def get(self, outcode: str) -> dict[str, Any]:
        """The sectors of a postcode district, each with centroid, bounding box and count"""
        sectors = sector_summaries(db_reader(), outcode)
        return {"outcode": sectors[0].code.split(" ")[0], "sectors": sectors}


@blp.route("/locate")
class Locate(MethodView):
    @blp.arguments(LocateQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, LocationSchema)
    @blp.alt_response(404, response="DEFAULT_ERROR", description="postcode or place not found")
    def get(self, q: str) -> Any:
        """Locate what a person typed

        A postcode unit, sector, district or area, "lat,lng", or a place name (only when the
        server has a geocoder), with how precise the answer is.
        """
        return locate(db_reader, q, current_app.extensions.get("hyperlocal_geocoder"), gazetteer)
