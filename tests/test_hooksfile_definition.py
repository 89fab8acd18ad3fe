"""
Tests for L{hookdaemon.hooksfile.definition}: a hooks file's text read as
webhook 2.8.0 reads it, with every problem reported at once.

What webhook itself does with each odd file is in L{WEBHOOK_CASES}, as seen
from the Debian package's C{/usr/bin/webhook} (2.8.0-4) started with
C{-hooks FILE -verbose}: the ids its log says it loaded, or the error after
"couldn't load hooks from file!". L{WebhookReadsTheCasesTests} checks those
against the binary when it is installed.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

from attrs import evolve, frozen
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.config import Rate
from hookdaemon.hooksfile import answers
from hookdaemon.hooksfile.definition import (
    EXTRAS_KEYS,
    MATCH_TYPE_ORDER,
    PROPERTIES,
    SOURCE_ORDER,
    Extras,
    HooksFileProblem,
    LoadedHook,
    load_hooks,
)
from hookdaemon.hooksfile.model import (
    MATCH_TYPES,
    SOURCES,
    And,
    Argument,
    FileHook,
    Header,
    Match,
    NoRule,
    Not,
    Or,
)
from hookdaemon.hooksfile.request import read_request
from hookdaemon.hooksfile.rules import RuleError, evaluate

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.join(HERE, "fixtures", "webhook", "docs")
"""webhook 2.8.0's docs and example files (MIT), kept as test data."""
MIRROR = os.path.normpath(os.path.join(HERE, "..", "..", ".mirror", "adnanh+webhook", "repo"))
"""A git mirror of adnanh/webhook, where there is one."""
DEBIAN_DOCS = "/usr/share/doc/webhook"
WEBHOOK = shutil.which("webhook")

Loaded = tuple[tuple[LoadedHook, ...], tuple[HooksFileProblem, ...], tuple[HooksFileProblem, ...]]


def load(text: str, source: str = "hooks.json") -> Loaded:
    return load_hooks(source, text)


def messages(found: tuple[HooksFileProblem, ...]) -> list[str]:
    return [str(p) for p in found]


def hook_json(**properties: object) -> str:
    """A file of one hook, C{deploy}, with these properties (C{_} for C{-})."""
    hook: dict[str, object] = {"id": "deploy", "execute-command": "/srv/deploy"}
    hook.update({key.replace("_", "-"): value for key, value in properties.items()})
    return json.dumps([hook])


def rule_json(rule: object) -> str:
    return hook_json(trigger_rule=rule)


def header_match(**fields: object) -> dict[str, object]:
    return {"match": {"parameter": {"source": "header", "name": "X-Token"}, **fields}}


class Case(SynchronousTestCase):
    """Assertions shared by the tests below."""

    def loads(self, text: str, source: str = "hooks.json") -> tuple[LoadedHook, ...]:
        """The hooks of a text that must load without problems."""
        hooks, problems, _ = load(text, source)
        self.assertEqual(messages(problems), [])
        return hooks

    def one(self, text: str, source: str = "hooks.json") -> FileHook:
        hooks = self.loads(text, source)
        self.assertEqual(len(hooks), 1)
        return hooks[0].hook

    def problems(self, text: str, source: str = "hooks.json") -> list[str]:
        return messages(load(text, source)[1])

    def warnings(self, text: str, source: str = "hooks.json") -> list[str]:
        return messages(load(text, source)[2])

    def problem(self, text: str, expected: str, source: str = "hooks.json") -> None:
        """The text has exactly this one problem, and no hook loads."""
        hooks, problems, _ = load(text, source)
        self.assertEqual(messages(problems), [expected])
        self.assertEqual(hooks, ())

    def warning(self, text: str, expected: str, source: str = "hooks.json") -> None:
        """The text loads, with exactly this one warning."""
        _, problems, warnings = load(text, source)
        self.assertEqual(messages(problems), [])
        self.assertEqual(messages(warnings), [expected])

    def kept(self, text: str, expected: list[str], source: str = "hooks.json") -> FileHook:
        """
        The text's one hook loads as webhook loads it, with exactly these
        warnings (what webhook then does with it on every call).
        """
        hooks, problems, warnings = load(text, source)
        self.assertEqual(messages(problems), [])
        self.assertEqual(messages(warnings), expected)
        self.assertEqual(len(hooks), 1)
        return hooks[0].hook


class ProblemTextTests(SynchronousTestCase):
    def test_namesFileHookPropertyAndMessage(self) -> None:
        problem = HooksFileProblem("hooks.json", "deploy", "trigger-rule.match.type", "is wrong")
        self.assertEqual(
            str(problem), "hooks.json: hook deploy: trigger-rule.match.type: is wrong"
        )

    def test_hookWithoutProperty(self) -> None:
        self.assertEqual(
            str(HooksFileProblem("h.yaml", "#3", "", "is null")), "h.yaml: hook #3: is null"
        )

    def test_fileAsAWhole(self) -> None:
        self.assertEqual(
            str(HooksFileProblem("h.yaml", "", "", "holds no hooks")), "h.yaml: holds no hooks"
        )


class FileShapeTests(Case):
    """The top level is a list of hook objects (webhook's hook.Hooks)."""

    def test_anObjectIsRefused(self) -> None:
        # webhook: json: cannot unmarshal object into Go value of type hook.Hooks
        self.assertEqual(
            self.problems('{"id": "a", "execute-command": "/bin/true"}'),
            [
                "hooks.json: must be a list of hooks, not an object, or webhook refuses it"
                " (json: cannot unmarshal ... into Go value of type hook.Hooks); in JSON put"
                " the hooks in [ ], in YAML start each with -"
            ],
        )

    def test_textIsRefused(self) -> None:
        self.assertEqual(len(self.problems("deploy", "hooks.yaml")), 1)

    def test_emptyFilesHoldNoHooks(self) -> None:
        # webhook: "found 0 hook(s) in file", for each of these.
        for text, source in [("", "hooks.json"), ("  \n", "hooks.yaml"), ("null", "hooks.json")]:
            self.warning(text, f"{source}: holds no hooks", source)
        self.warning("[]", "hooks.json: holds no hooks")
        self.warning("~\n", "hooks.yaml: holds no hooks", "hooks.yaml")

    def test_aNullEntryIsAnEmptyHookWarnedAbout(self) -> None:
        # webhook loads a hook with every property empty, id "" included, and
        # answered GET /hooks/ from it (200, no command run).
        hooks, problems, warnings = load('[null, {"id": "a", "execute-command": "/bin/true"}]')
        self.assertEqual(problems, ())
        self.assertEqual(
            [h.hook for h in hooks],
            [
                FileHook(id="", execute_command="", source="hooks.json"),
                FileHook(id="a", execute_command="/bin/true", source="hooks.json"),
            ],
        )
        self.assertEqual(
            messages(warnings),
            [
                "hooks.json: hook #1: is null: webhook loads it as a hook with every property"
                " empty, its id too (served at /hooks/ when no hook before it has the empty id),"
                " that runs nothing: remove the entry"
            ],
        )

    def test_anEntryThatIsNotAnObject(self) -> None:
        self.assertEqual(
            self.problems('["deploy"]'),
            [
                "hooks.json: hook #1: must be a hook: an object with an id and an"
                " execute-command, not text"
            ],
        )

    def test_invalidJsonNamesLineAndColumn(self) -> None:
        self.problem(
            '[{"id": "a",\n  "execute-command" "/bin/true"}]',
            "hooks.json: is not valid JSON: line 2, column 21: Expecting ':' delimiter",
        )

    def test_invalidYamlNamesLineAndColumn(self) -> None:
        self.problem(
            "- id: a\n  execute-command: /bin/true\n bad: indent\n",
            "hooks.yaml: is not valid YAML: line 3, column 2: expected <block end>, but found"
            " '<block mapping start>'",
            "hooks.yaml",
        )

    def test_aJsonFileThatIsYamlIsReadAsYaml(self) -> None:
        # webhook reads every file as YAML: a trailing comma and a # comment load.
        text = '# deploy\n[{"id": "a", "execute-command": "/bin/true",}]'
        hooks, problems, warnings = load(text)
        self.assertEqual([h.hook.id for h in hooks], ["a"])
        self.assertEqual(problems, ())
        self.assertEqual(
            messages(warnings),
            [
                "hooks.json: is not valid JSON (line 1, column 1: Expecting value); it is read"
                " as YAML, as webhook reads it"
            ],
        )

    def test_aJsonTemplateIsReadAsJson(self) -> None:
        self.problem(
            '[{"id": "a",]',
            "hooks.json.tmpl: is not valid JSON: line 1, column 13: Expecting property name"
            " enclosed in double quotes",
            "hooks.json.tmpl",
        )

    def test_aByteOrderMarkIsSkipped(self) -> None:
        self.assertEqual(
            self.one('\ufeff[{"id": "bom", "execute-command": "/bin/true"}]').id, "bom"
        )

    def test_onlyTheFirstYamlDocumentCounts(self) -> None:
        # webhook: found 1 hook(s) in file, loaded: doc1
        text = "- id: doc1\n  execute-command: /bin/true\n---\n- id: doc2\n  execute-command: x\n"
        hooks, _, warnings = load(text, "hooks.yaml")
        self.assertEqual([h.hook.id for h in hooks], ["doc1"])
        self.assertEqual(
            messages(warnings),
            [
                "hooks.yaml: holds 2 YAML documents; webhook reads only the first, and so does"
                " hookdaemon: put every hook in one list"
            ],
        )

    def test_hooksKeepTheirOrderAndFile(self) -> None:
        hooks = self.loads(
            '[{"id": "b", "execute-command": "/b"}, {"id": "a", "execute-command": "/a"}]',
            "/etc/webhook/hooks.json",
        )
        self.assertEqual(
            [(h.hook.id, h.hook.source) for h in hooks],
            [("b", "/etc/webhook/hooks.json"), ("a", "/etc/webhook/hooks.json")],
        )


