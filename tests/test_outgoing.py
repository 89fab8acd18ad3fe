"""
L{hookdaemon.outgoing} against a real HTTPS server on 127.0.0.1 with
certificates from a CA made for the test.
"""

from __future__ import annotations

import os
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from hookdaemon.ca_file import CAFileError
from hookdaemon.outgoing import (
    MAX_ANSWER_BYTES,
    CallFailedError,
    Outgoing,
    OutgoingAnswer,
    OutgoingRequest,
    _failed,
    load_ca,
)
from hookdaemon.reactors import OutgoingReactor
from tests.fake_api import HANG, Answer, FakeApi, TestCA

REACTOR = cast(OutgoingReactor, reactor)

TOKEN = "glpat-very-secret-token"


def status_request(url: str, **headers: str) -> OutgoingRequest:
    return OutgoingRequest(
        method="POST",
        url=url + "/api/v4/projects/7/statuses/abc123?name=deploy",
        headers={"Content-Type": "application/json", "PRIVATE-TOKEN": TOKEN, **headers},
        body=b'{"state": "success"}',
    )


class CallsOut(TestCase):
    """Calls over HTTPS to a fake API whose certificate the test's CA issued."""

    def setUp(self) -> None:
        self.ca = TestCA()
        self.ca_file = self.ca.write(os.path.abspath(self.mktemp()))

    async def serve(
        self, names: tuple[str, ...] = ("127.0.0.1",), answers: list[Answer] | None = None
    ) -> FakeApi:
        api = await FakeApi(self.ca.issue(names), answers or []).start()
        self.addCleanup(api.stop)
        return api

    def outgoing(self, ca_file: str | None = None, timeout: float = 10.0) -> Outgoing:
        outgoing = Outgoing(REACTOR, ca_file=ca_file, timeout=timeout)
        self.addCleanup(outgoing.close)
        return outgoing

    async def refused(self, call: Deferred[OutgoingAnswer]) -> str:
        """The reason a call that must fail failed with."""
        try:
            answer = await call
        except CallFailedError as e:
            self.assertNotIn("\n", e.reason)
            self.assertNotIn(TOKEN, e.reason)
            return e.reason
        self.fail(f"answered {answer}")

    async def test_trustedCallIsSentExactly(self) -> None:
        """With the CA trusted, the server sees the method, path, query, headers and body sent."""
        api = await self.serve()
        answer = await self.outgoing(self.ca_file).send(status_request(api.url))
        self.assertEqual(answer, OutgoingAnswer(201, b"{}"))
        [seen] = await api.received(1)
        self.assertEqual(seen.method, "POST")
        self.assertEqual(seen.path, "/api/v4/projects/7/statuses/abc123?name=deploy")
        self.assertEqual(seen.headers["private-token"], TOKEN)
        self.assertEqual(seen.headers["content-type"], "application/json")
        self.assertEqual(seen.body, b'{"state": "success"}')
        self.assertEqual(seen.json, {"state": "success"})

    async def test_certificateForAnotherNameIsRefused(self) -> None:
        """A certificate the trusted CA issued, but for another host, is refused as such."""
        api = await self.serve(names=("forge.example",))
        reason = await self.refused(self.outgoing(self.ca_file).send(status_request(api.url)))
        self.assertIn("hostname mismatch", reason)
        self.assertIn("127.0.0.1", reason)
        self.assertEqual(api.requests, [])

    async def test_addressIsCheckedAgainstIpSans(self) -> None:
        """An IP address host is matched with the certificate's IP SANs, not its DNS names."""
        api = await self.serve(names=("127.0.0.2", "127.0.0.1.example"))
        reason = await self.refused(self.outgoing(self.ca_file).send(status_request(api.url)))
        self.assertIn("hostname mismatch", reason)

    async def test_systemStoreDoesNotTrustTestCA(self) -> None:
        """Without a CA file only the system's CAs are trusted: the test CA is not one."""
        api = await self.serve()
        reason = await self.refused(self.outgoing().send(status_request(api.url)))
        self.assertIn("certificate verify failed", reason)
        self.assertIn("the system's CAs", reason)
        self.assertEqual(api.requests, [])

    async def test_anotherCAFileDoesNotTrustTestCA(self) -> None:
        """A CA file trusts only its own certificates, not the system's nor another CA's."""
        api = await self.serve()
        other = TestCA("another CA").write(os.path.abspath(self.mktemp()))
        reason = await self.refused(self.outgoing(other).send(status_request(api.url)))
        chain = "certificate verify failed: the server's certificate does not chain to"
        self.assertIn(f"{chain} the CAs in {other}", reason)

    async def test_caFileOfSeveralCertificates(self) -> None:
        """Every certificate in a CA file is trusted."""
        api = await self.serve()
        both = os.path.abspath(self.mktemp())
        with open(both, "wb") as f:
            f.write(TestCA("another CA").pem + self.ca.pem)
        answer = await self.outgoing(both).send(status_request(api.url))
        self.assertEqual(answer.status, 201)

    async def test_noAnswerTimesOut(self) -> None:
        """A server that never answers fails the call once its deadline passes."""
        api = await self.serve(answers=[HANG])
        call = self.outgoing(self.ca_file, timeout=0.5).send(status_request(api.url))
        reason = await self.refused(call)
        self.assertIn("no answer within 0.5 s", reason)

    async def test_connectionRefused(self) -> None:
        """A port nobody listens on is a failure naming the host, not the path."""
        api = await self.serve()
        url = api.url
        await api.stop()
        reason = await self.refused(self.outgoing(self.ca_file).send(status_request(url)))
        self.assertTrue(reason.startswith(url + ": "), reason)
        self.assertIn("refused", reason.lower())
        self.assertNotIn("statuses", reason)

    async def test_errorStatusesAreAnswers(self) -> None:
        """A 502 or a 422 is the forge's answer, for the sender to judge, not a failure."""
        api = await self.serve(answers=[(502, b"bad gateway"), (422, {"message": "no such sha"})])
        outgoing = self.outgoing(self.ca_file)
        first = await outgoing.send(status_request(api.url))
        second = await outgoing.send(status_request(api.url))
        self.assertEqual(first, OutgoingAnswer(502, b"bad gateway"))
        self.assertEqual(second, OutgoingAnswer(422, b'{"message": "no such sha"}'))

    async def test_redirectIsNotFollowed(self) -> None:
        """A 30x comes back as it is: the token is not sent on to where it points."""
        elsewhere = await self.serve()
        api = await self.serve(answers=[(302, b"", {"Location": elsewhere.url + "/steal"})])
        answer = await self.outgoing(self.ca_file).send(status_request(api.url))
        self.assertEqual(answer.status, 302)
        self.assertEqual(len(api.requests), 1)
        self.assertEqual(elsewhere.requests, [])

    async def test_answerBodyIsCapped(self) -> None:
        """Only the first MAX_ANSWER_BYTES of an answer are kept."""
        big = b"x" * (MAX_ANSWER_BYTES * 4)
        api = await self.serve(answers=[(200, big)])
        answer = await self.outgoing(self.ca_file).send(status_request(api.url))
        self.assertEqual(answer, OutgoingAnswer(200, big[:MAX_ANSWER_BYTES]))

    async def test_cookiesAreNotKept(self) -> None:
        """A cookie an API sets is not sent back: calls carry their own credentials."""
        api = await self.serve(answers=[(200, b"", {"Set-Cookie": "session=abc; Path=/"})])
        outgoing = self.outgoing(self.ca_file)
        await outgoing.send(status_request(api.url))
        await outgoing.send(status_request(api.url))
        second = (await api.received(2))[1]
        self.assertNotIn("cookie", second.headers)

    async def test_plainHttp(self) -> None:
        """http: URLs work too (a chat relay on the same host)."""
        api = await FakeApi().start()
        self.addCleanup(api.stop)
        answer = await self.outgoing().send(status_request(api.url))
        self.assertEqual(answer.status, 201)

    async def test_closeCancelsCallsUnderWay(self) -> None:
        """close() at stop ends a call still waiting, with a reason."""
        api = await self.serve(answers=[HANG])
        outgoing = Outgoing(REACTOR, ca_file=self.ca_file)
        call = outgoing.send(status_request(api.url))
        await api.received(1)
        await outgoing.close()
        self.assertIn("cancelled", await self.refused(call))


