"""
Jobs: one at a time per hook, at most C{max_parallel} at once over all hooks.

A job runs its hook's steps in order and stops at the first failure; a job over
its C{timeout} gets SIGTERM on its whole process group, then SIGKILL.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections import deque
from collections.abc import Callable, Mapping

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from hookdaemon.command import (
    BASE_PATH,
    base_environment,
    delivery_environment,
    step_environment,
)
from hookdaemon.config import HookConfig
from hookdaemon.hooksfile.invocation import program_path
from hookdaemon.job_state import JobState
from hookdaemon.leftovers import JOB_MARKER, live_members
from hookdaemon.lifecycle import IJobObserver, Job, JobOutcome
from hookdaemon.output import OutputLog, prefixed
from hookdaemon.preflight import RunAs, program_problem
from hookdaemon.process import RunningStep, StepResult, launch_prefix
from hookdaemon.reactors import RunnerReactor

log = Logger()

CAPTURE_BYTES = 16 * 1024 * 1024
"""
The most of a command's output an C{include-command-output-in-response} hook
answers with; the whole of it is in the job's log. webhook holds all of it.
"""


GROUP_POLL = 0.1
"""Seconds between looks at a stopped step's process group, while it has processes left."""
AFTER_KILL = 5.0
"""
Seconds a stopped step's group may take to go once it had its SIGKILL (a process
in uninterruptible sleep dies only when its I/O returns); then the job ends anyway.
"""


def group_alive(group: int) -> bool:
    """
    Has process group C{group} a process that is not a zombie? Signal 0 tells
    a group that is gone; /proc, where there is one, tells a group of zombies
    (orphans an init that does not reap leaves) from one still running.
    """
    if group <= 0:
        return False  # killpg(0) is the daemon's own group
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # there, but no member is ours to signal (one became root, say)
    try:
        return next(live_members(group), None) is not None
    except OSError:
        return True  # no /proc: signal 0 is all there is to go by


@frozen
class Given:
    """What a hooks-file hook's call gives its command, with its files written."""

    arguments: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    """C{pass-environment-to-command}'s variables, then each passed file's path."""


def file_hook_argv(hook: HookConfig, given: Given) -> list[str]:
    """A hooks-file hook's command line: its program (L{program_path}), then its arguments."""
    assert hook.hooks_file is not None
    definition = hook.hooks_file
    program = program_path(
        definition.execute_command, definition.command_working_directory, hook.workdir
    )
    return [program, *given.arguments]


def _nul_problem(argv: list[str], env: Mapping[str, str]) -> str | None:
    """No exec takes a NUL byte; a request can put one in a value (webhook's exec fails too)."""
    if any("\0" in word for word in argv):
        return "an argument holds a NUL byte, which no program can be given"
    if any("\0" in name or "\0" in value for name, value in env.items()):
        return "an environment variable holds a NUL byte, which no program can be given"
    return None


