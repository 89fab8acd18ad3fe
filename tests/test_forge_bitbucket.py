"""
Tests for L{hookdaemon.forges.bitbucket} (Bitbucket Cloud) and
L{hookdaemon.forges.bitbucket_server} (Bitbucket Server and Data Center),
against the deliveries they really send (tests/fixtures/forges/, see SOURCES.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, ClassVar

from attrs import evolve
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import HookConfig
from hookdaemon.delivery import ZERO_SHA, Delivery, Incoming
from hookdaemon.forges import Forge, PayloadError
from hookdaemon.forges.bitbucket import forge as cloud
from hookdaemon.forges.bitbucket_server import forge as server
from hookdaemon.intake import Accepted, Ignored, choose
from tests.forgefixtures import (
    fixture_body,
    fixture_headers,
    fixture_incoming,
    make_hook,
    signed_headers,
)

SECRET = "It's a Secret to Everybody"

CLOUD_REQUEST = "7d1e6c8a-5f2b-4a3c-8e9d-1a2b3c4d5e6f"
SERVER_REQUEST = "5c1c8a3e-2d4f-4b6a-9e8d-7f6a5b4c3d2e"

CLOUD_HEADERS = {
    "Content-Type": "application/json",
    "X-Event-Key": "repo:push",
    "X-Hook-UUID": "0b2a7e4c-3b8f-4f4e-9d6a-2f1c5e8a9b10",
    "X-Request-UUID": CLOUD_REQUEST,
}
SERVER_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "X-Event-Key": "repo:refs_changed",
    "X-Request-Id": SERVER_REQUEST,
}

# The Bitbucket Cloud delivery every constructed push below shares.
CLOUD_PUSH = Delivery(
    forge="bitbucket",
    event="repo:push",
    kind="push",
    delivery_id=CLOUD_REQUEST,
    repository="team/site",
    clone_url="https://bitbucket.org/team/site.git",
    pusher="ann",
)
SERVER_PUSH = Delivery(
    forge="bitbucket-server",
    event="repo:refs_changed",
    kind="push",
    delivery_id=SERVER_REQUEST,
    repository="OPS/site",
    clone_url="https://git.example.com/scm/ops/site.git",
    pusher="ann",
)

BOTH: tuple[Forge, ...] = (cloud, server)

A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def cloud_ref(kind: str, name: str, commit: str, date: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {"hash": commit, "type": "commit"}
    if date is not None:
        target["date"] = date
    return {"type": kind, "name": name, "target": target}


def cloud_push(*changes: Any) -> Incoming:
    """A repo:push of C{changes}, shaped as Bitbucket Cloud sends it."""
    body = {
        "push": {"changes": list(changes)},
        "repository": {
            "full_name": "team/site",
            "links": {"html": {"href": "https://bitbucket.org/team/site"}},
        },
        "actor": {"display_name": "Ann Example", "nickname": "ann"},
    }
    return Incoming(json.dumps(body).encode(), CLOUD_HEADERS)


def server_push(*changes: Any) -> Incoming:
    """A repo:refs_changed of C{changes}, shaped as Bitbucket Server sends it."""
    body = {
        "eventKey": "repo:refs_changed",
        "actor": {"name": "ann", "displayName": "Ann Example"},
        "repository": {
            "slug": "site",
            "project": {"key": "OPS"},
            "links": {
                "clone": [
                    {"href": "ssh://git@git.example.com:7999/ops/site.git", "name": "ssh"},
                    {"href": "https://git.example.com/scm/ops/site.git", "name": "http"},
                ]
            },
        },
        "changes": list(changes),
    }
    return Incoming(json.dumps(body).encode(), SERVER_HEADERS)


def server_change(ref: str, before: str, after: str, kind: str) -> dict[str, Any]:
    short = ref.rpartition("/")[2]
    ref_type = "TAG" if ref.startswith("refs/tags/") else "BRANCH"
    return {
        "ref": {"id": ref, "displayId": short, "type": ref_type},
        "refId": ref,
        "fromHash": before,
        "toHash": after,
        "type": kind,
    }


# Branch main updated, tag v1.0 created, branch old deleted, listed in an order
# that is not the order of their commits' dates.
MIXED_PUSH = cloud_push(
    {
        "old": None,
        "new": cloud_ref("tag", "v1.0", C, "2024-05-01T12:00:00+00:00"),
        "commits": [],
    },
    {"old": cloud_ref("branch", "old", D, "2023-01-01T00:00:00+00:00"), "new": None},
    {
        "old": cloud_ref("branch", "main", A, "2024-05-01T09:00:00+00:00"),
        "new": cloud_ref("branch", "main", B, "2024-05-01T10:00:00+00:00"),
        "commits": [{"hash": B}, {"hash": "e" * 40}],
    },
)


def bitbucket_hook(keys: str) -> HookConfig:
    """A hook for Bitbucket Cloud, read through the real config parser."""
    return make_hook("forge = bitbucket\n" + keys)


class DetectTests(SynchronousTestCase):
    def test_cloudFixturesAreCloud(self) -> None:
        for name in ["repo-push.json", "pullrequest-created.json"]:
            incoming = fixture_incoming("bitbucket-cloud", name)
            self.assertTrue(cloud.detect(incoming), name)
            self.assertFalse(server.detect(incoming), name)

    def test_serverFixturesAreServer(self) -> None:
        for name in ["repo-refs_changed.json", "pr-opened.json"]:
            incoming = fixture_incoming("bitbucket-server", name)
            self.assertTrue(server.detect(incoming), name)
            self.assertFalse(cloud.detect(incoming), name)

    def test_eitherCloudHeaderIsEnough(self) -> None:
        for header in ["X-Hook-UUID", "X-Request-UUID"]:
            incoming = Incoming(b"{}", {"X-Event-Key": "repo:push", header: "u"})
            self.assertTrue(cloud.detect(incoming), header)
            self.assertFalse(server.detect(incoming), header)

    def test_otherForgesAreNeither(self) -> None:
        for forge, name in [("github", "push.json"), ("gitlab", "push.json")]:
            incoming = fixture_incoming(forge, name)
            self.assertFalse(cloud.detect(incoming), forge)
            self.assertFalse(server.detect(incoming), forge)
        uuid_only = Incoming(b"{}", {"X-Request-UUID": "u", "X-Hook-UUID": "h"})
        self.assertFalse(cloud.detect(uuid_only))


class AuthenticateTests(SynchronousTestCase):
    """Both Bitbucket products sign alike: X-Hub-Signature, C{sha256=<hex>}."""

    fixtures: ClassVar[list[tuple[Forge, str, str]]] = [
        (cloud, "bitbucket-cloud", "repo-push.json"),
        (server, "bitbucket-server", "repo-refs_changed.json"),
    ]

    def test_rightSignatureAccepted(self) -> None:
        for forge, folder, name in self.fixtures:
            body = fixture_body(folder, name)
            incoming = fixture_incoming(folder, name, signed_headers(forge.name, body, SECRET))
            self.assertTrue(forge.authenticate(incoming, SECRET.encode()), forge.name)

    def test_knownSignatureAccepted(self) -> None:
        """GitHub's documented test vector holds for the same header scheme."""
        signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        for forge in BOTH:
            incoming = Incoming(b"Hello, World!", {"X-Hub-Signature": signature})
            self.assertTrue(forge.authenticate(incoming, SECRET.encode()), forge.name)

    def test_wrongSecretRefused(self) -> None:
        for forge, folder, name in self.fixtures:
            body = fixture_body(folder, name)
            incoming = fixture_incoming(folder, name, signed_headers(forge.name, body, SECRET))
            self.assertFalse(forge.authenticate(incoming, b"another secret"), forge.name)

    def test_missingSignatureRefused(self) -> None:
        for forge, folder, name in self.fixtures:
            incoming = fixture_incoming(folder, name)
            self.assertFalse(forge.authenticate(incoming, SECRET.encode()), forge.name)

    def test_signatureOfOtherBodyRefused(self) -> None:
        for forge, folder, name in self.fixtures:
            body = fixture_body(folder, name)
            headers = signed_headers(forge.name, body + b"\n", SECRET)
            incoming = fixture_incoming(folder, name, headers)
            self.assertFalse(forge.authenticate(incoming, SECRET.encode()), forge.name)

    def test_sha1Refused(self) -> None:
        for forge, folder, name in self.fixtures:
            body = fixture_body(folder, name)
            sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
            incoming = fixture_incoming(folder, name, {"X-Hub-Signature": sha1})
            self.assertFalse(forge.authenticate(incoming, SECRET.encode()), forge.name)

    def test_bareHexRefused(self) -> None:
        for forge, folder, name in self.fixtures:
            body = fixture_body(folder, name)
            bare = signed_headers(forge.name, body, SECRET)["X-Hub-Signature"].partition("=")[2]
            incoming = fixture_incoming(folder, name, {"X-Hub-Signature": bare})
            self.assertFalse(forge.authenticate(incoming, SECRET.encode()), forge.name)


