"""The output logs' writer thread, and a job paused while it catches up."""

from __future__ import annotations

import os
import threading

from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from hookdaemon import disk_writer, process
from hookdaemon.disk_writer import DiskWriter
from hookdaemon.output import OutputLog
from tests.support import finished, post, start_daemon


class DiskWriterTests(TestCase):
    def writer(self, limit: int | None = None) -> DiskWriter:
        writer = DiskWriter(reactor.callFromThread, limit)  # type: ignore[attr-defined]
        self.addCleanup(writer.stop)
        return writer

    async def test_actionsRunInOrderOffTheReactorThread(self) -> None:
        writer = self.writer()
        seen: list[tuple[int, str]] = []
        for n in range(50):
            writer.submit(lambda n=n: seen.append((n, threading.current_thread().name)))
        await writer.drained()
        self.assertEqual([n for n, _ in seen], list(range(50)))
        self.assertEqual({name for _, name in seen}, {"hookdaemon-output"})

    async def test_congestedUntilTheBacklogIsWritten(self) -> None:
        writer = self.writer(limit=100)
        gate = threading.Event()
        writer.submit(gate.wait, 60)
        self.assertFalse(writer.congested)
        writer.submit(lambda: None, 60)
        self.assertTrue(writer.congested)
        relieved: list[bool] = []
        writer.when_relieved(lambda: relieved.append(True))
        await deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(relieved, [])
        gate.set()
        await writer.drained()
        await deferLater(reactor, 0, lambda: None)  # the relief comes through callFromThread
        self.assertEqual(relieved, [True])
        self.assertFalse(writer.congested)

    def test_reliefIsAtOnceWithoutABacklog(self) -> None:
        relieved: list[bool] = []
        self.writer().when_relieved(lambda: relieved.append(True))
        self.assertEqual(relieved, [True])

    async def test_aFailingWriteIsLoggedAndTheRestGoOn(self) -> None:
        writer = self.writer()
        seen: list[int] = []

        def fail() -> None:
            raise OSError("no space left on device")

        writer.submit(fail)
        writer.submit(lambda: seen.append(1))
        await writer.drained()
        await deferLater(reactor, 0, lambda: None)
        self.assertEqual(seen, [1])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    async def test_onReactorRunsTheActionOnTheReactorThread(self) -> None:
        writer = self.writer()
        seen: list[str] = []
        writer.submit(
            lambda: writer.on_reactor(lambda: seen.append(threading.current_thread().name))
        )
        await writer.drained()
        self.assertEqual(seen, [threading.current_thread().name])

    async def test_stopDoesWhatWasSubmittedThenEndsTheThread(self) -> None:
        writer = DiskWriter(reactor.callFromThread)  # type: ignore[attr-defined]
        seen: list[int] = []
        writer.submit(lambda: seen.append(1))
        await writer.stop()
        await writer.stop()
        self.assertEqual(seen, [1])
        writer._thread.join(5)
        self.assertFalse(writer._thread.is_alive())

    async def test_outputLogWritesThroughTheWriter(self) -> None:
        writer = self.writer()
        directory = self.mktemp()
        log = OutputLog(directory, "site", 1024, 3, clock=lambda: 0.0, writer=writer)
        for n in range(100):
            log.write_block(1, "stdout", b"line %03d\n" % n)
        await log.written()
        log.close()
        await writer.drained()
        names = sorted(os.listdir(directory))
        self.assertEqual(names, ["site.log", "site.log.1", "site.log.2", "site.log.3"])
        with open(log.path, "rb") as f:
            self.assertTrue(f.read().endswith(b"1 stdout line 099\n"))


class BackpressureTests(TestCase):
    async def test_aJobIsPausedWhileTheWriterCatchesUpAndLosesNothing(self) -> None:
        self.patch(disk_writer, "BACKLOG_BYTES", 64 * 1024)
        pauses: list[object] = []
        pause = process.RunningStep.pause

        # The writer's thread waits at this gate until the first pause, so the
        # backlog grows past the limit however fast the disk or slow the child.
        gate = threading.Event()
        self.addCleanup(gate.set)

        def counted(step: process.RunningStep) -> None:
            pauses.append(step)
            pause(step)
            gate.set()

        self.patch(process.RunningStep, "pause", counted)
        lines = 200_000
        daemon = await start_daemon(
            self,
            "[hook:site]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\n"
            f"command = sh -c 'seq 1 {lines}'\n",
            daemon="log_max_bytes = 1073741824\n",
        )
        daemon.service.outputs._writer.submit(gate.wait)
        code, answer, _ = await post(daemon.hook_url("site"), b"", {})
        self.assertEqual(code, 202)
        job = await finished(daemon, answer["job"])
        self.assertEqual(job.state, "succeeded")
        numbers = [
            int(line.rsplit(" ", 1)[1])
            for line in daemon.log_text("site").splitlines()
            if " stdout " in line
        ]
        self.assertEqual(numbers, list(range(1, lines + 1)))
        self.assertTrue(pauses, "the job was never paused")
