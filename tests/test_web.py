"""Live HTTP against a real listening port: the answers of DESIGN.md's table."""

from __future__ import annotations

import json

from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from hookdaemon.web import redact_uri
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
        self.assertEqual(self.daemon.service.jobs, {})

    async def test_otherBranchIsIgnoredWithReason(self) -> None:
        body = github_push_body(ref="refs/heads/feature")
        code, answer, _ = await post(
            self.daemon.hook_url("site"), body, github_headers(body, SECRET)
        )
        self.assertEqual(code, 200)
        self.assertEqual(answer["status"], "ignored")
        self.assertIn("feature", answer["reason"])
        self.assertEqual(self.daemon.service.jobs, {})

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
        self.assertEqual(self.daemon.service.jobs, {})

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
        import hashlib
        import hmac

        body = b'{"ref": "refs/heads/main"}'
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        code, _, _ = await post(
            self.daemon.hook_url("signed"), body, {"X-Signature-256": f"sha256={signature}"}
        )
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
        self.assertEqual(daemon.service.jobs, {})
        code, _, _ = await post(daemon.hook_url("open"), b"{}", {})
        self.assertEqual(code, 202)


class RedactUriTests(SynchronousTestCase):
    def test_tokenValueIsReplaced(self) -> None:
        self.assertEqual(
            redact_uri(b"/hooks/a?x=1&token=abc&secret=def"),
            b"/hooks/a?x=1&token=REDACTED&secret=REDACTED",
        )

    def test_uriWithoutSecretsIsUnchanged(self) -> None:
        self.assertEqual(redact_uri(b"/hooks/a?x=1"), b"/hooks/a?x=1")
        self.assertEqual(redact_uri(b"/hooks/a"), b"/hooks/a")
