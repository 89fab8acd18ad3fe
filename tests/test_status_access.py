"""
Tests for L{hookdaemon.status_access}: who may read the job API and who may also
replay and cancel jobs, as function calls, and as L{HookApp._refuse_status}
answers them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from attrs import evolve
from twisted.internet.address import IPv4Address
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from hookdaemon.client_address import PROXY_HEADERS
from hookdaemon.config import Secret, parse_config
from hookdaemon.status_access import (
    NO_TOKENS,
    StatusRefusal,
    StatusRequest,
    Tokens,
    held,
    status_refusal,
)
from hookdaemon.testing import InMemoryApp, StubJobs
from hookdaemon.web import HookApp

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
        for act in (False, True):
            refusal = status_refusal(NO_TOKENS, request, act=act)
            assert refusal is not None, request
            self.assertEqual(refusal.code, 403, request)
            self.assertIn("set status_token", refusal.reason)
            self.assertNotIn("\n", refusal.reason)
            for word in words:
                self.assertIn(word, refusal.reason, request)

    def test_localCallerAskingDirectlyIsAnswered(self) -> None:
        self.assertIsNone(status_refusal(NO_TOKENS, CURL))
        self.assertIsNone(status_refusal(NO_TOKENS, CURL, act=True))
        for peer in ("127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"):
            self.assertIsNone(status_refusal(NO_TOKENS, evolve(CURL, peer=peer)), peer)

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
            self.assertIsNone(status_refusal(NO_TOKENS, evolve(CURL, hosts=(host,))), host)

    def test_http2IsNotOld(self) -> None:
        self.assertIsNone(status_refusal(NO_TOKENS, evolve(CURL, version="HTTP/2")))

    def test_withoutTokenAnAuthorizationHeaderChangesNothing(self) -> None:
        self.assertIsNone(status_refusal(NO_TOKENS, evolve(CURL, authorization="Bearer x")))
        self.assertRefused(evolve(NGINX, authorization="Bearer x"), "HTTP/1.0")


def secret(value: str) -> Secret:
    return Secret(origin="env:TOKEN", value=value.encode())


def bearer(token: str | None) -> StatusRequest:
    """A request from far away through a proxy, which only a token can let in."""
    far = evolve(
        with_header(NGINX, "X-Forwarded-For"), peer="203.0.113.9", hosts=("hooks.example.org",)
    )
    return evolve(far, authorization=None if token is None else f"Bearer {token}")


STATUS = Tokens(status=(secret("t0ken"),))
OPERATOR = Tokens(operator=(secret("0perator"),))
BOTH = Tokens(status=(secret("t0ken"),), operator=(secret("0perator"),))
NEEDS_STATUS = (401, "a valid status_token is required")
NEEDS_OPERATOR = (401, "a valid operator_token is required")
NO_OPERATOR = (403, "set operator_token to replay or cancel jobs")
READ_ONLY = (
    403,
    "this status_token may read jobs but not replay or cancel them; use an operator_token",
)


class WithTokenTests(SynchronousTestCase):
    def decided(
        self, tokens: Tokens, request: StatusRequest, act: bool = False
    ) -> tuple[int, str] | None:
        refusal = status_refusal(tokens, request, act=act)
        return None if refusal is None else (refusal.code, refusal.reason)

    def test_theTokenAloneDecides(self) -> None:
        """Proxied, HTTP/1.0, any Host, from anywhere: the token is enough."""
        for given in ("Bearer t0ken", "bearer t0ken", "  BEARER   t0ken "):
            self.assertIsNone(
                status_refusal(STATUS, evolve(bearer(None), authorization=given)), given
            )

    def test_withoutTheTokenEvenALocalCallerIs401(self) -> None:
        for given in (None, "Bearer t0ke", "Bearer t0kenX", "Basic t0ken", "", "Bearer "):
            refusal = status_refusal(STATUS, evolve(CURL, authorization=given))
            self.assertEqual(refusal, StatusRefusal(*NEEDS_STATUS), given)

    def test_rotation(self) -> None:
        """While a token is rotated both the old and the new one read; any other does not."""
        rotating = Tokens(status=(secret("old-one"), secret("new-one")))
        self.assertIsNone(self.decided(rotating, bearer("old-one")))
        self.assertIsNone(self.decided(rotating, bearer("new-one")))
        for other in ("old-onenew-one", "new-on", "", None):
            self.assertEqual(self.decided(rotating, bearer(other)), NEEDS_STATUS, other)
        operators = Tokens(operator=(secret("old-op"), secret("new-op")))
        for token in ("old-op", "new-op"):
            self.assertIsNone(self.decided(operators, bearer(token), act=True), token)

    def test_statusTokenOnlyReadsAndNobodyActs(self) -> None:
        """status_token without operator_token: acting needs a token that does not exist."""
        self.assertIsNone(self.decided(STATUS, bearer("t0ken")))
        self.assertEqual(self.decided(STATUS, bearer("t0ken"), act=True), NO_OPERATOR)
        for other in (None, "0perator", "wrong"):
            self.assertEqual(self.decided(STATUS, bearer(other)), NEEDS_STATUS, other)
            self.assertEqual(self.decided(STATUS, bearer(other), act=True), NEEDS_STATUS, other)
        # Loopback does not help once a token is set, for reading or acting.
        self.assertEqual(self.decided(STATUS, CURL, act=True), NEEDS_STATUS)

    def test_operatorTokenOnlyReadsAndActs(self) -> None:
        for act in (False, True):
            self.assertIsNone(self.decided(OPERATOR, bearer("0perator"), act=act), act)
            for other in (None, "t0ken", "0perato"):
                self.assertEqual(self.decided(OPERATOR, bearer(other), act=act), NEEDS_OPERATOR)
            self.assertEqual(self.decided(OPERATOR, CURL, act=act), NEEDS_OPERATOR)

    def test_bothReadOnlyOneActs(self) -> None:
        self.assertIsNone(self.decided(BOTH, bearer("t0ken")))
        self.assertEqual(self.decided(BOTH, bearer("t0ken"), act=True), READ_ONLY)
        self.assertIsNone(self.decided(BOTH, bearer("0perator")))
        self.assertIsNone(self.decided(BOTH, bearer("0perator"), act=True))
        for other in (None, "wrong", "t0ken0perator"):
            self.assertEqual(self.decided(BOTH, bearer(other)), NEEDS_STATUS, other)
            self.assertEqual(self.decided(BOTH, bearer(other), act=True), NEEDS_OPERATOR, other)

    def test_aTokenInBothListsMayAct(self) -> None:
        shared = Tokens(status=(secret("same"),), operator=(secret("same"),))
        self.assertIsNone(self.decided(shared, bearer("same"), act=True))

    def test_everyTokenIsCompared(self) -> None:
        """
        Comparing stops at no match: every token of both lists is read once,
        whichever matched, so the time taken does not say which one it was.
        """

        class Counted:
            def __init__(self, value: bytes) -> None:
                self._value = value
                self.reads = 0

            @property
            def value(self) -> bytes:
                self.reads += 1
                return self._value

        for given, act in (("s1", False), ("s3", False), ("o1", True), ("nothing", True)):
            status = [Counted(b"s1"), Counted(b"s2"), Counted(b"s3")]
            operator = [Counted(b"o1"), Counted(b"o2")]
            tokens = Tokens(
                status=cast(tuple[Secret, ...], tuple(status)),
                operator=cast(tuple[Secret, ...], tuple(operator)),
            )
            status_refusal(tokens, bearer(given), act=act)
            self.assertEqual([c.reads for c in status + operator], [1] * 5, given)

    def test_held(self) -> None:
        tokens = (secret("a"), secret("b"))
        self.assertTrue(held("a", tokens))
        self.assertTrue(held("b", tokens))
        self.assertFalse(held("ab", tokens))
        self.assertFalse(held(None, tokens))
        self.assertFalse(held("a", ()))

    def test_tokensOfTheDaemonSection(self) -> None:
        daemon = parse_config(
            "[hookdaemon]\nstatus_token = env:A env:B\noperator_token = env:C\n",
            "/etc/hookdaemon/tap.cfg",
            {"A": "a", "B": "b", "C": "c"},
            lambda path: b"",
        ).daemon
        self.assertEqual(
            Tokens.of(daemon),
            Tokens(
                status=(Secret("env:A", b"a"), Secret("env:B", b"b")),
                operator=(Secret("env:C", b"c"),),
            ),
        )
        self.assertFalse(NO_TOKENS.any)
        self.assertTrue(Tokens.of(daemon).any)


def job_api_request(
    authorization: str | None = None, peer: str = "127.0.0.1", host: str = "localhost"
) -> DummyRequest:
    """A request to the job API as twisted.web hands it over, with its peer and headers."""
    request = DummyRequest([b"jobs"])
    request.client = IPv4Address("TCP", peer, 40000)  # its __init__ drops a client given
    request.clientproto = b"HTTP/1.1"
    request.requestHeaders.setRawHeaders(b"host", [host.encode()])
    if authorization is not None:
        request.requestHeaders.setRawHeaders(b"authorization", [authorization.encode()])
    return request


class RefuseStatusTests(SynchronousTestCase):
    """L{HookApp._refuse_status}: the answer a refused read or act gets, headers and all."""

    READER = Secret("env:STATUS", b"reader-token")
    OPERATOR = Secret("env:OPERATOR", b"operator-token")

    def app(self, tokens: Tokens) -> HookApp:
        return InMemoryApp({}, jobs=StubJobs(), tokens=tokens).app

    def refused(
        self, tokens: Tokens, request: DummyRequest, act: bool
    ) -> tuple[int | None, Any, Sequence[bytes] | None] | None:
        body = self.app(tokens)._refuse_status(request, act=act)  # type: ignore[arg-type]
        if body is None:
            return None
        headers = request.responseHeaders.getRawHeaders(b"www-authenticate")
        return request.responseCode, json.loads(body), headers

    def test_noTokensLetADirectLocalCallerReadAndAct(self) -> None:
        for act in (False, True):
            self.assertIsNone(self.refused(Tokens(), job_api_request(), act))
            refused = self.refused(Tokens(), job_api_request(peer="203.0.113.9"), act)
            assert refused is not None
            code, body, challenge = refused
            self.assertEqual((code, challenge), (403, None))
            self.assertIn("loopback clients only", body["error"])

    def test_aStatusTokenReadsButDoesNotAct(self) -> None:
        tokens = Tokens(status=(self.READER,))
        self.assertIsNone(self.refused(tokens, job_api_request("Bearer reader-token"), False))
        self.assertEqual(
            self.refused(tokens, job_api_request("Bearer reader-token"), True),
            (403, {"error": "set operator_token to replay or cancel jobs"}, None),
        )
        for act in (False, True):
            self.assertEqual(
                self.refused(tokens, job_api_request(), act),
                (401, {"error": "a valid status_token is required"}, [b"Bearer"]),
            )

    def test_anOperatorTokenReadsAndActs(self) -> None:
        tokens = Tokens(status=(self.READER,), operator=(self.OPERATOR,))
        for act in (False, True):
            request = job_api_request("Bearer operator-token", peer="203.0.113.9")
            self.assertIsNone(self.refused(tokens, request, act))
        self.assertEqual(
            self.refused(tokens, job_api_request("Bearer reader-token"), True),
            (
                403,
                {
                    "error": "this status_token may read jobs but not replay or cancel them; "
                    "use an operator_token"
                },
                None,
            ),
        )
        self.assertEqual(
            self.refused(tokens, job_api_request("Bearer guess"), True),
            (401, {"error": "a valid operator_token is required"}, [b"Bearer"]),
        )

    def test_readIsTheDefault(self) -> None:
        app = self.app(Tokens(status=(self.READER,)))
        self.assertIsNone(app._refuse_status(job_api_request("Bearer reader-token")))  # type: ignore[arg-type]

    def test_aReloadChangesTheTokens(self) -> None:
        app = self.app(Tokens(status=(self.READER,)))
        app.reconfigure({}, Tokens(operator=(self.OPERATOR,)), ())
        request = job_api_request("Bearer reader-token")
        self.assertIsNotNone(app._refuse_status(request))  # type: ignore[arg-type]
        request = job_api_request("Bearer operator-token")
        self.assertIsNone(app._refuse_status(request, act=True))  # type: ignore[arg-type]
