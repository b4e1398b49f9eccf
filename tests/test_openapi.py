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
