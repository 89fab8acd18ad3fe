"""
Tests for L{hookdaemon.commit_status}: each forge's module turns a neutral
status into the exact request its documented commit-status API expects.
"""

from __future__ import annotations

import base64
import json

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.commit_status import (
    STATUS_APIS,
    UNSUPPORTED,
    ApiRequest,
    CommitStatus,
    MissingTargetUrlError,
    StatusState,
    bitbucket,
    bitbucket_server,
    forgejo,
    gitea,
    github,
    gitlab,
    problem,
)

SHA = "4522cbcefc20728a5b72b3a86af35e608622c514"
SHA256 = "a" * 64
JOB = "https://deploy.example.com/jobs/42"


def status(
    repository: str = "octo/site",
    state: StatusState = StatusState.SUCCESS,
    context: str = "hookdaemon/deploy",
    description: str = "Deployed in 12 s",
    target_url: str | None = JOB,
    ref: str = "refs/heads/main",
    commit: str = SHA,
) -> CommitStatus:
    return CommitStatus(
        repository=repository,
        commit=commit,
        state=state,
        context=context,
        description=description,
        target_url=target_url,
        ref=ref,
    )


def basic(user_password: str) -> str:
    return "Basic " + base64.b64encode(user_password.encode()).decode()


class RegistryTests(SynchronousTestCase):
    def test_namesEveryReportableForge(self) -> None:
        self.assertEqual(
            set(STATUS_APIS),
            {"github", "gitlab", "gitea", "forgejo", "bitbucket", "bitbucket-server"},
        )

    def test_gogsIsRefusedWithAReason(self) -> None:
        self.assertNotIn("gogs", STATUS_APIS)
        self.assertIn("Gitea or Forgejo", UNSUPPORTED["gogs"])

    def test_everyStateHasAWordInEveryForge(self) -> None:
        for api in STATUS_APIS.values():
            for state in StatusState:
                request = api.status_request(status(state=state))
                self.assertIsInstance(request.json["state"], str)
                self.assertEqual(request.method, "POST")
                self.assertTrue(request.path.startswith("/"))

    def test_bodiesAreJson(self) -> None:
        for api in STATUS_APIS.values():
            json.dumps(dict(api.status_request(status(repository="a/b")).json))

    def test_headersAreJson(self) -> None:
        for api in STATUS_APIS.values():
            self.assertEqual(api.HEADERS["Content-Type"], "application/json")

    def test_selfHostedOnlyHaveNoDefault(self) -> None:
        self.assertEqual(
            {name for name, api in STATUS_APIS.items() if api.DEFAULT_API is None},
            {"gitea", "forgejo", "bitbucket-server"},
        )
        self.assertEqual(gitlab.DEFAULT_API, "https://gitlab.com/api/v4")
        self.assertEqual(bitbucket.DEFAULT_API, "https://api.bitbucket.org/2.0")
        self.assertEqual(github.DEFAULT_API, "https://api.github.com")
        self.assertEqual(github.API_PATH, "/api/v3")
        self.assertEqual(gitea.API_PATH, "/api/v1")


class GitHubTests(SynchronousTestCase):
    def test_successRequest(self) -> None:
        self.assertEqual(
            github.status_request(status()),
            ApiRequest(
                method="POST",
                path=f"/repos/octo/site/statuses/{SHA}",
                json={
                    "state": "success",
                    "context": "hookdaemon/deploy",
                    "target_url": JOB,
                    "description": "Deployed in 12 s",
                },
            ),
        )

    def test_noLinkNoDescription(self) -> None:
        request = github.status_request(status(target_url=None, description=""))
        self.assertEqual(request.json, {"state": "success", "context": "hookdaemon/deploy"})

    def test_states(self) -> None:
        self.assertEqual(
            {
                state: github.status_request(status(state=state)).json["state"]
                for state in StatusState
            },
            {
                StatusState.PENDING: "pending",
                StatusState.RUNNING: "pending",
                StatusState.SUCCESS: "success",
                StatusState.FAILURE: "failure",
                StatusState.ERROR: "error",
                StatusState.CANCELLED: "error",
            },
        )

    def test_headers(self) -> None:
        self.assertEqual(github.HEADERS["Accept"], "application/vnd.github+json")
        self.assertEqual(github.HEADERS["X-GitHub-Api-Version"], "2022-11-28")
        self.assertEqual(github.credentials("ghp_x"), {"Authorization": "Bearer ghp_x"})

    def test_descriptionCutTo140(self) -> None:
        description = github.status_request(status(description="x" * 300)).json["description"]
        assert isinstance(description, str)
        self.assertEqual(len(description), 140)
        self.assertTrue(description.endswith("\N{HORIZONTAL ELLIPSIS}"))

    def test_descriptionOnOneLine(self) -> None:
        request = github.status_request(status(description="failed:\n  exit 1\n"))
        self.assertEqual(request.json["description"], "failed: exit 1")

    def test_oddNamesEscaped(self) -> None:
        request = github.status_request(
            status(repository="my org/caf\N{LATIN SMALL LETTER E WITH ACUTE}")
        )
        self.assertEqual(request.path, f"/repos/my%20org/caf%C3%A9/statuses/{SHA}")

    def test_sha256Commit(self) -> None:
        request = github.status_request(status(commit=SHA256))
        self.assertTrue(request.path.endswith("/statuses/" + SHA256))

    def test_errorMessageWithValidationErrors(self) -> None:
        body = json.dumps(
            {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "Status",
                        "field": "description",
                        "code": "custom",
                        "message": "description is too long (maximum is 140 characters)",
                    }
                ],
                "documentation_url": "https://docs.github.com/rest",
            }
        ).encode()
        self.assertEqual(
            github.error_message(422, body),
            "Validation Failed: description is too long (maximum is 140 characters)",
        )

    def test_errorMessagePlain(self) -> None:
        self.assertEqual(
            github.error_message(401, b'{"message": "Bad credentials"}'), "Bad credentials"
        )


