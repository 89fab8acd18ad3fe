"""The SQLite journal, on real files: acceptance, duplicates, recovery, history."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sqlite3
from typing import Any

import attrs
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon import journal as journal_module
from hookdaemon.delivery import JOURNALED_FIELDS, Delivery
from hookdaemon.job_state import JobState
from hookdaemon.journal import (
    MIN_SQLITE,
    RECLAIM_MIN_BYTES,
    RECLAIM_PASS_BYTES,
    SCHEMA_VERSION,
    WAITING,
    WAL_LIMIT,
    Added,
    Journal,
    NewDelivery,
    NewerSchemaError,
    OutboxEntry,
    PayloadDroppedError,
    ReportRecord,
    SQLiteTooOldError,
    UpgradeError,
)
from tests import journal_60858ad, journal_c5ab9a6
from tests.delivery_values import every_value
from tests.journal_c5ab9a6 import add_old
from tests.support import MIB, on_disk


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
            other.execute("SELECT hook, delivery_id, state FROM jobs").fetchall(),
            [("site", "d-1", "queued")],
        )
        self.assertEqual(
            other.execute("SELECT job_id, body FROM payloads").fetchall(),
            [(1, b'{"raw": true}')],
        )

    def test_recordKeepsTheDelivery(self) -> None:
        delivery = push(delivery_id="d-1")
        job_id = self.add(delivery).job_id
        record = self.journal.get(job_id)
        assert record is not None
        self.assertEqual(record.delivery, delivery)
        self.assertEqual((record.hook, record.state, record.queued_at), ("site", "queued", 100.0))
        self.assertIsNone(self.journal.get(job_id + 1))

    def test_everyJournaledFieldComesBack(self) -> None:
        """Each field the Delivery says is journaled has a column, and reads back as it went in."""
        delivery = every_value()
        record = self.journal.get(self.add(delivery).job_id)
        assert record is not None
        kept = {name: getattr(delivery, name) for name in JOURNALED_FIELDS}
        self.assertEqual(record.delivery, Delivery(**kept))
        for name in JOURNALED_FIELDS:
            self.assertEqual(getattr(record.delivery, name), getattr(delivery, name), name)

    def test_theDeliveryColumnsAreTheTablesColumns(self) -> None:
        """
        The columns written and read for a delivery, derived from its fields, are
        the ones the schema names; every other column is the job's own.
        """
        db = sqlite3.connect(self.path)
        self.addCleanup(db.close)
        columns = [row[1] for row in db.execute("PRAGMA table_info(jobs)")]
        self.assertEqual(
            [column for column in columns if column in JOURNALED_FIELDS],
            ["delivery_id", *journal_module._DELIVERY_COLUMNS],
        )
        self.assertEqual(
            [column for column in columns if column not in JOURNALED_FIELDS],
            [
                "id",
                "hook",
                "state",
                "exit_code",
                "signal",
                "queued_at",
                "started_at",
                "finished_at",
                "covered_by",
                "retry_of",
                "output_tail",
                "process_group",
                "payload_size",
                "payload_dropped",
                "attempt",
                "replay_of",
                "reason",
            ],
        )

    def test_aDeliveryWithoutIdHasANullId(self) -> None:
        """So the unique index on (hook, delivery_id) leaves such deliveries alone."""
        self.add(push(delivery_id=""))
        db = sqlite3.connect(self.path)
        self.addCleanup(db.close)
        self.assertEqual(db.execute("SELECT delivery_id FROM jobs").fetchall(), [(None,)])

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

    def test_anInterruptedJobIsRetriedUntilMaxAttempts(self) -> None:
        """Each retry names the delivery's first job and counts; the third is the last."""
        first = self.add(push()).job_id
        self.journal.started(first, 101.0)
        attempts = [(first, None, 1)]
        for now in (200.0, 300.0):
            [retry] = self.journal.recover(now=now)
            attempts.append((retry.id, retry.retry_of, retry.attempt))
            self.journal.started(retry.id, now + 1)
        self.assertEqual(
            attempts, [(first, None, 1), (first + 1, first, 2), (first + 2, first, 3)]
        )
        self.assertEqual(self.journal.recover(now=400.0), [])
        self.assertEqual(self.journal.get(first + 2).state, "interrupted")  # type: ignore[union-attr]

    def test_maxAttemptsOfOneNeverRetries(self) -> None:
        journal = Journal(os.path.abspath(self.mktemp()), max_attempts=1)
        self.addCleanup(journal.close)
        job = journal.add(NewDelivery("site", push(), b"{}", 100.0)).job_id
        assert job is not None
        journal.started(job, 101.0)
        self.assertEqual(journal.recover(now=200.0), [])

    def test_aJobInterruptedByAStopIsQueuedAgain(self) -> None:
        """Ended C{interrupted} (stop_grace ran out), it is retried as one a crash left running."""
        first = self.add(push(), payload=b"body-1").job_id
        assert first is not None
        self.journal.started(first, 101.0)
        self.journal.finished(first, JobState.INTERRUPTED, None, "SIGTERM", b"", 150.0)
        [retry] = self.journal.recover(now=200.0)
        self.assertEqual((retry.retry_of, retry.attempt, retry.state), (first, 2, "queued"))
        self.assertEqual(self.journal.payload(retry.id), b"body-1")
        # Told twice (a finish retried after it went in), it is retried once.
        self.journal.finished(first, JobState.INTERRUPTED, None, "SIGTERM", b"", 151.0)
        self.assertEqual([r.id for r in self.journal.recover(now=201.0)], [retry.id])

    def test_deliveryIdsOutliveThePrunedHistory(self) -> None:
        """A redelivery of a pruned job's delivery is still a duplicate, of no job."""
        first = self.add(push(delivery_id="d-1")).job_id
        assert first is not None
        self.journal.finished(first, JobState.SUCCEEDED, 0, None, b"", 101.0)
        for n in range(3):
            job = self.add(push(delivery_id=f"d-{n + 2}")).job_id
            assert job is not None
            self.journal.finished(job, JobState.SUCCEEDED, 0, None, b"", 102.0)
        self.journal.prune("site", keep=1)
        self.assertIsNone(self.journal.get(first))
        self.assertEqual(self.add(push(delivery_id="d-1")), Added(None, duplicate=True))
        reopened = self.open()
        self.assertEqual(
            reopened.add(NewDelivery("site", push(delivery_id="d-1"), b"", 103.0)),
            Added(None, duplicate=True),
        )
        self.assertEqual(
            reopened.add(NewDelivery("site", push(delivery_id="d-4"), b"", 103.0)),
            Added(first + 3, duplicate=True),
        )

    def test_deliveryIdsAreForgottenAfterIdMemory(self) -> None:
        journal = Journal(os.path.abspath(self.mktemp()), id_memory=1000.0)
        self.addCleanup(journal.close)

        def add(delivery_id: str, now: float) -> Added:
            return journal.add(NewDelivery("site", push(delivery_id=delivery_id), b"", now))

        first = add("d-1", 100.0)
        self.assertEqual(add("d-1", 1100.0), Added(first.job_id, duplicate=True))
        later = add("d-1", 1100.1)  # remembered for 1000 s, and no longer
        self.assertEqual(later.duplicate, False)
        self.assertEqual(add("d-1", 1200.0), Added(later.job_id, duplicate=True))
        add("d-2", 150.0)
        self.assertEqual(journal.forget_ids("site", now=1200.0), 1)  # d-2 went; d-1 is newer
        self.assertEqual(add("d-2", 1200.0).duplicate, False)

    def test_deliveryIdsAreBoundedPerHookTheOldestForgottenFirst(self) -> None:
        journal = Journal(os.path.abspath(self.mktemp()), id_max=3)
        self.addCleanup(journal.close)

        def add(delivery_id: str, hook: str = "site") -> Added:
            return journal.add(NewDelivery(hook, push(delivery_id=delivery_id), b"", 100.0))

        for n in range(5):
            add(f"d-{n}")
        add("d-0", hook="other")
        self.assertEqual([add(f"d-{n}").duplicate for n in (2, 3, 4)], [True, True, True])
        self.assertEqual(add("d-0", hook="other").duplicate, True)
        self.assertEqual(add("d-0").duplicate, False)  # forgotten: the oldest went first
        other = sqlite3.connect(journal._path)
        self.addCleanup(other.close)
        self.assertEqual(
            other.execute("SELECT COUNT(*) FROM deliveries WHERE hook = 'site'").fetchone(), (3,)
        )

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

    def test_pruneIsUndoneWithTheTransactionItIsIn(self) -> None:
        ids = [self.add(push()).job_id for _ in range(3)]
        for job_id in ids:
            self.journal.finished(job_id, "succeeded", 0, None, b"", 1.0)
        with self.assertRaises(ZeroDivisionError), self.journal.transaction():
            self.assertEqual(self.journal.prune("site", keep=1), 2)
            1 / 0  # noqa: B018
        self.assertEqual([r.id for r in self.journal.recent("site")], ids[::-1])
        self.assertEqual(self.journal.payload(ids[0]), b"{}")

    def test_aFailingPartIsUndoneWholeWhateverItCalled(self) -> None:
        """
        A part of a transaction (a savepoint) undoes all it did when it fails,
        the transactions of what it called included; the other parts stay.
        """
        ids = [self.add(push()).job_id for _ in range(3)]
        for job_id in ids:
            self.journal.finished(job_id, "succeeded", 0, None, b"", 1.0)
        with self.journal.transaction():
            kept = self.add(push()).job_id
            with self.assertRaises(ZeroDivisionError), self.journal.transaction():
                self.add(push())
                self.assertEqual(self.journal.prune("site", keep=1), 2)
                1 / 0  # noqa: B018
            after = self.add(push()).job_id
        self.assertEqual([r.id for r in self.journal.recent("site")], [after, kept, *ids[::-1]])

    def test_pruneKeepsTheNewestFinishedAndEverythingUnfinished(self) -> None:
        ids = [self.add(push()).job_id for _ in range(5)]
        for job_id in ids[:4]:
            self.journal.finished(job_id, "succeeded", 0, None, b"", 1.0)
        self.add(push(), hook="api")
        self.assertEqual(self.journal.prune("site", keep=2), 2)
        self.assertEqual([r.id for r in self.journal.recent("site")], [5, 4, 3])
        self.assertEqual(len(self.journal.recent("api")), 1)


