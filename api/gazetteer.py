"""The gazetteer: named places by the start of their name, for search boxes."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.database import db_reader
from api.postcode_schemas import NamedCodeSchema, PoliceForceRefSchema
from directory.geography.models import Place
from directory.geography.places import attribution, search_places
from directory.geography.postcodes import nearest_postcodes

blp = Blueprint("places", __name__, description="Named places (the gazetteer)")
NEAREST_POSTCODE_M = 3_000  # a place's district and force are those of its nearest postcode


class PlaceQuerySchema(Schema):
    q = fields.String(
        required=True, validate=validate.Length(min=2, max=100),
        metadata={"description": "the start of a place name, any case and accents; 'St' and "
                  "'Saint' alike", "example": "Wednes"},
    )  # fmt: skip
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=20))


class PlaceSchema(Schema):
    name = fields.String(metadata={"example": "Wednesfield"})
    kind = fields.String(metadata={"description": "City, Town, Village, Suburban Area, Hamlet, "
                                   "Other Settlement (OS Open Names), or place"})  # fmt: skip
    latitude = fields.Float()
    longitude = fields.Float()
    population = fields.Integer(allow_none=True)
    district = fields.Nested(
        NamedCodeSchema, allow_none=True, metadata={"description": "its nearest postcode's"}
    )
    police_force = fields.Nested(PoliceForceRefSchema, allow_none=True)
    source = fields.String(metadata={"enum": ["geonames", "os-open-names"]})


class PlacePageSchema(Schema):
    items = fields.List(fields.Nested(PlaceSchema))
    attribution = fields.String()


def place_json(place: Place, db: Any) -> dict[str, Any]:
    nearest = nearest_postcodes(db, place.latitude, place.longitude, NEAREST_POSTCODE_M, 1)
    record = nearest[0].record if nearest else None
    district = record.district if record else None
    force = record.force_area if record else None
    return {
        "name": place.name, "kind": place.kind, "latitude": place.latitude,
        "longitude": place.longitude, "population": place.population,
        "district": {"code": district.code, "name": district.name} if district else None,
        "police_force": {"id": force.force_id, "name": force.name} if force else None,
        "source": place.source,
    }  # fmt: skip


@blp.route("/places")
class Places(MethodView):
    @blp.arguments(PlaceQuerySchema, location="query")
    @blp.response(200, PlacePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Places whose name starts with `q`, most populous first

        From the gazetteer: the embedded GeoNames default (every GB populated place of its
        cities500), or OS Open Names once imported. Each with the district and police force
        of its nearest postcode.
        """
        db = db_reader()
        found = search_places(db, args["q"], args["limit"])
        return {"items": [place_json(place, db) for place in found],
                "attribution": attribution({place.source for place in found})}  # fmt: skip
