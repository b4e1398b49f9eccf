"""Import a force's neighbourhoods, boundaries and teams from data.police.uk, live or saved.

Both sources answer ``get(path)`` with the API's JSON body (None for 404), so one orchestrator
serves both:

- ``LivePoliceApi``: https://data.police.uk/api/ at most 15 requests a second (its published
  limit), retrying 429 and 5xx with exponential backoff (honouring Retry-After);
- ``SavedPoliceData``: the same bodies saved as files, ``<dir>/<api path>.json``, e.g.
  ``forces/leicestershire.json``, ``leicestershire/neighbourhoods.json``,
  ``leicestershire/NC04.json``, ``leicestershire/NC04/boundary.json``,
  ``leicestershire/NC04/people.json``.

Everything is fetched first and written in one transaction, so an import that fails part way
changes nothing. Malformed neighbourhoods are skipped and reported; the rest are imported.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy.orm import Session

from directory.police.data import (
    MalformedEntry,
    NeighbourhoodData,
    Report,
    parse_force,
    parse_neighbourhood,
)
from directory.police.store import PoliceImportCounts, save_police_import

LIVE_API = "https://data.police.uk/api/"
RATE_PER_SECOND = 15.0
MAX_BODY_BYTES = 20 * 1024 * 1024
USER_AGENT = "hyperlocal/0.1 (directory of neighbourhood policing; data.police.uk import)"

ProgressCallback = Callable[[int, int], None]


class PoliceImportError(RuntimeError):
    """The import cannot go on (unknown force, unreachable API); nothing was written."""


class PoliceSource(Protocol):
    label: str

    def get(self, path: str) -> Any | None: ...


def api_path(*segments: str) -> str:
    """An API path with each segment quoted (neighbourhood ids are arbitrary strings)."""
    return "/".join(quote(segment, safe="") for segment in segments)


class SavedPoliceData:
    """Responses saved under a directory, one JSON file per API path."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.label = str(self.root)
        if not self.root.is_dir():
            raise PoliceImportError(f"{self.root} is not a directory of saved data.police.uk JSON")

    def get(self, path: str) -> Any | None:
        file = self.root / f"{path}.json"
        if not file.is_file():
            return None
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedEntry(f"{file} is not JSON ({exc})") from None


class RateLimiter:
    """At most ``rate`` calls a second, spaced evenly; thread-safe."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = self.clock()
            if now < self.next_at:
                self.sleep(self.next_at - now)
                now = self.next_at
            self.next_at = now + self.interval


def backoff_seconds(attempt: int, retry_after: str | None, cap: float = 60.0) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): Retry-After if the server gave
    one in seconds, else 2^(attempt-1) with up to 25% jitter, capped."""
    if retry_after and retry_after.strip().isdigit():
        return min(float(retry_after.strip()), cap)
    base = min(2.0 ** (attempt - 1), cap)
    return base + random.uniform(0, base / 4)