def finish(journal: Journal, job_id: int, now: float = 150.0) -> None:
    journal.finished(job_id, "succeeded", 0, None, b"", now)


def upkeep_until_done(journal: Journal) -> int:
    """Every L{Journal.upkeep} pass it takes to give the free pages back; how many."""
    passes = 1
    while journal.upkeep():
        passes += 1
    return passes


class JournalFileTestCase(SynchronousTestCase):
    """A journal file of the test's own, opened as often as a test needs."""

    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp()) + ".sqlite"

    def open(self, payload_budget: int | None = None) -> Journal:
        journal = Journal(self.path, payload_budget)
        self.addCleanup(journal.close)
        return journal


class PayloadTests(JournalFileTestCase):
    """Which bodies the journal keeps, and what it says about the others."""

    def add(self, journal: Journal, payload: bytes, delivery_id: str = "") -> int:
        new = NewDelivery("site", push(delivery_id=delivery_id), payload, queued_at=100.0)
        return journal.add(new).job_id

    def kept(self, journal: Journal) -> list[int]:
        return [r.id for r in reversed(journal.recent(limit=1000)) if r.payload_kept]

    def test_supersededJobDropsItsBodyInTheSameTransaction(self) -> None:
        journal = self.open()
        old, new = self.add(journal, b"old"), self.add(journal, b"new")
        with self.assertRaises(ZeroDivisionError), journal.transaction():
            journal.superseded(old, covered_by=new, now=101.0)
            1 / 0  # noqa: B018
        # Undone together: still queued, body and all.
        self.assertEqual((journal.get(old).state, journal.payload(old)), ("queued", b"old"))  # type: ignore[union-attr]
        journal.superseded(old, covered_by=new, now=101.0)
        record = journal.get(old)
        assert record is not None
        self.assertEqual((record.state, record.payload_kept), ("superseded", False))
        with self.assertRaises(PayloadDroppedError) as raised:
            journal.payload(old)
        self.assertEqual(str(raised.exception), f"the body of job {old} was dropped (superseded)")
        self.assertEqual(journal.payload(new), b"new")

    def test_withoutABudgetABodyLivesAsLongAsItsJob(self) -> None:
        """The default: every job the history keeps can be replayed, and pruning takes both."""
        journal = self.open()
        ids = [self.add(journal, bytes([n]) * 100_000) for n in range(4)]
        for job_id in ids:
            finish(journal, job_id)
        self.assertEqual(self.kept(journal), ids)
        self.assertEqual(journal.prune("site", keep=2), 2)
        self.assertEqual(self.kept(journal), ids[2:])
        self.assertEqual(journal.payload(ids[2]), bytes([2]) * 100_000)
        with self.assertRaises(KeyError):
            journal.payload(ids[0])
        self.assertEqual(journal._db.execute("SELECT COUNT(*) FROM payloads").fetchone(), (2,))

    def test_ignoredDeliveriesAreKeptApartFromTheHistory(self) -> None:
        """The newest C{keep} of each, so a burst of unwanted pushes never prunes a deploy."""
        journal = self.open()
        job = self.add(journal, b"body")
        finish(journal, job)
        ignored = [
            journal.ignored(
                "site", push(branch=f"wip-{n}"), f"branch wip-{n} is not wanted", 5.0 + n, keep=2
            )
            for n in range(4)
        ]
        journal.ignored("other", push(), "not wanted", 9.0, keep=2)
        self.assertEqual(journal.prune("site", keep=2), 0)
        records = journal.recent("site", limit=10)
        self.assertEqual([r.id for r in records], [ignored[3], ignored[2], job])
        newest = records[0]
        self.assertEqual(
            (
                newest.state,
                newest.reason,
                newest.delivery.branch,
                newest.queued_at,
                newest.finished_at,
            ),
            ("ignored", "branch wip-3 is not wanted", "wip-3", 8.0, 8.0),
        )
        self.assertFalse(newest.payload_kept)
        with self.assertRaises(PayloadDroppedError):
            journal.payload(newest.id)
        self.assertEqual(len(journal.recent("other", limit=10)), 1)
        self.assertEqual(
            [r.id for r in journal.recent("site", 10, JobState.IGNORED)], ignored[:1:-1]
        )

    def test_payloadTellsAnUnknownJobFromADroppedBody(self) -> None:
        journal = self.open(payload_budget=0)
        job_id = self.add(journal, b"body")
        finish(journal, job_id)
        with self.assertRaises(PayloadDroppedError) as raised:
            journal.payload(job_id)
        self.assertEqual(
            (str(raised.exception), raised.exception.reason),
            (f"the body of job {job_id} was dropped (payload_budget)", "payload_budget"),
        )
        with self.assertRaises(KeyError):
            journal.payload(job_id + 1)

    def test_budgetDropsTheOldestFinishedBodiesFirst(self) -> None:
        journal = self.open(payload_budget=2500)
        ids = [self.add(journal, bytes(1000)) for _ in range(5)]
        # They finish out of order; the oldest delivery's body goes first all the same.
        for job_id in (ids[1], ids[0]):
            finish(journal, job_id)
        self.assertEqual(self.kept(journal), ids)
        finish(journal, ids[2])
        self.assertEqual(self.kept(journal), ids[1:])
        finish(journal, ids[3])
        self.assertEqual(self.kept(journal), ids[2:])
        self.assertEqual(journal.payload(ids[2]), bytes(1000))

    def test_queuedAndRunningBodiesAreNeverDropped(self) -> None:
        """They do not count against the budget either: only finished bodies are dropped."""
        journal = self.open(payload_budget=0)
        queued, running, done = (self.add(journal, bytes(1000)) for _ in range(3))
        journal.started(running, 101.0)
        finish(journal, done)
        self.assertEqual(self.kept(journal), [queued, running])
        self.assertEqual(journal.payload(running), bytes(1000))
        journal.close()
        reopened = self.open(payload_budget=0)
        self.assertEqual(self.kept(reopened), [queued, running])
        self.assertEqual(reopened.payload(queued), bytes(1000))

    def test_aSmallerBudgetAppliesWhenTheFileIsOpened(self) -> None:
        journal = self.open()
        ids = [self.add(journal, bytes(1000)) for _ in range(3)]
        for job_id in ids:
            finish(journal, job_id)
        journal.close()
        self.assertEqual(self.kept(self.open(payload_budget=2000)), ids[1:])

    def test_prunedBodiesNoLongerCount(self) -> None:
        journal = self.open(payload_budget=2000)
        ids = [self.add(journal, bytes(1000)) for _ in range(3)]
        for job_id in ids:
            finish(journal, job_id)
        self.assertEqual(self.kept(journal), ids[1:])
        self.assertEqual(journal.prune("site", keep=1), 2)
        last = self.add(journal, bytes(1000))
        finish(journal, last)
        # 2000 bytes kept: both fit, since the pruned bodies are gone.
        self.assertEqual(self.kept(journal), [ids[2], last])

    def test_aFinishUndoneIsNotCounted(self) -> None:
        journal = self.open(payload_budget=1500)
        first, second = self.add(journal, bytes(1000)), self.add(journal, bytes(1000))
        with self.assertRaises(ZeroDivisionError), journal.transaction():
            finish(journal, first)
            1 / 0  # noqa: B018
        finish(journal, second)
        self.assertEqual(self.kept(journal), [first, second])

    def test_finishingTwiceCountsOnce(self) -> None:
        journal = self.open(payload_budget=1500)
        first, second = self.add(journal, bytes(1000)), self.add(journal, bytes(500))
        finish(journal, second)
        finish(journal, second)
        finish(journal, first)
        self.assertEqual(self.kept(journal), [first, second])

    def test_theRetryOfAnInterruptedJobHasItsBody(self) -> None:
        journal = self.open(payload_budget=0)
        running = self.add(journal, b"body-1")
        journal.started(running, 101.0)
        journal.close()
        journal = self.open(payload_budget=0)
        retry = journal.recover(now=200.0)[0].id
        self.assertEqual(journal.payload(retry), b"body-1")
        # The interrupted job is finished: with a budget of 0 its own copy goes.
        self.assertEqual(self.kept(journal), [retry])


