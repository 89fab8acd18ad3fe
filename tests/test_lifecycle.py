"""The job lifecycle: its values, its fan-out to subscribers, and a subscriber that breaks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from hookdaemon.command import Step
from hookdaemon.config import parse_config
from hookdaemon.delivery import Delivery
from hookdaemon.job_state import FINAL_STATES, LIVE_STATES, JobState
from hookdaemon.job_status import JobStatus
from hookdaemon.journal_records import JournalRecords
from hookdaemon.lifecycle import (
    EVENTS,
    TAIL_BYTES,
    IJobObserver,
    Job,
    JobEvents,
    JobObserver,
    JobOutcome,
    OutputTail,
)
from hookdaemon.log_lines import JobLogLines
from hookdaemon.process import StepResult
from tests.support import finished, github_headers, github_push_body, post, start_daemon
from tests.test_service import ENVIRON, HOOKS, SECRET, read_journal


def a_job(job_id: int = 1) -> Job:
    config = parse_config(
        "[hook:site]\nforge = generic\nworkdir = /srv\ncommand = true\n",
        "/etc/tap.cfg",
        {},
        lambda path: b"",
    )
    return Job(
        id=job_id,
        hook=config.hooks["site"],
        delivery=Delivery(forge="generic", event="push", kind="push"),
        payload_path="/nonexistent",
    )


class Recorder(JobObserver):
    def __init__(self, name: str, heard: list[tuple[str, str, int]]) -> None:
        self.name = name
        self.heard = heard

    def queued(self, job: Job) -> None:
        self.heard.append((self.name, "queued", job.id))

    def output(self, job: Job, chunk: bytes) -> None:
        self.heard.append((self.name, "output", job.id))

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        self.heard.append((self.name, f"ended {outcome.state}", job.id))


class Broken(JobObserver):
    def queued(self, job: Job) -> None:
        raise RuntimeError("a broken subscriber")

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        raise RuntimeError("a broken subscriber")


class JobEventsTests(SynchronousTestCase):
    def test_everySubscriberHearsEachEventInOrder(self) -> None:
        heard: list[tuple[str, str, int]] = []
        events = JobEvents([Recorder("first", heard), Recorder("second", heard)])
        job = a_job()
        events.queued(job)
        events.output(job, b"stdout hello\n")
        events.ended(job, JobOutcome(JobState.SUCCEEDED, StepResult(0, None)))
        self.assertEqual(
            heard,
            [
                ("first", "queued", 1),
                ("second", "queued", 1),
                ("first", "output", 1),
                ("second", "output", 1),
                ("first", "ended succeeded", 1),
                ("second", "ended succeeded", 1),
            ],
        )

    def test_aSubscriberThatRaisesIsLoggedAndTheOthersStillHear(self) -> None:
        heard: list[tuple[str, str, int]] = []
        events = JobEvents([Broken(), Recorder("after", heard)])
        job = a_job(7)
        events.queued(job)
        events.ended(job, JobOutcome(JobState.FAILED))
        self.assertEqual(heard, [("after", "queued", 7), ("after", "ended failed", 7)])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)

    def test_theSubscribersProvideTheInterface(self) -> None:
        for subscriber in (
            JobObserver(),
            JobEvents([]),
            JobLogLines(),
            JobStatus(None),  # type: ignore[arg-type]
            JournalRecords(None, None, 1, lambda job_id: b""),  # type: ignore[arg-type]
        ):
            self.assertTrue(verifyObject(IJobObserver, subscriber))

    def test_anObserverOfItsOwnHearsEveryEvent(self) -> None:
        """
        JobEvents skips the events a JobObserver subclass does not override;
        an observer that implements the interface itself hears every one.
        """
        heard: list[str] = []

        @implementer(IJobObserver)
        class Own:
            pass

        for event in EVENTS:  # what the interface asks for, on the class itself
            setattr(Own, event, lambda self, *details, event=event: heard.append(event))
        job = a_job()
        step = Step(text="true", words=("true",))
        events = JobEvents([Own(), JobObserver()])
        events.queued(job)
        events.superseded(job, a_job(2))
        events.started(job)
        events.step_started(job, 1, step, 123)
        events.output(job, b"stdout x\n")
        events.step_ended(job, 1, StepResult(0, None))
        events.ended(job, JobOutcome(JobState.SUCCEEDED, StepResult(0, None)))
        events.recovered(job, JobOutcome(JobState.INTERRUPTED))
        self.assertEqual(heard, list(EVENTS))


class ValueTests(SynchronousTestCase):
    def test_anOutcomeIsFinal(self) -> None:
        for state in LIVE_STATES:
            with self.assertRaises(ValueError):
                JobOutcome(state)
        for state in FINAL_STATES:
            self.assertEqual(JobOutcome(state).state, state)

    def test_statesAreTheJournalsWords(self) -> None:
        self.assertEqual(
            sorted(JobState),
            sorted(
                [
                    "queued",
                    "running",
                    "succeeded",
                    "failed",
                    "timed_out",
                    "interrupted",
                    "superseded",
                    "cancelled",
                    "ignored",
                ]
            ),
        )
        self.assertEqual(LIVE_STATES | FINAL_STATES, set(JobState))
        self.assertFalse(LIVE_STATES & FINAL_STATES)

    def test_tailKeepsTheLastOutput(self) -> None:
        tail = OutputTail()
        for n in range(300):
            tail.add(b"stdout %07d %s\n" % (n, b"x" * 1000))
        last = tail.last()
        self.assertEqual(len(last), TAIL_BYTES)
        self.assertTrue(last.endswith(b"stdout 0000299 " + b"x" * 1000 + b"\n"))


class BrokenSubscriberLiveTests(TestCase):
    async def test_aSubscriberThatRaisesBreaksNoJob(self) -> None:
        """A daemon whose log-line subscriber raises on every event still runs and records."""

        def broken(*args: object) -> None:
            raise RuntimeError("a broken subscriber")

        for event in ("queued", "started", "ended"):
            self.patch(JobLogLines, event, broken)
        daemon = await start_daemon(self, HOOKS, environ=ENVIRON)
        body = github_push_body(after="a" * 40)
        code, answer, _ = await post(daemon.hook_url("site"), body, github_headers(body, SECRET))
        self.assertEqual(code, 202)
        job = await finished(daemon, answer["job"])
        self.assertEqual(job.state, JobState.SUCCEEDED)
        await daemon.service.journal.call(lambda journal: None)  # the end is recorded
        self.assertEqual(read_journal(daemon.journal_path, answer["job"]).state, "succeeded")
        self.assertIn(f"{answer['job']} stdout deployed {'a' * 40}", daemon.log_text("site"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 3)


class JobLogLinesTests(SynchronousTestCase):
    """The daemon's lines about a job, as they read in its log."""

    def lines(self, tell: Callable[[JobLogLines], None]) -> list[str]:
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        try:
            tell(JobLogLines())
        finally:
            globalLogPublisher.removeObserver(events.append)
        return [formatEvent(e) for e in events if e.get("log_namespace") == "hookdaemon.log_lines"]

    def test_queuedStartedAndEnded(self) -> None:
        job = attrs.evolve(
            a_job(7),
            delivery=Delivery(
                forge="github",
                event="push",
                kind="push",
                ref="refs/heads/main",
                after="0123456789abcdef0123456789abcdef01234567",
                delivery_id="72d3162e",
            ),
        )
        result = StepResult(exit_code=2, signal=None)
        self.assertEqual(
            self.lines(
                lambda lines: (
                    lines.queued(job),
                    lines.started(job),
                    lines.ended(job, JobOutcome(JobState.FAILED, result=result)),
                )
            ),
            [
                "hook site: job 7 queued for github push refs/heads/main"
                " 0123456789abcdef0123456789abcdef01234567 (delivery 72d3162e)",
                "job 7 for hook site started (refs/heads/main"
                " 0123456789abcdef0123456789abcdef01234567)",
                "job 7 for hook site failed: exit 2",
            ],
        )

    def test_whatADeliveryLeftOutIsADash(self) -> None:
        self.assertEqual(
            self.lines(lambda lines: lines.queued(a_job(1))),
            ["hook site: job 1 queued for generic push - - (delivery -)"],
        )

    def test_aJobThatNeverRanHasNoEndLine(self) -> None:
        self.assertEqual(
            self.lines(lambda lines: lines.ended(a_job(1), JobOutcome(JobState.SUPERSEDED))), []
        )
