"""
Shared plumbing for the benchmark scripts in bench/ (run by hand, not by the tests).

Starting a real `twistd -n hookdaemon` (hookdaemon.testing's TwistdDaemon) or
adnanh/webhook in a directory on a free loopback port and waiting until it
listens; stopping it and whatever it left running; reading a process's VmHWM /
VmRSS and its CPU time by thread; percentiles; signed GitHub push deliveries.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

from hookdaemon.testing import TwistdDaemon, free_port, signed

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)


def percentile(values: list[float], fraction: float) -> float:
    """The C{fraction} percentile (nearest rank, no interpolation); NaN if empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _clock_ticks(path: str) -> list[int]:
    """utime, stime, cutime, cstime of a /proc stat file, in clock ticks."""
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return [int(n) for n in fields[11:15]]


def cpu_times(pid: int) -> dict[str, float]:
    """
    CPU seconds (user + system) a process has used so far: C{main}, its main
    thread's (twistd's reactor); C{threads}, all its other threads', those that
    ended included (the journal's, the thread pool's); C{children}, its reaped
    children's (a job's commands); C{total}, the three together.
    """
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = _clock_ticks(f"/proc/{pid}/stat")
    main_utime, main_stime, _, _ = _clock_ticks(f"/proc/{pid}/task/{pid}/stat")
    process, main = (utime + stime) / tick, (main_utime + main_stime) / tick
    children = (cutime + cstime) / tick
    return {
        "main": main,
        "threads": process - main,
        "children": children,
        "total": process + children,
    }


def cpu_per_request(
    before: Mapping[str, float], after: Mapping[str, float], requests: int
) -> dict[str, float]:
    """The CPU used between two L{cpu_times}, in microseconds per request."""
    return {key: 1e6 * (after[key] - before[key]) / max(1, requests) for key in after}