class FileSizeTests(JournalFileTestCase):
    """Dropped bodies and pruned jobs give their space back to the file system."""

    def fill(self, journal: Journal, count: int, size: int = MIB) -> list[int]:
        news = [
            NewDelivery("site", push(), os.urandom(size), queued_at=100.0) for _ in range(count)
        ]
        return [added.job_id for added in journal.add_many(news)]

    def test_theFileShrinksWhenBodiesAreDropped(self) -> None:
        journal = self.open(payload_budget=2 * MIB)
        ids = self.fill(journal, 20)
        self.assertFalse(journal.upkeep())  # a checkpoint: the bodies are in the file itself
        self.assertGreater(on_disk(self.path), 20 * MIB)
        for old, new in itertools.pairwise(ids[:10]):
            journal.superseded(old, new, 101.0)
        for job_id in ids[9:]:
            finish(journal, job_id)
        self.assertTrue(journal.needs_upkeep)
        upkeep_until_done(journal)
        after = on_disk(self.path)
        # Two bodies are kept; less than one pass's minimum stays free.
        self.assertLess(after, 2 * MIB + RECLAIM_MIN_BYTES + 256 * 1024)
        self.assertEqual(os.path.getsize(self.path + "-wal"), 0)
        self.assertFalse(journal.needs_upkeep)

    def test_theFileShrinksWhenJobsArePruned(self) -> None:
        journal = self.open()
        ids = self.fill(journal, 12)
        for job_id in ids:
            finish(journal, job_id)
        journal.upkeep()
        self.assertGreater(on_disk(self.path), 12 * MIB)
        journal.prune("site", keep=2)
        upkeep_until_done(journal)
        self.assertLess(on_disk(self.path), 2 * MIB + RECLAIM_MIN_BYTES + 256 * 1024)

    def test_aPassGivesBackABoundedAmount(self) -> None:
        journal = self.open(payload_budget=0)
        for job_id in self.fill(journal, 12):
            finish(journal, job_id)
        free = journal_free_bytes(self.path)
        self.assertGreater(free, 11 * MIB)
        self.assertTrue(journal.upkeep())  # more to come
        self.assertEqual(free - journal_free_bytes(self.path), RECLAIM_PASS_BYTES)
        self.assertGreater(upkeep_until_done(journal), 1)
        self.assertLess(journal_free_bytes(self.path), RECLAIM_MIN_BYTES)

    def test_theWriteAheadLogIsCutBack(self) -> None:
        """A burst's transaction grows the log; once checkpointed it is cut to WAL_LIMIT."""
        journal = self.open()
        self.fill(journal, 12)
        self.assertGreater(os.path.getsize(self.path + "-wal"), 12 * MIB)
        self.fill(journal, 1, size=100)  # the next commit after the checkpoint
        self.assertLessEqual(os.path.getsize(self.path + "-wal"), WAL_LIMIT)

    def test_aReaderDoesNotHoldUpkeepBack(self) -> None:
        """
        Another connection in a read transaction: the checkpoint runs with no busy
        timeout, so it reports busy and gives up instead of waiting (5 s) with
        every delivery behind it; the timeout is the connection's again after.
        """
        journal = self.open(payload_budget=0)
        ids = self.fill(journal, 4)
        reader = sqlite3.connect(self.path, isolation_level=None)
        self.addCleanup(reader.close)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM jobs").fetchall()
        for job_id in ids:
            finish(journal, job_id)
        journal._db.execute("PRAGMA busy_timeout = 1234")
        statements: list[str] = []
        journal._db.set_trace_callback(statements.append)
        upkeep_until_done(journal)
        journal._db.set_trace_callback(None)
        self.assertTrue(journal.checkpoint_blocked)
        self.assertTrue(journal.needs_upkeep)  # the checkpoint is still to come
        pragmas = [s for s in statements if "busy_timeout =" in s or "wal_checkpoint" in s]
        self.assertEqual(
            pragmas[-3:],
            [
                "PRAGMA busy_timeout = 0",
                "PRAGMA wal_checkpoint(TRUNCATE)",
                "PRAGMA busy_timeout = 1234",
            ],
        )
        self.assertEqual(journal._pragma("busy_timeout"), 1234)
        self.assertGreater(on_disk(self.path), 4 * MIB)  # the log still holds the file
        reader.execute("COMMIT")
        self.assertFalse(journal.upkeep())
        self.assertFalse(journal.checkpoint_blocked)
        self.assertFalse(journal.needs_upkeep)
        self.assertLess(on_disk(self.path), RECLAIM_MIN_BYTES + 256 * 1024)

    def test_anUpkeepWithNothingFreeLeavesTheFileAlone(self) -> None:
        journal = self.open()
        self.fill(journal, 2, size=1000)
        before = os.path.getsize(self.path)
        self.assertFalse(journal.upkeep())
        self.assertEqual(os.path.getsize(self.path), before)


