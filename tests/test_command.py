"""
Tests for L{hookdaemon.command}: steps become argv lists with no shell, and
payload data becomes whole argv items or environment values, never syntax.
"""

from __future__ import annotations

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
from hookdaemon.delivery import VARIABLE_FIELDS, Delivery
from tests.delivery_values import every_value

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

    def test_everyFieldThatNamesAVariableReachesIt(self) -> None:
        """A field of L{Delivery} that names a HOOK_ variable is in every step's environment."""
        delivery = every_value()
        environment = delivery_environment("site", 7, delivery, "/p")
        for variable, name in VARIABLE_FIELDS:
            self.assertEqual(environment[variable], getattr(delivery, name), variable)
        self.assertEqual(
            list(environment),
            [
                "HOOK_NAME",
                "HOOK_JOB",
                *(variable for variable, _ in VARIABLE_FIELDS),
                "HOOK_PAYLOAD",
            ],
        )

    def test_theVariablesAreTheDocumentedOnes(self) -> None:
        """DESIGN.md's and README's list, in their order: a new field's variable is added there."""
        self.assertEqual(
            HOOK_VARIABLES,
            (
                "HOOK_NAME",
                "HOOK_JOB",
                "HOOK_FORGE",
                "HOOK_EVENT",
                "HOOK_DELIVERY",
                "HOOK_REF",
                "HOOK_BRANCH",
                "HOOK_TAG",
                "HOOK_BEFORE",
                "HOOK_AFTER",
                "HOOK_REPOSITORY",
                "HOOK_CLONE_URL",
                "HOOK_PUSHER",
                "HOOK_PAYLOAD",
            ),
        )

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

    def test_theDaemonsUserIsUserAndLogname(self) -> None:
        base = base_environment("/home/deploy", "deploy")
        self.assertEqual(
            (base["USER"], base["LOGNAME"], base["HOME"]), ("deploy", "deploy", "/home/deploy")
        )
        self.assertNotIn("USER", base_environment("/"))  # a uid without a name

    def test_layeringLeavesInputsAlone(self) -> None:
        base = base_environment("/h")
        step_environment(base, {"PATH": "/x"}, {})
        self.assertEqual(base["PATH"], BASE_PATH)


def unquoted(name: str) -> Exposure:
    return Exposure(name, "split")


def single(name: str) -> Exposure:
    return Exposure(name, "unexpanded")


def split_output(name: str) -> Exposure:
    return Exposure(name, "split output")


def code(name: str) -> Exposure:
    return Exposure(name, "code")


