"""
The HTTP server around the Klein app: body limits, slow clients, connection limits.

These guard the socket itself, before any route runs, so they live below L{HookApp}.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import RESPONSES, HTTPChannel
from twisted.web.resource import IResource
from twisted.web.server import Request, Site

from hookdaemon.config import DaemonConfig

log = Logger()

REASONS = {**RESPONSES, 431: b"Request Header Fields Too Large"}
"""Reason phrases; twisted.web's table lacks RFC 6585's 431."""

RETRY_AFTER = 5
"""Seconds a client refused for too many connections is asked to wait."""


def canned_answer(code: int, error: str, headers: bytes = b"") -> bytes:
    """A whole JSON error answer that ends its connection, for use below any Request."""
    body = json.dumps({"error": error}).encode() + b"\n"
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (code, REASONS[code]),
            b"Content-Type: application/json\r\n",
            b"Cache-Control: no-store\r\n",
            headers,
            b"Content-Length: %d\r\n" % len(body),
            b"Connection: close\r\n\r\n",
            body,
        ]
    )


TOO_MANY_CONNECTIONS = canned_answer(
    503, "too many connections; try again shortly", b"Retry-After: %d\r\n" % RETRY_AFTER
)


class LimitedRequest(Request):
    """A request whose body is counted by its channel before any of it is stored."""

    def handleContentChunk(self, data: bytes) -> None:
        channel = self.channel
        assert isinstance(channel, HookChannel)
        if channel.body_chunk(data):
            super().handleContentChunk(data)


class HookChannel(HTTPChannel):
    """
    An HTTP/1.1 channel that refuses a body over C{max_body} without reading the
    rest of it, and a request not fully received C{request_timeout} seconds after
    its first byte.
    """

    max_body = 10 * 1024 * 1024
    request_timeout = 30.0
    _body_length = 0
    _deadline: IDelayedCall | None = None
    _abort: IDelayedCall | None = None
    _closing = False

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        if self._deadline is None and not self._handlingRequest:
            # Twisted's idle timeout restarts with every byte, so a client sending
            # one byte every few seconds never trips it; this deadline does not move.
            self._deadline = self.callLater(self.request_timeout, self._timed_out)
        super().dataReceived(data)

    def rawDataReceived(self, data: bytes) -> None:
        # LineReceiver hands over the rest of a buffer even after we closed.
        if not self._closing:
            super().rawDataReceived(data)

    def allHeadersReceived(self) -> None:
        self._body_length = 0
        if self.length is not None and self.length > self.max_body:
            # Before super(), which would send "100 Continue" and open a spool file.
            self._too_large()
            return
        super().allHeadersReceived()

    def body_chunk(self, data: bytes) -> bool:
        """Count a chunk of the body; refuse the request once it passes C{max_body}."""
        if self._closing:
            return False
        self._body_length += len(data)
        if self._body_length > self.max_body:
            self._too_large()
            return False
        return True

    def allContentReceived(self) -> None:
        if self._closing:
            return  # the chunked decoder ended a body we already refused
        self._stop_deadline()
        super().allContentReceived()

    def timeoutConnection(self) -> None:
        if self._deadline is not None:
            # Mid-request the idle timeout can at most tie with the deadline.
            self._timed_out()
        else:
            super().timeoutConnection()

    def lineLengthExceeded(self, line: bytes) -> None:
        # LineReceiver would drop the connection without a word.
        self._refuse(431, f"a request line or header is longer than {self.MAX_LENGTH} bytes")

    def _respondToBadRequestAndDisconnect(self) -> None:
        # Twisted answers a bare 400 here; every answer of the daemon is JSON.
        self._refuse(400, "malformed request")

    def _timed_out(self) -> None:
        self._deadline = None
        log.info(
            "{peer}: request not received within request_timeout; closing",
            peer=self.getPeer(),
        )
        self._refuse(
            408, f"request not received within request_timeout ({self.request_timeout:g} s)"
        )

    def _too_large(self) -> None:
        log.info(
            "{peer}: request body over max_body ({max_body} bytes); closing",
            peer=self.getPeer(),
            max_body=self.max_body,
        )
        self._refuse(413, f"body larger than max_body ({self.max_body} bytes)")

    def _refuse(self, code: int, error: str) -> None:
        """Answer with a JSON error and close, reading nothing more of the request."""
        if self._closing:
            return
        self._closing = True
        self._stop_deadline()
        self.setTimeout(None)
        assert self.transport is not None
        self.transport.write(canned_answer(code, error))
        # loseConnection stops reading; abort if a client that never reads keeps
        # the answer from draining.
        self._abort = self.callLater(self.abortTimeout, self.forceAbortClient)
        self.loseConnection()

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._stop_deadline()
        if self._abort is not None and self._abort.active():
            self._abort.cancel()
        super().connectionLost(reason)
        self.factory.channel_closed()


class TooManyConnections(Protocol):
    """Answers 503 and closes at once: no channel is built and no request is read."""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(TOO_MANY_CONNECTIONS)
        self.transport.loseConnection()


class HookSite(Site):
    """A Site with the daemon's limits from C{[hookdaemon]}."""

    # HookChannel directly rather than Twisted's HTTP/2-negotiating wrapper: the
    # limits are written for HTTP/1.1, and an h2 connection would bypass them.
    protocol = HookChannel  # type: ignore[assignment]

    def __init__(
        self, resource: IResource, daemon: DaemonConfig, reactor: IReactorTime, **kwargs: Any
    ) -> None:
        # Site's idle timeout closes keep-alive connections idle between requests.
        # No form parsing into request.args: nothing reads it (tokens come from the
        # URL only), and it parsed every Content-Type with the email package.
        super().__init__(
            resource,
            LimitedRequest,
            reactor=reactor,
            timeout=daemon.request_timeout,
            parsePOSTFormSubmission=False,
            **kwargs,
        )
        self.daemon = daemon
        self.connections = 0

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:  # type: ignore[override]
        # Counted here rather than with policies.LimitTotalConnectionsFactory, whose
        # ProtocolWrapper adds a call to every read and write of every connection.
        if self.connections >= self.daemon.max_connections:
            return TooManyConnections()
        channel = super().buildProtocol(addr)
        channel.max_body = self.daemon.max_body
        channel.request_timeout = self.daemon.request_timeout
        self.connections += 1
        return channel  # type: ignore[no-any-return]

    def channel_closed(self) -> None:
        self.connections -= 1
