"""The total deadline of a fetch, held from name resolution to the last byte read.

A socket's timeout applies to each read, so a server sending a byte a second never trips it;
here every read of a connection waits at most what is left of the fetch's deadline (kept per
thread: a pooled connection serves one fetch at a time, and many in turn), and getaddrinfo,
which has no timeout of its own, runs on a small pool and is waited for only that long.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

# The deadline of the fetch this thread is making (monotonic seconds), read by the connection
# at every step: a pooled connection is used by one thread at a time, and by several fetches.
_FETCH = threading.local()


# getaddrinfo has no timeout of its own: it runs here and is waited for only as long as the
# fetch has left (a resolver that hangs keeps one of these threads, not the poller).
RESOLVER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="hyperlocal-dns")


def time_left(cap: float | None) -> float | None:
    """Seconds the current fetch may still wait, at most ``cap``; raises TimeoutError at 0."""
    deadline = getattr(_FETCH, "deadline", None)
    if deadline is None:
        return cap
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the fetch's total deadline has passed")
    return left if cap is None else min(cap, left)


class _DeadlineReader(io.RawIOBase):
    """The socket as http.client reads it, each read bounded by the fetch's deadline."""

    def __init__(self, sock: socket.socket, base: Any) -> None:
        self._sock, self._base = sock, base
        # The socket's own unbuffered reader: it keeps the socket open while it is read, as
        # http.client expects when it closes the connection before the body is consumed.
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(time_left(self._base.read_timeout))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class DeadlineSocket:
    """A connected (TLS or plain) socket whose reads never outlast the fetch's deadline.

    http.client reads the status line, the headers and the body through ``makefile("rb")``;
    reads from a socket wait up to its timeout *per call*, so a byte a second would never time
    out. Here each call waits only what is left of the deadline.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.read_timeout: float | None = sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self.read_timeout = value
        self._sock.settimeout(value)

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if mode == "rb":
            return io.BufferedReader(_DeadlineReader(self._sock, self))
        return self._sock.makefile(mode, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@contextmanager
def fetch_deadline(deadline: float) -> Iterator[None]:
    """Hold this thread's fetches to ``deadline`` (monotonic seconds) inside the block."""
    _FETCH.deadline = deadline
    try:
        yield
    finally:
        _FETCH.deadline = None
