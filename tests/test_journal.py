"""The SQLite journal, on real files: acceptance, duplicates, recovery, history."""

from __future__ import annotations

import itertools
import os
import sqlite3

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import Delivery
from hookdaemon.journal import Added, Journal, NewDelivery


def push(after: str = "a" * 40, delivery_id: str = "", branch: str = "main") -> Delivery:
    return Delivery.of_push(
        ref=f"refs/heads/{branch}",
        before="0" * 40,
        after=after,
        forge="github",
        event="push",
        delivery_id=delivery_id,
        repository="example/site",
    )


class JournalTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = os.path.join(os.path.abspath(self.mktemp()) + ".sqlite")
        self.journal = self.open()

    def open(self) -> Journal:
        journal = Journal(self.path)
        self.addCleanup(journal.close)
        return journal

    def add(self, delivery: Delivery, hook: str = "site", payload: bytes = b"{}") -> Added:
        return self.journal.add(NewDelivery(hook, delivery, payload, queued_at=100.0))

    def test_addedJobIsOnDiskForAnotherConnection(self) -> None:
        added = self.add(push(delivery_id="d-1"), payload=b'{"raw": true}')
        self.assertEqual(added, Added(job_id=1, duplicate=False))
        other = sqlite3.connect(self.path)
        self.addCleanup(other.close)
        self.assertEqual(
            other.execute("SELECT hook, delivery_id, state, payload FROM jobs").fetchall(),
            [("site", "d-1", "queued", b'{"raw": true}')],
        )

    def test_recordKeepsTheDelivery(self) -> None:
        delivery = push(delivery_id="d-1")
        job_id = self.add(delivery).job_id
        record = self.journal.get(job_id)
        assert record is not None
        self.assertEqual(record.delivery, delivery)
        self.assertEqual((record.hook, record.state, record.queued_at), ("site", "queued", 100.0))
        self.assertIsNone(self.journal.get(job_id + 1))

    def test_sameDeliveryIdIsADuplicateAlsoAfterReopening(self) -> None:
        first = self.add(push(delivery_id="d-1")).job_id
        self.assertEqual(self.add(push(delivery_id="d-1")), Added(first, duplicate=True))
        self.journal.close()
        reopened = self.open()
        again = reopened.add(NewDelivery("site", push(delivery_id="d-1"), b"{}", 200.0))
        self.assertEqual(again, Added(first, duplicate=True))

    def test_duplicatesArePerHook(self) -> None:
        self.add(push(delivery_id="d-1"), hook="site")
        self.assertFalse(self.add(push(delivery_id="d-1"), hook="api").duplicate)

    def test_deliveriesWithoutIdAreNeverDuplicates(self) -> None:
        ids = {self.add(push()).job_id for _ in range(3)}
        self.assertEqual(len(ids), 3)

    def test_addManySharesOneTransactionAndAnswersEach(self) -> None:
        news = [NewDelivery("site", push(delivery_id=f"d-{n % 2}"), b"{}", 1.0) for n in range(4)]
        self.assertEqual(
            self.journal.add_many(news),
            [Added(1, False), Added(2, False), Added(1, True), Added(2, True)],
        )

    def test_lifecycleStartedFinished(self) -> None:
        job_id = self.add(push()).job_id
        self.journal.started(job_id, 101.0)
        self.assertEqual(self.journal.get(job_id).state, "running")  # type: ignore[union-attr]
        self.journal.finished(job_id, "failed", 2, None, b"last lines\n", 102.5)
        record = self.journal.get(job_id)
        assert record is not None
        self.assertEqual(
            (record.state, record.exit_code, record.signal, record.output_tail),
            ("failed", 2, None, b"last lines\n"),
        )
        self.assertEqual((record.started_at, record.finished_at), (101.0, 102.5))

    def test_finishedRefusesANonFinalState(self) -> None:
        job_id = self.add(push()).job_id
        self.assertRaises(ValueError, self.journal.finished, job_id, "queued", 0, None, b"", 1.0)

    def test_supersededNamesTheCoveringJob(self) -> None:
        old = self.add(push(after="1" * 40)).job_id
        new = self.add(push(after="2" * 40)).job_id
        self.journal.superseded(old, covered_by=new, now=101.0)
        record = self.journal.get(old)
        assert record is not None
        self.assertEqual((record.state, record.covered_by), ("superseded", new))
        self.assertEqual(self.journal.covers(new), [old])

    def test_supersedingAReplacementPassesOnWhatItCovered(self) -> None:
        first, second, third = (self.add(push(after=str(n) * 40)).job_id for n in (1, 2, 3))
        self.journal.superseded(first, covered_by=second, now=101.0)
        self.journal.superseded(second, covered_by=third, now=102.0)
        self.assertEqual(self.journal.covers(third), [first, second])
        self.assertEqual(self.journal.covering(first), third)
        self.assertEqual(self.journal.covering(second), third)
        self.assertIsNone(self.journal.covering(third))

    def test_recoverInterruptsRunningAndQueuesItOnceMore(self) -> None:
        running = self.add(push(delivery_id="d-1"), payload=b"body-1").job_id
        queued = self.add(push(delivery_id="d-2")).job_id
        self.journal.started(running, 101.0)
        self.journal.close()

        journal = self.open()
        pending = journal.recover(now=200.0)
        old = journal.get(running)
        assert old is not None
        self.assertEqual(old.state, "interrupted")
        # The retry keeps its delivery's place: before the delivery accepted after it.
        self.assertEqual([r.id for r in pending], [queued + 1, queued])
        retry = pending[0]
        self.assertEqual(
            (retry.retry_of, retry.delivery, retry.state), (running, old.delivery, "queued")
        )
        self.assertEqual(journal.payload(retry.id), b"body-1")
        # The delivery id still names the job first accepted for it.
        duplicate = journal.add(NewDelivery("site", push(delivery_id="d-1"), b"", 300.0))
        self.assertEqual(duplicate, Added(running, duplicate=True))

    def test_aRetryInterruptedAgainIsNotRetriedTwice(self) -> None:
        running = self.add(push()).job_id
        self.journal.started(running, 101.0)
        retry = self.journal.recover(now=200.0)[0]
        self.journal.started(retry.id, 201.0)
        self.assertEqual(self.journal.recover(now=300.0), [])
        self.assertEqual(self.journal.get(retry.id).state, "interrupted")  # type: ignore[union-attr]

    def test_recentIsNewestFirstAndFilteredByHook(self) -> None:
        for hook in ["site", "api", "site", "site"]:
            self.add(push(), hook=hook)
        self.assertEqual([r.id for r in self.journal.recent(limit=3)], [4, 3, 2])
        self.assertEqual([r.id for r in self.journal.recent("site")], [4, 3, 1])

    def test_pruneSparesTheJobARetryNames(self) -> None:
        interrupted = self.add(push()).job_id
        self.journal.started(interrupted, 101.0)
        older, newer = self.add(push()).job_id, self.add(push()).job_id
        for job_id in (older, newer):
            self.journal.finished(job_id, "succeeded", 0, None, b"", 150.0)
        retry = self.journal.recover(now=200.0)[0].id
        self.assertEqual(self.journal.prune("site", keep=1), 1)
        self.assertEqual([r.id for r in self.journal.recent("site")], [retry, newer, interrupted])

    def test_pruneForgetsSupersededJobsLikeAnyOther(self) -> None:
        """A burst of replaced deliveries is pruned to C{keep} like any other jobs."""
        ids = [self.add(push()).job_id for _ in range(6)]
        for old, new in itertools.pairwise(ids[:5]):
            self.journal.superseded(old, new, 1.0)
        self.journal.finished(ids[4], "succeeded", 0, None, b"", 2.0)
        self.assertEqual(self.journal.prune("site", keep=2), 3)
        self.assertEqual([r.id for r in self.journal.recent("site")], ids[:2:-1])
        self.assertEqual(self.journal.covers(ids[4]), [ids[3]])
        self.assertEqual(self.journal.covering(ids[3]), ids[4])

    def test_pruneKeepsTheNewestFinishedAndEverythingUnfinished(self) -> None:
        ids = [self.add(push()).job_id for _ in range(5)]
        for job_id in ids[:4]:
            self.journal.finished(job_id, "succeeded", 0, None, b"", 1.0)
        self.add(push(), hook="api")
        self.assertEqual(self.journal.prune("site", keep=2), 2)
        self.assertEqual([r.id for r in self.journal.recent("site")], [5, 4, 3])
        self.assertEqual(len(self.journal.recent("api")), 1)
