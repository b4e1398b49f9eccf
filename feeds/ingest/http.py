"""The one outbound HTTP client: every fetch the product makes (feeds, discovery, webhooks).

Hostile URLs and broken servers are normal traffic here, so the client:

- speaks only http and https, sends an honest User-Agent with a contact URL;
- **refuses internal addresses at connect time**: the host is resolved by us, every address
  is checked (loopback, private, link-local, CGNAT, multicast, reserved, unspecified, and the
  same hidden in IPv4-mapped, NAT64 and 6to4 IPv6 forms), and the socket is opened to the
  checked address itself, so DNS cannot answer differently between check and use. Redirects
  are followed by us, at most ``max_redirects``, each hop checked the same way;
- bounds time (connect timeout, read timeout, and a total deadline from name resolution to the
  last body byte, which a server dripping its status line, headers or body a byte a second
  cannot stretch: every read of the socket waits at most what is left of it) and size (a byte
  cap on the body *after* gzip/deflate decompression, decompressing incrementally so a gzip
  bomb never expands in memory).

Errors are :class:`FetchError` with a ``kind`` a caller can record ("forbidden_address",
"timeout", "too_large", ...). Built on urllib3's connection pools.
"""

from __future__ import annotations

import io
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK = 16 * 1024
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class FetchError(Exception):
    """A fetch that did not produce a usable response; ``kind`` names what went wrong."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def forbidden_reason(ip: IPAddress, allowed: Iterable[ipaddress._BaseNetwork] = ()) -> str | None:
    """Why the client must not connect to ``ip``, or None if it may.

    ``allowed`` networks (e.g. loopback, for tests and local deployments) are exempt. IPv6
    forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by that address.
    """
    allowed = list(allowed)
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = None
        if ip.ipv4_mapped is not None:
            embedded = ip.ipv4_mapped
        elif ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            embedded = ip.sixtofour
        if embedded is not None:
            reason = forbidden_reason(embedded, allowed)
            return f"{reason} (inside {ip})" if reason else None
        if ip in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        if ip.teredo is not None:
            return "a Teredo tunnel address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.version == 4 and ip in _CGNAT:
        return "a carrier-grade NAT address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one client. ``allowed_networks`` exempts ranges from the address guard."""

    user_agent: str = "hyperlocal/0.1 (+https://hyperlocal.example/contact)"
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allowed_networks: tuple[str, ...] = ()

    def networks(self) -> list[ipaddress._BaseNetwork]:
        return [ipaddress.ip_network(n) for n in self.allowed_networks]


LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


