"""
The per-hook output log: line format, rotation, file modes, and lines cut into
pieces. A full disk: tests/test_output_full_disk.py.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.output import FLUSH_BYTES, OutputLog, prefixed, utc_stamp
from hookdaemon.process import MAX_LINE, LineSplitter
from tests.live import LiveDaemon


class OutputLogTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = self.mktemp()

    def open(self, max_bytes: int = 1024 * 1024, keep: int = 3) -> OutputLog:
        log = OutputLog(self.directory, "site", max_bytes, keep, clock=lambda: 1764294623.25)
        self.addCleanup(log.close)
        return log

    def test_linesCarryUtcTimeJobAndStream(self) -> None:
        log = self.open()
        log.write_block(7, "stdout", b"hello\nworld\n")
        log.note(7, "step 1 ended: exit 0")
        with open(log.path, "rb") as f:
            self.assertEqual(
                f.read(),
                b"2025-11-28T01:50:23.250Z 7 stdout hello\n"
                b"2025-11-28T01:50:23.250Z 7 stdout world\n"
                b"2025-11-28T01:50:23.250Z 7 hookdaemon step 1 ended: exit 0\n",
            )

    def test_utcStampHasMilliseconds(self) -> None:
        self.assertEqual(utc_stamp(0.5), b"1970-01-01T00:00:00.500Z")

    def test_rotatesAtMaxBytesKeepingLogKeepFiles(self) -> None:
        log = self.open(max_bytes=1024, keep=3)
        for n in range(200):
            log.write_block(1, "stdout", b"line %03d " % n + b"x" * 40 + b"\n")
        names = sorted(os.listdir(self.directory))
        self.assertEqual(names, ["site.log", "site.log.1", "site.log.2", "site.log.3"])
        for name in names:
            # A chunk may end past the limit, never by more than one write.
            self.assertLessEqual(os.path.getsize(os.path.join(self.directory, name)), 1024 + 80)
        with open(log.path, "rb") as f:
            self.assertIn(b"line 199 ", f.read())

    def test_appendsToAnExistingLog(self) -> None:
        self.open().write_block(1, "stdout", b"first\n")
        second = OutputLog(self.directory, "site", 1024 * 1024, 3)
        self.addCleanup(second.close)
        second.write_block(2, "stdout", b"second\n")
        with open(second.path, "rb") as f:
            content = f.read()
        self.assertIn(b"1 stdout first\n", content)
        self.assertIn(b"2 stdout second\n", content)

    def test_aLogThatCannotBeRotatedIsWrittenOnAndSaidOnceAMaxBytes(self) -> None:
        said: list[str] = []

        def observe(event: LogEvent) -> None:
            if event.get("log_namespace") == "hookdaemon.output":
                said.append(formatEvent(event))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        # The oldest rotated log, past log_keep = 1, is to go: a directory cannot.
        os.makedirs(os.path.join(self.directory, "site.log.1", "in the way"))
        log = self.open(max_bytes=1024, keep=1)
        for n in range(30):  # 1,500 bytes: over max_bytes once, not twice
            log.write_block(1, "stdout", b"line %03d " % n + b"x" * 27 + b"\n")
        with open(log.path, "rb") as f:
            self.assertEqual(f.read().count(b"\n"), 30)
        self.assertEqual(len(said), 1, said)
        self.assertTrue(said[0].startswith(f"output log {log.path} not rotated ("), said)
        self.assertTrue(said[0].endswith("); written on"), said)

    def test_aCutBackThatFailsIsRetriedBeforeAnythingMoreIsWritten(self) -> None:
        """
        Injected, both: the disk takes 100 bytes and then fails, and the first
        two cuts back fail too (as on a copy-on-write file system that needs
        room to free room). No line is written after a torn one.
        """
        room = [100]

        def write(fd: int, data: memoryview) -> int:
            if room[0] == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            taken = os.write(fd, data[: room[0]])
            room[0] -= taken
            return taken

        truncate = os.ftruncate
        failures = [2]

        def ftruncate(fd: int, length: int) -> None:
            if failures[0]:
                failures[0] -= 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            truncate(fd, length)

        self.patch(os, "ftruncate", ftruncate)
        log = OutputLog(self.directory, "site", 1024 * 1024, 3, clock=lambda: 0.0, write=write)
        self.addCleanup(log.close)
        log.write_block(1, "stdout", b"one\ntwo\nthree\n")  # torn in the third line
        room[0] = 1024 * 1024
        log.write_block(1, "stdout", b"four\n")  # not written: the cut fails again
        log.write_block(1, "stdout", b"five\n")
        with open(log.path, "rb") as f:
            self.assertEqual(
                f.read(),
                b"1970-01-01T00:00:00.000Z 1 stdout one\n"
                b"1970-01-01T00:00:00.000Z 1 stdout two\n"
                b"1970-01-01T00:00:00.000Z - hookdaemon 2 lines lost: no space left on device\n"
                b"1970-01-01T00:00:00.000Z 1 stdout five\n",
            )


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class FileModeTests(SynchronousTestCase):
    """Output is for the operator's eyes: 0600 files, 0700 directories, whatever the umask."""

    def test_logsAndRotatedLogsAre0600WhateverTheUmask(self) -> None:
        for mask in (0, 0o077, 0o277):
            directory = self.mktemp()
            with umask(mask):
                log = OutputLog(directory, "site", 1024, 3)
                for n in range(100):
                    log.write_block(1, "stdout", b"line %03d\n" % n)
                log.close()
            names = sorted(os.listdir(directory))
            self.assertEqual(names, ["site.log", "site.log.1", "site.log.2", "site.log.3"])
            for name in names:
                self.assertEqual(
                    mode(os.path.join(directory, name)), 0o600, f"{name}, umask {mask:o}"
                )

    def test_directoriesItMakesAre0700WhateverTheUmask(self) -> None:
        for mask in (0, 0o077):
            top = self.mktemp()
            directory = os.path.join(top, "var", "log")
            with umask(mask):
                OutputLog(directory, "site", 1024, 3).close()
            for path in (top, os.path.join(top, "var"), directory):
                self.assertEqual(mode(path), 0o700, f"{path}, umask {mask:o}")

    def test_aRealTwistdUnderUmaskZeroMakesLogDirAndLogPrivate(self) -> None:
        hooks = "[hook:site]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = /\ncommand = true"
        with umask(0):
            daemon = LiveDaemon(self, hooks)
        code, answer = daemon.post("/hooks/site", b"")
        self.assertEqual(code, 202, answer)
        self.assertEqual(daemon.wait_finished(int(answer["job"]))["state"], "succeeded")
        log_dir = os.path.join(daemon.directory, "var", "log")
        self.assertIn("job succeeded", daemon.output("site"))
        self.assertEqual((mode(log_dir), mode(os.path.join(log_dir, "site.log"))), (0o700, 0o600))

    def test_anExistingDirectoryAndLogKeepTheirModes(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        os.chmod(directory, 0o755)
        path = os.path.join(directory, "site.log")
        with open(path, "wb"):
            pass
        os.chmod(path, 0o640)
        with umask(0):
            OutputLog(directory, "site", 1024, 3).close()
        self.assertEqual((mode(directory), mode(path)), (0o755, 0o640))


class GatheredWritesTests(SynchronousTestCase):
    """With C{later}, blocks wait for the end of the reactor's turn or for L{FLUSH_BYTES}."""

    def setUp(self) -> None:
        self.planned: list[Callable[[], None]] = []
        self.log = OutputLog(
            self.mktemp(), "site", 100 * FLUSH_BYTES, 3, later=self.planned.append
        )
        self.addCleanup(self.log.close)

    def content(self) -> bytes:
        with open(self.log.path, "rb") as f:
            return f.read()

    def test_blocksWaitForTheEndOfTheTurn(self) -> None:
        self.log.write_block(1, "stdout", b"one\n")
        self.log.write_block(1, "stderr", b"two\n")
        self.assertEqual(self.content(), b"")
        self.assertEqual(len(self.planned), 1)
        self.planned.pop()()
        self.assertEqual(
            [line.split(b" ", 1)[1] for line in self.content().splitlines()],
            [b"1 stdout one", b"1 stderr two"],
        )

    def test_enoughWaitingIsWrittenAtOnce(self) -> None:
        block = b"x" * 99 + b"\n"
        while not self.content():
            self.log.write_block(1, "stdout", block)
        self.assertGreaterEqual(len(self.content()), FLUSH_BYTES)
        self.assertLess(len(self.content()), FLUSH_BYTES + 200)

    def test_noteWritesWhatWaitsFirst(self) -> None:
        self.log.write_block(1, "stdout", b"output\n")
        self.log.note(1, "job succeeded")
        lines = self.content().splitlines()
        self.assertEqual(
            [line.split(b" ", 2)[2] for line in lines],
            [b"stdout output", b"hookdaemon job succeeded"],
        )


class LineSplitterTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.seen: list[tuple[str, bytes]] = []
        self.splitter = LineSplitter("stdout", lambda s, lines: self.seen.append((s, lines)))

    def test_linesSplitAcrossChunksAreJoined(self) -> None:
        self.splitter.feed(b"hel")
        self.splitter.feed(b"lo\nwor")
        self.splitter.feed(b"ld\r\nlast")
        self.splitter.close()
        self.assertEqual(
            self.seen,
            [("stdout", b"hello\n"), ("stdout", b"world\n"), ("stdout", b"last\n")],
        )

    def test_overlongLineIsWrittenInPiecesNotHeld(self) -> None:
        self.splitter.feed(b"x" * (MAX_LINE * 2 + 10))
        self.assertEqual(
            self.seen, [("stdout", b"x" * MAX_LINE + b"\n"), ("stdout", b"x" * MAX_LINE + b"\n")]
        )
        self.splitter.close()
        self.assertEqual(self.seen[-1], ("stdout", b"x" * 10 + b"\n"))

    def test_closeWithNothingPendingWritesNothing(self) -> None:
        self.splitter.feed(b"one\n")
        self.splitter.close()
        self.assertEqual(self.seen, [("stdout", b"one\n")])

    def test_wholeLinesOfAReadGoOnAsOneBlock(self) -> None:
        self.splitter.feed(b"a\r\nb\nc\r\npartial")
        self.splitter.feed(b" end\r\n")
        self.assertEqual(self.seen, [("stdout", b"a\nb\nc\n"), ("stdout", b"partial end\n")])

    def test_carriageReturnSplitAcrossReads(self) -> None:
        self.splitter.feed(b"one\r")
        self.splitter.feed(b"\ntwo\n")
        self.assertEqual(self.seen, [("stdout", b"one\ntwo\n")])


class PrefixedTests(SynchronousTestCase):
    def test_everyLineGetsThePrefix(self) -> None:
        self.assertEqual(prefixed(b"a\n\nb\n", b"> "), b"> a\n> \n> b\n")
