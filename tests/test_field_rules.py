"""
hookdaemon.field_rules: git's own check-ref-format as the oracle for ref names,
and for every forge, every recorded delivery with each of its ref, branch, tag,
commit, id and event fields made option-shaped or given a control character.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import VARIABLE_FIELDS, Delivery, Incoming
from hookdaemon.field_rules import LIMITS, UNCHECKED, ref_name_problem, refusal
from hookdaemon.forges import FORGES
from hookdaemon.intake import Accepted, Ignored, Pong, Refused, judge
from tests.forgefixtures import fixture_body, fixture_headers, make_hook, signed_headers
from tests.support import git_accepts_ref

SECRET = "field-rules-secret"

Path = tuple[str | int, ...]


class RefNameTests(SynchronousTestCase):
    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(
        pieces=st.lists(
            st.sampled_from(
                [
                    "a",
                    "b",
                    "/",
                    ".",
                    "-",
                    "@",
                    "{",
                    "~",
                    "^",
                    ":",
                    "?",
                    "*",
                    "[",
                    "\\",
                    " ",
                    "\t",
                    "\x7f",
                    "é",
                    ".lock",
                    "..",
                    "@{",
                    "//",
                ]
            ),
            max_size=8,
        )
    )
    def test_sameAsGit(self, pieces: list[str]) -> None:
        """Whatever the name, hookdaemon and C{git check-ref-format} agree on it."""
        name = "".join(pieces)
        if not name or name.startswith("-"):
            # git cannot be asked: it reads such an argument as its own option. An
            # empty field is never checked; a leading '-' is refused for every field.
            return
        self.assertEqual(ref_name_problem(name) is None, git_accepts_ref(name), repr(name))

    def test_examples(self) -> None:
        for name in ["refs/heads/main", "main", "refs/tags/v1.0", "refs/heads/feature/é"]:
            self.assertIsNone(ref_name_problem(name), name)
            self.assertTrue(git_accepts_ref(name), name)
        for name in ["a..b", "refs/heads/x.lock", "refs//x", "x/", "x.", "@", "a@{b", "a b", "~"]:
            self.assertIsNotNone(ref_name_problem(name), name)
            self.assertFalse(git_accepts_ref(name), name)


def _delivery(**fields: Any) -> Delivery:
    base: dict[str, Any] = {"forge": "github", "event": "push"}
    return Delivery.of_push(
        **{"ref": "refs/heads/main", "before": "0" * 40, "after": "1" * 40, **base, **fields}
    )


def _github_refusal(delivery: Delivery) -> str | None:
    forge = FORGES["github"]
    return refusal(delivery, forge.delivery_ids, forge.events)


class RuleTests(SynchronousTestCase):
    def test_commitIds(self) -> None:
        for after in ["1" * 40, "a" * 64, "ABCDEF" + "0" * 34]:
            self.assertIsNone(_github_refusal(_delivery(after=after)), after)
        for after in ["1" * 39, "1" * 41, "g" * 40, "HEAD", "main", "1" * 12]:
            self.assertEqual(
                _github_refusal(_delivery(after=after)),
                "HOOK_AFTER is not a commit id (40 or 64 hexadecimal digits)",
                after,
            )

    def test_pullRequestsMayCarryAbbreviatedCommits(self) -> None:
        """Bitbucket Cloud's pull request payloads carry 12 hex digits; pushes never do."""
        pull = Delivery(
            forge="bitbucket",
            event="pullrequest:created",
            kind="pullrequest:created",
            after="1" * 12,
            branch="main",
        )
        forge = FORGES["bitbucket"]
        self.assertIsNone(refusal(pull, forge.delivery_ids, forge.events))
        short = Delivery(
            forge="bitbucket",
            event="pullrequest:created",
            kind="pullrequest:created",
            after="1" * 6,
        )
        self.assertIsNotNone(refusal(short, forge.delivery_ids, forge.events))

    def test_branchAndTagMustNotBeOptions(self) -> None:
        self.assertEqual(
            _github_refusal(_delivery(ref="refs/heads/-x")),
            "HOOK_BRANCH starts with '-', so a command would read it as an option",
        )
        self.assertEqual(
            _github_refusal(_delivery(ref="refs/tags/--force")),
            "HOOK_TAG starts with '-', so a command would read it as an option",
        )

    def test_remoteHelperCloneUrl(self) -> None:
        for url in ["ext::sh -c touch% /tmp/x", "fd::17", "git+ssh::x"]:
            self.assertEqual(
                _github_refusal(_delivery(clone_url=url)),
                "HOOK_CLONE_URL names a git remote helper (transport::address),"
                " which could run any command",
                url,
            )
        for url in [
            "https://github.com/a/b.git",
            "git@github.com:a/b.git",
            "ssh://git@host:22/a/b.git",
            "https://[::1]:8080/a.git",
            "http://try.gitea.io/gogits/hello-world.git",
            "git://example.com/a.git",
        ]:
            self.assertIsNone(_github_refusal(_delivery(clone_url=url)), url)

    def test_localCloneUrlIsRefused(self) -> None:
        """git clone ${HOOK_CLONE_URL} with a path would copy any repository on the machine."""
        for url in [
            "/srv/git/secret.git",
            "file:///srv/git/secret.git",
            "../secret",
            "host:/srv",
            "https://",
            "https:// x",
            "ftp://example.com/a.git",
        ]:
            self.assertEqual(
                _github_refusal(_delivery(clone_url=url)),
                "HOOK_CLONE_URL is not an http(s), ssh or git URL, nor an scp-like user@host:path",
                url,
            )

    def test_repositoryIsNeverAPath(self) -> None:
        for name in ["../../etc", "a/../b", "/etc", "a/", "a//b", ".", "a/./b"]:
            self.assertEqual(
                _github_refusal(_delivery(repository=name)),
                "HOOK_REPOSITORY is a path, not a repository name: it has an empty, '.' or"
                " '..' part",
                name,
            )
        for name in [
            "octo/site",
            "group/sub/project",
            "~user/repo",
            "PROJ/repo",
            "Diaspora",
            "a.b/c..d",
            ".github/x",
        ]:
            self.assertIsNone(_github_refusal(_delivery(repository=name)), name)

    def test_eachFieldIsBounded(self) -> None:
        """The journal keeps every job's values for history jobs per hook: none may be huge."""
        for field, variable, limit in [
            ("repository", "HOOK_REPOSITORY", 4096),
            ("pusher", "HOOK_PUSHER", 1024),
            ("ref", "HOOK_REF", 1024),
        ]:
            value = "refs/heads/" + "é" * limit if field == "ref" else "é" * limit
            self.assertEqual(
                _github_refusal(_delivery(**{field: value})),
                f"{variable} is longer than {limit} bytes",
            )
        self.assertIsNone(_github_refusal(_delivery(pusher="é" * 512)))

    def test_everyVariableButTheForgeIsChecked(self) -> None:
        """
        A field a step sees is held to the rules whatever it is, so a field added
        with a variable is refused as an option too, under that variable's name.
        """
        self.assertEqual(
            set(LIMITS), {variable for variable, name in VARIABLE_FIELDS if name not in UNCHECKED}
        )
        for variable, name in VARIABLE_FIELDS:
            if name in UNCHECKED:
                continue
            reason = _github_refusal(attrs.evolve(_delivery(), **{name: "-x"}))
            self.assertEqual(
                reason,
                f"{variable} starts with '-', so a command would read it as an option",
                name,
            )

    def test_theKindIsCheckedAsTheEvent(self) -> None:
        """The kind has no variable; filters take it for the event, and its reason says so."""
        self.assertEqual(
            _github_refusal(attrs.evolve(_delivery(), kind="-x")),
            "HOOK_EVENT starts with '-', so a command would read it as an option",
        )

    def test_sha256DeletionIsADeletion(self) -> None:
        self.assertEqual(_delivery(after="0" * 64).kind, "delete")
        self.assertEqual(_delivery(after="0" * 40).kind, "delete")

    def test_reasonsNeverEchoTheValue(self) -> None:
        value = "-secret-looking-value"
        for field in ["repository", "pusher", "clone_url"]:
            reason = _github_refusal(_delivery(**{field: value}))
            assert reason is not None
            self.assertNotIn(value, reason)

    def test_everyChangeIsChecked(self) -> None:
        good = _delivery()
        bad = _delivery(ref="refs/heads/-x")
        push = Delivery(forge="github", event="push", kind="push", changes=(bad, good))
        self.assertEqual(
            _github_refusal(push),
            "one of the push's changes: HOOK_BRANCH starts with '-', so a command would read it"
            " as an option",
        )


