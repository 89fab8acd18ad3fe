"""
Tests for L{hookdaemon.command}: steps become argv lists with no shell, and
payload data becomes whole argv items or environment values, never syntax.
"""

from __future__ import annotations

import os
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.command import (
    BASE_PATH,
    HOOK_VARIABLES,
    Exposure,
    Step,
    StepError,
    base_environment,
    delivery_environment,
    parse_steps,
    references,
    script_references,
    shell_exposures,
    step_environment,
    substitute,
)
from hookdaemon.delivery import Delivery

TOKEN = "ghp_" + "Q7x" * 12
"""Shaped like a GitHub token, as a step or env line might carry one."""

HOSTILE_VALUES = [
    "two words",
    "a; rm -rf /",
    "$(touch /tmp/pwned)",
    "`id`",
    "line one\nline two",
    "'quoted' \"double\"",
    "${HOOK_AFTER}",
    "\\1 \\g<0>",
    "",
]


def step(text: str) -> Step:
    (only,) = parse_steps(text)
    return only


def argv(text: str, environment: dict[str, str], shell: bool = False) -> list[str]:
    return step(text).argv(environment, shell)


class ParseStepsTests(SynchronousTestCase):
    def test_wordsSplitLikeAShell(self) -> None:
        self.assertEqual(
            step("""git commit -m "two words" --author='A B' back\\ slash""").words,
            ("git", "commit", "-m", "two words", "--author=A B", "back slash"),
        )

    def test_shellSyntaxIsJustWords(self) -> None:
        """No shell runs a step: ;, | and > are plain arguments."""
        self.assertEqual(
            argv("echo a; rm -rf / | tee > out", {}),
            ["echo", "a;", "rm", "-rf", "/", "|", "tee", ">", "out"],
        )

    def test_oneStepPerNonEmptyLine(self) -> None:
        steps = parse_steps("\n  git fetch origin  \n\n\t./update.sh\n")
        self.assertEqual(
            steps,
            (
                Step(text="git fetch origin", words=("git", "fetch", "origin")),
                Step(text="./update.sh", words=("./update.sh",)),
            ),
        )

    def test_emptyTextNoSteps(self) -> None:
        self.assertEqual(parse_steps(""), ())
        self.assertEqual(parse_steps("\n   \n"), ())

    def test_unbalancedQuote(self) -> None:
        """The error names the step and its line, never the step's text."""
        error = self.assertRaises(StepError, parse_steps, "true\n\necho 'oops\n")
        self.assertEqual(str(error), "step 2 cannot be split into words: a quote is not closed")
        self.assertEqual((error.step, error.line), (2, 2))

    def test_trailingBackslash(self) -> None:
        error = self.assertRaises(StepError, parse_steps, "echo \\")
        self.assertEqual(
            error.reason, "cannot be split into words: it ends in a backslash that escapes nothing"
        )

    def test_unknownHookVariable(self) -> None:
        error = self.assertRaises(StepError, parse_steps, "echo $HOOK_COMMIT")
        self.assertTrue(str(error).startswith("step 1 uses $HOOK_COMMIT, which is not one of "))

    def test_unknownBracedVariable(self) -> None:
        error = self.assertRaises(StepError, parse_steps, "true\necho ${USER}")
        self.assertTrue(str(error).startswith("step 2 uses $USER, which is not one of "))
        self.assertEqual(error.line, 1)

    def test_errorsNeverQuoteTheStep(self) -> None:
        for text in (f"curl -H 'Authorization: token {TOKEN}", f"curl {TOKEN}/$HOOK_SHA"):
            error = self.assertRaises(StepError, parse_steps, text)
            self.assertNotIn(TOKEN, str(error))
            self.assertNotIn(TOKEN, error.reason)

    def test_everyHookVariableAccepted(self) -> None:
        text = "\n".join(f"echo ${{{name}}} ${name}" for name in HOOK_VARIABLES)
        self.assertEqual(len(parse_steps(text)), len(HOOK_VARIABLES))

    def test_plainDollarWordsPassThrough(self) -> None:
        """Only $HOOK_ names are ours; $1 or $HOME without braces stays literal."""
        self.assertEqual(argv("echo $HOME $1 $", {"HOME": "/root"}), ["echo", "$HOME", "$1", "$"])

    def test_shellStepsAllowShellVariables(self) -> None:
        self.assertEqual(
            parse_steps("for f in *; do echo ${f}; done", shell=True)[0].text,
            "for f in *; do echo ${f}; done",
        )
        self.assertRaises(StepError, parse_steps, "echo ${HOOK_COMMIT}", shell=True)

    def test_references(self) -> None:
        self.assertEqual(
            references("${HOOK_REF}:$HOOK_AFTER/${OTHER}$HOME"),
            ["HOOK_REF", "HOOK_AFTER", "OTHER"],
        )


