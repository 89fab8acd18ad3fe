"""
C{listen = ssl:...}: TLS 1.2 and later only, and certificate files read again on
reload, seen by real TLS clients on 127.0.0.1 with certificates made here.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from typing import cast

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.endpoints import SSL4ClientEndpoint, SSL4ServerEndpoint, connectProtocol
from twisted.internet.interfaces import (
    IHandshakeListener,
    IListeningPort,
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
    IReactorSSL,
    IReactorTCP,
)
from twisted.internet.protocol import Factory, Protocol, ServerFactory
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase
from zope.interface import implementer

from hookdaemon.tls import TLSEndpoint, TLSSetupError, parse_ssl, tls_endpoint, tls_problem

SSL_REACTOR = IReactorSSL(reactor)

# RFC 7919's ffdhe2048 group, as `openssl genpkey -genparam -algorithm DH
# -pkeyopt group:ffdhe2048` writes it (generating a group takes too long for a test).
FFDHE2048 = b"""\
-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""


@frozen
class Issued:
    """A certificate and its key, as objects and as the PEM that goes into files."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def issue(name: str, serial: int, by: Issued | None = None, address: str | None = None) -> Issued:
    """
    A certificate for C{name}, self-signed unless C{by} signs it (a CA if it
    signs none); with C{address}, for that IP address too, as a client checks it.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if by is None else by.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if address is not None:
        # A client given it as its CA file checks the address, and that it may sign.
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return Issued(builder.sign(key if by is None else by.key, hashes.SHA256()), key)


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


@frozen
class Seen:
    """What a client saw of the server in its handshake."""

    subject: str
    serial: int
    version: str
    chain: tuple[str, ...]


@implementer(IOpenSSLClientConnectionCreator, IOpenSSLServerConnectionCreator)
class Versions:
    """
    pyOpenSSL's own context between two TLS versions, at OpenSSL's security level
    0, below which TLS 1.0 and 1.1 are not offered at all (OpenSSL 3's
    SSL_CTX_set_security_level(3)): a client that offers only what it is told.
    """

    def __init__(self, minimum: int, maximum: int, serving: Issued | None = None) -> None:
        self._minimum, self._maximum, self._serving = minimum, maximum, serving

    def _connection(self) -> SSL.Connection:
        context = SSL.Context(SSL.TLS_METHOD)
        context.set_min_proto_version(self._minimum)
        context.set_max_proto_version(self._maximum)
        context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
        if self._serving is not None:
            context.use_certificate(self._serving.certificate)
            context.use_privatekey(self._serving.key)
        return SSL.Connection(context, None)

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        return self._connection()

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        return self._connection()


@implementer(IHandshakeListener)
class Client(Protocol):
    """Records the handshake; with C{stay}, keeps the connection until told to echo."""

    def __init__(self, stay: bool = False) -> None:
        self.stay = stay
        self.seen: Seen | None = None
        self.handshook: Deferred[Seen] = Deferred()
        self.closed: Deferred[None] = Deferred()
        self.received = b""

    def handshakeCompleted(self) -> None:
        handle = self.transport.getHandle()  # type: ignore[union-attr]
        peer = handle.get_peer_certificate(as_cryptography=True)
        chain = handle.get_peer_cert_chain(as_cryptography=True) or []
        self.seen = Seen(
            subject=common_name(peer),
            serial=peer.serial_number,
            version=handle.get_protocol_version_name(),
            chain=tuple(common_name(c) for c in chain),
        )
        self.handshook.callback(self.seen)
        if not self.stay:
            self.transport.loseConnection()  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if self.received.endswith(b"\n"):
            self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        assert reason is not None
        if not self.handshook.called:
            self.handshook.errback(reason)
        self.closed.callback(None)


def common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


class Echo(Protocol):
    def connectionMade(self) -> None:
        self.factory.connections.append(self)
        self.lost: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.callback(None)


class EchoFactory(Factory):
    protocol = Echo

    def __init__(self) -> None:
        self.connections: list[Echo] = []