def journal_free_bytes(path: str) -> int:
    """Free pages in the journal file, in bytes, as another connection sees them."""
    db = sqlite3.connect(path)
    try:
        pages = db.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages) * int(db.execute("PRAGMA page_size").fetchone()[0])
    finally:
        db.close()


class UpgradeTests(JournalFileTestCase):
    """A journal file written by the release before bodies had a table of their own."""

    def old_file(self) -> dict[str, int]:
        """One job in every state that release left, each with its own body."""
        db = journal_c5ab9a6.open_old(self.path)
        ids = {
            "succeeded": add_old(db, b"body-ok", delivery_id="d-1", state="succeeded"),
            "superseded": add_old(db, b"body-old", delivery_id="d-2", state="superseded"),
            "running": add_old(db, b"body-run", delivery_id="d-3", state="running"),
            "queued": add_old(db, b"body-new", delivery_id="d-4", state="queued"),
        }
        db.execute(
            "UPDATE jobs SET covered_by = ? WHERE id = ?", (ids["queued"], ids["superseded"])
        )
        db.execute(
            "UPDATE jobs SET output_tail = ? WHERE id = ?", (b"stdout ok\n", ids["succeeded"])
        )
        db.close()
        return ids

    def test_everyJobIsKeptWithItsBody(self) -> None:
        ids = self.old_file()
        old = sqlite3.connect(self.path)
        self.addCleanup(old.close)
        columns = "id, hook, delivery_id, state, after, covered_by, output_tail, finished_at"
        rows = old.execute(f"SELECT {columns} FROM jobs ORDER BY id").fetchall()
        old.close()

        journal = self.open()
        new = sqlite3.connect(self.path)
        self.addCleanup(new.close)
        self.assertEqual(new.execute(f"SELECT {columns} FROM jobs ORDER BY id").fetchall(), rows)
        for state, body in [("succeeded", b"body-ok"), ("running", b"body-run")]:
            self.assertEqual(journal.payload(ids[state]), body)
        self.assertEqual(journal.payload(ids["queued"]), b"body-new")
        # A superseded job's body goes, as it would have had it been superseded now.
        self.assertFalse(journal.get(ids["superseded"]).payload_kept)  # type: ignore[union-attr]
        self.assertEqual(journal.covers(ids["queued"]), [ids["superseded"]])
        record = journal.get(ids["succeeded"])
        assert record is not None
        self.assertEqual(
            (record.state, record.exit_code, record.output_tail, record.delivery.after),
            ("succeeded", 0, b"stdout ok\n", "a" * 40),
        )
        duplicate = journal.add(NewDelivery("site", push(delivery_id="d-1"), b"", 200.0))
        self.assertEqual(duplicate, Added(ids["succeeded"], duplicate=True))

    def test_theInterruptedJobIsRetriedWithItsBody(self) -> None:
        ids = self.old_file()
        pending = self.open().recover(now=200.0)
        retry = pending[0]
        self.assertEqual([r.id for r in pending], [retry.id, ids["queued"]])
        self.assertEqual(retry.retry_of, ids["running"])
        journal = self.open()
        self.assertEqual(journal.payload(retry.id), b"body-run")

    def test_theFileBecomesIncrementalOnceAndShrinks(self) -> None:
        """As the issue saw it: superseded bodies kept in an old file, given back on upgrade."""
        db = journal_c5ab9a6.open_old(self.path)
        ids = [add_old(db, os.urandom(MIB), state="superseded") for _ in range(12)]
        add_old(db, b"{}", state="queued")
        db.execute("UPDATE jobs SET covered_by = ? WHERE covered_by IS NULL", (ids[-1] + 1,))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.assertEqual(db.execute("PRAGMA auto_vacuum").fetchone(), (0,))
        db.close()
        before = on_disk(self.path)
        self.assertGreater(before, 12 * MIB)

        vacuums: list[object] = []
        original = journal_module._vacuum_into_incremental

        def counted(db: sqlite3.Connection) -> None:
            vacuums.append(db)
            original(db)

        self.patch(journal_module, "_vacuum_into_incremental", counted)
        journal = self.open()
        self.assertEqual(len(vacuums), 1)
        self.assertLess(on_disk(self.path), 256 * 1024)
        self.assertEqual(journal.payload(ids[-1] + 1), b"{}")
        journal.close()

        check = sqlite3.connect(self.path)
        self.addCleanup(check.close)
        self.assertEqual(
            check.execute("PRAGMA auto_vacuum").fetchone()
            + check.execute("PRAGMA user_version").fetchone(),
            (2, SCHEMA_VERSION),
        )
        check.close()
        self.open()
        self.assertEqual(len(vacuums), 1)  # once: the second opening has nothing to do

    def test_aVacuumThatFailsIsTriedAgainAtTheNextStart(self) -> None:
        """VACUUM needs room for a copy: on a full disk the upgraded journal opens all the same."""
        ids = self.old_file()

        def full(db: sqlite3.Connection) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        patched = self.patch(journal_module, "_vacuum_into_incremental", full)
        with capturedLogs() as events:
            journal = self.open()
        self.assertEqual(journal.payload(ids["queued"]), b"body-new")
        journal.close()
        patched.restore()
        self.assertEqual(len(events), 1)
        self.assertIn("database or disk is full", formatEvent(events[0]))
        self.open().close()
        check = sqlite3.connect(self.path)
        self.addCleanup(check.close)
        self.assertEqual(check.execute("PRAGMA auto_vacuum").fetchone(), (2,))

    def test_theSchemaMatchesANewFile(self) -> None:
        """An upgraded file and a new one have the same columns, in the same order."""
        self.old_file()
        self.open()
        fresh = os.path.abspath(self.mktemp()) + ".sqlite"
        Journal(fresh).close()

        def columns(path: str) -> list[tuple[str, str]]:
            db = sqlite3.connect(path)
            try:
                return [
                    (table, row[1])
                    for table in ("jobs", "payloads")
                    for row in db.execute(f"PRAGMA table_info({table})")
                ]
            finally:
                db.close()

        self.assertEqual(columns(self.path), columns(fresh))

    def test_theIndexesAndForeignKeysMatchANewFile(self) -> None:
        """The rebuilt jobs table has every index and reference a new file has, and keys are on."""
        self.old_file()
        journal = self.open()
        self.assertEqual(journal._pragma("foreign_keys"), 1)
        fresh = os.path.abspath(self.mktemp()) + ".sqlite"
        Journal(fresh).close()

        def shape(path: str) -> list[object]:
            db = sqlite3.connect(path)
            try:
                indexes = db.execute(
                    "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'"
                    " AND sql IS NOT NULL ORDER BY name"
                ).fetchall()
                keys = [
                    (table, *row[2:5], row[6])
                    for table in ("jobs", "payloads")
                    for row in db.execute(f"PRAGMA foreign_key_list({table})")
                ]
                tables = db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                ).fetchall()
                return [indexes, sorted(keys), tables]
            finally:
                db.close()

        self.assertEqual(shape(self.path), shape(fresh))

    def test_idsOfPrunedJobsAreNotGivenAgain(self) -> None:
        """AUTOINCREMENT's counter survives the rebuild: a pruned newest job's id stays used."""
        db = journal_c5ab9a6.open_old(self.path)
        ids = [add_old(db, b"{}", state="succeeded") for _ in range(3)]
        db.execute("DELETE FROM jobs WHERE id = ?", (ids[-1],))
        db.close()
        journal = self.open()
        self.assertEqual(self.add(journal), ids[-1] + 1)

    def add(self, journal: Journal) -> int:
        return journal.add(NewDelivery("site", push(), b"{}", 200.0)).job_id

    def test_anUpgradeThatWouldBreakAReferenceLeavesTheFileAsItWas(self) -> None:
        ids = self.old_file()
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("UPDATE jobs SET covered_by = 99 WHERE id = ?", (ids["superseded"],))
        db.close()
        with self.assertRaises(UpgradeError) as raised:
            Journal(self.path)
        self.assertIn("1 row(s) would name a job that is not there", str(raised.exception))
        check = sqlite3.connect(self.path)
        self.addCleanup(check.close)
        self.assertEqual(check.execute("PRAGMA user_version").fetchone(), (0,))
        self.assertIn("payload", [row[1] for row in check.execute("PRAGMA table_info(jobs)")])
        self.assertEqual(check.execute("SELECT COUNT(*) FROM jobs").fetchone(), (4,))

    def test_aNewerSchemaIsRefused(self) -> None:
        Journal(self.path).close()
        db = sqlite3.connect(self.path)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.close()
        with self.assertRaises(NewerSchemaError) as raised:
            Journal(self.path)
        self.assertIn("run the newer release", str(raised.exception))


