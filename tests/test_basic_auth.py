"""
Tests of a hook's C{basic_auth} over HTTP: in memory, and against a real
C{twistd -n hookdaemon} with real requests. The decision itself is
L{hookdaemon.intake}'s, tested in tests/test_intake.py.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import HookConfig, parse_config
from hookdaemon.testing import InMemoryApp, TwistdDaemon, signed
from tests.forgefixtures import fixture_body, fixture_headers

CREDENTIALS = "deploy:basic-5ecret-0ff1ce42"
SECRET = "hub-5ecret-c0de0042"
ENVIRON = {"HOOKDAEMON_TEST_BASIC": CREDENTIALS, "HOOKDAEMON_TEST_HUB": SECRET}

HOOKS = """\
[hook:plain]
basic_auth = env:HOOKDAEMON_TEST_BASIC
workdir = .
command = true

[hook:gh]
forge = github
secret = env:HOOKDAEMON_TEST_HUB
basic_auth = env:HOOKDAEMON_TEST_BASIC
workdir = .
command = true

[hook:bbs]
forge = bitbucket-server
secret = env:HOOKDAEMON_TEST_HUB
basic_auth = env:HOOKDAEMON_TEST_BASIC
workdir = .
command = true
"""

CHALLENGE = 'Basic realm="hookdaemon"'


def basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def hooks() -> Mapping[str, HookConfig]:
    return parse_config(HOOKS, "/etc/hookdaemon/tap.cfg", ENVIRON, lambda path: b"").hooks


def github_push(
    credentials: Mapping[str, str], secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    body = fixture_body("github", "push.json")
    return body, {
        **fixture_headers("github", "push.json"),
        **signed("github", secret, body),
        **credentials,
    }


class InMemoryBasicAuthTests(SynchronousTestCase):
    """What a caller of a basic_auth hook gets: the code, the challenge, the body."""

    def setUp(self) -> None:
        self.memory = InMemoryApp(hooks())

    def assertChallenged(
        self, headers: Mapping[str, str], reason: str, hook: str = "plain"
    ) -> None:
        answer = self.memory.post(f"/hooks/{hook}", headers=headers)
        self.assertEqual(answer.code, 401)
        self.assertEqual(answer.json(), {"error": reason})
        self.assertEqual(answer.headers.getRawHeaders("www-authenticate"), [CHALLENGE])
        self.assertNotIn(CREDENTIALS.encode(), answer.body)

    def test_goodCredentialsAreAccepted(self) -> None:
        answer = self.memory.post("/hooks/plain", headers=basic(CREDENTIALS))
        self.assertEqual(answer.code, 202)
        self.assertIsNone(answer.headers.getRawHeaders("www-authenticate"))

    def test_missingCredentialsAreChallenged(self) -> None:
        self.assertChallenged({}, "basic credentials required")
        self.assertChallenged({"Authorization": "Bearer x"}, "basic credentials required")

    def test_wrongOrGarbledCredentialsAreChallenged(self) -> None:
        self.assertChallenged(basic("deploy:guess"), "basic credentials mismatch")
        self.assertChallenged({"Authorization": "Basic not*base64"}, "basic credentials mismatch")

    def test_withAGitHubSignatureBothMustPass(self) -> None:
        body, headers = github_push(basic(CREDENTIALS))
        self.assertEqual(self.memory.post("/hooks/gh", body, headers).code, 202)
        body, headers = github_push({})
        answer = self.memory.post("/hooks/gh", body, headers)
        self.assertEqual(
            (answer.code, answer.json()), (401, {"error": "basic credentials required"})
        )
        body, headers = github_push(basic(CREDENTIALS), secret="guess")
        answer = self.memory.post("/hooks/gh", body, headers)
        self.assertEqual((answer.code, answer.json()), (401, {"error": "signature mismatch"}))
        # Not a challenge the caller can meet with other Basic credentials.
        self.assertIsNone(answer.headers.getRawHeaders("www-authenticate"))


class TwistdBasicAuthTests(SynchronousTestCase):
    """A real twistd, real requests: what Bitbucket Server's webhook credentials get."""

    def setUp(self) -> None:
        self.daemon = TwistdDaemon(self.mktemp(), HOOKS, environ=ENVIRON)

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=30)
        try:
            connection.request("POST", path, body=body, headers=dict(headers))
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def test_bitbucketServerWithCredentialsAndSecret(self) -> None:
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        name = "repo-refs_changed.json"
        body = fixture_body("bitbucket-server", name)
        headers = {
            **fixture_headers("bitbucket-server", name),
            **signed("bitbucket-server", SECRET, body),
        }

        code, answer_headers, content = self.post("/hooks/bbs", body, headers)
        self.assertEqual(code, 401, content)
        self.assertEqual(answer_headers["WWW-Authenticate"], CHALLENGE)
        self.assertEqual(json.loads(content), {"error": "basic credentials required"})

        code, answer_headers, content = self.post(
            "/hooks/bbs", body, {**headers, **basic("deploy:guess")}
        )
        self.assertEqual(
            (code, json.loads(content)), (401, {"error": "basic credentials mismatch"})
        )

        code, answer_headers, content = self.post(
            "/hooks/bbs", body, {**headers, **basic(CREDENTIALS)}
        )
        self.assertEqual(code, 202, content)
        self.assertNotIn("WWW-Authenticate", answer_headers)
        job = json.loads(content)["job"]
        self.assertEqual(self.daemon.wait_finished(job)["state"], "succeeded")

        self.assertEqual(self.daemon.stop(), -15)
        log = self.daemon.log
        self.assertIn("hook bbs: refused 401 from 127.0.0.1: basic credentials required", log)
        self.assertIn("hook bbs: refused 401 from 127.0.0.1: basic credentials mismatch", log)
        encoded = basic(CREDENTIALS)["Authorization"][6:]
        for text in (log, self.daemon.stdout, self.daemon.stderr):
            self.assertNotIn(CREDENTIALS.split(":")[1], text)
            self.assertNotIn(encoded, text)
