"""
What starting one step costs the reactor, and how long until the step's program
runs, from a process holding a heap about the size of a running daemon's:

  path=workdir              Twisted's spawnProcess given the directory to enter:
                            it forks the whole daemon (setsid then starts the session)
  env -C workdir setsid     spawnProcess without one, so Twisted uses posix_spawn,
                            and two programs enter the directory and the session
                            before the step's (hookdaemon up to b576306)
  hookdaemon                hookdaemon.process.RunningStep: subprocess's vfork, the
                            child entering the directory and a session itself

    python bench/spawn.py [--spawns 200] [--heap-mb 55]

Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable

from twisted.internet import defer, protocol, reactor

from hookdaemon.process import RunningStep

ENV = {"PATH": "/usr/bin:/bin"}


class Ended(protocol.ProcessProtocol):
    def __init__(self, ended: defer.Deferred[None]) -> None:
        self.ended = ended

    def processEnded(self, reason: object) -> None:
        self.ended.callback(None)


def twisted_spawn(argv: list[str], path: str | None) -> Callable[[], Awaitable[object]]:
    def spawn() -> defer.Deferred[None]:
        ended: defer.Deferred[None] = defer.Deferred()
        reactor.spawnProcess(Ended(ended), argv[0], argv, env=ENV, path=path)  # type: ignore[attr-defined]
        return ended

    return spawn


def hookdaemon_spawn(argv: list[str], workdir: str) -> Callable[[], Awaitable[object]]:
    return lambda: RunningStep(reactor, argv, ENV, workdir, lambda stream, block: None).ended


async def spawn_all(spawn: Callable[[], Awaitable[object]], count: int) -> tuple[float, float]:
    """Reactor CPU ms and wall ms per spawn, each child waited for."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await spawn()
    return (
        1e3 * (time.process_time() - cpu) / count,
        1e3 * (time.perf_counter() - wall) / count,
    )


async def main(args: argparse.Namespace) -> None:
    heap = [bytes(1000) for _ in range(args.heap_mb * 1000)]
    workdir = tempfile.mkdtemp(prefix="hookdaemon-spawn-")
    setsid, env, true = (shutil.which(n) or n for n in ("setsid", "env", "true"))
    ways = {
        "path=workdir (Twisted forks)": twisted_spawn([setsid, true], workdir),
        "env -C workdir setsid (posix_spawn)": twisted_spawn(
            [env, "-C", workdir, setsid, true], None
        ),
        "hookdaemon (vfork, one exec)": hookdaemon_spawn([true], workdir),
    }
    try:
        print(f"{args.spawns} spawns of `true` each, from a process with a {args.heap_mb} MB heap")
        print("| way | reactor CPU per spawn | wall per spawn |\n|---|---|---|")
        for name, spawn in ways.items():
            cpu, wall = await spawn_all(spawn, args.spawns)
            print(f"| {name} | {cpu:.2f} ms | {wall:.2f} ms |")
    finally:
        del heap
        shutil.rmtree(workdir, ignore_errors=True)
        reactor.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    os.chdir("/")  # as systemd starts the daemon: the workdir is not the current directory
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--spawns", type=int, default=200)
    parser.add_argument("--heap-mb", type=int, default=55)
    arguments = parser.parse_args()
    reactor.callWhenRunning(lambda: defer.ensureDeferred(main(arguments)))  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
