"""One step as a real child process: where it runs, in which session, with what."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

from twisted.internet import reactor
from twisted.trial.unittest import SkipTest, TestCase

from hookdaemon import process
from hookdaemon.command import BASE_PATH
from hookdaemon.process import RunningStep, StepResult

REPORT = (
    "import os; print(os.getcwd()); print(os.getsid(0) == os.getpid());"
    " print(os.getpgid(0) == os.getpid())"
)


class LaunchTests(TestCase):
    def workdir(self) -> str:
        workdir = os.path.realpath(self.mktemp())
        os.makedirs(workdir)
        return workdir

    async def run_step(
        self, argv: list[str], workdir: str, env: dict[str, str] | None = None
    ) -> tuple[StepResult, str]:
        seen: list[bytes] = []
        step = RunningStep(
            reactor,
            argv,
            env or {"PATH": os.environ["PATH"]},
            workdir,
            lambda stream, lines: seen.append(lines),
        )
        result = await step.ended
        return result, b"".join(seen).decode()

    def script(self, directory: str, name: str, text: str) -> None:
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\n{text}\n")
        os.chmod(path, stat.S_IRWXU)

    async def assertRunsInWorkdirAsSessionLeader(self) -> None:
        workdir = self.workdir()
        result, seen = await self.run_step([sys.executable, "-c", REPORT], workdir)
        self.assertEqual(result.exit_code, 0, seen)
        self.assertEqual(seen.split(), [workdir, "True", "True"])

    async def test_stepRunsInItsWorkdirAsASessionLeader(self) -> None:
        await self.assertRunsInWorkdirAsSessionLeader()

    async def test_withoutEnvAndSetsidThePythonTrampolineDoesTheSame(self) -> None:
        self.patch(process, "BASE_PATH", self.mktemp())  # where neither is found
        self.patch(process, "_launcher", process._launcher.__wrapped__)
        self.assertEqual(
            process.launch_prefix("/w")[:3], [sys.executable, "-c", process.TRAMPOLINE]
        )
        await self.assertRunsInWorkdirAsSessionLeader()

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

    async def test_programIsFoundOnTheStepsPath(self) -> None:
        """The step's own PATH, not the daemon's (which has no such program)."""
        tools = self.workdir()
        self.script(tools, "hookdaemon-test-greet", "echo greeted")
        result, seen = await self.run_step(
            ["hookdaemon-test-greet"], self.workdir(), {"PATH": f"{tools}:/usr/bin:/bin"}
        )
        self.assertEqual((result.exit_code, seen), (0, "greeted\n"))

    async def test_relativeProgramIsFoundInTheWorkdir(self) -> None:
        workdir = self.workdir()
        self.script(workdir, "deploy.sh", 'echo "$0 ran"')
        result, seen = await self.run_step(["./deploy.sh"], workdir)
        self.assertEqual((result.exit_code, seen), (0, "./deploy.sh ran\n"))

    async def test_stepGetsOnlyItsThreeStreams(self) -> None:
        """A descriptor the daemon has open, even an inheritable one, is not the step's."""
        inheritable = os.open(os.devnull, os.O_RDONLY)
        self.addCleanup(os.close, inheritable)
        os.set_inheritable(inheritable, True)
        probe = (
            "import os, sys\n"
            f"for fd in (0, 1, 2, {inheritable}):\n"
            "    try: os.fstat(fd); print(fd, 'open')\n"
            "    except OSError: print(fd, 'closed')\n"
            "print(repr(sys.stdin.read()))\n"
        )
        result, seen = await self.run_step([sys.executable, "-c", probe], self.workdir())
        self.assertEqual(result.exit_code, 0, seen)
        self.assertEqual(
            seen.splitlines(), ["0 open", "1 open", "2 open", f"{inheritable} closed", "''"]
        )
