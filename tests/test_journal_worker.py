"""The journal's thread: ordered operations, grouped commits, failures kept apart."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import attrs
from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.task import Clock, deferLater
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import TestCase

from hookdaemon import journal_worker
from hookdaemon.delivery import Delivery
from hookdaemon.journal import RECLAIM_MIN_BYTES, Journal, NewDelivery
from hookdaemon.journal_worker import UPKEEP_DELAY, JournalWorker
from tests.support import MIB, on_disk, wait_for


def new(n: int) -> NewDelivery:
    delivery = Delivery.of_push(
        "refs/heads/main",
        "0" * 40,
        f"{n:040x}",
        forge="generic",
        event="push",
        delivery_id=f"d-{n}",
    )
    return NewDelivery("site", delivery, b"{}", float(n))


class JournalWorkerTests(TestCase):
    async def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp()) + ".sqlite"
        self.worker = JournalWorker(reactor, self.path)
        self.addCleanup(self.worker.stop)
        await self.worker.start()

    async def test_operationsRunInTheOrderTheyWereQueued(self) -> None:
        added = [self.worker.add(new(n)) for n in range(1, 6)]
        self.worker.record(lambda j: j.started(3, 10.0), "start")
        state = self.worker.call(lambda j: j.get(3).state)  # type: ignore[union-attr]
        results = await gatherResults(added)
        self.assertEqual([a.job_id for a in results], [1, 2, 3, 4, 5])
        self.assertEqual(await state, "running")

    async def test_aFailingOperationIsUndoneAlone(self) -> None:
        def fails(journal: Journal) -> None:
            journal.started(1, 5.0)
            raise ValueError("boom")

        first = self.worker.add(new(1))
        broken = self.worker.call(fails)
        second = self.worker.add(new(2))
        self.assertEqual((await first).job_id, 1)
        with self.assertRaises(ValueError):
            await broken
        self.assertEqual((await second).job_id, 2)
        # The failing operation's own write was rolled back with it.
        self.assertEqual(await self.worker.call(lambda j: j.get(1).state), "queued")  # type: ignore[union-attr]

    async def test_committedBeforeTheAnswer(self) -> None:
        added = await self.worker.add(new(7))
        other = Journal(self.path)
        self.addCleanup(other.close)
        record = other.get(added.job_id)
        assert record is not None
        self.assertEqual(record.delivery.delivery_id, "d-7")

    async def test_stopFinishesQueuedOperations(self) -> None:
        pending = [self.worker.add(new(n)) for n in range(1, 4)]
        await self.worker.stop()
        self.assertEqual([a.job_id for a in await gatherResults(pending)], [1, 2, 3])
        await self.worker.stop()  # again: nothing left to do, and no error

    async def test_operationAfterTheStopFailsAtOnce(self) -> None:
        """
        Not a Deferred that never fires, nor an exception at the caller: a part
        that stops after the journal hears that its read or write came too late.
        """
        logged: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        await self.worker.stop()
        read = self.worker.call(lambda j: j.get(1))
        write = self.worker.write(lambda j: j.started(1, 5.0))
        added = self.worker.add(new(1))
        for late in (read, write, added):
            failure = self.failureResultOf(late, journal_worker.JournalUnavailableError)
            self.assertEqual(str(failure.value), "the journal is closed: the daemon stops")
        said = [formatEvent(event) for event in logged]
        lost = "journal: a record of what a job did came after the journal closed, and is lost"
        self.assertEqual(said, [lost])


def large(n: int, size: int) -> NewDelivery:
    return attrs.evolve(new(n), payload=os.urandom(size))


class BodiesTests(TestCase):
    """Large bodies: bounded transactions, and the space of dropped ones given back."""

    async def start(self, payload_budget: int | None = None) -> JournalWorker:
        self.path = os.path.abspath(self.mktemp()) + ".sqlite"
        worker = JournalWorker(reactor, self.path, payload_budget)
        self.addCleanup(worker.stop)
        await worker.start()
        return worker

    async def test_aBatchHoldsAtMostBatchBytesOfBodies(self) -> None:
        self.patch(journal_worker, "BATCH_BYTES", 2500)
        worker = await self.start()
        statements: list[str] = []
        await worker.call(lambda j: j._db.set_trace_callback(statements.append))
        added = [worker.add(large(n, 1000)) for n in range(1, 7)]
        small = worker.call(lambda j: None)
        await gatherResults([*added, small])
        per_commit = [
            part.count("INSERT INTO payloads")
            for part in "\n".join(statements).split("BEGIN IMMEDIATE")[1:]
        ]
        self.assertEqual((sum(per_commit), max(per_commit)), (6, 2))

    async def test_aBodyLargerThanABatchStillGoes(self) -> None:
        self.patch(journal_worker, "BATCH_BYTES", 100)
        worker = await self.start()
        added = await gatherResults([worker.add(large(n, 1000)) for n in range(1, 4)])
        self.assertEqual([a.job_id for a in added], [1, 2, 3])

    async def test_droppedBodiesAreGivenBackOnceIdle(self) -> None:
        self.patch(journal_worker, "UPKEEP_DELAY", 0.01)
        worker = await self.start(payload_budget=0)
        ids = [(await worker.add(large(n, MIB))).job_id for n in range(1, 13)]
        self.assertGreater(on_disk(self.path), 12 * MIB)

        def finish_all(journal: Journal) -> None:
            for job_id in ids:
                journal.finished(job_id, "succeeded", 0, None, b"", 2.0)

        await worker.call(finish_all)
        await wait_for(
            lambda: on_disk(self.path) < 2 * RECLAIM_MIN_BYTES, "the free pages to be given back"
        )

    async def test_stopCancelsTheUpkeepDue(self) -> None:
        worker = await self.start(payload_budget=0)
        await worker.add(new(1))
        await worker.call(lambda j: j.finished(1, "succeeded", 0, None, b"", 2.0))
        # The batch answers before it ends (and plans the upkeep): let it end, or
        # stop() would come first and there would be no call to cancel.
        await deferLater(reactor, 0)
        await worker.stop()  # trial fails the test if the upkeep's call is left behind


class ClockedReactor:
    """The real reactor for threads, a L{Clock} for C{callLater}: upkeep's waits on demand."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def callLater(self, delay: float, f: Any, *args: Any, **kwargs: Any) -> Any:
        return self.clock.callLater(delay, f, *args, **kwargs)

    def seconds(self) -> float:
        return self.clock.seconds()

    def __getattr__(self, name: str) -> Any:
        return getattr(reactor, name)


