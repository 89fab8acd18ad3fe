"""What every forge module shares: the interface, its errors and payload helpers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable
from re import Pattern
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

    @property
    def delivery_ids(self) -> Pattern[str]:
        """The form of the forge's delivery ids; any other id is refused (400)."""

    @property
    def events(self) -> Pattern[str]:
        """The form of the forge's event names; any other event is refused (400)."""

    def detect(self, incoming: Incoming) -> bool:
        """Does this request look like it came from this forge?"""

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        """Is the request signed or tokened with C{secret}? Constant time."""

    def parse(self, incoming: Incoming) -> Delivery:
        """Read the delivery, raising L{PayloadError} for a body we cannot use."""


UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""The delivery ids forges that document theirs send: a UUID, in any of its versions."""

SNAKE_CASE_EVENT = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""GitHub's and Gitea's event names: C{push}, C{pull_request}, C{projects_v2_item}."""

COLON_EVENT = re.compile(r"[a-z][a-z0-9_]{0,63}(?::[a-z][a-z0-9_]{0,63}){1,3}")
"""Bitbucket's event keys: C{repo:push}, C{pullrequest:created}, C{pr:reviewer:approved}."""


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
    return credentials(value, "bearer")


def credentials(value: str | None, scheme: str) -> str | None:
    """
    What follows C{scheme} (lowercase) in an C{Authorization} header value, or
    None for another scheme or none; schemes are case-insensitive (RFC 9110, 11.1).
    """
    if value is None:
        return None
    given, _, rest = value.strip().partition(" ")
    if given.lower() != scheme:
        return None
    return rest.strip()


def basic_matches(value: str | None, expected: bytes) -> bool | None:
    """
    Does an C{Authorization: Basic} header value carry C{expected}, the
    C{user:password} of RFC 7617? None when it carries no Basic credentials at
    all. Text that is not base64 is a mismatch; the decoded bytes are compared
    in constant time.
    """
    encoded = credentials(value, "basic")
    if not encoded:
        return None
    try:
        given = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return False
    return same(given, expected)


def basic_header(user_password: bytes) -> str:
    """The C{Authorization} value a caller sends for C{user:password}: C{Basic <base64>}."""
    return "Basic " + base64.b64encode(user_password).decode("ascii")


FORM = "application/x-www-form-urlencoded"

_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


def body_format(incoming: Incoming) -> str | None:
    """
    How the body is read: C{"json"}, C{"form"} (C{payload=<json>}, as GitHub,
    Gitea and Gogs send for a hook whose content type is "form"), or None for a
    body in a type no forge sends.
    """
    media = incoming.content_type
    if media == FORM:
        # curl -d sends its data as a form unless told otherwise; JSON is never a form.
        return "json" if incoming.body.lstrip()[:1] in (b"{", b"[") else "form"
    if media in ("", "application/json") or media.endswith("+json"):
        # No type at all: a script that did not say; JSON is what every forge sends.
        return "json"
    if not incoming.body.strip():
        # Nothing to read, so nothing in the wrong type: a bare trigger.
        return "json"
    return None


def type_refusal(incoming: Incoming) -> str | None:
    """The one-line reason a body's Content-Type is refused, or None when it is read."""
    if body_format(incoming) is not None:
        return None
    media = incoming.content_type
    # Echo the type only when it is one: the header is the caller's text, not ours.
    shown = f"Content-Type {media}" if _MEDIA_TYPE.fullmatch(media) else "this Content-Type"
    return f"{shown} is not accepted; send application/json or {FORM}"


def json_document(incoming: Incoming) -> str | bytes:
    """The JSON text of a delivery: the body, or a form's C{payload} field."""
    body_is = body_format(incoming)
    if body_is is None:
        raise PayloadError(type_refusal(incoming) or "")
    if body_is == "json":
        return incoming.body
    try:
        form = parse_qs(incoming.body.decode("utf-8"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("form body is not valid URL encoding") from None
    if "payload" not in form:
        raise PayloadError("form body has no payload field")
    return form["payload"][0]


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # 1e999999 reads as inf, which no field of ours can hold and JSON cannot write back.
        raise PayloadError("body has a number too large to read")
    return value


def _constant(name: str) -> Any:
    raise PayloadError(f"body is not valid JSON: {name} is not a JSON value")


def load_json(incoming: Incoming) -> Any:
    """
    Decode a JSON body, or GitHub's form encoding (C{payload=<json>}). Hostile
    bodies fail fast with a one-line reason: nesting stops at the interpreter's
    recursion limit, integers at its 4300-digit limit.
    """
    document = json_document(incoming)
    if not document.strip():
        raise PayloadError("body is empty; the forge's JSON was expected")
    try:
        return json.loads(document, parse_float=_finite, parse_constant=_constant)
    except PayloadError:
        raise
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PayloadError(f"body is not valid JSON: {e}") from None
    except ValueError:
        # int() refuses more than sys.get_int_max_str_digits() digits (Python 3.11+).
        raise PayloadError("body has a number too long to read") from None


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
    """
    Like L{text}, but an C{event} delivery without this field cannot be used at
    all. C{event} is shown in the reason: a word of ours, never a header's text.
    """
    value = text(payload, *path)
    if not value:
        raise PayloadError(f"{event} payload has no {'.'.join(path)}")
    return value


MAX_COUNT = 2**63 - 1
"""The largest count kept: SQLite's INTEGER, where the journal stores it."""


def count(payload: Any, *path: str) -> int:
    """A list's length or a number of things at C{path}; 0 when absent or not a count."""
    value = payload
    for key in path:
        if not isinstance(value, dict):
            return 0
        value = value.get(key)
    if isinstance(value, list):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return 0
