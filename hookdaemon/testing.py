"""
What a test, a benchmark or a script needs to talk to hookdaemon as a forge
would, as C{treq.testing} ships C{StubTreq}: the credential headers every forge
sends (L{signed}), and a real C{twistd -n hookdaemon} on a free loopback port
(L{TwistdDaemon}).

Nothing here is used by the daemon itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["TWISTD", "TwistdDaemon", "free_port", "signed"]

SIGNING_PREFIX = "whsec_"


def _hex(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _standard_webhooks(secret: str, body: bytes, now: float | None) -> dict[str, str]:
    """
    GitLab's signed form (Standard Webhooks): the key after C{whsec_} signs
    C{"<id>.<timestamp>.<body>"} with HMAC-SHA256, sent as C{v1,<base64>}.
    """
    encoded = secret.removeprefix(SIGNING_PREFIX).rstrip("=")
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    webhook_id = str(uuid.uuid4())  # GitLab sends its Idempotency-Key, a UUID
    timestamp = str(int(time.time() if now is None else now))
    signed_text = f"{webhook_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed_text, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
    }


def signed(
    forge: str,
    secret: str,
    body: bytes,
    now: float | None = None,
    signature_header: str = "",
) -> dict[str, str]:
    """
    The credential headers C{forge} sends with C{body} for a hook whose secret
    is C{secret}: its signature, or the token itself where that is its scheme.
    A GitLab secret starting with C{whsec_} is a signing token (the signed form,
    timestamped C{now}); a generic hook with C{signature_header} is signed in
    that header.
    """
    key = secret.encode()
    if forge == "github":
        return {"X-Hub-Signature-256": "sha256=" + _hex(key, body)}
    if forge == "gitlab":
        if secret.startswith(SIGNING_PREFIX):
            return _standard_webhooks(secret, body, now)
        return {"X-Gitlab-Token": secret}
    if forge == "gitea":
        return {"X-Gitea-Signature": _hex(key, body)}
    if forge == "forgejo":
        return {"X-Forgejo-Signature": _hex(key, body), "X-Gitea-Signature": _hex(key, body)}
    if forge == "gogs":
        return {"X-Gogs-Signature": _hex(key, body)}
    if forge in ("bitbucket", "bitbucket-server"):
        return {"X-Hub-Signature": "sha256=" + _hex(key, body)}
    if forge == "generic":
        if signature_header:
            return {signature_header: "sha256=" + _hex(key, body)}
        return {"Authorization": f"Bearer {secret}"}
    raise ValueError(f"no signer for {forge}")


TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
"""twistd as the running Python has it, whatever is on PATH."""


def free_port() -> int:
    """A loopback port free now (another process may take it before it is bound)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TwistdDaemon:
    """
    One C{twistd -n hookdaemon} on 127.0.0.1, in C{directory} (its tap.cfg,
    state and logs there), ready once it listens. L{stop} ends it with SIGTERM.
    """

    def __init__(
        self,
        directory: str,
        hooks: str,
        daemon: str = "",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = os.path.abspath(directory)
        os.makedirs(self.directory, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(self.directory, "tap.cfg")
        with open(self.config, "w") as f:
            f.write(
                f"[hookdaemon]\nlisten = tcp:{self.port}:interface=127.0.0.1\n"
                "state_dir = var\nlog_dir = var/log\n" + daemon + "\n" + hooks
            )
        self.process = subprocess.Popen(
            [*TWISTD, "-n", "--pidfile=", "--logfile=twistd.log", "hookdaemon"],
            cwd=self.directory,
            env={**os.environ, **(environ or {})},
        )
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self) -> None:
        # Its own log line, not a connection: another process may hold a port free_port gave.
        for _ in range(1500):
            if self.process.poll() is not None:
                raise AssertionError(f"twistd exited with {self.process.returncode}:\n{self.log}")
            if "listening on" in self.log:
                return
            time.sleep(0.02)
        raise AssertionError(f"twistd never listened:\n{self.log}")

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it has not stopped 30 s later (then this raises)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    @property
    def log(self) -> str:
        """The daemon's own log (twistd.log)."""
        return self._read(os.path.join(self.directory, "twistd.log"))

    def output(self, hook: str) -> str:
        """A hook's output log."""
        return self._read(os.path.join(self.directory, "var", "log", f"{hook}.log"))

    @staticmethod
    def _read(path: str) -> str:
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
        if code != 200 or not isinstance(job, dict):
            raise AssertionError(f"GET /jobs/{job_id}: {code} {job!r}")
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
