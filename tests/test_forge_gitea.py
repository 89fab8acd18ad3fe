"""
Tests for L{hookdaemon.forges.gitea}: Gitea, Forgejo and Gogs authenticate and
parse the deliveries they really send (tests/fixtures/forges/, see SOURCES.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import ZERO_SHA, Delivery, Incoming
from hookdaemon.filters import ignore_reason
from hookdaemon.forges import PayloadError
from hookdaemon.forges.gitea import GiteaFamily, forgejo, gitea, gogs
from hookdaemon.testing import signed
from tests.forgefixtures import (
    fixture_body,
    fixture_headers,
    fixture_incoming,
    json_payloads,
    make_hook,
    signed_headers,
)

SECRET = "gitea-hook-secret"
OTHER_SECRET = "another-secret"

DELIVERY_ID = "ee8d97b4-1479-43f1-9cac-fbbd1b80da55"
FORGEJO_DELIVERY_ID = "9b2c4f6e-8a1d-4c3b-b5e7-0f1a2b3c4d5e"

ALL = (forgejo, gitea, gogs)

PUSH_BEFORE = "9836a96a253cce25d17988fcf41b8c4205cf779f"
PUSH_AFTER = "4522cbcefc20728a5b72b3a86af35e608622c514"
TAG_SHA = "599d25c67b05717269f50ac082b34f176d085179"


def forgejo_headers(event: str, body: bytes | None = None) -> dict[str, str]:
    """The X-Forgejo-* headers Forgejo adds to a Gitea delivery (signed when C{body} is given)."""
    headers = {"X-Forgejo-Event": event, "X-Forgejo-Delivery": FORGEJO_DELIVERY_ID}
    if body is not None:
        headers["X-Forgejo-Signature"] = hex_signature(SECRET, body)
    return headers


def hex_signature(secret: str, body: bytes) -> str:
    return signed("gitea", secret, body)["X-Gitea-Signature"]


def gitea_body(name: str, **changes: Any) -> bytes:
    """A recorded Gitea body with some top-level fields changed (None removes one)."""
    payload = json.loads(fixture_body("gitea", name))
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return json.dumps(payload).encode()


def gitea_incoming(body: bytes, event: str, family: GiteaFamily = gitea) -> Incoming:
    prefix = family.families[0]
    return Incoming(
        body,
        {
            "Content-Type": "application/json",
            f"X-{prefix}-Event": event,
            f"X-{prefix}-Delivery": DELIVERY_ID,
        },
    )


def first_detected(incoming: Incoming) -> str | None:
    """The forge C{forge = auto} picks when it tries Forgejo, Gitea, then Gogs."""
    for family in ALL:
        if family.detect(incoming):
            return family.name
    return None


class DetectTests(SynchronousTestCase):
    def test_giteaDelivery(self) -> None:
        """Gitea also sends Gogs' headers, so Gitea must be tried before Gogs."""
        incoming = fixture_incoming("gitea", "push.json")
        self.assertEqual(
            [family.detect(incoming) for family in ALL],
            [False, True, True],
        )
        self.assertEqual(first_detected(incoming), "gitea")

    def test_forgejoDelivery(self) -> None:
        """Forgejo sends Gitea's and Gogs' headers too, so it is tried first."""
        incoming = fixture_incoming("gitea", "push.json", forgejo_headers("push"))
        self.assertEqual([family.detect(incoming) for family in ALL], [True, True, True])
        self.assertEqual(first_detected(incoming), "forgejo")

    def test_gogsDelivery(self) -> None:
        incoming = fixture_incoming("gogs", "push.json")
        self.assertEqual([family.detect(incoming) for family in ALL], [False, False, True])

    def test_otherForgesAreNone(self) -> None:
        for forge, name in [("github", "push.json"), ("gitlab", "push.json")]:
            self.assertIsNone(first_detected(fixture_incoming(forge, name)), forge)
        self.assertIsNone(first_detected(Incoming(b"{}", {"X-Gitea-Signature": "00"})))

    def test_onlyTheEventHeaderCounts(self) -> None:
        """Forgejo's delivery or signature header alone does not make a Forgejo request."""
        incoming = Incoming(
            b"{}", {"X-Forgejo-Delivery": FORGEJO_DELIVERY_ID, "X-Forgejo-Signature": "00"}
        )
        self.assertFalse(forgejo.detect(incoming))
        self.assertTrue(forgejo.detect(Incoming(b"{}", {"x-forgejo-event": "push"})))