class JobRunner:
    """
    Runs one job's steps as child processes, writing their output to the hook's
    log and telling C{events} of each step and each chunk of output; the job's
    state is the dispatcher's to change, from the L{JobOutcome} a run returns.
    """

    def __init__(
        self,
        reactor: RunnerReactor,
        outputs: Mapping[str, OutputLog],
        home: str,
        events: IJobObserver,
        user: str = "",
    ) -> None:
        self._events = events
        self._reactor = reactor
        self._clock: IReactorTime = reactor
        self._outputs = outputs
        self._base = base_environment(home, user)
        self._user = RunAs.this_process()
        launch_prefix(home)  # find how to launch steps now, not on the reactor at the first step
        self._running: dict[int, tuple[Job, RunningStep]] = {}
        self._stopping = False
        self._halted: dict[int, JobState] = {}
        """
        Running jobs told to stop, and the state each then ends in: C{TIMED_OUT},
        C{CANCELLED} or C{INTERRUPTED}, whichever came first.
        """
        self._kills: dict[int, tuple[float, list[IDelayedCall]]] = {}
        """
        For a running step told to stop: when its first SIGTERM went, and the
        SIGKILLs due C{kill_grace} after each.
        """

    def run(self, job: Job, given: Given | None = None) -> Deferred[JobOutcome]:
        """
        Run the job's steps; a hooks-file hook's one step with what its call
        C{given} its command.
        """
        return Deferred.fromCoroutine(self._run(job, given))

    async def _run(self, job: Job, given: Given | None) -> JobOutcome:
        hook = job.hook
        output = self._outputs[hook.name]
        events = self._events
        if hook.hooks_file is not None:
            # What webhook gives the command, and none of hookdaemon's HOOK_*:
            # a hooks file names its own variables (the job's id is in the answer).
            given = given or Given()
            env = step_environment(
                {**self._base, JOB_MARKER: str(job.id)}, hook.env, dict(given.environment)
            )
        else:
            env = step_environment(
                self._base,
                hook.env,
                delivery_environment(hook.name, job.id, job.delivery, job.payload_path),
            )
        captured: bytearray | None = None
        if hook.hooks_file is not None and hook.hooks_file.include_command_output_in_response:
            captured = bytearray()

        def capture(data: bytes) -> None:
            assert captured is not None
            room = CAPTURE_BYTES - len(captured)
            if room > 0:
                captured.extend(data[:room])

        def on_timeout() -> None:
            self._note(job, f"timed out after {hook.timeout:g}s; sending SIGTERM")
            self._halt(job.id, JobState.TIMED_OUT)

        def sink(stream: str, block: bytes) -> None:
            output.write_block(job.id, stream, block)
            events.output(job, prefixed(block, stream.encode() + b" "))
            if output.congested and running is not None and not running.paused:
                # The disk is behind: let the child wait on its full pipe rather
                # than hold its output here.
                running.pause()
                output.when_relieved(running.resume)

        running: RunningStep | None = None

        deadline: IDelayedCall = self._clock.callLater(hook.timeout, on_timeout)
        result = StepResult(exit_code=0, signal=None)
        reason: str | None = None
        """Why the job failed, where it did, as its record says it."""
        number = 0
        try:
            if not os.path.isdir(hook.workdir):
                reason = f"workdir {hook.workdir} does not exist"
                self._note(job, reason)
                result = StepResult(exit_code=None, signal=None)
            for number, step in enumerate(hook.steps, 1):
                if not result.ok or self._halted_as(job.id) is not None:
                    number -= 1  # this step never started
                    break
                self._note(job, f"step {number}/{len(hook.steps)}: {step.text}")
                if given is not None:
                    argv = file_hook_argv(hook, given)
                    cannot = _nul_problem(argv, env)
                else:
                    argv = step.argv(env, hook.shell)
                    cannot = None
                if cannot is None and not hook.shell:
                    cannot = self._cannot_run(argv[0], hook.workdir, env)
                if cannot is not None:
                    self._note(job, f"step {number} cannot start: {cannot}")
                    reason = f"step {number}/{len(hook.steps)} cannot start: {cannot}"
                    result = StepResult(exit_code=None, signal=None)
                    break
                try:
                    running = RunningStep(
                        self._reactor,
                        argv,
                        env,
                        hook.workdir,
                        sink,
                        raw=None if captured is None else capture,
                    )
                except OSError as e:
                    # The exec itself refused (E2BIG: a value over 128 KiB a call put in).
                    why = os.strerror(e.errno) if e.errno else str(e)
                    self._note(job, f"step {number} cannot start: {why}")
                    reason = f"step {number}/{len(hook.steps)} cannot start: {why}"
                    result = StepResult(exit_code=None, signal=None)
                    break
                self._running[job.id] = (job, running)
                events.step_started(job, number, step, running.pid)
                try:
                    result = await running.ended
                    if job.id in self._kills:
                        await self._group_gone(job, running)
                finally:
                    del self._running[job.id]
                    for call in self._kills.pop(job.id, (0.0, []))[1]:
                        if call.active():
                            call.cancel()
                self._note(job, f"step {number} ended: {result.describe()}")
                events.step_ended(job, number, result)
                if not result.ok:
                    reason = f"step {number}/{len(hook.steps)} ({step.text}) {result.describe()}"
        finally:
            if deadline.active():
                deadline.cancel()
        # Told to stop (a timeout, a person, the daemon's stop), the job ends as
        # it was told, even if its step then exited 0, and no later step ran.
        halted = self._halted_as(job.id)
        self._halted.pop(job.id, None)
        where = f" in step {number}/{len(hook.steps)}" if number else " before its first step"
        if halted is JobState.TIMED_OUT:
            reason = f"timed out after {hook.timeout:g}s{where}"
        elif halted is JobState.CANCELLED:
            reason = f"cancelled{where}"
        elif halted is JobState.INTERRUPTED:
            reason = f"the daemon stopped{where}"
        state = halted or (JobState.SUCCEEDED if result.ok else JobState.FAILED)
        self._note(job, f"job {state}")
        await output.written()  # a finished job's output is in the file
        return JobOutcome(
            state,
            result,
            None if state is JobState.SUCCEEDED else reason,
            captured=None if captured is None else bytes(captured),
        )

    def _halted_as(self, job_id: int) -> JobState | None:
        """The state a job was told to stop in, if it was: no further step of it starts."""
        halted = self._halted.get(job_id)
        if halted is None and self._stopping:
            return JobState.INTERRUPTED
        return halted

    def _note(self, job: Job, text: str) -> None:
        """One of hookdaemon's own lines about the job: in its log, and to its followers."""
        output = self._outputs.get(job.hook.name)
        if output is not None:
            output.note(job.id, text)
        self._events.output(job, f"hookdaemon {text}\n".encode())

    def _cannot_run(self, program: str, workdir: str, env: Mapping[str, str]) -> str | None:
        return program_problem(program, workdir, env.get("PATH", BASE_PATH), self._user)

    def cancel(self, job: Job) -> None:
        """A person stopped the running job: as a timeout does, and it ends C{cancelled}."""
        self._note(job, "cancelled; sending SIGTERM")
        self._halt(job.id, JobState.CANCELLED)

    def _halt(self, job_id: int, state: JobState) -> None:
        """
        SIGTERM the job's current step group now, SIGKILL it C{kill_grace} later;
        it ends in C{state}, unless it was told to stop before.
        """
        if job_id not in self._running:
            # Between its steps a job never waits, so it is past its last: its
            # state is settled, and nothing is left to stop.
            return
        self._halted.setdefault(job_id, state)
        job, running = self._running[job_id]
        running.signal_group(signal.SIGTERM)

        def kill() -> None:
            # The group, not the leader: a grandchild that ignores SIGTERM and
            # holds none of the step's pipes outlives a leader that obeyed it.
            if not running.ended.called or (running.pid is not None and group_alive(running.pid)):
                self._note(job, f"still running {job.hook.kill_grace:g}s later; SIGKILL")
                running.signal_group(signal.SIGKILL)

        # Cancelled once the group is gone (_group_gone), not when the leader ends.
        call = self._clock.callLater(job.hook.kill_grace, kill)
        self._kills.setdefault(job_id, (self._clock.seconds(), []))[1].append(call)

    async def _group_gone(self, job: Job, running: RunningStep) -> None:
        """
        A step told to stop has ended: the job ends once what is left of its
        process group is gone too (it gets its SIGKILL C{kill_grace} after the
        SIGTERM, as the leader would have), so no process of a timed-out,
        cancelled or interrupted job outlives it, as README promises.
        """
        if running.pid is None:
            return
        halted_at, _ = self._kills[job.id]
        give_up = halted_at + job.hook.kill_grace + AFTER_KILL
        while group_alive(running.pid):
            if self._clock.seconds() >= give_up:
                self._note(
                    job,
                    f"process group {running.pid} still has processes {AFTER_KILL:g}s after"
                    " its SIGKILL; the job ends without waiting for them",
                )
                return
            await deferLater(self._clock, GROUP_POLL)

    def stop_all(self) -> None:
        """Stop every running job because the daemon is stopping: they end interrupted."""
        self._stopping = True
        for job_id in list(self._running):
            self._halt(job_id, JobState.INTERRUPTED)


