"""
hookdaemon against adnanh/webhook, side by side, in one run (issue 6).

Starts a real `twistd -n hookdaemon` and a real `webhook` on 127.0.0.1, each
on a temporary config with equivalent hooks: the same signed GitHub push body,
checked by both (HMAC-SHA256 in X-Hub-Signature-256; webhook answers 401 on a
mismatch), every delivery with its own X-GitHub-Delivery id. A fresh pair of
daemons serves each scenario:

  ingest      wrk -t2 -c20 -d10s --latency: requests/s on a hook running `true`,
              and (hookdaemon) on one whose command keeps running; CPU per
              request by thread (reactor, journal) and in children
  latency     answer time of deliveries sent one after another to a `true` hook
              while 4 jobs each print 200 MB of 100-byte lines
  throughput  one job printing 1 GB of 100-byte lines: time until all of it is in
              hookdaemon's output log (webhook: until the command ends), against
              the same command redirected to a file; peak RSS (VmHWM) of each daemon
  dispatch    POST to the command's first output line, 200 jobs one after another
  burst       bench/burst.py's scenario: 1000 deliveries within 1 s to a hook whose
              command sleeps 2 s (hookdaemon: burst = coalesce)

Prints the machine, the versions, a Markdown table and the command line that
reproduces the run, and writes everything (raw numbers too) to a JSON file.
With --rounds N, the scenarios run N times in turn, a table each, and then one
table of each figure and each round's ratio as min..max: a figure is never one
lucky run.

    python bench/compare.py                               # everything, a few minutes
    python bench/compare.py --only ingest,dispatch --scale 0.1
    python bench/compare.py --config-line 'max_parallel = 8' --json out.json
    python bench/compare.py --only ingest,dispatch --rounds 3

Run by hand; not part of the test suite. Traffic goes to 127.0.0.1 only.
Needs wrk and webhook (Debian: apt-get install wrk webhook).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from importlib import metadata
from typing import Any, NamedTuple

import burst
import daemons

SCENARIOS = ["ingest", "latency", "throughput", "dispatch", "burst"]

# 99 characters and a newline: 100-byte lines.
YES = 'yes "$(printf %099d 0)"'
LINE_BYTES = 100

TERMINAL = {"succeeded", "failed", "timed_out", "interrupted", "superseded"}


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST on a new connection (as a forge does); the status and body of the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def get_json(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {data[:200]!r}")
        return json.loads(data)
    finally:
        connection.close()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float, interval: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def line_count(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def times_in(path: str) -> list[float]:
    """The `date +%s.%N` stamps a command appended to C{path}."""
    with open(path) as f:
        return [float(line) for line in f if line.strip()]


def log_files(log_dir: str, hook: str) -> list[str]:
    """LOG_DIR/HOOK.log and its rotated files."""
    try:
        names = os.listdir(log_dir)
    except FileNotFoundError:
        return []
    return [
        os.path.join(log_dir, name)
        for name in names
        if name == f"{hook}.log" or name.startswith(f"{hook}.log.")
    ]


def total_size(paths: list[str]) -> int:
    size = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            size += os.stat(path).st_size
    return size


def stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": daemons.percentile(ms, 0.5),
        "p99_ms": daemons.percentile(ms, 0.99),
        "max_ms": max(ms, default=float("nan")),
    }


class Run:
    """One run of the comparison: options, secrets, temporary directories."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scale: float = args.scale
        self.secret = uuid.uuid4().hex
        self.root = tempfile.mkdtemp(prefix="hookdaemon-compare-")
        self.deliveries = 0

    def scaled(self, full: int, least: int) -> int:
        return max(least, round(full * self.scale))

    def directory(self, name: str) -> str:
        """A new directory for C{name}: C{name-2}, C{name-3} ... in later rounds."""
        path, number = os.path.join(self.root, name), 1
        while os.path.exists(path):
            number += 1
            path = os.path.join(self.root, f"{name}-{number}")
        os.makedirs(path)
        return path

    def deliveries_for(self, name: str) -> daemons.GitHubDeliveries:
        return daemons.GitHubDeliveries(self.secret, f"{name}-{uuid.uuid4().hex[:8]}")

    def send(self, daemon: daemons.Daemon, hook: str) -> tuple[int, bytes]:
        """One signed push with a fresh delivery id."""
        self.deliveries += 1
        body, headers = daemons.GitHubDeliveries(self.secret, "single")(self.deliveries)
        headers["X-GitHub-Delivery"] = str(uuid.uuid4())
        return post(daemon.port, f"/hooks/{hook}", body, headers)

    def hookdaemon(
        self, name: str, hooks: dict[str, str], settings: dict[str, object] | None = None
    ) -> daemons.Daemon:
        """A twistd hookdaemon whose github hooks run the given commands."""
        sections = "".join(
            f"[hook:{hook}]\nforge = github\nsecret = env:COMPARE_SECRET\n"
            f"workdir = .\ntimeout = 3600\nkill_grace = 2\ncommand = {command}\n\n"
            for hook, command in hooks.items()
        )
        return daemons.start_hookdaemon(
            self.directory(f"{name}-hookdaemon"),
            {"stop_grace": 2, **(settings or {})},
            sections,
            extra=self.args.config_line,
            env={"COMPARE_SECRET": self.secret},
            tree=self.args.hookdaemon_tree,
        )

    def hookdaemon_on_hooks_file(
        self, name: str, hooks: dict[str, list[str]], settings: dict[str, object] | None = None
    ) -> daemons.Daemon:
        """
        A twistd hookdaemon serving the hooks file webhook would get (C{--hooks}),
        as a webhook user who switched runs it: the same hooks, answered as webhook,
        with C{burst = coalesce} as the tap.cfg hooks here have it (a hooks file's
        default, C{queue}, answers 503 once 100 calls wait: a flood of one hook
        measures that limit, not ingest).
        """
        directory = self.directory(f"{name}-hookdaemon-hooks-file")
        path = os.path.join(directory, "hooks.json")
        extras = {"burst": "coalesce", "timeout": 3600, "kill_grace": 2}
        with open(path, "w") as f:
            definitions = [
                {**daemons.webhook_hook(hook, self.secret, argv, "/"), "hookdaemon": extras}
                for hook, argv in hooks.items()
            ]
            json.dump(definitions, f, indent=1)
        return daemons.start_hookdaemon(
            directory,
            {"stop_grace": 2, **(settings or {})},
            "",
            extra=self.args.config_line,
            tree=self.args.hookdaemon_tree,
            options=["--hooks", path],
        )

    def webhook(self, name: str, hooks: dict[str, list[str]]) -> daemons.Daemon:
        """A webhook whose HMAC-checked hooks run the given argv."""
        directory = self.directory(f"{name}-webhook")
        return daemons.start_webhook(
            directory,
            [
                daemons.webhook_hook(hook, self.secret, argv, directory)
                for hook, argv in hooks.items()
            ],
            verbose=self.args.webhook_verbose,
        )

    def check_signing(self, daemon: daemons.Daemon, hook: str, accepted: int) -> None:
        """
        A signed push is answered C{accepted}, a badly signed one not 2xx (hookdaemon
        answers 401; webhook 500 "Error occurred while evaluating hook rules.").
        """
        status, body = self.send(daemon, hook)
        if status != accepted:
            raise RuntimeError(f"{daemon.name}: signed push answered {status} {body[:200]!r}")
        payload, headers = daemons.GitHubDeliveries("wrong secret", "bad")(0)
        status, body = post(daemon.port, f"/hooks/{hook}", payload, headers)
        if 200 <= status < 300:
            raise RuntimeError(f"{daemon.name}: badly signed push answered {status} {body!r}")


