"""
C{listen = ssl:...}: TLS 1.2 and later only, with certificate files that are
read again on reload, so a renewed certificate (certbot) reaches new
connections without a restart and without closing the port.

Twisted's own C{ssl:} parser reads the files once, when the string is parsed,
and builds a context that never changes. This reads the same string (the
options of C{_parseSSL} in twisted/internet/endpoints.py, in its order), loads
the files itself, and hands the reactor a connection creator whose
certificate can be swapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from OpenSSL import SSL, crypto
from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.internet.interfaces import (
    IOpenSSLServerConnectionCreator,
    IReactorSSL,
    IStreamServerEndpoint,
)
from twisted.internet.ssl import CertificateOptions, DiffieHellmanParameters, TLSVersion
from twisted.python.filepath import FilePath
from zope.interface import implementer

from hookdaemon.endpoint_text import endpoint_base_url, split_endpoint

if TYPE_CHECKING:
    from twisted.protocols.tls import TLSMemoryBIOProtocol

OPTIONS = (
    "port",
    "privateKey",
    "certKey",
    "sslmethod",
    "interface",
    "backlog",
    "extraCertChain",
    "dhParameters",
)
"""C{_parseSSL}'s parameters, in the order it takes them without a name."""

TAKEN = "port, privateKey, certKey, extraCertChain, dhParameters, interface, backlog"


class TLSSetupError(ValueError):
    """
    An C{ssl:} endpoint whose options or files cannot be used. C{str()} is one
    line: the endpoint's address (never its options) and the C{reason}.
    """

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"{address}: {reason}")
        self.address = address
        self.reason = reason


@frozen
class TLSSettings:
    """What an C{ssl:} endpoint string says, files not yet read."""

    address: str
    port: int
    interface: str
    backlog: int
    private_key: str
    cert_key: str
    extra_cert_chain: str | None
    dh_parameters: str | None

    @property
    def files(self) -> dict[str, str]:
        """Each file the endpoint reads, by the option that names it."""
        named = {
            "privateKey": self.private_key,
            "certKey": self.cert_key,
            "extraCertChain": self.extra_cert_chain,
            "dhParameters": self.dh_parameters,
        }
        return {option: path for option, path in named.items() if path is not None}


def parse_ssl(description: str) -> TLSSettings:
    """An C{ssl:} string as Twisted's parser takes it; L{TLSSetupError} if it is not one."""
    address = endpoint_base_url(description)
    kind, fields = split_endpoint(description)
    if kind != "ssl":
        raise TLSSetupError(address, "is not an ssl endpoint")
    given: dict[str, str] = {}
    positional = [f for f in fields if "=" not in f]
    if len(positional) > len(OPTIONS):
        raise TLSSetupError(address, f"an ssl endpoint takes at most {len(OPTIONS)} fields")
    given.update(zip(OPTIONS, positional, strict=False))
    for field in fields:
        if "=" not in field:
            continue
        name, value = field.split("=", 1)
        if name not in OPTIONS:
            raise TLSSetupError(
                address, f"{name} is not an ssl endpoint option (it takes {TAKEN})"
            )
        if name in given:
            raise TLSSetupError(address, f"{name} is given twice")
        given[name] = value
    if "sslmethod" in given:
        # CertificateOptions(method=...) skips its minimum-version logic
        # altogether (twisted/internet/_sslverify.py, OpenSSLCertificateOptions
        # .__init__): sslmethod=TLSv1_METHOD would serve TLS 1.0 only.
        raise TLSSetupError(
            address,
            "sslmethod is not supported: TLS 1.2 and later are always offered; remove it",
        )
    if "port" not in given:
        raise TLSSetupError(address, "an ssl endpoint needs a port, as in ssl:8443:...")
    numbers = {}
    for name, default in (("port", None), ("backlog", "50")):
        text = given.get(name, default) or ""
        if not text.isdigit():
            raise TLSSetupError(address, f"{name} must be a number")
        numbers[name] = int(text)
    private_key = given.get("privateKey", "server.pem")
    return TLSSettings(
        address=address,
        port=numbers["port"],
        interface=given.get("interface", ""),
        backlog=numbers["backlog"],
        private_key=private_key,
        cert_key=given.get("certKey", private_key),
        extra_cert_chain=given.get("extraCertChain"),
        dh_parameters=given.get("dhParameters"),
    )


