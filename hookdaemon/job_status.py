"""
What the job API reads: live jobs from memory, kept up to date as a lifecycle
subscriber, and everything else from the journal, off the reactor thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred, succeed

from hookdaemon.delivery import Delivery
from hookdaemon.job_state import LIVE_STATES, JobState
from hookdaemon.job_views import JobQuery, job_json
from hookdaemon.journal import Journal
from hookdaemon.journal_worker import JournalWorker
from hookdaemon.lifecycle import Job, JobObserver, JobOutcome, OutputTail
from hookdaemon.process import StepResult

RECENT_JOBS = 1000
"""Ended jobs kept in memory, besides the journal, for tests and introspection."""


@define(eq=False)
class JobView:
    """The job API's picture of one job, drawn from the lifecycle's events."""

    job: Job
    state: JobState = JobState.QUEUED
    result: StepResult | None = None
    covered_by: int | None = None
    """The job that ran in a superseded job's place."""
    followers: list[Callable[[bytes], None]] = field(factory=list)
    """Live readers of the output (GET /jobs/ID/log?follow=1)."""
    _output: OutputTail | None = field(default=None, init=False)
    """Made at the first output: most jobs of a burst never print."""
    _ended: Deferred[None] | None = field(default=None, init=False)
    """Made when first asked for: most jobs are never waited on."""

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def delivery(self) -> Delivery:
        return self.job.delivery

    @property
    def tail(self) -> bytes:
        """The last of the output, as C{/jobs/ID/log} shows it."""
        return b"" if self._output is None else self._output.last()

    @property
    def ended(self) -> Deferred[None]:
        """Fires once the job is over."""
        if self._ended is None:
            self._ended = Deferred()
            if self.state.final:
                self._ended.callback(None)
        return self._ended

    def add_output(self, chunk: bytes) -> None:
        if self._output is None:
            self._output = OutputTail()
        self._output.add(chunk)

    def end(self, state: JobState, result: StepResult | None) -> None:
        self.state = state
        self.result = result
        if self._ended is not None:
            self._ended.callback(None)


class JobStatus(JobObserver):
    """The job API's one source: see L{hookdaemon.web.JobSource}."""

    def __init__(self, journal: JournalWorker) -> None:
        self._journal = journal
        self.jobs: dict[int, JobView] = {}
        """Live jobs, and the last L{RECENT_JOBS} that ended, by id."""
        self._ended: deque[int] = deque()
        """Ids of the jobs in L{jobs} that have ended, in the order they ended."""

    # The lifecycle, as it happens.

    def queued(self, job: Job) -> None:
        self.jobs[job.id] = JobView(job)

    def superseded(self, old: Job, new: Job) -> None:
        view = self.jobs.get(old.id)
        if view is not None:
            view.covered_by = new.id
        self._end(old.id, JobState.SUPERSEDED, None)

    def started(self, job: Job) -> None:
        self.jobs[job.id].state = JobState.RUNNING

    def output(self, job: Job, chunk: bytes) -> None:
        view = self.jobs[job.id]
        for follower in list(view.followers):
            follower(chunk)
        view.add_output(chunk)

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        self._end(job.id, outcome.state, outcome.result)

    def _end(self, job_id: int, state: JobState, result: StepResult | None) -> None:
        view = self.jobs.get(job_id)
        if view is None:
            return
        self._ended.append(job_id)
        while len(self._ended) > RECENT_JOBS:
            self.jobs.pop(self._ended.popleft(), None)
        view.end(state, result)

    def output_of(self, job_id: int) -> bytes:
        """The last of a live or recently ended job's output; empty for any other."""
        view = self.jobs.get(job_id)
        return b"" if view is None else view.tail

    # The job API.

    def recent(self, query: JobQuery) -> Deferred[list[dict[str, Any]]]:
        """The newest jobs C{query} asks for, as the job API shows them."""
        return self._journal.call(
            lambda journal: [
                job_json(record, journal.covers(record.id), journal.covering(record.id))
                for record in journal.recent(
                    query.hook, query.limit, query.state, query.before, query.since
                )
            ]
        )

    def one(self, job_id: int) -> Deferred[dict[str, Any] | None]:
        def read(journal: Journal) -> dict[str, Any] | None:
            record = journal.get(job_id)
            if record is None:
                return None
            return job_json(
                record,
                journal.covers(job_id),
                journal.covering(job_id),
                journal.reports_of(job_id),
            )

        return self._journal.call(read)

    def job_output(self, job_id: int) -> Deferred[bytes | None]:
        """A running job's output so far, or a finished one's recorded tail."""
        view = self.jobs.get(job_id)
        if view is not None and view.state is JobState.RUNNING:
            return succeed(view.tail)

        def read(journal: Journal) -> bytes | None:
            record = journal.get(job_id)
            return None if record is None else record.output_tail

        return self._journal.call(read)

    def follow(self, job_id: int, write: Callable[[bytes], None]) -> Deferred[bool]:
        """Pass the output so far and then each new chunk to C{write} until the job ends."""
        view = self.jobs.get(job_id)
        if view is None or view.state not in LIVE_STATES:
            # Finished (or unknown): its recorded tail is all there is.
            def written(output: bytes | None) -> bool:
                if output is not None:
                    write(output)
                return output is not None

            return self.job_output(job_id).addCallback(written)
        write(view.tail)
        view.followers.append(write)

        def stop_following(result: object) -> object:
            if write in view.followers:
                view.followers.remove(write)
            return result

        def ended(_: object) -> None:
            if not following.called:
                following.callback(True)

        # Cancelled when the reader goes away; fires when the job ends.
        following: Deferred[bool] = Deferred(lambda cancelled: None)
        following.addBoth(stop_following)
        view.ended.addCallback(ended)
        return following