# ---------------------------------------------------------------- 1. ingest

WRK_SCRIPT = """\
-- POST the same signed GitHub push, each request with its own X-GitHub-Delivery
-- (the delivery id is not covered by the signature).
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = "{signature}"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = string.format("{prefix}-%04x-4000-8000-%012x", tid, counter)
  return wrk.format()
end
"""


def wrk_units(value: str, unit: str) -> float:
    """A wrk latency as milliseconds."""
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(run: Run, daemon: daemons.Daemon, hook: str, seconds: int) -> dict[str, Any]:
    deliveries = run.deliveries_for(f"wrk-{daemon.name}")
    script = os.path.join(daemon.directory, "push.lua")
    with open(script, "w") as f:
        f.write(
            WRK_SCRIPT.format(
                body=deliveries.body.decode(),
                signature=deliveries.signature,
                prefix=deliveries.prefix,
            )
        )
    command = [
        "wrk",
        "-t2",
        "-c20",
        f"-d{seconds}s",
        "--latency",
        "-s",
        script,
        f"{daemon.url}/hooks/{hook}",
    ]
    cpu_before = daemons.cpu_times(daemon.pid)
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120, check=True
    ).stdout
    cpu_after = daemons.cpu_times(daemon.pid)

    def number(pattern: str, default: str | None = None) -> str:
        found = re.search(pattern, output, re.MULTILINE)
        if found is None:
            if default is None:
                raise RuntimeError(f"no {pattern!r} in wrk's output:\n{output}")
            return default
        return found.group(1)

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    latency = {}
    for pct in ("50", "99"):
        found = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        latency[pct] = wrk_units(*found.groups()) if found else float("nan")
    requests = int(number(r"(\d+) requests in "))
    return {
        "command": shlex.join(command),
        "requests_per_second": float(number(r"Requests/sec:\s+([\d.]+)")),
        "requests": requests,
        # The daemon's CPU while wrk ran, per request: its main thread (twistd's
        # reactor), its other threads (the journal's), its reaped children (jobs).
        "cpu_us_per_request": daemons.cpu_per_request(cpu_before, cpu_after, requests),
        "non_2xx_3xx": int(number(r"Non-2xx or 3xx responses: (\d+)", "0")),
        "socket_errors": dict(
            zip(
                ("connect", "read", "write", "timeout"),
                (int(n) for n in errors.groups()) if errors else (0, 0, 0, 0),
                strict=True,
            )
        ),
        "latency_p50_ms": latency["50"],
        "latency_p99_ms": latency["99"],
        "output": output,
    }


def ingest(run: Run) -> dict[str, Any]:
    seconds = run.scaled(10, 1)
    result: dict[str, Any] = {"seconds": seconds, "connections": 20, "threads": 2}

    progress(f"ingest: hookdaemon, wrk for {seconds} s")
    daemon = run.hookdaemon("ingest", {"ingest": "true"}, {"max_connections": 1024})
    try:
        run.check_signing(daemon, "ingest", 202)
        result["hookdaemon"] = run_wrk(run, daemon, "ingest", seconds)
        # Job ids keep counting, so the newest one says how many deliveries were
        # journaled as new jobs (rather than answered as duplicates).
        newest = get_json(daemon.port, "/jobs?hook=ingest&limit=1")["jobs"]
        result["hookdaemon"]["newest_job_id"] = newest[0]["id"] if newest else None
    finally:
        daemon.stop()

    progress(f"ingest: hookdaemon, a command that keeps running, wrk for {seconds} s")
    daemon = run.hookdaemon(
        "ingest-running", {"ingest": f"sleep {seconds + 60}"}, {"max_connections": 1024}
    )
    try:
        run.check_signing(daemon, "ingest", 202)
        result["running"] = run_wrk(run, daemon, "ingest", seconds)
    finally:
        daemon.stop()

    progress(f"ingest: webhook, wrk for {seconds} s")
    daemon = run.webhook("ingest", {"ingest": ["true"]})
    try:
        run.check_signing(daemon, "ingest", 200)
        result["webhook"] = run_wrk(run, daemon, "ingest", seconds)
    finally:
        daemon.stop()

    progress(f"ingest: hookdaemon on webhook's hooks file (--hooks), wrk for {seconds} s")
    daemon = run.hookdaemon_on_hooks_file(
        "ingest", {"ingest": ["true"]}, {"max_connections": 1024}
    )
    try:
        run.check_signing(daemon, "ingest", 200)
        result["hooks_file"] = run_wrk(run, daemon, "ingest", seconds)
    finally:
        daemon.stop()

    webhook_rate = result["webhook"]["requests_per_second"]
    result["ratio"] = result["hookdaemon"]["requests_per_second"] / webhook_rate
    result["hooks_file_ratio"] = result["hooks_file"]["requests_per_second"] / webhook_rate
    result["running_ratio"] = result["running"]["requests_per_second"] / webhook_rate
    return result


