"""
Tests for L{hookdaemon.config_source}: what a daemon reads (a tap.cfg, adnanh/webhook
hooks files, or both) and the command line's options for them, as plain values:
every file is read through the C{read_file} handed in, with the C{environ} handed in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.command import Step
from hookdaemon.config import (
    DAEMON_DEFAULTS,
    HOOK_DEFAULTS,
    Config,
    ConfigError,
    HookConfig,
    ReportTarget,
    Secret,
    parse_config,
)
from hookdaemon.config_change import compare
from hookdaemon.config_source import ConfigSource, file_hook_config, load_source
from hookdaemon.hooksfile.answers import NO_FRONT_END, FrontEnd
from hookdaemon.hooksfile.definition import Extras, LoadedHook
from hookdaemon.hooksfile.model import FileHook, Header, Match
from hookdaemon.hooksfile.template import TemplateFunctions
from tests.fake_api import TestCA
from tests.test_config import FakeFiles

DIRECTORY = "/etc/hookdaemon"
TAP = f"{DIRECTORY}/tap.cfg"
HOOKS = f"{DIRECTORY}/hooks.json"
MORE = f"{DIRECTORY}/more.yaml"

TAP_TEXT = (
    "[hookdaemon]\nlisten = tcp:8123:interface=127.0.0.1\n"
    "[hook:site]\nallow_from = 127.0.0.1\nworkdir = /srv/site\ncommand = git pull\n"
)
HOOKS_TEXT = """[
  {"id": "deploy", "execute-command": "/srv/deploy.sh",
   "trigger-rule": {"match": {"type": "value", "value": "s3cret",
                              "parameter": {"source": "header", "name": "X-Token"}}}},
  {"id": "ping", "execute-command": "/bin/true"}
]"""
MORE_TEXT = "- id: build\n  execute-command: /srv/build.sh\n"
PING_YAML = "- id: ping\n  execute-command: /bin/true\n"

TOKEN_RULE = (
    '"trigger-rule": {"match": {"type": "value", "value": "{{ getenv "DEPLOY_TOKEN" }}",'
    ' "parameter": {"source": "header", "name": "X-Token"}}}'
)
TEMPLATED = f'[\n  {{"id": "deploy", "execute-command": "/bin/true",\n   {TOKEN_RULE}}}\n]'


def load(
    source: ConfigSource,
    files: Mapping[str, str | bytes],
    environ: Mapping[str, str] | None = None,
    functions: TemplateFunctions | None = None,
) -> Config:
    given = FakeFiles(
        {path: text if isinstance(text, bytes) else text.encode() for path, text in files.items()}
    )
    return load_source(source, environ or {}, given, functions)


def hooks_only(*paths: str, **options: object) -> ConfigSource:
    """What C{--hooks PATH ...} without C{--config} says to read."""
    return ConfigSource(config=None, hooks=paths, **options)  # type: ignore[arg-type]


class ConfigSourceTestCase(SynchronousTestCase):
    def problems(
        self,
        source: ConfigSource,
        files: Mapping[str, str | bytes],
        environ: Mapping[str, str] | None = None,
    ) -> list[str]:
        """The problem lines C{source} is refused with."""
        error = self.assertRaises(ConfigError, load, source, files, environ)
        return [str(problem) for problem in error.problems]


class TapCfgAloneTests(ConfigSourceTestCase):
    def test_readAsBefore(self) -> None:
        """A tap.cfg alone is what parse_config makes of it, with no front end."""
        files = FakeFiles({TAP: TAP_TEXT.encode()})
        config = load_source(ConfigSource(config=TAP), {}, files)
        parsed = parse_config(TAP_TEXT, TAP, {}, files)
        self.assertEqual(config.source, TAP)
        self.assertEqual(config.daemon, parsed.daemon)
        self.assertEqual(config.hooks, parsed.hooks)
        self.assertEqual(config.warnings, parsed.warnings)
        self.assertEqual(config.front, NO_FRONT_END)
        self.assertEqual(config.origin, ConfigSource(config=TAP))
        self.assertEqual(config.hooks["site"].path, "/hooks/site")

    def test_itsProblemsAsBefore(self) -> None:
        [line] = self.problems(ConfigSource(config=TAP), {TAP: "[hookdaemon]\ncolour = blue\n"})
        self.assertTrue(line.startswith(f"{TAP}: [hookdaemon] colour: unknown key"), line)
        self.assertEqual(
            self.problems(ConfigSource(config=TAP), {}),
            [f"{TAP}: [-]: cannot read: No such file or directory"],
        )


class HooksFilesAloneTests(ConfigSourceTestCase):
    def test_noTapCfgIsRead(self) -> None:
        files = FakeFiles({HOOKS: HOOKS_TEXT.encode()})
        config = load_source(hooks_only(HOOKS), {}, files)
        self.assertEqual(files.asked, [HOOKS])
        self.assertEqual(list(config.hooks), ["deploy", "ping"])
        self.assertEqual(config.source, HOOKS)

    def test_stateAndLogsUnderTheWorkingDirectoryAndTheDefaultListen(self) -> None:
        """As a tap.cfg with no [hookdaemon] section in the working directory would say."""
        daemon = load(hooks_only(HOOKS), {HOOKS: HOOKS_TEXT}).daemon
        self.assertEqual(daemon.state_dir, os.path.join(os.getcwd(), "var"))
        self.assertEqual(daemon.log_dir, os.path.join(os.getcwd(), "var", "log"))
        self.assertEqual(daemon.listen, (DAEMON_DEFAULTS["listen"],))
        self.assertEqual(daemon.max_parallel, int(DAEMON_DEFAULTS["max_parallel"]))

    def test_eachHookAsTheRestOfHookdaemonSeesOne(self) -> None:
        config = load(hooks_only(HOOKS), {HOOKS: HOOKS_TEXT})
        deploy = config.hooks["deploy"]
        self.assertEqual(deploy.forge, "webhook")
        self.assertEqual(deploy.path, "/hooks/deploy")
        # webhook runs a command in its own working directory when the hook names none.
        self.assertEqual(deploy.workdir, os.getcwd())
        self.assertEqual(deploy.steps, (Step(text="/srv/deploy.sh", words=("/srv/deploy.sh",)),))
        self.assertFalse(deploy.shell)
        assert deploy.hooks_file is not None
        self.assertEqual(deploy.hooks_file.source, HOOKS)
        rule = deploy.hooks_file.trigger_rule
        assert isinstance(rule, Match)
        self.assertEqual((rule.type, rule.value), ("value", "s3cret"))
        self.assertEqual(
            config.front,
            FrontEnd(hooks_files=(HOOKS,), url_prefix="hooks", http_methods=(), headers=()),
        )
        self.assertEqual(config.origin, hooks_only(HOOKS))

    def test_severalFilesJSONAndYAMLInTheOrderGiven(self) -> None:
        config = load(hooks_only(HOOKS, MORE), {HOOKS: HOOKS_TEXT, MORE: MORE_TEXT})
        self.assertEqual(list(config.hooks), ["deploy", "ping", "build"])
        sources = {name: hook.hooks_file.source for name, hook in config.hooks.items()}  # type: ignore[union-attr]
        self.assertEqual(sources, {"deploy": HOOKS, "ping": HOOKS, "build": MORE})
        self.assertEqual(config.front.hooks_files, (HOOKS, MORE))
        self.assertEqual(config.source, HOOKS)

    def test_theSameIdInTwoFilesNamesBoth(self) -> None:
        again = "- id: ping\n  execute-command: /bin/false\n"
        self.assertEqual(
            self.problems(hooks_only(HOOKS, MORE), {HOOKS: HOOKS_TEXT, MORE: again}),
            [
                f"{MORE}: hook ping: id: is also the name of a hook in {HOOKS}; hook names are"
                " one namespace, so rename one of them"
            ],
        )

    def test_unreadableAndUndecodableFiles(self) -> None:
        self.assertEqual(
            self.problems(hooks_only(HOOKS, MORE), {MORE: b"\xff\xfe- id: x\n"}),
            [
                f"{HOOKS}: cannot read: No such file or directory",
                f"{MORE}: is not UTF-8 text",
            ],
        )


class TapCfgAndHooksFilesTests(ConfigSourceTestCase):
    def test_bothHooksServedWithTapCfgsDaemonSection(self) -> None:
        source = ConfigSource(config=TAP, hooks=(HOOKS, MORE))
        config = load(source, {TAP: TAP_TEXT, HOOKS: HOOKS_TEXT, MORE: MORE_TEXT})
        self.assertEqual(list(config.hooks), ["site", "deploy", "ping", "build"])
        self.assertEqual(config.source, TAP)
        self.assertEqual(config.daemon.listen, ("tcp:8123:interface=127.0.0.1",))
        self.assertEqual(config.daemon.state_dir, f"{DIRECTORY}/var")
        self.assertEqual(config.hooks["site"].forge, "generic")
        self.assertIsNone(config.hooks["site"].hooks_file)
        self.assertEqual(config.hooks["build"].forge, "webhook")
        self.assertEqual(source.label, f"{TAP}, {HOOKS}, {MORE}")

    def test_aNameInTapCfgAndAHooksFileNamesBothFiles(self) -> None:
        clash = '[{"id": "site", "execute-command": "/bin/true"}]'
        self.assertEqual(
            self.problems(ConfigSource(config=TAP, hooks=(HOOKS,)), {TAP: TAP_TEXT, HOOKS: clash}),
            [
                f"{HOOKS}: hook site: id: is also the name of a hook in {TAP}; hook names are"
                " one namespace, so rename one of them"
            ],
        )


class ListenTests(ConfigSourceTestCase):
    def test_listenReplacesTapCfgs(self) -> None:
        listen = ("tcp:8200:interface=127.0.0.1", "unix:/run/hookdaemon.sock")
        config = load(ConfigSource(config=TAP, listen=listen), {TAP: TAP_TEXT})
        self.assertEqual(config.daemon.listen, listen)

    def test_listenWithHooksAlone(self) -> None:
        config = load(hooks_only(HOOKS, listen=("tcp:8201",)), {HOOKS: HOOKS_TEXT})
        self.assertEqual(config.daemon.listen, ("tcp:8201",))


class HeaderTests(ConfigSourceTestCase):
    def test_nameEqualsValueSplitAtTheFirstEquals(self) -> None:
        """As webhook's ResponseHeaders.Set: strings.SplitN(value, "=", 2)."""
        source = hooks_only(HOOKS, headers=("X-Served-By=hookdaemon", "X-Query=a=b", "X-Empty="))
        self.assertEqual(
            load(source, {HOOKS: HOOKS_TEXT}).front.headers,
            (
                Header("X-Served-By", "hookdaemon"),
                Header("X-Query", "a=b"),
                Header("X-Empty", ""),
            ),
        )

    def test_withoutEqualsIsAProblem(self) -> None:
        """webhook refuses to start on it: "header flag must be in name=value format"."""
        source = hooks_only(HOOKS, headers=("X-Served-By",))
        self.assertEqual(
            self.problems(source, {HOOKS: HOOKS_TEXT}),
            ["the command line: [--header]: 'X-Served-By' is not in NAME=VALUE form"],
        )

    def test_aNameThatIsNoHeaderNameIsDroppedWithAWarning(self) -> None:
        """
        webhook starts with it, and Go's net/http never sends it (Header.writeSubset
        skips a name that is no token; seen from webhook 2.8.0 with -header "Bad Name=v"):
        dropped here too, as twisted.web refuses to write it and every answer would be a 500.
        """
        source = hooks_only(HOOKS, headers=("Bad Name=v", "=empty", "X-Ok=yes"))
        config = load(source, {HOOKS: HOOKS_TEXT})
        self.assertEqual(config.front.headers, (Header("X-Ok", "yes"),))
        self.assertEqual(
            [str(warning) for warning in config.warnings],
            [
                "the command line: [--header]: 'Bad Name' is not an HTTP header name, so"
                " webhook never sends the header: write the name alone, in letters, digits"
                " and -",
                "the command line: [--header]: '' is not an HTTP header name, so webhook"
                " never sends the header: write the name alone, in letters, digits and -",
            ],
        )

    def test_aLineBreakInAValueIsASpaceAndTheValueTrimmed(self) -> None:
        """Go's net/http makes line breaks spaces and trims a header's value."""
        source = hooks_only(HOOKS, headers=("X-Two=first\r\nsecond ",))
        config = load(source, {HOOKS: HOOKS_TEXT})
        self.assertEqual(config.front.headers, (Header("X-Two", "first  second"),))
        self.assertEqual(
            [str(warning) for warning in config.warnings],
            [
                "the command line: [--header]: X-Two: the value holds a line break, which"
                " webhook sends as a space: write the value on one line"
            ],
        )


