"""
The answers of DESIGN.md's table: live HTTP against a real listening port, and
exact tests of L{HookApp} in memory with a fake clock.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from hookdaemon.config import HookConfig, Secret, parse_config
from hookdaemon.delivery import Delivery
from hookdaemon.job_views import JobQuery
from hookdaemon.journal import Added
from hookdaemon.journal_worker import JournalUnavailableError
from hookdaemon.testing import AcceptingEngine, InMemoryApp, MemoryAnswer, StubJobs, signed
from hookdaemon.web import HookApp, hook_name
from tests.support import (
    ZERO,
    finished,
    get,
    github_headers,
    github_push_body,
    http_client,
    post,
    start_daemon,
)

SECRET = "s3cret-for-tests"

HOOKS = """
[hook:site]
forge = github
secret = env:SITE_SECRET
branches = main
workdir = .
command = true

[hook:walled]
forge = generic
allow_from = 10.0.0.0/8 fd00::/8
workdir = .
command = true

[hook:token]
forge = generic
secret = env:SITE_SECRET
workdir = .
command = true

[hook:signed]
forge = generic
secret = env:SITE_SECRET
signature_header = X-Signature-256
workdir = .
command = true

[hook:lab]
forge = gitlab
secret = env:SITE_SECRET
workdir = .
command = true
"""


class HookAnswersTests(TestCase):
    async def setUp(self) -> None:
        self.daemon = await start_daemon(self, HOOKS, environ={"SITE_SECRET": SECRET})

    async def test_signedPushIsAcceptedWithJobAndLocation(self) -> None:
        body = github_push_body()
        code, answer, response = await post(
            self.daemon.hook_url("site"), body, github_headers(body, SECRET)
        )
        self.assertEqual(code, 202)
        self.assertEqual(answer["status"], "queued")
        self.assertEqual(answer["url"], f"/jobs/{answer['job']}")
        self.assertEqual(response.headers.getRawHeaders("location"), [f"/jobs/{answer['job']}"])
        job = await finished(self.daemon, answer["job"])
        self.assertEqual(job.state, "succeeded")

    async def test_pingAnswersPong(self) -> None:
        body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
        code, answer, _ = await post(
            self.daemon.hook_url("site"), body, github_headers(body, SECRET, event="ping")
        )
        self.assertEqual((code, answer), (200, {"status": "pong"}))
        self.assertEqual(self.daemon.jobs, {})

    async def test_otherBranchIsIgnoredWithReason(self) -> None:
        body = github_push_body(ref="refs/heads/feature")
        code, answer, _ = await post(
            self.daemon.hook_url("site"), body, github_headers(body, SECRET)
        )
        self.assertEqual(code, 200)
        self.assertEqual(answer["status"], "ignored")
        self.assertIn("feature", answer["reason"])
        self.assertEqual(self.daemon.jobs, {})

    async def test_branchDeletionIsIgnored(self) -> None:
        body = github_push_body(after=ZERO)
        code, answer, _ = await post(
            self.daemon.hook_url("site"), body, github_headers(body, SECRET)
        )
        self.assertEqual((code, answer["status"]), (200, "ignored"))
        self.assertIn("delete", answer["reason"])

    async def test_wrongSignatureIs401(self) -> None:
        body = github_push_body()
        code, answer, _ = await post(
            self.daemon.hook_url("site"), body, github_headers(body, "not the secret")
        )
        self.assertEqual((code, answer), (401, {"error": "signature mismatch"}))
        self.assertEqual(self.daemon.jobs, {})

    async def test_unsignedIs401(self) -> None:
        body = github_push_body()
        headers = github_headers(body, SECRET)
        del headers["X-Hub-Signature-256"]
        code, _, _ = await post(self.daemon.hook_url("site"), body, headers)
        self.assertEqual(code, 401)

    async def test_sha1AloneIsAccepted(self) -> None:
        import hashlib
        import hmac

        body = github_push_body()
        headers = github_headers(body, SECRET)
        del headers["X-Hub-Signature-256"]
        headers["X-Hub-Signature"] = (
            "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
        )
        code, _, _ = await post(self.daemon.hook_url("site"), body, headers)
        self.assertEqual(code, 202)

    async def test_clientOutsideAllowFromIs403(self) -> None:
        code, answer, _ = await post(self.daemon.hook_url("walled"), b"", {})
        self.assertEqual(code, 403)
        self.assertEqual(answer, {"error": "client address not allowed"})

    async def test_unknownHookIs404(self) -> None:
        code, answer, _ = await post(self.daemon.hook_url("nope"), b"{}", {})
        self.assertEqual(code, 404)
        self.assertIn("nope", answer["error"])

    async def test_unknownPathIs404Json(self) -> None:
        code, content = await get(self.daemon.url + "/nothing/here")
        self.assertEqual(code, 404)
        self.assertEqual(json.loads(content), {"error": "not found"})

    async def test_getOnHookIs405(self) -> None:
        response = await http_client().get(self.daemon.hook_url("site"))
        await response.content()
        self.assertEqual(response.code, 405)
        self.assertEqual(response.headers.getRawHeaders("allow"), ["POST"])

    async def test_malformedJsonIs400WithReason(self) -> None:
        body = b'{"ref": "refs/heads/main",'
        code, answer, _ = await post(
            self.daemon.hook_url("site"), body, github_headers(body, SECRET)
        )
        self.assertEqual(code, 400)
        self.assertIn("not valid JSON", answer["error"])
        self.assertNotIn("\n", answer["error"])

    async def test_formEncodedGitHubPushIsAccepted(self) -> None:
        from urllib.parse import quote_plus

        body = b"payload=" + quote_plus(github_push_body().decode()).encode()
        headers = github_headers(body, SECRET)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        code, answer, _ = await post(self.daemon.hook_url("site"), body, headers)
        self.assertEqual(code, 202)
        job = await finished(self.daemon, answer["job"])
        self.assertEqual(job.delivery.branch, "main")

    async def test_genericBearerAndQueryToken(self) -> None:
        code, _, _ = await post(
            self.daemon.hook_url("token"), b"", {"Authorization": f"Bearer {SECRET}"}
        )
        self.assertEqual(code, 202)
        code, _, _ = await post(self.daemon.hook_url("token", f"token={SECRET}"), b"", {})
        self.assertEqual(code, 202)
        code, _, _ = await post(self.daemon.hook_url("token", "token=wrong"), b"", {})
        self.assertEqual(code, 401)

    async def test_tokenInAFormBodyIsNotAQueryToken(self) -> None:
        code, _, _ = await post(
            self.daemon.hook_url("token"),
            f"token={SECRET}".encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertEqual(code, 401)

    async def test_genericSignatureHeader(self) -> None:
        body = b'{"ref": "refs/heads/main"}'
        headers = signed("generic", SECRET, body, signature_header="X-Signature-256")
        code, _, _ = await post(self.daemon.hook_url("signed"), body, headers)
        self.assertEqual(code, 202)
        code, _, _ = await post(
            self.daemon.hook_url("signed", f"token={SECRET}"), body, {"X-Signature-256": "0" * 64}
        )
        self.assertEqual(code, 401)

    async def test_gitlabTokenHeaderAndQuery(self) -> None:
        body = json.dumps(
            {
                "object_kind": "push",
                "ref": "refs/heads/main",
                "before": ZERO,
                "after": "2" * 40,
                "project": {"path_with_namespace": "group/site"},
            }
        ).encode()
        headers = {"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json"}
        code, _, _ = await post(
            self.daemon.hook_url("lab"), body, {**headers, "X-Gitlab-Token": SECRET}
        )
        self.assertEqual(code, 202)
        code, _, _ = await post(self.daemon.hook_url("lab", f"token={SECRET}"), body, headers)
        self.assertEqual(code, 202)
        code, _, _ = await post(self.daemon.hook_url("lab"), body, headers)
        self.assertEqual(code, 401)

    async def test_healthz(self) -> None:
        code, content = await get(self.daemon.url + "/healthz")
        self.assertEqual((code, json.loads(content)), (200, {"status": "ok"}))

    async def test_accessLogRedactsQueryToken(self) -> None:
        lines: list[str] = []

        def observe(event: dict[str, object]) -> None:
            lines.append(str(event.get("message") or event.get("log_format") or ""))
            lines.append(repr(event))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        code, _, _ = await post(self.daemon.hook_url("token", f"token={SECRET}"), b"", {})
        self.assertEqual(code, 202)
        logged = "\n".join(lines)
        self.assertIn("token=REDACTED", logged)
        self.assertNotIn(SECRET, logged)


class BodyLimitTests(TestCase):
    async def test_bodyOverMaxBodyIs413(self) -> None:
        daemon = await start_daemon(
            self,
            "[hook:open]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n",
            daemon="max_body = 1024\n",
        )
        code, _answer, _ = await post(daemon.hook_url("open"), b"x" * 4096, {})
        self.assertEqual(code, 413)
        self.assertEqual(daemon.jobs, {})
        code, _, _ = await post(daemon.hook_url("open"), b"{}", {})
        self.assertEqual(code, 202)


def journal_rows(path: str) -> int:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (rows,) = connection.execute("SELECT count(*) FROM jobs").fetchone()
    finally:
        connection.close()
    return int(rows)


def access_lines(case: TestCase) -> list[str]:
    """The access log lines the daemon writes while the test runs."""
    lines: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        # Site writes its access log to twisted.python.log's file-like logfile.
        if "log_io" in event:
            lines.append(str(event["log_io"]))

    globalLogPublisher.addObserver(observe)
    case.addCleanup(globalLogPublisher.removeObserver, observe)
    return lines


JSON = {"Content-Type": "application/json"}

PROXIED_HOOKS = """
[hook:walled]
forge = generic
allow_from = 10.0.0.0/8 2001:db8::/32
workdir = .
command = true

