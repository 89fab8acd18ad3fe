"""
Tests for L{hookdaemon.command}: steps become argv lists with no shell, and
payload data becomes whole argv items or environment values, never syntax.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.command import (
    BASE_PATH,
    HOOK_VARIABLES,
    Step,
    StepError,
    base_environment,
    delivery_environment,
    parse_steps,
    references,
    step_environment,
    substitute,
)
from hookdaemon.delivery import Delivery

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
        error = self.assertRaises(StepError, parse_steps, "true\necho 'oops\n")
        self.assertEqual(str(error), 'cannot split "echo \'oops" into words: No closing quotation')

    def test_unknownHookVariable(self) -> None:
        error = self.assertRaises(StepError, parse_steps, "echo $HOOK_COMMIT")
        self.assertTrue(
            str(error).startswith("'echo $HOOK_COMMIT' uses $HOOK_COMMIT, which is not one of ")
        )

    def test_unknownBracedVariable(self) -> None:
        error = self.assertRaises(StepError, parse_steps, "echo ${USER}")
        self.assertTrue(str(error).startswith("'echo ${USER}' uses $USER, which is not one of "))

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