class HttpMethodsTests(ConfigSourceTestCase):
    def methods(self, given: str) -> tuple[str, ...]:
        return load(hooks_only(HOOKS, http_methods=given), {HOOKS: HOOKS_TEXT}).front.http_methods

    def test_normalisedAsWebhookDoes(self) -> None:
        """webhook.go: strings.ToUpper(strings.ReplaceAll(methods, " ", "")), split on commas."""
        self.assertEqual(self.methods("post, Put"), ("POST", "PUT"))
        self.assertEqual(self.methods("get"), ("GET",))

    def test_emptyIsAnyMethod(self) -> None:
        self.assertEqual(self.methods(""), ())
        self.assertEqual(self.methods(" "), ())


class UrlPrefixTests(ConfigSourceTestCase):
    def test_theHooksFilesHooksAreUnderThePrefix(self) -> None:
        source = ConfigSource(config=TAP, hooks=(HOOKS,), url_prefix="ci")
        config = load(source, {TAP: TAP_TEXT, HOOKS: HOOKS_TEXT})
        self.assertEqual(config.hooks["deploy"].path, "/ci/deploy")
        self.assertEqual(config.front.url_prefix, "ci")
        # --urlprefix is webhook's flag: tap.cfg's hooks stay where they were.
        self.assertEqual(config.hooks["site"].path, "/hooks/site")

    def test_anEmptyPrefixServesAtTheRoot(self) -> None:
        config = load(hooks_only(HOOKS, url_prefix=""), {HOOKS: HOOKS_TEXT})
        self.assertEqual(config.hooks["deploy"].path, "/deploy")
        self.assertEqual(config.front.hook_id("/deploy"), "deploy")


