"""
Nothing accepted is lost and nothing finished runs twice, with the fault
caused for real against a real twistd: a full disk (a small tmpfs filled to
the last byte), SIGTERM and SIGKILL at the worst moments, SIGHUP, a umask.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from typing import Any

from twisted.trial.unittest import SkipTest, TestCase

from hookdaemon.testing import TwistdDaemon
from tests.support import MIB, fill_disk, get, post, small_tmpfs, wait_for, wait_until

RUNS_HOOK = """
[hook:site]
forge = generic
allow_from = 127.0.0.1
burst = queue
workdir = {workdir}
command =
    sh -c 'echo "$HOOK_JOB $HOOK_DELIVERY" >> runs; {then}'
"""
"""
A hook that writes a line to C{workdir}/runs as each run starts, then does
C{then} (a shell command; C{[ -e go-$HOOK_JOB ] || ...} lets a test hold it).
"""

WAIT_FOR_GO = 'while [ ! -e "go-$HOOK_JOB" ]; do sleep 0.02; done'
"""A run that goes on until the test creates go-JOB in the workdir."""


class Faults(TestCase):
    """A real twistd in a directory of the test's, and the runs its hook made."""

    def daemon(self, then: str = "true", daemon: str = "", workdir: str = "") -> TwistdDaemon:
        self.workdir = workdir or os.path.abspath(self.mktemp())
        os.makedirs(self.workdir, exist_ok=True)
        twistd = TwistdDaemon(
            self.mktemp(), RUNS_HOOK.format(workdir=self.workdir, then=then), daemon
        )
        self.addCleanup(twistd.stop)
        return twistd

    def runs(self) -> list[str]:
        """The job id of each run, in the order they started."""
        try:
            with open(os.path.join(self.workdir, "runs")) as f:
                return [line.split()[0] for line in f]
        except FileNotFoundError:
            return []

    def go(self, job: int) -> None:
        open(os.path.join(self.workdir, f"go-{job}"), "w").close()

    async def deliver(
        self, twistd: TwistdDaemon, delivery_id: str = "", body: bytes = b"{}"
    ) -> tuple[int, Any, Any]:
        headers = {"Content-Type": "application/json"}
        if delivery_id:
            headers["X-Request-Id"] = delivery_id
        return await post(f"{twistd.url}/hooks/site", body, headers)

    async def job(self, twistd: TwistdDaemon, job: int) -> dict[str, Any]:
        code, body = await get(f"{twistd.url}/jobs/{job}")
        assert code == 200, (code, body)
        found: dict[str, Any] = json.loads(body)
        return found

    async def ended(self, twistd: TwistdDaemon, job: int) -> dict[str, Any]:
        """The job, once the journal says it ended."""
        shown: dict[str, Any] = {}

        async def over() -> bool:
            nonlocal shown
            shown = await self.job(twistd, job)
            return shown["finished_at"] is not None

        await wait_until(over, f"job {job} to end")
        return shown

    def fill(self, directory: str) -> str:
        """Fill the disk, and free it again when the test ends, whatever happened."""
        filler = fill_disk(directory)
        self.addCleanup(lambda: os.path.exists(filler) and os.remove(filler))
        return filler

    def full_state_dir(self) -> str:
        mount = small_tmpfs(self, 4 * MIB)
        if mount is None:
            raise SkipTest("needs a tmpfs to fill (run as root, as CI does)")
        return mount


