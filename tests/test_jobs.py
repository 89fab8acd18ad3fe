"""Jobs through the live daemon: ordering, parallelism, environment, timeouts, streaming."""

from __future__ import annotations

import json
import os
import pwd

from twisted.trial.unittest import TestCase

from hookdaemon.journal import Journal
from tests.support import RunningDaemon, alive, finished, get, post, start_daemon, wait_for

# Prints a line every few milliseconds until the file release-<job> appears.
WAITER = (
    "sh -c 'echo started $HOOK_JOB; "
    "while [ ! -e release-$HOOK_JOB ]; do echo tick; sleep 0.01; done; echo done'"
)


def hook(name: str, workdir: str, command: str, extra: str = "") -> str:
    lines = "\n    ".join(command.splitlines())
    return (
        f"[hook:{name}]\nforge = generic\nallow_from = 127.0.0.1\n"
        f"workdir = {workdir}\ncommand =\n    {lines}\n{extra}\n"
    )


async def trigger(daemon: RunningDaemon, name: str, body: bytes = b"") -> int:
    code, answer, _ = await post(daemon.hook_url(name), body, {"Content-Type": "application/json"})
    assert code == 202, (code, answer)
    return int(answer["job"])


class JobTests(TestCase):
    def setUp(self) -> None:
        self.workdir = os.path.abspath(self.mktemp())
        os.makedirs(self.workdir)

    def release(self, job_id: int) -> None:
        open(os.path.join(self.workdir, f"release-{job_id}"), "w").close()

    async def started(self, daemon: RunningDaemon, hook_name: str, job_id: int) -> None:
        await wait_for(
            lambda: f"{job_id} stdout started {job_id}" in daemon.log_text(hook_name),
            f"job {job_id} to start",
        )

    async def test_otherRequestsAreAnsweredWhileAJobStreams(self) -> None:
        daemon = await start_daemon(
            self, hook("slow", self.workdir, WAITER) + hook("other", self.workdir, "true")
        )
        slow = await trigger(daemon, "slow")
        await wait_for(lambda: "stdout tick" in daemon.log_text("slow"), "output to stream")

        code, _content = await get(daemon.url + "/healthz")
        self.assertEqual(code, 200)
        other = await trigger(daemon, "other")
        await finished(daemon, other)

        self.assertEqual(daemon.job(slow).state, "running")
        self.release(slow)
        job = await finished(daemon, slow)
        self.assertEqual(job.state, "succeeded")
        self.assertIn(f"{slow} stdout done", daemon.log_text("slow"))

    async def test_oneJobAtATimePerHookInArrivalOrder(self) -> None:
        daemon = await start_daemon(self, hook("site", self.workdir, WAITER))
        first = await trigger(daemon, "site")
        second = await trigger(daemon, "site")
        await self.started(daemon, "site", first)

        self.assertEqual(daemon.job(second).state, "queued")
        self.release(second)  # released early: it still must wait for the first
        await wait_for(lambda: "stdout tick" in daemon.log_text("site"), "first to tick")
        self.assertEqual(daemon.job(second).state, "queued")

        self.release(first)
        await finished(daemon, first)
        await finished(daemon, second)
        log = daemon.log_text("site")
        self.assertLess(log.index(f"{first} stdout done"), log.index(f"{second} stdout started"))

    async def test_maxParallelBoundsRunningJobs(self) -> None:
        hooks = "".join(hook(name, self.workdir, WAITER) for name in ("a", "b", "c"))
        daemon = await start_daemon(self, hooks, daemon="max_parallel = 2\n")
        jobs = [await trigger(daemon, name) for name in ("a", "b", "c")]
        await self.started(daemon, "a", jobs[0])
        await self.started(daemon, "b", jobs[1])
        self.assertEqual(daemon.job(jobs[2]).state, "queued")

        self.release(jobs[2])
        self.release(jobs[0])
        await finished(daemon, jobs[0])
        await finished(daemon, jobs[2])
        self.assertEqual(daemon.job(jobs[1]).state, "running")
        self.release(jobs[1])
        await finished(daemon, jobs[1])

    async def test_environmentIsBaseHookEnvAndHookVariables(self) -> None:
        daemon = await start_daemon(
            self, hook("site", self.workdir, "env", extra="env =\n    DEPLOY_ENV=test\n")
        )
        body = json.dumps({"ref": "refs/heads/main", "after": "a" * 40}).encode()
        job = await finished(daemon, await trigger(daemon, "site", body))
        self.assertEqual(job.state, "succeeded")
        prefix = f"{job.id} stdout "
        env = dict(
            line.split(prefix, 1)[1].split("=", 1)
            for line in daemon.log_text("site").splitlines()
            if prefix in line
        )
        self.assertEqual(
            env.pop("PATH"), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        )
        self.assertEqual(env.pop("LANG"), "C.UTF-8")
        self.assertEqual(env.pop("GIT_TERMINAL_PROMPT"), "0")
        self.assertEqual(env.pop("DEPLOY_ENV"), "test")
        account = pwd.getpwuid(os.getuid())
        self.assertEqual(env.pop("HOME"), account.pw_dir)
        self.assertEqual((env.pop("USER"), env.pop("LOGNAME")), (account.pw_name,) * 2)
        self.assertEqual(env["HOOK_BRANCH"], "main")
        self.assertEqual(env["HOOK_AFTER"], "a" * 40)
        self.assertEqual(env["HOOK_JOB"], str(job.id))
        self.assertEqual(env["HOOK_NAME"], "site")
        self.assertEqual(env["HOOK_TAG"], "")
        self.assertEqual(
            sorted(env),
            sorted(
                [
                    "HOOK_NAME",
                    "HOOK_JOB",
                    "HOOK_FORGE",
                    "HOOK_EVENT",
                    "HOOK_DELIVERY",
                    "HOOK_REF",
                    "HOOK_BRANCH",
                    "HOOK_TAG",
                    "HOOK_BEFORE",
                    "HOOK_AFTER",
                    "HOOK_REPOSITORY",
                    "HOOK_CLONE_URL",
                    "HOOK_PUSHER",
                    "HOOK_PAYLOAD",
                ]
            ),
        )

    async def test_aStepThatCannotStartSaysWhyInWords(self) -> None:
        """Not the launcher's own words: "setsid: failed to execute ..." with exit 127."""
        script = os.path.join(self.workdir, "deploy.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(script, 0o644)
        hooks = hook("missing", self.workdir, "true\nno-such-program-here --x\ntrue") + hook(
            "unrunnable", self.workdir, "./deploy.sh"
        )
        daemon = await start_daemon(self, hooks)
        for name in ("missing", "unrunnable"):
            job = await finished(daemon, await trigger(daemon, name))
            self.assertEqual(job.state, "failed")
        missing, unrunnable = daemon.log_text("missing"), daemon.log_text("unrunnable")
        self.assertIn(
            "hookdaemon step 2 cannot start: no-such-program-here is not found on the steps'"
            " PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin); install"
            " it, write its whole path, or set PATH in the hook's env\n",
            missing,
        )
        self.assertNotIn("step 3/3", missing)  # the job stops there, as at a failed step
        self.assertIn(
            f"hookdaemon step 1 cannot start: {script} is not a program this user may run"
            " (chmod +x it)\n",
            unrunnable,
        )
        self.assertNotIn("setsid", missing + unrunnable)

    async def test_payloadFileHoldsTheRawBody(self) -> None:
        daemon = await start_daemon(self, hook("site", self.workdir, "cat ${HOOK_PAYLOAD}"))
        body = b'{"ref": "refs/heads/main",  "odd spacing": [1, 2]}'
        job = await finished(daemon, await trigger(daemon, "site", body))
        self.assertIn(f"{job.id} stdout {body.decode()}\n", daemon.log_text("site"))
        self.assertFalse(os.path.exists(job.job.payload_path))

    async def test_payloadValuesAreSingleArgvItemsWithoutShell(self) -> None:
        daemon = await start_daemon(
            self, hook("site", self.workdir, "printf '[%s]\\n' ${HOOK_REF} $HOOK_REPOSITORY")
        )
        # Shell code a git ref name may hold (no spaces), and a repository name with spaces.
        hostile = "refs/heads/x;touch${IFS}pwned;$(touch${IFS}pwned2)|`touch${IFS}pwned3`"
        repository = "a b; touch pwned4 > pwned5"
        body = json.dumps({"ref": hostile, "repository": repository}).encode()
        job = await finished(daemon, await trigger(daemon, "site", body))
        self.assertEqual(job.state, "succeeded")
        log = daemon.log_text("site")
        self.assertIn(f"{job.id} stdout [{hostile}]", log)
        self.assertIn(f"{job.id} stdout [{repository}]", log)
        self.assertEqual(sorted(os.listdir(self.workdir)), [])

    async def test_shellYesRunsStepsThroughSh(self) -> None:
        daemon = await start_daemon(
            self,
            hook("site", self.workdir, 'echo "$HOOK_NAME" | tr a-z A-Z', extra="shell = yes\n"),
        )
        job = await finished(daemon, await trigger(daemon, "site"))
        self.assertIn(f"{job.id} stdout SITE", daemon.log_text("site"))

    async def test_stderrIsTaggedSeparately(self) -> None:
        daemon = await start_daemon(
            self, hook("site", self.workdir, "sh -c 'echo to-out; echo to-err >&2'")
        )
        job = await finished(daemon, await trigger(daemon, "site"))
        log = daemon.log_text("site")
        self.assertIn(f"{job.id} stdout to-out", log)
        self.assertIn(f"{job.id} stderr to-err", log)

    async def test_missingCommandFailsWithClearError(self) -> None:
        daemon = await start_daemon(self, hook("site", self.workdir, "no-such-command-here"))
        job = await finished(daemon, await trigger(daemon, "site"))
        self.assertEqual(job.state, "failed")
        self.assertIn("no-such-command-here", daemon.log_text("site"))

    async def test_missingWorkdirFailsWithClearError(self) -> None:
        missing = os.path.join(self.workdir, "gone")
        daemon = await start_daemon(self, hook("site", missing, "true"))
        job = await finished(daemon, await trigger(daemon, "site"))
        self.assertEqual(job.state, "failed")
        self.assertIn(f"workdir {missing} does not exist", daemon.log_text("site"))

    async def test_timeoutKillsTheWholeProcessGroup(self) -> None:
        daemon = await start_daemon(
            self,
            hook(
                "site",
                self.workdir,
                "sh -c 'sleep 60 & echo grandchild $!; wait'",
                extra="timeout = 0.5\n",
            ),
        )
        job = await finished(daemon, await trigger(daemon, "site"))
        self.assertEqual(job.state, "timed_out")
        assert job.result is not None
        self.assertEqual(job.result.signal, "SIGTERM")
        _, shown = await get(f"{daemon.url}/jobs/{job.id}")
        self.assertEqual(json.loads(shown)["reason"], "timed out after 0.5s in step 1/1")
        log = daemon.log_text("site")
        pid = int(log.split("stdout grandchild ")[1].split()[0])
        await wait_for(lambda: not alive(pid), f"grandchild {pid} to die")


class StopTests(TestCase):
    def setUp(self) -> None:
        self.workdir = os.path.abspath(self.mktemp())
        os.makedirs(self.workdir)

    async def test_jobsStillRunningAfterStopGraceAreInterrupted(self) -> None:
        daemon = await start_daemon(
            self, hook("site", self.workdir, WAITER), daemon="stop_grace = 0.2\n"
        )
        job_id = await trigger(daemon, "site")
        await wait_for(lambda: "stdout tick" in daemon.log_text("site"), "the job to run")
        log_path = daemon.log_path("site")
        job = daemon.job(job_id)
        await daemon.service.stopService()
        self.assertEqual(job.state, "interrupted")
        with open(log_path) as f:
            self.assertIn(f"{job_id} hookdaemon job interrupted", f.read())

    async def test_aStepThatExitsZeroOnTheStopsTermEndsInterruptedAndTheNextDoesNotRun(
        self,
    ) -> None:
        """The job did not finish its steps: it is not succeeded, and it runs again."""
        polite = (
            "sh -c 'trap \"echo bye; exit 0\" TERM; echo started; while :; do sleep 0.01; done'"
        )
        daemon = await start_daemon(
            self,
            hook("site", self.workdir, f"{polite}\ntouch second-step-ran"),
            daemon="stop_grace = 0.2\n",
        )
        job_id = await trigger(daemon, "site")
        await wait_for(lambda: "stdout started" in daemon.log_text("site"), "the job to run")
        path, log_path = daemon.journal_path, daemon.log_path("site")
        await daemon.service.stopService()
        self.assertEqual(daemon.job(job_id).state, "interrupted")
        with open(log_path) as f:
            log = f.read()
        self.assertIn(f"{job_id} stdout bye", log)
        self.assertIn(f"{job_id} hookdaemon step 1 ended: exit 0", log)
        self.assertNotIn("step 2/2", log)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "second-step-ran")))
        journal = Journal(path)
        self.addCleanup(journal.close)
        record = journal.get(job_id)
        assert record is not None
        self.assertEqual(
            (record.state, record.reason), ("interrupted", "the daemon stopped in step 1/2")
        )
        retries = [r for r in journal.recent("site") if r.retry_of == job_id]
        self.assertEqual([r.state for r in retries], ["queued"])

    async def test_stopRefusesDeliveriesAndLetsRunningJobsFinish(self) -> None:
        daemon = await start_daemon(
            self, hook("site", self.workdir, WAITER), daemon="stop_grace = 60\n"
        )
        job_id = await trigger(daemon, "site")
        waiting = await trigger(daemon, "site")
        await wait_for(lambda: "stdout tick" in daemon.log_text("site"), "the job to run")
        job = daemon.job(job_id)
        stopped = daemon.service.stopService()
        code, answer, response = await post(daemon.hook_url("site"), b"", {})
        self.assertEqual((code, answer), (503, {"error": "shutting down; try again shortly"}))
        self.assertEqual(response.headers.getRawHeaders("retry-after"), ["30"])
        self.assertFalse(stopped.called)
        self.release(job_id)
        await stopped
        self.assertEqual(job.state, "succeeded")
        self.assertEqual(daemon.job(waiting).state, "queued")

    def release(self, job_id: int) -> None:
        open(os.path.join(self.workdir, f"release-{job_id}"), "w").close()

    async def test_killGraceEndsAGroupThatIgnoresSigterm(self) -> None:
        stubborn = (
            'sh -c \'trap "" TERM; sh -c "trap \\"\\" TERM; sleep 60" & echo grandchild $!; wait\''
        )
        daemon = await start_daemon(
            self,
            hook("site", self.workdir, stubborn, extra="timeout = 0.3\nkill_grace = 0.3\n"),
        )
        job = await finished(daemon, await trigger(daemon, "site"))
        self.assertEqual(job.state, "timed_out")
        assert job.result is not None
        self.assertEqual(job.result.signal, "SIGKILL")
        log = daemon.log_text("site")
        self.assertIn("still running 0.3s later; SIGKILL", log)
        pid = int(log.split("stdout grandchild ")[1].split()[0])
        await wait_for(lambda: not alive(pid), f"grandchild {pid} to die")