# ---------------------------------------------------------------- 2. latency


def latency_side(run: Run, daemon: daemons.Daemon, accepted: int, probes: int) -> dict[str, Any]:
    """Start the 4 streamers, wait until all run, then send C{probes} deliveries in a row."""
    files = {name: os.path.join(daemon.directory, name) for name in ("started", "done")}
    began = time.time()
    for n in range(4):
        status, body = run.send(daemon, f"stream{n}")
        if status != accepted:
            raise RuntimeError(f"{daemon.name}: stream{n} answered {status} {body[:200]!r}")
    wait_for(lambda: line_count(files["started"]) >= 4, "the 4 streamers to start", 60, 0.001)
    sent: list[tuple[float, float, int]] = []
    for _ in range(probes):
        t0 = time.time()
        status, _ = run.send(daemon, "probe")
        sent.append((t0, time.time(), status))
    wait_for(
        lambda: line_count(files["done"]) >= 4,
        "the 4 streamers to end",
        3600,
        0.05,
    )
    started, done = times_in(files["started"]), times_in(files["done"])
    window = (max(started), min(done))
    during = [t1 - t0 for t0, t1, _ in sent if t0 >= window[0] and t1 <= window[1]]
    codes: dict[int, int] = {}
    for _, _, status in sent:
        codes[status] = codes.get(status, 0) + 1
    return {
        "codes": dict(sorted(codes.items())),
        "all_probes": stats_ms([t1 - t0 for t0, t1, _ in sent]),
        "while_all_4_streamed": stats_ms(during),
        "probes_seconds": sent[-1][1] - sent[0][0],
        "streamers_started_after_s": max(started) - began,
        "streamers_seconds": max(done) - min(started),
        "all_4_streamed_seconds": window[1] - window[0],
    }


def latency(run: Run) -> dict[str, Any]:
    lines = run.scaled(2_000_000, 1000)
    probes = run.scaled(500, 20)
    result: dict[str, Any] = {"streamers": 4, "lines_each": lines, "probes": probes}
    # Run in the daemon's directory (hookdaemon: workdir = ., webhook:
    # command-working-directory), stamping its start and end there.
    streamer = f"date +%s.%N >> started; {YES} | head -n {lines}; date +%s.%N >> done"
    megabytes = lines * LINE_BYTES / 1e6

    progress(f"latency: hookdaemon, 4 x {megabytes:.0f} MB of output, {probes} deliveries")
    daemon = run.hookdaemon(
        "latency",
        {**{f"stream{n}": "sh -c " + shlex.quote(streamer) for n in range(4)}, "probe": "true"},
        # The 4 streamers and the probe hook's jobs must be able to run at once.
        {"max_parallel": 8},
    )
    try:
        result["hookdaemon"] = latency_side(run, daemon, 202, probes)
    finally:
        daemon.stop()

    progress(f"latency: webhook, 4 x {megabytes:.0f} MB of output, {probes} deliveries")
    daemon = run.webhook(
        "latency",
        {**{f"stream{n}": ["sh", "-c", streamer] for n in range(4)}, "probe": ["true"]},
    )
    try:
        result["webhook"] = latency_side(run, daemon, 200, probes)
    finally:
        daemon.stop()
    return result


# ---------------------------------------------------------------- 3 and 4. throughput, memory


def redirect_seconds(directory: str, lines: int) -> dict[str, Any]:
    """The same command with its output redirected straight to a file."""
    path = os.path.join(directory, "redirect.out")
    began = time.perf_counter()
    subprocess.run(["sh", "-c", f"{YES} | head -n {lines} > {shlex.quote(path)}"], check=True)
    seconds = time.perf_counter() - began
    size = os.stat(path).st_size
    os.remove(path)
    return {"seconds": seconds, "bytes": size}


