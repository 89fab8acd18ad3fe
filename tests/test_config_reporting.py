"""
The reporting keys of a hook (C{report}, C{report_token}, C{report_url},
C{report_context}, C{report_ca}, C{notify}, C{notify_format}, C{notify_on})
and the daemon's C{public_url}: what each is read as, every problem and
warning each can give, and what C{--check} says of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import Config, ConfigError, ReportTarget, Secret, parse_config
from hookdaemon.tap import reporting_lines
from hookdaemon.testing import TwistdDaemon
from tests.fake_api import TestCA

SOURCE = "/etc/hookdaemon/tap.cfg"
DAEMON = "[hookdaemon]\npublic_url = https://deploy.example.com/\n"
HOOK = "[hook:site]\nsecret = env:S\nworkdir = /srv/site\ncommand = true\n"
ENVIRON = {"S": "push", "T": "tok3n", "CHAT": "https://chat.example/hooks/T/B/x", "BAD": "no"}


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read(keys: str, daemon: str = DAEMON, environ: Mapping[str, str] = ENVIRON) -> Config:
    return parse_config(daemon + HOOK + keys, SOURCE, environ, read_bytes)


def at(key: str, message: str, section: str = "hook:site") -> str:
    return f"{SOURCE}: [{section}] {key}: {message}"


class ReportTests(SynchronousTestCase):
    def problems(self, keys: str, daemon: str = DAEMON) -> list[str]:
        error = self.assertRaises(ConfigError, read, keys, daemon)
        return [str(problem) for problem in error.problems]

    def warnings(self, keys: str) -> list[str]:
        return [str(warning) for warning in read(keys).warnings]

    def test_publicServicesHaveTheirApiByDefault(self) -> None:
        for api, url in [
            ("github", "https://api.github.com"),
            ("gitlab", "https://gitlab.com/api/v4"),
            ("bitbucket", "https://api.bitbucket.org/2.0"),
        ]:
            report = read(f"report = {api}\nreport_token = env:T\n").hooks["site"].report
            self.assertEqual(
                report,
                ReportTarget(api, url, Secret(origin="env:T", value=b"tok3n"), "hookdaemon/site"),
            )

    def test_selfHostedForgesNeedTheirUrl(self) -> None:
        for api, path in [
            ("gitea", "/api/v1"),
            ("forgejo", "/api/v1"),
            ("bitbucket-server", ""),
        ]:
            self.assertEqual(
                self.problems(f"report = {api}\nreport_token = env:T\n"),
                [
                    at(
                        "report_url",
                        f"is required with report = {api}, which has no public service: the"
                        f" API's base URL, such as https://{api}.example.com{path}",
                    )
                ],
            )

    def test_aSelfHostedUrlAndContext(self) -> None:
        report = (
            read(
                "report = gitea\nreport_token = env:T\n"
                "report_url = https://git.example.com/api/v1/\nreport_context = deploy/prod\n"
            )
            .hooks["site"]
            .report
        )
        assert report is not None
        # The trailing / is dropped: request paths start with one.
        self.assertEqual(
            (report.url, report.context), ("https://git.example.com/api/v1", "deploy/prod")
        )

    def test_anUnknownForge(self) -> None:
        self.assertEqual(
            self.problems("report = gitbucket\nreport_token = env:T\n"),
            [
                at(
                    "report",
                    "must be one of: github, gitlab, gitea, forgejo, gogs, bitbucket,"
                    " bitbucket-server",
                )
            ],
        )

    def test_gogsIsRefusedWithWhy(self) -> None:
        [problem] = self.problems(
            "report = gogs\nreport_token = env:T\nreport_url = https://g.example\n"
        )
        self.assertTrue(problem.startswith(at("report", "Gogs has no commit status API")), problem)
        self.assertIn("use Gitea or Forgejo", problem)

    def test_theTokenIsRequiredAndNamedNotQuoted(self) -> None:
        self.assertEqual(
            self.problems("report = github\n"),
            [at("report_token", "is required with report = github: env:NAME or file:PATH")],
        )
        self.assertEqual(
            self.problems("report = github\nreport_token = env:NOPE\n"),
            [at("report_token", "env:NOPE is not set in the daemon's environment")],
        )
        self.assertEqual(
            self.warnings("report = github\nreport_token = ghp_written_here\n"),
            [
                at(
                    "report_token",
                    "the secret is written in the file; prefer env:NAME or file:PATH",
                )
            ],
        )

    def test_aUrlThatIsNone(self) -> None:
        for url, problem in [
            ("ftp://git.example.com", "must be an https:// (or http://) URL"),
            ("https://", "names no host"),
            (
                "https://git.example.com:99999/api/v4",
                "holds a port that is not a number from 0 to 65535",
            ),
            (
                "https://u:tok3n@git.example.com/api/v4",
                "holds a user:password@ part, which no call would send as credentials",
            ),
        ]:
            self.assertEqual(
                self.problems(f"report = gitlab\nreport_token = env:T\nreport_url = {url}\n"),
                [at("report_url", problem)],
                url,
            )

    def test_httpIsAllowedWithAWarning(self) -> None:
        self.assertEqual(
            self.warnings(
                "report = gitea\nreport_token = env:T\nreport_url = http://127.0.0.1:3000/api/v1\n"
            ),
            [
                at(
                    "report_url",
                    "is http://: the token crosses the network in the clear; use it only for a"
                    " forge on this host",
                )
            ],
        )

    def test_aUrlWithoutTheApisPathIsWarned(self) -> None:
        self.assertEqual(
            self.warnings(
                "report = gitlab\nreport_token = env:T\nreport_url = https://git.example.com\n"
            ),
            [
                at(
                    "report_url",
                    "does not end with /api/v4, where gitlab's API usually is:"
                    " https://git.example.com/api/v4?",
                )
            ],
        )
        # GitHub's own API has no /api/v3; GitHub Enterprise's has.
        self.assertEqual(self.warnings("report = github\nreport_token = env:T\n"), [])
        self.assertEqual(
            self.warnings(
                "report = github\nreport_token = env:T\nreport_url = https://ghe.example.com/api/v3\n"
            ),
            [],
        )

    def test_bitbucketNeedsPublicUrl(self) -> None:
        for api in ("bitbucket", "bitbucket-server"):
            url = "" if api == "bitbucket" else "report_url = https://bitbucket.example.com\n"
            self.assertEqual(
                self.problems(f"report = {api}\nreport_token = env:T\n{url}", daemon=""),
                [
                    at(
                        "report",
                        f"{api} wants a link with every status: set public_url in [hookdaemon]",
                    )
                ],
            )

    def test_withoutPublicUrlTheStatusesHaveNoLink(self) -> None:
        config = read("report = github\nreport_token = env:T\n", daemon="")
        self.assertEqual(
            [str(w) for w in config.warnings],
            [
                at(
                    "report",
                    "the statuses will not link to their job: set public_url in [hookdaemon]",
                )
            ],
        )

    def test_keysWithoutReportAreWarnedOf(self) -> None:
        self.assertEqual(
            self.warnings(
                "report_token = env:T\nreport_url = https://x.example\nreport_context = c\n"
            ),
            [
                at(key, "is not used: report is not set")
                for key in ("report_token", "report_url", "report_context")
            ],
        )


class ReportCaTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)

    def problems(self, path: str) -> list[str]:
        keys = f"report = github\nreport_token = env:T\nreport_ca = {path}\n"
        error = self.assertRaises(ConfigError, read, keys)
        return [str(problem) for problem in error.problems]

    def test_aCaFileIsResolvedAndKept(self) -> None:
        path = TestCA().write(os.path.join(self.directory, "ca.pem"))
        hook = read(f"report = github\nreport_token = env:T\nreport_ca = {path}\n").hooks["site"]
        self.assertEqual(hook.report_ca, path)

    def test_whatIsWrongWithItWithoutItsPath(self) -> None:
        # The value is not quoted: whatever was pasted under the key stays unsaid.
        text = os.path.join(self.directory, "text.pem")
        with open(text, "w") as f:
            f.write("not a certificate\n")
        broken = os.path.join(self.directory, "broken.pem")
        with open(broken, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        unreadable = os.path.join(self.directory, "a-directory")
        os.makedirs(unreadable)
        for path, problem in [
            (
                os.path.join(self.directory, "none.pem"),
                "does not exist; name a PEM file of the CA certificates to trust",
            ),
            (text, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
            (unreadable, "cannot be read (Is a directory)"),
        ]:
            self.assertEqual(self.problems(path), [at("report_ca", problem)], path)
        [problem] = self.problems(broken)
        self.assertTrue(
            problem.startswith(at("report_ca", "holds a certificate that cannot be read (")),
            problem,
        )
        self.assertNotIn(self.directory, problem)

    def test_theSystemsBundleIsReadWithoutAWarning(self) -> None:
        bundle = "/etc/ssl/certs/ca-certificates.crt"
        if not os.path.exists(bundle):
            self.skipTest(f"no {bundle} on this machine")
        # Its old roots with a serial of 0 made cryptography warn; the warning is not the user's.
        self.flushWarnings()
        hook = read(f"report = github\nreport_token = env:T\nreport_ca = {bundle}\n").hooks["site"]
        self.assertEqual(hook.report_ca, bundle)
        self.assertEqual(self.flushWarnings(), [])

    def test_aCaWithoutReportOrNotifyIsWarnedOf(self) -> None:
        path = TestCA().write(os.path.join(self.directory, "ca.pem"))
        self.assertEqual(
            [str(w) for w in read(f"report_ca = {path}\n").warnings],
            [at("report_ca", "is not used: neither report nor notify is set")],
        )


class NotifyTests(SynchronousTestCase):
    def test_urlsFormatAndWhen(self) -> None:
        notify = (
            read(
                "notify = env:CHAT\n    https://chat.example/other\n"
                "notify_format = json\nnotify_on = change\n"
            )
            .hooks["site"]
            .notify
        )
        assert notify is not None
        self.assertEqual(
            [url.value for url in notify.urls],
            [b"https://chat.example/hooks/T/B/x", b"https://chat.example/other"],
        )
        self.assertEqual((notify.format, notify.on), ("json", "change"))

    def test_defaults(self) -> None:
        notify = read("notify = env:CHAT\n").hooks["site"].notify
        assert notify is not None
        self.assertEqual((notify.format, notify.on), ("slack", "always"))

    def test_problemsNameTheEntryNotItsValue(self) -> None:
        error = self.assertRaises(
            ConfigError, read, "notify = env:BAD\n    https://u:p@chat.example/x\n"
        )
        self.assertEqual(
            [str(p) for p in error.problems],
            [
                at("notify", "entry 1 (env:BAD) must be an https:// (or http://) URL"),
                at(
                    "notify",
                    "entry 2 ((literal, hidden)) holds a user:password@ part, which no call"
                    " would send as credentials",
                ),
            ],
        )

    def test_choices(self) -> None:
        for key, value, choices in [
            ("notify_format", "teams", "slack, json"),
            ("notify_on", "sometimes", "always, failure, change"),
        ]:
            error = self.assertRaises(ConfigError, read, f"notify = env:CHAT\n{key} = {value}\n")
            self.assertEqual(
                [str(p) for p in error.problems], [at(key, f"must be one of: {choices}")]
            )

    def test_keysWithoutNotifyAreWarnedOf(self) -> None:
        self.assertEqual(
            [str(w) for w in read("notify_format = json\nnotify_on = failure\n").warnings],
            [at(key, "is not used: notify is not set") for key in ("notify_format", "notify_on")],
        )


class PublicUrlTests(SynchronousTestCase):
    def test_readWithoutItsTrailingSlash(self) -> None:
        config = read("", "[hookdaemon]\npublic_url = https://deploy.example.com/base/\n")
        self.assertEqual(config.daemon.public_url, "https://deploy.example.com/base")

    def test_notAUrl(self) -> None:
        error = self.assertRaises(
            ConfigError, read, "", "[hookdaemon]\npublic_url = deploy.example.com\n"
        )
        self.assertEqual(
            [str(p) for p in error.problems],
            [
                at(
                    "public_url",
                    "must be an https:// (or http://) URL, such as https://deploy.example.com",
                    "hookdaemon",
                )
            ],
        )


class CheckTests(SynchronousTestCase):
    def test_checkSaysWhereReportsGoAndWithWhat(self) -> None:
        hook = read(
            "report = gitlab\nreport_token = env:T\nreport_context = deploy\n"
            "notify = env:CHAT\n    https://chat.example/literal\nnotify_on = failure\n"
        ).hooks["site"]
        self.assertEqual(
            reporting_lines(hook),
            [
                "commit statuses to gitlab at https://gitlab.com/api/v4 as deploy, token env:T,"
                " trusting the system's CAs",
                "notifies env:CHAT, (literal, hidden) (slack, on failure),"
                " trusting the system's CAs",
            ],
        )

    def test_twistdCheckPrintsThemAndNoSecret(self) -> None:
        directory = os.path.abspath(self.mktemp())
        ca = TestCA().write(os.path.join(directory + "-ca.pem"))
        daemon = TwistdDaemon(
            directory,
            HOOK + "report = gitea\nreport_url = https://git.example.com/api/v1\n"
            f"report_token = env:T\nreport_ca = {ca}\nnotify = env:CHAT\n",
            "public_url = https://deploy.example.com\n",
            ENVIRON,
        )
        check = daemon.check()
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertIn(
            "hook site: commit statuses to gitea at https://git.example.com/api/v1 as"
            f" hookdaemon/site, token env:T, trusting {ca}\n",
            check.stdout,
        )
        self.assertIn("hook site: notifies env:CHAT (slack, on always), trusting", check.stdout)
        for secret in ("tok3n", "/hooks/T/B/x"):
            self.assertNotIn(secret, check.stdout + check.stderr)