class QueueFullError(Exception):
    """A C{burst = queue} hook already has C{max_queued} jobs waiting."""


class JobQueue:
    """
    Decides when queued jobs start: in arrival order, one per hook and
    C{max_parallel} in all. It changes no job's state: it calls C{run} to start
    a job and C{superseded} when coalescing drops one, and the dispatcher does
    the rest.
    """

    def __init__(
        self,
        max_parallel: int,
        run: Callable[[Job], Deferred[None]],
        clock: IReactorTime,
        superseded: Callable[[Job, Job], None] = lambda old, new: None,
    ) -> None:
        self._max_parallel = max_parallel
        self._run = run
        self._clock = clock
        self._superseded = superseded
        self._waiting: dict[str, deque[tuple[int, Job]]] = {}
        """Per hook, its waiting jobs with their place in the arrival order."""
        self._arrivals = itertools.count()
        self._busy: dict[str, Job] = {}
        self._held = False
        self._pump_due: IDelayedCall | None = None

    @property
    def running(self) -> list[Job]:
        return list(self._busy.values())

    def waiting(self, hook_name: str) -> int:
        """How many of C{hook_name}'s jobs wait to start."""
        return len(self._waiting.get(hook_name, ()))

    def submit(self, job: Job) -> None:
        """
        Queue C{job}; it starts on a later turn, so the request is answered first.
        Under C{burst = coalesce} it replaces the job of its hook that is waiting.
        """
        waiting = self._waiting.setdefault(job.hook.name, deque())
        if job.hook.burst == "coalesce" and waiting:
            _, old = waiting.popleft()  # coalescing leaves at most one waiting
            self._superseded(old, job)
        waiting.append((next(self._arrivals), job))
        if self._pump_due is None or not self._pump_due.active():
            # One pump per turn, however many deliveries the turn brought.
            self._pump_due = self._clock.callLater(0, self._pump)

    def allow(self, max_parallel: int) -> None:
        """Run up to C{max_parallel} jobs at once from now on (a reload); none is stopped."""
        self._max_parallel = max_parallel
        self._pump()

    def withdraw(self, job_id: int) -> Job | None:
        """Take a waiting job out of the queue (it was cancelled); the job, or None."""
        for name, waiting in self._waiting.items():
            for entry in waiting:
                if entry[1].id == job_id:
                    waiting.remove(entry)
                    if not waiting:
                        del self._waiting[name]
                    return entry[1]
        return None

    def hold(self) -> None:
        """Start no more jobs: the daemon is stopping, and waiting jobs stay in the journal."""
        self._held = True

    def _pump(self) -> None:
        """Start the longest-waiting jobs of idle hooks, up to C{max_parallel} running."""
        while not self._held and len(self._busy) < self._max_parallel:
            ready = [
                (waiting[0][0], name)
                for name, waiting in self._waiting.items()
                if name not in self._busy
            ]
            if not ready:
                return
            _, name = min(ready)
            waiting = self._waiting[name]
            _, job = waiting.popleft()
            if not waiting:
                del self._waiting[name]
            self._busy[name] = job
            self._run(job).addErrback(self._crashed, job).addBoth(self._done, job)

    def _crashed(self, failure: Failure, job: Job) -> None:
        # The run itself handles a job's failures; this is a bug in it, made visible.
        log.failure("job {job}: its run failed outside the job", failure, job=job.id)

    def _done(self, ignored: object, job: Job) -> None:
        del self._busy[job.hook.name]
        self._pump()
