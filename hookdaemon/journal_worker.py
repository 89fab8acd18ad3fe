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

When a commit fails for want of storage (a full disk, an I/O error, a lock
another program holds), nothing of its batch is on disk. The deliveries in it
fail with L{JournalUnavailableError} (their callers answer 503, so the forge
tries again), and so do new ones until a commit goes through: no 202 for what
is not on disk. The writes that record what jobs did (L{write}) are kept, in
order, and tried again after a wait that doubles from L{RETRY_FIRST} to
L{RETRY_MAX}; a reader of the job API is still answered from what is on disk.
The condition is logged once when it starts and once when it ends.

Once a stop has closed the database, an operation fails at once with
L{JournalUnavailableError}: a part that stops after the journal is told, not
left waiting for an answer that never comes.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, Unpack

from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorCore
from twisted.logger import Logger
from twisted.python.failure import Failure

from hookdaemon.deferreds import when_done
from hookdaemon.journal import Added, Journal, JournalLimits, JournalUnusableError, NewDelivery
from hookdaemon.pid_record import PidRecord, StateInUseError
from hookdaemon.private_files import private_directory, private_file
from hookdaemon.reactors import JournalReactor, stop_reactor
from hookdaemon.worker_thread import WorkerThread

T = TypeVar("T")
log = Logger()

Operation = Callable[[Journal], Any]

BATCH_BYTES = 8 * 1024 * 1024
"""Bodies per transaction; a single larger delivery still goes alone."""
UPKEEP_DELAY = 0.5
"""Seconds idle before freed pages are given back: after a burst, not between its batches."""
UPKEEP_BACKOFF_MAX = 60.0
"""The longest wait before trying a checkpoint a reader held up again."""
RETRY_FIRST = 0.25
"""Seconds before held writes are first tried again after a commit failed."""
RETRY_MAX = 5.0
"""The longest wait between tries; also what a refused delivery's Retry-After says."""

STORAGE_ERRORS = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
"""
SQLite's primary result codes for storage failing rather than the operation
(https://www.sqlite.org/rescode.html): a full disk, an I/O error, a lock
another program holds. An SQL error (C{SQLITE_ERROR}) is the operation's own.
"""
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})
"""The same from the OS, for the payload file a job's start writes."""


def storage_fault(error: BaseException) -> bool:
    """
    Did storage fail (try again later), rather than the operation (a bug, which
    fails alone)? A fault that lasts is then waited out, not dropped.
    """
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in STORAGE_ERRORS
    return isinstance(error, OSError) and error.errno in STORAGE_ERRNOS


class JournalUnavailableError(Exception):
    """The journal cannot commit now; the message says why (from SQLite or the OS)."""


class _Entry(NamedTuple):
    """An operation queued for the journal's thread, and who waits for it."""

    operation: Operation
    done: Deferred[Any]
    size: int
    """The bytes of body it writes (a delivery's)."""
    kind: str
    """L{READ}, L{ADD} or L{WRITE}: what becomes of it when a commit fails."""


READ = "read"
"""Fails with the commit; between tries it still runs (it needs no room on disk)."""
ADD = "add"
"""
A delivery, or a record that may be let go (L{record_if_possible}): fails with
the commit, and at once while the journal cannot commit.
"""
WRITE = "write"
"""What a job did: held and tried again, in order, until it is on disk."""


@frozen
class _Fault:
    """A batch's commit failed for want of storage: nothing of it is on disk."""

    reason: str