# -- every forge, every recorded delivery --------------------------------------------

FIXTURE_FIELDS: dict[tuple[str, str, str], tuple[Path, ...]] = {
    # (forge, fixture directory, file): the JSON paths of the fields a hook's commands see.
    ("github", "github", "push.json"): (
        ("ref",),
        ("before",),
        ("after",),
        ("repository", "full_name"),
        ("repository", "clone_url"),
        ("pusher", "name"),
    ),
    ("github", "github", "push-tag-create.json"): (("ref",), ("after",)),
    ("github", "github", "create-tag.json"): (("ref",), ("repository", "full_name")),
    ("github", "github", "pull_request-opened.octokit.json"): (
        ("pull_request", "base", "ref"),
        ("pull_request", "base", "sha"),
        ("pull_request", "head", "sha"),
    ),
    ("gitlab", "gitlab", "push.json"): (
        ("ref",),
        ("before",),
        ("after",),
        ("project", "path_with_namespace"),
        ("project", "git_http_url"),
        ("user_username",),
    ),
    ("gitlab", "gitlab", "tag_push-create.json"): (("ref",), ("after",)),
    ("gitlab", "gitlab", "merge_request-open.gscm.json"): (
        ("object_attributes", "target_branch"),
        ("object_attributes", "last_commit", "id"),
    ),
    ("gitea", "gitea", "push.json"): (
        ("ref",),
        ("before",),
        ("after",),
        ("repository", "full_name"),
        ("repository", "clone_url"),
    ),
    ("gitea", "gitea", "create-tag.json"): (("ref",), ("sha",)),
    ("gitea", "gitea", "pull_request-opened.json"): (
        ("pull_request", "base", "ref"),
        ("pull_request", "head", "sha"),
    ),
    ("gogs", "gogs", "push.json"): (("ref",), ("before",), ("after",)),
    ("gogs", "gogs", "create-tag.json"): (("ref",),),
    ("bitbucket", "bitbucket-cloud", "repo-push.json"): (
        ("push", "changes", 0, "new", "name"),
        ("push", "changes", 0, "new", "target", "hash"),
        ("push", "changes", 0, "old", "target", "hash"),
        ("repository", "full_name"),
    ),
    ("bitbucket", "bitbucket-cloud", "pullrequest-created.json"): (
        ("pullrequest", "destination", "branch", "name"),
        ("pullrequest", "source", "commit", "hash"),
    ),
    ("bitbucket-server", "bitbucket-server", "repo-refs_changed.json"): (
        ("changes", 0, "ref", "id"),
        ("changes", 0, "toHash"),
        ("changes", 0, "fromHash"),
        ("actor", "name"),
    ),
    ("bitbucket-server", "bitbucket-server", "pr-opened.json"): (
        ("pullRequest", "toRef", "displayId"),
        ("pullRequest", "fromRef", "latestCommit"),
    ),
}

