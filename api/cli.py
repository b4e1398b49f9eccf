"""The ``hyperlocal`` command: serve, demo, database, postcode import, API keys, OpenAPI."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from api import create_app
from api.config import police_interval
from api.database import Database, database_url, get_database
from api.spec import openapi
from directory.geography.open_names import import_open_names
from directory.geography.postcode_import import ImportFormatError, import_postcodes
from directory.geography.postcodes import POSTCODE_DATA_ATTRIBUTION, count_postcodes
from directory.key_scopes import create_scoped_key
from directory.keys.store import (
    MAX_KEY_ID,
    ApiKeyNotFound,
    InvalidLabel,
    InvalidScope,
    get_api_key,
    list_api_keys,
    revoke_api_key,
)
from directory.police.importer import (
    LIVE_API,
    LivePoliceApi,
    PoliceImportError,
    SavedPoliceData,
    import_police_force,
)
from directory.police.patches import assign_postcodes
from directory.schema import DatabaseNotMigrated, schema_status, upgrade_database
from feeds.demo import demo_subscription_token, load_demo_directory
from feeds.directory_changes import force_imported
from feeds.ingest.registry import sync_all_feeds
from feeds.worker import poll_and_publish, run_worker

DEMO_EXTRACT = "codepo_demo.zip"


@contextmanager
def _database(verify_schema: bool = True) -> Iterator[Database]:
    """The configured database for one command; its connections are closed afterwards.

    With ``verify_schema`` an unmigrated database stops the command with the fix in the message.
    """
    try:
        app = create_app({"VERIFY_SCHEMA": verify_schema})
    except DatabaseNotMigrated as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:  # a HYPERLOCAL_* setting that does not parse
        raise click.ClickException(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        raise click.ClickException(_database_problem(exc)) from None
    database = get_database(app)
    try:
        yield database
    except SQLAlchemyError as exc:
        raise click.ClickException(_database_problem(exc)) from None
    finally:
        database.engine.dispose()


def _database_problem(exc: BaseException) -> str:
    """One line saying which database failed and how, for a person at a terminal."""
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return f"cannot use the database ({type(cause).__name__}): {first_line}"


def _progress_bar(description: str, unit: str = " rows"):  # type: ignore[no-untyped-def]
    """A tqdm progress callback on a terminal; nothing when output is not a terminal."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit=unit, unit_scale=True, disable=None, file=sys.stderr)

    def update(done: int, total: int | None) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return bar, update


@click.group()
@click.version_option(package_name="hyperlocal")
def main() -> None:
    """hyperlocal: UK hyperlocal sites and neighbourhood policing, by postcode.

    Settings come from HYPERLOCAL_* environment variables; HYPERLOCAL_DATABASE_URL selects the
    database (default: SQLite in the instance folder).
    """