class AuthenticateTests(SynchronousTestCase):
    fixtures = (
        (gitea, "gitea", "push.json"),
        (gitea, "gitea", "create-tag.json"),
        (gitea, "gitea", "pull_request-opened.json"),
        (forgejo, "gitea", "push.json"),
        (forgejo, "gitea", "create-tag.json"),
        (forgejo, "gitea", "pull_request-opened.json"),
        (gogs, "gogs", "push.json"),
        (gogs, "gogs", "create-tag.json"),
    )

    def test_rightSignatureAccepted(self) -> None:
        for family, folder, name in self.fixtures:
            body = fixture_body(folder, name)
            incoming = fixture_incoming(folder, name, signed_headers(family.name, body, SECRET))
            self.assertTrue(family.authenticate(incoming, SECRET.encode()), (family, name))

    def test_wrongSecretRefused(self) -> None:
        for family, folder, name in self.fixtures:
            body = fixture_body(folder, name)
            incoming = fixture_incoming(
                folder, name, signed_headers(family.name, body, OTHER_SECRET)
            )
            self.assertFalse(family.authenticate(incoming, SECRET.encode()), (family, name))

    def test_missingSignatureRefused(self) -> None:
        for family, folder, name in self.fixtures:
            incoming = fixture_incoming(folder, name)
            self.assertFalse(family.authenticate(incoming, SECRET.encode()), (family, name))

    def test_emptySignatureRefused(self) -> None:
        """Gitea sends an empty X-Gitea-Signature for a hook without a secret."""
        for family in ALL:
            header = f"X-{family.families[0]}-Signature"
            incoming = fixture_incoming("gitea", "push.json", {header: ""})
            self.assertFalse(family.authenticate(incoming, SECRET.encode()), family.name)

    def test_signatureOfOtherBodyRefused(self) -> None:
        for family, folder, name in self.fixtures:
            body = fixture_body(folder, name)
            headers = signed_headers(family.name, body + b"\n", SECRET)
            incoming = fixture_incoming(folder, name, headers)
            self.assertFalse(family.authenticate(incoming, SECRET.encode()), (family, name))

    def test_signatureInAnotherForgesHeaderRefused(self) -> None:
        """A right SHA-256 hex counts only in the header this forge reads."""
        body = fixture_body("gitea", "push.json")
        digest = hex_signature(SECRET, body)
        cases = [
            (gitea, "X-Gogs-Signature", digest),
            (gitea, "X-Forgejo-Signature", digest),
            (gitea, "X-Hub-Signature-256", "sha256=" + digest),
            (gogs, "X-Gitea-Signature", digest),
            (gogs, "X-Forgejo-Signature", digest),
            (forgejo, "X-Gogs-Signature", digest),
            (forgejo, "X-Hub-Signature-256", "sha256=" + digest),
        ]
        for family, header, value in cases:
            incoming = fixture_incoming("gitea", "push.json", {header: value})
            self.assertFalse(family.authenticate(incoming, SECRET.encode()), (family, header))

    def test_onlyBareLowercaseHex(self) -> None:
        body = fixture_body("gitea", "push.json")
        digest = hex_signature(SECRET, body)
        for value in ["sha256=" + digest, digest.upper(), f" {digest}", digest[:-1]]:
            incoming = fixture_incoming("gitea", "push.json", {"X-Gitea-Signature": value})
            self.assertFalse(gitea.authenticate(incoming, SECRET.encode()), value)

    def test_sha1Refused(self) -> None:
        body = fixture_body("gitea", "push.json")
        digest = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
        incoming = fixture_incoming("gitea", "push.json", {"X-Gitea-Signature": digest})
        self.assertFalse(gitea.authenticate(incoming, SECRET.encode()))

    def test_forgejoFallsBackToGiteaSignature(self) -> None:
        body = fixture_body("gitea", "push.json")
        incoming = fixture_incoming(
            "gitea", "push.json", {"X-Gitea-Signature": hex_signature(SECRET, body)}
        )
        self.assertTrue(forgejo.authenticate(incoming, SECRET.encode()))

    def test_forgejoSignatureAloneAccepted(self) -> None:
        body = fixture_body("gitea", "push.json")
        incoming = fixture_incoming("gitea", "push.json", forgejo_headers("push", body))
        self.assertTrue(forgejo.authenticate(incoming, SECRET.encode()))

    def test_wrongForgejoSignatureNotRescuedByGiteaOne(self) -> None:
        """When X-Forgejo-Signature is sent, it is the one checked."""
        body = fixture_body("gitea", "push.json")
        incoming = fixture_incoming(
            "gitea",
            "push.json",
            {
                "X-Forgejo-Signature": hex_signature(OTHER_SECRET, body),
                "X-Gitea-Signature": hex_signature(SECRET, body),
            },
        )
        self.assertFalse(forgejo.authenticate(incoming, SECRET.encode()))

    def test_formBodySignedOverItsPayload(self) -> None:
        """
        With content type "form", Gitea and Gogs sign the JSON payload, not
        the C{payload=...} body they send.
        """
        payload = fixture_body("gitea", "push.json")
        body = urlencode({"payload": payload.decode()}).encode()
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for family in ALL:
            header = f"X-{family.families[0]}-Signature"
            right = fixture_incoming(
                "gitea", "push.json", {**form, header: hex_signature(SECRET, payload)}, body=body
            )
            self.assertTrue(family.authenticate(right, SECRET.encode()), family.name)
            over_body = fixture_incoming(
                "gitea", "push.json", {**form, header: hex_signature(SECRET, body)}, body=body
            )
            self.assertFalse(family.authenticate(over_body, SECRET.encode()), family.name)

    def test_brokenFormBodyRefused(self) -> None:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body in [b"payload", b"other=1", b"\xff=1"]:
            incoming = Incoming(body, {**form, "X-Gitea-Signature": hex_signature(SECRET, body)})
            self.assertFalse(gitea.authenticate(incoming, SECRET.encode()), body)


