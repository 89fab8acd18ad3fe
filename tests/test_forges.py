"""
Tests for L{hookdaemon.forges}: each forge authenticates and parses the
deliveries it really sends (tests/fixtures/forges/, see SOURCES.md there).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import ZERO_SHA, Delivery, Incoming
from hookdaemon.forges import FORGES, Forge, PayloadError
from hookdaemon.forges.generic import forge as generic
from hookdaemon.forges.github import forge as github
from hookdaemon.forges.gitlab import forge as gitlab
from tests.forgefixtures import fixture_body, fixture_headers, fixture_incoming

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


def github_incoming(body: bytes, headers: dict[str, str], event: str = "push") -> Incoming:
    return Incoming(body=body, headers={**JSON, "X-GitHub-Event": event, **headers})


class RegistryTests(SynchronousTestCase):
    def test_forgesByName(self) -> None:
        self.assertEqual(FORGES, {"github": github, "gitlab": gitlab, "generic": generic})
        for name, forge in FORGES.items():
            self.assertEqual(forge.name, name)

    def test_detect(self) -> None:
        self.assertTrue(github.detect(fixture_incoming("github", "push.json")))
        self.assertFalse(github.detect(fixture_incoming("gitlab", "push.json")))
        self.assertTrue(gitlab.detect(fixture_incoming("gitlab", "push.json")))
        self.assertTrue(gitlab.detect(Incoming(b"{}", {"X-Gitlab-Token": "t"})))
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

    @settings(max_examples=200, deadline=None)
    @given(secret=st.binary(min_size=1, max_size=64), body=st.binary(max_size=512))
    def test_anyBodySignedRightIsAccepted(self, secret: bytes, body: bytes) -> None:
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        self.assertTrue(
            github.authenticate(Incoming(body, {"X-Hub-Signature-256": signature}), secret)
        )

    @settings(max_examples=200, deadline=None)
    @given(
        secret=st.binary(min_size=1, max_size=64),
        body=st.binary(min_size=1, max_size=512),
        data=st.data(),
    )
    def test_anyChangedBodyByteIsRefused(
        self, secret: bytes, body: bytes, data: st.DataObject
    ) -> None:
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        flip = data.draw(st.integers(min_value=1, max_value=255))
        changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
        self.assertFalse(
            github.authenticate(Incoming(changed, {"X-Hub-Signature-256": signature}), secret)
        )

    @settings(max_examples=200, deadline=None)
    @given(
        secret=st.binary(min_size=1, max_size=64),
        body=st.binary(max_size=512),
        data=st.data(),
    )
    def test_anyChangedSignatureCharacterIsRefused(
        self, secret: bytes, body: bytes, data: st.DataObject
    ) -> None:
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
        index = data.draw(st.integers(min_value=0, max_value=len(digest) - 1))
        replacement = data.draw(
            st.sampled_from("0123456789abcdef").filter(lambda c: c != digest[index])
        )
        changed = digest[:index] + replacement + digest[index + 1 :]
        incoming = Incoming(body, {"X-Hub-Signature-256": "sha256=" + changed})
        self.assertFalse(github.authenticate(incoming, secret))


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

    def test_pullRequestKeepsItsEventName(self) -> None:
        delivery = github.parse(fixture_incoming("github", "pull_request-opened.octokit.json"))
        self.assertEqual(
            delivery,
            Delivery(
                forge="github",
                event="pull_request",
                kind="pull_request",
                delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
                repository="Codertocat/Hello-World",
                clone_url="https://github.com/Codertocat/Hello-World.git",
                pusher="Codertocat",
            ),
        )
        self.assertFalse(delivery.is_ping)

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

    def test_objectKindWithoutEventHeader(self) -> None:
        """Old GitLab sends no X-Gitlab-Event; object_kind says what it is."""
        delivery = gitlab.parse(Incoming(fixture_body("gitlab", "push.json"), JSON))
        self.assertEqual(
            (delivery.event, delivery.kind, delivery.branch), ("push", "push", "master")
        )

    def test_mergeRequestKeepsItsKind(self) -> None:
        delivery = gitlab.parse(fixture_incoming("gitlab", "merge_request-open.gscm.json"))
        self.assertEqual(
            (delivery.event, delivery.kind, delivery.ref, delivery.repository),
            ("Merge Request Hook", "merge_request", "", "gitlab-org/hello-world"),
        )

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


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
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
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


class AnyPayloadTests(SynchronousTestCase):
    """Whatever JSON a caller sends, a forge answers with a Delivery or a PayloadError."""

    @settings(max_examples=200, deadline=None)
    @given(payload=JSON_VALUES, forge=st.sampled_from([github, gitlab, generic]))
    def test_parseNeverCrashes(self, payload: object, forge: Forge) -> None:
        body = json.dumps(payload).encode()
        headers = {**JSON, "X-GitHub-Event": "push", "X-Gitlab-Event": "Push Hook"}
        try:
            delivery = forge.parse(Incoming(body, headers))
        except PayloadError:
            return
        self.assertIsInstance(delivery, Delivery)
        for value in (delivery.ref, delivery.branch, delivery.after, delivery.repository):
            self.assertIsInstance(value, str)
