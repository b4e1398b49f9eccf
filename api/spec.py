"""The OpenAPI document generated from the code, and ``hyperlocal openapi write``.

openapi.yaml is this document as committed; tests/test_openapi.py fails when the two drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from api import create_app
from api.database import get_database


@click.group()
def openapi() -> None:
    """The OpenAPI document."""


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as the code defines it."""
    app = create_app({"VERIFY_SCHEMA": False, "DATABASE_URL": "sqlite://"})
    get_database(app).engine.dispose()
    return app.extensions["hyperlocal_api"].spec.to_dict()


def openapi_yaml() -> str:
    """The OpenAPI document as committed in openapi.yaml."""
    return yaml.safe_dump(openapi_document(), sort_keys=False, allow_unicode=True)


@openapi.command("write")
@click.argument("path", default="openapi.yaml", type=click.Path(dir_okay=False, path_type=Path))
def openapi_write(path: Path) -> None:
    """Write the OpenAPI document generated from the code (default: openapi.yaml)."""
    path.write_text(openapi_yaml(), encoding="utf-8")
    click.echo(f"wrote {path}")