class Served(TestCase):
    """A test directory with a first certificate in key.pem and cert.pem."""

    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.key = os.path.join(self.directory, "key.pem")
        self.cert = os.path.join(self.directory, "cert.pem")
        self.first = issue("first", 1)
        self.install(self.first)
        self.description = f"ssl:0:interface=127.0.0.1:privateKey={self.key}:certKey={self.cert}"

    def install(self, issued: Issued) -> None:
        write(self.key, issued.key_pem)
        write(self.cert, issued.certificate_pem)

    async def listen(self, endpoint: SSL4ServerEndpoint | TLSEndpoint) -> int:
        """Serve echo on C{endpoint} until the test ends; the port number."""
        factory = EchoFactory()
        server = endpoint.endpoint if isinstance(endpoint, TLSEndpoint) else endpoint
        port: IListeningPort = await server.listen(factory)

        async def stop() -> None:
            await maybeDeferred(port.stopListening)
            for connection in factory.connections:
                await connection.lost

        self.addCleanup(lambda: Deferred.fromCoroutine(stop()))
        return cast(IPv4Address, port.getHost()).port

    async def connect(
        self,
        port: int,
        minimum: int = SSL.TLS1_2_VERSION,
        maximum: int = SSL.TLS1_3_VERSION,
        stay: bool = False,
    ) -> Client:
        client = Client(stay)
        endpoint = SSL4ClientEndpoint(SSL_REACTOR, "127.0.0.1", port, Versions(minimum, maximum))
        await connectProtocol(endpoint, client)

        async def close() -> None:
            if not client.closed.called:
                client.transport.abortConnection()  # type: ignore[union-attr]
            await client.closed

        self.addCleanup(lambda: Deferred.fromCoroutine(close()))
        return client

    async def handshake(self, port: int, minimum: int, maximum: int) -> Seen:
        """What a client offering C{minimum} to C{maximum} saw, once it has closed again."""
        client = await self.connect(port, minimum, maximum)
        try:
            seen = await client.handshook
        finally:
            await client.closed
        return seen

    async def subject(self, port: int) -> str:
        return (await self.handshake(port, SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION)).subject


class VersionTests(Served):
    async def test_tls12AndTls13ClientsConnect(self) -> None:
        port = await self.listen(tls_endpoint(SSL_REACTOR, self.description))
        tls12 = await self.handshake(port, SSL.TLS1_2_VERSION, SSL.TLS1_2_VERSION)
        tls13 = await self.handshake(port, SSL.TLS1_3_VERSION, SSL.TLS1_3_VERSION)
        self.assertEqual((tls12.version, tls12.subject), ("TLSv1.2", "first"))
        self.assertEqual((tls13.version, tls13.subject), ("TLSv1.3", "first"))

    async def test_tls11ClientRefused(self) -> None:
        # First a server that allows TLS 1.0 and up, to see that this OpenSSL
        # (cryptography's, which pyOpenSSL uses) can negotiate TLS 1.1 at all.
        allowing = SSL4ServerEndpoint(
            SSL_REACTOR,
            0,
            Versions(SSL.TLS1_VERSION, SSL.TLS1_3_VERSION, self.first),
            interface="127.0.0.1",
        )
        try:
            seen = await self.handshake(
                await self.listen(allowing), SSL.TLS1_VERSION, SSL.TLS1_1_VERSION
            )
        except SSL.Error as e:
            raise SkipTest(f"this OpenSSL cannot negotiate TLS 1.1 even when allowed: {e}") from e
        self.assertEqual(seen.version, "TLSv1.1")

        as_built = tls_endpoint(SSL_REACTOR, self.description)
        # OpenSSL 3 and later refuse TLS 1.1 by themselves at their default
        # security level, which a system's openssl.cnf may lower: the floor
        # must hold without it too.
        lowered = tls_endpoint(SSL_REACTOR, self.description)
        lowered.certificate.options.getContext().set_cipher_list(b"DEFAULT:@SECLEVEL=0")
        for endpoint in (as_built, lowered):
            port = await self.listen(endpoint)
            with self.assertRaises(SSL.Error) as refused:
                await self.handshake(port, SSL.TLS1_VERSION, SSL.TLS1_1_VERSION)
            self.assertIn("protocol version", str(refused.exception))
            self.assertEqual(await self.subject(port), "first")

    async def test_certKeyWithTheChainServesTheChain(self) -> None:
        """As certbot's fullchain.pem; Twisted's own ssl: parser served the first only."""
        authority = issue("authority", 10)
        leaf = issue("leaf", 11, by=authority)
        write(self.key, leaf.key_pem)
        write(self.cert, leaf.certificate_pem + authority.certificate_pem)
        port = await self.listen(tls_endpoint(SSL_REACTOR, self.description))
        seen = await self.handshake(port, SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION)
        self.assertEqual(seen.chain, ("leaf", "authority"))

    async def test_extraCertChainIsServedOnce(self) -> None:
        authority = issue("authority", 10)
        leaf = issue("leaf", 11, by=authority)
        chain = os.path.join(self.directory, "chain.pem")
        write(self.key, leaf.key_pem)
        write(self.cert, leaf.certificate_pem + authority.certificate_pem)
        write(chain, authority.certificate_pem)
        port = await self.listen(
            tls_endpoint(SSL_REACTOR, f"{self.description}:extraCertChain={chain}")
        )
        seen = await self.handshake(port, SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION)
        self.assertEqual(seen.chain, ("leaf", "authority"))