# What each SQL feature newer than MIN_SQLITE would need; none may be used.
NEWER_FEATURES = {
    r"\bRETURNING\b": (3, 35, 0),
    r"\bDROP\s+COLUMN\b": (3, 35, 0),
    r"\bUPDATE\b[^;]*\bFROM\b": (3, 33, 0),
    r"\bIIF\s*\(": (3, 32, 0),
    r"\bGENERATED\s+ALWAYS\b": (3, 31, 0),
    r"\bNULLS\s+(FIRST|LAST)\b": (3, 30, 0),
    r"\bRENAME\s+COLUMN\b": (3, 25, 0),
    r"\bOVER\s*\(": (3, 25, 0),
    r"\bON\s+CONFLICT\b": (3, 24, 0),
    r"\bSTRICT\b": (3, 37, 0),
    r"->": (3, 38, 0),
}


class SQLiteVersionTests(SynchronousTestCase):
    """The journal runs on the SQLite of RHEL 9 (3.34) and Ubuntu 20.04 (3.31)."""

    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp()) + ".sqlite"

    def test_anOlderSQLiteIsRefusedInOneLine(self) -> None:
        self.patch(journal_module.sqlite3, "sqlite_version_info", (3, 19, 4))
        with self.assertRaises(SQLiteTooOldError) as raised:
            Journal(self.path)
        self.assertEqual(
            str(raised.exception),
            "the journal needs SQLite 3.20.0 or newer and this Python has 3.19.4:"
            " run hookdaemon with a Python built on a newer SQLite",
        )
        self.assertFalse(os.path.exists(self.path))

    def test_theOldestSQLiteNeededIsOpened(self) -> None:
        self.patch(journal_module.sqlite3, "sqlite_version_info", MIN_SQLITE)
        Journal(self.path).close()

    def test_noStatementUsesANewerFeature(self) -> None:
        """
        Every statement of an upgrade, a day's work, pruning, a recovery and an
        upkeep, against the features SQLite added after L{MIN_SQLITE}.
        """
        statements: list[str] = []
        connect = sqlite3.connect

        def traced(*args: object, **kwargs: object) -> sqlite3.Connection:
            db = connect(*args, **kwargs)  # type: ignore[arg-type]
            db.set_trace_callback(statements.append)
            return db

        db = journal_c5ab9a6.open_old(self.path)
        for state in ("succeeded", "superseded", "running", "queued"):
            add_old(db, b"{}", state=state)
        db.close()
        self.patch(journal_module.sqlite3, "connect", traced)
        journal = Journal(self.path, payload_budget=0)
        self.addCleanup(journal.close)
        for _ in range(3):
            job_id = journal.add(NewDelivery("site", push(), bytes(1000), 1.0)).job_id
            journal.started(job_id, 2.0)
            journal.step_started(job_id, 123)
            journal.finished(job_id, "succeeded", 0, None, b"", 3.0)
        old, new = (journal.add(NewDelivery("site", push(), b"", 4.0)).job_id for _ in range(2))
        journal.superseded(old, new, 4.0)
        journal.prune("site", keep=1)
        journal.recover(5.0)
        journal.leftovers()
        journal.covers(1)
        journal.covering(1)
        journal.recent()
        journal.upkeep()
        self.assertGreater(len(statements), 30)
        for pattern, version in NEWER_FEATURES.items():
            self.assertGreater(version, MIN_SQLITE)
            used = [s for s in statements if re.search(pattern, s, re.IGNORECASE)]
            self.assertEqual(used, [], f"needs SQLite {version}")