class GiteaFixtureTests(SynchronousTestCase):
    def test_push(self) -> None:
        self.assertEqual(
            gitea.parse(fixture_incoming("gitea", "push.json")),
            Delivery(
                forge="gitea",
                event="push",
                kind="push",
                delivery_id=DELIVERY_ID,
                ref="refs/heads/master",
                branch="master",
                tag="",
                before=PUSH_BEFORE,
                after=PUSH_AFTER,
                repository="gogits/hello-world",
                clone_url="http://try.gitea.io/gogits/hello-world.git",
                pusher="unknwon",
                commits=1,
            ),
        )

    def test_createTag(self) -> None:
        """create names the ref by its short name and ref_type, and carries the commit."""
        self.assertEqual(
            gitea.parse(fixture_incoming("gitea", "create-tag.json")),
            Delivery(
                forge="gitea",
                event="create",
                kind="create",
                delivery_id=DELIVERY_ID,
                ref="refs/tags/v1.0.0",
                branch="",
                tag="v1.0.0",
                before="",
                after=TAG_SHA,
                repository="gogits/hello-world",
                clone_url="http://try.gitea.io/gogits/hello-world.git",
                pusher="unknwon",
                commits=0,
            ),
        )

    def test_pullRequestOpened(self) -> None:
        """
        A pull request is named by its head ref; its branch is the one it
        targets, before is that branch's commit and after the head's.
        """
        self.assertEqual(
            gitea.parse(fixture_incoming("gitea", "pull_request-opened.json")),
            Delivery(
                forge="gitea",
                event="pull_request",
                kind="pull_request",
                delivery_id=DELIVERY_ID,
                ref="refs/pull/1/head",
                branch="master",
                tag="",
                before="39af58f1eff02aa308e16913e887c8d50362b474",
                after="2eba238e33607c1fa49253182e9fff42baafa1eb",
                repository="jcitizen/my-repo",
                clone_url="https://try.gitea.io/jcitizen/my-repo.git",
                pusher="jcitizen",
                commits=0,
            ),
        )


