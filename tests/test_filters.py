"""
Tests for L{hookdaemon.filters}: which deliveries a hook runs for, and the
one-line reason it gives for the others.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import ZERO_SHA, Delivery
from hookdaemon.filters import ignore_reason
from hookdaemon.forges.github import forge as github
from hookdaemon.forges.gitlab import forge as gitlab
from tests.forgefixtures import fixture_incoming, make_hook

SHA = "199eddf46df50de8d02e99bf1c5fdb4101338224"


def push(
    branch: str = "main", repository: str = "example/site", forge: str = "github"
) -> Delivery:
    return Delivery(
        forge=forge,
        event="push",
        kind="push",
        ref=f"refs/heads/{branch}",
        branch=branch,
        after=SHA,
        repository=repository,
    )


def tag_push(tag: str = "v1.0", event: str = "push") -> Delivery:
    return Delivery(
        forge="github", event=event, kind="tag", ref=f"refs/tags/{tag}", tag=tag, after=SHA
    )


def branch_deletion(branch: str = "main") -> Delivery:
    return Delivery(
        forge="github",
        event="push",
        kind="delete",
        ref=f"refs/heads/{branch}",
        branch=branch,
        before=SHA,
        after=ZERO_SHA,
    )


def tag_deletion(tag: str = "v1.0") -> Delivery:
    return Delivery(
        forge="github",
        event="push",
        kind="delete",
        ref=f"refs/tags/{tag}",
        tag=tag,
        before=SHA,
        after=ZERO_SHA,
    )


class EventsTests(SynchronousTestCase):
    def test_defaultRunsForBranchPushes(self) -> None:
        self.assertIsNone(ignore_reason(make_hook(), push()))

    def test_defaultIgnoresTagPushes(self) -> None:
        self.assertEqual(
            ignore_reason(make_hook(), tag_push()), "event tag is not in events (push)"
        )

    def test_tagEventRunsForTagPushes(self) -> None:
        hook = make_hook("events = tag")
        self.assertIsNone(ignore_reason(hook, tag_push()))
        self.assertEqual(ignore_reason(hook, push()), "event push is not in events (tag)")

    def test_pushAndTag(self) -> None:
        hook = make_hook("events = push tag")
        self.assertIsNone(ignore_reason(hook, push()))
        self.assertIsNone(ignore_reason(hook, tag_push()))

    def test_forgeNativeEventName(self) -> None:
        pull_request = github.parse(fixture_incoming("github", "pull_request-opened.octokit.json"))
        self.assertEqual(
            ignore_reason(make_hook(), pull_request),
            "event pull_request is not in events (push)",
        )
        self.assertIsNone(ignore_reason(make_hook("events = push pull_request"), pull_request))

    def test_gitlabNativeEventName(self) -> None:
        """GitLab's object_kind names its events (X-Gitlab-Event has spaces in it)."""
        self.assertIsNone(
            ignore_reason(make_hook(), gitlab.parse(fixture_incoming("gitlab", "push.json")))
        )
        merge_request = gitlab.parse(fixture_incoming("gitlab", "merge_request-open.gscm.json"))
        self.assertEqual(
            ignore_reason(make_hook(), merge_request),
            "event Merge Request Hook is not in events (push)",
        )
        self.assertIsNone(ignore_reason(make_hook("events = merge_request"), merge_request))

    def test_gitlabTagPush(self) -> None:
        delivery = gitlab.parse(fixture_incoming("gitlab", "tag_push-create.json"))
        self.assertEqual(
            ignore_reason(make_hook(), delivery),
            "event tag is not in events (push)",
        )
        self.assertIsNone(ignore_reason(make_hook("events = tag"), delivery))

    def test_reasonListsEventsSorted(self) -> None:
        self.assertEqual(
            ignore_reason(
                make_hook("events = tag release push"), Delivery("github", "issues", "issues")
            ),
            "event issues is not in events (push release tag)",
        )


class DeletionTests(SynchronousTestCase):
    def test_branchDeletionNeedsDeleteInEvents(self) -> None:
        """after = forty zeros is no deploy, even though the forge calls it a push."""
        self.assertEqual(
            ignore_reason(make_hook("events = push tag"), branch_deletion("main")),
            "deletes branch main; add delete to events to run on deletions",
        )

    def test_tagDeletionNeedsDeleteInEvents(self) -> None:
        self.assertEqual(
            ignore_reason(make_hook("events = push tag"), tag_deletion("v1.0")),
            "deletes tag v1.0; add delete to events to run on deletions",
        )

    def test_deletionOfOtherRef(self) -> None:
        delivery = Delivery(
            forge="github", event="push", kind="delete", ref="refs/notes/x", after=ZERO_SHA
        )
        self.assertEqual(
            ignore_reason(make_hook(), delivery),
            "deletes ref refs/notes/x; add delete to events to run on deletions",
        )

    def test_deleteInEventsRuns(self) -> None:
        hook = make_hook("events = delete")
        self.assertIsNone(ignore_reason(hook, branch_deletion()))
        self.assertIsNone(ignore_reason(hook, tag_deletion()))
        self.assertEqual(ignore_reason(hook, push()), "event push is not in events (delete)")

    def test_deletionStillFilteredByBranch(self) -> None:
        hook = make_hook("events = delete\nbranches = feature/*")
        self.assertIsNone(ignore_reason(hook, branch_deletion("feature/x")))
        self.assertEqual(
            ignore_reason(hook, branch_deletion("main")),
            "branch main does not match branches (feature/*)",
        )

    def test_parsedGitHubDeletion(self) -> None:
        body = (
            b'{"ref": "refs/heads/gone", "before": "'
            + SHA.encode()
            + b'", "after": "'
            + ZERO_SHA.encode()
            + b'", "deleted": true}'
        )
        delivery = github.parse(fixture_incoming("github", "push.json", body=body))
        self.assertEqual(
            ignore_reason(make_hook(), delivery),
            "deletes branch gone; add delete to events to run on deletions",
        )


