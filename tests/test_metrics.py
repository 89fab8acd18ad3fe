"""
/metrics' numbers: parsed from the exposition with prometheus_client's own
parser, after feeding the metrics real lifecycle events, delivery outcomes,
journal commits and output log writes.
"""

from __future__ import annotations

import errno
import os
from importlib.metadata import version
from typing import cast

from attrs import define, field
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.defer import Deferred, fail, gatherResults, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from hookdaemon.config import Config, Rate, parse_config
from hookdaemon.delivery import Delivery
from hookdaemon.dispatcher import Dispatcher
from hookdaemon.intake import (
    NOT_ALLOWED,
    STOPPING,
    WRONG_METHOD,
    Ignored,
    NoHook,
    OverRate,
    Pong,
    Refused,
)
from hookdaemon.job_state import QUEUED_ENDS, JobState
from hookdaemon.jobs import QueueFullError
from hookdaemon.journal import Added, NewDelivery
from hookdaemon.journal_worker import JournalUnavailableError, JournalWorker
from hookdaemon.lifecycle import Job, JobEvents, JobObserver, JobOutcome
from hookdaemon.metrics import UNKNOWN_HOOK, Metrics, OutputCounts
from hookdaemon.output import OutputLog, OutputLogs
from hookdaemon.process import StepResult
from hookdaemon.reactors import EngineReactor

HOOKS = """
[hook:site]
forge = generic
workdir = /srv
command = true

[hook:api]
forge = generic
workdir = /srv
command = true
"""


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def config(text: str = HOOKS) -> Config:
    return parse_config(text, "/etc/tap.cfg", {}, read)


CONFIG = config()
PUSH = Delivery.of_push("refs/heads/main", "0" * 40, "1" * 40, forge="generic", event="push")


def a_job(job_id: int, hook: str = "site") -> Job:
    return Job(id=job_id, hook=CONFIG.hooks[hook], delivery=PUSH, payload_path="/nonexistent")


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the text exposition, by name and labels."""
    body, content_type = metrics.exposition()
    assert content_type.startswith(b"text/plain; version=0.0.4"), content_type
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode("utf-8"))
        for sample in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    """One sample's value; fails if the exposition has no such sample."""
    found = samples(metrics)
    key = (name, frozenset(labels.items()))
    if key not in found:
        raise AssertionError(f"no sample {name}{labels} in the exposition")
    return found[key]


