"""Operability: ``/ready`` (can this process serve: database, migrations, broker) and
``/metrics`` (Prometheus text format, with the maintained ``prometheus-client``).

Request counts and latency by endpoint, and our outbound requests (feed fetches, webhook sends)
by outcome, are counted per process; with several processes on one machine (gunicorn workers,
Celery workers) set ``PROMETHEUS_MULTIPROC_DIR`` to a directory they share and any one scrape
sums them all (prometheus-client's multiprocess mode; see the README's deployment section).
Everything about feeds, the outbox and the queues is read from the database and Redis at scrape
time (``feeds.operations``), so every process reports the same.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from flask import Flask, Response, current_app, g, request
from flask.views import MethodView
from marshmallow import Schema, fields
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.blueprint import Blueprint
from api.config import prometheus_multiprocess_dir
from api.database import get_database
from directory.schema import schema_status
from directory.storage import utcnow
from feeds.operations import figures
from feeds.queue import QUEUES

log = logging.getLogger(__name__)
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
        broker = current_app.config["BROKER_URL"]
        if not broker:
            checks["broker"] = "not configured (in-process worker)"
        else:
            try:
                redis.Redis.from_url(broker, socket_timeout=1, socket_connect_timeout=1).ping()
                checks["broker"] = "ok"
            except redis.RedisError as exc:
                log.warning("readiness: the broker is unreachable: %s", exc)
                ready = False
                checks["broker"] = "unreachable: new bulletins wait for it (details in the log)"
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
        overdue = GaugeMetricFamily(
            "hyperlocal_feeds_overdue_seconds",
            "How long the longest-waiting feed has been due and not yet taken",
            labels=["kind"])  # fmt: skip
        for kind, seconds in sorted(found.overdue_seconds.items()):
            overdue.add_metric([kind], seconds)
        yield overdue
        if self.app.config["BROKER_URL"]:
            yield self._queues()

    def _queues(self) -> GaugeMetricFamily:
        depth = GaugeMetricFamily("hyperlocal_queue_depth", "Celery tasks waiting, by queue",
                                  labels=["queue"])  # fmt: skip
        try:
            client = redis.Redis.from_url(self.app.config["BROKER_URL"], socket_timeout=1)
            for queue in QUEUES:
                # kombu keeps a queue's priorities in lists of their own beside it
                names = [queue] + [f"{queue}\x06\x16{step}" for step in (3, 6, 9)]
                depth.add_metric([queue], sum(client.llen(name) for name in names))
        except redis.RedisError:
            pass  # /ready says the broker is down; the gauge is simply absent
        return depth


def init_metrics(app: Flask) -> None:
    """A registry per app, request metrics on every request, the database figures at scrape."""
    registry = CollectorRegistry()
    requests = Counter("hyperlocal_http_requests", "HTTP requests by endpoint and status",
                       ["endpoint", "method", "status"], registry=registry)  # fmt: skip
    latency = Histogram("hyperlocal_http_request_seconds", "Request latency by endpoint",
                        ["endpoint"], registry=registry,
                        buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))  # fmt: skip
    outbound = Histogram(
        "hyperlocal_outbound_request_seconds",
        "Our requests out: feed fetches (GET), webhook and WebSub sends (POST), by outcome",
        ["method", "outcome"], registry=registry,
        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))  # fmt: skip
    app.extensions["hyperlocal_http"].observers.append(
        lambda method, seconds, outcome: outbound.labels(method, outcome).observe(seconds)
    )
    if prometheus_multiprocess_dir():
        # Several processes (gunicorn workers, Celery workers) write their counts to files in
        # that directory; a scrape of any one of them reads them all.
        exposed = CollectorRegistry()
        multiprocess.MultiProcessCollector(exposed)
    else:
        exposed = registry
    exposed.register(_DatabaseFigures(app))
    app.extensions["hyperlocal_metrics"] = exposed

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
