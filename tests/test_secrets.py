"""
Secrets never leave the daemon: a real C{twistd -n hookdaemon} with a secret of
every kind takes genuine, forged and malformed deliveries and status calls, and
then everything it wrote or answered is searched for every secret's bytes.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import time
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import parse_config
from hookdaemon.delivery import Incoming
from hookdaemon.testing import FOREGROUND, TwistdDaemon, run_twistd, signed
from tests.forgefixtures import fixture_body, fixture_headers, signed_headers

# Letters, digits and '-' only, so no encoding (URL, JSON, shell) can disguise them.
SECRETS = {
    "github, env:": "gh-env-5ecret-7f3a9c21",
    "gitlab, file:": "gl-file-5ecret-51be02aa",
    "generic, literal": "gen-literal-5ecret-c0ffee11",
    "bitbucket, env:": "bb-env-5ecret-d15ea5e0",
    "gitea, literal": "tea-literal-5ecret-facade99",
    "status_token, env:": "status-env-5ecret-8badf00d",
    "status_token (the next one), literal": "status-literal-5ecret-0ddba11",
    "operator_token, file:": "operator-file-5ecret-deadbeef",
    "bitbucket-server, env:": "bbs-env-5ecret-feedface",
    "basic_auth password, env:": "basic-env-5ecret-abad1dea",
    "report_token, env:": "report-env-5ecret-ba5eba11",
    "report_token, file:": "report-file-5ecret-cafed00d",
    "notify URL, env:": "notify-env-5ecret-0b5e55ed",
    "notify URL, literal": "notify-literal-5ecret-5ca1ab1e",
}
BASIC_CREDENTIALS = "deploy:" + SECRETS["basic_auth password, env:"]
BASIC = "Basic " + base64.b64encode(BASIC_CREDENTIALS.encode()).decode()
ENCODED = {"basic_auth, as sent": BASIC[6:]}
"""Secrets as a caller sends them, in their case: base64 has capitals."""
ENVIRON = {
    "HOOKDAEMON_TEST_GH": SECRETS["github, env:"],
    "HOOKDAEMON_TEST_BB": SECRETS["bitbucket, env:"],
    "HOOKDAEMON_TEST_BBS": SECRETS["bitbucket-server, env:"],
    "HOOKDAEMON_TEST_BASIC": BASIC_CREDENTIALS,
    "HOOKDAEMON_TEST_STATUS": SECRETS["status_token, env:"],
    "HOOKDAEMON_TEST_REPORT": SECRETS["report_token, env:"],
}

# Every step prints the child's whole environment and the payload file it was given.
COMMAND = "burst = queue\ncommand =\n    env\n    cat ${HOOK_PAYLOAD}\n"

DAEMON = (
    "status_token = env:HOOKDAEMON_TEST_STATUS\n"
    f"    {SECRETS['status_token (the next one), literal']}\n"
    "operator_token = file:operator.token\n"
)

HOOKS = """\
[hook:gh]
forge = github
secret = env:HOOKDAEMON_TEST_GH
workdir = .
report = github
report_url = https://127.0.0.1:{closed}/api/v3
report_token = env:HOOKDAEMON_TEST_REPORT
notify = env:HOOKDAEMON_TEST_NOTIFY
{command}
[hook:gl]
forge = gitlab
secret = file:gitlab.secret
workdir = .
report = gitlab
report_url = https://127.0.0.1:{closed}/api/v4
report_token = file:report.token
{command}
[hook:gen]
forge = generic
secret = {generic}
workdir = .
env = DEPLOY_ENV=test
{command}
[hook:bb]
forge = bitbucket
secret = env:HOOKDAEMON_TEST_BB
workdir = .
{command}
[hook:tea]
forge = gitea
secret = {gitea}
workdir = .
notify = https://127.0.0.1:{closed}/chat/{notify}
notify_format = json
{command}
[hook:bbs]
forge = bitbucket-server
secret = env:HOOKDAEMON_TEST_BBS
basic_auth = env:HOOKDAEMON_TEST_BASIC
workdir = .
{command}"""

CONFIG = "[hookdaemon]\nlisten = tcp:9000:interface=127.0.0.1\n" + DAEMON + "\n" + HOOKS


def closed_port() -> int:
    """A loopback port nothing listens on: every report and notification sent to it fails."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def hooks_text(closed: int) -> str:
    return HOOKS.format(
        command=COMMAND,
        generic=SECRETS["generic, literal"],
        gitea=SECRETS["gitea, literal"],
        notify=SECRETS["notify URL, literal"],
        closed=closed,
    )


