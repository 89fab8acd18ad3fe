"""
hookdaemon.testing: what it signs, every forge accepts, and nothing else; its
twistd serves a delivery and stops.
"""

from __future__ import annotations

import base64
import json

from attrs import frozen
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import Incoming
from hookdaemon.forges import FORGES, Forge
from hookdaemon.forges.generic import Generic
from hookdaemon.testing import TwistdDaemon, signed

NOW = 1_800_000_000.0
GITLAB_SIGNING = "whsec_" + base64.b64encode(b"k" * 32).decode()
HEX = "0123456789abcdef"
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


@frozen
class Scheme:
    """One way a forge in FORGES proves a delivery, as L{signed} makes it."""

    forge: str
    checked: dict[str, int]
    """
    The headers the forge checks, each with the length of its prefix that is
    not (C{sha256=}, C{v1,}, C{Bearer }): any other character changed refuses it.
    """
    body_signed: bool = True
    any_case: bool = False
    """The forge reads the hex digest in any case (GitHub, Bitbucket, generic)."""
    signing_token: bool = False
    """The secret is a GitLab signing token (C{whsec_} and a 32-byte key)."""
    signature_header: str = ""

    @property
    def verifier(self) -> Forge:
        if self.signature_header:
            return Generic(signature_header=self.signature_header)
        return FORGES[self.forge]


SCHEMES = [
    Scheme("github", {"X-Hub-Signature-256": len("sha256=")}, any_case=True),
    Scheme("gitlab", {"X-Gitlab-Token": 0}, body_signed=False),
    Scheme(
        "gitlab",
        {"webhook-id": 0, "webhook-timestamp": 0, "webhook-signature": len("v1,")},
        signing_token=True,
    ),
    Scheme("gitea", {"X-Gitea-Signature": 0}),
    # Forgejo sends Gitea's signature too, but checks its own when it is there.
    Scheme("forgejo", {"X-Forgejo-Signature": 0}),
    Scheme("gogs", {"X-Gogs-Signature": 0}),
    Scheme("bitbucket", {"X-Hub-Signature": len("sha256=")}, any_case=True),
    Scheme("bitbucket-server", {"X-Hub-Signature": len("sha256=")}, any_case=True),
    Scheme("generic", {"Authorization": len("Bearer ")}, body_signed=False),
    Scheme("generic", {"X-Sig": len("sha256=")}, any_case=True, signature_header="X-Sig"),
]

tokens = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1).filter(
    lambda token: not token.startswith("whsec_")  # a signing token, the scheme beside
)
keys = st.one_of(
    st.binary(min_size=1, max_size=64), st.text(min_size=1, max_size=32).map(str.encode)
)
signing_keys = st.binary(min_size=32, max_size=32)
replacements = st.one_of(
    st.sampled_from(HEX + BASE64), st.integers(min_value=0, max_value=255).map(chr)
)
"""A header arrives as latin-1: any of its 256 characters may be sent."""


def signing_token(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


def accepted(forge: str, secret: str, body: bytes, headers: dict[str, str]) -> bool:
    checker = FORGES[forge]
    return checker.authenticate(Incoming(body, headers, received_at=NOW), secret.encode())


class SignedTests(SynchronousTestCase):
    def test_everyForgeHasASchemeHere(self) -> None:
        self.assertEqual({scheme.forge for scheme in SCHEMES}, set(FORGES))

    @settings(max_examples=800, deadline=None)
    @given(
        scheme=st.sampled_from(SCHEMES),
        body=st.binary(max_size=512),
        sent=st.integers(min_value=1_000_000_000, max_value=4_000_000_000),
        skew=st.floats(min_value=-300, max_value=300, allow_nan=False),
        data=st.data(),
    )
    def test_everyForgeAcceptsWhatIsSignedAndNothingChanged(
        self, scheme: Scheme, body: bytes, sent: int, skew: float, data: st.DataObject
    ) -> None:
        """
        What signed() makes is accepted, received up to 300 s either side of its
        sending; a wrong secret, any changed byte of a signed body and any changed
        character of a checked header are refused, and for GitLab's signed form
        a delivery received over 300 s early or late.
        """
        forge = scheme.verifier
        secret: str | bytes
        if scheme.signing_token:
            key = data.draw(signing_keys)
            secret = signing_token(key)
            other = signing_token(data.draw(signing_keys.filter(lambda k: k != key)))
        elif scheme.body_signed:
            secret = data.draw(keys)
            other = secret + b"x"  # not b"\0": HMAC pads a short key with zeros
        else:
            secret = data.draw(tokens)
            other = secret + "x"
        headers = signed(
            scheme.forge,
            secret,
            body,
            now=sent,
            signature_header=scheme.signature_header,
            # Drawn, not uuid4(): what is drawn next depends on the header's characters.
            webhook_id=str(data.draw(st.uuids())),
        )
        key_bytes = secret.encode() if isinstance(secret, str) else secret
        other_bytes = other.encode() if isinstance(other, str) else other

        def passes(body: bytes, headers: dict[str, str], at: float = sent + skew) -> bool:
            return forge.authenticate(Incoming(body, headers, received_at=at), key_bytes)

        self.assertTrue(passes(body, headers))
        wrong = Incoming(body, headers, received_at=sent + skew)
        self.assertFalse(forge.authenticate(wrong, other_bytes))

        if scheme.body_signed and body:
            index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
            flip = data.draw(st.integers(min_value=1, max_value=255))
            changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
            self.assertFalse(passes(changed, headers))

        header = data.draw(st.sampled_from(sorted(scheme.checked)))
        value, kept = headers[header], scheme.checked[header]
        index = data.draw(st.integers(min_value=kept, max_value=len(value) - 1))
        replacement = data.draw(
            replacements.filter(
                lambda c: (
                    c != value[index]
                    and not (scheme.any_case and c.lower() == value[index].lower())
                )
            )
        )
        changed_value = value[:index] + replacement + value[index + 1 :]
        self.assertFalse(passes(body, {**headers, header: changed_value}), header)

        if scheme.signing_token:
            late = data.draw(st.floats(min_value=300.001, max_value=1e7, allow_nan=False))
            self.assertFalse(passes(body, headers, sent + late))
            self.assertFalse(passes(body, headers, sent - late))
            # Another id, or a timestamp still within tolerance: only the signature refuses.
            webhook_id = data.draw(
                st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1).filter(
                    lambda webhook_id: webhook_id != headers["webhook-id"]
                )
            )
            self.assertFalse(passes(body, {**headers, "webhook-id": webhook_id}))
            moved = data.draw(st.integers(min_value=-300, max_value=300).filter(bool))
            timestamp = {**headers, "webhook-timestamp": str(sent + moved)}
            self.assertFalse(passes(body, timestamp, sent))

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
