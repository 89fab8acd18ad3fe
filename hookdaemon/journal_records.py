"""
The journal as a lifecycle subscriber: what happened to a job after its start,
written down for the job API and for the next start after a crash.

The writes the dispatcher waits for (a delivery's acceptance, a job's start)
are the dispatcher's own; these are the ones nobody waits for.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime

from hookdaemon.command import Step
from hookdaemon.journal import Journal
from hookdaemon.journal_worker import JournalWorker
from hookdaemon.lifecycle import Job, JobObserver, JobOutcome


class JournalRecords(JobObserver):
    """Records supersessions, process groups and ends, and prunes each hook's history."""

    def __init__(
        self,
        journal: JournalWorker,
        clock: IReactorTime,
        history: int,
        output_of: Callable[[int], bytes],
    ) -> None:
        self._journal = journal
        self._clock = clock
        self.history = history
        """Finished jobs kept per hook; a reload may change it."""
        self._output_of = output_of
        """The last of a job's output, for its end record: the job API's view keeps it."""

    def superseded(self, old: Job, new: Job) -> None:
        # Not logged: in a burst that is a line per delivery, and the journal
        # (GET /jobs/ID: covered_by, covers) already says it.
        now = self._clock.seconds()
        self._journal.record(
            lambda journal: journal.superseded(old.id, new.id, now), f"job {old.id} superseded"
        )

    def step_started(self, job: Job, number: int, step: Step, process_group: int | None) -> None:
        if process_group is None:
            return
        # To end the group if the daemon dies while the step runs.
        self._journal.record(
            lambda journal: journal.step_started(job.id, process_group),
            f"job {job.id}'s process group",
        )

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        tail = self._output_of(job.id)
        result = outcome.result
        now = self._clock.seconds()
        hook = job.hook.name
        history = self.history if job.hook.history is None else job.hook.history

        def finish(journal: Journal) -> None:
            journal.finished(
                job.id,
                outcome.state,
                result.exit_code if result else None,
                result.signal if result else None,
                tail,
                now,
                outcome.reason,
            )

        def prune(journal: Journal) -> None:
            # Every run: the rows since the last run go in small steps, where a
            # prune every few runs stalled the journal (and every delivery's
            # answer) for tens of milliseconds under load.
            journal.prune(hook, history)
            # Ids outlive the jobs (delivery_id_days): a few rows go per run.
            journal.forget_ids(hook, now)

        self._journal.record(finish, f"the end of job {job.id}")
        # An operation of its own, so a prune that fails never undoes the end
        # (which would run the job again after a restart).
        self._journal.record(prune, f"the history of hook {hook}")
