"""
The socket-level limits of L{hookdaemon.site}: bodies over max_body, slow
clients (header_timeout, request_timeout), too many connections in all and from
one address. Exact tests drive a channel with a Clock and a StringTransport;
live tests use raw TCP against a daemon on 127.0.0.1, with clients bound to
127.0.0.2 where a second address is needed (on Linux all of 127/8 is loopback).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IPullProducer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import Clock, LoopingCall, deferLater
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from hookdaemon.config import DaemonConfig, Network
from hookdaemon.site import (
    TOO_MANY_CONNECTIONS,
    HookChannel,
    HookSite,
    TooManyConnections,
    counted_client,
)
from tests.support import RunningDaemon, get, post, start_daemon, wait_for

OPEN_HOOK = "[hook:open]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n"


def daemon_config(
    max_body: int = 1024,
    request_timeout: float = 5.0,
    max_connections: int = 256,
    header_timeout: float = 10.0,
    max_client_connections: int = 32,
    trusted_proxies: tuple[Network, ...] = (),
) -> DaemonConfig:
    return DaemonConfig(
        listen=(),
        state_dir=".",
        log_dir=".",
        log_max_bytes=1024,
        log_keep=1,
        max_body=max_body,
        max_parallel=1,
        history=1,
        trusted_proxies=trusted_proxies,
        stop_grace=1.0,
        request_timeout=request_timeout,
        header_timeout=header_timeout,
        max_connections=max_connections,
        max_client_connections=max_client_connections,
    )


class Recorder(Resource):
    """Answers every request with its body; with C{hold}, keeps the answer open."""

    isLeaf = True

    def __init__(self, hold: bool = False) -> None:
        super().__init__()
        self.hold = hold
        self.requests: list[Any] = []

    def render(self, request: Any) -> bytes | int:
        self.requests.append(request)
        if self.hold:
            request.write(b"streaming")
            return NOT_DONE_YET
        return b"got " + request.content.read()


def answer(transport: StringTransport) -> tuple[bytes, dict[str, Any]]:
    """The status line and JSON body of a canned answer."""
    head, _, body = transport.value().partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0], json.loads(body)


class ChannelTests(SynchronousTestCase):
    def connect(
        self, resource: Resource | None = None, **limits: Any
    ) -> tuple[HookChannel, StringTransport, Clock, Recorder]:
        clock = Clock()
        recorder = resource if isinstance(resource, Recorder) else Recorder()
        site = HookSite(recorder, daemon_config(**limits), clock)
        channel = site.buildProtocol(None)
        assert isinstance(channel, HookChannel)
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport, clock, recorder

    def test_overLongContentLengthAnswered413WithoutContinue(self) -> None:
        channel, transport, _, recorder = self.connect()
        channel.dataReceived(
            b"POST /hooks/x HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        status, body = answer(transport)
        self.assertEqual(status, b"HTTP/1.1 413 Request Entity Too Large")
        self.assertEqual(body, {"error": "body larger than max_body (1024 bytes)"})
        self.assertNotIn(b"100 Continue", transport.value())
        self.assertIn(b"Connection: close", transport.value())
        self.assertIn(b"Content-Type: application/json", transport.value())
        self.assertTrue(transport.disconnecting)
        channel.dataReceived(b"x" * 1025)
        self.assertEqual(recorder.requests, [])

    def test_contentLengthAtMaxBodyIsServed(self) -> None:
        channel, transport, _, recorder = self.connect()
        channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n" + b"x" * 1024
        )
        self.assertEqual(len(recorder.requests), 1)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK"))
        self.assertFalse(transport.disconnecting)

    def test_chunkedBodyRefusedOnceItPassesMaxBody(self) -> None:
        channel, transport, _, recorder = self.connect()
        channel.dataReceived(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        channel.dataReceived(b"200\r\n" + b"x" * 512 + b"\r\n" + b"200\r\n" + b"x" * 512 + b"\r\n")
        self.assertEqual(transport.value(), b"")
        # Two chunks in one read: the second is neither stored nor answered twice,
        # and the terminating chunk does not run the request.
        channel.dataReceived(b"1\r\nx\r\n1\r\ny\r\n0\r\n\r\n")
        status, body = answer(transport)
        self.assertEqual(status, b"HTTP/1.1 413 Request Entity Too Large")
        self.assertEqual(body, {"error": "body larger than max_body (1024 bytes)"})
        self.assertTrue(transport.disconnecting)
        self.assertEqual(channel.requests[0].content.tell(), 1024)
        written = transport.value()
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertEqual(transport.value(), written)
        self.assertEqual(recorder.requests, [])

    def test_overLongLineAnswered431AsJSON(self) -> None:
        channel, transport, _, recorder = self.connect()
        channel.dataReceived(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n")
        status, body = answer(transport)
        self.assertEqual(
            (status, body),
            (
                b"HTTP/1.1 431 Request Header Fields Too Large",
                {"error": "a request line or header is longer than 16384 bytes"},
            ),
        )
        self.assertTrue(transport.disconnecting)
        self.assertEqual(recorder.requests, [])

    def test_malformedRequestAnswered400AsJSON(self) -> None:
        channel, transport, _, _ = self.connect()
        channel.dataReceived(b"NONSENSE\r\n")
        status, body = answer(transport)
        self.assertEqual(
            (status, body), (b"HTTP/1.1 400 Bad Request", {"error": "malformed request"})
        )
        self.assertTrue(transport.disconnecting)

    def test_tricklingRequestAnswered408AtTheDeadline(self) -> None:
        channel, transport, clock, recorder = self.connect(request_timeout=5)
        request = b"GET / HTTP/1.1\r\nHost: h\r\n"
        for byte in request[:19]:
            channel.dataReceived(bytes([byte]))
            clock.advance(0.25)
        self.assertEqual(transport.value(), b"")
        channel.dataReceived(request[19:20])
        clock.advance(0.25)
        status, body = answer(transport)
        self.assertEqual(status, b"HTTP/1.1 408 Request Time-out")
        self.assertEqual(body, {"error": "request not received within request_timeout (5 s)"})
        self.assertTrue(transport.disconnecting)
        self.assertEqual(recorder.requests, [])

    def test_tricklingBodyAnswered408AtTheDeadline(self) -> None:
        channel, transport, clock, recorder = self.connect(request_timeout=5)
        channel.dataReceived(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n")
        for _ in range(39):
            clock.advance(0.125)
            channel.dataReceived(b"x")
        self.assertEqual(transport.value(), b"")
        clock.advance(0.125)
        self.assertEqual(answer(transport)[0], b"HTTP/1.1 408 Request Time-out")
        self.assertEqual(recorder.requests, [])

    def test_deadlineRestartsWithEachRequest(self) -> None:
        channel, transport, clock, recorder = self.connect(request_timeout=5)
        channel.dataReceived(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
        clock.advance(4)
        channel.dataReceived(b"GET /2 HTTP/1.1\r\n")
        clock.advance(4)
        channel.dataReceived(b"Host: h\r\n\r\n")
        clock.advance(4)
        self.assertEqual(len(recorder.requests), 2)
        self.assertNotIn(b"408", transport.value())

    def test_longAnswerIsNotCutByTheDeadline(self) -> None:
        channel, transport, clock, recorder = self.connect(Recorder(hold=True), request_timeout=5)
        channel.dataReceived(b"GET /jobs/1/log?follow=1 HTTP/1.1\r\nHost: h\r\n\r\n")
        clock.advance(600)
        self.assertFalse(transport.disconnecting)
        self.assertNotIn(b"408", transport.value())
        recorder.requests[0].finish()
        self.assertTrue(transport.value().endswith(b"0\r\n\r\n"))

    def test_idleConnectionClosedAfterRequestTimeout(self) -> None:
        channel, transport, clock, _ = self.connect(request_timeout=5)
        channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        served = transport.value()
        clock.advance(4.9)
        self.assertFalse(transport.disconnecting)
        clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), served)

    def test_refusedConnectionIsAbortedIfItDoesNotClose(self) -> None:
        channel, transport, clock, _ = self.connect(request_timeout=5)
        channel.dataReceived(b"GET")
        clock.advance(5)
        self.assertTrue(transport.disconnecting)
        self.assertFalse(transport.disconnected)
        clock.advance(channel.abortTimeout)
        self.assertTrue(transport.disconnected)

    def test_closedConnectionLeavesNothingScheduled(self) -> None:
        channel, _, clock, _ = self.connect(request_timeout=5)
        channel.dataReceived(b"GET")
        clock.advance(5)
        channel.connectionLost(Failure(connectionDone))
        self.assertEqual(clock.getDelayedCalls(), [])


class HeaderTimeoutTests(SynchronousTestCase):
    """header_timeout (2 s here) for the line and headers, request_timeout (5 s) for all."""

    connect = ChannelTests.connect

    def headers_then(self, **limits: Any) -> tuple[HookChannel, StringTransport, Clock, Recorder]:
        return self.connect(header_timeout=2, request_timeout=5, **limits)

    def test_tricklingHeadersAnswered408AtHeaderTimeout(self) -> None:
        channel, transport, clock, recorder = self.headers_then()
        request = b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: " + b"x" * 100
        for byte in request[:15]:
            channel.dataReceived(bytes([byte]))
            clock.advance(0.125)
        self.assertEqual(transport.value(), b"")
        with capturedLogs() as events:
            channel.dataReceived(request[15:16])
            clock.advance(0.125)  # 2 s after the first byte
        status, body = answer(transport)
        self.assertEqual(status, b"HTTP/1.1 408 Request Time-out")
        self.assertEqual(
            body, {"error": "request headers not received within header_timeout (2 s)"}
        )
        self.assertTrue(transport.disconnecting)
        self.assertEqual(recorder.requests, [])
        self.assertEqual(
            [formatEvent(event) for event in events],
            [f"{channel.getPeer()}: request headers not received within header_timeout; closing"],
        )

    def test_bodyAfterTimelyHeadersHasUntilRequestTimeout(self) -> None:
        channel, transport, clock, recorder = self.headers_then()
        channel.dataReceived(b"POST / HTTP/1.1\r\n")
        clock.advance(1.5)
        channel.dataReceived(b"Host: h\r\nContent-Length: 100\r\n\r\n")
        for _ in range(27):
            clock.advance(0.125)
            channel.dataReceived(b"x")
        self.assertEqual(transport.value(), b"")
        clock.advance(0.125)  # 5 s after the first byte
        status, body = answer(transport)
        self.assertEqual(status, b"HTTP/1.1 408 Request Time-out")
        self.assertEqual(body, {"error": "request not received within request_timeout (5 s)"})
        self.assertEqual(recorder.requests, [])

    def test_bothDeadlinesAreOneDelayedCall(self) -> None:
        """The header deadline is the request deadline, moved on once the headers are in."""
        channel, _, clock, _ = self.headers_then()
        idle = list(clock.getDelayedCalls())
        channel.dataReceived(b"POST / HTTP/1.1\r\n")
        (deadline,) = set(clock.getDelayedCalls()) - set(idle)
        self.assertEqual(deadline.getTime(), 2)
        clock.advance(1)
        channel.dataReceived(b"Host: h\r\nContent-Length: 2\r\n\r\n")
        self.assertEqual(len(clock.getDelayedCalls()), 2)  # the idle timeout and the deadline
        self.assertIn(deadline, clock.getDelayedCalls())
        self.assertEqual(deadline.getTime(), 5)
        channel.dataReceived(b"{}")
        self.assertFalse(deadline.active())

    def test_headerTimeoutCountsFromTheRequestsFirstByte(self) -> None:
        channel, transport, clock, recorder = self.headers_then()
        clock.advance(1.9)
        channel.dataReceived(b"GET / HTTP/1.1\r\n")
        clock.advance(1.9)
        channel.dataReceived(b"Host: h\r\n\r\n")
        self.assertEqual(len(recorder.requests), 1)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 OK"))

    def test_silentConnectionClosedAtHeaderTimeout(self) -> None:
        """A connection that never sends a byte is closed as an idle one, sooner."""
        _, transport, clock, _ = self.headers_then()
        clock.advance(1.9)
        self.assertFalse(transport.disconnecting)
        clock.advance(0.1)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), b"")

    def test_keepAliveConnectionIdlesForRequestTimeout(self) -> None:
        """Between requests a connection may idle for request_timeout, and each
        request gets header_timeout from its own first byte."""
        channel, transport, clock, recorder = self.headers_then()
        channel.dataReceived(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
        clock.advance(4.9)
        channel.dataReceived(b"GET /2 HTTP/1.1\r\n")
        self.assertEqual(len(recorder.requests), 1)
        clock.advance(1.9)
        self.assertFalse(transport.disconnecting)
        clock.advance(0.1)
        self.assertEqual(
            answer_after(transport, b"HTTP/1.1 408"),
            {"error": "request headers not received within header_timeout (2 s)"},
        )
        self.assertEqual(len(recorder.requests), 1)

    def test_headerTimeoutNoShorterThanRequestTimeoutIsRequestTimeout(self) -> None:
        channel, transport, clock, _ = self.connect(header_timeout=10, request_timeout=5)
        channel.dataReceived(b"GET / HTTP/1.1\r\n")
        clock.advance(5)
        self.assertEqual(
            answer(transport)[1], {"error": "request not received within request_timeout (5 s)"}
        )

    def test_closedConnectionLeavesNothingScheduled(self) -> None:
        channel, _, clock, _ = self.headers_then()
        channel.dataReceived(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n")
        channel.connectionLost(Failure(connectionDone))
        self.assertEqual(clock.getDelayedCalls(), [])


def answer_after(transport: StringTransport, status: bytes) -> Any:
    """The JSON body of the answer, among several on one connection, that starts with C{status}."""
    rest = transport.value().partition(status)[2]
    return json.loads(rest.partition(b"\r\n\r\n")[2])


class ConnectionLimitTests(SynchronousTestCase):
    def test_connectionsBeyondMaxAnswered503(self) -> None:
        site = HookSite(Recorder(), daemon_config(max_connections=2), Clock())
        first, second = site.buildProtocol(None), site.buildProtocol(None)
        assert first is not None and second is not None
        first.makeConnection(StringTransport())
        second.makeConnection(StringTransport())
        refused = site.buildProtocol(None)
        self.assertIsInstance(refused, TooManyConnections)
        assert refused is not None
        transport = StringTransport()
        refused.makeConnection(transport)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 503 Service Unavailable\r\n"))
        self.assertIn(b"Retry-After: 5\r\n", transport.value())
        self.assertEqual(
            json.loads(transport.value().partition(b"\r\n\r\n")[2]),
            {"error": "too many connections; try again shortly"},
        )
        self.assertTrue(transport.disconnecting)
        first.connectionLost(Failure(connectionDone))
        self.assertIsInstance(site.buildProtocol(None), HookChannel)


def peer(host: str, port: int = 40000) -> IPv4Address | IPv6Address:
    """A TCP peer address, as Twisted's listening port gives buildProtocol."""
    return IPv6Address("TCP", host, port) if ":" in host else IPv4Address("TCP", host, port)


