"""Parsed areas, kept per process and keyed by the row and its last change.

Reading a neighbourhood boundary means decoding its JSON (hundreds of vertices) and building a
shapely geometry: far more than the lookup it serves. Rows carry ``updated_at``, and the
bounding-box indexes hold it, so "which areas might hold this point, as of when" is answered
from an index, and only areas changed since they were cached are read and parsed again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from directory.geography.areas import Area, area_from_json

MAX_CACHED_AREAS = 8192


class AreaCache:
    """A bounded, thread-safe LRU of parsed areas."""

    def __init__(self, max_items: int = MAX_CACHED_AREAS):
        self.max_items = max_items
        self._items: OrderedDict[Hashable, Area] = OrderedDict()
        self._lock = threading.Lock()

    def areas(
        self,
        namespace: Hashable,
        rows: Iterable[tuple[int, Any]],
        load: Callable[[list[int]], Mapping[int, Mapping[str, Any] | None]],
    ) -> dict[int, Area]:
        """Areas of ``rows`` ((id, updated_at) pairs); ``load(ids)`` fetches the JSON of misses.

        ``namespace`` keeps databases and tables apart (e.g. (database url, table name)).
        Rows whose stored area is empty are left out.
        """
        found: dict[int, Area] = {}
        missing: dict[int, Hashable] = {}
        with self._lock:
            for row_id, changed in rows:
                key = (namespace, row_id, changed)
                area = self._items.get(key)
                if area is None:
                    missing[row_id] = key
                else:
                    self._items.move_to_end(key)
                    found[row_id] = area
        if missing:
            loaded = load(list(missing))
            with self._lock:
                for row_id, data in loaded.items():
                    if not data or row_id not in missing:
                        continue
                    area = area_from_json(data)
                    self._items[missing[row_id]] = area
                    found[row_id] = area
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


AREAS = AreaCache()