class TemplateTests(ConfigSourceTestCase):
    def test_renderedWithGetenvFromTheEnvironmentHandedIn(self) -> None:
        config = load(
            hooks_only(HOOKS, template=True),
            {HOOKS: TEMPLATED},
            environ={"DEPLOY_TOKEN": "from-the-environment"},
        )
        rule = config.hooks["deploy"].hooks_file.trigger_rule  # type: ignore[union-attr]
        assert isinstance(rule, Match)
        self.assertEqual(rule.value, "from-the-environment")

    def test_withoutTemplateTheTextIsReadAsWritten(self) -> None:
        """As webhook without -template: the action's quotes end the JSON string."""
        lines = self.problems(hooks_only(HOOKS), {HOOKS: TEMPLATED}, {"DEPLOY_TOKEN": "x"})
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith(f"{HOOKS}: is not valid JSON: line 3, "), lines)

    def test_theFunctionsHandedInAreTheOnesCalled(self) -> None:
        text = TEMPLATED.replace('getenv "DEPLOY_TOKEN"', 'cat "/run/token"')
        read: list[str] = []

        def cat(path: str) -> str:
            read.append(path)
            return "from-cat"

        functions = TemplateFunctions(getenv=lambda name: "", cat=cat, credential=lambda n: "")
        config = load(hooks_only(HOOKS, template=True), {HOOKS: text}, functions=functions)
        rule = config.hooks["deploy"].hooks_file.trigger_rule  # type: ignore[union-attr]
        assert isinstance(rule, Match)
        self.assertEqual((rule.value, read), ("from-cat", ["/run/token"]))

    def test_aTemplateErrorIsAProblemNamingTheFileAndLine(self) -> None:
        broken = '[\n  {"id": "deploy",\n   "execute-command": "{{ getenv "X" }"}\n]'
        self.assertEqual(
            self.problems(hooks_only(HOOKS, template=True), {HOOKS: broken}),
            [f'{HOOKS}: as a template (--template): line 3: unexpected "}}" in operand'],
        )

    def test_aValueReadIsNeverInAProblem(self) -> None:
        """The rendered text's own problems name places, not what getenv read."""
        text = (
            '[{"id": "deploy", "execute-command": "/bin/true", "http-methods": {{ getenv "M" }}}]'
        )
        lines = self.problems(
            hooks_only(HOOKS, template=True), {HOOKS: text}, environ={"M": '"pa55word"'}
        )
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith(f"{HOOKS}: hook deploy: http-methods: "), lines)
        self.assertNotIn("pa55word", lines[0])