def memory(pid: int) -> dict[str, int]:
    """VmHWM (peak resident) and VmRSS of a process, in kB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                found[key] = int(value.split()[0])
    return found


def descendants(pid: int) -> list[int]:
    """Every live descendant of C{pid} (children, grandchildren, ...)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found.extend(children)
            todo.extend(children)
    return found


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def wait_listening(port: int, process: subprocess.Popen[bytes], what: str, log: str) -> None:
    """Poll until something accepts on 127.0.0.1:C{port}; fail if C{process} exits first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} within 60 s:\n{tail(log)}")


def tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"({path}: {e})"


class Daemon:
    """
    A daemon started here, listening on 127.0.0.1:port: a L{Hookdaemon}, or any
    other server (adnanh/webhook, bench/raw_server.py) as a L{Launched}.
    """

    name: str
    port: int
    url: str
    directory: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory(self) -> dict[str, int]:
        return memory(self.process.pid)

    def stop(self, timeout: float = 60) -> None:
        """
        SIGTERM, SIGKILL after C{timeout}; then SIGKILL, by pid, whatever it had
        started and left running (hookdaemon's jobs run in sessions of their own).
        """
        if self in RUNNING:
            RUNNING.remove(self)
        left = [(pid, _start_time(pid)) for pid in descendants(self.process.pid)]
        self._end(timeout)
        for pid, started in left:
            if started is not None and _start_time(pid) == started:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def _end(self, timeout: float) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Launched(Daemon):
    """A server started by L{launch}."""

    def __init__(
        self, name: str, process: subprocess.Popen[bytes], port: int, directory: str, log: str
    ) -> None:
        self.name = name
        self.process = process
        self.port = port
        self.directory = directory
        self.log = log
        self.url = f"http://127.0.0.1:{port}"


class Hookdaemon(Daemon, TwistdDaemon):
    """
    A L{hookdaemon.testing.TwistdDaemon} run in /, as systemd starts it, not in
    its directory: a hook's workdir is then not the daemon's current directory,
    as on a real server (where it matters to how Twisted spawns a step); and in
    a session of its own, so a Ctrl-C reaches only the benchmark, which then
    stops it.
    """

    name = "hookdaemon"

    def _end(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):  # it was killed
            TwistdDaemon.stop(self, timeout)


RUNNING: list[Daemon] = []


def stop_all() -> None:
    """Stop every daemon started here and not stopped yet (for cleanup paths)."""
    for daemon in list(RUNNING):
        daemon.stop(timeout=15)


def hookdaemon_settings(settings: Mapping[str, object], extra: Sequence[str] = ()) -> str:
    """
    The lines of a [hookdaemon] section (its listen aside): C{settings}, then
    C{extra} lines (C{key = value}, overriding C{settings}).
    """
    values = {key: str(value) for key, value in settings.items()}
    for line in extra:
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"not a 'key = value' line: {line!r}")
        values[key.strip()] = value.strip()
    return "".join(f"{key} = {value}\n" for key, value in values.items())


def start_hookdaemon(
    directory: str,
    settings: Mapping[str, object],
    hooks: str,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    tree: str | None = None,
    options: Sequence[str] = (),
) -> Daemon:
    """
    A L{Hookdaemon} in C{directory} (its tap.cfg: the [hookdaemon] C{settings}
    and C{extra} lines, then the C{hooks} sections), once it listens. C{tree}:
    run hookdaemon from that checkout instead of the installed one; C{options}:
    more of the plugin's (C{--hooks FILE}).
    """
    environ = dict(env or {})
    if tree is not None:
        environ["PYTHONPATH"] = os.pathsep.join(
            [os.path.abspath(tree), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    daemon = Hookdaemon(
        directory,
        hooks,
        hookdaemon_settings(settings, extra),
        environ,
        cwd="/",
        own_session=True,
        options=options,
    )
    daemon.start()
    RUNNING.append(daemon)
    return daemon


def launch(
    name: str,
    command: list[str],
    directory: str,
    port: int,
    log: str,
    env: Mapping[str, str] | None = None,
    stdout: str | None = None,
    stderr: str | None = None,
    cwd: str | None = None,
) -> Daemon:
    """
    Start C{command} in C{cwd} (by default C{directory}), in a session of its own
    (so Ctrl-C reaches only the benchmark, which then stops it); return once it
    listens on C{port}. C{stdout} and C{stderr}: files to write them to (stderr
    defaults to stdout's).
    """
    with contextlib.ExitStack() as files:
        out = files.enter_context(open(stdout, "wb")) if stdout else subprocess.DEVNULL
        err = files.enter_context(open(stderr, "wb")) if stderr else subprocess.STDOUT
        process = subprocess.Popen(
            command,
            cwd=directory if cwd is None else cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err if stdout or stderr else subprocess.DEVNULL,
            start_new_session=True,
        )
    daemon = Launched(name, process, port, directory, log)
    RUNNING.append(daemon)
    try:
        wait_listening(port, process, name, log)
    except BaseException:
        daemon.stop()
        raise
    return daemon


def start_webhook(directory: str, hooks: list[dict[str, Any]], verbose: bool = False) -> Daemon:
    """
    Write C{directory}/hooks.json and start adnanh/webhook on it on 127.0.0.1,
    output to C{directory}/webhook.log; return once it listens.
    """
    port = free_port()
    path = os.path.join(directory, "hooks.json")
    with open(path, "w") as f:
        json.dump(hooks, f, indent=1)
    log = os.path.join(directory, "webhook.log")
    command = [webhook_binary(), "-hooks", path, "-ip", "127.0.0.1", "-port", str(port)]
    if verbose:
        command.append("-verbose")
    return launch("webhook", command, directory, port, log, stdout=log)


def webhook_binary() -> str:
    found = shutil.which("webhook")
    if found is None:
        raise RuntimeError("adnanh/webhook is not installed (Debian: apt-get install webhook)")
    return found


def webhook_hook(
    name: str, secret: str, argv: list[str], workdir: str, sign_header: str = "X-Hub-Signature-256"
) -> dict[str, Any]:
    """
    A webhook hook that runs C{argv} (its first item looked up in PATH) when the
    body's HMAC-SHA256 under C{secret} matches C{sign_header} (`sha256=HEX`), and
    answers 401 when it does not (webhook's default would be 200).
    """
    executable = shutil.which(argv[0]) or argv[0]
    return {
        "id": name,
        "execute-command": executable,
        "command-working-directory": workdir,
        "pass-arguments-to-command": [{"source": "string", "name": arg} for arg in argv[1:]],
        "trigger-rule": {
            "match": {
                "type": "payload-hmac-sha256",
                "secret": secret,
                "parameter": {"source": "header", "name": sign_header},
            }
        },
        "trigger-rule-mismatch-http-response-code": 401,
    }


def github_push_body(after: str = "1" * 40) -> bytes:
    """A minimal GitHub push payload with the fields hookdaemon reads (as tests/support.py)."""
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": after,
            "repository": {
                "full_name": "example/site",
                "clone_url": "https://github.com/example/site.git",
            },
            "pusher": {"name": "octocat"},
            "commits": [{"id": after}],
        }
    ).encode()


def github_signature(secret: str, body: bytes) -> str:
    return signed("github", secret, body)["X-Hub-Signature-256"]


def github_headers(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """The headers GitHub sends with a JSON push delivery, signed with SHA-256."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(secret, body),
    }


class GitHubDeliveries:
    """
    Delivery C{n} of a run: the same signed push body, its own delivery id, a
    UUID as GitHub's are (hookdaemon refuses any other X-GitHub-Delivery): eight
    hex digits from C{prefix}, then C{n}. A plain picklable callable, so a client
    in another process can make them.
    """

    def __init__(self, secret: str, prefix: str, body: bytes | None = None) -> None:
        self.secret = secret
        self.prefix = hashlib.sha256(prefix.encode()).hexdigest()[:8]
        self.body = github_push_body() if body is None else body
        self.signature = github_signature(secret, self.body)

    def delivery_id(self, n: int) -> str:
        return f"{self.prefix}-0000-4000-8000-{n:012x}"

    def __call__(self, n: int) -> tuple[bytes, dict[str, str]]:
        return self.body, {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/bench",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": self.delivery_id(n),
            "X-Hub-Signature-256": self.signature,
        }