[hook:local]
forge = generic
allow_from = 127.0.0.1
workdir = .
command = true
"""


class TrustedProxyTests(TestCase):
    """Behind a reverse proxy on 127.0.0.1 that appends to X-Forwarded-For."""

    async def setUp(self) -> None:
        self.daemon = await start_daemon(
            self, PROXIED_HOOKS, daemon="trusted_proxies = 127.0.0.1\n"
        )

    async def forwarded(self, hook: str, *xff: str) -> int:
        headers = {**JSON} if not xff else {**JSON, "X-Forwarded-For": ", ".join(xff)}
        code, _, _ = await post(self.daemon.hook_url(hook), b"{}", headers)
        return code

    async def test_allowFromSeesTheForwardedClient(self) -> None:
        self.assertEqual(await self.forwarded("walled", "10.1.2.3"), 202)
        self.assertEqual(await self.forwarded("walled", "[2001:db8::7]:443"), 202)
        self.assertEqual(await self.forwarded("walled", "203.0.113.9"), 403)

    async def test_aClientCannotClaimAnAllowedAddress(self) -> None:
        """The proxy appends the real peer; what the caller wrote is to its left."""
        self.assertEqual(await self.forwarded("walled", "10.1.2.3", "203.0.113.9"), 403)

    async def test_unreadableForwardedForIsNotTheProxy(self) -> None:
        self.assertEqual(await self.forwarded("local"), 202)
        self.assertEqual(await self.forwarded("local", "unknown"), 403)
        self.assertEqual(await self.forwarded("local", "10.1.2.3, garbage"), 403)

    async def test_accessLogShowsTheForwardedClient(self) -> None:
        lines = access_lines(self)
        self.assertEqual(await self.forwarded("walled", "10.1.2.3"), 202)
        [line] = [line for line in lines if "/hooks/walled" in line]
        self.assertTrue(line.startswith('"10.1.2.3" '), line)

    async def test_accessLogOfAnUnreadableClientIsADash(self) -> None:
        lines = access_lines(self)
        self.assertEqual(await self.forwarded("local", "unknown"), 403)
        [line] = [line for line in lines if "/hooks/local" in line]
        self.assertTrue(line.startswith('"-" '), line)


class UntrustedProxyTests(TestCase):
    async def test_forwardedForFromAnUntrustedPeerIsIgnored(self) -> None:
        daemon = await start_daemon(self, PROXIED_HOOKS)
        lines = access_lines(self)
        code, _, _ = await post(
            daemon.hook_url("walled"), b"{}", {**JSON, "X-Forwarded-For": "10.1.2.3"}
        )
        self.assertEqual(code, 403)
        [line] = [line for line in lines if "/hooks/walled" in line]
        self.assertTrue(line.startswith('"127.0.0.1" '), line)


class RateLimitLiveTests(TestCase):
    async def test_overTheRateIs429AndNeverJournaled(self) -> None:
        daemon = await start_daemon(
            self,
            "[hook:site]\nforge = generic\nsecret = env:SITE_SECRET\nrate = 2/minute\n"
            "workdir = .\ncommand = true\n",
            environ={"SITE_SECRET": SECRET},
        )
        good = {**JSON, "Authorization": f"Bearer {SECRET}"}
        code, answer, _ = await post(daemon.hook_url("site"), b"{}", good)
        self.assertEqual(code, 202)
        await finished(daemon, answer["job"])
        code, _, _ = await post(
            daemon.hook_url("site"), b"{}", {**JSON, "Authorization": "Bearer no"}
        )
        self.assertEqual(code, 401)
        # The failed check cost two of the two a minute: the good call must wait.
        code, answer, response = await post(daemon.hook_url("site"), b"{}", good)
        self.assertEqual(code, 429)
        self.assertIn("2/minute", answer["error"])
        [retry_after] = response.headers.getRawHeaders("retry-after")
        self.assertTrue(1 <= int(retry_after) <= 60, retry_after)
        self.assertEqual(journal_rows(daemon.journal_path), 1)


MEMORY_HOOKS = """
[hook:site]
forge = generic
secret = env:SITE_SECRET
rate = 2/minute
workdir = .
command = true

