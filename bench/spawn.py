"""
What starting one step costs the reactor: Twisted spawns a child with
posix_spawn only when spawnProcess is given no directory to enter (or the
current one), and otherwise forks the whole daemon. hookdaemon enters the
workdir through `env -C` instead (hookdaemon/process.py); this measures both
ways, from a process holding a heap about the size of a running daemon's.

    python bench/spawn.py [--spawns 200] [--heap-mb 55]

Run by hand; not part of the test suite.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from twisted.internet import defer, protocol, reactor


class Ended(protocol.ProcessProtocol):
    def __init__(self, ended: defer.Deferred[None]) -> None:
        self.ended = ended

    def processEnded(self, reason: object) -> None:
        self.ended.callback(None)


async def spawn_all(argv: list[str], path: str | None, count: int) -> tuple[float, float]:
    """Reactor CPU ms and wall ms per spawn, each child waited for."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        ended: defer.Deferred[None] = defer.Deferred()
        reactor.spawnProcess(Ended(ended), argv[0], argv, env={"PATH": "/usr/bin:/bin"}, path=path)  # type: ignore[attr-defined]
        await ended
    return (
        1e3 * (time.process_time() - cpu) / count,
        1e3 * (time.perf_counter() - wall) / count,
    )


async def main(args: argparse.Namespace) -> None:
    heap = [bytes(1000) for _ in range(args.heap_mb * 1000)]
    workdir = tempfile.mkdtemp(prefix="hookdaemon-spawn-")
    setsid, env, true = (shutil.which(n) or n for n in ("setsid", "env", "true"))
    ways = {
        "path=workdir (Twisted forks)": ([setsid, true], workdir),
        "env -C workdir (posix_spawn)": ([env, "-C", workdir, setsid, true], None),
    }
    try:
        print(f"{args.spawns} spawns of `true` each, from a process with a {args.heap_mb} MB heap")
        print("| way | reactor CPU per spawn | wall per spawn |\n|---|---|---|")
        for name, (argv, path) in ways.items():
            cpu, wall = await spawn_all(argv, path, args.spawns)
            print(f"| {name} | {cpu:.2f} ms | {wall:.2f} ms |")
    finally:
        del heap
        shutil.rmtree(workdir, ignore_errors=True)
        reactor.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--spawns", type=int, default=200)
    parser.add_argument("--heap-mb", type=int, default=55)
    arguments = parser.parse_args()
    reactor.callWhenRunning(lambda: defer.ensureDeferred(main(arguments)))  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
