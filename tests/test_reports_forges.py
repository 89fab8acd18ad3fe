"""
Each forge's commit-status API as a live daemon calls it: a genuine push from
the forge (its fixture, signed as it signs) deploys, and a fake of the forge's
API on 127.0.0.1, over HTTPS with a certificate from a CA the test makes,
receives the running and the finished status. What is asserted is what each
forge's documentation asks for (the pages are named in each test), not what
the request builders happen to make.
"""

from __future__ import annotations

import base64
import os

from twisted.trial.unittest import TestCase

from hookdaemon import outbox
from tests.fake_api import FakeApi, Received, TestCA
from tests.forgefixtures import fixture_body, fixture_headers, signed_headers
from tests.support import finished, post, start_daemon, wait_for
from tests.test_reports_live import outbox_rows

SECRET = "push-secret"
TOKEN = "forge-token-0123"
PUBLIC = "https://deploy.example.com"

HOOK = """\
[hook:site]
forge = {forge}
secret = env:PUSH_SECRET
workdir = {workdir}
command = true
report = {report}
report_url = {url}
report_token = env:STATUS_TOKEN
report_ca = {ca}
"""


class ForgeApis(TestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.ca = TestCA()
        self.ca_path = self.ca.write(os.path.join(self.directory, "ca.pem"))
        self.patch(outbox, "FIRST_RETRY", 0.05)

    async def deploy(
        self, fixtures: str, fixture: str, report: str, api_path: str, token: str = TOKEN
    ) -> tuple[int, list[Received]]:
        """Deliver C{fixture} from the forge C{fixtures} holds; the job and the statuses sent."""
        api = FakeApi(certificate=self.ca.issue(names=("127.0.0.1",)))
        await api.start()
        self.addCleanup(api.stop)
        forge = {"bitbucket-cloud": "bitbucket"}.get(fixtures, fixtures)
        hook = HOOK.format(
            forge=forge,
            workdir=self.directory,
            report=report,
            url=api.url + api_path,
            ca=self.ca_path,
        )
        daemon = await start_daemon(
            self,
            hook,
            f"public_url = {PUBLIC}/\n",
            environ={"PUSH_SECRET": SECRET, "STATUS_TOKEN": token},
        )
        body = fixture_body(fixtures, fixture)
        headers = {**fixture_headers(fixtures, fixture), **signed_headers(forge, body, SECRET)}
        code, answer, _ = await post(f"{daemon.url}/hooks/site", body, headers)
        self.assertEqual(code, 202, answer)
        job = int(answer["job"])
        self.assertEqual((await finished(daemon, job)).state, "succeeded")
        requests = await api.received(2)
        await wait_for(lambda: not outbox_rows(daemon.journal_path), "the outbox to empty")
        return job, requests

    def assertCommon(
        self, requests: list[Received], method: str, path: str, credentials: dict[str, str]
    ) -> None:
        """Every request: its method, path, JSON type, agent, and the forge's credentials."""
        for request in requests:
            self.assertEqual((request.method, request.path), (method, path))
            for name, value in credentials.items():
                self.assertEqual(request.headers[name], value)
            self.assertEqual(request.headers["content-type"], "application/json")
            self.assertTrue(request.headers["user-agent"].startswith("hookdaemon/"))

    async def test_gitlab(self) -> None:
        # https://docs.gitlab.com/ee/api/commits.html#set-the-pipeline-status-of-a-commit:
        # POST /projects/:id/statuses/:sha, id the URL-encoded path; state one of
        # pending, running, success, failed, canceled; name, ref, target_url,
        # description. https://docs.gitlab.com/ee/api/rest/authentication.html:
        # a personal, project or group access token in PRIVATE-TOKEN.
        job, requests = await self.deploy("gitlab", "push.json", "gitlab", "/api/v4")
        commit = "2adc9465c4edfc33834e173fe89436a7cb899a1d"
        self.assertCommon(
            requests,
            "POST",
            f"/api/v4/projects/gitlab-org%2Fhello-world/statuses/{commit}",
            {"private-token": TOKEN},
        )
        running, success = requests
        for request in requests:
            self.assertNotIn("authorization", request.headers)
        self.assertEqual(
            running.json,
            {
                "state": "running",
                "name": "hookdaemon/site",
                "ref": "master",
                "target_url": f"{PUBLIC}/jobs/{job}",
                "description": f"Deploying (job {job})",
            },
        )
        self.assertEqual(success.json["state"], "success")
        self.assertEqual(
            {k: v for k, v in success.json.items() if k not in ("state", "description")},
            {"name": "hookdaemon/site", "ref": "master", "target_url": f"{PUBLIC}/jobs/{job}"},
        )

    async def gitea_like(self, report: str) -> None:
        # Gitea https://docs.gitea.com/api/ and Forgejo https://forgejo.org/docs/latest/
        # (its API is Gitea's): POST /repos/{owner}/{repo}/statuses/{sha},
        # CreateStatusOption {state: pending|success|error|failure|warning,
        # context, description, target_url}; a token as "Authorization: token T".
        job, requests = await self.deploy("gitea", "push.json", report, "/api/v1")
        commit = "4522cbcefc20728a5b72b3a86af35e608622c514"
        self.assertCommon(
            requests,
            "POST",
            f"/api/v1/repos/gogits/hello-world/statuses/{commit}",
            {"authorization": f"token {TOKEN}"},
        )
        pending, success = requests
        self.assertEqual(
            pending.json,
            {
                "state": "pending",
                "context": "hookdaemon/site",
                "description": f"Deploying (job {job})",
                "target_url": f"{PUBLIC}/jobs/{job}",
            },
        )
        self.assertEqual(success.json["state"], "success")
        self.assertEqual(set(success.json), {"state", "context", "description", "target_url"})

    async def test_gitea(self) -> None:
        await self.gitea_like("gitea")

    async def test_forgejo(self) -> None:
        await self.gitea_like("forgejo")

    async def test_bitbucketCloud(self) -> None:
        # https://developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses/
        # "Create a build status for a commit": POST
        # /2.0/repositories/{workspace}/{repo_slug}/commit/{commit}/statuses/build,
        # {key, state: INPROGRESS|SUCCESSFUL|FAILED|STOPPED, url (required), name,
        # description, refname}; an access token as Bearer.
        job, requests = await self.deploy("bitbucket-cloud", "repo-push.json", "bitbucket", "/2.0")
        commit = "141977fedf5cf35aa290ac87d4b5177ac4cd9de1"
        self.assertCommon(
            requests,
            "POST",
            f"/2.0/repositories/brydzewski/foo/commit/{commit}/statuses/build",
            {"authorization": f"Bearer {TOKEN}"},
        )
        running, success = requests
        self.assertEqual(
            running.json,
            {
                "key": "hookdaemon/site",
                "state": "INPROGRESS",
                "name": "hookdaemon/site",
                "url": f"{PUBLIC}/jobs/{job}",
                "description": f"Deploying (job {job})",
                "refname": "master",
            },
        )
        self.assertEqual(success.json["state"], "SUCCESSFUL")
        self.assertEqual(success.json["key"], running.json["key"])  # the same status, updated

    async def test_bitbucketCloudWithAnAppPassword(self) -> None:
        # An app password (or API token) goes as Basic user:password.
        _, requests = await self.deploy(
            "bitbucket-cloud", "repo-push.json", "bitbucket", "/2.0", token="ada:app-pw"
        )
        basic = "Basic " + base64.b64encode(b"ada:app-pw").decode()
        self.assertEqual([r.headers["authorization"] for r in requests], [basic, basic])

    async def test_bitbucketServer(self) -> None:
        # https://developer.atlassian.com/server/bitbucket/how-tos/updating-build-status-for-commits:
        # POST /rest/api/latest/projects/{projectKey}/repos/{repositorySlug}
        #   /commits/{commitId}/builds,
        # {key, state: INPROGRESS|SUCCESSFUL|FAILED, url, name, description, ref};
        # an HTTP access token as Bearer.
        job, requests = await self.deploy(
            "bitbucket-server", "repo-refs_changed.json", "bitbucket-server", "/bitbucket"
        )
        commit = "823b2230a56056231c9425d63758fa87078a66b4"
        self.assertCommon(
            requests,
            "POST",
            f"/bitbucket/rest/api/latest/projects/PRJ/repos/my-repo/commits/{commit}/builds",
            {"authorization": f"Bearer {TOKEN}"},
        )
        running, success = requests
        self.assertEqual(
            running.json,
            {
                "key": "hookdaemon/site",
                "state": "INPROGRESS",
                "name": "hookdaemon/site",
                "url": f"{PUBLIC}/jobs/{job}",
                "description": f"Deploying (job {job})",
                "ref": "refs/heads/master",
            },
        )
        self.assertEqual(success.json["state"], "SUCCESSFUL")
