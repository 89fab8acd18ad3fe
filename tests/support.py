"""
Test support: a daemon on an ephemeral loopback port, signed deliveries, a client.

Every live test builds its daemon with L{start_daemon} and its requests with the
helpers here, so no test file repeats the plumbing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from attrs import frozen
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from hookdaemon.config import Config, parse_config
from hookdaemon.job_status import JobView
from hookdaemon.service import HookService
from hookdaemon.testing import signed

ZERO = "0" * 40


def git(*args: str, cwd: str) -> str:
    """Run git in C{cwd} as a test user with no configuration of its own; its stdout."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": cwd,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def git_accepts_ref(name: str) -> bool:
    """Does git itself (C{git check-ref-format --allow-onelevel}) take C{name} as a ref name?"""
    result = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", name.encode("utf-8")],
        capture_output=True,
    )
    return result.returncode == 0


MIB = 1024 * 1024


def small_tmpfs(case: TestCase, size: int) -> str | None:
    """
    A tmpfs of C{size} bytes mounted on a fresh directory under the test's
    temporary directory, unmounted when the test ends; None where this process
    cannot mount one (not root, or in a container that forbids it), so the test
    falls back to an injected failure and says so.
    """
    mount_point = os.path.abspath(case.mktemp())
    os.makedirs(mount_point)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", mount_point],
        capture_output=True,
    )
    if result.returncode != 0:
        return None
    case.addCleanup(subprocess.run, ["umount", "-l", mount_point], capture_output=True)
    return mount_point


def open_directory(case: SynchronousTestCase) -> str:
    """
    A new directory any user may enter, removed after the test: not under the
    test's temporary directory, whose parents trial makes 0700 (a check as
    another user would stop there).
    """
    path = tempfile.mkdtemp(prefix="hookdaemon-test-")
    os.chmod(path, 0o755)
    case.addCleanup(shutil.rmtree, path)
    return path


def fill_disk(directory: str) -> str:
    """
    Fill the file system holding C{directory} to the last byte with one file;
    its path, to remove when the disk should have room again.
    """
    path = os.path.join(directory, "filler")
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        # The last few bytes a 64 KiB write could not take.
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass
    return path


def on_disk(path: str) -> int:
    """A journal's bytes on disk: the file and its write-ahead log."""
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def http_client() -> HTTPClient:
    """A treq client that keeps no connections open, so trial's reactor stays clean."""
    return HTTPClient(Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False)))


def config_text(hooks: str, daemon: str = "", state: str = ".") -> str:
    """A full tap.cfg: an ephemeral loopback port, state and logs under C{state}."""
    return (
        "[hookdaemon]\n"
        "listen = tcp:0:interface=127.0.0.1\n"
        f"state_dir = {state}/var\n"
        f"log_dir = {state}/var/log\n" + textwrap.dedent(daemon) + "\n" + textwrap.dedent(hooks)
    )


@frozen
class RunningDaemon:
    service: HookService
    url: str
    directory: str

    def hook_url(self, name: str, query: str = "") -> str:
        return f"{self.url}/hooks/{name}" + (f"?{query}" if query else "")

    @property
    def jobs(self) -> dict[int, JobView]:
        """The jobs the daemon holds in memory: live ones and the last ended ones."""
        return self.service.status.jobs

    def job(self, job_id: int) -> JobView:
        return self.jobs[job_id]

    @property
    def journal_path(self) -> str:
        return os.path.join(self.directory, "var", "journal.sqlite")

    def log_path(self, hook: str) -> str:
        """The hook's output log."""
        return self.service.outputs.logs[hook].path

    def log_text(self, hook: str) -> str:
        with open(self.log_path(hook), encoding="utf-8", errors="replace") as f:
            return f.read()


async def start_daemon(
    case: TestCase,
    hooks: str,
    daemon: str = "",
    environ: Mapping[str, str] | None = None,
    directory: str | None = None,
) -> RunningDaemon:
    """
    Start a HookService on 127.0.0.1:0, stopped at cleanup; in a fresh directory,
    or in C{directory} to start again on an earlier daemon's state.
    """
    if directory is None:
        directory = os.path.abspath(case.mktemp())
        os.makedirs(directory)
    source = os.path.join(directory, "tap.cfg")
    text = config_text(hooks, daemon)
    with open(source, "w") as f:
        f.write(text)

    def read(path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    return await start_service(case, parse_config(text, source, environ or {}, read), directory)


async def start_service(case: TestCase, config: Config, directory: str) -> RunningDaemon:
    """Start a HookService on C{config}, which listens on one port; stopped at cleanup."""
    service = HookService(config)
    service.privilegedStartService()
    service.startService()
    case.addCleanup(service.stopService)
    assert service.listening is not None
    await service.listening
    port = service.addresses()[0].port
    return RunningDaemon(service=service, url=f"http://127.0.0.1:{port}", directory=directory)


async def wait_for(
    predicate: Callable[[], bool], what: str, attempts: int = 1500, interval: float = 0.02
) -> None:
    """Poll until C{predicate} holds; fail with C{what} if it never does."""
    for _ in range(attempts):
        if predicate():
            return
        await deferLater(reactor, interval)
    raise AssertionError(f"gave up waiting for {what}")


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, attempts: int = 1500, interval: float = 0.02
) -> None:
    """L{wait_for} with a check that needs the reactor itself (an HTTP request)."""
    for _ in range(attempts):
        if await check():
            return
        await deferLater(reactor, interval)
    raise AssertionError(f"gave up waiting for {what}")


