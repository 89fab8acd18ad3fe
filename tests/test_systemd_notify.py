"""sd_notify: the datagrams a real socket receives, from the Notifier, the service and twistd."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Sequence
from typing import cast

from attrs import define
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorCore
from twisted.logger import LogEvent, LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.systemd_notify import Notifier, SystemdNotice, monotonic_usec, socket_address
from hookdaemon.testing import TWISTD, TwistdDaemon
from tests.support import open_directory


class NotifySocket:
    """
    What systemd listens on: an AF_UNIX datagram socket bound at a short path
    under /tmp (sun_path holds 108 bytes, too few for trial's directories), or
    in the abstract namespace; C{value} is what NOTIFY_SOCKET would hold.
    """

    def __init__(self, case: SynchronousTestCase, abstract: bool = False) -> None:
        self.receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        case.addCleanup(self.receiver.close)
        if abstract:
            name = f"hookdaemon-test-{uuid.uuid4().hex}"
            self.receiver.bind("\0" + name)
            self.value = "@" + name
        else:
            self.directory = tempfile.mkdtemp(prefix="sysd-", dir="/tmp")
            case.addCleanup(shutil.rmtree, self.directory)
            self.value = os.path.join(self.directory, "notify")
            self.receiver.bind(self.value)
        self.receiver.settimeout(60)  # a wait for a datagram, not a timing assertion

    def received(self) -> bytes:
        return self.receiver.recv(4096)

    def nothing_waiting(self) -> bool:
        readable, _, _ = select.select([self.receiver], [], [], 0)
        return not readable


def warnings(events: Sequence[LogEvent]) -> list[str]:
    return [formatEvent(e) for e in events if e["log_level"] >= LogLevel.warn]


class SocketAddressTests(SynchronousTestCase):
    def test_aPathOrAnAbstractName(self) -> None:
        self.assertEqual(socket_address("/run/systemd/notify"), "/run/systemd/notify")
        self.assertEqual(socket_address("@/org/freedesktop/notify"), "\0/org/freedesktop/notify")
        self.assertIsNone(socket_address("@"))
        self.assertIsNone(socket_address("vsock:2:1234"))
        self.assertIsNone(socket_address("run/notify"))


class NotifierTests(SynchronousTestCase):
    def test_readyToAPath(self) -> None:
        listening = NotifySocket(self)
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": listening.value})
        self.addCleanup(notifier.close)
        self.assertTrue(notifier.ready("listening on http://127.0.0.1:9000"))
        self.assertEqual(
            listening.received(), b"READY=1\nSTATUS=listening on http://127.0.0.1:9000"
        )

    def test_readyToAnAbstractName(self) -> None:
        listening = NotifySocket(self, abstract=True)
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": listening.value})
        self.addCleanup(notifier.close)
        self.assertTrue(notifier.ready())
        self.assertEqual(listening.received(), b"READY=1")

    def test_reloadingCarriesTheMonotonicClock(self) -> None:
        """Type=notify-reload: RELOADING=1 and MONOTONIC_USEC in one datagram, then READY=1."""
        listening = NotifySocket(self)
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": listening.value})
        self.addCleanup(notifier.close)
        before = monotonic_usec()
        self.assertTrue(notifier.reloading())
        after = monotonic_usec()
        first, clock, status = listening.received().split(b"\n")
        self.assertEqual((first, status), (b"RELOADING=1", b"STATUS=reloading the configuration"))
        name, _, value = clock.partition(b"=")
        self.assertEqual(name, b"MONOTONIC_USEC")
        self.assertTrue(before <= int(value) <= after, (before, value, after))
        self.assertTrue(notifier.ready("listening on x"))
        self.assertEqual(listening.received(), b"READY=1\nSTATUS=listening on x")

    def test_stoppingAndStatus(self) -> None:
        listening = NotifySocket(self)
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": listening.value})
        self.addCleanup(notifier.close)
        notifier.stopping()
        self.assertEqual(listening.received(), b"STOPPING=1\nSTATUS=stopping")
        notifier.status("2 jobs running,\nnone queued")  # STATUS= is one line
        self.assertEqual(listening.received(), b"STATUS=2 jobs running, none queued")

    def test_withoutNotifySocketNothingHappens(self) -> None:
        with capturedLogs() as events:
            notifier = Notifier.from_environment({})
            self.assertFalse(notifier.ready("listening"))
            self.assertFalse(notifier.stopping())
        self.assertEqual(events, [])
        self.assertIsNone(notifier.address)

    def test_aMissingSocketIsOneLogLineAndNoError(self) -> None:
        directory = tempfile.mkdtemp(prefix="sysd-", dir="/tmp")
        self.addCleanup(shutil.rmtree, directory)
        missing = os.path.join(directory, "notify")
        with capturedLogs() as events:
            notifier = Notifier.from_environment({"NOTIFY_SOCKET": missing})
            self.assertFalse(notifier.ready("listening"))
            self.assertFalse(notifier.status("busy"))
            self.assertFalse(notifier.stopping())
        self.assertEqual(
            warnings(events),
            [f"cannot reach systemd at NOTIFY_SOCKET={missing}: No such file or directory"],
        )

    def test_aSocketThatComesBackIsHeardAgain(self) -> None:
        """Failing, then sent once the socket is there: one line each way."""
        directory = tempfile.mkdtemp(prefix="sysd-", dir="/tmp")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "notify")
        with capturedLogs() as events:
            notifier = Notifier.from_environment({"NOTIFY_SOCKET": path})
            self.addCleanup(notifier.close)
            self.assertFalse(notifier.ready())
            receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.addCleanup(receiver.close)
            receiver.bind(path)
            self.assertTrue(notifier.ready())
        self.assertEqual(receiver.recv(4096), b"READY=1")
        self.assertEqual(
            [formatEvent(e) for e in events],
            [
                f"cannot reach systemd at NOTIFY_SOCKET={path}: No such file or directory",
                f"systemd hears the daemon again at NOTIFY_SOCKET={path}",
            ],
        )

    def test_aSocketGoneAfterTheConnectionIsOneLogLine(self) -> None:
        listening = NotifySocket(self)
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": listening.value})
        self.addCleanup(notifier.close)
        listening.receiver.close()
        os.unlink(listening.value)
        with capturedLogs() as events:
            self.assertFalse(notifier.ready())
            self.assertFalse(notifier.stopping())
        self.assertEqual(
            warnings(events),
            [
                f"cannot tell systemd READY=1 at NOTIFY_SOCKET={listening.value}:"
                " No such file or directory"
            ],
        )

    def test_aReplacedSocketIsConnectedAnew(self) -> None:
        """The socket connected to is gone and another bound at its path: that one hears it."""
        listening = NotifySocket(self)
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": listening.value})
        self.addCleanup(notifier.close)
        listening.receiver.close()
        os.unlink(listening.value)
        replacement = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(replacement.close)
        replacement.bind(listening.value)
        with capturedLogs() as events:
            self.assertTrue(notifier.ready())
        self.assertEqual(replacement.recv(4096), b"READY=1")
        self.assertEqual(warnings(events), [])

    def test_notAnAddressIsOneLogLine(self) -> None:
        with capturedLogs() as events:
            notifier = Notifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"})
            self.assertFalse(notifier.ready())
        self.assertEqual(
            warnings(events),
            [
                "NOTIFY_SOCKET=vsock:2:1234 is neither a path nor an @name: systemd will not"
                " hear that the daemon is ready"
            ],
        )

    def test_connectedBeforePrivilegesDropSendsAfter(self) -> None:
        """
        twistd --uid builds the service as root, then becomes the user: a socket
        only root may reach (in a 0700 directory) still hears the notifier built
        before the switch, and would not hear one built after it.
        """
        if os.geteuid() != 0:
            raise SkipTest("dropping privileges needs root (CI runs as root)")
        listening = NotifySocket(self)
        os.chmod(listening.directory, 0o700)
        script = textwrap.dedent(
            """
            import os, sys
            from hookdaemon.systemd_notify import Notifier
            before = Notifier.from_environment({"NOTIFY_SOCKET": sys.argv[1]})
            os.setgroups([]); os.setgid(65534); os.setuid(65534)
            after = Notifier.from_environment({"NOTIFY_SOCKET": sys.argv[1]})
            print(before.ready("before"), after.ready("after"))
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script, listening.value],
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual((result.stdout, result.returncode), ("True False\n", 0), result.stderr)
        self.assertEqual(listening.received(), b"READY=1\nSTATUS=before")
        self.assertTrue(listening.nothing_waiting())


