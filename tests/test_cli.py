"""The C{hookdaemon} command: C{run} a real daemon, C{check} a config, as a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

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


class Started:
    """C{hookdaemon run ARGS} in C{directory}, on a tap.cfg listening on a free port."""

    def __init__(
        self,
        case: SynchronousTestCase,
        directory: str,
        *args: str,
        environ: dict[str, str | None] | None = None,
        daemon: str = "",
    ) -> None:
        self.port = free_port()
        with open(os.path.join(directory, "tap.cfg"), "w") as f:
            f.write(
                f"[hookdaemon]\nlisten = tcp:{self.port}:interface=127.0.0.1\n{daemon}\n"
                "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n"
                "secret = a literal, which --check warns of\n"
            )
        self.out = os.path.join(directory, "stdout")
        with open(self.out, "w") as printed:
            if environ is not None and environ.get("JOURNAL_STREAM") == "stdout":
                found = os.fstat(printed.fileno())
                environ = {**environ, "JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
            self.process = subprocess.Popen(
                [*COMMAND, "run", "--config", "tap.cfg", *args],
                cwd=directory,
                env=environment(environ),
                stdout=printed,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        case.addCleanup(self._kill)

    def _kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(60)

    def wait_for(self, text: str, path: str | None = None) -> None:
        path = self.out if path is None else path
        deadline = time.monotonic() + 60
        while not os.path.exists(path) or text not in _read(path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r} in {path}:\n{_read(self.out)}")
            time.sleep(0.05)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


class JournaldTests(SynchronousTestCase):
    def test_toJournaldsStreamEachLineHasItsPriorityAndNoTimestamp(self) -> None:
        """JOURNAL_STREAM names stdout (systemd's StandardOutput=journal): journald's form."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        started = Started(self, directory, environ={"JOURNAL_STREAM": "stdout"})
        started.wait_for("listening on")
        # Answering means the reactor runs, so twistd's SIGTERM handler is there:
        # a SIGTERM before it ends the process before "Server Shut Down." (seen).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{started.port}/healthz", timeout=5):
                    break
            except OSError:
                time.sleep(0.05)
        self.assertEqual(started.stop(), -signal.SIGTERM)
        lines = _read(started.out).splitlines()
        self.assertIn(f"<6>listening on http://127.0.0.1:{started.port}", lines)
        self.assertIn(
            "<4>tap.cfg: [hook:site] secret: the secret is written in the file; prefer"
            " env:NAME or file:PATH (warning)",
            lines,
        )
        self.assertIn("<6>Server Shut Down.", lines)
        self.assertEqual([line for line in lines if TIMESTAMP.search(line)], [])
        # Only what tap.py prints before twistd's log begins has no priority.
        unprefixed = [line for line in lines if not re.match(r"<[0-7]>", line)]
        self.assertEqual([line for line in unprefixed if "(warning)" not in line], [])

    def test_anotherStreamKeepsTwistdsLines(self) -> None:
        """An inherited JOURNAL_STREAM that is not stdout's (output redirected): twistd's form."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        started = Started(self, directory, environ={"JOURNAL_STREAM": "0:1"})
        started.wait_for("listening on")
        self.assertEqual(started.stop(), -signal.SIGTERM)
        (line,) = [line for line in _read(started.out).splitlines() if "listening on" in line]
        self.assertTrue(TIMESTAMP.match(line), line)
        self.assertTrue(
            line.endswith(
                f"[hookdaemon.listening#info] listening on http://127.0.0.1:{started.port}"
            )
        )

    def test_aLogfileWinsOverJournald(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        logfile = os.path.join(directory, "twistd.log")
        started = Started(
            self, directory, f"--logfile={logfile}", environ={"JOURNAL_STREAM": "stdout"}
        )
        started.wait_for("listening on", logfile)
        self.assertEqual(started.stop(), -signal.SIGTERM)
        self.assertNotIn("<6>", _read(logfile))
        self.assertTrue(TIMESTAMP.match(_read(logfile)))


class RunAsAnotherUserTests(SynchronousTestCase):
    """--uid 65534: the pid file and log file twistd writes as root, as that user finds them."""

    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("twistd --uid needs root (CI runs as root)")
        self.directory = open_directory(self)  # root's, 0755
        self.nobodys = os.path.join(self.directory, "nobody")
        os.makedirs(self.nobodys)
        os.chown(self.nobodys, 65534, 65534)

    def test_aPidFileTheUserCouldNotRemoveStopsTheStart(self) -> None:
        pidfile = os.path.join(self.directory, "hookdaemon.pid")
        result = hookdaemon("run", "--uid=65534", f"--pidfile={pidfile}", cwd=self.directory)
        self.assertEqual(
            (result.returncode, result.stdout, result.stderr),
            (
                1,
                "",
                f"hookdaemon run: --pidfile {pidfile}: user nobody may not write in"
                f" {self.directory}, so the daemon could not remove its pid file at stop;"
                " use a directory it owns (systemd: RuntimeDirectory=hookdaemon makes"
                " /run/hookdaemon), or no --pidfile (systemd knows the daemon's pid)\n",
            ),
        )
        self.assertFalse(os.path.exists(pidfile))

    def test_aLogFileTheUserCouldNotRotateStopsTheStart(self) -> None:
        logfile = os.path.join(self.directory, "twistd.log")
        result = hookdaemon("run", "-u", "65534", "--logfile", logfile, cwd=self.directory)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr.splitlines(),
            [
                f"hookdaemon run: --logfile {logfile}: user nobody may not write in"
                f" {self.directory}, so the log would never be rotated (twistd skips that"
                " without a word); give it a directory it owns (systemd:"
                " LogsDirectory=hookdaemon makes /var/log/hookdaemon), or log to journald"
                " (no --logfile under systemd)"
            ],
        )
        self.assertFalse(os.path.exists(logfile))

    def test_theUsersDirectoriesServeRotateAndCleanUp(self) -> None:
        """The log is the user's, so SIGUSR1 rotates it; the pid is in the state_dir."""
        state = os.path.join(self.nobodys, "var")
        pidfile = os.path.join(state, "hookdaemon.pid")
        logfile = os.path.join(self.nobodys, "twistd.log")
        started = Started(
            self,
            self.directory,
            "--uid=65534",
            f"--logfile={logfile}",
            daemon=f"state_dir = {state}\nlog_dir = {state}/log",
        )
        started.wait_for("set uid/gid 65534/65534", logfile)
        self.assertEqual(os.stat(logfile).st_uid, 65534)
        started.wait_for("listening on", logfile)
        deadline = time.monotonic() + 60
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(os.stat(pidfile).st_uid, 65534)
        started.process.send_signal(signal.SIGUSR1)  # twistd's "rotate the log"
        deadline = time.monotonic() + 60
        while not os.path.exists(logfile + ".1") and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("listening on", _read(logfile + ".1"))
        self.assertEqual(started.stop(), -signal.SIGTERM)
        self.assertFalse(os.path.exists(pidfile))
        self.assertIn("Server Shut Down.", _read(logfile))
        self.assertNotIn("No permission", _read(logfile) + _read(logfile + ".1"))


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


class TwistdFileTests(SynchronousTestCase):
    def test_runLooksAtTwistdsFilesOnce(self) -> None:
        """
        run looks at twistd's pid file and log file once, and refuses to start on
        what it finds; the tap, which warns of them under plain twistd, does not look again.
        """
        from hookdaemon import tap, twistd_files

        calls: list[object] = []

        def counted(options: Any) -> list[str]:
            calls.append(options)
            return file_problems(options)

        file_problems = twistd_files.file_problems
        self.patch(twistd_files, "file_problems", counted)  # what run imports
        self.patch(tap, "file_problems", counted)  # what the tap imported
        options = cli.server_options()
        with self.assertRaises(SystemExit) as stopped:
            options.parseOptions(["--nodaemon", "hookdaemon", "--config", SHIPPED, "--check"])
        self.assertEqual(stopped.exception.code, 0)
        self.assertEqual(calls, [options])
        self.assertEqual(options.subOptions.file_warnings, ())
        # Plain twistd's options, which run does not settle first: the tap looks itself.
        from twisted.scripts._twistd_unix import ServerOptions

        plain = ServerOptions()
        with self.assertRaises(SystemExit):
            plain.parseOptions(["--nodaemon", "hookdaemon", "--config", SHIPPED, "--check"])
        self.assertEqual(calls, [options, plain])


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()