class GitLabTests(SynchronousTestCase):
    def test_successRequest(self) -> None:
        self.assertEqual(
            gitlab.status_request(status(repository="group/sub/site")),
            ApiRequest(
                method="POST",
                path=f"/projects/group%2Fsub%2Fsite/statuses/{SHA}",
                json={
                    "state": "success",
                    "name": "hookdaemon/deploy",
                    "ref": "main",
                    "target_url": JOB,
                    "description": "Deployed in 12 s",
                },
            ),
        )

    def test_states(self) -> None:
        self.assertEqual(
            [gitlab.status_request(status(state=state)).json["state"] for state in StatusState],
            ["pending", "running", "success", "failed", "failed", "canceled"],
        )

    def test_refIsTheShortName(self) -> None:
        tag = gitlab.status_request(status(ref="refs/tags/v1.2"))
        self.assertEqual(tag.json["ref"], "v1.2")
        other = gitlab.status_request(status(ref="refs/pull/3/head"))
        self.assertNotIn("ref", other.json)
        none = gitlab.status_request(status(ref=""))
        self.assertNotIn("ref", none.json)

    def test_longLinkLeftOut(self) -> None:
        request = gitlab.status_request(status(target_url="https://x/" + "a" * 300))
        self.assertNotIn("target_url", request.json)

    def test_descriptionCutTo255(self) -> None:
        description = gitlab.status_request(status(description="y" * 999)).json["description"]
        assert isinstance(description, str)
        self.assertEqual(len(description), 255)

    def test_oddProjectPath(self) -> None:
        request = gitlab.status_request(status(repository="my group/sub.g/pr\N{OPEN BOX}j"))
        self.assertEqual(
            request.path, f"/projects/my%20group%2Fsub.g%2Fpr%E2%90%A3j/statuses/{SHA}"
        )

    def test_credentials(self) -> None:
        self.assertEqual(gitlab.credentials("glpat-x"), {"PRIVATE-TOKEN": "glpat-x"})

    def test_errorMessages(self) -> None:
        self.assertEqual(
            gitlab.error_message(401, b'{"message":"401 Unauthorized"}'), "401 Unauthorized"
        )
        self.assertEqual(
            gitlab.error_message(400, b'{"error":"state does not have a valid value"}'),
            "state does not have a valid value",
        )
        self.assertEqual(
            gitlab.error_message(400, b'{"message":{"name":["is too long"]}}'),
            "name is too long",
        )


class GiteaTests(SynchronousTestCase):
    def test_successRequest(self) -> None:
        for api in (gitea, forgejo):
            self.assertEqual(
                api.status_request(status()),
                ApiRequest(
                    method="POST",
                    path=f"/repos/octo/site/statuses/{SHA}",
                    json={
                        "state": "success",
                        "context": "hookdaemon/deploy",
                        "target_url": JOB,
                        "description": "Deployed in 12 s",
                    },
                ),
            )

    def test_names(self) -> None:
        self.assertEqual((gitea.NAME, forgejo.NAME), ("gitea", "forgejo"))

    def test_states(self) -> None:
        for api in (gitea, forgejo):
            self.assertEqual(
                [api.status_request(status(state=state)).json["state"] for state in StatusState],
                ["pending", "pending", "success", "failure", "error", "error"],
            )

    def test_credentials(self) -> None:
        self.assertEqual(gitea.credentials("abc"), {"Authorization": "token abc"})
        self.assertEqual(forgejo.credentials("abc"), {"Authorization": "token abc"})

    def test_errorMessage(self) -> None:
        body = b'{"message":"token does not have at least one of required scope(s)","url":"x"}'
        self.assertEqual(
            gitea.error_message(403, body),
            "token does not have at least one of required scope(s)",
        )


