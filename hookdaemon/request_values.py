"""
What a twisted.web request says, as the plain values the core judges it by:
its peer's host, its headers, its URL's query, and what the status endpoints check.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.web.iweb import IRequest

from hookdaemon.status_access import StatusRequest


def client_host(request: IRequest) -> str:
    """The host of the connection's peer address; empty for a UNIX socket."""
    address = request.getClientAddress()
    if isinstance(address, IPv4Address | IPv6Address):
        return address.host
    return ""


def header_values(request: IRequest, name: bytes) -> list[str]:
    return [v.decode("latin-1") for v in request.requestHeaders.getRawHeaders(name, [])]


def status_request(request: IRequest, authorization: str | None) -> StatusRequest:
    """
    What L{hookdaemon.status_access.status_refusal} judges of C{request}, with
    the credential it carries: its Authorization header for the job API, the
    signed-in token for the dashboard.
    """
    return StatusRequest(
        peer=client_host(request),
        version=request.clientproto.decode("latin-1"),  # type: ignore[attr-defined]
        hosts=tuple(header_values(request, b"host")),
        header_names=frozenset(
            name.decode("latin-1") for name, _ in request.requestHeaders.getAllRawHeaders()
        ),
        authorization=authorization,
    )


def url_query(request: IRequest) -> dict[str, list[str]]:
    """
    The URL's query parameters. Not request.args: twisted.web merges form-encoded
    body fields into it, and a token must only ever come from the URL.
    """
    if b"?" not in request.uri:
        return {}  # a delivery's URL, as good as always: nothing to take apart
    return parse_qs(urlsplit(request.uri.decode("latin-1")).query, keep_blank_values=True)