class UpkeepWaitsForQuietTests(TestCase):
    """Upkeep never runs between the batches of a steady load, only once it stops."""

    async def test_noPassWhileOperationsKeepComing(self) -> None:
        path = os.path.abspath(self.mktemp()) + ".sqlite"
        clock = Clock()
        worker = JournalWorker(ClockedReactor(clock), path, payload_budget=0)
        self.addCleanup(worker.stop)
        await worker.start()
        passes: list[float] = []
        upkeep = Journal.upkeep

        def counted(journal: Journal) -> bool:
            passes.append(clock.seconds())
            return upkeep(journal)

        self.patch(Journal, "upkeep", counted)
        ids = [(await worker.add(large(n, MIB))).job_id for n in (1, 2)]

        def finish(journal: Journal) -> None:
            for job_id in ids:
                journal.finished(job_id, "succeeded", 0, None, b"", 2.0)

        async def settled() -> None:
            # The batch answers before it ends (and plans the upkeep): let it end.
            await deferLater(reactor, 0)
            self.assertEqual(passes, [], "an upkeep pass between the operations")

        await worker.call(finish)  # bodies dropped: upkeep is due
        await settled()
        for _ in range(20):  # an operation every 0.3 s, for 6 s
            clock.advance(0.3)
            await worker.call(lambda journal: None)
            await settled()
        self.assertEqual(passes, [])
        last = clock.seconds()
        clock.advance(UPKEEP_DELAY * 1.01)  # 20 steps of 0.3 s are not exactly 6 s
        await wait_for(lambda: bool(passes), "the upkeep once the operations stopped")
        self.assertEqual(len(passes), 1)
        self.assertGreaterEqual(passes[0] - last, UPKEEP_DELAY)


