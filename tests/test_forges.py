"""
Tests for L{hookdaemon.forges}: each forge authenticates and parses the
deliveries it really sends (tests/fixtures/forges/, see SOURCES.md there).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import ZERO_SHA, Delivery, Incoming
from hookdaemon.filters import ignore_reason
from hookdaemon.forges import FORGES, Forge, PayloadError
from hookdaemon.forges._base import MAX_COUNT, body_format, count
from hookdaemon.forges.generic import forge as generic
from hookdaemon.forges.github import forge as github
from hookdaemon.forges.gitlab import forge as gitlab
from tests.forgefixtures import (
    fixture_body,
    fixture_headers,
    fixture_incoming,
    gitlab_signed,
    json_payloads,
    make_hook,
)

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
DOCS_SECRET = b"It's a Secret to Everybody"
DOCS_BODY = b"Hello, World!"
DOCS_SHA256 = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# github/push.json signed with "topsecret" (drone/go-scm webhook_test.go).
PUSH_SECRET = b"topsecret"
PUSH_SHA256 = "sha256=e3bfe744d4e2e29ed990bde8acfb8255ca51ef65f99657767989fb6349f32957"
PUSH_SHA1 = "sha1=cf93f9ba3c8d3a789e61f91e1e5c6a360d036e98"
BAD_SHA256 = "sha256=" + "0" * 64

GITHUB_DELIVERY = "f2467dea-70d6-11e8-8955-3c83993e0aef"
GITLAB_IDEMPOTENCY_KEY = "a5461c4d-9c7f-4af9-add6-cddebe3c426f"

JSON = {"Content-Type": "application/json"}

# GitLab's signed form: a signing token as GitLab shows it, and a fixed clock.
SIGNING_KEY = bytes(range(32))
SIGNING_SECRET = "whsec_" + base64.b64encode(SIGNING_KEY).decode()
OTHER_SIGNING_SECRET = "whsec_" + base64.b64encode(b"\x01" * 32).decode()
NOW = 1_700_000_000


def github_incoming(body: bytes, headers: dict[str, str], event: str = "push") -> Incoming:
    return Incoming(body=body, headers={**JSON, "X-GitHub-Event": event, **headers})


def fixture_with(forge: str, name: str, **changes: Any) -> bytes:
    """A recorded body with some top-level fields changed (None removes one)."""
    payload = json.loads(fixture_body(forge, name))
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return json.dumps(payload).encode()


def standard_signature(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    """One C{webhook-signature} entry, computed here rather than by the test support module."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def gitlab_signed_incoming(
    body: bytes, headers: dict[str, str], received_at: float = NOW
) -> Incoming:
    return Incoming(
        body,
        {**JSON, "X-Gitlab-Event": "Push Hook", **headers},
        received_at=received_at,
    )


class RegistryTests(SynchronousTestCase):
    def test_forgesByName(self) -> None:
        for name, forge in [("github", github), ("gitlab", gitlab), ("generic", generic)]:
            self.assertIs(FORGES[name], forge)
        for name, forge in FORGES.items():
            self.assertEqual(forge.name, name)

    def test_detect(self) -> None:
        self.assertTrue(github.detect(fixture_incoming("github", "push.json")))
        self.assertFalse(github.detect(fixture_incoming("gitlab", "push.json")))
        self.assertTrue(gitlab.detect(fixture_incoming("gitlab", "push.json")))
        self.assertTrue(gitlab.detect(Incoming(b"{}", {"X-Gitlab-Token": "t"})))
        self.assertTrue(
            gitlab.detect(Incoming(b"{}", {"X-Gitlab-Instance": "https://gitlab.example.com"}))
        )
        self.assertTrue(github.detect(fixture_incoming("github", "create-tag.json")))
        self.assertFalse(gitlab.detect(Incoming(b"{}", JSON)))
        self.assertFalse(gitlab.detect(fixture_incoming("github", "push.json")))
        # generic is what a hook says it is, never what auto guesses.
        self.assertFalse(generic.detect(Incoming(b"")))


class GitHubSignatureTests(SynchronousTestCase):
    def test_docsTestVector(self) -> None:
        incoming = Incoming(DOCS_BODY, {"X-Hub-Signature-256": DOCS_SHA256})
        self.assertTrue(github.authenticate(incoming, DOCS_SECRET))

    def test_docsTestVectorWrongSecret(self) -> None:
        incoming = Incoming(DOCS_BODY, {"X-Hub-Signature-256": DOCS_SHA256})
        self.assertFalse(github.authenticate(incoming, b"It's a secret to everybody"))

    def test_pushFixtureSHA256(self) -> None:
        incoming = fixture_incoming("github", "push.json", {"X-Hub-Signature-256": PUSH_SHA256})
        self.assertTrue(github.authenticate(incoming, PUSH_SECRET))

    def test_pushFixtureBothHeaders(self) -> None:
        incoming = fixture_incoming(
            "github",
            "push.json",
            {"X-Hub-Signature-256": PUSH_SHA256, "X-Hub-Signature": PUSH_SHA1},
        )
        self.assertTrue(github.authenticate(incoming, PUSH_SECRET))

    def test_sha1AcceptedWithoutSHA256Header(self) -> None:
        incoming = fixture_incoming("github", "push.json", {"X-Hub-Signature": PUSH_SHA1})
        self.assertTrue(github.authenticate(incoming, PUSH_SECRET))

    def test_badSHA256IsNotRescuedByGoodSHA1(self) -> None:
        """A forged SHA-256 header next to a valid SHA-1 must not downgrade the check."""
        incoming = fixture_incoming(
            "github",
            "push.json",
            {"X-Hub-Signature-256": BAD_SHA256, "X-Hub-Signature": PUSH_SHA1},
        )
        self.assertFalse(github.authenticate(incoming, PUSH_SECRET))

    def test_emptySHA256HeaderIsNotAbsent(self) -> None:
        incoming = fixture_incoming(
            "github", "push.json", {"X-Hub-Signature-256": "", "X-Hub-Signature": PUSH_SHA1}
        )
        self.assertFalse(github.authenticate(incoming, PUSH_SECRET))

    def test_missingSignatureRefused(self) -> None:
        self.assertFalse(github.authenticate(fixture_incoming("github", "push.json"), PUSH_SECRET))

    def test_wrongPrefixRefused(self) -> None:
        digest = PUSH_SHA256.partition("=")[2]
        for header in [digest, "sha1=" + digest, "sha512=" + digest]:
            incoming = fixture_incoming("github", "push.json", {"X-Hub-Signature-256": header})
            self.assertFalse(github.authenticate(incoming, PUSH_SECRET), header)

    def test_signatureOverOtherBytesRefused(self) -> None:
        body = fixture_body("github", "push.json") + b"\n"
        incoming = fixture_incoming(
            "github", "push.json", {"X-Hub-Signature-256": PUSH_SHA256}, body=body
        )
        self.assertFalse(github.authenticate(incoming, PUSH_SECRET))

    def test_headerNamesAreCaseInsensitive(self) -> None:
        incoming = Incoming(DOCS_BODY, {"x-hub-signature-256": DOCS_SHA256})
        self.assertTrue(github.authenticate(incoming, DOCS_SECRET))


