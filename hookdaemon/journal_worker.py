"""
The journal on a thread of its own, so SQLite never stalls the reactor.

Every journal operation (accepting a delivery, recording a job's start or end,
reading for the job API) joins one ordered queue. Operations that arrive while
the thread is busy run together in the next transaction, so a burst of
deliveries and the records their jobs cause cost one fsync, not one each; a
delivery is answered only after the commit that holds it. Each operation runs
in a savepoint of its own, so one that fails is undone alone.

A batch holds at most L{BATCH_BYTES} of bodies, so a burst of large deliveries
does not become one transaction the size of the burst (and a write-ahead log as
large). When the thread has been idle for L{UPKEEP_DELAY} and the journal has
dropped bodies or jobs, it gives the freed pages back (L{Journal.upkeep}) one
bounded pass at a time; deliveries that arrive meanwhile go first. While
another connection (an operator's sqlite3 shell) holds a snapshot, the
checkpoint that shrinks the file cannot finish: it is tried again after twice
the last wait, up to L{UPKEEP_BACKOFF_MAX}, and the wait is back to
L{UPKEEP_DELAY} once one goes through.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorCore
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from hookdaemon.deferreds import when_done
from hookdaemon.journal import Added, Journal, JournalUnusableError, NewDelivery
from hookdaemon.reactors import JournalReactor

T = TypeVar("T")
log = Logger()

Operation = Callable[[Journal], Any]

BATCH_BYTES = 8 * 1024 * 1024
"""Bodies per transaction; a single larger delivery still goes alone."""
UPKEEP_DELAY = 0.5
"""Seconds idle before freed pages are given back: after a burst, not between its batches."""
UPKEEP_BACKOFF_MAX = 60.0
"""The longest wait before trying a checkpoint a reader held up again."""


def journal_failed(failure: Failure, reactor: IReactorCore) -> None:
    """The journal cannot be opened or recovered: say why, and stop the daemon."""
    if failure.check(JournalUnusableError):
        # The message says what to do; a traceback would only bury it.
        log.critical("journal: {error}; stopping", error=failure.getErrorMessage())
    else:
        log.failure("journal: cannot open or recover; stopping", failure)
    reactor.callWhenRunning(reactor.stop)


class JournalWorker(Service):
    """
    The journal's thread and queue; as a service it opens the journal when it
    starts and closes it, after every queued operation, when it stops.
    """

    def __init__(
        self, reactor: JournalReactor, path: str, payload_budget: int | None = None
    ) -> None:
        self._reactor = reactor
        self._path = path
        self._payload_budget = payload_budget
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="hookdaemon-journal")
        self._journal: Journal | None = None
        self._pending: list[tuple[Operation, Deferred[Any], int]] = []
        """Each operation, who waits for it, and the bytes of body it writes."""
        self._pending_bytes = 0
        self._flushing = False
        self._idle: list[Deferred[None]] = []
        self._stopped: Deferred[None] | None = None
        self._upkeep_due: IDelayedCall | None = None
        self._upkeep_more = False
        self._upkeep_delay = UPKEEP_DELAY
        """The wait before the next upkeep: longer each time a reader blocks the checkpoint."""
        self._last_batch = 0.0
        """When the last batch of operations started: upkeep waits for a quiet spell."""

    def startService(self) -> None:
        super().startService()
        self.start().addErrback(journal_failed, self._reactor)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return self.stop()

    def start(self) -> Deferred[None]:
        """Start the thread and open the database; operations queued meanwhile wait."""
        self._pool.start()

        def open_journal() -> None:
            # The first start makes state_dir; the engine makes what is in it.
            os.makedirs(os.path.dirname(os.path.abspath(self._path)), exist_ok=True)
            self._journal = Journal(self._path, self._payload_budget)

        self._flushing = True
        opened: Deferred[None] = deferToThreadPool(self._reactor, self._pool, open_journal)
        return opened.addBoth(self._next_batch)

    def call(self, operation: Callable[[Journal], T]) -> Deferred[T]:
        """Run C{operation} with the journal, after every operation queued before it."""
        return self._queue(operation, 0)

    def _queue(self, operation: Callable[[Journal], T], size: int) -> Deferred[T]:
        done: Deferred[T] = Deferred()
        self._pending.append((operation, done, size))
        self._pending_bytes += size
        if not self._flushing:
            self._flush()
        return done

    def add(self, new: NewDelivery) -> Deferred[Added]:
        """Journal a delivery; fires once it is committed to disk."""
        return self._queue(lambda journal: journal.add_many([new])[0], len(new.payload))

    def record(self, operation: Operation, what: str) -> None:
        """A write nobody waits for; a failure is logged, since no request can report it."""
        self.call(operation).addErrback(
            lambda failure: log.failure("journal: cannot record {what}", failure, what=what)
        )

    def _flush(self) -> None:
        self._last_batch = self._reactor.seconds()
        if self._pending_bytes <= BATCH_BYTES:  # as good as always: no walk per delivery
            batch, self._pending, self._pending_bytes = self._pending, [], 0
        else:
            taken, size = 1, self._pending[0][2]
            while taken < len(self._pending) and size + self._pending[taken][2] <= BATCH_BYTES:
                size += self._pending[taken][2]
                taken += 1
            batch, self._pending = self._pending[:taken], self._pending[taken:]
            self._pending_bytes -= size
        self._flushing = True

        def run_batch() -> list[tuple[bool, Any]]:
            journal = self._journal
            outcomes: list[tuple[bool, Any]] = []
            if journal is None:
                error = Failure(RuntimeError("the journal is not open"))
                return [(False, error)] * len(batch)
            with journal.transaction():
                for operation, _, _ in batch:
                    try:
                        with journal.transaction():
                            outcomes.append((True, operation(journal)))
                    except Exception:
                        outcomes.append((False, Failure()))
            return outcomes

        def deliver(outcomes: list[tuple[bool, Any]]) -> None:
            for (_, done, _), (ok, value) in zip(batch, outcomes, strict=True):
                if ok:
                    done.callback(value)
                else:
                    done.errback(value)

        def failed(failure: Failure) -> None:
            # The commit itself failed: nothing in the batch is on disk.
            for _, done, _ in batch:
                done.errback(failure)

        deferToThreadPool(self._reactor, self._pool, run_batch).addCallbacks(
            deliver, failed
        ).addBoth(self._next_batch)

    def _next_batch(self, result: object) -> object:
        self._flushing = False
        if self._pending:
            self._flush()
            return result
        self._schedule_upkeep()
        idle, self._idle = self._idle, []
        for waiting in idle:
            waiting.callback(None)
        return result

    def _schedule_upkeep(self) -> None:
        """
        An attribute read per idle moment, nothing more, until the journal has
        something to give back (a thread hop per batch would cost the reactor).
        """
        journal = self._journal
        if (
            journal is None
            or not journal.needs_upkeep
            or self._upkeep_due is not None
            or self._stopped is not None
        ):
            return
        delay = 0 if self._upkeep_more else self._upkeep_delay
        self._upkeep_due = self._reactor.callLater(delay, self._upkeep)

    def _upkeep(self) -> None:
        self._upkeep_due = None
        journal = self._journal
        if self._flushing or journal is None or self._stopped is not None:
            return  # busy: the end of the batch schedules it again
        quiet = self._reactor.seconds() - self._last_batch
        if quiet < UPKEEP_DELAY:
            # Deliveries still come: a pass (and its checkpoint's fsync) now would
            # hold up their answers; upkeep between batches under steady load more
            # than doubled ingest's p99 (README: Why the code is as it is).
            self._upkeep_due = self._reactor.callLater(UPKEEP_DELAY - quiet, self._upkeep)
            return

        def passed(more: bool) -> None:
            self._upkeep_more = more
            if journal.checkpoint_blocked:
                self._upkeep_delay = min(2 * self._upkeep_delay, UPKEEP_BACKOFF_MAX)
            else:
                self._upkeep_delay = UPKEEP_DELAY

        def failed(failure: Failure) -> None:
            self._upkeep_more = False
            log.failure("journal: cannot give free pages back", failure)

        self._flushing = True
        deferToThreadPool(self._reactor, self._pool, journal.upkeep).addCallbacks(
            passed, failed
        ).addBoth(self._next_batch)

    def stop(self) -> Deferred[None]:
        """Finish every queued operation, close the database, end the thread. Idempotent."""
        if self._stopped is None:
            if self._upkeep_due is not None:
                self._upkeep_due.cancel()
                self._upkeep_due = None
            idle: Deferred[None] = Deferred()
            if self._flushing:
                self._idle.append(idle)
            else:
                idle.callback(None)

            def close(_: object) -> Deferred[None]:
                def close_journal() -> None:
                    if self._journal is not None:
                        self._journal.close()

                return deferToThreadPool(self._reactor, self._pool, close_journal)

            def stop_pool(result: object) -> None:
                self._pool.stop()

            self._stopped = idle.addCallback(close).addBoth(stop_pool)
        return when_done(self._stopped)
