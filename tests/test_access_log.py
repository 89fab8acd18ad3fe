"""
L{hookdaemon.access_log}: no secret from a query string reaches the access log,
and its client is the one a trusted proxy names.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http import combinedLogFormatter
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from hookdaemon.access_log import access_log_formatter, redact_uri
from hookdaemon.request_state import IHookRequest


class RedactUriTests(SynchronousTestCase):
    def test_tokenValueIsReplaced(self) -> None:
        self.assertEqual(
            redact_uri(b"/hooks/a?x=1&token=abc&secret=def"),
            b"/hooks/a?x=1&token=REDACTED&secret=REDACTED",
        )

    def test_uriWithoutSecretsIsUnchanged(self) -> None:
        self.assertEqual(redact_uri(b"/hooks/a?x=1"), b"/hooks/a?x=1")
        self.assertEqual(redact_uri(b"/hooks/a"), b"/hooks/a")

    def test_unsplittableUriHidesItsWholeQuery(self) -> None:
        """An absolute-form target urlsplit refuses must not crash the access log."""
        self.assertEqual(
            redact_uri(b"http://[bad/hooks/a?token=abc"), b"http://[bad/hooks/a?REDACTED"
        )
        self.assertEqual(redact_uri(b"http://[bad/hooks/a"), b"http://[bad/hooks/a")


def logged_request(uri: bytes, peer: str = "192.0.2.1") -> Request:
    """A request for C{uri} from C{peer}, as the site hands it to the log formatter."""
    request = Request(DummyChannel())
    request.client = IPv4Address("TCP", peer, 4321)
    request.method = b"POST"
    request.uri = uri
    request.clientproto = b"HTTP/1.1"
    request.code = 202
    return request


class AccessLogFormatterTests(SynchronousTestCase):
    def test_clientIsTheOneTheAppResolved(self) -> None:
        request = logged_request(b"/hooks/a")
        IHookRequest(request).client = "10.1.2.3"
        self.assertTrue(access_log_formatter("-", request).startswith('"10.1.2.3" '))

    def test_resolvedIPv6Client(self) -> None:
        request = logged_request(b"/hooks/a")
        IHookRequest(request).client = "2001:db8::7"
        self.assertTrue(access_log_formatter("-", request).startswith('"2001:db8::7" '))

    def test_unreadableClientIsADash(self) -> None:
        request = logged_request(b"/hooks/a")
        IHookRequest(request).client = ""
        self.assertTrue(access_log_formatter("-", request).startswith('"-" '))

    def test_requestTheAppNeverSawShowsItsPeer(self) -> None:
        line = access_log_formatter("-", logged_request(b"/hooks/a", peer="192.0.2.9"))
        self.assertTrue(line.startswith('"192.0.2.9" '), line)

    def test_queryTokenIsRedacted(self) -> None:
        line = access_log_formatter("-", logged_request(b"/hooks/a?token=s3cret"))
        self.assertIn("/hooks/a?token=REDACTED", line)
        self.assertNotIn("s3cret", line)

    @given(
        method=st.binary(max_size=12),
        path=st.binary(max_size=40).filter(lambda b: b"?" not in b),
        version=st.sampled_from([b"HTTP/1.0", b"HTTP/1.1", b"HTTP/\x00"]),
        code=st.integers(100, 599),
        length=st.integers(0, 10**7),
        referrer=st.one_of(st.none(), st.binary(max_size=40)),
        agent=st.one_of(st.none(), st.binary(max_size=40)),
    )
    def test_theLineIsTwistedsCombinedLogFormat(
        self,
        method: bytes,
        path: bytes,
        version: bytes,
        code: int,
        length: int,
        referrer: bytes | None,
        agent: bytes | None,
    ) -> None:
        """Where nothing is redacted and the peer is the client: Twisted's very line."""
        request = logged_request(path)
        request.method, request.clientproto, request.code = method, version, code
        request.sentLength = length
        for name, value in ((b"referer", referrer), (b"user-agent", agent)):
            if value is not None:
                request.requestHeaders.setRawHeaders(name, [value])
        timestamp = "[04/Dec/2026:01:23:32 +0000]"
        self.assertEqual(
            access_log_formatter(timestamp, request), combinedLogFormatter(timestamp, request)
        )