class JsonReadAsYamlTests(Case):
    """
    A JSON file is read as JSON for its errors' lines, but webhook reads it as
    YAML (go-yaml v2 older than 2.2.3), and that shows.
    """

    def test_anExponentWithoutSignIsText(self) -> None:
        # webhook: loaded: 1e5, 100, 1.5e3, 2.5
        written = ["1e5", "1E+2", "1.5e3", "2.50"]
        text = "[" + ", ".join(f'{{"id": {w}, "execute-command": "/x"}}' for w in written) + "]"
        self.assertEqual([h.hook.id for h in self.loads(text)], ["1e5", "100", "1.5e3", "2.5"])

    def test_aCodeWithAnUnsignedExponentIsText(self) -> None:
        # webhook: json: cannot unmarshal string into Go struct field
        # Hook.success-http-response-code of type int
        text = '[{"id": "deploy", "execute-command": "/x", "success-http-response-code": %s}]'
        self.problem(
            text % "2e2",
            "hooks.json: hook deploy: success-http-response-code: must be a whole number such"
            " as 200: webhook's YAML reader takes 2e2 for text, as its exponent has no sign;"
            " write the number out",
        )
        self.assertEqual(self.one(text % "2e+2").success_http_response_code, 200)

    def test_anEscapedApostropheIsAnApostrophe(self) -> None:
        """
        Templates.md's idiom, "{{ getenv "SECRET" | js }}", writes a ' as \\'
        inside a JSON string: go-yaml reads it as ', so the file loads.
        """
        hook = self.one('[{"id": "a", "execute-command": "/x", "response-message": "it\\\'s"}]')
        self.assertEqual(hook.response_message, "it's")

    def test_aSlashEscapeIsWarnedAbout(self) -> None:
        # webhook: yaml: found unknown escape character
        self.warning(
            '[{"id": "a\\/b", "execute-command": "/bin/true"}]',
            "hooks.json: webhook refuses this file: its YAML reader has no escape \\/; write /"
            " alone",
        )

    def test_anEscapedBackslashBeforeASlashIsFine(self) -> None:
        self.assertEqual(self.warnings('[{"id": "a", "execute-command": "C:\\\\/x"}]'), [])

    def test_aSurrogatePairEscapeIsWarnedAbout(self) -> None:
        # webhook: yaml: found invalid Unicode character escape code
        self.assertIn(
            "hooks.json: webhook refuses this file: its YAML reader takes no surrogate pair"
            " (such as \\ud83d\\ude00); write the character itself",
            self.warnings('[{"id": "a", "execute-command": "/x", "x": "\\ud83d\\ude00"}]'),
        )

    def test_aDeleteCharacterIsWarnedAbout(self) -> None:
        # webhook: yaml: control characters are not allowed
        self.assertIn(
            "hooks.json: webhook refuses this file: it holds U+007F, which YAML does not allow",
            self.warnings('[{"id": "a", "execute-command": "/x\x7f"}]'),
        )

    def test_nanIsText(self) -> None:
        # webhook: loaded: NaN
        self.assertEqual(self.one('[{"id": NaN, "execute-command": "/x"}]').id, "NaN")

    def test_tabsAreFine(self) -> None:
        self.assertEqual(
            self.one('[\n\t{\n\t\t"id": "t",\n\t\t"execute-command": "/x"\n\t}\n]').id, "t"
        )


YAML_SCALARS = [
    # (as written, the id webhook loaded)
    ("yes", "true"),
    ("n", "false"),
    ("1.10", "1.1"),
    ("0x1F", "31"),
    ("1e3", "1e3"),
    ("1e-5", "1e-05"),
    ("1e21", "1e21"),
    ("2001-01-01", "2001-01-01"),
    ("2001-1-1", "2001-1-1"),
    ("1_000", "1000"),
    ("0755", "493"),
    ("08", "8"),
    ("1:30", "1:30"),
    (".inf", "+Inf"),
    ("-.inf", "-Inf"),
    (".nan", "NaN"),
    ("12345678901234567890", "12345678901234567890"),
    ("123456789012345678901234", "1.2345679e+23"),
    ("1234567.0", "1.234567e+06"),
    ("123456.0", "123456"),
    ("0.1", "0.1"),
    ("0.0001", "0.0001"),
    ("3.14159265358979", "3.1415927"),
    ("-0b101", "-5"),
    ("0b11", "3"),
    ("+13", "13"),
    ("0o17", "15"),
    ("-0", "0"),
    ("!!str 14", "14"),
    ("!!int 12", "12"),
    ("!!binary aGk=", "hi"),
    ("!foo bar", "bar"),
    ("'yes'", "yes"),
    ('"0755"', "0755"),
]
"""
Unquoted YAML scalars in a text field, as webhook reads them: go-yaml v2
resolves them (y and n are booleans, unlike in PyYAML), and ghodss/yaml makes
numbers and booleans text again (floats as Go's FormatFloat(f, 'g', -1, 32)).
Seen as webhook's "loaded: ID" lines for a file of hooks with these ids.
"""


def yaml_hooks(ids: list[str]) -> str:
    return "".join(f"- id: {written}\n  execute-command: /bin/true\n" for written in ids)


class YamlScalarTests(Case):
    def test_scalarsInATextFieldAreReadAsWebhookReadsThem(self) -> None:
        hooks = self.loads(yaml_hooks([w for w, _ in YAML_SCALARS]), "hooks.yaml")
        self.assertEqual([h.hook.id for h in hooks], [read for _, read in YAML_SCALARS])

    def test_aScalarReadOtherwiseIsWarnedAbout(self) -> None:
        self.warning(
            yaml_hooks(["0755"]),
            "hooks.yaml: hook 493: id: webhook reads 0755 as the text '493': its YAML reader"
            " takes it for a number; quote it to keep it as written",
            "hooks.yaml",
        )

    def test_aScalarReadAsWrittenIsNotWarnedAbout(self) -> None:
        self.assertEqual(self.warnings(yaml_hooks(["123", "'yes'", "1e3"]), "hooks.yaml"), [])

    def test_yamlBooleansAreBooleans(self) -> None:
        # webhook answered with the command's output for on and for y.
        hook = "- id: a\n  execute-command: /x\n  include-command-output-in-response: {}\n"
        for written in ("on", "On", "y", "Y", "yes", "true", "True"):
            self.assertTrue(
                self.one(hook.format(written), "h.yaml").include_command_output_in_response
            )
        for written in ("off", "n", "N", "no", "NO", "false"):
            self.assertFalse(
                self.one(hook.format(written), "h.yaml").include_command_output_in_response
            )

    def test_aNumberTaggedFloatThatGoYamlReadsAsAnIntIsRefused(self) -> None:
        # webhook: yaml: cannot decode !!int `200` as a !!float
        self.assertEqual(
            len(self.problems("- id: a\n  execute-command: /x\n  x: !!float 200\n", "hooks.yaml")),
            1,
        )

    def test_secretsReadOtherwiseAreNotShown(self) -> None:
        text = (
            "- id: a\n  execute-command: /x\n  trigger-rule:\n    match:\n"
            "      type: payload-hmac-sha256\n      secret: 0123456\n"
            "      parameter: {source: header, name: X-Sig}\n"
        )
        self.assertEqual(
            self.warnings(text, "hooks.yaml"),
            [
                "hooks.yaml: hook a: trigger-rule.match.secret: webhook reads the secret: its"
                " YAML reader takes it for a number and rewrites it; quote it to keep it as"
                " written"
            ],
        )


class KeyTests(Case):
    """How encoding/json and go-yaml match a hook's keys to its properties."""

    def test_propertyNamesAreMatchedWithoutRegardToCase(self) -> None:
        # webhook: loaded: a, and ran the command with its arguments.
        hook = self.one(
            '[{"ID": "a", "Execute-Command": "/bin/echo",'
            ' "Pass-Arguments-To-Command": [{"SOURCE": "string", "Name": "x"}]}]'
        )
        self.assertEqual(
            (hook.id, hook.execute_command, hook.pass_arguments_to_command),
            ("a", "/bin/echo", (Argument(source="string", name="x"),)),
        )

    def test_ofTwoSpellingsTheLastSortedCounts(self) -> None:
        # webhook: loaded: a, for both orders: json.Marshal sorted the keys
        # (ID before id) and encoding/json kept the last it read.
        for text in (
            '[{"id": "a", "ID": "b", "execute-command": "/x"}]',
            '[{"ID": "b", "id": "a", "execute-command": "/x"}]',
        ):
            self.assertEqual(self.one(text).id, "a")
            self.assertEqual(
                self.warnings(text),
                [
                    "hooks.json: hook a: id: is written 2 ways (ID, id); webhook reads them in"
                    " that order, so id's value counts"
                ],
            )

    def test_aRepeatedKeyTakesTheLastValue(self) -> None:
        # webhook: loaded: b (go-yaml v2 outside strict mode)
        for text, source in (
            ('[{"id": "a", "id": "b", "execute-command": "/x"}]', "hooks.json"),
            ("- id: a\n  id: b\n  execute-command: /x\n", "hooks.yaml"),
        ):
            self.assertEqual(self.one(text, source).id, "b")
            self.assertEqual(
                self.warnings(text, source),
                [
                    f"{source}: hook b: id: is given twice in this object; webhook takes the last"
                    " one"
                ],
            )

    def test_unknownPropertiesAreWarnedAboutAndIgnored(self) -> None:
        self.warning(
            hook_json(trigger_rules={"match": {}}),
            "hooks.json: hook deploy: trigger-rules: not a webhook property; webhook and"
            " hookdaemon ignore it (did you mean trigger-rule?)",
        )
        self.warning(
            hook_json(pass_arguments_to_command=[{"source": "string", "env-name": "X"}]),
            "hooks.json: hook deploy: pass-arguments-to-command[0].env-name: not a webhook"
            " property; webhook and hookdaemon ignore it (did you mean envname?)",
        )
        self.warning(
            hook_json(comment="deploys the site"),
            "hooks.json: hook deploy: comment: not a webhook property; webhook and hookdaemon"
            " ignore it",
        )

    def test_aMiscasedHookdaemonObjectIsNotRead(self) -> None:
        hooks, _, warnings = load(hook_json(HookDaemon={"timeout": 5}))
        self.assertEqual(hooks[0].extras, Extras())
        self.assertIn(
            "hooks.json: hook deploy: HookDaemon: is not read as hookdaemon's settings: write"
            " hookdaemon",
            messages(warnings),
        )

    def test_aNullKeyIsRefused(self) -> None:
        # webhook: Unsupported map key of type: %!s(<nil>), key: <nil>, value: "x"
        self.problem(
            "- id: a\n  execute-command: /x\n  ~: x\n",
            "hooks.yaml: line 3: has a null key (~ or nothing before a colon), which webhook"
            " refuses",
            "hooks.yaml",
        )

    def test_aKeyAboveInt64IsRefused(self) -> None:
        # webhook: Unsupported map key of type: uint64, key: 0xffffffffffffffff
        self.assertEqual(
            len(
                self.problems(
                    "- id: a\n  execute-command: /x\n  18446744073709551615: x\n", "hooks.yaml"
                )
            ),
            1,
        )

    def test_aListAsAKeyIsRefused(self) -> None:
        # webhook: yaml: invalid map key: []interface {}{"a"}
        self.problem(
            "- id: a\n  execute-command: /x\n  ? [a]\n  : x\n",
            "hooks.yaml: line 3: has a list or an object as a key, which webhook refuses (yaml:"
            " invalid map key)",
            "hooks.yaml",
        )

    def test_aYamlBooleanKeyIsTheTextTrue(self) -> None:
        # ghodss/yaml makes the key true: webhook knows no such property.
        self.warning(
            "- id: a\n  execute-command: /x\n  on: push\n",
            "hooks.yaml: hook a: true: not a webhook property; webhook and hookdaemon ignore it",
            "hooks.yaml",
        )


