"""
L{hookdaemon.log_observer}: the observer twistd logs through is the one its
own options would have made, with the daemon's text; a real twistd rotates it.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time

from twisted.application.service import Application
from twisted.logger import FileLogObserver, ILogObserver, LogLevel
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import parse_config
from hookdaemon.log_observer import log_target, twistd_observer
from hookdaemon.service import HookService
from hookdaemon.testing import TwistdDaemon

HOOK = """\
[hook:site]
forge = generic
allow_from = 127.0.0.1
workdir = .
command = true
"""
PUSH = b'{"ref": "refs/heads/main", "after": "0123456789abcdef0123456789abcdef01234567"}'
STAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} "
"""How twistd's text format starts each line: the local time, to the second."""
LINE = STAMP + r"\[[^\]]+\] "
"""Then the system, in brackets."""


class ChoiceTests(SynchronousTestCase):
    def options(self, **given: object) -> dict[str, object]:
        return {"logfile": None, "syslog": False, "logger": None, "nodaemon": False, **given}

    def test_twistdsOwnWhereItIsNotAFileOrStdout(self) -> None:
        self.assertIsNone(twistd_observer(None))
        self.assertIsNone(twistd_observer(self.options(syslog=True, logfile="x.log")))
        self.assertIsNone(twistd_observer(self.options(logger="some.observer")))
        # A daemon told to log to stdout: twistd's refusal stands.
        self.assertIsNone(twistd_observer(self.options(logfile="-")))

    def test_stdoutInTheForeground(self) -> None:
        for given in ({"nodaemon": True}, {"nodaemon": True, "logfile": "-"}):
            self.assertIs(log_target(self.options(**given)), sys.stdout)
            self.assertIsInstance(twistd_observer(self.options(**given)), FileLogObserver)

    def test_aLogFileAndTheSIGUSR1HandlerThatRotatesIt(self) -> None:
        """The rotation itself, by a real twistd, is L{TwistdTests}'."""
        self.addCleanup(signal.signal, signal.SIGUSR1, signal.getsignal(signal.SIGUSR1))
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        path = os.path.abspath(self.mktemp())
        target = log_target(self.options(logfile=path))
        self.assertEqual(target.path, path)  # type: ignore[union-attr]
        self.assertNotEqual(signal.getsignal(signal.SIGUSR1), signal.SIG_DFL)
        observer = twistd_observer(self.options(logfile=path))
        assert observer is not None
        observer(
            {
                "log_format": "{line}",
                "line": "one",
                "log_level": LogLevel.info,
                "log_namespace": "x",
                "log_time": time.time(),
            }
        )
        with open(path) as f:
            self.assertRegex(f.read(), LINE + r"one\n$")

    def test_theServiceSetsItOnTheApplication(self) -> None:
        config = parse_config("[hookdaemon]\n" + HOOK, "/etc/tap.cfg", {}, lambda path: b"")
        service = HookService(config)
        service.log_observer = FileLogObserver(sys.stdout, str)
        application = Application("hookdaemon")
        service.setServiceParent(application)
        self.assertIs(application.getComponent(ILogObserver), service.log_observer)


class TwistdTests(SynchronousTestCase):
    def test_theLinesAreTwistdsAndSIGUSR1RotatesThem(self) -> None:
        daemon = TwistdDaemon(self.mktemp(), HOOK).start()
        self.addCleanup(daemon.stop)
        code, answer = daemon.post("/hooks/site", PUSH)
        self.assertEqual(code, 202, answer)
        daemon.wait_finished(int(answer["job"]))
        log = daemon.log
        access = r'"127\.0\.0\.1" - - \[[^\]]+\] "POST /hooks/site HTTP/1\.1" 202 \d+ "-" "'
        for expected in (
            r"\[twisted\.python\.log#info\] " + access,
            r"\[hookdaemon\.log_lines#info\] hook site: job 1 queued for generic push"
            r" refs/heads/main 0123456789abcdef0123456789abcdef01234567 \(delivery -\)$",
            r"\[hookdaemon\.log_lines#info\] job 1 for hook site succeeded: exit 0$",
        ):
            self.assertRegex(log, re.compile(STAMP + expected, re.M))
        rotated = os.path.join(daemon.directory, "twistd.log.1")
        os.kill(daemon.process.pid, signal.SIGUSR1)
        for _ in range(500):
            if os.path.exists(rotated):
                break
            time.sleep(0.02)
        else:
            self.fail("SIGUSR1 did not rotate twistd.log")
        code, answer = daemon.post("/hooks/site", PUSH)
        self.assertEqual(code, 202, answer)
        daemon.wait_finished(int(answer["job"]))
        with open(rotated) as f:
            self.assertIn("job 1 queued", f.read())
        self.assertIn("job 2 queued", daemon.log)
        self.assertNotIn("job 1 queued", daemon.log)
