"""Migrations on both databases, the refusal to start unmigrated, and the CLI end to end."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect

import migrations.models  # noqa: F401
from api import create_app
from api.cli import main
from directory.schema import (
    DatabaseNotMigrated,
    alembic_config,
    schema_status,
    upgrade_database,
)
from directory.storage import Base
from tests.conftest import DEMO_POSTCODE_COUNT, TEST_DATA, free_port, hyperlocal_command


def test_migrations_match_the_models_and_go_down_and_up(migrated_url, engine_for):
    engine = engine_for(migrated_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    config = alembic_config(migrated_url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "postcodes" not in inspect(engine).get_table_names()
    assert schema_status(engine).current is None
    upgrade_database(engine)
    assert {"postcodes", "area_names", "api_keys"} <= set(inspect(engine).get_table_names())
    assert schema_status(engine).up_to_date


def test_sites_stored_before_search_text_are_found_after_the_upgrade(fresh_database_url,
                                                                    engine_for):  # fmt: skip
    """Migration 0011 folds the search text of the sites already there."""
    from sqlalchemy import text

    from directory.sites.store import list_sites
    from directory.storage import make_session_factory, utcnow

    engine = engine_for(fresh_database_url())
    upgrade_database(engine, "0010")
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO sites (name, url, feed_urls, description, area, area_kind, min_lat, "
            "min_lng, max_lat, max_lng, social_accounts, status, created_at, updated_at) VALUES "
            "('Ünïcødé News', 'https://u.example.org/', '[]', '', '{}', 'circle', 0, 0, 1, 1, "
            "'[]', 'approved', :now, :now)"), {"now": now})  # fmt: skip
    upgrade_database(engine)
    with make_session_factory(engine)() as session:
        assert [s.name for s in list_sites(session, text="UNICODE").items] == ["Ünïcødé News"]


# Each domain owns its tables; all are on the one metadata Alembic compares (migrations.models).
TABLE_HOMES = {
    "directory.geography.models": {"postcodes", "area_names", "places"},
    "directory.keys.models": {"api_keys"},
    "directory.sites.models": {"sites"},
    "directory.police.models": {"police_forces", "neighbourhoods", "officers"},
    "feeds.ingest.models": {"feeds", "posts", "post_tags", "websub_leases"},
    "feeds.syndication.models": {
        "bulletins", "subscriptions", "bulletin_deliveries", "webhook_messages", "webhook_attempts",
        "hub_subscriptions",
    },
}  # fmt: skip


def test_each_domain_owns_its_tables_on_the_one_metadata(migrated_url, engine_for):
    homes: dict[str, set[str]] = {}
    for mapper in Base.registry.mappers:
        homes.setdefault(mapper.class_.__module__, set()).add(mapper.local_table.name)
    assert homes == TABLE_HOMES
    migrated = set(inspect(engine_for(migrated_url)).get_table_names()) - {"alembic_version"}
    assert migrated == set(Base.metadata.tables) == set().union(*TABLE_HOMES.values())


def test_service_refuses_an_unmigrated_database(fresh_database_url):
    url = fresh_database_url()
    with pytest.raises(DatabaseNotMigrated, match="run `hyperlocal db upgrade`"):
        create_app({"DATABASE_URL": url})


def test_serve_and_import_say_which_command_to_run(fresh_database_url, monkeypatch):
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", fresh_database_url())
    runner = CliRunner()
    for args in (["serve"], ["postcodes", "import", str(TEST_DATA / "onspd_sample.csv")]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1
        assert "hyperlocal db upgrade" in result.output


def test_cli_upgrade_import_and_bad_file(fresh_database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", fresh_database_url())
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and "revision" in upgraded.output
    assert "up to date" in runner.invoke(main, ["db", "current"]).output
    imported = runner.invoke(main, ["postcodes", "import", str(TEST_DATA / "onspd_sample.csv")])
    assert imported.exit_code == 0, imported.output
    assert "8 rows read, 6 new postcodes" in imported.output
    assert "skipped 1: not a valid full postcode" in imported.output
    assert "6 postcodes now in the database" in imported.output
    bogus = tmp_path / "postcodes.csv"
    bogus.write_text("id,name\n1,x\n")
    failed = runner.invoke(main, ["postcodes", "import", str(bogus)])
    assert failed.exit_code == 1
    assert "not a postcode download" in failed.output
    assert "nothing was changed" in failed.output


def test_demo_sets_up_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("HYPERLOCAL_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path}/instance/hyperlocal.db"
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", url)
    result = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert f"{DEMO_POSTCODE_COUNT:,} new postcodes" in result.output
    assert "Contains OS data" in result.output
    again = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert f"0 new postcodes, {DEMO_POSTCODE_COUNT:,} already present" in again.output
    app = create_app({"DATABASE_URL": url})
    assert app.test_client().get("/health").get_json()["postcodes"] == DEMO_POSTCODE_COUNT
    app.extensions["hyperlocal_db"].engine.dispose()


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch):
    monkeypatch.delenv("HYPERLOCAL_DATABASE_URL", raising=False)
    from flask import Flask

    from api.database import database_url

    app = Flask("api")
    app.config["DATABASE_URL"] = None
    assert database_url(app) == f"sqlite:///{app.instance_path}/hyperlocal.db"


def test_hyperlocal_serve_answers_over_real_http(demo_url, tmp_path):
    """The console script, as a user runs it, serving on a loopback port."""
    import json
    import os
    import subprocess
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    command = hyperlocal_command()
    env = dict(os.environ, HYPERLOCAL_DATABASE_URL=demo_url)
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    health = json.load(reply)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert health["postcodes"] == DEMO_POSTCODE_COUNT
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/postcodes/le11aa") as reply:
            assert json.load(reply)["postcode"] == "LE1 1AA"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/postcodes/WV111")
            raise AssertionError("expected 422")
        except urllib.error.HTTPError as error:
            assert error.code == 422 and "not a UK postcode" in json.load(error)["message"]
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HYPERLOCAL_DATABASE_URL", "bogus://x", "cannot use the database"),
        ("HYPERLOCAL_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/x", "cannot use the"),
        ("HYPERLOCAL_DATABASE_URL", "sqlite:////proc/no/such/dir/x.db", "cannot use the database"),
        ("HYPERLOCAL_PORT", "abc", "HYPERLOCAL_PORT='abc': expected a whole number"),
    ],
)
def test_cli_setup_mistakes_are_one_line_errors(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    for args in (["db", "current"], ["keys", "list"], ["db", "upgrade"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_db_current_names_the_database_and_fails_when_behind(fresh_database_url, monkeypatch):
    url = fresh_database_url()
    monkeypatch.setenv("HYPERLOCAL_DATABASE_URL", url)
    behind = CliRunner().invoke(main, ["db", "current"])
    assert behind.exit_code == 1 and "needs `hyperlocal db upgrade`" in behind.output
    assert url.split("://")[0] in behind.output