def throughput(run: Run) -> dict[str, Any]:
    lines = run.scaled(10_000_000, 10_000)
    command = f"{YES} | head -n {lines}"
    result: dict[str, Any] = {"lines": lines, "bytes": lines * LINE_BYTES}
    gigabytes = lines * LINE_BYTES / 1e9

    progress(f"throughput: plain redirect of {gigabytes:.2f} GB")
    result["redirect"] = redirect_seconds(run.directory("throughput-redirect"), lines)

    progress(f"throughput: hookdaemon, {gigabytes:.2f} GB of output")
    daemon = run.hookdaemon(
        "throughput",
        {"bulk": "sh -c " + shlex.quote(command)},
        # One file for all of it (rotated files would be counted too).
        {"log_max_bytes": 1 << 40},
    )
    try:
        log_dir = os.path.join(daemon.directory, "var", "log")
        before = daemon.memory()
        began = time.perf_counter()
        status, body = run.send(daemon, "bulk")
        if status != 202:
            raise RuntimeError(f"hookdaemon: bulk answered {status} {body[:200]!r}")
        job = json.loads(body)["job"]
        # Sample the log's size every 5 ms; the job is done when the journal says
        # so and the log has not grown for a second. All of the output was in the
        # log at the first sample that saw its final size.
        samples: list[tuple[float, int]] = []
        ended = None
        next_check = 0.0
        while True:
            now = time.perf_counter()
            samples.append((now, total_size(log_files(log_dir, "bulk"))))
            if ended is None and now >= next_check:
                next_check = now + 0.1
                if get_json(daemon.port, f"/jobs/{job}")["state"] in TERMINAL:
                    ended = now
            if ended is not None and now - ended > 1.0:
                final = samples[-1][1]
                grown = [t for t, size in samples if size != final]
                if not grown or now - grown[-1] > 1.0:
                    break
            if now - began > 3600:
                raise RuntimeError("hookdaemon: the bulk job did not end within an hour")
            time.sleep(0.005)
        complete = next(t for t, size in samples if size == final)
        after = daemon.memory()
        files = log_files(log_dir, "bulk")
        counted = subprocess.run(
            ["grep", "-c", "-F", "--", f" {job} stdout ", *files],
            capture_output=True,
            text=True,
        ).stdout.split()
        in_log = sum(int(line.rpartition(":")[2]) for line in counted)
        result["hookdaemon"] = {
            "seconds": complete - began,
            "job_state": get_json(daemon.port, f"/jobs/{job}")["state"],
            "lines_in_log": in_log,
            "log_bytes": final,
            "log_files": len(files),
            "vmhwm_kb_before": before["VmHWM"],
            "vmhwm_kb": after["VmHWM"],
            "vmrss_kb_after": after["VmRSS"],
        }
    finally:
        daemon.stop()

    progress(f"throughput: webhook, {gigabytes:.2f} GB of output")
    daemon = run.webhook("throughput", {"bulk": ["sh", "-c", f"{command}; date +%s.%N > done"]})
    try:
        done = os.path.join(daemon.directory, "done")
        before = daemon.memory()
        began = time.time()
        status, body = run.send(daemon, "bulk")
        if status != 200:
            raise RuntimeError(f"webhook: bulk answered {status} {body[:200]!r}")
        wait_for(lambda: line_count(done) >= 1, "webhook's bulk command to end", 3600, 0.005)
        seconds = times_in(done)[0] - began
        # webhook still holds (and formats) the output after the command ends:
        # let its memory settle before reading the peak.
        last, steady_since = daemon.memory()["VmRSS"], time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() - steady_since < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            rss = daemon.memory()["VmRSS"]
            if rss > last:
                steady_since = time.monotonic()
            last = rss
        after = daemon.memory()
        result["webhook"] = {
            "seconds": seconds,
            "vmhwm_kb_before": before["VmHWM"],
            "vmhwm_kb": after["VmHWM"],
            "vmrss_kb_after": after["VmRSS"],
        }
    finally:
        daemon.stop()

    # Throughput ratio: redirect time / hookdaemon time (1.0 = as fast as a redirect).
    result["ratio_vs_redirect"] = result["redirect"]["seconds"] / result["hookdaemon"]["seconds"]
    result["webhook_ratio_vs_redirect"] = (
        result["redirect"]["seconds"] / result["webhook"]["seconds"]
    )
    return result


# ---------------------------------------------------------------- 5. dispatch


def dispatch(run: Run) -> dict[str, Any]:
    jobs = run.scaled(200, 10)
    result: dict[str, Any] = {"jobs": jobs}
    poll = 0.0002

    progress(f"dispatch: hookdaemon, {jobs} jobs")
    daemon = run.hookdaemon("dispatch", {"dispatch": "echo started"})
    try:
        log = os.path.join(daemon.directory, "var", "log", "dispatch.log")
        answers, firsts = [], []
        for _ in range(jobs):
            offset = total_size([log])
            began = time.perf_counter()
            status, body = run.send(daemon, "dispatch")
            answered = time.perf_counter()
            if status != 202:
                raise RuntimeError(f"hookdaemon: dispatch answered {status} {body[:200]!r}")
            job = json.loads(body)["job"]
            marker = b" %d stdout started\n" % job
            seen = b""
            deadline = began + 60
            while True:
                size = total_size([log])
                if size > offset:
                    with open(log, "rb") as f:
                        f.seek(offset)
                        seen += f.read(size - offset)
                    offset = size
                    if marker in seen:
                        break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"hookdaemon: job {job} printed nothing within 60 s")
                time.sleep(poll)
            firsts.append(time.perf_counter() - began)
            answers.append(answered - began)
            wait_for(
                lambda job=job: get_json(daemon.port, f"/jobs/{job}")["state"] in TERMINAL,
                f"job {job} to end",
                60,
                0.001,
            )
        result["hookdaemon"] = {"first_output": stats_ms(firsts), "answer": stats_ms(answers)}
    finally:
        daemon.stop()

    progress(f"dispatch: webhook, {jobs} jobs")
    daemon = run.webhook("dispatch", {"dispatch": ["sh", "-c", "echo started >> started"]})
    try:
        path = os.path.join(daemon.directory, "started")
        answers, firsts = [], []
        for _ in range(jobs):
            offset = total_size([path])
            began = time.perf_counter()
            status, body = run.send(daemon, "dispatch")
            answered = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"webhook: dispatch answered {status} {body[:200]!r}")
            wait_for(lambda offset=offset: total_size([path]) > offset, "output", 60, poll)
            firsts.append(time.perf_counter() - began)
            answers.append(answered - began)
            wait_for(lambda: not daemons.descendants(daemon.pid), "the command to end", 60, 0.001)
        result["webhook"] = {"first_output": stats_ms(firsts), "answer": stats_ms(answers)}
    finally:
        daemon.stop()
    return result