class LivePoliceApi:
    """data.police.uk over HTTPS (or a server speaking its shapes, for tests)."""

    def __init__(
        self,
        base_url: str = LIVE_API,
        rate_per_second: float = RATE_PER_SECOND,
        timeout: float = 20.0,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.label = self.base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep
        self.limiter = RateLimiter(rate_per_second, sleep=sleep)
        self.requests = 0

    def get(self, path: str) -> Any | None:
        url = self.base_url + path
        for attempt in range(1, self.max_retries + 2):
            self.limiter.wait()
            self.requests += 1
            request = urllib.request.Request(
                url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read(MAX_BODY_BYTES + 1)
                if len(body) > MAX_BODY_BYTES:
                    raise MalformedEntry(f"{url} answered with more than {MAX_BODY_BYTES} bytes")
                try:
                    return json.loads(body)
                except json.JSONDecodeError as exc:
                    raise MalformedEntry(f"{url} did not answer JSON ({exc})") from None
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                if error.code != 429 and error.code < 500:
                    raise PoliceImportError(f"{url} answered {error.code}") from None
                if attempt > self.max_retries:
                    raise PoliceImportError(
                        f"{url} still answered {error.code} after {self.max_retries} retries"
                    ) from None
                self.sleep(backoff_seconds(attempt, error.headers.get("Retry-After")))
            except (urllib.error.URLError, TimeoutError, OSError) as error:
                if attempt > self.max_retries:
                    raise PoliceImportError(f"{url} unreachable: {error}") from None
                self.sleep(backoff_seconds(attempt, None))
        raise AssertionError("unreachable")


@dataclass
class PoliceImportSummary:
    force: str
    counts: PoliceImportCounts
    report: Report

    def describe(self) -> str:
        c = self.counts
        lines = [
            f"{self.force}: neighbourhoods {c.neighbourhoods_new} new, "
            f"{c.neighbourhoods_updated} updated, {c.neighbourhoods_inactive} now inactive; "
            f"officers {c.officers_new} new, {c.officers_updated} updated, "
            f"{c.officers_inactive} now inactive; {len(self.report.problems)} problems"
        ]
        lines += [f"  skipped {problem}" for problem in self.report.problems[:50]]
        if len(self.report.problems) > 50:
            lines.append(f"  ... and {len(self.report.problems) - 50} more")
        lines += [f"  {n} × {what}" for what, n in self.report.counts.most_common()]
        return "\n".join(lines)


def _fetch_neighbourhood(
    source: PoliceSource, force_id: str, entry: Any, index: int, report: Report
) -> NeighbourhoodData | None:
    """One neighbourhood with its boundary and people, or None (reported) if unusable."""
    code = entry.get("id") if isinstance(entry, dict) else None
    if not isinstance(code, str) or not code.strip():
        report.skip(f"neighbourhood list entry {index}", "has no id")
        return None
    try:
        details = source.get(api_path(force_id, code))
        if details is None:
            report.skip(f"neighbourhood {code}", "not found")
            return None
        boundary = source.get(api_path(force_id, code, "boundary"))
        people = source.get(api_path(force_id, code, "people"))
        return parse_neighbourhood(code, details, boundary, people, report)
    except MalformedEntry as exc:
        report.skip(f"neighbourhood {code}", str(exc))
        return None


def import_police_force(
    session: Session,
    source: PoliceSource,
    force_id: str,
    on_progress: ProgressCallback | None = None,
    before_commit: Callable[[Session, str], None] | None = None,
) -> PoliceImportSummary:
    """Fetch a force, its neighbourhoods, their boundaries and people; write them at once.

    Neighbourhoods and officers missing from the source become inactive. Raises
    PoliceImportError (nothing written) when the force itself cannot be read.
    ``before_commit(session, force_id)`` runs inside the import's transaction: what depends on
    the directory (the feeds polled, ``feeds.directory_changes``) changes with it or not at all.
    """
    report = Report()
    try:
        force_body = source.get(api_path("forces", force_id))
    except MalformedEntry as exc:
        raise PoliceImportError(str(exc)) from None
    if force_body is None:
        raise PoliceImportError(f"there is no force '{force_id}' at {source.label}")
    try:
        force = parse_force(force_body)
    except MalformedEntry as exc:
        raise PoliceImportError(f"force '{force_id}': {exc}") from None
    listing = source.get(api_path(force.id, "neighbourhoods"))
    if not isinstance(listing, list):
        raise PoliceImportError(f"force '{force_id}' has no neighbourhood list at {source.label}")
    neighbourhoods: list[NeighbourhoodData] = []
    for done, entry in enumerate(listing, start=1):
        fetched = _fetch_neighbourhood(source, force.id, entry, done, report)
        if fetched is not None:
            neighbourhoods.append(fetched)
        if on_progress:
            on_progress(done, len(listing))
    counts = save_police_import(session, force, neighbourhoods)
    if before_commit is not None:
        before_commit(session, force.id)
    session.commit()
    return PoliceImportSummary(force.id, counts, report)
