"""
Who is calling: the peer, or behind a trusted reverse proxy the client it names.

Plain values in and out, so the rules are tested as function calls. A proxy we
trust appends the address it received the request from to C{X-Forwarded-For}
(nginx's C{$proxy_add_x_forwarded_for}); everything to the left of that entry
was written by someone we do not know, so the walk goes from the right and stops
at the first address that is not one of our proxies.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence

from hookdaemon.config import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = ""
"""
The client when a proxy we trust names one we cannot read (garbage, C{unknown},
an empty entry). It is in no network, so C{allow_from} and the loopback check
refuse it; it is never the proxy's own address, which may well be allowed.
"""


@functools.lru_cache(maxsize=1024)
def parse_address(text: str) -> Address | None:
    """
    One address as proxies write it: C{1.2.3.4}, C{1.2.3.4:5678}, C{2001:db8::1},
    C{[2001:db8::1]} or C{[2001:db8::1]:443}, with stray whitespace. An
    IPv4-mapped IPv6 address is its IPv4 address. None for anything else.

    Remembered for the last 1024 texts: a request reads its client three times
    (its address, C{allow_from} at admission and at the hook's checks), and a
    forge calls from few addresses. The addresses are immutable values.
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


PROXY_HEADERS = (
    "Forwarded",  # RFC 7239: any proxy may add it
    "Via",  # RFC 9110, 7.6.3: a proxy MUST send it (nginx does not)
    "X-Forwarded-For",  # de facto: Squid, nginx's $proxy_add_x_forwarded_for, Apache, Caddy
    "X-Forwarded-Host",  # Apache mod_proxy and Caddy by default
    "X-Forwarded-Proto",  # AWS ELB, Caddy, Traefik
    "X-Forwarded-Port",  # AWS ELB
    "X-Forwarded-Server",  # Apache mod_proxy by default
    "X-Real-IP",  # nginx: proxy_set_header X-Real-IP $remote_addr (ngx_http_realip_module)
    "X-Client-IP",  # the client-address headers the npm request-ip package reads
    "True-Client-IP",  # Akamai; Cloudflare Enterprise
    "CF-Connecting-IP",  # Cloudflare's request headers
    "Fastly-Client-IP",  # Fastly's request headers
    "X-Cluster-Client-IP",  # Rackspace and Riverbed (Zeus) load balancers
    "X-Original-Forwarded-For",  # Kubernetes ingress-nginx, keeping the caller's own XFF
)
"""
Headers that proxies, load balancers and CDNs write to say whom they forward
for. A request carrying any of them came through a proxy, or from someone
pretending it did: either way it is not a local caller asking directly.
"""

_PROXY_HEADER_NAMES = {name.lower(): name for name in PROXY_HEADERS}


def proxy_header(names: Iterable[str]) -> str | None:
    """The first of L{PROXY_HEADERS} among these header names (in any case), or None."""
    present = {name.lower() for name in names}
    for lowered, name in _PROXY_HEADER_NAMES.items():
        if lowered in present:
            return name
    return None


_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z")
_PORT = re.compile(r"(?::[0-9]{0,5})?\Z")


def loopback_host(host: str) -> bool:
    """
    Does this C{Host} header name this machine, so that no DNS answer chose it?
    C{localhost} and C{*.localhost} (RFC 6761, 6.3: they never leave the machine),
    an address in 127.0.0.0/8, or C{[::1]}; with an optional port, in any case,
    a trailing dot allowed on names. A page that rebinds its own domain to
    127.0.0.1 still sends that domain here (DNS rebinding).
    """
    host = host.strip().lower()
    if host.startswith("["):
        inside, bracket, port = host[1:].partition("]")
        if not bracket or not _PORT.match(port):
            return False
        try:
            address = ipaddress.IPv6Address(inside)
        except ValueError:
            return False
        mapped = address.ipv4_mapped
        return address.is_loopback or (mapped is not None and mapped.is_loopback)
    name, _, port = host.partition(":")
    if (port or host.endswith(":")) and not _PORT.match(":" + port):
        return False
    if name.endswith("."):
        name = name[:-1]
    try:
        return ipaddress.IPv4Address(name).is_loopback
    except ValueError:
        pass
    labels = name.split(".")
    return labels[-1] == "localhost" and all(_LABEL.match(label) for label in labels)
