"""
What bounds ingest (issue 6, item 1): requests/s and CPU time per request, under
the same wrk load as bench/compare.py's ingest, for

  hookdaemon      twistd hookdaemon, one hook running `true`, burst = coalesce
  raw x1          bench/raw_server.py: a bare twisted.web Resource that checks the
                  signature, parses the JSON and answers 202 (no routing, journal,
                  log or job): the most one Twisted process can do on this path
  raw x2          the same in two processes sharing the port (SO_REUSEPORT)
  webhook         adnanh/webhook, spawning `true` per request

CPU per request is the server's user + system time (its threads, and its children
that were reaped, such as the `true` commands) over the requests wrk completed, in
all and in its main thread alone (twistd's reactor). Its temporary directories are
removed at the end.

    python bench/ceiling.py [--seconds 10]

Run by hand; not part of the test suite. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from typing import Any

import compare
import daemons


def raw_server(run: compare.Run, processes: int) -> daemons.Daemon:
    directory = run.directory(f"raw-x{processes}")
    port = daemons.free_port()
    log = os.path.join(directory, "raw.log")
    daemon = daemons.launch(
        f"raw x{processes}",
        [
            sys.executable,
            os.path.join(daemons.BENCH_DIR, "raw_server.py"),
            str(port),
            run.secret,
            str(processes),
        ],
        directory,
        port,
        log,
        stderr=log,
    )
    time.sleep(0.5)  # let every forked process listen
    return daemon


def measure(run: compare.Run, daemon: daemons.Daemon, seconds: int) -> dict[str, Any]:
    """wrk's figures, and the CPU per request of every process of the server (raw x2: two)."""
    pids = (
        [daemon.pid, *daemons.descendants(daemon.pid)]
        if daemon.name.startswith("raw")
        else [daemon.pid]
    )
    before = all_cpu_times(pids)
    result = compare.run_wrk(run, daemon, "ingest", seconds)
    result["cpu_us_per_request"] = daemons.cpu_per_request(
        before, all_cpu_times(pids), result["requests"]
    )
    return result


def all_cpu_times(pids: list[int]) -> dict[str, float]:
    """L{daemons.cpu_times} of every process in C{pids}, added up."""
    times = [daemons.cpu_times(pid) for pid in pids]
    return {key: sum(t[key] for t in times) for key in times[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    run = compare.Run(
        argparse.Namespace(scale=1.0, config_line=[], hookdaemon_tree=None, webhook_verbose=False)
    )
    results: dict[str, dict[str, Any]] = {}
    starters = {
        "hookdaemon": lambda: run.hookdaemon(
            "ingest", {"ingest": "true"}, {"max_connections": 1024}
        ),
        "raw x1": lambda: raw_server(run, 1),
        "raw x2": lambda: raw_server(run, 2),
        "webhook": lambda: run.webhook("ingest", {"ingest": ["true"]}),
    }
    try:
        for name, start in starters.items():  # the temporary directories go at the end
            compare.progress(f"{name}: wrk for {args.seconds} s")
            daemon = start()
            try:
                if name in ("hookdaemon", "webhook"):
                    run.check_signing(daemon, "ingest", 202 if name == "hookdaemon" else 200)
                results[name] = measure(run, daemon, args.seconds)
            finally:
                daemon.stop()
    finally:
        daemons.stop_all()
        shutil.rmtree(run.root, ignore_errors=True)
    webhook = results["webhook"]["requests_per_second"]
    raw_main = results["raw x1"]["cpu_us_per_request"]["main"]
    print(
        "| server | requests/s | vs webhook | CPU per request | main thread (reactor)"
        " | vs raw x1's | non-2xx |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        cpu = r["cpu_us_per_request"]
        print(
            f"| {name} | {r['requests_per_second']:,.0f}"
            f" | {r['requests_per_second'] / webhook:.2f}x"
            f" | {cpu['total']:.0f} µs | {cpu['main']:.0f} µs"
            f" | {cpu['main'] / raw_main:.2f}x | {r['non_2xx_3xx']} |"
        )
    print(
        "\nCPU per request: user + system time from /proc while wrk ran, over the requests"
        " it completed, children (the jobs' commands) included; the main thread is"
        " twistd's reactor (for raw x2, both processes' main threads; for webhook, a Go"
        " thread among others). Issue 19's target: hookdaemon's reactor at most 1.7x raw x1's."
    )
    print(f"\nReproduce: `python {' '.join(sys.argv)}`")


if __name__ == "__main__":
    main()
