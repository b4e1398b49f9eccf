"""When to look at a feed next. Pure: outcomes in, a decision out; table-tested.

- A feed that answered is checked again about as often as it publishes (the median gap
  between its recent items), never sooner than its ``ttl`` or ``Cache-Control: max-age`` ask,
  and always between ``MIN_INTERVAL`` and ``MAX_INTERVAL``. A 304 keeps the interval.
- A failure backs off exponentially from ``RETRY_BASE`` (with jitter, so feeds that failed
  together do not retry together), and never sooner than a ``Retry-After``. After
  ``MAX_FAILURES`` in a row the feed is parked as ``failing``: still tried once a day, so it
  comes back by itself when it is fixed.
- ``410 Gone`` retires the feed; it is not polled again.
- A police feed (owned by a force, team or officer) is checked at least every
  ``POLICE_INTERVAL`` (a setting) whatever it asks or how rarely it publishes: an appeal is
  worth most in its first hours, and a conditional GET makes an unchanged check a 304.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

MIN_INTERVAL = timedelta(minutes=5)
MAX_INTERVAL = timedelta(hours=24)
POLICE_INTERVAL = timedelta(minutes=5)
POLICE_OWNERS = ("force", "neighbourhood", "officer")
# A police feed whose WebSub hub pushes to us is still polled, as the fallback, this often.
PUSHED_CEILING = timedelta(hours=1)
RETRY_BASE = timedelta(minutes=5)
MAX_FAILURES = 8
RECENT_ITEMS = 10
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?([0-9]{1,12})", re.I)
# Server-given delays beyond this are nonsense; capping keeps the arithmetic finite.
MAX_SERVER_DELAY_SECONDS = 366 * 24 * 3600


@dataclass(frozen=True)
class Decision:
    status: str  # active, failing, retired
    interval: timedelta  # the polling interval to remember
    next_check_at: datetime | None  # None: never (retired)
    error_count: int


def clamp(interval: timedelta, ceiling: timedelta = MAX_INTERVAL) -> timedelta:
    return min(ceiling, max(MIN_INTERVAL, min(MAX_INTERVAL, interval)))


def ceiling_for(owner: str, police_interval: timedelta = POLICE_INTERVAL,
                pushed: bool = False) -> timedelta:  # fmt: skip
    """The longest a feed of this owner ("force:kent", "site:12") may go unchecked; a police
    feed its hub pushes to us is polled as a fallback only, at most ``PUSHED_CEILING`` apart."""
    if owner.split(":", 1)[0] not in POLICE_OWNERS:
        return MAX_INTERVAL
    return max(police_interval, PUSHED_CEILING) if pushed else police_interval


def max_age(headers: Mapping[str, str]) -> timedelta | None:
    """``Cache-Control: max-age`` of a response, if any (s-maxage is for shared caches)."""
    match = _MAX_AGE.search(headers.get("cache-control") or "")
    if not match:
        return None
    return timedelta(seconds=min(int(match.group(1)), MAX_SERVER_DELAY_SECONDS))


def retry_after(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """``Retry-After`` as a delay: seconds or an HTTP date; None when absent or unreadable."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if re.fullmatch(r"[0-9]{1,12}", value):
        return timedelta(seconds=min(int(value), MAX_SERVER_DELAY_SECONDS))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(timedelta(0), when - now)


def publishing_interval(published: Iterable[datetime]) -> timedelta | None:
    """The median gap between the most recent item dates, or None with fewer than two."""
    recent = sorted(set(published), reverse=True)[:RECENT_ITEMS]
    if len(recent) < 2:
        return None
    gaps = [(a - b).total_seconds() for a, b in zip(recent, recent[1:], strict=False)]
    return timedelta(seconds=statistics.median(gaps))


def after_success(
    now: datetime,
    previous: timedelta,
    published: Iterable[datetime] = (),
    ttl: timedelta | None = None,
    cache_max_age: timedelta | None = None,
    ceiling: timedelta = MAX_INTERVAL,
) -> Decision:
    """A 200 with a feed read: adapt to how often it publishes (never past ``ceiling``)."""
    interval = publishing_interval(published) or previous
    for floor in (ttl, cache_max_age):
        if floor is not None:
            interval = max(interval, floor)
    interval = clamp(interval, ceiling)
    return Decision("active", interval, now + interval, 0)


def after_not_modified(
    now: datetime,
    previous: timedelta,
    cache_max_age: timedelta | None = None,
    ceiling: timedelta = MAX_INTERVAL,
) -> Decision:
    """A 304: nothing new; keep the interval (or what the server asks, if longer)."""
    interval = clamp(max(previous, cache_max_age or timedelta(0)), ceiling)
    return Decision("active", interval, now + interval, 0)


def after_failure(
    now: datetime,
    previous: timedelta,
    error_count: int,
    wait: timedelta | None = None,
    jitter: float = 1.0,
) -> Decision:
    """One more consecutive failure (``error_count`` counts those before it).

    ``wait`` is a server's Retry-After; ``jitter`` (0.8-1.2 from the caller's random source)
    spreads the retries of feeds that failed together.
    """
    count = error_count + 1
    delay = RETRY_BASE * (2 ** min(count - 1, 20)) * jitter
    if wait is not None:
        delay = max(delay, wait)
    delay = min(MAX_INTERVAL, delay)
    status = "failing" if count >= MAX_FAILURES else "active"
    return Decision(status, previous, now + delay, count)


def gone(previous: timedelta, error_count: int) -> Decision:
    """410: the publisher says the feed is gone for good."""
    return Decision("retired", previous, None, error_count + 1)