class UpkeepBackoffTests(TestCase):
    """A reader holding a snapshot blocks the checkpoint; upkeep waits longer each time."""

    async def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp()) + ".sqlite"
        self.clock = Clock()
        self.worker = JournalWorker(ClockedReactor(self.clock), self.path, payload_budget=0)
        self.addCleanup(self.worker.stop)
        await self.worker.start()
        self.reader = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(self.reader.close)

    async def free_pages_under_a_reader(self, first: int) -> None:
        """Two 1 MiB bodies dropped while another connection reads the state before."""
        ids = [(await self.worker.add(large(n, MIB))).job_id for n in (first, first + 1)]
        self.reader.execute("BEGIN")
        self.reader.execute("SELECT COUNT(*) FROM jobs").fetchall()

        def finish(journal: Journal) -> None:
            for job_id in ids:
                journal.finished(job_id, "succeeded", 0, None, b"", 2.0)

        await self.worker.call(finish)

    async def next_upkeep(self) -> float:
        """Wait for the worker to plan its next upkeep and run it to its end; its wait."""
        await wait_for(lambda: bool(self.clock.getDelayedCalls()), "an upkeep to be planned")
        (call,) = self.clock.getDelayedCalls()
        delay = call.getTime() - self.clock.seconds()
        self.clock.advance(delay)
        await self.worker.call(lambda journal: None)  # queued behind the upkeep
        return delay

    async def test_theWaitDoublesUpToAMinuteAndIsResetOnSuccess(self) -> None:
        await self.free_pages_under_a_reader(1)
        delays = [await self.next_upkeep() for _ in range(10)]
        self.assertEqual(delays, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0])
        self.reader.execute("COMMIT")
        self.assertEqual(await self.next_upkeep(), 60.0)  # this one goes through
        self.assertEqual(self.clock.getDelayedCalls(), [])  # nothing left to do
        self.assertLess(on_disk(self.path), 2 * RECLAIM_MIN_BYTES)

        await self.free_pages_under_a_reader(3)
        self.assertEqual([await self.next_upkeep() for _ in range(2)], [0.5, 1.0])


