"""What every forge module shares: the interface, its errors and payload helpers."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

from hookdaemon.delivery import Delivery, Incoming


class PayloadError(ValueError):
    """The body is not what the forge sends; the message is the one-line reason."""


class Forge(Protocol):
    """One forge family: how to recognise, authenticate and read its deliveries."""

    @property
    def name(self) -> str:
        """The name a hook's C{forge} key gives."""

    def detect(self, incoming: Incoming) -> bool:
        """Does this request look like it came from this forge?"""

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        """Is the request signed or tokened with C{secret}? Constant time."""

    def parse(self, incoming: Incoming) -> Delivery:
        """Read the delivery, raising L{PayloadError} for a body we cannot use."""


def same(given: str | bytes, expected: str | bytes) -> bool:
    """Compare a presented credential with the expected one in constant time."""
    if isinstance(given, str):
        given = given.encode("utf-8", "surrogateescape")
    if isinstance(expected, str):
        expected = expected.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, expected)


def hmac_hex(secret: bytes, body: bytes, digest: Callable[[], Any] = hashlib.sha256) -> str:
    return hmac.new(secret, body, digest).hexdigest()


def prefixed_signature_ok(
    header: str | None, prefix: str, secret: bytes, body: bytes, digest: Callable[[], Any]
) -> bool:
    """Check a C{prefix=hexdigest} header such as GitHub's C{sha256=...}."""
    if header is None or not header.startswith(prefix):
        return False
    return same(header[len(prefix) :].strip().lower(), hmac_hex(secret, body, digest))


def required_header(incoming: Incoming, name: str) -> str:
    """A header the forge always sends (its event name); without it the request is not its."""
    value = incoming.header(name)
    if not value:
        raise PayloadError(f"missing {name} header")
    return value


def bearer_token(incoming: Incoming) -> str | None:
    return bearer(incoming.header("authorization"))


def bearer(value: str | None) -> str | None:
    """The token of an C{Authorization: Bearer TOKEN} header value, if it is one."""
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def load_json(incoming: Incoming) -> Any:
    """
    Decode a JSON body, or GitHub's form encoding (C{payload=<json>}).
    """
    body = incoming.body
    if incoming.content_type == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise PayloadError("form body is not valid URL encoding") from None
        if "payload" not in form:
            raise PayloadError("form body has no payload field")
        text: str | bytes = form["payload"][0]
    else:
        text = body
    try:
        return json.loads(text)
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    except ValueError as e:
        raise PayloadError(f"body is not valid JSON: {e}") from None


def load_object(incoming: Incoming) -> dict[str, Any]:
    payload = load_json(incoming)
    if not isinstance(payload, dict):
        raise PayloadError("body is JSON but not an object")
    return payload


def text(payload: Any, *path: str) -> str:
    """The string at C{path} inside nested objects, or "" when absent or not a string."""
    value = payload
    for key in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(key)
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else ""


def required(payload: Any, event: str, *path: str) -> str:
    """Like L{text}, but an C{event} delivery without this field cannot be used at all."""
    value = text(payload, *path)
    if not value:
        raise PayloadError(f"{event} payload has no {'.'.join(path)}")
    return value


def count(payload: Any, *path: str) -> int:
    value = payload
    for key in path:
        if not isinstance(value, dict):
            return 0
        value = value.get(key)
    if isinstance(value, list):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 0
