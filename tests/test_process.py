"""One step as a real child process: where it runs, in which session, with what."""

from __future__ import annotations

import gc
import os
import stat
import sys
import warnings

from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest, TestCase

from hookdaemon import process
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

    async def test_stepRunsInItsWorkdirAsASessionLeader(self) -> None:
        workdir = self.workdir()
        result, seen = await self.run_step([sys.executable, "-c", REPORT], workdir)
        self.assertEqual(result.exit_code, 0, seen)
        self.assertEqual(seen.split(), [workdir, "True", "True"])

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

    def assertCannotStart(self, argv: list[str], workdir: str, missing: str) -> None:
        before = len(os.listdir("/proc/self/fd"))
        with self.assertRaises(FileNotFoundError) as raised:
            RunningStep(reactor, argv, {"PATH": "/usr/bin:/bin"}, workdir, lambda s, b: None)
        self.assertEqual(raised.exception.filename, missing)
        self.assertEqual(len(os.listdir("/proc/self/fd")), before, "the pipes were closed")

    def test_missingWorkdirRaisesNamingIt(self) -> None:
        workdir = os.path.join(self.workdir(), "gone")
        self.assertCannotStart(["true"], workdir, workdir)

    async def test_missingProgramFailsTheStep(self) -> None:
        """
        setsid(1) says so and exits 127 (a job's preflight says it in words
        before it comes to this: JobRunner).
        """
        result, seen = await self.run_step(["./no-such-program"], self.workdir())
        self.assertEqual(result.exit_code, 127)
        self.assertIn("./no-such-program", seen)

    async def test_endedStepLeavesNothingForSubprocessToReap(self) -> None:
        """
        Twisted reaps the child. Python's subprocess must not wait on its pid
        again once the step is gone (another child may have it by then): it
        would, and warn that it was still running, had it not been told the
        step's exit code.
        """

        async def one_step() -> int | None:
            step = RunningStep(
                reactor, ["sh", "-c", "exit 3"], {"PATH": "/usr/bin:/bin"}, "/", lambda s, b: None
            )
            return (await step.ended).exit_code

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.assertEqual(await one_step(), 3)
            await deferLater(reactor, 0, lambda: None)  # the step's last references go
            gc.collect()
        self.assertEqual([str(w.message) for w in caught if "still running" in str(w.message)], [])


class WithoutSetsidTests(LaunchTests):
    """Where there is no setsid(1), the child starts its session itself."""

    def setUp(self) -> None:
        self.patch(process, "setsid_program", lambda: None)

    async def test_missingProgramFailsTheStep(self) -> None:
        """Without setsid(1) to say so, subprocess raises, naming the program."""
        self.assertCannotStart(["./no-such-program"], self.workdir(), "./no-such-program")


class SetsidTests(TestCase):
    def test_setsidIsFoundWhereUtilLinuxIs(self) -> None:
        if not os.path.exists("/usr/bin/setsid"):
            raise SkipTest("no util-linux setsid here")
        self.assertEqual(process.setsid_program(), "/usr/bin/setsid")