class BurstTests(TestCase):
    def setUp(self) -> None:
        self.workdir = os.path.abspath(self.mktemp())
        os.makedirs(self.workdir)

    def release(self, job_id: int) -> None:
        open(os.path.join(self.workdir, f"release-{job_id}"), "w").close()

    async def burst(self, burst: str) -> tuple[RunningDaemon, list[int]]:
        daemon = await start_daemon(
            self, hook("site", self.workdir, WAITER, extra=f"burst = {burst}\n")
        )
        first = await trigger(
            daemon, "site", json.dumps({"ref": "refs/heads/main", "after": "1" * 40}).encode()
        )
        await wait_for(
            lambda: f"{first} stdout started {first}" in daemon.log_text("site"), "the first run"
        )
        rest = [
            await trigger(
                daemon,
                "site",
                json.dumps({"ref": "refs/heads/main", "after": str(n) * 40}).encode(),
            )
            for n in (2, 3, 4)
        ]
        for job_id in [first, *rest]:
            self.release(job_id)
        return daemon, [first, *rest]

    async def test_coalesceRunsOnlyTheNewestWaitingDelivery(self) -> None:
        daemon, (first, second, third, fourth) = await self.burst("coalesce")
        jobs = {job_id: daemon.job(job_id) for job_id in (first, second, third, fourth)}
        await finished(daemon, fourth)
        self.assertEqual(
            [(jobs[j].state, jobs[j].covered_by) for j in (second, third)],
            [("superseded", third), ("superseded", fourth)],
        )
        self.assertEqual(jobs[fourth].delivery.after, "4" * 40)
        log = daemon.log_text("site")
        self.assertNotIn(f"{second} stdout", log)
        self.assertNotIn(f"{third} stdout", log)
        self.assertIn(f"{fourth} stdout started {fourth}", log)

    async def test_coalescedJobsAreJournaledAsSuperseded(self) -> None:
        daemon, (_, second, third, fourth) = await self.burst("coalesce")
        await finished(daemon, fourth)
        path = daemon.journal_path
        await daemon.service.stopService()
        journal = Journal(path)
        self.addCleanup(journal.close)
        record = journal.get(second)
        assert record is not None
        self.assertEqual(
            (record.state, record.covered_by, record.reason),
            (
                "superseded",
                third,
                f"superseded by job {third}, a newer delivery (burst = coalesce)",
            ),
        )
        self.assertEqual(journal.covers(fourth), [second, third])
        self.assertEqual(journal.covering(second), fourth)

    async def test_queueRunsEveryDeliveryInOrder(self) -> None:
        daemon, jobs = await self.burst("queue")
        for job_id in jobs:
            await finished(daemon, job_id)
        log = daemon.log_text("site")
        starts = [log.index(f"{job_id} stdout started {job_id}") for job_id in jobs]
        self.assertEqual(starts, sorted(starts))
