"""
Tests for L{hookdaemon.intake}: the decision for one POST, made from plain
values in the order DESIGN.md's HTTP table implies.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import HookConfig
from hookdaemon.delivery import Incoming
from hookdaemon.forges.github import forge as github
from hookdaemon.intake import Accepted, Ignored, Pong, Refused, client_allowed, judge
from tests.forgefixtures import (
    fixture_body,
    fixture_incoming,
    github_signatures,
    make_hook,
)

SECRET = "topsecret"
ENVIRON = {"SITE_SECRET": SECRET}


def hook(keys: str = "") -> HookConfig:
    return make_hook(keys, environ=ENVIRON)


def signed_github(name: str, client: str = "127.0.0.1", secret: str = SECRET) -> Incoming:
    body = fixture_body("github", name)
    return fixture_incoming(
        "github", name, github_signatures(secret.encode(), body), client=client
    )


GITHUB = "forge = github\nsecret = env:SITE_SECRET"
GITLAB = "forge = gitlab\nsecret = env:SITE_SECRET"


class ClientAllowedTests(SynchronousTestCase):
    def networks(self, allow_from: str) -> HookConfig:
        return hook(f"allow_from = {allow_from}")

    def test_emptyAllowFromAdmitsAnyone(self) -> None:
        self.assertTrue(client_allowed((), "203.0.113.9"))
        self.assertTrue(client_allowed((), ""))

    def test_IPv4(self) -> None:
        allow = self.networks("192.168.14.0/24 10.0.0.7").allow_from
        self.assertTrue(client_allowed(allow, "192.168.14.200"))
        self.assertTrue(client_allowed(allow, "10.0.0.7"))
        self.assertFalse(client_allowed(allow, "10.0.0.8"))
        self.assertFalse(client_allowed(allow, "192.168.15.1"))

    def test_IPv6(self) -> None:
        allow = self.networks("2001:db8::/32 ::1").allow_from
        self.assertTrue(client_allowed(allow, "2001:db8::42"))
        self.assertTrue(client_allowed(allow, "::1"))
        self.assertFalse(client_allowed(allow, "2001:db9::1"))
        self.assertFalse(client_allowed(allow, "127.0.0.1"))

    def test_IPv4MappedIPv6MatchesIPv4Network(self) -> None:
        """A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d."""
        allow = self.networks("10.0.0.7 192.168.14.0/24").allow_from
        self.assertTrue(client_allowed(allow, "::ffff:10.0.0.7"))
        self.assertTrue(client_allowed(allow, "::ffff:192.168.14.3"))
        self.assertFalse(client_allowed(allow, "::ffff:10.0.0.8"))

    def test_notAnAddress(self) -> None:
        """A UNIX socket peer or garbage never matches a non-empty allow_from."""
        allow = self.networks("0.0.0.0/0 ::/0").allow_from
        self.assertFalse(client_allowed(allow, ""))
        self.assertFalse(client_allowed(allow, "localhost"))


class JudgeTests(SynchronousTestCase):
    def test_clientOutsideAllowFromIs403(self) -> None:
        site = hook(GITHUB + "\nallow_from = 10.0.0.7")
        self.assertEqual(
            judge(site, signed_github("push.json", client="10.0.0.8")),
            Refused(403, "client address not allowed"),
        )

    def test_IPv6ClientOutsideAllowFromIs403(self) -> None:
        site = hook(GITHUB + "\nallow_from = 2001:db8::/32")
        self.assertEqual(
            judge(site, signed_github("push.json", client="2001:db9::1")),
            Refused(403, "client address not allowed"),
        )
        self.assertIsInstance(
            judge(site, signed_github("push.json", client="2001:db8::1")), Accepted
        )

    def test_IPv4MappedClientInsideAllowFrom(self) -> None:
        site = hook(GITHUB + "\nallow_from = 10.0.0.7")
        self.assertIsInstance(
            judge(site, signed_github("push.json", client="::ffff:10.0.0.7")), Accepted
        )

    def test_allowFromCheckedBeforeSignature(self) -> None:
        """An outsider learns nothing about the secret: 403 whatever it signed."""
        site = hook(GITHUB + "\nallow_from = 10.0.0.7")
        unsigned = fixture_incoming("github", "push.json", client="10.0.0.8")
        self.assertEqual(judge(site, unsigned), Refused(403, "client address not allowed"))

    def test_wrongSignatureIs401(self) -> None:
        self.assertEqual(
            judge(hook(GITHUB), signed_github("push.json", secret="not-the-secret")),
            Refused(401, "signature mismatch"),
        )

    def test_missingSignatureIs401(self) -> None:
        self.assertEqual(
            judge(hook(GITHUB), fixture_incoming("github", "push.json")),
            Refused(401, "signature mismatch"),
        )

    def test_unsignedPingIs401(self) -> None:
        self.assertEqual(
            judge(hook(GITHUB), fixture_incoming("github", "ping.octokit.json")),
            Refused(401, "signature mismatch"),
        )

    def test_gitlabTokens(self) -> None:
        site = hook(GITLAB)
        good = fixture_incoming("gitlab", "push.json", {"X-Gitlab-Token": SECRET})
        self.assertIsInstance(judge(site, good), Accepted)
        by_query = fixture_incoming("gitlab", "push.json", query={"token": SECRET})
        self.assertIsInstance(judge(site, by_query), Accepted)
        wrong = fixture_incoming("gitlab", "push.json", {"X-Gitlab-Token": "guess"})
        self.assertEqual(judge(site, wrong), Refused(401, "signature mismatch"))
        self.assertEqual(
            judge(site, fixture_incoming("gitlab", "push.json")),
            Refused(401, "signature mismatch"),
        )

    def test_genericToken(self) -> None:
        site = hook("secret = env:SITE_SECRET")
        self.assertIsInstance(judge(site, Incoming(b"", query={"token": SECRET})), Accepted)
        self.assertIsInstance(
            judge(site, Incoming(b"", {"Authorization": f"Bearer {SECRET}"})), Accepted
        )
        self.assertEqual(judge(site, Incoming(b"")), Refused(401, "signature mismatch"))

    def test_noSecretNeedsNoSignature(self) -> None:
        site = hook("forge = github\nallow_from = 127.0.0.1")
        self.assertIsInstance(judge(site, fixture_incoming("github", "push.json")), Accepted)

    def test_badBodyIs400WithReason(self) -> None:
        body = b'{"ref": '
        incoming = fixture_incoming(
            "github", "push.json", github_signatures(SECRET.encode(), body), body=body
        )
        outcome = judge(hook(GITHUB), incoming)
        assert isinstance(outcome, Refused)
        self.assertEqual(outcome.code, 400)
        self.assertTrue(outcome.reason.startswith("body is not valid JSON: "), outcome.reason)

    def test_nonObjectBodyIs400(self) -> None:
        body = b"[]"
        incoming = fixture_incoming(
            "github", "push.json", github_signatures(SECRET.encode(), body), body=body
        )
        self.assertEqual(
            judge(hook(GITHUB), incoming), Refused(400, "body is JSON but not an object")
        )

    def test_signatureCheckedBeforeBody(self) -> None:
        """An unsigned caller cannot probe the parser: 401, not 400."""
        incoming = fixture_incoming("github", "push.json", body=b"garbage")
        self.assertEqual(judge(hook(GITHUB), incoming), Refused(401, "signature mismatch"))

    def test_githubPingIsPong(self) -> None:
        incoming = signed_github("ping.octokit.json")
        self.assertEqual(judge(hook(GITHUB), incoming), Pong(github.parse(incoming)))

    def test_pingIsPongWhateverTheFilters(self) -> None:
        site = hook(GITHUB + "\nevents = tag\nrepository = nothing/matches")
        self.assertIsInstance(judge(site, signed_github("ping.octokit.json")), Pong)

    def test_filteredOutIsIgnoredWithReason(self) -> None:
        incoming = signed_github("push.json")
        self.assertEqual(
            judge(hook(GITHUB + "\nbranches = main"), incoming),
            Ignored(github.parse(incoming), "branch master does not match branches"),
        )

    def test_otherEventIgnored(self) -> None:
        incoming = signed_github("pull_request-opened.octokit.json")
        self.assertEqual(
            judge(hook(GITHUB), incoming),
            Ignored(github.parse(incoming), "event pull_request is not in events (push)"),
        )

    def test_tagPushIgnoredByDefault(self) -> None:
        outcome = judge(hook(GITHUB), signed_github("push-tag-create.json"))
        assert isinstance(outcome, Ignored)
        self.assertEqual(outcome.reason, "event tag is not in events (push)")

    def test_accepted(self) -> None:
        incoming = signed_github("push.json")
        outcome = judge(hook(GITHUB + "\nbranches = master\nrepository = Codertocat/*"), incoming)
        self.assertEqual(outcome, Accepted(github.parse(incoming)))
        assert isinstance(outcome, Accepted)
        self.assertEqual(outcome.delivery.after, "199eddf46df50de8d02e99bf1c5fdb4101338224")

    def test_formEncodedAccepted(self) -> None:
        incoming = signed_github("push.form-urlencoded.txt")
        outcome = judge(hook(GITHUB), incoming)
        self.assertEqual(outcome, Accepted(github.parse(signed_github("push.json"))))

    @settings(max_examples=100, deadline=None)
    @given(body=st.binary(max_size=256))
    def test_unsignedNeverGetsPastAuthentication(self, body: bytes) -> None:
        incoming = fixture_incoming("github", "push.json", body=body)
        self.assertEqual(judge(hook(GITHUB), incoming), Refused(401, "signature mismatch"))

    @settings(max_examples=100, deadline=None)
    @given(body=st.binary(max_size=256))
    def test_signedGarbageIsA4xxNeverACrash(self, body: bytes) -> None:
        incoming = fixture_incoming(
            "github", "push.json", github_signatures(SECRET.encode(), body), body=body
        )
        outcome = judge(hook(GITHUB), incoming)
        if isinstance(outcome, Refused):
            self.assertEqual(outcome.code, 400)


class AutoForgeTests(SynchronousTestCase):
    """C{forge = auto}: the request's headers pick the forge, and its scheme is checked."""

    def test_recognisedForgeIsCheckedAndAccepted(self) -> None:
        outcome = judge(hook("forge = auto\nsecret = env:SITE_SECRET"), signed_github("push.json"))
        assert isinstance(outcome, Accepted)
        self.assertEqual(outcome.delivery.forge, "github")

    def test_recognisedForgeWithWrongSignatureIs401(self) -> None:
        outcome = judge(
            hook("forge = auto\nsecret = env:SITE_SECRET"), signed_github("push.json", secret="no")
        )
        self.assertEqual(outcome, Refused(401, "signature mismatch"))

    def test_noForgeRecognisedIs400(self) -> None:
        outcome = judge(
            hook("forge = auto\nsecret = env:SITE_SECRET"),
            Incoming(b"{}", {"Authorization": f"Bearer {SECRET}"}, client="127.0.0.1"),
        )
        self.assertEqual(outcome, Refused(400, "the request does not look like any known forge's"))