class ForgejoFixtureTests(SynchronousTestCase):
    """Forgejo sends Gitea's payloads; its own headers come first."""

    def test_push(self) -> None:
        incoming = fixture_incoming("gitea", "push.json", forgejo_headers("push"))
        self.assertEqual(
            forgejo.parse(incoming),
            Delivery(
                forge="forgejo",
                event="push",
                kind="push",
                delivery_id=FORGEJO_DELIVERY_ID,
                ref="refs/heads/master",
                branch="master",
                tag="",
                before=PUSH_BEFORE,
                after=PUSH_AFTER,
                repository="gogits/hello-world",
                clone_url="http://try.gitea.io/gogits/hello-world.git",
                pusher="unknwon",
                commits=1,
            ),
        )

    def test_createTag(self) -> None:
        incoming = fixture_incoming("gitea", "create-tag.json", forgejo_headers("create"))
        self.assertEqual(
            forgejo.parse(incoming),
            Delivery(
                forge="forgejo",
                event="create",
                kind="create",
                delivery_id=FORGEJO_DELIVERY_ID,
                ref="refs/tags/v1.0.0",
                branch="",
                tag="v1.0.0",
                before="",
                after=TAG_SHA,
                repository="gogits/hello-world",
                clone_url="http://try.gitea.io/gogits/hello-world.git",
                pusher="unknwon",
                commits=0,
            ),
        )

    def test_pullRequestOpened(self) -> None:
        incoming = fixture_incoming(
            "gitea", "pull_request-opened.json", forgejo_headers("pull_request")
        )
        self.assertEqual(
            forgejo.parse(incoming),
            Delivery(
                forge="forgejo",
                event="pull_request",
                kind="pull_request",
                delivery_id=FORGEJO_DELIVERY_ID,
                ref="refs/pull/1/head",
                branch="master",
                tag="",
                before="39af58f1eff02aa308e16913e887c8d50362b474",
                after="2eba238e33607c1fa49253182e9fff42baafa1eb",
                repository="jcitizen/my-repo",
                clone_url="https://try.gitea.io/jcitizen/my-repo.git",
                pusher="jcitizen",
                commits=0,
            ),
        )

    def test_forgejoEventHeaderWins(self) -> None:
        incoming = fixture_incoming("gitea", "push.json", forgejo_headers("release"))
        self.assertEqual(forgejo.parse(incoming).event, "release")

    def test_giteaHeadersRead(self) -> None:
        """Without X-Forgejo-*, Forgejo's instance reads the X-Gitea-* headers it also sends."""
        delivery = forgejo.parse(fixture_incoming("gitea", "push.json"))
        self.assertEqual(
            (delivery.forge, delivery.event, delivery.delivery_id),
            ("forgejo", "push", DELIVERY_ID),
        )

    def test_compareFieldIgnored(self) -> None:
        """A webhook of type "Forgejo" adds compare, a copy of compare_url."""
        payload = json.loads(fixture_body("gitea", "push.json"))
        body = gitea_body("push.json", compare=payload["compare_url"])
        incoming = fixture_incoming("gitea", "push.json", forgejo_headers("push"), body=body)
        self.assertEqual(
            forgejo.parse(incoming),
            forgejo.parse(fixture_incoming("gitea", "push.json", forgejo_headers("push"))),
        )