[hook:walled]
forge = generic
allow_from = 10.0.0.0/8
rate = 1/hour
workdir = .
command = true

[hook:open]
forge = generic
workdir = .
command = true
"""


def hooks_from(text: str) -> Mapping[str, HookConfig]:
    def no_files(path: str) -> bytes:
        raise FileNotFoundError(path)

    config = parse_config(
        "[hookdaemon]\n" + text, "/etc/hookdaemon/tap.cfg", {"SITE_SECRET": SECRET}, no_files
    )
    return config.hooks


class Memory(InMemoryApp):
    """
    L{InMemoryApp} over MEMORY_HOOKS, trusting a loopback proxy, as these tests
    call it: a JSON body, the client named by X-Forwarded-For, a bearer token.
    """

    def __init__(
        self, trusted_proxies: str = "127.0.0.0/8", status_token: Secret | None = None
    ) -> None:
        self.accept = AcceptingEngine()
        super().__init__(
            hooks_from(MEMORY_HOOKS),
            self.accept,
            StubJobs(),
            status_token,
            trusted_proxies=tuple(trusted_proxies.split()),
        )

    def call(
        self,
        method: str,
        path: str,
        client: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any, MemoryAnswer]:
        all_headers = {**JSON, **(headers or {})}
        if client is not None:
            all_headers["X-Forwarded-For"] = client
        answer = self.request(method, path, b"{}" if method == "POST" else None, all_headers)
        try:
            decoded = answer.json()
        except ValueError:
            decoded = answer.body
        return answer.code, decoded, answer

    def deliver(
        self, hook: str, client: str | None = None, token: str | None = SECRET
    ) -> tuple[int, Any, MemoryAnswer]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.call("POST", f"/hooks/{hook}", client, headers)


class RateLimitTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.memory = Memory()

    def test_overTheRateIs429WithRetryAfter(self) -> None:
        self.assertEqual(self.memory.deliver("site", "203.0.113.9")[0], 202)
        self.memory.clock.advance(10)
        self.assertEqual(self.memory.deliver("site", "203.0.113.9")[0], 202)
        code, answer, response = self.memory.deliver("site", "203.0.113.9")
        self.assertEqual(
            (code, answer),
            (429, {"error": "more than 2/minute calls from this address; try again in 20 s"}),
        )
        self.assertEqual(response.headers.getRawHeaders("retry-after"), ["20"])
        self.assertEqual(response.headers.getRawHeaders("content-type"), ["application/json"])
        self.memory.clock.advance(19.5)
        self.assertEqual(
            self.memory.deliver("site", "203.0.113.9")[2].headers.getRawHeaders("retry-after"),
            ["1"],
        )
        self.memory.clock.advance(0.5)
        self.assertEqual(self.memory.deliver("site", "203.0.113.9")[0], 202)
        self.assertEqual(len(self.memory.accept.accepted), 3)

    def test_eachClientHasItsOwnAllowance(self) -> None:
        for client in ("203.0.113.9", "203.0.113.10", "2001:db8:1:1::1"):
            self.assertEqual(self.memory.deliver("site", client)[0], 202)
            self.assertEqual(self.memory.deliver("site", client)[0], 202)
            self.assertEqual(self.memory.deliver("site", client)[0], 429)

    def test_ipv6ClientsAreCountedByTheirSlash64(self) -> None:
        self.assertEqual(self.memory.deliver("site", "2001:db8:1:1::1")[0], 202)
        self.assertEqual(self.memory.deliver("site", "2001:db8:1:1::2")[0], 202)
        self.assertEqual(self.memory.deliver("site", "2001:db8:1:1:ffff::3")[0], 429)
        self.assertEqual(self.memory.deliver("site", "2001:db8:1:2::1")[0], 202)

    def test_failedCheckCountsDouble(self) -> None:
        self.assertEqual(self.memory.deliver("site", "203.0.113.9", token="guess")[0], 401)
        self.assertEqual(self.memory.deliver("site", "203.0.113.9")[0], 429)
        self.memory.clock.advance(30)
        self.assertEqual(self.memory.deliver("site", "203.0.113.9")[0], 202)
        self.assertEqual(len(self.memory.accept.accepted), 1)

    def test_refusedRequestsAreNeverAccepted(self) -> None:
        for _ in range(5):
            self.memory.deliver("site", "203.0.113.9", token="guess")
        self.assertEqual(self.memory.accept.accepted, [])

    def test_notAllowedComesBeforeTheRate(self) -> None:
        """A 403 costs nothing and never turns into a 429: the address alone decides."""
        for _ in range(3):
            self.assertEqual(self.memory.deliver("walled", "203.0.113.9")[0], 403)
        self.assertEqual(self.memory.deliver("walled", "10.0.0.7")[0], 202)
        self.assertEqual(self.memory.deliver("walled", "10.0.0.7")[0], 429)

    def test_wrongMethodAndStoppingCostNothing(self) -> None:
        self.assertEqual(self.memory.call("GET", "/hooks/walled", "10.0.0.7")[0], 405)
        self.memory.accept.stopping = True
        self.assertEqual(self.memory.deliver("walled", "10.0.0.7")[0], 503)
        self.memory.accept.stopping = False
        self.assertEqual(self.memory.deliver("walled", "10.0.0.7")[0], 202)

    def test_hookWithoutRateIsNotLimited(self) -> None:
        for _ in range(20):
            self.assertEqual(self.memory.deliver("open", "203.0.113.9")[0], 202)

    def test_429IsLoggedOncePerClientAndWindow(self) -> None:
        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)

        def reports() -> list[str]:
            return [e["client"] for e in events if "over the rate" in e.get("log_format", "")]

        for _ in range(2):
            self.memory.deliver("site", "203.0.113.9")
            self.memory.deliver("site", "203.0.113.10")
        for _ in range(10):
            self.assertEqual(self.memory.deliver("site", "203.0.113.9")[0], 429)
            self.assertEqual(self.memory.deliver("site", "203.0.113.10")[0], 429)
        self.assertEqual(reports(), ["203.0.113.9", "203.0.113.10"])
        self.memory.clock.advance(30)
        self.memory.deliver("site", "203.0.113.9")
        self.assertEqual(self.memory.deliver("site", "203.0.113.9")[0], 429)
        self.assertEqual(len(reports()), 2)
        self.memory.clock.advance(30)
        self.memory.deliver("site", "203.0.113.9")
        self.assertEqual(self.memory.deliver("site", "203.0.113.9")[0], 429)
        self.assertEqual(len(reports()), 3)


class UnavailableTests(SynchronousTestCase):
    """A daemon that cannot take deliveries: it stops, or its journal cannot commit."""

    def setUp(self) -> None:
        self.memory = Memory()

    def test_aJournalThatCannotCommitIs503WithTheReason(self) -> None:
        self.memory.accept.fault = "database or disk is full"
        code, answer, response = self.memory.deliver("open", "203.0.113.9")
        self.assertEqual(
            (code, answer),
            (
                503,
                {"error": "the journal cannot commit (database or disk is full); try again later"},
            ),
        )
        self.assertEqual(response.headers.getRawHeaders("retry-after"), ["5"])
        self.assertEqual(self.memory.accept.accepted, [])

    def test_healthzSaysWhyDeliveriesCannotBeTaken(self) -> None:
        def healthz() -> tuple[int, Any, list[str] | None]:
            code, answer, response = self.memory.call("GET", "/healthz")
            return code, answer, response.headers.getRawHeaders("retry-after")

        self.assertEqual(healthz(), (200, {"status": "ok"}, None))
        self.memory.accept.fault = "database or disk is full"
        self.assertEqual(
            healthz(),
            (
                503,
                {
                    "status": "unavailable",
                    "reason": "the journal cannot commit: database or disk is full",
                },
                ["5"],
            ),
        )
        self.memory.accept.fault = None
        self.memory.accept.stopping = True
        self.assertEqual(
            healthz(), (503, {"status": "unavailable", "reason": "shutting down"}, ["5"])
        )


class LockedJobs(StubJobs):
    """The journal behind the job API, while another program holds its write lock."""

    def recent(self, query: JobQuery) -> Deferred[list[dict[str, Any]]]:
        return fail(JournalUnavailableError("database is locked"))


class UnavailableJobApiTests(SynchronousTestCase):
    def test_aReadTheJournalCannotMakeIs503(self) -> None:
        """Not Twisted's HTML "Processing Failed": the same 503 as a delivery gets."""
        memory = InMemoryApp(hooks_from(MEMORY_HOOKS), AcceptingEngine(), LockedJobs(), None)
        answer = memory.request("GET", "/jobs", headers={"Host": "localhost"})
        self.assertEqual(
            (answer.code, answer.json()),
            (503, {"error": "the journal cannot commit (database is locked); try again later"}),
        )
        self.assertEqual(answer.headers.getRawHeaders("retry-after"), ["5"])


