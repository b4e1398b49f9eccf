"""openapi.yaml is generated from the code; this fails when the committed copy drifts."""

from pathlib import Path

import yaml

from api.spec import openapi_document, openapi_yaml

SPEC = Path(__file__).parent.parent / "openapi.yaml"


def test_committed_openapi_matches_the_code():
    assert SPEC.exists(), "openapi.yaml is missing: run `hyperlocal openapi write`"
    committed = SPEC.read_text(encoding="utf-8")
    assert committed == openapi_yaml(), (
        "openapi.yaml differs from the code: run `hyperlocal openapi write` and commit it"
    )


def test_spec_documents_limits_errors_and_security():
    spec = openapi_document()
    nearest = spec["paths"]["/postcodes"]["get"]
    described = yaml.safe_dump(nearest["parameters"])
    assert "default 250, maximum 2000" in described and "default 10, maximum 100" in described
    keys = spec["paths"]["/keys"]["get"]
    assert keys["security"] == [{"bearerAuth": []}]
    assert {"401", "403"} <= set(keys["responses"])
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "Contains OS data" in spec["info"]["description"]


def test_numeric_query_minimums_say_what_the_api_accepts(client, demo_directory):
    """Every numeric query parameter's minimum in the spec is what the endpoint does at that
    value: refused (422) when the spec says the minimum is exclusive, accepted when not."""
    spec = openapi_document()
    needs = {"/postcodes": "lat=52.6&lng=-2.1", "/bulletins": "", "/sites": "near=WV11 1AA",
             "/neighbourhoods": "near=WV11 1AA", "/posts": "near=WV11 1AA"}  # fmt: skip
    checked = 0
    for path, methods in spec["paths"].items():
        if path not in needs or "get" not in methods:
            continue
        for param in methods["get"].get("parameters", []):
            schema = param.get("schema", {})
            if param["in"] != "query" or "minimum" not in schema or param["name"] == "page":
                continue
            value = schema["minimum"]
            query = "&".join(q for q in (needs[path], f"{param['name']}={value:g}") if q)
            status = client.get(f"{path}?{query}").status_code
            if schema.get("exclusiveMinimum"):
                assert status == 422, (path, param["name"], status)
            else:
                assert status == 200, (path, param["name"], status)
            checked += 1
    assert checked >= 5
