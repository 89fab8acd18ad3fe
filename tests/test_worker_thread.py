"""L{hookdaemon.worker_thread}: the journal's thread, with the real reactor."""

from __future__ import annotations

import threading

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from hookdaemon.worker_thread import WorkerThread


class WorkerThreadTests(TestCase):
    def worker(self) -> WorkerThread:
        worker = WorkerThread(reactor, "test-worker")
        worker.start()
        self.addCleanup(worker.stop)
        return worker

    async def test_runsInOrderOnItsThreadAndAnswersOnTheReactors(self) -> None:
        worker = self.worker()
        ran: list[tuple[int, str]] = []
        answered: list[str] = []

        def work(n: int) -> int:
            ran.append((n, threading.current_thread().name))
            return n * 10

        def heard(result: int) -> int:
            answered.append(threading.current_thread().name)
            return result

        results = [worker.run(lambda n=n: work(n)).addCallback(heard) for n in range(50)]
        self.assertEqual([await done for done in results], [n * 10 for n in range(50)])
        self.assertEqual(ran, [(n, "test-worker") for n in range(50)])
        self.assertEqual(set(answered), {threading.main_thread().name})

    async def test_whatItRaisesIsTheFailure(self) -> None:
        worker = self.worker()

        def broken() -> None:
            raise ZeroDivisionError("no")

        with self.assertRaises(ZeroDivisionError):
            await worker.run(broken)
        self.assertEqual(await worker.run(lambda: "still working"), "still working")

    async def test_stopRunsWhatWasHandedOverThenEndsTheThread(self) -> None:
        worker = WorkerThread(reactor, "test-worker")
        worker.start()
        gate = threading.Event()
        first = worker.run(gate.wait)
        second = worker.run(lambda: "second")
        stopped = worker.stop()
        self.assertIs(worker.stop(), stopped)
        self.assertRaises(RuntimeError, worker.run, lambda: None)
        gate.set()
        await stopped
        self.assertTrue(first.called)
        self.assertEqual(await second, "second")
        worker._thread.join(5)
        self.assertFalse(worker._thread.is_alive())

    async def test_stoppedBeforeItStartedIsStoppedAtOnce(self) -> None:
        await WorkerThread(reactor, "never-started").stop()