class TypeTests(Case):
    """Wrong types refuse webhook's whole file; each is a problem here, with its place."""

    def test_textForAList(self) -> None:
        # webhook: json: cannot unmarshal string into Go struct field
        # Hook.http-methods of type []string
        self.problem(
            hook_json(http_methods="POST"),
            'hooks.json: hook deploy: http-methods: must be a list of methods such as ["POST"],'
            " not text",
        )

    def test_everyWrongTypeIsReported(self) -> None:
        # webhook names only the first it meets.
        self.assertEqual(
            self.problems(
                hook_json(
                    http_methods="POST",
                    include_command_output_in_response="true",
                    success_http_response_code="200",
                    pass_arguments_to_command={"source": "string"},
                    trigger_rule={"and": {"match": {}}},
                )
            ),
            [
                "hooks.json: hook deploy: http-methods: must be a list of methods such as"
                ' ["POST"], not text',
                "hooks.json: hook deploy: include-command-output-in-response: must be true or"
                " false, not text: write it without quotes",
                "hooks.json: hook deploy: pass-arguments-to-command: must be a list of objects"
                " with a source and a name, not an object",
                "hooks.json: hook deploy: success-http-response-code: must be a whole number such"
                " as 200, not text: write it without quotes",
                "hooks.json: hook deploy: trigger-rule.and: must be a list of rules, not an"
                " object",
            ],
        )

    def test_aNumberForAFlag(self) -> None:
        # webhook: json: cannot unmarshal number into Go struct field
        # Hook.include-command-output-in-response of type bool
        self.problem(
            hook_json(include_command_output_in_response=1),
            "hooks.json: hook deploy: include-command-output-in-response: must be true or false,"
            " not a number",
        )

    def test_aWholeFloatIsAnInt(self) -> None:
        # webhook: loaded: a (200.0); 200.5: json: cannot unmarshal number 200.5
        # into Go struct field Hook.success-http-response-code of type int
        self.assertEqual(
            self.one(hook_json(success_http_response_code=200.0)).success_http_response_code, 200
        )
        self.problem(
            hook_json(success_http_response_code=200.5),
            "hooks.json: hook deploy: success-http-response-code: must be a whole number such as"
            " 200, not 200.5",
        )

    def test_numbersAndBooleansInTextFieldsAreText(self) -> None:
        hook = self.one(hook_json(id=7, response_message=True, http_methods=[1]))
        self.assertEqual(
            (hook.id, hook.response_message, hook.http_methods), ("7", "true", ("1",))
        )

    def test_nullLeavesTheZeroValue(self) -> None:
        hook = self.one(
            hook_json(
                response_message=None,
                http_methods=None,
                trigger_rule=None,
                include_command_output_in_response=None,
                success_http_response_code=None,
                pass_arguments_to_command=None,
            )
        )
        self.assertEqual(
            hook, FileHook(id="deploy", execute_command="/srv/deploy", source="hooks.json")
        )

    def test_nullDoesNotUndoAnotherSpelling(self) -> None:
        # encoding/json: a null has no effect on a string, whatever came before.
        self.assertEqual(self.one('[{"ID": "a", "id": null, "execute-command": "/x"}]').id, "a")

    def test_infinityForANumberIsRefused(self) -> None:
        # webhook: json: unsupported value: +Inf
        self.problem(
            "- id: a\n  execute-command: /x\n  success-http-response-code: .inf\n",
            "hooks.yaml: hook a: success-http-response-code: .inf is a YAML float JSON cannot"
            " write, so webhook refuses the whole file (json: unsupported value); quote it",
            "hooks.yaml",
        )

    def test_nanInAnIgnoredPropertyIsRefused(self) -> None:
        # webhook: json: unsupported value: NaN
        self.assertEqual(
            self.problems("- id: a\n  execute-command: /x\n  notes: [.nan]\n", "hooks.yaml"),
            [
                "hooks.yaml: hook a: notes[0]: .nan is a YAML float JSON cannot write, so webhook"
                " refuses the whole file (json: unsupported value); quote it"
            ],
        )


class AliasTests(Case):
    """YAML anchors, aliases and merges, as go-yaml v2 takes them."""

    def test_aMergeFillsTheHook(self) -> None:
        text = "- &base\n  id: base\n  execute-command: /bin/echo\n- <<: *base\n  id: other\n"
        hooks = self.loads(text, "hooks.yaml")
        self.assertEqual(
            [(h.hook.id, h.hook.execute_command) for h in hooks],
            [("base", "/bin/echo"), ("other", "/bin/echo")],
        )

    def test_aMergeAfterAKeyReplacesIt(self) -> None:
        # webhook: the hook after this merge was served as "merged", not "mine".
        text = "- id: mine\n  <<: {id: merged, execute-command: /x}\n"
        hooks, _, warnings = load(text, "hooks.yaml")
        self.assertEqual([h.hook.id for h in hooks], ["merged"])
        self.assertEqual(
            messages(warnings),
            [
                "hooks.yaml: hook merged: id: is replaced by the << merge written after it:"
                " webhook's YAML reader lets a merge override the keys before it; write << first"
            ],
        )

    def test_ofMergedObjectsTheFirstWins(self) -> None:
        text = "- <<: [{id: first}, {id: second, execute-command: /x}]\n"
        self.assertEqual(self.one(text, "hooks.yaml").id, "first")

    def test_anAnchorMayBeDefinedAgain(self) -> None:
        # webhook: loaded: x, then the second anchor's value for the alias.
        text = (
            "- id: &i x\n  execute-command: /x\n- id: &i z\n  execute-command: /x\n"
            "- id: *i\n  execute-command: /y\n"
        )
        hooks, problems, warnings = load(text, "hooks.yaml")
        self.assertEqual([h.hook.id for h in hooks], ["x", "z"])
        self.assertEqual(problems, ())
        self.assertEqual(len(warnings), 1)  # z twice

    def test_anAliasInsideItsAnchorIsRefused(self) -> None:
        self.problem(
            "- &h\n  id: a\n  execute-command: /x\n  more: *h\n",
            "hooks.yaml: has an alias inside the very node its anchor names",
            "hooks.yaml",
        )

    def test_aliasesThatExpandToTooMuchAreRefused(self) -> None:
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 8)]
        text = "- id: a\n  execute-command: /x\n  " + "\n  ".join(lines) + "\n"
        self.problem(
            text,
            "hooks.yaml: holds more than 1000000 values once its aliases are expanded",
            "hooks.yaml",
        )


NO_ID = (
    "hooks.json: hook #1: id: is missing or empty: webhook serves the first such hook at"
    " /hooks/ (the URL prefix alone); give each hook an id, the last part of its URL"
    " (/hooks/ID)"
)


class RequiredTests(Case):
    def test_aHookWithoutAnIdIsKeptAndWarnedAbout(self) -> None:
        # webhook: "loaded: " (an empty id); GET /hooks/ answered from it.
        hook = self.kept('[{"execute-command": "/x"}]', [NO_ID])
        self.assertEqual(hook, FileHook(id="", execute_command="/x", source="hooks.json"))

    def test_aNullOrEmptyIdIsMissing(self) -> None:
        for hook_id in ("", None):
            self.assertEqual(self.kept(hook_json(id=hook_id), [NO_ID]).id, "")

    def test_aHookWithoutACommandIsKeptAndWarnedAbout(self) -> None:
        # webhook answered 200 and logged 'error in exec: "": executable file not
        # found in $PATH'; with include-command-output-in-response, 500.
        hook = self.kept(
            '[{"id": "a"}]',
            [
                "hooks.json: hook a: execute-command: is missing or empty: webhook finds no"
                " program to run, so a call it triggers runs nothing and, with"
                " include-command-output-in-response, is answered 500: name the program the hook"
                " runs"
            ],
        )
        self.assertEqual(hook.execute_command, "")

    def test_aWrongTypeIsNotAlsoMissing(self) -> None:
        self.assertEqual(
            self.problems('[{"id": ["a"], "execute-command": "/x"}]'),
            ["hooks.json: hook #1: id: must be text, not a list"],
        )

    def test_aCommandWithWhitespaceIsWarnedAbout(self) -> None:
        # webhook runs exec.LookPath on the whole text, then logs "use
        # 'pass-arguments-to-command' to specify args".
        self.warning(
            hook_json(execute_command="/srv/deploy --token abc"),
            "hooks.json: hook deploy: execute-command: holds whitespace: webhook looks for a"
            " program whose name is the whole text, spaces and all; put the program's arguments"
            " in pass-arguments-to-command",
        )


class IdTests(Case):
    def test_anIdMayHoldSlashes(self) -> None:
        # webhook routes {id:.*}: /hooks/x/y answered hook x/y.
        self.assertEqual(self.one(hook_json(id="x/y")).id, "x/y")
        self.assertEqual(self.one(hook_json(id="site/deploy/")).id, "site/deploy/")

    def test_anIdThatMustBePercentEncodedIsWarnedAbout(self) -> None:
        # webhook answered GET /hooks/sp%20ace from the hook "sp ace".
        self.warning(
            hook_json(id="sp ace"),
            "hooks.json: hook sp ace: id: has a space, which a URL carries only percent-encoded:"
            " callers must ask for .../sp%20ace; letters, digits and - . _ ~ need no encoding",
        )
        self.warning(
            hook_json(id="a?b#c/d"),
            "hooks.json: hook a?b#c/d: id: has '#' and '?', which a URL carries only"
            " percent-encoded: callers must ask for .../a%3Fb%23c/d; letters, digits and - . _ ~"
            " need no encoding",
        )

    def test_anIdWithAControlCharacterIsAProblemNamedByItsPlace(self) -> None:
        self.assertEqual(
            self.problems(hook_json(id="a\nb\t")),
            [
                "hooks.json: hook #1: id: has U+0009 and U+000A, which hookdaemon refuses in an"
                " id (its log would carry them as written, and no URL can): use letters, digits"
                " and - . _ ~ (and / between parts)"
            ],
        )

    def test_anIdWithEmptyOrDotPartsIsKeptAndWarnedAbout(self) -> None:
        # webhook loaded "a//b"; GET /hooks/a//b answered 301 (the router cleans the path).
        for hook_id in ("a//b", "/a", "a/./b", "a/..", "."):
            hook = self.kept(
                hook_json(id=hook_id),
                [
                    f"hooks.json: hook {hook_id}: id: has an empty, . or .. part between slashes:"
                    " webhook's router answers 301 to such a path, redirecting it to the path"
                    " cleaned, so no call reaches the hook: rename it"
                ],
            )
            self.assertEqual(hook.id, hook_id)

    def test_ofHooksWithOneIdTheFirstIsServed(self) -> None:
        # webhook: loaded: a, loaded: a; a call ran the first. It checks ids
        # only against other files' hooks at start, and refuses such a file
        # when it reloads it.
        text = json.dumps(
            [
                {"id": "a", "execute-command": "/first"},
                {"id": "b", "execute-command": "/x"},
                {"id": "a", "execute-command": "/second"},
                {"id": "a", "execute-command": "/third"},
            ]
        )
        hooks, problems, warnings = load(text)
        self.assertEqual(problems, ())
        self.assertEqual([h.hook.execute_command for h in hooks], ["/first", "/x"])
        self.assertEqual(
            messages(warnings),
            [
                "hooks.json: hook a: id: is the id of hooks #1, #3 and #4: webhook serves only"
                " the first (#1), and so does hookdaemon; webhook refuses the file when it"
                " reloads it: give each hook its own id"
            ],
        )

    def test_ofHooksWithoutAnIdTheFirstIsServed(self) -> None:
        text = json.dumps([{"execute-command": "/first"}, None, {"execute-command": "/third"}])
        hooks, problems, warnings = load(text)
        self.assertEqual(problems, ())
        self.assertEqual([h.hook.execute_command for h in hooks], ["/first"])
        self.assertIn(
            "hooks.json: hook #1: id: is the empty id of hooks #1, #2 and #3: webhook serves"
            " only the first (#1), and so does hookdaemon; webhook refuses the file when it"
            " reloads it: give each hook its own id",
            messages(warnings),
        )