# ---------------------------------------------------------------- 6. burst


def send_burst(
    url: str, count: int, seconds: float, deliveries: daemons.GitHubDeliveries
) -> list[tuple[int, float]]:
    """bench/burst.py's client, in a fresh process (a Twisted reactor runs once per process)."""
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        return pool.submit(burst.send_burst, url, count, seconds, deliveries).result()


def burst_scenario(run: Run) -> dict[str, Any]:
    count = run.scaled(1000, 10)
    seconds = 1.0
    result: dict[str, Any] = {"deliveries": count, "seconds": seconds, "command_sleeps": 2}

    progress(f"burst: hookdaemon, {count} deliveries in {seconds:.0f} s")
    daemon = run.hookdaemon(
        "burst",
        {"burst": "sh -c 'echo run $HOOK_JOB $HOOK_DELIVERY; sleep 2'\nburst = coalesce"},
        # Keep every job, so the report can find every delivery in the journal.
        # Its one address stands in for a forge's many, whose connections the
        # per-client cap (max_client_connections, 32) would otherwise answer 503,
        # as bench/burst.py says too.
        {"history": count * 2 + 10, "max_client_connections": 1024},
    )
    try:
        deliveries = run.deliveries_for("burst-hookdaemon")
        results = send_burst(f"{daemon.url}/hooks/burst", count, seconds, deliveries)
        journal = os.path.join(daemon.directory, "var", "journal.sqlite")
        burst.wait_until_idle(journal)
        states, missing = burst.journal_report(
            journal, (deliveries.delivery_id(n) for n in range(count))
        )
        result["hookdaemon"] = {
            **burst.summary(results),
            "command_runs": burst.count_runs(
                os.path.join(daemon.directory, "var", "log"), "burst"
            ),
            "journal_states": states,
            "missing_from_journal": missing,
        }
    finally:
        daemon.stop()

    progress(f"burst: webhook, {count} deliveries in {seconds:.0f} s")
    daemon = run.webhook("burst", {"burst": ["sh", "-c", "echo run >> runs; sleep 2"]})
    try:
        deliveries = run.deliveries_for("burst-webhook")
        results = send_burst(f"{daemon.url}/hooks/burst", count, seconds, deliveries)
        runs = os.path.join(daemon.directory, "runs")
        wait_for(lambda: not daemons.descendants(daemon.pid), "the commands to end", 600, 0.1)
        result["webhook"] = {**burst.summary(results), "command_runs": line_count(runs)}
    finally:
        daemon.stop()
    return result


# ---------------------------------------------------------------- report


