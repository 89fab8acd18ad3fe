"""journald's form of the daemon's log: the exact lines of each level and of a failure."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from typing import cast

from twisted.logger import ILogObserver, LogEvent, Logger
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.journald import journal_line, journal_observer, stdout_is_journal


def logged(emit: str, text: str, **fields: object) -> LogEvent:
    """The event a Logger method C{emit} makes of C{text} and C{fields}."""
    events: list[LogEvent] = []
    getattr(Logger(namespace="hookdaemon.test", observer=cast(ILogObserver, events.append)), emit)(
        text, **fields
    )
    (event,) = events
    return event


class JournalLineTests(SynchronousTestCase):
    def test_eachLevelItsPriorityNoTimeNoSystem(self) -> None:
        self.assertEqual(journal_line(logged("debug", "a {n}", n=1)), "<7>a 1\n")
        self.assertEqual(
            journal_line(logged("info", "listening on {a}", a="x")), "<6>listening on x\n"
        )
        self.assertEqual(journal_line(logged("warn", "disk {d}", d="full")), "<4>disk full\n")
        self.assertEqual(journal_line(logged("error", "reload refused")), "<3>reload refused\n")
        self.assertEqual(journal_line(logged("critical", "cannot listen")), "<2>cannot listen\n")

    def test_everyLineOfAMessageHasThePrefix(self) -> None:
        self.assertEqual(journal_line(logged("warn", "first\nsecond\n")), "<4>first\n<4>second\n")

    def test_aFailureKeepsItsTracebackAtItsPriority(self) -> None:
        events: list[LogEvent] = []
        log = Logger(namespace="hookdaemon.test", observer=cast(ILogObserver, events.append))
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            log.failure("job {job} failed", job=7)
        text = journal_line(events[0])
        assert text is not None
        lines = text.split("\n")
        self.assertEqual(lines[:2], ["<2>job 7 failed", "<2>Traceback (most recent call last):"])
        self.assertEqual(lines[-2:], ["<2>builtins.ZeroDivisionError: division by zero", ""])
        self.assertIn(f'<2>  File "{__file__}", line', text)
        self.assertEqual([line for line in lines[:-1] if not line.startswith("<2>")], [])

    def test_anEventWithNothingToSayWritesNothing(self) -> None:
        self.assertIsNone(journal_line({"log_level": None}))


class JournalObserverTests(SynchronousTestCase):
    def test_writesToStdoutAsItWasWhenMade(self) -> None:
        printed = io.StringIO()
        self.patch(sys, "stdout", printed)
        observer = journal_observer()
        self.patch(sys, "stdout", io.StringIO())  # as twistd redirects it after
        observer(logged("info", "listening on {a}", a="http://127.0.0.1:9000"))
        observer(logged("warn", "slow"))
        self.assertEqual(printed.getvalue(), "<6>listening on http://127.0.0.1:9000\n<4>slow\n")


class StdoutIsJournalTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed at cleanup)
        self.addCleanup(self.file.close)
        found = os.fstat(self.file.fileno())
        self.stream = f"{found.st_dev}:{found.st_ino}"

    def test_theStreamSystemdNamed(self) -> None:
        self.assertTrue(stdout_is_journal({"JOURNAL_STREAM": self.stream}, self.file.fileno()))

    def test_anotherStreamOrNone(self) -> None:
        """A process that redirected its output may still carry JOURNAL_STREAM."""
        device, _, inode = self.stream.partition(":")
        fd = self.file.fileno()
        self.assertFalse(stdout_is_journal({"JOURNAL_STREAM": f"{device}:{int(inode) + 1}"}, fd))
        self.assertFalse(stdout_is_journal({}, fd))
        self.assertFalse(stdout_is_journal({"JOURNAL_STREAM": "journal"}, fd))
        closed = os.dup(fd)
        os.close(closed)
        self.assertFalse(stdout_is_journal({"JOURNAL_STREAM": self.stream}, closed))