class EveryProblemAtOnceTests(ConfigSourceTestCase):
    def test_everyFileAndTheCommandLine(self) -> None:
        """tap.cfg's, each hooks file's and the command line's problems, in one refusal."""
        bad_hooks = """[
  {"id": "one", "execute-command": "/bin/true", "include-command-output-in-response": "yes"},
  {"id": "two", "execute-command": "/bin/true", "hookdaemon": {"timeout": "soon"}}
]"""
        source = ConfigSource(config=TAP, hooks=(HOOKS, MORE), headers=("oops",))
        lines = self.problems(
            source,
            {TAP: TAP_TEXT + "max_queued = many\n", HOOKS: bad_hooks, MORE: "- id: [build]\n"},
        )
        self.assertEqual(
            lines,
            [
                f"{TAP}: [hook:site] max_queued: is not a whole number; write one such as 100",
                "the command line: [--header]: 'oops' is not in NAME=VALUE form",
                f"{HOOKS}: hook one: include-command-output-in-response: must be true or false,"
                " not text: write it without quotes",
                f"{HOOKS}: hook two: hookdaemon.timeout: must be a positive number of seconds,"
                " such as 600",
                f"{MORE}: hook #1: id: must be text, not a list",
            ],
        )

    def test_warningsAreKeptFromEveryFile(self) -> None:
        literal = TAP_TEXT.replace("allow_from = 127.0.0.1", "secret = written-here")
        unknown_type = '[{"id": "w", "execute-command": "/bin/true",'
        unknown_type += ' "trigger-rule": {"match": {"type": "valeu", "value": "x"}}}]'
        config = load(
            ConfigSource(config=TAP, hooks=(HOOKS,)), {TAP: literal, HOOKS: unknown_type}
        )
        lines = [str(warning) for warning in config.warnings]
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(lines[0].startswith(f"{TAP}: [hook:site] secret: "), lines)
        self.assertTrue(
            lines[1].startswith(f"{HOOKS}: hook w: trigger-rule.match.type: 'valeu' is not a"),
            lines,
        )
        self.assertEqual(list(config.hooks), ["site", "w"])  # loaded, as webhook loads it


