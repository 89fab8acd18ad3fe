"""
Burst benchmark (issue "Jobs you can trust"): 1,000 deliveries to one hook
within one second while its command sleeps 2 s.

Starts a real `twistd hookdaemon` on a free loopback port in a temporary
directory, sends the deliveries (each with its own delivery id) spread evenly
over one second, waits for the jobs to finish, and reports: how many requests
were answered and with what, p50/p99/max answer time, how many runs the command
made (2 expected under burst = coalesce), and whether every delivery is in the
journal as run or superseded.

    python bench/burst.py [--deliveries 1000] [--seconds 1] [--burst coalesce]

Run by hand; not part of the test suite. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from typing import Any

import treq
from twisted.internet import defer, task
from twisted.web.client import Agent, HTTPConnectionPool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def burst(reactor: Any, url: str, count: int, seconds: float) -> list[tuple[int, float]]:
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = 64
    client = treq.client.HTTPClient(Agent(reactor, pool=pool))
    results: list[tuple[int, float]] = []

    async def one(n: int) -> None:
        await task.deferLater(reactor, seconds * n / count)
        body = json.dumps({"ref": "refs/heads/main", "after": f"{n + 1:040x}"}).encode()
        started = time.perf_counter()
        response = await client.post(
            url,
            data=body,
            headers={"Content-Type": ["application/json"], "X-Request-Id": [f"burst-{n}"]},
        )
        await response.content()
        results.append((response.code, time.perf_counter() - started))

    await defer.gatherResults([defer.Deferred.fromCoroutine(one(n)) for n in range(count)])
    await pool.closeCachedConnections()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--burst", default="coalesce", choices=["coalesce", "queue"])
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="hookdaemon-burst-")
    port = free_port()
    config = os.path.join(directory, "tap.cfg")
    with open(config, "w") as f:
        f.write(
            f"[hookdaemon]\nlisten = tcp:{port}:interface=127.0.0.1\n"
            # Keep every job, so the report can find every delivery in the journal.
            f"history = {args.deliveries * 2}\n"
            f"[hook:burst]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\n"
            f"burst = {args.burst}\ntimeout = 3600\n"
            "command = sh -c 'echo run $HOOK_JOB $HOOK_DELIVERY; sleep 2'\n"
        )
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            "-n",
            "--pidfile=",
            "--logfile=twistd.log",
            "hookdaemon",
            "--config",
            config,
        ],
        cwd=directory,
    )
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/hooks/burst"
        began = time.perf_counter()
        results = _run(url, args.deliveries, args.seconds)
        sent_in = time.perf_counter() - began
        journal = os.path.join(directory, "var", "journal.sqlite")
        while True:
            with sqlite3.connect(journal) as db:
                pending = db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')"
                ).fetchone()[0]
            if pending == 0:
                break
            time.sleep(0.2)
        with sqlite3.connect(journal) as db:
            states = dict(db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"))
            ids = {row[0] for row in db.execute("SELECT delivery_id FROM jobs")}
        with open(os.path.join(directory, "var", "log", "burst.log"), "rb") as f:
            runs = sum(1 for line in f if b" stdout run " in line)
    finally:
        daemon.terminate()
        daemon.wait(60)

    codes: dict[int, int] = {}
    for code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    latencies = [seconds * 1000 for _, seconds in results]
    missing = [n for n in range(args.deliveries) if f"burst-{n}" not in ids]
    print(f"deliveries sent:   {args.deliveries} in {sent_in:.2f} s (burst = {args.burst})")
    print(f"answers:           {len(results)} {dict(sorted(codes.items()))}")
    print(
        f"answer time (ms):  p50 {percentile(latencies, 0.5):.1f}  "
        f"p99 {percentile(latencies, 0.99):.1f}  max {max(latencies):.1f}"
    )
    print(f"command runs:      {runs}")
    print(f"journal states:    {dict(sorted(states.items()))}")
    print(f"deliveries missing from the journal: {len(missing)}")


def _run(url: str, count: int, seconds: float) -> list[tuple[int, float]]:
    from twisted.internet import reactor

    results: list[tuple[int, float]] = []

    def go() -> None:
        d = defer.Deferred.fromCoroutine(burst(reactor, url, count, seconds))
        d.addCallback(results.extend)
        d.addErrback(lambda f: (print(f.getTraceback(), file=sys.stderr), None))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    return results


if __name__ == "__main__":
    main()
