"""
The access log: Twisted's combined log format, without the secrets a query
string may carry and with the client a trusted proxy names instead of the proxy.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web import http
from twisted.web.server import Request

from hookdaemon.client_address import UNKNOWN
from hookdaemon.request_state import IHookRequest

__all__ = ["REDACTED_PARAMETERS", "access_log_formatter", "redact_uri"]

REDACTED_PARAMETERS = frozenset({"token", "secret", "access_token"})


def redact_uri(uri: bytes) -> bytes:
    """Hide the values of secret-bearing query parameters, for the access log."""
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


class _RedactedRequest:
    """The request as the access log shows it: no secrets, the resolved client."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self.uri = redact_uri(request.uri)

    def getClientAddress(self) -> IPv4Address | IPv6Address | None:
        client = IHookRequest(self._request).client
        if client is None:
            # Never reached the app (a malformed request): the peer is all we know.
            address = self._request.getClientAddress()
            return address if isinstance(address, IPv4Address | IPv6Address) else None
        if client == UNKNOWN:
            return None
        return (IPv6Address if ":" in client else IPv4Address)("TCP", client, 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def access_log_formatter(timestamp: str, request: Request) -> str:
    """Twisted's combined log format, with the client behind a trusted proxy and no tokens."""
    return http.combinedLogFormatter(timestamp, _RedactedRequest(request))  # type: ignore[no-any-return]