def _read(settings: TLSSettings, option: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise TLSSetupError(
            settings.address, f"{option} {path} cannot be read: {e.strerror or e}"
        ) from None


def _certificates(settings: TLSSettings, option: str, path: str) -> list[x509.Certificate]:
    data = _read(settings, option, path)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TLSSetupError(
            settings.address, f"{option} {path} holds no PEM certificate"
        ) from None


ServableKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | dsa.DSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)
"""The key types pyOpenSSL's Context.use_privatekey takes."""


def _private_key(settings: TLSSettings) -> ServableKey:
    path = settings.private_key
    data = _read(settings, "privateKey", path)
    try:
        key = serialization.load_pem_private_key(data, None)
    except TypeError:  # cryptography: "Password was not given but private key is encrypted"
        raise TLSSetupError(
            settings.address,
            f"privateKey {path} is encrypted, and nobody is there to give its passphrase:"
            " store it unencrypted, readable only by the daemon's user",
        ) from None
    except ValueError:
        raise TLSSetupError(
            settings.address, f"privateKey {path} holds no PEM private key"
        ) from None
    if not isinstance(key, ServableKey):
        raise TLSSetupError(
            settings.address,
            f"privateKey {path} holds a {type(key).__name__}, not a key TLS can serve with"
            " (RSA, EC or Ed25519)",
        )
    return key


def _public(key: x509.Certificate | PrivateKeyTypes) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_options(settings: TLSSettings) -> CertificateOptions:
    """
    The endpoint's files, read now, as options whose context is already built,
    so that whatever OpenSSL refuses is refused here and not at the next
    connection. L{TLSSetupError} names the file and what is wrong with it.
    """
    address = settings.address
    leaf, *rest = _certificates(settings, "certKey", settings.cert_key)
    key = _private_key(settings)
    if _public(key) != _public(leaf):
        raise TLSSetupError(
            address,
            f"privateKey {settings.private_key} is not the key of the certificate in"
            f" certKey {settings.cert_key}",
        )
    # The certificates after the first in certKey are its chain, as in
    # certbot's fullchain.pem; Twisted's parser drops them (it loads certKey
    # with Certificate.loadPEM, which reads the first PEM block only).
    chain = list(rest)
    if settings.extra_cert_chain is not None:
        more = _certificates(settings, "extraCertChain", settings.extra_cert_chain)
        chain += [c for c in more if c not in chain]  # fullchain.pem with chain.pem too
    dh_parameters = None
    if settings.dh_parameters is not None:
        path = settings.dh_parameters
        _read(settings, "dhParameters", path)
        try:
            SSL.Context(SSL.TLS_METHOD).load_tmp_dh(path.encode())
        except SSL.Error:
            raise TLSSetupError(
                address, f"dhParameters {path} holds no PEM Diffie-Hellman parameters"
            ) from None
        dh_parameters = DiffieHellmanParameters.fromFile(FilePath(path))
    try:
        # cryptography's objects, not pyOpenSSL's X509 and PKey: pyOpenSSL 26
        # warns that passing those to Context.use_certificate is deprecated,
        # and CertificateOptions only hands them on to the Context
        # (OpenSSLCertificateOptions._makeContext), though its hints still say X509.
        options = CertificateOptions(
            privateKey=cast(crypto.PKey, key),
            certificate=cast(crypto.X509, leaf),
            extraCertChain=cast(list[crypto.X509], chain),
            dhParameters=dh_parameters,
            # Twisted 26.10's default minimum is TLS 1.2 already
            # (OpenSSLCertificateOptions._defaultMinimumTLSVersion in
            # twisted/internet/_sslverify.py), and OpenSSL 3 and later refuse
            # TLS 1.0 and 1.1 by themselves above security level 0 (OpenSSL
            # 3.0's migration guide). Said here so that neither a change of
            # default nor an openssl.cnf at level 0 can lower it.
            raiseMinimumTo=TLSVersion.TLSv1_2,
        )
        options.getContext()
    except (SSL.Error, TypeError, ValueError) as e:
        # What OpenSSL's security level forbids: an RSA key of 1024 bits
        # gives "ee key too small".
        raise TLSSetupError(
            address,
            f"OpenSSL will not serve certKey {settings.cert_key} with privateKey"
            f" {settings.private_key}: {_openssl_reason(e)}",
        ) from None
    return options


