"""Test fixtures: every database test runs on SQLite and again on PostgreSQL.

The PostgreSQL leg runs when HYPERLOCAL_TEST_DATABASE_URL is set (``.ci/run`` sets it) and is
reported as skipped, with the reason, when it is not. Each PostgreSQL "database" is a schema of
its own in that database (selected through ``search_path``), so tests never see each other's
rows and nothing is left behind.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from api import create_app, http_client
from api.config import postgres_test_url
from directory.geography.postcode_import import import_postcodes
from directory.schema import upgrade_database
from directory.storage import create_db_engine
from feeds.ingest.http import FetchPolicy, HttpClient

# Rate limits would refuse the suite's thousands of requests from one address: off in every app
# and subprocess the tests start, except where a test turns them on (tests/test_limits.py).
os.environ["HYPERLOCAL_RATE_LIMITS"] = "false"

DEMO_EXTRACT = Path(str(files("directory.data").joinpath("codepo_demo.zip")))
DEMO_POSTCODE_COUNT = 4796
# Tables tests write to; emptied after each test that uses the shared demo database.
# Screenshots the browser tests take (tests/test_pages_browser.py); the summary names the folder.
SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "hyperlocal-screenshots"
SHOTS: list[Path] = []


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        terminalreporter.write_line(f"screenshots of the pages ({len(SHOTS)}): {SCREENSHOT_DIR}")


MUTABLE_TABLES = (
    "hub_subscriptions",
    "websub_leases",
    "webhook_attempts",
    "webhook_messages",
    "bulletin_deliveries",
    "subscriptions",
    "bulletins",
    "post_tags",
    "posts",
    "feeds",
    "officers",
    "neighbourhoods",
    "police_forces",
    "sites",
    "api_keys",
)
TEST_DATA = Path(__file__).parent / "data"
PG_SKIP_REASON = (
    "PostgreSQL leg skipped: set HYPERLOCAL_TEST_DATABASE_URL (for example "
    "postgresql+psycopg://postgres@127.0.0.1:5432/test) to run every database test on it too"
)


def _postgres_schema_url(base_url: str, schema: str) -> str:
    url = make_url(base_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


class DatabaseFactory:
    """Creates empty databases of one backend: SQLite files, or PostgreSQL schemas."""

    def __init__(self, backend: str, tmp_dir: Path, pg_url: str | None):
        self.backend = backend
        self.tmp_dir = tmp_dir
        self.pg_url = pg_url
        self.schemas: list[str] = []

    def new_url(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_dir / (name + '.db')}"
        assert self.pg_url is not None
        admin = create_engine(self.pg_url)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        admin.dispose()
        self.schemas.append(name)
        return _postgres_schema_url(self.pg_url, name)

    def drop_all(self) -> None:
        if not self.schemas:
            return
        admin = create_engine(self.pg_url)  # type: ignore[arg-type]
        try:
            # One transaction per schema: dropping them all in one takes a lock per table and
            # runs out of max_locks_per_transaction once there are many.
            for name in self.schemas:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        finally:
            admin.dispose()
        self.schemas.clear()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A factory of empty databases for one backend (the session runs once per backend)."""
    pg_url = None
    if request.param == "postgresql":
        pg_url = postgres_test_url()
        if not pg_url:
            pytest.skip(PG_SKIP_REASON)
        probe = create_engine(pg_url)
        try:
            with probe.connect():
                pass
        except OperationalError as exc:
            pytest.fail(f"HYPERLOCAL_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}")
        finally:
            probe.dispose()
    factory = DatabaseFactory(request.param, tmp_path_factory.mktemp(request.param), pg_url)
    yield factory
    factory.drop_all()


@pytest.fixture
def fresh_database_url(databases: DatabaseFactory) -> Callable[[], str]:
    """Make an empty (unmigrated) database and return its URL; call as often as needed."""
    return databases.new_url


