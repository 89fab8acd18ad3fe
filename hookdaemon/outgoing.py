"""
The one way the daemon calls out (commit statuses, chat notifications): HTTPS
whose certificates are checked, no redirects, one deadline per call, and failures
as one-line reasons that never hold a request's headers.

An IP address host (C{https://127.0.0.1:8443/}) is checked against the
certificate's IP address SANs by Twisted itself: C{ClientTLSOptions} sees that
the host is an address (C{isIPAddress}/C{isIPv6Address}), sends no SNI for it and
verifies it with service_identity's C{IPAddress_ID} (Twisted 26.10,
src/twisted/internet/_sslverify.py, C{_verifyCB}; since Twisted 19.2.0, #9585,
through C{verify_ip_address}). So no creator of our own is needed for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookiejar import DefaultCookiePolicy
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urlsplit

import service_identity  # Twisted falls back to a weaker check without it; fail loudly instead
from attrs import field, frozen
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL
from treq.client import HTTPClient
from treq.cookies import IndexableCookieJar
from twisted.internet import protocol, ssl
from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    BrowserLikePolicyForHTTPS,
    HTTPConnectionPool,
    ResponseDone,
    _HTTP11ClientFactory,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import IResponse

from hookdaemon.ca_file import read_ca
from hookdaemon.reactors import OutgoingReactor

__all__ = [
    "MAX_ANSWER_BYTES",
    "CallFailedError",
    "Caller",
    "Outgoing",
    "OutgoingAnswer",
    "OutgoingRequest",
    "load_ca",
]

MAX_ANSWER_BYTES = 64 * 1024
"""An answer is only ever read for a status's or a chat's reply: more is discarded."""

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "private-token", "cookie"})
"""Headers that hold credentials in every forge's API (GitLab's is PRIVATE-TOKEN)."""


def _lower_names(names: frozenset[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


def _read_only(headers: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(headers))


@frozen(repr=False)
class OutgoingRequest:
    """A call out, built by a sender; its repr hides credentials, as it may be logged."""

    method: str
    url: str
    headers: Mapping[str, str] = field(converter=_read_only)
    body: bytes = b""
    secret_headers: frozenset[str] = field(default=frozenset(), converter=_lower_names)
    secret_url: bool = False
    """The URL is a credential (a chat's incoming webhook): only its origin may be shown."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """What an error or a log line must not show: credentials' header values, a secret URL."""
        hidden = SECRET_HEADERS | self.secret_headers
        found = [v for name, v in self.headers.items() if name.lower() in hidden and v]
        # "Bearer <token>", "Basic <base64>": the credential alone, as an echo would quote it.
        found += [v.split(" ", 1)[1] for v in found if " " in v.strip()]
        if self.secret_url:
            parts = urlsplit(self.url)
            found.extend(part for part in (self.url, parts.path, parts.query) if len(part) > 1)
        # Longest first: where one holds another, the whole is hidden, not a piece.
        return tuple(sorted(found, key=len, reverse=True))

    def __repr__(self) -> str:
        hidden = SECRET_HEADERS | self.secret_headers
        shown = {
            name: "<hidden>" if name.lower() in hidden else value
            for name, value in self.headers.items()
        }
        url = f"{_origin(self.url)}/<hidden>" if self.secret_url else self.url
        return (
            f"OutgoingRequest(method={self.method!r}, url={url!r}, "
            f"headers={shown!r}, body=<{len(self.body)} bytes>)"
        )

    __str__ = __repr__


@frozen
class OutgoingAnswer:
    """An HTTP answer of any status: whether a 4xx or 5xx is worth a retry is the sender's call."""

    status: int
    body: bytes


class CallFailedError(Exception):
    """No HTTP answer: connection, TLS or certificate error, or the deadline passed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Caller(Protocol):
    """What sends a request out: L{Outgoing}, or a test's stand-in."""

    def send(self, request: OutgoingRequest) -> Deferred[OutgoingAnswer]:
        """An answer of any status, or L{CallFailedError} with a one-line reason."""

    def close(self) -> Deferred[None]:
        """Cancel the calls under way, which then fail; fires when all is closed."""


class Outgoing:
    """
    Calls out through treq, trusting the system's CAs or only those in C{ca_file}.

    The pool is not persistent: a deploy makes a few calls, and idle TLS
    connections to a forge would only wait to go stale. L{close} still has to
    be called at stop: it cancels the calls under way.
    """

    def __init__(
        self, reactor: OutgoingReactor, ca_file: str | None = None, timeout: float = 30.0
    ) -> None:
        trust: Any
        if ca_file is None:
            trust = ssl.platformTrust()
        else:
            trust = ssl.trustRootFromCertificates(_load_ca(ca_file))
        self._reactor = reactor
        self._timeout = timeout
        self._trusted = "the system's CAs" if ca_file is None else f"the CAs in {ca_file}"
        self._pool = _QuietPool(reactor, persistent=False)
        # No RedirectAgent: a token must not follow a 30x to another host.
        agent = Agent(reactor, contextFactory=BrowserLikePolicyForHTTPS(trust), pool=self._pool)
        # Calls carry their own credentials; a forge's cookies would only pile up.
        self._client = HTTPClient(
            agent, cookiejar=IndexableCookieJar(DefaultCookiePolicy(allowed_domains=[]))
        )
        self._calls: set[Deferred[OutgoingAnswer]] = set()

    def send(self, request: OutgoingRequest) -> Deferred[OutgoingAnswer]:
        """Make the call; an answer of any status, or L{CallFailedError} with a one-line reason."""
        origin = _origin(request.url)
        call: Deferred[OutgoingAnswer] = Deferred.fromCoroutine(self._call(request))

        def timed_out(result: object, timeout: float) -> Failure:
            # Whatever the cancellation left (ResponseNeverReceived, ...) is replaced.
            return Failure(CallFailedError(f"{origin}: no answer within {timeout:g} s"))

        call.addTimeout(self._timeout, self._reactor, onTimeoutCancel=timed_out)
        call.addErrback(_failed, origin, self._trusted, request.secrets)
        self._calls.add(call)

        def done(result: object) -> object:
            self._calls.discard(call)
            return result

        return call.addBoth(done)

    async def _call(self, request: OutgoingRequest) -> OutgoingAnswer:
        headers: dict[bytes | str, bytes | str] = {k: v for k, v in request.headers.items()}
        response: IResponse = await self._client.request(
            request.method,
            request.url,
            headers=headers,
            data=request.body or None,
            allow_redirects=False,
            unbuffered=True,
        )
        body = Deferred[bytes](lambda _: collector.stop())
        collector = _CappedBody(body)
        response.deliverBody(collector)
        return OutgoingAnswer(status=response.code, body=await body)

    def close(self) -> Deferred[None]:
        """Cancel the calls under way (each fails with a reason) and close the pool."""
        for call in list(self._calls):
            call.cancel()
        closed: Deferred[None] = self._pool.closeCachedConnections()
        return closed


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False  # "Starting factory ..." and "Stopping factory ..." for every call


class _QuietPool(HTTPConnectionPool):
    """
    A pool whose connections' factories do not log: each report would add two
    lines of Twisted's internals to the daemon's log. C{_factory} is the pool's
    documented hook for its factory class (twisted/web/client.py), though private.
    """

    _factory = _QuietFactory


class _CappedBody(protocol.Protocol):
    """Reads an answer's body up to L{MAX_ANSWER_BYTES}, then stops the transfer."""

    def __init__(self, done: Deferred[bytes]) -> None:
        self._done = done
        self._parts: list[bytes] = []
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        if self._done.called:
            return
        room = MAX_ANSWER_BYTES - self._size
        self._parts.append(data[:room])
        self._size += min(len(data), room)
        if self._size >= MAX_ANSWER_BYTES:
            self._done.callback(b"".join(self._parts))
            self.stop()

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure | None = None) -> None:
        assert reason is not None  # the body's end comes with one: ResponseDone, or why not
        if self._done.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):  # PotentialDataLoss: no length, EOF
            self._done.callback(b"".join(self._parts))
        else:
            self._done.errback(reason)