class SchemaOneUpgradeTests(SynchronousTestCase):
    """A journal of the release before delivery ids were kept apart and attempts counted."""

    def test_idsAreRememberedAndRetriesCountAsSecondAttempts(self) -> None:
        path = os.path.abspath(self.mktemp())
        db = journal_60858ad.open_v1(path)
        done = journal_60858ad.add_v1(db, b"one", delivery_id="d-1", state="succeeded")
        cut = journal_60858ad.add_v1(db, b"two", delivery_id="d-2", state="interrupted")
        retry = journal_60858ad.add_v1(
            db, b"two", delivery_id="d-2", retry_of=cut, queued_at=200.0
        )
        journal_60858ad.add_v1(db, b"three", state="queued")  # no delivery id
        db.close()

        journal = Journal(path)
        self.addCleanup(journal.close)
        self.assertEqual(
            [(r.id, r.attempt, r.retry_of) for r in journal.recent(limit=10)][::-1],
            [(done, 1, None), (cut, 1, None), (retry, 2, cut), (retry + 1, 1, None)],
        )
        self.assertEqual(
            journal._db.execute(
                "SELECT delivery_id, job_id, accepted_at FROM deliveries ORDER BY delivery_id"
            ).fetchall(),
            [("d-1", done, 100.0), ("d-2", cut, 100.0)],
        )
        self.assertEqual(
            journal.add(NewDelivery("site", push(delivery_id="d-2"), b"", 300.0)),
            Added(cut, duplicate=True),
        )
        indexes = {row[1] for row in journal._db.execute("PRAGMA index_list(jobs)")}
        self.assertNotIn("jobs_delivery", indexes)
        self.assertEqual(journal._pragma("user_version"), journal_module.SCHEMA_VERSION)

    def test_theUpgradedFileHasANewFilesTablesColumnsAndIndexes(self) -> None:
        path = os.path.abspath(self.mktemp())
        journal_60858ad.open_v1(path).close()
        fresh = os.path.abspath(self.mktemp())
        for made in (path, fresh):
            Journal(made).close()

        def shape(made: str) -> list[tuple[str, ...]]:
            db = sqlite3.connect(made)
            try:
                names = db.execute(
                    "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                    " ORDER BY type, name"
                ).fetchall()
                columns = [
                    (table, row[1], row[2], str(row[3]), str(row[4]))
                    for table in ("jobs", "payloads", "deliveries")
                    for row in db.execute(f"PRAGMA table_info({table})")
                ]
                return [*names, *columns]
            finally:
                db.close()

        self.assertEqual(shape(path), shape(fresh))


