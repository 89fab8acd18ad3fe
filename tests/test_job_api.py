"""The job API over live HTTP: /jobs, /jobs/ID, /jobs/ID/log, and who may read them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from hookdaemon.client_address import PROXY_HEADERS
from hookdaemon.follow import CUT_OFF
from hookdaemon.testing import free_port
from tests.live import LiveDaemon
from tests.support import (
    finished,
    get,
    http_client,
    loud_job_unread,
    post,
    start_daemon,
)

HOOKS = """
[hook:site]
forge = generic
allow_from = 127.0.0.1
workdir = .
command = sh -c 'echo out-$HOOK_AFTER; echo err >&2; exit 3'
burst = queue

[hook:api]
forge = generic
allow_from = 127.0.0.1
workdir = .
command = true
"""


async def trigger(url: str, after: str, delivery: str = "") -> int:
    headers = {"Content-Type": "application/json"}
    if delivery:
        headers["X-Request-Id"] = delivery
    body = json.dumps({"ref": "refs/heads/main", "after": after}).encode()
    code, answer, _ = await post(url, body, headers)
    assert code == 202, (code, answer)
    return int(answer["job"])


class JobApiTests(TestCase):
    async def setUp(self) -> None:
        self.daemon = await start_daemon(self, HOOKS)

    async def test_jobShowsDeliveryStateExitAndTimes(self) -> None:
        job_id = await trigger(self.daemon.hook_url("site"), "a" * 40, delivery="req-1")
        await finished(self.daemon, job_id)
        # The end is recorded on the journal's thread; a later read sees it.
        code, content = await get(f"{self.daemon.url}/jobs/{job_id}")
        self.assertEqual(code, 200)
        job = json.loads(content)
        self.assertEqual(
            {k: job[k] for k in ("id", "hook", "state", "exit_code", "signal", "covers")},
            {
                "id": job_id,
                "hook": "site",
                "state": "failed",
                "exit_code": 3,
                "signal": None,
                "covers": [],
            },
        )
        self.assertEqual(job["delivery"]["after"], "a" * 40)
        self.assertEqual(job["delivery"]["id"], "req-1")
        self.assertEqual(job["delivery"]["branch"], "main")
        for key in ("queued_at", "started_at", "finished_at"):
            self.assertRegex(job[key], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")

    async def test_logIsTheOutputTail(self) -> None:
        job_id = await trigger(self.daemon.hook_url("site"), "b" * 40)
        await finished(self.daemon, job_id)
        response = await http_client().get(f"{self.daemon.url}/jobs/{job_id}/log")
        content = await response.content()
        self.assertEqual(response.code, 200)
        self.assertEqual(
            response.headers.getRawHeaders("content-type"), ["text/plain; charset=utf-8"]
        )
        lines = content.splitlines()
        # The step's two streams, in whichever order they came, inside hookdaemon's own lines.
        self.assertEqual(sorted(lines[1:3]), [b"stderr err", b"stdout out-" + b"b" * 40])
        self.assertTrue(lines[0].startswith(b"hookdaemon step 1/1: "), lines[0])
        self.assertEqual(lines[3:], [b"hookdaemon step 1 ended: exit 3", b"hookdaemon job failed"])

    async def test_listIsNewestFirstFilteredAndLimited(self) -> None:
        ids = [await trigger(self.daemon.hook_url(h), "c" * 40) for h in ("site", "api", "site")]
        for job_id in ids:
            await finished(self.daemon, job_id)
        code, content = await get(f"{self.daemon.url}/jobs")
        self.assertEqual(code, 200)
        self.assertEqual([job["id"] for job in json.loads(content)["jobs"]], ids[::-1])
        code, content = await get(f"{self.daemon.url}/jobs?hook=site&limit=1")
        self.assertEqual(code, 200)
        self.assertEqual([job["id"] for job in json.loads(content)["jobs"]], [ids[2]])

    async def test_badLimitIs400(self) -> None:
        for query in ("limit=x", "limit=0", "limit=100000"):
            code, content = await get(f"{self.daemon.url}/jobs?{query}")
            self.assertEqual(code, 400, query)
            self.assertIn("limit", json.loads(content)["error"])

    async def test_unknownJobIs404(self) -> None:
        for path in ("/jobs/999", "/jobs/999/log"):
            code, content = await get(self.daemon.url + path)
            self.assertEqual(code, 404, path)
            self.assertEqual(json.loads(content), {"error": "no job 999"})


class StatusTokenTests(TestCase):
    async def test_tokenIsRequiredWhenSet(self) -> None:
        daemon = await start_daemon(
            self, HOOKS, daemon="status_token = env:STATUS\n", environ={"STATUS": "let-me-see"}
        )
        code, _ = await get(f"{daemon.url}/jobs")
        self.assertEqual(code, 401)
        response = await http_client().get(
            f"{daemon.url}/jobs", headers={"Authorization": ["Bearer wrong"]}
        )
        await response.content()
        self.assertEqual(response.code, 401)
        response = await http_client().get(
            f"{daemon.url}/jobs", headers={"Authorization": ["Bearer let-me-see"]}
        )
        self.assertEqual(
            (response.code, json.loads(await response.content())), (200, {"jobs": []})
        )

    async def test_everyStatusPathAsksForTheBearerToken(self) -> None:
        daemon = await start_daemon(
            self, HOOKS, daemon="status_token = env:STATUS\n", environ={"STATUS": "let-me-see"}
        )
        job_id = await trigger(daemon.hook_url("api"), "a" * 40)
        await finished(daemon, job_id)
        for path in ("/jobs", f"/jobs/{job_id}", f"/jobs/{job_id}/log"):
            for given in ([], ["Bearer wrong"], ["Bearer let-me-seeX"], ["Basic let-me-see"]):
                response = await http_client().get(
                    daemon.url + path, headers={"Authorization": given}
                )
                await response.content()
                self.assertEqual(response.code, 401, (path, given))
                self.assertEqual(response.headers.getRawHeaders("www-authenticate"), ["Bearer"])
            response = await http_client().get(
                daemon.url + path, headers={"Authorization": ["Bearer let-me-see"]}
            )
            await response.content()
            self.assertEqual(response.code, 200, path)


async def status_code(url: str, headers: dict[str, list[str]]) -> int:
    response = await http_client().get(url, headers=headers)
    await response.content()
    return int(response.code)


class ProxiedStatusTests(TestCase):
    """The daemon behind a reverse proxy on 127.0.0.1, as the README suggests."""

    async def test_clientBehindATrustedLoopbackProxyIsNotLocal(self) -> None:
        daemon = await start_daemon(self, HOOKS, daemon="trusted_proxies = 127.0.0.1\n")
        job_id = await trigger(daemon.hook_url("api"), "a" * 40)
        await finished(daemon, job_id)
        for path in ("/jobs", f"/jobs/{job_id}", f"/jobs/{job_id}/log"):
            url = daemon.url + path
            self.assertEqual(
                await status_code(url, {"X-Forwarded-For": ["203.0.113.9"]}), 403, path
            )
            # What the caller writes itself is to the left of what the proxy appends.
            self.assertEqual(
                await status_code(url, {"X-Forwarded-For": ["127.0.0.1, 203.0.113.9"]}),
                403,
                path,
            )
            self.assertEqual(await status_code(url, {"X-Forwarded-For": ["unknown"]}), 403)
            self.assertEqual(await status_code(url, {}), 200, path)

    async def test_forwardedByAnUntrustedLoopbackProxyIsNotLocal(self) -> None:
        """trusted_proxies forgotten: forwarded requests are not taken for local ones."""
        daemon = await start_daemon(self, HOOKS)
        url = daemon.url + "/jobs"
        self.assertEqual(await status_code(url, {"X-Forwarded-For": ["203.0.113.9"]}), 403)
        self.assertEqual(await status_code(url, {"X-Real-IP": ["203.0.113.9"]}), 403)
        self.assertEqual(await status_code(url, {}), 200)


async def status_answer(url: str, headers: dict[str, list[str]]) -> tuple[int, Any]:
    """(status, decoded JSON or the raw body) of one GET."""
    response = await http_client().get(url, headers=headers)
    content = await response.content()
    try:
        return response.code, json.loads(content)
    except ValueError:
        return response.code, content


class _Exchange(Protocol):
    """Send bytes as they are, read the answer until the server closes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.received = bytearray()
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.data)

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.done.callback(bytes(self.received))


