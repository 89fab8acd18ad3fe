"""Tests for L{hookdaemon.status_access}: who may read the status endpoints, as function calls."""

from __future__ import annotations

from attrs import evolve
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.client_address import PROXY_HEADERS
from hookdaemon.config import Secret
from hookdaemon.status_access import StatusRequest, status_refusal

CURL = StatusRequest(
    peer="127.0.0.1",
    version="HTTP/1.1",
    hosts=("127.0.0.1:9000",),
    header_names=frozenset({"Host", "User-Agent", "Accept"}),
    authorization=None,
)
"""C{curl http://127.0.0.1:9000/jobs} on the daemon's machine."""

NGINX = StatusRequest(
    peer="127.0.0.1",
    version="HTTP/1.0",
    hosts=("127.0.0.1:9000",),
    header_names=frozenset({"Host", "Connection", "User-Agent", "Accept"}),
    authorization=None,
)
"""
What nginx 1.22 sent for C{location / { proxy_pass http://127.0.0.1:9000; }}, seen on
the wire: C{GET /jobs HTTP/1.0}, C{Host: 127.0.0.1:9000}, C{Connection: close}, then
the client's own headers.
"""


def with_header(request: StatusRequest, name: str) -> StatusRequest:
    return evolve(request, header_names=request.header_names | {name})


class WithoutTokenTests(SynchronousTestCase):
    def assertRefused(self, request: StatusRequest, *words: str) -> None:
        refusal = status_refusal(None, request)
        assert refusal is not None, request
        self.assertEqual(refusal.code, 403, request)
        self.assertIn("set status_token", refusal.reason)
        self.assertNotIn("\n", refusal.reason)
        for word in words:
            self.assertIn(word, refusal.reason, request)

    def test_localCallerAskingDirectlyIsAnswered(self) -> None:
        self.assertIsNone(status_refusal(None, CURL))
        for peer in ("127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"):
            self.assertIsNone(status_refusal(None, evolve(CURL, peer=peer)), peer)

    def test_peerOffThisMachineIsRefused(self) -> None:
        for peer in ("10.0.0.1", "203.0.113.9", "2001:db8::1", "", "not an address"):
            self.assertRefused(evolve(CURL, peer=peer), "loopback clients only")

    def test_anyProxyHeaderIsAProxiedClient(self) -> None:
        for name in PROXY_HEADERS:
            self.assertRefused(with_header(CURL, name), "unproxied", name)
            self.assertRefused(with_header(CURL, name.lower()), "unproxied", name)

    def test_nginxPlainProxyPassIsAProxiedClient(self) -> None:
        """No header gives nginx away; its HTTP/1.0 does."""
        self.assertRefused(NGINX, "unproxied", "HTTP/1.0")
        self.assertRefused(evolve(CURL, version="HTTP/1.0"), "HTTP/1.0")

    def test_http10WithoutHostIsRefused(self) -> None:
        self.assertRefused(evolve(NGINX, hosts=()), "HTTP/1.0")

    def test_hostNamingAnotherMachineIsRefused(self) -> None:
        """DNS rebinding: a page on evil.example, its name now resolving to 127.0.0.1."""
        for host in ("evil.example", "evil.example:9000", "backend", "127.0.0.1.nip.io"):
            self.assertRefused(evolve(CURL, hosts=(host,)), "DNS rebinding", "localhost")

    def test_missingOrRepeatedHostIsRefused(self) -> None:
        self.assertRefused(evolve(CURL, hosts=()), "DNS rebinding")
        self.assertRefused(evolve(CURL, hosts=("localhost", "localhost")), "DNS rebinding")

    def test_loopbackHostsAreAnswered(self) -> None:
        for host in ("localhost", "localhost:9000", "LocalHost.", "api.localhost:1", "[::1]:9000"):
            self.assertIsNone(status_refusal(None, evolve(CURL, hosts=(host,))), host)

    def test_http2IsNotOld(self) -> None:
        self.assertIsNone(status_refusal(None, evolve(CURL, version="HTTP/2")))

    def test_withoutTokenAnAuthorizationHeaderChangesNothing(self) -> None:
        self.assertIsNone(status_refusal(None, evolve(CURL, authorization="Bearer x")))
        self.assertRefused(evolve(NGINX, authorization="Bearer x"), "HTTP/1.0")


class WithTokenTests(SynchronousTestCase):
    TOKEN = Secret(origin="env:STATUS", value=b"t0ken")

    def test_theTokenAloneDecides(self) -> None:
        """Proxied, HTTP/1.0, any Host, from anywhere: the token is enough."""
        far = evolve(
            with_header(NGINX, "X-Forwarded-For"),
            peer="203.0.113.9",
            hosts=("hooks.example.org",),
        )
        for given in ("Bearer t0ken", "bearer t0ken"):
            self.assertIsNone(status_refusal(self.TOKEN, evolve(far, authorization=given)))

    def test_withoutTheTokenEvenALocalCallerIs401(self) -> None:
        for given in (None, "Bearer t0ke", "Bearer t0kenX", "Basic t0ken", ""):
            refusal = status_refusal(self.TOKEN, evolve(CURL, authorization=given))
            assert refusal is not None, given
            self.assertEqual(
                (refusal.code, refusal.reason), (401, "a valid status_token is required"), given
            )
