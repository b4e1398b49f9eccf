"""Syndication: matching a bulletin to subscriptions, and delivering webhooks on loopback.

    python bench/syndication.py                    # SQLite in a temporary file
    python bench/syndication.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/syndication.py --bulletins 20 --subscribers 200    # a quick run

Figures, all from one run:
- matching: ``subscriptions_matching`` for 300 bulletins against 10,000 subscriptions, median
  and p95 (target: median <= 10 ms), with the area cache warm (a worker's steady state) and
  cold; baseline: the same intersections without the bounding-box prefilter (every area);
- webhooks: 100 bulletins published (matched, outbox written) to 1,000 webhook subscribers,
  then ``send_due`` until the outbox is empty: deliveries/s and the time from the first publish
  until the last event arrives at the receiver; baseline: bare urllib3 POSTs of the same
  signed bodies to the same receiver from the same number of threads, requests/s.

Subscription areas are synthetic but shaped like real ones: 70% around 40 towns and cities
(spread a few km), 30% anywhere in England and Wales; a third each circles of 0.5-3 km,
postcode-sector-like footprints (the widened hull of 30 points within ~700 m) and
neighbourhood-like polygons of 50-300 vertices, 1-4 km across. Bulletins are postcode
footprints near a town. The receiver runs in its own process, speaks HTTP/1.1 keep-alive and
answers 204.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import urllib3  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from directory.geography.area_builders import footprint_area, polygon_area  # noqa: E402
from directory.geography.area_cache import AREAS  # noqa: E402
from directory.geography.areas import Area, circle_area  # noqa: E402
from directory.police.models import PoliceForce  # noqa: E402
from directory.schema import upgrade_database  # noqa: E402
from directory.sites.models import Site  # noqa: E402
from directory.storage import create_db_engine, make_session_factory, utcnow  # noqa: E402
from feeds.ingest.http import LOOPBACK_NETWORKS, FetchPolicy, HttpClient  # noqa: E402
from feeds.syndication.bulletins import post_bulletin  # noqa: E402
from feeds.syndication.matching import subscriptions_matching  # noqa: E402
from feeds.syndication.models import Subscription  # noqa: E402
from feeds.syndication.subscriptions import new_secret  # noqa: E402
from feeds.syndication.webhooks import send_due, signature_headers  # noqa: E402

TOWNS = [
    (52.4862, -1.8904), (53.4808, -2.2426), (53.8008, -1.5491), (53.4084, -2.9916),
    (51.4545, -2.5879), (52.9548, -1.1581), (53.3811, -1.4701), (52.6369, -1.1398),
    (52.5862, -2.1288), (54.9783, -1.6178), (51.5074, -0.1278), (51.4816, -3.1791),
    (50.3755, -4.1427), (50.9097, -1.4044), (52.2053, 0.1218), (51.7520, -1.2577),
    (53.7457, -0.3367), (54.5742, -1.2350), (53.0027, -2.1794), (52.4068, -1.5197),
    (51.6214, -3.9436), (50.7192, -1.8808), (53.6458, -1.7850), (53.7632, -2.7031),
    (52.0406, -0.7594), (51.8787, -0.4200), (52.6309, 1.2974), (50.8225, -0.1372),
    (51.2798, 1.0830), (53.2307, -0.5406), (54.8925, -2.9329), (52.1936, -2.2216),
    (51.8642, -2.2382), (53.5228, -1.1285), (53.5442, -2.6320), (53.7960, -1.7594),
    (52.9225, -1.4746), (51.5590, -1.7800), (50.7260, -3.5275), (52.0567, 1.1482),
]  # fmt: skip
ENGLAND_WALES = (50.2, -5.5, 54.9, 1.5)  # min lat, min lng, max lat, max lng
WEBHOOK_BODY_BYTES = 1_200  # about the size of a bulletin.published event


def _point(
    rng: random.Random, near_town: float = 0.7, spread_km: float = 6.0
) -> tuple[float, float]:
    if rng.random() < near_town:
        lat, lng = rng.choice(TOWNS)
        dy, dx = rng.gauss(0, spread_km), rng.gauss(0, spread_km)
        return lat + dy / 111.2, lng + dx / (111.2 * math.cos(math.radians(lat)))
    s, w, n, e = ENGLAND_WALES
    return rng.uniform(s, n), rng.uniform(w, e)


def _sector(rng: random.Random, lat: float, lng: float, km: float = 0.7) -> Area:
    k = 111.2 * math.cos(math.radians(lat))
    points = [(lat + rng.uniform(-km, km) / 111.2, lng + rng.uniform(-km, km) / k)
              for _ in range(30)]  # fmt: skip
    return footprint_area([points])


def _patch(rng: random.Random, lat: float, lng: float) -> Area:
    vertices = rng.randint(50, 300)
    radius = rng.uniform(0.5, 2.0)
    k = 111.2 * math.cos(math.radians(lat))
    ring = []
    for i in range(vertices):
        angle = 2 * math.pi * i / vertices
        r = radius * rng.uniform(0.75, 1.0)
        ring.append([lng + r * math.cos(angle) / k, lat + r * math.sin(angle) / 111.2])
    ring.append(ring[0])
    return polygon_area({"type": "Polygon", "coordinates": [ring]})


def subscription_area(rng: random.Random) -> Area:
    lat, lng = _point(rng)
    shape = rng.randrange(3)
    if shape == 0:
        return circle_area(lat, lng, rng.uniform(500, 3000))
    if shape == 1:
        return _sector(rng, lat, lng)
    return _patch(rng, lat, lng)


# ---------------------------------------------------------------------------- database


def database(url: str | None):  # type: ignore[no-untyped-def]
    schema = None
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp()}/syndication.db"
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        engine = create_db_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    engine = create_db_engine(url)
    upgrade_database(engine)
    return engine, schema


def drop(engine, schema: str | None) -> None:  # type: ignore[no-untyped-def]
    if schema:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def add_subscriptions(sessions, areas: list[Area], webhook_url: str | None = None,  # type: ignore[no-untyped-def]
                      webhook_urls: list[str] | None = None) -> None:  # fmt: skip
    """Subscriptions of those areas, on approved sites of 20 each; every one calling
    ``webhook_url``, or each its own of ``webhook_urls``."""
    urls = webhook_urls or [webhook_url] * len(areas)
    now = utcnow()
    with sessions() as session:
        if session.get(PoliceForce, "bench") is None:
            session.add(PoliceForce(id="bench", name="Bench Police", url=None, description="",
                                    telephone=None, engagement=[], updated_at=now))  # fmt: skip
        site_ids = []
        for n in range(max(1, len(areas) // 20)):
            site = Site(name=f"Site {n}", url=f"https://site{uuid.uuid4().hex}.example.org/",
                        feed_urls=[], description="", platform=None, area=areas[n].to_json(),
                        area_kind=areas[n].kind, min_lat=0, min_lng=0, max_lat=0, max_lng=0,
                        social_accounts=[], contact_email=None, status="approved",
                        created_at=now, updated_at=now)  # fmt: skip
            session.add(site)
            session.flush()
            site_ids.append(site.id)
        rows = []
        for i, (area, webhook_url) in enumerate(zip(areas, urls, strict=True)):
            box = area.bbox
            rows.append({
                "site_id": site_ids[i % len(site_ids)], "label": "", "kinds": ["appeal", "missing",
                "wanted", "warning", "update"], "follows_site": False, "radius_m": 0.0,
                "area": area.to_json(), "area_kind": area.kind, "min_lat": box.min_lat,
                "min_lng": box.min_lng, "max_lat": box.max_lat, "max_lng": box.max_lng,
                "channels": ["feed", "webhook"] if webhook_url else ["feed"],
                "feed_token": uuid.uuid4().hex, "webhook_url": webhook_url,
                "webhook_secrets": [{"secret": new_secret(), "created_at": now.isoformat()}]
                if webhook_url else [], "webhook_state": "active" if webhook_url else "none",
                "webhook_disabled_reason": None, "webhook_failing_since": None, "active": True,
                "created_at": now, "updated_at": now,
            })  # fmt: skip
        session.execute(insert(Subscription.__table__), rows)
        session.commit()


# ---------------------------------------------------------------------------- matching


def bench_matching(engine, count: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    sessions = make_session_factory(engine)
    areas = [subscription_area(rng) for _ in range(count)]
    add_subscriptions(sessions, areas)
    bulletins = []
    for _ in range(300):
        lat, lng = _point(rng, near_town=1.0, spread_km=4.0)
        bulletins.append(_sector(rng, lat, lng, km=0.5))
    AREAS.clear()
    AREAS.max_items = max(AREAS.max_items, count + 100)

    def run() -> tuple[list[float], list[int]]:
        times, matches = [], []
        with sessions() as session:
            for area in bulletins:
                started = time.perf_counter()
                found = subscriptions_matching(session, area, "appeal")
                times.append((time.perf_counter() - started) * 1000)
                matches.append(len(found))
        return times, matches

    cold, _ = run()
    warm, matches = run()
    parsed = list(areas)  # already parsed, geometries prepared
    naive = []
    for area in bulletins:
        started = time.perf_counter()
        sum(1 for a in parsed if a.intersects(area))
        naive.append((time.perf_counter() - started) * 1000)
    print(f"matching one bulletin against {count:,} subscriptions "
          f"({statistics.mean(matches):.1f} matches on average, max {max(matches)}):")  # fmt: skip
    for name, times in (("warm area cache", warm), ("cold area cache", cold)):
        print(f"  {name}: median {statistics.median(times):.2f} ms, "
              f"p95 {sorted(times)[int(len(times) * 0.95)]:.2f} ms")  # fmt: skip
    base = statistics.median(naive)
    print(
        f"  baseline, every area intersected without the box prefilter (parsed, in memory): "
        f"median {base:.2f} ms; ratio (warm) {statistics.median(warm) / base:.3f}"
    )


# ---------------------------------------------------------------------------- webhooks


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counter = None
    last = None

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with _Handler.counter.get_lock():
            _Handler.counter.value += 1
            _Handler.last.value = time.time()

    def log_message(self, *args: object) -> None:
        pass


def _serve(port, counter, last, ready) -> None:  # type: ignore[no-untyped-def]
    _Handler.counter, _Handler.last = counter, last
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


def bench_webhooks(
    engine, bulletins: int, subscribers: int, concurrency: int, rng: random.Random
) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    counter, last = multiprocessing.Value("q", 0), multiprocessing.Value("d", 0.0)
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, counter, last, ready), daemon=True)
    server.start()
    ready.wait(10)
    url = f"http://127.0.0.1:{port}/hook"
    try:
        # Baseline: bare urllib3 POSTs of signed bodies, same threads, same receiver.
        pool = urllib3.PoolManager(maxsize=concurrency)
        body = json.dumps({"type": "bulletin.published", "data": {"x": "y" * WEBHOOK_BODY_BYTES}})
        secret = new_secret()
        sample = min(bulletins * subscribers, 10_000)

        def post(i: int) -> int:
            headers = signature_headers(f"msg_{i}", body, [secret], utcnow())
            return pool.request("POST", url, body=body.encode(), headers=headers).status

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as threads:
            assert set(threads.map(post, range(sample))) == {204}
        bare = sample / (time.perf_counter() - started)
        print(f"bare urllib3 signed POSTs, {concurrency} threads: {sample:,} in "
              f"{sample / bare:.1f} s = {bare:,.0f}/s (baseline)")  # fmt: skip

        sessions = make_session_factory(engine)
        centre = TOWNS[0]
        areas = [circle_area(centre[0] + rng.uniform(-0.01, 0.01),
                             centre[1] + rng.uniform(-0.01, 0.01), rng.uniform(1500, 3000))
                 for _ in range(subscribers)]  # fmt: skip
        add_subscriptions(sessions, areas, webhook_url=url)
        counter.value = 0
        client = HttpClient(FetchPolicy(allowed_networks=LOOPBACK_NETWORKS))
        started = time.time()
        with sessions() as session:
            for n in range(bulletins):
                published = post_bulletin(
                    session, "bench", kind="appeal", title=f"Appeal {n} for witnesses",
                    body_html="<p>" + "Officers are appealing for witnesses. " * 25 + "</p>",
                    area=circle_area(centre[0], centre[1], 500),
                )  # fmt: skip
                assert len(published.subscriptions) == subscribers
                session.commit()
        queued = time.time() - started
        total = bulletins * subscribers
        print(f"published {bulletins} bulletins to {subscribers:,} subscribers: {total:,} "
              f"events in the outbox in {queued:.1f} s")  # fmt: skip
        summary = send_due(sessions, client, concurrency=concurrency)
        assert summary.delivered == total and counter.value == total, (summary, counter.value)
        arrived = last.value - started
        sending = time.time() - started - queued
        rate = total / sending
        print(f"sent {total:,} webhooks: {rate:,.0f} deliveries/s ({sending:.1f} s); the last "
              f"arrived {arrived:.1f} s after the first publish; ratio to bare "
              f"{rate / bare:.2f}")  # fmt: skip
    finally:
        server.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a PostgreSQL URL (a throw-away schema is used)")
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--bulletins", type=int, default=100)
    parser.add_argument("--subscribers", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(5)
    engine, schema = database(args.database)
    print(f"database: {'PostgreSQL' if schema else 'SQLite'}")
    try:
        bench_matching(engine, args.subscriptions, rng)
    finally:
        drop(engine, schema)
    engine, schema = database(args.database)
    try:
        bench_webhooks(engine, args.bulletins, args.subscribers, args.concurrency, rng)
    finally:
        drop(engine, schema)


if __name__ == "__main__":
    main()