class CloudFixtureTests(SynchronousTestCase):
    def test_repoPush(self) -> None:
        change = Delivery(
            forge="bitbucket",
            event="repo:push",
            kind="push",
            delivery_id=CLOUD_REQUEST,
            ref="refs/heads/master",
            branch="master",
            before="40e7580cf11311d84a6e5e97e2cbba6df1675750",
            after="141977fedf5cf35aa290ac87d4b5177ac4cd9de1",
            repository="brydzewski/foo",
            # The payload has no clone link: the web page's URL plus .git.
            clone_url="https://bitbucket.org/brydzewski/foo.git",
            # A 2018 payload: username, not yet nickname.
            pusher="brydzewski",
            commits=1,
        )
        self.assertEqual(
            cloud.parse(fixture_incoming("bitbucket-cloud", "repo-push.json")),
            evolve(change, changes=(change,)),
        )

    def test_pullRequestCreated(self) -> None:
        self.assertEqual(
            cloud.parse(fixture_incoming("bitbucket-cloud", "pullrequest-created.json")),
            Delivery(
                forge="bitbucket",
                event="pullrequest:created",
                kind="pullrequest:created",
                delivery_id=CLOUD_REQUEST,
                branch="master",
                # Bitbucket sends abbreviated hashes here.
                before="7d1a175411ef",
                after="507a576e59b3",
                repository="brydzewski/foo",
                clone_url="https://bitbucket.org/brydzewski/foo.git",
                pusher="brydzewski",
            ),
        )

    def test_pullRequestEventsAreNamedByTheirKey(self) -> None:
        headers = {"X-Event-Key": "pullrequest:fulfilled"}
        incoming = fixture_incoming("bitbucket-cloud", "pullrequest-created.json", headers)
        delivery = cloud.parse(incoming)
        self.assertEqual(delivery.kind, "pullrequest:fulfilled")
        self.assertEqual(delivery.names(), frozenset({"pullrequest:fulfilled"}))


