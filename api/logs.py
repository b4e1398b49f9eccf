"""Structured logs: ``HYPERLOCAL_LOG_FORMAT=json`` writes one JSON object per line to stderr
(what a log collector reads), ``text`` a plain line; unset leaves logging to whoever runs us
(the test runner, gunicorn's own ``--log-config``).

Each line has ``time``, ``level``, ``logger`` and ``message``; a request's line (logger
``hyperlocal.access``) adds ``method``, ``path``, ``endpoint``, ``status`` and ``duration_ms``;
a failure adds ``error`` with its traceback. Celery workers and beat log the same way.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

FIELDS = ("method", "path", "endpoint", "status", "duration_ms", "client")
access = logging.getLogger("hyperlocal.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """To whatever ``sys.stderr`` is when a record is written (not when configured)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(log_format: str, level: str = "INFO") -> bool:
    """Send the root logger's records to stderr in ``log_format`` ("json" or "text"); False,
    changing nothing, when the format is empty. Idempotent."""
    if not log_format:
        return False
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "hyperlocal", False):
            root.removeHandler(handler)
    handler = _Stderr()
    handler.hyperlocal = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))  # fmt: skip
    root.addHandler(handler)
    root.setLevel(level.upper())
    return True


def init_logging(app: Flask) -> None:
    """Configure logging from the app's settings, and log each request when it is on."""
    if not configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"]):
        return

    @app.before_request
    def _started() -> None:
        g.log_started = time.perf_counter()

    @app.after_request
    def _logged(response: Response) -> Response:
        started = g.get("log_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started else None
        access.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={"method": request.method, "path": request.path,
                   "endpoint": request.endpoint or "unmatched", "status": response.status_code,
                   "duration_ms": duration, "client": request.remote_addr},
        )  # fmt: skip
        return response