class ReloadTests(Served):
    async def test_reloadServesTheNewCertificateOnTheSamePort(self) -> None:
        endpoint = tls_endpoint(SSL_REACTOR, self.description)
        port = await self.listen(endpoint)
        before = await self.handshake(port, SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION)
        staying = await self.connect(port, stay=True)
        await staying.handshook

        self.install(issue("second", 2))
        self.assertEqual(await self.subject(port), "first")  # files are read on reload only
        endpoint.reload()
        after = await self.handshake(port, SSL.TLS1_2_VERSION, SSL.TLS1_3_VERSION)

        self.assertEqual((before.subject, before.serial), ("first", 1))
        self.assertEqual((after.subject, after.serial), ("second", 2))
        # The connection made before the reload goes on with its own.
        staying.transport.write(b"still there\n")  # type: ignore[union-attr]
        await staying.closed
        self.assertEqual(staying.received, b"still there\n")
        self.assertEqual(staying.seen and staying.seen.subject, "first")

    async def test_badFilesOnReloadKeepTheCertificateInUse(self) -> None:
        endpoint = tls_endpoint(SSL_REACTOR, self.description)
        port = await self.listen(endpoint)
        address = "https://127.0.0.1:0"
        second = issue("second", 2)

        def missing_key() -> None:
            os.remove(self.key)

        def key_of_another() -> None:
            write(self.key, second.key_pem)
            write(self.cert, self.first.certificate_pem)

        def der_certificate() -> None:
            write(self.key, second.key_pem)
            write(self.cert, second.certificate.public_bytes(serialization.Encoding.DER))

        def certificate_for_key() -> None:
            write(self.key, second.certificate_pem)
            write(self.cert, second.certificate_pem)

        def directory_for_cert() -> None:
            os.remove(self.cert)
            os.makedirs(self.cert)

        cases = [
            (missing_key, f"privateKey {self.key} cannot be read: No such file or directory"),
            (
                key_of_another,
                f"privateKey {self.key} is not the key of the certificate in certKey {self.cert}",
            ),
            (der_certificate, f"certKey {self.cert} holds no PEM certificate"),
            (certificate_for_key, f"privateKey {self.key} holds no PEM private key"),
            (directory_for_cert, f"certKey {self.cert} cannot be read: Is a directory"),
        ]
        for spoil, reason in cases:
            self.install(self.first)
            if os.path.isdir(self.cert):
                os.rmdir(self.cert)
                self.install(self.first)
            spoil()
            with self.assertRaises(TLSSetupError) as raised:
                endpoint.reload()
            self.assertEqual(str(raised.exception), f"{address}: {reason}")
            self.assertEqual(raised.exception.reason, reason)
            self.assertEqual(await self.subject(port), "first")


class CheckTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.key = os.path.join(self.directory, "key.pem")
        self.cert = os.path.join(self.directory, "cert.pem")
        first = issue("first", 1)
        write(self.key, first.key_pem)
        write(self.cert, first.certificate_pem)

    def describe(self, extra: str = "", cert: str | None = None) -> str:
        return (
            f"ssl:8443:interface=127.0.0.1:privateKey={self.key}"
            f":certKey={cert or self.cert}{extra}"
        )

    def test_missingFileIsReported(self) -> None:
        missing = os.path.join(self.directory, "live", "fullchain.pem")
        self.assertEqual(
            tls_problem(self.describe(cert=missing)),
            f"https://127.0.0.1:8443: certKey {missing} cannot be read: No such file or directory",
        )

    def test_goodFilesAreNoProblemAndNothingIsBound(self) -> None:
        # A port another socket holds: a check that bound would fail.
        held = IReactorTCP(reactor).listenTCP(0, ServerFactory(), interface="127.0.0.1")
        self.addCleanup(held.stopListening)
        number = cast(IPv4Address, held.getHost()).port
        self.assertIsNone(tls_problem(self.describe().replace(":8443:", f":{number}:")))

    def test_encryptedKeyIsReported(self) -> None:
        with open(self.key, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        write(
            self.key,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            ),
        )
        problem = tls_problem(self.describe())
        self.assertEqual(
            problem,
            f"https://127.0.0.1:8443: privateKey {self.key} is encrypted, and nobody is there"
            " to give its passphrase: store it unencrypted, readable only by the daemon's user",
        )

    def test_keyOpenSSLRefusesIsReported(self) -> None:
        key = rsa.generate_private_key(65537, 1024)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "weak")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(3)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        write(self.cert, certificate.public_bytes(serialization.Encoding.PEM))
        write(
            self.key,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        self.assertEqual(
            tls_problem(self.describe()),
            f"https://127.0.0.1:8443: OpenSSL will not serve certKey {self.cert} with"
            f" privateKey {self.key}: ee key too small",
        )

    def test_dhParameters(self) -> None:
        good = os.path.join(self.directory, "dh.pem")
        bad = os.path.join(self.directory, "not-dh.pem")
        write(good, FFDHE2048)
        write(bad, b"hello\n")
        self.assertIsNone(tls_problem(self.describe(f":dhParameters={good}")))
        self.assertEqual(
            tls_problem(self.describe(f":dhParameters={bad}")),
            f"https://127.0.0.1:8443: dhParameters {bad} holds no PEM Diffie-Hellman parameters",
        )

    def test_emptyChainIsReported(self) -> None:
        chain = os.path.join(self.directory, "chain.pem")
        write(chain, b"")
        self.assertEqual(
            tls_problem(self.describe(f":extraCertChain={chain}")),
            f"https://127.0.0.1:8443: extraCertChain {chain} holds no PEM certificate",
        )


class ParseTests(SynchronousTestCase):
    def test_twistedsFieldsAndDefaults(self) -> None:
        settings = parse_ssl("ssl:443:key.pem")
        self.assertEqual(
            (settings.port, settings.private_key, settings.cert_key, settings.backlog),
            (443, "key.pem", "key.pem", 50),
        )
        self.assertEqual(settings.interface, "")
        settings = parse_ssl(r"ssl:port=8443:interface=\:\:1:backlog=5:certKey=c.pem")
        self.assertEqual(
            (settings.port, settings.interface, settings.backlog, settings.private_key),
            (8443, "::1", 5, "server.pem"),
        )
        self.assertEqual((settings.cert_key, settings.address), ("c.pem", "https://[::1]:8443"))

    def test_whatIsWrongIsSaidWithoutTheOptions(self) -> None:
        cases = [
            ("ssl:443:sslmethod=TLSv1_METHOD", "sslmethod is not supported"),
            ("ssl:443:password=hunter22", "password is not an ssl endpoint option"),
            ("ssl:443:k.pem:certKey=c.pem:privateKey=k.pem", "privateKey is given twice"),
            ("ssl:privateKey=k.pem", "an ssl endpoint needs a port"),
            ("ssl:https:privateKey=k.pem", "port must be a number"),
            ("ssl:443:backlog=many", "backlog must be a number"),
            ("tcp:443", "is not an ssl endpoint"),
        ]
        for description, reason in cases:
            with self.assertRaises(TLSSetupError) as raised:
                parse_ssl(description)
            self.assertIn(reason, str(raised.exception))
            self.assertNotIn("hunter22", str(raised.exception))
            self.assertNotIn("TLSv1_METHOD", str(raised.exception))
            self.assertNotIn("many", str(raised.exception))


class OtherUserTests(SynchronousTestCase):
    """
    twistd reads the files as root before --uid drops privileges; a reload reads
    them as the daemon's user. Seen in a process that switches as twistd does
    (twisted.python.util.switchUID, called by twistd's shedPrivileges).
    """

    def setUp(self) -> None:
        if os.getuid() != 0:
            raise SkipTest("switching to uid 65534 needs root")
        # Not under the test's temp dir: its parents may be closed to other users.
        self.directory = tempfile.mkdtemp(prefix="tls-test-")
        self.addCleanup(shutil.rmtree, self.directory)
        os.chmod(self.directory, 0o755)
        self.key = os.path.join(self.directory, "privkey.pem")
        self.cert = os.path.join(self.directory, "fullchain.pem")
        first = issue("first", 1)
        write(self.key, first.key_pem)
        write(self.cert, first.certificate_pem)
        os.chmod(self.key, 0o600)

    def reload_as_nobody(self) -> str:
        script = textwrap.dedent(
            f"""
            from twisted.internet import reactor
            from twisted.python.util import switchUID
            from hookdaemon.tls import TLSSetupError, tls_endpoint
            endpoint = tls_endpoint(
                reactor, "ssl:8443:privateKey={self.key}:certKey={self.cert}"
            )
            switchUID(65534, 65534)
            try:
                endpoint.reload()
            except TLSSetupError as e:
                print(e)
            else:
                print("reloaded")
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.strip()

    def test_reloadReadsAsTheDaemonsUser(self) -> None:
        self.assertEqual(
            self.reload_as_nobody(),
            f"https://0.0.0.0:8443: privateKey {self.key} cannot be read: Permission denied",
        )
        os.chown(self.key, 0, 65534)
        os.chmod(self.key, 0o640)
        self.assertEqual(self.reload_as_nobody(), "reloaded")
