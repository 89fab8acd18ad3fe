"""
Who may see the status endpoints, from plain values.

C{/jobs} reveals refs, commits and output: with a C{status_token} it needs that
token. Without one it answers only a caller on this machine asking directly: a
loopback peer, no proxy between (behind nginx on 127.0.0.1 every caller would
otherwise be loopback), and a Host naming this machine (else a web page could
read it by rebinding its own domain to 127.0.0.1).

What cannot be told apart: a proxy that adds no header, speaks HTTP/1.1 and
sends a loopback Host (nginx with C{proxy_http_version 1.1} and its default
C{Host: 127.0.0.1:PORT}) sends what a local curl sends. Behind any proxy, only
C{status_token} keeps the job API private.
"""

from __future__ import annotations

from attrs import frozen

from hookdaemon.client_address import loopback_host, parse_address, proxy_header
from hookdaemon.config import Secret
from hookdaemon.forges._base import bearer, same


@frozen
class StatusRequest:
    """What a request to a status endpoint says about where it comes from."""

    peer: str
    """The host of the connection's peer address; empty for a UNIX socket."""
    version: str
    """The request line's version: C{HTTP/1.1}, C{HTTP/1.0}."""
    hosts: tuple[str, ...]
    """Every C{Host} header value: one, or none at all in HTTP/1.0."""
    header_names: frozenset[str]
    authorization: str | None


@frozen
class StatusRefusal:
    """Why a status request is refused: the HTTP code and the sentence the answer gives."""

    code: int
    reason: str


NEEDS_TOKEN = StatusRefusal(401, "a valid status_token is required")

_OLD_VERSIONS = frozenset({"HTTP/1.0", "HTTP/0.9"})
"""
nginx speaks HTTP/1.0 to the server behind it unless told otherwise
(C{proxy_http_version}, default 1.0) and, with a plain C{proxy_pass}, adds no
header saying it forwards; browsers and curl send HTTP/1.1.
"""


def status_refusal(token: Secret | None, request: StatusRequest) -> StatusRefusal | None:
    """None when the status endpoints may answer this request; else why not (401 or 403)."""
    if token is not None:
        given = bearer(request.authorization)
        return None if given is not None and same(given, token.value) else NEEDS_TOKEN
    peer = parse_address(request.peer)
    if peer is None or not peer.is_loopback:
        return StatusRefusal(
            403,
            "status is shown to loopback clients only; set status_token to read it from elsewhere",
        )
    header = proxy_header(request.header_names)
    if header is not None:
        return StatusRefusal(
            403,
            f"status is shown to unproxied loopback clients only and this request carries "
            f"{header}; set status_token to reach it through a proxy",
        )
    if request.version in _OLD_VERSIONS:
        return StatusRefusal(
            403,
            f"status is shown to unproxied loopback clients only and {request.version} is what "
            f"nginx sends to the server behind it; use HTTP/1.1, or set status_token to reach "
            f"it through a proxy",
        )
    if len(request.hosts) != 1 or not loopback_host(request.hosts[0]):
        return StatusRefusal(
            403,
            "status is shown to requests for localhost, 127.0.0.1 or [::1] only, so that no web "
            "page can read it by DNS rebinding; use one of those, or set status_token",
        )
    return None
