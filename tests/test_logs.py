"""Structured logs: with LOG_FORMAT=json every line is one JSON object, a request's line says
what was asked and how it went, and a failure carries its traceback."""

from __future__ import annotations

import json
import logging

import pytest

from api import create_app


@pytest.fixture
def json_app(capsys, demo_url: str):  # type: ignore[no-untyped-def]
    app = create_app({"DATABASE_URL": demo_url, "LOG_FORMAT": "json"})  # logs to capsys
    yield app
    app.extensions["hyperlocal_db"].engine.dispose()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "hyperlocal", False)]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def test_json_logs_one_object_a_line_with_the_request(json_app, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    json_app.test_client().get("/postcodes/WV111AA")
    try:
        raise ValueError("a feed nobody foresaw")
    except ValueError:
        logging.getLogger("feeds.ingest.refresh").exception("feed 7: unexpected error")
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines and all(line.startswith("{") for line in err.splitlines() if line.strip()), err
    request = next(line for line in lines if line["logger"] == "hyperlocal.access")
    assert request["method"] == "GET" and request["path"] == "/postcodes/WV111AA"
    assert request["endpoint"] == "postcodes.PostcodeItem" and request["status"] == 200
    assert request["duration_ms"] >= 0 and request["level"] == "info"
    failure = next(line for line in lines if line["logger"] == "feeds.ingest.refresh")
    assert failure["level"] == "error" and failure["message"] == "feed 7: unexpected error"
    assert "ValueError: a feed nobody foresaw" in failure["error"]


def test_an_unknown_log_format_is_refused_by_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HYPERLOCAL_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="HYPERLOCAL_LOG_FORMAT='xml': use json or text"):
        create_app()
