"""
The job engine: the one owner of every job's life, from an accepted delivery
to the record of how its run ended.

    accept -> journal -> queue -> (payload file, start recorded) -> run -> ended

Everything else hears of it as lifecycle events (L{hookdaemon.lifecycle}).
"""

from __future__ import annotations

import os
import pwd
from collections import Counter

from attrs import Factory, define
from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, fail
from twisted.logger import Logger

from hookdaemon.config import Config, HookConfig
from hookdaemon.delivery import Delivery
from hookdaemon.field_rules import refusal
from hookdaemon.forges import FORGES
from hookdaemon.hooksfile.invocation import Invocation
from hookdaemon.job_state import JobState
from hookdaemon.jobs import Given, JobQueue, JobRunner, QueueFullError
from hookdaemon.journal import Added, JobRecord, Journal, NewDelivery, PayloadDroppedError
from hookdaemon.journal_worker import JournalWorker, journal_failed
from hookdaemon.leftovers import end_leftovers
from hookdaemon.lifecycle import IJobObserver, Job, JobOutcome
from hookdaemon.output import OutputLogs
from hookdaemon.private_files import private_directory, write_passed_file, write_private
from hookdaemon.reactors import EngineReactor

log = Logger()


def _account() -> tuple[str, str]:
    """The daemon's user's home directory and name ("/" and none for a uid with no entry)."""
    try:
        entry = pwd.getpwuid(os.getuid())
    except KeyError:
        return "/", ""
    return entry.pw_dir, entry.pw_name


@define(eq=False)
class _Live:
    """A job not yet over, and its state."""

    job: Job
    state: JobState = JobState.QUEUED
    over: Deferred[None] | None = None
    """Made only for a running job the daemon, stopping, waits for; fired when it ends."""
    cancelled: bool = False
    """Cancelled while its start was being recorded: it ends cancelled without running."""
    abandoned: bool = False
    """
    Set when the daemon's stop_grace ends while the job's start is still being
    recorded (the journal cannot commit): it is not run, and stays queued.
    """
    waiters: list[Deferred[JobOutcome]] = Factory(list)
    """Callers waiting for the job's end (L{Dispatcher.finished})."""

    def tell(self, outcome: JobOutcome) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            waiter.callback(outcome)


NOT_STARTED_CANCELLED = "cancelled before it started"


class NoJobError(LookupError):
    """The journal holds no job by that id."""


class ReplayError(Exception):
    """A job cannot be run again: the sentence says why (its body is gone, its hook)."""