class FullDiskTests(Faults):
    async def test_deliveriesGetA503WithAReasonAndHealthzSaysWhy(self) -> None:
        state = self.full_state_dir()
        twistd = self.daemon(daemon=f"state_dir = {state}\nlog_dir = {self.mktemp()}")
        twistd.start()
        code, answer, _ = await self.deliver(twistd, "before")
        self.assertEqual(code, 202, answer)
        filler = self.fill(state)

        answers = [await self.deliver(twistd, f"full-{n}", b"{}" + b" " * 8192) for n in range(5)]
        # SQLite's words, or the OS's when the first write to fail was the payload
        # file of the job the first delivery started.
        reasons = ("database or disk is full", "No space left on device")
        for code, answer, response in answers:
            self.assertEqual(code, 503)
            self.assertIn(
                answer["error"],
                [f"the journal cannot commit ({r}); try again later" for r in reasons],
            )
            self.assertEqual(response.headers.getRawHeaders("retry-after"), ["5"])
        code, body = await get(f"{twistd.url}/healthz")
        self.assertEqual(code, 503)
        shown = json.loads(body)
        self.assertEqual(shown["status"], "unavailable")
        self.assertIn(shown["reason"], [f"the journal cannot commit: {r}" for r in reasons])

        os.remove(filler)

        async def healthy() -> bool:
            return (await get(f"{twistd.url}/healthz"))[0] == 200

        await wait_until(healthy, "the journal to commit again")
        code, answer, _ = await self.deliver(twistd, "full-0")
        self.assertEqual(code, 202, answer)  # the id refused with 503 was never taken
        log = twistd.log
        self.assertEqual(log.count("journal: cannot commit ("), 1)
        self.assertEqual(log.count("journal: committing again after"), 1)
        self.assertNotIn("Traceback", log)
        self.assertNotIn("Processing Failed", log)

    async def test_whatJobsDidIsWrittenOnceTheDiskHasRoom(self) -> None:
        """
        A job's end and the next job's start, due while the disk is full, are
        held and written once it has room: the second job starts then, without
        a restart, and after a restart neither runs again.
        """
        state = self.full_state_dir()
        twistd = self.daemon(
            then=WAIT_FOR_GO, daemon=f"state_dir = {state}\nlog_dir = {self.mktemp()}"
        )
        twistd.start()
        first = (await self.deliver(twistd, "one"))[1]["job"]
        second = (await self.deliver(twistd, "two"))[1]["job"]
        await wait_for(lambda: self.runs() == [str(first)], "the first job to run")
        filler = self.fill(state)
        self.go(first)
        self.go(second)

        async def refused() -> bool:
            return (await get(f"{twistd.url}/healthz"))[0] == 503

        await wait_until(refused, "the journal to find it cannot commit")
        self.assertEqual(self.runs(), [str(first)])  # its start cannot be recorded: it waits
        os.remove(filler)
        await self.ended(twistd, second)
        self.assertEqual(self.runs(), [str(first), str(second)])
        self.assertEqual((await self.job(twistd, first))["state"], "succeeded")
        self.assertEqual((await self.job(twistd, second))["state"], "succeeded")

        self.assertEqual(twistd.stop(), -signal.SIGTERM)  # a clean stop
        twistd.start()
        self.assertEqual((await self.job(twistd, second))["state"], "succeeded")
        _, jobs = await get(f"{twistd.url}/jobs")
        self.assertEqual([job["id"] for job in json.loads(jobs)["jobs"]], [second, first])
        self.assertEqual(self.runs(), [str(first), str(second)])
        self.assertNotIn("Traceback", twistd.log)

    async def test_aStopWhileTheDiskIsFullLeavesAnUnstartedJobQueued(self) -> None:
        """
        A job waiting for its start to be recorded has run nothing: a stop lets go
        of it at once (not after stop_grace, here far longer than stop() waits), and
        the next start runs it.
        """
        state = self.full_state_dir()
        twistd = self.daemon(
            then=WAIT_FOR_GO,
            daemon=f"state_dir = {state}\nlog_dir = {self.mktemp()}\nstop_grace = 600",
        )
        twistd.start()
        first = (await self.deliver(twistd, "one"))[1]["job"]
        second = (await self.deliver(twistd, "two"))[1]["job"]
        await wait_for(lambda: self.runs() == [str(first)], "the first job to run")
        filler = self.fill(state)
        self.go(first)

        async def refused() -> bool:
            return (await get(f"{twistd.url}/healthz"))[0] == 503

        await wait_until(refused, "the journal to find it cannot commit")
        ended = f"job {first} for hook site succeeded"
        await wait_for(lambda: ended in twistd.log, "the first job's end")
        self.assertEqual(twistd.stop(timeout=60), -signal.SIGTERM)
        self.assertIn(f"job {second}: not started, the daemon stops", twistd.log)
        # What the README says is lost: the first job's end, held in memory when
        # the stop came, so the journal still has it running and it runs again.
        self.assertIn("journal: stopping while it cannot commit", twistd.log)
        self.assertNotIn("Traceback", twistd.log)
        os.remove(filler)
        retry = second + 1
        for job in (second, retry):
            self.go(job)
        twistd.start()
        self.assertEqual((await self.ended(twistd, second))["state"], "succeeded")
        shown = await self.ended(twistd, retry)
        self.assertEqual((shown["retry_of"], shown["attempt"]), (first, 2))
        self.assertEqual(self.runs(), [str(first), str(retry), str(second)])


class RedeliveryTests(Faults):
    async def test_aRedeliveryOfAPrunedJobIsStillADuplicate(self) -> None:
        twistd = self.daemon(daemon="history = 5")
        twistd.start()
        jobs = []
        for n in range(30):
            code, answer, _ = await self.deliver(twistd, f"d-{n}")
            self.assertEqual(code, 202, answer)
            jobs.append(answer["job"])
        await self.ended(twistd, jobs[-1])
        for when in ("before a restart", "after a restart"):
            code, answer, _ = await self.deliver(twistd, "d-0")
            self.assertEqual((code, answer), (200, {"status": "duplicate", "job": None}), when)
            code, answer, _ = await self.deliver(twistd, "d-29")
            self.assertEqual((code, answer), (200, {"status": "duplicate", "job": jobs[-1]}))
            twistd.stop()
            twistd.start()
        self.assertEqual(self.runs(), [str(job) for job in jobs])