class GogsFixtureTests(SynchronousTestCase):
    def test_push(self) -> None:
        self.assertEqual(
            gogs.parse(fixture_incoming("gogs", "push.json")),
            Delivery(
                forge="gogs",
                event="push",
                kind="push",
                delivery_id=DELIVERY_ID,
                ref="refs/heads/master",
                branch="master",
                tag="",
                before=PUSH_BEFORE,
                after=PUSH_AFTER,
                repository="gogits/hello-world",
                clone_url="http://try.gogs.io/gogits/hello-world.git",
                pusher="unknwon",
                commits=1,
            ),
        )

    def test_createTag(self) -> None:
        self.assertEqual(
            gogs.parse(fixture_incoming("gogs", "create-tag.json")),
            Delivery(
                forge="gogs",
                event="create",
                kind="create",
                delivery_id=DELIVERY_ID,
                ref="refs/tags/v1.0.0",
                branch="",
                tag="v1.0.0",
                before="",
                after=TAG_SHA,
                repository="gogits/hello-world",
                clone_url="http://try.gogs.io/gogits/hello-world.git",
                pusher="unknwon",
                commits=0,
            ),
        )

    def test_giteaDeliveryReadAsGogs(self) -> None:
        """Gitea sends X-Gogs-*, so a hook set to gogs reads a Gitea delivery too."""
        delivery = gogs.parse(fixture_incoming("gitea", "push.json"))
        self.assertEqual(
            (delivery.forge, delivery.event, delivery.delivery_id, delivery.after),
            ("gogs", "push", DELIVERY_ID, PUSH_AFTER),
        )


class PushTests(SynchronousTestCase):
    def test_tagPush(self) -> None:
        body = gitea_body("push.json", ref="refs/tags/v2.0", before=ZERO_SHA, commits=[])
        delivery = gitea.parse(gitea_incoming(body, "push"))
        self.assertEqual(
            (delivery.kind, delivery.ref, delivery.tag, delivery.branch, delivery.commits),
            ("tag", "refs/tags/v2.0", "v2.0", "", 0),
        )
        self.assertEqual(delivery.names(), {"tag"})

    def test_deletionPush(self) -> None:
        body = gitea_body("push.json", after=ZERO_SHA, commits=[])
        delivery = gitea.parse(gitea_incoming(body, "push"))
        self.assertEqual(
            (delivery.kind, delivery.branch, delivery.before, delivery.after),
            ("delete", "master", PUSH_BEFORE, ZERO_SHA),
        )
        self.assertEqual(delivery.names(), {"delete"})

    def test_totalCommitsPreferred(self) -> None:
        """Gitea sends only the newest few commits; total_commits counts them all."""
        body = gitea_body("push.json", total_commits=42)
        self.assertEqual(gitea.parse(gitea_incoming(body, "push")).commits, 42)

    def test_pusherFallbacks(self) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"pusher": {"username": "ann"}}, "ann"),
            ({"pusher": {"name": "Ann"}}, "Ann"),
            ({"pusher": None}, "unknwon"),
            ({"pusher": None, "sender": {"username": "bob"}}, "bob"),
            ({"pusher": None, "sender": None}, ""),
        ]
        for changes, pusher in cases:
            body = gitea_body("push.json", **changes)
            self.assertEqual(gitea.parse(gitea_incoming(body, "push")).pusher, pusher, changes)

    def test_pushWithoutRefRefused(self) -> None:
        body = gitea_body("push.json", ref=None)
        error = self.assertRaises(PayloadError, gitea.parse, gitea_incoming(body, "push"))
        self.assertEqual(str(error), "push payload has no ref")

    def test_formBodyReadsAsJSON(self) -> None:
        payload = fixture_body("gitea", "push.json")
        body = urlencode({"payload": payload.decode()}).encode()
        incoming = fixture_incoming(
            "gitea",
            "push.json",
            {"Content-Type": "application/x-www-form-urlencoded"},
            body=body,
        )
        self.assertEqual(
            gitea.parse(incoming), gitea.parse(fixture_incoming("gitea", "push.json"))
        )


