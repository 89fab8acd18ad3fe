"""The C{hookdaemon} command: C{run} a real daemon, C{check} a config, as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon import cli
from hookdaemon.testing import environment, free_port, run_twistd
from tests.support import open_directory

SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tap.cfg")
COMMAND = [sys.executable, "-m", "hookdaemon"]


def hookdaemon(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    """The command run to its end, as run_twistd runs twistd."""
    return run_twistd(*args, cwd=cwd, twistd=COMMAND)


class CheckTests(SynchronousTestCase):
    def test_theShippedConfigChecksClean(self) -> None:
        result = hookdaemon("check", "--config", SHIPPED, cwd=os.path.dirname(SHIPPED))
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertEqual(
            result.stdout.splitlines(),
            [
                f"{SHIPPED}: OK",
                "hook example: forge generic, secret none: http://127.0.0.1:9000/hooks/example",
            ],
        )

    def test_asAnotherUserAndStrict(self) -> None:
        """--user checks the workdir as that user; --strict makes the warning fail."""
        directory = open_directory(self)
        private = os.path.join(directory, "private")
        os.makedirs(os.path.join(private, "site"))
        os.chmod(private, 0o700)
        with open(os.path.join(directory, "tap.cfg"), "w") as f:
            f.write(
                "[hook:site]\nallow_from = 127.0.0.1\n"
                "workdir = private/site\ncommand = git fetch\n"
            )
        if os.geteuid() == 0:
            self.assertEqual(hookdaemon("check", cwd=directory).stderr, "")
        as_nobody = hookdaemon("check", "--user", "65534", cwd=directory)
        self.assertEqual(as_nobody.returncode, 0)
        self.assertIn(f"may not enter {private}, so every job would fail", as_nobody.stderr)
        strict = hookdaemon("check", "--user", "65534", "--strict", cwd=directory)
        self.assertEqual(strict.returncode, 1)
        self.assertIn("tap.cfg: 1 warning(s) and --strict; nothing started", strict.stderr)

    def test_aBadConfigIsItsProblemLinesAndExit1(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        with open(os.path.join(directory, "tap.cfg"), "w") as f:
            f.write("[hookdaemon]\ncolour = blue\n")
        result = hookdaemon("check", cwd=directory)
        self.assertEqual(result.returncode, 1)
        self.assertIn("tap.cfg: [hookdaemon] colour: unknown key", result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_aMistypedCommandIsAUsageError(self) -> None:
        result = hookdaemon("chekc", cwd=os.path.dirname(SHIPPED))
        self.assertEqual(result.returncode, 2)
        self.assertIn("invalid choice: 'chekc'", result.stderr)


class RunTests(SynchronousTestCase):
    def test_runServesInTheForegroundAndStopsOnSigterm(self) -> None:
        """What a systemd unit starts: no fork, logs on stdout, no twistd.pid left behind."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        port = free_port()
        with open(os.path.join(directory, "tap.cfg"), "w") as f:
            f.write(
                f"[hookdaemon]\nlisten = tcp:{port}:interface=127.0.0.1\n"
                "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = echo deployed\n"
            )
        out = os.path.join(directory, "stdout")
        with open(out, "w") as printed:  # the child keeps its own copy of the file
            process = subprocess.Popen(
                [*COMMAND, "run", "--config", "tap.cfg"],
                cwd=directory,
                env=environment(None),
                stdout=printed,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.addCleanup(lambda: process.poll() is None and process.kill())
        deadline = time.monotonic() + 60
        while "listening on" not in _read(out) and time.monotonic() < deadline:
            self.assertIsNone(process.poll(), _read(out))
            time.sleep(0.05)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/hooks/site",
            data=b"{}",
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            self.assertEqual(answer.status, 202)
            self.assertEqual(json.load(answer)["status"], "queued")
        self.assertIsNone(process.poll())  # in the foreground: the process we started
        process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(60), -signal.SIGTERM)
        self.assertIn("job 1 for hook site succeeded", _read(out))
        self.assertNotIn("Traceback", _read(out))
        self.assertFalse(os.path.exists(os.path.join(directory, "twistd.pid")))


class PluginScanTests(SynchronousTestCase):
    def test_runLooksForNoOtherPlugin(self) -> None:
        """
        twistd's own lookup scans every twisted.plugins package (listing Twisted's
        web, ftp, conch ... plugins) and rewrites its dropin.cache, which a deploy
        user may not write: run's options know hookdaemon's plugin alone.
        """
        from twisted.scripts.twistd import ServerOptions

        self.assertIn("web", [name for name, *_ in ServerOptions().subCommands])  # the scan
        options = cli.server_options()
        self.assertEqual([name for name, *_ in options.subCommands], ["hookdaemon"])
        with self.assertRaises(SystemExit) as stopped:
            options.parseOptions(["--nodaemon", "hookdaemon", "--config", SHIPPED, "--check"])
        self.assertEqual(stopped.exception.code, 0)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()
