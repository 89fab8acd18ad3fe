"""
GitHub: X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256.

SHA-1 (X-Hub-Signature) is accepted only when no SHA-256 header was sent, so a
forged SHA-1 next to a real SHA-256 header cannot downgrade the check.
See https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
from typing import Any

from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.forges._base import (
    PayloadError,
    load_object,
    prefixed_signature_ok,
    required,
    text,
)


class GitHub:
    name = "github"

    def detect(self, incoming: Incoming) -> bool:
        return incoming.header("x-github-event") is not None

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        sha256 = incoming.header("x-hub-signature-256")
        if sha256 is not None:
            return prefixed_signature_ok(sha256, "sha256=", secret, incoming.body, hashlib.sha256)
        return prefixed_signature_ok(
            incoming.header("x-hub-signature"), "sha1=", secret, incoming.body, hashlib.sha1
        )

    def parse(self, incoming: Incoming) -> Delivery:
        event = incoming.header("x-github-event")
        if not event:
            raise PayloadError("missing X-GitHub-Event header")
        payload = load_object(incoming)
        common: dict[str, Any] = dict(
            forge=self.name,
            event=event,
            delivery_id=incoming.header("x-github-delivery") or "",
            repository=text(payload, "repository", "full_name"),
            clone_url=text(payload, "repository", "clone_url"),
            pusher=text(payload, "pusher", "name") or text(payload, "sender", "login"),
        )
        if event == "ping":
            return Delivery(kind="ping", **common)
        if event == "push":
            commits = payload.get("commits")
            return Delivery.of_push(
                ref=required(payload, "push", "ref"),
                before=text(payload, "before"),
                after=text(payload, "after"),
                commits=len(commits) if isinstance(commits, list) else 0,
                **common,
            )
        return Delivery(kind=event, **common)


forge = GitHub()