class RuleTests(Case):
    def test_rulesBecomeTheModelsRules(self) -> None:
        rule = {
            "and": [
                header_match(type="value", value="v"),
                {"or": [{"not": header_match(type="regex", regex="^a")}]},
            ]
        }
        token = Argument(source="header", name="X-Token")
        self.assertEqual(
            self.one(rule_json(rule)).trigger_rule,
            And(
                (
                    Match(type="value", value="v", parameter=token),
                    Or((Not(Match(type="regex", regex="^a", parameter=token)),)),
                )
            ),
        )

    def test_aRuleNamingNoKindIsFalse(self) -> None:
        # webhook: a rules object naming none is false: "Hook rules were not
        # satisfied."; under a not, the hook ran.
        hook = self.kept(
            rule_json({}),
            [
                "hooks.json: hook deploy: trigger-rule: names none of and, or, not and match:"
                " webhook takes such a rule for false on every call, so the hook never runs"
                ' ("Hook rules were not satisfied."): write the rule in one of them'
            ],
        )
        self.assertEqual(hook.trigger_rule, NoRule())
        text = rule_json({"and": [{"mtach": {}}]})
        self.assertEqual(
            self.warnings(text),
            [
                "hooks.json: hook deploy: trigger-rule.and[0].mtach: not a webhook property;"
                " webhook and hookdaemon ignore it (did you mean match?)",
                "hooks.json: hook deploy: trigger-rule.and[0]: names none of and, or, not and"
                " match: webhook takes such a rule for false on every call: write the rule in"
                " one of them",
            ],
        )
        self.assertEqual(self.one(text).trigger_rule, And((NoRule(),)))

    def test_ofSeveralKindsTheFirstCounts(self) -> None:
        # webhook ran a hook whose rule had an empty and beside a match that failed.
        text = rule_json({"match": {"type": "value"}, "and": []})
        hook = self.one(text)
        self.assertEqual(hook.trigger_rule, And(()))
        self.assertEqual(
            self.warnings(text),
            [
                'hooks.json: hook deploy: trigger-rule: names "and", "match"; webhook uses only'
                ' "and" (it looks at and, or, not and match in that order) and ignores the rest:'
                ' put the rules in one "and"',
                "hooks.json: hook deploy: trigger-rule.and: is an empty list, which is always"
                " true: it checks nothing",
            ],
        )

    def test_aNullKindIsNotNamed(self) -> None:
        hook = self.one(rule_json({"and": None, **header_match(type="value", value="v")}))
        self.assertIsInstance(hook.trigger_rule, Match)

    def test_anEmptyOrIsNeverTrue(self) -> None:
        self.warning(
            rule_json({"or": []}),
            "hooks.json: hook deploy: trigger-rule.or: is an empty list, which is always false:"
            " the hook never runs",
        )

    def test_anUnknownMatchTypeIsFalse(self) -> None:
        # webhook: "Hook rules were not satisfied." with the header and without;
        # under a not, the hook ran.
        hook = self.kept(
            rule_json(
                {"and": [header_match(type="value", value="x"), header_match(type="vaule")]}
            ),
            [
                "hooks.json: hook deploy: trigger-rule.and[1].match.type: 'vaule' is not a match"
                " type: webhook takes this match for false on every call; write one of value,"
                " regex, payload-hmac-sha1, payload-hmac-sha256, payload-hmac-sha512,"
                " ip-whitelist, scalr-signature"
            ],
        )
        token = Argument(source="header", name="X-Token")
        self.assertEqual(
            hook.trigger_rule,
            And(
                (
                    Match(type="value", value="x", parameter=token),
                    # The parameter kept: webhook reads it whatever the type.
                    Match(type="vaule", parameter=token),
                )
            ),
        )
        self.kept(
            rule_json(header_match()),
            [
                "hooks.json: hook deploy: trigger-rule.match.type: is missing: webhook takes this"
                " match for false on every call; write one of value, regex, payload-hmac-sha1,"
                " payload-hmac-sha256, payload-hmac-sha512, ip-whitelist, scalr-signature"
            ],
        )

    def test_aMatchWithoutTypeOrParameterIsAnError(self) -> None:
        # webhook answered 500: MatchRule.Evaluate reads the parameter first.
        cases: list[tuple[dict[str, object], str, Argument]] = [
            ({}, "it has none", Argument()),
            (
                {"parameter": {"source": "heder", "name": "X"}},
                "'heder' is not a source",
                Argument("heder", "X"),
            ),
        ]
        for match, reason, parameter in cases:
            hook = self.kept(
                rule_json({"match": match}),
                [
                    "hooks.json: hook deploy: trigger-rule.match.type: is missing: webhook reads"
                    f' its parameter all the same and, as {reason}, answers 500 "Error occurred'
                    ' while evaluating hook rules." to every call that reaches this rule; write'
                    " one of value, regex, payload-hmac-sha1, payload-hmac-sha256,"
                    " payload-hmac-sha512, ip-whitelist, scalr-signature"
                ],
            )
            self.assertEqual(hook.trigger_rule, Match(type="", parameter=parameter))

    def test_theListedTypesAreTheModels(self) -> None:
        self.assertEqual(
            set(MATCH_TYPE_ORDER)
            | {t.replace("hmac", "hash") for t in MATCH_TYPE_ORDER} & MATCH_TYPES,
            MATCH_TYPES,
        )
        self.assertEqual(set(SOURCE_ORDER), SOURCES)

    def test_theOldHashNamesAreWarnedAbout(self) -> None:
        # webhook logs "use of deprecated option payload-hash-sha1" on each call.
        self.warning(
            rule_json(header_match(type="payload-hash-sha1", secret="s")),
            "hooks.json: hook deploy: trigger-rule.match.type: is webhook's old name for"
            " payload-hmac-sha1, which webhook warns about on every call; write that",
        )

    def test_aValueRuleWithoutAParameterIsAnError(self) -> None:
        # webhook answered 500 "Error occurred while evaluating hook rules."
        hook = self.kept(
            rule_json({"match": {"type": "value", "value": "x"}}),
            [
                "hooks.json: hook deploy: trigger-rule.match.parameter: is missing, so webhook"
                ' answers 500 "Error occurred while evaluating hook rules." to every call that'
                " reaches this rule (no source for value retrieval): a value rule checks the"
                ' request value it names, such as {"source": "header", "name":'
                ' "X-Hub-Signature"}'
            ],
        )
        self.assertEqual(hook.trigger_rule, Match(type="value", value="x"))

    def test_aParameterWebhookCannotReadIsAnError(self) -> None:
        # webhook answered 500 for both (unsupported request key: "path"; no
        # source for value retrieval), and "Hook rules were not satisfied."
        # for the header without a name.
        rules = [
            {"source": "request", "name": "path"},
            {"name": "X-Token"},
            {"source": "header"},
        ]
        _, problems, warnings = load(
            rule_json({"or": [{"match": {"type": "value", "parameter": p}} for p in rules]})
        )
        self.assertEqual(problems, ())
        self.assertEqual(
            messages(warnings),
            [
                "hooks.json: hook deploy: trigger-rule.or[0].match.parameter.name: a request"
                " source gives method or remote-addr, not 'path', so webhook answers 500"
                ' "Error occurred while evaluating hook rules." to every call that reaches this'
                " rule (unsupported request key)",
                "hooks.json: hook deploy: trigger-rule.or[1].match.parameter.source: is missing,"
                ' so webhook answers 500 "Error occurred while evaluating hook rules." to every'
                " call that reaches this rule: say where the value checked comes from:"
                f" {', '.join(SOURCE_ORDER)}",
                "hooks.json: hook deploy: trigger-rule.or[2].match.parameter.name: is missing:"
                ' webhook looks up the header value named "", which a call rarely has, and takes'
                " this match for false: say which header value to take",
            ],
        )

    def test_aRegexGoRefusesIsAnError(self) -> None:
        # Go's error: webhook answered 500 to a call with the header, and
        # "Hook rules were not satisfied." to one without.
        hook = self.kept(
            rule_json(header_match(type="regex", regex="(unclosed")),
            [
                "hooks.json: hook deploy: trigger-rule.match.regex: cannot be used: error parsing"
                ' regexp: missing closing ): `(unclosed`: webhook answers 500 "Error occurred'
                ' while evaluating hook rules." to every call that carries the value the rule'
                " checks; fix the pattern"
            ],
        )
        self.assertEqual(
            hook.trigger_rule,
            Match(type="regex", regex="(unclosed", parameter=Argument("header", "X-Token")),
        )
        # RE2 has no backreferences; Python's re would have taken this one.
        self.assertEqual(
            len(self.warnings(rule_json(header_match(type="regex", regex="(a)\\1")))), 1
        )
        # RE2 takes flags anywhere; Python's re only at the start.
        self.assertEqual(self.warnings(rule_json(header_match(type="regex", regex="a(?i)b"))), [])

    def test_aRegexOnlyRE2HasLoads(self) -> None:
        """Unicode classes are RE2's (Go's regexp has them), not Python's re: they load."""
        self.kept(rule_json(header_match(type="regex", regex="\\pL")), [])

    def test_anEmptyRegexMatchesEverything(self) -> None:
        self.warning(
            rule_json(header_match(type="regex")),
            "hooks.json: hook deploy: trigger-rule.match.regex: is empty, which matches every"
            " value",
        )

    def test_aSignatureRuleWithoutASecretIsAnError(self) -> None:
        # webhook answered 500 to a call with the signature header (scalr: with
        # X-Signature and Date), "Hook rules were not satisfied." to one without.
        for kind in ("payload-hmac-sha1", "payload-hmac-sha256", "payload-hmac-sha512"):
            hook = self.kept(
                rule_json(header_match(type=kind, secret="")),
                [
                    "hooks.json: hook deploy: trigger-rule.match.secret: is missing or empty:"
                    ' webhook answers 500 "Error occurred while evaluating hook rules." to every'
                    " call that carries the value it checks, and the rule is false for the"
                    " others: give the secret the sender signs with"
                ],
            )
            self.assertEqual(
                hook.trigger_rule, Match(type=kind, parameter=Argument("header", "X-Token"))
            )
        self.kept(
            rule_json({"match": {"type": "scalr-signature"}}),
            [
                "hooks.json: hook deploy: trigger-rule.match.secret: is missing or empty: webhook"
                ' answers 500 "Error occurred while evaluating hook rules." to every call with'
                " X-Signature and Date headers, and the rule is false for the others: give the"
                " secret the sender signs with"
            ],
        )

    def test_whatATypeDoesNotReadIsWarnedAbout(self) -> None:
        self.warning(
            rule_json(header_match(type="value", value="v", regex="v.*")),
            "hooks.json: hook deploy: trigger-rule.match.regex: is not used by a value rule;"
            " webhook ignores it",
        )

    def test_noMessageShowsASecretOrAValue(self) -> None:
        secret = "s3cr3t-t0ken"
        texts = [
            rule_json(header_match(type="value", value=secret, regex=secret, secret=secret)),
            rule_json({"match": {"type": "vaule", "value": secret, "secret": secret}}),
            rule_json({"and": {"match": {"secret": secret}}}),
            "- id: a\n  execute-command: /x\n  trigger-rule: {match: {type: value, value: 0755,"
            " parameter: {source: header, name: X}}}\n",
            hook_json(execute_command=f"/srv/deploy {secret}"),
            hook_json(response_headers=[{"name": "X-Token", "value": f"{secret}\r\n"}]),
            hook_json(hookdaemon={"env": {"TOKEN": secret, "BAD-NAME": secret, "N": 1}}),
        ]
        for text in texts:
            _, problems, warnings = load(
                text, "hooks.yaml" if text.startswith("-") else "hooks.json"
            )
            for found in messages(problems) + messages(warnings):
                self.assertNotIn(secret, found)
                self.assertNotIn("0755", found)

    def test_ipWhitelistWithoutNetworksIsFalse(self) -> None:
        # webhook: "Hook rules were not satisfied."
        self.kept(
            rule_json({"match": {"type": "ip-whitelist"}}),
            [
                "hooks.json: hook deploy: trigger-rule.match.ip-range: is missing: webhook's"
                " ip-whitelist rule is false on every call without networks; name the networks"
                " calls may come from, such as 192.0.2.0/24"
            ],
        )

    def test_ipWhitelistWithABadNetworkIsAnError(self) -> None:
        # webhook answered 500 for "10.1 127.0.0.1" and ran the hook for
        # "127.0.0.1 10.1" (a call from 127.0.0.1): it tries the words in order.
        ip_range = "10.1 10.0.0.0/8 10.0.0.1/255.0.0.0"
        hook = self.kept(
            rule_json({"match": {"type": "ip-whitelist", "ip-range": ip_range}}),
            [
                "hooks.json: hook deploy: trigger-rule.match.ip-range: '10.1' is not a CIDR"
                ' network such as 192.0.2.0/24, or an address: webhook answers 500 "Error'
                ' occurred while evaluating hook rules." to every call',
                "hooks.json: hook deploy: trigger-rule.match.ip-range: '10.0.0.1/255.0.0.0' is not"
                ' a CIDR network such as 192.0.2.0/24, or an address: webhook answers 500 "Error'
                ' occurred while evaluating hook rules." to every call from outside 10.0.0.0/8',
            ],
        )
        self.assertEqual(hook.trigger_rule, Match(type="ip-whitelist", ip_range=ip_range))

    def test_ipWhitelistTakesAddressesAndNetworks(self) -> None:
        # Hook-Rules.md's own example has host bits set: Go's ParseCIDR takes it.
        rule = {"match": {"type": "ip-whitelist", "ip-range": "192.168.0.1/24 10.0.0.1 ::1/128"}}
        self.assertEqual(
            self.one(rule_json(rule)).trigger_rule,
            Match(type="ip-whitelist", ip_range="192.168.0.1/24 10.0.0.1 ::1/128"),
        )

    def test_aBareIpv6AddressIsWarnedAbout(self) -> None:
        # CheckIPWhitelist adds /32 to any range without a slash.
        self.warning(
            rule_json({"match": {"type": "ip-whitelist", "ip-range": "2001:db8::1"}}),
            "hooks.json: hook deploy: trigger-rule.match.ip-range: '2001:db8::1' is an IPv6"
            " address without a prefix length: webhook adds /32 to it, which lets in all of"
            " 2001:db8::/32; write 2001:db8::1/128 for the address alone",
        )