class FileHookConfigTests(SynchronousTestCase):
    def test_extrasOrTheDefaults(self) -> None:
        hook = FileHook(id="deploy", execute_command="/bin/true", source=HOOKS)
        plain = file_hook_config(LoadedHook(hook), "hooks")
        assert isinstance(plain, HookConfig)
        self.assertEqual(
            (plain.timeout, plain.burst, plain.history, plain.path),
            (float(HOOK_DEFAULTS["timeout"]), "queue", None, "/hooks/deploy"),
        )
        extras = Extras(timeout=5.0, burst="coalesce", history=3, env={"A": "b"})
        made = file_hook_config(LoadedHook(hook, extras), "ci")
        assert isinstance(made, HookConfig)
        self.assertEqual(
            (made.timeout, made.burst, made.history, dict(made.env), made.path),
            (5.0, "coalesce", 3, {"A": "b"}, "/ci/deploy"),
        )

    def test_coalesceWithTheCommandsOutputIsAProblem(self) -> None:
        hook = FileHook(
            id="deploy",
            execute_command="/bin/true",
            source=HOOKS,
            include_command_output_in_response=True,
        )
        made = file_hook_config(LoadedHook(hook, Extras(burst="coalesce")), "hooks")
        self.assertEqual(
            str(made),
            f"{HOOKS}: hook deploy: hookdaemon.burst: coalesce cannot be used with"
            " include-command-output-in-response: each call waits for its own command's"
            " output; use queue",
        )

    def test_commandWorkingDirectoryRelativeToTheWorkingDirectory(self) -> None:
        hook = FileHook(
            id="deploy", execute_command="./go", source=HOOKS, command_working_directory="site"
        )
        made = file_hook_config(LoadedHook(hook), "hooks")
        assert isinstance(made, HookConfig)
        self.assertEqual(made.workdir, os.path.join(os.getcwd(), "site"))


