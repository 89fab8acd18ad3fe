"""
Ingest alone, for two or more checkouts in turn: the quick before/after of a
change to the delivery path, where bench/compare.py runs every scenario and
webhook too.

Each round starts a fresh twistd hookdaemon from each checkout in the order
given (compare.py's ingest hook: GitHub, signed, burst = coalesce), puts
compare.py's wrk load on it and prints its requests/s and its CPU per request
by thread: main (twistd's reactor), threads (the journal's and the output
writer's), children (the commands). The rounds alternate the checkouts, so a
machine that slows down meanwhile slows all of them alike.

    git worktree add /tmp/before HEAD~1
    python bench/ingest_pairs.py /tmp/before . --rounds 3
    python bench/ingest_pairs.py /tmp/before . --command 'sleep 100'

Run by hand; not part of the test suite. Traffic goes to 127.0.0.1 only.
Needs wrk.
"""

from __future__ import annotations

import argparse
import os
import shutil

import compare
import daemons


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.strip().splitlines()[1:]),
    )
    parser.add_argument("trees", nargs="+", metavar="CHECKOUT", help="hookdaemon checkouts")
    parser.add_argument("--command", default="true", help="the hook's command (default: true)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8, help="wrk's duration per run")
    args = parser.parse_args()
    trees = [os.path.abspath(tree) for tree in args.trees]
    print("| round | checkout | requests/s | main µs | threads µs | children µs |")
    print("|---|---|---|---|---|---|")
    for number in range(1, args.rounds + 1):
        for tree in trees:
            run = compare.Run(
                argparse.Namespace(
                    scale=1.0, config_line=[], hookdaemon_tree=tree, webhook_verbose=False
                )
            )
            daemon = run.hookdaemon("ingest", {"ingest": args.command}, {"max_connections": 1024})
            try:
                run.check_signing(daemon, "ingest", 202)
                result = compare.run_wrk(run, daemon, "ingest", args.seconds)
            finally:
                daemon.stop()
                daemons.stop_all()
                shutil.rmtree(run.root, ignore_errors=True)
            cpu = result["cpu_us_per_request"]
            print(
                f"| {number} | {tree} | {result['requests_per_second']:,.0f}"
                f" | {cpu['main']:.0f} | {cpu['threads']:.0f} | {cpu['children']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
