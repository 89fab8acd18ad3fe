"""The per-hook output log: line format, rotation, and lines cut into pieces."""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.output import OutputLog, utc_stamp
from hookdaemon.process import MAX_LINE, LineSplitter


class OutputLogTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = self.mktemp()

    def open(self, max_bytes: int = 1024 * 1024, keep: int = 3) -> OutputLog:
        log = OutputLog(self.directory, "site", max_bytes, keep, clock=lambda: 1764294623.25)
        self.addCleanup(log.close)
        return log

    def test_linesCarryUtcTimeJobAndStream(self) -> None:
        log = self.open()
        log.write_lines(7, "stdout", [b"hello", b"world"])
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
            log.write_lines(1, "stdout", [b"line %03d " % n + b"x" * 40])
        names = sorted(os.listdir(self.directory))
        self.assertEqual(names, ["site.log", "site.log.1", "site.log.2", "site.log.3"])
        for name in names:
            # A chunk may end past the limit, never by more than one write.
            self.assertLessEqual(os.path.getsize(os.path.join(self.directory, name)), 1024 + 80)
        with open(log.path, "rb") as f:
            self.assertIn(b"line 199 ", f.read())

    def test_appendsToAnExistingLog(self) -> None:
        self.open().write_lines(1, "stdout", [b"first"])
        second = OutputLog(self.directory, "site", 1024 * 1024, 3)
        self.addCleanup(second.close)
        second.write_lines(2, "stdout", [b"second"])
        with open(second.path, "rb") as f:
            content = f.read()
        self.assertIn(b"1 stdout first\n", content)
        self.assertIn(b"2 stdout second\n", content)


class LineSplitterTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.seen: list[tuple[str, list[bytes]]] = []
        self.splitter = LineSplitter("stdout", lambda s, lines: self.seen.append((s, lines)))

    def test_linesSplitAcrossChunksAreJoined(self) -> None:
        self.splitter.feed(b"hel")
        self.splitter.feed(b"lo\nwor")
        self.splitter.feed(b"ld\r\nlast")
        self.splitter.close()
        self.assertEqual(
            self.seen,
            [("stdout", [b"hello"]), ("stdout", [b"world"]), ("stdout", [b"last"])],
        )

    def test_overlongLineIsWrittenInPiecesNotHeld(self) -> None:
        self.splitter.feed(b"x" * (MAX_LINE * 2 + 10))
        self.assertEqual(self.seen, [("stdout", [b"x" * MAX_LINE, b"x" * MAX_LINE])])
        self.splitter.close()
        self.assertEqual(self.seen[-1], ("stdout", [b"x" * 10]))

    def test_closeWithNothingPendingWritesNothing(self) -> None:
        self.splitter.feed(b"one\n")
        self.splitter.close()
        self.assertEqual(self.seen, [("stdout", [b"one"])])
