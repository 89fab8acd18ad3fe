"""
Every recorded forge delivery in tests/fixtures/forges/, sent to a live daemon
signed as its forge signs it: the answer, and the HOOK_* values the command sees.
The expected values are read off the payload files by hand, not computed.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from attrs import field, frozen
from twisted.trial.unittest import TestCase

from tests.forgefixtures import fixture_body, fixture_headers, signed_headers
from tests.support import RunningDaemon, finished, post, start_daemon

SECRET = "forge-live-secret"
ZERO = "0" * 40

FORGEJO_HEADERS = {
    "X-Forgejo-Delivery": "ee8d97b4-1479-43f1-9cac-fbbd1b80da55",
}


@frozen
class Case:
    forge: str
    directory: str
    name: str
    events: str
    status: str
    expected: Mapping[str, str] = field(factory=dict)
    extra_headers: Mapping[str, str] = field(factory=dict)
    body: bytes | None = None


GITHUB_PUSH = {
    "HOOK_FORGE": "github",
    "HOOK_EVENT": "push",
    "HOOK_DELIVERY": "f2467dea-70d6-11e8-8955-3c83993e0aef",
    "HOOK_REF": "refs/heads/master",
    "HOOK_BRANCH": "master",
    "HOOK_TAG": "",
    "HOOK_BEFORE": "a10867b14bb761a232cd80139fbd4c0d33264240",
    "HOOK_AFTER": "199eddf46df50de8d02e99bf1c5fdb4101338224",
    "HOOK_REPOSITORY": "Codertocat/Hello-World",
    "HOOK_CLONE_URL": "https://github.com/Codertocat/Hello-World.git",
    "HOOK_PUSHER": "Codertocat",
}

GITEA_PUSH = {
    "HOOK_EVENT": "push",
    "HOOK_DELIVERY": "ee8d97b4-1479-43f1-9cac-fbbd1b80da55",
    "HOOK_REF": "refs/heads/master",
    "HOOK_BRANCH": "master",
    "HOOK_BEFORE": "9836a96a253cce25d17988fcf41b8c4205cf779f",
    "HOOK_AFTER": "4522cbcefc20728a5b72b3a86af35e608622c514",
    "HOOK_REPOSITORY": "gogits/hello-world",
    "HOOK_PUSHER": "unknwon",
}

GITEA_CREATE_TAG = {
    "HOOK_EVENT": "create",
    "HOOK_REF": "refs/tags/v1.0.0",
    "HOOK_TAG": "v1.0.0",
    "HOOK_BRANCH": "",
    "HOOK_AFTER": "599d25c67b05717269f50ac082b34f176d085179",
    "HOOK_REPOSITORY": "gogits/hello-world",
}

GITEA_PULL_REQUEST = {
    "HOOK_EVENT": "pull_request",
    "HOOK_REF": "refs/pull/1/head",
    "HOOK_BRANCH": "master",
    "HOOK_BEFORE": "39af58f1eff02aa308e16913e887c8d50362b474",
    "HOOK_AFTER": "2eba238e33607c1fa49253182e9fff42baafa1eb",
    "HOOK_REPOSITORY": "jcitizen/my-repo",
    "HOOK_CLONE_URL": "https://try.gitea.io/jcitizen/my-repo.git",
}

GITLAB_PUSH = {
    "HOOK_FORGE": "gitlab",
    "HOOK_EVENT": "Push Hook",
    "HOOK_REF": "refs/heads/master",
    "HOOK_BRANCH": "master",
    "HOOK_BEFORE": "9217710ce8c7e1eae7a5d1c45f6e43e1c769f866",
    "HOOK_AFTER": "2adc9465c4edfc33834e173fe89436a7cb899a1d",
    "HOOK_REPOSITORY": "gitlab-org/hello-world",
    "HOOK_CLONE_URL": "https://gitlab.com/gitlab-org/hello-world.git",
    "HOOK_PUSHER": "sytses",
}

CASES = [
    Case("github", "github", "push.json", "push", "queued", GITHUB_PUSH),
    Case("github", "github", "push.form-urlencoded.txt", "push", "queued", GITHUB_PUSH),
    Case(
        "github",
        "github",
        "push-tag-create.json",
        "tag",
        "queued",
        {
            "HOOK_REF": "refs/tags/v0.0.1",
            "HOOK_TAG": "v0.0.1",
            "HOOK_BRANCH": "",
            "HOOK_BEFORE": ZERO,
            "HOOK_AFTER": "d2b75aa7797ec26b088fa2dd527e9d2c052fcedd",
            "HOOK_REPOSITORY": "bradrydzewski/drone-test-go",
            "HOOK_PUSHER": "bradrydzewski",
        },
    ),
    Case("github", "github", "push-tag-create.json", "push", "ignored"),
    Case(
        "github",
        "github",
        "push-branch-create.json",
        "push",
        "queued",
        {
            "HOOK_REF": "refs/heads/feature-branch",
            "HOOK_BRANCH": "feature-branch",
            "HOOK_BEFORE": ZERO,
            "HOOK_AFTER": "d2b75aa7797ec26b088fa2dd527e9d2c052fcedd",
        },
    ),
    Case(
        "github",
        "github",
        "create-tag.json",
        "create",
        "queued",
        {
            "HOOK_EVENT": "create",
            "HOOK_REF": "refs/tags/v0.0.1",
            "HOOK_TAG": "v0.0.1",
            "HOOK_REPOSITORY": "bradrydzewski/drone-test-go",
        },
    ),
    Case("github", "github", "create-tag.json", "push tag", "ignored"),
    Case("github", "github", "ping.octokit.json", "push", "pong"),
    Case(
        "github",
        "github",
        "pull_request-opened.octokit.json",
        "pull_request",
        "queued",
        {
            "HOOK_EVENT": "pull_request",
            "HOOK_DELIVERY": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "HOOK_REF": "refs/pull/2/head",
            "HOOK_BRANCH": "master",
            "HOOK_BEFORE": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
            "HOOK_AFTER": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
            "HOOK_REPOSITORY": "Codertocat/Hello-World",
            "HOOK_PUSHER": "Codertocat",
        },
    ),
    Case("github", "github", "pull_request-opened.octokit.json", "push", "ignored"),
    Case("gitlab", "gitlab", "push.json", "push", "queued", GITLAB_PUSH),
    Case(
        "gitlab",
        "gitlab",
        "tag_push-create.json",
        "tag",
        "queued",
        {
            "HOOK_EVENT": "Tag Push Hook",
            "HOOK_REF": "refs/tags/v1.0.0",
            "HOOK_TAG": "v1.0.0",
            "HOOK_BEFORE": ZERO,
            "HOOK_AFTER": "2adc9465c4edfc33834e173fe89436a7cb899a1d",
            "HOOK_REPOSITORY": "gitlab-org/hello-world",
        },
    ),
    Case(
        "gitlab",
        "gitlab",
        "merge_request-open.gscm.json",
        "merge_request",
        "queued",
        {
            "HOOK_EVENT": "Merge Request Hook",
            "HOOK_REF": "refs/merge-requests/1/head",
            "HOOK_BRANCH": "master",
            "HOOK_AFTER": "c4c79227ed610f1151f05bbc5be33b4f340d39c8",
            "HOOK_REPOSITORY": "gitlab-org/hello-world",
        },
    ),
    Case("gitlab", "gitlab", "merge_request-open.gscm.json", "push", "ignored"),
    Case(
        "gitea",
        "gitea",
        "push.json",
        "push",
        "queued",
        {
            **GITEA_PUSH,
            "HOOK_FORGE": "gitea",
            "HOOK_CLONE_URL": "http://try.gitea.io/gogits/hello-world.git",
        },
    ),
    Case(
        "gitea",
        "gitea",
        "create-tag.json",
        "create",
        "queued",
        {**GITEA_CREATE_TAG, "HOOK_FORGE": "gitea"},
    ),
    Case(
        "gitea",
        "gitea",
        "pull_request-opened.json",
        "pull_request",
        "queued",
        {**GITEA_PULL_REQUEST, "HOOK_FORGE": "gitea"},
    ),
    Case("gitea", "gitea", "pull_request-opened.json", "push", "ignored"),
    Case(
        "forgejo",
        "gitea",
        "push.json",
        "push",
        "queued",
        {**GITEA_PUSH, "HOOK_FORGE": "forgejo"},
        {**FORGEJO_HEADERS, "X-Forgejo-Event": "push"},
    ),
    Case(
        "forgejo",
        "gitea",
        "create-tag.json",
        "create",
        "queued",
        {**GITEA_CREATE_TAG, "HOOK_FORGE": "forgejo"},
        {**FORGEJO_HEADERS, "X-Forgejo-Event": "create"},
    ),
    Case(
        "forgejo",
        "gitea",
        "pull_request-opened.json",
        "pull_request",
        "queued",
        {**GITEA_PULL_REQUEST, "HOOK_FORGE": "forgejo"},
        {**FORGEJO_HEADERS, "X-Forgejo-Event": "pull_request"},
    ),
    Case(
        "gogs",
        "gogs",
        "push.json",
        "push",
        "queued",
        {
            **GITEA_PUSH,
            "HOOK_FORGE": "gogs",
            "HOOK_CLONE_URL": "http://try.gogs.io/gogits/hello-world.git",
        },
    ),
    Case(
        "gogs",
        "gogs",
        "create-tag.json",
        "create",
        "queued",
        {**GITEA_CREATE_TAG, "HOOK_FORGE": "gogs"},
    ),
    Case(
        "bitbucket",
        "bitbucket-cloud",
        "repo-push.json",
        "push",
        "queued",
        {
            "HOOK_FORGE": "bitbucket",
            "HOOK_EVENT": "repo:push",
            "HOOK_DELIVERY": "7d1e6c8a-5f2b-4a3c-8e9d-1a2b3c4d5e6f",
            "HOOK_REF": "refs/heads/master",
            "HOOK_BRANCH": "master",
            "HOOK_BEFORE": "40e7580cf11311d84a6e5e97e2cbba6df1675750",
            "HOOK_AFTER": "141977fedf5cf35aa290ac87d4b5177ac4cd9de1",
            "HOOK_REPOSITORY": "brydzewski/foo",
        },
    ),
    Case(
        "bitbucket",
        "bitbucket-cloud",
        "pullrequest-created.json",
        "pullrequest:created",
        "queued",
        {
            "HOOK_EVENT": "pullrequest:created",
            "HOOK_BRANCH": "master",
            "HOOK_AFTER": "507a576e59b3",
            "HOOK_REPOSITORY": "brydzewski/foo",
        },
    ),
    Case("bitbucket", "bitbucket-cloud", "pullrequest-created.json", "push", "ignored"),
    Case(
        "bitbucket-server",
        "bitbucket-server",
        "repo-refs_changed.json",
        "push",
        "queued",
        {
            "HOOK_FORGE": "bitbucket-server",
            "HOOK_EVENT": "repo:refs_changed",
            "HOOK_DELIVERY": "5c1c8a3e-2d4f-4b6a-9e8d-7f6a5b4c3d2e",
            "HOOK_REF": "refs/heads/master",
            "HOOK_BRANCH": "master",
            "HOOK_BEFORE": "5c64a07cd6c0f21b753bf261ef059c7e7633c50a",
            "HOOK_AFTER": "823b2230a56056231c9425d63758fa87078a66b4",
            "HOOK_REPOSITORY": "PRJ/my-repo",
            "HOOK_PUSHER": "jcitizen",
        },
    ),
    Case(
        "bitbucket-server",
        "bitbucket-server",
        "pr-opened.json",
        "pr:opened",
        "queued",
        {
            "HOOK_EVENT": "pr:opened",
            "HOOK_BRANCH": "master",
            "HOOK_AFTER": "208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e",
        },
    ),
    Case("bitbucket-server", "bitbucket-server", "pr-opened.json", "push", "ignored"),
    Case(
        "bitbucket-server",
        "bitbucket-server",
        "repo-refs_changed.json",
        "push",
        "pong",
        extra_headers={"X-Event-Key": "diagnostics:ping"},
        body=b'{"test": true}',
    ),
]


def environment_of(daemon: RunningDaemon, hook: str, job_id: int) -> dict[str, str]:
    """The environment `env` printed in job C{job_id}, read back from the output log."""
    prefix = f" {job_id} stdout "
    return dict(
        line.split(prefix, 1)[1].split("=", 1)
        for line in daemon.log_text(hook).splitlines()
        if prefix in line and "=" in line
    )


class ForgeDeliveryTests(TestCase):
    """One test per recorded delivery, plus wrong and missing signatures for each."""

    async def start(self, case: Case, forge: str) -> RunningDaemon:
        return await start_daemon(
            self,
            f"""
            [hook:h]
            forge = {forge}
            secret = env:FORGE_SECRET
            events = {case.events}
            workdir = .
            command = env
            """,
            environ={"FORGE_SECRET": SECRET},
        )

    def request(self, case: Case) -> tuple[bytes, dict[str, str]]:
        body = fixture_body(case.directory, case.name) if case.body is None else case.body
        headers = {**fixture_headers(case.directory, case.name), **case.extra_headers}
        return body, headers

    async def check(self, case: Case, hook_forge: str) -> None:
        daemon = await self.start(case, hook_forge)
        body, headers = self.request(case)
        code, answer, _ = await post(
            daemon.hook_url("h"), body, {**headers, **signed_headers(case.forge, body, SECRET)}
        )
        if case.status == "queued":
            self.assertEqual((code, answer["status"]), (202, "queued"), answer)
            job = await finished(daemon, answer["job"])
            self.assertEqual(job.state, "succeeded")
            env = environment_of(daemon, "h", job.id)
            seen = {name: env.get(name) for name in case.expected}
            self.assertEqual(seen, dict(case.expected))
            self.assertEqual(env["HOOK_FORGE"], case.forge)
        elif case.status == "pong":
            self.assertEqual((code, answer), (200, {"status": "pong"}))
        else:
            self.assertEqual((code, answer["status"]), (200, "ignored"), answer)
            self.assertTrue(answer["reason"])
        self.assertEqual(
            [job.id for job in daemon.jobs.values()],
            [answer["job"]] if case.status == "queued" else [],
        )

    async def check_refused(self, case: Case) -> None:
        daemon = await self.start(case, case.forge)
        body, headers = self.request(case)
        wrong = signed_headers(case.forge, body, SECRET + "x")
        code, _, _ = await post(daemon.hook_url("h"), body, {**headers, **wrong})
        self.assertEqual(code, 401)
        code, _, _ = await post(daemon.hook_url("h"), body, headers)
        self.assertEqual(code, 401)
        self.assertEqual(daemon.jobs, {})


def _name(case: Case) -> str:
    stem = case.name.removesuffix(".json").replace("-", "_").replace(".", "_")
    events = case.events.split()[0].replace(":", "_")
    return f"{case.forge.replace('-', '_')}_{stem}_{events}_{case.status}"


def _add(name: str, test: Callable[[ForgeDeliveryTests], Coroutine[Any, Any, None]]) -> None:
    assert not hasattr(ForgeDeliveryTests, name), name
    setattr(ForgeDeliveryTests, name, test)


for _case in CASES:
    _add(f"test_{_name(_case)}", lambda self, c=_case: self.check(c, c.forge))
    _add(f"test_auto_{_name(_case)}", lambda self, c=_case: self.check(c, "auto"))
    _add(f"test_refused_{_name(_case)}", lambda self, c=_case: self.check_refused(c))
