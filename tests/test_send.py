"""
C{hookdaemon send} as a person runs it (C{python -m hookdaemon send}, a real
process) against a real twistd, which verifies each forge's signature and runs
the job: what the job's steps see is what the forge module read.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import re
import subprocess
import sys
import time
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.testing import Environ, run_twistd
from tests.fake_api import TestCA, ThreadedApi
from tests.live import LiveDaemon

COMMAND = [sys.executable, "-m", "hookdaemon"]
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "forges")
ME = pwd.getpwuid(os.getuid()).pw_name


def hookdaemon(*args: str, environ: Environ | None = None) -> subprocess.CompletedProcess[str]:
    """The command run to its end, in UTC (for the times it shows)."""
    return run_twistd(*args, cwd="/", environ={"TZ": "UTC", **(environ or {})}, twistd=COMMAND)


def signing_token(seed: int) -> str:
    """A GitLab signing token: whsec_ and the base64 of a 32-byte key."""
    return "whsec_" + base64.b64encode(bytes([seed]) * 32).decode()


def seen(output: str) -> dict[str, str]:
    """The HOOK_* variables a job's C{env} step printed, from the followed log."""
    return dict(
        match.groups() for match in re.finditer(r"^stdout (HOOK_[A-Z_]+)=(.*)$", output, re.M)
    )


def other_secret(config: str, secret: str, wrong: str) -> str:
    """A copy of the daemon's config whose hook secret is C{wrong}: the client's view."""
    with open(config) as f:
        text = f.read()
    assert f"secret = {secret}\n" in text
    path = config + ".wrong"
    with open(path, "w") as f:
        f.write(text.replace(f"secret = {secret}\n", f"secret = {wrong}\n"))
    return path


# forge: (the repository its filter names, the event its steps see)
FORGES: Mapping[str, tuple[str, str]] = {
    "github": ("acme/site", "push"),
    "gitlab": ("acme/site", "Push Hook"),
    "gitea": ("acme/site", "push"),
    "forgejo": ("acme/site", "push"),
    "gogs": ("acme/site", "push"),
    "bitbucket": ("acme/site", "repo:push"),
    # Bitbucket Server names a repository PROJECT/slug.
    "bitbucket-server": ("PRJ/site", "repo:refs_changed"),
    "generic": ("acme/site", "push"),
    "auto": ("acme/site", "push"),
}


def send(*args: str, environ: Environ | None = None) -> subprocess.CompletedProcess[str]:
    return hookdaemon("send", *args, environ=environ)


