"""
The journal on a thread of its own, so SQLite never stalls the reactor.

Every journal operation (accepting a delivery, recording a job's start or end,
reading for the job API) joins one ordered queue. Operations that arrive while
the thread is busy run together in the next transaction, so a burst of
deliveries and the records their jobs cause cost one fsync, not one each; a
delivery is answered only after the commit that holds it. Each operation runs
in a savepoint of its own, so one that fails is undone alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from hookdaemon.deferreds import when_done
from hookdaemon.journal import Added, Journal, NewDelivery

T = TypeVar("T")
log = Logger()

Operation = Callable[[Journal], Any]


class JournalWorker:
    def __init__(self, reactor: Any, path: str) -> None:
        self._reactor = reactor
        self._path = path
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="hookdaemon-journal")
        self._journal: Journal | None = None
        self._pending: list[tuple[Operation, Deferred[Any]]] = []
        self._flushing = False
        self._idle: list[Deferred[None]] = []
        self._stopped: Deferred[None] | None = None

    def start(self) -> Deferred[None]:
        """Start the thread and open the database; operations queued meanwhile wait."""
        self._pool.start()

        def open_journal() -> None:
            self._journal = Journal(self._path)

        self._flushing = True
        opened: Deferred[None] = deferToThreadPool(self._reactor, self._pool, open_journal)
        return opened.addBoth(self._next_batch)

    def call(self, operation: Callable[[Journal], T]) -> Deferred[T]:
        """Run C{operation} with the journal, after every operation queued before it."""
        done: Deferred[T] = Deferred()
        self._pending.append((operation, done))
        if not self._flushing:
            self._flush()
        return done

    def add(self, new: NewDelivery) -> Deferred[Added]:
        """Journal a delivery; fires once it is committed to disk."""
        return self.call(lambda journal: journal.add_many([new])[0])

    def record(self, operation: Operation, what: str) -> None:
        """A write nobody waits for; a failure is logged, since no request can report it."""
        self.call(operation).addErrback(
            lambda failure: log.failure("journal: cannot record {what}", failure, what=what)
        )

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self._flushing = True

        def run_batch() -> list[tuple[bool, Any]]:
            journal = self._journal
            outcomes: list[tuple[bool, Any]] = []
            if journal is None:
                error = Failure(RuntimeError("the journal is not open"))
                return [(False, error)] * len(batch)
            with journal.transaction():
                for operation, _ in batch:
                    try:
                        with journal.transaction():
                            outcomes.append((True, operation(journal)))
                    except Exception:
                        outcomes.append((False, Failure()))
            return outcomes

        def deliver(outcomes: list[tuple[bool, Any]]) -> None:
            for (_, done), (ok, value) in zip(batch, outcomes, strict=True):
                if ok:
                    done.callback(value)
                else:
                    done.errback(value)

        def failed(failure: Failure) -> None:
            # The commit itself failed: nothing in the batch is on disk.
            for _, done in batch:
                done.errback(failure)

        deferToThreadPool(self._reactor, self._pool, run_batch).addCallbacks(
            deliver, failed
        ).addBoth(self._next_batch)

    def _next_batch(self, result: object) -> object:
        self._flushing = False
        if self._pending:
            self._flush()
            return result
        idle, self._idle = self._idle, []
        for waiting in idle:
            waiting.callback(None)
        return result

    def stop(self) -> Deferred[None]:
        """Finish every queued operation, close the database, end the thread. Idempotent."""
        if self._stopped is None:
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