class CloudPushTests(SynchronousTestCase):
    def test_changesOldestFirstNewestDescribed(self) -> None:
        """A deletion has no new commit and sorts first; the rest by their commit's date."""
        deleted = evolve(
            CLOUD_PUSH, kind="delete", ref="refs/heads/old", branch="old", before=D, after=ZERO_SHA
        )
        updated = evolve(
            CLOUD_PUSH, ref="refs/heads/main", branch="main", before=A, after=B, commits=2
        )
        tagged = evolve(
            CLOUD_PUSH, kind="tag", ref="refs/tags/v1.0", tag="v1.0", before=ZERO_SHA, after=C
        )
        delivery = cloud.parse(MIXED_PUSH)
        self.assertEqual(delivery.changes, (deleted, updated, tagged))
        self.assertEqual([c.kind for c in delivery.candidates()], ["delete", "push", "tag"])
        self.assertEqual(delivery, evolve(tagged, changes=(deleted, updated, tagged)))

    def test_withoutDatesPayloadOrderKept(self) -> None:
        delivery = cloud.parse(
            cloud_push(
                {"old": None, "new": cloud_ref("branch", "b", B)},
                {"old": None, "new": cloud_ref("branch", "a", A)},
                {"old": None, "new": cloud_ref("branch", "c", C)},
            )
        )
        self.assertEqual([c.branch for c in delivery.changes], ["b", "a", "c"])
        self.assertEqual(delivery.branch, "c")

    def test_equalDatesKeepPayloadOrder(self) -> None:
        date = "2024-05-01T10:00:00+00:00"
        delivery = cloud.parse(
            cloud_push(
                {"old": None, "new": cloud_ref("branch", "main", B, date)},
                {"old": None, "new": cloud_ref("tag", "v2", B, date)},
            )
        )
        self.assertEqual([c.ref for c in delivery.changes], ["refs/heads/main", "refs/tags/v2"])

    def test_datesInOtherZonesCompareAsInstants(self) -> None:
        delivery = cloud.parse(
            cloud_push(
                {"old": None, "new": cloud_ref("branch", "later", B, "2024-05-01T10:00:00Z")},
                {
                    "old": None,
                    "new": cloud_ref("branch", "soon", A, "2024-05-01T11:30:00+02:00"),
                },
            )
        )
        self.assertEqual([c.branch for c in delivery.changes], ["soon", "later"])

    def test_creationHasZeroBefore(self) -> None:
        delivery = cloud.parse(cloud_push({"old": None, "new": cloud_ref("branch", "new", B)}))
        self.assertEqual((delivery.kind, delivery.before, delivery.after), ("push", ZERO_SHA, B))

    def test_pusherFallsBackToDisplayName(self) -> None:
        body = json.loads(MIXED_PUSH.body)
        body["actor"] = {"display_name": "Ann Example"}
        delivery = cloud.parse(Incoming(json.dumps(body).encode(), CLOUD_HEADERS))
        self.assertEqual({c.pusher for c in delivery.candidates()}, {"Ann Example"})

    def test_cloneLinkPreferred(self) -> None:
        body = json.loads(MIXED_PUSH.body)
        body["repository"]["links"]["clone"] = [
            {"href": "git@bitbucket.org:team/site.git", "name": "ssh"},
            {"href": "https://ann@bitbucket.org/team/site.git", "name": "https"},
        ]
        delivery = cloud.parse(Incoming(json.dumps(body).encode(), CLOUD_HEADERS))
        self.assertEqual(delivery.clone_url, "https://ann@bitbucket.org/team/site.git")

    def test_noChangesIsIgnored(self) -> None:
        """An empty change list names no ref: ignored by every hook, never a deploy of nothing."""
        delivery = cloud.parse(cloud_push())
        self.assertEqual(delivery, evolve(CLOUD_PUSH, changed_nothing=True))
        for keys in ["", "events = push tag delete repo:push"]:
            self.assertEqual(
                choose(bitbucket_hook(keys), delivery),
                Ignored(delivery, "the push changed no branch or tag"),
            )

    def test_brokenChangesRefused(self) -> None:
        broken: list[list[Any]] = [
            [None],
            [{"old": None, "new": None}],
            [{"old": None, "new": {"type": "bookmark", "name": "x", "target": {"hash": A}}}],
            [{"old": None, "new": {"type": "branch", "target": {"hash": A}}}],
        ]
        for changes in broken:
            self.assertRaises(PayloadError, cloud.parse, cloud_push(*changes))
        for body in [{}, {"push": {}}, {"push": {"changes": {}}}]:
            incoming = Incoming(json.dumps(body).encode(), CLOUD_HEADERS)
            self.assertRaises(PayloadError, cloud.parse, incoming)