class BitbucketTests(SynchronousTestCase):
    def test_successRequest(self) -> None:
        self.assertEqual(
            bitbucket.status_request(status(repository="team/site")),
            ApiRequest(
                method="POST",
                path=f"/repositories/team/site/commit/{SHA}/statuses/build",
                json={
                    "key": "hookdaemon/deploy",
                    "state": "SUCCESSFUL",
                    "name": "hookdaemon/deploy",
                    "url": JOB,
                    "description": "Deployed in 12 s",
                    "refname": "main",
                },
            ),
        )

    def test_states(self) -> None:
        self.assertEqual(
            [bitbucket.status_request(status(state=state)).json["state"] for state in StatusState],
            ["INPROGRESS", "INPROGRESS", "SUCCESSFUL", "FAILED", "FAILED", "STOPPED"],
        )

    def test_linkRequired(self) -> None:
        self.assertTrue(bitbucket.REQUIRES_TARGET_URL)
        self.assertRaises(MissingTargetUrlError, bitbucket.status_request, status(target_url=None))

    def test_braceInLinkEscaped(self) -> None:
        request = bitbucket.status_request(status(target_url="https://x/{repository.name}"))
        self.assertEqual(request.json["url"], "https://x/%7Brepository.name%7D")

    def test_longContextGetsStableShortKey(self) -> None:
        context = "hookdaemon/deploy-the-production-website-" + "x" * 30
        first = bitbucket.status_request(status(context=context)).json
        second = bitbucket.status_request(status(context=context, state=StatusState.FAILURE)).json
        key = first["key"]
        assert isinstance(key, str)
        self.assertEqual(len(key), 40)
        self.assertEqual(key, second["key"])
        self.assertTrue(key.startswith("hookdaemon/deploy-the-"))
        self.assertEqual(first["name"], context)

    def test_longContextsSharingAHeadDiffer(self) -> None:
        head = "hookdaemon/" + "z" * 40
        one = bitbucket.status_request(status(context=head + "-one")).json["key"]
        two = bitbucket.status_request(status(context=head + "-two")).json["key"]
        self.assertNotEqual(one, two)

    def test_contextOf40IsItsOwnKey(self) -> None:
        context = "c" * 40
        self.assertEqual(bitbucket.status_request(status(context=context)).json["key"], context)

    def test_credentials(self) -> None:
        self.assertEqual(bitbucket.credentials("ATCTT3x"), {"Authorization": "Bearer ATCTT3x"})
        self.assertEqual(
            bitbucket.credentials("me@example.com:ATATT3x"),
            {"Authorization": basic("me@example.com:ATATT3x")},
        )

    def test_errorMessage(self) -> None:
        body = (
            b'{"type": "error", "error": {"message": "key: Ensure this value has at most 40'
            b' characters (it has 48).", "fields": {"key": ["Ensure..."]}}}'
        )
        self.assertEqual(
            bitbucket.error_message(400, body),
            "key: Ensure this value has at most 40 characters (it has 48).",
        )

    def test_oddNamesEscaped(self) -> None:
        request = bitbucket.status_request(status(repository="my team/{uuid}"))
        self.assertEqual(
            request.path, f"/repositories/my%20team/%7Buuid%7D/commit/{SHA}/statuses/build"
        )


