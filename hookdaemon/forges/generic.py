"""
Any other caller: a CI job, a script, curl.

Authenticated by the C{token} query parameter or C{Authorization: Bearer}. The
body is optional; a JSON object may carry GitHub-style C{ref}, C{before},
C{after} and C{repository} so filters and commands can use them.
"""

from __future__ import annotations

from typing import Any

from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.forges._base import bearer_token, load_object, same, text


class Generic:
    name = "generic"

    def detect(self, incoming: Incoming) -> bool:
        return True

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
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