class CloudOtherTests(SynchronousTestCase):
    def test_otherEventKeysAreTheirOwnKind(self) -> None:
        incoming = fixture_incoming(
            "bitbucket-cloud", "repo-push.json", {"X-Event-Key": "repo:commit_status_updated"}
        )
        delivery = cloud.parse(incoming)
        self.assertEqual(delivery.kind, "repo:commit_status_updated")
        self.assertEqual(delivery.ref, "")
        self.assertIsInstance(choose(bitbucket_hook("branches = main"), delivery), Ignored)

    def test_missingEventKeyRefused(self) -> None:
        incoming = Incoming(fixture_body("bitbucket-cloud", "repo-push.json"), {})
        self.assertRaises(PayloadError, cloud.parse, incoming)

    def test_bodyNotAnObjectRefused(self) -> None:
        self.assertRaises(PayloadError, cloud.parse, Incoming(b"[]", CLOUD_HEADERS))
        self.assertRaises(PayloadError, cloud.parse, Incoming(b"{", CLOUD_HEADERS))


class ChooseTests(SynchronousTestCase):
    """A multi-change push runs once, for the newest change the hook wants."""

    def test_newestWantedChangeChosen(self) -> None:
        hook = bitbucket_hook("branches = main")
        outcome = choose(hook, cloud.parse(MIXED_PUSH))
        self.assertEqual(
            outcome,
            Accepted(
                evolve(
                    CLOUD_PUSH, ref="refs/heads/main", branch="main", before=A, after=B, commits=2
                )
            ),
        )

    def test_newerWantedChangeWins(self) -> None:
        hook = bitbucket_hook("events = push tag\nbranches = main")
        outcome = choose(hook, cloud.parse(MIXED_PUSH))
        assert isinstance(outcome, Accepted)
        self.assertEqual(outcome.delivery.tag, "v1.0")

    def test_deletionChosenOnlyWhenAskedFor(self) -> None:
        hook = bitbucket_hook("events = delete")
        outcome = choose(hook, cloud.parse(MIXED_PUSH))
        assert isinstance(outcome, Accepted)
        self.assertEqual((outcome.delivery.kind, outcome.delivery.branch), ("delete", "old"))

    def test_noWantedChangeIgnored(self) -> None:
        hook = bitbucket_hook("branches = production")
        delivery = cloud.parse(MIXED_PUSH)
        outcome = choose(hook, delivery)
        assert isinstance(outcome, Ignored)
        self.assertEqual(outcome.delivery, delivery.changes[-1])
        self.assertTrue(
            outcome.reason.startswith("none of its 3 changes is wanted; the newest: "),
            outcome.reason,
        )

    def test_serverChangesChosenToo(self) -> None:
        hook = bitbucket_hook("branches = main")
        delivery = server.parse(
            server_push(
                server_change("refs/heads/main", A, B, "UPDATE"),
                server_change("refs/heads/develop", C, D, "UPDATE"),
            )
        )
        outcome = choose(hook, delivery)
        assert isinstance(outcome, Accepted)
        self.assertEqual(outcome.delivery.after, B)


