"""Settings: defaults in code, overridden by ``HYPERLOCAL_*`` environment variables.

The only module that reads ``os.environ``. Limits that are part of the API contract (radius and
limit defaults and maxima) are constants here rather than settings, so the published OpenAPI
document is the same on every deployment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

ENV_PREFIX = "HYPERLOCAL_"

# API contract: GET /postcodes?lat=&lng=
NEAREST_RADIUS_DEFAULT_M = 250
NEAREST_RADIUS_MAX_M = 2_000  # larger values are clamped to this
NEAREST_LIMIT_DEFAULT = 10
NEAREST_LIMIT_MAX = 100  # larger values are clamped to this
# API contract: POST /postcodes/lookup
LOOKUP_MAX_POSTCODES = 100

DEFAULTS: dict[str, Any] = {
    # None means "a SQLite file in the Flask instance folder".
    "DATABASE_URL": None,
    # Refuse to start unless the schema is at the newest migration.
    "VERIFY_SCHEMA": True,
    # Place names: "nominatim" or "" (off: place names get a 422 saying so).
    "GEOCODER": "",
    "GEOCODER_DOMAIN": "nominatim.openstreetmap.org",
    "GEOCODER_SCHEME": "https",
    # Nominatim's policy asks for an agent that identifies the deployment: set your contact.
    "GEOCODER_USER_AGENT": "hyperlocal/0.1 (set HYPERLOCAL_GEOCODER_USER_AGENT to your contact)",
    "GEOCODER_TIMEOUT_SECONDS": 5.0,
    "GEOCODER_MIN_DELAY_SECONDS": 1.0,  # Nominatim's usage policy: at most 1 request a second
    "GEOCODER_CACHE_SIZE": 2048,
    # hyperlocal serve
    "HOST": "127.0.0.1",
    "PORT": 5000,
    # Cache-Control max-age on postcode reads (the data changes a few times a year).
    "POSTCODE_CACHE_SECONDS": 3600,
    # Other anonymous API reads (api/caching.py): how long a shared cache may answer for us,
    # and for how long after that it may keep answering while it asks us again. A withdrawn
    # appeal can stay in a cache this long: keep it short.
    "PUBLIC_CACHE_SECONDS": 30,
    "STALE_WHILE_REVALIDATE_SECONDS": 60,
    # Outbound HTTP (feeds, discovery). Sites see this agent: say who runs the deployment.
    "HTTP_USER_AGENT": "hyperlocal/0.1 (+https://github.com/hyperlocal/hyperlocal; feed reader)",
    "HTTP_TIMEOUT_SECONDS": 30.0,  # total deadline of one fetch, redirects included
    "HTTP_MAX_BYTES": 5 * 1024 * 1024,  # after decompression
    # Let fetches reach 127.0.0.0/8 and ::1 (tests, local deployments); other internal
    # ranges are always refused.
    "HTTP_ALLOW_LOOPBACK": False,
    # Feed polling: fetches at a time, and whether `hyperlocal serve` polls in-process
    # ("embedded", the default) or leaves it to a separate `hyperlocal worker` ("off").
    "POLL_CONCURRENCY": 8,
    "SEND_CONCURRENCY": 8,  # webhook sends at a time, in a loop of their own
    # Police feeds (a force's, a team's, an officer's) are checked at least this often.
    "POLICE_POLL_MINUTES": 5,
    # Where this service is reachable from the internet ("https://hyperlocal.example.org"):
    # publishers' WebSub hubs call back there ({PUBLIC_URL}/websub/callback/...). Empty: no
    # WebSub subscriptions (feeds are polled only).
    "PUBLIC_URL": "",
    # A site whose feeds have published nothing for this many months is dormant: listed as
    # such, not offered as "your local site", until it publishes again. 0: never.
    "DORMANT_MONTHS": 6,
    "WORKER": "embedded",
    # Celery on Redis for background work ("redis://127.0.0.1:6379/0"): `hyperlocal serve`
    # then runs no in-process worker; run `celery -A api.tasks worker` and one `... beat`.
    # Rate limits are counted there too (shared by every process). Empty: in-process worker,
    # rate limits counted in memory (per process).
    "BROKER_URL": "",
    # How long a queue task's claim on a feed or message batch lasts once it has started:
    # 0 works it out from HTTP_TIMEOUT_SECONDS (a worker killed mid-task leaves its work to be
    # taken again after this).
    "TASK_LEASE_SECONDS": 0,
    # How long a dispatched feed or message batch waits in the queue before it is claimed
    # again (a lost task costs at most this).
    "DISPATCH_LEASE_SECONDS": 180,
    # Webhook messages per send task.
    "SEND_BATCH": 64,
    # Rate limits (api/limits.py): per client (its API key, else its address), per route.
    "RATE_LIMITS": True,
    "RATE_LIMIT_PUBLIC": "1200 per minute",  # reads and writes without a key, per address
    "RATE_LIMIT_KEYS": "600 per minute",  # requests bearing a key, per key
    "RATE_LIMIT_SUBMISSIONS": "20 per hour",  # site submission, status links, admin login
    "RATE_LIMIT_BULLETINS": "120 per hour",  # POST /bulletins, per force key
    # Where the counts live: empty is BROKER_URL's Redis, or memory (per process) without one.
    "RATE_LIMIT_STORAGE_URL": "",
    # Proxies in front that set X-Forwarded-For/-Proto/-Host (a CDN and a load balancer: 2).
    # 0 trusts none: every client is the proxy's address, and shares its rate limit.
    "PROXY_HOPS": 0,
    # Logs (api/logs.py): "json" (one object a line, for a collector), "text", or empty to
    # leave logging to whoever runs the service.
    "LOG_FORMAT": "",
    "LOG_LEVEL": "INFO",
}


def _coerce(name: str, raw: str, default: Any) -> Any:
    """Parse an environment value as the type of its default."""
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{ENV_PREFIX}{name}={raw!r}: expected true or false")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{ENV_PREFIX}{name}={raw!r}: expected a whole number") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{ENV_PREFIX}{name}={raw!r}: expected a number") from None
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """DEFAULTS overridden by ``HYPERLOCAL_<NAME>`` variables from ``environ`` (os.environ)."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        raw = environ.get(ENV_PREFIX + name)
        if raw is not None and raw != "":
            settings[name] = _coerce(name, raw, default)
    if settings["WORKER"] not in ("embedded", "off"):
        raise ValueError(f"{ENV_PREFIX}WORKER={settings['WORKER']!r}: use 'embedded' or 'off'")
    if settings["LOG_FORMAT"] not in ("", "json", "text"):
        raise ValueError(f"{ENV_PREFIX}LOG_FORMAT={settings['LOG_FORMAT']!r}: use json or text")
    if settings["GEOCODER"] not in ("", "nominatim"):
        raise ValueError(
            f"{ENV_PREFIX}GEOCODER={settings['GEOCODER']!r}: use 'nominatim' or leave it empty"
        )
    return settings


def police_interval(settings: Mapping[str, Any]) -> timedelta:
    """POLICE_POLL_MINUTES as the interval police feeds are checked at (a minute at least)."""
    return timedelta(minutes=max(1, settings["POLICE_POLL_MINUTES"]))


def prometheus_multiprocess_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """prometheus-client's own setting: the directory its processes share counts through."""
    environ = os.environ if environ is None else environ
    return environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def postgres_test_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The PostgreSQL URL the tests also run against, if any (HYPERLOCAL_TEST_DATABASE_URL)."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV_PREFIX + "TEST_DATABASE_URL") or None
