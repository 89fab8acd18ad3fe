"""The order the service's children start and stop in, and a listen endpoint that cannot bind."""

from __future__ import annotations

import errno
import os
import socket
from typing import NoReturn

from twisted.application.service import Service
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.server import Site
from twisted.web.static import Data

from hookdaemon.config import parse_config
from hookdaemon.listening import CannotListenError as ListenRefusedError
from hookdaemon.listening import ListeningEndpoint
from hookdaemon.service import HookService, InOrder
from tests.support import config_text, start_daemon
from tests.test_service import ENVIRON, HOOKS


class Child(Service):
    """Says when it is told to stop, and stops when the test says."""

    def __init__(self, name: str, said: list[str]) -> None:
        self.name = name
        self.said = said
        self.stopping: Deferred[None] | None = None

    def startService(self) -> None:
        super().startService()
        self.said.append(f"start {self.name}")

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.said.append(f"stop {self.name}")
        self.stopping = Deferred()
        return self.stopping


class InOrderTests(SynchronousTestCase):
    def test_childrenStopOneAtATimeTheLastStartedFirst(self) -> None:
        said: list[str] = []
        parent = InOrder()
        children = [Child(name, said) for name in ("journal", "logs", "engine")]
        for child in children:
            child.setServiceParent(parent)
        parent.startService()
        stopped = parent.stopService()
        self.assertEqual(said, ["start journal", "start logs", "start engine", "stop engine"])
        journal, logs, engine = children
        assert engine.stopping is not None
        engine.stopping.callback(None)
        self.assertEqual(said[-1], "stop logs")
        assert logs.stopping is not None
        logs.stopping.callback(None)
        self.assertEqual(said[-1], "stop journal")
        self.assertNoResult(stopped)
        assert journal.stopping is not None
        journal.stopping.callback(None)
        self.successResultOf(stopped)
        self.assertFalse(parent.running)

    def test_theDaemonsChildrenAreInTheirOrder(self) -> None:
        config = parse_config(config_text(HOOKS), "tap.cfg", ENVIRON, lambda path: b"")
        service = HookService(config)
        self.assertEqual(
            list(service),
            [
                service.journal,
                service.outbox,
                service.outputs,
                service.listeners,
                service.engine,
                service.reloader,
                service.notice,
            ],
        )


class ListeningEndpointTests(TestCase):
    def test_aPortThatIsTakenStopsTheStartAtOnce(self) -> None:
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stopped: list[bool] = []
        self.patch(reactor, "callWhenRunning", lambda f, *a: stopped.append(True))
        endpoint = ListeningEndpoint(
            reactor, f"tcp:{port}:interface=127.0.0.1", Site(Data(b"", "text/plain"))
        )
        with self.assertRaises(SystemExit) as raised:
            endpoint.privilegedStartService()
        self.assertEqual(raised.exception.code, 1)
        self.assertIsNone(endpoint.port)
        self.assertEqual(stopped, [True])  # the reactor would be stopped too
        self.flushLoggedErrors()

    def test_aLowPortRefusedToAUserSaysWhatItTakes(self) -> None:
        """EACCES for port 81: as a deploy user; the kernel's own answer, from a fake reactor."""

        class Refusing(MemoryReactor):
            def listenTCP(self, port: int, *args: object, **kwargs: object) -> NoReturn:
                raise CannotListenError("127.0.0.1", port, PermissionError(errno.EACCES, "no"))

        self.patch(os, "geteuid", lambda: 1000)
        endpoint = ListeningEndpoint(
            Refusing(), "tcp:81:interface=127.0.0.1", Site(Data(b"", "text/plain"))
        )
        failure = self.failureResultOf(endpoint.listen(), ListenRefusedError)
        self.assertEqual(
            failure.getErrorMessage(),
            "cannot listen on http://127.0.0.1:81: Couldn't listen on ...:81: [Errno 13]"
            " no; a port below 1024 takes root (twistd binds before --uid) or"
            " CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=), which this process does"
            " not have",
        )

    async def test_stoppingTheDaemonClosesItsEndpoint(self) -> None:
        daemon = await start_daemon(self, HOOKS, environ=ENVIRON)
        port = daemon.service.addresses()[0].port  # type: ignore[attr-defined]
        await daemon.service.stopService()
        probe = socket.socket()
        self.addCleanup(probe.close)
        self.assertNotEqual(probe.connect_ex(("127.0.0.1", port)), 0)
