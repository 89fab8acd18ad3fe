"""
A job's life as the rest of the daemon sees it: the values a job is made of,
the events L{hookdaemon.dispatcher.Dispatcher} emits as the job moves through
L{JobState}, and the one interface their subscribers implement.

The journal's records, the job API's view, live-log followers and the daemon's
log lines are subscribers; a new feature (metrics, commit statuses, chat
notifications) is one more, and the dispatcher does not change for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from attrs import field, frozen
from twisted.logger import Logger
from zope.interface import Interface, implementer

from hookdaemon.command import Step
from hookdaemon.config import HookConfig
from hookdaemon.delivery import Delivery
from hookdaemon.job_state import JobState
from hookdaemon.process import StepResult

log = Logger()

TAIL_BYTES = 64 * 1024
"""The output a job keeps at hand: what C{/jobs/ID/log} and the journal show of it."""


@frozen
class Job:
    """One run of a hook for one delivery: what to run, never how far it got."""

    id: int
    hook: HookConfig
    delivery: Delivery
    payload_path: str
    """Where the delivery's body is written for the steps (HOOK_PAYLOAD) while the job runs."""


@frozen
class JobOutcome:
    """How a job ended: its final state and the result of the last step it ran."""

    state: JobState = field()
    result: StepResult | None = None
    """None when no step ran (refused on resume, superseded, crashed)."""
    reason: str | None = None
    """Why it ended so, as its record says (C{step 2/3 (make) exit 2}); None for a success."""
    captured: bytes | None = field(default=None, repr=False)
    """
    The command's output, both streams as read, for a hooks-file hook that
    answers with it (C{include-command-output-in-response}); None for others.
    """

    @state.validator
    def _final(self, attribute: object, value: JobState) -> None:
        if not value.final:
            raise ValueError(f"{value} is not a final state")


class IJobObserver(Interface):
    """
    Told of every change in a job's life, in order, on the reactor thread.

    Output C{chunk}s are blocks of whole lines, each line prefixed with its
    stream (C{stdout}, C{stderr} or C{hookdaemon}) and a space, as
    C{/jobs/ID/log} shows them. An observer must not block; one that raises is
    logged and skipped, and the job goes on.
    """

    def queued(job: Job) -> None:
        """The job's delivery is in the journal and the job waits for its turn."""

    def superseded(old: Job, new: Job) -> None:
        """C{old} never runs: C{new}, a newer delivery of a coalescing hook, runs for it."""

    def started(job: Job) -> None:
        """The job's start is in the journal and its first step is about to run."""

    def step_started(job: Job, number: int, step: Step, process_group: int | None) -> None:
        """Step C{number} (from 1) runs in C{process_group} (None: it could not be started)."""

    def output(job: Job, chunk: bytes) -> None:
        """More of the job's output."""

    def step_ended(job: Job, number: int, result: StepResult) -> None:
        """Step C{number} ended with C{result}."""

    def ended(job: Job, outcome: JobOutcome) -> None:
        """The job is over (superseded jobs end through L{superseded} only)."""

    def recovered(job: Job, outcome: JobOutcome) -> None:
        """
        A job this daemon did not see end, ended as it starts: one a killed
        daemon left running (C{interrupted}), or one refused on resume. The
        journal holds its end already; the reports still have to tell it.
        """


@implementer(IJobObserver)
class JobObserver:
    """An observer that ignores every event: subclass it and override what you watch."""

    def queued(self, job: Job) -> None:
        pass

    def superseded(self, old: Job, new: Job) -> None:
        pass

    def started(self, job: Job) -> None:
        pass

    def step_started(self, job: Job, number: int, step: Step, process_group: int | None) -> None:
        pass

    def output(self, job: Job, chunk: bytes) -> None:
        pass

    def step_ended(self, job: Job, number: int, result: StepResult) -> None:
        pass

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        pass

    def recovered(self, job: Job, outcome: JobOutcome) -> None:
        pass


EVENTS = tuple(IJobObserver.names())
"""The lifecycle's events: the names of L{IJobObserver}'s methods."""


@implementer(IJobObserver)
class JobEvents:
    """
    Passes each event to every subscriber in the order they were given; a
    subscriber that raises is logged and the others still hear of it, so no
    subscriber can break a job.
    """

    def __init__(self, subscribers: Sequence[IJobObserver]) -> None:
        # Per event, the subscribers that override it, their methods bound now:
        # the events of every delivery and every read of output cost no more
        # than the subscribers that listen to them.
        self._listeners: dict[str, list[tuple[IJobObserver, Callable[..., None]]]] = {
            event: [
                (subscriber, getattr(subscriber, event))
                for subscriber in subscribers
                if getattr(type(subscriber), event, None) is not getattr(JobObserver, event)
            ]
            for event in EVENTS
        }

    def queued(self, job: Job) -> None:
        self._tell("queued", job)

    def superseded(self, old: Job, new: Job) -> None:
        self._tell("superseded", old, new)

    def started(self, job: Job) -> None:
        self._tell("started", job)

    def step_started(self, job: Job, number: int, step: Step, process_group: int | None) -> None:
        self._tell("step_started", job, number, step, process_group)

    def output(self, job: Job, chunk: bytes) -> None:
        self._tell("output", job, chunk)

    def step_ended(self, job: Job, number: int, result: StepResult) -> None:
        self._tell("step_ended", job, number, result)

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        self._tell("ended", job, outcome)

    def recovered(self, job: Job, outcome: JobOutcome) -> None:
        self._tell("recovered", job, outcome)

    def _tell(self, event: str, job: Job, *details: object) -> None:
        for subscriber, listener in self._listeners[event]:
            try:
                listener(job, *details)
            except Exception:
                self._failed(subscriber, event, job)

    def _failed(self, subscriber: IJobObserver, event: str, job: Job) -> None:
        log.failure(
            "job {job}: {subscriber} failed on the {event} event",
            job=job.id,
            subscriber=type(subscriber).__name__,
            event=event,
        )


class OutputTail:
    """
    At least the last L{TAIL_BYTES} of a job's output, trimmed only once it
    holds twice that: trimming on every chunk would move 64 KiB per read.
    """

    def __init__(self) -> None:
        self._recent = bytearray()

    def add(self, chunk: bytes) -> None:
        self._recent += chunk
        if len(self._recent) > 2 * TAIL_BYTES:
            del self._recent[: len(self._recent) - TAIL_BYTES]

    def last(self) -> bytes:
        """The last L{TAIL_BYTES}."""
        return bytes(self._recent[-TAIL_BYTES:])