@main.command()
@click.option("--host", default=None, help="address to listen on (default HYPERLOCAL_HOST)")
@click.option("--port", default=None, type=int, help="port (default HYPERLOCAL_PORT)")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API (development server; use gunicorn 'api.wsgi:app' in production)."""
    try:
        app = create_app()
    except DatabaseNotMigrated as exc:
        raise click.ClickException(str(exc)) from None
    _run(app, host, port)


def _run(app: Flask, host: str | None, port: int | None) -> None:
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    click.echo(f"hyperlocal serving {database_url(app)} on http://{host}:{port}/")
    click.echo(f"  try http://{host}:{port}/postcodes/WV111AA and /openapi.json")
    if app.config["BROKER_URL"]:
        click.echo("  background work on Celery (HYPERLOCAL_BROKER_URL): run `celery -A api.tasks "
                   "worker` and one `celery -A api.tasks beat`")  # fmt: skip
    elif app.config["WORKER"] == "embedded":
        _start_embedded_worker(app)
    app.run(host=host, port=port, threaded=True)


def _start_embedded_worker(app: Flask) -> None:
    """Poll feeds in a background thread of this process (the embedded default)."""
    database = get_database(app)
    client, concurrency = _poller(database)
    thread = threading.Thread(
        target=run_worker,
        args=(database.sessions, client, threading.Event()),
        kwargs={
            "concurrency": concurrency,
            "send_concurrency": _send_concurrency(database),
            "police_interval": _police_interval(database),
            "public_url": app.config["PUBLIC_URL"],
        },  # fmt: skip
        name="feed-worker",
        daemon=True,
    )
    thread.start()
    click.echo("  polling feeds in-process (HYPERLOCAL_WORKER=off to run `hyperlocal worker` "
               "separately)")  # fmt: skip


@main.command()
@click.option("--host", default=None, help="address to listen on")
@click.option("--port", default=None, type=int, help="port")
@click.option("--no-serve", is_flag=True, help="set up the demo database and exit")
def demo(host: str | None, port: int | None, no_serve: bool) -> None:
    """Create and migrate the SQLite database, load the demo postcodes and directory, and serve.

    The demo directory (police teams around WV11, WV1 and LE1, a few sites) is fictional and
    marked '(demo)' everywhere.
    """
    with _database(verify_schema=False) as database:
        upgrade_database(database.engine)
        extract = files("directory.data").joinpath(DEMO_EXTRACT)
        summary = import_postcodes(database.engine, Path(str(extract)))
        click.echo(summary.describe())
        click.echo(POSTCODE_DATA_ATTRIBUTION)
        # The demo sites' feeds are served by the demo itself, polled over loopback.
        feed_base = (
            f"http://{host or database.app.config['HOST']}:{port or database.app.config['PORT']}"
        )
        with database.sessions() as session:
            police_summaries, sites_added = load_demo_directory(session, feed_base)
        for police_summary in police_summaries:
            click.echo(police_summary.describe())
        click.echo(f"demo sites added: {sites_added} (all marked '(demo)')")
        with database.sessions() as session:
            token = demo_subscription_token(session)
    click.echo("try /postcodes/WV111AA/local, /sites?near=WV11%201AA, /feeds, /sites/1/posts")
    if token:
        click.echo(
            f"police bulletins for the demo outlet: /bulletins?near=WV11%201AA and its "
            f"subscription feed {feed_base}/subscriptions/feeds/{token}/rss"
        )
    if not no_serve:
        _run(create_app({"DEMO": True, "HTTP_ALLOW_LOOPBACK": True}), host, port)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    with _database(verify_schema=False) as database:
        upgrade_database(database.engine)
        status = schema_status(database.engine)
        where = database.engine.url.render_as_string()
    click.echo(f"database {where} is at revision {status.current}")


@db.command("current")
def db_current() -> None:
    """Show the database's schema revision and whether it is up to date."""
    with _database(verify_schema=False) as database:
        status = schema_status(database.engine)
        where = database.engine.url.render_as_string(hide_password=True)
    state = "up to date" if status.up_to_date else "needs `hyperlocal db upgrade`"
    click.echo(f"{where}: revision {status.current or '(none)'}; newest {status.head}: {state}")
    if not status.up_to_date:
        sys.exit(1)


@main.group()
def postcodes() -> None:
    """Postcode data."""


@postcodes.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def postcodes_import(path: Path) -> None:
    """Import a Code-Point Open zip or an ONS Postcode Directory CSV (re-import updates)."""
    with _database() as database:
        bar, update = _progress_bar(f"importing {path.name}")
        try:
            summary = import_postcodes(database.engine, path, on_progress=update)
        except ImportFormatError as exc:
            raise click.ClickException(f"{exc}; nothing was changed") from None
        finally:
            bar.close()
        click.echo(summary.describe())
        with database.sessions() as session:
            click.echo(f"{count_postcodes(session):,} postcodes now in the database")
            changed = assign_postcodes(session)
            session.commit()
            if changed:
                click.echo(f"{changed:,} postcodes placed in their neighbourhood team's patch")


@main.group()
def places() -> None:
    """The gazetteer of place names (an embedded GeoNames default ships with the code)."""


@places.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def places_import(path: Path) -> None:
    """Import an OS Open Names zip (opname_csv_gb.zip, as downloaded); a re-import replaces."""
    with _database() as database:
        bar, update = _progress_bar(f"importing {path.name}", unit=" files")
        try:
            summary = import_open_names(database.engine, path, on_progress=update)
        except ImportFormatError as exc:
            raise click.ClickException(f"{exc}; nothing was changed") from None
        finally:
            bar.close()
        click.echo(summary.describe())


@main.group()
def police() -> None:
    """Police forces, neighbourhood teams and officers."""


@police.command("import")
@click.option(
    "--force",
    "forces",
    multiple=True,
    required=True,
    help="data.police.uk force id, e.g. leicestershire (repeat for several)",
)
@click.option(
    "--from",
    "saved",
    type=click.Path(file_okay=False, path_type=Path),
    help="read saved JSON (<dir>/forces/<force>.json, ...) instead of the live API",
)
@click.option(
    "--api",
    "api_url",
    default=LIVE_API,
    show_default=True,
    help="the API to read (for a mirror or a test server)",
)
def police_import(forces: tuple[str, ...], saved: Path | None, api_url: str) -> None:
    """Import forces' neighbourhoods, boundaries and teams; a re-import updates in place."""
    try:
        source = SavedPoliceData(saved) if saved else LivePoliceApi(api_url)
    except PoliceImportError as exc:
        raise click.ClickException(str(exc)) from None
    with _database() as database:
        for force in forces:
            bar, update = _progress_bar(f"importing {force}", unit=" neighbourhoods")
            try:
                with database.sessions() as session:
                    summary = import_police_force(session, source, force, on_progress=update,
                                                  before_commit=force_imported)  # fmt: skip
            except PoliceImportError as exc:
                raise click.ClickException(f"{exc}; nothing was changed") from None
            finally:
                bar.close()
            click.echo(summary.describe())