@define
class Endpoint:
    shown: str
    listening: Deferred[object | None] | None


@define
class Listeners:
    endpoints: list[Endpoint]


class Reactor:
    """The one thing SystemdNotice asks of the reactor, with a reactor that is running or not."""

    def __init__(self) -> None:
        self.waiting: list[Callable[[], object]] = []

    def callWhenRunning(self, f: Callable[[], object]) -> None:
        self.waiting.append(f)

    def run(self) -> None:
        for f in self.waiting:
            f()


def notice(listening: NotifySocket, listeners: Listeners) -> tuple[SystemdNotice, Reactor]:
    reactor = Reactor()
    made = SystemdNotice(cast(IReactorCore, reactor), listeners, Notifier(listening.value))
    return made, reactor


class SystemdNoticeTests(SynchronousTestCase):
    def test_readyOnceRunningAndEveryEndpointListensStoppingAtStop(self) -> None:
        listening = NotifySocket(self)
        endpoints = [Endpoint("http://127.0.0.1:9000", Deferred()), Endpoint("unix:x", Deferred())]
        service, reactor = notice(listening, Listeners(endpoints))
        self.addCleanup(service.notifier.close)
        service.startService()
        assert endpoints[0].listening is not None and endpoints[1].listening is not None
        endpoints[0].listening.callback(object())
        endpoints[1].listening.callback(object())
        self.assertTrue(listening.nothing_waiting())  # not before twistd's signal handlers
        reactor.run()
        self.assertEqual(
            listening.received(), b"READY=1\nSTATUS=listening on http://127.0.0.1:9000, unix:x"
        )
        service.stopService()
        self.assertEqual(listening.received(), b"STOPPING=1\nSTATUS=stopping")

    def test_readyOnlyOnceTheLastEndpointListens(self) -> None:
        listening = NotifySocket(self)
        endpoints = [Endpoint("http://127.0.0.1:9000", Deferred()), Endpoint("unix:x", Deferred())]
        service, reactor = notice(listening, Listeners(endpoints))
        self.addCleanup(service.notifier.close)
        service.startService()
        reactor.run()
        assert endpoints[0].listening is not None and endpoints[1].listening is not None
        endpoints[0].listening.callback(object())
        self.assertTrue(listening.nothing_waiting())
        endpoints[1].listening.callback(object())
        self.assertTrue(listening.received().startswith(b"READY=1\n"))

    def test_notReadyWhenAnEndpointCannotListen(self) -> None:
        listening = NotifySocket(self)
        endpoints = [Endpoint("http://127.0.0.1:80", Deferred())]
        service, reactor = notice(listening, Listeners(endpoints))
        self.addCleanup(service.notifier.close)
        service.startService()
        reactor.run()
        assert endpoints[0].listening is not None
        endpoints[0].listening.callback(None)  # ListeningEndpoint's "could not bind"
        self.assertTrue(listening.nothing_waiting())

    def test_aroundAReloadReadyWithTheEndpointsNowInUse(self) -> None:
        listening = NotifySocket(self)
        listeners = Listeners([Endpoint("http://127.0.0.1:9000", succeed(object()))])
        service, reactor = notice(listening, listeners)
        self.addCleanup(service.notifier.close)
        service.startService()
        reactor.run()
        self.assertTrue(listening.received().startswith(b"READY=1\n"))
        service.around(True)
        self.assertTrue(listening.received().startswith(b"RELOADING=1\nMONOTONIC_USEC="))
        listeners.endpoints = [Endpoint("http://127.0.0.1:9001", None)]
        service.around(False)
        self.assertEqual(
            listening.received(), b"READY=1\nSTATUS=listening on http://127.0.0.1:9001"
        )

    def test_aReloadBeforeReadyOrWhileStoppingSaysNothing(self) -> None:
        listening = NotifySocket(self)
        endpoints = [Endpoint("http://127.0.0.1:9000", Deferred())]
        service, reactor = notice(listening, Listeners(endpoints))
        self.addCleanup(service.notifier.close)
        service.startService()
        reactor.run()
        service.around(True)  # a SIGHUP as twistd starts: READY=1 is the start's to say
        service.around(False)
        self.assertTrue(listening.nothing_waiting())
        assert endpoints[0].listening is not None
        endpoints[0].listening.callback(object())
        self.assertTrue(listening.received().startswith(b"READY=1\n"))
        service.stopService()
        self.assertEqual(listening.received(), b"STOPPING=1\nSTATUS=stopping")
        service.around(True)  # a reload still under way as the stop began
        service.around(False)
        self.assertTrue(listening.nothing_waiting())