def fault_reason(error: BaseException) -> str:
    """One line for a storage fault, as SQLite or the OS words it."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


class JournalNotOpenError(RuntimeError):
    """An operation came after the journal failed to open, which was said already."""


def journal_failed(failure: Failure, reactor: IReactorCore) -> None:
    """The journal cannot be opened or recovered: say why, and stop the daemon."""
    if failure.check(JournalNotOpenError):
        return  # the opening's own failure said why, and stopped the daemon
    if failure.check(JournalUnusableError):
        # The message says what to do; a traceback would only bury it.
        log.critical("journal: {error}; stopping", error=failure.getErrorMessage())
    elif failure.check(OSError, sqlite3.OperationalError):
        # The file system's answer (a state_dir under a plain file, no permission,
        # a read-only mount) names the path: one line says it all.
        log.critical("journal: cannot open: {error}; stopping", error=failure.value)
    else:
        log.failure("journal: cannot open or recover; stopping", failure)
    reactor.callWhenRunning(stop_reactor, reactor)


class JournalWorker(Service):
    """
    The journal's thread and queue; as a service it opens the journal when it
    starts and closes it, after every queued operation, when it stops.
    """

    def __init__(
        self,
        reactor: JournalReactor,
        path: str,
        payload_budget: int | None = None,
        on_commit: Callable[[float], object] | None = None,
        **limits: Unpack[JournalLimits],
    ) -> None:
        self._reactor = reactor
        self._on_commit = on_commit
        """Told, on the reactor, the seconds each batch that wrote took to run and commit."""
        self._path = path
        self._payload_budget = payload_budget
        self._limits = limits
        self._thread = WorkerThread(reactor, "hookdaemon-journal")
        self._journal: Journal | None = None
        self._pid_record: PidRecord | None = None
        self._pending: list[_Entry] = []
        self._pending_bytes = 0
        self.fault: str | None = None
        """Why the journal cannot commit, while it cannot; None while it can."""
        self._fault_since = 0.0
        self._held: list[_Entry] = []
        """Writes whose commit failed (and writes since), in order, for the next try."""
        self._retry: IDelayedCall | None = None
        self._retry_delay = RETRY_FIRST
        self._retry_now = False
        """A try is due but a batch of reads was running."""
        self._flushing = False
        self._idle: list[Deferred[None]] = []
        self._stopped: Deferred[None] | None = None
        self._closed = False
        """The stop has closed the database (or is closing it): nothing more runs."""
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
        self._thread.start()

        def open_journal() -> None:
            # The first start makes state_dir; the engine makes what is in it.
            directory = os.path.dirname(os.path.abspath(self._path))
            private_directory(directory)
            # Before the database: a second daemon on it must not even read it.
            record = PidRecord(directory)
            try:
                record.take()
            except StateInUseError as e:
                raise JournalUnusableError(str(e)) from None
            self._pid_record = record
            private_file(self._path)
            self._journal = Journal(self._path, self._payload_budget, **self._limits)

        self._flushing = True
        opened: Deferred[None] = self._thread.run(open_journal)
        return opened.addBoth(self._next_batch)

    def call(self, operation: Callable[[Journal], T]) -> Deferred[T]:
        """
        Run C{operation} with the journal, after every operation queued before
        it; it fails with L{JournalUnavailableError} if its commit does. For
        reads, and writes whose caller can report a failure.
        """
        return self._queue(_Entry(operation, Deferred(), 0, READ))

    def write(self, operation: Callable[[Journal], T]) -> Deferred[T]:
        """
        A write that must reach the disk (what a job did): tried again, in
        order, until its commit goes through; its Deferred fires only then.
        """
        return self._queue(_Entry(operation, Deferred(), 0, WRITE))

    def add(self, new: NewDelivery) -> Deferred[Added]:
        """
        Journal a delivery; fires once it is committed to disk, or fails with
        L{JournalUnavailableError} (at once while the journal cannot commit).
        """

        def add(journal: Journal) -> Added:
            return journal.add_many([new])[0]

        return self._queue(_Entry(add, Deferred(), len(new.payload), ADD))

    def record(self, operation: Operation, what: str) -> None:
        """
        A L{write} nobody waits for; an operation that fails on its own (not for
        want of storage) is logged, since no request can report it.
        """

        def failed(failure: Failure) -> None:
            if failure.check(JournalUnavailableError):
                return  # given up on at a stop: _give_up said so, with the count
            log.failure("journal: cannot record {what}", failure, what=what)

        self.write(operation).addErrback(failed)

    def record_if_possible(self, operation: Operation, what: str) -> None:
        """
        A write nobody waits for and nothing depends on (an ignored delivery's
        record): while the journal cannot commit it is let go, and logged, rather
        than held in memory for as long as the disk stays full.
        """

        def failed(failure: Failure) -> None:
            if failure.check(JournalUnavailableError):
                log.info("journal: {what} not recorded: {error}", what=what, error=failure.value)
                return
            log.failure("journal: cannot record {what}", failure, what=what)

        self._queue(_Entry(operation, Deferred(), 0, ADD)).addErrback(failed)

    def _queue(self, entry: _Entry) -> Deferred[Any]:
        if self._closed:
            # Late in a stop (a part that stopped after the journal): failed
            # at once, as a caller can hear it, rather than never answered.
            if entry.kind == WRITE:
                log.warn(
                    "journal: a record of what a job did came after the journal closed,"
                    " and is lost"
                )
            entry.done.errback(JournalUnavailableError("the journal is closed: the daemon stops"))
            return entry.done
        if self.fault is not None:
            if entry.kind == WRITE:
                self._held.append(entry)
                return entry.done
            if entry.kind == ADD:
                entry.done.errback(JournalUnavailableError(self.fault))
                return entry.done
        self._pending.append(entry)
        self._pending_bytes += entry.size
        if not self._flushing:
            self._flush()
        return entry.done

    def _flush(self) -> None:
        self._last_batch = self._reactor.seconds()
        if self._pending_bytes <= BATCH_BYTES:  # as good as always: no walk per delivery
            batch, self._pending, self._pending_bytes = self._pending, [], 0
        else:
            taken, size = 1, self._pending[0].size
            while taken < len(self._pending) and size + self._pending[taken].size <= BATCH_BYTES:
                size += self._pending[taken].size
                taken += 1
            batch, self._pending = self._pending[:taken], self._pending[taken:]
            self._pending_bytes -= size
        self._run(batch)

    def _run(self, batch: list[_Entry]) -> None:
        self._flushing = True
        took = 0.0

        def run_batch() -> list[tuple[bool, Any]] | _Fault:
            nonlocal took
            journal = self._journal
            outcomes: list[tuple[bool, Any]] = []
            if journal is None:
                error = Failure(JournalNotOpenError("the journal is not open"))
                return [(False, error)] * len(batch)
            began = time.perf_counter()
            try:
                with journal.transaction():
                    for entry in batch:
                        try:
                            with journal.transaction():
                                outcomes.append((True, entry.operation(journal)))
                        except Exception as e:
                            if storage_fault(e):
                                # Out of the batch: SQLite may have rolled it all back.
                                raise
                            outcomes.append((False, Failure()))
            except Exception as e:  # an operation's storage fault, or the commit's
                if not storage_fault(e):
                    raise
                return _Fault(fault_reason(e))
            took = time.perf_counter() - began
            return outcomes

        def deliver(outcomes: list[tuple[bool, Any]] | _Fault) -> None:
            if isinstance(outcomes, _Fault):
                self._failed(batch, outcomes.reason)
                return
            if self.fault is not None and any(entry.kind == WRITE for entry in batch):
                self._recovered()
            for entry, (ok, value) in zip(batch, outcomes, strict=True):
                if ok:
                    entry.done.callback(value)
                else:
                    entry.done.errback(value)
            # Last: whatever it does, the batch's callers have their answers.
            if self._on_commit is not None and any(entry.kind != READ for entry in batch):
                self._on_commit(took)

        def failed(failure: Failure) -> None:
            # Not the commit (that is a _Fault): the thread itself failed.
            for entry in batch:
                entry.done.errback(failure)

        self._thread.run(run_batch).addCallbacks(deliver, failed).addBoth(self._next_batch)

    def _failed(self, batch: list[_Entry], reason: str) -> None:
        """
        A commit failed for want of storage: the batch's writes are held to try
        again, its deliveries and reads fail, and so do the deliveries queued
        meanwhile; the reads queued meanwhile still run.
        """
        if self.fault is None:
            self._fault_since = self._reactor.seconds()
            self._retry_delay = RETRY_FIRST
            log.error(
                "journal: cannot commit ({reason}); deliveries are answered 503, and what"
                " jobs do is kept in memory and written once the journal can commit",
                reason=reason,
            )
        self.fault = reason
        waiting, self._pending, self._pending_bytes = self._pending, [], 0
        self._held[:0] = [entry for entry in batch + waiting if entry.kind == WRITE]
        self._pending = [entry for entry in waiting if entry.kind == READ]
        refused = [entry for entry in batch if entry.kind != WRITE]
        refused += [entry for entry in waiting if entry.kind == ADD]
        if self._stopped is None and self._retry is None and not self._retry_now:
            self._retry = self._reactor.callLater(self._retry_delay, self._try_again)
        # Last, once the state is told: a caller may queue again as it hears.
        error = JournalUnavailableError(reason)
        for entry in refused:
            entry.done.errback(error)

    def _try_again(self) -> None:
        """Try the held writes again (with none, a write of nothing) to see if storage is back."""
        self._retry = None
        if self._flushing:
            self._retry_now = True  # after the reads now running
            return
        self._retry_now = False
        self._retry_delay = min(2 * self._retry_delay, RETRY_MAX)  # if this one fails too
        held, self._held = self._held, []
        self._run(held or [_Entry(_touch, Deferred(), 0, WRITE)])

    def _recovered(self) -> None:
        log.info(
            "journal: committing again after {seconds:.1f} s (it could not: {reason})",
            seconds=self._reactor.seconds() - self._fault_since,
            reason=self.fault,
        )
        self.fault = None
        # Writes held since this try went out come first, then reads.
        self._pending = self._held + self._pending
        self._held = []
        self._pending_bytes = sum(entry.size for entry in self._pending)

    def _next_batch(self, result: object) -> object:
        self._flushing = False
        if self.fault is not None:
            if self._retry_now:
                self._try_again()
            elif self._pending:
                self._flush()
            elif self._stopped is not None:
                self._give_up()
            return result
        if self._pending:
            self._flush()
            return result
        self._schedule_upkeep()
        idle, self._idle = self._idle, []
        for waiting in idle:
            waiting.callback(None)
        return result

    def _give_up(self) -> None:
        """Stopping, and the last try failed too: what is held is lost, and said so."""
        held, self._held = self._held, []
        log.critical(
            "journal: stopping while it cannot commit ({reason}); {count} record(s) of what"
            " jobs did are lost: a job whose end is among them was running as far as the"
            " journal knows, and runs again at the next start",
            reason=self.fault,
            count=len(held),
        )
        error = JournalUnavailableError(self.fault or "stopped")
        for entry in held:
            entry.done.errback(error)
        idle, self._idle = self._idle, []
        for waiting in idle:
            waiting.callback(None)

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
        self._thread.run(journal.upkeep).addCallbacks(passed, failed).addBoth(self._next_batch)

    def stop(self) -> Deferred[None]:
        """
        Finish every queued operation, close the database, end the thread. While
        the journal cannot commit, the held writes get one last try. Idempotent.
        """
        if self._stopped is None:
            if self._upkeep_due is not None:
                self._upkeep_due.cancel()
                self._upkeep_due = None
            idle: Deferred[None] = Deferred()
            self._stopped = idle
            if self._retry is not None:
                self._retry.cancel()
                self._try_again()  # the last try; its end gives up if it fails
            if self._flushing:
                self._idle.append(idle)
            else:
                idle.callback(None)

            def close(_: object) -> Deferred[None]:
                self._closed = True

                def close_journal() -> None:
                    if self._journal is not None:
                        self._journal.close()
                    if self._pid_record is not None:
                        self._pid_record.release()

                return self._thread.run(close_journal)

            def end_thread(result: object) -> Deferred[None]:
                return self._thread.stop()

            self._stopped = idle.addCallback(close).addBoth(end_thread)
        return when_done(self._stopped)


def _touch(journal: Journal) -> None:
    """The smallest write there is: to learn whether the journal can commit again."""
    journal.touch()
