"""
The output logs' writes on a thread of their own.

A write to a disk under writeback pressure, or a log rotation (renames and the
unlink of the oldest file), can take tens of milliseconds; on the reactor thread
that delayed every answer the daemon owed meanwhile. The reactor hands each
write to this thread instead, which does them one at a time in the order given.
What is handed over and not yet written is counted, so a job printing faster
than the disk takes it can be paused (L{DiskWriter.congested}) instead of held
in memory without end.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import partial

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()

BACKLOG_BYTES = 8 * 1024 * 1024
"""Output handed over and not yet written, beyond which producers should pause."""

CallFromThread = Callable[[Callable[[], object]], object]


class DiskWriter:
    def __init__(self, call_from_thread: CallFromThread, limit: int | None = None) -> None:
        self._call_from_thread = call_from_thread
        self._limit = BACKLOG_BYTES if limit is None else limit
        self._lock = threading.Condition()
        self._actions: deque[tuple[Callable[[], object] | None, int]] = deque()
        self._backlog = 0
        self._relieved: list[Callable[[], object]] = []
        self._thread = threading.Thread(target=self._work, name="hookdaemon-output", daemon=True)
        self._thread.start()
        self._stopped: Deferred[None] | None = None

    @property
    def congested(self) -> bool:
        """Is more than the limit waiting to be written?"""
        return self._backlog >= self._limit

    def submit(self, action: Callable[[], object], size: int = 0) -> None:
        """Run C{action} on the writer's thread after everything submitted before it."""
        with self._lock:
            self._actions.append((action, size))
            self._backlog += size
            self._lock.notify()

    def when_relieved(self, resume: Callable[[], object]) -> None:
        """
        Call C{resume} on the reactor once the backlog is down to a quarter of the
        limit; at once if it is already.
        """
        with self._lock:
            if self._backlog > self._limit // 4:
                self._relieved.append(resume)
                return
        resume()

    def drained(self) -> Deferred[None]:
        """Fires on the reactor once everything submitted so far has been done."""
        done: Deferred[None] = Deferred()
        self.submit(lambda: self._call_from_thread(lambda: done.callback(None)))
        return done

    def stop(self) -> Deferred[None]:
        """Do what was submitted, then end the thread; idempotent."""
        if self._stopped is None:
            self._stopped = self.drained()
            with self._lock:
                self._actions.append((None, 0))
                self._lock.notify()
        stopped: Deferred[None] = Deferred()

        def done(result: object) -> object:
            stopped.callback(None)
            return result

        self._stopped.addBoth(done)
        return stopped

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._actions:
                    self._lock.wait()
                action, size = self._actions.popleft()
            if action is None:
                return
            try:
                action()
            except Exception:
                self._call_from_thread(partial(log.failure, "writing an output log", Failure()))
            with self._lock:
                self._backlog -= size
                if not self._relieved or self._backlog > self._limit // 4:
                    continue
                relieved, self._relieved = self._relieved, []
            for resume in relieved:
                self._call_from_thread(resume)
