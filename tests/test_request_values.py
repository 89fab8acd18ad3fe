"""
Values a request brings, as issue 11 saw them reach commands, sent to a real
C{twistd -n hookdaemon}: option-shaped commits and branches to real git, a
delivery id that is a path, a GitLab signed delivery sent twice.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid

from twisted.trial.unittest import SynchronousTestCase

from tests.forgefixtures import gitlab_signed
from tests.live import LiveDaemon
from tests.support import git, github_headers, github_push_body

SECRET = "values-test-secret"
ENVIRON = {"VALUES_SECRET": SECRET}


class OptionInjectionTests(SynchronousTestCase):
    """
    C{git fetch origin ${HOOK_AFTER}} in a real clone: a commit id that is an
    option would have git run C{--upload-pack}'s command. The canary file it
    would create never appears; a genuine commit id is fetched, so the step works.
    """

    def setUp(self) -> None:
        root = os.path.abspath(self.mktemp())
        os.makedirs(root)
        self.origin = os.path.join(root, "origin")
        os.makedirs(self.origin)
        git("init", "-q", "-b", "main", cwd=self.origin)
        git("commit", "-q", "--allow-empty", "-m", "one", cwd=self.origin)
        self.clone = os.path.join(root, "clone")
        git("clone", "-q", self.origin, self.clone, cwd=root)
        git("commit", "-q", "--allow-empty", "-m", "two", cwd=self.origin)
        self.commit = git("rev-parse", "HEAD", cwd=self.origin)
        self.canary = os.path.join(root, "canary")
        self.injection = f"--upload-pack=touch {self.canary}"
        # Unguarded on purpose: the daemon's check is all that stands between.
        steps = f"workdir = {self.clone}\ncommand =\n    git fetch origin ${{HOOK_AFTER}}\n"
        steps += "    git checkout ${HOOK_BRANCH}\n"
        self.daemon = LiveDaemon(
            self,
            "[hook:generic]\nforge = generic\nallow_from = 127.0.0.1\n"
            + steps
            + "\n[hook:github]\nforge = github\nsecret = env:VALUES_SECRET\n"
            + steps,
            environ=ENVIRON,
        )

    def send(self, hook: str, body: bytes) -> tuple[int, object]:
        if hook == "github":
            return self.daemon.post("/hooks/github", body, github_headers(body, SECRET))
        return self.daemon.post("/hooks/generic", body)

    def test_optionShapedCommitIsRefused(self) -> None:
        for hook in ("generic", "github"):
            body = github_push_body(after=self.injection)
            if hook == "generic":
                body = json.dumps({"ref": "refs/heads/main", "after": self.injection}).encode()
            code, answer = self.send(hook, body)
            self.assertEqual(code, 400, (hook, answer))
            self.assertEqual(
                answer,
                {"error": "HOOK_AFTER starts with '-', so a command would read it as an option"},
            )
        self.assertFalse(os.path.exists(self.canary))

    def test_optionShapedBranchIsRefused(self) -> None:
        """C{-x} is a ref name git takes (refs/heads/-x); as HOOK_BRANCH it is an option."""
        for hook in ("generic", "github"):
            body = github_push_body(ref="refs/heads/-x", after=self.commit)
            if hook == "generic":
                body = json.dumps({"ref": "refs/heads/-x", "after": self.commit}).encode()
            code, answer = self.send(hook, body)
            self.assertEqual(code, 400, (hook, answer))
            self.assertIn("HOOK_BRANCH starts with '-'", answer["error"])  # type: ignore[index]

    def test_refWithANewlineIsRefused(self) -> None:
        for hook in ("generic", "github"):
            body = github_push_body(ref="refs/heads/main\nx", after=self.commit)
            if hook == "generic":
                body = json.dumps({"ref": "refs/heads/main\nx", "after": self.commit}).encode()
            code, answer = self.send(hook, body)
            self.assertEqual(
                (code, answer), (400, {"error": "HOOK_REF holds a control character"})
            )

    def test_theStepWouldRunTheInjection(self) -> None:
        """
        The control: the same step given the value by hand creates the canary, so
        the refusals above are what keeps it from appearing.
        """
        subprocess.run(
            ["git", "fetch", "origin", self.injection], cwd=self.clone, capture_output=True
        )
        self.assertTrue(os.path.exists(self.canary))

    def test_genuineCommitIsFetched(self) -> None:
        """The same step with a real commit fetches it: the refusals are not the step failing."""
        body = json.dumps({"ref": "refs/heads/main", "after": self.commit}).encode()
        code, answer = self.send("generic", body)
        self.assertEqual(code, 202, answer)
        job = self.daemon.wait_finished(answer["job"])  # type: ignore[index]
        self.assertEqual(job["state"], "succeeded", self.daemon.output("generic"))
        self.assertEqual(git("rev-parse", "FETCH_HEAD", cwd=self.clone), self.commit)
        self.assertFalse(os.path.exists(self.canary))


class DeliveryIdTests(SynchronousTestCase):
    """C{cp ${HOOK_PAYLOAD} archive/${HOOK_DELIVERY}.json}: the id must never be a path."""

    def setUp(self) -> None:
        self.work = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(self.work, "archive"))
        self.daemon = LiveDaemon(
            self,
            "[hook:site]\nforge = github\nsecret = env:VALUES_SECRET\n"
            f"workdir = {self.work}\n"
            "command = cp ${HOOK_PAYLOAD} archive/${HOOK_DELIVERY}.json\n",
            environ=ENVIRON,
        )

    def test_pathAsDeliveryIdIsRefused(self) -> None:
        body = github_push_body()
        for delivery in ("../pwned", "-pwned", "a/b", "x\ty"):
            headers = {**github_headers(body, SECRET), "X-GitHub-Delivery": delivery}
            code, answer = self.daemon.post("/hooks/site", body, headers)
            self.assertEqual(code, 400, (delivery, answer))
            self.assertTrue(answer["error"].startswith("HOOK_DELIVERY "), answer)
        self.assertFalse(os.path.exists(os.path.join(self.work, "pwned.json")))
        self.assertEqual(os.listdir(os.path.join(self.work, "archive")), [])

    def test_forgeEventNamesOnlyAreTaken(self) -> None:
        body = github_push_body()
        for event in ("--help", "push;x", "../push", "Push Hook"):
            headers = {**github_headers(body, SECRET), "X-GitHub-Event": event}
            code, answer = self.daemon.post("/hooks/site", body, headers)
            self.assertEqual(code, 400, (event, answer))
            self.assertTrue(answer["error"].startswith("HOOK_EVENT "), answer)

    def test_uuidDeliveryIsArchivedUnderItsId(self) -> None:
        body = github_push_body()
        headers = github_headers(body, SECRET)
        code, answer = self.daemon.post("/hooks/site", body, headers)
        self.assertEqual(code, 202, answer)
        job = self.daemon.wait_finished(answer["job"])
        self.assertEqual(job["state"], "succeeded", self.daemon.output("site"))
        archived = os.path.join(self.work, "archive", headers["X-GitHub-Delivery"] + ".json")
        with open(archived, "rb") as f:
            self.assertEqual(f.read(), body)


class GitLabSignedReplayTests(SynchronousTestCase):
    """A signed GitLab delivery sent again within the signature's 300 s window."""

    def test_newIdempotencyKeyDoesNotMakeItNew(self) -> None:
        key = "whsec_" + base64.b64encode(b"signing-key-for-tests-0123456789").decode()
        daemon = LiveDaemon(
            self,
            "[hook:gl]\nforge = gitlab\nsecret = env:VALUES_SECRET\nworkdir = .\ncommand = true\n",
            environ={"VALUES_SECRET": key},
        )
        body = json.dumps(
            {
                "object_kind": "push",
                "ref": "refs/heads/main",
                "before": "0" * 40,
                "after": "1" * 40,
                "project": {"path_with_namespace": "group/site"},
            }
        ).encode()
        signed = {"X-Gitlab-Event": "Push Hook", **gitlab_signed(key, body)}
        first = {**signed, "Idempotency-Key": str(uuid.uuid4())}
        code, answer = daemon.post("/hooks/gl", body, first)
        self.assertEqual(code, 202, answer)
        again = {**signed, "Idempotency-Key": str(uuid.uuid4())}
        code, duplicate = daemon.post("/hooks/gl", body, again)
        self.assertEqual((code, duplicate), (200, {"status": "duplicate", "job": answer["job"]}))
        code, jobs = daemon.request("GET", "/jobs?hook=gl")
        self.assertEqual(len(jobs["jobs"]), 1, jobs)