class ArgumentTests(Case):
    def arguments(self, *arguments: object) -> str:
        return hook_json(pass_arguments_to_command=list(arguments))

    def test_argumentsBecomeTheModelsArguments(self) -> None:
        hook = self.one(
            hook_json(
                pass_environment_to_command=[
                    {"source": "payload", "name": "ref", "envname": "REF"}
                ],
                pass_file_to_command=[{"source": "payload", "name": "f", "base64decode": True}],
                parse_parameters_as_json=[{"source": "payload", "name": "payload"}],
                pass_arguments_to_command=[{"source": "request", "name": "Method"}],
            )
        )
        self.assertEqual(
            (
                hook.pass_environment_to_command,
                hook.pass_file_to_command,
                hook.parse_parameters_as_json,
                hook.pass_arguments_to_command,
            ),
            (
                (Argument("payload", "ref", "REF"),),
                (Argument("payload", "f", base64decode=True),),
                (Argument("payload", "payload"),),
                (Argument("request", "Method"),),
            ),
        )

    def test_anUnknownSourceGivesNothing(self) -> None:
        # webhook ran the command with "" for each: "error extracting command
        # arguments: couldn't retrieve argument for {Source:heder ...}".
        sources = ", ".join(SOURCE_ORDER)
        written = (
            {"source": "heder", "name": "X"},
            {"source": "Header", "name": "X"},
            {"name": "X"},
        )
        hook = self.kept(
            self.arguments(*written),
            [
                "hooks.json: hook deploy: pass-arguments-to-command[0].source: 'heder' is not a"
                " source, so webhook passes an empty argument in its place on every call: write"
                f" one of {sources}",
                "hooks.json: hook deploy: pass-arguments-to-command[1].source: 'Header' is not a"
                " source (sources are lower case), so webhook passes an empty argument in its"
                f" place on every call: write one of {sources}",
                "hooks.json: hook deploy: pass-arguments-to-command[2].source: is missing, so"
                " webhook passes an empty argument in its place on every call: say where it"
                f" comes from: {sources}",
            ],
        )
        self.assertEqual(
            hook.pass_arguments_to_command,
            (Argument("heder", "X"), Argument("Header", "X"), Argument("", "X")),
        )

    def test_eachUseSaysWhatWebhookDoesWithoutTheValue(self) -> None:
        # webhook left the variable out ("error extracting command arguments
        # for environment"), and so the file.
        sources = ", ".join(SOURCE_ORDER)
        self.kept(
            hook_json(
                pass_environment_to_command=[{"name": "X"}],
                pass_file_to_command=[{"name": "X"}],
                parse_parameters_as_json=[{"name": "X"}],
            ),
            [
                "hooks.json: hook deploy: parse-parameters-as-json[0].source: is missing, so"
                " webhook logs an error and parses nothing for it on every call: say where the"
                f" JSON text comes from: {sources}",
                "hooks.json: hook deploy: pass-environment-to-command[0].source: is missing, so"
                " webhook leaves the variable out on every call: say where the value comes from:"
                f" {sources}",
                "hooks.json: hook deploy: pass-file-to-command[0].source: is missing, so webhook"
                " writes no file for it on every call: say where the content comes from:"
                f" {sources}",
            ],
        )

    def test_namedSourcesNeedAName(self) -> None:
        for source in ("header", "url", "query", "payload"):
            hook = self.kept(
                self.arguments({"source": source}),
                [
                    "hooks.json: hook deploy: pass-arguments-to-command[0].name: is missing:"
                    f' webhook looks up the {source} value named "", which a call rarely has,'
                    " and passes an empty argument in its place: say which"
                    f" {source} value to take"
                ],
            )
            self.assertEqual(hook.pass_arguments_to_command, (Argument(source),))

    def test_aRequestSourceNamesMethodOrRemoteAddr(self) -> None:
        self.loads(
            self.arguments(
                {"source": "request", "name": "remote-addr"},
                {"source": "request", "name": "METHOD"},
            )
        )
        self.kept(
            self.arguments({"source": "request", "name": "path"}),
            [
                "hooks.json: hook deploy: pass-arguments-to-command[0].name: a request source"
                " gives method or remote-addr, not 'path', so webhook passes an empty argument in"
                " its place on every call (unsupported request key)"
            ],
        )

    def test_aStringSourceMayHoldAnything(self) -> None:
        self.loads(
            self.arguments({"source": "string", "name": ""}, {"source": "string", "name": "-e x"})
        )

    def test_wholeSourcesNeedNoName(self) -> None:
        self.loads(
            self.arguments(
                *(
                    {"source": source}
                    for source in (
                        "entire-payload",
                        "entire-headers",
                        "entire-query",
                        "raw-request-body",
                    )
                )
            )
        )

    def test_aNullArgumentIsAnEmptyOne(self) -> None:
        hook = self.kept(
            self.arguments(None),
            [
                "hooks.json: hook deploy: pass-arguments-to-command[0].source: is missing, so"
                " webhook passes an empty argument in its place on every call: say where it"
                f" comes from: {', '.join(SOURCE_ORDER)}"
            ],
        )
        self.assertEqual(hook.pass_arguments_to_command, (Argument(),))

    def test_parsingJsonOfOtherSourcesIsWarnedAbout(self) -> None:
        self.warning(
            hook_json(parse_parameters_as_json=[{"source": "raw-request-body"}]),
            "hooks.json: hook deploy: parse-parameters-as-json[0].source: webhook parses JSON in"
            " header, payload, query, url values only: for a raw-request-body source it logs an"
            " error on every call and goes on",
        )


class ResponseTests(Case):
    def test_codesGoNamesLoadAsWritten(self) -> None:
        for code in (0, 200, 202, 418, 511):
            text = hook_json(
                success_http_response_code=code, trigger_rule_mismatch_http_response_code=code
            )
            self.assertEqual(self.kept(text, []).success_http_response_code, code)

    def test_aCodeOutside100To599IsAnsweredAs200(self) -> None:
        # webhook answered 200 for each (writeHttpResponseCode).
        for code in (99, 600, 700, -1):
            hook = self.kept(
                hook_json(success_http_response_code=code),
                [
                    f"hooks.json: hook deploy: success-http-response-code: {code} is not an HTTP"
                    " status code (100 to 599): webhook answers 200 instead; write a code from"
                    " 100 to 599, or 0 for the default"
                ],
            )
            self.assertEqual(hook.success_http_response_code, code)

    def test_anInformationalCodeIsWarnedAbout(self) -> None:
        # webhook sent "HTTP/1.1 100 Continue", then "HTTP/1.1 200 OK" and the body.
        self.warning(
            hook_json(success_http_response_code=100),
            "hooks.json: hook deploy: success-http-response-code: webhook sends 100 as an"
            " informational answer and then answers 200; hookdaemon answers 200 alone: write the"
            " code meant",
        )

    def test_aCodeGoCannotNameIsWarnedAbout(self) -> None:
        # webhook answered 200 for 299 (writeHttpResponseCode).
        self.warning(
            hook_json(trigger_rule_mismatch_http_response_code=299),
            "hooks.json: hook deploy: trigger-rule-mismatch-http-response-code: webhook answers"
            " 200 instead of 299, a code Go has no name for",
        )

    def test_methodsAreNormalised(self) -> None:
        # webhook answered GET for [post, " get "].
        self.assertEqual(
            self.one(hook_json(http_methods=["post", " get "])).http_methods, ("POST", "GET")
        )

    def test_aMethodThatIsNoTokenMatchesNoCall(self) -> None:
        # webhook answered 405 to GET and POST.
        hook = self.kept(
            hook_json(http_methods=["GET POST", ""]),
            [
                "hooks.json: hook deploy: http-methods[0]: 'GET POST' is not an HTTP method name,"
                " so no call's method is it (webhook answers 405 to a call whose method no entry"
                " names): write each method as an entry of its own",
                "hooks.json: hook deploy: http-methods[1]: '' is not an HTTP method name, so no"
                " call's method is it (webhook answers 405 to a call whose method no entry"
                " names): write each method as an entry of its own",
            ],
        )
        self.assertEqual(hook.http_methods, ("GET POST", ""))

    def test_responseHeaders(self) -> None:
        hook = self.one(
            hook_json(response_headers=[{"name": "Access-Control-Allow-Origin", "value": "*"}])
        )
        self.assertEqual(hook.response_headers, (Header("Access-Control-Allow-Origin", "*"),))

    def test_responseHeadersAreWhatGoSends(self) -> None:
        # webhook sent "X-A: ", "X-B: a  Set-Cookie: x", "X-C: padded" and
        # "X-D: a\0b", and nothing for the first two.
        hook = self.kept(
            hook_json(
                response_headers=[
                    {"value": "x"},
                    {"name": "Bad Name", "value": "x"},
                    {"name": "X-A"},
                    {"name": "X-B", "value": "a\r\nSet-Cookie: x"},
                    {"name": "X-C", "value": " padded\t"},
                    {"name": "X-D", "value": "a\0b"},
                ]
            ),
            [
                "hooks.json: hook deploy: response-headers[0].name: is missing: webhook never"
                " sends a header without a name: give the header's name",
                "hooks.json: hook deploy: response-headers[1].name: 'Bad Name' is not an HTTP"
                " header name, so webhook never sends the header: write the name alone, in"
                " letters, digits and -",
                "hooks.json: hook deploy: response-headers[2].value: is missing: webhook sends the"
                " header with an empty value: give the header's value",
                "hooks.json: hook deploy: response-headers[3].value: holds a line break, which"
                " webhook sends as a space: write the value on one line",
                "hooks.json: hook deploy: response-headers[5].value: holds a NUL, which webhook"
                " sends as it is and many clients refuse: remove it",
            ],
        )
        self.assertEqual(
            hook.response_headers,
            (
                Header("X-A", ""),
                Header("X-B", "a  Set-Cookie: x"),
                Header("X-C", "padded"),
                Header("X-D", "a\0b"),
            ),
        )


