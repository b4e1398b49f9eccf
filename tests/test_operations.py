"""Operability on SQLite and PostgreSQL: /ready says what is not ready; /metrics has the
requests by endpoint and, read from the database, the feeds and the webhook outbox."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from api import create_app
from directory.storage import utcnow
from feeds.syndication.bulletins import post_bulletin
from feeds.syndication.models import WebhookMessage
from tests.test_syndication import WEDNESFIELD, site_id, subscribe


def samples(client) -> dict[tuple[str, tuple], float]:  # type: ignore[no-untyped-def]
    body = client.get("/metrics")
    assert body.status_code == 200 and body.mimetype == "text/plain"
    families = text_string_to_metric_families(body.text)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in families for s in family.samples}  # fmt: skip


def test_ready_checks_the_database_and_its_migrations(client, fresh_database_url) -> None:  # type: ignore[no-untyped-def]
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    assert ready.get_json()["checks"]["migrations"].startswith("at 00")
    behind = create_app({"DATABASE_URL": fresh_database_url(), "VERIFY_SCHEMA": False})
    answer = behind.test_client().get("/ready")
    assert answer.status_code == 503 and "hyperlocal db upgrade" in answer.get_json()["checks"][
        "migrations"]  # fmt: skip
    behind.extensions["hyperlocal_db"].engine.dispose()


def test_metrics_count_requests_and_read_the_outbox(demo_directory, client, sessions) -> None:  # type: ignore[no-untyped-def]
    app = demo_directory
    sub = subscribe(client, app, site_id(sessions, WEDNESFIELD),
                    webhook_url="https://hooks.example.org/in")  # fmt: skip
    with sessions() as session:
        post_bulletin(session, "west-midlands", kind="appeal", title="Appeal near WV11 1AA")
        session.commit()
    client.get("/postcodes/WV111AA")
    client.get("/postcodes/WV111AA")
    found = samples(client)
    labels = (("endpoint", "postcodes.PostcodeItem"), ("method", "GET"), ("status", "200"))
    served = found[("hyperlocal_http_requests_total", labels)]
    assert served == 2
    assert found[("hyperlocal_webhook_messages", (("status", "pending"),))] == 1
    assert found[("hyperlocal_webhook_oldest_pending_seconds", ())] >= 0
    assert found[("hyperlocal_feeds", (("kind", "news"), ("status", "active")))] >= 1
    # A message delivered 3 s after it was queued shows in the latency quantiles.
    with sessions() as session:
        now = utcnow()
        session.execute(update(WebhookMessage).where(WebhookMessage.subscription_id == sub["id"])
                        .values(status="delivered", created_at=now - timedelta(seconds=3),
                                delivered_at=now))  # fmt: skip
        session.commit()
    found = samples(client)
    assert 2.5 < found[("hyperlocal_publish_to_delivery_seconds", (("quantile", "0.5"),))] < 3.5
    assert found[("hyperlocal_webhook_messages", (("status", "delivered"),))] == 1


def test_ready_says_when_the_broker_is_down(demo_url: str) -> None:
    from api import tasks
    from feeds.syndication.outbox import ON_QUEUED

    down = create_app({"DATABASE_URL": demo_url, "BROKER_URL": "redis://127.0.0.1:1/0"})
    try:
        answer = down.test_client().get("/ready")
        assert answer.status_code == 503
        assert answer.get_json()["checks"]["broker"].startswith("unreachable")
    finally:  # this process announces to no broker again
        ON_QUEUED.remove(tasks.announce_queued)
        down.extensions["hyperlocal_db"].engine.dispose()


def test_metrics_time_our_fetches_and_show_overdue_feeds(
    loopback_app, client, sessions, httpserver
) -> None:  # type: ignore[no-untyped-def]
    from feeds.ingest.models import Feed
    from feeds.worker import refresh_and_publish
    from tests.test_feed_ingestion import RSS
    from tests.test_syndication import APPEAL, police_feed, police_rss

    app = loopback_app
    httpserver.expect_request("/police.rss").respond_with_data(police_rss([APPEAL]), headers=RSS)
    feed_id = police_feed(sessions, httpserver.url_for("/police.rss"))
    refresh_and_publish(sessions, feed_id, app.extensions["hyperlocal_http"])
    with sessions() as session:  # a news feed due ten minutes ago and not yet taken
        session.execute(update(Feed).where(Feed.owner.startswith("site:"))
                        .values(next_check_at=utcnow() - timedelta(minutes=10)))  # fmt: skip
        session.commit()
    found = samples(client)
    fetched = (("method", "GET"), ("outcome", "2xx"))
    assert found[("hyperlocal_outbound_request_seconds_count", fetched)] == 1
    assert found[("hyperlocal_outbound_request_seconds_sum", fetched)] > 0
    assert 590 < found[("hyperlocal_feeds_overdue_seconds", (("kind", "news"),))] < 700
    assert found[("hyperlocal_feeds_overdue_seconds", (("kind", "police"),))] == 0
