"""The service that wires config, web, jobs and output logs together."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    fail,
    gatherResults,
    maybeDeferred,
    succeed,
)
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from hookdaemon.config import Config, HookConfig
from hookdaemon.delivery import Delivery
from hookdaemon.disk_writer import DiskWriter
from hookdaemon.endpoint_text import endpoint_base_url, scrubbed
from hookdaemon.field_rules import refusal
from hookdaemon.forges import FORGES
from hookdaemon.job_views import job_json
from hookdaemon.jobs import Job, JobQueue, JobRunner, QueueFullError
from hookdaemon.journal import Added, JobRecord, Journal, JournalUnusableError, NewDelivery
from hookdaemon.journal_worker import JournalWorker
from hookdaemon.leftovers import members, signal_leftover
from hookdaemon.output import OutputLog
from hookdaemon.site import HookSite
from hookdaemon.web import HookApp, access_log_formatter

log = Logger()

LEFTOVER_GRACE = 10.0
"""Seconds a leftover process group gets between SIGTERM and SIGKILL."""
LEFTOVER_POLL = 0.05

RECENT_JOBS = 1000
"""Finished jobs kept in memory, besides the journal, for tests and introspection."""


def _home() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return "/"


class HookService(Service):
    """Listens on the configured endpoints and runs accepted deliveries as jobs."""

    def __init__(self, config: Config, reactor: Any = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.config = config
        self._reactor = reactor
        self.journal = JournalWorker(
            reactor,
            os.path.join(config.daemon.state_dir, "journal.sqlite"),
            config.daemon.payload_budget,
        )
        self._outputs: dict[str, OutputLog] = {}
        self._writer: DiskWriter | None = None
        self._ports: list[IListeningPort] = []
        self.jobs: dict[int, Job] = {}
        self._ended_jobs: deque[int] = deque()
        """Ids of the jobs in L{jobs} that have ended, in the order they ended."""
        self._runner: JobRunner | None = None
        self._queue: JobQueue | None = None
        self._adding: Counter[str] = Counter()
        """Deliveries per hook on their way into the journal, not yet queued."""
        self.stopping = False
        self.app = HookApp(
            config.hooks,
            self,
            self,
            config.daemon.status_token,
            trusted_proxies=config.daemon.trusted_proxies,
            clock=reactor,
        )
        self.site = HookSite(
            self.app.resource(), config.daemon, reactor, logFormatter=access_log_formatter
        )
        self.listening: Deferred[list[IListeningPort]] | None = None

    @property
    def payload_dir(self) -> str:
        return os.path.join(self.config.daemon.state_dir, "payloads")

    def output(self, hook_name: str) -> OutputLog:
        return self._outputs[hook_name]

    def privilegedStartService(self) -> None:
        # Bind before twistd drops privileges, so port 80/443 work with --uid.
        super().privilegedStartService()
        self.listening = self._listen()
        if self.listening.called and not self._ports:
            # Binding is synchronous for tcp/unix/ssl: refuse to start at all, so
            # twistd exits non-zero and a supervisor sees the failure.
            raise SystemExit(1)

    def startService(self) -> None:
        super().startService()
        daemon = self.config.daemon
        os.makedirs(self.payload_dir, mode=0o700, exist_ok=True)
        self._writer = DiskWriter(self._reactor.callFromThread)
        for name in self.config.hooks:
            self._outputs[name] = OutputLog(
                daemon.log_dir,
                name,
                daemon.log_max_bytes,
                daemon.log_keep,
                later=lambda flush: self._reactor.callLater(0, flush),
                writer=self._writer,
            )
        # Built here, after twistd's --uid switch, so HOME is the deploy user's.
        self._runner = JobRunner(self._reactor, self._outputs, _home(), self._step_started)
        self._queue = JobQueue(
            daemon.max_parallel,
            lambda job: Deferred.fromCoroutine(self._run(job)),
            self._reactor,
            self._superseded,
        )
        # Calls run in order on the journal's thread: recovery comes before any
        # delivery that arrives once the reactor runs.
        self.journal.start().addErrback(self._journal_failed)
        now = self._reactor.seconds()

        def recover(journal: Journal) -> tuple[list[tuple[int, int]], list[JobRecord]]:
            leftovers = journal.leftovers()  # read before recover() marks them interrupted
            return leftovers, journal.recover(now)

        self.journal.call(recover).addCallback(
            lambda found: Deferred.fromCoroutine(self._recover(*found))
        ).addErrback(self._journal_failed)
        if self.listening is None:
            self.listening = self._listen()
        for name, hook in self.config.hooks.items():
            log.info("hook {name}: {forge} at {path}", name=name, forge=hook.forge, path=hook.path)

    def _listen(self) -> Deferred[list[IListeningPort]]:
        def listen(description: str) -> Deferred[IListeningPort]:
            def bind() -> Deferred[IListeningPort]:
                endpoint = serverFromString(self._reactor, description)
                return endpoint.listen(self.site)  # type: ignore[no-any-return]

            # The address only: an endpoint string's options may hold a password.
            shown = endpoint_base_url(description)

            def listening(port: IListeningPort) -> IListeningPort:
                self._ports.append(port)
                log.info("listening on {address}", address=shown)
                return port

            def failed(failure: Failure) -> Failure:
                log.critical(
                    "cannot listen on {address}: {error}",
                    address=shown,
                    error=scrubbed(failure.getErrorMessage(), description),
                )
                return failure

            return maybeDeferred(bind).addCallbacks(listening, failed)

        listening = gatherResults([listen(d) for d in self.config.daemon.listen])

        def stop(failure: Failure) -> Failure:
            # A daemon that cannot take deliveries must not look healthy.
            self._reactor.callWhenRunning(self._reactor.stop)
            return failure

        listening.addErrback(stop)
        listening.addErrback(lambda failure: None)  # logged above, once per endpoint
        return listening

    def accept(self, hook: HookConfig, delivery: Delivery, body: bytes) -> Deferred[Added]:
        """
        Journal a delivery and queue its job; fires once it is on disk, or fails
        with L{QueueFullError} when a C{burst = queue} hook has C{max_queued} waiting.
        """
        if hook.burst == "queue":
            assert self._queue is not None, "deliveries arrive only once the service runs"
            waiting = self._queue.waiting(hook.name) + self._adding[hook.name]
            if waiting >= hook.max_queued:
                return fail(QueueFullError(f"{waiting} jobs of this hook are waiting already"))
        new = NewDelivery(hook.name, delivery, body, self._reactor.seconds())
        self._adding[hook.name] += 1
        committed = self.journal.add(new)

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
                    job=added.job_id,
                )
            else:
                self._submit(added.job_id, hook, delivery)
            return added

        committed.addCallback(queue)
        # The request may be cancelled (client gone); the job must not be.
        answer: Deferred[Added] = Deferred()

        def tell(result: Added | Failure) -> None:
            answer.callback(result)  # a Failure errbacks

        committed.addBoth(tell)
        return answer

    def _submit(self, job_id: int, hook: HookConfig, delivery: Delivery) -> None:
        payload_path = os.path.join(self.payload_dir, f"{job_id}.body")
        job = Job(id=job_id, hook=hook, delivery=delivery, payload_path=payload_path)
        self.jobs[job_id] = job
        log.info(
            "hook {hook}: job {job} queued for {forge} {event} {ref} {after} (delivery {id})",
            hook=hook.name,
            job=job_id,
            forge=delivery.forge,
            event=delivery.event,
            ref=delivery.ref or "-",
            after=delivery.after or "-",
            id=delivery.delivery_id or "-",
        )
        job.finished.addCallback(lambda _: self._ended(job))
        assert self._queue is not None, "deliveries arrive only once the service runs"
        self._queue.submit(job)

    def _step_started(self, job: Job, process_group: int) -> None:
        self.journal.record(
            lambda journal: journal.step_started(job.id, process_group),
            f"job {job.id}'s process group",
        )

    async def _recover(self, leftovers: list[tuple[int, int]], pending: list[JobRecord]) -> None:
        """End what a killed daemon left running, then queue the journal's jobs again."""
        for job_id, group in leftovers:
            if not signal_leftover(group, job_id, signal.SIGTERM):
                continue
            log.warn(
                "job {job}: its process group {group} outlived the last daemon; ending it",
                job=job_id,
                group=group,
            )
            for signum in (signal.SIGKILL, None):
                for _ in range(int(LEFTOVER_GRACE / LEFTOVER_POLL)):
                    if not members(group, job_id):
                        break
                    await deferLater(self._reactor, LEFTOVER_POLL)
                if signum is not None:
                    signal_leftover(group, job_id, signum)
        self._resume(pending)

    def _resume(self, pending: list[JobRecord]) -> None:
        """Queue again what the journal holds as queued after a restart, oldest first."""
        for record in pending:
            hook = self.config.hooks.get(record.hook)
            if hook is None:
                log.warn(
                    "job {job}: hook {hook} is no longer configured; not run",
                    job=record.id,
                    hook=record.hook,
                )
                self._forget_job(record.id)
                continue
            # An older release journaled it without today's checks (an after of
            # --upload-pack=... was accepted): it is held to them before it runs.
            forge = FORGES.get(record.delivery.forge, FORGES["generic"])
            reason = refusal(record.delivery, forge.delivery_ids, forge.events)
            if reason is not None:
                self._refuse_on_resume(record, reason)
                continue
            log.info("job {job} for hook {hook} resumed", job=record.id, hook=record.hook)
            self._submit(record.id, hook, record.delivery)

    def _refuse_on_resume(self, record: JobRecord, reason: str) -> None:
        """A journaled job that today's delivery checks refuse ends failed, never run."""
        line = f"refused on resume: {reason}; not run"
        log.warn("hook {hook}: job {job} {line}", hook=record.hook, job=record.id, line=line)
        self._outputs[record.hook].note(record.id, line)
        self._end_unrun(record.id, "failed", f"hookdaemon {line}\n".encode(), "refused")

    def _superseded(self, old: Job, new: Job) -> None:
        # Not logged: in a burst that is a line per delivery, and the journal
        # (GET /jobs/ID: covered_by, covers) already says it.
        now = self._reactor.seconds()
        self.journal.record(
            lambda journal: journal.superseded(old.id, new.id, now), f"job {old.id} superseded"
        )

    def recent(self, hook: str | None, limit: int) -> Deferred[list[dict[str, Any]]]:
        """The newest jobs, as the status API shows them."""
        return self.journal.call(
            lambda journal: [
                job_json(record, journal.covers(record.id), journal.covering(record.id))
                for record in journal.recent(hook, limit)
            ]
        )

    def one(self, job_id: int) -> Deferred[dict[str, Any] | None]:
        def read(journal: Journal) -> dict[str, Any] | None:
            record = journal.get(job_id)
            if record is None:
                return None
            return job_json(record, journal.covers(job_id), journal.covering(job_id))

        return self.journal.call(read)

    def job_output(self, job_id: int) -> Deferred[bytes | None]:
        """A running job's output so far, or a finished one's recorded tail."""
        job = self.jobs.get(job_id)
        if job is not None and job.state == "running":
            return succeed(job.tail)

        def read(journal: Journal) -> bytes | None:
            record = journal.get(job_id)
            return None if record is None else record.output_tail

        return self.journal.call(read)

    def follow(self, job_id: int, write: Callable[[bytes], None]) -> Deferred[bool]:
        job = self.jobs.get(job_id)
        if job is None or job.state not in ("queued", "running"):
            # Finished (or unknown): its recorded tail is all there is.
            def written(output: bytes | None) -> bool:
                if output is not None:
                    write(output)
                return output is not None

            return self.job_output(job_id).addCallback(written)
        write(job.tail)
        job.followers.append(write)

        def stop_following(result: object) -> object:
            if write in job.followers:
                job.followers.remove(write)
            return result

        def ended(_: object) -> None:
            if not following.called:
                following.callback(True)

        # Cancelled when the reader goes away; fires when the job ends.
        following: Deferred[bool] = Deferred(lambda cancelled: None)
        following.addBoth(stop_following)
        job.finished.addCallback(ended)
        return following

    def _forget_job(self, job_id: int) -> None:
        self._end_unrun(job_id, "interrupted", b"", "interrupted")

    def _end_unrun(self, job_id: int, state: str, tail: bytes, what: str) -> None:
        """Record the end of a journaled job that will not run."""
        now = self._reactor.seconds()

        def ended(journal: Journal) -> None:
            journal.finished(job_id, state, None, None, tail, now)

        self.journal.record(ended, f"job {job_id} as {what}")

    def _journal_failed(self, failure: Failure) -> None:
        if failure.check(JournalUnusableError):
            # The message says what to do; a traceback would only bury it.
            log.critical("journal: {error}; stopping", error=failure.getErrorMessage())
        else:
            log.failure("journal: cannot open or recover; stopping", failure)
        self._reactor.callWhenRunning(self._reactor.stop)

    async def _run(self, job: Job) -> None:
        """Run a job, recording its start and end in the journal."""
        started = self._reactor.seconds()

        def start(journal: Journal) -> None:
            journal.started(job.id, started)
            # HOOK_PAYLOAD is written from the journal, on its thread, only for
            # jobs that run: a superseded delivery never costs a file.
            with open(job.payload_path, "wb") as f:
                f.write(journal.payload(job.id))

        assert self._runner is not None
        try:
            await self.journal.call(start)
            await self._runner.run(job)
        finally:
            result = job.result
            tail = job.tail
            state = job.state if job.state not in ("queued", "running") else "failed"
            ended = self._reactor.seconds()
            history = self.config.daemon.history

            def finish(journal: Journal) -> None:
                journal.finished(
                    job.id,
                    state,
                    result.exit_code if result else None,
                    result.signal if result else None,
                    tail,
                    ended,
                )

            def prune(journal: Journal) -> None:
                # Every run: the rows since the last run go in small steps, where a
                # prune every few runs stalled the journal (and every delivery's
                # answer) for tens of milliseconds under load.
                journal.prune(job.hook.name, history)

            self.journal.record(finish, f"the end of job {job.id}")
            # An operation of its own, so a prune that fails never undoes the end
            # (which would run the job again after a restart).
            self.journal.record(prune, f"the history of hook {job.hook.name}")

    def _ended(self, job: Job) -> None:
        """
        Forget a finished or superseded job's payload file, and keep at most
        L{RECENT_JOBS} ended jobs in memory, forgetting the ones that ended first.
        """
        if job.state != "superseded":  # a superseded job never started: it has no file
            with contextlib.suppress(FileNotFoundError):
                os.remove(job.payload_path)
        self._ended_jobs.append(job.id)
        while len(self._ended_jobs) > RECENT_JOBS:
            self.jobs.pop(self._ended_jobs.popleft(), None)

    def addresses(self) -> list[Any]:
        return [port.getHost() for port in self._ports]

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        """
        Refuse new deliveries (503), let running jobs finish for C{stop_grace}
        seconds, then stop them (they end interrupted); waiting jobs stay queued
        in the journal and run at the next start.
        """
        self.stopping = True
        if self._runner is not None and self._queue is not None:
            self._queue.hold()
            running = [job.finished for job in self._queue.running]
            if running:
                log.info(
                    "stopping: waiting up to {grace:g}s for {count} running job(s)",
                    grace=self.config.daemon.stop_grace,
                    count=len(running),
                )
                deadline = self._reactor.callLater(
                    self.config.daemon.stop_grace, self._runner.stop_all
                )
                await DeferredList(running)
                if deadline.active():
                    deadline.cancel()
        for port in self._ports:
            await maybeDeferred(port.stopListening)
        self._ports = []
        for output in self._outputs.values():
            output.close()
        self._outputs.clear()
        if self._writer is not None:
            await self._writer.stop()
        await self.journal.stop()
