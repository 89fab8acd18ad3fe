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
    Not,
    Or,
)

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "specs", "adnanh-webhook"))
"""webhook's docs (MIT), beside the project as the project's specs keep them."""
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

    def test_aNullEntryIsAProblem(self) -> None:
        # webhook loads a hook with every property empty, id "" included.
        self.assertEqual(
            self.problems('[null, {"id": "a", "execute-command": "/bin/true"}]'),
            [
                "hooks.json: hook #1: is null, not a hook: write the hook's object or remove the"
                " entry"
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
                "hooks.json: hook deploy: trigger-rule: names none of and, or, not and match:"
                " webhook takes such a rule for false, so the hook would never run",
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
        hooks, problems, _ = load(text, "hooks.yaml")
        self.assertEqual([h.hook.id for h in hooks], ["x", "z"])
        self.assertEqual(len(problems), 1)  # z twice

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


class RequiredTests(Case):
    def test_idIsRequired(self) -> None:
        self.problem(
            '[{"execute-command": "/x"}]',
            "hooks.json: hook #1: id: is missing or empty: every hook needs an id, the last part"
            " of its URL (/hooks/ID)",
        )

    def test_aNullOrEmptyIdIsMissing(self) -> None:
        # webhook: "loaded: " (an empty id), served at /hooks/.
        for hook_id in ("", None):
            self.assertEqual(
                self.problems(hook_json(id=hook_id)),
                [
                    "hooks.json: hook #1: id: is missing or empty: every hook needs an id, the"
                    " last part of its URL (/hooks/ID)"
                ],
            )

    def test_executeCommandIsRequired(self) -> None:
        self.problem(
            '[{"id": "a"}]',
            "hooks.json: hook a: execute-command: is missing or empty: name the program the hook"
            " runs",
        )

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
                "hooks.json: hook #1: id: has U+0009 and U+000A, which no URL can carry as"
                " written: use letters, digits and - . _ ~ (and / between parts)"
            ],
        )

    def test_anIdWithEmptyOrDotPartsIsAProblem(self) -> None:
        # webhook: GET /hooks/a//b answered 301 (the router cleans the path).
        for hook_id in ("a//b", "/a", "a/./b", "a/..", "."):
            self.assertEqual(
                self.problems(hook_json(id=hook_id)),
                [
                    f"hooks.json: hook {hook_id}: id: has an empty, . or .. part between slashes:"
                    " webhook's router redirects such a path elsewhere, so the hook could never"
                    " be called"
                ],
            )

    def test_idsAreUnique(self) -> None:
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
        hooks, problems, _ = load(text)
        self.assertEqual([h.hook.execute_command for h in hooks], ["/first", "/x"])
        self.assertEqual(
            messages(problems),
            [
                "hooks.json: hook a: id: is the id of hooks #1, #3 and #4: ids must differ, as a"
                " call can reach only one (webhook serves the first, and refuses the file when it"
                " reloads it)"
            ],
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

    def test_aRuleMustNameOneKind(self) -> None:
        # webhook: a rules object naming none is false: "Hook rules were not satisfied."
        self.problem(
            rule_json({}),
            "hooks.json: hook deploy: trigger-rule: names none of and, or, not and match: webhook"
            " takes such a rule for false, so the hook would never run",
        )
        self.problem(
            rule_json({"and": [{"mtach": {}}]}),
            "hooks.json: hook deploy: trigger-rule.and[0]: names none of and, or, not and match:"
            " webhook takes such a rule for false, so the hook would never run",
        )

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

    def test_theMatchTypeMustBeKnown(self) -> None:
        # webhook: an unknown type never matches.
        self.problem(
            rule_json(
                {"and": [header_match(type="value", value="x"), header_match(type="vaule")]}
            ),
            "hooks.json: hook deploy: trigger-rule.and[1].match.type: 'vaule' is not a match"
            " type: value, regex, payload-hmac-sha1, payload-hmac-sha256, payload-hmac-sha512,"
            " ip-whitelist, scalr-signature",
        )
        self.problem(
            rule_json(header_match()),
            "hooks.json: hook deploy: trigger-rule.match.type: is missing: one of value, regex,"
            " payload-hmac-sha1, payload-hmac-sha256, payload-hmac-sha512, ip-whitelist,"
            " scalr-signature",
        )

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

    def test_aValueRuleNeedsAParameter(self) -> None:
        # webhook answered 500 "Error occurred while evaluating hook rules."
        self.problem(
            rule_json({"match": {"type": "value", "value": "x"}}),
            "hooks.json: hook deploy: trigger-rule.match.parameter: is missing: a value rule"
            ' checks the request value it names, such as {"source": "header", "name":'
            ' "X-Hub-Signature"}',
        )

    def test_aRegexMustCompileAsGoCompilesIt(self) -> None:
        # Go's error: webhook would answer 500 to every call that reaches the rule.
        self.problem(
            rule_json(header_match(type="regex", regex="(unclosed")),
            "hooks.json: hook deploy: trigger-rule.match.regex: cannot be used: error parsing"
            " regexp: missing closing ): `(unclosed`",
        )
        # RE2 has no backreferences; Python's re would have taken this one.
        self.assertEqual(
            len(self.problems(rule_json(header_match(type="regex", regex="(a)\\1")))), 1
        )
        # RE2 takes flags anywhere; Python's re only at the start.
        self.loads(rule_json(header_match(type="regex", regex="a(?i)b")))

    def test_anEmptyRegexMatchesEverything(self) -> None:
        self.warning(
            rule_json(header_match(type="regex")),
            "hooks.json: hook deploy: trigger-rule.match.regex: is empty, which matches every"
            " value",
        )

    def test_signatureRulesNeedASecret(self) -> None:
        for kind in ("payload-hmac-sha1", "payload-hmac-sha256", "payload-hmac-sha512"):
            self.problem(
                rule_json(header_match(type=kind, secret="")),
                f"hooks.json: hook deploy: trigger-rule.match.secret: is missing or empty: a"
                f" {kind} rule needs the secret the sender signs with; without one, webhook"
                " never runs the hook",
            )
        self.problem(
            rule_json({"match": {"type": "scalr-signature"}}),
            "hooks.json: hook deploy: trigger-rule.match.secret: is missing or empty: a"
            " scalr-signature rule needs the secret the sender signs with; without one, webhook"
            " never runs the hook",
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

    def test_ipWhitelistNeedsNetworks(self) -> None:
        self.problem(
            rule_json({"match": {"type": "ip-whitelist"}}),
            "hooks.json: hook deploy: trigger-rule.match.ip-range: is missing: an ip-whitelist"
            " rule needs the networks calls may come from, such as 192.0.2.0/24; without,"
            " webhook's rule is never true",
        )
        self.assertEqual(
            self.problems(
                rule_json(
                    {
                        "match": {
                            "type": "ip-whitelist",
                            "ip-range": "10.0.0.0/8 10.1 10.0.0.1/255.0.0.0",
                        }
                    }
                )
            ),
            [
                "hooks.json: hook deploy: trigger-rule.match.ip-range: '10.1' is not a CIDR"
                " network such as 192.0.2.0/24, or an address",
                "hooks.json: hook deploy: trigger-rule.match.ip-range: '10.0.0.1/255.0.0.0' is not"
                " a CIDR network such as 192.0.2.0/24, or an address",
            ],
        )

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

    def test_theSourceMustBeKnown(self) -> None:
        sources = ", ".join(SOURCE_ORDER)
        self.assertEqual(
            self.problems(
                self.arguments(
                    {"source": "heder", "name": "X"},
                    {"source": "Header", "name": "X"},
                    {"name": "X"},
                )
            ),
            [
                f"hooks.json: hook deploy: pass-arguments-to-command[0].source: 'heder' is not a"
                f" source: {sources}",
                f"hooks.json: hook deploy: pass-arguments-to-command[1].source: 'Header' is not a"
                f" source (sources are lower case): {sources}",
                f"hooks.json: hook deploy: pass-arguments-to-command[2].source: is missing: say"
                f" where it comes from: {sources}",
            ],
        )

    def test_namedSourcesNeedAName(self) -> None:
        for source in ("header", "url", "query", "payload"):
            self.problem(
                self.arguments({"source": source}),
                f"hooks.json: hook deploy: pass-arguments-to-command[0].name: is missing: say"
                f" which {source} value to take",
            )

    def test_aRequestSourceNamesMethodOrRemoteAddr(self) -> None:
        self.loads(
            self.arguments(
                {"source": "request", "name": "remote-addr"},
                {"source": "request", "name": "METHOD"},
            )
        )
        self.problem(
            self.arguments({"source": "request", "name": "path"}),
            "hooks.json: hook deploy: pass-arguments-to-command[0].name: a request source gives"
            " method or remote-addr, not 'path'",
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
        self.assertEqual(
            self.problems(self.arguments(None)),
            [
                "hooks.json: hook deploy: pass-arguments-to-command[0].source: is missing: say"
                f" where it comes from: {', '.join(SOURCE_ORDER)}"
            ],
        )

    def test_parsingJsonOfOtherSourcesIsWarnedAbout(self) -> None:
        self.warning(
            hook_json(parse_parameters_as_json=[{"source": "raw-request-body"}]),
            "hooks.json: hook deploy: parse-parameters-as-json[0].source: webhook parses JSON in"
            " header, payload, query, url values only: for a raw-request-body source it logs an"
            " error on every call and goes on",
        )


class ResponseTests(Case):
    def test_statusCodes(self) -> None:
        for code in (0, 100, 200, 202, 418, 599 - 88):
            self.loads(
                hook_json(
                    success_http_response_code=code, trigger_rule_mismatch_http_response_code=code
                )
            )
        for code in (99, 600, -1):
            self.assertEqual(
                self.problems(hook_json(success_http_response_code=code)),
                [
                    "hooks.json: hook deploy: success-http-response-code: must be an HTTP status"
                    " code from 100 to 599, or 0 for the default"
                ],
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

    def test_methodsAreTokens(self) -> None:
        self.assertEqual(
            self.problems(hook_json(http_methods=["GET POST", ""])),
            [
                "hooks.json: hook deploy: http-methods[0]: 'GET POST' is not an HTTP method name;"
                " write each method as an entry of its own",
                "hooks.json: hook deploy: http-methods[1]: '' is not an HTTP method name; write"
                " each method as an entry of its own",
            ],
        )

    def test_responseHeaders(self) -> None:
        hook = self.one(
            hook_json(response_headers=[{"name": "Access-Control-Allow-Origin", "value": "*"}])
        )
        self.assertEqual(hook.response_headers, (Header("Access-Control-Allow-Origin", "*"),))
        self.assertEqual(
            self.problems(
                hook_json(
                    response_headers=[
                        {"value": "x"},
                        {"name": "Bad Name", "value": "x"},
                        {"name": "X-A"},
                        {"name": "X-B", "value": "a\r\nSet-Cookie: x"},
                    ]
                )
            ),
            [
                "hooks.json: hook deploy: response-headers[0].name: is missing: give the header's"
                " name",
                "hooks.json: hook deploy: response-headers[1].name: 'Bad Name' is not an HTTP"
                " header name",
                "hooks.json: hook deploy: response-headers[2].value: is missing: give the"
                " header's value",
                "hooks.json: hook deploy: response-headers[3].value: holds a line break or a NUL,"
                " which a header cannot carry",
            ],
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

    def test_reportAndNotifyAreNotAvailableYet(self) -> None:
        self.assertEqual(
            self.problems(hook_json(hookdaemon={"report": {}, "notify": "x"})),
            [
                "hooks.json: hook deploy: hookdaemon.report: is not available in this release;"
                " remove it",
                "hooks.json: hook deploy: hookdaemon.notify: is not available in this release;"
                " remove it",
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
        text = json.dumps([{"id": "good", "execute-command": "/x"}, {"id": "bad"}])
        hooks, problems, _ = load(text)
        self.assertEqual([h.hook.id for h in hooks], ["good"])
        self.assertEqual(len(problems), 1)

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
    """One of webhook 2.8.0's example files, from a mirror of its repository or from Debian."""
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
    """hookdaemon loads the same ids without problems, or finds a problem where webhook refuses."""


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
    # Where hookdaemon differs: it reports what webhook takes silently...
    WebhookCase(
        "ids-twice.json",
        '[{"id": "a", "execute-command": "/x"}, {"id": "a", "execute-command": "/y"}]',
        ("a", "a"),
        agrees=False,
    ),
    WebhookCase(
        "null-entry.json", '[null, {"id": "a", "execute-command": "/x"}]', ("", "a"), agrees=False
    ),
    WebhookCase("no-id.json", '[{"execute-command": "/x"}]', ("",), agrees=False),
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
            if case.loaded is None:
                self.assertTrue(
                    any("webhook refuses this file" in w for w in messages(warnings)), case.name
                )
            else:
                self.assertNotEqual(problems, (), case.name)


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