class OutboxTests(SynchronousTestCase):
    """The outbox of reports: kept across a close, in order, a status replacing its older self."""

    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp())
        self.journal = Journal(self.path)
        self.addCleanup(lambda: self.journal.close())

    def entry(self, subject: str | None, message: bytes, job: int = 1) -> OutboxEntry:
        return OutboxEntry("site", job, "report", subject, message, 100.0)

    def test_entriesOutliveAClose(self) -> None:
        [posted] = self.journal.post([self.entry("c1 ctx", b"pending")])
        self.assertEqual((posted.id, posted.next_at), (1, 100.0))
        self.journal.close()
        self.journal = Journal(self.path)
        self.assertEqual(self.journal.outbox(), [posted])

    def test_aNewerStatusReplacesTheOneNotYetSent(self) -> None:
        self.journal.post([self.entry("c1 ctx", b"pending"), self.entry("c2 ctx", b"other")])
        self.journal.post([self.entry("c1 ctx", b"success"), self.entry(None, b"note")])
        self.assertEqual(
            [entry.message for entry in self.journal.outbox()], [b"other", b"success", b"note"]
        )

    def test_postponedAndSettled(self) -> None:
        first, second = self.journal.post([self.entry(None, b"a"), self.entry(None, b"b")])
        assert first.id is not None and second.id is not None
        self.journal.postponed(first.id, 2, 160.0, "answered 502")
        self.assertTrue(self.journal.settled(second.id, "sent", "201", 120.0, 1))
        self.assertFalse(self.journal.settled(second.id, "sent", "201", 120.0, 1))
        [left] = self.journal.outbox()
        self.assertEqual(
            (left.message, left.attempts, left.next_at, left.last_error),
            (b"a", 2, 160.0, "answered 502"),
        )

    def job(self) -> int:
        job_id = self.journal.add(NewDelivery("site", push(), b"{}", 100.0)).job_id
        assert job_id is not None
        return job_id

    def test_aJobsReportsSettledAndWaiting(self) -> None:
        job = self.job()
        entry = attrs.evolve(self.entry("c1 ctx", b"pending", job), what="commit status pending")
        note = attrs.evolve(self.entry(None, b"note", job), channel="notify 0a1b", what="chat")
        pending, chat = self.journal.post([entry, note])
        assert pending.id is not None and chat.id is not None
        self.journal.postponed(chat.id, 1, 130.0, "answered 503")
        # The success replaces the pending status not yet sent: that is its outcome.
        success = attrs.evolve(entry, message=b"success", what="commit status success")
        [posted] = self.journal.post([success])
        assert posted.id is not None
        self.journal.settled(posted.id, "refused", "422: No commit found", 125.0, 1)
        self.assertEqual(
            self.journal.reports_of(job),
            [
                ReportRecord(
                    "report",
                    "commit status pending",
                    "replaced",
                    f"by job {job}'s commit status success",
                    0,
                    100.0,
                ),
                ReportRecord(
                    "report", "commit status success", "refused", "422: No commit found", 1, 125.0
                ),
                ReportRecord("notify 0a1b", "chat", WAITING, "answered 503", 1, 130.0),
            ],
        )
        self.assertEqual(self.journal.reports_of(job + 1), [])

    def test_aStatusReplacedWhileInFlightKeepsItsCallsOutcome(self) -> None:
        job = self.job()
        [pending] = self.journal.post([self.entry("c1 ctx", b"pending", job)])
        assert pending.id is not None
        self.journal.post([self.entry("c1 ctx", b"success", job)])  # its call under way
        self.assertFalse(self.journal.settled(pending.id, "sent", "201", 110.0, 1))
        [first, _] = self.journal.reports_of(job)
        self.assertEqual((first.outcome, first.detail, first.attempts), ("sent", "201", 1))

    def test_outcomesGoWithTheirJob(self) -> None:
        job = self.job()
        [posted] = self.journal.post([self.entry(None, b"note", job)])
        assert posted.id is not None
        self.journal.started(job, 101.0)
        self.journal.finished(job, JobState.SUCCEEDED, 0, None, b"", 102.0)
        self.journal.settled(posted.id, "sent", "200", 103.0, 1)
        self.assertEqual(len(self.journal.reports_of(job)), 1)
        self.assertEqual(self.journal.prune("site", 0), 1)
        self.assertEqual(self.journal._db.execute("SELECT COUNT(*) FROM reports").fetchone(), (0,))

    def test_noOutcomeIsKeptForAJobAlreadyGone(self) -> None:
        [posted] = self.journal.post([self.entry(None, b"note", job=404)])
        assert posted.id is not None
        self.assertTrue(self.journal.settled(posted.id, "sent", "200", 103.0, 1))
        self.assertEqual(self.journal._db.execute("SELECT COUNT(*) FROM reports").fetchone(), (0,))

    def test_anOutboxOfSchemaSixIsKeptAndCompleted(self) -> None:
        [posted] = self.journal.post([self.entry("c1 ctx", b"pending")])
        self.journal.close()
        # The previous release's outbox: no what, no last_error, no reports table.
        db = sqlite3.connect(self.path)
        db.executescript(
            "DROP TABLE reports; DROP INDEX outbox_job;"
            " ALTER TABLE outbox DROP COLUMN what; ALTER TABLE outbox DROP COLUMN last_error;"
            " PRAGMA user_version = 6;"
        )
        db.close()
        self.journal = Journal(self.path)
        self.assertEqual(self.journal.outbox(), [posted])
        self.assertEqual(self.journal._pragma("user_version"), journal_module.SCHEMA_VERSION)
        fresh = os.path.abspath(self.mktemp())
        Journal(fresh).close()

        def shape(path: str) -> list[Any]:
            with contextlib.closing(sqlite3.connect(path)) as check:
                return [
                    *check.execute(
                        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
                        " ORDER BY type, name"
                    ),
                    *(
                        (table, *row[1:])
                        for table in ("outbox", "reports")
                        for row in check.execute(f"PRAGMA table_info({table})")
                    ),
                ]

        self.assertEqual(shape(self.path), shape(fresh))

    def test_previousEndSkipsWhatIsNoDeploysEnd(self) -> None:
        jobs = [
            self.journal.add(NewDelivery("site", push(), b"{}", 100.0)).job_id for _ in range(4)
        ]
        assert None not in jobs
        first, second, third, fourth = (job for job in jobs if job is not None)
        self.assertIsNone(self.journal.previous_end("site", first))
        self.journal.started(first, 101.0)
        self.journal.finished(first, JobState.FAILED, 1, None, b"", 102.0)
        self.journal.superseded(second, third, 103.0)
        self.journal.started(third, 104.0)
        self.journal.finished(third, JobState.INTERRUPTED, None, None, b"", 105.0)
        self.assertEqual(self.journal.previous_end("site", fourth), JobState.FAILED)
        self.assertIsNone(self.journal.previous_end("other", fourth))

    def test_recoverSaysWhichJobsItInterruptedAndAsWhatTheyRunAgain(self) -> None:
        job = self.journal.add(NewDelivery("site", push(), b"{}", 100.0)).job_id
        assert job is not None
        self.journal.started(job, 101.0)
        interrupted: list[int] = []
        [retry] = self.journal.recover(200.0, interrupted)
        self.assertEqual(interrupted, [job])
        record = self.journal.get(job)
        assert record is not None
        self.assertEqual(self.journal.retried_as(record), retry.id)
        self.assertIsNone(self.journal.retried_as(retry))
