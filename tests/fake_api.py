"""
Test support for calls out: a CA that issues server certificates, and a forge or
chat API that records what it is sent and answers from a script.

L{FakeApi} only listens on 127.0.0.1, so the caller may be this process or a
real C{twistd} child given L{TestCA.write}'s file as its CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred, succeed
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.ssl import CertificateOptions
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

HANG = None
"""An answer that never comes: the request stays open until the client gives up."""

Answer = tuple[int, Any] | tuple[int, Any, Mapping[str, str]] | None
"""(status, body) or (status, body, headers), or L{HANG}; a body not bytes is sent as JSON."""

DEFAULT_ANSWER: Answer = (201, b"{}")


@frozen
class Issued:
    """A certificate and its key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


class TestCA:
    """A certificate authority made for one test: its certificates are trusted only where it is."""

    def __init__(self, name: str = "hookdaemon test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            _builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write(self, path: str) -> str:
        """Write the CA certificate as PEM, for a C{ca_file}; the path."""
        with open(path, "wb") as f:
            f.write(self.pem)
        return path

    def issue(self, names: Iterable[str] = ("127.0.0.1",)) -> Issued:
        """A server certificate whose SANs are C{names}: IP addresses where they read as one."""
        names = tuple(names)
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        certificate = (
            _builder(subject, self.certificate.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        return Issued(certificate, key)


def _builder(subject: x509.Name, issuer: x509.Name, key: Any) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )


@frozen
class Received:
    """One request as the fake saw it."""

    method: str
    path: str  # with its query
    headers: dict[str, str]  # names lower-cased; repeated headers joined with ", "
    body: bytes
    json: Any  # the body parsed, or None if it is not JSON


class _Recorder(Resource):
    isLeaf = True

    def __init__(self, api: FakeApi) -> None:
        super().__init__()
        self._api = api

    def render(self, request: Request) -> bytes | int:
        return self._api._answer(request)


class _Site(Site):
    """Keeps its open connections, so L{FakeApi.stop} can wait until they are gone."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource)
        self.noisy = False
        self.open: dict[object, Deferred[None]] = {}

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        assert protocol is not None
        lost: Deferred[None] = Deferred()
        self.open[protocol] = lost
        original = protocol.connectionLost

        def connectionLost(reason: Any) -> None:
            original(reason)
            del self.open[protocol]
            lost.callback(None)

        protocol.connectionLost = connectionLost
        return protocol


class FakeApi:
    """
    An HTTP(S) API on 127.0.0.1: records every request in order, answers each
    with the next of C{answers}, then with C{default}.
    """

    def __init__(
        self,
        certificate: Issued | None = None,
        answers: Sequence[Answer] = (),
        default: Answer = DEFAULT_ANSWER,
    ) -> None:
        self._certificate = certificate
        self.answers = list(answers)
        self.default = default
        self.requests: list[Received] = []
        self._waiting: list[tuple[int, Deferred[list[Received]]]] = []
        self._hanging: list[Request] = []
        self._site = _Site(_Recorder(self))
        self._port: IListeningPort | None = None
        self._address: int | None = None

    async def start(self) -> FakeApi:
        """Listen on an ephemeral port; TLS if a certificate was given."""
        endpoint: Any
        if self._certificate is None:
            endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        else:
            options = CertificateOptions(
                privateKey=_pyopenssl_key(self._certificate.key),
                certificate=_pyopenssl_certificate(self._certificate.certificate),
            )
            endpoint = SSL4ServerEndpoint(reactor, 0, options, interface="127.0.0.1")
        self._port = await endpoint.listen(self._site)
        self._address = self._port.getHost().port  # type: ignore[union-attr]
        return self

    @property
    def url(self) -> str:
        """C{https://127.0.0.1:PORT} (or http:), without a trailing slash."""
        assert self._address is not None, "start() first"
        scheme = "http" if self._certificate is None else "https"
        return f"{scheme}://127.0.0.1:{self._address}"

    def received(self, n: int) -> Deferred[list[Received]]:
        """Fires with the first C{n} requests once that many have come."""
        if len(self.requests) >= n:
            return succeed(self.requests[:n])
        waiting: Deferred[list[Received]] = Deferred()
        self._waiting.append((n, waiting))
        return waiting

    def stop(self) -> Deferred[None]:
        """Stop listening, end hanging requests, and fire once every connection is gone."""
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self._port is not None:
            port, self._port = self._port, None
            await maybeDeferred(port.stopListening)
        for request in self._hanging:
            request.channel.transport.abortConnection()  # type: ignore[union-attr]
        self._hanging.clear()
        await DeferredList(list(self._site.open.values()))

    def _answer(self, request: Request) -> bytes | int:
        body = request.content.read() if request.content is not None else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        headers = {
            name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
            for name, values in request.requestHeaders.getAllRawHeaders()
        }
        assert request.method is not None and request.uri is not None
        self.requests.append(
            Received(request.method.decode(), request.uri.decode(), headers, body, parsed)
        )
        for n, waiting in list(self._waiting):
            if len(self.requests) >= n:
                self._waiting.remove((n, waiting))
                waiting.callback(self.requests[:n])
        answer = self.answers.pop(0) if self.answers else self.default
        if answer is HANG:
            self._hanging.append(request)
            return NOT_DONE_YET
        status, content = answer[0], answer[1]
        extra: Mapping[str, str] = answer[2] if len(answer) == 3 else {}
        if not isinstance(content, bytes):
            content = json.dumps(content).encode()
            request.setHeader(b"content-type", b"application/json")
        request.setResponseCode(status, http.RESPONSES.get(status, b"Answer"))
        for name, value in extra.items():
            request.setHeader(name.encode(), value.encode())
        return content


def _pyopenssl_key(key: ec.EllipticCurvePrivateKey) -> Any:
    from OpenSSL.crypto import PKey

    return PKey.from_cryptography_key(key)


def _pyopenssl_certificate(certificate: x509.Certificate) -> Any:
    from OpenSSL.crypto import X509

    return X509.from_cryptography(certificate)


class ThreadedApi:
    """
    L{FakeApi} for a test without a reactor (a L{SynchronousTestCase} driving a
    real twistd and real commands): the standard library's server on its own
    thread, over HTTPS with C{issued}, answering with the next of C{answers},
    then 201. Stopped by L{stop}.
    """

    def __init__(self, issued: Issued, answers: Sequence[tuple[int, bytes]] = ()) -> None:
        import http.server
        import ssl
        import tempfile
        import threading

        self.requests: list[Received] = []
        self.answers = list(answers)
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                headers = {name.lower(): value for name, value in self.headers.items()}
                api.requests.append(Received(self.command, self.path, headers, body, parsed))
                status, answer = api.answers.pop(0) if api.answers else (201, b"{}")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test's output is for the test

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as directory:
            chain = f"{directory}/chain.pem"
            with open(chain, "wb") as f:
                f.write(issued.certificate_pem)
                f.write(
                    issued.key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            context.load_cert_chain(chain)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
