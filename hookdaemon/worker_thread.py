"""
One thread that runs functions in the order given, each result handed back
to the reactor: what the journal's batches run on.

A ThreadPool of one thread did the same with more on the way (a team of
workers, a lock and a condition per task, the caller's logging context copied
for each). Replacing it took ingest with a command that keeps running from
343 to 326 µs of reactor CPU and from 93 to 85 µs of the journal thread's per
delivery, in three alternating pairs (README: Benchmarks). Work is handed
over through a C{SimpleQueue}, whose C{put} never waits, as the output logs'
writer hands over its writes (L{hookdaemon.disk_writer}).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.python.failure import Failure

T = TypeVar("T")

_Work = tuple[Callable[[], Any], Deferred[Any]]


class WorkerThread:
    """
    C{run(f)} calls C{f} on the thread after everything run before it, and
    fires its Deferred on the reactor with what C{f} returned or raised.
    """

    def __init__(self, reactor: IReactorFromThreads, name: str) -> None:
        self._reactor = reactor
        self._work: SimpleQueue[_Work | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._stopping: Deferred[None] | None = None
        self._started = False

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def run(self, function: Callable[[], T]) -> Deferred[T]:
        if self._stopping is not None:
            raise RuntimeError("the worker thread is stopping")
        done: Deferred[T] = Deferred()
        self._work.put((function, done))
        return done

    def stop(self) -> Deferred[None]:
        """Run what was handed over, then end the thread; fires once it has ended."""
        if self._stopping is None:
            ended: Deferred[None] = Deferred()
            self._stopping = ended
            if not self._started:
                ended.callback(None)  # nothing ran, and nothing will
            else:
                self._work.put((lambda: None, ended))
                self._work.put(None)
        return self._stopping

    def _loop(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            function, done = work
            try:
                result = function()
            except BaseException:
                self._reactor.callFromThread(done.errback, Failure())
            else:
                self._reactor.callFromThread(done.callback, result)