class GitHubParseTests(SynchronousTestCase):
    def test_push(self) -> None:
        self.assertEqual(
            github.parse(fixture_incoming("github", "push.json")),
            Delivery(
                forge="github",
                event="push",
                kind="push",
                delivery_id=GITHUB_DELIVERY,
                ref="refs/heads/master",
                branch="master",
                tag="",
                before="a10867b14bb761a232cd80139fbd4c0d33264240",
                after="199eddf46df50de8d02e99bf1c5fdb4101338224",
                repository="Codertocat/Hello-World",
                clone_url="https://github.com/Codertocat/Hello-World.git",
                pusher="Codertocat",
                commits=1,
            ),
        )

    def test_pushFormEncodedSameAsJSON(self) -> None:
        """A hook with content type "form" sends payload=<json>; it reads the same."""
        form = fixture_incoming("github", "push.form-urlencoded.txt")
        self.assertEqual(form.content_type, "application/x-www-form-urlencoded")
        self.assertEqual(
            fixture_body("github", "push.form-urlencoded.txt"),
            b"payload=" + quote_plus(fixture_body("github", "push.json")).encode(),
        )
        self.assertEqual(github.parse(form), github.parse(fixture_incoming("github", "push.json")))

    def test_pushTagCreate(self) -> None:
        self.assertEqual(
            github.parse(fixture_incoming("github", "push-tag-create.json")),
            Delivery(
                forge="github",
                event="push",
                kind="tag",
                delivery_id=GITHUB_DELIVERY,
                ref="refs/tags/v0.0.1",
                branch="",
                tag="v0.0.1",
                before=ZERO_SHA,
                after="d2b75aa7797ec26b088fa2dd527e9d2c052fcedd",
                repository="bradrydzewski/drone-test-go",
                clone_url="https://github.com/bradrydzewski/drone-test-go.git",
                pusher="bradrydzewski",
                commits=0,
            ),
        )

    def test_pushBranchCreate(self) -> None:
        """A new branch is a push (before is zeros, after is not)."""
        self.assertEqual(
            github.parse(fixture_incoming("github", "push-branch-create.json")),
            Delivery(
                forge="github",
                event="push",
                kind="push",
                delivery_id=GITHUB_DELIVERY,
                ref="refs/heads/feature-branch",
                branch="feature-branch",
                tag="",
                before=ZERO_SHA,
                after="d2b75aa7797ec26b088fa2dd527e9d2c052fcedd",
                repository="bradrydzewski/drone-test-go",
                clone_url="https://github.com/bradrydzewski/drone-test-go.git",
                pusher="bradrydzewski",
                commits=0,
            ),
        )

    def test_branchDeletion(self) -> None:
        body = (
            b'{"ref": "refs/heads/old", "before": "'
            + b"1" * 40
            + b'", "after": "'
            + ZERO_SHA.encode()
            + b'"}'
        )
        delivery = github.parse(github_incoming(body, {}))
        self.assertEqual(
            (delivery.kind, delivery.branch, delivery.after), ("delete", "old", ZERO_SHA)
        )

    def test_ping(self) -> None:
        delivery = github.parse(fixture_incoming("github", "ping.octokit.json"))
        self.assertTrue(delivery.is_ping)
        self.assertEqual(
            delivery,
            Delivery(
                forge="github",
                event="ping",
                kind="ping",
                delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
                repository="Octocoders/Hello-World",
                clone_url="https://github.com/Octocoders/Hello-World.git",
                pusher="Codertocat",
            ),
        )

    def test_pullRequestOpened(self) -> None:
        """
        A pull request is named by its head ref; its branch is the one it
        targets, before is that branch's commit and after the head's.
        """
        delivery = github.parse(fixture_incoming("github", "pull_request-opened.octokit.json"))
        self.assertEqual(
            delivery,
            Delivery(
                forge="github",
                event="pull_request",
                kind="pull_request",
                delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
                ref="refs/pull/2/head",
                branch="master",
                tag="",
                before="f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
                after="ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                repository="Codertocat/Hello-World",
                clone_url="https://github.com/Codertocat/Hello-World.git",
                pusher="Codertocat",
                commits=1,
            ),
        )
        self.assertFalse(delivery.is_ping)
        self.assertEqual(delivery.names(), {"pull_request"})

    def test_pullRequestWithoutNumber(self) -> None:
        incoming = github_incoming(b'{"action": "opened", "pull_request": {}}', {}, "pull_request")
        error = self.assertRaises(PayloadError, github.parse, incoming)
        self.assertEqual(str(error), "pull_request payload has no pull_request.number")

    def test_createTag(self) -> None:
        """create names the ref by its short name and ref_type; the Delivery has the full ref."""
        delivery = github.parse(fixture_incoming("github", "create-tag.json"))
        self.assertEqual(
            delivery,
            Delivery(
                forge="github",
                event="create",
                kind="create",
                delivery_id=GITHUB_DELIVERY,
                ref="refs/tags/v0.0.1",
                branch="",
                tag="v0.0.1",
                before="",
                after="",
                repository="bradrydzewski/drone-test-go",
                clone_url="https://github.com/bradrydzewski/drone-test-go.git",
                pusher="bradrydzewski",
                commits=0,
            ),
        )
        self.assertEqual(delivery.names(), {"create"})

    def test_createBranch(self) -> None:
        body = fixture_with("github", "create-tag.json", ref="feature/login", ref_type="branch")
        delivery = github.parse(github_incoming(body, {}, "create"))
        self.assertEqual(
            (delivery.kind, delivery.ref, delivery.branch, delivery.tag),
            ("create", "refs/heads/feature/login", "feature/login", ""),
        )

    def test_deleteBranch(self) -> None:
        """A delete event: what GitHub sends when a branch is deleted (no master_branch)."""
        body = fixture_with(
            "github",
            "create-tag.json",
            ref="old-feature",
            ref_type="branch",
            master_branch=None,
            description=None,
        )
        delivery = github.parse(
            github_incoming(body, {"X-GitHub-Delivery": GITHUB_DELIVERY}, "delete")
        )
        self.assertEqual(
            delivery,
            Delivery(
                forge="github",
                event="delete",
                kind="delete",
                delivery_id=GITHUB_DELIVERY,
                ref="refs/heads/old-feature",
                branch="old-feature",
                tag="",
                repository="bradrydzewski/drone-test-go",
                clone_url="https://github.com/bradrydzewski/drone-test-go.git",
                pusher="bradrydzewski",
            ),
        )
        self.assertEqual(delivery.names(), {"delete"})

    def test_deleteTag(self) -> None:
        body = fixture_with("github", "create-tag.json", master_branch=None)
        delivery = github.parse(github_incoming(body, {}, "delete"))
        self.assertEqual(
            (delivery.kind, delivery.ref, delivery.branch, delivery.tag),
            ("delete", "refs/tags/v0.0.1", "", "v0.0.1"),
        )

    def test_createWithShaUsesIt(self) -> None:
        """GitHub sends no commit id with create; a sender that adds "sha" fills after."""
        body = fixture_with(
            "github", "create-tag.json", sha="d2b75aa7797ec26b088fa2dd527e9d2c052fcedd"
        )
        delivery = github.parse(github_incoming(body, {}, "create"))
        self.assertEqual(delivery.after, "d2b75aa7797ec26b088fa2dd527e9d2c052fcedd")

    def test_createWithoutRef(self) -> None:
        body = fixture_with("github", "create-tag.json", ref=None)
        error = self.assertRaises(PayloadError, github.parse, github_incoming(body, {}, "create"))
        self.assertEqual(str(error), "create payload has no ref")

    def test_createOfRepository(self) -> None:
        """The old ref_type "repository" names no ref: a create event without one."""
        body = fixture_with("github", "create-tag.json", ref=None, ref_type="repository")
        delivery = github.parse(github_incoming(body, {}, "create"))
        self.assertEqual((delivery.kind, delivery.ref, delivery.tag), ("create", "", ""))

    def test_otherEventKeepsItsName(self) -> None:
        incoming = github_incoming(b'{"action": "opened", "sender": {"login": "a"}}', {}, "issues")
        self.assertEqual(
            github.parse(incoming),
            Delivery(forge="github", event="issues", kind="issues", pusher="a"),
        )

    def test_missingEventHeader(self) -> None:
        incoming = Incoming(fixture_body("github", "push.json"), JSON)
        error = self.assertRaises(PayloadError, github.parse, incoming)
        self.assertEqual(str(error), "missing X-GitHub-Event header")

    def test_pushWithoutRef(self) -> None:
        error = self.assertRaises(
            PayloadError, github.parse, github_incoming(b'{"after": "x"}', {})
        )
        self.assertEqual(str(error), "push payload has no ref")

    def test_badJSON(self) -> None:
        error = self.assertRaises(PayloadError, github.parse, github_incoming(b'{"ref": ', {}))
        self.assertTrue(str(error).startswith("body is not valid JSON: "), str(error))

    def test_notUTF8(self) -> None:
        error = self.assertRaises(PayloadError, github.parse, github_incoming(b"\xff\xfe{", {}))
        self.assertTrue(str(error).startswith("body is not valid JSON: "), str(error))

    def test_nonObjectBody(self) -> None:
        for body in [b"[]", b'"push"', b"42", b"null"]:
            error = self.assertRaises(PayloadError, github.parse, github_incoming(body, {}))
            self.assertEqual(str(error), "body is JSON but not an object")

    def test_deeplyNestedBody(self) -> None:
        error = self.assertRaises(
            PayloadError, github.parse, github_incoming(b"[" * 100000 + b"]" * 100000, {})
        )
        self.assertEqual(str(error), "body is nested too deeply")

    def test_formWithoutPayloadField(self) -> None:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        error = self.assertRaises(PayloadError, github.parse, github_incoming(b"other=1", form))
        self.assertEqual(str(error), "form body has no payload field")

    def test_formNotURLEncoded(self) -> None:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body in [b"just text", b"payload=%7B&&", b"payload=\xff"]:
            error = self.assertRaises(PayloadError, github.parse, github_incoming(body, form))
            self.assertEqual(str(error), "form body is not valid URL encoding")

    def test_contentTypeParametersIgnored(self) -> None:
        incoming = fixture_incoming(
            "github", "push.json", {"Content-Type": "Application/JSON; charset=utf-8"}
        )
        self.assertEqual(github.parse(incoming).after, "199eddf46df50de8d02e99bf1c5fdb4101338224")