@main.group()
def feeds() -> None:
    """Feed polling: one pass, or continuously."""


def _poller(database: Database):  # type: ignore[no-untyped-def]
    """The configured HTTP client and concurrency, after bringing the feed list up to date."""
    with database.sessions() as session:
        sync_all_feeds(session)
    return database.app.extensions["hyperlocal_http"], database.app.config["POLL_CONCURRENCY"]


def _send_concurrency(database: Database) -> int:
    return database.app.config["SEND_CONCURRENCY"]


def _police_interval(database: Database) -> timedelta:
    return police_interval(database.app.config)


@feeds.command("poll")
@click.option("--once", is_flag=True, help="one pass over the feeds due now, then exit")
def feeds_poll(once: bool) -> None:
    """Poll the feeds that are due (with --once: one pass and a summary; else like `worker`)."""
    if not once:
        _work()
        return
    with _database() as database:
        client, concurrency = _poller(database)
        bar, update = _progress_bar("polling feeds", unit=" feeds")
        try:
            summary = poll_and_publish(database.sessions, client, concurrency=concurrency,
                                       progress=update,
                                       police_interval=_police_interval(database))  # fmt: skip
        finally:
            bar.close()
        click.echo(summary.line())


@main.command()
def worker() -> None:
    """Poll feeds continuously on their schedule until interrupted (Ctrl-C or SIGTERM)."""
    _work()


def _work() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with _database() as database:
        client, concurrency = _poller(database)
        click.echo(f"hyperlocal worker polling feeds in {database_url(database.app)} "
                   f"({concurrency} at a time); Ctrl-C stops it")  # fmt: skip
        run_worker(database.sessions, client, stop, concurrency=concurrency,
                   send_concurrency=_send_concurrency(database),
                   police_interval=_police_interval(database),
                   public_url=database.app.config["PUBLIC_URL"],
                   on_pass=lambda summary: click.echo(summary.line()))  # fmt: skip
    click.echo("worker stopped")


@main.group()
def keys() -> None:
    """API keys: create, list, revoke."""


@keys.command("create")
@click.option("--scope", required=True, help="admin, police:<force-id> or editor:<site-id>")
@click.option("--label", default=None, help="a note saying who or what the key is for")
def keys_create(scope: str, label: str | None) -> None:
    """Create a key and print it (the only time it is shown)."""
    with _database() as database, database.sessions() as session:
        try:
            created = create_scoped_key(session, scope, label)
        except InvalidScope as exc:
            raise click.BadParameter(str(exc), param_hint="--scope") from None
        except InvalidLabel as exc:
            raise click.BadParameter(str(exc), param_hint="--label") from None
        session.commit()
        click.echo(created.secret)
        click.echo(
            f"key {created.key.id} ({created.key.prefix}…) with scope {created.key.scope}: "
            "store it now, it cannot be shown again",
            err=True,
        )


@keys.command("list")
def keys_list() -> None:
    """List keys: id, prefix, scope, created, last used, revoked."""
    with _database() as database, database.sessions() as session:
        rows = list_api_keys(session)
    if not rows:
        click.echo("no API keys yet; create one with `hyperlocal keys create --scope admin`")
        return
    click.echo(
        f"{'id':>4}  {'prefix':<11} {'scope':<28} {'created':<20} {'last used':<20} "
        f"{'revoked':<20} label"
    )
    for key in rows:
        click.echo(
            f"{key.id:>4}  {key.prefix:<11} {key.scope:<28} {_when(key.created_at):<20} "
            f"{_when(key.last_used_at):<20} {_when(key.revoked_at):<20} {key.label or ''}"
        )


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@keys.command("revoke")
@click.argument("key_id", type=click.IntRange(1, MAX_KEY_ID))
def keys_revoke(key_id: int) -> None:
    """Revoke a key by id; it stops working at once."""
    with _database() as database, database.sessions() as session:
        try:
            previously = get_api_key(session, key_id).revoked_at
            key = revoke_api_key(session, key_id)
        except ApiKeyNotFound as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        if previously:
            click.echo(f"key {key.id} ({key.prefix}…) was already revoked at {_when(previously)}")
        else:
            click.echo(
                f"key {key.id} ({key.prefix}…, {key.scope}) revoked at {_when(key.revoked_at)}"
            )


main.add_command(openapi)