class BranchTests(SynchronousTestCase):
    def test_emptyBranchesMeansAll(self) -> None:
        self.assertIsNone(ignore_reason(make_hook(), push("anything/at-all")))

    def test_globs(self) -> None:
        hook = make_hook("branches = master release/*")
        self.assertIsNone(ignore_reason(hook, push("master")))
        self.assertIsNone(ignore_reason(hook, push("release/1.2")))
        self.assertEqual(
            ignore_reason(hook, push("feature")),
            "branch feature does not match branches (master release/*)",
        )
        self.assertEqual(
            ignore_reason(hook, push("release")),
            "branch release does not match branches (master release/*)",
        )

    def test_globsAreCaseSensitive(self) -> None:
        self.assertEqual(
            ignore_reason(make_hook("branches = main"), push("Main")),
            "branch Main does not match branches (main)",
        )

    def test_branchesSetButDeliveryNamesNone(self) -> None:
        self.assertEqual(
            ignore_reason(make_hook("branches = main"), Delivery("generic", "push", "push")),
            "the delivery names no branch and branches is set",
        )

    def test_branchesDoNotFilterTags(self) -> None:
        hook = make_hook("events = push tag\nbranches = main")
        self.assertIsNone(ignore_reason(hook, tag_push("v9")))

    def test_fixturePushOnMaster(self) -> None:
        delivery = github.parse(fixture_incoming("github", "push.json"))
        self.assertIsNone(ignore_reason(make_hook("branches = master"), delivery))
        self.assertEqual(
            ignore_reason(make_hook("branches = main"), delivery),
            "branch master does not match branches (main)",
        )


class TagTests(SynchronousTestCase):
    def test_globs(self) -> None:
        hook = make_hook("events = tag\ntags = v*")
        self.assertIsNone(ignore_reason(hook, tag_push("v1.0")))
        self.assertEqual(
            ignore_reason(hook, tag_push("nightly")), "tag nightly does not match tags (v*)"
        )

    def test_emptyTagNameIsATagThatMatchesNoPattern(self) -> None:
        """refs/tags/ (found by fuzzing) must not slip past tags as if it were a branch push."""
        self.assertEqual(
            ignore_reason(make_hook("events = push tag\ntags = v*"), tag_push("")),
            "tag (empty) does not match tags (v*)",
        )

    def test_emptyTagsMeansAll(self) -> None:
        self.assertIsNone(ignore_reason(make_hook("events = tag"), tag_push("anything")))

    def test_fixtureTagPush(self) -> None:
        delivery = github.parse(fixture_incoming("github", "push-tag-create.json"))
        self.assertIsNone(ignore_reason(make_hook("events = tag\ntags = v0.*"), delivery))
        self.assertEqual(
            ignore_reason(make_hook("events = tag\ntags = v1.*"), delivery),
            "tag v0.0.1 does not match tags (v1.*)",
        )


class RepositoryTests(SynchronousTestCase):
    def test_emptyMeansAny(self) -> None:
        self.assertIsNone(ignore_reason(make_hook(), push(repository="")))

    def test_globs(self) -> None:
        hook = make_hook("repository = example/* other/site")
        self.assertIsNone(ignore_reason(hook, push(repository="example/site")))
        self.assertIsNone(ignore_reason(hook, push(repository="other/site")))
        self.assertEqual(
            ignore_reason(hook, push(repository="evil/site")),
            "repository evil/site does not match repository (example/* other/site)",
        )

    def test_deliveryWithoutRepository(self) -> None:
        self.assertEqual(
            ignore_reason(make_hook("repository = example/site"), push(repository="")),
            "repository (none) does not match repository (example/site)",
        )

    def test_repositoryCheckedBeforeBranch(self) -> None:
        hook = make_hook("repository = example/site\nbranches = main")
        self.assertEqual(
            ignore_reason(hook, push("dev", repository="evil/site")),
            "repository evil/site does not match repository (example/site)",
        )

    def test_gitlabFixture(self) -> None:
        delivery = gitlab.parse(fixture_incoming("gitlab", "push.json"))
        self.assertIsNone(
            ignore_reason(make_hook("repository = gitlab-org/*\nbranches = master"), delivery)
        )