REPORTING_HOOKS = """[
  {"id": "deploy", "execute-command": "/srv/deploy.sh",
   "hookdaemon": {"report": "gitea", "report_url": "https://git.example.com/api/v1",
                  "report_token": "env:GITEA_TOKEN", "report_ca": "forge-ca.pem",
                  "notify": ["env:CHAT_URL"], "notify_on": "failure"}}
]"""


class ReportingExtrasTests(ConfigSourceTestCase):
    """A hooks file's reporting extras are tap.cfg's keys: the same reading and messages."""

    def files(self, hooks: str = REPORTING_HOOKS) -> dict[str, str | bytes]:
        return {
            TAP: "[hookdaemon]\npublic_url = https://deploy.example.com\n",
            HOOKS: hooks,
            f"{DIRECTORY}/forge-ca.pem": TestCA().pem,
        }

    def test_readAsTapCfgReadsThem(self) -> None:
        environ = {"GITEA_TOKEN": "t0ken", "CHAT_URL": "https://chat.example/hooks/x"}
        config = load(ConfigSource(config=TAP, hooks=(HOOKS,)), self.files(), environ)
        hook = config.hooks["deploy"]
        self.assertEqual(
            hook.report,
            ReportTarget(
                "gitea",
                "https://git.example.com/api/v1",
                Secret(origin="env:GITEA_TOKEN", value=b"t0ken"),
                "hookdaemon/deploy",
            ),
        )
        assert hook.notify is not None
        self.assertEqual(
            ([url.value for url in hook.notify.urls], hook.notify.format, hook.notify.on),
            ([b"https://chat.example/hooks/x"], "slack", "failure"),
        )
        # Relative to the hooks file, as tap.cfg's paths are relative to it.
        self.assertEqual(hook.report_ca, f"{DIRECTORY}/forge-ca.pem")

    def test_problemsArePlacedInTheHooksFile(self) -> None:
        self.assertEqual(
            self.problems(ConfigSource(config=TAP, hooks=(HOOKS,)), self.files(), {}),
            [
                f"{HOOKS}: hook deploy: hookdaemon.report_token: env:GITEA_TOKEN is not set in"
                " the daemon's environment",
                f"{HOOKS}: hook deploy: hookdaemon.notify: env:CHAT_URL is not set in the"
                " daemon's environment",
            ],
        )

    def test_aListsItemIsNamedByItsIndex(self) -> None:
        hooks = REPORTING_HOOKS.replace(
            '["env:CHAT_URL"]', '["https://chat.example/x", "env:NOPE"]'
        )
        self.assertEqual(
            self.problems(
                ConfigSource(config=TAP, hooks=(HOOKS,)), self.files(hooks), {"GITEA_TOKEN": "t"}
            ),
            [
                f"{HOOKS}: hook deploy: hookdaemon.notify: entry 2 (notify[1]): env:NOPE is not"
                " set in the daemon's environment"
            ],
        )

    def test_publicUrlComesFromTapCfg(self) -> None:
        hooks = (
            '[{"id": "deploy", "execute-command": "/bin/true", "hookdaemon":'
            ' {"report": "bitbucket", "report_token": "env:T"}}]'
        )
        source = ConfigSource(config=None, hooks=(HOOKS,))
        self.assertEqual(
            self.problems(source, {HOOKS: hooks}, {"T": "t"}),
            [
                f"{HOOKS}: hook deploy: hookdaemon.report: bitbucket wants a link with every"
                " status: set public_url in [hookdaemon]"
            ],
        )
        files = {TAP: "[hookdaemon]\npublic_url = https://deploy.example.com\n", HOOKS: hooks}
        config = load(ConfigSource(config=TAP, hooks=(HOOKS,)), files, {"T": "t"})
        self.assertIsNotNone(config.hooks["deploy"].report)

    def test_aLiteralTokenIsWarnedOf(self) -> None:
        hooks = REPORTING_HOOKS.replace('"env:GITEA_TOKEN"', '"t0ken"')
        config = load(
            ConfigSource(config=TAP, hooks=(HOOKS,)),
            self.files(hooks),
            {"CHAT_URL": "https://chat.example/hooks/x"},
        )
        self.assertEqual(
            [str(w) for w in config.warnings],
            [
                f"{HOOKS}: hook deploy: hookdaemon.report_token: the secret is written in the"
                " file; prefer env:NAME or file:PATH"
            ],
        )


