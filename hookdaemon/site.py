"""
The HTTP server around the Klein app: body limits, slow clients, connection limits.

These guard the socket itself, before any route runs, so they live below L{HookApp}.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from twisted.web.http import RESPONSES, HTTPChannel
from twisted.web.resource import IResource
from twisted.web.server import Request, Site

from hookdaemon.client_address import parse_address
from hookdaemon.config import DaemonConfig, Network

log = Logger()
access_log = Logger(namespace="twisted.python.log")
"""Where twisted.web's Site writes its access log without a log file: twisted.python.log's."""

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
    rest of it, a request whose line and headers are not in C{header_timeout}
    seconds after its first byte, and one not fully received C{request_timeout}
    seconds after it.

    @ivar client: the address this connection counts against
        C{max_client_connections} under, or None if it counts against none.
    @ivar _deadline: while a request is being received, the call that answers
        408: due C{header_timeout} after its first byte until its headers are
        in, then moved on to C{request_timeout} after it. One call for both.
    @ivar _reading_headers: whether the request under C{_deadline} is still
        sending its line and headers.
    """

    max_body = 10 * 1024 * 1024
    request_timeout = 30.0
    header_timeout = 10.0
    client: str | None = None
    _body_length = 0
    _deadline: IDelayedCall | None = None
    _reading_headers = False
    _abort: IDelayedCall | None = None
    _closing = False

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        if self._deadline is None and not self._handlingRequest:
            # Twisted's idle timeout restarts with every byte, so a client sending
            # one byte every few seconds never trips it; this deadline does not move.
            self._reading_headers = True
            self._deadline = self.callLater(
                min(self.header_timeout, self.request_timeout), self._timed_out
            )
            if self.timeOut != self.request_timeout:
                # A connection's first byte: until now its idle timeout was
                # header_timeout (HookSite.buildProtocol), from now on request_timeout.
                self.setTimeout(self.request_timeout)
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
        self._reading_headers = False
        if self._deadline is not None and self.header_timeout < self.request_timeout:
            # Still counted from the request's first byte.
            self._deadline.delay(self.request_timeout - self.header_timeout)
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
        # One line per connection cut, not a summary: at most max_connections
        # connections are cut per header_timeout (25.6 lines a second at the
        # defaults), fewer than the access log writes for a flood of requests.
        self._deadline = None
        if self._reading_headers and self.header_timeout < self.request_timeout:
            what, limit, seconds = "request headers", "header_timeout", self.header_timeout
        else:
            what, limit, seconds = "request", "request_timeout", self.request_timeout
        log.info(
            "{peer}: {what} not received within {limit}; closing",
            peer=self.getPeer(),
            what=what,
            limit=limit,
        )
        self._refuse(408, f"{what} not received within {limit} ({seconds:g} s)")

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
        self.factory.channel_closed(self.client)


class TooManyConnections(Protocol):
    """Answers 503 and closes at once: no channel is built and no request is read."""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(TOO_MANY_CONNECTIONS)
        self.transport.loseConnection()


def counted_client(addr: IAddress | None, trusted_proxies: tuple[Network, ...]) -> str | None:
    """
    The address a connection from C{addr} counts against C{max_client_connections}
    under (an IPv4-mapped IPv6 address as its IPv4 address, so a client has one
    count on C{tcp:} and C{tcp6:} endpoints alike), or None for a connection
    that counts against none.

    None for a UNIX socket: it has no peer address, and what connects to it is
    on this machine, most likely a proxy forwarding for many clients, which one
    count for all would lock out together. None for a peer in
    C{trusted_proxies} too: the client it forwards for is known only from its
    headers, after the connection is counted, so the proxy is to limit each
    client itself (nginx: C{limit_conn}).
    """
    if isinstance(addr, IPv4Address):
        if not trusted_proxies:
            return addr.host  # the kernel's dotted quad: already normal
    elif not isinstance(addr, IPv6Address):
        return None
    address = parse_address(addr.host)
    if address is None:
        return None
    if any(address in network for network in trusted_proxies):
        return None
    return str(address)