class DeliveryRouteTests(SynchronousTestCase):
    """
    POST /hooks/NAME is answered without Klein's routing (see
    L{hookdaemon.web._Dispatcher}); it must behave as the route did.
    """

    def setUp(self) -> None:
        self.memory = Memory()
        self.waiting: list[Deferred[Added]] = []
        self.cancelled: list[Deferred[Added]] = []

        def accept(hook: HookConfig, delivery: Delivery, body: bytes) -> Deferred[Added]:
            committed: Deferred[Added] = Deferred(self.cancelled.append)
            self.waiting.append(committed)
            return committed

        self.memory.accept.accept = accept  # type: ignore[method-assign]

    def send(self) -> Deferred[Any]:
        return self.memory.send("POST", "/hooks/open", b"{}", JSON)

    def test_answeredOnceTheJournalHasIt(self) -> None:
        response = self.send()
        self.assertNoResult(response)
        [committed] = self.waiting
        committed.callback(Added(job_id=7, duplicate=False))
        self.memory.flush()
        answer = self.successResultOf(response)
        self.assertEqual(answer.code, 202)
        self.assertEqual(
            json.loads(self.successResultOf(self.memory.stub.content(answer))),
            {"job": 7, "status": "queued", "url": "/jobs/7"},
        )

    def test_aClientThatHangsUpStopsOnlyTheWait(self) -> None:
        response = self.send()
        response.cancel()
        self.memory.flush()
        self.failureResultOf(response)
        self.assertEqual(self.cancelled, self.waiting)
        self.assertEqual(len(self.waiting), 1)
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_anUnexpectedFailureIs500AndLogged(self) -> None:
        response = self.send()
        self.waiting[0].errback(RuntimeError("the disk is on fire"))
        self.memory.flush()
        self.assertEqual(self.successResultOf(response).code, 500)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_otherPathsUnderHooksAreKleins(self) -> None:
        for path in ("/hooks/open/", "/hooks/open/x", "/hooks/a%2Fb", "/hooks/", "/hooks"):
            code, answer, _ = self.memory.call("POST", path)
            self.assertEqual((path, code, answer), (path, 404, {"error": "not found"}))
        code, answer, _ = self.memory.call("POST", "/hooks/nope")
        self.assertEqual((code, answer), (404, {"error": "no hook named nope"}))
        self.assertEqual(self.waiting, [])

    def test_leadingSlashesStillReachTheHook(self) -> None:
        """werkzeug's URL map strips them, so //hooks/NAME reached the Klein route."""
        response = self.memory.send("POST", "//hooks/open", b"{}", JSON)
        [committed] = self.waiting
        committed.callback(Added(job_id=3, duplicate=False))
        self.memory.flush()
        self.assertEqual(self.successResultOf(response).code, 202)
        self.assertEqual(self.memory.call("GET", "///hooks/open")[0], 405)

    def test_noKleinRouteUnderHooks(self) -> None:
        """Only the dispatcher answers under /hooks: no path reaches a hook two ways."""
        rules = [rule.rule for rule in HookApp.app.url_map.iter_rules()]
        self.assertEqual([rule for rule in rules if rule.startswith("/hooks")], [])
        code, answer, _ = self.memory.call("POST", "/hooks//open")
        self.assertEqual((code, answer), (404, {"error": "not found"}))