class GitLabTests(SynchronousTestCase):
    def test_tokenHeader(self) -> None:
        incoming = fixture_incoming("gitlab", "push.json", {"X-Gitlab-Token": "s3cret"})
        self.assertTrue(gitlab.authenticate(incoming, b"s3cret"))
        self.assertFalse(gitlab.authenticate(incoming, b"s3cret2"))
        self.assertFalse(gitlab.authenticate(incoming, b"s3cre"))

    def test_tokenQueryParameter(self) -> None:
        """Old GitLab setups put the token in the hook URL."""
        incoming = fixture_incoming("gitlab", "push.json", query={"token": "s3cret"})
        self.assertTrue(gitlab.authenticate(incoming, b"s3cret"))
        self.assertFalse(gitlab.authenticate(incoming, b"other"))

    def test_wrongHeaderNotRescuedByQuery(self) -> None:
        incoming = fixture_incoming(
            "gitlab", "push.json", {"X-Gitlab-Token": "wrong"}, query={"token": "s3cret"}
        )
        self.assertFalse(gitlab.authenticate(incoming, b"s3cret"))

    def test_missingTokenRefused(self) -> None:
        self.assertFalse(gitlab.authenticate(fixture_incoming("gitlab", "push.json"), b"s3cret"))

    def test_push(self) -> None:
        self.assertEqual(
            gitlab.parse(fixture_incoming("gitlab", "push.json")),
            Delivery(
                forge="gitlab",
                event="Push Hook",
                kind="push",
                delivery_id=GITLAB_IDEMPOTENCY_KEY,
                ref="refs/heads/master",
                branch="master",
                tag="",
                before="9217710ce8c7e1eae7a5d1c45f6e43e1c769f866",
                after="2adc9465c4edfc33834e173fe89436a7cb899a1d",
                repository="gitlab-org/hello-world",
                clone_url="https://gitlab.com/gitlab-org/hello-world.git",
                pusher="sytses",
                commits=1,
            ),
        )

    def test_tagPushCreate(self) -> None:
        self.assertEqual(
            gitlab.parse(fixture_incoming("gitlab", "tag_push-create.json")),
            Delivery(
                forge="gitlab",
                event="Tag Push Hook",
                kind="tag",
                delivery_id=GITLAB_IDEMPOTENCY_KEY,
                ref="refs/tags/v1.0.0",
                branch="",
                tag="v1.0.0",
                before=ZERO_SHA,
                after="2adc9465c4edfc33834e173fe89436a7cb899a1d",
                repository="gitlab-org/hello-world",
                clone_url="https://gitlab.com/gitlab-org/hello-world.git",
                pusher="sytses",
                commits=1,
            ),
        )

    def test_deliveryIdFallsBackToEventUUID(self) -> None:
        headers = fixture_headers("gitlab", "push.json")
        del headers["Idempotency-Key"]
        incoming = Incoming(fixture_body("gitlab", "push.json"), headers)
        self.assertEqual(
            gitlab.parse(incoming).delivery_id, "9cebe914-4827-408f-b014-cfa23a47a35f"
        )

    def test_unsignedWebhookIdIsNotTheDeliveryId(self) -> None:
        """Without the signed form, webhook-id is one more unsigned header: not read."""
        headers = fixture_headers("gitlab", "push.json")
        del headers["Idempotency-Key"], headers["X-Gitlab-Event-UUID"]
        incoming = Incoming(fixture_body("gitlab", "push.json"), {**headers, "webhook-id": "m-1"})
        self.assertEqual(gitlab.parse(incoming).delivery_id, "")

    def test_objectKindWithoutEventHeader(self) -> None:
        """Old GitLab sends no X-Gitlab-Event; object_kind says what it is."""
        delivery = gitlab.parse(Incoming(fixture_body("gitlab", "push.json"), JSON))
        self.assertEqual(
            (delivery.event, delivery.kind, delivery.branch), ("push", "push", "master")
        )

    def test_mergeRequestOpen(self) -> None:
        """A merge request is named by its head ref; its branch is the target branch."""
        delivery = gitlab.parse(fixture_incoming("gitlab", "merge_request-open.gscm.json"))
        self.assertEqual(
            delivery,
            Delivery(
                forge="gitlab",
                event="Merge Request Hook",
                kind="merge_request",
                delivery_id=GITLAB_IDEMPOTENCY_KEY,
                ref="refs/merge-requests/1/head",
                branch="master",
                tag="",
                before="",
                after="c4c79227ed610f1151f05bbc5be33b4f340d39c8",
                repository="gitlab-org/hello-world",
                clone_url="https://gitlab.com/gitlab-org/hello-world.git",
                pusher="sytses",
                commits=0,
            ),
        )
        self.assertEqual(delivery.names(), {"merge_request", "Merge Request Hook"})

    def test_mergeRequestWithoutEventHeader(self) -> None:
        body = fixture_body("gitlab", "merge_request-open.gscm.json")
        delivery = gitlab.parse(Incoming(body, JSON))
        self.assertEqual(
            (delivery.event, delivery.kind, delivery.ref, delivery.branch),
            ("merge_request", "merge_request", "refs/merge-requests/1/head", "master"),
        )

    def test_mergeRequestWithoutIid(self) -> None:
        body = b'{"object_kind": "merge_request", "object_attributes": {"target_branch": "x"}}'
        incoming = Incoming(body, {**JSON, "X-Gitlab-Event": "Merge Request Hook"})
        error = self.assertRaises(PayloadError, gitlab.parse, incoming)
        self.assertEqual(str(error), "merge_request payload has no object_attributes.iid")

    def test_otherEventsAreNamedByObjectKind(self) -> None:
        """X-Gitlab-Event names have spaces, so object_kind is what C{events} lists."""
        body = (
            b'{"object_kind": "pipeline", "object_attributes": {"ref": "main"},'
            b' "user": {"username": "root"},'
            b' "project": {"path_with_namespace": "group/site"}}'
        )
        incoming = Incoming(body, {**JSON, "X-Gitlab-Event": "Pipeline Hook"})
        self.assertEqual(
            gitlab.parse(incoming),
            Delivery(
                forge="gitlab",
                event="Pipeline Hook",
                kind="pipeline",
                repository="group/site",
                pusher="root",
            ),
        )

    def test_gitlab8Push(self) -> None:
        """
        GitLab 8.x: no X-Gitlab-Event and no project, only repository; the
        full name comes from its SSH URL. (Body as in GitLab 8.x's web_hooks.md.)
        """
        body = b"""{
  "object_kind": "push",
  "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
  "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "ref": "refs/heads/master",
  "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "user_id": 4,
  "user_name": "John Smith",
  "user_email": "john@example.com",
  "user_avatar": "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=8",
  "project_id": 15,
  "repository": {
    "name": "Diaspora",
    "url": "git@example.com:mike/diaspora.git",
    "description": "",
    "homepage": "http://example.com/mike/diaspora",
    "git_http_url": "http://example.com/mike/diaspora.git",
    "git_ssh_url": "git@example.com:mike/diaspora.git",
    "visibility_level": 0
  },
  "commits": [
    {
      "id": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
      "message": "Update Catalan translation to e38cb41.",
      "timestamp": "2011-12-12T14:27:31+02:00",
      "url": "http://example.com/mike/diaspora/commit/b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
      "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"}
    },
    {
      "id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "message": "fixed readme",
      "timestamp": "2012-01-03T23:36:29+02:00",
      "url": "http://example.com/mike/diaspora/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "author": {"name": "GitLab dev user", "email": "gitlabdev@dv6700.(none)"}
    }
  ],
  "total_commits_count": 4
}"""
        incoming = Incoming(body, JSON, query={"token": "s3cret"})
        self.assertFalse(gitlab.detect(incoming))
        self.assertTrue(gitlab.authenticate(incoming, b"s3cret"))
        self.assertEqual(
            gitlab.parse(incoming),
            Delivery(
                forge="gitlab",
                event="push",
                kind="push",
                delivery_id="",
                ref="refs/heads/master",
                branch="master",
                tag="",
                before="95790bf891e76fee5e1747ab589903a6a1f80f22",
                after="da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
                repository="mike/diaspora",
                clone_url="http://example.com/mike/diaspora.git",
                pusher="John Smith",
                commits=4,
            ),
        )

    def test_gitlab7PushHasNoObjectKind(self) -> None:
        """GitLab 7.x: no object_kind either; a ref and an after make it a push."""
        body = json.dumps(
            {
                "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
                "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
                "ref": "refs/tags/v1.2",
                "user_id": 4,
                "user_name": "John Smith",
                "project_id": 15,
                "repository": {
                    "name": "Diaspora",
                    "url": "ssh://git@gitlab.example.com:2222/mike/diaspora.git",
                    "description": "",
                    "homepage": "https://gitlab.example.com/mike/diaspora",
                },
                "commits": [],
                "total_commits_count": 0,
            }
        ).encode()
        delivery = gitlab.parse(Incoming(body, JSON))
        self.assertEqual(
            (delivery.event, delivery.kind, delivery.tag, delivery.repository, delivery.clone_url),
            (
                "push",
                "tag",
                "v1.2",
                "mike/diaspora",
                "ssh://git@gitlab.example.com:2222/mike/diaspora.git",
            ),
        )

    def test_oldRepositoryFullNameFallbacks(self) -> None:
        """Without an SSH URL the homepage's path names the project; without that, its name."""
        cases = [
            ({"name": "d", "homepage": "https://example.com/mike/diaspora/"}, "mike/diaspora"),
            ({"name": "d", "url": "https://example.com/mike/x.git", "homepage": ""}, "d"),
            ({"name": "d", "homepage": "http://[broken"}, "d"),
            ({"name": "d"}, "d"),
        ]
        for repository, full_name in cases:
            body = json.dumps(
                {"object_kind": "push", "ref": "refs/heads/m", "repository": repository}
            ).encode()
            self.assertEqual(gitlab.parse(Incoming(body, JSON)).repository, full_name, repository)

    def test_branchDeletion(self) -> None:
        body = (
            b'{"object_kind": "push", "ref": "refs/heads/old", "after": "'
            + ZERO_SHA.encode()
            + b'", "checkout_sha": null}'
        )
        delivery = gitlab.parse(Incoming(body, {**JSON, "X-Gitlab-Event": "Push Hook"}))
        self.assertEqual(
            (delivery.kind, delivery.branch, delivery.after), ("delete", "old", ZERO_SHA)
        )

    def test_neitherEventNorObjectKind(self) -> None:
        error = self.assertRaises(PayloadError, gitlab.parse, Incoming(b"{}", JSON))
        self.assertEqual(str(error), "missing X-Gitlab-Event header and object_kind")

    def test_pushWithoutRef(self) -> None:
        incoming = Incoming(b'{"object_kind": "push"}', JSON)
        error = self.assertRaises(PayloadError, gitlab.parse, incoming)
        self.assertEqual(str(error), "push payload has no ref")

    def test_badJSONAndNonObject(self) -> None:
        headers = {**JSON, "X-Gitlab-Event": "Push Hook"}
        error = self.assertRaises(PayloadError, gitlab.parse, Incoming(b"not json", headers))
        self.assertTrue(str(error).startswith("body is not valid JSON: "))
        error = self.assertRaises(PayloadError, gitlab.parse, Incoming(b"[1]", headers))
        self.assertEqual(str(error), "body is JSON but not an object")


