"""Place-name geocoding through geopy, rate-limited and cached.

Only Nominatim is wired up (OpenStreetMap's, or any server speaking its API at another domain).
Its usage policy asks for at most one request a second and an identifying User-Agent; both are
settings. Results, including "no such place", are cached in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim

from directory.geography.geo import in_uk
from directory.geography.locate import GeocodedPlace, Geocoder


class GeocoderUnavailable(RuntimeError):
    """The geocoder could not be reached or answered with an error."""


class CachedGeocoder:
    """A geocoder that remembers up to ``cache_size`` answers (least recently used dropped)."""

    def __init__(self, lookup: Geocoder, cache_size: int):
        self._lookup = lookup
        self._cache: OrderedDict[str, GeocodedPlace | None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def __call__(self, name: str) -> GeocodedPlace | None:
        key = " ".join(name.lower().split())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        place = self._lookup(name)
        with self._lock:
            self._cache[key] = place
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return place


def nominatim_geocoder(
    *,
    domain: str,
    scheme: str,
    user_agent: str,
    timeout: float,
    min_delay_seconds: float,
    cache_size: int,
) -> CachedGeocoder:
    """A cached, rate-limited Nominatim geocoder restricted to the UK."""
    nominatim = Nominatim(domain=domain, scheme=scheme, user_agent=user_agent, timeout=timeout)
    # RateLimiter spaces calls; it must not retry on its own (a dead server should fail fast).
    limited = RateLimiter(
        nominatim.geocode,
        min_delay_seconds=min_delay_seconds,
        max_retries=0,
        swallow_exceptions=False,
    )

    def lookup(name: str) -> GeocodedPlace | None:
        try:
            found = limited(name, exactly_one=True, country_codes="gb")
        except GeopyError as exc:
            raise GeocoderUnavailable(f"the place-name geocoder failed: {exc}") from exc
        if found is None or not in_uk(found.latitude, found.longitude):
            return None
        return GeocodedPlace(found.latitude, found.longitude, found.address)

    return CachedGeocoder(lookup, cache_size)
