"""Which addresses the one HTTP client may connect to: public ones only.

Loopback, private, link-local, CGNAT, multicast, reserved and unspecified addresses are refused,
and so are the same hidden in IPv4-mapped, NAT64 and 6to4 IPv6 forms. Pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


_CGNAT = ipaddress.ip_network("100.64.0.0/10")


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


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
