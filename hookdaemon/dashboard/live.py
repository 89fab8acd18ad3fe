"""
What keeps the dashboard's pages live: Server-Sent Events, fed by the job
lifecycle. A reader that falls behind is cut off, as C{/jobs/ID/log?follow=1}
readers are (L{hookdaemon.follow.FollowStream}); the page's script reconnects.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from hookdaemon.job_state import JobState
from hookdaemon.lifecycle import Job, JobObserver, JobOutcome

RETRY_MS = 2000
"""How long a browser waits before it reconnects (the stream's C{retry:} field)."""

STREAM_START = b"retry: %d\n\n" % RETRY_MS
CUT_OFF_EVENT = b"event: cut-off\ndata: this reader fell too far behind\n\n"

KEEP_ALIVE = b": keep-alive\n\n"
"""A comment line, which browsers skip: what a quiet stream says to stay open."""
KEEP_ALIVE_SECONDS = 15.0
"""
Under the idle timeouts a stream meets on its way (nginx's proxy_read_timeout
is 60 s by default; load balancers' and NATs' are often 60 s too).
"""


def event(name: str, data: str) -> bytes:
    """One event: each line of C{data} on a C{data:} line of its own, as the format wants."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\n{lines}\n".encode()


def keep_alive(clock: IReactorTime, write: Callable[[bytes], None]) -> Callable[[], None]:
    """
    Write L{KEEP_ALIVE} every L{KEEP_ALIVE_SECONDS} from now, so a proxy does
    not close a stream that has nothing to say; the function returned stops it.
    """
    beat = LoopingCall(write, KEEP_ALIVE)
    beat.clock = clock
    beat.start(KEEP_ALIVE_SECONDS, now=False)

    def stop() -> None:
        if beat.running:
            beat.stop()

    return stop


class LineFrames:
    """A job's output chunks as one C{line} event per line; a partial line waits for its end."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._partial = b""

    def __call__(self, chunk: bytes) -> None:
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        frames = b"".join(
            event("line", line.decode("utf-8", "replace").replace("\r", "")) for line in lines
        )
        if frames:
            self._write(frames)


class JobChanges(JobObserver):
    """
    Tells every open dashboard page of each job queued, started, superseded or
    ended: a C{job} event with its id, hook and state, on which the page reloads
    what it shows.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[bytes], None]] = []

    def listen(self, write: Callable[[bytes], None]) -> Callable[[], None]:
        """Send C{write} each change from now on; the function returned stops that."""
        self._listeners.append(write)

        def stop() -> None:
            if write in self._listeners:
                self._listeners.remove(write)

        return stop

    def _tell(self, job: Job, state: JobState) -> None:
        frame = event("job", json.dumps({"id": job.id, "hook": job.hook.name, "state": state}))
        for write in list(self._listeners):
            write(frame)

    def queued(self, job: Job) -> None:
        self._tell(job, JobState.QUEUED)

    def superseded(self, old: Job, new: Job) -> None:
        self._tell(old, JobState.SUPERSEDED)

    def started(self, job: Job) -> None:
        self._tell(job, JobState.RUNNING)

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        self._tell(job, outcome.state)

    def recovered(self, job: Job, outcome: JobOutcome) -> None:
        self._tell(job, outcome.state)