class ClientLimitTests(SynchronousTestCase):
    """max_client_connections, exactly: connections are built from given peer addresses."""

    def site(self, **limits: Any) -> tuple[HookSite, Clock]:
        clock = Clock()
        return HookSite(Recorder(), daemon_config(**limits), clock), clock

    def open(self, site: HookSite, host: str) -> tuple[Protocol, StringTransport]:
        protocol = site.buildProtocol(peer(host))
        assert protocol is not None
        transport = StringTransport()
        protocol.makeConnection(transport)
        return protocol, transport

    def test_clientOverItsCapAnswered503WhileOthersAreServed(self) -> None:
        site, _ = self.site(max_client_connections=2)
        held = [self.open(site, "127.0.0.2")[0] for _ in range(2)]
        refused, transport = self.open(site, "127.0.0.2")
        self.assertIsInstance(refused, TooManyConnections)
        self.assertEqual(transport.value(), TOO_MANY_CONNECTIONS)
        self.assertTrue(transport.disconnecting)
        self.assertIsInstance(self.open(site, "127.0.0.1")[0], HookChannel)
        self.assertEqual(site.client_connections, {"127.0.0.2": 2, "127.0.0.1": 1})
        held[0].connectionLost(Failure(connectionDone))
        self.assertIsInstance(self.open(site, "127.0.0.2")[0], HookChannel)

    def test_countTableForgetsAnAddressAtZero(self) -> None:
        site, _ = self.site(max_client_connections=2)
        channels = [self.open(site, f"10.0.0.{n % 3}")[0] for n in range(6)]
        self.assertEqual(len(site.client_connections), 3)
        for channel in channels:
            channel.connectionLost(Failure(connectionDone))
        self.assertEqual((site.client_connections, site.connections), ({}, 0))

    def test_refusedConnectionIsNotCounted(self) -> None:
        site, _ = self.site(max_client_connections=1)
        channel, _ = self.open(site, "127.0.0.2")
        for _ in range(3):
            self.assertIsInstance(self.open(site, "127.0.0.2")[0], TooManyConnections)
        self.assertEqual((site.client_connections, site.connections), ({"127.0.0.2": 1}, 1))
        channel.connectionLost(Failure(connectionDone))
        self.assertEqual((site.client_connections, site.connections), ({}, 0))

    def test_ipv4MappedAddressCountsAsItsIPv4Address(self) -> None:
        site, _ = self.site(max_client_connections=2)
        self.open(site, "::ffff:192.0.2.7")
        self.open(site, "192.0.2.7")
        self.assertIsInstance(self.open(site, "::ffff:192.0.2.7")[0], TooManyConnections)
        self.assertIsInstance(self.open(site, "192.0.2.7")[0], TooManyConnections)
        self.assertEqual(site.client_connections, {"192.0.2.7": 2})

    def test_trustedProxyIsNotCapped(self) -> None:
        site, _ = self.site(
            max_client_connections=1,
            max_connections=4,
            trusted_proxies=(ipaddress.ip_network("10.1.0.0/16"),),
        )
        for host in ("10.1.0.1", "10.1.0.1", "::ffff:10.1.0.1"):
            self.assertIsInstance(self.open(site, host)[0], HookChannel)
        self.assertEqual(site.client_connections, {})
        self.assertIsInstance(self.open(site, "10.2.0.1")[0], HookChannel)
        self.assertIsInstance(self.open(site, "10.2.0.1")[0], TooManyConnections)
        # A trusted proxy still counts towards max_connections.
        self.assertIsInstance(self.open(site, "10.1.0.1")[0], TooManyConnections)

    def test_unixSocketIsNotCapped(self) -> None:
        site, _ = self.site(max_client_connections=1)
        for _ in range(3):
            protocol = site.buildProtocol(UNIXAddress(None))
            self.assertIsInstance(protocol, HookChannel)
        self.assertEqual((site.client_connections, site.connections), ({}, 3))

    def test_countedClient(self) -> None:
        trusted = (ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/32"))
        cases = [
            (peer("198.51.100.1"), (), "198.51.100.1"),
            (peer("198.51.100.1"), trusted, "198.51.100.1"),
            (peer("::ffff:198.51.100.1"), (), "198.51.100.1"),
            (peer("2001:DB8:0::1"), (), "2001:db8::1"),
            (peer("2001:db8::1"), trusted, None),
            (peer("192.0.2.9"), trusted, None),
            (peer("::ffff:192.0.2.9"), trusted, None),
            (UNIXAddress("/run/hookdaemon.sock"), (), None),
            (None, (), None),
        ]
        self.assertEqual(
            [counted_client(addr, networks) for addr, networks, _ in cases],
            [expected for _, _, expected in cases],
        )


class RefusalLogTests(SynchronousTestCase):
    """Connections refused with 503 are logged as one line per period, with counts."""

    def test_refusalsLoggedOnceAPeriodWithTheirCounts(self) -> None:
        clock = Clock()
        limits = daemon_config(max_client_connections=1, max_connections=4)
        site = HookSite(Recorder(), limits, clock)
        with capturedLogs() as events:
            for host in ["127.0.0.2", "127.0.0.3", "127.0.0.4"]:
                site.buildProtocol(peer(host))
            for _ in range(7):
                site.buildProtocol(peer("127.0.0.2"))
            for _ in range(2):
                site.buildProtocol(peer("127.0.0.3"))
            site.buildProtocol(peer("127.0.0.5"))
            site.buildProtocol(peer("127.0.0.6"))
            clock.advance(59)
            self.assertEqual(events, [])
            clock.advance(1)
        self.assertEqual(
            [formatEvent(event) for event in events],
            [
                "10 connections answered 503 in 60 s: 1 over max_connections (4), 9 over "
                "max_client_connections (1); from 127.0.0.2 (7), 127.0.0.3 (2), 127.0.0.6 (1)"
            ],
        )
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_refusalsBeyondTheTrackedAddressesAreSummed(self) -> None:
        """At most Refusals.tracked addresses are counted one by one in a period."""
        clock = Clock()
        site = HookSite(Recorder(), daemon_config(max_connections=1), clock)
        site.buildProtocol(peer("127.0.0.1"))
        with capturedLogs() as events:
            for n in range(200):
                site.buildProtocol(peer(f"10.0.{n // 100}.{n % 100}"))
                site.buildProtocol(peer("10.9.9.9"))
            site.buildProtocol(UNIXAddress(None))
            clock.advance(60)
        # 10.9.9.9 and the first 99 others are tracked; 101 others and the UNIX peer are not.
        self.assertEqual(
            [formatEvent(event) for event in events],
            [
                "401 connections answered 503 in 60 s: 401 over max_connections (1), 0 over "
                "max_client_connections (32); from 10.9.9.9 (200), 10.0.0.0 (1), "
                "10.0.0.1 (1), 10.0.0.2 (1), 10.0.0.3 (1), others (197)"
            ],
        )

    def test_stoppingLogsWhatWasRefused(self) -> None:
        clock = Clock()
        site = HookSite(Recorder(), daemon_config(max_connections=1), clock)
        site.buildProtocol(None)
        site.buildProtocol(None)
        site.doStart()
        clock.advance(12)
        with capturedLogs() as events:
            site.doStop()
        self.assertEqual(
            [formatEvent(e) for e in events if e["log_namespace"] == "hookdaemon.site"],
            [
                "1 connections answered 503 in 12 s: 1 over max_connections (1), 0 over "
                "max_client_connections (32); from others (1)"
            ],
        )
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_nothingRefusedNothingLogged(self) -> None:
        clock = Clock()
        site = HookSite(Recorder(), daemon_config(), clock)
        site.buildProtocol(peer("127.0.0.1"))
        self.assertEqual(clock.getDelayedCalls(), [])


@implementer(IPullProducer)
class RawClient(Protocol):
    """A TCP client that sends what it is told and keeps all it receives."""

    def __init__(self) -> None:
        self.received = b""
        self.closed: Deferred[None] = Deferred()
        self.sent = 0
        self._body: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.sent += len(data)
        self.transport.write(data)

    def stream(self, chunk: bytes, count: int) -> None:
        """Send C{chunk} C{count} times as the socket drains, until an answer comes."""
        self._body = [chunk] * count
        assert self.transport is not None
        self.transport.registerProducer(self, False)

    def resumeProducing(self) -> None:
        if self._body and not self.received:
            self.send(self._body.pop())
        else:
            assert self.transport is not None
            self.transport.unregisterProducer()

    def stopProducing(self) -> None:
        self._body = []

    def status(self) -> bytes:
        return self.received.split(b"\r\n", 1)[0]

    def json(self) -> Any:
        return json.loads(self.received.partition(b"\r\n\r\n")[2])


async def raw_client(
    case: TestCase, daemon: RunningDaemon, source: str = "127.0.0.1"
) -> RawClient:
    """
    A RawClient connected from C{source} (any 127.x.x.x address), closed at
    cleanup if the daemon has not closed it.
    """
    port = daemon.service.addresses()[0].port
    client = RawClient()
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, bindAddress=(source, 0))
    await connectProtocol(endpoint, client)

    async def close() -> None:
        if not client.closed.called:
            assert client.transport is not None
            client.transport.loseConnection()
            await client.closed

    case.addCleanup(lambda: Deferred.fromCoroutine(close()))
    return client


