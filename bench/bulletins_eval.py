"""How well police items are judged: kind, place and what an update closes, on a labelled file.

    python bench/bulletins_eval.py tests/data/bulletins_eval.json
    python bench/bulletins_eval.py ITEMS.json --codepoint ../shared/data/codepo_gb.zip --json OUT

ITEMS.json is a list of ``{"id", "force", "title", "summary", "published", "guid", "link",
"label", "postcodes", "places", "resolves"}`` (label: appeal, missing, wanted, warning, update
or other; postcodes and places: what a careful reader finds in the text; resolves: the id of
the item an update closes, or null).

The items are served as one RSS feed per force on a loopback server (each force's RSS
engagement method points at its feed) and read by the real poller into a fresh database holding
the postcode data, replayed in publication order with the service's clock at each item's time:
at each step the feed lists the items published so far, the poller fetches it, and bulletins
past their lifetime expire, as a poller watching live would have seen it. Then it prints kind
accuracy and a confusion matrix, closures published as new alerts, postcode recall and false
hits, place recall, how bulletins were located, the share that fell back to the whole force,
and how many updates closed what they refer to. ``--json OUT`` also writes, per item, what the
service made of it.

The postcode data is imported once into a cached template database (``--cache``) and copied for
each run, so a run starts from a fresh database without a 1.7 million row import every time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic.script import ScriptDirectory  # noqa: E402
from pyproj import Geod  # noqa: E402
from sqlalchemy import select  # noqa: E402

from directory.geography.areas import area_from_json  # noqa: E402
from directory.geography.postcode_format import PostcodeInvalid, parse_postcode  # noqa: E402
from directory.geography.postcode_import import import_postcodes  # noqa: E402
from directory.police.models import PoliceForce  # noqa: E402
from directory.schema import alembic_config, schema_status, upgrade_database  # noqa: E402
from directory.storage import create_db_engine, make_session_factory  # noqa: E402
from feeds.ingest.http import LOOPBACK_NETWORKS, FetchPolicy, HttpClient  # noqa: E402
from feeds.ingest.models import Feed, Post  # noqa: E402
from feeds.ingest.refresh import refresh_feed  # noqa: E402
from feeds.ingest.registry import sync_force_feeds  # noqa: E402
from feeds.syndication.bulletins import bulletins_from_posts, expire_bulletins  # noqa: E402
from feeds.syndication.models import PRECISION, Bulletin  # noqa: E402

LABELS = ("appeal", "missing", "wanted", "warning", "update", "other")
ALERTS = ("appeal", "missing", "wanted", "warning")
DEFAULT_CODEPOINT = ROOT.parent / "shared" / "data" / "codepo_gb.zip"
DEMO_CODEPOINT = ROOT / "directory" / "data" / "codepo_demo.zip"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "hyperlocal-eval-cache"
GEOD = Geod(ellps="WGS84")
FIELDS = ("id", "force", "title", "summary", "published", "guid", "link", "label", "postcodes",
          "places", "resolves")  # fmt: skip


# ------------------------------------------------------------------------------ items


def load_items(path: Path) -> list[dict[str, Any]]:
    """The labelled items, checked: every field there, labels known, ids and guids unique."""
    items = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(items, list) or not items:
        raise SystemExit(f"{path}: expected a non-empty JSON list of items")
    ids: set[str] = set()
    guids: set[str] = set()
    for n, item in enumerate(items, 1):
        missing = [name for name in FIELDS if name not in item]
        if missing:
            raise SystemExit(f"{path}: item {n} lacks {', '.join(missing)}")
        if item["label"] not in LABELS:
            raise SystemExit(f"{path}: item {item['id']}: label {item['label']!r} is not one "
                             f"of {', '.join(LABELS)}")  # fmt: skip
        if item["id"] in ids or item["guid"] in guids:
            raise SystemExit(f"{path}: item {item['id']}: its id or guid is used twice")
        ids.add(item["id"])
        guids.add(item["guid"])
        item["_at"] = _when(item["published"])
    return sorted(items, key=lambda item: (item["_at"], item["id"]))


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------------- the feeds


class Feeds:
    """One RSS document per force, listing the items published up to ``clock``."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.clock = datetime.min.replace(tzinfo=UTC)
        self.lock = threading.Lock()

    def document(self, force: str) -> bytes:
        with self.lock:
            shown = [i for i in self.items if i["force"] == force and i["_at"] <= self.clock]
        entries = "".join(
            f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
            f'<guid isPermaLink="false">{escape(i["guid"])}</guid>'
            f"<pubDate>{format_datetime(i['_at'])}</pubDate>"
            f"<description>{escape(i['summary'])}</description></item>"
            for i in reversed(shown)
        )
        head = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{escape(force)} news</title><link>https://{force}.example/</link>"
                "<description>Police news</description>")  # fmt: skip
        return f"{head}{entries}</channel></rss>".encode()


def serve(feeds: Feeds) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            force = self.path.strip("/").removesuffix(".rss")
            body = feeds.document(force)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -------------------------------------------------------------------------- database