class RequestRepr(SynchronousTestCase):
    def test_reprHidesCredentials(self) -> None:
        """Authorization, PRIVATE-TOKEN and headers named secret never show in a repr."""
        request = OutgoingRequest(
            "POST",
            "https://forge.example/api",
            {"Authorization": "Bearer " + TOKEN, "PRIVATE-TOKEN": TOKEN, "X-Hook-Key": TOKEN},
            b"{}",
            secret_headers=frozenset({"x-hook-key"}),
        )
        for text in (repr(request), str(request)):
            self.assertNotIn(TOKEN, text)
            self.assertIn("Authorization", text)
            self.assertIn("forge.example", text)

    def test_aSecretUrlShowsOnlyItsOrigin(self) -> None:
        """A chat webhook URL is a credential: repr and secrets hide all but its origin."""
        url = "https://chat.example:8443/hooks/T000/B000/XXXsecret?key=k3y"
        request = OutgoingRequest("POST", url, {}, b"{}", secret_url=True)
        for text in (repr(request), str(request)):
            self.assertNotIn("XXXsecret", text)
            self.assertIn("https://chat.example:8443/<hidden>", text)
        self.assertEqual(request.secrets, (url, "/hooks/T000/B000/XXXsecret", "key=k3y"))

    def test_secretsHoldTheCredentialWithoutItsScheme(self) -> None:
        """A forge that quotes the token alone, not "Bearer token", is caught too."""
        request = OutgoingRequest(
            "POST", "https://forge.example/", {"Authorization": "Bearer t0k"}
        )
        self.assertEqual(request.secrets, ("Bearer t0k", "t0k"))

    def test_headersCannotBeChangedAfter(self) -> None:
        """The request keeps its own copy: a caller's dict changed later does not change it."""
        headers = {"Accept": "application/json"}
        request = OutgoingRequest("GET", "https://forge.example/", headers, b"")
        headers["Authorization"] = TOKEN
        self.assertEqual(dict(request.headers), {"Accept": "application/json"})


