"""
The access log: Twisted's combined log format, without the secrets a query
string may carry and with the client a trusted proxy names instead of the proxy.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.server import Request

from hookdaemon.client_address import UNKNOWN
from hookdaemon.request_state import IHookRequest

__all__ = ["REDACTED_PARAMETERS", "access_log_formatter", "redact_uri"]

REDACTED_PARAMETERS = frozenset({"token", "secret", "access_token"})


def redact_uri(uri: bytes) -> bytes:
    """Hide the values of secret-bearing query parameters, for the access log."""
    if b"?" not in uri:
        return uri  # most requests: nothing to take apart
    try:
        parts = urlsplit(uri.decode("latin-1"))
    except ValueError:
        # Not a URL urlsplit can take apart (``http://[bad/...``): hide the whole query.
        path, question, _ = uri.partition(b"?")
        return path + (b"?REDACTED" if question else b"")
    if not parts.query:
        return uri
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name.lower() in REDACTED_PARAMETERS for name, _ in pairs):
        return uri
    query = urlencode(
        [(n, "REDACTED" if n.lower() in REDACTED_PARAMETERS else v) for n, v in pairs]
    )
    return urlunsplit(parts._replace(query=query)).encode("latin-1")


def _escape(value: bytes | str) -> str:
    """
    As Twisted's combined log format escapes a field: Python's repr of its
    bytes, inside double quotes.
    """
    if isinstance(value, str):
        value = value.encode("ascii")
    quoted = repr(value)[1:]
    if quoted.startswith("'"):
        return quoted[1:-1].replace('"', '\\"').replace("\\'", "'")
    return quoted[1:-1]


def _client(request: Request) -> str:
    """The client as the app resolved it; the peer for a request the app never saw."""
    client = IHookRequest(request).client
    if client is None:
        address = request.getClientAddress()
        return address.host if isinstance(address, IPv4Address | IPv6Address) else "-"
    return client if client != UNKNOWN else "-"


def access_log_formatter(timestamp: str, request: Request) -> str:
    """
    Twisted's combined log format (the line http.combinedLogFormatter writes),
    with the client behind a trusted proxy and no tokens; built here in one
    expression, a request's line being the one log line every delivery costs.
    """
    referrer = request.getHeader(b"referer") or b"-"
    agent = request.getHeader(b"user-agent") or b"-"
    return (
        f'"{_escape(_client(request))}" - - {timestamp}'
        f' "{_escape(request.method)} {_escape(redact_uri(request.uri))}'
        f' {_escape(request.clientproto)}"'
        f" {request.code:d} {request.sentLength or '-'}"
        f' "{_escape(referrer)}" "{_escape(agent)}"'
    )