def machine(run: Run) -> dict[str, Any]:
    def first_line(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except OSError as e:
            return f"({e})"
        return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    with open("/proc/meminfo") as f:
        memory_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    tree = run.args.hookdaemon_tree or daemons.REPO_DIR
    environ = dict(os.environ)
    if run.args.hookdaemon_tree:
        environ["PYTHONPATH"] = os.path.abspath(run.args.hookdaemon_tree)
    imported = subprocess.run(
        [sys.executable, "-c", "import hookdaemon; print(hookdaemon.__file__)"],
        capture_output=True,
        text=True,
        env=environ,
        cwd="/",  # as twistd runs, in a directory without a hookdaemon/ of its own
    ).stdout.strip()
    described = subprocess.run(
        ["git", "-C", tree, "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "twisted": metadata.version("twisted"),
        "klein": metadata.version("klein"),
        "treq": metadata.version("treq"),
        "webhook": first_line([daemons.webhook_binary(), "-version"]),
        "wrk": first_line(["wrk", "-v"]),
        "hookdaemon": f"{described or '(not a git checkout)'}, imported from {imported}",
    }


def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def p50_p99(stats: dict[str, float], digits: int = 1) -> str:
    return f"{fmt(stats['p50_ms'], ' ms', digits)} / {fmt(stats['p99_ms'], ' ms', digits)}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str, str]] = []
    hd: dict[str, Any]
    wh: dict[str, Any]
    if "ingest" in results:
        r = results["ingest"]
        hd, wh = r["hookdaemon"], r["webhook"]
        rows.append(
            (
                f"1. ingest: requests/s, wrk -t2 -c20 {r['seconds']} s",
                fmt(hd["requests_per_second"], digits=0),
                fmt(wh["requests_per_second"], digits=0),
                f"{r['ratio']:.2f}x",
                f"≥ 1.0x: {verdict(r['ratio'] >= 1.0)}",
            )
        )
        rows.append(
            (
                "1. ingest: wrk latency p50 / p99",
                f"{fmt(hd['latency_p50_ms'], ' ms', 2)} / {fmt(hd['latency_p99_ms'], ' ms', 2)}",
                f"{fmt(wh['latency_p50_ms'], ' ms', 2)} / {fmt(wh['latency_p99_ms'], ' ms', 2)}",
                "",
                "",
            )
        )
        bad_hd = hd["non_2xx_3xx"] + sum(hd["socket_errors"].values())
        bad_wh = wh["non_2xx_3xx"] + sum(wh["socket_errors"].values())
        rows.append(
            (
                "1. ingest: non-2xx answers / socket errors",
                f"{hd['non_2xx_3xx']} / {sum(hd['socket_errors'].values())}",
                f"{wh['non_2xx_3xx']} / {sum(wh['socket_errors'].values())}",
                "",
                f"0: {verdict(bad_hd == 0 and bad_wh == 0)}",
            )
        )

        def other_hook(what: str, key: str, non_2xx: bool) -> None:
            """A row for ingest into another hookdaemon hook, against webhook's one."""
            side = r[key]
            rate, p50, p99 = (
                side["requests_per_second"],
                side["latency_p50_ms"],
                side["latency_p99_ms"],
            )
            figures = f"{fmt(rate, digits=0)}, {fmt(p50, ' ms', 2)} / {fmt(p99, ' ms', 2)}"
            if non_2xx:
                figures += f", {side['non_2xx_3xx']}"
            ratio = f"{r[key + '_ratio']:.2f}x"
            rows.append((what, figures, fmt(wh["requests_per_second"], digits=0), ratio, ""))

        if "hooks_file" in r:
            other_hook(
                "1. ingest on webhook's own hooks file (hookdaemon --hooks): requests/s,"
                " p50 / p99, non-2xx",
                "hooks_file",
                non_2xx=True,
            )
        if "running" in r:
            other_hook(
                "1. ingest, a command that keeps running (every delivery coalesced):"
                " requests/s, p50 / p99",
                "running",
                non_2xx=False,
            )
        if "cpu_us_per_request" in hd:

            def cpu(side: dict[str, Any]) -> str:
                c = side["cpu_us_per_request"]
                return (
                    f"{c['total']:.0f} µs: {c['main']:.0f} main thread, {c['threads']:.0f}"
                    f" other threads, {c['children']:.0f} children"
                )

            rows.append(("1. ingest: CPU per request (`true`)", cpu(hd), cpu(wh), "", ""))
            if "running" in r:
                rows.append(
                    ("1. ingest: CPU per request (keeps running)", cpu(r["running"]), "", "", "")
                )
        if hd.get("newest_job_id") is not None:
            rows.append(
                (
                    "1. ingest: requests / newest job id (= new deliveries journaled)",
                    f"{hd['requests']:,} / {hd['newest_job_id']:,}",
                    f"{wh['requests']:,} / -",
                    "",
                    "",
                )
            )
    if "latency" in results:
        r = results["latency"]
        hd, wh = r["hookdaemon"], r["webhook"]
        mb = r["lines_each"] * LINE_BYTES / 1e6
        hd_in, wh_in = hd["while_all_4_streamed"], wh["while_all_4_streamed"]
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
            rows.append(
                (
                    f"2. answer time {label}, deliveries in a row while 4 jobs print "
                    f"{mb:,.0f} MB each",
                    fmt(hd_in[key], " ms"),
                    fmt(wh_in[key], " ms"),
                    "",
                    f"≤ 20 ms: {verdict(hd_in[key] <= 20)}" if label == "p99" else "",
                )
            )
        rows.append(
            (
                "2. deliveries answered while all 4 printed / sent",
                f"{hd_in['count']} / {r['probes']}",
                f"{wh_in['count']} / {r['probes']}",
                "",
                "",
            )
        )
        rows.append(
            (
                "2. answer time p50 / p99, all deliveries sent",
                p50_p99(hd["all_probes"]),
                p50_p99(wh["all_probes"]),
                "",
                "",
            )
        )
        rows.append(
            (
                f"2. seconds the 4 x {mb:,.0f} MB jobs took (first start to last end)",
                fmt(hd["streamers_seconds"], " s"),
                fmt(wh["streamers_seconds"], " s"),
                "",
                "",
            )
        )
    if "throughput" in results:
        r = results["throughput"]
        hd, wh = r["hookdaemon"], r["webhook"]
        gb = r["bytes"] / 1e9
        rows.append(
            (
                f"3. {gb:.2f} GB of 100-byte lines: seconds until all in the log "
                f"(webhook: until the command ends)",
                fmt(hd["seconds"], " s", 2),
                fmt(wh["seconds"], " s", 2),
                f"redirect: {r['redirect']['seconds']:.2f} s",
                "",
            )
        )
        rows.append(
            (
                "3. throughput vs the plain redirect (redirect s / daemon s)",
                f"{r['ratio_vs_redirect']:.2f}x",
                f"{r['webhook_ratio_vs_redirect']:.2f}x",
                "",
                f"≥ 0.5x: {verdict(r['ratio_vs_redirect'] >= 0.5)}",
            )
        )
        rows.append(
            (
                "3. output lines in hookdaemon's log / printed",
                f"{hd['lines_in_log']:,} / {r['lines']:,}",
                "(writes no log)",
                "",
                f"all: {verdict(hd['lines_in_log'] == r['lines'])}",
            )
        )
        rows.append(
            (
                "4. peak RSS (VmHWM) of the daemon process during 3",
                fmt(hd["vmhwm_kb"] / 1024, " MB"),
                fmt(wh["vmhwm_kb"] / 1024, " MB"),
                f"at start: {hd['vmhwm_kb_before'] / 1024:.1f} / "
                f"{wh['vmhwm_kb_before'] / 1024:.1f} MB",
                f"≤ 100 MB: {verdict(hd['vmhwm_kb'] / 1024 <= 100)}",
            )
        )
    if "dispatch" in results:
        r = results["dispatch"]
        hd, wh = r["hookdaemon"], r["webhook"]
        for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
            rows.append(
                (
                    f"5. dispatch {label}: POST to the command's first output "
                    f"({r['jobs']} jobs in a row)",
                    fmt(hd["first_output"][key], " ms", 2),
                    fmt(wh["first_output"][key], " ms", 2),
                    "",
                    f"≤ 10 ms: {verdict(hd['first_output'][key] <= 10)}" if label == "p50" else "",
                )
            )
        rows.append(
            (
                "5. answer time p50 / p99 of those POSTs",
                p50_p99(hd["answer"], 2),
                p50_p99(wh["answer"], 2),
                "",
                "",
            )
        )
    if "burst" in results:
        r = results["burst"]
        hd, wh = r["hookdaemon"], r["webhook"]

        def codes(side: dict[str, Any]) -> str:
            return ", ".join(f"{n} x {code}" for code, n in side["codes"].items())

        rows.append(
            (
                f"6. burst: {r['deliveries']} deliveries in {r['seconds']:.0f} s, "
                "command sleeps 2 s: answers",
                codes(hd),
                codes(wh),
                "",
                "",
            )
        )
        rows.append(
            (
                "6. burst: answer time p50 / p99",
                p50_p99(hd),
                p50_p99(wh),
                "",
                "",
            )
        )
        rows.append(
            (
                "6. burst: command runs",
                str(hd["command_runs"]),
                str(wh["command_runs"]),
                "",
                "",
            )
        )
        rows.append(
            (
                "6. burst: deliveries missing from the journal",
                str(hd["missing_from_journal"]),
                "(no journal)",
                "",
                f"0: {verdict(hd['missing_from_journal'] == 0)}",
            )
        )
    lines = [
        "| measure | hookdaemon | webhook | ratio / reference | target |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


class Figure(NamedTuple):
    """A figure L{spread_table} follows over the rounds: where it is in a scenario's result."""

    what: str
    scenario: str
    side: str
    """hookdaemon's result it is read from: C{hookdaemon}, or C{running} (ingest's other hook)."""
    keys: tuple[str, ...]
    webhook: bool
    """Whether webhook's result has it too, for a ratio."""
    target: str = ""
    """Issue 19's target for the ratio."""
    scale: float = 1.0

    def of(self, result: dict[str, Any], side: str) -> float:
        value: Any = result[side]
        for key in self.keys:
            value = value[key]
        return float(value) * self.scale


TRUE, RUNNING = "1. ingest (`true`)", "1. ingest, a command that keeps running"
CPU = "cpu_us_per_request"
FIGURES = [
    Figure(
        f"{TRUE}: requests/s", "ingest", "hookdaemon", ("requests_per_second",), True, "≥ 0.35x"
    ),
    Figure(
        f"{RUNNING}: requests/s", "ingest", "running", ("requests_per_second",), True, "≥ 0.45x"
    ),
    Figure(f"{TRUE}: CPU µs per request, all", "ingest", "hookdaemon", (CPU, "total"), True),
    Figure(
        f"{TRUE}: CPU µs per request, reactor thread", "ingest", "hookdaemon", (CPU, "main"), False
    ),
    Figure(
        f"{TRUE}: CPU µs per request, other threads (journal)",
        "ingest",
        "hookdaemon",
        (CPU, "threads"),
        False,
    ),
    Figure(
        f"{TRUE}: CPU µs per request, children (jobs)",
        "ingest",
        "hookdaemon",
        (CPU, "children"),
        True,
    ),
    Figure(
        f"{RUNNING}: CPU µs per request, reactor thread", "ingest", "running", (CPU, "main"), False
    ),
    Figure(
        f"{RUNNING}: CPU µs per request, other threads",
        "ingest",
        "running",
        (CPU, "threads"),
        False,
    ),
    Figure(
        "2. answer p99 while 4 jobs print (ms)",
        "latency",
        "hookdaemon",
        ("while_all_4_streamed", "p99_ms"),
        True,
    ),
    Figure(
        "3. seconds to write the output to the log", "throughput", "hookdaemon", ("seconds",), True
    ),
    Figure("4. peak RSS (MB)", "throughput", "hookdaemon", ("vmhwm_kb",), True, scale=1 / 1024),
    Figure(
        "5. dispatch p50 (ms)", "dispatch", "hookdaemon", ("first_output", "p50_ms"), True, "≤ 2x"
    ),
    Figure(
        "5. dispatch p99 (ms)", "dispatch", "hookdaemon", ("first_output", "p99_ms"), True, "≤ 3x"
    ),
    Figure(
        "6. burst: deliveries missing from the journal",
        "burst",
        "hookdaemon",
        ("missing_from_journal",),
        False,
    ),
    Figure("6. burst: command runs", "burst", "hookdaemon", ("command_runs",), True),
]
"""The figures L{spread_table} follows over the rounds."""


def spread(values: list[float], digits: int, unit: str = "") -> str:
    low, high = min(values), max(values)
    if f"{low:.{digits}f}" == f"{high:.{digits}f}":
        return fmt(low, unit, digits)
    return f"{fmt(low, '', digits)}..{fmt(high, unit, digits)}"


def spread_table(rounds: list[dict[str, Any]]) -> str:
    """Each figure and its ratio hookdaemon / webhook (taken in the same round) as min..max."""
    lines = [
        "| measure | hookdaemon | webhook | ratio (each round's) | target |",
        "|---|---|---|---|---|",
    ]
    for figure in FIGURES:
        runs = [results[figure.scenario] for results in rounds if figure.scenario in results]
        if not runs:
            continue
        try:
            mine = [figure.of(r, figure.side) for r in runs]
            other = [figure.of(r, "webhook") for r in runs] if figure.webhook else []
        except KeyError:
            continue
        whole = all(value == int(value) for value in mine + other)
        digits = 0 if whole else 2 if max(mine) < 10 else 1 if max(mine) < 100 else 0
        ratio = ""
        if other and all(o > 0 for o in other):
            ratio = spread([m / o for m, o in zip(mine, other, strict=True)], 2, "x")
        lines.append(
            f"| {figure.what} | {spread(mine, digits)} | {spread(other, digits) if other else '-'}"
            f" | {ratio} | {figure.target} |"
        )
    return "\n".join(lines)


MEANINGS = {
    "ingest": (
        "1: wrk's Requests/sec over the whole run (20 connections, keep-alive), every request "
        "a signed push with its own X-GitHub-Delivery: hookdaemon answers 202 after journaling "
        "it (burst = coalesce, history 500), webhook answers 200 and spawns `true`. The ratio "
        "is hookdaemon / webhook. Non-2xx counts wrk's 'Non-2xx or 3xx responses'. 'A command "
        "that keeps running': the hook's job sleeps through the run, so every delivery after "
        "the first replaces the one waiting (intake and journal alone). CPU per request: "
        "user + system time from /proc while wrk ran, over the requests it completed; for "
        "hookdaemon, its main thread is the reactor and its other threads the journal's; "
        "children are the reaped commands (and their env/setsid execs)."
    ),
    "latency": (
        "2: 4 jobs each run `yes | head` printing the stated MB as 100-byte lines "
        "(hookdaemon streams them into its logs, max_parallel 8; webhook buffers them in "
        "memory); once all 4 have started, signed deliveries to a fifth hook (`true`) are "
        "sent one after another, each on a new connection, timed from connect to the whole "
        "answer. p50/p99 count only deliveries sent after the last streamer started and "
        "answered before the first one ended."
    ),
    "throughput": (
        "3: one job printing the stated GB as 100-byte lines. hookdaemon: from the POST to "
        "the first 5 ms sample at which LOG_DIR/bulk.log reached its final size (each line "
        "there carries a ~33-byte time/job/stream prefix); webhook: from the POST to the "
        "`date` stamp the command writes when it ends (it keeps the output in memory and "
        "writes no log). The redirect is `sh -c 'yes … | head -n N > file'`; the ratio is "
        "redirect seconds / daemon seconds. 4: VmHWM of the twistd process (its jobs are "
        "separate processes) and of the webhook process, read after the output is written "
        "(webhook: after its memory stopped growing); each daemon is fresh for this scenario."
    ),
    "dispatch": (
        "5: jobs one at a time. hookdaemon (command `echo started`): from the start of the "
        "POST to the moment the job's `stdout started` line is in LOG_DIR/dispatch.log, "
        "polled every 0.2 ms; the next job starts when the journal says this one ended. "
        "webhook (command `sh -c 'echo started >> FILE'`, as it writes no log): from the start "
        "of the POST to the moment FILE grew, polled the same way."
    ),
    "burst": (
        "6: bench/burst.py's client: deliveries spread evenly over 1 s from up to 64 "
        "connections, each a signed push with its own delivery id; command "
        "`sh -c 'echo run ...; sleep 2'`. Runs: lines the command printed to hookdaemon's "
        "log / appended to a file under webhook. Missing: delivery ids absent from the journal."
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.strip().splitlines()[1:]),
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run, of: {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply durations, output sizes and counts (0.1 for a quick check)",
    )
    parser.add_argument(
        "--config-line",
        action="append",
        default=[],
        metavar="'KEY = VALUE'",
        help="an extra [hookdaemon] line for every hookdaemon started (repeatable; "
        "overrides the scenario's own value of KEY)",
    )
    parser.add_argument(
        "--hookdaemon-tree",
        metavar="DIR",
        help="run hookdaemon from this checkout (put first on PYTHONPATH) "
        "instead of the installed one",
    )
    parser.add_argument("--webhook-verbose", action="store_true", help="run webhook -verbose")
    parser.add_argument(
        "--json",
        metavar="PATH",
        help="where to write the results (default: compare-UTCTIME.json in the current directory)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="N",
        help="run the scenarios N times, round after round (each round both daemons, one"
        " after the other), and report each figure and ratio as min..max over the rounds",
    )
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown or not only:
        parser.error(f"--only: unknown scenario(s) {unknown}; choose from {SCENARIOS}")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    for tool in ("wrk",) if "ingest" in only else ():
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    daemons.webhook_binary()
    json_path = args.json or time.strftime("compare-%Y%m%dT%H%M%SZ.json", time.gmtime())

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    run = Run(args)
    reproduce = shlex.join(["python", sys.argv[0], *sys.argv[1:]])
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": reproduce,
        "scale": args.scale,
        "config_lines": args.config_line,
        "machine": machine(run),
        "rounds": [],
    }
    functions = {
        "ingest": ingest,
        "latency": latency,
        "throughput": throughput,
        "dispatch": dispatch,
        "burst": burst_scenario,
    }
    interrupted = False
    try:
        for number in range(1, args.rounds + 1):
            if args.rounds > 1:
                progress(f"round {number} of {args.rounds}")
            results: dict[str, Any] = {}
            report["rounds"].append(results)
            for name in SCENARIOS:
                if name in only:
                    results[name] = functions[name](run)
    except KeyboardInterrupt:
        interrupted = True
        progress("interrupted; stopping the daemons")
    finally:
        daemons.stop_all()
        if args.keep:
            progress(f"kept {run.root}")
        else:
            shutil.rmtree(run.root, ignore_errors=True)
    if interrupted:
        sys.exit(130)
    rounds = report["rounds"]
    report["results"] = rounds[0]  # as a single run writes it

    m = report["machine"]
    print(f"## hookdaemon vs adnanh/webhook ({report['started']})\n")
    print(
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}. "
        f"Python {m['python']}, Twisted {m['twisted']}, Klein {m['klein']}, treq {m['treq']}; "
        f"{m['webhook']}; {m['wrk']}. hookdaemon {m['hookdaemon']}."
    )
    if args.config_line:
        print(f"Extra [hookdaemon] lines: {'; '.join(args.config_line)}")
    print()
    for number, results in enumerate(rounds, 1):
        if len(rounds) > 1:
            print(f"### Round {number} of {len(rounds)}\n")
        print(table(results))
        print()
    if len(rounds) > 1:
        print(f"### Over the {len(rounds)} rounds: min..max\n")
        print(spread_table(rounds))
        print()
    for name in SCENARIOS:
        if name in report["results"]:
            print(f"- {MEANINGS[name]}")
    print()
    print(f"Reproduce: `{reproduce}`")
    with open(json_path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"Results (raw numbers too): {json_path}")


if __name__ == "__main__":
    main()