def _origin(url: str) -> str:
    """Scheme, host and port: what a reason may name (a path or query may hold a token)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": "443", "http": "80"}.get(parts.scheme, "")
        host = (
            f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
        )
        return f"{parts.scheme}://{host}:{port}"
    except ValueError:
        return "(a URL that cannot be read)"


def _failed(failure: Failure, origin: str, trusted: str, secrets: tuple[str, ...] = ()) -> Failure:
    """Any failure of a call as one L{CallFailedError} whose reason names its cause."""
    if failure.check(CallFailedError):
        return failure
    if failure.check(CancelledError):
        return Failure(CallFailedError(f"{origin}: cancelled (the daemon is stopping)"))
    # Agent wraps what ended the connection in ResponseNeverReceived/ResponseFailed/...
    causes = getattr(failure.value, "reasons", None) or [failure]
    reason = "; ".join(dict.fromkeys(_cause(origin, trusted, cause) for cause in causes))
    for secret in secrets:  # an error of a library's own could quote a header
        reason = reason.replace(secret, "<hidden>")
    return Failure(CallFailedError(reason))


def _cause(origin: str, trusted: str, cause: Failure) -> str:
    error = cause.value
    if isinstance(error, service_identity.VerificationError):
        host = urlsplit("//" + origin.split("://", 1)[-1]).hostname
        return f"{origin}: hostname mismatch: the server's certificate is not for {host}"
    if isinstance(error, SSL.Error):
        what = ", ".join(str(entry[-1]) for entry in error.args[0] if entry) if error.args else ""
        if "certificate verify failed" in what:
            # pyOpenSSL's error names no detail (its error queue holds none); the
            # trust store is what the user can change.
            return (
                f"{origin}: certificate verify failed: the server's certificate does not "
                f"chain to {trusted}, or is out of its validity period"
            )
        return f"{origin}: TLS error: {what or 'handshake failed'}"
    if isinstance(error, CancelledError):
        return f"{origin}: cancelled (the daemon is stopping)"
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{origin}: {text}"


def _load_ca(path: str) -> list[ssl.Certificate]:
    return [ssl.Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in load_ca(path)]


def load_ca(path: str) -> list[x509.Certificate]:
    """The certificates of the CA file at C{path}, or L{CAFileError} saying why not."""
    return read_ca(path, _read_bytes)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