@pytest.fixture
def migrated_url(fresh_database_url: Callable[[], str]) -> str:
    """An empty database at the newest schema, without postcodes."""
    url = fresh_database_url()
    engine = create_db_engine(url)
    upgrade_database(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def demo_url(databases: DatabaseFactory) -> str:
    """A database at the newest schema holding the demo Code-Point extract (read-only use)."""
    url = databases.new_url()
    engine = create_db_engine(url)
    upgrade_database(engine)
    import_postcodes(engine, DEMO_EXTRACT)
    engine.dispose()
    return url


@pytest.fixture
def app(demo_url: str):
    """The app on the demo database. What a test adds (keys, sites) is removed after it."""
    app = create_app({"DATABASE_URL": demo_url, "TESTING": True})
    yield app
    _clear(app)


def _clear(app) -> None:  # type: ignore[no-untyped-def]
    engine = app.extensions["hyperlocal_db"].engine
    with engine.begin() as connection:
        for table in MUTABLE_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


@pytest.fixture
def demo_served(demo_url: str):  # type: ignore[no-untyped-def]
    """What `hyperlocal demo` serves, over real HTTP on loopback, its feeds polled once (the
    demo police feed's appeals are bulletins, the sites and the team have posts): the app and
    its address."""
    from feeds.demo import load_demo_directory
    from feeds.worker import poll_and_publish

    app = create_app({"DATABASE_URL": demo_url, "TESTING": True, "DEMO": True,
                      "HTTP_ALLOW_LOOPBACK": True})  # fmt: skip
    url, stop = serve(app)
    sessions = app.extensions["hyperlocal_db"].sessions
    with sessions() as session:
        load_demo_directory(session, url)
    poll_and_publish(sessions, app.extensions["hyperlocal_http"])
    yield app, url
    stop()
    _clear(app)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def sessions(app):  # type: ignore[no-untyped-def]
    """The app's session factory (the demo database)."""
    return app.extensions["hyperlocal_db"].sessions


@pytest.fixture
def engine_for() -> Iterator[Callable[[str], object]]:
    """Engines for URLs, disposed after the test."""
    engines = []

    def make(url: str):  # type: ignore[no-untyped-def]
        engine = create_db_engine(url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def demo_directory(app):  # type: ignore[no-untyped-def]
    """The demo police teams and sites (what `hyperlocal demo` loads) on the demo database."""
    from feeds.demo import load_demo_directory

    with app.extensions["hyperlocal_db"].sessions() as session:
        load_demo_directory(session)
    return app


def bearer(app, scope: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Authorization headers for a new key with ``scope`` on the app's database."""
    from directory.keys.store import create_api_key

    with app.extensions["hyperlocal_db"].sessions() as session:
        secret = create_api_key(session, scope).secret
        session.commit()
    return {"Authorization": f"Bearer {secret}"}


def hyperlocal_command() -> list[str]:
    """The console script as a user runs it (or the module, when not installed as a script)."""
    import os
    import shutil
    import sys

    script = shutil.which("hyperlocal", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-c", "from api.cli import main; main()"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def forbidden_server():  # type: ignore[no-untyped-def]
    """A server on 127.0.0.2: loopback, but outside what the test clients allow (127.0.0.1/32).

    Tests of the address guard assert it saw no request at all.
    """
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    server.expect_request("/").respond_with_data("secret metadata")
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def header_drip_server():  # type: ignore[no-untyped-def]
    """A loopback server that answers every connection with its status line and headers one
    byte every 0.1 s (a slowloris in reverse), for at most 60 s; yields its base URL.

    Each byte arrives well inside any read timeout, so only a total deadline ends the wait.
    """
    import socket
    import threading
    import time

    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Slow: " + b"a" * 600

    def drip(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1)
            try:
                conn.recv(65536)  # the request (or its start)
                for byte in head:
                    if stop.wait(0.1):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up: what the tests want

    def serve() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    server.join(timeout=2)
    listener.close()


@pytest.fixture
def refusing_database(app):  # type: ignore[no-untyped-def]
    """``refuse(table, column, marker)``: the database itself refuses, from now until the test
    ends, every row inserted into ``table`` whose ``column`` contains ``marker`` (a trigger,
    on SQLite or PostgreSQL): a fault injected at the storage edge, not into our code."""
    engine = app.extensions["hyperlocal_db"].engine
    made: list[tuple[str, str]] = []

    def refuse(table: str, column: str, marker: str = "REFUSE-ME") -> None:
        name = f"refuse_{table}_{column}"
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.execute(text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                    f"WHEN instr(NEW.{column}, '{marker}') > 0 "
                    f"BEGIN SELECT RAISE(ABORT, 'refused by the test trigger {name}'); END"
                ))  # fmt: skip
            else:
                connection.execute(text(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF strpos(NEW.{column}, '{marker}') > 0 THEN "
                    f"RAISE EXCEPTION 'refused by the test trigger {name}'; END IF; "
                    f"RETURN NEW; END $$"
                ))  # fmt: skip
                connection.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                                        f"FOR EACH ROW EXECUTE FUNCTION {name}()"))  # fmt: skip
        made.append((name, table))

    yield refuse
    with engine.begin() as connection:
        for name, table in made:
            if engine.dialect.name == "sqlite":
                connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            else:
                connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
                connection.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))


@pytest.fixture
def fetcher() -> HttpClient:
    return HttpClient(FetchPolicy(allowed_networks=("127.0.0.1/32",), total_timeout=3,
                                  read_timeout=2, connect_timeout=1))  # fmt: skip


@pytest.fixture
def loopback_app(demo_directory):  # type: ignore[no-untyped-def]
    """The demo directory, with the app allowed to reach loopback (test events)."""
    loopback = http_client({**demo_directory.config, "HTTP_ALLOW_LOOPBACK": True})
    loopback.observers = demo_directory.extensions["hyperlocal_http"].observers  # the metrics
    demo_directory.extensions["hyperlocal_http"] = loopback
    return demo_directory


def serve(app):  # type: ignore[no-untyped-def]
    """``app`` served over real HTTP on a loopback port, in a thread: (base url, stop)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(5)

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture
def live_app(loopback_app):  # type: ignore[no-untyped-def]
    """The app served over real HTTP on a loopback port (a hub must be able to call us);
    ``PUBLIC_URL`` is its address."""
    url, stop = serve(loopback_app)
    loopback_app.config["PUBLIC_URL"] = url
    yield loopback_app
    stop()


REDIS_SKIP = "Redis tests skipped: nothing answers at 127.0.0.1:6379 (start redis-server)"


@contextmanager
def redis_database(number: int) -> Iterator[object]:
    """A client of the Redis at 127.0.0.1:6379, database ``number`` (each test file its own),
    emptied before and after; the test is skipped, saying why, where no Redis answers."""
    import redis

    client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{number}", socket_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(REDIS_SKIP)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
