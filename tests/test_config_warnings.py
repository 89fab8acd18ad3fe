"""
Tests for L{hookdaemon.config}'s warnings of what reads fine but never works
(issue 14, item 5): a list or a regular expression where a glob goes, an event
the forge never sends, a shell operator in a step no shell runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import parse_config
from tests.test_config import SHIPPED, SOURCE, TOKEN, read

HOOK = "[hook:site]\nworkdir = /srv\nallow_from = 127.0.0.1\n"
"""A hook no other warning is about; the next line is line 4."""
GLOBS = "shell-style globs (*, ?, [...]) matched against the whole name"
SHELL_YES = 'or set shell = yes (and write each "${HOOK_...}" in double quotes)'


def warnings(keys: str) -> list[str]:
    return [str(warning) for warning in read(HOOK + keys).warnings]


class PatternWarningTests(SynchronousTestCase):
    """branches, tags and repository take globs separated by spaces."""

    def test_commaIsWarned(self) -> None:
        self.assertEqual(
            warnings("command = true\nbranches = main,develop\n"),
            [
                f"{SOURCE}: [hook:site] branches: pattern 1 (line 5) has a comma, but patterns "
                "are separated by spaces: it is one pattern, which matches only a branch name "
                "with that comma in it; write each pattern on its own, with spaces between "
                "them instead of commas"
            ],
        )

    def test_commaSaysWhatIsMatched(self) -> None:
        self.assertEqual(
            warnings("command = true\ntags = v1 v2,v3\nrepository = {org/a,org/b}\n"),
            [
                f"{SOURCE}: [hook:site] tags: pattern 2 (line 5) has a comma, but patterns are "
                "separated by spaces: it is one pattern, which matches only a tag name with "
                "that comma in it; write each pattern on its own, with spaces between them "
                "instead of commas",
                f"{SOURCE}: [hook:site] repository: pattern 1 (line 6) has a comma, but "
                "patterns are separated by spaces: it is one pattern, which matches only a "
                "repository name with that comma in it; write each pattern on its own, with "
                "spaces between them instead of commas (a glob has no {a,b})",
            ],
        )

    def test_regularExpressionIsWarnedWithItsGlob(self) -> None:
        self.assertEqual(
            warnings("command = true\nbranches = ^release-.*$\n"),
            [
                f"{SOURCE}: [hook:site] branches: pattern 1 (line 5) looks like a regular "
                f"expression, but patterns are {GLOBS}: drop the ^ at the start, drop the $ at "
                "the end and write * for .*"
            ],
        )

    def test_eachRegularExpressionSign(self) -> None:
        for pattern, fixes in [
            ("^main", "drop the ^ at the start"),
            ("main$", "drop the $ at the end"),
            (".*-hotfix", "write * for .*"),
            ("release/.*", "write * for .*"),
            ("release/.+", "write ?* for .+"),
            (r"v\d+", r"write [0-9]* for \d+"),
            (r"v\d.x", r"write [0-9] for \d"),
            ("v[0-9]+", "write [...]* for [...]+ (a glob has no +)"),
            ("v[0-9]{2}", "write [...]* for [...]+ (a glob has no +)"),
            (
                "(main|develop)",
                "write each alternative as a pattern of its own, separated by spaces",
            ),
            (
                "main|develop",
                "write each alternative as a pattern of its own, separated by spaces",
            ),
            (r"release\.1", r"drop each \ (a name never holds one)"),
        ]:
            self.assertEqual(
                warnings(f"command = true\nbranches = {pattern}\n"),
                [
                    f"{SOURCE}: [hook:site] branches: pattern 1 (line 5) looks like a regular "
                    f"expression, but patterns are {GLOBS}: {fixes}"
                ],
                pattern,
            )

    def test_globsAreQuiet(self) -> None:
        """A check that warned on any * or [ would fail here: these are the README's globs."""
        globs = "main release/* v[0-9]* feature-? v1.* 1.2.* [a-z]*-fix hotfix/** v* *"
        self.assertEqual(
            warnings(
                f"command = true\nbranches = {globs}\ntags = {globs}\n"
                "repository = org/* org/site owner/repo-? group/sub/project\n"
            ),
            [],
        )

    def test_patternsAreCountedAcrossLines(self) -> None:
        self.assertEqual(
            warnings("command = true\nbranches =\n    main\n    ; a comment\n    a b,c\n"),
            [
                f"{SOURCE}: [hook:site] branches: pattern 3 (line 8) has a comma, but patterns "
                "are separated by spaces: it is one pattern, which matches only a branch name "
                "with that comma in it; write each pattern on its own, with spaces between "
                "them instead of commas"
            ],
        )


def event_warnings(forge: str, events: str) -> list[str]:
    return warnings(f"command = true\nforge = {forge}\nevents = {events}\n")


class EventWarningTests(SynchronousTestCase):
    """An events word the forge never sends selects nothing, silently."""

    NATIVE = {
        "github": "push tag delete create pull_request release workflow_run",
        "gitea": "push tag delete create pull_request",
        "forgejo": "push create pull_request",
        "gogs": "push create delete pull_request",
        "gitlab": "push tag delete merge_request pipeline note build wiki_page",
        "bitbucket": "push tag delete repo:push pullrequest:created pullrequest:fulfilled",
        "bitbucket-server": "push delete repo:refs_changed pr:opened pr:merged "
        "pr:reviewer:approved",
        "generic": "push tag delete",
        "auto": "push tag delete pull_request merge_request repo:push repo:refs_changed pr:opened",
    }

    def test_forgeNativeNamesAreQuiet(self) -> None:
        for forge, events in self.NATIVE.items():
            self.assertEqual(event_warnings(forge, events), [], forge)

    def test_defaultEventsAreQuiet(self) -> None:
        for forge in self.NATIVE:
            self.assertEqual(warnings(f"command = true\nforge = {forge}\n"), [], forge)

    def test_commaIsWarned(self) -> None:
        for forge in ("github", "gitlab", "generic", "auto"):
            self.assertEqual(
                event_warnings(forge, "push,tag"),
                [
                    f"{SOURCE}: [hook:site] events: event 1 (line 6) has a comma, but events "
                    "are separated by spaces: it is one name, which no forge sends; write "
                    "spaces between the names instead of commas"
                ],
                forge,
            )

    def test_genericSendsOnlyPushes(self) -> None:
        self.assertEqual(
            event_warnings("generic", "push pull_request"),
            [
                f"{SOURCE}: [hook:site] events: event 2 (line 6) is not a name forge = generic "
                "sends, so it never selects a delivery; a generic delivery is always a push: "
                "write push, tag or delete"
            ],
        )

    def test_gitHubNamesAreSnakeCase(self) -> None:
        message = (
            "is not a name forge = github sends, so it never selects a delivery; write push, "
            "tag, delete or one of the forge's event names, which are snake_case, such as "
            "pull_request or release"
        )
        self.assertEqual(
            event_warnings("github", "Push pullrequest:created pull-request"),
            [f"{SOURCE}: [hook:site] events: event {n} (line 6) {message}" for n in (1, 2, 3)],
        )
        self.assertEqual(
            event_warnings("gitea", "PullRequest"),
            [
                f"{SOURCE}: [hook:site] events: event 1 (line 6) is not a name forge = gitea "
                "sends, so it never selects a delivery; write push, tag, delete or one of "
                "the forge's event names, which are snake_case, such as pull_request or release"
            ],
        )

    def test_gitLabHeaderNames(self) -> None:
        """X-Gitlab-Event's names hold spaces: written in events they are several words."""
        self.assertEqual(
            event_warnings("gitlab", "Push Hook Tag Push Hook\n    Merge Request Hook pipeline"),
            [
                f"{SOURCE}: [hook:site] events: line 6 has Push Hook, the name of GitLab's "
                "X-Gitlab-Event header; events takes the payload's object_kind: write push",
                f"{SOURCE}: [hook:site] events: line 6 has Tag Push Hook, the name of GitLab's "
                "X-Gitlab-Event header; events takes the payload's object_kind: write tag",
                f"{SOURCE}: [hook:site] events: line 7 has Merge Request Hook, the name of "
                "GitLab's X-Gitlab-Event header; events takes the payload's object_kind: "
                "write merge_request",
            ],
        )

    def test_gitLabOtherNames(self) -> None:
        self.assertEqual(
            event_warnings("gitlab", "tag_push System repo:push"),
            [
                f"{SOURCE}: [hook:site] events: event 1 (line 6) is tag_push, but hookdaemon "
                "counts a GitLab tag push as tag; write tag",
            ]
            + [
                f"{SOURCE}: [hook:site] events: event {n} (line 6) is not a name forge = "
                "gitlab sends, so it never selects a delivery; write push, tag, delete or a "
                "GitLab object_kind, in lowercase, such as merge_request or pipeline (not an "
                "X-Gitlab-Event header name such as Push Hook)"
                for n in (2, 3)
            ],
        )

    def test_bitbucketKeysOfTheOtherProduct(self) -> None:
        self.assertEqual(
            event_warnings("bitbucket", "pr:opened repo:refs_changed pull_request"),
            [
                f"{SOURCE}: [hook:site] events: event 1 (line 6) is never sent by forge = "
                "bitbucket: pr: keys are Bitbucket Server's; Bitbucket Cloud's pull request "
                "keys start with pullrequest:, such as pullrequest:created",
                f"{SOURCE}: [hook:site] events: event 2 (line 6) is never sent by forge = "
                "bitbucket: repo:refs_changed is Bitbucket Server's; Bitbucket Cloud's push "
                "is repo:push",
                f"{SOURCE}: [hook:site] events: event 3 (line 6) is not a name forge = "
                "bitbucket sends, so it never selects a delivery; write push, tag, delete or "
                "a Bitbucket Cloud event key, such as repo:push or pullrequest:created",
            ],
        )
        self.assertEqual(
            event_warnings("bitbucket-server", "repo:push pullrequest:created"),
            [
                f"{SOURCE}: [hook:site] events: event 1 (line 6) is never sent by forge = "
                "bitbucket-server: repo:push is Bitbucket Cloud's; Bitbucket Server's push is "
                "repo:refs_changed",
                f"{SOURCE}: [hook:site] events: event 2 (line 6) is never sent by forge = "
                "bitbucket-server: pullrequest: keys are Bitbucket Cloud's; Bitbucket "
                "Server's pull request keys start with pr:, such as pr:opened",
            ],
        )

    def test_autoWarnsOnlyOfWhatNoForgeSends(self) -> None:
        self.assertEqual(
            event_warnings("auto", "pull_request pr:opened Push"),
            [
                f"{SOURCE}: [hook:site] events: event 3 (line 6) is not a name any forge "
                "sends, so it never selects a delivery; write push, tag, delete or a forge's "
                "own event name, in lowercase, such as pull_request, merge_request, repo:push "
                "or pr:opened"
            ],
        )


def step_warnings(step: str, shell: str = "no") -> list[str]:
    return warnings(f"shell = {shell}\ncommand =\n    true\n    {step}\n")


class ShellOperatorWarningTests(SynchronousTestCase):
    """With shell = no a | or a > is one more argument: nothing pipes, nothing is written."""

    def test_pipeIsWarned(self) -> None:
        self.assertEqual(
            step_warnings("./build.sh | tee build.log"),
            [
                f"{SOURCE}: [hook:site] command: step 2 (line 7) has | unquoted, but with "
                "shell = no no shell reads it: the command gets it as an argument, with the "
                "words after it; put the pipeline in a script, " + SHELL_YES
            ],
        )

    def test_eachOperatorAndItsAdvice(self) -> None:
        pipe = "put the pipeline in a script"
        steps = (
            "write each command as a step of its own (steps run in order, stopping at the "
            "first that fails)"
        )
        output = "a step's output already goes to the hook's log; to write a file, use a script"
        stdin = "a step's stdin is closed; to read a file into it, use a script"
        for step, shown, advice in [
            ("make && make install", "&&", steps),
            ("make || true", "||", steps),
            ("make ; make install", ";", steps),
            ("make; make install", ";", steps),
            ("./serve &", "&", "start background work from a script"),
            ("./build |& cat", "|&", pipe),
            ("./build > out.log", ">", output),
            ("./build >> out.log", ">>", output),
            ("./build >out.log", ">FILE", output),
            ("./build >>out.log", ">>FILE", output),
            ("./build 2>err.log", "2>FILE", output),
            ("./build 2>&1", "2>&1", output),
            ("./build >&2", ">&2", output),
            ("./load < data.sql", "<", stdin),
            ("./load <data.sql", "<FILE", stdin),
        ]:
            self.assertEqual(
                step_warnings(step),
                [
                    f"{SOURCE}: [hook:site] command: step 2 (line 7) has {shown} unquoted, but "
                    "with shell = no no shell reads it: the command gets it as an argument, "
                    f"with the words after it; {advice}, " + SHELL_YES
                ],
                step,
            )

    def test_severalOperatorsInOneWarning(self) -> None:
        self.assertEqual(
            step_warnings("./build.sh 2>&1 | tee build.log"),
            [
                f"{SOURCE}: [hook:site] command: step 2 (line 7) has 2>&1 and | unquoted, but "
                "with shell = no no shell reads them: the command gets them as arguments, with "
                "the words after them; a step's output already goes to the hook's log; to "
                "write a file, use a script; put the pipeline in a script, " + SHELL_YES
            ],
        )

    def test_quotedOrEscapedOperatorsAreQuiet(self) -> None:
        for step in [
            "echo '|'",
            'grep "a|b" file',
            "grep -E 'x|y' file",
            'echo ">" ">>" "&&" "2>&1"',
            r"echo \| \> \;",
            "./a.sh ';'",
            "echo 'done;'",
            'echo "done;"',
        ]:
            self.assertEqual(step_warnings(step), [], step)

    def test_operatorInsideAWordIsQuiet(self) -> None:
        """Without a shell grep a|b f means what it says; only a word's start or end is syntax."""
        for step in ["grep a|b f", "git log --format=%H>x", "echo a>b", "curl -o- url", "echo ->"]:
            self.assertEqual(step_warnings(step), [], step)

    def test_findsOwnSemicolonIsQuiet(self) -> None:
        """find -exec needs a ; argument, and with shell = no it is passed as written."""
        for step in ["find . -name '*.tmp' -exec rm {} ;", r"find . -exec rm {} \;"]:
            self.assertEqual(step_warnings(step), [], step)

    def test_sshHandsItsArgumentsToAShell(self) -> None:
        self.assertEqual(step_warnings("ssh deploy@web cd /srv && make"), [])

    def test_withAShellNothingIsWarned(self) -> None:
        self.assertEqual(step_warnings("./build.sh | tee build.log", shell="yes"), [])
        self.assertEqual(step_warnings("make && make install >out.log", shell="yes"), [])

    def test_theStepIsNeverQuoted(self) -> None:
        shown = step_warnings(f"curl -H 'Authorization: token {TOKEN}' url | jq .")
        self.assertEqual(len(shown), 1)
        self.assertNotIn(TOKEN, shown[0])


class _EveryVariable(Mapping[str, str]):
    """An environment where every env: secret is set, so an example reads to the end."""

    def __getitem__(self, name: str) -> str:
        if name.endswith("_URL"):
            return "https://chat.example.com/hooks/s3cret"  # a notify URL
        return "user:s3cret"  # a basic_auth's user:password, and a secret for the rest

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, name: object) -> bool:
        return True


class CleanConfigTests(SynchronousTestCase):
    """What the project shows people warns of nothing."""

    def test_readmeExamplesWarnOfNothing(self) -> None:
        readme = os.path.join(os.path.dirname(SHIPPED), "README.md")
        with open(readme, encoding="utf-8") as f:
            blocks = re.findall(r"```ini\n(.*?)```", f.read(), re.S)
        examples = [block for block in blocks if "[hook:" in block]
        self.assertGreater(len(examples), 5)
        for example in examples:
            # Every file: secret is there, holding what a basic_auth needs too.
            config = parse_config(example, SOURCE, _EveryVariable(), lambda path: b"u:s3cret\n")
            self.assertEqual([str(w) for w in config.warnings], [], example)