class GitLabSignedFormTests(SynchronousTestCase):
    """
    GitLab's signed form (webhook-id, webhook-timestamp, webhook-signature),
    checked instead of the token whenever a signature is sent.
    """

    body = fixture_body("gitlab", "push.json")

    def test_accepted(self) -> None:
        incoming = gitlab_signed_incoming(self.body, gitlab_signed(SIGNING_SECRET, self.body, NOW))
        self.assertTrue(gitlab.authenticate(incoming, SIGNING_SECRET.encode()))

    def test_acceptedWithRecordedHeaders(self) -> None:
        headers = {
            **fixture_headers("gitlab", "push.json"),
            **gitlab_signed(SIGNING_SECRET, self.body, NOW),
        }
        incoming = Incoming(self.body, headers, received_at=NOW)
        self.assertTrue(gitlab.authenticate(incoming, SIGNING_SECRET.encode()))
        # The signed id, not the unsigned Idempotency-Key beside it.
        self.assertEqual(gitlab.parse(incoming).delivery_id, headers["webhook-id"])
        self.assertNotEqual(headers["webhook-id"], GITLAB_IDEMPOTENCY_KEY)

    def test_webhookIdIsTheLastDeliveryId(self) -> None:
        headers = gitlab_signed(SIGNING_SECRET, self.body, NOW)
        incoming = gitlab_signed_incoming(self.body, headers)
        self.assertEqual(gitlab.parse(incoming).delivery_id, headers["webhook-id"])

    def test_acceptedAtTheEdgesOfTolerance(self) -> None:
        for skew in [-300, 300]:
            headers = gitlab_signed(SIGNING_SECRET, self.body, NOW + skew)
            incoming = gitlab_signed_incoming(self.body, headers, received_at=NOW)
            self.assertTrue(gitlab.authenticate(incoming, SIGNING_SECRET.encode()), skew)

    def test_timestampTooFarAwayRefused(self) -> None:
        """A recorded delivery cannot be replayed later, nor one signed ahead used early."""
        for skew in [-301, 301]:
            headers = gitlab_signed(SIGNING_SECRET, self.body, NOW + skew)
            incoming = gitlab_signed_incoming(self.body, headers, received_at=NOW)
            self.assertFalse(gitlab.authenticate(incoming, SIGNING_SECRET.encode()), skew)

    def test_wrongKeyRefused(self) -> None:
        headers = gitlab_signed(OTHER_SIGNING_SECRET, self.body, NOW)
        incoming = gitlab_signed_incoming(self.body, headers)
        self.assertFalse(gitlab.authenticate(incoming, SIGNING_SECRET.encode()))

    def test_alteredBodyRefused(self) -> None:
        headers = gitlab_signed(SIGNING_SECRET, self.body, NOW)
        incoming = gitlab_signed_incoming(self.body + b"\n", headers)
        self.assertFalse(gitlab.authenticate(incoming, SIGNING_SECRET.encode()))

    def test_otherWebhookIdRefused(self) -> None:
        headers = gitlab_signed(SIGNING_SECRET, self.body, NOW)
        other = gitlab_signed(SIGNING_SECRET, self.body, NOW)["webhook-id"]
        incoming = gitlab_signed_incoming(self.body, {**headers, "webhook-id": other})
        self.assertFalse(gitlab.authenticate(incoming, SIGNING_SECRET.encode()))

    def test_nonIntegerTimestampRefused(self) -> None:
        """Each signature here is right for its timestamp: only the timestamp is wrong."""
        for timestamp in [
            f"{NOW}.5",
            "",
            "soon",
            f" {NOW}",
            f"{NOW:_}",
            f"-{NOW}",
            "\N{ARABIC-INDIC DIGIT ONE}" * 10,
        ]:
            signature = standard_signature(SIGNING_KEY, "msg_1", timestamp, self.body)
            headers = {
                "webhook-id": "msg_1",
                "webhook-timestamp": timestamp,
                "webhook-signature": signature,
            }
            incoming = gitlab_signed_incoming(self.body, headers)
            self.assertFalse(gitlab.authenticate(incoming, SIGNING_SECRET.encode()), timestamp)

    def test_missingIdOrTimestampRefused(self) -> None:
        headers = gitlab_signed(SIGNING_SECRET, self.body, NOW)
        for name in ["webhook-id", "webhook-timestamp"]:
            rest = {key: value for key, value in headers.items() if key != name}
            incoming = gitlab_signed_incoming(self.body, rest)
            self.assertFalse(gitlab.authenticate(incoming, SIGNING_SECRET.encode()), name)

    def test_anyMatchingEntryAccepted(self) -> None:
        """The header may list several signatures (a key being rotated); one must match."""
        good = gitlab_signed(SIGNING_SECRET, self.body, NOW)
        other = standard_signature(b"\x01" * 32, good["webhook-id"], str(NOW), self.body)
        for listed in [
            f"{other} {good['webhook-signature']}",
            f"{good['webhook-signature']} {other}",
        ]:
            incoming = gitlab_signed_incoming(self.body, {**good, "webhook-signature": listed})
            self.assertTrue(gitlab.authenticate(incoming, SIGNING_SECRET.encode()), listed)

    def test_otherVersionRefused(self) -> None:
        good = gitlab_signed(SIGNING_SECRET, self.body, NOW)
        for changed in ["v2," + good["webhook-signature"][3:], good["webhook-signature"][3:], ""]:
            incoming = gitlab_signed_incoming(self.body, {**good, "webhook-signature": changed})
            self.assertFalse(gitlab.authenticate(incoming, SIGNING_SECRET.encode()), changed)

    def test_signatureIsCheckedInsteadOfToken(self) -> None:
        """A good token does not rescue a bad signature sent beside it."""
        headers = gitlab_signed(OTHER_SIGNING_SECRET, self.body, NOW)
        incoming = gitlab_signed_incoming(self.body, {**headers, "X-Gitlab-Token": SIGNING_SECRET})
        self.assertFalse(gitlab.authenticate(incoming, SIGNING_SECRET.encode()))

    def test_secretWithoutPrefixIsTheKey(self) -> None:
        signature = standard_signature(b"plain secret", "msg_1", str(NOW), self.body)
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(NOW),
            "webhook-signature": signature,
        }
        incoming = gitlab_signed_incoming(self.body, headers)
        self.assertTrue(gitlab.authenticate(incoming, b"plain secret"))
        self.assertFalse(gitlab.authenticate(incoming, b"whsec_plain secret"))

    def test_keyWithoutPaddingSigns(self) -> None:
        """A 32-byte key's base64 ends in '='; a paste that lost it reads as the same key."""
        self.assertTrue(SIGNING_SECRET.endswith("="))
        headers = gitlab_signed(SIGNING_SECRET, self.body, NOW)
        incoming = gitlab_signed_incoming(self.body, headers)
        self.assertTrue(gitlab.authenticate(incoming, SIGNING_SECRET.rstrip("=").encode()))

    def test_tokenStillWorksWithoutSignature(self) -> None:
        incoming = gitlab_signed_incoming(self.body, {"X-Gitlab-Token": SIGNING_SECRET})
        self.assertTrue(gitlab.authenticate(incoming, SIGNING_SECRET.encode()))