class EveryForgeTests(SynchronousTestCase):
    """
    For each forge, a push to the branch and repository the hook's filters
    name plainly: the daemon verifies it and runs the job, whose steps see
    what send built; a config holding another secret gets the daemon's 401.
    """

    def sent(self, forge: str, secret: str, wrong: str, extra: str = "") -> dict[str, str]:
        repository, event = FORGES[forge]
        daemon = LiveDaemon(
            self,
            f"[hook:site]\nforge = {forge}\nsecret = {secret}\n{extra}"
            f"branches = release/* deploy\nrepository = {repository} other/*\n"
            "workdir = .\ncommand = env\n",
        )
        result = send("site", "--config", daemon.config, "--follow")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        lines = result.stdout.splitlines()
        self.assertRegex(
            lines[0],
            rf"^POST {daemon.url}/hooks/site: a push of refs/heads/deploy \([0-9a-f]{{7}}\)"
            rf" to {repository}, as .+ sends it, with the hook's secret$",
        )
        self.assertEqual(lines[1], '202 {"job": 1, "status": "queued", "url": "/jobs/1"}')
        self.assertEqual(lines[-1], "job 1 succeeded (exit 0)")
        variables = seen(result.stdout)
        self.assertEqual(
            {key: variables[key] for key in ("HOOK_REF", "HOOK_BRANCH", "HOOK_TAG")},
            {"HOOK_REF": "refs/heads/deploy", "HOOK_BRANCH": "deploy", "HOOK_TAG": ""},
        )
        self.assertEqual(
            (variables["HOOK_REPOSITORY"], variables["HOOK_EVENT"], variables["HOOK_PUSHER"]),
            (repository, event, ME),
        )
        self.assertRegex(variables["HOOK_AFTER"], "^[0-9a-f]{40}$")
        self.assertIn(f"({variables['HOOK_AFTER'][:7]})", lines[0])
        self.assertRegex(variables["HOOK_BEFORE"], "^[0-9a-f]{40}$")
        self.assertRegex(variables["HOOK_DELIVERY"], "^[0-9a-f-]{36}$")
        self.assertRegex(variables["HOOK_CLONE_URL"], r"^https://[a-z.]+/[a-z/]+/site\.git$")

        refused = send("site", "--config", other_secret(daemon.config, secret, wrong))
        self.assertEqual(
            (refused.returncode, refused.stdout.splitlines()[1:], refused.stderr),
            (1, ['401 {"error": "signature mismatch"}'], ""),
        )
        self.assertEqual([job["id"] for job in daemon.request("GET", "/jobs")[1]["jobs"]], [1])
        return variables

    def test_github(self) -> None:
        self.assertEqual(self.sent("github", "s3cret", "wrong")["HOOK_FORGE"], "github")

    def test_gitlabToken(self) -> None:
        self.assertEqual(self.sent("gitlab", "s3cret", "wrong")["HOOK_FORGE"], "gitlab")

    def test_gitlabSignedForm(self) -> None:
        """A whsec_ secret: GitLab's signed form, whose signature covers id and time."""
        variables = self.sent("gitlab", signing_token(1), signing_token(2))
        self.assertEqual(variables["HOOK_FORGE"], "gitlab")

    def test_gitea(self) -> None:
        self.assertEqual(self.sent("gitea", "s3cret", "wrong")["HOOK_FORGE"], "gitea")

    def test_forgejo(self) -> None:
        self.assertEqual(self.sent("forgejo", "s3cret", "wrong")["HOOK_FORGE"], "forgejo")

    def test_gogs(self) -> None:
        self.assertEqual(self.sent("gogs", "s3cret", "wrong")["HOOK_FORGE"], "gogs")

    def test_bitbucketCloud(self) -> None:
        self.assertEqual(self.sent("bitbucket", "s3cret", "wrong")["HOOK_FORGE"], "bitbucket")

    def test_bitbucketServer(self) -> None:
        variables = self.sent("bitbucket-server", "s3cret", "wrong")
        self.assertEqual(variables["HOOK_FORGE"], "bitbucket-server")

    def test_genericBearerToken(self) -> None:
        self.assertEqual(self.sent("generic", "s3cret", "wrong")["HOOK_FORGE"], "generic")

    def test_genericSignatureHeader(self) -> None:
        variables = self.sent("generic", "s3cret", "wrong", "signature_header = X-Signature\n")
        self.assertEqual(variables["HOOK_FORGE"], "generic")

    def test_autoIsSentAsGitHub(self) -> None:
        self.assertEqual(self.sent("auto", "s3cret", "wrong")["HOOK_FORGE"], "github")

    def test_autoWithASigningTokenIsSentAsGitLab(self) -> None:
        daemon = LiveDaemon(
            self,
            f"[hook:site]\nforge = auto\nsecret = {signing_token(3)}\n"
            "workdir = .\ncommand = env\n",
        )
        result = send("site", "--config", daemon.config, "--follow")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("as GitLab sends it", result.stdout.splitlines()[0])
        self.assertEqual(seen(result.stdout)["HOOK_FORGE"], "gitlab")


