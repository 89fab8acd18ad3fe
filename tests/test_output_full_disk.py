"""
An output log on a full disk: lines whole or not at all, the lost ones counted
in the log once there is room, the daemon's log told once each way, rotation
after, and a real twistd's job unaffected.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable

from twisted.internet import reactor
from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from hookdaemon.disk_writer import DiskWriter
from hookdaemon.output import OutputLog
from tests.live import LiveDaemon
from tests.support import MIB, fill_disk, small_tmpfs

LINE = re.compile(
    rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<job>\d+|-) "
    rb"(?P<stream>stdout|stderr|hookdaemon) (?P<text>[^\n]*)\n"
)
LOST = re.compile(rb"(\d+) lines? lost: no space left on device")


def parsed(content: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """(job, stream, text) of every line of an output log; fails at a line that is not whole."""
    lines = []
    offset = 0
    while offset < len(content):
        match = LINE.match(content, offset)
        if match is None:
            raise AssertionError(f"a torn line at byte {offset}: {content[offset:][:120]!r}")
        lines.append((match["job"], match["stream"], match["text"]))
        offset = match.end()
    return lines


def lost_notes(lines: list[tuple[bytes, bytes, bytes]]) -> list[int]:
    """The counts of the lost-lines notes, each of which must be hookdaemon's, for no one job."""
    counts = []
    for job, stream, text in lines:
        match = LOST.fullmatch(text)
        if match is not None:
            assert (job, stream) == (b"-", b"hookdaemon"), (job, stream, text)
            counts.append(int(match[1]))
    return counts


def numbered(count_from: int, count_to: int) -> bytes:
    return b"".join(b"line %d\n" % n for n in range(count_from, count_to + 1))


def numbers(lines: list[tuple[bytes, bytes, bytes]]) -> list[int]:
    return [int(text.split()[-1]) for _, stream, text in lines if stream == b"stdout"]


class FullDisk:
    """
    A directory on a small tmpfs that L{fill} fills for real and L{free}
    empties again. Where no tmpfs can be mounted (not root), an injected
    C{write} stands in: once filled it takes C{ROOM} bytes more (as a tmpfs
    does, into the last page a file already has), then fails with ENOSPC.
    """

    ROOM = 1500

    def __init__(self, case: TestCase | SynchronousTestCase, size: int = MIB) -> None:
        mount = small_tmpfs(case, size)
        self.real = mount is not None
        if mount is None:
            mount = os.path.abspath(case.mktemp())
            os.makedirs(mount)
        self.directory = mount
        self._filler: str | None = None
        self._room: int | None = None

    def write(self, fd: int, data: memoryview) -> int:
        if self._room is None:
            return os.write(fd, data)
        if self._room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        taken = os.write(fd, data[: self._room])
        self._room -= taken
        return taken

    def fill(self) -> None:
        if self.real:
            self._filler = fill_disk(self.directory)
        else:
            self._room = self.ROOM

    def free(self) -> None:
        if self._filler is not None:
            os.remove(self._filler)
            self._filler = None
        self._room = None


def daemon_log(case: TestCase) -> list[str]:
    """The daemon log lines L{hookdaemon.output} writes from now on, as text."""
    seen: list[str] = []

    def observe(event: LogEvent) -> None:
        if event.get("log_namespace") == "hookdaemon.output":
            seen.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    case.addCleanup(globalLogPublisher.removeObserver, observe)
    return seen


