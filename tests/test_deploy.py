"""
End to end: a real bare repository, a real deployed clone, a real push, a signed
GitHub delivery over real HTTP, and the clone moving to the pushed commit.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import TestCase

from tests.support import finished, git, github_headers, github_push_body, post, start_daemon

SECRET = "deploy-secret"


class GitDeployTests(TestCase):
    def setUp(self) -> None:
        root = os.path.abspath(self.mktemp())
        self.origin = os.path.join(root, "origin.git")
        self.work = os.path.join(root, "work")
        self.deployed = os.path.join(root, "deployed")
        os.makedirs(root)
        git("init", "--bare", "--initial-branch=main", self.origin, cwd=root)
        git("clone", self.origin, self.work, cwd=root)
        self.commit("first")
        git("push", "origin", "main", cwd=self.work)
        git("clone", "--branch", "main", self.origin, self.deployed, cwd=root)

    def commit(self, text: str) -> str:
        with open(os.path.join(self.work, "index.html"), "w") as f:
            f.write(text)
        git("add", "index.html", cwd=self.work)
        git("commit", "-m", text, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    async def test_signedPushDeploysTheNewCommit(self) -> None:
        daemon = await start_daemon(
            self,
            f"""
            [hook:site]
            forge = github
            secret = env:SITE_SECRET
            branches = main
            workdir = {self.deployed}
            command =
                git fetch --prune origin
                git reset --hard ${{HOOK_AFTER}}
            """,
            environ={"SITE_SECRET": SECRET},
        )
        before = git("rev-parse", "HEAD", cwd=self.deployed)
        after = self.commit("second")
        git("push", "origin", "main", cwd=self.work)

        body = github_push_body(before=before, after=after)
        code, answer, _ = await post(daemon.hook_url("site"), body, github_headers(body, SECRET))
        self.assertEqual(code, 202)
        job = await finished(daemon, answer["job"])

        self.assertEqual(job.state, "succeeded")
        self.assertEqual(git("rev-parse", "HEAD", cwd=self.deployed), after)
        with open(os.path.join(self.deployed, "index.html")) as f:
            self.assertEqual(f.read(), "second")
        log = daemon.log_text("site")
        # git fetch reports the ref update on stderr; reset --hard on stdout.
        self.assertIn(f"{job.id} stderr", log)
        self.assertIn("main       -> origin/main", log)
        self.assertIn(f"{job.id} stdout HEAD is now at {after[:7]} second", log)

    async def test_failingStepStopsTheJob(self) -> None:
        daemon = await start_daemon(
            self,
            f"""
            [hook:site]
            forge = github
            secret = env:SITE_SECRET
            workdir = {self.deployed}
            command =
                git reset --hard ${{HOOK_AFTER}}
                touch should-not-exist
            """,
            environ={"SITE_SECRET": SECRET},
        )
        body = github_push_body(after="f" * 40)
        code, answer, _ = await post(daemon.hook_url("site"), body, github_headers(body, SECRET))
        self.assertEqual(code, 202)
        job = await finished(daemon, answer["job"])
        self.assertEqual(job.state, "failed")
        assert job.result is not None
        self.assertEqual(job.result.exit_code, 128)
        self.assertFalse(os.path.exists(os.path.join(self.deployed, "should-not-exist")))
        self.assertIn("step 1 ended: exit 128", daemon.log_text("site"))
