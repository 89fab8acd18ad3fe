"""
hookdaemon.testing: what it signs, every forge accepts, and nothing else; its
twistd serves a delivery and stops.
"""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import Incoming
from hookdaemon.forges import FORGES
from hookdaemon.forges.generic import Generic
from hookdaemon.testing import TwistdDaemon, signed

NOW = 1_800_000_000.0
GITLAB_SIGNING = "whsec_" + base64.b64encode(b"k" * 32).decode()

TOKEN_SCHEMES = frozenset({"gitlab", "generic"})
"""Forges whose plain credential is the token itself: the body is not covered."""


def accepted(forge: str, secret: str, body: bytes, headers: dict[str, str]) -> bool:
    checker = FORGES[forge]
    return checker.authenticate(Incoming(body, headers, received_at=NOW), secret.encode())


class SignedTests(SynchronousTestCase):
    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(
        forge=st.sampled_from(sorted(FORGES)),
        secret=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
        body=st.binary(min_size=1, max_size=300),
        flip=st.integers(min_value=0),
    )
    def test_everyForgeAcceptsWhatIsSignedAndNothingChanged(
        self, forge: str, secret: str, body: bytes, flip: int
    ) -> None:
        if forge == "gitlab" and secret.startswith("whsec_"):
            secret = "x" + secret  # a plain token here; the signed form is tested below
        headers = signed(forge, secret, body, now=NOW)
        self.assertTrue(accepted(forge, secret, body, headers))
        self.assertFalse(accepted(forge, secret + "x", body, headers))
        if forge not in TOKEN_SCHEMES:
            at = flip % len(body)
            changed = body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]
            self.assertFalse(accepted(forge, secret, changed, headers))

    def test_gitlabSigningTokenSignsTheStandardWebhooksForm(self) -> None:
        body = b'{"object_kind": "push"}'
        headers = signed("gitlab", GITLAB_SIGNING, body, now=NOW)
        self.assertEqual(sorted(headers), ["webhook-id", "webhook-signature", "webhook-timestamp"])
        self.assertTrue(accepted("gitlab", GITLAB_SIGNING, body, headers))
        self.assertFalse(accepted("gitlab", GITLAB_SIGNING, body + b" ", headers))
        # Without its padding the token is the same key.
        self.assertTrue(
            accepted(
                "gitlab",
                GITLAB_SIGNING,
                body,
                signed("gitlab", GITLAB_SIGNING.rstrip("="), body, now=NOW),
            )
        )

    def test_genericSignatureHeader(self) -> None:
        body = b'{"ref": "refs/heads/main"}'
        headers = signed("generic", "k", body, signature_header="X-Sig")
        hook = Generic(signature_header="X-Sig")
        self.assertTrue(hook.authenticate(Incoming(body, headers), b"k"))
        self.assertFalse(hook.authenticate(Incoming(body + b" ", headers), b"k"))

    def test_unknownForge(self) -> None:
        self.assertRaises(ValueError, signed, "gitee", "k", b"{}")


class TwistdDaemonTests(SynchronousTestCase):
    def test_servesASignedDeliveryAndStops(self) -> None:
        daemon = TwistdDaemon(
            self.mktemp(),
            "[hook:site]\nforge = github\nsecret = env:TESTING_SECRET\nworkdir = .\n"
            "command = echo deployed ${HOOK_AFTER}\n",
            environ={"TESTING_SECRET": "s3"},
        ).start()
        self.addCleanup(daemon.stop)
        body = json.dumps({"ref": "refs/heads/main", "after": "a" * 40}).encode()
        headers = {"X-GitHub-Event": "push", **signed("github", "s3", body)}
        code, answer = daemon.post("/hooks/site", body, headers)
        self.assertEqual(code, 202, answer)
        self.assertEqual(daemon.wait_finished(answer["job"])["state"], "succeeded")
        self.assertIn("stdout deployed " + "a" * 40, daemon.output("site"))
        code, _ = daemon.post("/hooks/site", body, {"X-GitHub-Event": "push"})
        self.assertEqual(code, 401)
        daemon.stop()
        self.assertIsNotNone(daemon.process.poll())
