"""
Who may see the status endpoints, and who may also steer jobs, from plain values.

C{/jobs} reveals refs, commits and output, and its POSTs replay and cancel
jobs. With any token configured, tokens alone decide: a C{status_token} may
read, an C{operator_token} may read and act; each key may list several, so
one can be rotated. Without any token the job API answers only a caller on
this machine asking directly, for reading and acting alike: a loopback peer,
no proxy between (behind nginx on 127.0.0.1 every caller would otherwise be
loopback), and a Host naming this machine (else a web page could read it by
rebinding its own domain to 127.0.0.1).

What cannot be told apart: a proxy that adds no header, speaks HTTP/1.1 and
sends a loopback Host (nginx with C{proxy_http_version 1.1} and its default
C{Host: 127.0.0.1:PORT}) sends what a local curl sends. Behind any proxy, only
C{status_token} keeps the job API private.
"""

from __future__ import annotations

from attrs import frozen

from hookdaemon.client_address import loopback_host, parse_address, proxy_header
from hookdaemon.config import DaemonConfig, Secret
from hookdaemon.forges._base import bearer, same


@frozen
class Tokens:
    """The bearer tokens configured: those that may read, and those that may also act."""

    status: tuple[Secret, ...] = ()
    operator: tuple[Secret, ...] = ()

    @classmethod
    def of(cls, daemon: DaemonConfig) -> Tokens:
        return cls(status=daemon.status_tokens, operator=daemon.operator_tokens)

    @property
    def any(self) -> bool:
        return bool(self.status or self.operator)


NO_TOKENS = Tokens()


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
NEEDS_OPERATOR_TOKEN = StatusRefusal(401, "a valid operator_token is required")
NO_OPERATOR_TOKEN = StatusRefusal(403, "set operator_token to replay or cancel jobs")
READ_ONLY_TOKEN = StatusRefusal(
    403, "this status_token may read jobs but not replay or cancel them; use an operator_token"
)

_OLD_VERSIONS = frozenset({"HTTP/1.0", "HTTP/0.9"})
"""
nginx speaks HTTP/1.0 to the server behind it unless told otherwise
(C{proxy_http_version}, default 1.0) and, with a plain C{proxy_pass}, adds no
header saying it forwards; browsers and curl send HTTP/1.1.
"""


def held(given: str | None, tokens: tuple[Secret, ...]) -> bool:
    """
    Is C{given} one of C{tokens}? Each is compared, in constant time, whatever
    came before, so the time taken says nothing of which one matched.
    """
    if given is None:
        return False
    found = False
    for token in tokens:
        found = same(given, token.value) | found
    return found


def status_refusal(
    tokens: Tokens, request: StatusRequest, *, act: bool = False
) -> StatusRefusal | None:
    """
    None when the job API may answer this request; else why not: 401 for a
    missing or unknown token, 403 for a token that may read but not C{act}
    (replay, cancel), or for a tokenless request that is not a direct local one.
    """
    if tokens.any:
        given = bearer(request.authorization)
        # Both lists are always compared, so the time taken does not say which holds it.
        operator = held(given, tokens.operator)
        reader = held(given, tokens.status)
        if operator:
            return None
        if not act:
            if reader:
                return None
            return NEEDS_TOKEN if tokens.status else NEEDS_OPERATOR_TOKEN
        if not reader:
            return NEEDS_OPERATOR_TOKEN if tokens.operator else NEEDS_TOKEN
        return READ_ONLY_TOKEN if tokens.operator else NO_OPERATOR_TOKEN
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
