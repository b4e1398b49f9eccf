"""Content-Encoding as browsers read it, incrementally, so a gzip bomb never expands in memory.

gzip, and deflate either zlib-wrapped (as the standard says) or raw (as many servers send it).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any


def decoder_for(encoding: str) -> Any:
    """An incremental decoder for ``encoding`` (None for identity); LookupError if unknown."""
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Deflate()
    raise LookupError(f"unsupported content encoding '{encoding}'")


class _Deflate:
    """``Content-Encoding: deflate`` as browsers read it: zlib-wrapped as the standard says,
    or (as many servers send it) raw deflate without the zlib header; told apart by the
    first two bytes, a gzip header also accepted."""

    def __init__(self) -> None:
        self._inner: Any = None

    def _choose(self, data: bytes) -> Any:
        zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
        gzip_header = data[:2] == b"\x1f\x8b"
        wbits = zlib.MAX_WBITS | 32 if zlib_header or gzip_header else -zlib.MAX_WBITS
        return zlib.decompressobj(wbits)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        if self._inner is None:
            self._inner = self._choose(data)
        return self._inner.decompress(data, max_length)

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail if self._inner is not None else b""

    def flush(self) -> bytes:
        return self._inner.flush() if self._inner is not None else b""


def expand(decoder: Any, chunk: bytes, limit: int) -> Iterable[bytes]:
    """Decompressed pieces of ``chunk``, never more than ``limit`` bytes at a time."""
    if decoder is None:
        yield chunk
        return
    data = chunk
    while data:
        piece = decoder.decompress(data, max(limit, 1))
        yield piece
        data = decoder.unconsumed_tail
        if not piece:
            break
