"""
The daemon's numbers in the Prometheus text format, for C{GET /metrics}:
deliveries by outcome (told by the web layer), jobs (heard from the job
lifecycle), the journal's commits and the output logs' bytes.

Every metric is in a registry of the L{Metrics}' own, never prometheus_client's
global one, so two daemons (or tests) in one process count apart. Labels are
bounded: hook names come from the configuration (a name a client makes up is
counted as L{UNKNOWN_HOOK}), and outcomes, reasons and states are fixed sets.
A delivery costs a set lookup, a dict lookup and a counter's add: each label
set's child metric is made once and kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol, TypeVar, assert_never

from attrs import frozen
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from hookdaemon.intake import (
    Ignored,
    NoHook,
    OverRate,
    Pong,
    Refusal,
    Refused,
    Stopping,
    WrongMethod,
)
from hookdaemon.job_state import QUEUED_ENDS, JobState
from hookdaemon.jobs import QueueFullError
from hookdaemon.journal import Added
from hookdaemon.journal_worker import JournalUnavailableError
from hookdaemon.lifecycle import Job, JobObserver, JobOutcome

T = TypeVar("T")

UNKNOWN_HOOK = "(unknown)"
"""The hook label of a call to a name no hook has: one series, whatever names clients try."""

DeliveryOutcome = (
    Refusal | Pong | Ignored | Added | QueueFullError | JournalUnavailableError | Failure
)
"""What a call to /hooks/NAME came to, as L{hookdaemon.web} has it."""

JOB_SECONDS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
"""Deploys take seconds to minutes; C{timeout} is 600 s by default."""
WAIT_SECONDS = (0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0)
"""From nothing (a free lane) to a job waiting out a long one of its hook."""
COMMIT_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""An fsync: well under a millisecond on an SSD, tens of them on a busy disk."""


def delivery_labels(outcome: DeliveryOutcome) -> tuple[str, str]:
    """
    The C{outcome} and C{reason} labels of a delivery. The reason is a
    refusal's HTTP status code, a fixed word for a 503, empty otherwise.
    """
    if isinstance(outcome, Failure):
        if outcome.check(CancelledError):
            # The caller hung up before the commit: the job runs all the same,
            # unless the commit failed.
            return "gone", ""
        error = outcome.value
        if not isinstance(error, QueueFullError | JournalUnavailableError):
            return "error", "500"
        outcome = error
    match outcome:
        case Added(duplicate=True):
            return "duplicate", ""
        case Added():
            return "accepted", ""
        case Ignored():
            return "ignored", ""
        case Pong():
            return "pong", ""
        case Refused(code=code):
            return "refused", str(code)
        case OverRate():
            return "rate_limited", ""
        case NoHook():
            return "refused", "404"
        case WrongMethod():
            return "refused", "405"
        case Stopping():
            return "unavailable", "stopping"
        case QueueFullError():
            return "unavailable", "queue_full"
        case JournalUnavailableError():
            return "unavailable", "journal"
    assert_never(outcome)


class OutputCounts(Protocol):
    """What an output log counts (L{hookdaemon.output.OutputLog})."""

    @property
    def written_bytes(self) -> int: ...

    @property
    def lost_lines(self) -> int: ...

    @property
    def lost_bytes(self) -> int: ...


class OutputSource(Protocol):
    """The hooks' output logs by hook name (L{hookdaemon.output.OutputLogs})."""

    @property
    def logs(self) -> Mapping[str, OutputCounts]: ...


class _OutputCollector(Collector):
    """
    The output logs' counts, read when scraped: the writer's thread adds to
    plain integers and nothing more, whatever the jobs print.
    """

    def __init__(self, source: OutputSource) -> None:
        self._source = source

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        written, lost_lines, lost_bytes = families = self._families()
        for hook, counts in sorted(self._source.logs.items()):
            written.add_metric([hook], counts.written_bytes)
            lost_lines.add_metric([hook], counts.lost_lines)
            lost_bytes.add_metric([hook], counts.lost_bytes)
        return families

    def _families(self) -> tuple[CounterMetricFamily, CounterMetricFamily, CounterMetricFamily]:
        return (
            CounterMetricFamily(
                "hookdaemon_output_written_bytes",
                "Bytes written to the hook's output log (each line with its time, job, stream).",
                labels=["hook"],
            ),
            CounterMetricFamily(
                "hookdaemon_output_lost_lines",
                "Lines the hook's output log would not take (a full disk); the log notes them.",
                labels=["hook"],
            ),
            CounterMetricFamily(
                "hookdaemon_output_lost_bytes",
                "The bytes of the lines the hook's output log would not take.",
                labels=["hook"],
            ),
        )


@frozen
class _HookMetrics:
    """One hook's child metrics, made once."""

    queued: Gauge
    running: Gauge
    wait: Histogram
    duration: Histogram
    ended: Mapping[JobState, Counter]


def package_version() -> str:
    try:
        return version("hookdaemon")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


