"""Pickup and withdrawal: from a police publication to every outlet's webhook, by path.

    python bench/pickup.py                     # SQLite in a temporary file, about 6 minutes
    python bench/pickup.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/pickup.py --minutes 2 --police-interval 30 --outlets 50   # a quick run

A day of police publishing, compressed into ``--minutes``, through the real service: the
app served over HTTP on loopback and the worker (``feeds.worker.run_worker``: the poll loop
and the webhook sender, as ``hyperlocal serve`` runs them), on the demo directory.

- polled: West Midlands' news feed on a loopback server, polled at the police interval
  (``--police-interval``, the ``POLICE_POLL_MINUTES`` setting; 5 minutes by default in the
  service, shorter here so the run is short: the bound scales with it);
- pushed: Leicestershire's feed advertises a WebSub hub on the same loopback server; the
  worker subscribes (the hub verifies our intent at the app's callback), and the hub pushes
  the signed feed to the callback the moment an item is published;
- direct: West Midlands posts bulletins to ``POST /bulletins`` over HTTP.

Appeals and missing-person notices, every missing person found later in the day: on the
feeds half by a separate update item ("<name>, <age>, has been found") and half by editing
the original in place ("UPDATE: ... found safe"), directly by ``PATCH status=resolved``.
``--outlets`` outlets (default 200: 60% around Wolverhampton, 40% around Leicester), each a
subscription with its own webhook on a receiver in its own process, which records when each
event arrived.

Figures: publication -> ``bulletin.published`` received, p50 and p95 over every (bulletin,
outlet) pair, per path; closure -> ``bulletin.withdrawn`` received at every outlet that had
the bulletin, p95, per path, and how many of those withdrawals arrived at all. Targets: polled
p95 <= the police interval + 60 s; pushed and direct p95 <= 10 s. Baseline in the same run:
one bare HTTP POST to the same receiver (the floor any delivery pays), p50.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qs, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import urllib3  # noqa: E402
from sqlalchemy import select, update  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from api import create_app  # noqa: E402
from bench.syndication import add_subscriptions, database, drop  # noqa: E402
from directory.geography.area_specs import area_from_spec  # noqa: E402
from directory.geography.postcode_import import import_postcodes  # noqa: E402
from directory.keys.store import create_api_key  # noqa: E402
from directory.police.models import PoliceForce  # noqa: E402
from directory.storage import make_session_factory  # noqa: E402
from feeds.demo import load_demo_directory  # noqa: E402
from feeds.ingest.http import LOOPBACK_NETWORKS, FetchPolicy, HttpClient  # noqa: E402
from feeds.ingest.models import Feed, WebSubLease  # noqa: E402
from feeds.ingest.registry import sync_force_feeds  # noqa: E402
from feeds.worker import run_worker  # noqa: E402

FIRST_NAMES = ["Ayesha", "Kayden", "Maisie", "Tomasz", "Priya", "Callum", "Imogen", "Reuben",
               "Zara", "Declan", "Freya", "Oskar", "Leah", "Ibrahim", "Niamh"]  # fmt: skip
PLACES = {"polled": ("Wednesfield", "WV11 1AA"), "pushed": ("Leicester", "LE1 1AA"),
          "direct": ("Heath Town", "WV10 6AA")}  # fmt: skip
APPEALS = ["CCTV appeal after a burglary in {place}", "Appeal for witnesses to a robbery in "
           "{place}", "Appeal after a car was set alight in {place}"]  # fmt: skip
TAG = re.compile(r"\[([a-z]\d+)\]")
PREFIX = {"polled": "f", "pushed": "h", "direct": "d"}  # each bulletin's tag: "[h3]"


# ---------------------------------------------------------------------------- the day


def plan_day(path: str, start: float, window: float, count: int, rng: random.Random,
             closure_after: tuple[float, float]) -> list[dict]:  # fmt: skip
    """A path's publications: (at, guid, title, description, tag, kind, closes) each, the
    missing people found ``closure_after`` seconds later (half by an update item, half by an
    edit of the original in place)."""
    place, postcode = PLACES[path]
    events = []
    for n in range(count):
        at = start + window * (n + rng.random()) / count
        tag = f"{PREFIX[path]}{n}"
        if n % 2 == 0:
            title = rng.choice(APPEALS).format(place=place) + f" [{tag}]"
            events.append({"at": at, "guid": tag, "title": title, "tag": tag, "kind": "appeal",
                           "description": f"Officers want to hear from anyone near {postcode} "
                           "who saw what happened. Call 101."})  # fmt: skip
            continue
        name, age = FIRST_NAMES[(n // 2) % len(FIRST_NAMES)], 12 + n % 6
        events.append({"at": at, "guid": tag, "tag": tag, "kind": "missing",
                       "title": f"Missing {age}-year-old {name} from {place} [{tag}]",
                       "description": f"{name} was last seen near {postcode}. Have you seen "
                       f"{'him' if n % 4 == 1 else 'her'}? Call 101."})  # fmt: skip
        closed_at = at + rng.uniform(*closure_after)
        if n % 4 == 1:  # edited in place: the same guid, retitled
            events.append({"at": closed_at, "guid": tag, "tag": tag, "kind": "closure",
                           "closes": tag, "title": f"UPDATE: {name}, {age}, from {place} found "
                           f"safe [{tag}]", "description": f"{name} has been found safe and "
                           "well. Thank you for sharing our appeal."})  # fmt: skip
        else:
            events.append({"at": closed_at, "guid": f"{tag}x", "tag": f"{tag}x",
                           "kind": "closure", "closes": tag,
                           "title": f"{name}, {age}, has been found [{tag}x]",
                           "description": f"{name}, who was reported missing from {place}, "
                           "has been found safe. Thank you for your help."})  # fmt: skip
    return sorted(events, key=lambda e: e["at"])


def feed_document(events: list[dict], now: float, hub: str | None, self_url: str) -> bytes:
    """The RSS a force's server shows at ``now``: each guid's latest version published."""
    latest: dict[str, dict] = {}
    for event in events:
        if event["at"] <= now:
            first = latest.get(event["guid"], event)
            latest[event["guid"]] = {**event, "published": first["at"]}
    items = "".join(
        f'<item><guid isPermaLink="false">{e["guid"]}</guid><title>{e["title"]}</title>'
        f"<link>https://police.example.org/news/{e['guid']}</link>"
        f"<pubDate>{formatdate(e['published'], usegmt=True)}</pubDate>"
        f"<description>{e['description']}</description></item>"
        for e in sorted(latest.values(), key=lambda e: -e["published"])
    )
    links = f'<atom:link rel="self" href="{self_url}"/>'
    if hub:
        links += f'<atom:link rel="hub" href="{hub}"/>'
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Police news</title>'
        f"<link>https://police.example.org/</link>{links}{items}</channel></rss>"
    ).encode()


# ---------------------------------------------------------------------------- the forces' server


def _serve_forces(port_box, ready, polled: list[dict], pushed: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """The forces' web server and the pushed force's WebSub hub, in a process of its own."""
    subscribers: list[tuple[str, str, str]] = []  # (callback, secret, topic)
    lock = threading.Lock()
    http = urllib3.PoolManager(maxsize=4)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            base = f"http://127.0.0.1:{self.server.server_port}"
            if self.path not in ("/polled.rss", "/pushed.rss"):
                return self._answer(404, b"")
            events = polled if self.path == "/polled.rss" else pushed
            hub = f"{base}/hub" if self.path == "/pushed.rss" else None
            body = feed_document(events, time.time(), hub, base + self.path)
            etag = '"' + hashlib.sha256(body.split(b"<item>", 1)[-1]).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._answer(304, b"", {"ETag": etag})
            return self._answer(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})

        def do_POST(self) -> None:  # noqa: N802
            form = {k: v[0] for k, v in parse_qs(
                self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}  # fmt: skip
            self._answer(202, b"")
            threading.Thread(target=verify, args=(form,), daemon=True).start()

        def _answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    def verify(form: dict[str, str]) -> None:
        query = urlencode({"hub.mode": "subscribe", "hub.topic": form["hub.topic"],
                           "hub.challenge": "bench-challenge",
                           "hub.lease_seconds": 86400})  # fmt: skip
        answer = http.request("GET", f"{form['hub.callback']}?{query}")
        if answer.status == 200 and answer.data == b"bench-challenge":
            with lock:
                subscribers.append((form["hub.callback"], form["hub.secret"], form["hub.topic"]))

    def pusher() -> None:
        """At each publication, push the feed as it now stands to every subscriber."""
        for event in pushed:
            time.sleep(max(0.0, event["at"] - time.time()))
            with lock:
                targets = list(subscribers)
            for callback, secret, topic in targets:
                body = feed_document(pushed, time.time(), topic.rsplit("/", 1)[0] + "/hub",
                                     topic)  # fmt: skip
                signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                http.request("POST", callback, body=body, headers={
                    "Content-Type": "application/rss+xml", "X-Hub-Signature":
                    f"sha256={signature}"})  # fmt: skip

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_box.value = server.server_port
    threading.Thread(target=pusher, daemon=True).start()
    ready.set()
    server.serve_forever()


# ---------------------------------------------------------------------------- the outlets


def _serve_outlets(port_box, ready, log_path: str) -> None:  # type: ignore[no-untyped-def]
    """Every outlet's webhook: records (outlet, event, bulletin id, kind, title, when,
    webhook-id) per event."""
    out = open(log_path, "a", buffering=1)  # noqa: SIM115 (open for the process's life)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            arrived = time.time()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if self.path.startswith("/o"):
                event = json.loads(body)
                data = event["data"]
                line = json.dumps([self.path, event["type"], data["id"], data.get("kind"),
                                   data.get("title", ""), arrived,
                                   self.headers.get("webhook-id")])  # fmt: skip
                with lock:
                    out.write(line + "\n")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_box.value = server.server_port
    ready.set()
    server.serve_forever()


def _process(target, *args):  # type: ignore[no-untyped-def]
    port, ready = multiprocessing.Value("i", 0), multiprocessing.Event()
    process = multiprocessing.Process(target=target, args=(port, ready, *args), daemon=True)
    process.start()
    ready.wait(10)
    return process, port.value


def bare_post_ms(port: int, rounds: int = 200) -> float:
    """The floor: one bare POST of an event-sized body to the same receiver, p50 in ms."""
    http = urllib3.PoolManager(maxsize=1)
    body = json.dumps({"type": "x", "data": {"id": 0, "title": "x" * 1000}}).encode()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        http.request("POST", f"http://127.0.0.1:{port}/baseline", body=body)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# ---------------------------------------------------------------------------- the run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:  # noqa: C901 (one run, read top to bottom)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--minutes", type=float, default=4.0, help="the compressed day")
    parser.add_argument("--police-interval", type=float, default=60.0, help="seconds")
    parser.add_argument("--outlets", type=int, default=200)
    parser.add_argument("--per-path", type=int, default=12, help="publications per path")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    interval = args.police_interval

    engine, schema = database(args.database)
    url = engine.url.render_as_string(hide_password=False)
    import_postcodes(engine, Path(str(files("directory.data").joinpath("codepo_demo.zip"))))
    sessions = make_session_factory(engine)
    with sessions() as session:
        load_demo_directory(session)
        session.execute(update(Feed).values(status="retired"))  # only the bench's feeds
        session.commit()

    log_path = tempfile.mktemp(suffix=".jsonl")
    outlets_process, outlets_port = _process(_serve_outlets, log_path)
    floor_ms = bare_post_ms(outlets_port)

    window = args.minutes * 60
    start = time.time() + 20  # after the first poll, the WebSub subscription and warm-up
    closure_after = (20.0, max(25.0, window / 4))
    plans = {path: plan_day(path, start, window * 0.8, args.per_path, rng, closure_after)
             for path in ("polled", "pushed", "direct")}  # fmt: skip
    forces_process, forces_port = _process(_serve_forces, plans["polled"], plans["pushed"])
    base = f"http://127.0.0.1:{forces_port}"

    with sessions() as session:
        for force_id, path in (("west-midlands", "polled"), ("leicestershire", "pushed")):
            force = session.get(PoliceForce, force_id)
            force.engagement = [{"type": "rss", "title": "News", "url": f"{base}/{path}.rss",
                                 "description": ""}]  # fmt: skip
            sync_force_feeds(session, force)
        areas, hooks = [], []
        for n in range(args.outlets):
            centre = "WV11 1AA" if n < args.outlets * 0.6 else "LE1 1AA"
            spec = {"type": "circle", "center": centre, "radius_m": rng.uniform(3000, 8000)}
            areas.append(area_from_spec(session, spec))
            hooks.append(f"http://127.0.0.1:{outlets_port}/o{n}")
        police_key = create_api_key(session, "police:west-midlands").secret
        session.commit()
    add_subscriptions(sessions, areas, webhook_urls=hooks)

    server_app = create_app({"DATABASE_URL": url, "HTTP_ALLOW_LOOPBACK": True, "WORKER": "off"})
    server = make_server("127.0.0.1", 0, server_app, threaded=True)
    public = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = HttpClient(FetchPolicy(allowed_networks=LOOPBACK_NETWORKS, total_timeout=10))
    stop = threading.Event()
    options = {
        "police_interval": timedelta(seconds=interval),
        "public_url": public,
        "max_sleep": 5.0,
    }
    worker = threading.Thread(target=run_worker, args=(make_session_factory(engine), client, stop),
                              kwargs=options, daemon=True)  # fmt: skip
    worker.start()

    # Direct posts and their closures, at their times, over HTTP.
    http = urllib3.PoolManager(maxsize=2)
    auth = {"Authorization": f"Bearer {police_key}", "Content-Type": "application/json"}
    direct_ids: dict[str, int] = {}
    for event in plans["direct"]:
        time.sleep(max(0.0, event["at"] - time.time()))
        event["sent"] = time.time()
        if event["kind"] == "closure":
            http.request("PATCH", f"{public}/bulletins/{direct_ids[event['closes']]}",
                         body=json.dumps({"status": "resolved", "note": "found safe"}),
                         headers=auth)  # fmt: skip
            continue
        answer = http.request("POST", f"{public}/bulletins", headers=auth, body=json.dumps({
            "kind": event["kind"], "title": event["title"],
            "body_html": f"<p>{event['description']}</p>"}))  # fmt: skip
        direct_ids[event["tag"]] = json.loads(answer.data)["id"]
    last = max(e["at"] for plan in plans.values() for e in plan)
    time.sleep(max(0.0, last + interval + 60 - time.time()))
    stop.set()
    worker.join(30)
    with sessions() as session:
        lease = session.scalar(select(WebSubLease))
        lease_state = f"{lease.state}, {lease.pushes} pushes" if lease else "none"
    server.shutdown()
    forces_process.terminate()
    outlets_process.terminate()

    received = [json.loads(line) for line in Path(log_path).read_text().splitlines()]
    print(f"{args.outlets} outlets, {args.per_path} publications per path over a day compressed "
          f"into {args.minutes:g} min, police poll interval {interval:g} s, "
          f"{engine.dialect.name}; WebSub lease: {lease_state}")  # fmt: skip
    print(f"baseline: one bare POST to the receiver, p50 {floor_ms:.1f} ms")
    for path, plan in plans.items():
        published_at = {e["tag"]: e.get("sent", e["at"]) for e in plan if e["kind"] != "closure"}
        closed_at = {e["closes"]: e.get("sent", e["at"]) for e in plan if e["kind"] == "closure"}
        first_seen: dict[tuple[str, str], float] = {}
        tag_of: dict[int, str] = {}
        for outlet, event, bulletin_id, kind, title, arrived, _msg_id in received:
            match = TAG.search(title)
            if (event == "bulletin.published" and kind in ("appeal", "missing") and match
                    and match.group(1) in published_at):  # fmt: skip
                tag_of[bulletin_id] = match.group(1)
                first_seen.setdefault((match.group(1), outlet), arrived)
        withdrawn: dict[tuple[str, str], float] = {}
        for outlet, event, bulletin_id, _kind, _title, arrived, _msg_id in received:
            if event == "bulletin.withdrawn" and bulletin_id in tag_of:
                withdrawn.setdefault((tag_of[bulletin_id], outlet), arrived)
        pickup = [arrived - published_at[tag] for (tag, _o), arrived in first_seen.items()]
        owed = [(tag, outlet) for (tag, outlet) in first_seen if tag in closed_at]
        withdrawal = [withdrawn[p] - closed_at[p[0]] for p in owed if p in withdrawn]
        target = interval + 60 if path == "polled" else 10.0
        reached = len({tag for tag, _ in first_seen})
        p95 = percentile(pickup, 0.95)
        print(f"{path:>6}: publication -> webhook: {len(pickup)} deliveries of {reached}/"
              f"{len(published_at)} bulletins, p50 {percentile(pickup, 0.5):.1f} s, p95 "
              f"{p95:.1f} s (target <= {target:g} s: {'met' if p95 <= target else 'MISSED'}; "
              f"{p95 * 1000 / floor_ms:,.0f}x the bare POST)")  # fmt: skip
        if owed:
            w95 = percentile(withdrawal, 0.95)
            met = w95 <= target and len(withdrawal) == len(owed)
            print(f"{'':>6}  closure -> withdrawal at every outlet that had it: "
                  f"{len(withdrawal)}/{len(owed)} received, p50 "
                  f"{percentile(withdrawal, 0.5):.1f} s, p95 {w95:.1f} s (target <= {target:g} "
                  f"s: {'met' if met else 'MISSED'})")  # fmt: skip
    drop(engine, schema)


if __name__ == "__main__":
    main()