def _hex(secret: str, body: bytes) -> str:
    return signed("gitea", secret, body)["X-Gitea-Signature"]


FAILED_CALLS = [
    b"(github) not sent (https://127.0.0.1:",
    b"(gitlab) not sent (https://127.0.0.1:",
    b"notification (env:HOOKDAEMON_TEST_NOTIFY) not sent (https://127.0.0.1:",
    b"notification ((literal, hidden)) not sent (https://127.0.0.1:",
]


class SecretsTests(SynchronousTestCase):
    def setUp(self) -> None:
        # Its stdout and stderr (twistd.stdout, twistd.stderr) are searched too.
        # Reports and notifications go to a closed port: their failures are logged.
        self.closed = closed_port()
        notify = f"https://127.0.0.1:{self.closed}/chat/{SECRETS['notify URL, env:']}"
        self.daemon = TwistdDaemon(
            self.mktemp(),
            hooks_text(self.closed),
            DAEMON,
            {**ENVIRON, "HOOKDAEMON_TEST_NOTIFY": notify},
        )
        self.directory = self.daemon.directory
        self.port = self.daemon.port
        with open(os.path.join(self.directory, "gitlab.secret"), "w") as f:
            f.write(SECRETS["gitlab, file:"] + "\n")
        with open(os.path.join(self.directory, "operator.token"), "w") as f:
            f.write(SECRETS["operator_token, file:"] + "\n")
        with open(os.path.join(self.directory, "report.token"), "w") as f:
            f.write(SECRETS["report_token, file:"] + "\n")
        # Everything the daemon showed anyone: (where, bytes).
        self.seen: list[tuple[str, bytes]] = []

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; record the whole answer, status line and headers included."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=dict(headers or {}))
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        raw = f"{response.status} {response.reason}\n{response.headers}".encode() + content
        self.seen.append((f"answer to {method} {path}", raw))
        return response.status, content

    def raw(self, request: bytes) -> None:
        """Send bytes no HTTP client would, and record whatever comes back."""
        answer = b""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(request)
            try:
                while chunk := s.recv(65536):
                    answer += chunk
            except TimeoutError:
                answer += b"(no end of answer within 10 s)"
        self.seen.append((f"answer to {request[:40]!r}", answer))

    def deliveries(self) -> list[int]:
        """Genuine, forged and malformed deliveries to every hook; the jobs accepted."""
        gh, gl, gen = (SECRETS[k] for k in ("github, env:", "gitlab, file:", "generic, literal"))
        bb, tea = SECRETS["bitbucket, env:"], SECRETS["gitea, literal"]
        bbs = SECRETS["bitbucket-server, env:"]
        jobs = []
        expected: list[tuple[int, str, str, bytes, dict[str, str]]] = []

        def fixture(
            forge: str, name: str, secret: str, sign_as: str
        ) -> tuple[bytes, dict[str, str]]:
            body = fixture_body(forge, name)
            return body, {**fixture_headers(forge, name), **signed_headers(sign_as, body, secret)}

        for hook, forge, name, secret, sign_as in [
            ("gh", "github", "push.json", gh, "github"),
            ("gl", "gitlab", "push.json", gl, "gitlab"),
            ("bb", "bitbucket-cloud", "repo-push.json", bb, "bitbucket"),
            ("tea", "gitea", "push.json", tea, "gitea"),
        ]:
            body, headers = fixture(forge, name, secret, sign_as)
            expected.append((202, hook, "", body, headers))
            # Forged: signed or tokened with the secret plus one letter, so an echo of
            # what the caller sent would contain the secret itself.
            body, headers = fixture(forge, name, secret + "x", sign_as)
            expected.append((401, hook, "", body, headers))
            # Signed, but in a type no forge sends, or not JSON at all.
            body = b"\x00not json " + secret.encode()
            headers = {**fixture_headers(forge, name), **signed_headers(sign_as, body, secret)}
            expected.append((400, hook, "", body, headers))
            expected.append((415, hook, "", body, {**headers, "Content-Type": "text/plain"}))
        # Bitbucket Server with webhook credentials and a secret: both must pass.
        bbs_body, bbs_headers = fixture(
            "bitbucket-server", "repo-refs_changed.json", bbs, "bitbucket-server"
        )
        password = SECRETS["basic_auth password, env:"]
        near = "Basic " + base64.b64encode(f"deploy:{password}x".encode()).decode()
        expected += [
            (202, "bbs", "", bbs_body, {**bbs_headers, "Authorization": BASIC}),
            (401, "bbs", "", bbs_body, bbs_headers),
            (401, "bbs", "", bbs_body, {**bbs_headers, "Authorization": near}),
            (401, "bbs", "", bbs_body, {**bbs_headers, "Authorization": f"Basic {password}"}),
            (401, "bbs", "", bbs_body, {**bbs_headers, "Authorization": f"Bearer {bbs}"}),
        ]
        forged_body, forged = fixture(
            "bitbucket-server", "repo-refs_changed.json", bbs + "x", "bitbucket-server"
        )
        expected.append((401, "bbs", "", forged_body, {**forged, "Authorization": BASIC}))
        gen_body = b'{"ref": "refs/heads/main", "after": "' + b"1" * 40 + b'"}'
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        expected += [
            (202, "gen", f"token={gen}", gen_body, form),
            (202, "gen", "", b"", {"Authorization": f"Bearer {gen}"}),
            (401, "gen", f"token={gen}x", gen_body, form),
            (401, "gen", "", gen_body, {"Authorization": f"Bearer {gen}x"}),
            (401, "gen", f"token={gl}", gen_body, {"X-Gitlab-Token": gen}),
            (400, "gen", f"token={gen}", b"[" * 100000, {}),
            (400, "gen", f"token={gen}", b'{"n": 1e999999}', {}),
            (400, "gen", f"token={gen}", b"9" * 1000000, {}),
            (400, "gen", f"token={gen}", b'{"ref": "refs/heads/\\u0000"}', {}),
            (415, "gen", f"token={gen}", gen_body, {"Content-Type": "text/plain"}),
            (
                202,
                "gl",
                f"token={gl}",
                fixture_body("gitlab", "push.json"),
                {
                    **fixture_headers("gitlab", "push.json"),
                    "Idempotency-Key": "2d1b3c54-0f7e-4a53-9c1e-6c1d0e0a7b42",
                },
            ),
            (
                401,
                "gl",
                f"token={gl}x",
                fixture_body("gitlab", "push.json"),
                {
                    **fixture_headers("gitlab", "push.json"),
                },
            ),
        ]
        for code, hook, query, body, headers in expected:
            path = f"/hooks/{hook}" + (f"?{query}" if query else "")
            status, content = self.request("POST", path, body, headers)
            self.assertEqual(status, code, (path, headers, content[:200]))
            if code == 202:
                jobs.append(json.loads(content)["job"])
        self.request("GET", f"/hooks/gen?token={gen}")
        self.request("POST", f"/hooks/nothing?token={gen}", gen_body)
        self.raw(
            f"POST http://127.0.0.1:{self.port}/hooks/gen?token={gen} HTTP/1.1\r\n"
            f"Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        self.raw(
            f"POST http://[bad/hooks/gen?token={gen} HTTP/1.1\r\n"
            f"Host: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        self.raw(f"POST /hooks/gen?token={gen} HTTP/1.1\r\nHost: x\r\n\x01bad\r\n\r\n".encode())
        return jobs

    def status(self, jobs: list[int]) -> None:
        """The status API, with the token, without it, and with a forged one."""
        token = SECRETS["status_token, env:"]
        bearer = {"Authorization": f"Bearer {token}"}
        for job in jobs:
            for _ in range(1500):
                status, content = self.request("GET", f"/jobs/{job}", headers=bearer)
                self.assertEqual(status, 200)
                if json.loads(content)["state"] in ("succeeded", "failed"):
                    break
                time.sleep(0.02)
            self.assertEqual(json.loads(content)["state"], "succeeded", content)
            self.assertEqual(self.request("GET", f"/jobs/{job}/log", headers=bearer)[0], 200)
        self.assertEqual(self.request("GET", "/jobs?limit=1000", headers=bearer)[0], 200)
        for rotated in ("status_token (the next one), literal", "operator_token, file:"):
            other = {"Authorization": f"Bearer {SECRETS[rotated]}"}
            self.assertEqual(self.request("GET", "/jobs", headers=other)[0], 200, rotated)
            self.assertEqual(
                self.request(
                    "GET", "/jobs", headers={"Authorization": f"Bearer {SECRETS[rotated]}x"}
                )[0],
                401,
            )
        self.assertEqual(self.request("GET", "/jobs", headers={"Authorization": BASIC})[0], 401)
        self.assertEqual(self.request("GET", "/jobs", headers={})[0], 401)
        forged = {"Authorization": f"Bearer {token}x"}
        self.assertEqual(self.request("GET", "/jobs", headers=forged)[0], 401)
        self.assertEqual(self.request("GET", f"/jobs?token={token}")[0], 401)
        self.request("GET", f"/metrics?token={token}", headers=bearer)

    def reports_tried(self) -> None:
        """Wait until each hook's reports and notifications have failed once, and said why."""
        path = os.path.join(self.directory, "twistd.log")
        for _ in range(1500):
            with open(path, "rb") as f:
                text = f.read()
            if all(line in text for line in FAILED_CALLS):
                return
            time.sleep(0.02)
        self.fail(f"not every report failed within 30 s: {text[-2000:]!r}")

    def files(self) -> None:
        """Everything the daemon wrote: logs, output logs, journal, payloads."""
        private = {
            self.daemon.config,
            os.path.join(self.directory, "gitlab.secret"),
            os.path.join(self.directory, "operator.token"),
            os.path.join(self.directory, "report.token"),
        }
        for root, _, names in os.walk(self.directory):
            for name in names:
                path = os.path.join(root, name)
                if path not in private:
                    with open(path, "rb") as f:
                        self.seen.append((os.path.relpath(path, self.directory), f.read()))

    def test_noSecretAnywhere(self) -> None:
        check = self.daemon.check()
        self.assertEqual(check.returncode, 0, check.stderr)
        self.seen.append(("--check stdout", check.stdout.encode()))
        self.seen.append(("--check stderr", check.stderr.encode()))
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        jobs = self.deliveries()
        self.assertEqual(len(jobs), 8)
        self.status(jobs)
        self.reports_tried()
        # twistd ends by re-raising the signal that stopped it.
        self.assertEqual(self.daemon.stop(), -signal.SIGTERM)
        self.files()

        # The corpus holds what a leak would be in, so this test can fail.
        corpus = {where: data for where, data in self.seen}
        self.assertIn(b"(literal, hidden)", corpus["--check stdout"])
        self.assertIn(b"env:HOOKDAEMON_TEST_GH", corpus["--check stdout"])
        self.assertIn(b"secret is written in the file", corpus["--check stderr"])
        self.assertIn(b"[hookdaemon] status_token: entry 2 (line 4)", corpus["--check stderr"])
        self.assertIn(b"secret is written in the file", corpus["twistd.stderr"])
        daemon_log = corpus["twistd.log"]
        self.assertIn(b"signature mismatch", daemon_log)
        self.assertIn(
            b"hook bbs: refused 401 from 127.0.0.1: basic credentials required", daemon_log
        )
        self.assertIn(
            b"hook bbs: refused 401 from 127.0.0.1: basic credentials mismatch", daemon_log
        )
        self.assertIn(b'"POST /hooks/gen?token=REDACTED HTTP/1.1" 202', daemon_log)
        for line in FAILED_CALLS:
            self.assertIn(line, daemon_log)
        # Nor Twisted's client internals: no "Starting factory" line per call.
        self.assertNotIn(b"_HTTP11ClientFactory", daemon_log)
        for hook in ("gh", "gl", "gen", "bb", "tea", "bbs"):
            output = corpus[os.path.join("var", "log", f"{hook}.log")]
            self.assertIn(f"HOOK_NAME={hook}".encode(), output)
            self.assertIn(b"PATH=", output)
        self.assertIn(b"DEPLOY_ENV=test", corpus[os.path.join("var", "log", "gen.log")])
        self.assertTrue(any(where.startswith("var/journal") for where in corpus))
        self.assertIn(b"signature mismatch", b"".join(corpus.values()))

        leaks = [
            f"{kind} secret in {where}"
            for kind, secret in SECRETS.items()
            for where, data in self.seen
            if secret.encode() in data.lower()
        ]
        leaks += [
            f"{kind} in {where}"
            for kind, sent in ENCODED.items()
            for where, data in self.seen
            if sent.encode() in data
        ]
        self.assertEqual(leaks, [])


class ReprTests(SynchronousTestCase):
    """What a traceback, a debugger or a careless log line would print hides every secret."""

    def test_configRepr(self) -> None:
        text = CONFIG.format(
            command=COMMAND,
            generic=SECRETS["generic, literal"],
            gitea=SECRETS["gitea, literal"],
            notify=SECRETS["notify URL, literal"],
            closed=1,
        )
        notify = f"https://chat.example/{SECRETS['notify URL, env:']}"
        environ = {**ENVIRON, "HOOKDAEMON_TEST_NOTIFY": notify}
        files = {
            "gitlab.secret": "gitlab, file:",
            "operator.token": "operator_token, file:",
            "report.token": "report_token, file:",
        }

        def read(path: str) -> bytes:
            return SECRETS[files[os.path.basename(path)]].encode() + b"\n"

        config = parse_config(text, "/etc/hookdaemon/tap.cfg", environ, read)
        shown = repr(config) + "".join(str(w) for w in config.warnings)
        self.assertIn("Secret(origin='file:gitlab.secret')", shown)
        self.assertIn("Secret(origin='literal')", shown)
        for hook in config.hooks.values():
            assert hook.secret is not None
            self.assertIn(hook.secret.value.decode(), SECRETS.values())
        basic = config.hooks["bbs"].basic_auth
        assert basic is not None
        self.assertEqual(basic.value.decode(), BASIC_CREDENTIALS)
        reports = [config.hooks[name].report for name in ("gh", "gl")]
        self.assertEqual(
            [r.token.value.decode() for r in reports if r is not None],
            [SECRETS["report_token, env:"], SECRETS["report_token, file:"]],
        )
        urls = [
            url.value.decode()
            for name in ("gh", "tea")
            for url in getattr(config.hooks[name].notify, "urls", ())
        ]
        self.assertEqual(
            [url.rsplit("/", 1)[1] for url in urls],
            [SECRETS["notify URL, env:"], SECRETS["notify URL, literal"]],
        )
        self.assertEqual(len(config.daemon.status_tokens + config.daemon.operator_tokens), 3)
        self.assertEqual([s for s in SECRETS.values() if s in shown], [])

    def test_incomingRepr(self) -> None:
        secret = SECRETS["generic, literal"]
        incoming = Incoming(
            b"{}",
            {"Authorization": f"Bearer {secret}", "X-Gitlab-Token": secret, "X-Other": "shown"},
            query={"token": secret, "page": "2"},
        )
        shown = repr(incoming)
        self.assertNotIn(secret, shown)
        self.assertIn("'authorization': '(hidden)'", shown)
        self.assertIn("'x-gitlab-token': '(hidden)'", shown)
        self.assertIn("'token': '(hidden)'", shown)
        self.assertIn("'x-other': 'shown'", shown)
        self.assertEqual(incoming.header("authorization"), f"Bearer {secret}")


TOKEN = "ghp_" + "5ecretT0ken" * 3 + "abc"
"""A GitHub personal access token's shape: ghp_ and 36 letters and digits."""

VALUE_PROBLEMS = f"""\
[hookdaemon]
listen = tcp:0:interface=127.0.0.1

[hook:site]
forge = gitlab
secret = env:HOOKDAEMON_TEST_GL
workdir = .
env =
    DEPLOY_ENV=test
    DEPLOY-TOKEN={TOKEN}
timeout = 600
    GH_TOKEN={TOKEN}
command =
    git fetch origin
    curl -H 'Authorization: token {TOKEN}
allow_from = 127.0.0.1 {TOKEN}

[hook:second]
workdir = .
command = curl https://{TOKEN}@example.com/$HOOK_SHA
shell = {TOKEN}
burst = {TOKEN}
mysql -p{TOKEN} -e "SET x=1"
"""

LINES_WITHOUT_INDENT = f"""\
[hook:site]
workdir = .
command =
    git fetch origin
curl -H "Authorization: token {TOKEN}"
{TOKEN}
"""

ENDPOINTS = f"""\
[hookdaemon]
listen = ssl:0:password={TOKEN} tcp:0:backlog={TOKEN} {TOKEN}:0

[hook:site]
allow_from = 127.0.0.1
workdir = .
command = true
"""


class ConfigMessageTests(SynchronousTestCase):
    """
    Issue 11 part 5, as it was seen: a real twistd given configs with a token in
    an env line, a step, a continued line, an endpoint and lines that lost their
    indent names every problem without the token, for --check and for a start.
    """

    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.environ = {"HOOKDAEMON_TEST_GL": f"whsec_{TOKEN}!"}

    def refused(self, text: str, problems: int) -> list[str]:
        """--check and a foreground start both refuse C{text}; everything they printed."""
        path = os.path.join(self.directory, "tap.cfg")
        with open(path, "w") as f:
            f.write(text)
        printed = []
        for args in (["--check"], []):
            start = [] if args else [*FOREGROUND, "--logfile=-"]
            result = run_twistd(
                *start,
                "hookdaemon",
                "--config",
                path,
                *args,
                cwd=self.directory,
                environ=self.environ,
            )
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn(f"{path}: {problems} problem(s); nothing started", result.stderr)
            self.assertNotIn("Traceback", result.stdout + result.stderr)
            printed.append(result.stdout + result.stderr)
        return printed

    def assertNoToken(self, printed: list[str]) -> None:
        self.assertEqual([text for text in printed if TOKEN in text], [])
        # Nor any piece of it long enough to matter.
        self.assertEqual([text for text in printed if TOKEN[4:20] in text], [])

    def test_valueProblems(self) -> None:
        printed = self.refused(VALUE_PROBLEMS, problems=9)
        self.assertNoToken(printed)
        for text in printed:
            self.assertIn("[hook:site] env: line 10 is not KEY=VALUE", text)
            self.assertIn("[hook:site] timeout: goes on to line 12", text)
            self.assertIn(
                "[hook:site] command: step 2 (line 15) cannot be split into words: "
                "a quote is not closed",
                text,
            )
            self.assertIn("[hook:site] allow_from: entry 2 (line 16) is not an IP address", text)
            self.assertIn("[hook:site] secret: env:HOOKDAEMON_TEST_GL starts with whsec_", text)
            self.assertIn("[hook:second] command: step 1 (line 20) uses $HOOK_SHA", text)
            self.assertIn("[hook:second] shell: must be yes or no", text)
            self.assertIn("[hook:second] burst: must be one of: coalesce, queue", text)
            self.assertIn("[hook:second]: line 23 is not a key = value line", text)

    def test_linesThatLostTheirIndent(self) -> None:
        printed = self.refused(LINES_WITHOUT_INDENT, problems=1)
        self.assertNoToken(printed)
        for text in printed:
            self.assertIn("[-]: line 6 is neither a [section] header", text)

    def test_endpoints(self) -> None:
        printed = self.refused(ENDPOINTS, problems=3)
        self.assertNoToken(printed)
        for text in printed:
            self.assertIn(
                "[hookdaemon] listen: endpoint 1 (ssl): https://0.0.0.0:0: password is not an ssl"
                " endpoint option",
                text,
            )
            self.assertIn("[hookdaemon] listen: endpoint 3 is not a Twisted endpoint", text)

    def test_warningsOfARunningDaemon(self) -> None:
        """A config that starts: its warnings on the terminal and in the log, without the token."""
        daemon = TwistdDaemon(
            self.directory,
            f"[hook:site]\nworkdir = .\nsecret = {TOKEN}\nshell = yes\n"
            f"command = curl -H 'Authorization: token {TOKEN}' -d $HOOK_REF x\n",
        )
        check = daemon.check()
        self.assertEqual(check.returncode, 0, check.stderr)
        daemon.start()
        self.addCleanup(daemon.stop)
        daemon.stop()
        printed = [check.stdout + check.stderr, daemon.stdout + daemon.stderr, daemon.log]
        for text in printed:
            self.assertIn("[hook:site] command: step 1 (line 7) leaves $HOOK_REF unquoted", text)
            self.assertIn("[hook:site] secret: the secret is written in the file", text)
        self.assertNoToken(printed)