class SubstitutionTests(SynchronousTestCase):
    def test_bracedAndBare(self) -> None:
        environment = {"HOOK_AFTER": "abc123"}
        self.assertEqual(
            argv("git reset --hard ${HOOK_AFTER}", environment),
            ["git", "reset", "--hard", "abc123"],
        )
        self.assertEqual(
            argv("git reset --hard $HOOK_AFTER", environment),
            ["git", "reset", "--hard", "abc123"],
        )

    def test_valueIsOneArgvItem(self) -> None:
        """Spaces, ;, $(...), backticks and newlines in a value never make more words."""
        for value in HOSTILE_VALUES:
            self.assertEqual(
                argv("git reset --hard ${HOOK_AFTER}", {"HOOK_AFTER": value}),
                ["git", "reset", "--hard", value],
            )
            self.assertEqual(
                argv("git reset --hard $HOOK_AFTER", {"HOOK_AFTER": value}),
                ["git", "reset", "--hard", value],
            )

    def test_embeddedInAWord(self) -> None:
        self.assertEqual(
            argv("git reset --hard origin/${HOOK_BRANCH}", {"HOOK_BRANCH": "release/1.2 x"}),
            ["git", "reset", "--hard", "origin/release/1.2 x"],
        )

    def test_bareNameEndsAtNonNameCharacter(self) -> None:
        self.assertEqual(
            argv("cp $HOOK_PAYLOAD.json $HOOK_REF:x", {"HOOK_PAYLOAD": "/p", "HOOK_REF": "r"}),
            ["cp", "/p.json", "r:x"],
        )

    def test_severalInOneWord(self) -> None:
        self.assertEqual(
            argv(
                "--label=${HOOK_REPOSITORY}@${HOOK_AFTER}",
                {"HOOK_REPOSITORY": "a b", "HOOK_AFTER": "c;d"},
            ),
            ["--label=a b@c;d"],
        )

    def test_missingValueIsEmpty(self) -> None:
        self.assertEqual(argv("echo x${HOOK_TAG}y $HOOK_TAG", {}), ["echo", "xy", ""])

    def test_valuesAreNotSubstitutedAgain(self) -> None:
        self.assertEqual(
            substitute("${HOOK_REF}", {"HOOK_REF": "$HOOK_AFTER", "HOOK_AFTER": "no"}),
            "$HOOK_AFTER",
        )

    def test_singleQuotesDoNotStopSubstitution(self) -> None:
        """Quotes only group words here; there is no shell to honour '...'."""
        self.assertEqual(argv("echo '${HOOK_REF}'", {"HOOK_REF": "r"}), ["echo", "r"])

    def test_shellRunsTheTextAsWritten(self) -> None:
        """shell = yes: the step text goes to /bin/sh -c unchanged; values come via env."""
        text = "git reset --hard ${HOOK_AFTER} && ./update.sh | tee log"
        self.assertEqual(
            argv(text, {"HOOK_AFTER": "$(reboot)"}, shell=True), ["/bin/sh", "-c", text]
        )

    @settings(max_examples=200, deadline=None)
    @given(
        value=st.text(),
        prefix=st.text(alphabet="abc/-=:.", max_size=5),
        suffix=st.text(alphabet="abc/-=:.", max_size=5),
        braced=st.booleans(),
    )
    def test_substitutionNeverSplitsAValue(
        self, value: str, prefix: str, suffix: str, braced: bool
    ) -> None:
        reference = "${HOOK_AFTER}" if braced else "$HOOK_AFTER"
        if not braced and suffix[:1].isalnum():
            suffix = "/" + suffix
        result = argv(f"cmd {prefix}{reference}{suffix} end", {"HOOK_AFTER": value})
        self.assertEqual(result, ["cmd", prefix + value + suffix, "end"])