class SignatureHeaderTests(SynchronousTestCase):
    """C{forge = generic} with C{signature_header}: an HMAC of the body replaces tokens."""

    HOOK = "forge = generic\nsecret = env:SITE_SECRET\nsignature_header = X-Signature"

    def request(self, signature: str, body: bytes = b'{"ref": "refs/heads/main"}') -> Incoming:
        return Incoming(body, {"X-Signature": signature}, client="127.0.0.1")

    def signature(self, body: bytes = b'{"ref": "refs/heads/main"}') -> str:
        import hashlib
        import hmac

        return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    def test_hexSignatureAccepted(self) -> None:
        outcome = judge(hook(self.HOOK), self.request(self.signature()))
        assert isinstance(outcome, Accepted)
        self.assertEqual(outcome.delivery.branch, "main")

    def test_prefixedAndUppercaseSignatureAccepted(self) -> None:
        outcome = judge(hook(self.HOOK), self.request("sha256=" + self.signature().upper()))
        self.assertIsInstance(outcome, Accepted)

    def test_signatureOfAnotherBodyRefused(self) -> None:
        outcome = judge(hook(self.HOOK), self.request(self.signature(b"{}")))
        self.assertEqual(outcome, Refused(401, "signature mismatch"))

    def test_tokenNoLongerAccepted(self) -> None:
        incoming = Incoming(
            b"{}", {"Authorization": f"Bearer {SECRET}"}, query={"token": SECRET}, client="::1"
        )
        self.assertEqual(judge(hook(self.HOOK), incoming), Refused(401, "signature mismatch"))