class EventSelectionTests(SynchronousTestCase):
    """The events GitHub and GitLab send beyond pushes are chosen by name and filtered alike."""

    def test_createIsSelectedByName(self) -> None:
        create = github.parse(fixture_incoming("github", "create-tag.json"))
        self.assertEqual(
            ignore_reason(make_hook(), create), "event create is not in events (push)"
        )
        self.assertIsNone(ignore_reason(make_hook("events = create"), create))
        self.assertEqual(
            ignore_reason(make_hook("events = create\ntags = v1.*"), create),
            "tag v0.0.1 does not match tags (v1.*)",
        )

    def test_deleteIsSelectedByName(self) -> None:
        body = fixture_with("github", "create-tag.json", ref="old", ref_type="branch")
        delete = github.parse(github_incoming(body, {}, "delete"))
        self.assertEqual(
            ignore_reason(make_hook("events = push create"), delete),
            "deletes branch old; add delete to events to run on deletions",
        )
        self.assertIsNone(ignore_reason(make_hook("events = delete\nbranches = o*"), delete))
        self.assertEqual(
            ignore_reason(make_hook("events = delete\nbranches = main"), delete),
            "branch old does not match branches (main)",
        )

    def test_pullRequestBranchIsItsTarget(self) -> None:
        pull_request = github.parse(fixture_incoming("github", "pull_request-opened.octokit.json"))
        self.assertIsNone(
            ignore_reason(make_hook("events = pull_request\nbranches = master"), pull_request)
        )
        self.assertEqual(
            ignore_reason(make_hook("events = pull_request\nbranches = main"), pull_request),
            "branch master does not match branches (main)",
        )

    def test_mergeRequestBranchIsItsTarget(self) -> None:
        merge_request = gitlab.parse(fixture_incoming("gitlab", "merge_request-open.gscm.json"))
        self.assertIsNone(
            ignore_reason(make_hook("events = merge_request\nbranches = master"), merge_request)
        )
        self.assertEqual(
            ignore_reason(make_hook("events = merge_request\nbranches = main"), merge_request),
            "branch master does not match branches (main)",
        )

    def test_gitlabOtherEventByObjectKind(self) -> None:
        body = b'{"object_kind": "pipeline", "project": {"path_with_namespace": "g/s"}}'
        pipeline = gitlab.parse(Incoming(body, {**JSON, "X-Gitlab-Event": "Pipeline Hook"}))
        self.assertIsNone(ignore_reason(make_hook("events = pipeline"), pipeline))
        self.assertEqual(
            ignore_reason(make_hook(), pipeline), "event Pipeline Hook is not in events (push)"
        )