class FullDiskTests(TestCase):
    """
    An L{OutputLog} written as the daemon writes it (gathered, on a
    L{DiskWriter}), on a tmpfs that is really full; see L{FullDisk} for where
    none can be mounted.
    """

    def setUp(self) -> None:
        self.disk = FullDisk(self)
        self.said = daemon_log(self)
        self.writer = DiskWriter(reactor.callFromThread)  # type: ignore[attr-defined]
        self.addCleanup(self.writer.stop)

    def open(self, max_bytes: int = 100 * MIB, keep: int = 3) -> OutputLog:
        log = OutputLog(
            self.disk.directory,
            "site",
            max_bytes,
            keep,
            later=lambda flush: reactor.callLater(0, flush),  # type: ignore[attr-defined]
            writer=self.writer,
            write=self.disk.write,
        )
        self.addCleanup(log.close)
        return log

    def lines(self, path: str) -> list[tuple[bytes, bytes, bytes]]:
        with open(path, "rb") as f:
            return parsed(f.read())

    async def test_linesAreWholeAndTheLostOnesCountedOnceThereIsRoom(self) -> None:
        log = self.open()
        log.write_block(1, "stdout", numbered(1, 100))
        await log.written()
        self.disk.fill()
        # More than the room left in the file's last page: the kernel takes
        # part of it and the next write fails.
        log.write_block(1, "stdout", numbered(101, 3000))
        for n in range(3001, 3100):
            log.write_block(1, "stdout", numbered(n, n))
            await log.written()
        log.note(1, "step 1 ended: exit 0")
        await log.written()
        self.disk.free()
        log.write_block(2, "stdout", numbered(3100, 3200))
        await log.written()

        lines = self.lines(log.path)
        written = numbers(lines)
        self.assertEqual(written, sorted(written))
        self.assertEqual(written[:100], list(range(1, 101)))
        self.assertEqual(written[-101:], list(range(3100, 3201)))
        missing = set(range(1, 3201)) - set(written)
        self.assertTrue(missing)
        # Every line lost is counted, the job's own note too, in one note
        # right before the first lines written again.
        self.assertEqual(lost_notes(lines), [len(missing) + 1])
        self.assertEqual(lost_notes(lines[-102:-101]), [len(missing) + 1])
        self.assertEqual(self.flushLoggedErrors(), [])

    async def test_theDaemonLogSaysOnceWhenLinesAreDroppedAndOnceWhenTheyAreNot(self) -> None:
        log = self.open()
        log.write_block(1, "stdout", numbered(1, 10))
        await log.written()
        self.disk.fill()
        for n in range(11, 1000):
            log.write_block(1, "stdout", numbered(n, n))
            await log.written()
        self.disk.free()
        log.write_block(1, "stdout", numbered(1000, 1000))
        await log.written()
        lost = lost_notes(self.lines(log.path))
        self.assertEqual(len(lost), 1)
        self.assertEqual(
            self.said,
            [
                f"output log {log.path} cannot be written (no space left on device): "
                "its lines are dropped, and counted, until it can",
                f"output log {log.path} written again: {lost[0]} lines were lost "
                "(no space left on device)",
            ],
        )
        self.assertEqual(self.flushLoggedErrors(), [])

    async def test_rotationGoesOnOnceThereIsRoom(self) -> None:
        log = self.open(max_bytes=8192, keep=2)
        log.write_block(1, "stdout", numbered(1, 10))
        await log.written()
        self.disk.fill()
        for n in range(11, 500):
            log.write_block(1, "stdout", numbered(n, n))
            await log.written()
        self.disk.free()
        for n in range(500, 2000):
            log.write_block(1, "stdout", numbered(n, n))
            await log.written()
        log.close()
        await self.writer.drained()
        self.assertEqual(
            sorted(name for name in os.listdir(self.disk.directory) if name.startswith("site")),
            ["site.log", "site.log.1", "site.log.2"],
        )
        newest_first = [log.path, log.path + ".1", log.path + ".2"]
        lines = [line for path in reversed(newest_first) for line in self.lines(path)]
        written = numbers(lines)
        self.assertEqual(written, sorted(written))
        self.assertEqual(written[-1], 1999)
        for path in newest_first:
            self.assertLessEqual(os.path.getsize(path), 8192 + 100)

    async def test_closingOnceThereIsRoomNotesWhatWasLost(self) -> None:
        log = self.open()
        log.write_block(1, "stdout", numbered(1, 10))
        await log.written()
        self.disk.fill()
        log.write_block(1, "stdout", numbered(11, 2000))
        await log.written()
        self.disk.free()
        log.close()
        await self.writer.drained()
        lines = self.lines(log.path)
        self.assertEqual(lost_notes(lines), [2000 - len(numbers(lines))])
        self.assertEqual(len(self.said), 2)
        self.assertIn("written again", self.said[1])

    async def test_closingWhileTheDiskIsFullSaysInTheDaemonLogWhatWasLost(self) -> None:
        log = self.open()
        log.write_block(1, "stdout", numbered(1, 10))
        await log.written()
        self.disk.fill()
        log.write_block(1, "stdout", numbered(11, 2000))
        await log.written()
        log.close()
        await self.writer.drained()
        lines = self.lines(log.path)
        self.assertEqual(lost_notes(lines), [])
        lost = 2000 - len(numbers(lines))
        self.assertEqual(
            self.said[1],
            f"output log {log.path} closed with {lost} lines lost "
            "(no space left on device) not noted in it",
        )