class EnvironmentTests(SynchronousTestCase):
    def test_baseHasExactlyTheFixedVariables(self) -> None:
        self.assertEqual(
            base_environment("/var/lib/hookdaemon"),
            {
                "PATH": BASE_PATH,
                "HOME": "/var/lib/hookdaemon",
                "LANG": "C.UTF-8",
                "GIT_TERMINAL_PROMPT": "0",
            },
        )
        self.assertEqual(BASE_PATH, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")

    def test_deliveryVariables(self) -> None:
        delivery = Delivery(
            forge="github",
            event="push",
            kind="push",
            delivery_id="f2467dea",
            ref="refs/heads/main",
            branch="main",
            before="a" * 40,
            after="b" * 40,
            repository="example/site",
            clone_url="https://github.com/example/site.git",
            pusher="octocat",
        )
        self.assertEqual(
            delivery_environment("site", 42, delivery, "/var/payloads/42.json"),
            {
                "HOOK_NAME": "site",
                "HOOK_JOB": "42",
                "HOOK_FORGE": "github",
                "HOOK_EVENT": "push",
                "HOOK_DELIVERY": "f2467dea",
                "HOOK_REF": "refs/heads/main",
                "HOOK_BRANCH": "main",
                "HOOK_TAG": "",
                "HOOK_BEFORE": "a" * 40,
                "HOOK_AFTER": "b" * 40,
                "HOOK_REPOSITORY": "example/site",
                "HOOK_CLONE_URL": "https://github.com/example/site.git",
                "HOOK_PUSHER": "octocat",
                "HOOK_PAYLOAD": "/var/payloads/42.json",
            },
        )

    def test_deliveryVariablesAreExactlyTheDocumentedOnes(self) -> None:
        environment = delivery_environment("x", 1, Delivery("generic", "push", "push"), "/p")
        self.assertEqual(sorted(environment), sorted(HOOK_VARIABLES))

    def test_layering(self) -> None:
        """Base first, then the hook's env, then HOOK_*: payload data has the last word."""
        environment = step_environment(
            {"PATH": "/bin", "HOME": "/h", "LANG": "C.UTF-8", "GIT_TERMINAL_PROMPT": "0"},
            {"PATH": "/opt/bin:/bin", "DEPLOY_ENV": "test", "HOOK_AFTER": "from-config"},
            {"HOOK_AFTER": "from-payload", "HOOK_REF": "refs/heads/main"},
        )
        self.assertEqual(
            environment,
            {
                "PATH": "/opt/bin:/bin",
                "HOME": "/h",
                "LANG": "C.UTF-8",
                "GIT_TERMINAL_PROMPT": "0",
                "DEPLOY_ENV": "test",
                "HOOK_AFTER": "from-payload",
                "HOOK_REF": "refs/heads/main",
            },
        )

    def test_layeringLeavesInputsAlone(self) -> None:
        base = base_environment("/h")
        step_environment(base, {"PATH": "/x"}, {})
        self.assertEqual(base["PATH"], BASE_PATH)


def unquoted(name: str) -> Exposure:
    return Exposure(name, single_quoted=False)


def single(name: str) -> Exposure:
    return Exposure(name, single_quoted=True)


class ShellExposureTests(SynchronousTestCase):
    """Which $HOOK_X in a shell = yes step sh would split and glob, or not expand."""

    def test_doubleQuotedIsOneWord(self) -> None:
        for script in (
            "printf '%s\\n' \"$HOOK_PUSHER\"",
            'git checkout "${HOOK_BRANCH}"',
            'echo "pushed by $HOOK_PUSHER to ${HOOK_REF}"',
            'echo "it\'s $HOOK_REF"',
            'echo "a\\"$HOOK_REF"',
        ):
            self.assertEqual(shell_exposures(script), [], script)

    def test_unquotedIsSplitAndGlobbed(self) -> None:
        self.assertEqual(shell_exposures("echo $HOOK_PUSHER"), [unquoted("HOOK_PUSHER")])
        self.assertEqual(
            shell_exposures("git checkout origin/${HOOK_BRANCH} && echo ${HOOK_REF:-none}"),
            [unquoted("HOOK_BRANCH"), unquoted("HOOK_REF")],
        )
        self.assertEqual(shell_exposures('echo "$HOOK_REF"$HOOK_AFTER'), [unquoted("HOOK_AFTER")])

    def test_singleQuotedIsNotExpanded(self) -> None:
        self.assertEqual(shell_exposures("echo '$HOOK_REF'"), [single("HOOK_REF")])
        self.assertEqual(shell_exposures("echo 'a \"$HOOK_REF\" b'"), [single("HOOK_REF")])

    def test_backslashInSingleQuotesIsLiteral(self) -> None:
        """'a\\' is a complete word: the quote after the backslash closes it."""
        self.assertEqual(shell_exposures("echo 'a\\'$HOOK_REF"), [unquoted("HOOK_REF")])

    def test_escapedDollarIsNoReference(self) -> None:
        self.assertEqual(shell_exposures('echo \\$HOOK_REF "\\$HOOK_AFTER"'), [])

    def test_commentsAreSkipped(self) -> None:
        self.assertEqual(shell_exposures("make # then $HOOK_REF"), [])
        self.assertEqual(shell_exposures("echo \\ #$HOOK_REF"), [unquoted("HOOK_REF")])
        self.assertEqual(shell_exposures("echo a#$HOOK_REF"), [unquoted("HOOK_REF")])
        self.assertEqual(shell_exposures("echo '#' $HOOK_REF"), [unquoted("HOOK_REF")])

    def test_otherVariablesAreTheShells(self) -> None:
        self.assertEqual(shell_exposures("for f in *; do echo $f ${HOME}; done"), [])

    @settings(max_examples=300, deadline=None)
    @given(
        prefix=st.text(alphabet="'\"\\ .#", max_size=8),
        suffix=st.text(alphabet="'\"\\ .#", max_size=8),
        braced=st.booleans(),
    )
    def test_agreesWithSh(self, prefix: str, suffix: str, braced: bool) -> None:
        """
        /bin/sh itself, with HOOK_REF="a b": the scanner says unquoted exactly
        when sh splits the value, and single-quoted only where sh leaves it as written.
        """
        reference = "${HOOK_REF}" if braced else "$HOOK_REF"
        script = f"{prefix}{reference}{suffix}"
        result = subprocess.run(
            ["/bin/sh", "-c", f"printf '[%s]' {script}"],
            env={**os.environ, "HOOK_REF": "a b"},
            capture_output=True,
            timeout=10,
        )
        if result.returncode != 0:
            return  # quotes sh cannot close: parse_steps refuses those anyway
        printed = result.stdout.decode()
        found = shell_exposures(script)
        self.assertEqual(bool(found and not found[0].single_quoted), "a][b" in printed, printed)
        if found and found[0].single_quoted:
            self.assertIn(reference, printed)


class ScriptReferenceTests(SynchronousTestCase):
    """shell = no: a HOOK_ value substituted into sh -c's script is shell code."""

    def references(self, text: str) -> list[str]:
        return script_references(step(text))

    def test_inTheScript(self) -> None:
        self.assertEqual(self.references("sh -c 'git checkout $HOOK_BRANCH'"), ["HOOK_BRANCH"])
        self.assertEqual(
            self.references("sudo -u deploy /bin/bash -o pipefail -ec 'echo ${HOOK_REF} | tee x'"),
            ["HOOK_REF"],
        )

    def test_asAnArgumentIsData(self) -> None:
        self.assertEqual(self.references("sh -c 'git checkout \"$1\"' sh ${HOOK_BRANCH}"), [])

    def test_notAScript(self) -> None:
        self.assertEqual(self.references("sh ./deploy.sh $HOOK_REF"), [])
        self.assertEqual(self.references("git fetch origin $HOOK_AFTER"), [])
        self.assertEqual(self.references("bash --login ./x $HOOK_AFTER"), [])
