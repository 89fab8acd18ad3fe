"""
The socket-level limits of L{hookdaemon.site}: bodies over max_body, slow
clients, too many connections. Exact tests drive a channel with a Clock and a
StringTransport; live tests use raw TCP against a daemon on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IPullProducer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import Clock, LoopingCall
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from hookdaemon.config import DaemonConfig
from hookdaemon.site import HookChannel, HookSite, TooManyConnections
from tests.support import RunningDaemon, get, post, start_daemon, wait_for

OPEN_HOOK = "[hook:open]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n"


def daemon_config(
    max_body: int = 1024, request_timeout: float = 5.0, max_connections: int = 256
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
        trusted_proxies=(),
        status_token=None,
        stop_grace=1.0,
        request_timeout=request_timeout,
        max_connections=max_connections,
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


async def raw_client(case: TestCase, daemon: RunningDaemon) -> RawClient:
    """A connected RawClient, closed at cleanup if the daemon has not closed it."""
    port = daemon.service.addresses()[0].port
    client = RawClient()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)

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
