"""
What a test, a benchmark or a script needs to talk to hookdaemon as a forge
would, as C{treq.testing} ships C{StubTreq}: the credential headers every forge
sends (L{signed}), a real C{twistd -n hookdaemon} on a free loopback port
(L{TwistdDaemon}), and a L{HookApp} served in memory (L{InMemoryApp}).

Nothing here is used by the daemon itself.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

from attrs import frozen
from treq.testing import StubTreq
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from hookdaemon.config import HookConfig, Secret
from hookdaemon.delivery import Delivery
from hookdaemon.job_state import LIVE_STATES
from hookdaemon.job_views import JobQuery
from hookdaemon.journal import Added
from hookdaemon.journal_worker import JournalUnavailableError
from hookdaemon.lifecycle import JobOutcome
from hookdaemon.output import log_file_name
from hookdaemon.signing import signed
from hookdaemon.status_access import Tokens
from hookdaemon.web import DeliveryTaker, HookApp, JobSource

__all__ = [
    "FOREGROUND",
    "TWISTD",
    "AcceptingEngine",
    "Environ",
    "InMemoryApp",
    "MemoryAnswer",
    "StubJobs",
    "TwistdDaemon",
    "free_port",
    "run_twistd",
    "signed",
    "twistd_command",
]


def twistd_command(python: str = sys.executable) -> list[str]:
    """twistd as C{python} has it, whatever is on PATH (a fresh venv's own python, say)."""
    return [python, "-c", "from twisted.scripts.twistd import run; run()"]


TWISTD = twistd_command()
"""twistd as the running Python has it."""

FOREGROUND = ["-n", "--pidfile="]
"""twistd's options for a start in the foreground, without a pid file."""

Environ = Mapping[str, str | None]
"""Changes to C{os.environ}: a name's new value, or None to remove it."""


def environment(changes: Environ | None = None) -> dict[str, str]:
    """C{os.environ} with C{changes}."""
    environ = dict(os.environ)
    for name, value in (changes or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def run_twistd(
    *args: str,
    cwd: str,
    environ: Environ | None = None,
    twistd: Sequence[str] = TWISTD,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """
    twistd with C{args} run to its end in C{cwd}: a C{--check}, a C{--help} or a
    start that must fail. Its exit code, stdout and stderr (UTF-8, as it prints).
    """
    return subprocess.run(
        [*twistd, *args],
        cwd=cwd,
        env=environment(environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
    )


def free_port() -> int:
    """A loopback port free now (another process may take it before it is bound)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TwistdDaemon:
    """
    One C{twistd -n hookdaemon} on 127.0.0.1, in C{directory}: its tap.cfg (a
    [hookdaemon] section listening on a free port, C{daemon}'s lines, then
    C{hooks}), its state and logs (var/, hookdaemon's default), its own log
    (twistd.log) and what it printed (twistd.stdout, twistd.stderr).

    L{start} runs it until it listens, L{stop} ends it with SIGTERM and L{kill}
    as a crash would; it may be started again on the same state. C{cwd}: where
    twistd runs (C{directory} by default); C{own_session}: in a session of its
    own, so that a Ctrl-C reaches only the caller. C{options}: more of the
    plugin's options (C{--hooks FILE}, C{--urlprefix} ...); with C{tap_cfg}
    false there is no tap.cfg: it listens through C{--listen}, and keeps its
    state and logs under C{cwd}, as C{--hooks} alone does.
    """

    def __init__(
        self,
        directory: str,
        hooks: str,
        daemon: str = "",
        environ: Environ | None = None,
        *,
        twistd: Sequence[str] = TWISTD,
        cwd: str | None = None,
        own_session: bool = False,
        options: Sequence[str] = (),
        tap_cfg: bool = True,
    ) -> None:
        self.directory = os.path.abspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.environ = environ
        self.twistd = list(twistd)
        self.cwd = self.directory if cwd is None else cwd
        self.own_session = own_session
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(self.directory, "tap.cfg")
        self.options = list(options)
        if tap_cfg:
            with open(self.config, "w") as f:
                f.write(
                    f"[hookdaemon]\nlisten = tcp:{self.port}:interface=127.0.0.1\n"
                    + (daemon + "\n" if daemon else "")
                    + hooks
                )
            self.plugin = ["--config", self.config, *self.options]
        else:
            listen = f"tcp:{self.port}:interface=127.0.0.1"
            self.plugin = ["--listen", listen, *self.options]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise AssertionError("twistd was never started")
        return self._process

    def start(self) -> Self:
        """Start twistd (again, after L{stop} or L{kill}); return once it listens."""
        if self._process is not None and self._process.poll() is None:
            raise AssertionError("twistd is running already")
        logged = len(self.log)  # a restart appends: only its own lines count
        with (
            open(self._path("twistd.stdout"), "ab") as stdout,
            open(self._path("twistd.stderr"), "ab") as stderr,
        ):
            self._process = subprocess.Popen(
                [
                    *self.twistd,
                    *FOREGROUND,
                    f"--logfile={self._path('twistd.log')}",
                    "hookdaemon",
                    *self.plugin,
                ],
                cwd=self.cwd,
                env=environment(self.environ),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=self.own_session,
            )
        try:
            self._wait_listening(logged)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self, logged: int) -> None:
        # Its own log line, not a connection: another process may hold a port free_port gave.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"twistd exited with {self.process.returncode}:\n{self._printed()}"
                )
            text = self.log
            if len(text) < logged:
                logged = 0  # twistd rotated its log (at 1 MB): all of this one is new
            if "listening on" in text[logged:]:
                return
            time.sleep(0.02)
        raise AssertionError(f"twistd never listened:\n{self._printed()}")

    def _printed(self) -> str:
        return f"{self.log}\nstderr:\n{self.stderr}\nstdout:\n{self.stdout}"

    def check(self) -> subprocess.CompletedProcess[str]:
        """C{twistd hookdaemon --check} on this daemon's config, as it would be started."""
        return run_twistd(
            "hookdaemon",
            *self.plugin,
            "--check",
            cwd=self.cwd,
            environ=self.environ,
            twistd=self.twistd,
        )

    def stop(self, timeout: float = 30) -> int | None:
        """
        SIGTERM, and SIGKILL if it has not stopped C{timeout} s later (then this
        raises); its exit code, None if it was never started.
        """
        if self._process is None:
            return None
        process = self._process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise

    def kill(self) -> None:
        """SIGKILL, as a crash would: the jobs it ran go on in their own sessions."""
        self.process.kill()
        self.process.wait(30)

    @property
    def log(self) -> str:
        """The daemon's own log (twistd.log)."""
        return self._read(self._path("twistd.log"))

    @property
    def stdout(self) -> str:
        """What twistd printed on its stdout."""
        return self._read(self._path("twistd.stdout"))

    @property
    def stderr(self) -> str:
        """What twistd printed on its stderr."""
        return self._read(self._path("twistd.stderr"))

    def output(self, hook: str) -> str:
        """A hook's output log."""
        return self._read(os.path.join(self._state, "log", log_file_name(hook)))

    @property
    def _state(self) -> str:
        """Its state_dir: var/ of its directory, or of where it runs without a tap.cfg."""
        return self._path("var") if os.path.exists(self.config) else os.path.join(self.cwd, "var")

    def _path(self, *names: str) -> str:
        return os.path.join(self.directory, *names)

    @staticmethod
    def _read(path: str) -> str:
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    @property
    def journal_path(self) -> str:
        return os.path.join(self._state, "journal.sqlite")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, decoded JSON or raw bytes) of one request; 4xx and 5xx are answers too."""
        request = urllib.request.Request(
            self.url + path, data=body, headers=dict(headers or {}), method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, _decoded(response.read())
        except urllib.error.HTTPError as e:
            return e.code, _decoded(e.read())

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        return self.request(
            "POST", path, body, {"Content-Type": "application/json", **(headers or {})}
        )

    def job(self, job_id: int) -> dict[str, Any]:
        code, job = self.request("GET", f"/jobs/{job_id}")
        if code != 200 or not isinstance(job, dict):
            raise AssertionError(f"GET /jobs/{job_id}: {code} {job!r}")
        return job

    def wait_finished(self, job_id: int, attempts: int = 1500) -> dict[str, Any]:
        """The job once it is in a final state."""
        for _ in range(attempts):
            job = self.job(job_id)
            if job["state"] not in LIVE_STATES:
                return job
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never finished")


def _decoded(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content


# A HookApp in memory ---------------------------------------------------------


class AcceptingEngine:
    """
    Stands in for the job engine (L{hookdaemon.web.DeliveryTaker}): every
    delivery it is handed becomes a new job at once, and is kept in C{accepted};
    those the hook's filters do not want are kept in C{ignored_deliveries}.
    Set C{stopping} to see the answers of a daemon that stops, C{fault} those
    of one whose journal cannot commit (C{fault} says why).
    """

    def __init__(self) -> None:
        self.accepted: list[Delivery] = []
        self.ignored_deliveries: list[tuple[Delivery, str]] = []
        """What L{ignored} was handed: each delivery the hook did not want, and why."""
        self.stopping = False
        self.fault: str | None = None
        self.invocations: list[bytes | None] = []
        """What each hooks-file hook's call it took gave its command (L{Invocation.to_json})."""
        self.outcomes: dict[int, JobOutcome] = {}
        """How L{finished} says each job ended; a job not in it is not live."""

    @property
    def trouble(self) -> str | None:
        if self.stopping:
            return "shutting down"
        if self.fault is not None:
            return f"the journal cannot commit: {self.fault}"
        return None

    def accept(
        self, hook: HookConfig, delivery: Delivery, body: bytes, invocation: bytes | None = None
    ) -> Deferred[Added]:
        if self.fault is not None:
            return fail(JournalUnavailableError(self.fault))
        self.accepted.append(delivery)
        self.invocations.append(invocation)
        return succeed(Added(job_id=len(self.accepted), duplicate=False))

    def finished(self, job_id: int) -> Deferred[JobOutcome] | None:
        """Every job it took has ended at once, as C{outcomes} says (by job id), else None."""
        outcome = self.outcomes.get(job_id)
        return None if outcome is None else succeed(outcome)

    def ignored(self, hook: HookConfig, delivery: Delivery, reason: str) -> None:
        self.ignored_deliveries.append((delivery, reason))


class StubJobs:
    """
    Stands in for the journal behind the job API (L{hookdaemon.web.JobSource}):
    every job asked for exists, as C{{"id": N}}, with C{output} as its log.
    """

    def __init__(self, output: bytes = b"out\n") -> None:
        self.output = output

    def recent(self, query: JobQuery) -> Deferred[list[dict[str, Any]]]:
        return succeed([])

    def one(self, job_id: int) -> Deferred[dict[str, Any] | None]:
        return succeed({"id": job_id})

    def job_output(self, job_id: int) -> Deferred[bytes | None]:
        return succeed(self.output)

    def follow(self, job_id: int, write: Callable[[bytes], None]) -> Deferred[bool]:
        write(self.output)
        return succeed(True)


@frozen
class MemoryAnswer:
    """One whole answer of an L{InMemoryApp}."""

    code: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError if it is not."""
        return json.loads(self.body)


class InMemoryApp:
    """
    A L{HookApp} served in memory, as C{treq.testing.StubTreq} serves a resource:
    no socket, no reactor, and time on C{clock}, which a test advances. Every
    request comes from 127.0.0.1 (StubTreq's peer); with loopback among
    C{trusted_proxies}, an C{X-Forwarded-For} header names another client.
    C{tokens}: the job API's (L{Tokens}), or one L{Secret}, the one status token.
    """

    url = "http://hookdaemon.test"
    """Where the requests go: the Host a request carries unless it names its own."""

    def __init__(
        self,
        hooks: Mapping[str, HookConfig],
        engine: DeliveryTaker | None = None,
        jobs: JobSource | None = None,
        tokens: Tokens | Secret | None = None,
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self.clock = Clock()
        self.engine = engine if engine is not None else AcceptingEngine()
        if not isinstance(tokens, Tokens):
            tokens = Tokens(status=() if tokens is None else (tokens,))
        self.app = HookApp(
            hooks,
            self.engine,
            jobs if jobs is not None else StubJobs(),
            tokens,
            trusted_proxies=tuple(ipaddress.ip_network(cidr) for cidr in trusted_proxies),
            clock=self.clock,
        )
        self.stub = StubTreq(self.app.resource())
        # StubTreq copies treq's functions onto itself when built: mypy cannot see them.
        self._request: Callable[..., Deferred[IResponse]] = self.stub.request  # type: ignore[attr-defined]
        self._content: Callable[[IResponse], Deferred[bytes]] = self.stub.content  # type: ignore[attr-defined]

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Deferred[IResponse]:
        """
        Send one request and let the app answer what it can now; the response
        fires once the answer is whole, which for an answer waiting on the
        engine is after that has fired and L{flush} has run.
        """
        sent = self._request(
            method,
            self.url + path,
            headers={name: [value] for name, value in (headers or {}).items()},
            data=body,
        )
        self.flush()
        return sent

    def flush(self) -> None:
        """Deliver whatever the app and its client have written to each other."""
        self.stub.flush()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> MemoryAnswer:
        """One request and its whole answer; AssertionError if the answer is not whole yet."""
        response = _now(self.send(method, path, body, headers), f"{method} {path}")
        content = _now(self._content(response), f"the body of {method} {path}")
        return MemoryAnswer(response.code, response.headers, content)

    def post(
        self, path: str, body: bytes = b"{}", headers: Mapping[str, str] | None = None
    ) -> MemoryAnswer:
        """A POST of a JSON C{body} (C{Content-Type} unless C{headers} name one)."""
        given = dict(headers or {})
        if not any(name.lower() == "content-type" for name in given):
            given["Content-Type"] = "application/json"
        return self.request("POST", path, body, given)


def _now(d: Deferred[Any], what: str) -> Any:
    """The result C{d} has already, or AssertionError saying C{what} still waits."""
    results: list[Any] = []
    d.addBoth(results.append)
    if not results:
        raise AssertionError(f"{what}: no answer yet (does it wait on the engine?)")
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]
