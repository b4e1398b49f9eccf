"""Riot night: a read storm while a force publishes to 2,000 outlets, embedded worker vs Celery.

    python bench/riot_night.py                 # PostgreSQL 127.0.0.1:5432/test, Redis db 6
    python bench/riot_night.py --outlets 300 --bulletins 4 --seconds 10    # a quick run

Needs wrk and nginx (``apt-get install wrk nginx``; without nginx the cached leg is skipped).
The same load, in the same run, on two deployments of the same PostgreSQL database:

- embedded: the default, one process serving HTTP with the in-process worker
  (``bench/embedded_serve.py``: what ``hyperlocal serve`` runs, on PostgreSQL);
- celery: 2 gunicorn workers, and 2 Celery workers on Redis (one for police feeds and webhook
  sends, one for news sites' feeds, as the README deploys them) and beat.

On each: ``--bulletins`` bulletins posted to ``POST /bulletins`` ``--every`` seconds apart, each
matching every one of ``--outlets`` outlets, whose webhooks are one receiver in its own process
(it records each event's ``webhook-id`` and arrival); meanwhile ``--news-feeds`` news sites'
feeds (each on an address of its own, answering in 0.5 s) all fall due at once, and the
police feed publishes an appeal 5 s later: how long until it is a bulletin is the police
pickup, against the police interval (60 s). The read storm: wrk on a mix of local lookups, area
pages and subscription feeds, once straight at the service and once through nginx caching as
the headers say (``proxy_cache``, honouring max-age and stale-while-revalidate): throughput,
p99 and the share nginx answered from its cache.

Figures per deployment: read throughput and p99 (direct, cached); publish -> webhook received,
p50/p95; delivery rate (events/s, first publish to last arrival); messages lost (queued but
never received: must be 0) and duplicated (received more than once under one webhook-id);
police pickup, and the longest any due police or news feed waited to be taken. Ratios: celery /
embedded delivery rate, cached / direct read throughput.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import urllib3  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from bench.pickup import _process, _serve_outlets  # noqa: E402
from bench.run import _free_port, _lua_script, _wait_for, _wrk  # noqa: E402
from bench.syndication import add_subscriptions, database, drop  # noqa: E402
from directory.geography.area_specs import area_from_spec  # noqa: E402
from directory.geography.postcode_import import import_postcodes  # noqa: E402
from directory.keys.store import create_api_key  # noqa: E402
from directory.police.models import PoliceForce  # noqa: E402
from directory.sites.models import Site  # noqa: E402
from directory.storage import make_session_factory, utcnow  # noqa: E402
from feeds.demo import load_demo_directory  # noqa: E402
from feeds.ingest.models import Feed  # noqa: E402
from feeds.ingest.registry import sync_all_feeds, sync_force_feeds  # noqa: E402
from feeds.operations import figures  # noqa: E402
from feeds.syndication.models import Bulletin, Subscription, WebhookMessage  # noqa: E402

POLICE_INTERVAL = 60.0
NEWS_DELAY = 0.5


# ---------------------------------------------------------------------------- the other servers


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 1024

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # a poller that gave up or was stopped mid-answer: not the bench's news


def _serve_feeds(port_box, ready, police_items_path: str) -> None:  # type: ignore[no-untyped-def]
    """News sites (any 127.x address, /n<i>.rss, slow) and the force's feed (/police.rss:
    the items listed in a file the bench appends to)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/police.rss":
                items = [json.loads(line) for line in Path(police_items_path).read_text()
                         .splitlines() if line]  # fmt: skip
            elif self.path.startswith("/n"):
                time.sleep(NEWS_DELAY)
                n = self.path[2:].split(".")[0]
                items = [{"guid": f"n{n}-{k}", "title": f"Parish council meets, week {k}",
                          "at": time.time() - 86400 * k} for k in range(3)]  # fmt: skip
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = "".join(
                f"<item><guid isPermaLink='false'>{i['guid']}</guid><title>{i['title']}</title>"
                f"<link>https://example.org/{i['guid']}</link>"
                f"<pubDate>{formatdate(i['at'], usegmt=True)}</pubDate>"
                f"<description>{i.get('description', '')}</description></item>"
                for i in items
            )
            data = (
                f"<?xml version='1.0'?><rss version='2.0'><channel><title>Feed</title>"
                f"<link>https://example.org/</link>{body}</channel></rss>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = _QuietServer(("0.0.0.0", 0), Handler)
    port_box.value = server.server_port
    ready.set()
    server.serve_forever()


NGINX = """
{user}
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 2048; }}
http {{
  log_format cache $upstream_cache_status;
  access_log {dir}/access.log cache;
  proxy_cache_path {dir}/cache keys_zone=hl:20m max_size=500m inactive=10m use_temp_path=off;
  upstream app {{ server 127.0.0.1:{upstream}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_cache hl;
      proxy_cache_revalidate on;
      proxy_cache_background_update on;
      proxy_cache_use_stale updating error timeout;
      proxy_cache_lock on;
    }}
  }}
}}
"""


def start_nginx(workdir: Path, upstream: int) -> tuple[subprocess.Popen, int, Path]:
    port = _free_port()
    folder = Path(tempfile.mkdtemp(dir=workdir))
    user = "user root;" if os.geteuid() == 0 else ""  # its workers write the cache folder here
    (folder / "nginx.conf").write_text(NGINX.format(user=user, dir=folder, upstream=upstream,
                                                    port=port))  # fmt: skip
    process = subprocess.Popen(["nginx", "-c", str(folder / "nginx.conf"), "-p", str(folder)])
    try:
        _wait_for(f"http://127.0.0.1:{port}/health")
    except RuntimeError:
        process.terminate()
        raise
    return process, port, folder / "access.log"


# ---------------------------------------------------------------------------- the deployments


class Deployment:
    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name, self.env, self.workdir = name, env, workdir
        self.processes: list[subprocess.Popen] = []
        self.port = _free_port()

    def spawn(self, label: str, command: list[str]) -> None:
        with (self.workdir / f"{self.name}-{label}.log").open("a") as log:
            self.processes.append(subprocess.Popen(command, env=self.env, stdout=log,
                                                   stderr=subprocess.STDOUT, cwd=ROOT,
                                                   start_new_session=True))  # fmt: skip

    def start(self) -> None:
        python = sys.executable
        if self.name == "embedded":
            self.spawn("serve", [python, str(ROOT / "bench" / "embedded_serve.py"),
                                 str(self.port)])  # fmt: skip
        else:
            self.spawn("gunicorn", [python, "-m", "gunicorn", "-w", "2", "-k", "gthread",
                                    "--threads", "4", "-b", f"127.0.0.1:{self.port}",
                                    "--log-level", "warning", "api.wsgi:app"])  # fmt: skip
            celery = [python, "-m", "celery", "-A", "api.tasks"]
            self.spawn("police-send", [*celery, "worker", "-Q", "police,send", "-c", "4", "-n",
                                       "police-send@%h", "--without-mingle", "--without-gossip",
                                       "--loglevel", "WARNING"])  # fmt: skip
            self.spawn("news", [*celery, "worker", "-Q", "news", "-c", "4", "-n", "news@%h",
                                "--without-mingle", "--without-gossip", "--loglevel",
                                "WARNING"])  # fmt: skip
            self.spawn("beat", [*celery, "beat", "-s", str(self.workdir / "beat-schedule"),
                                "--loglevel", "WARNING"])  # fmt: skip
        _wait_for(f"http://127.0.0.1:{self.port}/health", 60)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def bare_posts(port: int, threads: int = 16, seconds: float = 5.0) -> float:
    """The receiver's own ceiling: bare POSTs of an event-sized body from ``threads`` threads
    (what the webhook senders are compared with), requests/s."""
    body = json.dumps({"type": "bulletin.published", "data": {"id": 0, "title": "x" * 1500}})
    stop = time.time() + seconds
    counts = [0] * threads

    def post(n: int) -> None:
        http = urllib3.PoolManager(maxsize=1)
        while time.time() < stop:
            http.request(
                "POST",
                f"http://127.0.0.1:{port}/baseline",
                body=body.encode(),
                headers={"webhook-id": f"baseline-{n}", "Content-Type": "application/json"},
            )
            counts[n] += 1

    pool = [threading.Thread(target=post, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / seconds


# ---------------------------------------------------------------------------- the run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def setup(engine, args, feeds_port: int, outlets_port: int):  # type: ignore[no-untyped-def]
    """Demo directory, 2,000 outlets around Wednesfield, 1,000 news sites, the force's feed;
    only the bench's feeds stay active. (police key, read paths)"""
    rng = random.Random(7)
    import_postcodes(engine, Path(str(files("directory.data").joinpath("codepo_demo.zip"))))
    sessions = make_session_factory(engine)
    with sessions() as session:
        load_demo_directory(session)
        areas = [area_from_spec(session, {"type": "circle", "center": "WV11 1AA",
                                          "radius_m": rng.uniform(3000, 8000)})
                 for _ in range(args.outlets)]  # fmt: skip
        police_key = create_api_key(session, "police:west-midlands").secret
        session.commit()
    hooks = [f"http://127.0.0.1:{outlets_port}/o{n}" for n in range(args.outlets)]
    add_subscriptions(sessions, areas, webhook_urls=hooks)
    now = utcnow()
    with sessions() as session:
        area = areas[0].to_json()
        session.execute(insert(Site.__table__), [{
            "name": f"News {n}", "url": f"https://news{n}.example.org/",
            "feed_urls": [f"http://127.0.{n // 250}.{n % 250 + 2}:{feeds_port}/n{n}.rss"],
            "description": "", "platform": None, "area": area, "area_kind": areas[0].kind,
            "min_lat": 0, "min_lng": 0, "max_lat": 0, "max_lng": 0, "social_accounts": [],
            "contact_email": None, "status": "approved", "created_at": now, "updated_at": now,
        } for n in range(args.news_feeds)])  # fmt: skip
        sync_all_feeds(session)
        force = session.get(PoliceForce, "west-midlands")
        force.engagement = [{"type": "rss", "title": "News", "description": "",
                             "url": f"http://127.0.0.1:{feeds_port}/police.rss"}]  # fmt: skip
        sync_force_feeds(session, force)
        session.execute(update(Feed).where(~Feed.url.contains(f":{feeds_port}/"))
                        .values(status="retired"))  # fmt: skip
        session.commit()
        tokens = list(session.scalars(select(Subscription.feed_token).limit(200)))
    pcs = _postcodes(engine, 400)
    paths = ([f"/postcodes/{pc.replace(' ', '')}/local" for pc in pcs[:300]]
             + [f"/area/{pc.replace(' ', '%20')}" for pc in pcs[300:]]
             + [f"/subscriptions/feeds/{t}/rss" for t in tokens[:100]])  # fmt: skip
    from api import create_app

    app = create_app({"DATABASE_URL": engine.url.render_as_string(hide_password=False)})
    reader = app.test_client()
    answered = [path for path in paths if reader.get(path).status_code == 200]
    if len(answered) < len(paths):
        print(f"(left out {len(paths) - len(answered)} read paths that do not answer 200)")
    return sessions, police_key, answered


def _postcodes(engine, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with engine.connect() as connection:
        rows = [
            r[0]
            for r in connection.execute(
                text("SELECT postcode FROM postcodes WHERE postcode LIKE 'WV%' ORDER BY postcode")
            )
        ]
    return random.Random(11).sample(rows, min(count, len(rows)))


def run_mode(deployment: Deployment, sessions, args, police_key: str, paths: list[str],  # type: ignore[no-untyped-def]
             feeds_items: Path, receiver_log: Path, workdir: Path) -> dict:  # fmt: skip
    with sessions() as session:
        first_bulletin = session.scalar(select(func.coalesce(func.max(Bulletin.id), 0)))
        session.execute(update(Feed).where(Feed.status != "retired").values(
            next_check_at=utcnow(), etag=None, last_modified=None))  # fmt: skip
        session.commit()
    received_before = len(receiver_log.read_text().splitlines())
    deployment.start()
    base = f"http://127.0.0.1:{deployment.port}"
    # A riot night's reads are skewed: most readers want the few places it is happening.
    storm = paths[:10] * 50 + paths[10:50] * 5 + paths[50:]
    script = _lua_script(workdir / "storm.lua", random.Random(3).sample(storm, len(storm)))
    http = urllib3.PoolManager(maxsize=2)
    posted: dict[int, float] = {}
    tag = uuid.uuid4().hex[:6]
    police_title = f"Appeal after disorder in Wednesfield town centre [{deployment.name}-{tag}]"
    started = time.time()

    def overdue() -> None:  # the longest wait of a due feed, police and news, each second
        while not done.is_set():
            with sessions() as session:
                found = figures(session, utcnow()).overdue_seconds
            for kind, seconds in found.items():
                waits[kind] = max(waits.get(kind, 0.0), seconds)
            done.wait(1.0)

    def publish() -> None:
        # The force publishes just after its feed was checked (the worst case: a whole
        # interval to wait), while the news feeds are all due.
        deadline = time.time() + 60
        while time.time() < deadline:
            with sessions() as session:
                checked = session.scalar(select(Feed.last_fetch_at).where(
                    Feed.owner == "force:west-midlands", Feed.status != "retired"))  # fmt: skip
            if checked is not None and checked.timestamp() > started:
                break
            time.sleep(0.5)
        with feeds_items.open("a") as out:  # the force's own feed, while the news feeds are due
            out.write(json.dumps({"guid": f"p-{tag}", "title": police_title, "at": time.time(),
                                  "description": "Officers are asking anyone near WV11 1AA "
                                  "with footage to call 101."}) + "\n")  # fmt: skip
        police_published["at"] = time.time()
        for n in range(args.bulletins):
            sent = time.time()
            answer = http.request(
                "POST",
                f"{base}/bulletins",
                headers={
                    "Authorization": f"Bearer {police_key}",
                    "Content-Type": "application/json",
                },
                body=json.dumps(
                    {
                        "kind": "warning" if n % 2 else "appeal",
                        "title": f"Update {n + 1} from the superintendent [{tag}]",
                        "body_html": "<p>Avoid the area around WV11 1AA tonight.</p>",
                    }
                ),
            )
            assert answer.status == 201, answer.data[:300]
            posted[json.loads(answer.data)["id"]] = sent
            time.sleep(max(0.0, sent + args.every - time.time()))

    police_published: dict[str, float] = {}
    waits: dict[str, float] = {}
    done = threading.Event()
    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    threading.Thread(target=overdue, daemon=True).start()
    _wrk(deployment.port, script, 2)  # warm
    direct = _wrk(deployment.port, script, args.seconds)
    cached = hit_share = None
    if shutil.which("nginx"):
        nginx, proxy_port, access = start_nginx(workdir, deployment.port)
        try:
            _wrk(proxy_port, script, 2)
            cached = _wrk(proxy_port, script, args.seconds)
            statuses = access.read_text().split()
            hit_share = sum(
                s in ("HIT", "STALE", "UPDATING", "REVALIDATED") for s in statuses
            ) / max(1, len(statuses))
        finally:
            nginx.terminate()
            nginx.wait(10)
    publisher.join()
    # Drain: every message queued for this run's bulletins received, or the deadline.
    deadline = time.time() + args.drain
    while time.time() < deadline:
        with sessions() as session:
            pending = session.scalar(select(func.count()).select_from(WebhookMessage).where(
                WebhookMessage.bulletin_id > first_bulletin,
                WebhookMessage.status == "pending"))  # fmt: skip
            police = session.scalar(
                select(Bulletin.created_at).where(Bulletin.title == police_title)
            )
        if not pending and police is not None:
            break
        time.sleep(1)
    time.sleep(2)
    deployment.stop()
    with sessions() as session:
        queued = dict(
            session.execute(
                select(WebhookMessage.msg_id, WebhookMessage.bulletin_id).where(
                    WebhookMessage.bulletin_id > first_bulletin
                )
            ).all()
        )
        police = session.scalar(select(Bulletin.created_at).where(Bulletin.title == police_title))
    arrivals = [
        json.loads(line) for line in receiver_log.read_text().splitlines()[received_before:]
    ]
    seen: dict[str, float] = {}
    duplicated = 0
    for _outlet, _event, _bulletin, _kind, _title, arrived, msg_id in arrivals:
        if msg_id in seen:
            duplicated += 1
        else:
            seen[msg_id] = arrived
    latencies = [seen[m] - posted[b] for m, b in queued.items() if m in seen and b in posted]
    with sessions() as session:
        still = set(
            session.scalars(
                select(WebhookMessage.msg_id).where(
                    WebhookMessage.bulletin_id > first_bulletin, WebhookMessage.status == "pending"
                )
            )
        )
    lost = sum(1 for m in queued if m not in seen and m not in still)
    done.set()
    first = min(posted.values()) if posted else started
    last = max((seen[m] for m, b in queued.items() if m in seen and b in posted), default=first)
    return {
        "direct": direct,
        "cached": cached,
        "hits": hit_share,
        "queued": len(queued),
        "lost": lost,
        "duplicated": duplicated,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "rate": len(latencies) / max(0.001, last - first),
        "police": (police.timestamp() - police_published["at"]) if police else None,
        "overdue": waits,
        "pending": len(still),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument("--bulletins", type=int, default=10)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between updates")
    parser.add_argument("--news-feeds", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20, help="each wrk leg")
    parser.add_argument("--drain", type=float, default=180.0)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("riot night needs wrk: apt-get install wrk (and nginx for the cached leg)")
    broker = redis.Redis.from_url(args.redis)
    broker.flushdb()
    workdir = Path(tempfile.mkdtemp(prefix="riot-"))
    engine, schema = database(args.database)
    url = engine.url.render_as_string(hide_password=False)
    feeds_items = workdir / "police-items.jsonl"
    feeds_items.write_text("")
    receiver_log = workdir / "received.jsonl"
    receiver_log.write_text("")
    feeds_process, feeds_port = _process(_serve_feeds, str(feeds_items))
    outlets_process, outlets_port = _process(_serve_outlets, str(receiver_log))
    try:
        floor = bare_posts(outlets_port)
        sessions, police_key, paths = setup(engine, args, feeds_port, outlets_port)
        common = {**os.environ, "HYPERLOCAL_DATABASE_URL": url, "HYPERLOCAL_HTTP_ALLOW_LOOPBACK":
                  "true", "HYPERLOCAL_POLICE_POLL_MINUTES": str(int(POLICE_INTERVAL // 60)),
                  "HYPERLOCAL_RATE_LIMIT_PUBLIC": "10000000 per minute",
                  "HYPERLOCAL_RATE_LIMIT_KEYS": "10000000 per minute",
                  "HYPERLOCAL_RATE_LIMIT_BULLETINS": "10000 per hour",
                  "HYPERLOCAL_HTTP_TIMEOUT_SECONDS": "10"}  # fmt: skip
        results = {}
        for name, extra in (("embedded", {}), ("celery", {"HYPERLOCAL_BROKER_URL": args.redis})):
            deployment = Deployment(name, {**common, **extra}, workdir)
            try:
                results[name] = run_mode(deployment, sessions, args, police_key, paths,
                                         feeds_items, receiver_log, workdir)  # fmt: skip
            finally:
                deployment.stop()
    finally:
        feeds_process.terminate()
        outlets_process.terminate()
        drop(engine, schema)
        broker.flushdb()
    print(f"riot night: {args.outlets} outlets by webhook, {args.bulletins} updates "
          f"{args.every:g} s apart, {args.news_feeds} news feeds due at once, PostgreSQL; "
          f"reads: wrk -t2 -c32 {args.seconds} s on {len(paths)} paths (local lookup, area "
          "page, subscription feeds)")  # fmt: skip
    for name, r in results.items():
        reads = f"direct {r['direct'][0]:,.0f} req/s p99 {r['direct'][1]:.0f} ms"
        if r["cached"]:
            reads += (f"; through nginx's cache {r['cached'][0]:,.0f} req/s p99 "
                      f"{r['cached'][1]:.0f} ms ({r['cached'][0] / r['direct'][0]:.1f}x direct, "
                      f"{r['hits']:.0%} from the cache)")  # fmt: skip
        police = f"{r['police']:.0f} s" if r["police"] is not None else "NOT PICKED UP"
        met = r["police"] is not None and r["police"] <= POLICE_INTERVAL + 10
        waits = r["overdue"]
        print(f"{name:>9}: reads {reads}")
        print(f"{'':>9}  publish -> webhook p50 {r['p50']:.1f} s, p95 {r['p95']:.1f} s; "
              f"{r['rate']:,.0f} events/s; {r['queued']:,} queued, lost {r['lost']} (still "
              f"queued at the end {r['pending']}), duplicated {r['duplicated']}")  # fmt: skip
        print(f"{'':>9}  police pickup {police} after publishing just after a check (target <= "
              f"the {POLICE_INTERVAL:.0f} s interval + 10 s: {'met' if met else 'MISSED'}); "
              f"longest a due feed waited: police {waits.get('police', 0):.0f} s, news "
              f"{waits.get('news', 0):.0f} s")  # fmt: skip
    if "embedded" in results and "celery" in results:
        ratio = results["celery"]["rate"] / max(0.001, results["embedded"]["rate"])
        print(f"celery / embedded delivery rate: {ratio:.2f}x (target >= 1); baseline: bare "
              f"POSTs to the same receiver from 16 threads, {floor:,.0f}/s (celery "
              f"{results['celery']['rate'] / floor:.0%} of it, embedded "
              f"{results['embedded']['rate'] / floor:.0%})")  # fmt: skip


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