async def raw_answer(port: int, data: bytes) -> tuple[int, Any]:
    """(status, decoded JSON) of a request sent byte for byte; for HTTP/1.0, never chunked."""
    exchange = _Exchange(data)
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), exchange)
    answer = await exchange.done
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


def nginx_request(port: int, path: str, host: str | None) -> bytes:
    """What nginx 1.22 sent upstream for a plain proxy_pass, as seen on the wire."""
    lines = [f"GET {path} HTTP/1.0"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += ["Connection: close", "User-Agent: curl/7.88.1", "Accept: */*"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class LocalCallerTests(TestCase):
    """
    Without a status_token, only a caller on this machine asking directly: each
    request the issue saw answered 200, sent as it was seen.
    """

    async def setUp(self) -> None:
        self.daemon = await start_daemon(self, HOOKS)
        self.port = self.daemon.service.addresses()[0].port
        job_id = await trigger(self.daemon.hook_url("api"), "a" * 40)
        await finished(self.daemon, job_id)
        self.paths = (
            "/jobs",
            f"/jobs/{job_id}",
            f"/jobs/{job_id}/log",
            f"/jobs/{job_id}/log?follow=1",
        )

    async def assertRefused(self, headers: dict[str, list[str]], *words: str) -> None:
        for path in self.paths:
            code, answer = await status_answer(self.daemon.url + path, headers)
            self.assertEqual(code, 403, (path, headers))
            self.assertIn("set status_token", answer["error"])
            for word in words:
                self.assertIn(word, answer["error"], (path, headers))

    async def test_forwardedHeaderIsAProxiedClient(self) -> None:
        for value in ("for=203.0.113.9;proto=https", "for=127.0.0.1", 'for="[::1]"'):
            await self.assertRefused({"Forwarded": [value]}, "unproxied", "Forwarded")

    async def test_viaHeaderIsAProxiedClient(self) -> None:
        await self.assertRefused({"Via": ["1.1 proxy.example (squid/5.7)"]}, "Via")

    async def test_everyProxyHeaderIsAProxiedClient(self) -> None:
        for name in PROXY_HEADERS:
            code, answer = await status_answer(f"{self.daemon.url}/jobs", {name: ["127.0.0.1"]})
            self.assertEqual((code, name in answer["error"]), (403, True), name)

    async def test_http10AsNginxSendsItIsAProxiedClient(self) -> None:
        """nginx's plain proxy_pass adds no proxy header, but speaks HTTP/1.0."""
        for path in self.paths:
            for host in (f"127.0.0.1:{self.port}", f"localhost:{self.port}", None):
                code, answer = await raw_answer(self.port, nginx_request(self.port, path, host))
                self.assertEqual(code, 403, (path, host))
                self.assertIn("HTTP/1.0", answer["error"])
                self.assertIn("set status_token", answer["error"])

    async def test_hostOfAnotherSiteIsRefused(self) -> None:
        """DNS rebinding: a page from evil.example whose name now resolves to 127.0.0.1."""
        browser = {
            "Origin": [f"http://evil.example:{self.port}"],
            "Sec-Fetch-Site": ["same-origin"],
        }
        for host in ("evil.example", f"evil.example:{self.port}", "backend"):
            await self.assertRefused({"Host": [host], **browser}, "DNS rebinding")

    async def test_loopbackHostsAreAnswered(self) -> None:
        for host in (
            f"localhost:{self.port}",
            "localhost",
            f"127.0.0.1:{self.port}",
            f"[::1]:{self.port}",
        ):
            for path in self.paths:
                code, _ = await status_answer(self.daemon.url + path, {"Host": [host]})
                self.assertEqual(code, 200, (path, host))
        # treq's own Host, 127.0.0.1:PORT, as curl would send it.
        self.assertEqual((await status_answer(f"{self.daemon.url}/jobs", {}))[0], 200)


NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    upstream backend {{ server 127.0.0.1:{upstream}; }}
    server {{
        listen 127.0.0.1:{port};
        # What people write first: nginx adds no header, speaks HTTP/1.0, Host 127.0.0.1:PORT.
        location /plain/ {{ proxy_pass http://127.0.0.1:{upstream}/; }}
        location /upstream/ {{ proxy_pass http://backend/; proxy_http_version 1.1; }}
        location /public/ {{
            proxy_pass http://127.0.0.1:{upstream}/;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
        }}
        location /forwarding/ {{
            proxy_pass http://127.0.0.1:{upstream}/;
            proxy_http_version 1.1;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
        # Nothing here that curl on this machine does not send too.
        location /invisible/ {{ proxy_pass http://127.0.0.1:{upstream}/; proxy_http_version 1.1; }}
    }}
}}
"""


def start_nginx(case: TestCase | SynchronousTestCase, upstream: int) -> str:
    """
    A real nginx in front of 127.0.0.1:C{upstream}, as a child of the test (not a
    daemon), stopped at cleanup; its URL. Skips the test when nginx is not installed.
    """
    nginx = shutil.which("nginx")
    if nginx is None:
        raise SkipTest("nginx is not on PATH (Debian: apt-get install nginx)")
    directory = os.path.abspath(case.mktemp())
    os.makedirs(directory)
    port = free_port()
    config = os.path.join(directory, "nginx.conf")
    with open(config, "w") as f:
        f.write(
            NGINX_CONF.format(
                # As root, nginx would run its workers as nobody, who cannot write here.
                user="user root;" if os.geteuid() == 0 else "",
                directory=directory,
                upstream=upstream,
                port=port,
            )
        )
    with open(os.path.join(directory, "nginx.log"), "wb") as log:
        # -e: the error log before the config is read (else /var/log/nginx/error.log).
        process = subprocess.Popen(
            [nginx, "-p", directory, "-c", config, "-e", "stderr"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop() -> None:
        process.terminate()
        process.wait(30)

    case.addCleanup(stop)
    for _ in range(1500):
        if process.poll() is not None:
            with open(os.path.join(directory, "nginx.log"), encoding="utf-8") as f:
                raise AssertionError(f"nginx exited with {process.returncode}:\n{f.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.02)
    raise AssertionError("nginx never listened")


class BehindNginxTests(TestCase):
    """A real nginx on 127.0.0.1 in front of the daemon, configured as people do."""

    async def test_plainProxyPassIsRefused(self) -> None:
        daemon = await start_daemon(self, HOOKS)
        nginx = start_nginx(self, daemon.service.addresses()[0].port)
        job_id = await trigger(daemon.hook_url("api"), "a" * 40)
        await finished(daemon, job_id)
        for path in (
            "jobs",
            f"jobs/{job_id}",
            f"jobs/{job_id}/log",
            f"jobs/{job_id}/log?follow=1",
        ):
            code, answer = await status_answer(f"{nginx}/plain/{path}", {})
            self.assertEqual(code, 403, path)
            self.assertIn("HTTP/1.0", answer["error"])
        # The same daemon, asked directly, answers.
        self.assertEqual((await status_answer(f"{daemon.url}/jobs", {}))[0], 200)

    async def test_proxiesThatGiveThemselvesAwayAreRefused(self) -> None:
        daemon = await start_daemon(self, HOOKS)
        nginx = start_nginx(self, daemon.service.addresses()[0].port)
        for location, host, says in [
            ("upstream", None, "DNS rebinding"),  # Host: backend
            ("public", "hooks.example.org", "DNS rebinding"),
            ("forwarding", None, "X-Forwarded-For"),
        ]:
            headers = {"Host": [host]} if host else {}
            code, answer = await status_answer(f"{nginx}/{location}/jobs", headers)
            self.assertEqual(code, 403, location)
            self.assertIn(says, answer["error"], location)
            self.assertIn("set status_token", answer["error"], location)

    async def test_nginxSpeakingHttp11WithNoHeaderLooksLocal(self) -> None:
        """
        What cannot be told apart: with C{proxy_http_version 1.1} and nothing else,
        nginx sends what a local curl (or Python's urllib) sends. Only status_token
        guards the job API behind such a proxy; the README says to set it.
        """
        daemon = await start_daemon(self, HOOKS)
        nginx = start_nginx(self, daemon.service.addresses()[0].port)
        self.assertEqual((await status_answer(f"{nginx}/invisible/jobs", {}))[0], 200)

    async def test_statusTokenReachesThroughTheProxy(self) -> None:
        daemon = await start_daemon(
            self, HOOKS, daemon="status_token = env:STATUS\n", environ={"STATUS": "let-me-see"}
        )
        nginx = start_nginx(self, daemon.service.addresses()[0].port)
        for location in ("plain", "upstream", "forwarding", "invisible"):
            url = f"{nginx}/{location}/jobs"
            self.assertEqual((await status_answer(url, {}))[0], 401, location)
            given = {"Authorization": ["Bearer let-me-see"]}
            self.assertEqual(await status_answer(url, given), (200, {"jobs": []}), location)


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, decoded JSON) of a blocking GET, for a daemon in another process."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class TwistdStatusTests(SynchronousTestCase):
    """The daemon as installed, C{twistd -n hookdaemon}, asked as the issue asked it."""

    def test_proxiedRequestsAreRefused(self) -> None:
        daemon = LiveDaemon(self, HOOKS)
        code, answer = fetch(f"{daemon.url}/jobs", {"Forwarded": "for=203.0.113.9"})
        self.assertEqual(code, 403)
        self.assertIn("Forwarded", answer["error"])
        self.assertEqual(fetch(f"{daemon.url}/jobs", {"Via": "1.1 proxy"})[0], 403)
        self.assertEqual(fetch(f"{daemon.url}/jobs", {"Host": "evil.example"})[0], 403)
        self.assertEqual(fetch(f"{daemon.url}/jobs"), (200, {"jobs": []}))
        nginx = start_nginx(self, daemon.port)
        code, answer = fetch(f"{nginx}/plain/jobs")
        self.assertEqual(code, 403)
        self.assertIn("HTTP/1.0", answer["error"])


WAITING_HOOK = """
[hook:slow]
forge = generic
allow_from = 127.0.0.1
workdir = {workdir}
command = sh -c 'while [ ! -e release ]; do echo tick; sleep 0.01; done; echo done'
"""


class FollowTests(TestCase):
    async def test_followStreamsUntilTheJobEnds(self) -> None:
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        daemon = await start_daemon(self, WAITING_HOOK.format(workdir=workdir))
        job_id = await trigger(daemon.hook_url("slow"), "d" * 40)
        response = await http_client().get(f"{daemon.url}/jobs/{job_id}/log?follow=1")
        self.assertEqual(response.code, 200)
        chunks: list[bytes] = []

        def arrived(chunk: bytes) -> None:
            chunks.append(chunk)
            if b"stdout tick" in b"".join(chunks):
                # Only now, with output already streamed, may the job end.
                open(os.path.join(workdir, "release"), "w").close()

        await treq.collect(response, arrived)
        # hookdaemon's own lines follow too: why the output stopped.
        self.assertTrue(
            b"".join(chunks).endswith(
                b"stdout done\nhookdaemon step 1 ended: exit 0\nhookdaemon job succeeded\n"
            )
        )
        self.assertGreater(len(chunks), 1)
        self.assertEqual(daemon.job(job_id).state, "succeeded")

    async def test_followOfAFinishedJobIsItsTail(self) -> None:
        daemon = await start_daemon(self, HOOKS)
        job_id = await trigger(daemon.hook_url("site"), "e" * 40)
        await finished(daemon, job_id)
        code, content = await get(f"{daemon.url}/jobs/{job_id}/log?follow=1")
        self.assertEqual(code, 200)
        self.assertIn(b"stdout out-" + b"e" * 40 + b"\n", content)
        code, _ = await get(f"{daemon.url}/jobs/999/log?follow=1")
        self.assertEqual(code, 404)


class SlowFollowerTests(TestCase):
    async def test_readerThatStopsReadingIsCutOffNotBufferedFor(self) -> None:
        """20 MB of output for a reader that reads nothing: it gets a bounded part, then a note."""
        received = await loud_job_unread(self, lambda job: f"/jobs/{job}/log?follow=1")
        self.assertIn(CUT_OFF, received)
        self.assertLess(len(received), 10_000_000)