class ExtrasTests(Case):
    """The C{hookdaemon} object: hookdaemon's own settings, which webhook ignores."""

    def extras(self, **settings: object) -> Extras:
        hooks = self.loads(hook_json(hookdaemon=settings))
        return hooks[0].extras

    def test_noObjectIsTheDefaults(self) -> None:
        self.assertEqual(self.loads(hook_json())[0].extras, Extras())
        self.assertEqual(self.loads(hook_json(hookdaemon=None))[0].extras, Extras())
        self.assertEqual(self.extras(), Extras())

    def test_everySetting(self) -> None:
        self.assertEqual(
            self.extras(
                timeout=900,
                kill_grace=2.5,
                burst="queue",
                max_queued=5,
                rate="10/minute",
                history=20,
                env={"DEPLOY_ENV": "prod"},
                allow_from=["192.0.2.0/24", "2001:db8::1"],
            ),
            Extras(
                timeout=900.0,
                kill_grace=2.5,
                burst="queue",
                max_queued=5,
                rate=Rate(10, 60.0),
                history=20,
                env={"DEPLOY_ENV": "prod"},
                allow_from=(
                    ipaddress.ip_network("192.0.2.0/24"),
                    ipaddress.ip_network("2001:db8::1/128"),
                ),
            ),
        )

    def test_fromYaml(self) -> None:
        text = (
            "- id: a\n  execute-command: /x\n  hookdaemon:\n    timeout: 60\n"
            "    burst: coalesce\n    env:\n      MODE: fast\n"
        )
        self.assertEqual(
            self.loads(text, "hooks.yaml")[0].extras,
            Extras(timeout=60.0, burst="coalesce", env={"MODE": "fast"}),
        )

    def test_unknownSettingsAreProblems(self) -> None:
        self.problem(
            hook_json(hookdaemon={"timout": 5}),
            "hooks.json: hook deploy: hookdaemon.timout: is not a hookdaemon setting; the"
            f" settings are {', '.join(EXTRAS_KEYS)}",
        )

    def test_reportingKeysAreKeptAsText(self) -> None:
        # Read as tap.cfg's keys once the daemon's public_url is known
        # (tests.test_config_source); here only their shape is checked.
        [loaded] = self.loads(
            hook_json(
                hookdaemon={
                    "report": "github",
                    "report_token": "env:GITHUB_TOKEN",
                    "notify": ["env:CHAT_URL", "https://chat.example/x"],
                    "notify_on": "failure",
                }
            )
        )
        self.assertEqual(
            dict(loaded.extras.reporting),
            {
                "report": "github",
                "report_token": "env:GITHUB_TOKEN",
                "notify": "env:CHAT_URL\nhttps://chat.example/x",
                "notify_on": "failure",
            },
        )
        self.assertNotIn("env:GITHUB_TOKEN", repr(loaded.extras))

    def test_reportingKeysOfTheWrongKind(self) -> None:
        self.assertEqual(
            self.problems(
                hook_json(hookdaemon={"report": {}, "notify": ["x", 1], "report_ca": 3})
            ),
            [
                "hooks.json: hook deploy: hookdaemon.report: must be text; quote it",
                "hooks.json: hook deploy: hookdaemon.notify: must be text or a list of texts;"
                " quote it",
                "hooks.json: hook deploy: hookdaemon.report_ca: must be text; quote it",
            ],
        )

    def test_settingsOfTheWrongKind(self) -> None:
        self.assertEqual(
            self.problems(
                hook_json(
                    hookdaemon={
                        "timeout": 0,
                        "kill_grace": True,
                        "burst": "drop",
                        "max_queued": 0,
                        "history": 1.5,
                        "rate": "10/min",
                        "env": {"1X": "a", "OK": 1},
                        "allow_from": ["10.0.0.300", 7],
                    }
                )
            ),
            [
                "hooks.json: hook deploy: hookdaemon.timeout: must be a positive number of"
                " seconds, such as 600",
                "hooks.json: hook deploy: hookdaemon.kill_grace: must be a positive number of"
                " seconds, such as 10",
                "hooks.json: hook deploy: hookdaemon.burst: must be coalesce or queue",
                "hooks.json: hook deploy: hookdaemon.max_queued: must be a whole number, at least"
                " 1, such as 100",
                "hooks.json: hook deploy: hookdaemon.history: must be a whole number, at least 1,"
                " such as 50",
                "hooks.json: hook deploy: hookdaemon.rate: '10/min' is not N/second, N/minute or"
                " N/hour with N at least 1",
                "hooks.json: hook deploy: hookdaemon.env: '1X' is not a variable name: letters,"
                " digits and _, not first a digit",
                "hooks.json: hook deploy: hookdaemon.env.OK: must be text; quote it",
                "hooks.json: hook deploy: hookdaemon.allow_from[0]: '10.0.0.300' is not an IP"
                " address or CIDR network",
                "hooks.json: hook deploy: hookdaemon.allow_from[1]: must be an address or a CIDR"
                " network as text, not a number",
            ],
        )

    def test_theObjectMustBeAnObject(self) -> None:
        self.problem(
            hook_json(hookdaemon=["timeout"]),
            "hooks.json: hook deploy: hookdaemon: must be an object of hookdaemon settings, not"
            " a list",
        )

    def test_webhookStillTurnsTheObjectIntoJson(self) -> None:
        self.assertEqual(
            len(
                self.problems(
                    "- id: a\n  execute-command: /x\n  hookdaemon: {timeout: .inf}\n", "hooks.yaml"
                )
            ),
            2,  # webhook refuses the file; and it is no number of seconds
        )


class WholeHookTests(Case):
    def test_everyProperty(self) -> None:
        text = json.dumps(
            [
                {
                    "id": "webhook",
                    "execute-command": "/srv/redeploy.sh",
                    "command-working-directory": "/srv",
                    "response-message": "I got the payload!",
                    "response-headers": [{"name": "X-A", "value": "b"}],
                    "success-http-response-code": 202,
                    "incoming-payload-content-type": "application/json",
                    "http-methods": ["POST"],
                    "include-command-output-in-response": True,
                    "include-command-output-in-response-on-error": True,
                    "parse-parameters-as-json": [{"source": "payload", "name": "p"}],
                    "pass-arguments-to-command": [{"source": "payload", "name": "head_commit.id"}],
                    "pass-environment-to-command": [{"source": "header", "name": "X-E"}],
                    "pass-file-to-command": [{"source": "entire-payload", "envname": "F"}],
                    "trigger-rule": {"match": {"type": "ip-whitelist", "ip-range": "10.0.0.0/8"}},
                    "trigger-rule-mismatch-http-response-code": 400,
                    "trigger-signature-soft-failures": True,
                }
            ]
        )
        self.assertEqual(sorted(json.loads(text)[0]), sorted(PROPERTIES))
        self.assertEqual(
            self.one(text),
            FileHook(
                id="webhook",
                execute_command="/srv/redeploy.sh",
                source="hooks.json",
                command_working_directory="/srv",
                response_message="I got the payload!",
                response_headers=(Header("X-A", "b"),),
                include_command_output_in_response=True,
                include_command_output_in_response_on_error=True,
                pass_environment_to_command=(Argument("header", "X-E"),),
                pass_arguments_to_command=(Argument("payload", "head_commit.id"),),
                pass_file_to_command=(Argument("entire-payload", envname="F"),),
                parse_parameters_as_json=(Argument("payload", "p"),),
                trigger_rule=Match(type="ip-whitelist", ip_range="10.0.0.0/8"),
                trigger_rule_mismatch_http_response_code=400,
                trigger_signature_soft_failures=True,
                incoming_payload_content_type="application/json",
                success_http_response_code=202,
                http_methods=("POST",),
            ),
        )

    def test_aHookWithAProblemIsLeftOutTheOthersLoad(self) -> None:
        text = json.dumps(
            [
                {"id": "good", "execute-command": "/x"},
                {"id": "bad", "execute-command": "/x", "http-methods": "POST"},
                {"id": "warned"},
            ]
        )
        hooks, problems, warnings = load(text)
        self.assertEqual([h.hook.id for h in hooks], ["good", "warned"])
        self.assertEqual(len(problems), 1)
        self.assertEqual(len(warnings), 1)

    def test_deeplyNestedRulesAreAProblem(self) -> None:
        match = json.dumps(header_match(type="value", value="x"))
        rule = '{"not": ' * 5000 + match + "}" * 5000
        _, problems, _ = load(f'[{{"id": "a", "execute-command": "/x", "trigger-rule": {rule}}}]')
        self.assertEqual(len(problems), 1)


# -- webhook's own examples -------------------------------------------------------------