class SendTests(SynchronousTestCase):
    """What send builds and how it answers, on a GitHub hook unless a forge matters."""

    def daemon(self, hook: str = "", command: str = "env") -> LiveDaemon:
        return LiveDaemon(
            self,
            f"[hook:site]\nforge = github\nsecret = s3cret\n{hook}"
            f"workdir = .\ncommand = {command}\n",
        )

    def test_followPrintsTheOutputAndExitsOneForAFailingStep(self) -> None:
        daemon = self.daemon(command="sh -c 'echo before; echo oops >&2; exit 3'\n    true")
        result = send("site", "--config", daemon.config, "--follow")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        lines = result.stdout.splitlines()
        self.assertIn("stdout before", lines)
        self.assertIn("stderr oops", lines)
        self.assertEqual(lines[-1], "job 1 failed (exit 3)")
        self.assertEqual(result.stderr, "")

    def test_followGoesOnIntoTheJobThatSupersededIt(self) -> None:
        """burst = coalesce: a newer push takes the waiting job's place, and its outcome counts."""
        daemon = self.daemon(
            command="sh -c 'echo $0; while [ ! -e gate ]; do sleep 0.02; done' ${HOOK_AFTER}"
        )
        send("site", "--config", daemon.config)  # job 1 runs, and waits at the gate
        follower = subprocess.Popen(
            [*COMMAND, "send", "site", "--config", daemon.config, "--follow", "--after", "a" * 40],
            cwd="/",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.addCleanup(follower.kill)
        for _ in range(1500):
            code, _ = daemon.request("GET", "/jobs/2")
            if code == 200:
                break
            time.sleep(0.02)
        newer = send("site", "--config", daemon.config, "--after", "b" * 40)
        self.assertEqual(newer.returncode, 0, newer.stderr)
        with open(os.path.join(daemon.directory, "gate"), "w"):
            pass
        out, errors = follower.communicate(timeout=60)
        self.assertEqual((follower.returncode, errors), (0, ""))
        lines = out.splitlines()
        self.assertIn("job 2 was superseded by job 3; following it", lines)
        self.assertIn("stdout " + "b" * 40, lines)
        self.assertNotIn("stdout " + "a" * 40, lines)
        self.assertEqual(lines[-1], "job 3 succeeded (exit 0)")

    def test_followSaysWhatBecameOfTheReports(self) -> None:
        """
        send --follow tries a hook's reporting without a push: after the job it
        waits for each commit status and notification to be tried, and says how
        each went, the forge's refusal included.
        """
        ca = TestCA()
        api = ThreadedApi(
            ca.issue(), answers=[(201, b"{}"), (422, b'{"message": "No commit found for SHA"}')]
        )
        self.addCleanup(api.stop)
        chat = ThreadedApi(ca.issue(), answers=[(200, b"ok")])
        self.addCleanup(chat.stop)
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        daemon = LiveDaemon(
            self,
            "[hook:site]\nforge = github\nsecret = s3cret\nworkdir = .\ncommand = true\n"
            f"report = github\nreport_url = {api.url}\nreport_token = env:REPORT_TOKEN\n"
            f"report_ca = {ca.write(os.path.join(directory, 'ca.pem'))}\n"
            "notify = env:CHAT_URL\nnotify_format = json\n",
            environ={"REPORT_TOKEN": "t0ken", "CHAT_URL": chat.url + "/hooks/secret-path"},
        )
        result = send(
            "site",
            "--config",
            daemon.config,
            "--follow",
            "--after",
            "a" * 40,
            "--repository",
            "me/site",
            environ={"REPORT_TOKEN": "t0ken", "CHAT_URL": chat.url + "/hooks/secret-path"},
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        reports = [line for line in result.stdout.splitlines() if line.startswith("report: ")]
        self.assertEqual(len(reports), 3, result.stdout)
        self.assertTrue(
            reports[0].startswith(
                f"report: commit status pending for {'a' * 12} (github): sent (201) at "
            ),
            reports,
        )
        self.assertTrue(
            reports[1].startswith(
                f"report: commit status success for {'a' * 12} (github): refused"
                " (422: No commit found for SHA) at "
            ),
            reports,
        )
        self.assertTrue(
            reports[2].startswith("report: notification (env:CHAT_URL): sent (200) at "), reports
        )
        self.assertEqual(
            [r.path for r in api.requests], [f"/repos/me/site/statuses/{'a' * 40}"] * 2
        )
        self.assertEqual([r.path for r in chat.requests], ["/hooks/secret-path"])
        self.assertNotIn("secret-path", result.stdout + result.stderr)
        # hookdaemon show prints the same.
        shown = hookdaemon("show", "1", "--config", daemon.config)
        self.assertEqual(
            [
                line.split("  ", 1)[1].strip()
                for line in shown.stdout.splitlines()
                if line.startswith("report ")
            ],
            [line[len("report: ") :] for line in reports],
        )

    def test_withoutFollowItAnswersAtOnce(self) -> None:
        # The job is still running when the test ends: a short stop_grace ends it
        # at the daemon's stop, well inside the 30 s its SIGTERM is given.
        daemon = LiveDaemon(
            self,
            "[hook:site]\nforge = github\nsecret = s3cret\nworkdir = .\ncommand = sleep 30\n",
            "stop_grace = 1\n",
        )
        result = send("site", "--config", daemon.config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            result.stdout.splitlines()[1], '202 {"job": 1, "status": "queued", "url": "/jobs/1"}'
        )
        self.assertIn(daemon.job(1)["state"], ("queued", "running"))

    def test_refAfterAndRepositoryAsGiven(self) -> None:
        daemon = self.daemon()
        after = "3f" * 20
        result = send(
            "site", "--config", daemon.config, "--follow",
            "--ref", "hotfix", "--after", after, "--repository", "team/api",
        )  # fmt: skip
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        variables = seen(result.stdout)
        self.assertEqual(
            (variables["HOOK_REF"], variables["HOOK_AFTER"], variables["HOOK_REPOSITORY"]),
            ("refs/heads/hotfix", after, "team/api"),
        )

    def test_aHookOfTagsGetsATagPush(self) -> None:
        """events = tag: a tag push, of the first tag its tags name plainly."""
        daemon = LiveDaemon(
            self,
            "[hook:site]\nforge = gitlab\nsecret = s3cret\nevents = tag\ntags = v* stable\n"
            "workdir = .\ncommand = env\n",
        )
        result = send("site", "--config", daemon.config, "--follow")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        variables = seen(result.stdout)
        self.assertEqual(
            (variables["HOOK_REF"], variables["HOOK_TAG"], variables["HOOK_EVENT"]),
            ("refs/tags/stable", "stable", "Tag Push Hook"),
        )

    def test_ignoredIsTheDaemonsReasonAndNothingToFollow(self) -> None:
        daemon = self.daemon("branches = main\n")
        result = send("site", "--config", daemon.config, "--ref", "wip")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            result.stdout.splitlines()[1],
            '200 {"status": "ignored", "reason": "branch wip does not match branches (main)"}',
        )
        followed = send("site", "--config", daemon.config, "--ref", "wip", "--follow")
        self.assertEqual(followed.returncode, 1)
        self.assertEqual(
            followed.stderr,
            "hookdaemon send: no job to follow: the daemon ran nothing for this delivery\n",
        )

    def test_anotherEventByItsForgeName(self) -> None:
        """GitHub's ping: the signature checked, nothing run."""
        daemon = self.daemon()
        result = send("site", "--config", daemon.config, "--event", "ping")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines()[1], '200 {"status": "pong"}')
        self.assertEqual(daemon.request("GET", "/jobs")[1], {"jobs": []})

    def test_aPayloadFileIsSentAsItIs(self) -> None:
        """A real delivery's body, signed: what the forge sent, run again by hand."""
        daemon = self.daemon()
        fixture = os.path.join(FIXTURES, "github", "push.json")
        with open(fixture) as f:
            after = json.load(f)["after"]
        result = send("site", "--config", daemon.config, "--payload", fixture, "--follow")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(
            result.stdout.splitlines()[0],
            f"POST {daemon.url}/hooks/site: {fixture} as the body of a push delivery, as GitHub"
            " sends it,"
            " with the hook's secret",
        )
        variables = seen(result.stdout)
        self.assertEqual(
            (variables["HOOK_REPOSITORY"], variables["HOOK_AFTER"]),
            ("Codertocat/Hello-World", after),
        )

    def test_otherHooksSecretsNeedNotBeSetHere(self) -> None:
        """Only the hook sent to is read: another's env: secret may be the daemon's alone."""
        daemon = LiveDaemon(
            self,
            "[hook:site]\nforge = github\nsecret = s3cret\nworkdir = .\ncommand = true\n"
            "[hook:other]\nforge = github\nsecret = env:OTHER_SECRET\nworkdir = .\n"
            "command = true\n",
            environ={"OTHER_SECRET": "theirs"},
        )
        result = send("site", "--config", daemon.config, environ={"OTHER_SECRET": None})
        self.assertEqual(result.returncode, 0, result.stderr)
        refused = send("other", "--config", daemon.config, environ={"OTHER_SECRET": None})
        self.assertEqual(refused.returncode, 2)
        self.assertIn("[hook:other] secret: env:OTHER_SECRET is not set", refused.stderr)

    def test_aHookTheConfigLacks(self) -> None:
        daemon = self.daemon()
        result = send("nope", "--config", daemon.config)
        self.assertEqual(
            (result.returncode, result.stdout, result.stderr),
            (2, "", f"hookdaemon send: {daemon.config} has no [hook:nope] (its hooks: site)\n"),
        )

    def test_noDaemon(self) -> None:
        daemon = self.daemon()
        daemon.stop()
        result = send("site", "--config", daemon.config)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(
            result.stderr,
            f"hookdaemon send: no daemon answers at {daemon.url} (connection refused)\n",
        )