def eventually(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(3000):
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def text_of(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


JOB = """\
seq 1 100
until [ -e full ]; do sleep 0.01; done
seq 101 20000
until [ -e room ]; do sleep 0.01; done
seq 20001 20100
"""


class LiveFullDiskTests(SynchronousTestCase):
    def test_aJobOnAFullLogDirSucceedsWithWholeLinesAndItsWholeTail(self) -> None:
        """
        A real twistd whose log_dir is a 1 MiB tmpfs: a job prints, the disk is
        filled, the job prints more (the log takes part of a write, then
        nothing), the disk is emptied, the job prints its last lines and ends.
        Skipped where no tmpfs can be mounted: an injected write cannot reach
        another process.
        """
        mount = small_tmpfs(self, MIB)
        if mount is None:
            raise SkipTest("cannot mount a tmpfs here (not root?)")
        work = os.path.abspath(self.mktemp())
        os.makedirs(work)
        with open(os.path.join(work, "job.sh"), "w") as f:
            f.write(JOB)
        daemon = LiveDaemon(
            self,
            f"[hook:site]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = {work}\n"
            "command = sh job.sh\n",
            f"log_dir = {mount}\n",
        )
        path = os.path.join(mount, "site.log")

        def touch(name: str) -> None:
            open(os.path.join(work, name), "w").close()

        # Should the test fail half way, the job still ends, and so the daemon.
        self.addCleanup(touch, "room")
        self.addCleanup(touch, "full")

        code, answer = daemon.post("/hooks/site", b"")
        self.assertEqual(code, 202, answer)
        job_id = int(answer["job"])
        eventually(lambda: " stdout 100\n" in text_of(path), "the first lines")
        filler = fill_disk(mount)
        touch("full")
        eventually(lambda: "cannot be written" in daemon.log, "the daemon's log to say so")
        os.remove(filler)
        touch("room")
        job = daemon.wait_finished(job_id)

        self.assertEqual(job["state"], "succeeded")
        code, tail = daemon.request("GET", f"/jobs/{job_id}/log")
        self.assertEqual(code, 200)
        # hookdaemon's own lines end it: the step's end and the job's.
        ending = b"hookdaemon step 1 ended: exit 0\nhookdaemon job succeeded\n"
        self.assertTrue(tail.endswith(ending), tail[-200:])
        tail = tail[: -len(ending)]
        everything = b"".join(b"stdout %d\n" % n for n in range(1, 20101))
        self.assertEqual(tail, everything[-len(tail) :])
        self.assertGreater(len(tail), 60000)

        with open(path, "rb") as f:
            lines = parsed(f.read())
        written = numbers(lines)
        self.assertEqual(written, sorted(written))
        self.assertEqual(written[:100], list(range(1, 101)))
        self.assertEqual(written[-100:], list(range(20001, 20101)))
        missing = set(range(1, 20101)) - set(written)
        self.assertTrue(missing)
        self.assertEqual(lost_notes(lines), [len(missing)])
        notes = [text for job, stream, text in lines if job != b"-" and stream == b"hookdaemon"]
        self.assertEqual(
            notes, [b"step 1/1: sh job.sh", b"step 1 ended: exit 0", b"job succeeded"]
        )
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)

        log = daemon.log
        self.assertEqual(log.count("cannot be written"), 1, log)
        self.assertEqual(log.count("written again"), 1, log)
        self.assertNotIn("Traceback", log)
