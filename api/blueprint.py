"""The Blueprint every resource module uses: flask-smorest's, with a body parser that holds
requests to what the spec says.

flask-smorest documents every JSON body as required, but webargs reads an absent body as ``{}``,
so a PATCH with no body at all changed nothing and answered 200. Here an absent body is a 422
that says what to send; ``{}`` is still a body (a PATCH changing nothing, a subscription with
every default).
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask_smorest import abort
from marshmallow.utils import missing
from webargs.flaskparser import FlaskParser
from werkzeug.routing import BaseConverter


class BodyRequiredParser(FlaskParser):
    def load_json(self, req: Any, schema: Any) -> Any:
        data = super().load_json(req, schema)
        if data is missing:
            abort(422, message="this request needs a JSON body (Content-Type: application/json); "
                  "see /openapi.json for its fields")  # fmt: skip
        return data


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = BodyRequiredParser()


class PostcodeConverter(BaseConverter):
    """A postcode in a path: any one segment but "lookup", which is ``POST /postcodes/lookup``'s
    (so the methods a path allows are that route's alone)."""

    regex = r"(?!lookup$)[^/]+"


def postcode_path_schema(_converter: PostcodeConverter) -> dict[str, Any]:
    """How the spec describes the converter's segment."""
    return {"type": "string", "minLength": 1, "example": "WV11 1AA"}