class HookNameTests(SynchronousTestCase):
    def test_hookPath(self) -> None:
        self.assertEqual(hook_name([b"hooks", b"site"]), b"site")
        self.assertEqual(hook_name([b"", b"", b"hooks", b"site"]), b"site")

    def test_otherPaths(self) -> None:
        for path in (
            [b"hooks"],
            [b"hooks", b""],
            [b"hooks", b"site", b""],
            [b"hooks", b"a/b"],
            [b"hooks", b"", b"site"],
            [b"jobs", b"1"],
            [b"x", b"hooks", b"site"],
            [b""],
        ):
            self.assertIsNone(hook_name(path), path)


class ClientAddressInMemoryTests(SynchronousTestCase):
    def test_allowFromSeesTheForwardedClientOnlyFromATrustedPeer(self) -> None:
        trusted = Memory()
        self.assertEqual(trusted.deliver("walled", "10.0.0.7")[0], 202)
        untrusted = Memory(trusted_proxies="")
        self.assertEqual(untrusted.deliver("walled", "10.0.0.7")[0], 403)

    def test_realIpWithoutForwardedFor(self) -> None:
        memory = Memory()
        code, _, _ = memory.call("POST", "/hooks/walled", headers={"X-Real-IP": "10.0.0.7"})
        self.assertEqual(code, 202)


