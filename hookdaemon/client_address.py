"""
Who is calling: the peer, or behind a trusted reverse proxy the client it names.

Plain values in and out, so the rules are tested as function calls. A proxy we
trust appends the address it received the request from to C{X-Forwarded-For}
(nginx's C{$proxy_add_x_forwarded_for}); everything to the left of that entry
was written by someone we do not know, so the walk goes from the right and stops
at the first address that is not one of our proxies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from hookdaemon.config import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = ""
"""
The client when a proxy we trust names one we cannot read (garbage, C{unknown},
an empty entry). It is in no network, so C{allow_from} and the loopback check
refuse it; it is never the proxy's own address, which may well be allowed.
"""


def parse_address(text: str) -> Address | None:
    """
    One address as proxies write it: C{1.2.3.4}, C{1.2.3.4:5678}, C{2001:db8::1},
    C{[2001:db8::1]} or C{[2001:db8::1]:443}, with stray whitespace. An
    IPv4-mapped IPv6 address is its IPv4 address. None for anything else.
    """
    text = text.strip()
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not _is_port_suffix(rest)):
            return None
        text = inside
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not _is_port_suffix(":" + port):
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_port_suffix(text: str) -> bool:
    port = text[1:]
    return text.startswith(":") and port.isascii() and port.isdigit() and len(port) <= 5


def _trusted(address: Address, trusted: Iterable[Network]) -> bool:
    return any(address in network for network in trusted)


def _entries(values: Sequence[str]) -> list[str]:
    """Every comma-separated entry of every header, in the order the hops wrote them."""
    return [entry for value in values for entry in value.split(",")]


def client_address(
    peer: str,
    forwarded_for: Sequence[str],
    real_ip: Sequence[str],
    trusted_proxies: Sequence[Network],
) -> str:
    """
    The client's address, normalised (IPv6 compressed, IPv4-mapped as IPv4), or
    L{UNKNOWN}.

    @param peer: the host of the connection's peer address; empty for a UNIX socket.
    @param forwarded_for: every C{X-Forwarded-For} header value, in order.
    @param real_ip: every C{X-Real-IP} header value; read only without
        C{X-Forwarded-For}, and only when it is exactly one address.
    @param trusted_proxies: the networks whose forwarding headers are believed.
    """
    address = parse_address(peer)
    if address is None:
        return UNKNOWN
    if not _trusted(address, trusted_proxies):
        return str(address)
    if forwarded_for:
        entries = _entries(forwarded_for)
        for entry in reversed(entries):
            hop = parse_address(entry)
            if hop is None:
                # A hop we trust wrote something we cannot read: we know
                # neither who called nor whether anything further left is true.
                return UNKNOWN
            if not _trusted(hop, trusted_proxies):
                return str(hop)
        # Every hop is one of ours: the request started inside, at the leftmost.
        leftmost = parse_address(entries[0])
        assert leftmost is not None
        return str(leftmost)
    if real_ip:
        if len(real_ip) != 1:
            return UNKNOWN
        named = parse_address(real_ip[0])
        return UNKNOWN if named is None else str(named)
    return str(address)


def status_client(
    client: str, peer: str, forwarded: bool, trusted_proxies: Sequence[Network]
) -> str:
    """
    The client as the loopback-only status check should see it: L{UNKNOWN} when
    a peer we do not trust forwards a request. That peer is a proxy nobody put
    in C{trusted_proxies}; behind a proxy on this machine every caller would
    otherwise look local.
    """
    if not forwarded:
        return client
    address = parse_address(peer)
    if address is None or not _trusted(address, trusted_proxies):
        return UNKNOWN
    return client
