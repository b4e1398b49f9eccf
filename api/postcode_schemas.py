"""Marshmallow schemas of the postcode endpoints (what the OpenAPI document shows)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.config import (
    LOOKUP_MAX_POSTCODES,
    NEAREST_LIMIT_DEFAULT,
    NEAREST_LIMIT_MAX,
    NEAREST_RADIUS_DEFAULT_M,
    NEAREST_RADIUS_MAX_M,
)


class NamedCodeSchema(Schema):
    code = fields.String(metadata={"description": "GSS code", "example": "E08000031"})
    name = fields.String(
        allow_none=True,
        metadata={"description": "name from the Code-Point Codelist, if known"},
    )


class QualitySchema(Schema):
    code = fields.Integer(metadata={"description": "Code-Point positional quality indicator"})
    description = fields.String()


class PoliceForceRefSchema(Schema):
    id = fields.String(
        allow_none=True,
        metadata={"description": "data.police.uk id; null for Police Scotland (not in "
                  "data.police.uk)", "example": "west-midlands"},
    )  # fmt: skip
    name = fields.String(metadata={"example": "West Midlands"})


class PostcodeSchema(Schema):
    postcode = fields.String(metadata={"description": "display form", "example": "WV11 1AA"})
    canonical = fields.String(
        metadata={"description": "compact key, upper case, no space", "example": "WV111AA"}
    )
    outcode = fields.String(metadata={"example": "WV11"})
    incode = fields.String(metadata={"example": "1AA"})
    sector = fields.String(metadata={"example": "WV11 1"})
    area = fields.String(metadata={"example": "WV"})
    latitude = fields.Float(allow_none=True, metadata={"example": 52.615855})
    longitude = fields.Float(allow_none=True, metadata={"example": -2.089476})
    eastings = fields.Integer(allow_none=True, metadata={"description": "British National Grid"})
    northings = fields.Integer(allow_none=True)
    positional_quality = fields.Nested(QualitySchema)
    country = fields.Nested(NamedCodeSchema, allow_none=True)
    county = fields.Nested(NamedCodeSchema, allow_none=True)
    district = fields.Nested(NamedCodeSchema, allow_none=True)
    ward = fields.Nested(NamedCodeSchema, allow_none=True)
    police_force_area = fields.String(
        allow_none=True,
        metadata={"description": "police force area code (ONSPD pfa, else from the district)"},
    )
    police_force = fields.Nested(
        PoliceForceRefSchema,
        allow_none=True,
        metadata={"description": "the force whose area holds the postcode's district, known "
                  "from the shipped lookup before any team is imported"},
    )  # fmt: skip
    terminated = fields.Boolean(metadata={"description": "no longer in use"})
    terminated_on = fields.String(
        allow_none=True, metadata={"format": "date", "description": "ISO date", "example": None}
    )


class NearbyPostcodeSchema(PostcodeSchema):
    distance_m = fields.Float(metadata={"description": "metres from the query point"})


class NearestQuerySchema(Schema):
    lat = fields.Float(
        required=True,
        validate=validate.Range(-90, 90),
        metadata={"description": "latitude (WGS84)", "example": 52.6158},
    )
    lng = fields.Float(
        required=True,
        validate=validate.Range(-180, 180),
        metadata={"description": "longitude (WGS84)", "example": -2.0895},
    )
    radius = fields.Float(
        load_default=NEAREST_RADIUS_DEFAULT_M,
        validate=validate.Range(min=0, min_inclusive=False),
        metadata={
            "exclusiveMinimum": True,  # apispec writes only minimum: 0 for min_inclusive=False
            "description": f"metres; default {NEAREST_RADIUS_DEFAULT_M}, maximum "
            f"{NEAREST_RADIUS_MAX_M} (larger values are clamped to it)",
        },
    )
    limit = fields.Integer(
        load_default=NEAREST_LIMIT_DEFAULT,
        validate=validate.Range(min=1),
        metadata={
            "description": f"default {NEAREST_LIMIT_DEFAULT}, maximum {NEAREST_LIMIT_MAX} "
            "(larger values are clamped to it)"
        },
    )


class NearestResultSchema(Schema):
    latitude = fields.Float()
    longitude = fields.Float()
    radius = fields.Float(metadata={"description": "the radius used, after clamping"})
    limit = fields.Integer(metadata={"description": "the limit used, after clamping"})
    results = fields.List(fields.Nested(NearbyPostcodeSchema))


class LookupRequestSchema(Schema):
    postcodes = fields.List(
        fields.String(validate=validate.Length(max=32)),
        required=True,
        validate=validate.Length(
            min=1,
            max=LOOKUP_MAX_POSTCODES,
            error=f"send between 1 and {LOOKUP_MAX_POSTCODES} postcodes",
        ),
        metadata={"example": ["WV11 1AA", "le11aa", "NOT A POSTCODE"]},
    )


class LookupItemSchema(Schema):
    query = fields.String(metadata={"description": "the postcode as sent"})
    result = fields.Nested(
        PostcodeSchema,
        allow_none=True,
        metadata={"description": "null when the postcode is invalid or unknown"},
    )


class LookupResultSchema(Schema):
    results = fields.List(fields.Nested(LookupItemSchema))


class BoundingBoxSchema(Schema):
    min_lat = fields.Float()
    min_lng = fields.Float()
    max_lat = fields.Float()
    max_lng = fields.Float()


class PostcodeGroupSchema(Schema):
    code = fields.String(metadata={"description": "outcode or sector", "example": "WV11"})
    postcode_count = fields.Integer(metadata={"description": "units, terminated ones included"})
    live_count = fields.Integer()
    terminated_count = fields.Integer()
    latitude = fields.Float(allow_none=True, metadata={"description": "centroid of the units"})
    longitude = fields.Float(allow_none=True)
    bbox = fields.Nested(BoundingBoxSchema, allow_none=True)


class SectorListSchema(Schema):
    outcode = fields.String()
    sectors = fields.List(fields.Nested(PostcodeGroupSchema))


class LocateQuerySchema(Schema):
    q = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "a postcode (unit, sector, district or area), 'lat,lng', or a "
            "place name when the server has a geocoder",
            "example": "WV11 1AA",
        },
    )


class LocationSchema(Schema):
    latitude = fields.Float()
    longitude = fields.Float()
    precision = fields.String(
        metadata={"enum": ["unit", "sector", "district", "area", "point", "place"]}
    )
    label = fields.String()
    postcode = fields.String(allow_none=True)