class InterruptedTests(Faults):
    async def test_aJobAStopInterruptedRunsAgainAfterTheRestart(self) -> None:
        twistd = self.daemon(then=WAIT_FOR_GO, daemon="stop_grace = 0.2")
        twistd.start()
        first = (await self.deliver(twistd, "d-1"))[1]["job"]
        await wait_for(lambda: len(self.runs()) == 1, "the job to run")
        self.assertEqual(
            twistd.stop(), -signal.SIGTERM
        )  # a clean stop  # stop_grace passes: the job is interrupted
        self.go(first + 1)  # the retry may finish
        twistd.start()
        retry = await self.ended(twistd, first + 1)
        self.assertEqual(
            (retry["state"], retry["retry_of"], retry["attempt"]), ("succeeded", first, 2)
        )
        interrupted = await self.job(twistd, first)
        self.assertEqual(
            (interrupted["state"], interrupted["reason"]),
            ("interrupted", "the daemon stopped in step 1/1"),
        )
        self.assertEqual(self.runs(), [str(first), str(first + 1)])
        self.assertIn(
            f"job {first + 1} for hook site resumed: attempt 2 of max_attempts 3 at job"
            f" {first}'s delivery, the attempt before it interrupted",
            twistd.log,
        )

    async def test_aRetryTwoCrashesCutRunsAThirdTimeAndNoMore(self) -> None:
        """SIGKILL during each attempt: the third is the last (max_attempts = 3)."""
        twistd = self.daemon(then=WAIT_FOR_GO)
        twistd.start()
        first = (await self.deliver(twistd, "d-1"))[1]["job"]
        for attempt in (1, 2, 3):
            await wait_for(lambda n=attempt: len(self.runs()) == n, f"attempt {attempt} to run")
            twistd.kill()
            twistd.start()
        await wait_for(lambda: "not run again" in twistd.log, "the last attempt's end")
        self.assertEqual(self.runs(), [str(first + n) for n in range(3)])
        last = await self.job(twistd, first + 2)
        self.assertEqual(
            (last["state"], last["retry_of"], last["attempt"]), ("interrupted", first, 3)
        )
        self.assertIn(
            f"job {first + 2}: interrupted on attempt 3 of max_attempts (3); not run again",
            twistd.log,
        )
        _, jobs = await get(f"{twistd.url}/jobs")
        self.assertEqual(
            [(job["state"], job["reason"]) for job in json.loads(jobs)["jobs"]],
            [("interrupted", "the daemon ended while it ran (killed, or the machine went down)")]
            * 3,
        )


class HangupTests(Faults):
    async def test_sighupReloadsAndTheDaemonAndItsJobGoOn(self) -> None:
        twistd = self.daemon(then=WAIT_FOR_GO)
        twistd.start()
        job = (await self.deliver(twistd))[1]["job"]
        await wait_for(lambda: len(self.runs()) == 1, "the job to run")
        twistd.process.send_signal(signal.SIGHUP)
        await wait_for(lambda: "reloaded " in twistd.log, "the reload")
        self.assertIn(": nothing changed", twistd.log)
        self.assertIsNone(twistd.process.poll())
        self.assertEqual((await get(f"{twistd.url}/healthz"))[0], 200)
        self.go(job)
        self.assertEqual((await self.ended(twistd, job))["state"], "succeeded")
        self.assertEqual(twistd.stop(), -signal.SIGTERM)  # a clean stop

    async def test_sighupWhileDrainingNeitherReloadsNorEndsTheDaemon(self) -> None:
        twistd = self.daemon(then=WAIT_FOR_GO)
        twistd.start()
        job = (await self.deliver(twistd))[1]["job"]
        await wait_for(lambda: len(self.runs()) == 1, "the job to run")
        twistd.process.send_signal(signal.SIGTERM)
        await wait_for(lambda: "stopping: waiting up to" in twistd.log, "the drain")
        twistd.process.send_signal(signal.SIGHUP)
        await wait_for(lambda: "SIGHUP: the daemon is stopping; not reloaded" in twistd.log, "it")
        self.assertIsNone(twistd.process.poll())
        self.go(job)
        self.assertEqual(twistd.process.wait(30), -signal.SIGTERM)
        self.assertIn(f"job {job} for hook site succeeded", twistd.log)


class FileModeTests(Faults):
    async def test_theJournalAndPayloadsArePrivateWhateverTheUmask(self) -> None:
        """With umask 0, what holds delivery bodies is still for the daemon's user alone."""
        twistd = self.daemon(then='stat -c "%a" "$HOOK_PAYLOAD" > payload-mode')
        previous = os.umask(0)
        try:
            twistd.start()
        finally:
            os.umask(previous)
        job = (await self.deliver(twistd))[1]["job"]
        await self.ended(twistd, job)
        state = os.path.join(twistd.directory, "var")

        def mode(*names: str) -> str:
            return oct(stat.S_IMODE(os.stat(os.path.join(state, *names)).st_mode))

        self.assertEqual(
            [mode(), mode("payloads"), mode("journal.sqlite"), mode("journal.sqlite-wal")],
            ["0o700", "0o700", "0o600", "0o600"],
        )
        with open(os.path.join(self.workdir, "payload-mode")) as f:
            self.assertEqual(f.read(), "600\n")
