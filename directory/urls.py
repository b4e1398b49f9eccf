"""Web addresses as the directory stores them: normalised, so one site is one URL.

Pure. "HTTPS://WWW.Example.org:443/news/#top" and "https://www.example.org/news/" are the same
site; the normal form lower-cases scheme and host, drops default ports and fragments, and keeps
path and query as given (paths are case-sensitive on most servers).
"""

from __future__ import annotations

import ipaddress
from functools import cache
from urllib.parse import urlsplit, urlunsplit

from publicsuffixlist import PublicSuffixList

MAX_URL_LENGTH = 2000
DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlInvalid(ValueError):
    """Not an http(s) URL we can store; the message says why."""


def url_or_none(value: object) -> str | None:
    """The normal form of ``value`` when it is a usable http(s) URL, else None: for upstream
    data (feeds, data.police.uk) where a bad link is dropped rather than refused."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalise_url(value)
    except UrlInvalid:
        return None


def normalise_url(text: str, what: str = "url") -> str:
    """The normal form of an http(s) URL; raises UrlInvalid naming ``what`` and the problem."""
    raw = (text or "").strip()
    if not raw:
        raise UrlInvalid(f"{what} is required")
    if len(raw) > MAX_URL_LENGTH:
        raise UrlInvalid(f"{what} is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 for c in raw):
        raise UrlInvalid(f"{what} '{raw[:80]}' contains spaces or control characters")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise UrlInvalid(f"{what} '{raw[:80]}' is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UrlInvalid(f"{what} '{raw[:80]}' must start with http:// or https://")
    host = (parts.hostname or "").rstrip(".")
    literal = _ip_literal(host)
    if not host or "." not in host and host != "localhost" and literal is None:
        raise UrlInvalid(f"{what} '{raw[:80]}' has no host name")
    if parts.username or parts.password:
        raise UrlInvalid(f"{what} '{raw[:80]}' must not contain a user name or password")
    if literal is not None:  # an IPv6 literal keeps its brackets ("[2001:db8::1]")
        host = f"[{literal.compressed}]" if literal.version == 6 else literal.compressed
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UrlInvalid(f"{what} '{raw[:80]}' has an invalid host name") from None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    normal = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    if len(normal) > MAX_URL_LENGTH:  # IDNA can lengthen a host several times over
        raise UrlInvalid(f"{what} is longer than {MAX_URL_LENGTH} characters once normalised")
    return normal


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address when the host is an IP literal (urlsplit has already taken off the
    brackets of an IPv6 one), else None. Whether it may be fetched is the HTTP client's call."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list the package ships: no download


def registrable_domain(url: str) -> str | None:
    """The part of a URL's host that one owner registers ("west-midlands.police.uk" of
    "https://www.west-midlands.police.uk/news", "example.co.uk" of "news.example.co.uk"), by
    the Public Suffix List; an IP literal or a bare name ("localhost") is its own domain."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if not host:
        return None
    if _ip_literal(host) is not None:
        return host
    return _suffixes().privatesuffix(host) or host


def same_site(url: str, other: str) -> bool:
    """Whether two URLs are on the same registrable domain (any subdomain, scheme or port)."""
    domain = registrable_domain(url)
    return domain is not None and domain == registrable_domain(other)
