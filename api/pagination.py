"""The one way every listing paginates: ?page=&per_page= in, {items, pagination} out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from marshmallow import Schema, fields, validate

PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100  # larger values are clamped to this
PAGE_MAX = 100_000  # beyond this a listing is not being read, and offsets overflow


class PageQuerySchema(Schema):
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=PAGE_MAX),
        metadata={"description": f"from 1 to {PAGE_MAX:,}"},
    )
    per_page = fields.Integer(
        load_default=PER_PAGE_DEFAULT,
        validate=validate.Range(min=1),
        metadata={
            "description": f"default {PER_PAGE_DEFAULT}, maximum {PER_PAGE_MAX} "
            "(larger values are clamped to it)"
        },
    )


class PaginationSchema(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer(metadata={"description": "items in all pages"})
    pages = fields.Integer()


def page_args(args: dict[str, Any]) -> tuple[int, int]:
    """(page, per_page) from the query, per_page clamped."""
    return args.get("page", 1), min(args.get("per_page", PER_PAGE_DEFAULT), PER_PAGE_MAX)


def page_body(items: list[Any], page: int, per_page: int, total: int) -> dict[str, Any]:
    """The listing envelope."""
    pages = (total + per_page - 1) // per_page if total else 0
    return {
        "items": items,
        "pagination": {"page": page, "per_page": per_page, "total": total, "pages": pages},
    }


def list_page(
    items: Sequence[Any], args: dict[str, Any], render: Callable[[Any], Any]
) -> dict[str, Any]:
    """The requested page of a list already in memory (ranked matches), each item rendered."""
    page, per_page = page_args(args)
    chosen = items[(page - 1) * per_page : page * per_page]
    return page_body([render(item) for item in chosen], page, per_page, len(items))
