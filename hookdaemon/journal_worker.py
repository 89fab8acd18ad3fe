"""
The journal on a thread of its own, so SQLite never stalls the reactor.

One thread runs every journal call in order. Deliveries that arrive while a
commit is in progress wait and then share the next one: under load many
requests cost one fsync, and none is answered before its own commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from hookdaemon.journal import Added, Journal, NewDelivery

T = TypeVar("T")
log = Logger()


class JournalWorker:
    def __init__(self, reactor: Any, path: str) -> None:
        self._reactor = reactor
        self._path = path
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="hookdaemon-journal")
        self._journal: Journal | None = None
        self._pending: list[tuple[NewDelivery, Deferred[Added]]] = []
        self._flushing = False
        self._idle: list[Deferred[None]] = []
        self._stopped: Deferred[None] | None = None

    def start(self) -> Deferred[None]:
        """Start the thread and open the database; calls made meanwhile wait their turn."""
        self._pool.start()

        def open_journal() -> None:
            self._journal = Journal(self._path)

        return deferToThreadPool(self._reactor, self._pool, open_journal)

    def call(self, operation: Callable[[Journal], T]) -> Deferred[T]:
        """Run C{operation} with the journal on its thread, after every earlier call."""

        def run() -> T:
            assert self._journal is not None, "the journal failed to open"
            return operation(self._journal)

        return deferToThreadPool(self._reactor, self._pool, run)

    def record(self, operation: Callable[[Journal], object], what: str) -> None:
        """A call nobody waits for; a failure is logged, since no request can report it."""
        self.call(operation).addErrback(
            lambda failure: log.failure("journal: cannot record {what}", failure, what=what)
        )

    def add(self, new: NewDelivery) -> Deferred[Added]:
        """Journal a delivery; fires once it is committed to disk."""
        added: Deferred[Added] = Deferred()
        self._pending.append((new, added))
        if not self._flushing:
            self._flush()
        return added

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self._flushing = True

        def committed(results: list[Added]) -> None:
            for (_, waiting), result in zip(batch, results, strict=True):
                waiting.callback(result)

        def failed(failure: Failure) -> None:
            for _, waiting in batch:
                waiting.errback(failure)

        def next_batch(_: object) -> None:
            self._flushing = False
            if self._pending:
                self._flush()
                return
            idle, self._idle = self._idle, []
            for waiting in idle:
                waiting.callback(None)

        news = [new for new, _ in batch]
        self.call(lambda journal: journal.add_many(news)).addCallbacks(committed, failed).addBoth(
            next_batch
        )

    def stop(self) -> Deferred[None]:
        """Commit what is pending, close the database, then end the thread. Idempotent."""
        if self._stopped is not None:
            stopped: Deferred[None] = Deferred()

            def done(result: object) -> object:
                stopped.callback(None)
                return result

            self._stopped.addBoth(done)
            return stopped

        def close(_: object) -> Deferred[None]:
            return self.call(lambda journal: journal.close())

        def stop_pool(result: object) -> object:
            self._pool.stop()
            return result

        idle: Deferred[None] = Deferred()
        if self._flushing:
            self._idle.append(idle)
        else:
            idle.callback(None)
        self._stopped = idle.addCallback(close).addBoth(stop_pool)
        return self.stop()