class GenericTests(SynchronousTestCase):
    def test_bearerToken(self) -> None:
        incoming = Incoming(b"", {"Authorization": "Bearer s3cret"})
        self.assertTrue(generic.authenticate(incoming, b"s3cret"))
        self.assertFalse(generic.authenticate(incoming, b"other"))

    def test_bearerSchemeIsCaseInsensitive(self) -> None:
        self.assertTrue(
            generic.authenticate(Incoming(b"", {"Authorization": "bearer s3cret"}), b"s3cret")
        )

    def test_queryToken(self) -> None:
        incoming = Incoming(b"", query={"token": "s3cret"})
        self.assertTrue(generic.authenticate(incoming, b"s3cret"))
        self.assertFalse(generic.authenticate(incoming, b"other"))

    def test_otherAuthorizationSchemeFallsBackToQuery(self) -> None:
        incoming = Incoming(b"", {"Authorization": "Basic czNjcmV0"}, query={"token": "s3cret"})
        self.assertTrue(generic.authenticate(incoming, b"s3cret"))

    def test_missingTokenRefused(self) -> None:
        self.assertFalse(generic.authenticate(Incoming(b""), b"s3cret"))
        self.assertFalse(
            generic.authenticate(Incoming(b"", {"Authorization": "Basic x"}), b"s3cret")
        )

    def test_emptyBody(self) -> None:
        for body in [b"", b"  \n"]:
            self.assertEqual(
                generic.parse(Incoming(body)),
                Delivery(forge="generic", event="push", kind="push"),
            )

    def test_requestIdIsTheDeliveryId(self) -> None:
        self.assertEqual(generic.parse(Incoming(b"", {"X-Request-Id": "r-1"})).delivery_id, "r-1")

    def test_jsonBodyWithRef(self) -> None:
        body = (
            b'{"ref": "refs/heads/main", "before": "'
            + b"1" * 40
            + b'", "after": "'
            + b"2" * 40
            + b'", "repository": "example/site", "clone_url": "https://git.example/site.git",'
            b' "pusher": "ci"}'
        )
        self.assertEqual(
            generic.parse(Incoming(body, JSON)),
            Delivery(
                forge="generic",
                event="push",
                kind="push",
                ref="refs/heads/main",
                branch="main",
                before="1" * 40,
                after="2" * 40,
                repository="example/site",
                clone_url="https://git.example/site.git",
                pusher="ci",
            ),
        )

    def test_githubShapedBody(self) -> None:
        """A GitHub payload replayed by a script reads as a generic push."""
        delivery = generic.parse(Incoming(fixture_body("github", "push.json"), JSON))
        self.assertEqual(
            (delivery.ref, delivery.branch, delivery.after, delivery.repository),
            (
                "refs/heads/master",
                "master",
                "199eddf46df50de8d02e99bf1c5fdb4101338224",
                "Codertocat/Hello-World",
            ),
        )

    def test_tagAndDeletion(self) -> None:
        tag = generic.parse(Incoming(b'{"ref": "refs/tags/v2"}', JSON))
        self.assertEqual((tag.kind, tag.tag), ("tag", "v2"))
        gone = generic.parse(
            Incoming(b'{"ref": "refs/heads/x", "after": "' + ZERO_SHA.encode() + b'"}', JSON)
        )
        self.assertEqual((gone.kind, gone.branch), ("delete", "x"))

    def test_badJSON(self) -> None:
        error = self.assertRaises(PayloadError, generic.parse, Incoming(b"ref=main", JSON))
        self.assertTrue(str(error).startswith("body is not valid JSON: "))

    def test_nonObjectBody(self) -> None:
        for body in [b"[]", b'"refs/heads/main"', b"1"]:
            error = self.assertRaises(PayloadError, generic.parse, Incoming(body, JSON))
            self.assertEqual(str(error), "body is JSON but not an object")