class LiveLimitTests(TestCase):
    async def test_overLongContentLengthAnswered413BeforeTheBody(self) -> None:
        daemon = await start_daemon(self, OPEN_HOOK, daemon="max_body = 1024\n")
        client = await raw_client(self, daemon)
        client.send(
            b"POST /hooks/open HTTP/1.1\r\nHost: h\r\nContent-Length: 100000000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        await client.closed
        self.assertEqual(client.status(), b"HTTP/1.1 413 Request Entity Too Large")
        self.assertEqual(client.json(), {"error": "body larger than max_body (1024 bytes)"})
        self.assertNotIn(b"100 Continue", client.received)
        self.assertEqual(daemon.jobs, {})

    async def test_hugeChunkedUploadAnswered413AndDaemonServesOn(self) -> None:
        daemon = await start_daemon(self, OPEN_HOOK, daemon="max_body = 1024\n")
        client = await raw_client(self, daemon)
        client.send(b"POST /hooks/open HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        client.stream(chunk, 20 * 16)  # 20 MB
        await client.closed
        self.assertEqual(client.status(), b"HTTP/1.1 413 Request Entity Too Large")
        self.assertLess(client.sent, 20 * 1024 * 1024)
        self.assertEqual(daemon.jobs, {})
        code, _, _ = await post(daemon.hook_url("open"), b"{}", {})
        self.assertEqual(code, 202)

    async def test_contentLengthShorterThanTheDataIsNoServerError(self) -> None:
        daemon = await start_daemon(self, OPEN_HOOK, daemon="max_body = 1024\n")
        client = await raw_client(self, daemon)
        client.send(
            b"POST /hooks/open HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"
            + b"garbage " * 200
            + b"\r\n\r\n"
        )
        await client.closed
        statuses = [
            line for line in client.received.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")
        ]
        self.assertEqual(statuses, [b"HTTP/1.1 202 Accepted", b"HTTP/1.1 400 Bad Request"])
        code, _ = await get(daemon.url + "/healthz")
        self.assertEqual(code, 200)

    async def test_contentLengthLongerThanTheDataAnswered408(self) -> None:
        daemon = await start_daemon(
            self, OPEN_HOOK, daemon="max_body = 1024\nrequest_timeout = 0.5\n"
        )
        client = await raw_client(self, daemon)
        client.send(b"POST /hooks/open HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n{}")
        await client.closed
        self.assertEqual(client.status(), b"HTTP/1.1 408 Request Time-out")
        self.assertEqual(daemon.jobs, {})
        code, _, _ = await post(daemon.hook_url("open"), b"{}", {})
        self.assertEqual(code, 202)

    async def test_slowlorisAnswered408WhileOthersAreServed(self) -> None:
        daemon = await start_daemon(self, OPEN_HOOK, daemon="request_timeout = 0.5\n")
        client = await raw_client(self, daemon)
        request = iter(b"POST /hooks/open HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
        trickle = LoopingCall(lambda: client.send(bytes([next(request)])))
        trickle.clock = reactor
        self.addCleanup(lambda: trickle.running and trickle.stop())
        trickle.start(0.1)
        code, _ = await get(daemon.url + "/healthz")
        self.assertEqual(code, 200)
        await client.closed
        trickle.stop()
        self.assertEqual(client.status(), b"HTTP/1.1 408 Request Time-out")
        self.assertEqual(
            client.json(), {"error": "request not received within request_timeout (0.5 s)"}
        )
        self.assertEqual(daemon.jobs, {})

    async def test_connectionBeyondMaxConnectionsAnswered503(self) -> None:
        daemon = await start_daemon(self, OPEN_HOOK, daemon="max_connections = 3\n")
        site = daemon.service.site
        held = [await raw_client(self, daemon) for _ in range(3)]
        await wait_for(lambda: site.connections == 3, "three connections held")
        extra = await raw_client(self, daemon)
        await extra.closed
        self.assertEqual(extra.status(), b"HTTP/1.1 503 Service Unavailable")
        self.assertIn(b"\r\nRetry-After: 5\r\n", extra.received)
        self.assertEqual(extra.json(), {"error": "too many connections; try again shortly"})
        assert held[0].transport is not None
        held[0].transport.loseConnection()
        await held[0].closed
        await wait_for(lambda: site.connections == 2, "one connection released")
        code, _ = await get(daemon.url + "/healthz")
        self.assertEqual(code, 200)


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"


async def trickle(case: TestCase, client: RawClient, data: bytes) -> None:
    """Send C{data} one byte every 0.1 s until the connection closes or it is all sent."""
    stream = iter(data)
    sender = LoopingCall(lambda: client.send(bytes([next(stream)])))
    sender.clock = reactor
    case.addCleanup(lambda: sender.running and sender.stop())
    sending = sender.start(0.1)
    await client.closed
    if sender.running:
        sender.stop()
    await sending


class LiveSlowClientTests(TestCase):
    """Against a listening daemon over real sockets, one client from 127.0.0.2."""

    async def test_addressAtItsCapCannotTakeMoreWhileAnotherIsServed(self) -> None:
        daemon = await start_daemon(
            self, OPEN_HOOK, daemon="max_client_connections = 3\nmax_connections = 10\n"
        )
        site = daemon.service.site
        held = [await raw_client(self, daemon, "127.0.0.2") for _ in range(3)]
        await wait_for(lambda: site.connections == 3, "three connections held")
        extra = await raw_client(self, daemon, "127.0.0.2")
        await extra.closed
        self.assertEqual(extra.status(), b"HTTP/1.1 503 Service Unavailable")
        self.assertIn(b"\r\nRetry-After: 5\r\n", extra.received)
        self.assertEqual(extra.json(), {"error": "too many connections; try again shortly"})
        self.assertEqual(site.client_connections, {"127.0.0.2": 3})

        other = await raw_client(self, daemon, "127.0.0.1")
        other.send(HEALTHZ)
        await other.closed
        self.assertEqual(other.status(), b"HTTP/1.1 200 OK")
        code, _, _ = await post(daemon.hook_url("open"), b"{}", {})
        self.assertEqual(code, 202)

        held[0].send(HEALTHZ)
        await held[0].closed
        self.assertEqual(held[0].status(), b"HTTP/1.1 200 OK")
        await wait_for(lambda: site.client_connections == {"127.0.0.2": 2}, "one released")
        again = await raw_client(self, daemon, "127.0.0.2")
        again.send(HEALTHZ)
        await again.closed
        self.assertEqual(again.status(), b"HTTP/1.1 200 OK")

    async def test_tricklingHeadersCutAtHeaderTimeout(self) -> None:
        daemon = await start_daemon(
            self, OPEN_HOOK, daemon="header_timeout = 0.5\nrequest_timeout = 30\n"
        )
        client = await raw_client(self, daemon, "127.0.0.2")
        await trickle(self, client, b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Slow: " + b"x" * 1000)
        self.assertEqual(client.status(), b"HTTP/1.1 408 Request Time-out")
        self.assertEqual(
            client.json(), {"error": "request headers not received within header_timeout (0.5 s)"}
        )
        code, _ = await get(daemon.url + "/healthz")
        self.assertEqual(code, 200)

    async def test_slowBodyCutAtRequestTimeout(self) -> None:
        daemon = await start_daemon(
            self, OPEN_HOOK, daemon="header_timeout = 0.5\nrequest_timeout = 1.5\n"
        )
        client = await raw_client(self, daemon, "127.0.0.2")
        client.send(b"POST /hooks/open HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n")
        await trickle(self, client, b"{" + b" " * 999)
        self.assertEqual(client.status(), b"HTTP/1.1 408 Request Time-out")
        self.assertEqual(
            client.json(), {"error": "request not received within request_timeout (1.5 s)"}
        )
        self.assertEqual(daemon.jobs, {})

    async def test_bodyAfterHeaderTimeoutIsServed(self) -> None:
        """The headers came in time: the body may come later, within request_timeout."""
        daemon = await start_daemon(
            self, OPEN_HOOK, daemon="header_timeout = 0.5\nrequest_timeout = 30\n"
        )
        client = await raw_client(self, daemon)
        client.send(
            b"POST /hooks/open HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
            b"Connection: close\r\n\r\n"
        )
        await deferLater(reactor, 1.0)  # twice header_timeout, at least
        self.assertFalse(client.closed.called)
        client.send(b"{}")
        await client.closed
        self.assertEqual(client.status(), b"HTTP/1.1 202 Accepted")

    async def test_trustedProxyIsNotCapped(self) -> None:
        daemon = await start_daemon(
            self, OPEN_HOOK, daemon="trusted_proxies = 127.0.0.2\nmax_client_connections = 2\n"
        )
        site = daemon.service.site
        proxied = [await raw_client(self, daemon, "127.0.0.2") for _ in range(4)]
        direct = [await raw_client(self, daemon, "127.0.0.1") for _ in range(3)]
        await direct[2].closed
        self.assertEqual(direct[2].status(), b"HTTP/1.1 503 Service Unavailable")
        await wait_for(lambda: site.connections == 6, "four proxied and two direct held")
        self.assertEqual(site.client_connections, {"127.0.0.1": 2})
        for client in proxied:
            client.send(
                b"GET /healthz HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.9\r\n"
                b"Connection: close\r\n\r\n"
            )
            await client.closed
            self.assertEqual(client.status(), b"HTTP/1.1 200 OK")
