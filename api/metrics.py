"""Operability: ``/ready`` (can this process serve: database, migrations, broker) and
``/metrics`` (Prometheus text format, with the maintained ``prometheus-client``).

Request counts and latency by endpoint are this process's own (with several gunicorn workers,
each scrape reaches one of them: run prometheus-client's multiprocess mode, or scrape each
worker, to sum them); everything about feeds and the outbox is read from the database at scrape
time (``feeds.operations``), so every process reports the same.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask.views import MethodView
from marshmallow import Schema, fields
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.blueprint import Blueprint
from api.database import get_database
from directory.schema import schema_status
from directory.storage import utcnow
from feeds.operations import figures

blp = Blueprint("operations", __name__, description="Readiness and metrics, for operators")


class ReadySchema(Schema):
    status = fields.String(metadata={"enum": ["ready", "unavailable"]})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"example": {"database": "ok", "migrations": "at 0020",
                              "broker": "not configured (in-process worker)"}},
    )  # fmt: skip


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, schema=ReadySchema, description="not ready: see checks")
    def get(self) -> Any:
        """Can this process serve: the database answers, its schema is current, the broker"""
        engine = get_database().engine
        checks, ready = {}, True
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
            status = schema_status(engine)
            if status.current == status.head:
                checks["migrations"] = f"at {status.head}"
            else:
                ready = False
                checks["migrations"] = (f"at {status.current or 'none'}, the code needs "
                                        f"{status.head}: run `hyperlocal db upgrade`")  # fmt: skip
        except SQLAlchemyError:
            ready = False
            checks["database"] = "unreachable (details in the log)"
        checks["broker"] = "not configured (in-process worker)"
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        return (body, 200) if ready else (ReadySchema().dump(body), 503)


class _DatabaseFigures:
    """Feeds and outbox gauges, read at each scrape."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Any:
        with self.app.app_context(), get_database().sessions() as session:
            found = figures(session, utcnow())
        feeds = GaugeMetricFamily("hyperlocal_feeds", "Feeds by status and kind",
                                  labels=["status", "kind"])  # fmt: skip
        for (status, kind), count in sorted(found.feeds.items()):
            feeds.add_metric([status, kind], count)
        yield feeds
        messages = GaugeMetricFamily(
            "hyperlocal_webhook_messages", "Webhook messages in the outbox by status",
            labels=["status"])  # fmt: skip
        for status, count in sorted(found.messages.items()):
            messages.add_metric([status], count)
        yield messages
        yield GaugeMetricFamily("hyperlocal_webhook_messages_retrying",
                                "Pending messages that have failed at least once",
                                value=found.retrying)  # fmt: skip
        yield GaugeMetricFamily("hyperlocal_webhook_oldest_pending_seconds",
                                "Age of the oldest message still waiting to be delivered",
                                value=found.oldest_pending_seconds)  # fmt: skip
        latency = GaugeMetricFamily(
            "hyperlocal_publish_to_delivery_seconds",
            "Queued -> accepted by the outlet, for events delivered in the last hour",
            labels=["quantile"])  # fmt: skip
        for quantile, seconds in sorted(found.delivery_seconds.items()):
            latency.add_metric([str(quantile)], seconds)
        yield latency


def init_metrics(app: Flask) -> None:
    """A registry per app, request metrics on every request, the database figures at scrape."""
    registry = CollectorRegistry()
    requests = Counter("hyperlocal_http_requests", "HTTP requests by endpoint and status",
                       ["endpoint", "method", "status"], registry=registry)  # fmt: skip
    latency = Histogram("hyperlocal_http_request_seconds", "Request latency by endpoint",
                        ["endpoint"], registry=registry,
                        buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))  # fmt: skip
    registry.register(_DatabaseFigures(app))
    app.extensions["hyperlocal_metrics"] = registry

    @app.before_request
    def _started() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observed(response: Response) -> Response:
        endpoint = request.endpoint or "unmatched"  # the route, never the raw path
        started = g.get("metrics_started")
        if started is not None:
            latency.labels(endpoint).observe(time.perf_counter() - started)
        requests.labels(endpoint, request.method, str(response.status_code)).inc()
        return response


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, content_type="text/plain", description="Prometheus text format")
    def get(self) -> Any:
        """Prometheus metrics: requests by endpoint, feeds, the outbox, delivery latency"""
        body = generate_latest(current_app.extensions["hyperlocal_metrics"])
        return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Cache-Control": "no-store"})  # fmt: skip
