"""
The dashboard under /ui/ over real HTTP on 127.0.0.1, from a live daemon: who
may see it (as the job API: loopback without tokens, a sign-in with them), the
cookie it keeps, the CSRF check on its forms, its pages' contents and headers.
Its session and pages, as plain values, below.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Mapping
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock, deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.server import Site

from hookdaemon.config_source import ConfigSource, load_source
from hookdaemon.dashboard import live, pages, session
from hookdaemon.dashboard.app import Dashboard as DashboardApp
from hookdaemon.job_views import JobQuery
from hookdaemon.status_access import NO_TOKENS
from tests.support import (
    config_text,
    finished,
    http_client,
    loud_job_unread,
    post,
    read_to_end,
    silent_reader,
    start_daemon,
    start_service,
    wait_for,
)

HOOK = """\
[hook:site]
forge = generic
allow_from = 127.0.0.1
workdir = .
command = sh -c 'echo "<b>built</b>"; echo warned >&2'
"""
PUSH = b'{"ref": "refs/heads/main", "after": "0123456789abcdef0123456789abcdef01234567"}'
JSON = {"Content-Type": "application/json"}
TOKENS = "dashboard = yes\nstatus_token = reader-t0ken\noperator_token = operator-t0ken\n"


class Answer:
    def __init__(self, code: int, headers: Any, body: bytes) -> None:
        self.code = code
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8")

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return None if not values else ", ".join(values)


async def fetch(
    url: str,
    method: str = "GET",
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    response = await http_client().request(
        method,
        url,
        data=form,
        headers={k: [v] for k, v in (headers or {}).items()},
        allow_redirects=False,
    )
    return Answer(response.code, response.headers, await response.content())


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', text)
    assert found is not None, text
    return found.group(1)


class DaemonCase(TestCase):
    async def daemon(self, daemon: str = "dashboard = yes\n") -> tuple[str, int]:
        running = await start_daemon(self, HOOK, daemon)
        code, answer, _ = await post(f"{running.url}/hooks/site", PUSH, JSON)
        self.assertEqual(code, 202, answer)
        job = int(answer["job"])
        await finished(running, job)
        for _ in range(500):  # and in the journal, which the pages read
            bearer = {"Authorization": "Bearer operator-t0ken"}  # ignored without tokens
            shown = await fetch(f"{running.url}/jobs/{job}", headers=bearer)
            if b'"state": "succeeded"' in shown.body:
                break
        else:
            self.fail(f"job {job} did not succeed")
        return running.url, job


class Dashboard(DaemonCase):
    async def test_offByDefault(self) -> None:
        url, _ = await self.daemon("")
        for path in ("/ui/", "/ui", "/ui/jobs/1"):
            self.assertEqual((await fetch(url + path)).code, 404, path)

    async def test_aLoopbackCallerSeesTheHooksAndTheJob(self) -> None:
        url, job = await self.daemon()
        hooks = await fetch(url + "/ui/")
        self.assertEqual(hooks.code, 200)
        self.assertIn('<a href="/ui/hooks/site">site</a>', hooks.text)
        self.assertIn(f'<a href="/ui/jobs/{job}">job {job}</a>', hooks.text)
        self.assertIn("100% of 1", hooks.text)
        csp = hooks.header("content-security-policy") or ""
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(hooks.header("cache-control"), "no-store")
        page = await fetch(f"{url}/ui/jobs/{job}")
        self.assertEqual(page.code, 200)
        # The output's own markup is text, and each line says its stream.
        self.assertNotIn("<b>built</b>", page.text)
        self.assertIn('<span class="line hookdaemon">', page.text)
        self.assertIn("&lt;b&gt;built&lt;/b&gt;", page.text)
        self.assertIn(
            '<span class="line stderr"><span class="stream">stderr</span> warned', page.text
        )
        self.assertIn("refs/heads/main", page.text)
        self.assertIn("Replay</button>", page.text)  # a loopback caller without tokens may act
        listed = await fetch(f"{url}/ui/hooks/site?state=succeeded")
        self.assertIn(f'<a href="/ui/jobs/{job}">{job}</a>', listed.text)
        empty = await fetch(f"{url}/ui/hooks/site?state=failed")
        self.assertIn("no jobs", empty.text)
        self.assertEqual((await fetch(f"{url}/ui/hooks/nope")).code, 404)
        self.assertEqual((await fetch(f"{url}/ui/jobs/999")).code, 404)
        css = await fetch(f"{url}/ui/static/ui.css")
        self.assertEqual((css.code, css.header("content-type")), (200, "text/css; charset=utf-8"))
        self.assertEqual((await fetch(f"{url}/ui/static/../tap.cfg")).code, 404)

    async def test_aHooksJobsArePagedAndFilteredAsGetJobsReadsIt(self) -> None:
        url, first = await self.daemon()
        jobs = [first]
        for _ in range(2):
            code, answer, _ = await post(f"{url}/hooks/site", PUSH, JSON)
            self.assertEqual(code, 202, answer)
            jobs.append(int(answer["job"]))
        listed = await fetch(f"{url}/ui/hooks/site?limit=2&state=")  # the form's "any"
        self.assertEqual(listed.code, 200)
        shown = [int(n) for n in re.findall(r'<a href="/ui/jobs/(\d+)">', listed.text)]
        self.assertEqual(shown, [jobs[2], jobs[1]])
        older = re.search(r'<a href="(/ui/hooks/site\?[^"]+)">Older jobs</a>', listed.text)
        assert older is not None, listed.text
        self.assertEqual(older.group(1), f"/ui/hooks/site?before={jobs[1]}&amp;limit=2")
        last = await fetch(url + older.group(1).replace("&amp;", "&"))
        shown = [int(n) for n in re.findall(r'<a href="/ui/jobs/(\d+)">', last.text)]
        self.assertEqual(shown, [first])
        self.assertNotIn("Older jobs", last.text)
        for query, reason in (
            ("state=bogus", "state must be one of: queued, "),
            ("before=x", "before must be a job id."),
            ("limit=0", "limit must be 1 to "),
        ):
            refused = await fetch(f"{url}/ui/hooks/site?{query}")
            self.assertEqual(refused.code, 400, query)
            self.assertIn(reason, refused.text)

    async def test_withoutTokensOnlyADirectLoopbackCallerSeesIt(self) -> None:
        url, _ = await self.daemon()
        rebinding = await fetch(url + "/ui/", headers={"Host": "deploy.evil.example"})
        self.assertEqual(rebinding.code, 403)
        self.assertIn("DNS rebinding", rebinding.text)
        proxied = await fetch(url + "/ui/", headers={"X-Forwarded-For": "203.0.113.9"})
        self.assertEqual(proxied.code, 403)

    async def test_aFormNeedsItsCsrfToken(self) -> None:
        url, job = await self.daemon()
        # What a page elsewhere could post to a loopback daemon: no token, a wrong one.
        for form in ({}, {"csrf": "0" * 64}):
            refused = await fetch(f"{url}/ui/jobs/{job}/replay", "POST", form)
            self.assertEqual(refused.code, 403, form)
        page = await fetch(f"{url}/ui/jobs/{job}")
        replayed = await fetch(f"{url}/ui/jobs/{job}/replay", "POST", {"csrf": csrf_of(page.text)})
        self.assertEqual(replayed.code, 303)
        self.assertEqual(replayed.header("location"), f"/ui/jobs/{job + 1}")

    async def test_withTokensASignInKeepsTheTokenInACookie(self) -> None:
        url, job = await self.daemon(TOKENS)
        first = await fetch(url + "/ui/")
        self.assertEqual((first.code, first.header("location")), (303, "/ui/signin"))
        form = await fetch(url + "/ui/signin")
        self.assertIn('type="password"', form.text)
        csrf = csrf_of(form.text)
        wrong = await fetch(url + "/ui/signin", "POST", {"csrf": csrf, "token": "guess"})
        self.assertEqual(wrong.code, 401)
        self.assertIsNone(wrong.header("set-cookie"))
        forged = await fetch(
            url + "/ui/signin", "POST", {"csrf": "f" * 64, "token": "reader-t0ken"}
        )
        self.assertEqual(forged.code, 403)
        signed = await fetch(url + "/ui/signin", "POST", {"csrf": csrf, "token": "reader-t0ken"})
        self.assertEqual((signed.code, signed.header("location")), (303, "/ui/"))
        cookie = signed.header("set-cookie") or ""
        for part in ("Path=/ui/", "HttpOnly", "SameSite=Strict"):
            self.assertIn(part, cookie)
        self.assertNotIn("Secure", cookie)  # plain HTTP here
        self.assertNotIn("reader-t0ken", cookie)  # encoded, though not secret from its holder
        jar = {"Cookie": cookie.split(";")[0]}
        reader = await fetch(f"{url}/ui/jobs/{job}", headers=jar)
        self.assertEqual(reader.code, 200)
        self.assertNotIn("Replay</button>", reader.text)  # a status_token reads only
        self.assertIn("Sign out</button>", reader.text)
        refused = await fetch(
            f"{url}/ui/jobs/{job}/replay", "POST", {"csrf": csrf_of(reader.text)}, jar
        )
        self.assertEqual(refused.code, 403)
        # The token is never in a URL: the pages' links and forms carry none.
        self.assertNotIn("t0ken", reader.text)
        signed_out = await fetch(url + "/ui/signout", "POST", {"csrf": csrf_of(reader.text)}, jar)
        self.assertIn("Max-Age=0", signed_out.header("set-cookie") or "")

    async def test_anOperatorTokenMayReplay(self) -> None:
        url, job = await self.daemon(TOKENS)
        form = await fetch(url + "/ui/signin")
        signed = await fetch(
            url + "/ui/signin", "POST", {"csrf": csrf_of(form.text), "token": "operator-t0ken"}
        )
        jar = {"Cookie": (signed.header("set-cookie") or "").split(";")[0]}
        page = await fetch(f"{url}/ui/jobs/{job}", headers=jar)
        self.assertIn("Replay</button>", page.text)
        # Another session's form token is not this one's.
        reader_csrf = session.csrf_token(b"x" * 32, "reader-t0ken")
        self.assertEqual(
            (await fetch(f"{url}/ui/jobs/{job}/replay", "POST", {"csrf": reader_csrf}, jar)).code,
            403,
        )
        replayed = await fetch(
            f"{url}/ui/jobs/{job}/replay", "POST", {"csrf": csrf_of(page.text)}, jar
        )
        self.assertEqual(
            (replayed.code, replayed.header("location")), (303, f"/ui/jobs/{job + 1}")
        )


class HooksFileHooks(TestCase):
    async def test_aHooksFileHookShowsItsRuleButNoneOfItsValues(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        tap = os.path.join(directory, "tap.cfg")
        with open(tap, "w") as f:
            f.write(config_text("", "dashboard = yes\n", state=directory))
        hooks = [
            {
                "id": "redeploy",
                "execute-command": "/bin/true",
                "trigger-rule": {
                    "and": [
                        {
                            "match": {
                                "type": "payload-hmac-sha256",
                                "secret": "hmac-s3cret",
                                "parameter": {"source": "header", "name": "X-Hub-Signature-256"},
                            }
                        },
                        {
                            "match": {
                                "type": "value",
                                "value": "refs/heads/pr0d",
                                "parameter": {"source": "payload", "name": "ref"},
                            }
                        },
                    ]
                },
            },
            {"id": "anyone", "execute-command": "/bin/true"},
        ]
        hooks_json = os.path.join(directory, "hooks.json")
        with open(hooks_json, "w") as f:
            json.dump(hooks, f)
        config = load_source(ConfigSource(config=tap, hooks=(hooks_json,)), environ={})
        running = await start_service(self, config, directory)
        page = await fetch(running.url + "/ui/")
        self.assertEqual(page.code, 200)
        self.assertIn("any caller (hooks file hooks.json)", page.text)
        self.assertIn(
            "trigger rule (payload-hmac-sha256 of header X-Hub-Signature-256"
            " and value of payload ref)",
            page.text,
        )
        self.assertIn("no trigger rule", page.text)
        self.assertNotIn("hmac-s3cret", page.text)
        self.assertNotIn("pr0d", page.text)


class EventReader:
    """A reader of an event stream on a socket of its own, read on a thread (blocking)."""

    def __init__(self, url: str, path: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.socket = socket.create_connection((host, int(port)), timeout=30)
        self.socket.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        self.read = b""

    def until(self, marker: bytes, times: int = 1) -> Deferred[bytes]:
        """All read so far, once C{marker} was read C{times} times (or the stream ended)."""

        def read() -> bytes:
            while self.read.count(marker) < times:
                chunk = self.socket.recv(65536)
                if not chunk:
                    break
                self.read += chunk
            return self.read

        return deferToThread(read)

    def close(self) -> None:
        self.socket.close()


class HeldJob:
    """
    A job source of one job (any id) whose output and end the test gives: a
    stream's time and content are the test's, its HTTP and sockets real.
    """

    def __init__(self) -> None:
        self.write: Callable[[bytes], None] | None = None
        self.following: Deferred[bool] | None = None
        self.let_go = False

    def recent(self, query: JobQuery) -> Deferred[list[dict[str, Any]]]:
        return succeed([])

    def one(self, job_id: int) -> Deferred[dict[str, Any] | None]:
        return succeed({"id": job_id, "state": "succeeded"})

    def job_output(self, job_id: int) -> Deferred[bytes | None]:
        return succeed(b"")

    def follow(self, job_id: int, write: Callable[[bytes], None]) -> Deferred[bool]:
        def cancelled(_: object) -> None:
            self.let_go = True

        self.write = write
        self.following = Deferred(cancelled)
        return self.following


class KeepAliveTests(TestCase):
    """A quiet stream says so every KEEP_ALIVE_SECONDS, until it is over."""

    def serve(self) -> tuple[str, Clock, HeldJob]:
        clock, job = Clock(), HeldJob()
        dashboard = DashboardApp({}, job, NO_TOKENS, clock)
        port = reactor.listenTCP(0, Site(dashboard.resource()), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return f"http://127.0.0.1:{port.getHost().port}", clock, job

    async def test_aQuietStreamIsKeptAliveUntilTheReaderLeaves(self) -> None:
        url, clock, _ = self.serve()
        reader = EventReader(url, "/events")
        self.addCleanup(reader.close)
        await reader.until(live.STREAM_START)
        [beat] = clock.getDelayedCalls()
        self.assertEqual(beat.getTime(), live.KEEP_ALIVE_SECONDS)
        clock.advance(live.KEEP_ALIVE_SECONDS)
        await reader.until(live.KEEP_ALIVE)
        clock.advance(live.KEEP_ALIVE_SECONDS)
        read = await reader.until(live.KEEP_ALIVE, times=2)
        self.assertEqual(read.count(live.KEEP_ALIVE), 2)
        reader.close()
        await wait_for(lambda: not clock.getDelayedCalls(), "the keep-alive to stop")

    async def test_aJobsStreamIsKeptAliveUntilTheJobEnds(self) -> None:
        url, clock, job = self.serve()
        reader = EventReader(url, "/jobs/7/events")
        self.addCleanup(reader.close)
        await reader.until(b"event: start\ndata: 7\n\n")
        assert job.write is not None and job.following is not None
        clock.advance(live.KEEP_ALIVE_SECONDS)
        await reader.until(live.KEEP_ALIVE)
        job.write(b"stdout one\n")
        job.following.callback(True)
        self.assertEqual(clock.getDelayedCalls(), [])
        read = await reader.until(b"event: end\ndata: succeeded\n\n")
        self.assertLess(read.index(live.KEEP_ALIVE), read.index(b"data: stdout one"))

    async def test_aReaderCutOffIsNoLongerKeptAlive(self) -> None:
        url, clock, job = self.serve()
        port = int(url.rsplit(":", 1)[1])
        reader = silent_reader(self, port, "/jobs/7/events")
        await wait_for(lambda: job.write is not None, "the stream to follow the job")
        assert job.write is not None
        line = b"stdout " + b"x" * 4000 + b"\n"
        for _ in range(20_000):  # 80 MB at most, written as the reactor turns
            if job.let_go:
                break
            job.write(line * 16)
            await deferLater(reactor, 0)
        self.assertTrue(job.let_go, "the reader was never cut off")
        self.assertEqual(clock.getDelayedCalls(), [])
        received = await read_to_end(reader)
        self.assertTrue(received.rstrip(b"0\r\n").endswith(live.CUT_OFF_EVENT.rstrip()))
        self.assertNotIn(b"event: end", received)


class SlowPageTests(TestCase):
    async def test_aPageThatStopsReadingIsCutOffWithAnEvent(self) -> None:
        """20 MB of output for a page that reads nothing: a bounded part, then C{cut-off}."""
        received = await loud_job_unread(
            self, lambda job: f"/ui/jobs/{job}/events", daemon="dashboard = yes\n"
        )
        self.assertIn(b"event: line\ndata: stdout " + b"x" * 99 + b"\n\n", received)
        self.assertTrue(received.rstrip(b"0\r\n").endswith(live.CUT_OFF_EVENT.rstrip()))
        self.assertNotIn(b"event: end", received)
        self.assertLess(len(received), 10_000_000)


class LiveTests(DaemonCase):
    async def test_aJobsEventsAreItsOutputThenItsEnd(self) -> None:
        url, job = await self.daemon()
        reader = EventReader(url, f"/ui/jobs/{job}/events")
        self.addCleanup(reader.close)
        read = await reader.until(b"event: end")
        head, _, body = read.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Type: text/event-stream; charset=utf-8", head)
        self.assertIn(b"X-Accel-Buffering: no", head)
        text = body.decode()
        self.assertIn("retry: 2000", text)
        self.assertIn(f"event: start\ndata: {job}\n\n", text)
        self.assertIn("event: line\ndata: stdout <b>built</b>\n\n", text)
        self.assertIn("event: line\ndata: stderr warned\n\n", text)
        self.assertTrue(text.rstrip("0\r\n").endswith("event: end\ndata: succeeded"), text)

    async def test_theChangesStreamTellsOfEachJob(self) -> None:
        url, _ = await self.daemon()
        reader = EventReader(url, "/ui/events")
        self.addCleanup(reader.close)
        await reader.until(b"retry: 2000")
        code, answer, _ = await post(f"{url}/hooks/site", PUSH, JSON)
        self.assertEqual(code, 202, answer)
        new = answer["job"]
        read = (await reader.until(b'"state": "succeeded"')).decode()
        for state in ("queued", "running", "succeeded"):
            self.assertIn(
                f'event: job\ndata: {{"id": {new}, "hook": "site", "state": "{state}"}}', read
            )

    async def test_theStreamsAreGuardedToo(self) -> None:
        url, job = await self.daemon(TOKENS)
        for path in ("/ui/events", f"/ui/jobs/{job}/events"):
            answer = await fetch(url + path)
            self.assertEqual((answer.code, answer.header("location")), (303, "/ui/signin"))


class FrameTests(SynchronousTestCase):
    def test_eachLineOfDataOnALineOfItsOwn(self) -> None:
        self.assertEqual(live.event("x", "a\nb"), b"event: x\ndata: a\ndata: b\n\n")

    def test_aPartialLineWaitsForItsEnd(self) -> None:
        written: list[bytes] = []
        frames = live.LineFrames(written.append)
        frames(b"stdout one\nstdout tw")
        frames(b"o\r\n")
        self.assertEqual(
            written,
            [b"event: line\ndata: stdout one\n\n", b"event: line\ndata: stdout two\n\n"],
        )


class SessionTests(SynchronousTestCase):
    def test_theCookieGivesBackItsToken(self) -> None:
        for token in ("plain", "with spaces; and=signs", "ünïcode", '"quoted"'):
            cookie = session.token_cookie(token, secure=True)
            self.assertIn("; Secure", cookie)
            self.assertEqual(session.cookie_token(cookie.split(";")[0] + "; other=1"), token)

    def test_notOursIsNone(self) -> None:
        for header in (None, "", "other=1", f"{session.COOKIE}=", f"{session.COOKIE}=!!!", "\x00"):
            self.assertIsNone(session.cookie_token(header), header)

    def test_csrfIsPerCredentialAndKey(self) -> None:
        key = b"k" * 32
        token = session.csrf_token(key, "a")
        self.assertTrue(session.csrf_passes(key, "a", token))
        self.assertFalse(session.csrf_passes(key, "b", token))
        self.assertFalse(session.csrf_passes(b"j" * 32, "a", token))
        self.assertFalse(session.csrf_passes(key, "a", None))


class PageTests(SynchronousTestCase):
    JOB: Mapping[str, Any] = {
        "id": 7,
        "hook": "site",
        "state": "running",
        "reason": None,
        "delivery": {"ref": "refs/heads/<script>", "after": "abc", "pusher": "<img src=x>"},
        "queued_at": "2026-12-03T10:00:00.000+00:00",
        "started_at": "2026-12-03T10:00:01.000+00:00",
        "finished_at": None,
        "attempt": 1,
        "covers": [5],
        "payload_kept": True,
        "reports": [{"what": "commit status pending", "outcome": "sent", "detail": "201"}],
    }

    def test_whatADeliveryBroughtIsEscaped(self) -> None:
        viewer = pages.Viewer(can_act=True, csrf="c" * 64, signed_in=False)
        html = pages.job_page(self.JOB, b"stdout <script>alert(1)</script>\n", viewer).decode()
        self.assertNotIn("<script>", html.replace('<script src="/ui/static/ui.js" defer>', ""))
        self.assertNotIn("<img src=x>", html)
        self.assertIn("&lt;img src=x&gt;", html)
        self.assertIn('<a href="/ui/jobs/5">job 5</a>', html)
        self.assertIn("commit status pending: sent (201)", html)
        self.assertIn("Cancel</button>", html)  # it is live
        self.assertIn('data-live="yes"', html)

    def test_aReportSaysWhenItWasSentOrWillBeTriedAgain(self) -> None:
        viewer = pages.Viewer(can_act=False, csrf="c" * 64, signed_in=False)
        job = {
            **self.JOB,
            "reports": [
                {
                    "what": "commit status success",
                    "outcome": "sent",
                    "detail": "201",
                    "at": "2026-12-03T10:00:02.000+00:00",
                },
                {
                    "what": "email to <ops>",
                    "outcome": "waiting",
                    "attempts": 3,
                    "detail": "503",
                    "at": "2026-12-03T10:05:00.000+00:00",
                },
                {"what": "slack", "outcome": "waiting", "attempts": 0},
            ],
        }
        html = pages.job_page(job, b"", viewer).decode()
        self.assertIn(
            "commit status success: sent (201) at " + pages.when("2026-12-03T10:00:02.000+00:00"),
            html,
        )
        self.assertIn(
            "email to &lt;ops&gt;: not sent after 3 tries (503); next try "
            + pages.when("2026-12-03T10:05:00.000+00:00"),
            html,
        )
        self.assertIn("<dd>slack: not yet sent</dd>", html)

    def test_timesAreUtcInTheTextAndTitle(self) -> None:
        self.assertEqual(
            pages.when("2026-12-03T10:00:00.000+00:00"),
            '<time datetime="2026-12-03T10:00:00.000+00:00" title="2026-12-03 10:00:00 UTC">'
            "2026-12-03 10:00:00 UTC</time>",
        )
        self.assertEqual(pages.when(None), "-")

    def test_eachLineSaysItsStream(self) -> None:
        self.assertEqual(
            pages.output_lines(b"stderr oops\nhookdaemon job failed\nno stream\n"),
            '<span class="line stderr"><span class="stream">stderr</span> oops</span>\n'
            '<span class="line hookdaemon"><span class="stream">hookdaemon</span> job failed'
            "</span>\n"
            '<span class="line stdout"><span class="stream">stdout</span> no stream</span>',
        )

    def test_aHooksSuccessRate(self) -> None:
        jobs = tuple(
            {"id": i, "state": s, "started_at": None, "finished_at": None}
            for i, s in enumerate(["succeeded", "failed", "running", "succeeded"])
        )
        self.assertEqual(pages.HookSummary("site", "github", "", jobs).success_rate, "66% of 3")
