"""
Chaos benchmark (issue 13): does an accepted delivery survive SIGKILL, and run
once?

A real `twistd -n hookdaemon` on 127.0.0.1, one `forge = generic` hook with
`burst = queue`, whose command appends `start ID JOB` to a file, sleeps, and
appends `end ID JOB` (`term ID JOB` if SIGTERM cuts it). Several client threads
send deliveries, each with its own X-Request-Id; on a connection error, a
timeout or a 503 a client sends the same delivery, with the same id, again
after a short wait, until it is answered 202 or `200 duplicate` (accepted).
Meanwhile the daemon is SIGKILLed at random moments and started again on the
same config and state. Once the job API shows nothing queued or running, the
daemon gets SIGTERM, and the file of runs and the job API are compared:

- lost: accepted deliveries whose command never reached its end line (must be 0);
- doubled: deliveries whose command ended more than once outside attempts the
  job API shows as `interrupted` (must be 0);
- and what explains the rest: interrupted attempts (whether their command had
  ended, was cut, or never started), retries run, interrupted attempts never
  retried, client retries, 503s, runs overlapping another run.

    python bench/chaos.py [--deliveries 300] [--clients 6] [--kills 10] [--seed 1]
                          [--sleep 0.2] [--spread S] [--interval S]
                          [--hookdaemon-tree DIR] [--json FILE] [--keep]

With the default 0.2 s command a killed run nearly always finishes on its own
before the next start looks for leftovers; `--sleep 5 --deliveries 30 --kills 12
--interval 3` makes the restarts cut commands, and retries, instead.

The script imports hookdaemon itself (bench/daemons.py), so to run a snapshot
while the working tree is being edited, put the snapshot first on PYTHONPATH too:

    rm -rf /tmp/hd-chaos && mkdir /tmp/hd-chaos && git archive HEAD | tar -x -C /tmp/hd-chaos
    PYTHONPATH=/tmp/hd-chaos python bench/chaos.py --hookdaemon-tree /tmp/hd-chaos

Exits 1 if anything was lost or doubled, 2 if the run itself could not be
completed (a delivery never accepted, the daemon not restarting, jobs never
ending). Run by hand; not part of the test suite. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import daemons
from attrs import define, field

HOOK = "burst"
TOKEN = "chaos-token"  # a bearer token for the generic hook; loopback only
RUNS = "runs"
"""The file, in the daemon's directory, that the command and the chaos loop append to."""

FINAL_STATES = {"succeeded", "failed", "timed_out", "interrupted", "cancelled", "superseded"}


class ChaosDaemon(daemons.Hookdaemon):
    """
    A bench L{daemons.Hookdaemon} whose log includes twistd's rotated files
    (twistd rotates its --logfile at 1 MB): a restart waits for its own
    "listening on" past the length of the log so far, which must only grow.
    """

    @property
    def log(self) -> str:
        return "".join(self._read(path) for path in log_files(self.directory))


def log_files(directory: str) -> list[str]:
    """twistd.log and its rotated files, oldest first."""
    rotated = glob.glob(os.path.join(directory, "twistd.log.*"))
    rotated.sort(key=lambda path: -int(path.rsplit(".", 1)[1]))
    return [*rotated, os.path.join(directory, "twistd.log")]


def start_daemon(directory: str, args: argparse.Namespace) -> ChaosDaemon:
    # Once a killed daemon is gone, a step's stdout and stderr are pipes without
    # a reader: sh's own "Terminated" note, when SIGTERM ends its sleep, would
    # kill it with SIGPIPE before its trap writes the term mark.
    command = (
        "trap '' PIPE; "
        f'term() {{ echo "term $HOOK_DELIVERY $HOOK_JOB" >> {RUNS}; exit 143; }}; trap term TERM; '
        f'echo "start $HOOK_DELIVERY $HOOK_JOB" >> {RUNS}; sleep {args.sleep}; '
        f'echo "end $HOOK_DELIVERY $HOOK_JOB" >> {RUNS}'
    )
    hooks = (
        f"[hook:{HOOK}]\nforge = generic\nsecret = env:CHAOS_TOKEN\nallow_from = 127.0.0.1\n"
        f"workdir = .\nshell = yes\nburst = queue\nmax_queued = {args.deliveries * 2 + 10}\n"
        f"timeout = 600\ncommand = {command}\n"
    )
    settings = {
        # Keep every job and every delivery id, so the job API shows them all.
        "history": args.deliveries * 4 + 100,
        "stop_grace": 5,
    }
    environ = {"CHAOS_TOKEN": TOKEN}
    if args.hookdaemon_tree is not None:
        environ["PYTHONPATH"] = os.pathsep.join(
            [
                os.path.abspath(args.hookdaemon_tree),
                *filter(None, [os.environ.get("PYTHONPATH")]),
            ]
        )
    daemon = ChaosDaemon(
        directory,
        hooks,
        daemons.hookdaemon_settings(settings),
        environ,
        cwd="/",
        own_session=True,
    )
    daemon.start()
    daemons.RUNNING.append(daemon)
    return daemon


