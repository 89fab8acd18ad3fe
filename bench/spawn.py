"""
What starting one step costs the reactor, from a process holding a heap about
the size of a running daemon's: its CPU per spawn, how long the spawn call holds
the reactor up (a vforked child holds its parent until it execs), and the wall
time until the step has ended. Ways:

  path=workdir               Twisted's spawnProcess given the directory to enter:
                             it forks the whole daemon (setsid then starts the session)
  hookdaemon                 hookdaemon.process.RunningStep: spawnProcess without a
                             directory, so Twisted uses posix_spawn, and env -C and
                             setsid enter the directory and the session before the
                             step's program
  vfork, session in child    tried in 6f06fad: a Twisted Process started as subprocess
                             starts a child (vfork); the child enters the directory
                             and calls setsid before it execs the step's program
  vfork, then setsid         tried in adcd2ab: the same, the child entering the
                             directory, then exec'ing setsid(1)

--load N runs N busy processes (`yes > /dev/null`) meanwhile, as a loaded machine
would: with the kernel's autogroups, a child that starts a session before it
execs then waits for its own scheduling group's turn, and its parent with it.

    python bench/spawn.py [--spawns 200] [--heap-mb 55] [--load 4]

Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet import defer, protocol, reactor
from twisted.internet.process import Process

from hookdaemon.process import RunningStep

ENV = {"PATH": "/usr/bin:/bin"}


class Ended(protocol.ProcessProtocol):
    def __init__(self, ended: defer.Deferred[None]) -> None:
        self.ended = ended

    def processEnded(self, reason: object) -> None:
        self.ended.callback(None)


Spawn = Callable[[], Awaitable[object]]
"""Starts one child (the call that holds the reactor up); what it gives fires when it ended."""


def twisted_spawn(argv: list[str], path: str | None) -> Spawn:
    def spawn() -> defer.Deferred[None]:
        ended: defer.Deferred[None] = defer.Deferred()
        reactor.spawnProcess(Ended(ended), argv[0], argv, env=ENV, path=path)  # type: ignore[attr-defined]
        return ended

    return spawn


def hookdaemon_spawn(argv: list[str], workdir: str) -> Spawn:
    return lambda: RunningStep(reactor, argv, ENV, workdir, lambda stream, block: None).ended


class VforkedProcess(Process):
    """
    The tried way: Twisted's Process, started by subprocess.Popen in the method
    Twisted calls to try posix_spawn before it forks (C{_trySpawnInsteadOfFork}).
    """

    session_in_child = True
    _started: subprocess.Popen[bytes] | None = None

    def _trySpawnInsteadOfFork(
        self,
        path: str,
        uid: int | None,
        gid: int | None,
        executable: str,
        args: list[str],
        environment: dict[str, str],
        kwargs: dict[str, Any],
    ) -> bool:
        fdmap = kwargs["fdmap"]
        setsid = [] if self.session_in_child else [shutil.which("setsid") or "setsid"]
        self._started = subprocess.Popen(
            [*setsid, *args],
            env=environment,
            cwd=path,
            stdin=fdmap[0],
            stdout=fdmap[1],
            stderr=fdmap[2],
            start_new_session=self.session_in_child,
        )
        self.pid = self._started.pid
        self.status = -1
        return True

    def processEnded(self, status: int) -> None:
        assert self._started is not None
        self._started.returncode = os.waitstatus_to_exitcode(status)  # Twisted reaped it
        super().processEnded(status)


class SetsidAfterExec(VforkedProcess):
    session_in_child = False


def vforked_spawn(kind: type[VforkedProcess], argv: list[str], workdir: str) -> Spawn:
    def spawn() -> defer.Deferred[None]:
        ended: defer.Deferred[None] = defer.Deferred()
        kind(reactor, argv[0], argv, ENV, workdir, Ended(ended))
        return ended

    return spawn


async def spawn_all(spawn: Spawn, count: int) -> dict[str, float]:
    """Reactor CPU ms and wall ms per spawn, and ms in the spawn call (p50, p90)."""
    calls = []
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        began = time.perf_counter()
        ended = spawn()
        calls.append(time.perf_counter() - began)
        await ended
    calls.sort()
    return {
        "cpu": 1e3 * (time.process_time() - cpu) / count,
        "wall": 1e3 * (time.perf_counter() - wall) / count,
        "call_p50": 1e3 * calls[len(calls) // 2],
        "call_p90": 1e3 * calls[int(len(calls) * 0.9)],
    }


async def main(args: argparse.Namespace) -> None:
    heap = [bytes(1000) for _ in range(args.heap_mb * 1000)]
    workdir = tempfile.mkdtemp(prefix="hookdaemon-spawn-")
    setsid, true = (shutil.which(n) or n for n in ("setsid", "true"))
    ways = {
        "path=workdir (Twisted forks)": twisted_spawn([setsid, true], workdir),
        "hookdaemon (posix_spawn, env -C workdir setsid)": hookdaemon_spawn([true], workdir),
        "vfork, session in the child": vforked_spawn(VforkedProcess, [true], workdir),
        "vfork, then setsid": vforked_spawn(SetsidAfterExec, [true], workdir),
    }
    load = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(args.load)]
    try:
        print(
            f"{args.spawns} spawns of `true` each, from a process with a {args.heap_mb} MB"
            f" heap, {args.load} busy processes meanwhile ({os.cpu_count()} CPUs)"
        )
        print("| way | reactor CPU per spawn | in the spawn call, p50 / p90 | wall per spawn |")
        print("|---|---|---|---|")
        for name, spawn in ways.items():
            m = await spawn_all(spawn, args.spawns)
            print(
                f"| {name} | {m['cpu']:.2f} ms | {m['call_p50']:.2f} / {m['call_p90']:.2f} ms"
                f" | {m['wall']:.2f} ms |"
            )
    finally:
        for busy in load:
            busy.kill()
            busy.wait()
        del heap
        shutil.rmtree(workdir, ignore_errors=True)
        reactor.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    os.chdir("/")  # as systemd starts the daemon: the workdir is not the current directory
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--spawns", type=int, default=200)
    parser.add_argument("--heap-mb", type=int, default=55)
    parser.add_argument("--load", type=int, default=0, help="busy processes meanwhile")
    arguments = parser.parse_args()
    reactor.callWhenRunning(lambda: defer.ensureDeferred(main(arguments)))  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