ID_AND_EVENT_HEADERS = {
    "github": ("X-GitHub-Delivery", "X-GitHub-Event"),
    "gitlab": ("X-Gitlab-Event-UUID", "X-Gitlab-Event"),
    "gitea": ("X-Gitea-Delivery", "X-Gitea-Event"),
    "gogs": ("X-Gogs-Delivery", "X-Gogs-Event"),
    "bitbucket": ("X-Request-UUID", "X-Event-Key"),
    "bitbucket-server": ("X-Request-Id", "X-Event-Key"),
}

CONTROL = st.characters(categories=["Cc"])
harmless = st.text(st.characters(categories=["L", "N"]), max_size=6)
hostile = st.one_of(
    harmless.map(lambda text: "-" + text),
    st.builds(lambda a, c, b: a + c + b, harmless, CONTROL, harmless),
)


def _set(document: Any, path: Path, value: str) -> None:
    for key in path[:-1]:
        document = document[key]
    assert path[-1] in document, path  # the fixture has the field the table names
    document[path[-1]] = value


def _judge(forge: str, body: bytes, headers: dict[str, str]) -> object:
    signed = {**headers, **signed_headers(forge, body, SECRET)}
    hook = make_hook(
        f"forge = {forge}\nsecret = env:FIELD_SECRET\nevents = push tag create pull_request"
        " merge_request pullrequest:created pr:opened",
        {"FIELD_SECRET": SECRET},
    )
    return judge(hook, Incoming(body, signed))


