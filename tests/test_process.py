"""One step as a real child process: where it runs and in which session."""

from __future__ import annotations

import os
import sys

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from hookdaemon import process
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