class Refusals:
    """
    Connections answered L{TOO_MANY_CONNECTIONS}, logged as one line per
    C{period} with their count, not one line each: a refused client can connect
    again at once, and one line each would let it write the log as fast as it
    connects (slowhttptest reconnects 50 times a second by default).
    """

    period = 60.0
    shown = 5
    """Addresses named in the line, the most refused first."""
    tracked = 100
    """Addresses counted one by one in a period; refusals from others are counted together."""

    def __init__(self, clock: IReactorTime, daemon: DaemonConfig) -> None:
        self._clock = clock
        self.daemon = daemon
        self._by_client: Counter[str] = Counter()
        self._over_total = 0
        self._over_client = 0
        self._due: IDelayedCall | None = None
        self._since = 0.0

    def refused(self, client: str | None, over_client: bool) -> None:
        """Count one: over C{max_client_connections} if C{over_client}, else C{max_connections}."""
        if over_client:
            self._over_client += 1
        else:
            self._over_total += 1
        if client is not None and (
            client in self._by_client or len(self._by_client) < self.tracked
        ):
            self._by_client[client] += 1
        if self._due is None:
            self._since = self._clock.seconds()
            self._due = self._clock.callLater(self.period, self.flush)

    def flush(self) -> None:
        """Log the period's line now, if anything was refused, and start a new period."""
        if self._due is not None and self._due.active():
            self._due.cancel()
        self._due = None
        count = self._over_total + self._over_client
        if not count:
            return
        busiest = self._by_client.most_common(self.shown)
        others = count - sum(refused for _, refused in busiest)
        log.info(
            "{count} connections answered 503 in {seconds} s: {over_total} over "
            "max_connections ({max_connections}), {over_client} over "
            "max_client_connections ({max_client_connections}); from {busiest}",
            count=count,
            seconds=f"{self._clock.seconds() - self._since:.0f}",
            over_total=self._over_total,
            max_connections=self.daemon.max_connections,
            over_client=self._over_client,
            max_client_connections=self.daemon.max_client_connections,
            busiest=", ".join(
                [f"{client} ({refused})" for client, refused in busiest]
                + ([f"others ({others})"] if others else [])
            ),
        )
        self._by_client.clear()
        self._over_total = self._over_client = 0


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
        self.client_connections: dict[str, int] = {}
        """Open connections by L{counted_client}; one at 0 is removed (max_connections at most)."""
        self.refusals = Refusals(reactor, daemon)

    def reconfigure(self, daemon: DaemonConfig) -> None:
        """A reload: new connections get the new limits; open ones keep theirs."""
        self.daemon = daemon
        self.refusals.daemon = daemon

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:  # type: ignore[override]
        # Counted here rather than with policies.LimitTotalConnectionsFactory, whose
        # ProtocolWrapper adds a call to every read and write of every connection.
        client = counted_client(addr, self.daemon.trusted_proxies)
        if self.connections >= self.daemon.max_connections:
            self.refusals.refused(client, over_client=False)
            return TooManyConnections()
        if client is not None:
            held = self.client_connections.get(client, 0)
            if held >= self.daemon.max_client_connections:
                self.refusals.refused(client, over_client=True)
                return TooManyConnections()
            self.client_connections[client] = held + 1
        channel = super().buildProtocol(addr)
        channel.max_body = self.daemon.max_body
        channel.request_timeout = self.daemon.request_timeout
        channel.header_timeout = self.daemon.header_timeout
        # A connection that never sends a byte starts no deadline, only Twisted's
        # idle timeout; before its first byte that is header_timeout (as nginx's
        # client_header_timeout counts from accept), not request_timeout.
        channel.timeOut = min(self.daemon.header_timeout, self.daemon.request_timeout)
        channel.client = client
        self.connections += 1
        return channel  # type: ignore[no-any-return]

    def channel_closed(self, client: str | None) -> None:
        self.connections -= 1
        if client is not None:
            held = self.client_connections[client] - 1
            if held:
                self.client_connections[client] = held
            else:
                del self.client_connections[client]

    def log(self, request: Request) -> None:  # type: ignore[override]
        """
        The access log line, emitted as Site's own (through twisted.python.log's
        file-like logfile) would be, without that file's buffering and splitting.
        """
        if self.logPath is not None:
            super().log(request)
            return
        line = self._logFormatter(self._logDateTime, request)
        access_log.emit(LogLevel.info, "{log_io}", log_io=line)

    def stopFactory(self) -> None:
        # The last endpoint stopped: log what was refused rather than leave its
        # line (and its call) waiting.
        self.refusals.flush()
        super().stopFactory()
