"""
C{listen = systemd:...}: sockets systemd passes, with and without names, read
as plain values and then for real through C{systemd-socket-activate}.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request

from twisted.internet import reactor
from twisted.internet.interfaces import IReactorSocket
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.systemd_sockets import SystemdSocketError, systemd_endpoint, with_default_names
from hookdaemon.testing import environment, free_port

SOCKETS = IReactorSocket(reactor)


def passed(count: int, names: str | None = None) -> dict[str, str]:
    """The environment systemd gives this process with C{count} sockets."""
    environ = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": str(count)}
    if names is not None:
        environ["LISTEN_FDNAMES"] = names
    return environ


class EndpointTests(SynchronousTestCase):
    def test_unnamedSocketsAreNamedAsSystemdNamesThem(self) -> None:
        self.assertEqual(with_default_names(passed(2))["LISTEN_FDNAMES"], "unknown:unknown")
        self.assertEqual(with_default_names(passed(1, "hooks"))["LISTEN_FDNAMES"], "hooks")
        self.assertNotIn("LISTEN_FDNAMES", with_default_names({}))

    def test_byIndexWithoutNames(self) -> None:
        """systemd before 227, or systemd-socket-activate without --fdname."""
        endpoint = systemd_endpoint(SOCKETS, "systemd:domain=INET:index=1", passed(2))
        self.assertEqual(endpoint.fileno, 4)  # the second, counting from 3
        self.assertEqual(endpoint.addressFamily, socket.AF_INET)

    def test_byName(self) -> None:
        endpoint = systemd_endpoint(SOCKETS, "systemd:domain=INET6:name=b", passed(2, "a:b"))
        self.assertEqual((endpoint.fileno, endpoint.addressFamily), (4, socket.AF_INET6))

    def test_whatIsWrongIsSaidInWords(self) -> None:
        cases = [
            ("systemd:domain=INET:index=0", {}, "systemd passed this process no socket"),
            ("systemd:domain=INET:index=1", passed(1), "systemd passed 1 socket(s): index=0"),
            ("systemd:domain=INET:index=x", passed(2), "passed 2 socket(s): index=0 to index=1"),
            ("systemd:domain=INET:name=c", passed(2, "a:b"), "its sockets: a, b;"),
            ("systemd:domain=INET:index=0", {**passed(1), "LISTEN_PID": "1"}, "no socket"),
            ("systemd:domain=ATM:index=0", passed(1), "must be INET, INET6 or UNIX"),
            ("systemd:domain=INET:index=0:name=a", passed(1), "an index or a name, not both"),
            ("systemd:domain=INET", passed(1), "an index or a name, not both"),
        ]
        for description, environ, said in cases:
            with self.assertRaises(SystemdSocketError) as raised:
                systemd_endpoint(SOCKETS, description, environ)
            self.assertIn(said, str(raised.exception), description)


class SocketActivationTests(SynchronousTestCase):
    """The real thing: systemd-socket-activate (Debian's systemd package) starts the daemon."""

    def setUp(self) -> None:
        if shutil.which("systemd-socket-activate") is None:
            raise SkipTest("needs systemd-socket-activate (Debian package systemd)")
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.port = free_port()

    def activate(self, listen: str, *options: str) -> subprocess.Popen[str]:
        with open(os.path.join(self.directory, "tap.cfg"), "w") as f:
            f.write(
                f"[hookdaemon]\nlisten = {listen}\n"
                "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n"
            )
        process = subprocess.Popen(
            [
                "systemd-socket-activate",
                "--listen",
                f"127.0.0.1:{self.port}",
                *options,
                sys.executable,
                "-m",
                "hookdaemon",
                "run",
            ],
            cwd=self.directory,
            env=environment({"PYTHONPATH": os.pathsep.join(sys.path)}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.addCleanup(lambda: process.poll() is None and process.kill())
        self.addCleanup(lambda: process.stdout and process.stdout.close())
        assert process.stdout is not None
        for line in process.stdout:  # it binds, says so, then waits for a connection
            if line.startswith("Listening on"):
                break
        else:
            raise AssertionError(f"systemd-socket-activate exited with {process.wait()}")
        return process

    def healthz(self) -> int:
        # The first connection is what makes systemd-socket-activate start the daemon.
        url = f"http://127.0.0.1:{self.port}/healthz"
        with urllib.request.urlopen(url, timeout=60) as answer:
            return int(answer.status)

    def stopped(self, process: subprocess.Popen[str]) -> str:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        assert process.stdout is not None
        return process.stdout.read()

    def test_anUnnamedSocketByIndex(self) -> None:
        process = self.activate("systemd:domain=INET:index=0")
        self.assertEqual(self.healthz(), 200)
        printed = self.stopped(process)
        self.assertIn("listening on", printed)
        self.assertNotIn("Traceback", printed)

    def test_aNamedSocketByName(self) -> None:
        process = self.activate("systemd:domain=INET:name=hooks", "--fdname=hooks")
        self.assertEqual(self.healthz(), 200)
        self.assertNotIn("Traceback", self.stopped(process))

    def test_anIndexNotPassedIsOneLineAndExit1(self) -> None:
        process = self.activate("systemd:domain=INET:index=1")
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.addCleanup(connection.close)
        self.assertEqual(process.wait(60), 1)
        assert process.stdout is not None
        printed = process.stdout.read()
        self.assertIn(
            "cannot listen on systemd:domain=INET:index=1: systemd passed 1 socket(s): index=0",
            printed,
        )
        self.assertNotIn("Traceback", printed)
