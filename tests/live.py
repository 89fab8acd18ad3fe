"""
A real C{twistd -n hookdaemon} in a child process, for tests that must see what
an operator sees: the daemon as installed, its own event loop, its log.

Synchronous on purpose: the daemon is another process, so a blocking client
here waits on it, not on the test's reactor.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveDaemon:
    """One twistd on 127.0.0.1:port, in C{directory}, stopped with SIGTERM at cleanup."""

    def __init__(
        self,
        case: SynchronousTestCase,
        hooks: str,
        daemon: str = "",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = os.path.abspath(case.mktemp())
        os.makedirs(self.directory)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(self.directory, "tap.cfg")
        with open(self.config, "w") as f:
            f.write(
                f"[hookdaemon]\nlisten = tcp:{self.port}:interface=127.0.0.1\n"
                "state_dir = var\nlog_dir = var/log\n" + daemon + "\n" + hooks
            )
        env = {**os.environ, **(environ or {})}
        self.process = subprocess.Popen(
            [*TWISTD, "-n", "--pidfile=", "--logfile=twistd.log", "hookdaemon"],
            cwd=self.directory,
            env=env,
        )
        case.addCleanup(self.stop)
        self._wait_listening()

    def _wait_listening(self) -> None:
        for _ in range(1500):
            if self.process.poll() is not None:
                raise AssertionError(f"twistd exited with {self.process.returncode}:\n{self.log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("twistd never listened")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            # Never leave a daemon behind the test run; the test still fails.
            self.process.kill()
            self.process.wait()
            raise

    @property
    def log(self) -> str:
        """The daemon's own log (twistd.log)."""
        path = os.path.join(self.directory, "twistd.log")
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def output(self, hook: str) -> str:
        """A hook's output log."""
        path = os.path.join(self.directory, "var", "log", f"{hook}.log")
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    @property
    def journal_path(self) -> str:
        return os.path.join(self.directory, "var", "journal.sqlite")

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
        assert code == 200, (code, job)
        assert isinstance(job, dict)
        return job

    def wait_finished(self, job_id: int, attempts: int = 1500) -> dict[str, Any]:
        """The job once it is in a final state."""
        for _ in range(attempts):
            job = self.job(job_id)
            if job["state"] not in ("queued", "running"):
                return job
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never finished")


def _decoded(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content
