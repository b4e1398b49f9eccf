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
"timeout", "too_large", ...). Built on urllib3's connection pools; the address rules are
``addresses``, the deadline ``deadline``, the decoding ``decoding``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from collections.abc import Callable, Mapping
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

from feeds.ingest.addresses import forbidden_reason
from feeds.ingest.deadline import RESOLVER, DeadlineSocket, fetch_deadline, time_left
from feeds.ingest.decoding import decoder_for, expand

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK = 16 * 1024


class FetchError(Exception):
    """A fetch that did not produce a usable response; ``kind`` names what went wrong."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


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


def _guarded(base: type, networks: list[ipaddress._BaseNetwork]) -> type:
    """A urllib3 connection class that resolves, checks and connects to a checked address."""

    def _new_conn(self: Any) -> socket.socket:
        lookup = RESOLVER.submit(socket.getaddrinfo, self._dns_host, self.port,
                                  type=socket.SOCK_STREAM)  # fmt: skip
        try:
            cap = self.timeout if isinstance(self.timeout, int | float) else None
            infos = lookup.result(timeout=time_left(cap))
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
        self.sock = DeadlineSocket(self.sock)

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
        # Told of every request: (method, seconds taken, outcome: "2xx".."5xx" or an error's
        # kind). The metrics of api.metrics listen here.
        self.observers: list[Callable[[str, float, str], None]] = []

    def _observe(self, method: str, started: float, outcome: str) -> None:
        for observer in self.observers:
            observer(method, time.monotonic() - started, outcome)

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
                lookup = RESOLVER.submit(socket.getaddrinfo, host, None, type=socket.SOCK_STREAM)
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
        started = time.monotonic()
        deadline = started + self.policy.total_timeout
        try:
            with fetch_deadline(deadline):
                response = self._get(url, headers, deadline)
        except FetchError as exc:
            self._observe("GET", started, exc.kind)
            raise
        self._observe("GET", started, f"{response.status // 100}xx")
        return response

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
        started = time.monotonic()
        deadline = started + self.policy.total_timeout
        self._check_url(url)
        try:
            with fetch_deadline(deadline):
                response = self._request(url, headers, deadline, method="POST", body=body)
                try:
                    answer = self._read_body(response, deadline, max_bytes)
                except FetchError:
                    answer = b""  # the status has arrived: that is the answer; a courtesy
        except FetchError as exc:
            self._observe("POST", started, exc.kind)
            raise
        self._observe("POST", started, f"{response.status // 100}xx")
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
        try:
            decoder = decoder_for(encoding)
        except LookupError as exc:
            raise FetchError("bad_encoding", str(exc)) from None
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
                for piece in expand(decoder, chunk, cap - size + 1):
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


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _why(exc: Exception) -> str:
    """The message our connection class raised, without urllib3's prefix naming the object."""
    return str(exc).split(": ", 1)[-1]
