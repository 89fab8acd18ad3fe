"""
Any other caller: a CI job, a script, curl.

Authenticated by the C{token} query parameter or C{Authorization: Bearer}. The
body is optional; a JSON object may carry GitHub-style C{ref}, C{before},
C{after} and C{repository} so filters and commands can use them.
"""

from __future__ import annotations

import re
from typing import Any

from attrs import frozen

from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.forges._base import bearer_token, hmac_hex, load_object, same, text

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""
Callers send X-Request-Id in no documented form (nginx's $request_id is hex, many
are UUIDs): letters, digits and . _ : - only, so an id is never a path or an option.
"""


@frozen
class Generic:
    """
    With C{signature_header}, the secret is an HMAC-SHA256 key and that header
    must carry the body's signature (hex, optionally prefixed C{sha256=});
    tokens are then not accepted.
    """

    signature_header: str = ""
    name = "generic"
    delivery_ids = SAFE_ID
    events = re.compile("push")
    """Every generic delivery is a push."""

    def detect(self, incoming: Incoming) -> bool:
        return False

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        if self.signature_header:
            signature = incoming.header(self.signature_header)
            if signature is None:
                return False
            signature = signature.strip().lower().removeprefix("sha256=")
            return same(signature, hmac_hex(secret, incoming.body))
        token = bearer_token(incoming)
        if token is None:
            token = incoming.query.get("token")
        return token is not None and same(token, secret)

    def parse(self, incoming: Incoming) -> Delivery:
        payload: Any = load_object(incoming) if incoming.body.strip() else {}
        common: dict[str, Any] = dict(
            forge=self.name,
            event="push",
            delivery_id=incoming.header("x-request-id") or "",
            repository=text(payload, "repository") or text(payload, "repository", "full_name"),
            clone_url=text(payload, "clone_url"),
            pusher=text(payload, "pusher"),
        )
        ref = text(payload, "ref")
        if not ref:
            # A bare trigger (curl -X POST): a push of nothing in particular.
            return Delivery(kind="push", **common)
        return Delivery.of_push(
            ref=ref, before=text(payload, "before"), after=text(payload, "after"), **common
        )


forge = Generic()
