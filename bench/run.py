"""Benchmarks of the foundation issue, each against a baseline measured in the same run.

    python bench/run.py                    # everything
    python bench/run.py --only nearest     # import | nearest | http (comma-separated)

Needs the full OS Code-Point Open download at ../shared/data/codepo_gb.zip (or --data); skips
with a message when it is absent. PostgreSQL figures use HYPERLOCAL_TEST_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) and are skipped when it is unreachable. The
HTTP figures need gunicorn (pip install ".[bench]") and wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from pyproj import Transformer  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from directory.geography.postcode_import import import_postcodes  # noqa: E402
from directory.geography.postcodes import nearest_postcodes  # noqa: E402
from directory.schema import upgrade_database  # noqa: E402
from directory.storage import create_db_engine  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "codepo_gb.zip"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULTS: list[tuple[str, str]] = []


def report(name: str, line: str) -> None:
    print(f"{name:<44} {line}", flush=True)
    RESULTS.append((name, line))


# ----------------------------------------------------------------------------- baselines


def read_codepoint_bare(path: Path) -> list[tuple[str, float, float]]:
    """Baseline reading: every CSV, one vectorised pyproj transform, (postcode, lat, lng) rows."""
    postcodes: list[str] = []
    eastings: list[int] = []
    northings: list[int] = []
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if re.match(r"Data/CSV/\w+\.csv$", name):
                with archive.open(name) as raw:
                    for row in csv.reader(io.TextIOWrapper(raw, "utf-8", newline="")):
                        postcodes.append(row[0])
                        eastings.append(int(row[2]))
                        northings.append(int(row[3]))
    transformer = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    lngs, lats = transformer.transform(np.array(eastings, float), np.array(northings, float))
    return list(zip(postcodes, lats.tolist(), lngs.tolist(), strict=True))


def sqlite_baseline(path: Path, db_file: Path) -> float:
    import sqlite3

    start = time.perf_counter()
    rows = read_codepoint_bare(path)
    connection = sqlite3.connect(db_file)
    connection.execute("CREATE TABLE pc (postcode TEXT PRIMARY KEY, lat REAL, lng REAL)")
    connection.execute("CREATE INDEX ix_pc ON pc (lat, lng)")
    with connection:
        connection.executemany("INSERT INTO pc VALUES (?, ?, ?)", rows)
    connection.close()
    return time.perf_counter() - start


def postgres_baseline(path: Path, url: str) -> float:
    import psycopg

    start = time.perf_counter()
    rows = read_codepoint_bare(path)
    with psycopg.connect(url) as connection:
        connection.execute("CREATE TABLE pc (postcode TEXT PRIMARY KEY, lat FLOAT8, lng FLOAT8)")
        connection.execute("CREATE INDEX ix_pc ON pc (lat, lng)")
        with connection.cursor().copy("COPY pc FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - start


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# ----------------------------------------------------------------------------- figures


def _timed_imports(engine, data: Path) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """Migrate, import into the empty database, import again: (first s, again s, rows new)."""
    upgrade_database(engine)
    start = time.perf_counter()
    summary = import_postcodes(engine, data)
    first = time.perf_counter() - start
    start = time.perf_counter()
    import_postcodes(engine, data)
    again = time.perf_counter() - start
    engine.dispose()
    return first, again, summary.imported


def bench_import(data: Path, workdir: Path, pg_url: str | None) -> Path:
    """Full import into SQLite (and PostgreSQL) vs the bare baselines; returns the SQLite file."""
    baseline = sqlite_baseline(data, workdir / "baseline.db")
    db_file = workdir / "hyperlocal.db"
    engine = create_db_engine(f"sqlite:///{db_file}")
    ours, again, imported = _timed_imports(engine, data)
    report(
        "import into SQLite (1,743,449 postcodes)",
        f"{ours:.1f} s vs baseline {baseline:.1f} s: ratio {ours / baseline:.2f} (target <= 3); "
        f"re-import {again:.1f} s; {imported:,} rows",
    )
    if pg_url:
        bench_import_postgres(data, pg_url)
    return db_file


def bench_import_postgres(data: Path, pg_url: str) -> None:
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(pg_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    scoped_url = scoped.render_as_string(hide_password=False)
    try:
        baseline = postgres_baseline(data, _libpq_url(scoped_url))
        with admin.begin() as connection:
            connection.execute(text(f'DROP TABLE "{schema}".pc'))
        ours, again, _ = _timed_imports(create_db_engine(scoped_url), data)
        report(
            "import into PostgreSQL",
            f"{ours:.1f} s vs COPY baseline {baseline:.1f} s: ratio {ours / baseline:.2f} "
            f"(target <= 3); re-import {again:.1f} s",
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def sample_points(db_file: Path, count: int, seed: int = 7) -> list[tuple[float, float]]:
    """Random points within ~300 m of random real postcodes."""
    import sqlite3

    connection = sqlite3.connect(db_file)
    rows = connection.execute(
        "SELECT latitude, longitude FROM postcodes WHERE latitude IS NOT NULL"
    ).fetchall()
    connection.close()
    rng = random.Random(seed)
    chosen = rng.sample(rows, count)
    return [(a + rng.uniform(-0.0027, 0.0027), b + rng.uniform(-0.004, 0.004)) for a, b in chosen]


def bench_nearest(db_file: Path) -> None:
    points = sample_points(db_file, 10_000)
    engine = create_db_engine(f"sqlite:///{db_file}")
    # On a connection, as the API's read-only endpoints run it.
    with engine.connect() as session:
        for lat, lng in points[:500]:  # warm the page cache
            nearest_postcodes(session, lat, lng, 250, 10)
        for limit in (1, 10):
            times = []
            start = time.perf_counter()
            for lat, lng in points:
                t0 = time.perf_counter()
                nearest_postcodes(session, lat, lng, 250, limit)
                times.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - start
            times.sort()
            median_ms = statistics.median(times) * 1e3
            p99_ms = times[len(times) * 99 // 100] * 1e3
            report(
                f"nearest postcodes in-process, limit {limit}",
                f"{len(points) / elapsed:,.0f} queries/s (target >= 5,000); median "
                f"{median_ms:.2f} ms, p99 {p99_ms:.2f} ms",
            )
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _rss_mb(master_pid: int) -> list[float]:
    out = subprocess.run(
        ["ps", "--ppid", str(master_pid), "-o", "rss="], capture_output=True, text=True
    ).stdout
    return [int(v) / 1024 for v in out.split()]


def _wrk(port: int, script: Path, seconds: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99, out
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return rps, float(p99.group(1)) * scale


def _serve_and_measure(app: str, port: int, env: dict, script: Path, chdir: Path) -> tuple:
    command = [
        sys.executable, "-m", "gunicorn", "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}",
        "--chdir", str(chdir), "--log-level", "warning", app,
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env)
    try:
        _wait_for(f"http://127.0.0.1:{port}/postcodes/WV111AA")
        _wrk(port, script, 3)  # warm up
        rps, p99 = _wrk(port, script, 10)
        return rps, p99, _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_http(db_file: Path, workdir: Path) -> None:
    if not shutil.which("wrk"):
        print("skipping HTTP figures: wrk is not installed (apt-get install wrk)")
        return
    postcodes = _random_postcodes(db_file, 10_000)
    paths = [f"/postcodes/{pc.replace(' ', '%20')}" for pc in postcodes]
    script = _lua_script(workdir / "random_postcodes.lua", paths)
    env = dict(os.environ, HYPERLOCAL_DATABASE_URL=f"sqlite:///{db_file}")
    # Two rounds, alternating, best of each: wrk and the workers share two cores, so a single
    # run of either is at the mercy of whatever else the machine does for those 10 seconds.
    bare_runs, our_runs = [], []
    for _ in range(2):
        bare_runs.append(
            _serve_and_measure("bare_app:app", _free_port(), env, script, ROOT / "bench")
        )
        our_runs.append(_serve_and_measure("api.wsgi:app", _free_port(), env, script, ROOT))
    base_rps, base_p99, _ = max(bare_runs, key=lambda run: run[0])
    rps, p99, rss = max(our_runs, key=lambda run: run[0])
    report(
        "GET /postcodes/{pc}, gunicorn 2 sync, wrk -c32",
        f"{rps:,.0f} req/s vs bare flask-smorest {base_rps:,.0f} req/s: "
        f"{rps / base_rps:.0%} (target >= 70%); p99 {p99:.1f} ms (target <= 15 ms; "
        f"bare {base_p99:.1f} ms); worker RSS {', '.join(f'{m:.0f}' for m in rss)} MB "
        "(target < 300 MB)",
    )


def _random_postcodes(db_file: Path, count: int, seed: int = 11) -> list[str]:
    import sqlite3

    connection = sqlite3.connect(db_file)
    rows = [r[0] for r in connection.execute(
        "SELECT postcode FROM postcodes WHERE lat_band IS NOT NULL")]  # fmt: skip
    connection.close()
    return random.Random(seed).sample(rows, count)


def _lua_script(path: Path, urls: list[str]) -> Path:
    listed = ",\n".join(f'"{url}"' for url in urls)
    path.write_text(
        f"local paths = {{\n{listed}\n}}\n"
        "math.randomseed(7)\n"
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(#paths)])\n"
        "end\n"
    )
    return path


def bench_directory(db_file: Path, workdir: Path, sizes: tuple[int, ...] = (500, 5000)) -> None:
    """GET /postcodes/{pc}/local with synthetic teams and 2,000 sites over the full data."""
    from directory_load import load_directory

    from api import create_app

    postcodes = _random_postcodes(db_file, 10_000)
    for size in sizes:
        copy = workdir / f"directory-{size}.db"
        shutil.copy(db_file, copy)
        engine = create_db_engine(f"sqlite:///{copy}")
        upgrade_database(engine)
        engine.dispose()
        load_directory(copy, size, 2000)
        app = create_app({"DATABASE_URL": f"sqlite:///{copy}"})
        client = app.test_client()
        for postcode in postcodes[:300]:
            client.get(f"/postcodes/{postcode}/local")
        times = []
        for postcode in postcodes:
            start = time.perf_counter()
            response = client.get(f"/postcodes/{postcode}/local")
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.get_json()
        app.extensions["hyperlocal_db"].engine.dispose()
        times.sort()
        report(
            f"GET /postcodes/{{pc}}/local in-process, {size:,} teams",
            f"median {statistics.median(times) * 1e3:.2f} ms (target <= 5), "
            f"p99 {times[len(times) * 99 // 100] * 1e3:.2f} ms (target <= 20), "
            f"over {len(times):,} random postcodes, 2,000 sites",
        )
        if size == sizes[-1] and shutil.which("wrk"):
            paths = [pc.replace(" ", "%20") for pc in postcodes]
            plain = _lua_script(workdir / "plain.lua", [f"/postcodes/{p}" for p in paths])
            local = _lua_script(workdir / "local.lua", [f"/postcodes/{p}/local" for p in paths])
            env = dict(os.environ, HYPERLOCAL_DATABASE_URL=f"sqlite:///{copy}")
            base, ours = [], []
            for _ in range(2):
                base.append(_serve_and_measure("api.wsgi:app", _free_port(), env, plain, ROOT))
                ours.append(_serve_and_measure("api.wsgi:app", _free_port(), env, local, ROOT))
            base_rps = max(run[0] for run in base)
            rps, p99, rss = max(ours, key=lambda run: run[0])
            report(
                f"GET /postcodes/{{pc}}/local, gunicorn, {size:,} teams",
                f"{rps:,.0f} req/s vs GET /postcodes/{{pc}} {base_rps:,.0f} req/s: "
                f"{rps / base_rps:.0%} (target >= 50%); p99 {p99:.1f} ms; worker RSS "
                f"{', '.join(f'{m:.0f}' for m in rss)} MB",
            )


def bench_pages(db_file: Path, workdir: Path, teams: int = 5000, sites: int = 2000) -> None:
    """GET /area/{pc} (the resident's page, HTML) in-process with 5,000 teams and 2,000 sites
    over the full data; baseline: the JSON lookup it builds on, /postcodes/{pc}/local."""
    from directory_load import load_directory

    from api import create_app

    postcodes = _random_postcodes(db_file, 3_000)
    copy = workdir / f"pages-{teams}.db"
    shutil.copy(db_file, copy)
    engine = create_db_engine(f"sqlite:///{copy}")
    upgrade_database(engine)
    engine.dispose()
    load_directory(copy, teams, sites)
    app = create_app({"DATABASE_URL": f"sqlite:///{copy}"})
    client = app.test_client()
    html = {"Accept": "text/html"}
    for postcode in postcodes[:300]:  # warm: caches, prepared statements
        client.get(f"/area/{postcode}", headers=html)
        client.get(f"/postcodes/{postcode}/local")
    page_times, json_times = [], []
    for postcode in postcodes:
        start = time.perf_counter()
        response = client.get(f"/area/{postcode}", headers=html)
        page_times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        start = time.perf_counter()
        client.get(f"/postcodes/{postcode}/local")
        json_times.append(time.perf_counter() - start)
    app.extensions["hyperlocal_db"].engine.dispose()
    page_times.sort()
    json_times.sort()

    def p95(times: list[float]) -> float:
        return times[len(times) * 95 // 100] * 1e3

    report(
        f"GET /area/{{pc}} (HTML) in-process, {teams:,} teams",
        f"median {statistics.median(page_times) * 1e3:.2f} ms, p95 {p95(page_times):.2f} ms "
        f"(target <= 20) over {len(page_times):,} random postcodes, {sites:,} sites; baseline "
        f"GET /postcodes/{{pc}}/local p95 {p95(json_times):.2f} ms: ratio "
        f"{p95(page_times) / p95(json_times):.1f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="hyperlocal foundation benchmarks")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default="import,nearest,http,directory,pages")
    parser.add_argument("--keep", type=Path, help="keep the imported SQLite file at this path")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"skipping benchmarks: {args.data} is absent (the full Code-Point Open zip)")
        return
    only = set(args.only.split(","))
    pg_url = os.environ.get("HYPERLOCAL_TEST_DATABASE_URL") or DEFAULT_PG
    try:
        probe = create_engine(pg_url)
        with probe.connect():
            pass
        probe.dispose()
    except Exception as exc:  # any failure to reach it means "skip", with the reason
        print(f"skipping PostgreSQL figures: {pg_url} unreachable ({exc.__class__.__name__})")
        pg_url = None
    with tempfile.TemporaryDirectory(prefix="hyperlocal-bench-") as tmp:
        workdir = Path(tmp)
        db_file = args.keep if args.keep and args.keep.exists() else None
        if db_file is not None:  # a kept database may predate the newest migrations
            kept = create_db_engine(f"sqlite:///{db_file}")
            upgrade_database(kept)
            kept.dispose()
        if db_file is None or "import" in only:
            db_file = bench_import(args.data, workdir, pg_url if "import" in only else None)
            if args.keep:
                shutil.copy(db_file, args.keep)
        if "nearest" in only:
            bench_nearest(db_file)
        if "http" in only:
            bench_http(db_file, workdir)
        if "directory" in only:
            bench_directory(db_file, workdir)
        if "pages" in only:
            bench_pages(db_file, workdir)
    print("\nsummary")
    for name, line in RESULTS:
        print(f"  {name}: {line}")


if __name__ == "__main__":
    main()
