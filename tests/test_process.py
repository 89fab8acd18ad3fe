"""One step as a real child process: where it runs and in which session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from twisted.internet import reactor
from twisted.trial.unittest import SkipTest, TestCase

from hookdaemon import process
from hookdaemon.command import BASE_PATH
from hookdaemon.process import RunningStep

REPORT = (
    "import os; print(os.getcwd()); print(os.getsid(0) == os.getpid());"
    " print(os.getpgid(0) == os.getpid())"
)


class LaunchTests(TestCase):
    async def run_step(self) -> None:
        workdir = os.path.realpath(self.mktemp())
        os.makedirs(workdir)
        seen: list[bytes] = []
        step = RunningStep(
            reactor,
            [sys.executable, "-c", REPORT],
            {"PATH": os.environ["PATH"]},
            workdir,
            lambda stream, lines: seen.append(lines),
        )
        result = await step.ended
        self.assertEqual(result.exit_code, 0, b"".join(seen))
        self.assertEqual(b"".join(seen).decode().split(), [workdir, "True", "True"])

    async def test_stepRunsInItsWorkdirAsASessionLeader(self) -> None:
        await self.run_step()

    async def test_withoutEnvAndSetsidThePythonTrampolineDoesTheSame(self) -> None:
        self.patch(process, "BASE_PATH", self.mktemp())  # where neither is found
        self.patch(process, "_launcher", process._launcher.__wrapped__)
        self.assertEqual(
            process.launch_prefix("/w")[:3], [sys.executable, "-c", process.TRAMPOLINE]
        )
        await self.run_step()

    def test_envAndSetsidAreUsedWhereTheyWork(self) -> None:
        """
        Not the trampoline where env -C and setsid work: it would start a Python
        interpreter before every step.
        """
        env = shutil.which("env", path=BASE_PATH)
        setsid = shutil.which("setsid", path=BASE_PATH)
        if not (env and setsid):
            raise SkipTest("no env or setsid on this machine")
        entered = subprocess.run([env, "-C", "/", "pwd"], capture_output=True, text=True)
        if entered.stdout != "/\n":
            raise SkipTest(f"{env} does not take -C")
        self.assertEqual(process._launcher.__wrapped__()("/w"), [env, "-C", "/w", setsid])