FENCE = re.compile(r"^[ \t]*```(json|yaml)\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)


def doc_blocks(name: str) -> list[tuple[str, str]]:
    """The fenced JSON and YAML blocks of one of webhook's docs, as (language, text)."""
    path = os.path.join(DOCS, name)
    if not os.path.exists(path):
        raise SkipTest(f"webhook's docs are not at {DOCS}")
    with open(path, encoding="utf-8") as f:
        return [(m.group(1), m.group(2)) for m in FENCE.finditer(f.read())]


def webhook_file(name: str) -> str:
    """One of webhook 2.8.0's example files: the test data's, a mirror's or Debian's."""
    kept = os.path.join(DOCS, name)
    if os.path.exists(kept):
        with open(kept, encoding="utf-8") as f:
            return f.read()
    if os.path.isdir(MIRROR) and shutil.which("git"):
        shown = subprocess.run(
            ["git", "--git-dir", MIRROR, "show", f"2.8.0:{name}"], capture_output=True, text=True
        )
        if shown.returncode == 0:
            return shown.stdout
    packaged = os.path.join(DEBIAN_DOCS, name)
    if os.path.exists(packaged):
        with open(packaged, encoding="utf-8") as f:
            return f.read()
    raise SkipTest(f"no copy of webhook's {name}: neither {MIRROR} nor {DEBIAN_DOCS} has it")


class WebhookExamplesTests(Case):
    def test_hookExamplesLoad(self) -> None:
        """
        Every hooks file in Hook-Examples.md loads without problems, but the
        pass-file-to-command one: its // comments are no JSON and no YAML, and
        webhook refuses it too (yaml: line 12: did not find expected ',' or '}').
        """
        examples = [
            (lang, text)
            for lang, text in doc_blocks("Hook-Examples.md")
            if "execute-command" in text
        ]
        self.assertGreater(len(examples), 15)
        refused = []
        for number, (lang, text) in enumerate(examples, 1):
            hooks, problems, _ = load(text, f"Hook-Examples-{number}.{lang}")
            if problems:
                refused.append(text)
                continue
            self.assertEqual(len(hooks), 1, text)
        self.assertEqual(len(refused), 1)
        self.assertIn("// to use $ENV_VARIABLE", refused[0])

    def test_hookRulesExamplesLoad(self) -> None:
        rules = doc_blocks("Hook-Rules.md")
        self.assertGreater(len(rules), 8)
        for _, text in rules:
            hook = self.one(f'[{{"id": "r", "execute-command": "/x", "trigger-rule": {text}}}]')
            self.assertIsNotNone(hook.trigger_rule)

    def test_referencingRequestValuesExamplesLoad(self) -> None:
        arguments = [
            text for _, text in doc_blocks("Referencing-Request-Values.md") if '"source"' in text
        ]
        self.assertGreater(len(arguments), 8)
        for text in arguments:
            self.one(
                f'[{{"id": "a", "execute-command": "/x", "pass-arguments-to-command": [{text}]}}]'
            )

    def test_repositoryJsonExampleLoads(self) -> None:
        name = "hooks.json.example"
        self.assertEqual(self.one(webhook_file(name), name), evolve(self.EXAMPLE, source=name))

    def test_repositoryYamlExampleLoads(self) -> None:
        name = "hooks.yaml.example"
        self.assertEqual(self.one(webhook_file(name), name), evolve(self.EXAMPLE, source=name))

    EXAMPLE = FileHook(
        id="webhook",
        execute_command="/home/adnan/redeploy-go-webhook.sh",
        source="hooks.example",
        command_working_directory="/home/adnan/go",
        response_message="I got the payload!",
        response_headers=(Header("Access-Control-Allow-Origin", "*"),),
        pass_arguments_to_command=(
            Argument("payload", "head_commit.id"),
            Argument("payload", "pusher.name"),
            Argument("payload", "pusher.email"),
        ),
        trigger_rule=And(
            (
                Match(
                    type="payload-hmac-sha1",
                    secret="mysecret",
                    parameter=Argument("header", "X-Hub-Signature"),
                ),
                Match(
                    type="value",
                    value="refs/heads/master",
                    parameter=Argument("payload", "ref"),
                ),
            )
        ),
    )
    """webhook 2.8.0's hooks.json.example, as hooks.yaml.example says it too."""


# -- the real webhook -------------------------------------------------------------------


@frozen
class WebhookCase:
    """A hooks file and what webhook 2.8.0 made of it."""

    name: str
    text: str
    loaded: tuple[str, ...] | None
    """The ids webhook loaded; None: it refused the file."""
    error: str = ""
    """Part of webhook's error when it refused the file."""
    agrees: bool = True
    """
    hookdaemon loads the same ids without problems (warnings allowed), or
    finds a problem where webhook refuses the file.
    """


WEBHOOK_CASES = [
    WebhookCase("empty.json", "", ()),
    WebhookCase("null.json", "null", ()),
    WebhookCase("list.json", "[]", ()),
    WebhookCase(
        "object.json",
        '{"id": "a", "execute-command": "/bin/true"}',
        None,
        "json: cannot unmarshal object into Go value of type hook.Hooks",
    ),
    WebhookCase(
        "methods-text.json",
        '[{"id": 1, "execute-command": "/bin/true", "http-methods": "POST"}]',
        None,
        "json: cannot unmarshal string into Go struct field Hook.http-methods of type []string",
    ),
    WebhookCase("cased.json", '[{"ID": "a", "Execute-Command": "/bin/true"}]', ("a",)),
    WebhookCase(
        "repeated.json", '[{"id": "a", "id": "b", "execute-command": "/bin/true"}]', ("b",)
    ),
    WebhookCase(
        "spellings.json", '[{"id": "a", "ID": "b", "execute-command": "/bin/true"}]', ("a",)
    ),
    WebhookCase(
        "spellings2.json", '[{"ID": "b", "id": "a", "execute-command": "/bin/true"}]', ("a",)
    ),
    WebhookCase(
        "ids.json",
        '[{"id": 1, "execute-command": "/x"}, {"id": true, "execute-command": "/x"}]',
        ("1", "true"),
    ),
    WebhookCase(
        "exponents.json",
        '[{"id": 1e5, "execute-command": "/x"}, {"id": 1E+2, "execute-command": "/x"},'
        ' {"id": 1.5e3, "execute-command": "/x"}, {"id": 2.50, "execute-command": "/x"}]',
        ("1e5", "100", "1.5e3", "2.5"),
    ),
    WebhookCase("nan.json", '[{"id": NaN, "execute-command": "/x"}]', ("NaN",)),
    WebhookCase(
        "float-code.json",
        '[{"id": "a", "execute-command": "/x", "success-http-response-code": 200.0}]',
        ("a",),
    ),
    WebhookCase(
        "fraction-code.json",
        '[{"id": "a", "execute-command": "/x", "success-http-response-code": 200.5}]',
        None,
        "json: cannot unmarshal number 200.5 into Go struct field"
        " Hook.success-http-response-code of type int",
    ),
    WebhookCase(
        "text-code.json",
        '[{"id": "a", "execute-command": "/x", "success-http-response-code": "200"}]',
        None,
        "json: cannot unmarshal string into Go struct field Hook.success-http-response-code of"
        " type int",
    ),
    WebhookCase(
        "exponent-code.json",
        '[{"id": "a", "execute-command": "/x", "success-http-response-code": 2e2}]',
        None,
        "json: cannot unmarshal string into Go struct field Hook.success-http-response-code of"
        " type int",
    ),
    WebhookCase(
        "signed-exponent-code.json",
        '[{"id": "a", "execute-command": "/x", "success-http-response-code": 2e+2}]',
        ("a",),
    ),
    WebhookCase(
        "text-flag.json",
        '[{"id": "a", "execute-command": "/x", "include-command-output-in-response": "true"}]',
        None,
        "json: cannot unmarshal string into Go struct field"
        " Hook.include-command-output-in-response of type bool",
    ),
    WebhookCase(
        "number-flag.json",
        '[{"id": "a", "execute-command": "/x", "include-command-output-in-response": 1}]',
        None,
        "json: cannot unmarshal number into Go struct field"
        " Hook.include-command-output-in-response of type bool",
    ),
    WebhookCase(
        "tabs.json",
        '[\n\t{\n\t\t"id": "tabbed",\n\t\t"execute-command": "/x"\n\t}\n]\n',
        ("tabbed",),
    ),
    WebhookCase("trailing-comma.json", '[{"id": "a", "execute-command": "/x",}]', ("a",)),
    WebhookCase("comment.json", '# hooks\n[{"id": "a", "execute-command": "/x"}]', ("a",)),
    WebhookCase("bom.json", '\ufeff[{"id": "bom", "execute-command": "/x"}]', ("bom",)),
    WebhookCase(
        "scalars.yaml", yaml_hooks([w for w, _ in YAML_SCALARS]), tuple(r for _, r in YAML_SCALARS)
    ),
    WebhookCase("repeated.yaml", "- id: a\n  id: b\n  execute-command: /x\n", ("b",)),
    WebhookCase(
        "documents.yaml",
        "- id: doc1\n  execute-command: /x\n---\n- id: doc2\n  execute-command: /x\n",
        ("doc1",),
    ),
    WebhookCase(
        "merge.yaml",
        "- &base\n  id: base\n  execute-command: /x\n- <<: *base\n  id: after\n"
        "- id: before\n  <<: {id: merged, execute-command: /x}\n",
        ("base", "after", "merged"),
    ),
    WebhookCase(
        "null-key.yaml",
        "- id: a\n  execute-command: /x\n  ~: x\n",
        None,
        "Unsupported map key of type: %!s(<nil>)",
    ),
    WebhookCase(
        "list-key.yaml",
        "- id: a\n  execute-command: /x\n  ? [a]\n  : x\n",
        None,
        "invalid map key",
    ),
    WebhookCase(
        "uint-key.yaml",
        "- id: a\n  execute-command: /x\n  18446744073709551615: x\n",
        None,
        "Unsupported map key of type: uint64",
    ),
    WebhookCase(
        "nan.yaml",
        "- id: a\n  execute-command: /x\n  notes: .nan\n",
        None,
        "json: unsupported value: NaN",
    ),
    WebhookCase(
        "inf-code.yaml",
        "- id: a\n  execute-command: /x\n  success-http-response-code: .inf\n",
        None,
        "json: unsupported value: +Inf",
    ),
    WebhookCase(
        "float-tag.yaml",
        "- id: a\n  execute-command: /x\n  success-http-response-code: !!float 200\n",
        None,
        "cannot decode !!int `200` as a !!float",
    ),
    WebhookCase(
        "extras.json",
        '[{"id": "a", "execute-command": "/x", "hookdaemon": {"timeout": 5, "burst": "queue"}}]',
        ("a",),
    ),
    WebhookCase("space.json", '[{"id": "sp ace", "execute-command": "/x"}]', ("sp ace",)),
    WebhookCase("null-entry.json", '[null, {"id": "a", "execute-command": "/x"}]', ("", "a")),
    WebhookCase("no-id.json", '[{"execute-command": "/x"}]', ("",)),
    WebhookCase(
        "served-as-500.json",
        '[{"id": "a", "execute-command": "/x", "trigger-rule": {"match": {"type": "vaule"}},'
        ' "success-http-response-code": 700, "http-methods": ["GET POST"]}]',
        ("a",),
    ),
    # Where hookdaemon differs: it keeps only the hook a call can reach (with
    # a warning)...
    WebhookCase(
        "ids-twice.json",
        '[{"id": "a", "execute-command": "/x"}, {"id": "a", "execute-command": "/y"}]',
        ("a", "a"),
        agrees=False,
    ),
    # ...and reads valid JSON that webhook cannot.
    WebhookCase(
        "slash-escape.json",
        '[{"id": "a\\/b", "execute-command": "/x"}]',
        None,
        "found unknown escape character",
        agrees=False,
    ),
    WebhookCase(
        "surrogates.json",
        '[{"id": "a", "execute-command": "/x", "x": "\\ud83d\\ude00"}]',
        None,
        "found invalid Unicode character escape code",
        agrees=False,
    ),
    WebhookCase(
        "delete.json",
        '[{"id": "a", "execute-command": "/x\x7f"}]',
        None,
        "control characters are not allowed",
        agrees=False,
    ),
]


class LoaderAgreesWithWebhookTests(Case):
    """hookdaemon reads each case as webhook did (see L{WebhookReadsTheCasesTests})."""

    def test_theSameIdsLoadAndTheSameFilesAreRefused(self) -> None:
        for case in WEBHOOK_CASES:
            if not case.agrees:
                continue
            hooks, problems, _ = load(case.text, case.name)
            if case.loaded is None:
                self.assertNotEqual(problems, (), case.name)
            else:
                self.assertEqual(messages(problems), [], case.name)
                self.assertEqual(tuple(h.hook.id for h in hooks), case.loaded, case.name)

    def test_whereItDiffersItSaysSo(self) -> None:
        for case in WEBHOOK_CASES:
            if case.agrees:
                continue
            _, problems, warnings = load(case.text, case.name)
            self.assertEqual(messages(problems), [], case.name)
            if case.loaded is None:
                self.assertTrue(
                    any("webhook refuses this file" in w for w in messages(warnings)), case.name
                )
            else:
                self.assertNotEqual(warnings, (), case.name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def log_lines(process: subprocess.Popen[bytes], deadline: float) -> Iterator[str]:
    """webhook's log lines as it writes them, until it exits or the deadline passes."""
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    pending = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not selector.select(left):
            raise AssertionError("webhook wrote no more in time")
        chunk = os.read(process.stderr.fileno(), 65536)
        if not chunk:
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace")


def webhook_reads(path: str) -> tuple[tuple[str, ...] | None, str]:
    """What webhook makes of a hooks file: the ids it loaded (None: refused), and its error."""
    assert WEBHOOK is not None
    process = subprocess.Popen(
        [WEBHOOK, "-hooks", path, "-ip", "127.0.0.1", "-port", str(free_port()), "-verbose"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        ids: list[str] = []
        for line in log_lines(process, time.monotonic() + 10):
            if "couldn't load hooks from file! " in line:
                return None, line.split("couldn't load hooks from file! ", 1)[1]
            if "\tloaded: " in line:
                ids.append(line.split("\tloaded: ", 1)[1])
            if "serving hooks on " in line:
                return tuple(ids), ""
        raise AssertionError("webhook stopped before it served")
    finally:
        process.terminate()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


class WebhookReadsTheCasesTests(SynchronousTestCase):
    """The cases' record of webhook, checked against the binary."""

    if WEBHOOK is None:
        skip = "webhook is not installed (the Debian package webhook is the reference)"

    def test_webhookReadsEachCaseAsRecorded(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        for case in WEBHOOK_CASES:
            path = os.path.join(directory, case.name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(case.text)
            loaded, error = webhook_reads(path)
            self.assertEqual(loaded, case.loaded, case.name)
            self.assertIn(case.error, error, case.name)


# -- what webhook does with the hooks it is warned about --------------------------------

RAN = "ran"
"""The C{response-message} of every hook below: its answer when a call triggers it."""
UNMET = "Hook rules were not satisfied."
RULES_FAILED = "Error occurred while evaluating hook rules."


def served(**properties: object) -> dict[str, object]:
    """A hook that webhook loads, and hookdaemon too, with a warning (C{_} for C{-})."""
    hook: dict[str, object] = {"execute-command": "/bin/true", "response-message": RAN}
    hook.update({key.replace("_", "-"): value for key, value in properties.items()})
    return hook


def signed(kind: str) -> dict[str, object]:
    return {"match": {"type": kind, "parameter": {"source": "header", "name": "X-T"}}}


WARNED_HOOKS = [
    served(id="", response_message="no id"),
    served(id="no-type", trigger_rule={"match": {}}),
    served(id="unknown-type", trigger_rule=signed("vaule")),
    served(id="not-unknown-type", trigger_rule={"not": signed("vaule")}),
    served(id="no-parameter", trigger_rule={"match": {"type": "value", "value": "x"}}),
    served(id="no-secret", trigger_rule=signed("payload-hmac-sha1")),
    served(id="no-scalr-secret", trigger_rule={"match": {"type": "scalr-signature"}}),
    served(
        id="bad-regex",
        trigger_rule={
            "match": {
                "type": "regex",
                "regex": "(x",
                "parameter": {"source": "header", "name": "X-T"},
            }
        },
    ),
    served(id="no-ip-range", trigger_rule={"match": {"type": "ip-whitelist"}}),
    served(
        id="bad-ip-range-last",
        trigger_rule={"match": {"type": "ip-whitelist", "ip-range": "127.0.0.1 10.1"}},
    ),
    served(
        id="bad-ip-range-first",
        trigger_rule={"match": {"type": "ip-whitelist", "ip-range": "10.1 127.0.0.1"}},
    ),
    served(id="code-700", success_http_response_code=700),
    served(
        id="request-name",
        trigger_rule={
            "match": {"type": "value", "parameter": {"source": "request", "name": "path"}}
        },
    ),
    served(id="no-source", trigger_rule={"match": {"type": "value", "parameter": {"name": "X"}}}),
    served(
        id="no-name", trigger_rule={"match": {"type": "value", "parameter": {"source": "header"}}}
    ),
    served(id="methods", http_methods=["GET POST", ""]),
    served(
        id="headers",
        response_headers=[
            {"value": "x"},
            {"name": "Bad Name", "value": "x"},
            {"name": "X-A"},
            {"name": "X-B", "value": "a\r\nSet-Cookie: x"},
        ],
    ),
    served(id="empty-rule", trigger_rule={}),
    served(id="not-empty-rule", trigger_rule={"not": {}}),
    served(id="twice", response_message="first"),
    served(id="twice", response_message="second"),
]
"""Hooks webhook 2.8.0 loads, each with something hookdaemon warns about."""


@frozen
class Call:
    """A call to one of L{WARNED_HOOKS} from 127.0.0.1, and webhook 2.8.0's answer."""

    hook: str
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "POST"
    sent: tuple[tuple[str, str], ...] = ()
    """Headers the answer carries."""
    unsent: tuple[str, ...] = ()
    """Header names it does not carry."""


CALLS = [
    Call("", 200, "no id"),
    Call("no-type", 500, RULES_FAILED),
    Call("unknown-type", 200, UNMET),
    Call("unknown-type", 200, UNMET, headers=(("X-T", "1"),)),
    Call("not-unknown-type", 200, RAN),
    Call("not-unknown-type", 200, RAN, headers=(("X-T", "1"),)),
    Call("no-parameter", 500, RULES_FAILED),
    Call("no-secret", 200, UNMET),
    Call("no-secret", 500, RULES_FAILED, headers=(("X-T", "sha1=00"),)),
    Call("no-scalr-secret", 200, UNMET),
    Call("no-scalr-secret", 500, RULES_FAILED, headers=(("X-Signature", "a"), ("Date", "b"))),
    Call("bad-regex", 200, UNMET),
    Call("bad-regex", 500, RULES_FAILED, headers=(("X-T", "1"),)),
    Call("no-ip-range", 200, UNMET),
    Call("bad-ip-range-last", 200, RAN),
    Call("bad-ip-range-first", 500, RULES_FAILED),
    Call("code-700", 200, RAN),
    Call("request-name", 500, RULES_FAILED),
    Call("no-source", 500, RULES_FAILED),
    Call("no-name", 200, UNMET),
    Call("methods", 405, ""),
    Call("methods", 405, "", method="GET"),
    Call(
        "headers",
        200,
        RAN,
        sent=(("X-A", ""), ("X-B", "a  Set-Cookie: x")),
        unsent=("Bad Name", "Bad"),
    ),
    Call("empty-rule", 200, UNMET),
    Call("not-empty-rule", 200, RAN),
    Call("twice", 200, "first"),
]


@frozen
class Seen:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...]

    def carries(self, name: str) -> bool:
        return any(n.lower() == name.lower() for n, _ in self.headers)


def hookdaemon_answer(hooks: dict[str, FileHook], call: Call) -> Seen:
    """What hookdaemon's request-time code answers the call, from the hooks as loaded."""
    hook = hooks.get(call.hook)
    if hook is None:
        answer = answers.not_found()
    elif not answers.method_allowed(hook, answers.NO_FRONT_END, call.method):
        answer = answers.method_refused()
    else:
        request = read_request(
            method=call.method,
            remote_addr="127.0.0.1:40000",
            header_lines=call.headers,
            query_string="",
            body=b"",
        )
        try:
            ok = hook.trigger_rule is None or evaluate(
                hook.trigger_rule, request, hook.trigger_signature_soft_failures
            )
        except RuleError:
            answer = answers.rules_error(answers.NO_FRONT_END)
        else:
            if ok:
                answer = answers.triggered(hook, answers.NO_FRONT_END)
            else:
                answer = answers.rules_unmet(hook, answers.NO_FRONT_END)
    return Seen(answer.code, answer.body.decode(), tuple(answer.header_lines()))


class WarnedHooksAnswerAsWebhookTests(Case):
    """
    A hook hookdaemon warns about is kept with webhook's values, so that it
    answers each call as webhook 2.8.0 did (L{CALLS}, checked against the
    binary by L{WebhookAnswersTheCallsTests}).
    """

    def test_eachHookIsKeptWithAWarning(self) -> None:
        hooks, problems, warnings = load(json.dumps(WARNED_HOOKS))
        self.assertEqual(messages(problems), [])
        self.assertEqual(len(hooks), len(WARNED_HOOKS) - 1)  # twice, served once
        warned = {w.hook for w in warnings}
        for hook in hooks:
            self.assertIn(hook.hook.id or "#1", warned)

    def test_eachCallIsAnsweredAsWebhookAnswered(self) -> None:
        hooks = {h.hook.id: h.hook for h in load(json.dumps(WARNED_HOOKS))[0]}
        for call in CALLS:
            seen = hookdaemon_answer(hooks, call)
            self.assertEqual((seen.status, seen.body), (call.status, call.body), call)
            for header in call.sent:
                self.assertIn(header, seen.headers, call)
            for name in call.unsent:
                self.assertFalse(seen.carries(name), call)


def webhook_answer(port: int, call: Call) -> Seen:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(call.method, f"/hooks/{call.hook}", headers=dict(call.headers))
        response = connection.getresponse()
        return Seen(response.status, response.read().decode(), tuple(response.getheaders()))
    finally:
        connection.close()


class WebhookAnswersTheCallsTests(SynchronousTestCase):
    """L{CALLS}' record of webhook's answers, checked against the binary."""

    if WEBHOOK is None:
        skip = "webhook is not installed (the Debian package webhook is the reference)"

    def test_webhookAnswersEachCallAsRecorded(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "hooks.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(WARNED_HOOKS, f)
        assert WEBHOOK is not None
        port = free_port()
        process = subprocess.Popen(
            [WEBHOOK, "-hooks", path, "-ip", "127.0.0.1", "-port", str(port), "-verbose"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        def stop() -> None:
            process.terminate()
            process.wait(10)
            assert process.stderr is not None
            process.stderr.close()

        self.addCleanup(stop)
        for line in log_lines(process, time.monotonic() + 10):
            if "serving hooks on " in line:
                break
        else:
            self.fail("webhook stopped before it served")
        for call in CALLS:
            seen = webhook_answer(port, call)
            self.assertEqual((seen.status, seen.body), (call.status, call.body), call)
            for header in call.sent:
                self.assertIn(header, seen.headers, call)
            for name in call.unsent:
                self.assertFalse(seen.carries(name), call)