STATUS_PATHS = ("/jobs", "/jobs/1", "/jobs/1/log", "/jobs/1/log?follow=1")


LOCAL = {"Host": "localhost"}
"""StubTreq's Host is hookdaemon.test; without a token only a loopback Host is answered."""


class StatusClientTests(SynchronousTestCase):
    """Who may read /jobs without a token: a loopback caller, never one a proxy forwards."""

    def test_loopbackProxysClientsAreNotLocal(self) -> None:
        memory = Memory()
        for path in STATUS_PATHS:
            code, answer, _ = memory.call("GET", path, "203.0.113.9", LOCAL)
            self.assertEqual(code, 403, path)
            self.assertIn("unproxied loopback clients only", answer["error"])
            self.assertIn("set status_token", answer["error"])
            # Even a loopback client the trusted proxy names is not asking directly.
            self.assertEqual(memory.call("GET", path, "127.0.0.1", LOCAL)[0], 403, path)
            self.assertEqual(memory.call("GET", path, headers=LOCAL)[0], 200, path)

    def test_untrustedProxyOnLoopbackMakesNobodyLocal(self) -> None:
        """A loopback nginx nobody listed in trusted_proxies: its callers are not local."""
        memory = Memory(trusted_proxies="")
        for path in STATUS_PATHS:
            self.assertEqual(memory.call("GET", path, "127.0.0.1", LOCAL)[0], 403, path)
            code, _, _ = memory.call("GET", path, headers={"X-Real-IP": "127.0.0.1", **LOCAL})
            self.assertEqual(code, 403, path)
            self.assertEqual(memory.call("GET", path, headers=LOCAL)[0], 200, path)

    def test_hostNamingAnotherSiteIsRefused(self) -> None:
        code, answer, _ = Memory().call("GET", "/jobs")
        self.assertEqual(code, 403)
        self.assertIn("DNS rebinding", answer["error"])

    def test_tokenAdmitsAProxiedClient(self) -> None:
        memory = Memory(status_token=Secret("env:STATUS", b"let-me-see"))
        for path in STATUS_PATHS:
            code, _, response = memory.call(
                "GET", path, "203.0.113.9", {"Authorization": "Bearer wrong"}
            )
            self.assertEqual(code, 401, path)
            self.assertEqual(response.headers.getRawHeaders("www-authenticate"), ["Bearer"])
            code, _, _ = memory.call(
                "GET", path, "203.0.113.9", {"Authorization": "Bearer let-me-see"}
            )
            self.assertEqual(code, 200, path)

    def test_withATokenLoopbackIsNotEnough(self) -> None:
        memory = Memory(status_token=Secret("env:STATUS", b"let-me-see"))
        for path in STATUS_PATHS:
            code, _, response = memory.call("GET", path)
            self.assertEqual(code, 401, path)
            self.assertEqual(response.headers.getRawHeaders("www-authenticate"), ["Bearer"])