class BitbucketServerTests(SynchronousTestCase):
    def test_successRequest(self) -> None:
        self.assertEqual(
            bitbucket_server.status_request(status(repository="PROJ/site")),
            ApiRequest(
                method="POST",
                path=f"/rest/api/latest/projects/PROJ/repos/site/commits/{SHA}/builds",
                json={
                    "key": "hookdaemon/deploy",
                    "state": "SUCCESSFUL",
                    "name": "hookdaemon/deploy",
                    "url": JOB,
                    "description": "Deployed in 12 s",
                    "ref": "refs/heads/main",
                },
            ),
        )

    def test_personalRepository(self) -> None:
        request = bitbucket_server.status_request(status(repository="~jdoe/my repo"))
        self.assertEqual(
            request.path, f"/rest/api/latest/projects/~jdoe/repos/my%20repo/commits/{SHA}/builds"
        )

    def test_states(self) -> None:
        self.assertEqual(
            [
                bitbucket_server.status_request(status(state=state)).json["state"]
                for state in StatusState
            ],
            ["INPROGRESS", "INPROGRESS", "SUCCESSFUL", "FAILED", "FAILED", "FAILED"],
        )

    def test_linkRequired(self) -> None:
        self.assertTrue(bitbucket_server.REQUIRES_TARGET_URL)
        self.assertRaises(
            MissingTargetUrlError, bitbucket_server.status_request, status(target_url=None)
        )
        self.assertRaises(
            ValueError,
            bitbucket_server.status_request,
            status(target_url="https://x/" + "a" * 450),
        )

    def test_noRefNoField(self) -> None:
        self.assertNotIn("ref", bitbucket_server.status_request(status(ref="")).json)

    def test_credentials(self) -> None:
        self.assertEqual(
            bitbucket_server.credentials("NjU0OTk"), {"Authorization": "Bearer NjU0OTk"}
        )
        self.assertEqual(
            bitbucket_server.credentials("ci:s3cr:et"), {"Authorization": basic("ci:s3cr:et")}
        )

    def test_errorMessage(self) -> None:
        body = json.dumps(
            {
                "errors": [
                    {"context": None, "message": "Authentication failed.", "exceptionName": None},
                    {"message": "Try again."},
                ]
            }
        ).encode()
        self.assertEqual(
            bitbucket_server.error_message(401, body), "Authentication failed.; Try again."
        )


class GarbageErrorTests(SynchronousTestCase):
    def test_garbageFallsBackToText(self) -> None:
        for api in STATUS_APIS.values():
            self.assertEqual(
                api.error_message(502, b"<html>\n<b>Bad   Gateway</b></html>"),
                "<html> <b>Bad Gateway</b></html>",
            )

    def test_fallbackIsCutTo200(self) -> None:
        for api in STATUS_APIS.values():
            self.assertEqual(len(api.error_message(500, b"e" * 5000)), 200)

    def test_neverRaises(self) -> None:
        bodies = [
            b"",
            b"\xff\xfe\x00",
            b"null",
            b"[1, 2]",
            b'{"message": 5}',
            b'{"errors": "x"}',
            b'{"errors": [5, null]}',
            b'{"error": []}',
            b"[" * 100000,
            b"1e999999",
        ]
        for api in STATUS_APIS.values():
            for body in bodies:
                self.assertIsInstance(api.error_message(500, body), str)

    def test_emptyBodySaysSo(self) -> None:
        self.assertEqual(github.error_message(503, b""), "HTTP 503 with an empty body")


class ProblemTests(SynchronousTestCase):
    def test_goodDeliveries(self) -> None:
        self.assertIsNone(problem("github", "octo/site", SHA))
        self.assertIsNone(problem("gitlab", "group/sub/site", SHA256))
        self.assertIsNone(problem("bitbucket-server", "~jdoe/site", SHA.upper()))

    def test_deletion(self) -> None:
        for commit in ("0" * 40, "0" * 64):
            reason = problem("github", "octo/site", commit)
            assert reason is not None
            self.assertIn("deleted", reason)

    def test_notACommit(self) -> None:
        for commit in ("", "abc123", "g" * 40, SHA + "0"):
            self.assertIsNotNone(problem("gitea", "octo/site", commit))

    def test_emptyRepository(self) -> None:
        self.assertEqual(problem("gitlab", "", SHA), "the delivery names no repository")

    def test_badShapes(self) -> None:
        for api_name, repository in [
            ("github", "site"),
            ("github", "a/b/c"),
            ("gitea", "/site"),
            ("forgejo", "octo/"),
            ("bitbucket", "team"),
            ("gitlab", "site"),
            ("gitlab", "group//site"),
            ("bitbucket-server", "PROJ"),
            ("bitbucket-server", "PROJ/a/b"),
            ("bitbucket-server", "~/site"),
        ]:
            self.assertIsNotNone(problem(api_name, repository, SHA), (api_name, repository))

    def test_unsupportedAndUnknown(self) -> None:
        self.assertEqual(problem("gogs", "octo/site", SHA), UNSUPPORTED["gogs"])
        reason = problem("sourcehut", "octo/site", SHA)
        assert reason is not None
        self.assertIn("sourcehut", reason)
