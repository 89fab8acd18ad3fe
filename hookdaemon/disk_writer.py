"""
The output logs' writes on a thread of their own.

A write to a disk under writeback pressure, or a log rotation (renames and the
unlink of the oldest file), can take tens of milliseconds; on the reactor thread
that delayed every answer the daemon owed meanwhile. The reactor hands each
write to this thread instead, which does them one at a time in the order given.
What is handed over and not yet written is counted, so a job printing faster
than the disk takes it can be paused (L{DiskWriter.congested}) instead of held
in memory without end. A full disk is not an error here: the output log counts
the lines it loses (L{hookdaemon.output}); what an action raises is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from queue import SimpleQueue

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from hookdaemon.deferreds import when_done

log = Logger()

BACKLOG_BYTES = 8 * 1024 * 1024
"""Output handed over and not yet written, beyond which producers should pause."""

CallFromThread = Callable[[Callable[[], object]], object]


class DiskWriter:
    """
    The reactor hands work over through a C{SimpleQueue}, whose C{put} never waits:
    a lock shared with the writer could leave the reactor waiting on a writer
    thread the kernel has not scheduled, which on a busy machine is milliseconds.
    The byte counts are each written by one thread only (submitted by the
    reactor's, done by the writer's), so no lock guards them either.
    """

    def __init__(self, call_from_thread: CallFromThread, limit: int | None = None) -> None:
        self._call_from_thread = call_from_thread
        self._limit = BACKLOG_BYTES if limit is None else limit
        self._actions: SimpleQueue[tuple[Callable[[], object] | None, int]] = SimpleQueue()
        self._submitted = 0
        self._done = 0
        self._relieved: list[Callable[[], object]] = []
        self._want_relief = False
        self._thread = threading.Thread(target=self._work, name="hookdaemon-output", daemon=True)
        self._thread.start()
        self._stopped: Deferred[None] | None = None

    @property
    def backlog(self) -> int:
        """Bytes handed over and not yet written."""
        return self._submitted - self._done

    @property
    def congested(self) -> bool:
        """Is more than the limit waiting to be written?"""
        return self.backlog >= self._limit

    def submit(self, action: Callable[[], object], size: int = 0) -> None:
        """Run C{action} on the writer's thread after everything submitted before it."""
        self._submitted += size
        self._actions.put((action, size))

    def on_reactor(self, action: Callable[[], object]) -> None:
        """From the writer's thread: run C{action} on the reactor (a log line, say)."""
        self._call_from_thread(action)

    def when_relieved(self, resume: Callable[[], object]) -> None:
        """
        Call C{resume} on the reactor once the backlog is down to a quarter of the
        limit; at once if it is already.
        """
        self._relieved.append(resume)
        self._want_relief = True
        # The writer may have caught up before it could see the flag: look again.
        self._relieve()

    def drained(self) -> Deferred[None]:
        """Fires on the reactor once everything submitted so far has been done."""
        done: Deferred[None] = Deferred()
        self.submit(lambda: self._call_from_thread(lambda: done.callback(None)))
        return done

    def stop(self) -> Deferred[None]:
        """Do what was submitted, then end the thread; idempotent."""
        if self._stopped is None:
            self._stopped = self.drained()
            self._actions.put((None, 0))
        return when_done(self._stopped)

    def _relieve(self) -> None:
        """On the reactor: resume what waits, if the writer has caught up."""
        if not self._relieved or self.backlog > self._limit // 4:
            return
        self._want_relief = False
        relieved, self._relieved = self._relieved, []
        for resume in relieved:
            resume()

    def _work(self) -> None:
        while True:
            action, size = self._actions.get()
            if action is None:
                return
            try:
                action()
            except Exception:
                self._call_from_thread(partial(log.failure, "writing an output log", Failure()))
            self._done += size
            if self._want_relief and self.backlog <= self._limit // 4:
                self._call_from_thread(self._relieve)