class StorageFaultTests(TestCase):
    """
    A real SQLite fault: another connection holds the write lock, and the
    worker's busy timeout is 0, so every commit fails with C{SQLITE_BUSY} until
    it lets go (as an operator's C{sqlite3} shell in a write would; a full
    disk is caused for real in C{test_faults}).
    """

    async def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp()) + ".sqlite"
        self.clock = Clock()
        self.worker = JournalWorker(ClockedReactor(self.clock), self.path)
        self.addCleanup(self.worker.stop)
        await self.worker.start()
        await self.worker.call(lambda j: j._db.execute("PRAGMA busy_timeout = 0"))
        self.job = (await self.worker.add(new(1))).job_id
        self.other = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(self.other.close)
        self.logged: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(self.logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.logged.append)

    def lock(self) -> None:
        self.other.execute("BEGIN IMMEDIATE")

    def unlock(self) -> None:
        self.other.execute("COMMIT")

    def said(self, text: str) -> int:
        return sum(text in formatEvent(event) for event in self.logged)

    async def fault(self) -> None:
        """Lock, and fail a write on it: the worker now knows it cannot commit."""
        self.lock()
        failed = self.worker.call(lambda j: j.touch())
        with self.assertRaises(journal_worker.JournalUnavailableError):
            await failed
        self.assertEqual(self.worker.fault, "database is locked")

    async def test_heldWritesAreWrittenInOrderOnceItCommits(self) -> None:
        await self.fault()
        order: list[str] = []

        def write(name: str, operation: Any) -> Any:
            def run(journal: Journal) -> Any:
                order.append(name)
                return operation(journal)

            return self.worker.write(run)

        started = write("start", lambda j: j.started(self.job, 5.0))
        ended = write("end", lambda j: j.finished(self.job, "succeeded", 0, None, b"", 6.0))
        self.assertFalse(started.called or ended.called)
        # Tried again after 0.25 s, still locked: held still.
        self.clock.advance(journal_worker.RETRY_FIRST)
        await wait_for(lambda: bool(self.clock.getDelayedCalls()), "the next try to be planned")
        self.assertFalse(started.called or ended.called)
        self.unlock()
        (call,) = self.clock.getDelayedCalls()
        self.clock.advance(call.getTime() - self.clock.seconds())
        await gatherResults([started, ended])
        self.assertEqual(order[-2:], ["start", "end"])
        self.assertIsNone(self.worker.fault)
        state = await self.worker.call(lambda j: j.get(self.job).state)  # type: ignore[union-attr]
        self.assertEqual(state, "succeeded")
        self.assertEqual(self.said("journal: cannot commit (database is locked)"), 1)
        self.assertEqual(self.said("journal: committing again after"), 1)

    async def test_deliveriesFailAtOnceWhileItCannotCommit(self) -> None:
        await self.fault()
        refused = self.worker.add(new(2))
        self.assertTrue(refused.called)  # no thread hop, no try: answered 503 at once
        with self.assertRaises(journal_worker.JournalUnavailableError):
            await refused
        self.unlock()
        self.clock.advance(journal_worker.RETRY_FIRST)  # a write of nothing finds it can
        await wait_for(lambda: self.worker.fault is None, "the journal to commit again")
        self.assertEqual((await self.worker.add(new(2))).job_id, 2)

    async def test_aRecordThatMayBeLetGoIsLetGoWhileItCannotCommit(self) -> None:
        """An ignored delivery's record is not held in memory for as long as the disk is full."""
        await self.fault()
        self.worker.record_if_possible(lambda j: j.touch(), "hook site's ignored delivery")
        self.assertEqual(
            self.said("journal: hook site's ignored delivery not recorded: database is locked"), 1
        )
        self.assertEqual(self.worker._held, [])
        self.unlock()
        self.clock.advance(journal_worker.RETRY_FIRST)
        await wait_for(lambda: self.worker.fault is None, "the journal to commit again")
        done: list[int] = []
        self.worker.record_if_possible(lambda j: done.append(1), "hook site's ignored delivery")
        await self.worker.call(lambda j: None)
        self.assertEqual(done, [1])

    async def test_theWaitBetweenTriesDoublesUpToRetryMax(self) -> None:
        await self.fault()
        delays = []
        for _ in range(7):
            await wait_for(lambda: bool(self.clock.getDelayedCalls()), "a try to be planned")
            (call,) = self.clock.getDelayedCalls()
            delays.append(call.getTime() - self.clock.seconds())
            self.clock.advance(delays[-1])
            await wait_for(lambda: not self.worker._flushing, "the try to end")
        self.assertEqual(delays, [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0])
        self.assertEqual(self.said("journal: cannot commit"), 1)  # once, not once per try
        self.unlock()

    async def test_stoppingWhileItCannotCommitTriesOnceMoreThenSaysWhatIsLost(self) -> None:
        await self.fault()
        held = self.worker.write(lambda j: j.started(self.job, 5.0))
        await self.worker.stop()
        with self.assertRaises(journal_worker.JournalUnavailableError):
            await held
        self.assertEqual(self.said("1 record(s) of what jobs did are lost"), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.unlock()

    async def test_stoppingOnceItCanCommitAgainWritesWhatWasHeld(self) -> None:
        await self.fault()
        held = self.worker.write(lambda j: j.started(self.job, 5.0))
        self.unlock()
        await self.worker.stop()  # the last try goes through
        await held
        journal = Journal(self.path)
        self.addCleanup(journal.close)
        self.assertEqual(journal.get(self.job).state, "running")  # type: ignore[union-attr]

    async def test_anSQLErrorIsTheOperationsOwnAndFailsAlone(self) -> None:
        """Not every OperationalError is storage: a bad statement must not hold the journal."""
        broken = self.worker.write(lambda j: j._db.execute("SELECT nothing FROM nowhere"))
        after = self.worker.write(lambda j: j.started(self.job, 5.0))
        with self.assertRaises(sqlite3.OperationalError):
            await broken
        await after
        self.assertIsNone(self.worker.fault)