class ServerFixtureTests(SynchronousTestCase):
    def test_refsChanged(self) -> None:
        change = Delivery(
            forge="bitbucket-server",
            event="repo:refs_changed",
            kind="push",
            delivery_id=SERVER_REQUEST,
            ref="refs/heads/master",
            branch="master",
            before="5c64a07cd6c0f21b753bf261ef059c7e7633c50a",
            after="823b2230a56056231c9425d63758fa87078a66b4",
            repository="PRJ/my-repo",
            # The payload has no links.clone, and no commit list at all.
            clone_url="",
            pusher="jcitizen",
        )
        self.assertEqual(
            server.parse(fixture_incoming("bitbucket-server", "repo-refs_changed.json")),
            evolve(change, changes=(change,)),
        )

    def test_pullRequestOpened(self) -> None:
        self.assertEqual(
            server.parse(fixture_incoming("bitbucket-server", "pr-opened.json")),
            Delivery(
                forge="bitbucket-server",
                event="pr:opened",
                kind="pr:opened",
                delivery_id=SERVER_REQUEST,
                ref="refs/pull-requests/2/from",
                branch="master",
                before="823b2230a56056231c9425d63758fa87078a66b4",
                after="208b0a5c05eddadad01f2aed8802fe0c3b3eaf5e",
                # A pull request payload names its repository only in its refs.
                repository="PRJ/my-repo",
                pusher="jcitizen",
            ),
        )