def series(metrics: Metrics, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of one name, by labels."""
    return {labels: v for (n, labels), v in samples(metrics).items() if n == name}


def labelled(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


class JobMetricsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.metrics = Metrics(CONFIG.hooks, clock=self.clock.seconds)

    def test_everyConfiguredHookHasItsJobSeriesAtZero(self) -> None:
        jobs = series(self.metrics, "hookdaemon_jobs_total")
        self.assertEqual(
            jobs,
            {
                labelled(hook=hook, state=str(state)): 0.0
                for hook in ("site", "api")
                for state in QUEUED_ENDS
            },
        )
        self.assertEqual(value(self.metrics, "hookdaemon_jobs_running", hook="api"), 0.0)
        self.assertEqual(value(self.metrics, "hookdaemon_jobs_queued", hook="api"), 0.0)

    def test_jobsAreCountedByHookAndFinalState(self) -> None:
        for job_id, hook, state in [
            (1, "site", JobState.SUCCEEDED),
            (2, "site", JobState.SUCCEEDED),
            (3, "site", JobState.FAILED),
            (4, "api", JobState.TIMED_OUT),
        ]:
            job = a_job(job_id, hook)
            self.metrics.queued(job)
            self.metrics.started(job)
            self.metrics.ended(job, JobOutcome(state, StepResult(0, None)))
        jobs = {k: v for k, v in series(self.metrics, "hookdaemon_jobs_total").items() if v}
        self.assertEqual(
            jobs,
            {
                labelled(hook="site", state="succeeded"): 2.0,
                labelled(hook="site", state="failed"): 1.0,
                labelled(hook="api", state="timed_out"): 1.0,
            },
        )

    def test_durationAndQueueWaitAreHistogramsByHook(self) -> None:
        job = a_job(1)
        self.metrics.queued(job)
        self.clock.advance(3)
        self.metrics.started(job)
        self.clock.advance(42)
        self.metrics.ended(job, JobOutcome(JobState.SUCCEEDED, StepResult(0, None)))
        m = self.metrics
        self.assertEqual(value(m, "hookdaemon_job_queue_wait_seconds_count", hook="site"), 1.0)
        self.assertEqual(value(m, "hookdaemon_job_queue_wait_seconds_sum", hook="site"), 3.0)
        wait = "hookdaemon_job_queue_wait_seconds_bucket"
        self.assertEqual(value(m, wait, hook="site", le="1.0"), 0.0)
        self.assertEqual(value(m, wait, hook="site", le="5.0"), 1.0)
        self.assertEqual(value(m, "hookdaemon_job_duration_seconds_count", hook="site"), 1.0)
        self.assertEqual(value(m, "hookdaemon_job_duration_seconds_sum", hook="site"), 42.0)
        duration = "hookdaemon_job_duration_seconds_bucket"
        self.assertEqual(value(m, duration, hook="site", le="30.0"), 0.0)
        self.assertEqual(value(m, duration, hook="site", le="60.0"), 1.0)
        self.assertEqual(value(m, duration, hook="site", le="+Inf"), 1.0)
        self.assertEqual(value(m, "hookdaemon_job_duration_seconds_count", hook="api"), 0.0)

    def test_queuedAndRunningGaugesFollowTheJobs(self) -> None:
        jobs = [a_job(n) for n in (1, 2, 3)]
        for job in jobs:
            self.metrics.queued(job)
        self.metrics.started(jobs[0])
        self.assertEqual(value(self.metrics, "hookdaemon_jobs_queued", hook="site"), 2.0)
        self.assertEqual(value(self.metrics, "hookdaemon_jobs_running", hook="site"), 1.0)
        self.metrics.ended(jobs[0], JobOutcome(JobState.INTERRUPTED))
        self.metrics.started(jobs[1])
        self.assertEqual(value(self.metrics, "hookdaemon_jobs_queued", hook="site"), 1.0)
        self.assertEqual(value(self.metrics, "hookdaemon_jobs_running", hook="site"), 1.0)

    def test_aSupersededJobLeavesTheQueueAndIsCounted(self) -> None:
        old, new = a_job(1), a_job(2)
        self.metrics.queued(old)
        self.metrics.queued(new)
        self.metrics.superseded(old, new)
        m = self.metrics
        self.assertEqual(value(m, "hookdaemon_jobs_queued", hook="site"), 1.0)
        self.assertEqual(value(m, "hookdaemon_jobs_total", hook="site", state="superseded"), 1.0)
        self.assertEqual(value(m, "hookdaemon_job_queue_wait_seconds_count", hook="site"), 0.0)

    def test_aJobThatEndsWithoutStartingLeavesTheQueueWithNoDuration(self) -> None:
        """As a job whose start cannot be recorded ends, or one cancelled while it waits."""
        job = a_job(1)
        self.metrics.queued(job)
        self.metrics.ended(job, JobOutcome(JobState.FAILED))
        m = self.metrics
        self.assertEqual(value(m, "hookdaemon_jobs_queued", hook="site"), 0.0)
        self.assertEqual(value(m, "hookdaemon_jobs_running", hook="site"), 0.0)
        self.assertEqual(value(m, "hookdaemon_jobs_total", hook="site", state="failed"), 1.0)
        self.assertEqual(value(m, "hookdaemon_job_duration_seconds_count", hook="site"), 0.0)

    def test_aJobOfAHookNoLongerConfiguredIsCountedUnderItsName(self) -> None:
        self.metrics.reconfigure(["api"])
        job = a_job(1, "site")
        self.metrics.queued(job)
        self.metrics.started(job)
        self.metrics.ended(job, JobOutcome(JobState.SUCCEEDED, StepResult(0, None)))
        m = self.metrics
        self.assertEqual(value(m, "hookdaemon_jobs_total", hook="site", state="succeeded"), 1.0)

    def test_subscribedThroughJobEvents(self) -> None:
        """JobEvents passes it only what it overrides, and every one of those."""
        events = JobEvents([self.metrics])
        job = a_job(1)
        events.queued(job)
        events.started(job)
        events.output(job, b"stdout hello\n")
        events.ended(job, JobOutcome(JobState.SUCCEEDED, StepResult(0, None)))
        m = self.metrics
        self.assertEqual(value(m, "hookdaemon_jobs_total", hook="site", state="succeeded"), 1.0)
        self.assertEqual(value(m, "hookdaemon_job_queue_wait_seconds_count", hook="site"), 1.0)


class DeliveryMetricsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.metrics = Metrics(["site", "api"])

    def deliveries(self) -> dict[frozenset[tuple[str, str]], float]:
        return series(self.metrics, "hookdaemon_deliveries_total")

    def test_eachOutcomeHasItsLabels(self) -> None:
        outcomes = [
            Added(job_id=1, duplicate=False),
            Added(job_id=2, duplicate=False),
            Added(job_id=1, duplicate=True),
            Added(job_id=None, duplicate=True),
            Ignored(PUSH, "branch main does not match branches (release/*)"),
            Pong(PUSH),
            Refused(401, "signature mismatch"),
            Refused(401, "signature mismatch"),
            NOT_ALLOWED,
            Refused(415, "a body of type text/plain"),
            Refused(400, "the body is not JSON: Expecting value"),
            Refused(413, "body larger than max_body (10 bytes)"),
            OverRate(Rate(5, 60.0), 12, report=True),
            WRONG_METHOD,
            STOPPING,
            QueueFullError("3 jobs of this hook are waiting already"),
            JournalUnavailableError("database or disk is full"),
        ]
        for outcome in outcomes:
            self.metrics.delivery("site", outcome)

        def site(outcome: str, reason: str = "") -> frozenset[tuple[str, str]]:
            return labelled(hook="site", outcome=outcome, reason=reason)

        self.assertEqual(
            self.deliveries(),
            {
                site("accepted"): 2.0,
                site("duplicate"): 2.0,
                site("ignored"): 1.0,
                site("pong"): 1.0,
                site("refused", "401"): 2.0,
                site("refused", "403"): 1.0,
                site("refused", "415"): 1.0,
                site("refused", "400"): 1.0,
                site("refused", "413"): 1.0,
                site("refused", "405"): 1.0,
                site("rate_limited"): 1.0,
                site("unavailable", "stopping"): 1.0,
                site("unavailable", "queue_full"): 1.0,
                site("unavailable", "journal"): 1.0,
            },
        )

    def test_namesNoHookHasShareOneSeries(self) -> None:
        """A client trying names creates no series per name."""
        for name in ("wp-login.php", "admin", "site2", "x" * 200):
            self.metrics.delivery(name, NoHook(name))
        self.metrics.delivery("site", WRONG_METHOD)
        self.assertEqual(
            self.deliveries(),
            {
                labelled(hook=UNKNOWN_HOOK, outcome="refused", reason="404"): 4.0,
                labelled(hook="site", outcome="refused", reason="405"): 1.0,
            },
        )

    def test_aHookAddedByAReloadIsCountedUnderItsName(self) -> None:
        self.metrics.delivery("new", NoHook("new"))
        self.metrics.reconfigure(["site", "api", "new"])
        self.metrics.delivery("new", Added(job_id=7, duplicate=False))
        self.assertEqual(
            self.deliveries(),
            {
                labelled(hook=UNKNOWN_HOOK, outcome="refused", reason="404"): 1.0,
                labelled(hook="new", outcome="accepted", reason=""): 1.0,
            },
        )
        self.assertEqual(value(self.metrics, "hookdaemon_jobs_queued", hook="new"), 0.0)

    def test_deliveredCountsTheEnginesAnswerAndPassesItOn(self) -> None:
        added = Added(job_id=3, duplicate=False)
        taken = succeed(added).addBoth(self.metrics.delivered, "site")
        self.assertIs(self.successResultOf(taken), added)
        full: Deferred[Added] = fail(QueueFullError("3 jobs of this hook are waiting already"))
        full.addBoth(self.metrics.delivered, "site")
        self.failureResultOf(full, QueueFullError)
        broken: Deferred[Added] = fail(RuntimeError("a bug"))
        broken.addBoth(self.metrics.delivered, "site")
        self.failureResultOf(broken, RuntimeError)
        self.assertEqual(
            self.deliveries(),
            {
                labelled(hook="site", outcome="accepted", reason=""): 1.0,
                labelled(hook="site", outcome="unavailable", reason="queue_full"): 1.0,
                labelled(hook="site", outcome="error", reason="500"): 1.0,
            },
        )

    def test_aCallerThatHangsUpBeforeTheCommitIsGone(self) -> None:
        waiting: Deferred[Added] = Deferred()
        waiting.addBoth(self.metrics.delivered, "site")
        waiting.cancel()  # as the web layer does when the client goes away
        self.failureResultOf(waiting)
        self.assertEqual(
            self.deliveries(), {labelled(hook="site", outcome="gone", reason=""): 1.0}
        )


class ExpositionTests(SynchronousTestCase):
    def test_buildInfoNamesTheInstalledVersion(self) -> None:
        metrics = Metrics([])
        self.assertEqual(
            value(metrics, "hookdaemon_build_info", version=version("hookdaemon")), 1.0
        )

    def test_twoDaemonsInOneProcessCountApart(self) -> None:
        first, second = Metrics(["site"]), Metrics(["site"])
        first.delivery("site", Added(job_id=1, duplicate=False))
        accepted = {"hook": "site", "outcome": "accepted", "reason": ""}
        self.assertEqual(value(first, "hookdaemon_deliveries_total", **accepted), 1.0)
        self.assertNotIn(("hookdaemon_deliveries_total", labelled(**accepted)), samples(second))
        self.assertNotIn(b"hookdaemon", generate_latest(REGISTRY))

    def test_openMetricsWhenTheScraperAsksForIt(self) -> None:
        metrics = Metrics(["site"])
        metrics.delivery("site", Pong(PUSH))
        accept = b"application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        body, content_type = metrics.exposition(accept)
        self.assertTrue(content_type.startswith(b"application/openmetrics-text"), content_type)
        self.assertTrue(body.endswith(b"# EOF\n"))
        found = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in openmetrics_families(body.decode("utf-8"))
            for sample in family.samples
        }
        pong = labelled(hook="site", outcome="pong", reason="")
        self.assertEqual(found[("hookdaemon_deliveries_total", pong)], 1.0)

    def test_theProcessIsDescribed(self) -> None:
        metrics = Metrics([])
        self.assertGreater(value(metrics, "process_resident_memory_bytes"), 0)
        self.assertIn(
            "python_info", {name for name, _ in samples(metrics)}, "python_info is missing"
        )


@define
class Logs:
    """An L{hookdaemon.metrics.OutputSource}: the logs by hook name."""

    logs: dict[str, OutputCounts] = field(factory=dict)


class Disk:
    """An C{os.write} stand-in with C{room} bytes left; then ENOSPC, as a full disk."""

    def __init__(self, room: int) -> None:
        self.room = room

    def write(self, fd: int, data: memoryview) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        taken = os.write(fd, data[: self.room])
        self.room -= taken
        return taken


class OutputMetricsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        self.disk = Disk(room=10**9)
        self.log = OutputLog(
            self.directory, "site", 1024 * 1024, 3, clock=lambda: 0.0, write=self.disk.write
        )
        self.addCleanup(self.log.close)
        self.metrics = Metrics(["site"], outputs=Logs({"site": self.log}))

    def counts(self) -> tuple[float, float, float]:
        m = self.metrics
        return (
            value(m, "hookdaemon_output_written_bytes_total", hook="site"),
            value(m, "hookdaemon_output_lost_lines_total", hook="site"),
            value(m, "hookdaemon_output_lost_bytes_total", hook="site"),
        )

    def test_bytesWrittenAreTheLogsBytes(self) -> None:
        self.log.write_block(1, "stdout", b"one\ntwo\n")
        self.log.write_block(1, "stderr", b"three\n")
        self.assertEqual(self.counts(), (os.path.getsize(self.log.path), 0.0, 0.0))
        self.assertGreater(os.path.getsize(self.log.path), len(b"one\ntwo\nthree\n"))

    def test_linesAFullDiskWouldNotTakeAreCountedLost(self) -> None:
        self.log.write_block(1, "stdout", b"first\n")
        line = len(read(self.log.path))  # every line of this test is this long
        self.disk.room = line + line // 2  # one line and a half more, then full
        self.log.write_block(1, "stdout", b"aaaaa\nbbbbb\nccccc\nddddd\n")
        size = os.path.getsize(self.log.path)
        self.assertEqual(size, 2 * line)  # the torn line was cut back
        self.assertEqual(self.counts(), (size, 3.0, 3 * line))
        self.disk.room = 10**9
        self.log.write_block(1, "stdout", b"again\n")
        size = os.path.getsize(self.log.path)
        self.assertEqual(read(self.log.path).count(b"3 lines lost"), 1)
        self.assertEqual(self.counts(), (size, 3.0, 3 * line))

    def test_aHookWithoutALogHasNoOutputSeries(self) -> None:
        metrics = Metrics(["site"], outputs=Logs())
        self.assertEqual(series(metrics, "hookdaemon_output_written_bytes_total"), {})


def new_delivery(n: int) -> NewDelivery:
    delivery = Delivery.of_push(
        "refs/heads/main", "0" * 40, f"{n:040x}", forge="generic", event="push"
    )
    return NewDelivery("site", delivery, b"{}", float(n))


class JournalMetricsTests(TestCase):
    async def test_eachBatchThatWritesIsTimed(self) -> None:
        metrics = Metrics(["site"])
        path = os.path.abspath(self.mktemp()) + ".sqlite"
        worker = JournalWorker(reactor, path, on_commit=metrics.journal_committed)
        self.addCleanup(worker.stop)
        await worker.start()

        async def commits() -> float:
            # A read queued now runs after the batch under way and its timing.
            await worker.call(lambda journal: None)
            return value(metrics, "hookdaemon_journal_commit_seconds_count")

        # The first goes alone; the two queued while it commits go together.
        await gatherResults([worker.add(new_delivery(n)) for n in (1, 2, 3)])
        self.assertEqual(await commits(), 2.0)
        total = value(metrics, "hookdaemon_journal_commit_seconds_sum")
        self.assertGreater(total, 0.0)
        self.assertEqual(await commits(), 2.0)  # reads are not timed
        await worker.write(lambda journal: journal.started(1, 5.0))
        self.assertEqual(await commits(), 3.0)
        self.assertGreater(value(metrics, "hookdaemon_journal_commit_seconds_sum"), total)


class Ends(JobObserver):
    """Fires a Deferred per job as it ends."""

    def __init__(self) -> None:
        self.ends: dict[int, Deferred[JobOutcome]] = {}

    def of(self, job_id: int) -> Deferred[JobOutcome]:
        return self.ends.setdefault(job_id, Deferred())

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        self.of(job.id).callback(outcome)


class EngineMetricsTests(TestCase):
    """The metrics subscribed to a real job engine: journal, output logs, processes."""

    async def test_realJobsAreCounted(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        engine_config = config(
            f"[hookdaemon]\nstate_dir = {directory}/var\nlog_dir = {directory}/var/log\n"
            "max_parallel = 1\n"
            "[hook:site]\nforge = generic\nworkdir = /\nburst = queue\n"
            "command =\n  echo deployed ${HOOK_AFTER}\n  sh -c 'echo oops >&2; exit 3'\n"
        )
        daemon = engine_config.daemon
        outputs = OutputLogs(daemon, list(engine_config.hooks), reactor)
        metrics = Metrics(engine_config.hooks, outputs=outputs)
        journal = JournalWorker(
            reactor,
            os.path.join(daemon.state_dir, "journal.sqlite"),
            on_commit=metrics.journal_committed,
        )
        ends = Ends()
        engine = Dispatcher(
            engine_config,
            journal,
            outputs,
            JobEvents([metrics, ends]),
            cast(EngineReactor, reactor),
        )
        for service in (journal, outputs, engine):
            service.startService()
            self.addCleanup(service.stopService)
        hook = engine_config.hooks["site"]
        first = Delivery.of_push(
            "refs/heads/main", "0" * 40, "1" * 40, forge="generic", event="push", delivery_id="a"
        )
        second = Delivery.of_push(
            "refs/heads/main", "1" * 40, "2" * 40, forge="generic", event="push", delivery_id="b"
        )
        taken = [
            await engine.accept(hook, delivery, b"{}").addBoth(metrics.delivered, "site")
            for delivery in (first, second, first)
        ]
        self.assertEqual([t.duplicate for t in taken], [False, False, True])
        outcomes = [await ends.of(t.job_id) for t in taken[:2] if t.job_id is not None]
        self.assertEqual([o.state for o in outcomes], [JobState.FAILED, JobState.FAILED])
        m = metrics
        self.assertEqual(value(m, "hookdaemon_jobs_total", hook="site", state="failed"), 2.0)
        self.assertEqual(value(m, "hookdaemon_job_duration_seconds_count", hook="site"), 2.0)
        self.assertEqual(value(m, "hookdaemon_job_queue_wait_seconds_count", hook="site"), 2.0)
        self.assertEqual(value(m, "hookdaemon_jobs_running", hook="site"), 0.0)
        self.assertEqual(value(m, "hookdaemon_jobs_queued", hook="site"), 0.0)
        deliveries = series(m, "hookdaemon_deliveries_total")
        self.assertEqual(
            deliveries,
            {
                labelled(hook="site", outcome="accepted", reason=""): 2.0,
                labelled(hook="site", outcome="duplicate", reason=""): 1.0,
            },
        )
        # Two deliveries and each job's start and end at least, in as many batches or fewer.
        self.assertGreaterEqual(value(m, "hookdaemon_journal_commit_seconds_count"), 2.0)
        output = outputs.logs["site"]
        await output.written()
        log = read(output.path)
        self.assertIn(b"deployed " + b"2" * 40, log)
        self.assertIn(b"oops", log)
        self.assertEqual(value(m, "hookdaemon_output_written_bytes_total", hook="site"), len(log))
        self.assertEqual(value(m, "hookdaemon_output_lost_lines_total", hook="site"), 0.0)