class TwistdTests(SynchronousTestCase):
    """A real twistd -n hookdaemon with NOTIFY_SOCKET set, as a Type=notify unit starts it."""

    def test_readyOnceListeningStoppingAtSigterm(self) -> None:
        listening = NotifySocket(self)
        daemon = TwistdDaemon(
            self.mktemp(),
            "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n",
            environ={"NOTIFY_SOCKET": listening.value},
        )
        daemon.start()
        self.addCleanup(daemon.stop)
        self.assertEqual(
            listening.received(), f"READY=1\nSTATUS=listening on {daemon.url}".encode()
        )
        self.assertEqual(daemon.stop(), -signal.SIGTERM)
        self.assertEqual(listening.received(), b"STOPPING=1\nSTATUS=stopping")
        self.assertNotIn("systemd at NOTIFY_SOCKET", daemon.log)

    def test_readyAfterUidDropsPrivileges(self) -> None:
        """--uid: the socket only root may reach still hears READY=1, sent as the user."""
        if os.geteuid() != 0:
            raise SkipTest("twistd --uid needs root (CI runs as root)")
        listening = NotifySocket(self)
        os.chmod(listening.directory, 0o700)
        directory = open_directory(self)
        state = os.path.join(directory, "var")
        os.makedirs(state)
        os.chown(state, 65534, 65534)
        daemon = TwistdDaemon(
            directory,
            "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n",
            f"state_dir = {state}\nlog_dir = {state}/log",
            environ={"NOTIFY_SOCKET": listening.value},
            twistd=[*TWISTD, "--uid=65534"],
        )
        daemon.start()
        self.addCleanup(daemon.stop)
        self.assertEqual(
            listening.received(), f"READY=1\nSTATUS=listening on {daemon.url}".encode()
        )
        self.assertIn("set uid/gid 65534/65534", daemon.log)
        self.assertEqual(daemon.stop(), -signal.SIGTERM)
        self.assertEqual(listening.received(), b"STOPPING=1\nSTATUS=stopping")
