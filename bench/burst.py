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
bench/compare.py uses send_burst() and journal_report() from here for its
burst scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

import daemons
import treq
from twisted.internet import defer, task
from twisted.web.client import Agent, HTTPConnectionPool

# Delivery n -> (body, headers).
RequestFor = Callable[[int], tuple[bytes, dict[str, str]]]


def generic_delivery(n: int) -> tuple[bytes, dict[str, str]]:
    """Delivery C{n} for a `forge = generic` hook: its own commit and X-Request-Id."""
    body = json.dumps({"ref": "refs/heads/main", "after": f"{n + 1:040x}"}).encode()
    return body, {"Content-Type": "application/json", "X-Request-Id": f"burst-{n}"}


async def burst(
    reactor: Any, url: str, count: int, seconds: float, request_for: RequestFor
) -> list[tuple[int, float]]:
    """POST C{count} deliveries spread evenly over C{seconds}; (status, answer time) each."""
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = 64
    client = treq.client.HTTPClient(Agent(reactor, pool=pool))
    results: list[tuple[int, float]] = []

    async def one(n: int) -> None:
        await task.deferLater(reactor, seconds * n / count)
        body, headers = request_for(n)
        started = time.perf_counter()
        response = await client.post(
            url, data=body, headers={key: [value] for key, value in headers.items()}
        )
        await response.content()
        results.append((response.code, time.perf_counter() - started))

    await defer.gatherResults([defer.Deferred.fromCoroutine(one(n)) for n in range(count)])
    await pool.closeCachedConnections()
    return results


def send_burst(
    url: str, count: int, seconds: float, request_for: RequestFor
) -> list[tuple[int, float]]:
    """
    Run L{burst} on the global reactor and return its results. A reactor runs
    once per process: call this at most once per process (compare.py calls it
    in a fresh process each time).
    """
    from twisted.internet import reactor

    results: list[tuple[int, float]] = []

    def go() -> None:
        d = defer.Deferred.fromCoroutine(burst(reactor, url, count, seconds, request_for))
        d.addCallback(results.extend)
        d.addErrback(lambda f: (print(f.getTraceback(), file=sys.stderr), None))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    return results


def wait_until_idle(journal: str, timeout: float = 600) -> None:
    """Poll the journal until no job is queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(journal) as db:
            pending = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')"
            ).fetchone()[0]
        if pending == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"jobs still queued or running after {timeout} s")


def journal_report(journal: str, delivery_ids: Iterable[str]) -> tuple[dict[str, int], int]:
    """The journal's job count per state, and how many of C{delivery_ids} it lacks."""
    with sqlite3.connect(journal) as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"))
        ids = {row[0] for row in db.execute("SELECT delivery_id FROM jobs")}
    return dict(sorted(states.items())), sum(1 for d in delivery_ids if d not in ids)


def summary(results: list[tuple[int, float]]) -> dict[str, Any]:
    """Answer codes and p50/p99/max answer times (ms) of L{burst}'s results."""
    codes: dict[int, int] = {}
    for code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    latencies = [seconds * 1000 for _, seconds in results]
    return {
        "answers": len(results),
        "codes": dict(sorted(codes.items())),
        "p50_ms": daemons.percentile(latencies, 0.5),
        "p99_ms": daemons.percentile(latencies, 0.99),
        "max_ms": max(latencies, default=float("nan")),
    }


def count_runs(log_dir: str, hook: str, marker: bytes = b" stdout run ") -> int:
    """Lines carrying C{marker} in LOG_DIR/HOOK.log and its rotated files."""
    runs = 0
    for name in os.listdir(log_dir):
        if name == f"{hook}.log" or name.startswith(f"{hook}.log."):
            with open(os.path.join(log_dir, name), "rb") as f:
                runs += sum(1 for line in f if marker in line)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--burst", default="coalesce", choices=["coalesce", "queue"])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="hookdaemon-burst-")
    daemon = daemons.start_hookdaemon(
        directory,
        # Keep every job, so the report can find every delivery in the journal.
        # Its one address stands in for a forge's many, whose connections the
        # per-client cap (max_client_connections, 32) would otherwise refuse.
        {
            "history": args.deliveries * 2,
            "max_connections": 1024,
            "max_client_connections": 1024,
        },
        "[hook:burst]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\n"
        f"burst = {args.burst}\ntimeout = 3600\n"
        "command = sh -c 'echo run $HOOK_JOB $HOOK_DELIVERY; sleep 2'\n",
    )
    try:
        began = time.perf_counter()
        results = send_burst(
            f"{daemon.url}/hooks/burst", args.deliveries, args.seconds, generic_delivery
        )
        sent_in = time.perf_counter() - began
        journal = os.path.join(directory, "var", "journal.sqlite")
        wait_until_idle(journal)
        states, missing = journal_report(journal, (f"burst-{n}" for n in range(args.deliveries)))
        runs = count_runs(os.path.join(directory, "var", "log"), "burst")
    finally:
        daemon.stop()
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    answered = summary(results)
    print(f"deliveries sent:   {args.deliveries} in {sent_in:.2f} s (burst = {args.burst})")
    print(f"answers:           {answered['answers']} {answered['codes']}")
    print(
        f"answer time (ms):  p50 {answered['p50_ms']:.1f}  "
        f"p99 {answered['p99_ms']:.1f}  max {answered['max_ms']:.1f}"
    )
    print(f"command runs:      {runs}")
    print(f"journal states:    {states}")
    print(f"deliveries missing from the journal: {missing}")


if __name__ == "__main__":
    main()