def fresh_database(codepoint: Path, cache: Path, workdir: Path) -> str:
    """A SQLite database at the newest schema holding ``codepoint``'s postcodes: a copy of a
    cached template, made once per Code-Point file and schema revision."""
    cache.mkdir(parents=True, exist_ok=True)
    stat = codepoint.stat()
    probe = create_db_engine(f"sqlite:///{workdir / 'probe.db'}")
    head = schema_status(probe).head
    scripts = ScriptDirectory.from_config(alembic_config(str(probe.url))).versions
    probe.dispose()
    digest = hashlib.sha256()  # the migrations' text: an edited revision is a new template
    for script in sorted(Path(scripts).glob("*.py")):
        digest.update(script.read_bytes())
    template = cache / (f"{codepoint.stem}-{stat.st_size}-{int(stat.st_mtime)}-{head}-"
                        f"{digest.hexdigest()[:10]}.db")  # fmt: skip
    if not template.exists():
        print(f"importing {codepoint} into {template} (once; later runs copy it)...")
        building = template.with_suffix(".building")
        building.unlink(missing_ok=True)
        engine = create_db_engine(f"sqlite:///{building}")
        upgrade_database(engine)
        import_postcodes(engine, codepoint)
        engine.dispose()
        building.rename(template)
    target = workdir / "eval.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def add_forces(sessions: Any, forces: list[str], base: str) -> dict[str, int]:
    """Each force with its RSS engagement method on the loopback server; its feed's id."""
    feed_ids = {}
    with sessions() as session:
        for force_id in forces:
            force = session.get(PoliceForce, force_id) or PoliceForce(
                id=force_id, name=force_id.replace("-", " ").title(), url=None, description="",
                telephone=None, engagement=[], updated_at=datetime.now(UTC),
            )  # fmt: skip
            force.engagement = [{"type": "rss", "title": "News", "url": f"{base}/{force_id}.rss",
                                 "description": ""}]  # fmt: skip
            session.add(force)
            session.flush()
            sync_force_feeds(session, force)
        session.commit()
        for force_id in forces:
            feed_ids[force_id] = session.scalar(
                select(Feed.id).where(Feed.force_id == force_id, Feed.status == "active")
            )
    return feed_ids


# ------------------------------------------------------------------------------ run


def replay(sessions: Any, items: list[dict[str, Any]], feeds: Feeds, feed_ids: dict[str, int],
           client: HttpClient) -> None:  # fmt: skip
    """Each item's force's feed polled at the item's time, in publication order."""
    for item in items:
        now = item["_at"] + timedelta(minutes=1)
        feeds.clock = item["_at"]
        with sessions() as session:
            expire_bulletins(session, now)
            session.commit()
        result = refresh_feed(sessions, feed_ids[item["force"]], client, now=now,
                              on_new_posts=bulletins_from_posts)  # fmt: skip
        if result.outcome == "error":
            raise SystemExit(f"polling {item['force']} failed at {item['id']}: {result.error}")