class Metrics(JobObserver):
    """
    The daemon's metrics and the registry that holds them. As a lifecycle
    subscriber it counts jobs; L{delivery} counts calls to /hooks/NAME;
    L{journal_committed} times the journal's commits; L{exposition} is what
    C{GET /metrics} answers.

    Durations are measured with C{clock}, a monotonic one (a wall clock set
    back would make them negative), as the events are heard.
    """

    def __init__(
        self,
        hooks: Iterable[str],
        outputs: OutputSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.registry = CollectorRegistry()
        registry = self.registry
        self._deliveries = Counter(
            "hookdaemon_deliveries",
            "Calls to /hooks/NAME by hook and outcome (accepted, duplicate, ignored, pong,"
            " refused, rate_limited, unavailable, gone, error); reason: a refusal's HTTP"
            " status, or why a delivery was unavailable (stopping, queue_full, journal).",
            ["hook", "outcome", "reason"],
            registry=registry,
        )
        self._jobs = Counter(
            "hookdaemon_jobs",
            "Jobs ended, by hook and final state (superseded included).",
            ["hook", "state"],
            registry=registry,
        )
        self._duration = Histogram(
            "hookdaemon_job_duration_seconds",
            "Seconds from a job's start to its end.",
            ["hook"],
            buckets=JOB_SECONDS,
            registry=registry,
        )
        self._wait = Histogram(
            "hookdaemon_job_queue_wait_seconds",
            "Seconds a job waited from being queued to its start.",
            ["hook"],
            buckets=WAIT_SECONDS,
            registry=registry,
        )
        self._running = Gauge(
            "hookdaemon_jobs_running", "Jobs running now.", ["hook"], registry=registry
        )
        self._queued = Gauge(
            "hookdaemon_jobs_queued",
            "Jobs waiting for their turn now.",
            ["hook"],
            registry=registry,
        )
        self._commit = Histogram(
            "hookdaemon_journal_commit_seconds",
            "Seconds the journal took to run and commit one batch that wrote (one transaction,"
            " one fsync); the deliveries in it are answered after it.",
            buckets=COMMIT_SECONDS,
            registry=registry,
        )
        Info("hookdaemon_build", "The hookdaemon release running.", registry=registry).info(
            {"version": package_version()}
        )
        if outputs is not None:
            registry.register(_OutputCollector(outputs))
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self._hooks: frozenset[str] = frozenset()
        self._by_hook: dict[str, _HookMetrics] = {}
        self._delivery_children: dict[tuple[str, str, str], Counter] = {}
        self._waiting: dict[int, tuple[_HookMetrics, float]] = {}
        """Queued jobs not yet started: their hook's metrics and when they were queued."""
        self._started: dict[int, tuple[_HookMetrics, float]] = {}
        """Running jobs: their hook's metrics and when they started."""
        self.reconfigure(hooks)

    def reconfigure(self, hooks: Iterable[str]) -> None:
        """
        The hooks a reload configures. Each has its job series from the start,
        at zero; a removed hook's series stay, as its last jobs may still run.
        """
        self._hooks = frozenset(hooks)
        for name in sorted(self._hooks):
            self._hook(name)

    def _hook(self, name: str) -> _HookMetrics:
        children = self._by_hook.get(name)
        if children is None:
            children = _HookMetrics(
                queued=self._queued.labels(name),
                running=self._running.labels(name),
                wait=self._wait.labels(name),
                duration=self._duration.labels(name),
                ended={
                    state: self._jobs.labels(name, state.value) for state in sorted(QUEUED_ENDS)
                },
            )
            self._by_hook[name] = children
        return children

    def delivery(self, hook: str, outcome: DeliveryOutcome) -> None:
        """Count a call to /hooks/C{hook}, named as its URL has it, that came to C{outcome}."""
        if hook not in self._hooks:
            hook = UNKNOWN_HOOK
        kind, reason = delivery_labels(outcome)
        key = (hook, kind, reason)
        child = self._delivery_children.get(key)
        if child is None:
            child = self._delivery_children[key] = self._deliveries.labels(hook, kind, reason)
        child.inc()

    def delivered(self, result: T, hook: str) -> T:
        """
        L{delivery} as a callback for both outcomes of the engine's C{accept}
        (an L{Added}, or a Failure): C{result} goes on unchanged.
        """
        if isinstance(result, Added | Failure):
            self.delivery(hook, result)
        return result

    def journal_committed(self, seconds: float) -> None:
        """
        A batch of the journal's took C{seconds}: the C{on_commit} of
        L{hookdaemon.journal_worker.JournalWorker}.
        """
        self._commit.observe(seconds)

    def queued(self, job: Job) -> None:
        children = self._hook(job.hook.name)
        children.queued.inc()
        self._waiting[job.id] = (children, self._clock())

    def superseded(self, old: Job, new: Job) -> None:
        self._stop_waiting(old).ended[JobState.SUPERSEDED].inc()

    def started(self, job: Job) -> None:
        now = self._clock()
        waiting = self._waiting.pop(job.id, None)
        if waiting is None:
            children = self._hook(job.hook.name)
        else:
            children, queued_at = waiting
            children.queued.dec()
            children.wait.observe(now - queued_at)
        children.running.inc()
        self._started[job.id] = (children, now)

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        running = self._started.pop(job.id, None)
        if running is None:
            # It never started: cancelled while queued, or its start could not be recorded.
            children = self._stop_waiting(job)
        else:
            children, started_at = running
            children.running.dec()
            children.duration.observe(self._clock() - started_at)
        children.ended[outcome.state].inc()

    def _stop_waiting(self, job: Job) -> _HookMetrics:
        waiting = self._waiting.pop(job.id, None)
        if waiting is None:
            return self._hook(job.hook.name)
        waiting[0].queued.dec()
        return waiting[0]

    def exposition(self, accept: bytes | None = None) -> tuple[bytes, bytes]:
        """
        The body of C{GET /metrics} and its content type: the Prometheus text
        format, or OpenMetrics when the C{Accept} header asks for it (as
        Prometheus's own scrapes do).
        """
        encode, content_type = choose_encoder(accept.decode("latin-1") if accept else "")
        return encode(self.registry), content_type.encode("latin-1")