class ServerTests(SynchronousTestCase):
    def test_pingIsAPing(self) -> None:
        incoming = Incoming(
            b'{"test": true}', {**SERVER_HEADERS, "X-Event-Key": "diagnostics:ping"}
        )
        self.assertTrue(server.detect(incoming))
        self.assertEqual(
            server.parse(incoming),
            Delivery(
                forge="bitbucket-server",
                event="diagnostics:ping",
                kind="ping",
                delivery_id=SERVER_REQUEST,
            ),
        )

    def test_changesInPayloadOrderWithTheirKinds(self) -> None:
        delivery = server.parse(
            server_push(
                server_change("refs/heads/main", A, B, "UPDATE"),
                server_change("refs/tags/v1.0", ZERO_SHA, C, "ADD"),
                server_change("refs/heads/old", D, ZERO_SHA, "DELETE"),
            )
        )
        updated = evolve(SERVER_PUSH, ref="refs/heads/main", branch="main", before=A, after=B)
        tagged = evolve(
            SERVER_PUSH, kind="tag", ref="refs/tags/v1.0", tag="v1.0", before=ZERO_SHA, after=C
        )
        deleted = evolve(
            SERVER_PUSH,
            kind="delete",
            ref="refs/heads/old",
            branch="old",
            before=D,
            after=ZERO_SHA,
        )
        self.assertEqual(delivery, evolve(deleted, changes=(updated, tagged, deleted)))

    def test_typeDecidesMissingSide(self) -> None:
        """Whatever hashes are sent, ADD has no before and DELETE no after."""
        delivery = server.parse(
            server_push(
                server_change("refs/heads/new", A, B, "ADD"),
                server_change("refs/heads/gone", C, D, "DELETE"),
            )
        )
        self.assertEqual(
            [(c.kind, c.before, c.after) for c in delivery.changes],
            [("push", ZERO_SHA, B), ("delete", C, ZERO_SHA)],
        )

    def test_refIdWithoutRefObject(self) -> None:
        delivery = server.parse(
            server_push({"refId": "refs/heads/main", "fromHash": A, "toHash": B, "type": "UPDATE"})
        )
        self.assertEqual((delivery.branch, delivery.after), ("main", B))

    def test_noChangesIsIgnored(self) -> None:
        """Bitbucket Server sends no changes for a pull request merged outside it."""
        delivery = server.parse(server_push())
        self.assertEqual(delivery, evolve(SERVER_PUSH, changed_nothing=True))
        for keys in ["", "events = push tag delete repo:refs_changed"]:
            self.assertEqual(
                choose(bitbucket_hook(keys), delivery),
                Ignored(delivery, "the push changed no branch or tag"),
            )

    def test_brokenChangesRefused(self) -> None:
        broken: list[list[Any]] = [[None], [{"fromHash": A, "toHash": B, "type": "UPDATE"}]]
        for changes in broken:
            self.assertRaises(PayloadError, server.parse, server_push(*changes))
        incoming = Incoming(b'{"eventKey": "repo:refs_changed"}', SERVER_HEADERS)
        self.assertRaises(PayloadError, server.parse, incoming)

    def test_pullRequestWithoutPullRequestRefused(self) -> None:
        incoming = Incoming(b"{}", {**SERVER_HEADERS, "X-Event-Key": "pr:merged"})
        self.assertRaises(PayloadError, server.parse, incoming)

    def test_otherEventKeysAreTheirOwnKind(self) -> None:
        incoming = fixture_incoming(
            "bitbucket-server", "repo-refs_changed.json", {"X-Event-Key": "repo:modified"}
        )
        delivery = server.parse(incoming)
        self.assertEqual(
            delivery,
            Delivery(
                forge="bitbucket-server",
                event="repo:modified",
                kind="repo:modified",
                delivery_id=SERVER_REQUEST,
                repository="PRJ/my-repo",
                pusher="jcitizen",
            ),
        )

    def test_missingEventKeyRefused(self) -> None:
        headers = fixture_headers("bitbucket-server", "repo-refs_changed.json")
        del headers["X-Event-Key"]
        incoming = Incoming(fixture_body("bitbucket-server", "repo-refs_changed.json"), headers)
        self.assertRaises(PayloadError, server.parse, incoming)
