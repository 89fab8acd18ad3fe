"""The journal's thread: ordered operations, grouped commits, failures kept apart."""

from __future__ import annotations

import os

from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.trial.unittest import TestCase

from hookdaemon.delivery import Delivery
from hookdaemon.journal import Journal, NewDelivery
from hookdaemon.journal_worker import JournalWorker


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