def _openssl_reason(error: Exception) -> str:
    if isinstance(error, SSL.Error) and error.args and isinstance(error.args[0], list):
        reasons = [entry[-1] for entry in error.args[0] if entry and entry[-1]]
        if reasons:
            return ", ".join(reasons)
    return str(error) or type(error).__name__


@implementer(IOpenSSLServerConnectionCreator)
class SwappableCertificate:
    """
    The reactor's TLS connection creator for one endpoint: each new connection
    gets the current options' context; replacing C{options} changes what the
    next connections get and nothing else.
    """

    def __init__(self, options: CertificateOptions) -> None:
        self.options = options

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        # listenSSL wraps the creator in one TLSMemoryBIOFactory
        # (twisted/internet/posixbase.py), which keeps the bound method
        # serverConnectionForTLS of what it was given
        # (_convertToAppropriateFactory in twisted/protocols/_tls_legacy.py;
        # Twisted 26.10 has no _ContextFactoryToConnectionFactory) and calls
        # it once per connection in TLSMemoryBIOProtocol.makeConnection
        # (twisted/protocols/tls.py). Handing it CertificateOptions itself
        # would pin that object; this method reads self.options each time. A
        # connection made before a swap keeps its SSL.Connection, and with it
        # the old context.
        return self.options.serverConnectionForTLS(tlsProtocol)


@frozen
class TLSEndpoint:
    """One C{ssl:} endpoint: the endpoint to listen with, and L{reload} for its files."""

    settings: TLSSettings
    certificate: SwappableCertificate
    endpoint: IStreamServerEndpoint
    """An C{SSL4ServerEndpoint} serving whatever C{certificate} holds."""

    @property
    def address(self) -> str:
        """The address only, for messages: an endpoint string is never shown."""
        return self.settings.address

    def reload(self) -> None:
        """
        Read the files again and serve new connections with them. On
        L{TLSSetupError} nothing changes: the certificate in use stays.
        """
        self.serve(self.renewed())

    def renewed(self) -> CertificateOptions:
        """The files read again, not yet served (a reload that may still be refused)."""
        return load_options(self.settings)

    def serve(self, options: CertificateOptions) -> None:
        """New connections from now on get C{options}; open ones keep theirs."""
        self.certificate.options = options

    def moved(self, description: str) -> tuple[TLSEndpoint, CertificateOptions] | None:
        """
        This endpoint with other files, for the C{ssl:} string C{description}
        if it listens where this one does (the port, interface and backlog
        alike), with them read; else None. L{TLSSetupError} if they will not do.
        """
        settings = parse_ssl(description)
        where = (settings.port, settings.interface, settings.backlog)
        if where != (self.settings.port, self.settings.interface, self.settings.backlog):
            return None
        return TLSEndpoint(settings, self.certificate, self.endpoint), load_options(settings)


def tls_endpoint(reactor: IReactorSSL, description: str) -> TLSEndpoint:
    """The endpoint for an C{ssl:} string, its files read now; L{TLSSetupError} if unusable."""
    settings = parse_ssl(description)
    certificate = SwappableCertificate(load_options(settings))
    endpoint = SSL4ServerEndpoint(
        reactor,
        settings.port,
        certificate,
        backlog=settings.backlog,
        interface=settings.interface,
    )
    return TLSEndpoint(settings, certificate, endpoint)


def tls_problem(description: str) -> str | None:
    """For C{--check}: what is wrong with an C{ssl:} string or its files, or None. No bind."""
    try:
        load_options(parse_ssl(description))
    except TLSSetupError as e:
        return str(e)
    return None
