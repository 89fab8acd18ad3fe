"""The job API over live HTTP: /jobs, /jobs/ID, /jobs/ID/log, and who may read them."""

from __future__ import annotations

import json
import os
import socket
import sys

import treq
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase

from hookdaemon.client_address import UNKNOWN
from hookdaemon.config import Secret
from hookdaemon.follow import CUT_OFF
from hookdaemon.job_views import status_refusal
from tests.support import finished, get, http_client, post, start_daemon, wait_for

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
        self.assertEqual(sorted(content.splitlines()), [b"stderr err", b"stdout out-" + b"b" * 40])

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


class StatusRefusalTests(SynchronousTestCase):
    TOKEN = Secret(origin="env:STATUS", value=b"t0ken")

    def test_withoutTokenOnlyLoopback(self) -> None:
        for client in ("127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"):
            self.assertIsNone(status_refusal(None, None, client), client)
        for client in ("10.0.0.1", "2001:db8::1", "", "not an address"):
            self.assertEqual(status_refusal(None, None, client), 403, client)

    def test_unknownClientIsNotLoopback(self) -> None:
        self.assertEqual(status_refusal(None, None, UNKNOWN), 403)

    def test_withTokenAnyClientWithTheToken(self) -> None:
        self.assertIsNone(status_refusal(self.TOKEN, "Bearer t0ken", "203.0.113.9"))
        self.assertIsNone(status_refusal(self.TOKEN, "bearer t0ken", "203.0.113.9"))
        self.assertEqual(status_refusal(self.TOKEN, None, "127.0.0.1"), 401)
        self.assertEqual(status_refusal(self.TOKEN, "Bearer t0ke", "127.0.0.1"), 401)
        self.assertEqual(status_refusal(self.TOKEN, "Basic t0ken", "127.0.0.1"), 401)


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
        self.assertTrue(b"".join(chunks).endswith(b"stdout done\n"))
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


LOUD_HOOK = """
[hook:loud]
forge = generic
allow_from = 127.0.0.1
workdir = {workdir}
shell = yes
command = until [ -e release ]; do sleep 0.01; done; {python} -c "$LOUD"
env = LOUD=import sys; sys.stdout.writelines("x" * 99 + chr(10) for _ in range(200000))
"""


class SlowFollowerTests(TestCase):
    async def test_readerThatStopsReadingIsCutOffNotBufferedFor(self) -> None:
        """20 MB of output for a reader that reads nothing: it gets a bounded part, then a note."""
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        daemon = await start_daemon(
            self,
            LOUD_HOOK.format(workdir=workdir, python=sys.executable),
            daemon="log_max_bytes = 100000000\n",
        )
        job_id = await trigger(daemon.hook_url("loud"), "f" * 40)
        reader = socket.socket()
        self.addCleanup(reader.close)
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        reader.connect(("127.0.0.1", daemon.service.addresses()[0].port))
        reader.sendall(
            f"GET /jobs/{job_id}/log?follow=1 HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        reader.setblocking(False)
        await wait_for(lambda: bool(daemon.job(job_id).followers), "the reader to follow")
        open(os.path.join(workdir, "release"), "w").close()
        self.assertEqual((await finished(daemon, job_id)).state, "succeeded")
        self.assertGreater(os.path.getsize(daemon.service.output("loud").path), 20_000_000)
        received = bytearray()
        while True:
            try:
                chunk = reader.recv(65536)
            except BlockingIOError:
                await deferLater(reactor, 0.01)
                continue
            if not chunk:
                break
            received += chunk
        self.assertIn(CUT_OFF, bytes(received))
        self.assertLess(len(received), 10_000_000)
