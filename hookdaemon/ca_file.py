"""
The certificates a C{report_ca} file holds, read from its bytes: one reading
serves the configuration check and the calls out, so a file the check passes
is one the calls can trust.
"""

from __future__ import annotations

from cryptography import x509

__all__ = ["CAFileError", "ca_certificates"]


class CAFileError(ValueError):
    """A CA file that would trust nothing; the message names it and says why."""


def ca_certificates(path: str, data: bytes) -> list[x509.Certificate]:
    """The PEM certificates in C{data}, read from C{path}; at least one, or L{CAFileError}."""
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise CAFileError(f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise CAFileError(f"{path} holds a certificate that cannot be read ({e})") from None
