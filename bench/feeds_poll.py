"""Feed polling: 1,000 feeds of 20 items on a loopback server, against bare feedparser.

    python bench/feeds_poll.py                       # SQLite in a temporary file
    python bench/feeds_poll.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test

Figures, all from one run:
- bare: ``feedparser.parse(bytes)`` of the same 1,000 documents, items/s (the baseline);
- first poll: ``poll_and_publish`` over all 1,000 feeds (fetch over HTTP, parse, sanitise, store
  with tags, schedule), items/s and its ratio to the baseline (target >= 0.6);
- second poll: every feed due again and answering 304 to its ETag, time as a share of the
  first poll's (target <= 5%);
- peak memory: the poller's peak RSS, and the growth over the RSS before the first poll.

The server runs in its own process (so it does not share the poller's GIL), speaks HTTP/1.1
keep-alive, and answers If-None-Match with 304.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402
from sqlalchemy import text, update  # noqa: E402

from directory.police.models import PoliceForce  # noqa: E402
from directory.schema import upgrade_database  # noqa: E402
from directory.storage import create_db_engine, make_session_factory, utcnow  # noqa: E402
from feeds.ingest.http import LOOPBACK_NETWORKS, FetchPolicy, HttpClient  # noqa: E402
from feeds.ingest.models import Feed  # noqa: E402
from feeds.ingest.registry import WantedFeed, new_feed  # noqa: E402
from feeds.worker import poll_and_publish  # noqa: E402

FEEDS = 1_000
ITEMS = 20
WORDS = ("appeal witnesses burglary Wednesfield community meeting road closure library "
         "festival council planning school police officers patrol Heath Town park volunteers "
         "market bus route consultation").split()  # fmt: skip


def document(n: int) -> bytes:
    """A realistic RSS 2.0 feed: 20 items with HTML descriptions, categories and hashtags."""
    now = utcnow()
    items = []
    for i in range(ITEMS):
        words = " ".join(WORDS[(n + i + k) % len(WORDS)] for k in range(60))
        items.append(
            f"<item><title>Item {i} of feed {n}: {WORDS[(n + i) % len(WORDS)]} news</title>"
            f"<link>https://site{n}.example.org/{i}</link><guid>site{n}-{i}</guid>"
            f"<pubDate>{format_datetime(now)}</pubDate><category>News</category>"
            f"<category>Community</category><description><![CDATA[<p>{words} "
            f'<a href="https://site{n}.example.org/more/{i}">more</a> #truepicture</p>'
            f'<p><img src="https://site{n}.example.org/{i}.jpg" alt="photo"></p>]]>'
            f"</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Feed {n}</title><link>https://site{n}.example.org/</link>"
        f"<description>Bench</description>{''.join(items)}</channel></rss>"
    ).encode()


def serve(port_queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    documents = {f"/feed/{n}": document(n) for n in range(FEEDS)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes

        def do_GET(self) -> None:  # noqa: N802
            body = documents.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = f'"{self.path}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    base = f"http://127.0.0.1:{port}"

    tmp = tempfile.TemporaryDirectory()
    url = args.database or f"sqlite:///{tmp.name}/bench.db"
    schema = None
    if url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_db_engine(url)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}options=-csearch_path%3D{schema}"
    engine = create_db_engine(url, pool_size=args.concurrency + 2)
    try:
        upgrade_database(engine)
        sessions = make_session_factory(engine)
        now = utcnow()
        with sessions() as session:
            session.add(PoliceForce(id="bench", name="Bench", description="", engagement=[],
                                    updated_at=now))  # fmt: skip
            session.flush()
            for n in range(FEEDS):
                want = WantedFeed(f"{base}/feed/{n}", "police", "listed")
                session.add(new_feed("force:bench", {"force_id": "bench"}, want, now))
            session.commit()

        # Baseline: bare feedparser over the same bytes, in this process.
        docs = [document(n) for n in range(FEEDS)]
        start = time.perf_counter()
        parsed_items = sum(len(feedparser.parse(doc).entries) for doc in docs)
        bare = time.perf_counter() - start
        bare_rate = parsed_items / bare
        del docs

        client = HttpClient(FetchPolicy(allowed_networks=LOOPBACK_NETWORKS))
        before = current_rss_mb()
        start = time.perf_counter()
        first = poll_and_publish(sessions, client, concurrency=args.concurrency)
        first_time = time.perf_counter() - start
        peak = rss_mb()
        assert first.new_posts == FEEDS * ITEMS, first.line()
        first_rate = first.new_posts / first_time

        with sessions() as session:
            session.execute(update(Feed).values(next_check_at=utcnow()))
            session.commit()
        start = time.perf_counter()
        second = poll_and_publish(sessions, client, concurrency=args.concurrency)
        second_time = time.perf_counter() - start
        assert second.outcomes.get("not_modified") == FEEDS, second.line()

        backend = "PostgreSQL" if schema else "SQLite"
        print(f"bare feedparser.parse(bytes): {parsed_items:,} items in {bare:.2f} s = "
              f"{bare_rate:,.0f} items/s (baseline)")  # fmt: skip
        print(f"first poll, {FEEDS:,} feeds x {ITEMS} items, {backend}, {args.concurrency} "
              f"threads: {first_time:.2f} s = {first_rate:,.0f} items/s: ratio "
              f"{first_rate / bare_rate:.2f} (target >= 0.6)")  # fmt: skip
        print(f"second poll, all 304: {second_time:.2f} s = {second_time / first_time:.1%} of "
              f"the first (target <= 5%)")  # fmt: skip
        print(f"poller memory: peak RSS {peak:.0f} MB (before the first poll {before:.0f} MB)")
    finally:
        engine.dispose()
        if schema:
            admin = create_db_engine(args.database)
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
        server.terminate()
        tmp.cleanup()


if __name__ == "__main__":
    main()
