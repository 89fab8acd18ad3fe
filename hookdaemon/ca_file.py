"""
The certificates a C{report_ca} file holds, read from its bytes: one reading
serves the configuration check and the calls out, so a file the check passes
is one the calls can trust.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

__all__ = ["CAFileError", "ca_certificates", "read_ca"]


class CAFileError(ValueError):
    """A CA file that would trust nothing; the message names it and says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.path = path
        self.reason = reason
        """Why, without the path: what a config message under C{report_ca} says."""


def ca_certificates(path: str, data: bytes) -> list[x509.Certificate]:
    """The PEM certificates in C{data}, read from C{path}; at least one, or L{CAFileError}."""
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise CAFileError(path, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        with warnings.catch_warnings():
            # The system's bundle holds old roots with a serial of 0 or less, which
            # cryptography loads with a warning that is no concern of the user's.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise CAFileError(path, f"holds a certificate that cannot be read ({e})") from None


def read_ca(path: str, read: Callable[[str], bytes]) -> list[x509.Certificate]:
    """The certificates of the file at C{path}, read with C{read}; or L{CAFileError}."""
    try:
        data = read(path)
    except FileNotFoundError:
        raise CAFileError(
            path, "does not exist; name a PEM file of the CA certificates to trust"
        ) from None
    except OSError as e:
        raise CAFileError(path, f"cannot be read ({e.strerror or e})") from None
    return ca_certificates(path, data)