class BasicCredentialsTests(SynchronousTestCase):
    """A hook with basic_auth gets its Basic credentials with the forge's own."""

    def test_withAForgeSignature(self) -> None:
        daemon = LiveDaemon(
            self,
            "[hook:site]\nforge = github\nsecret = s3cret\nbasic_auth = ci:pa55\n"
            "workdir = .\ncommand = env\n",
        )
        result = send("site", "--config", daemon.config, "--follow")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        wrong = other_secret(daemon.config, "s3cret", "s3cret")
        with open(wrong) as f:
            text = f.read()
        with open(wrong, "w") as f:
            f.write(text.replace("basic_auth = ci:pa55", "basic_auth = ci:wrong"))
        refused = send("site", "--config", wrong)
        self.assertEqual(
            (refused.returncode, refused.stdout.splitlines()[1:]),
            (1, ['401 {"error": "basic credentials mismatch"}']),
        )

    def test_aGenericTokenGoesInTheURL(self) -> None:
        """Basic takes the Authorization header, so the Bearer token goes as ?token=."""
        daemon = LiveDaemon(
            self,
            "[hook:site]\nforge = generic\nsecret = t0ken\nbasic_auth = ci:pa55\n"
            "workdir = .\ncommand = env\n",
        )
        result = send("site", "--config", daemon.config, "--follow")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertNotIn("t0ken", result.stdout.splitlines()[0])
        # The access log hides the token it was given.
        self.assertIn('"POST /hooks/site?token=REDACTED HTTP/1.1" 202', daemon.log)
