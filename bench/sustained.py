"""
Does ingest stay flat as traffic goes on? One hookdaemon (one hook running
`true`, burst = coalesce, as in bench/compare.py's ingest) takes wrk's load for
several windows in a row; each window prints requests/s, wrk's p99, the daemon's
resident memory and the journal's size on disk.

    python bench/sustained.py [--windows 8] [--seconds 10]

Run by hand; not part of the test suite. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil

import compare
import daemons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    run = compare.Run(
        argparse.Namespace(scale=1.0, config_line=[], hookdaemon_tree=None, webhook_verbose=False)
    )
    daemon = run.hookdaemon("ingest", {"ingest": "true"}, {"max_connections": 1024})
    journal = os.path.join(daemon.directory, "var", "journal.sqlite")
    try:
        run.check_signing(daemon, "ingest", 202)
        print("| window | requests | requests/s | wrk p99 | non-2xx | RSS | journal on disk |")
        print("|---|---|---|---|---|---|---|")
        total = 0
        for window in range(1, args.windows + 1):
            result = compare.run_wrk(run, daemon, "ingest", args.seconds)
            total += result["requests"]
            rss = daemon.memory()["VmRSS"] / 1024
            size = sum(os.path.getsize(p) for p in glob.glob(journal + "*")) / 1e6
            print(
                f"| {window} | {total:,} | {result['requests_per_second']:,.0f}"
                f" | {result['latency_p99_ms']:.1f} ms | {result['non_2xx_3xx']}"
                f" | {rss:.1f} MB | {size:.1f} MB |",
                flush=True,
            )
    finally:
        daemon.stop()
        daemons.stop_all()
        shutil.rmtree(run.root, ignore_errors=True)


if __name__ == "__main__":
    main()
