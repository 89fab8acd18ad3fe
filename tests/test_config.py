"""
Tests for L{hookdaemon.config}: tap.cfg text in, frozen objects or every
problem out, each as C{FILE: [section] key: what is wrong}.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.command import Step
from hookdaemon.config import (
    DEFAULT_LISTEN,
    Config,
    ConfigError,
    Rate,
    Secret,
    load_config,
    parse_config,
)

SOURCE = "/etc/hookdaemon/tap.cfg"
SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tap.cfg")

HOOK = "[hook:site]\nworkdir = /srv/site\ncommand = true\n"


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
        self.assertIsNone(daemon.status_token)

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
        self.assertEqual(daemon.status_token, Secret(origin="env:STATUS", value=b"watch"))

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
                f"{SOURCE}: [hookdaemon] log_max_bytes: 100 is less than 1024",
                f"{SOURCE}: [hookdaemon] log_keep: 0 is less than 1",
                f"{SOURCE}: [hookdaemon] max_body: 'lots' is not a whole number",
                f"{SOURCE}: [hookdaemon] max_parallel: -1 is less than 1",
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
                "'proxy.local' is not an IP address or CIDR network"
            ],
        )


class UnknownNamesTests(ConfigTestCase):
    def test_unknownHookKey(self) -> None:
        """A misspelt key is an error that lists the keys that exist."""
        self.assertEqual(
            self.problems(HOOK + "comand = true\n"),
            [
                f"{SOURCE}: [hook:site] comand: unknown key (known keys: allow_from, branches, "
                "burst, command, env, events, forge, kill_grace, max_queued, rate, repository, "
                "secret, shell, signature_header, "
                "tags, timeout, workdir)"
            ],
        )

    def test_unknownDaemonKey(self) -> None:
        self.assertEqual(
            self.problems("[hookdaemon]\nport = 9000\n"),
            [
                f"{SOURCE}: [hookdaemon] port: unknown key (known keys: history, listen, "
                "log_dir, log_keep, log_max_bytes, max_body, max_connections, max_parallel, "
                "request_timeout, state_dir, status_token, stop_grace, trusted_proxies)"
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
        self.assertEqual(
            self.problems(HOOK + HOOK),
            [f"{SOURCE}: [hook:site]: appears twice (line 4)"],
        )

    def test_syntaxErrorNamesFile(self) -> None:
        problems = self.problems("workdir = /srv\n")
        self.assertEqual(len(problems), 1)
        self.assertTrue(problems[0].startswith(f"{SOURCE}: "))
        self.assertIn("no section headers", problems[0])


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
                f"{SOURCE}: [hookdaemon] colour: unknown key (known keys: history, listen, "
                "log_dir, log_keep, log_max_bytes, max_body, max_connections, max_parallel, "
                "request_timeout, state_dir, status_token, stop_grace, trusted_proxies)",
                f"{SOURCE}: [hookdaemon] log_keep: 'none' is not a whole number",
                f"{SOURCE}: [hook:api] forge: 'githab' is not one of: "
                "auto, github, gitlab, gitea, forgejo, gogs, bitbucket, "
                "bitbucket-server, generic",
                f"{SOURCE}: [hook:api] workdir: is required: the directory the commands run in",
                f"{SOURCE}: [hook:api] secret: env:API_SECRET is not set in the daemon's "
                "environment",
                f"{SOURCE}: [hook:api] timeout: 0 must be a positive number of seconds",
                f"{SOURCE}: [hook:web] shell: 'maybe' is not yes or no",
                f'{SOURCE}: [hook:web] command: cannot split "echo \'unbalanced" into words: '
                "No closing quotation",
                f"{SOURCE}: [hook:web] burst: 'all' is not one of: coalesce, queue",
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
        self.assertEqual(
            self.problems(HOOK + "timeout = soon\n"),
            [f"{SOURCE}: [hook:site] timeout: 'soon' is not a number of seconds"],
        )
        self.assertEqual(
            self.problems(HOOK + "timeout = nan\n"),
            [f"{SOURCE}: [hook:site] timeout: nan must be a positive number of seconds"],
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
            self.problems(HOOK + "allow_from = 10.0.0.300 10.0.0.1 git.example.com 10.0.0.0/33\n"),
            [
                f"{SOURCE}: [hook:site] allow_from: '10.0.0.300' is not an IP address or CIDR "
                "network",
                f"{SOURCE}: [hook:site] allow_from: 'git.example.com' is not an IP address or "
                "CIDR network",
                f"{SOURCE}: [hook:site] allow_from: '10.0.0.0/33' is not an IP address or CIDR "
                "network",
            ],
        )


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
                f"{SOURCE}: [hook:site] command: cannot split 'echo \"oops' into words: "
                "No closing quotation"
            ],
        )

    def test_unknownHookVariable(self) -> None:
        self.assertEqual(
            self.problems("[hook:site]\nworkdir = /srv\ncommand = git reset --hard $HOOK_SHA\n"),
            [
                f"{SOURCE}: [hook:site] command: 'git reset --hard $HOOK_SHA' uses $HOOK_SHA, "
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
                f"{SOURCE}: [hook:site] command: 'echo ${{HOME}}' uses $HOME, which is not one of"
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
                f"{SOURCE}: [hook:site] env: 'NOVALUE' is not KEY=VALUE",
                f"{SOURCE}: [hook:site] env: '1ST=x' is not KEY=VALUE",
                f"{SOURCE}: [hook:site] env: '=x' is not KEY=VALUE",
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
                    f"{SOURCE}: [hook:site] rate: {text!r} is not N/second, N/minute or "
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
            [f"{SOURCE}: [hook:site] max_queued: 0 is less than 1"],
        )

    def test_badMaxConnections(self) -> None:
        self.assertEqual(
            self.problems("[hookdaemon]\nmax_connections = 0\n"),
            [f"{SOURCE}: [hookdaemon] max_connections: 0 is less than 1"],
        )