@dataclass
class FetchResponse:
    """A completed fetch: the final URL after redirects, status, headers and the body."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str] = field(default_factory=list)
    # Every hop was a 301 or 308: the publisher moved the resource for good, so the caller
    # should remember ``url`` instead of the address it asked for.
    moved_permanently: bool = False


class _Refused(NewConnectionError):
    """Every address of the host is one the guard refuses."""


# The deadline of the fetch this thread is making (monotonic seconds), read by the connection
# at every step: a pooled connection is used by one thread at a time, and by several fetches.
_FETCH = threading.local()
# getaddrinfo has no timeout of its own: it runs here and is waited for only as long as the
# fetch has left (a resolver that hangs keeps one of these threads, not the poller).
_RESOLVER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="hyperlocal-dns")


def _time_left(cap: float | None) -> float | None:
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
        self._sock.settimeout(_time_left(self._base.read_timeout))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
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


def _guarded(base: type, networks: list[ipaddress._BaseNetwork]) -> type:
    """A urllib3 connection class that resolves, checks and connects to a checked address."""

    def _new_conn(self: Any) -> socket.socket:
        lookup = _RESOLVER.submit(socket.getaddrinfo, self._dns_host, self.port,
                                  type=socket.SOCK_STREAM)  # fmt: skip
        try:
            cap = self.timeout if isinstance(self.timeout, int | float) else None
            infos = lookup.result(timeout=_time_left(cap))
        except (FutureTimeout, TimeoutError) as exc:
            raise ConnectTimeoutError(self, f"resolving {self.host} took too long") from exc
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        reasons: list[str] = []
        refused = 0
        for family, kind, proto, _, address in infos:
            ip = ipaddress.ip_address(address[0].split("%")[0])
            reason = forbidden_reason(ip, networks)
            if reason:
                reasons.append(f"{ip} is {reason}")
                refused += 1
                continue
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self.timeout if isinstance(self.timeout, int | float) else None)
                sock.connect(address)
            except OSError as exc:
                sock.close()
                if isinstance(exc, TimeoutError | socket.timeout):
                    raise ConnectTimeoutError(self, f"connecting to {ip} timed out") from exc
                reasons.append(f"{ip}: {exc}")
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        message = "; ".join(reasons) or f"no address for {self.host}"
        if refused and refused == len(infos):
            raise _Refused(self, message)
        raise NewConnectionError(self, message)

    def connect(self: Any) -> None:
        base.connect(self)  # resolve and check (above), connect, and for https the TLS wrap
        self.sock = _DeadlineSocket(self.sock)

    return type(f"Guarded{base.__name__}", (base,), {"_new_conn": _new_conn, "connect": connect})


class HttpClient:
    """GET with the policy's guard, limits and redirect handling; safe to share across threads."""

    def __init__(self, policy: FetchPolicy | None = None):
        self.policy = policy or FetchPolicy()
        networks = self.policy.networks()
        http_pool = type("GuardedHTTPPool", (HTTPConnectionPool,),
                         {"ConnectionCls": _guarded(HTTPConnection, networks)})  # fmt: skip
        https_pool = type("GuardedHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": _guarded(HTTPSConnection, networks)})  # fmt: skip
        self.pools = urllib3.PoolManager(num_pools=50, maxsize=4, retries=False)
        self.pools.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    def address_refusal(self, url: str, timeout: float = 5.0) -> str | None:
        """Why the guard would refuse to connect to ``url``'s host, or None if it would not.

        For checking an address when it is given (a webhook endpoint), before anything is
        sent: refused when every address the host has is one the guard refuses. A name that
        does not resolve now is not refused (the endpoint may not be up yet); the guard
        still checks it at every connection.
        """
        host = (urlsplit(url).hostname or "").strip("[]")
        networks = self.policy.networks()
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                lookup = _RESOLVER.submit(socket.getaddrinfo, host, None, type=socket.SOCK_STREAM)
                infos = lookup.result(timeout=timeout)
            except (OSError, FutureTimeout):
                return None
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        reasons = [forbidden_reason(ip, networks) for ip in addresses]
        if addresses and all(reasons):
            return f"{addresses[0]}, {reasons[0]}"
        return None

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> FetchResponse:
        """Fetch ``url``, following redirects; raises FetchError for every failure.

        Any status is returned (the caller decides what 404 or 410 means) except redirects,
        which are followed, and a redirect beyond the limit or to a forbidden target.
        """
        deadline = time.monotonic() + self.policy.total_timeout
        _FETCH.deadline = deadline
        try:
            return self._get(url, headers, deadline)
        finally:
            _FETCH.deadline = None

    def _get(self, url: str, headers: Mapping[str, str] | None, deadline: float) -> FetchResponse:
        redirects: list[str] = []
        permanent = True
        current = url
        while True:
            self._check_url(current)
            response = self._request(current, headers or {}, deadline)
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or not location:
                body = self._read_body(response, deadline)
                return FetchResponse(current, response.status, _lower(response.headers), body,
                                     redirects, bool(redirects) and permanent)  # fmt: skip
            permanent = permanent and response.status in (301, 308)
            response.drain_conn()
            response.release_conn()
            if len(redirects) >= self.policy.max_redirects:
                raise FetchError(
                    "too_many_redirects",
                    f"more than {self.policy.max_redirects} redirects (last to {location})",
                )
            current = urljoin(current, location)
            if current in redirects or current == url:
                raise FetchError("redirect_loop", f"redirect loop back to {current}")
            redirects.append(current)

    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], max_bytes: int = 65_536
    ) -> FetchResponse:
        """POST ``body`` once, through the same guard and deadline as ``get``.

        Redirects are not followed (a webhook receiver must answer at the address it gave):
        a 3xx comes back as the response. At most ``max_bytes`` of the answer are kept.
        """
        deadline = time.monotonic() + self.policy.total_timeout
        self._check_url(url)
        _FETCH.deadline = deadline
        try:
            response = self._request(url, headers, deadline, method="POST", body=body)
            try:
                answer = self._read_body(response, deadline, max_bytes)
            except FetchError:
                answer = b""  # the status has arrived: that is the answer; the body a courtesy
        finally:
            _FETCH.deadline = None
        return FetchResponse(url, response.status, _lower(response.headers), answer, [], False)

    @staticmethod
    def _check_url(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError("bad_url", f"only http and https are fetched, not '{parts.scheme}:'")
        if not parts.hostname:
            raise FetchError("bad_url", f"'{url[:100]}' has no host")
        if parts.username or parts.password:
            raise FetchError("bad_url", "URLs with a user name or password are not fetched")

    def _request(
        self,
        url: str,
        headers: Mapping[str, str],
        deadline: float,
        method: str = "GET",
        body: bytes | None = None,
    ) -> Any:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("timeout", f"no answer within {self.policy.total_timeout:g} s")
        timeout = urllib3.Timeout(
            connect=min(self.policy.connect_timeout, remaining),
            read=min(self.policy.read_timeout, remaining),
        )
        sent = {
            "User-Agent": self.policy.user_agent,
            "Accept-Encoding": "gzip, deflate",
            **headers,
        }
        try:
            return self.pools.request(
                method, url, body=body, headers=sent, timeout=timeout, redirect=False,
                retries=False, preload_content=False, decode_content=False,
            )  # fmt: skip
        except NameResolutionError:
            raise FetchError("dns", f"cannot resolve {urlsplit(url).hostname}") from None
        except _Refused as exc:
            host = urlsplit(url).hostname
            raise FetchError(
                "forbidden_address", f"refused to connect to {host}: {_why(exc)}"
            ) from None
        except NewConnectionError as exc:
            host = urlsplit(url).hostname
            raise FetchError("connection", f"cannot connect to {host}: {_why(exc)}") from None
        except (ConnectTimeoutError, ReadTimeoutError, TimeoutError):
            raise FetchError(
                "timeout", f"{urlsplit(url).hostname} did not answer in time"
            ) from None
        except SSLError as exc:
            raise FetchError("tls", f"TLS failed with {urlsplit(url).hostname}: {exc}") from None
        except (ProtocolError, HTTPError, OSError) as exc:
            raise FetchError("connection", f"{urlsplit(url).hostname}: {exc}") from None

    def _read_body(self, response: Any, deadline: float, max_bytes: int | None = None) -> bytes:
        """The body, decompressed incrementally, within the byte cap and the deadline."""
        encoding = (response.headers.get("content-encoding") or "").strip().lower()
        decoder = _decoder(encoding)
        cap = max_bytes or self.policy.max_bytes
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise FetchError("timeout", f"body not complete within "
                                     f"{self.policy.total_timeout:g} s")  # fmt: skip
                chunk = response.read1(CHUNK)  # whatever has arrived: the deadline holds
                if not chunk:
                    break
                for piece in _expand(decoder, chunk, cap - size + 1):
                    size += len(piece)
                    if size > cap:
                        raise FetchError("too_large", f"body larger than {cap:,} bytes")
                    parts.append(piece)
            if decoder is not None:
                tail = decoder.flush()
                size += len(tail)
                if size > cap:
                    raise FetchError("too_large", f"body larger than {cap:,} bytes")
                parts.append(tail)
        except (ReadTimeoutError, TimeoutError):
            response.close()
            raise FetchError("timeout", "the server stopped sending") from None
        except (ProtocolError, HTTPError, OSError) as exc:
            raise FetchError("connection", f"the body broke off: {exc}") from None
        except zlib.error as exc:
            raise FetchError("bad_encoding", f"the {encoding} body is corrupt: {exc}") from None
        except FetchError:
            response.close()  # the rest of the body is unread: the connection cannot be reused
            raise
        response.release_conn()
        return b"".join(parts)


def _decoder(encoding: str) -> Any:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Deflate()
    raise FetchError("bad_encoding", f"unsupported content encoding '{encoding}'")


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


def _expand(decoder: Any, chunk: bytes, limit: int) -> Iterable[bytes]:
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


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _why(exc: Exception) -> str:
    """The message our connection class raised, without urllib3's prefix naming the object."""
    return str(exc).split(": ", 1)[-1]