class Dispatcher(Service):
    """
    Accepts deliveries, journals them, queues their jobs, runs them and tells
    C{events} of each step, as a service that recovers the journal's jobs when
    it starts and drains the running ones when it stops.

    The state of every live job is in L{_live}, and nothing else changes it
    (the machine is drawn in L{hookdaemon.job_state}):

      - C{QUEUED}: set by L{_submit} once the delivery is committed (or for a
        job the journal still holds as queued at start); the job waits in the
        L{JobQueue}.
      - C{SUPERSEDED}: set by L{_superseded} when the queue drops a waiting job
        of a coalescing hook for a newer one. Final: the job leaves L{_live}.
      - C{RUNNING}: set by L{_run} once the journal holds its start and its
        payload file is written.
      - C{SUCCEEDED}, C{FAILED}, C{TIMED_OUT}, C{INTERRUPTED}: set by L{_run}
        from the runner's L{JobOutcome}. Final: the job leaves L{_live}.

    Jobs the journal holds that will never run (their hook is gone, or they
    fail today's delivery checks) are given their final state in the journal
    at start, without entering L{_live}.
    """

    def __init__(
        self,
        config: Config,
        journal: JournalWorker,
        outputs: OutputLogs,
        events: IJobObserver,
        reactor: EngineReactor,
    ) -> None:
        self._config = config
        self._journal = journal
        self._outputs = outputs
        self._events = events
        self._reactor = reactor
        self._live: dict[int, _Live] = {}
        self._adding: Counter[str] = Counter()
        """Deliveries per hook on their way into the journal, not yet queued."""
        self._runner: JobRunner | None = None
        self._queue: JobQueue | None = None
        self.stopping = False
        """Set while the daemon stops: deliveries get 503 so the forge tries again later."""

    @property
    def payload_dir(self) -> str:
        return os.path.join(self._config.daemon.state_dir, "payloads")

    @property
    def trouble(self) -> str | None:
        """Why deliveries cannot be taken now (for /healthz), or None."""
        if self.stopping:
            return "shutting down"
        fault = self._journal.fault
        if fault is not None:
            return f"the journal cannot commit: {fault}"
        return None

    def startService(self) -> None:
        super().startService()
        private_directory(self.payload_dir)
        # Built here, after twistd's --uid switch, so HOME and USER are the deploy user's.
        home, user = _account()
        self._runner = JobRunner(self._reactor, self._outputs.logs, home, self._events, user)
        self._queue = JobQueue(
            self._config.daemon.max_parallel,
            lambda job: Deferred.fromCoroutine(self._run(job)),
            self._reactor,
            self._superseded,
        )
        # Queued after the journal's start, so recovery comes before any
        # delivery that arrives once the reactor runs.
        now = self._reactor.seconds()

        def recover(
            journal: Journal,
        ) -> tuple[list[tuple[int, int]], list[JobRecord], list[JobRecord]]:
            leftovers = journal.leftovers()  # read before recover() marks them interrupted
            interrupted: list[int] = []
            pending = journal.recover(now, interrupted)
            ended = [journal.get(job_id) for job_id in interrupted]
            return leftovers, pending, [record for record in ended if record is not None]

        # A write: if the journal cannot commit, recovery waits until it can.
        self._journal.write(recover).addCallback(
            lambda found: Deferred.fromCoroutine(self._recover(*found))
        ).addErrback(journal_failed, self._reactor)
        for name, hook in self._config.hooks.items():
            log.info("hook {name}: {forge} at {path}", name=name, forge=hook.forge, path=hook.path)

    def reconfigure(self, config: Config) -> None:
        """
        Take deliveries as a reloaded configuration says. Jobs already taken keep
        the hook configuration they were accepted under, steps and all.
        """
        self._config = config
        if self._queue is not None:
            self._queue.allow(config.daemon.max_parallel)

    def accept(
        self, hook: HookConfig, delivery: Delivery, body: bytes, invocation: bytes | None = None
    ) -> Deferred[Added]:
        """
        Journal a delivery and queue its job; fires once it is on disk, or fails
        with L{QueueFullError} when a C{burst = queue} hook has C{max_queued} waiting.
        A hooks-file hook's call comes with its C{invocation} (L{Invocation.to_json}).
        """
        if hook.burst == "queue":
            assert self._queue is not None, "deliveries arrive only once the service runs"
            waiting = self._queue.waiting(hook.name) + self._adding[hook.name]
            if waiting >= hook.max_queued:
                return fail(QueueFullError(f"{waiting} jobs of this hook are waiting already"))
        new = NewDelivery(hook.name, delivery, body, self._reactor.seconds(), invocation)
        self._adding[hook.name] += 1
        committed = self._journal.add(new)

        def added(result: object) -> object:
            self._adding[hook.name] -= 1
            return result

        committed.addBoth(added)

        def queue(added: Added) -> Added:
            if added.duplicate:
                log.info(
                    "hook {hook}: delivery {id} is a duplicate of job {job}",
                    hook=hook.name,
                    id=delivery.delivery_id,
                    job="(pruned)" if added.job_id is None else added.job_id,
                )
            else:
                assert added.job_id is not None, "a new delivery has a job"
                self._submit(added.job_id, hook, delivery)
            return added

        committed.addCallback(queue)
        # The request may be cancelled (client gone); the job must not be.
        answer: Deferred[Added] = Deferred()
        committed.addBoth(answer.callback)  # a Failure errbacks
        return answer

    def ignored(self, hook: HookConfig, delivery: Delivery, reason: str) -> None:
        """
        Record a genuine delivery the hook's filters did not want, and why, for
        the job API ("why didn't that push run?"); its answer does not wait for it.
        """
        now = self._reactor.seconds()
        keep = self._config.daemon.history if hook.history is None else hook.history
        self._journal.record_if_possible(
            lambda journal: journal.ignored(hook.name, delivery, reason, now, keep),
            f"hook {hook.name}'s ignored delivery",
        )

    def replay(self, job_id: int) -> Deferred[JobRecord]:
        """
        Run a job's delivery again, with its body, as a new job (a person's
        request); fires with the new job's record once it is in the journal.
        Fails with L{ReplayError} saying why it cannot be, L{NoJobError} for
        a job the journal does not hold, or as a delivery would (503).
        """
        if self.stopping:
            return fail(ReplayError("the daemon is stopping"))
        hooks = dict(self._config.hooks)
        now = self._reactor.seconds()

        def add(journal: Journal) -> JobRecord:
            record = journal.get(job_id)
            if record is None:
                raise NoJobError(f"no job {job_id}")
            if record.hook not in hooks:
                raise ReplayError(f"hook {record.hook} is no longer configured")
            if record.state is JobState.IGNORED:
                raise ReplayError(
                    f"job {job_id} is an ignored delivery ({record.reason}): it has no body to run"
                )
            try:
                return journal.replay(job_id, now)
            except PayloadDroppedError as e:
                raise ReplayError(f"{e}, so it cannot run again") from None

        def queue(record: JobRecord) -> JobRecord:
            hook = hooks[record.hook]
            log.info(
                "job {job} for hook {hook} queued: a replay of job {of}",
                job=record.id,
                hook=hook.name,
                of=job_id,
            )
            self._submit(record.id, hook, record.delivery)
            return record

        return self._journal.call(add).addCallback(queue)

    def cancel(self, job_id: int) -> JobState | None:
        """
        Stop a job: a waiting one leaves the queue and ends C{cancelled} now
        (returned); a running one gets its timeout's TERM, then KILL, and ends
        C{cancelled} once it has stopped (C{RUNNING} returned). None: the job
        is not live (over, or unknown).
        """
        live = self._live.get(job_id)
        if live is None or self._runner is None or self._queue is None:
            return None
        if live.state is JobState.RUNNING:
            self._runner.cancel(live.job)
            return JobState.RUNNING
        if self._queue.withdraw(job_id) is None:
            live.cancelled = True  # its start is being recorded: _run ends it
            return JobState.RUNNING
        log.info("job {job} cancelled before it started", job=job_id)
        del self._live[job_id]
        live.state = JobState.CANCELLED
        self._events.ended(live.job, JobOutcome(JobState.CANCELLED, reason=NOT_STARTED_CANCELLED))
        return JobState.CANCELLED

    def finished(self, job_id: int) -> Deferred[JobOutcome] | None:
        """
        Fires with how a live job ends (C{superseded} too), for a caller that
        answers with it (an C{include-command-output-in-response} hook); None
        when the job is not live. Cancelling it stops the wait, not the job.
        """
        live = self._live.get(job_id)
        if live is None:
            return None
        waiter: Deferred[JobOutcome] = Deferred(lambda d: live.waiters.remove(d))
        live.waiters.append(waiter)
        return waiter

    def _submit(self, job_id: int, hook: HookConfig, delivery: Delivery) -> None:
        payload_path = os.path.join(self.payload_dir, f"{job_id}.body")
        job = Job(id=job_id, hook=hook, delivery=delivery, payload_path=payload_path)
        self._live[job_id] = _Live(job)
        self._events.queued(job)
        assert self._queue is not None, "deliveries arrive only once the service runs"
        self._queue.submit(job)

    def _superseded(self, old: Job, new: Job) -> None:
        live = self._live.pop(old.id)
        live.state = JobState.SUPERSEDED
        self._events.superseded(old, new)
        live.tell(JobOutcome(JobState.SUPERSEDED, reason=f"superseded by job {new.id}"))

    async def _run(self, job: Job) -> None:
        """Record the job's start, write its payload file, run it, and tell how it ended."""
        live = self._live[job.id]
        started = self._reactor.seconds()

        def start(journal: Journal) -> Given | bool | None:
            if live.abandoned:
                return False  # the daemon stops: the job stays queued for the next start
            journal.started(job.id, started)
            # HOOK_PAYLOAD is written from the journal, on its thread, only for
            # jobs that run: a superseded delivery never costs a file. ENOSPC
            # here undoes the start with the rest of its batch, to try again.
            if job.hook.hooks_file is None:
                write_private(job.payload_path, journal.payload(job.id))
                return None
            # A hooks-file hook's command gets no HOOK_PAYLOAD: only what its file passes.
            return self._given(job, journal.invocation(job.id), passed, problems)

        assert self._runner is not None
        outcome = JobOutcome(JobState.FAILED, reason="hookdaemon could not run it (see its log)")
        passed: list[str] = []
        """The files of a hooks-file hook's C{pass-file-to-command}, removed once it ends."""
        problems: list[str] = []
        """Why a file of those could not be written, for the job's log."""
        try:
            # A write the journal tries until it is on disk: a job never runs
            # unrecorded, and waits (without a restart) while the disk is full.
            given = await self._journal.write(start)
        except Exception:
            if live.abandoned:
                return  # the stop let go of it, and the journal then gave up
            log.failure("job {job}: cannot record its start", job=job.id)
        else:
            if live.abandoned:
                # Let go of by the stop (_abandon); the file, if its start
                # went in just now, is the next start's to remove.
                return
            try:
                live.state = JobState.RUNNING
                self._events.started(job)
                if live.cancelled:
                    outcome = JobOutcome(JobState.CANCELLED, reason=NOT_STARTED_CANCELLED)
                else:
                    for problem in problems:
                        self._outputs.logs[job.hook.name].note(job.id, problem)
                    assert given is None or isinstance(given, Given)
                    outcome = await self._runner.run(job, given)
            except Exception:
                log.failure("job {job} crashed", job=job.id)
        # Gone before the end is told; a file that cannot be removed must
        # not keep the job from ending (or a stopping daemon from stopping).
        for path in (job.payload_path, *passed):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            except OSError:
                log.failure("job {job}: cannot remove {path}", job=job.id, path=path)
        live.state = outcome.state
        del self._live[job.id]
        self._events.ended(job, outcome)
        live.tell(outcome)
        if live.over is not None:
            live.over.callback(None)

    def _given(
        self, job: Job, invocation: bytes | None, passed: list[str], problems: list[str]
    ) -> Given:
        """
        On the journal's thread: what a hooks-file hook's call gives its
        command, its files written. A file that cannot be written is left out
        (its reason in C{problems}), as webhook leaves it out (handleHook); a
        start is not retried for it, as it is for the journal's own writes.
        """
        if invocation is None:
            # No invocation kept: a job journaled before hooks files (none can be).
            problems.append("no invocation kept for this job: its command runs without one")
            return Given()
        call = Invocation.from_json(invocation)
        hooks_file = job.hook.hooks_file
        assert hooks_file is not None
        directory = job.hook.workdir if hooks_file.command_working_directory else None
        environment = list(call.environment)
        for passed_file in call.files:
            try:
                path = write_passed_file(passed_file.variable, passed_file.data, directory)
            except OSError as e:
                problems.append(
                    f"cannot write the file for {passed_file.variable}: {e.strerror or e};"
                    " the command runs without it"
                )
                continue
            passed.append(path)
            environment.append((passed_file.variable, path))
        return Given(call.arguments, tuple(environment))

    def _abandon(self, live: _Live) -> None:
        """
        Let go of a job the stopping daemon gave up waiting for: it never ran, so
        the journal holds it as queued (or, if its start went in as it was let
        go, as running: the next start then treats it as interrupted).
        """
        live.abandoned = True
        log.info(
            "job {job}: not started, the daemon stops; it runs at the next start", job=live.job.id
        )
        del self._live[live.job.id]
        if live.over is not None:
            live.over.callback(None)

    async def _recover(
        self,
        leftovers: list[tuple[int, int]],
        pending: list[JobRecord],
        interrupted: list[JobRecord],
    ) -> None:
        """End what a killed daemon left running, then queue the journal's jobs again."""
        await end_leftovers(self._reactor, leftovers)
        for record in interrupted:
            self._recovered(record, JobOutcome(JobState.INTERRUPTED, reason=record.reason))
        for record in pending:
            self._resume(record)

    def _recovered(self, record: JobRecord, outcome: JobOutcome) -> None:
        """Tell of a job that ended as the daemon starts, if its hook is still configured."""
        hook = self._config.hooks.get(record.hook)
        if hook is None:
            return
        payload_path = os.path.join(self.payload_dir, f"{record.id}.body")
        job = Job(id=record.id, hook=hook, delivery=record.delivery, payload_path=payload_path)
        self._events.recovered(job, outcome)

    def _resume(self, record: JobRecord) -> None:
        """Queue again a job the journal holds as queued after a restart, oldest first."""
        hook = self._config.hooks.get(record.hook)
        if hook is None:
            log.warn(
                "job {job}: hook {hook} is no longer configured; not run",
                job=record.id,
                hook=record.hook,
            )
            self._end_unrun(
                record.id, JobState.INTERRUPTED, f"hook {record.hook} is no longer configured"
            )
            return
        # An older release journaled it without today's checks (an after of
        # --upload-pack=... was accepted): it is held to them before it runs.
        forge = FORGES.get(record.delivery.forge, FORGES["generic"])
        reason = refusal(record.delivery, forge.delivery_ids, forge.events)
        if reason is not None:
            line = f"refused on resume: {reason}; not run"
            log.warn("hook {hook}: job {job} {line}", hook=record.hook, job=record.id, line=line)
            self._outputs.logs[record.hook].note(record.id, line)
            self._end_unrun(record.id, JobState.FAILED, line, f"hookdaemon {line}\n".encode())
            self._recovered(record, JobOutcome(JobState.FAILED, reason=line))
            return
        if record.retry_of is None:
            log.info("job {job} for hook {hook} resumed", job=record.id, hook=record.hook)
        else:
            log.info(
                "job {job} for hook {hook} resumed: attempt {attempt} of max_attempts {max}"
                " at job {first}'s delivery, the attempt before it interrupted",
                job=record.id,
                hook=record.hook,
                attempt=record.attempt,
                max=self._config.daemon.max_attempts,
                first=record.retry_of,
            )
        self._submit(record.id, hook, record.delivery)

    def _give_up_running(self) -> None:
        """stop_grace is over: stop the running jobs, and let go of those not yet started."""
        assert self._runner is not None
        for live in list(self._live.values()):
            if live.state is JobState.QUEUED and live.over is not None:
                self._abandon(live)
        self._runner.stop_all()

    def _end_unrun(self, job_id: int, state: JobState, reason: str, tail: bytes = b"") -> None:
        """
        Give a journaled job that will not run its final state. It never became
        a live job (its hook may be gone), so the journal is all there is to tell.
        """
        now = self._reactor.seconds()

        def ended(journal: Journal) -> None:
            journal.finished(job_id, state, None, None, tail, now, reason)

        self._journal.record(ended, f"job {job_id} as {state}")

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._drain())

    async def _drain(self) -> None:
        """
        Refuse new deliveries (503), let running jobs finish for C{stop_grace}
        seconds, then stop them (they end interrupted); waiting jobs stay queued
        in the journal and run at the next start.
        """
        self.stopping = True
        if self._runner is None or self._queue is None:
            return
        self._queue.hold()
        # Jobs the queue started, whether or not their start is recorded yet
        # (and not one that ended this turn, before the queue heard of it).
        running = []
        for job in self._queue.running:
            live = self._live.get(job.id)
            if live is None:
                continue
            if live.state is JobState.QUEUED and self._journal.fault is not None:
                # Its start cannot be recorded: nothing of it ran, and waiting
                # stop_grace for the disk would only hold the stop up.
                self._abandon(live)
                continue
            if live.over is None:
                live.over = Deferred()
            running.append(live.over)
        if not running:
            return
        grace = self._config.daemon.stop_grace
        log.info(
            "stopping: waiting up to {grace:g}s for {count} running job(s)",
            grace=grace,
            count=len(running),
        )
        deadline = self._reactor.callLater(grace, self._give_up_running)
        await DeferredList(running)
        if deadline.active():
            deadline.cancel()