# The clients -----------------------------------------------------------------


@define
class Sent:
    """One delivery and what its client saw of it."""

    delivery_id: str
    body: bytes
    attempts: int = 0
    answers: Counter[str] = field(factory=Counter)
    """Each answer or error seen: "202", "200 duplicate", "503", "ConnectionRefusedError"..."""
    accepted: bool = False
    job: int | None = None


@define
class Clients:
    """What every client thread shares: where to send, how long to wait, and a way to stop."""

    port: int
    timeout: float
    give_up: float
    stop: threading.Event = field(factory=threading.Event)

    def run(self, number: int, mine: list[Sent], pause: float, rng: random.Random) -> None:
        connection: http.client.HTTPConnection | None = None
        for sent in mine:
            if self.stop.wait(rng.uniform(0, 2 * pause)):
                return
            deadline = time.monotonic() + self.give_up
            while not sent.accepted and time.monotonic() < deadline:
                if connection is None:
                    connection = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=self.timeout
                    )
                sent.attempts += 1
                try:
                    status, answer = post(connection, sent)
                except (OSError, http.client.HTTPException) as e:
                    connection.close()
                    connection = None
                    sent.answers[type(e).__name__] += 1
                else:
                    seen = f"200 {answer.get('status')}" if status == 200 else str(status)
                    sent.answers[seen] += 1
                    if seen in ("202", "200 duplicate"):
                        sent.accepted, sent.job = True, answer.get("job")
                        break
                    if status != 503:
                        log(
                            f"client {number}: {sent.delivery_id}: {seen} {answer}; not sent again"
                        )
                        break
                if self.stop.wait(rng.uniform(0.05, 0.3)):
                    return
        if connection is not None:
            connection.close()


def post(connection: http.client.HTTPConnection, sent: Sent) -> tuple[int, dict[str, Any]]:
    connection.request(
        "POST",
        f"/hooks/{HOOK}",
        body=sent.body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {TOKEN}",
            "X-Request-Id": sent.delivery_id,
        },
    )
    response = connection.getresponse()
    content = response.read()
    if response.getheader("Connection", "").lower() == "close":
        connection.close()
    try:
        answer = json.loads(content)
    except ValueError:
        answer = {"raw": content.decode("latin-1")}
    return response.status, answer if isinstance(answer, dict) else {"raw": answer}


# The chaos loop --------------------------------------------------------------


@define
class Kill:
    number: int
    at: float
    """Seconds since the run began."""
    pid: int
    restarted_in: float | None = None
    log_offset: int = 0
    """Where in the daemon's log (rotated files included) the restart's lines begin."""


@define
class Chaos:
    daemon: ChaosDaemon
    kills: int
    interval: float
    rng: random.Random
    began: float
    done: list[Kill] = field(factory=list)
    failed: str | None = None
    stop: threading.Event = field(factory=threading.Event)

    def run(self) -> None:
        for number in range(1, self.kills + 1):
            if self.stop.wait(self.rng.uniform(0.1, 2 * self.interval - 0.1)):
                return
            kill = Kill(number, time.monotonic() - self.began, self.daemon.pid)
            mark(self.daemon.directory, f"kill {number}")
            self.daemon.kill()
            mark(self.daemon.directory, f"killed {number}")
            kill.log_offset = len(self.daemon.log)
            self.done.append(kill)
            restarting = time.monotonic()
            for attempt in range(3):
                try:
                    self.daemon.start()
                except AssertionError as e:
                    log(f"restart {number}, attempt {attempt + 1} failed: {e}")
                    continue
                break
            else:
                self.failed = f"the daemon did not start again after kill {number}"
                return
            kill.restarted_in = time.monotonic() - restarting
            mark(self.daemon.directory, f"up {number}")
            log(
                f"kill {number} at {kill.at:.1f} s (pid {kill.pid}); "
                f"listening again {kill.restarted_in:.2f} s later"
            )


