"""
Tests for L{hookdaemon.intake}: the decision for one POST, made from plain
values in the order DESIGN.md's HTTP table implies.
"""

from __future__ import annotations

import json
import os
import uuid

from attrs import evolve
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import HookConfig
from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.forges import type_refusal
from hookdaemon.forges._base import basic_header
from hookdaemon.forges.github import forge as github
from hookdaemon.intake import (
    BASIC_MISMATCH,
    BASIC_REQUIRED,
    NOT_ALLOWED,
    STOPPING,
    WRONG_METHOD,
    Accepted,
    Ignored,
    Intake,
    NoHook,
    OverRate,
    Pong,
    Refused,
    client_allowed,
    judge,
)
from hookdaemon.testing import signed
from tests.forgefixtures import (
    FIXTURES,
    fixture_body,
    fixture_incoming,
    github_signatures,
    make_hook,
    signed_headers,
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
            Ignored(github.parse(incoming), "branch master does not match branches (main)"),
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
        """The bare hex digest: what signed() sends after its C{sha256=}."""
        headers = signed("generic", SECRET, body, signature_header="X-Signature")
        return headers["X-Signature"].removeprefix("sha256=")

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


GENERIC = "secret = env:SITE_SECRET"
BEARER = {"Authorization": f"Bearer {SECRET}"}
REFUSED_TYPE = "is not accepted; send application/json or application/x-www-form-urlencoded"


def generic(body: bytes, headers: dict[str, str] | None = None) -> Incoming:
    return Incoming(body, {**BEARER, **(headers or {})}, client="127.0.0.1")


class ContentTypeTests(SynchronousTestCase):
    """
    JSON and forms are read, whatever the case or parameters; any other type of
    body is a 415 that says what to send instead.
    """

    def test_everyRecordedDeliveryIsRead(self) -> None:
        """The types the forges really send: JSON, with or without a charset, and forms."""
        seen = set()
        for forge in sorted(os.listdir(FIXTURES)):
            if not os.path.isdir(os.path.join(FIXTURES, forge)):
                continue
            for name in sorted(os.listdir(os.path.join(FIXTURES, forge))):
                if name.endswith(".headers"):
                    continue
                incoming = fixture_incoming(forge, name)
                seen.add(incoming.header("content-type"))
                self.assertIsNone(type_refusal(incoming), f"{forge}/{name}")
        self.assertEqual(
            seen,
            {
                "application/json",
                "application/json; charset=utf-8",
                "application/x-www-form-urlencoded",
            },
        )

    def test_otherTypesAre415(self) -> None:
        body = b'{"ref": "refs/heads/main"}'
        for content_type, shown in [
            ("text/plain", "Content-Type text/plain"),
            ("multipart/form-data; boundary=x", "Content-Type multipart/form-data"),
            ("application/octet-stream", "Content-Type application/octet-stream"),
            ("Application/XML", "Content-Type application/xml"),
            ("application/jsonx", "Content-Type application/jsonx"),
            ("}{\x01", "this Content-Type"),
            ("a/" + "b" * 200, "this Content-Type"),
        ]:
            self.assertEqual(
                judge(hook(GENERIC), generic(body, {"Content-Type": content_type})),
                Refused(415, f"{shown} {REFUSED_TYPE}"),
            )

    def test_jsonTypesAnyCaseAndParameters(self) -> None:
        body = b'{"ref": "refs/heads/main"}'
        for content_type in [
            "application/json",
            "APPLICATION/JSON",
            "application/json;charset=UTF-8",
            "application/json ; charset=utf-8",
            "application/vnd.example.push+json",
            "Application/Problem+JSON; charset=utf-8",
        ]:
            outcome = judge(hook(GENERIC), generic(body, {"Content-Type": content_type}))
            assert isinstance(outcome, Accepted), (content_type, outcome)
            self.assertEqual(outcome.delivery.branch, "main")

    def test_noContentTypeIsReadAsJSON(self) -> None:
        """Scripts often send no type at all; JSON is what every forge sends."""
        outcome = judge(hook(GENERIC), generic(b'{"ref": "refs/heads/main"}'))
        assert isinstance(outcome, Accepted)
        self.assertEqual(outcome.delivery.branch, "main")
        outcome = judge(hook(GENERIC), generic(b"ref=main"))
        assert isinstance(outcome, Refused)
        self.assertEqual(outcome.code, 400)
        self.assertTrue(outcome.reason.startswith("body is not valid JSON: "), outcome.reason)

    def test_curlDataJSONIsReadAsJSON(self) -> None:
        """C{curl -d '{...}'} labels JSON as a form; JSON never looks like one."""
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body in [b'{"ref": "refs/heads/main"}', b'\n  {"ref": "refs/heads/main"}']:
            outcome = judge(hook(GENERIC), generic(body, form))
            assert isinstance(outcome, Accepted)
            self.assertEqual(outcome.delivery.branch, "main")

    def test_emptyBodyIsABareTriggerWhateverItsType(self) -> None:
        """C{curl -X POST}: nothing sent, so nothing sent in the wrong type."""
        for headers in [{}, {"Content-Type": "text/plain"}, {"Content-Type": "application/json"}]:
            for body in [b"", b"\r\n"]:
                self.assertEqual(
                    judge(hook(GENERIC), generic(body, headers)),
                    Accepted(Delivery(forge="generic", event="push", kind="push")),
                )

    def test_signatureCheckedBeforeType(self) -> None:
        """An unsigned caller learns nothing about what we read: 401, not 415."""
        incoming = Incoming(b"junk", {"Content-Type": "text/plain"}, client="127.0.0.1")
        self.assertEqual(judge(hook(GENERIC), incoming), Refused(401, "signature mismatch"))
        github_junk = fixture_incoming(
            "github", "push.json", {"Content-Type": "text/plain"}, body=b"junk"
        )
        self.assertEqual(judge(hook(GITHUB), github_junk), Refused(401, "signature mismatch"))

    def test_signedOtherTypeIs415(self) -> None:
        body = fixture_body("github", "push.json")
        incoming = fixture_incoming(
            "github",
            "push.json",
            {"Content-Type": "text/plain", **github_signatures(SECRET.encode(), body)},
        )
        self.assertEqual(
            judge(hook(GITHUB), incoming),
            Refused(415, f"Content-Type text/plain {REFUSED_TYPE}"),
        )


class HostileBodyTests(SynchronousTestCase):
    """Signed bodies built to hurt a parser get a 400 with a one-line reason, at once."""

    def refusal(self, body: bytes) -> str:
        outcome = judge(hook(GENERIC), generic(body, {"Content-Type": "application/json"}))
        assert isinstance(outcome, Refused), outcome
        self.assertEqual(outcome.code, 400)
        self.assertNotIn("\n", outcome.reason)
        return outcome.reason

    def test_deepNesting(self) -> None:
        for body in [b"[" * 100000, b'{"a":' * 100000, b"[" * 100000 + b"]" * 100000]:
            self.assertEqual(self.refusal(body), "body is nested too deeply")

    def test_enormousIntegers(self) -> None:
        """Python 3.11 refuses to convert more than 4300 digits (CVE-2020-10735)."""
        for body in [b"1" * 1_000_000, b'{"ref": "refs/heads/main", "n": -' + b"9" * 5000 + b"}"]:
            self.assertEqual(self.refusal(body), "body has a number too long to read")

    def test_infiniteFloats(self) -> None:
        for number in [b"1e999999", b"-1e999999", b"1" * 400 + b".0"]:
            body = b'{"ref": "refs/heads/main", "n": ' + number + b"}"
            self.assertEqual(self.refusal(body), "body has a number too large to read")

    def test_nonStandardConstants(self) -> None:
        for name in ["NaN", "Infinity", "-Infinity"]:
            body = b'{"ref": "refs/heads/main", "n": ' + name.encode() + b"}"
            self.assertEqual(
                self.refusal(body), f"body is not valid JSON: {name} is not a JSON value"
            )

    def test_largeButFiniteNumbersAreRead(self) -> None:
        body = b'{"ref": "refs/heads/main", "n": 1e308, "m": ' + b"9" * 4300 + b"}"
        self.assertIsInstance(judge(hook(GENERIC), generic(body)), Accepted)

    def test_textNoCommandCanBeGiven(self) -> None:
        for body, reason in [
            (b'{"ref": "refs/heads/a\\u0000b"}', "HOOK_REF holds a control character"),
            (
                b'{"ref": "refs/heads/main", "pusher": "\\ud800"}',
                "HOOK_PUSHER holds invalid Unicode (an unpaired surrogate)",
            ),
            (
                b'{"ref": "refs/heads/' + b"x" * 1100 + b'"}',
                "HOOK_REF is longer than 1024 bytes",
            ),
            (
                # 300 characters but 1,200 bytes: the limit counts bytes.
                ('{"ref": "refs/heads/main", "pusher": "%s"}' % ("\U0001f642" * 300)).encode(),
                "HOOK_PUSHER is longer than 1024 bytes",
            ),
        ]:
            self.assertEqual(self.refusal(body), reason)

    def test_headerNoCommandCanBeGiven(self) -> None:
        outcome = judge(hook(GENERIC), generic(b"", {"X-Request-Id": "a\x00b"}))
        self.assertEqual(outcome, Refused(400, "HOOK_DELIVERY holds a control character"))

    def test_everyChangeIsChecked(self) -> None:
        """A Bitbucket push's older changes reach no command, but are journaled: checked too."""
        change = {
            "old": None,
            "new": {"type": "branch", "name": "a\x00", "target": {"hash": "1" * 40}},
        }
        newest = {
            "old": None,
            "new": {
                "type": "branch",
                "name": "main",
                "target": {"hash": "2" * 40, "date": "2030-01-01T00:00:00+00:00"},
            },
        }
        body = json.dumps({"push": {"changes": [change, newest]}}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Event-Key": "repo:push",
            "X-Request-UUID": str(uuid.uuid4()),
            **signed_headers("bitbucket", body, SECRET),
        }
        outcome = judge(
            hook("forge = bitbucket\nsecret = env:SITE_SECRET"), Incoming(body, headers)
        )
        self.assertEqual(
            outcome, Refused(400, "one of the push's changes: HOOK_REF holds a control character")
        )


GENERIC_RATED = "secret = env:SITE_SECRET\nallow_from = 10.0.0.0/8\nrate = 2/minute"


def intake(keys: str = GENERIC_RATED) -> Intake:
    return Intake({"site": hook(keys)})


def token(value: str = SECRET, client: str = "10.0.0.7", body: bytes = b"{}") -> Incoming:
    return Incoming(
        body,
        {"Authorization": f"Bearer {value}", "Content-Type": "application/json"},
        client=client,
    )


class IntakeOrderTests(SynchronousTestCase):
    """
    L{Intake}'s whole decision, in DESIGN.md's order: each check wins over every
    check after it, and the ones before the body is read cost the client nothing.
    """

    def admit(
        self,
        intake: Intake,
        name: str = "site",
        method: bytes = b"POST",
        client: str = "10.0.0.7",
        stopping: bool = False,
        now: float = 0.0,
    ) -> object:
        return intake.admit(name, method, client, stopping, now)

    def test_unknownHookComesFirst(self) -> None:
        self.assertEqual(
            self.admit(intake(), "nope", b"GET", "203.0.113.9", stopping=True), NoHook("nope")
        )

    def test_methodBeforeStopping(self) -> None:
        self.assertEqual(self.admit(intake(), method=b"GET", stopping=True), WRONG_METHOD)
        self.assertEqual(self.admit(intake(), method=b"HEAD"), WRONG_METHOD)

    def test_stoppingBeforeTheClient(self) -> None:
        self.assertEqual(self.admit(intake(), client="203.0.113.9", stopping=True), STOPPING)

    def test_clientBeforeTheRate(self) -> None:
        gate = intake()
        for _ in range(3):
            self.assertEqual(self.admit(gate, client="203.0.113.9"), NOT_ALLOWED)
        self.assertIsInstance(self.admit(gate), HookConfig)

    def test_admittedIsTheHook(self) -> None:
        self.assertEqual(self.admit(intake()), hook(GENERIC_RATED))

    def test_overTheRate(self) -> None:
        gate = intake()
        self.assertIsInstance(self.admit(gate, now=0.0), HookConfig)
        self.assertIsInstance(self.admit(gate, now=10.0), HookConfig)
        over = self.admit(gate, now=10.0)
        assert isinstance(over, OverRate)
        self.assertEqual((over.retry_after, over.report, str(over.rate)), (20, True, "2/minute"))
        self.assertEqual(self.admit(gate, now=11.0), OverRate(over.rate, 19, False))

    def test_refusedBeforeTheRateCostsNothing(self) -> None:
        gate = intake()
        for _ in range(5):
            self.admit(gate, method=b"GET")
            self.admit(gate, stopping=True)
            self.admit(gate, client="203.0.113.9")
        self.assertIsInstance(self.admit(gate), HookConfig)
        self.assertIsInstance(self.admit(gate), HookConfig)
        self.assertIsInstance(self.admit(gate), OverRate)

    def test_decideIsTheRequestsOwnOrder(self) -> None:
        gate = intake()
        site = hook(GENERIC_RATED)
        self.assertEqual(
            gate.decide(site, token("guess", body=b"garbage"), 0.0),
            Refused(401, "signature mismatch"),
        )
        self.assertIsInstance(gate.decide(site, token(), 0.0), Accepted)

    def test_decideDoesNotCheckTheClientAgain(self) -> None:
        """admit checked allow_from; decide judges only the request itself."""
        outcome = intake().decide(hook(GENERIC_RATED), token(client="203.0.113.9"), 0.0)
        self.assertIsInstance(outcome, Accepted)

    def test_wrongSecretCostsDouble(self) -> None:
        gate = intake()
        site = hook(GENERIC_RATED)
        self.assertIsInstance(self.admit(gate), HookConfig)
        self.assertEqual(
            gate.decide(site, token("guess"), 0.0), Refused(401, "signature mismatch")
        )
        over = self.admit(gate, now=1.0)
        assert isinstance(over, OverRate)
        self.assertEqual(over.retry_after, 29)

    def test_otherRefusalsCostSingle(self) -> None:
        gate = intake()
        site = hook(GENERIC_RATED)
        self.assertIsInstance(self.admit(gate), HookConfig)
        outcome = gate.decide(site, token(body=b"{"), 0.0)
        assert isinstance(outcome, Refused)
        self.assertEqual(outcome.code, 400)
        self.assertIsInstance(self.admit(gate, now=1.0), HookConfig)

    def test_hookWithoutRate(self) -> None:
        gate = intake("secret = env:SITE_SECRET")
        for _ in range(20):
            self.assertIsInstance(self.admit(gate, client="203.0.113.9"), HookConfig)
        self.assertEqual(
            gate.decide(hook("secret = env:SITE_SECRET"), token("guess"), 0.0),
            Refused(401, "signature mismatch"),
        )

    def test_judgeIsTheClientThenTheRequest(self) -> None:
        """judge, for a request alone, checks allow_from itself: no Intake before it."""
        site = hook(GENERIC_RATED)
        self.assertEqual(judge(site, token(client="203.0.113.9")), NOT_ALLOWED)
        self.assertIsInstance(judge(site, token()), Accepted)


CREDENTIALS = b"deploy:pass:with:colons"
"""RFC 7617: the user name ends at the first colon; the password may hold more."""
BASIC = "basic_auth = env:SITE_BASIC"
BASIC_ENVIRON = {**ENVIRON, "SITE_BASIC": CREDENTIALS.decode()}
GOOD = basic_header(CREDENTIALS)


def basic_hook(keys: str = "") -> HookConfig:
    return make_hook(BASIC + "\n" + keys, environ=BASIC_ENVIRON)


def with_authorization(incoming: Incoming, value: str | None) -> Incoming:
    headers = {k: v for k, v in incoming.headers.items() if k != "authorization"}
    if value is not None:
        headers["Authorization"] = value
    return evolve(incoming, headers=headers)


class BasicAuthTests(SynchronousTestCase):
    """basic_auth: HTTP Basic credentials, before and beside a forge's signature."""

    def generic(self, authorization: str | None) -> Incoming:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        return Incoming(b"{}", headers)

    def test_theCredentialsAreEnough(self) -> None:
        for value in (
            GOOD,
            "basic " + GOOD[6:],
            f"  BASIC  {GOOD[6:]} ",
        ):
            self.assertIsInstance(judge(basic_hook(), self.generic(value)), Accepted, value)

    def test_missingOrAnotherSchemeIsRequired(self) -> None:
        for value in (None, "", "Bearer " + GOOD[6:], GOOD[6:], "Basic", "Basic ", "Digest x"):
            outcome = judge(basic_hook(), self.generic(value))
            self.assertEqual(outcome, BASIC_REQUIRED, value)
        self.assertEqual(
            BASIC_REQUIRED,
            Refused(401, "basic credentials required", 'Basic realm="hookdaemon"'),
        )

    def test_wrongOrUnreadableIsAMismatch(self) -> None:
        for value in (
            basic_header(b"deploy:pass"),
            basic_header(b"deploy:pass:with:colons "),
            basic_header(b"other:pass:with:colons"),
            "Basic " + GOOD[6:].rstrip("="),  # unpadded: not base64 as RFC 4648 writes it
            "Basic !!!!",
            "Basic " + GOOD[6:] + "$",
            "Basic d\u00e9ploy",  # twisted.web hands headers over as latin-1 text
            "Basic " + CREDENTIALS.decode(),  # typed in clear, not base64
        ):
            outcome = judge(basic_hook(), self.generic(value))
            self.assertEqual(outcome, BASIC_MISMATCH, value)
        self.assertEqual(BASIC_MISMATCH.challenge, 'Basic realm="hookdaemon"')

    def test_withAGitHubSignatureBothMustPass(self) -> None:
        site = basic_hook(GITHUB)
        signed_push = signed_github("push.json")
        forged_push = signed_github("push.json", secret="guess")
        self.assertIsInstance(judge(site, with_authorization(signed_push, GOOD)), Accepted)
        self.assertEqual(
            judge(site, with_authorization(forged_push, GOOD)), Refused(401, "signature mismatch")
        )
        self.assertEqual(judge(site, signed_push), BASIC_REQUIRED)
        wrong = basic_header(b"deploy:guess")
        self.assertEqual(judge(site, with_authorization(signed_push, wrong)), BASIC_MISMATCH)
        self.assertEqual(judge(site, with_authorization(forged_push, wrong)), BASIC_MISMATCH)

    def test_giteaSendsTheHeaderAsTyped(self) -> None:
        """
        Gitea's webhook form has an "Authorization Header" field whose text is sent
        as it is (services/webhook/deliver.go, Deliver): "Basic <base64>" typed there.
        """
        site = basic_hook("forge = gitea\nsecret = env:SITE_SECRET")
        body = fixture_body("gitea", "push.json")
        push = fixture_incoming("gitea", "push.json", {**signed("gitea", SECRET, body)})
        self.assertIsInstance(judge(site, with_authorization(push, GOOD)), Accepted)
        self.assertEqual(judge(site, push), BASIC_REQUIRED)

    def test_bitbucketServerCredentialsAndSecret(self) -> None:
        site = basic_hook("forge = bitbucket-server\nsecret = env:SITE_SECRET")
        name = "repo-refs_changed.json"
        body = fixture_body("bitbucket-server", name)
        push = fixture_incoming(
            "bitbucket-server", name, {**signed("bitbucket-server", SECRET, body)}
        )
        self.assertIsInstance(judge(site, with_authorization(push, GOOD)), Accepted)

    def test_credentialsBeforeEverythingTheRequestSays(self) -> None:
        """Without them a caller learns nothing: not the forge, the type, nor the body's fault."""
        auto = basic_hook("forge = auto")
        self.assertEqual(judge(auto, self.generic(None)), BASIC_REQUIRED)
        self.assertEqual(
            judge(make_hook("forge = auto"), self.generic(None)),
            Refused(400, "the request does not look like any known forge's"),
        )
        text = Incoming(b"hello", {"Content-Type": "text/plain"})
        self.assertEqual(judge(basic_hook(), text), BASIC_REQUIRED)
        garbage = Incoming(b"{", {"Authorization": basic_header(b"deploy:guess")})
        self.assertEqual(judge(basic_hook(), garbage), BASIC_MISMATCH)

    def test_theClientAddressComesFirst(self) -> None:
        site = basic_hook("allow_from = 10.0.0.0/8")
        self.assertEqual(
            judge(site, evolve(self.generic(None), client="203.0.113.9")), NOT_ALLOWED
        )

    def test_wrongCredentialsCostDouble(self) -> None:
        gate = Intake({"site": basic_hook("rate = 2/minute")})
        site = basic_hook("rate = 2/minute")
        self.assertIsInstance(gate.admit("site", b"POST", "10.0.0.7", False, 0.0), HookConfig)
        outcome = gate.decide(site, evolve(self.generic(None), client="10.0.0.7"), 0.0)
        self.assertEqual(outcome, BASIC_REQUIRED)
        over = gate.admit("site", b"POST", "10.0.0.7", False, 1.0)
        assert isinstance(over, OverRate)
        self.assertEqual(over.retry_after, 29)