class Reasons(SynchronousTestCase):
    def test_reasonNeverQuotesASecret(self) -> None:
        """Even an error that quotes a header's value is reported without it."""
        quoted = Failure(ValueError(f"bad header value {TOKEN!r}"))
        reason = _failed(quoted, "https://forge.example:443", "the system's CAs", (TOKEN,))
        self.assertEqual(
            reason.value.reason,  # type: ignore[union-attr]
            "https://forge.example:443: bad header value '<hidden>'",
        )


def load_ca_problem(path: str) -> str | None:
    try:
        load_ca(path)
    except CAFileError as e:
        return str(e)
    return None


class LoadCAProblem(SynchronousTestCase):
    def write(self, data: bytes) -> str:
        path: str = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_good(self) -> None:
        self.assertIsNone(load_ca_problem(TestCA().write(self.mktemp())))

    def test_missing(self) -> None:
        path = self.mktemp()
        self.assertEqual(
            load_ca_problem(path),
            f"{path} does not exist; name a PEM file of the CA certificates to trust",
        )

    def test_unreadable(self) -> None:
        path = self.mktemp()
        os.mkdir(path)
        problem: Any = load_ca_problem(path)
        self.assertIn("cannot be read", problem)

    def test_noCertificate(self) -> None:
        problem: Any = load_ca_problem(self.write(b"just text\n"))
        self.assertIn("holds no PEM certificate", problem)

    def test_brokenCertificate(self) -> None:
        broken = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
        problem: Any = load_ca_problem(self.write(broken))
        self.assertIn("cannot be read", problem)

    def test_outgoingRefusesABadFile(self) -> None:
        """Outgoing will not start with a CA file it cannot use (it would trust nothing)."""
        self.assertRaises(ValueError, Outgoing, REACTOR, self.mktemp())