def github_headers(body: bytes, secret: str, event: str = "push") -> dict[str, str]:
    """The headers GitHub sends with a JSON delivery, signed with SHA-256."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        **signed("github", secret, body),
    }


def github_push_body(
    ref: str = "refs/heads/main",
    before: str = ZERO,
    after: str = "1" * 40,
    repository: str = "example/site",
    clone_url: str = "https://github.com/example/site.git",
) -> bytes:
    """A minimal push payload with the fields hookdaemon reads."""
    return json.dumps(
        {
            "ref": ref,
            "before": before,
            "after": after,
            "repository": {"full_name": repository, "clone_url": clone_url},
            "pusher": {"name": "octocat"},
            "commits": [{"id": after}],
        }
    ).encode()


async def post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, Any, Any]:
    """POST and return (status, decoded JSON body, response)."""
    response = await http_client().post(
        url, data=body, headers={k: [v] for k, v in headers.items()}
    )
    content = await response.content()
    try:
        decoded = json.loads(content)
    except ValueError:
        decoded = content
    return response.code, decoded, response


async def get(url: str) -> tuple[int, bytes]:
    response = await http_client().get(url)
    return response.code, await response.content()


async def finished(daemon: RunningDaemon, job_id: int) -> JobView:
    job = daemon.job(job_id)
    await job.ended
    return job


def alive(pid: int) -> bool:
    """Is process C{pid} running (not gone, not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


LOUD_HOOK = """
[hook:loud]
forge = generic
allow_from = 127.0.0.1
workdir = {workdir}
shell = yes
command = until [ -e release ]; do sleep 0.01; done; {python} -c "$LOUD"
env = LOUD=import sys; sys.stdout.writelines("x" * 99 + chr(10) for _ in range(200000))
"""
"""A hook whose job prints 20 MB of 100-byte lines once C{release} exists in its workdir."""


async def loud_job_unread(case: TestCase, path: Callable[[int], str], daemon: str = "") -> bytes:
    """
    Run L{LOUD_HOOK}'s job to its end while a L{silent_reader} follows it at
    C{path(job)} and reads nothing; then what that reader was sent, read whole.
    """
    workdir = os.path.abspath(case.mktemp())
    os.makedirs(workdir)
    running = await start_daemon(
        case,
        LOUD_HOOK.format(workdir=workdir, python=sys.executable),
        daemon="log_max_bytes = 100000000\n" + daemon,
    )
    code, answer, _ = await post(
        running.hook_url("loud"),
        json.dumps({"ref": "refs/heads/main", "after": "f" * 40}).encode(),
        {"Content-Type": "application/json"},
    )
    assert code == 202, (code, answer)
    job_id = int(answer["job"])
    reader = silent_reader(case, running.service.addresses()[0].port, path(job_id))
    await wait_for(lambda: bool(running.job(job_id).followers), "the reader to follow")
    open(os.path.join(workdir, "release"), "w").close()
    assert (await finished(running, job_id)).state == "succeeded"
    assert os.path.getsize(running.log_path("loud")) > 20_000_000
    return await read_to_end(reader)


def silent_reader(case: TestCase, port: int, path: str) -> socket.socket:
    """
    A GET of C{path} on a socket with a small receive buffer that reads
    nothing until L{read_to_end}: a follower that has stopped keeping up.
    """
    reader = socket.socket()
    case.addCleanup(reader.close)
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    reader.connect(("127.0.0.1", port))
    reader.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    reader.setblocking(False)
    return reader


async def read_to_end(reader: socket.socket) -> bytes:
    """All a L{silent_reader} is sent, read now, without blocking the reactor."""
    received = bytearray()
    while True:
        try:
            chunk = reader.recv(65536)
        except BlockingIOError:
            await deferLater(reactor, 0.01)
            continue
        if not chunk:
            return bytes(received)
        received += chunk