def outcomes(sessions: Any, items: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """What the service made of each item: its bulletin, as the --json output describes it."""
    by_guid = {item["guid"]: item["id"] for item in items}
    with sessions() as session:
        posts = dict(session.execute(select(Post.id, Post.guid)).all())
        bulletins = session.scalars(select(Bulletin)).all()
        item_of_bulletin = {b.id: by_guid.get(posts.get(b.post_id)) for b in bulletins}
        made: dict[str, dict[str, Any] | None] = {item["id"]: None for item in items}
        for bulletin in bulletins:
            item_id = item_of_bulletin[bulletin.id]
            if item_id is None:
                continue
            made[item_id] = describe(bulletin, item_of_bulletin)
    return made


def describe(bulletin: Bulletin, item_of_bulletin: dict[int, str | None]) -> dict[str, Any]:
    area = area_from_json(bulletin.area) if bulletin.area else None
    postcodes = list(bulletin.postcodes or [])
    places = list(bulletin.places or [])
    area_km2 = None
    if area is not None:
        area_km2 = round(abs(GEOD.geometry_area_perimeter(area.geometry)[0]) / 1e6, 3)
    return {
        "kind": bulletin.kind,
        "status": bulletin.status,
        "located_by": bulletin.located_by,
        "precision": PRECISION.get(bulletin.located_by),
        "postcodes": postcodes,
        "places": places,
        "area_km2": area_km2,
        "resolved_by": item_of_bulletin.get(bulletin.resolved_by_id)
        if bulletin.resolved_by_id
        else None,
    }


# -------------------------------------------------------------------------- figures


def _code(text: str) -> str:
    try:
        return parse_postcode(text).display
    except PostcodeInvalid:
        return text.strip().upper()


def _place(text: str) -> str:
    return " ".join(text.replace(".", " ").lower().split())


def figures(items: list[dict[str, Any]], made: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    confusion: Counter[tuple[str, str]] = Counter()
    codes_wanted = codes_found = codes_false = 0
    places_wanted = places_found = 0
    located: Counter[str] = Counter()
    closures_as_alerts = []
    force_wide = force_wide_named = 0
    for item in items:
        bulletin = made[item["id"]]
        predicted = bulletin["kind"] if bulletin else "other"
        confusion[(item["label"], predicted)] += 1
        if item["label"] == "update" and predicted in ALERTS:
            closures_as_alerts.append(item["id"])
        if item["label"] == "other":
            continue
        wanted = {_code(c) for c in item["postcodes"]}
        used = {_code(c) for c in (bulletin or {}).get("postcodes", [])}
        codes_wanted += len(wanted)
        codes_found += len(wanted & used)
        codes_false += len(used - wanted)
        names = {_place(p) for p in item["places"]}
        found = {_place(p) for p in (bulletin or {}).get("places", [])}
        places_wanted += len(names)
        places_found += len(names & found)
        if bulletin:
            located[bulletin["precision"] or "unlocated"] += 1
            if bulletin["precision"] in ("force", None):
                force_wide += 1
                force_wide_named += bool(item["places"] or item["postcodes"])
    right = sum(n for (label, predicted), n in confusion.items() if label == predicted)
    hard = [i for i in items if i["label"] == "update" or i["label"] == "other"]
    hard_right = sum(1 for i in hard if (made[i["id"]] or {}).get("kind", "other") == i["label"])
    updates = [i for i in items if i["label"] == "update" and i["resolves"]]
    closed = sum(
        1 for i in updates if (made.get(i["resolves"]) or {}).get("resolved_by") == i["id"]
    )
    wrong_closures = sum(
        1 for item_id, b in made.items()
        if b and b["resolved_by"] and b["resolved_by"] not in
        {i["id"] for i in items if i["resolves"] == item_id}
    )  # fmt: skip
    bulletins = sum(located.values())
    return {
        "items": len(items),
        "kind_accuracy": right / len(items),
        "kind_accuracy_updates_and_others": hard_right / len(hard) if hard else None,
        "confusion": {label: {p: confusion[(label, p)] for p in LABELS} for label in LABELS},
        "closures_published_as_alerts": closures_as_alerts,
        "postcode_recall": codes_found / codes_wanted if codes_wanted else None,
        "postcode_false_hits": codes_false,
        "place_recall": places_found / places_wanted if places_wanted else None,
        "located_by": dict(located),
        "force_wide_share": force_wide / bulletins if bulletins else None,
        "force_wide_although_named": force_wide_named,
        "resolution_accuracy": closed / len(updates) if updates else None,
        "updates_with_a_reference": len(updates),
        "wrong_closures": wrong_closures,
    }


def report(figs: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    lines = [
        f"items: {figs['items']}",
        f"kind accuracy: {pct(figs['kind_accuracy'])} "
        f"(updates and others: {pct(figs['kind_accuracy_updates_and_others'])})",
        "confusion (rows: label, columns: what the service made):",
        "            " + " ".join(f"{p:>8}" for p in LABELS),
    ]
    for label in LABELS:
        row = figs["confusion"][label]
        lines.append(f"  {label:>8}  " + " ".join(f"{row[p]:>8}" for p in LABELS))
    closures = figs["closures_published_as_alerts"]
    lines += [
        f"closures published as new alerts: {len(closures)}"
        + (f" ({', '.join(closures[:10])})" if closures else ""),
        f"postcodes: recall {pct(figs['postcode_recall'])}, "
        f"false hits {figs['postcode_false_hits']}",
        f"places: recall {pct(figs['place_recall'])}",
        "located by: " + ", ".join(f"{k} {v}" for k, v in sorted(figs["located_by"].items())),
        f"force-wide fallbacks: {pct(figs['force_wide_share'])} of bulletins "
        f"({figs['force_wide_although_named']} although the text names a place or postcode)",
        f"resolution: {pct(figs['resolution_accuracy'])} of {figs['updates_with_a_reference']} "
        f"updates closed what they refer to; {figs['wrong_closures']} wrong closures",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("items", type=Path, help="the labelled items (JSON)")
    parser.add_argument("--codepoint", type=Path, default=DEFAULT_CODEPOINT,
                        help="Code-Point Open zip (default: the shared data)")  # fmt: skip
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="where the template database with the postcodes is kept")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures and each item's outcome")
    args = parser.parse_args()
    items = load_items(args.items)
    codepoint = args.codepoint
    if not codepoint.exists():
        print(f"{codepoint} not found: using the demo extract (a few districts only), so "
              "postcodes elsewhere are not known", file=sys.stderr)  # fmt: skip
        codepoint = DEMO_CODEPOINT
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        url = fresh_database(codepoint, args.cache, Path(workdir))
        engine = create_db_engine(url)
        sessions = make_session_factory(engine)
        feeds = Feeds(items)
        server = serve(feeds)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        client = HttpClient(FetchPolicy(allowed_networks=LOOPBACK_NETWORKS))
        try:
            feed_ids = add_forces(sessions, sorted({i["force"] for i in items}), base)
            replay(sessions, items, feeds, feed_ids, client)
            made = outcomes(sessions, items)
        finally:
            server.shutdown()
            engine.dispose()
    figs = figures(items, made)
    print(report(figs))
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        out = [{"id": item["id"], "bulletin": made[item["id"]]} for item in items]
        args.json.write_text(json.dumps({"figures": figs, "items": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