def mark(directory: str, line: str) -> None:
    """A line of the timeline, in the file the command appends to (O_APPEND: one write)."""
    with open(os.path.join(directory, RUNS), "a") as f:
        f.write(line + "\n")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# The job API -----------------------------------------------------------------


def get(port: int, path: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def live_jobs(port: int) -> int | None:
    """Jobs queued or running among the newest 1000; None if the API did not answer."""
    try:
        status, answer = get(port, "/jobs?limit=1000")
    except (OSError, http.client.HTTPException, ValueError):
        return None
    if status != 200:
        return None
    return sum(1 for job in answer["jobs"] if job["state"] not in FINAL_STATES)


def wait_idle(port: int, timeout: float) -> bool:
    """Until the job API shows nothing queued or running twice in a row; False at C{timeout}."""
    deadline = time.monotonic() + timeout
    idle = 0
    while time.monotonic() < deadline:
        idle = idle + 1 if live_jobs(port) == 0 else 0
        if idle >= 2:
            return True
        time.sleep(0.5)
    return False


def all_jobs(port: int, known: set[int]) -> dict[int, dict[str, Any]]:
    """Every job the API shows: the newest 1000, then any older or C{known} one one by one."""
    status, answer = get(port, "/jobs?limit=1000")
    if status != 200:
        raise RuntimeError(f"GET /jobs: {status} {answer}")
    jobs = {job["id"]: job for job in answer["jobs"]}
    for job_id in set(range(1, max([*jobs, *known], default=0) + 1)) - set(jobs):
        status, job = get(port, f"/jobs/{job_id}")
        if status == 200:
            jobs[job_id] = job
    return jobs


# What happened ---------------------------------------------------------------


@define
class Run:
    """One run of a job's command, from the file of runs: the line numbers of its marks."""

    job: int
    delivery: str
    start: int | None = None
    end: int | None = None
    term: int | None = None

    @property
    def until(self) -> int | None:
        """Where it stopped, if it said so: its end, or its SIGTERM."""
        return self.end if self.end is not None else self.term

    def open_at(self, line: int) -> bool:
        """Had it started, and not yet stopped, at C{line}?"""
        until = self.until
        return self.start is not None and self.start < line and (until is None or until > line)


def read_runs(path: str) -> tuple[dict[int, Run], list[tuple[int, int]], list[str]]:
    """
    The runs by job; each kill's line numbers, the mark before SIGKILL and the one
    after the daemon was gone (a run that starts between them is the dead daemon's);
    and any line that fits neither.
    """
    runs: dict[int, Run] = {}
    kills: list[tuple[int, int]] = []
    strange: list[str] = []
    with open(path) as f:
        for number, line in enumerate(f):
            words = line.split()
            if len(words) == 3 and words[0] in ("start", "end", "term"):
                what, delivery, job = words[0], words[1], int(words[2])
                run = runs.setdefault(job, Run(job, delivery))
                if getattr(run, what) is not None or run.delivery != delivery:
                    strange.append(f"line {number + 1}: {line.strip()!r} (job seen before)")
                setattr(run, what, number)
            elif len(words) == 2 and words[0] == "kill":
                kills.append((number, number))
            elif len(words) == 2 and words[0] == "killed" and kills:
                kills[-1] = (kills[-1][0], number)
            elif not (len(words) == 2 and words[0] == "up"):
                strange.append(f"line {number + 1}: {line.strip()!r}")
    return runs, kills, strange


def interruption(run: Run, kills: list[tuple[int, int]]) -> str:
    """When the kill that interrupted this run came, as far as its marks tell."""
    if run.start is None:
        return "before its command started"
    kill = next((before for before, after in kills if after > run.start), None)
    if kill is None:
        return "with no kill after its start"
    if run.end is not None and run.end < kill:
        return "after its command ended"
    if run.end is not None:
        return "while its command ran (it ended anyway)"
    if run.term is not None:
        return "while its command ran (SIGTERM at the restart)"
    return "while its command ran (it left no end)"


def analyse(
    directory: str, deliveries: list[Sent], jobs: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    runs, kills, strange = read_runs(os.path.join(directory, RUNS))
    ends: defaultdict[str, list[int]] = defaultdict(list)  # delivery -> jobs whose command ended
    for run in sorted(runs.values(), key=lambda r: r.job):
        if run.end is not None:
            ends[run.delivery].append(run.job)

    # One hook with burst = queue: two runs should never be at work at once. Only
    # runs that marked where they stopped count (a SIGKILLed run leaves no mark).
    overlaps = [
        (run.job, other.job)
        for run in runs.values()
        if run.start is not None and run.until is not None
        for other in runs.values()
        if other.job != run.job and other.start is not None and run.start < other.start < run.until
    ]

    accepted = {sent.delivery_id for sent in deliveries if sent.accepted}
    by_delivery: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for job in jobs.values():
        by_delivery[job["delivery"]["id"]].append(job)

    def state(job_id: int) -> str:
        return jobs[job_id]["state"] if job_id in jobs else "unknown"

    lost = sorted(d for d in accepted if not ends.get(d))
    doubled = sorted(
        d for d, ended in ends.items() if sum(1 for j in ended if state(j) != "interrupted") > 1
    )
    interrupted = [job for job in jobs.values() if job["state"] == "interrupted"]
    split = Counter[str]()
    for job in interrupted:
        run = runs.get(job["id"], Run(job["id"], job["delivery"]["id"]))
        split[interruption(run, kills)] += 1
    retries = [job for job in jobs.values() if job["retry_of"] is not None]
    # A retry names its delivery's first job (or, before max_attempts, the one it
    # repeats): an interrupted job was retried if a later retry of its delivery exists.
    retried = {
        job["id"]
        for job in interrupted
        if any(
            later["id"] > job["id"] and later["retry_of"] is not None
            for later in by_delivery[job["delivery"]["id"]]
        )
    }
    client_answers = Counter[str]()
    for sent in deliveries:
        client_answers.update(sent.answers)

    def detail(delivery: str) -> dict[str, Any]:
        shown = []
        for job in sorted(by_delivery.get(delivery, []), key=lambda j: j["id"]):
            run = runs.get(job["id"], Run(job["id"], delivery))
            marks = [name for name in ("start", "end", "term") if getattr(run, name) is not None]
            shown.append(
                {
                    "id": job["id"],
                    "state": job["state"],
                    "retry_of": job["retry_of"],
                    "attempt": job.get("attempt"),
                    "runs": marks,
                }
            )
        return {"delivery": delivery, "jobs": shown}

    return {
        "deliveries": len(deliveries),
        "accepted": len(accepted),
        "accepted_202": sum(1 for s in deliveries if s.accepted and s.answers["202"]),
        "accepted_duplicate_only": sum(
            1 for s in deliveries if s.accepted and not s.answers["202"]
        ),
        "never_accepted": sorted(s.delivery_id for s in deliveries if not s.accepted),
        "lost": len(lost),
        "doubled": len(doubled),
        "interrupted": len(interrupted),
        "interrupted_split": dict(split),
        "retries": len(retries),
        "retries_run": sum(1 for job in retries if job["id"] in runs),
        "retry_states": dict(Counter(job["state"] for job in retries)),
        "interrupted_not_retried": sum(1 for job in interrupted if job["id"] not in retried),
        "most_jobs_of_one_delivery": max((len(js) for js in by_delivery.values()), default=0),
        "completed_more_than_once": sum(1 for ended in ends.values() if len(ended) > 1),
        "client_retried": sum(1 for s in deliveries if s.attempts > 1),
        "answers": dict(sorted(client_answers.items())),
        "seen_503": client_answers["503"],
        "runs": len(runs),
        "runs_never_ended": sum(1 for r in runs.values() if r.until is None),
        "runs_termed": sum(1 for r in runs.values() if r.term is not None),
        "runs_ended_after_their_daemon_was_killed": sum(
            1
            for r in runs.values()
            if r.end is not None and any(r.open_at(before) for before, _ in kills)
        ),
        "kills_that_cut_a_running_command": sum(
            1 for before, _ in kills if any(r.open_at(before) for r in runs.values())
        ),
        "overlapping_runs": len(overlaps),
        "overlaps": overlaps[:50],
        "job_states": dict(sorted(Counter(job["state"] for job in jobs.values()).items())),
        "jobs_of_unknown_deliveries": sum(
            1 for job in jobs.values() if job["delivery"]["id"] not in accepted
        ),
        "runs_of_jobs_not_shown": sorted(job for job in runs if job not in jobs)[:50],
        "answers_naming_another_delivery": [
            (s.delivery_id, s.job)
            for s in deliveries
            if s.job is not None
            and jobs.get(s.job, {}).get("delivery", {}).get("id") != s.delivery_id
        ][:50],
        "lost_details": [detail(d) for d in lost[:50]],
        "doubled_details": [detail(d) for d in doubled[:50]],
        "strange_lines": strange[:50],
    }


def log_entries(text: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each entry of a twistd log; an entry's further lines start with a tab."""
    offset = 0
    entry: list[str] = []
    begun = 0
    for line in text.split("\n"):
        if not line.startswith("\t") and entry:
            yield begun, "\n".join(entry)
            entry, begun = [], offset
        entry.append(line)
        offset += len(line) + 1
    if entry:
        yield begun, "\n".join(entry)


def daemon_log_findings(daemon: ChaosDaemon, kills: list[Kill]) -> dict[str, Any]:
    """Tracebacks and leftover groups ended, in the daemon's log, by the start they follow."""
    text = daemon.log
    offsets = [0, *(kill.log_offset for kill in kills)]
    tracebacks = [
        {
            "after_kill": max(i for i, start in enumerate(offsets) if start <= offset),
            "text": entry.rstrip()[:4000],
        }
        for offset, entry in log_entries(text)
        if "Traceback (most recent call last)" in entry
    ]
    return {
        "tracebacks": tracebacks,
        "leftover_groups_ended": len(re.findall(r"outlived the last daemon", text)),
        "stderr": daemon.stderr.strip()[-3000:],
    }


# Putting it together ---------------------------------------------------------


def table(figures: dict[str, Any], args: argparse.Namespace, kills: int) -> str:
    split = ", ".join(f"{what}: {n}" for what, n in figures["interrupted_split"].items())
    rows = [
        ("deliveries sent", f"{figures['deliveries']} from {args.clients} clients"),
        (
            "accepted (202 or 200 duplicate)",
            f"{figures['accepted']} ({figures['accepted_202']} answered 202, "
            f"{figures['accepted_duplicate_only']} only 200 duplicate)",
        ),
        ("LOST: accepted, command never ended", f"{figures['lost']}   (must be 0)"),
        (
            "DOUBLED: ended twice outside an interrupted attempt",
            f"{figures['doubled']}   (must be 0)",
        ),
        ("interrupted attempts", f"{figures['interrupted']}" + (f" ({split})" if split else "")),
        (
            "retries run",
            f"{figures['retries_run']} of {figures['retries']} queued {figures['retry_states']}",
        ),
        ("interrupted attempts never retried", figures["interrupted_not_retried"]),
        ("most jobs (attempts) of one delivery", figures["most_jobs_of_one_delivery"]),
        ("deliveries whose command ended more than once", figures["completed_more_than_once"]),
        ("deliveries that needed client retries", figures["client_retried"]),
        ("503s seen", figures["seen_503"]),
        ("answers and errors the clients saw", figures["answers"]),
        (
            "kills",
            f"{kills} ({figures['kills_that_cut_a_running_command']} cut a running command)",
        ),
        (
            "runs: all / cut by SIGTERM / no end at all",
            f"{figures['runs']} / {figures['runs_termed']} / {figures['runs_never_ended']}",
        ),
        (
            "runs that ended after their daemon was killed",
            figures["runs_ended_after_their_daemon_was_killed"],
        ),
        ("leftover process groups ended at a restart", figures["leftover_groups_ended"]),
        ("runs overlapping another run", figures["overlapping_runs"]),
        ("job states", figures["job_states"]),
        ("tracebacks in the daemon's log", len(figures["tracebacks"])),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def describe(tree: str | None) -> dict[str, str]:
    environ = dict(os.environ)
    if tree is not None:
        environ["PYTHONPATH"] = os.path.abspath(tree)
    imported = subprocess.run(
        [sys.executable, "-c", "import hookdaemon; print(hookdaemon.__file__)"],
        capture_output=True,
        text=True,
        env=environ,
        cwd="/",
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "-C", tree or daemons.REPO_DIR, "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {"hookdaemon": imported, "git": commit or "(not a git checkout)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds the command sleeps")
    parser.add_argument(
        "--spread",
        type=float,
        default=None,
        help="seconds over which the clients send (default: half the jobs' total sleep)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="mean seconds between a restart and the next kill (default: the jobs' expected "
        "run time over kills + 1)",
    )
    parser.add_argument(
        "--hookdaemon-tree",
        metavar="DIR",
        help="run hookdaemon from this checkout (put first on PYTHONPATH) "
        "instead of the installed one",
    )
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    seed = random.randrange(1 << 32) if args.seed is None else args.seed
    rng = random.Random(seed)
    spread = args.deliveries * args.sleep / 2 if args.spread is None else args.spread
    interval = (
        args.deliveries * (args.sleep + 0.05) / (args.kills + 1)
        if args.interval is None
        else args.interval
    )
    where = describe(args.hookdaemon_tree)
    print(
        f"chaos: {args.deliveries} deliveries from {args.clients} clients over ~{spread:.0f} s, "
        f"{args.kills} kills ~{interval:.1f} s apart, command sleeps {args.sleep} s, "
        f"seed {seed}\nhookdaemon: {where['hookdaemon']} ({where['git']})",
        flush=True,
    )

    directory = tempfile.mkdtemp(prefix="hookdaemon-chaos-")
    open(os.path.join(directory, RUNS), "w").close()
    deliveries = [
        Sent(
            f"chaos-{n:05d}",
            json.dumps({"ref": "refs/heads/main", "after": f"{n + 1:040x}"}).encode(),
        )
        for n in range(args.deliveries)
    ]
    keep = args.keep
    problems: list[str] = []
    jobs: dict[int, dict[str, Any]] = {}
    exit_code: int | None = None
    daemon = start_daemon(directory, args)
    began = time.monotonic()
    clients = Clients(daemon.port, timeout=15, give_up=300)
    chaos = Chaos(daemon, args.kills, interval, random.Random(rng.random()), began)
    per_client = max(1, -(-args.deliveries // args.clients))
    threads = [
        threading.Thread(
            target=clients.run,
            args=(
                number,
                deliveries[number :: args.clients],
                spread / per_client,
                random.Random(rng.random()),
            ),
            daemon=True,
        )
        for number in range(args.clients)
    ]
    chaos_thread = threading.Thread(target=chaos.run, daemon=True)
    try:
        for thread in [*threads, chaos_thread]:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
                if chaos.failed:
                    clients.stop.set()
        sent_in = time.monotonic() - began
        log(f"clients done after {sent_in:.1f} s; {len(chaos.done)} kills so far")
        while chaos_thread.is_alive():
            chaos_thread.join(0.5)
        if chaos.failed:
            problems.append(chaos.failed)
            keep = True
        elif not wait_idle(daemon.port, timeout=args.deliveries * args.sleep * 4 + 300):
            problems.append("jobs were still queued or running when the wait ended")
        log(f"idle after {time.monotonic() - began:.1f} s")
        known = {s.job for s in deliveries if s.job is not None}
        if not chaos.failed:
            jobs = all_jobs(daemon.port, known)
    finally:
        clients.stop.set()
        chaos.stop.set()
        with contextlib.suppress(Exception):
            daemon.stop(timeout=60)
            exit_code = daemon.process.returncode
        daemons.stop_all()

    figures = analyse(directory, deliveries, jobs)
    figures.update(daemon_log_findings(daemon, chaos.done))
    figures["twistd_exit_code_on_sigterm"] = exit_code
    if figures["never_accepted"]:
        problems.append(f"{len(figures['never_accepted'])} deliveries were never accepted")
    if figures["tracebacks"]:
        keep = True
    print()
    print(table(figures, args, len(chaos.done)))
    for name in ("lost_details", "doubled_details"):
        for item in figures[name][:10]:
            print(f"{name.split('_')[0]}: {item['delivery']}: {item['jobs']}")
    for overlap in figures["overlaps"][:10]:
        print(f"overlap: job {overlap[1]} started while job {overlap[0]} ran")
    for job in figures["runs_of_jobs_not_shown"][:10]:
        print(f"job {job} ran, and the job API does not show it")
    for delivery, job in figures["answers_naming_another_delivery"][:10]:
        print(f"{delivery} was answered with job {job}, which the job API shows for another")
    for line in figures["strange_lines"][:10]:
        print(f"odd line in {RUNS}: {line}")
    for traceback in figures["tracebacks"][:3]:
        print(f"\ntraceback in the daemon's log after kill {traceback['after_kill']}:")
        print(traceback["text"])
    if figures["stderr"]:
        print(f"\ntwistd's stderr:\n{figures['stderr']}")
    for problem in problems:
        print(f"PROBLEM: {problem}")

    result = {
        "seed": seed,
        "args": vars(args),
        "spread_seconds": spread,
        "kill_interval_seconds": interval,
        "hookdaemon": where,
        "directory": directory if keep else None,
        "kills": [
            {"number": k.number, "at": k.at, "pid": k.pid, "restarted_in": k.restarted_in}
            for k in chaos.done
        ],
        "figures": figures,
        "problems": problems,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if keep:
        print(f"kept {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
    if figures["lost"] or figures["doubled"]:
        return 1
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