class ReloadOfTheSameSourceTests(SynchronousTestCase):
    def test_relativePathsMadeAbsolute(self) -> None:
        source = ConfigSource(config="tap.cfg", hooks=("hooks.json", "/srv/more.yaml"))
        self.assertEqual(
            source.absolute(),
            ConfigSource(
                config=os.path.abspath("tap.cfg"),
                hooks=(os.path.abspath("hooks.json"), "/srv/more.yaml"),
            ),
        )
        self.assertEqual(hooks_only("h.json").absolute().config, None)

    def test_theSameFilesReadRelativeAndAbsoluteChangeNothing(self) -> None:
        """
        A daemon started with C{--hooks hooks.json} reloads it by its absolute path
        (its L{Reloader} reads L{ConfigSource.absolute}): that alone is no change.
        """
        files = {"hooks.json": HOOKS_TEXT, os.path.abspath("hooks.json"): HOOKS_TEXT}
        started = load(hooks_only("hooks.json"), files)
        reloaded = load(hooks_only("hooks.json").absolute(), files)
        change = compare(started, reloaded)
        self.assertEqual(change.summary(), "nothing changed")
        self.assertTrue(change.empty)

    def test_aHookMovedToAnotherFileSaysSo(self) -> None:
        files = {HOOKS: HOOKS_TEXT, MORE: MORE_TEXT}
        moved = {HOOKS: HOOKS_TEXT.replace('"ping"', '"pong"'), MORE: MORE_TEXT + PING_YAML}
        change = compare(
            load(hooks_only(HOOKS, MORE), files), load(hooks_only(HOOKS, MORE), moved)
        )
        self.assertEqual(change.summary(), "hooks added: pong; hook ping changed: file")