class EveryForgeTests(SynchronousTestCase):
    def test_everyFixtureStillPasses(self) -> None:
        for (forge, directory, name), paths in FIXTURE_FIELDS.items():
            body = fixture_body(directory, name)
            outcome = _judge(forge, body, fixture_headers(directory, name))
            self.assertIsInstance(outcome, Accepted | Ignored | Pong, (name, outcome))
            document = json.loads(body)
            for path in paths:
                _set(document, path, "changed")  # each field the table names is in the fixture

    @settings(max_examples=400, deadline=None, derandomize=True, database=None)
    @given(
        fixture=st.sampled_from(sorted(FIXTURE_FIELDS)),
        choice=st.integers(min_value=0, max_value=99),
        value=hostile,
    )
    def test_hostileFieldIsRefused(
        self, fixture: tuple[str, str, str], choice: int, value: str
    ) -> None:
        """A payload field made option-shaped or given a control character: 400, every forge."""
        forge, directory, name = fixture
        paths = FIXTURE_FIELDS[fixture]
        path = paths[choice % len(paths)]
        document = json.loads(fixture_body(directory, name))
        _set(document, path, value)
        body = json.dumps(document).encode()
        outcome = _judge(forge, body, fixture_headers(directory, name))
        self.assertIsInstance(outcome, Refused, (path, value, outcome))
        assert isinstance(outcome, Refused)
        self.assertEqual(outcome.code, 400, (path, value, outcome))

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(
        fixture=st.sampled_from(sorted(FIXTURE_FIELDS)),
        event=st.booleans(),
        value=hostile,
    )
    def test_hostileIdOrEventIsRefused(
        self, fixture: tuple[str, str, str], event: bool, value: str
    ) -> None:
        forge, directory, name = fixture
        id_header, event_header = ID_AND_EVENT_HEADERS[forge]
        headers = fixture_headers(directory, name)
        headers[event_header if event else id_header] = value
        if forge == "gitlab" and not event:
            headers.pop("Idempotency-Key", None)  # read before X-Gitlab-Event-UUID
        outcome = _judge(forge, fixture_body(directory, name), headers)
        self.assertIsInstance(outcome, Refused, (value, outcome))
        assert isinstance(outcome, Refused)
        self.assertEqual(outcome.code, 400, (value, outcome))
        variable = "HOOK_EVENT" if event else "HOOK_DELIVERY"
        self.assertTrue(outcome.reason.startswith(variable), outcome)