class ShellExposureTests(SynchronousTestCase):
    """Which $HOOK_X in a shell = yes step sh would split and glob, not expand, or run."""

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
        self.assertEqual(shell_exposures("make;# then $HOOK_REF"), [])
        self.assertEqual(shell_exposures("echo \\ #$HOOK_REF"), [unquoted("HOOK_REF")])
        self.assertEqual(shell_exposures("echo a#$HOOK_REF"), [unquoted("HOOK_REF")])
        self.assertEqual(shell_exposures("echo '#' $HOOK_REF"), [unquoted("HOOK_REF")])

    def test_otherVariablesAreTheShells(self) -> None:
        self.assertEqual(shell_exposures("for f in *; do echo $f ${HOME}; done"), [])

    def test_commandSubstitutionHasItsOwnQuotes(self) -> None:
        """
        As the review saw it, with pusher 'Eve * Mallory': outer double quotes do
        not quote what is inside $(...) or backquotes, which printed the workdir.
        """
        for script in (
            "echo \"$(printf '%s|' $HOOK_PUSHER)\"",
            "echo \"`printf '%s|' $HOOK_PUSHER`\"",
            "echo \"$( (printf '%s|' $HOOK_PUSHER) )\"",
            'echo "$(echo "$(printf \'%s|\' $HOOK_PUSHER)")"',
            # Within backquotes \\$ is $: the command's text says $HOOK_PUSHER.
            "echo \"`printf '%s|' \\$HOOK_PUSHER`\"",
            "echo $(( $HOOK_PUSHER + 1 ))",
        ):
            self.assertEqual(shell_exposures(script), [unquoted("HOOK_PUSHER")], script)
        self.assertEqual(
            shell_exposures("echo $(printf '%s|' $HOOK_PUSHER)"),
            [unquoted("HOOK_PUSHER"), split_output("HOOK_PUSHER")],
        )
        for script in (
            'echo "$(printf \'%s|\' "$HOOK_PUSHER")"',
            'echo "`printf \'%s|\' \\"$HOOK_PUSHER\\"`"',
            'echo "$(printf \'%s|\' "$HOOK_PUSHER")" "$(echo \')\')"',
        ):
            self.assertEqual(shell_exposures(script), [], script)

    def test_unquotedSubstitutionSplitsItsOutput(self) -> None:
        """The value is quoted within, but sh splits and globs what $(...) prints."""
        for script in (
            'git checkout $(printf %s "$HOOK_BRANCH")',
            'git checkout `printf %s "$HOOK_BRANCH"`',
            'echo x$(echo "$(printf %s "$HOOK_BRANCH")")',
        ):
            self.assertEqual(shell_exposures(script), [split_output("HOOK_BRANCH")], script)
        self.assertEqual(shell_exposures('echo $(printf %s "$HOME")'), [])
        self.assertEqual(
            shell_exposures("echo \"$(echo '$HOOK_REF')\" $(echo) $HOOK_AFTER"),
            [single("HOOK_REF"), unquoted("HOOK_AFTER")],
        )

    def test_evalReadsItsArgumentsAsCode(self) -> None:
        """eval "echo $HOOK_PUSHER" globbed the pusher, and would run a $(...) in it."""
        for script in (
            'eval "echo $HOOK_PUSHER"',
            "eval echo $HOOK_PUSHER",
            'eval echo "$HOOK_PUSHER"',
            "eval \"echo '$HOOK_PUSHER'\"",
            'make && eval "$(printf \'echo %s\' "$HOOK_PUSHER")"',
        ):
            self.assertEqual(shell_exposures(script), [code("HOOK_PUSHER")], script)

    def test_evalOfQuotedTextIsReadAsAScript(self) -> None:
        """Single-quoted, the reference is eval's to expand, with the quotes it writes."""
        self.assertEqual(shell_exposures("eval 'echo \"$HOOK_PUSHER\"'"), [])
        self.assertEqual(shell_exposures("eval 'echo $HOOK_PUSHER'"), [unquoted("HOOK_PUSHER")])
        self.assertEqual(shell_exposures("eval echo \\$HOOK_PUSHER"), [unquoted("HOOK_PUSHER")])
        self.assertEqual(shell_exposures("echo eval $HOOK_PUSHER"), [unquoted("HOOK_PUSHER")])

    def test_scriptOfShDashC(self) -> None:
        for script in (
            'sh -c "git checkout $HOOK_BRANCH"',
            'sudo -u deploy bash -ec "git checkout \\"$HOOK_BRANCH\\""',
        ):
            self.assertEqual(shell_exposures(script), [code("HOOK_BRANCH")], script)
        for script in (
            'sh -c \'git checkout "$1"\' sh "$HOOK_BRANCH"',
            "sh -c 'git checkout \"$HOOK_BRANCH\"'",
            'sh ./deploy.sh "$HOOK_BRANCH"',
        ):
            self.assertEqual(shell_exposures(script), [], script)
        self.assertEqual(
            shell_exposures("sh -c 'git checkout $HOOK_BRANCH'"), [unquoted("HOOK_BRANCH")]
        )

    def test_assignmentIsNotSplit(self) -> None:
        """sh neither splits nor globs the value of an assignment word (POSIX 2.9.1)."""
        for script in (
            'A=$HOOK_PUSHER; echo "$A"',
            'A=$HOOK_PUSHER B=${HOOK_REF} make "$A"',
            'cd x && WHO=$HOOK_PUSHER; echo "$WHO"',
            'A=$(printf %s "$HOOK_PUSHER")',
        ):
            self.assertEqual(shell_exposures(script), [], script)
        self.assertEqual(shell_exposures("A='$HOOK_REF'"), [single("HOOK_REF")])
        self.assertEqual(shell_exposures("A=$(echo $HOOK_REF)"), [unquoted("HOOK_REF")])

    def test_argumentShapedLikeAnAssignmentIsSplit(self) -> None:
        """
        After the command name, NAME=$HOOK_X is an argument. dash before 0.5.11
        (Ubuntu 20.04's /bin/sh) splits it after export, local and readonly too.
        """
        for script in (
            "echo A=$HOOK_PUSHER",
            "make A=$HOOK_PUSHER",
            "export A=$HOOK_PUSHER",
            "readonly A=$HOOK_PUSHER",
            "f() { local A=$HOOK_PUSHER; }",
            '"A"=$HOOK_PUSHER',
        ):
            self.assertEqual(shell_exposures(script), [unquoted("HOOK_PUSHER")], script)

    @settings(max_examples=300, deadline=None)
    @given(
        prefix=st.text(alphabet="'\"\\ .#", max_size=8),
        suffix=st.text(alphabet="'\"\\ .#", max_size=8),
        braced=st.booleans(),
    )
    def test_agreesWithSh(self, prefix: str, suffix: str, braced: bool) -> None:
        """
        /bin/sh itself, with a value that shows splitting: the scanner says
        unquoted exactly when sh splits it, single-quoted only where sh leaves it as written.
        """
        reference = "${HOOK_REF}" if braced else "$HOOK_REF"
        self.assertAgreesWithSh(f"printf '[%s]' {prefix}{reference}{suffix}", reference)

    @settings(max_examples=300, deadline=None)
    @given(
        prefix=st.text(alphabet="'\"\\ `$()=;A", max_size=8),
        suffix=st.text(alphabet="'\"\\ `)=;", max_size=8),
    )
    def test_agreesWithShAroundSubstitutions(self, prefix: str, suffix: str) -> None:
        """The same, with backquotes, $(, ), assignments and separators around the reference."""
        self.assertAgreesWithSh(f"printf '[%s]' {prefix}$HOOK_REF{suffix}", "$HOOK_REF")

    def test_agreesWithShInEveryContext(self) -> None:
        """
        Every nesting up to two deep of double and single quotes, $(...) and
        backquotes, in a plain command, an assignment, eval and sh -c: what
        /bin/sh does with the value is what the scanner says.
        """
        wrappers = ['"{}"', "'{}'", "$(printf %s {})", "`printf %s {}`"]
        statements = [
            "printf '[%s]' {}",
            "A={}; printf '[%s]' \"$A\"",
            'A={} sh -c \'printf "[%s]" "$A"\'',
            "eval \"printf '[%s]' {}\"",
            "eval printf \"'[%s]'\" {}",
            "sh -c \"printf '[%s]' {}\"",
            'sh -c \'printf "[%s]" "$1"\' sh {}',
            "echo \"$(printf '[%s]' {})\"",
            "echo \"`printf '[%s]' {}`\"",
        ]
        compared = 0
        for reference in ("$HOOK_REF", "${HOOK_REF}"):
            words = [reference]
            for _ in range(2):
                words += [w.format(inner) for w in wrappers for inner in words]
            for statement in statements:
                for word in dict.fromkeys(words):
                    compared += self.assertAgreesWithSh(statement.format(word), reference)
        self.assertGreater(compared, 300)  # of 450: sh refuses or hides the rest

    def assertAgreesWithSh(self, script: str, reference: str) -> bool:
        """
        The scanner reads HOOK_REF in C{script} as /bin/sh does; False where sh
        refuses C{script}.
        """
        observed = sh_reading(script, reference)
        if observed is None:
            return False
        said = reading(script)
        if (observed, said) in (("unexpanded", ""), ("split", "code")):
            # A reference sh prints as written may be escaped, meant literally;
            # a $(...) whose output eval reads is code, whatever the value does there.
            return True
        self.assertEqual(observed, said, script)
        return True