class RefEventTests(SynchronousTestCase):
    def test_createBranch(self) -> None:
        body = gitea_body("create-tag.json", ref="feature/x", ref_type="branch")
        self.assertEqual(
            gitea.parse(gitea_incoming(body, "create")),
            Delivery(
                forge="gitea",
                event="create",
                kind="create",
                delivery_id=DELIVERY_ID,
                ref="refs/heads/feature/x",
                branch="feature/x",
                after=TAG_SHA,
                repository="gogits/hello-world",
                clone_url="http://try.gitea.io/gogits/hello-world.git",
                pusher="unknwon",
            ),
        )

    def test_deleteBranch(self) -> None:
        """Gitea's delete event: short ref name, no commit."""
        body = gitea_body(
            "create-tag.json", ref="old", ref_type="branch", sha=None, pusher_type="user"
        )
        delivery = gitea.parse(gitea_incoming(body, "delete"))
        self.assertEqual(
            delivery,
            Delivery(
                forge="gitea",
                event="delete",
                kind="delete",
                delivery_id=DELIVERY_ID,
                ref="refs/heads/old",
                branch="old",
                repository="gogits/hello-world",
                clone_url="http://try.gitea.io/gogits/hello-world.git",
                pusher="unknwon",
            ),
        )
        self.assertEqual(delivery.names(), {"delete"})

    def test_deleteTagHasNoAfter(self) -> None:
        """A sha in a delete payload is not a commit to deploy."""
        delivery = gogs.parse(
            gitea_incoming(fixture_body("gogs", "create-tag.json"), "delete", gogs)
        )
        self.assertEqual((delivery.kind, delivery.tag, delivery.after), ("delete", "v1.0.0", ""))

    def test_otherRefTypeHasNoRef(self) -> None:
        for ref_type in ["repository", None]:
            body = gitea_body("create-tag.json", ref_type=ref_type)
            delivery = gitea.parse(gitea_incoming(body, "create"))
            self.assertEqual((delivery.kind, delivery.ref, delivery.after), ("create", "", ""))

    def test_createWithoutRefRefused(self) -> None:
        body = gitea_body("create-tag.json", ref=None)
        error = self.assertRaises(PayloadError, gitea.parse, gitea_incoming(body, "create"))
        self.assertEqual(str(error), "create payload has no ref")


class PullRequestTests(SynchronousTestCase):
    def test_numberFromPullRequest(self) -> None:
        body = gitea_body("pull_request-opened.json", number=None)
        delivery = gitea.parse(gitea_incoming(body, "pull_request"))
        self.assertEqual(delivery.ref, "refs/pull/1/head")

    def test_withoutNumberRefused(self) -> None:
        body = b'{"action": "opened", "pull_request": {}}'
        error = self.assertRaises(PayloadError, gitea.parse, gitea_incoming(body, "pull_request"))
        self.assertEqual(str(error), "pull_request payload has no pull_request.number")

    def test_gogsBaseBranch(self) -> None:
        """Gogs names the target branch base_branch and sends no commit ids."""
        body = json.dumps(
            {
                "action": "opened",
                "number": 3,
                "pull_request": {"number": 3, "head_branch": "fix", "base_branch": "main"},
                "repository": {"full_name": "team/site"},
                "sender": {"login": "ann", "username": "ann"},
            }
        ).encode()
        self.assertEqual(
            gogs.parse(gitea_incoming(body, "pull_request", gogs)),
            Delivery(
                forge="gogs",
                event="pull_request",
                kind="pull_request",
                delivery_id=DELIVERY_ID,
                ref="refs/pull/3/head",
                branch="main",
                repository="team/site",
                pusher="ann",
            ),
        )


class OtherEventTests(SynchronousTestCase):
    def test_otherEventsAreTheirOwnKind(self) -> None:
        for event in ["release", "issues", "issue_comment", "fork", "repository"]:
            delivery = gitea.parse(gitea_incoming(b'{"action": "x"}', event))
            self.assertEqual(
                delivery, Delivery(forge="gitea", event=event, kind=event, delivery_id=DELIVERY_ID)
            )
            self.assertFalse(delivery.is_ping)

    def test_missingEventHeaderRefused(self) -> None:
        body = fixture_body("gitea", "push.json")
        cases = [
            (gitea, "missing X-Gitea-Event header"),
            (forgejo, "missing X-Forgejo-Event or X-Gitea-Event header"),
            (gogs, "missing X-Gogs-Event header"),
        ]
        for family, message in cases:
            incoming = Incoming(body, {"Content-Type": "application/json"})
            error = self.assertRaises(PayloadError, family.parse, incoming)
            self.assertEqual(str(error), message)

    def test_emptyEventHeaderRefused(self) -> None:
        incoming = Incoming(b"{}", {"X-Gitea-Event": ""})
        self.assertRaises(PayloadError, gitea.parse, incoming)

    def test_bodyNotAnObjectRefused(self) -> None:
        for body in [b"[]", b"not json"]:
            self.assertRaises(PayloadError, gitea.parse, gitea_incoming(body, "push"))