JSON_VALUES = json_payloads(
    [
        "ref",
        "before",
        "after",
        "repository",
        "full_name",
        "object_kind",
        "project",
        "pusher",
        "name",
        "commits",
        "checkout_sha",
        "ref_type",
        "sha",
        "number",
        "pull_request",
        "base",
        "head",
        "object_attributes",
        "iid",
        "target_branch",
        "last_commit",
        "id",
        "user",
        "username",
        "homepage",
        "url",
        "git_ssh_url",
        "event_name",
        "x",
    ]
)


class PayloadHelperTests(SynchronousTestCase):
    def test_countIsANumberOfThings(self) -> None:
        """Never negative, never more than the journal's INTEGER column holds."""
        for value, expected in [
            ([1, 2], 2),
            (7, 7),
            (MAX_COUNT, MAX_COUNT),
            (MAX_COUNT + 1, 0),
            (10**4000, 0),
            (-1, 0),
            (True, 0),
            (2.0, 0),
            ("3", 0),
        ]:
            self.assertEqual(count({"n": value}, "n"), expected, value)

    def test_emptyBodyNamed(self) -> None:
        for body in [b"", b" \n"]:
            error = self.assertRaises(PayloadError, github.parse, github_incoming(body, {}))
            self.assertEqual(str(error), "body is empty; the forge's JSON was expected")

    def test_bodyFormat(self) -> None:
        form = "application/x-www-form-urlencoded"
        for content_type, body, expected in [
            ("", b"{}", "json"),
            ("application/json", b"x", "json"),
            ("application/merge-patch+json", b"{}", "json"),
            (form, b"payload=%7B%7D", "form"),
            (form, b"", "form"),
            (form, b" [1]", "json"),
            ("text/plain", b"", "json"),
            ("text/plain", b"{}", None),
        ]:
            headers = {"Content-Type": content_type} if content_type else {}
            self.assertEqual(body_format(Incoming(body, headers)), expected, content_type)


class AnyPayloadTests(SynchronousTestCase):
    """Whatever JSON a caller sends, a forge answers with a Delivery or a PayloadError."""

    @settings(max_examples=300, deadline=None)
    @given(
        payload=JSON_VALUES,
        forge=st.sampled_from([github, gitlab, generic]),
        github_event=st.sampled_from(["push", "create", "delete", "pull_request", "issues"]),
        gitlab_event=st.sampled_from(
            ["Push Hook", "Tag Push Hook", "Merge Request Hook", "Pipeline Hook", None]
        ),
    )
    def test_parseNeverCrashes(
        self, payload: object, forge: Forge, github_event: str, gitlab_event: str | None
    ) -> None:
        body = json.dumps(payload).encode()
        headers = {**JSON, "X-GitHub-Event": github_event}
        if gitlab_event is not None:
            headers["X-Gitlab-Event"] = gitlab_event
        try:
            delivery = forge.parse(Incoming(body, headers))
        except PayloadError:
            return
        self.assertIsInstance(delivery, Delivery)
        for value in (delivery.ref, delivery.branch, delivery.after, delivery.repository):
            self.assertIsInstance(value, str)
