"""
Tests for L{hookdaemon.config}: tap.cfg text in, frozen objects or every
problem out, each as C{FILE: [section] key: what is wrong}.
"""

from __future__ import annotations

import base64
import configparser
import ipaddress
import os
from collections.abc import Mapping

import attrs
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.command import Step
from hookdaemon.config import (
    DAEMON_DEFAULTS,
    DAEMON_KEYS,
    DEFAULT_LISTEN,
    HOOK_DEFAULTS,
    HOOK_KEYS,
    REQUIRED_HOOK_KEYS,
    Config,
    ConfigError,
    DaemonConfig,
    HookConfig,
    Rate,
    Secret,
    load_config,
    parse_config,
)

SOURCE = "/etc/hookdaemon/tap.cfg"
SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tap.cfg")

HOOK = "[hook:site]\nworkdir = /srv/site\ncommand = true\n"
TOKEN = "ghp_" + "Q7x" * 12
"""Shaped like a GitHub token: what a step, an env line or a secret may hold."""


class FakeFiles:
    """A C{read_file} over a dict of paths, remembering what was asked for."""

    def __init__(self, files: Mapping[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.asked: list[str] = []

    def __call__(self, path: str) -> bytes:
        self.asked.append(path)
        if path not in self.files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return self.files[path]


def read(
    text: str,
    environ: Mapping[str, str] | None = None,
    files: FakeFiles | None = None,
) -> Config:
    return parse_config(text, SOURCE, environ or {}, files or FakeFiles())


class ConfigTestCase(SynchronousTestCase):
    def problems(
        self,
        text: str,
        environ: Mapping[str, str] | None = None,
        files: FakeFiles | None = None,
    ) -> list[str]:
        """The problem lines C{text} is refused with."""
        error = self.assertRaises(ConfigError, read, text, environ, files)
        return [str(problem) for problem in error.problems]


class DaemonSectionTests(ConfigTestCase):
    def test_defaultsWhenSectionMissing(self) -> None:
        """Without [hookdaemon] every key takes DESIGN.md's default."""
        daemon = read(HOOK).daemon
        self.assertEqual(daemon.listen, (DEFAULT_LISTEN,))
        self.assertEqual(DEFAULT_LISTEN, "tcp:9000:interface=127.0.0.1")
        self.assertEqual(daemon.state_dir, "/etc/hookdaemon/var")
        self.assertEqual(daemon.log_dir, "/etc/hookdaemon/var/log")
        self.assertEqual(daemon.log_max_bytes, 10485760)
        self.assertEqual(daemon.log_keep, 10)
        self.assertEqual(daemon.max_body, 10485760)
        self.assertEqual(daemon.max_parallel, 4)
        self.assertEqual(daemon.history, 500)
        self.assertEqual(daemon.trusted_proxies, ())
        self.assertEqual((daemon.status_tokens, daemon.operator_tokens), ((), ()))

    def test_emptySectionTakesDefaults(self) -> None:
        self.assertEqual(read("[hookdaemon]\n" + HOOK).daemon, read(HOOK).daemon)

    def test_valuesRead(self) -> None:
        daemon = read(
            "[hookdaemon]\n"
            "listen = tcp:9000:interface=127.0.0.1 unix:/run/hookdaemon.sock\n"
            "log_max_bytes = 2048\n"
            "log_keep = 3\n"
            "max_body = 1000\n"
            "max_parallel = 2\n"
            "history = 7\n"
            "trusted_proxies = 10.0.0.0/8 ::1\n"
            "status_token = env:STATUS\n",
            environ={"STATUS": "watch"},
        ).daemon
        self.assertEqual(
            daemon.listen, ("tcp:9000:interface=127.0.0.1", "unix:/run/hookdaemon.sock")
        )
        self.assertEqual((daemon.log_max_bytes, daemon.log_keep, daemon.max_body), (2048, 3, 1000))
        self.assertEqual((daemon.max_parallel, daemon.history), (2, 7))
        self.assertEqual(
            daemon.trusted_proxies,
            (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")),
        )
        self.assertEqual(daemon.status_tokens, (Secret(origin="env:STATUS", value=b"watch"),))

    def test_relativePathsResolveAgainstConfigDirectory(self) -> None:
        """Not against wherever twistd happened to be started."""
        daemon = read("[hookdaemon]\nstate_dir = state\nlog_dir = ../logs/hooks\n").daemon
        self.assertEqual(daemon.state_dir, "/etc/hookdaemon/state")
        self.assertEqual(daemon.log_dir, "/etc/logs/hooks")

    def test_absolutePathsKept(self) -> None:
        daemon = read("[hookdaemon]\nstate_dir = /var/lib/hd\nlog_dir = /var/log/hd\n").daemon
        self.assertEqual((daemon.state_dir, daemon.log_dir), ("/var/lib/hd", "/var/log/hd"))

    def test_numbersOutOfRange(self) -> None:
        self.assertEqual(
            self.problems(
                "[hookdaemon]\nlog_max_bytes = 100\nlog_keep = 0\nmax_parallel = -1\n"
                "max_body = lots\n"
            ),
            [
                f"{SOURCE}: [hookdaemon] log_max_bytes: must be at least 1024",
                f"{SOURCE}: [hookdaemon] log_keep: must be at least 1",
                f"{SOURCE}: [hookdaemon] max_body: is not a whole number; write one such as "
                "10485760",
                f"{SOURCE}: [hookdaemon] max_parallel: must be at least 1",
            ],
        )

    def test_emptyListen(self) -> None:
        self.assertEqual(
            self.problems("[hookdaemon]\nlisten =\n"),
            [
                f"{SOURCE}: [hookdaemon] listen: names no endpoint; "
                "try tcp:9000:interface=127.0.0.1"
            ],
        )

    def test_emptyStateDir(self) -> None:
        self.assertEqual(
            self.problems("[hookdaemon]\nstate_dir =\n"),
            [f"{SOURCE}: [hookdaemon] state_dir: must name a directory"],
        )

    def test_badTrustedProxy(self) -> None:
        self.assertEqual(
            self.problems("[hookdaemon]\ntrusted_proxies = proxy.local\n"),
            [
                f"{SOURCE}: [hookdaemon] trusted_proxies: "
                "entry 1 (line 2) is not an IP address or CIDR network"
            ],
        )


class UnknownNamesTests(ConfigTestCase):
    def test_unknownHookKey(self) -> None:
        """A misspelt key is an error that lists the keys that exist."""
        self.assertEqual(
            self.problems(HOOK + "comand = true\n"),
            [
                f"{SOURCE}: [hook:site] comand: unknown key (known keys: allow_from, basic_auth, "
                "branches, burst, command, env, events, forge, kill_grace, max_queued, notify, "
                "notify_format, notify_on, rate, report, report_ca, report_context, "
                "report_token, report_url, repository, secret, shell, signature_header, tags, "
                "timeout, workdir)"
            ],
        )

    def test_unknownDaemonKey(self) -> None:
        self.assertEqual(
            self.problems("[hookdaemon]\nport = 9000\n"),
            [
                f"{SOURCE}: [hookdaemon] port: unknown key (known keys: dashboard, "
                "delivery_id_days, "
                "delivery_id_max, header_timeout, history, listen, log_dir, log_keep, "
                "log_max_bytes, max_attempts, max_body, max_client_connections, "
                "max_connections, max_parallel, operator_token, "
                "payload_budget, public_url, request_timeout, state_dir, status_token, "
                "stop_grace, trusted_proxies)"
            ],
        )

    def test_keysAreCaseSensitive(self) -> None:
        problems = self.problems(HOOK + "Secret = env:X\n")
        self.assertEqual(len(problems), 1)
        self.assertTrue(problems[0].startswith(f"{SOURCE}: [hook:site] Secret: unknown key"))

    def test_unknownSection(self) -> None:
        self.assertEqual(
            self.problems("[server]\nport = 9000\n" + HOOK),
            [f"{SOURCE}: [server]: unknown section; use [hookdaemon] or [hook:NAME]"],
        )

    def test_badHookName(self) -> None:
        self.assertEqual(
            self.problems("[hook:my site]\nworkdir = /srv\ncommand = true\n"),
            [
                f"{SOURCE}: [hook:my site]: hook names use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit"
            ],
        )

    def test_duplicateKeyNamesSectionAndKey(self) -> None:
        self.assertEqual(
            self.problems(HOOK + "command = false\n"),
            [f"{SOURCE}: [hook:site] command: is set twice (line 4)"],
        )

    def test_duplicateSection(self) -> None:
        """The section's keys, written in it twice, are each named too."""
        self.assertEqual(
            self.problems(HOOK + HOOK),
            [
                f"{SOURCE}: [hook:site]: appears twice (line 4)",
                f"{SOURCE}: [hook:site] workdir: is set twice (line 5)",
                f"{SOURCE}: [hook:site] command: is set twice (line 6)",
            ],
        )

    def test_aKeySetTwiceHidesNoOtherProblem(self) -> None:
        """configparser stops at the first repeat; every other problem is still listed."""
        self.assertEqual(
            self.problems("[hookdaemon]\nlog_keep = 0\nlog_keep = 1\ncolour = blue\n" + HOOK),
            [
                f"{SOURCE}: [hookdaemon] log_keep: is set twice (line 3)",
                f"{SOURCE}: [hookdaemon] colour: unknown key (known keys: dashboard, "
                "delivery_id_days, "
                "delivery_id_max, header_timeout, history, listen, log_dir, log_keep, "
                "log_max_bytes, max_attempts, max_body, max_client_connections, "
                "max_connections, max_parallel, operator_token, payload_budget, public_url, "
                "request_timeout, state_dir, status_token, stop_grace, trusted_proxies)",
            ],
        )

    def test_syntaxErrorNamesFile(self) -> None:
        self.assertEqual(
            self.problems("workdir = /srv\n"),
            [
                f"{SOURCE}: [-]: line 1 comes before any section; begin with [hookdaemon] "
                "or [hook:NAME]"
            ],
        )

    def test_unreadableLinesAreNamedNotQuoted(self) -> None:
        """configparser's own messages quote the line: a token that lost its indent."""
        self.assertEqual(
            self.problems(f"{TOKEN}\n" + HOOK),
            [
                f"{SOURCE}: [-]: line 1 comes before any section; begin with [hookdaemon] "
                "or [hook:NAME]"
            ],
        )
        self.assertEqual(
            self.problems(HOOK + f"{TOKEN}\n\n{TOKEN}\n"),
            [
                f"{SOURCE}: [-]: line {n} is neither a [section] header, a key = value line, "
                "a comment, nor an indented line continuing a key's value"
                for n in (4, 6)
            ],
        )

    def test_lineReadAsAKeyIsNamedByItsLine(self) -> None:
        """An unindented step with a = in it becomes a key holding whatever came before."""
        self.assertEqual(
            self.problems(HOOK + f'mysql -p{TOKEN} -e "SET x=1"\n'),
            [
                f"{SOURCE}: [hook:site]: line 4 is not a key = value line of this section; "
                "indent it if it continues the value above"
            ],
        )

    def test_lineReadAsAKeyTwice(self) -> None:
        self.assertEqual(
            self.problems(HOOK + f'mysql -p{TOKEN} -e "SET x=1"\n' * 2),
            [
                f"{SOURCE}: [hook:site]: line {n} is not a key = value line of this section; "
                "indent it if it continues the value above"
                for n in (5, 4)
            ],
        )


class AllProblemsAtOnceTests(ConfigTestCase):
    def test_everyProblemReportedTogether(self) -> None:
        """One pass shows everything wrong, across sections, in file order."""
        self.assertEqual(
            self.problems(
                "[hookdaemon]\n"
                "log_keep = none\n"
                "colour = blue\n"
                "[hook:api]\n"
                "forge = githab\n"
                "secret = env:API_SECRET\n"
                "command = true\n"
                "timeout = 0\n"
                "[hook:web]\n"
                "workdir = /srv/web\n"
                "command = echo 'unbalanced\n"
                "shell = maybe\n"
                "burst = all\n"
                "[extra]\n"
            ),
            [
                f"{SOURCE}: [hookdaemon] colour: unknown key (known keys: dashboard, "
                "delivery_id_days, "
                "delivery_id_max, header_timeout, history, listen, log_dir, log_keep, "
                "log_max_bytes, max_attempts, max_body, max_client_connections, "
                "max_connections, max_parallel, operator_token, "
                "payload_budget, public_url, request_timeout, state_dir, status_token, "
                "stop_grace, trusted_proxies)",
                f"{SOURCE}: [hookdaemon] log_keep: is not a whole number; write one such as 10",
                f"{SOURCE}: [hook:api] forge: must be one of: "
                "auto, github, gitlab, gitea, forgejo, gogs, bitbucket, "
                "bitbucket-server, generic",
                f"{SOURCE}: [hook:api] workdir: is required: the directory the commands run in",
                f"{SOURCE}: [hook:api] secret: env:API_SECRET is not set in the daemon's "
                "environment",
                f"{SOURCE}: [hook:api] timeout: must be a positive number of seconds, such as 600",
                f"{SOURCE}: [hook:web] shell: must be yes or no",
                f"{SOURCE}: [hook:web] command: step 1 (line 11) cannot be split into words: "
                "a quote is not closed",
                f"{SOURCE}: [hook:web] burst: must be one of: coalesce, queue",
                f"{SOURCE}: [extra]: unknown section; use [hookdaemon] or [hook:NAME]",
            ],
        )

    def test_errorMessageJoinsProblems(self) -> None:
        error = self.assertRaises(ConfigError, read, "[a]\n[b]\n")
        self.assertEqual(
            str(error),
            f"{SOURCE}: [a]: unknown section; use [hookdaemon] or [hook:NAME]\n"
            f"{SOURCE}: [b]: unknown section; use [hookdaemon] or [hook:NAME]",
        )


class HookSectionTests(ConfigTestCase):
    def test_defaults(self) -> None:
        hook = read(HOOK).hooks["site"]
        self.assertEqual(hook.name, "site")
        self.assertEqual(hook.path, "/hooks/site")
        self.assertEqual(hook.forge, "generic")
        self.assertIsNone(hook.secret)
        self.assertEqual(hook.allow_from, ())
        self.assertEqual(hook.events, frozenset({"push"}))
        self.assertEqual((hook.branches, hook.tags, hook.repository), ((), (), ()))
        self.assertEqual(hook.workdir, "/srv/site")
        self.assertEqual(hook.steps, (Step(text="true", words=("true",)),))
        self.assertFalse(hook.shell)
        self.assertEqual(hook.env, {})
        self.assertEqual(hook.timeout, 600.0)
        self.assertEqual(hook.burst, "coalesce")

    def test_designExample(self) -> None:
        """The [hook:api] section of DESIGN.md, inline comments and all."""
        config = read(
            "[hook:api]                              ; POST /hooks/api\n"
            "forge = gitlab\n"
            "secret = env:API_HOOK_SECRET            ; env:NAME | file:/path | literal text\n"
            "allow_from = 192.168.14.0/24 10.0.0.7   ; client addresses allowed\n"
            "events = push                           ; push, tag, or forge-native names\n"
            "branches = master release/*             ; glob patterns on the branch name\n"
            "tags = v*\n"
            "repository = test/test_api\n"
            "workdir = /srv/api\n"
            "command =                               ; one step per line\n"
            "    git fetch --prune origin\n"
            "    git reset --hard ${HOOK_AFTER}\n"
            "    ./update.sh\n"
            "shell = no\n"
            "env =                                   ; KEY=VALUE per line\n"
            "    DEPLOY_ENV=test\n"
            "timeout = 600\n"
            "burst = coalesce\n",
            environ={"API_HOOK_SECRET": "s3cret"},
        )
        self.assertEqual(config.warnings, ())
        hook = config.hooks["api"]
        self.assertEqual(hook.forge, "gitlab")
        self.assertEqual(hook.secret, Secret(origin="env:API_HOOK_SECRET", value=b"s3cret"))
        self.assertEqual(
            hook.allow_from,
            (ipaddress.ip_network("192.168.14.0/24"), ipaddress.ip_network("10.0.0.7/32")),
        )
        self.assertEqual(hook.events, frozenset({"push"}))
        self.assertEqual(hook.branches, ("master", "release/*"))
        self.assertEqual(hook.tags, ("v*",))
        self.assertEqual(hook.repository, ("test/test_api",))
        self.assertEqual(
            [step.words for step in hook.steps],
            [
                ("git", "fetch", "--prune", "origin"),
                ("git", "reset", "--hard", "${HOOK_AFTER}"),
                ("./update.sh",),
            ],
        )
        self.assertEqual(hook.env, {"DEPLOY_ENV": "test"})

    def test_relativeWorkdirResolvesAgainstConfigDirectory(self) -> None:
        hook = read("[hook:site]\nworkdir = site/current\ncommand = true\n").hooks["site"]
        self.assertEqual(hook.workdir, "/etc/hookdaemon/site/current")

    def test_workdirAndCommandRequired(self) -> None:
        self.assertEqual(
            self.problems("[hook:site]\nforge = github\n"),
            [
                f"{SOURCE}: [hook:site] workdir: is required: the directory the commands run in",
                f"{SOURCE}: [hook:site] command: is required: one step per line",
            ],
        )

    def test_timeoutMustBeAPositiveNumber(self) -> None:
        for text in ("soon", "nan", "0", "-1", "inf"):
            self.assertEqual(
                self.problems(HOOK + f"timeout = {text}\n"),
                [
                    f"{SOURCE}: [hook:site] timeout: must be a positive number of seconds, "
                    "such as 600"
                ],
            )
        self.assertEqual(read(HOOK + "timeout = 2.5\n").hooks["site"].timeout, 2.5)

    def test_shellYesAndNo(self) -> None:
        for word, expected in [("yes", True), ("true", True), ("no", False), ("off", False)]:
            self.assertEqual(read(HOOK + f"shell = {word}\n").hooks["site"].shell, expected)

    def test_burstQueue(self) -> None:
        self.assertEqual(read(HOOK + "burst = queue\n").hooks["site"].burst, "queue")

    def test_severalHooks(self) -> None:
        config = read(HOOK + "[hook:api.v2]\nworkdir = /srv/api\ncommand = true\n")
        self.assertEqual(list(config.hooks), ["site", "api.v2"])
        self.assertEqual(config.hooks["api.v2"].path, "/hooks/api.v2")


class SecretTests(ConfigTestCase):
    def test_fromEnvironment(self) -> None:
        config = read(HOOK + "secret = env:SITE_SECRET\n", environ={"SITE_SECRET": "s3cret"})
        secret = config.hooks["site"].secret
        self.assertEqual(secret, Secret(origin="env:SITE_SECRET", value=b"s3cret"))
        assert secret is not None
        self.assertFalse(secret.literal)
        self.assertEqual(secret.describe(), "env:SITE_SECRET")
        self.assertEqual(config.warnings, ())

    def test_environmentVariableMissing(self) -> None:
        self.assertEqual(
            self.problems(HOOK + "secret = env:SITE_SECRET\n"),
            [
                f"{SOURCE}: [hook:site] secret: env:SITE_SECRET is not set in the daemon's "
                "environment"
            ],
        )

    def test_environmentVariableEmpty(self) -> None:
        self.assertEqual(
            self.problems(HOOK + "secret = env:SITE_SECRET\n", environ={"SITE_SECRET": ""}),
            [f"{SOURCE}: [hook:site] secret: env:SITE_SECRET is empty"],
        )

    def test_fromFileRelativeToConfig(self) -> None:
        """The path resolves against the config's directory; the final newline is dropped."""
        files = FakeFiles({"/etc/hookdaemon/secrets/site": b"s3cret\n"})
        config = read(HOOK + "secret = file:secrets/site\n", files=files)
        self.assertEqual(files.asked, ["/etc/hookdaemon/secrets/site"])
        self.assertEqual(
            config.hooks["site"].secret, Secret(origin="file:secrets/site", value=b"s3cret")
        )
        self.assertEqual(config.warnings, ())

    def test_fromFileAbsolute(self) -> None:
        files = FakeFiles({"/run/secrets/site": b"s3cret\r\n"})
        secret = read(HOOK + "secret = file:/run/secrets/site\n", files=files).hooks["site"].secret
        self.assertEqual(secret, Secret(origin="file:/run/secrets/site", value=b"s3cret"))

    def test_fileUnreadable(self) -> None:
        self.assertEqual(
            self.problems(HOOK + "secret = file:/run/secrets/site\n"),
            [
                f"{SOURCE}: [hook:site] secret: file:/run/secrets/site: cannot read: "
                "No such file or directory"
            ],
        )

    def test_fileEmpty(self) -> None:
        files = FakeFiles({"/run/secrets/site": b"\n"})
        self.assertEqual(
            self.problems(HOOK + "secret = file:/run/secrets/site\n", files=files),
            [f"{SOURCE}: [hook:site] secret: file:/run/secrets/site is empty"],
        )

    def test_literalWorksWithAWarning(self) -> None:
        config = read(HOOK + "secret = hunter2\n")
        secret = config.hooks["site"].secret
        assert secret is not None
        self.assertEqual(secret.value, b"hunter2")
        self.assertTrue(secret.literal)
        self.assertEqual(secret.describe(), "(literal, hidden)")
        self.assertEqual(
            [str(warning) for warning in config.warnings],
            [
                f"{SOURCE}: [hook:site] secret: the secret is written in the file; "
                "prefer env:NAME or file:PATH"
            ],
        )

    def test_reprNeverShowsTheValue(self) -> None:
        """Not for any kind of secret, nor in the repr of the hook that holds it."""
        files = FakeFiles({"/run/s": b"from-a-file"})
        for line, value in [
            ("secret = hunter2", "hunter2"),
            ("secret = env:S", "from-the-env"),
            ("secret = file:/run/s", "from-a-file"),
        ]:
            hook = read(HOOK + line + "\n", environ={"S": "from-the-env"}, files=files).hooks[
                "site"
            ]
            self.assertNotIn(value, repr(hook.secret))
            self.assertNotIn(value, repr(hook))
            assert hook.secret is not None
            self.assertNotIn(value, hook.secret.describe())

    def test_noSecretAndNoAllowFromWarns(self) -> None:
        self.assertEqual(
            [str(warning) for warning in read(HOOK).warnings],
            [
                f"{SOURCE}: [hook:site] secret: not set: anyone who can reach this URL "
                "can start a deploy"
            ],
        )

    def test_allowFromAloneDoesNotWarn(self) -> None:
        self.assertEqual(read(HOOK + "allow_from = 127.0.0.1\n").warnings, ())


class TokenListTests(ConfigTestCase):
    """status_token and operator_token: several secrets each, so one can be rotated."""

    ENVIRON = {"OLD": "old-token", "NEW": "new-token", "OPS": "ops-token"}

    def warnings(self, text: str, environ: Mapping[str, str] | None = None) -> list[str]:
        """The warnings of C{text}, its hook guarded so that only the tokens' are left."""
        guarded = text + "allow_from = 127.0.0.1\n"
        return [str(w) for w in read(guarded, environ or self.ENVIRON).warnings]

    def test_wordsAndLines(self) -> None:
        files = FakeFiles({"/etc/hookdaemon/ops": b"file-token\n"})
        daemon = read(
            "[hookdaemon]\n"
            "status_token = env:OLD env:NEW\n"
            "    file:ops ; the one the dashboard uses\n"
            "operator_token =\n"
            "    env:OPS\n",
            self.ENVIRON,
            files,
        ).daemon
        self.assertEqual(
            daemon.status_tokens,
            (
                Secret("env:OLD", b"old-token"),
                Secret("env:NEW", b"new-token"),
                Secret("file:ops", b"file-token"),
            ),
        )
        self.assertEqual(daemon.operator_tokens, (Secret("env:OPS", b"ops-token"),))

    def test_oneLiteralWarnsAsASecretDoes(self) -> None:
        self.assertEqual(
            self.warnings(f"[hookdaemon]\noperator_token = {TOKEN}\n" + HOOK),
            [
                f"{SOURCE}: [hookdaemon] operator_token: the secret is written in the file; "
                "prefer env:NAME or file:PATH"
            ],
        )

    def test_eachLiteralOfSeveralIsNamedByItsLine(self) -> None:
        text = f"[hookdaemon]\nstatus_token = env:OLD\n    {TOKEN}\n    {TOKEN}x\n" + HOOK
        self.assertEqual(
            self.warnings(text),
            [
                f"{SOURCE}: [hookdaemon] status_token: entry {n} (line {n + 1}): the secret is "
                "written in the file; prefer env:NAME or file:PATH"
                for n in (2, 3)
            ],
        )
        self.assertEqual(
            [t.value for t in read(text, self.ENVIRON).daemon.status_tokens],
            [b"old-token", TOKEN.encode(), TOKEN.encode() + b"x"],
        )

    def test_wordsOfALiteralAreNotTokensOfTheirOwn(self) -> None:
        """Once one token with spaces: read as four, 'correct' alone would be let in."""
        for value in ("correct horse battery staple", "env:OLD hunter2", "file:/a b/c"):
            self.assertEqual(
                self.problems(f"[hookdaemon]\nstatus_token = {value}\n" + HOOK, self.ENVIRON),
                [
                    f"{SOURCE}: [hookdaemon] status_token: line 2 holds several words, not all "
                    "of them env: or file:, so it cannot be told whether they are several "
                    "tokens or one with spaces in it; write each token on a line of its own, "
                    "or name it with env:NAME or file:PATH"
                ],
                value,
            )

    def test_eachEntrysProblemNamesIt(self) -> None:
        self.assertEqual(
            self.problems(
                "[hookdaemon]\noperator_token = env:OPS env:GONE\n    file:/nothing\n" + HOOK,
                self.ENVIRON,
            ),
            [
                f"{SOURCE}: [hookdaemon] operator_token: entry 2 (line 2): env:GONE is not set "
                "in the daemon's environment",
                f"{SOURCE}: [hookdaemon] operator_token: entry 3 (line 3): file:/nothing: "
                "cannot read: No such file or directory",
            ],
        )
        self.assertEqual(
            self.problems("[hookdaemon]\nstatus_token = env:GONE\n" + HOOK),
            [
                f"{SOURCE}: [hookdaemon] status_token: env:GONE is not set in the daemon's "
                "environment"
            ],
        )

    def test_reprShowsNoToken(self) -> None:
        config = read(f"[hookdaemon]\nstatus_token = env:OLD\n    {TOKEN}\n" + HOOK, self.ENVIRON)
        self.assertNotIn(TOKEN, repr(config))
        self.assertNotIn("old-token", repr(config))
        self.assertIn("Secret(origin='literal')", repr(config))

    def test_secretsListsEveryOneWithItsKey(self) -> None:
        config = read(
            "[hookdaemon]\nstatus_token = env:OLD env:NEW\noperator_token = env:OPS\n"
            + HOOK
            + "secret = env:OLD\nbasic_auth = env:BASIC\n"
            + "[hook:open]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n",
            {**self.ENVIRON, "BASIC": "deploy:pw"},
        )
        self.assertEqual(
            [(section, key, secret.origin) for section, key, secret in config.secrets()],
            [
                ("hookdaemon", "status_token", "env:OLD"),
                ("hookdaemon", "status_token", "env:NEW"),
                ("hookdaemon", "operator_token", "env:OPS"),
                ("hook:site", "secret", "env:OLD"),
                ("hook:site", "basic_auth", "env:BASIC"),
            ],
        )


class BasicAuthConfigTests(ConfigTestCase):
    """basic_auth: the user:password a caller must send as HTTP Basic credentials."""

    def test_fromEnvFileOrLiteral(self) -> None:
        files = FakeFiles({"/run/basic": b"deploy:from-a-file\n"})
        for line, origin, value in [
            ("basic_auth = env:BASIC", "env:BASIC", b"deploy:from-the-env"),
            ("basic_auth = file:/run/basic", "file:/run/basic", b"deploy:from-a-file"),
            ("basic_auth = deploy:pass:word", "literal", b"deploy:pass:word"),
        ]:
            hook = read(HOOK + line + "\n", {"BASIC": "deploy:from-the-env"}, files).hooks["site"]
            self.assertEqual(hook.basic_auth, Secret(origin, value), line)
            self.assertNotIn(value.decode(), repr(hook))

    def test_literalWarnsAsASecretDoes(self) -> None:
        config = read(HOOK + "allow_from = 10.0.0.1\nbasic_auth = deploy:pw\n")
        self.assertEqual(
            [str(w) for w in config.warnings],
            [
                f"{SOURCE}: [hook:site] basic_auth: the secret is written in the file; "
                "prefer env:NAME or file:PATH"
            ],
        )

    def test_withoutAColonItIsNoUserAndPassword(self) -> None:
        self.assertEqual(
            self.problems(HOOK + "basic_auth = env:BASIC\n", {"BASIC": TOKEN}),
            [
                f"{SOURCE}: [hook:site] basic_auth: env:BASIC holds no colon, so it is not "
                "user:password; write the user name, a colon, then the password"
            ],
        )
        problems = self.problems(HOOK + f"basic_auth = {TOKEN}\n")
        self.assertEqual(
            problems,
            [
                f"{SOURCE}: [hook:site] basic_auth: the value holds no colon, so it is not "
                "user:password; write the user name, a colon, then the password"
            ],
        )

    def test_basicAuthAloneGuardsTheHook(self) -> None:
        """No 'anyone who can reach this URL' warning: a caller needs the credentials."""
        config = read(HOOK + "basic_auth = env:BASIC\n", {"BASIC": "deploy:pw"})
        self.assertEqual(config.warnings, ())
        self.assertIsNone(config.hooks["site"].secret)

    def test_genericTokenWithBasicAuthIsWarned(self) -> None:
        environ = {"BASIC": "deploy:pw", "S": "token"}
        config = read(HOOK + "secret = env:S\nbasic_auth = env:BASIC\n", environ)
        self.assertEqual(
            [str(w) for w in config.warnings],
            [
                f"{SOURCE}: [hook:site] basic_auth: takes the Authorization header, where a "
                "generic caller's Bearer token goes: send the secret as ?token= in the URL, or "
                "sign the body (signature_header)"
            ],
        )
        for other in ("signature_header = X-Sig\n", "forge = github\n"):
            config = read(HOOK + "secret = env:S\nbasic_auth = env:BASIC\n" + other, environ)
            self.assertEqual(config.warnings, (), other)


class AllowFromTests(ConfigTestCase):
    def networks(self, value: str) -> tuple[object, ...]:
        return read(HOOK + f"allow_from = {value}\n").hooks["site"].allow_from

    def test_singleIPv4AddressIsAHostNetwork(self) -> None:
        self.assertEqual(self.networks("10.0.0.7"), (ipaddress.IPv4Network("10.0.0.7/32"),))

    def test_IPv4CIDR(self) -> None:
        self.assertEqual(
            self.networks("192.168.14.0/24"), (ipaddress.IPv4Network("192.168.14.0/24"),)
        )

    def test_hostBitsInCIDRAreDropped(self) -> None:
        self.assertEqual(
            self.networks("192.168.14.5/24"), (ipaddress.IPv4Network("192.168.14.0/24"),)
        )

    def test_IPv6AddressAndCIDR(self) -> None:
        self.assertEqual(
            self.networks("::1 2001:db8::/32"),
            (ipaddress.IPv6Network("::1/128"), ipaddress.IPv6Network("2001:db8::/32")),
        )

    def test_badValuesEachReported(self) -> None:
        self.assertEqual(
            self.problems(
                HOOK + "allow_from = 10.0.0.300 10.0.0.1\n"
                "    ; the office\n"
                "    git.example.com 10.0.0.0/33\n"
            ),
            [
                f"{SOURCE}: [hook:site] allow_from: entry 1 (line 4) is not an IP address or "
                "CIDR network",
                f"{SOURCE}: [hook:site] allow_from: entry 3 (line 6) is not an IP address or "
                "CIDR network",
                f"{SOURCE}: [hook:site] allow_from: entry 4 (line 6) is not an IP address or "
                "CIDR network",
            ],
        )

    def test_IPv4MappedAddressIsItsIPv4Address(self) -> None:
        """Clients are read as IPv4 (::ffff:10.0.0.7 is 10.0.0.7), so entries must be too."""
        self.assertEqual(
            self.networks("::ffff:10.0.0.7 ::ffff:a00:8"),
            (ipaddress.IPv4Network("10.0.0.7/32"), ipaddress.IPv4Network("10.0.0.8/32")),
        )

    def test_IPv4MappedRangeIsItsIPv4Range(self) -> None:
        self.assertEqual(
            self.networks("::ffff:127.0.0.1/104 ::ffff:192.168.14.0/120 ::ffff:0.0.0.0/96"),
            (
                ipaddress.IPv4Network("127.0.0.0/8"),
                ipaddress.IPv4Network("192.168.14.0/24"),
                ipaddress.IPv4Network("0.0.0.0/0"),
            ),
        )

    def test_IPv4MappedRangeWiderThan96IsAProblem(self) -> None:
        self.assertEqual(
            self.problems(HOOK + "allow_from = 10.0.0.1 ::ffff:10.0.0.0/95\n"),
            [
                f"{SOURCE}: [hook:site] allow_from: entry 2 (line 4) is an IPv4-mapped range "
                "wider than /96, which holds IPv6 addresses as well as every IPv4 one; write "
                "the IPv4 network (::ffff:a.b.c.d/N is a.b.c.d/N-96)"
            ],
        )

    def test_otherIPv6RangesStayIPv6(self) -> None:
        """::/0 is every IPv6 client; an IPv4 client is not one, however its socket is bound."""
        self.assertEqual(
            self.networks("::/0 ::1 64:ff9b::/96"),
            (
                ipaddress.IPv6Network("::/0"),
                ipaddress.IPv6Network("::1/128"),
                ipaddress.IPv6Network("64:ff9b::/96"),
            ),
        )

    def test_trustedProxiesAreNormalisedTheSameWay(self) -> None:
        daemon = read("[hookdaemon]\ntrusted_proxies = ::ffff:10.9.0.0/112\n").daemon
        self.assertEqual(daemon.trusted_proxies, (ipaddress.IPv4Network("10.9.0.0/16"),))


class CommandTests(ConfigTestCase):
    def test_oneStepPerLine(self) -> None:
        hook = read(
            "[hook:site]\nworkdir = /srv\ncommand =\n"
            "    git fetch origin\n"
            "\n"
            "    git reset --hard 'origin/${HOOK_BRANCH}'\n"
        ).hooks["site"]
        self.assertEqual(
            hook.steps,
            (
                Step(text="git fetch origin", words=("git", "fetch", "origin")),
                Step(
                    text="git reset --hard 'origin/${HOOK_BRANCH}'",
                    words=("git", "reset", "--hard", "origin/${HOOK_BRANCH}"),
                ),
            ),
        )

    def test_unbalancedQuotes(self) -> None:
        self.assertEqual(
            self.problems('[hook:site]\nworkdir = /srv\ncommand = echo "oops\n'),
            [
                f"{SOURCE}: [hook:site] command: step 1 (line 3) cannot be split into words: "
                "a quote is not closed"
            ],
        )

    def test_stepAndFileLineAreNamed(self) -> None:
        """Comment and blank lines inside the value count as the file counts them."""
        self.assertEqual(
            self.problems(
                "[hook:site]\nworkdir = /srv\ncommand =\n"
                "    git fetch origin\n"
                "    # the deploy\n"
                "\n"
                "    ./build\n"
                f"    curl -H 'Authorization: token {TOKEN}\n"
            ),
            [
                f"{SOURCE}: [hook:site] command: step 3 (line 8) cannot be split into words: "
                "a quote is not closed"
            ],
        )

    def test_unknownHookVariable(self) -> None:
        self.assertEqual(
            self.problems("[hook:site]\nworkdir = /srv\ncommand = git reset --hard $HOOK_SHA\n"),
            [
                f"{SOURCE}: [hook:site] command: step 1 (line 3) uses $HOOK_SHA, "
                "which is not one of HOOK_NAME, HOOK_JOB, HOOK_FORGE, HOOK_EVENT, "
                "HOOK_DELIVERY, HOOK_REF, HOOK_BRANCH, HOOK_TAG, HOOK_BEFORE, HOOK_AFTER, "
                "HOOK_REPOSITORY, HOOK_CLONE_URL, HOOK_PUSHER, HOOK_PAYLOAD"
            ],
        )

    def test_unknownBracedVariable(self) -> None:
        problems = self.problems("[hook:site]\nworkdir = /srv\ncommand = echo ${HOME}\n")
        self.assertEqual(len(problems), 1)
        self.assertTrue(
            problems[0].startswith(
                f"{SOURCE}: [hook:site] command: step 1 (line 3) uses $HOME, which is not one of"
            )
        )

    def test_shellStepsMayUseShellVariables(self) -> None:
        """With shell = yes, ${HOME} is the shell's; a misspelt HOOK_ name is still caught."""
        hook = read(
            "[hook:site]\nworkdir = /srv\nshell = yes\ncommand = cd ${HOME}/site; make\n"
        ).hooks["site"]
        self.assertEqual(hook.steps[0].text, "cd ${HOME}/site; make")
        problems = self.problems(
            "[hook:site]\nworkdir = /srv\nshell = yes\ncommand = echo ${HOOK_SHA}\n"
        )
        self.assertEqual(len(problems), 1)
        self.assertIn("uses $HOOK_SHA, which is not one of", problems[0])

    def test_semicolonAfterSpaceStartsAComment(self) -> None:
        """In command, a `;` is the shell's; only a line starting with `;` is a comment."""
        hook = read(
            "[hook:site]\nworkdir = /srv ; where\nshell = yes ; comment\ncommand =   ; the steps\n"
            "    make ; make install\n"
            "    ; a comment line\n"
            "    make clean; true\n"
        ).hooks["site"]
        self.assertEqual(
            [step.text for step in hook.steps], ["make ; make install", "make clean; true"]
        )
        self.assertEqual(hook.workdir, "/srv")
        self.assertTrue(hook.shell)


class EnvTests(ConfigTestCase):
    def test_keyValueLines(self) -> None:
        hook = read(HOOK + "env =\n    DEPLOY_ENV = test\n    OPTS=--a=b --c\n    _X=\n").hooks[
            "site"
        ]
        self.assertEqual(hook.env, {"DEPLOY_ENV": "test", "OPTS": "--a=b --c", "_X": ""})

    def test_badLines(self) -> None:
        self.assertEqual(
            self.problems(HOOK + "env =\n    NOVALUE\n    1ST=x\n    =x\n    GOOD=1\n"),
            [
                f"{SOURCE}: [hook:site] env: line {n} is not KEY=VALUE (KEY: letters, digits "
                "and _, not starting with a digit)"
                for n in (5, 6, 7)
            ],
        )

    def test_badLineIsNamedNotQuoted(self) -> None:
        """As issue 11 saw it: a '-' in the name, a token as the value."""
        self.assertEqual(
            self.problems(HOOK + f"env = DEPLOY_ENV=test\n    DEPLOY-TOKEN={TOKEN}\n"),
            [
                f"{SOURCE}: [hook:site] env: line 5 is not KEY=VALUE (KEY: letters, digits "
                "and _, not starting with a digit)"
            ],
        )


class ShippedConfigTests(SynchronousTestCase):
    def test_loadsWithoutProblemsOrWarnings(self) -> None:
        """The tap.cfg in the repository starts as is, on loopback only."""
        config = load_config(SHIPPED, environ={})
        self.assertEqual(config.source, SHIPPED)
        self.assertEqual(config.warnings, ())
        self.assertEqual(config.daemon.listen, ("tcp:9000:interface=127.0.0.1",))
        self.assertEqual(list(config.hooks), ["example"])
        example = config.hooks["example"]
        self.assertEqual(example.forge, "generic")
        self.assertEqual(
            example.allow_from,
            (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128")),
        )
        self.assertEqual(example.workdir, os.path.dirname(SHIPPED))
        self.assertTrue(example.steps)

    def test_itsDaemonSectionShowsTheDefaults(self) -> None:
        """tap.cfg's [hookdaemon] writes out defaults: leaving a key out changes nothing."""
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(SHIPPED, encoding="utf-8")
        shown = dict(parser["hookdaemon"])
        self.assertTrue(shown)
        self.assertEqual(shown, {key: DAEMON_DEFAULTS[key] for key in shown})

    def test_loadMissingFile(self) -> None:
        path = os.path.abspath(self.mktemp())
        error = self.assertRaises(ConfigError, load_config, path, {})
        self.assertEqual(
            [str(problem) for problem in error.problems],
            [f"{path}: [-]: cannot read: No such file or directory"],
        )

    def test_loadNotUTF8(self) -> None:
        path = os.path.abspath(self.mktemp())
        with open(path, "wb") as f:
            f.write(b"[hook:site]\nworkdir = /srv/\xff\n")
        error = self.assertRaises(ConfigError, load_config, path, {})
        self.assertEqual(
            [str(problem) for problem in error.problems], [f"{path}: [-]: is not UTF-8 text"]
        )


class SignatureHeaderConfigTests(SynchronousTestCase):
    def test_onlyForGeneric(self) -> None:
        with self.assertRaises(ConfigError) as caught:
            read(
                "[hook:site]\nforge = github\nsecret = x\nsignature_header = X-Sig\n"
                "workdir = /srv\ncommand = true\n"
            )
        self.assertIn(
            "[hook:site] signature_header: only applies to forge = generic",
            str(caught.exception),
        )

    def test_needsASecret(self) -> None:
        with self.assertRaises(ConfigError) as caught:
            read("[hook:site]\nsignature_header = X-Sig\nworkdir = /srv\ncommand = true\n")
        self.assertIn(
            "[hook:site] signature_header: needs a secret: the HMAC-SHA256 key",
            str(caught.exception),
        )


class LimitKeysTests(ConfigTestCase):
    def test_rateDefaultsToNoLimit(self) -> None:
        self.assertIsNone(read(HOOK).hooks["site"].rate)

    def test_ratePerSecondMinuteHour(self) -> None:
        for text, expected in [
            ("5/second", Rate(5, 1.0)),
            ("30/minute", Rate(30, 60.0)),
            ("100/hour", Rate(100, 3600.0)),
        ]:
            self.assertEqual(read(HOOK + f"rate = {text}\n").hooks["site"].rate, expected)

    def test_badRates(self) -> None:
        for text in ("30", "0/minute", "x/minute", "30/day", "-1/second"):
            self.assertEqual(
                self.problems(HOOK + f"rate = {text}\n"),
                [
                    f"{SOURCE}: [hook:site] rate: is not N/second, N/minute or "
                    "N/hour with N at least 1"
                ],
            )

    def test_requestTimeoutAndMaxConnections(self) -> None:
        daemon = read("[hookdaemon]\nrequest_timeout = 5\nmax_connections = 20\n").daemon
        self.assertEqual((daemon.request_timeout, daemon.max_connections), (5.0, 20))
        defaults = read("").daemon
        self.assertEqual((defaults.request_timeout, defaults.max_connections), (30.0, 256))

    def test_maxQueued(self) -> None:
        self.assertEqual(read(HOOK).hooks["site"].max_queued, 100)
        self.assertEqual(read(HOOK + "max_queued = 3\n").hooks["site"].max_queued, 3)
        self.assertEqual(
            self.problems(HOOK + "max_queued = 0\n"),
            [f"{SOURCE}: [hook:site] max_queued: must be at least 1"],
        )

    def test_badMaxConnections(self) -> None:
        self.assertEqual(
            self.problems("[hookdaemon]\nmax_connections = 0\n"),
            [f"{SOURCE}: [hookdaemon] max_connections: must be at least 1"],
        )


class NoValueInMessagesTests(ConfigTestCase):
    """
    Issue 11 part 5: a step, an env line or an endpoint may hold a token, and an
    indented line meant for one key continues whichever key is above it. No
    problem or warning quotes a value, whatever key it landed under.
    """

    def messages(self, text: str, environ: Mapping[str, str] | None = None) -> list[str]:
        try:
            config = read(text, environ)
        except ConfigError as e:
            return [str(problem) for problem in e.problems]
        return [str(warning) for warning in config.warnings]

    def test_tokenUnderEveryKey(self) -> None:
        keys = sorted(HOOK_KEYS - {"workdir", "command"})
        for key in keys:
            for value in (TOKEN, f"'{TOKEN}", f"x\n    {TOKEN}", f"x\n    A-B={TOKEN}"):
                shown = self.messages(HOOK + f"{key} = {value}\n")
                self.assertEqual([m for m in shown if TOKEN in m], [], (key, value))
        for key in sorted(DAEMON_KEYS):
            for value in (TOKEN, f"x\n    {TOKEN}"):
                shown = self.messages(f"[hookdaemon]\n{key} = {value}\n" + HOOK)
                self.assertEqual([m for m in shown if TOKEN in m], [], (key, value))

    def test_tokenInCommandAndEnv(self) -> None:
        for text in (
            f"[hook:site]\nworkdir = /srv\ncommand = curl -H 'Authorization: token {TOKEN}\n",
            f"[hook:site]\nworkdir = /srv\ncommand = curl {TOKEN}/$HOOK_SHA\n",
            f"[hook:site]\nworkdir = /srv\ncommand = curl {TOKEN}\\\n",
            f"[hook:site]\nworkdir = /srv\nshell = yes\ncommand = curl {TOKEN} $HOOK_REF\n",
            f"[hook:site]\nworkdir = /srv\ncommand = sh -c 'curl {TOKEN} $HOOK_REF'\n",
            HOOK + f"env =\n    DEPLOY-TOKEN={TOKEN}\n    {TOKEN}\n",
        ):
            shown = self.messages(text)
            self.assertTrue(shown, text)
            self.assertEqual([m for m in shown if TOKEN in m], [], text)

    def test_tokenThatLostItsIndent(self) -> None:
        for line in (TOKEN, f"curl -u deploy:{TOKEN} x", f"mysql -p{TOKEN} -e 'x=1'"):
            shown = self.messages(HOOK + "env =\n    A=1\n" + line + "\n")
            self.assertTrue(shown, line)
            self.assertEqual([m for m in shown if TOKEN in m], [], line)

    def test_secretsNeverShown(self) -> None:
        for text, environ in [
            (HOOK + f"forge = gitlab\nsecret = whsec_{TOKEN}!\n", {}),
            (HOOK + "forge = gitlab\nsecret = env:S\n", {"S": f"whsec_{TOKEN}!"}),
            (f"[hookdaemon]\nstatus_token = {TOKEN}\n" + HOOK, {}),
            (f"[hookdaemon]\nstatus_token = env:X\n    {TOKEN} {TOKEN}\n" + HOOK, {"X": "x"}),
            (f"[hookdaemon]\noperator_token = {TOKEN}\n" + HOOK, {}),
            (HOOK + f"basic_auth = {TOKEN}\n", {}),
            (HOOK + "basic_auth = env:B\n", {"B": TOKEN}),
        ]:
            shown = self.messages(text, environ)
            self.assertTrue(shown, text)
            self.assertEqual([m for m in shown if TOKEN in m], [], text)

    def test_oneLineKeyGoingOnIsAProblem(self) -> None:
        """An env line indented under timeout would otherwise be quoted as a bad number."""
        self.assertEqual(
            self.problems(HOOK + "env = A=1\ntimeout = 600\n    ; more env\n    B=2\n"),
            [
                f"{SOURCE}: [hook:site] timeout: goes on to line 7, but takes one line; "
                "an indented line continues the key above it"
            ],
        )

    def test_valueOnTheNextLineIsOneLine(self) -> None:
        config = read(HOOK + "secret =\n    env:S\n", environ={"S": "s3cret"})
        self.assertEqual(config.hooks["site"].secret, Secret(origin="env:S", value=b"s3cret"))


class GitLabSigningTokenTests(ConfigTestCase):
    """Issue 11 part 7: a whsec_ secret is a base64 key, or the config says why not."""

    KEY = base64.b64encode(bytes(range(32))).decode()

    def test_keyWithoutPaddingIsAccepted(self) -> None:
        self.assertTrue(self.KEY.endswith("="))
        for forge in ("gitlab", "auto"):
            secret = f"whsec_{self.KEY.rstrip('=')}"
            hook = read(HOOK + f"forge = {forge}\nsecret = env:S\n", environ={"S": secret})
            site = hook.hooks["site"]
            assert site.secret is not None
            self.assertEqual(site.secret.value, secret.encode())
            padded = read(HOOK + f"forge = {forge}\nsecret = env:S\n", {"S": f"whsec_{self.KEY}"})
            self.assertIsNotNone(padded.hooks["site"].secret)

    def test_notBase64IsAProblem(self) -> None:
        """Named by its origin; a literal is "the secret", never its text."""
        for forge in ("gitlab", "auto"):
            for origin, environ, named in [
                ("env:GL_SECRET", {"GL_SECRET": "whsec_abc!def"}, "env:GL_SECRET"),
                ("whsec_abcde", {}, "the secret"),
                ("whsec_", {}, "the secret"),
            ]:
                self.assertEqual(
                    self.problems(HOOK + f"forge = {forge}\nsecret = {origin}\n", environ),
                    [
                        f"{SOURCE}: [hook:site] secret: {named} starts with whsec_ but what "
                        "follows is not a base64 key; copy the signing token from GitLab again, "
                        "whole"
                    ],
                )

    def test_keyNotOf32BytesIsAProblem(self) -> None:
        """
        A token cut short in a paste is still base64, of a shorter key: every
        delivery would be a 401. The message gives the length, never the text.
        """
        short = "whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0"  # 24 bytes
        for secret, length in [
            (short, 24),
            (f"whsec_{self.KEY[:-4]}", 30),
            (f"whsec_{self.KEY[:-2]}", 31),
            ("whsec_" + base64.b64encode(bytes(range(33))).decode(), 33),
            ("whsec_" + base64.b64encode(bytes(64)).decode(), 64),
        ]:
            for forge in ("gitlab", "auto"):
                problems = self.problems(
                    HOOK + f"forge = {forge}\nsecret = env:GL\n", {"GL": secret}
                )
                self.assertEqual(
                    problems,
                    [
                        f"{SOURCE}: [hook:site] secret: env:GL starts with whsec_ but what "
                        f"follows decodes to {length} bytes, and a GitLab signing key is 32; "
                        "copy the signing token from GitLab again, whole"
                    ],
                    secret,
                )
                self.assertNotIn(secret.removeprefix("whsec_")[:8], problems[0])

    def test_literalKeyCutShort(self) -> None:
        self.assertEqual(
            self.problems(HOOK + f"forge = gitlab\nsecret = whsec_{self.KEY[:-8]}\n"),
            [
                f"{SOURCE}: [hook:site] secret: the secret starts with whsec_ but what follows "
                "decodes to 27 bytes, and a GitLab signing key is 32; copy the signing token "
                "from GitLab again, whole"
            ],
        )

    def test_fromAFile(self) -> None:
        files = FakeFiles({"/run/gl": b"whsec_abc!def\n"})
        self.assertEqual(
            self.problems(HOOK + "forge = gitlab\nsecret = file:/run/gl\n", files=files),
            [
                f"{SOURCE}: [hook:site] secret: file:/run/gl starts with whsec_ but what "
                "follows is not a base64 key; copy the signing token from GitLab again, whole"
            ],
        )

    def test_otherForgesUseTheSecretAsItIs(self) -> None:
        """GitHub or Gitea sign with the text itself: whsec_ means nothing to them."""
        for forge in ("github", "gitea", "generic"):
            site = read(HOOK + f"forge = {forge}\nsecret = env:S\n", {"S": "whsec_a!"})
            assert site.hooks["site"].secret is not None


class ShellQuotingWarningTests(ConfigTestCase):
    """Issue 11 part 7: sh splits and globs an unquoted $HOOK_X; --check says so."""

    def warnings(self, keys: str) -> list[str]:
        text = "[hook:site]\nworkdir = /srv\nallow_from = 127.0.0.1\n" + keys
        return [str(warning) for warning in read(text).warnings]

    def test_unquotedIsWarned(self) -> None:
        self.assertEqual(
            self.warnings(
                "shell = yes\ncommand =\n"
                "    git fetch origin\n"
                "    git checkout $HOOK_BRANCH && echo ${HOOK_PUSHER} $HOOK_BRANCH\n"
            ),
            [
                f"{SOURCE}: [hook:site] command: step 2 (line 7) leaves $HOOK_BRANCH and "
                "$HOOK_PUSHER unquoted, so sh splits its value into words and expands * and ? "
                'in it to file names; write "$HOOK_BRANCH" in double quotes'
            ],
        )

    def test_singleQuotedIsWarned(self) -> None:
        self.assertEqual(
            self.warnings("shell = yes\ncommand = git reset --hard 'origin/${HOOK_BRANCH}'\n"),
            [
                f"{SOURCE}: [hook:site] command: step 1 (line 5) has $HOOK_BRANCH inside single "
                'quotes, where sh does not expand it; write "$HOOK_BRANCH" in double quotes '
                "for its value"
            ],
        )

    def test_fixedFormValuesMayGoUnquoted(self) -> None:
        """A job number, a hook's or a forge's name: no space, glob or syntax in them."""
        self.assertEqual(
            self.warnings("shell = yes\ncommand = echo $HOOK_JOB $HOOK_NAME ${HOOK_FORGE}\n"), []
        )

    def test_doubleQuotedIsQuiet(self) -> None:
        self.assertEqual(
            self.warnings(
                "shell = yes\ncommand =\n"
                "    printf '%s\\n' \"$HOOK_PUSHER\"\n"
                '    git checkout "origin/${HOOK_BRANCH}" && make  # $HOOK_REF\n'
                "    for f in *; do echo $f; done\n"
            ),
            [],
        )

    def test_evalAndShDashCAreWarnedAsCode(self) -> None:
        """shell = yes: eval and sh -c parse the value; the warning says how to pass it instead."""
        for command in ('eval "echo $HOOK_PUSHER"', 'sh -c "git checkout $HOOK_PUSHER"'):
            self.assertEqual(
                self.warnings(f"shell = yes\ncommand = {command}\n"),
                [
                    f"{SOURCE}: [hook:site] command: step 1 (line 5) gives $HOOK_PUSHER to eval "
                    "or to the script of sh -c, where its value is read as shell code and a ; or "
                    "$(...) in it runs; pass it as an argument instead, as in "
                    'sh -c \'... "$1"\' sh "$HOOK_PUSHER"'
                ],
                command,
            )
        self.assertEqual(
            self.warnings('shell = yes\ncommand = sh -c \'echo "$1"\' sh "$HOOK_PUSHER"\n'), []
        )

    def test_substitutionsHaveTheirOwnQuotes(self) -> None:
        self.assertEqual(
            self.warnings(
                "shell = yes\ncommand =\n"
                "    echo \"$(printf '%s|' $HOOK_PUSHER)\"\n"
                '    git checkout $(printf %s "$HOOK_BRANCH")\n'
            ),
            [
                f"{SOURCE}: [hook:site] command: step 1 (line 6) leaves $HOOK_PUSHER unquoted, "
                "so sh splits its value into words and expands * and ? in it to file names; "
                'write "$HOOK_PUSHER" in double quotes',
                f"{SOURCE}: [hook:site] command: step 2 (line 7) uses $HOOK_BRANCH in a $(...) "
                "or `...` that is not in double quotes, so sh splits its output into words and "
                'expands * and ? in it to file names; write "$(...)" in double quotes',
            ],
        )

    def test_assignmentIsQuiet(self) -> None:
        """sh does not split the value of an assignment word; export's argument is warned."""
        self.assertEqual(self.warnings('shell = yes\ncommand = A=$HOOK_PUSHER; echo "$A"\n'), [])
        self.assertEqual(
            len(self.warnings('shell = yes\ncommand = export A=$HOOK_PUSHER; echo "$A"\n')), 1
        )

    def test_withoutAShellQuotesAreWords(self) -> None:
        """shell = no: '${HOOK_BRANCH}' is substituted as one argv item, so nothing to warn."""
        self.assertEqual(
            self.warnings("command = git checkout '${HOOK_BRANCH}' $HOOK_AFTER\n"), []
        )

    def test_scriptOfShDashCIsWarned(self) -> None:
        """shell = no pastes the value into the text sh -c parses: there it is code."""
        self.assertEqual(
            self.warnings("command = sh -c 'git checkout $HOOK_BRANCH'\n"),
            [
                f"{SOURCE}: [hook:site] command: step 1 (line 4) puts $HOOK_BRANCH into the "
                "script a shell runs with -c, where a value is read as shell code; pass it as "
                "an argument instead, as in sh -c 'git checkout \"$1\"' sh $HOOK_BRANCH"
            ],
        )
        self.assertEqual(self.warnings("command = sh -c 'echo job $HOOK_JOB'\n"), [])
        self.assertEqual(
            self.warnings("command = sh -c 'git checkout \"$1\"' sh ${HOOK_BRANCH}\n"), []
        )


README = os.path.join(os.path.dirname(SHIPPED), "README.md")


def readme_defaults(heading: str) -> dict[str, str | None]:
    """
    The key and default columns of README's table under C{heading}: C{`text`} is
    that text, C{empty} the empty text, C{required} None.
    """
    with open(README, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = lines.index(heading)
    found: dict[str, str | None] = {}
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if not line.startswith("| `"):
            continue
        key, default = (cell.strip() for cell in line.split("|")[1:3])
        if default == "required":
            found[key.strip("`")] = None
        else:
            found[key.strip("`")] = "" if default == "empty" else default.strip("`")
    return found


class DefaultsTests(SynchronousTestCase):
    """Each key's default is written once, in DAEMON_DEFAULTS or HOOK_DEFAULTS."""

    def test_readmeListsTheDaemonDefaults(self) -> None:
        self.assertEqual(readme_defaults("### `[hookdaemon]`"), dict(DAEMON_DEFAULTS))

    def test_readmeListsTheHookDefaults(self) -> None:
        self.assertEqual(
            readme_defaults("### `[hook:NAME]`"),
            {**HOOK_DEFAULTS, **dict.fromkeys(REQUIRED_HOOK_KEYS)},
        )

    def test_everyDefaultIsReadAsTheClassDefault(self) -> None:
        """The defaults the config classes carry for their users are the parser's own."""
        daemon = read(HOOK).daemon
        hook = read(HOOK).hooks["site"]
        for attribute in attrs.fields(DaemonConfig):
            if attribute.default is not attrs.NOTHING:
                self.assertEqual(
                    getattr(daemon, attribute.name), attribute.default, attribute.name
                )
        for attribute in attrs.fields(HookConfig):
            if attribute.default is not attrs.NOTHING:
                self.assertEqual(getattr(hook, attribute.name), attribute.default, attribute.name)

    def test_everyKeyLeftOutIsItsDefault(self) -> None:
        """Writing a default out reads the same as leaving the key out."""
        written = "[hookdaemon]\n" + "".join(
            f"{key} = {value}\n" for key, value in DAEMON_DEFAULTS.items()
        )
        written += HOOK + "".join(f"{key} = {value}\n" for key, value in HOOK_DEFAULTS.items())
        self.assertEqual(read(written).daemon, read(HOOK).daemon)
        self.assertEqual(read(written).hooks, read(HOOK).hooks)
        self.assertEqual(DAEMON_KEYS, frozenset(DAEMON_DEFAULTS))
        self.assertEqual(HOOK_KEYS, frozenset(HOOK_DEFAULTS) | REQUIRED_HOOK_KEYS)