class SelectionTests(SynchronousTestCase):
    """What a hook's C{events}, C{branches} and C{tags} make of these deliveries."""

    def test_pushSelectedByPush(self) -> None:
        push = gitea.parse(fixture_incoming("gitea", "push.json"))
        self.assertIsNone(ignore_reason(make_hook("branches = master"), push))
        self.assertEqual(
            ignore_reason(make_hook("branches = main"), push),
            "branch master does not match branches (main)",
        )

    def test_createSelectedByName(self) -> None:
        create = gitea.parse(fixture_incoming("gitea", "create-tag.json"))
        self.assertEqual(
            ignore_reason(make_hook("events = push tag"), create),
            "event create is not in events (push tag)",
        )
        self.assertIsNone(ignore_reason(make_hook("events = create\ntags = v1.*"), create))
        self.assertEqual(
            ignore_reason(make_hook("events = create\ntags = v2.*"), create),
            "tag v1.0.0 does not match tags (v2.*)",
        )

    def test_deleteSelectedOnlyByDelete(self) -> None:
        body = gitea_body("create-tag.json", ref="old", ref_type="branch", sha=None)
        delete = gitea.parse(gitea_incoming(body, "delete"))
        self.assertEqual(
            ignore_reason(make_hook("events = push create"), delete),
            "deletes branch old; add delete to events to run on deletions",
        )
        self.assertIsNone(ignore_reason(make_hook("events = delete\nbranches = o*"), delete))

    def test_pullRequestBranchIsItsTarget(self) -> None:
        pull_request = gitea.parse(fixture_incoming("gitea", "pull_request-opened.json"))
        self.assertEqual(
            ignore_reason(make_hook(), pull_request),
            "event pull_request is not in events (push)",
        )
        self.assertIsNone(
            ignore_reason(make_hook("events = pull_request\nbranches = master"), pull_request)
        )
        self.assertEqual(
            ignore_reason(make_hook("events = pull_request\nbranches = feature"), pull_request),
            "branch master does not match branches (feature)",
        )

    def test_otherEventIgnored(self) -> None:
        release = gitea.parse(gitea_incoming(b"{}", "release"))
        self.assertEqual(
            ignore_reason(make_hook(), release), "event release is not in events (push)"
        )


JSON_VALUES = json_payloads(
    [
        "ref",
        "ref_type",
        "sha",
        "before",
        "after",
        "commits",
        "total_commits",
        "repository",
        "full_name",
        "clone_url",
        "pusher",
        "sender",
        "login",
        "username",
        "name",
        "number",
        "pull_request",
        "base",
        "head",
        "base_branch",
    ]
)


class AnyPayloadTests(SynchronousTestCase):
    @settings(max_examples=100, deadline=None)
    @given(
        payload=JSON_VALUES,
        family=st.sampled_from(ALL),
        event=st.sampled_from(["push", "create", "delete", "pull_request", "release"]),
    )
    def test_parseNeverCrashes(self, payload: object, family: GiteaFamily, event: str) -> None:
        """Whatever JSON arrives, the answer is a Delivery or a PayloadError."""
        try:
            delivery = family.parse(gitea_incoming(json.dumps(payload).encode(), event, family))
        except PayloadError:
            return
        self.assertIsInstance(delivery, Delivery)
        self.assertEqual((delivery.forge, delivery.event), (family.name, event))


class FixtureHeadersTests(SynchronousTestCase):
    def test_sidecarsCarryNoSignature(self) -> None:
        """The recorded headers leave signatures out; the tests add their own."""
        for folder, name in [("gitea", "push.json"), ("gogs", "push.json")]:
            names = {header.lower() for header in fixture_headers(folder, name)}
            self.assertFalse({n for n in names if n.endswith("signature")}, name)
