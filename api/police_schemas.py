"""Marshmallow schemas of the police endpoints: forces, teams, officers, the resident lookup, gaps.

They describe the JSON in openapi.yaml; ``api.police``'s views build it with the ``*_json``
functions beside them, and tests/test_representations.py holds the two together.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.pagination import PageQuerySchema, PaginationSchema
from api.sites import AccountSchema, SiteSchema

NEAR_RADIUS_DEFAULT_M = 0
NEAR_RADIUS_MAX_M = 10_000


class EngagementSchema(Schema):
    type = fields.String(metadata={"example": "rss"})
    title = fields.String()
    description = fields.String()
    url = fields.String()


class ForceSchema(Schema):
    id = fields.String(metadata={"example": "leicestershire"})
    name = fields.String(metadata={"example": "Leicestershire Police"})
    url = fields.String(allow_none=True)
    description = fields.String()
    telephone = fields.String(allow_none=True)
    engagement = fields.List(fields.Nested(EngagementSchema))


class ForcePageSchema(Schema):
    items = fields.List(fields.Nested(ForceSchema))
    pagination = fields.Nested(PaginationSchema)


class OfficerSchema(Schema):
    id = fields.Integer()
    name = fields.String(metadata={"example": "PC Jo Bloggs"})
    rank = fields.String()
    bio = fields.String()
    accounts = fields.List(fields.Nested(AccountSchema))
    active = fields.Boolean()


class LinkSchema(Schema):
    url = fields.String()
    title = fields.String()
    description = fields.String()


class PointSchema(Schema):
    lat = fields.Float()
    lng = fields.Float()


class NeighbourhoodSchema(Schema):
    force = fields.String(metadata={"example": "leicestershire"})
    id = fields.String(metadata={"description": "data.police.uk's id", "example": "NC04"})
    name = fields.String(metadata={"example": "City Centre"})
    description = fields.String()
    url_force = fields.String(allow_none=True)
    centre = fields.Nested(PointSchema, allow_none=True)
    boundary = fields.Dict(
        allow_none=True,
        metadata={
            "description": "GeoJSON Polygon or MultiPolygon (left out of /postcodes/{pc}/local: "
            "fetch the team for it)"
        },
    )
    contact_details = fields.Dict(
        keys=fields.String(), values=fields.String(),
        metadata={"description": "email, telephone, mobile, fax, address: as published"},
    )  # fmt: skip
    accounts = fields.List(fields.Nested(AccountSchema))
    links = fields.List(fields.Nested(LinkSchema))
    active = fields.Boolean()
    officers = fields.List(fields.Nested(OfficerSchema))
    distance_m = fields.Float(metadata={"description": "with ?near=: metres from the place"})
    reason = fields.String(metadata={"enum": ["covers", "nearby"]})


class NeighbourhoodPageSchema(Schema):
    items = fields.List(fields.Nested(NeighbourhoodSchema))
    pagination = fields.Nested(PaginationSchema)


class NeighbourhoodQuerySchema(PageQuerySchema):
    near = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "a postcode (any precision) or 'lat,lng'", "example": "LE1 1AA"},
    )
    radius = fields.Float(
        load_default=NEAR_RADIUS_DEFAULT_M,
        validate=validate.Range(min=0),
        metadata={
            "description": f"with near: also teams within this many metres; default "
            f"{NEAR_RADIUS_DEFAULT_M} (only the team whose patch holds the place), maximum "
            f"{NEAR_RADIUS_MAX_M} (larger values are clamped to it)"
        },
    )
    force = fields.String(metadata={"description": "without near: the teams of this force"})


class NeighbourhoodUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=10_000))
    contact_details = fields.Dict(
        keys=fields.String(), values=fields.String(allow_none=True),
        metadata={"description": "email, telephone, mobile, fax, address"},
    )  # fmt: skip
    accounts = fields.List(fields.Dict(), metadata={"description": "[{platform, url, handle}]"})
    boundary = fields.Dict(metadata={"description": "GeoJSON Polygon or MultiPolygon"})
    active = fields.Boolean()


class OfficerCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    rank = fields.String(load_default="", validate=validate.Length(max=120))
    bio = fields.String(load_default="", validate=validate.Length(max=10_000))
    accounts = fields.List(
        fields.Dict(), load_default=list,
        metadata={"description": "official accounts only: [{platform, url, handle}]",
                  "example": [{"platform": "x", "url": "https://x.com/PCJoBloggs"}]},
    )  # fmt: skip


class OfficerUpdateSchema(Schema):
    rank = fields.String(validate=validate.Length(max=120))
    bio = fields.String(validate=validate.Length(max=10_000))
    accounts = fields.List(fields.Dict())
    active = fields.Boolean(metadata={"description": "false when they leave the team"})


class ForceBriefSchema(Schema):
    id = fields.String()
    name = fields.String()
    url = fields.String(allow_none=True)
    telephone = fields.String(allow_none=True)


class LocalSchema(Schema):
    query = fields.String(metadata={"example": "WV11 1AA"})
    precision = fields.String(metadata={"enum": ["unit", "sector", "district", "area"]})
    note = fields.String(metadata={"description": "how precise the answer is"})
    location = fields.Nested(PointSchema)
    force = fields.Nested(ForceBriefSchema, allow_none=True)
    neighbourhood = fields.Nested(NeighbourhoodSchema, allow_none=True)
    officers = fields.List(fields.Nested(OfficerSchema))
    sites = fields.List(fields.Nested(SiteSchema))
    dormant_sites = fields.List(
        fields.Nested(SiteSchema),
        metadata={"description": "local sites whose feeds have published nothing for months"},
    )


class GapSchema(Schema):
    code = fields.String(metadata={"example": "WV11 3"})
    postcode_count = fields.Integer(metadata={"description": "its live units inside the area"})
    uncovered_count = fields.Integer(
        metadata={"description": "of those, the units no approved site covers"}
    )
    latitude = fields.Float()
    longitude = fields.Float()


class GapsQuerySchema(Schema):
    force = fields.String(metadata={"example": "west-midlands"})
    neighbourhood = fields.String(
        metadata={"description": "force/id", "example": "west-midlands/WV11demo"}
    )


class GapsSchema(Schema):
    area = fields.String(metadata={"description": "what was examined"})
    postcode_count = fields.Integer(metadata={"description": "live units inside the area"})
    covered_count = fields.Integer(metadata={"description": "of those, units some site covers"})
    sectors = fields.List(
        fields.Nested(GapSchema),
        metadata={"description": "sectors with units no site covers, partly covered ones too"},
    )
    districts = fields.List(
        fields.Nested(GapSchema), metadata={"description": "districts with no covered unit"}
    )