PLAIN = "Eve  b$(printf @%s@ x)"
"""
A value for HOOK_REF that shows what sh did with it: split (the two spaces
become a word break), code (sh ran the printf, printing @x@), or neither.
"""
BREAKOUTS = (
    "$(printf${IFS}@%s@${IFS}x)",
    "';printf${IFS}@%s@${IFS}x;'",
    '";printf${IFS}@%s@${IFS}x;"',
)
"""
Values that run the printf where sh reads them as code inside quotes or after
they were split (they hold no space to be split at: eval's C{${IFS}} makes the words).
"""


def run_sh(script: str, value: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["/bin/sh", "-c", script],
        env={"PATH": BASE_PATH, "HOOK_REF": value},
        cwd="/",
        capture_output=True,
        timeout=10,
    )


def sh_reading(script: str, reference: str) -> str | None:
    """What /bin/sh did with HOOK_REF in C{script}; None where sh refuses it or shows nothing."""
    if any(b"@x@" in run_sh(script, value).stdout for value in (PLAIN, *BREAKOUTS)):
        return "code"
    result = run_sh(script, PLAIN)
    if result.returncode != 0 or result.stderr:
        return None  # quotes sh cannot close: parse_steps refuses most of these anyway
    printed = result.stdout.decode()
    if reference in printed:
        return "unexpanded"
    if "Eve" not in printed:
        return None  # none of it printed (a comment, a word sh -c was not given)
    return "" if PLAIN in printed else "split"


def reading(script: str) -> str:
    """The scanner's word for HOOK_REF in C{script}: its gravest reading, or ""."""
    found = {e.reading for e in shell_exposures(script) if e.name == "HOOK_REF"}
    if "code" in found:
        return "code"
    if found & {"split", "split output"}:
        return "split"
    if "unexpanded" in found:
        return "unexpanded"
    return ""


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
