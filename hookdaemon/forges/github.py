"""
GitHub: X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256.

SHA-1 (X-Hub-Signature) is accepted only when no SHA-256 header was sent, so a
forged SHA-1 next to a real SHA-256 header cannot downgrade the check.
See https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
from typing import Any

from hookdaemon.delivery import Delivery, Incoming, push_kind, split_ref
from hookdaemon.forges._base import PayloadError, load_object, prefixed_signature_ok, text


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
            ref = text(payload, "ref")
            if not ref:
                raise PayloadError("push payload has no ref")
            after = text(payload, "after")
            branch, tag = split_ref(ref)
            commits = payload.get("commits")
            return Delivery(
                kind=push_kind(ref, after),
                ref=ref,
                branch=branch,
                tag=tag,
                before=text(payload, "before"),
                after=after,
                commits=len(commits) if isinstance(commits, list) else 0,
                **common,
            )
        return Delivery(kind=event, **common)


forge = GitHub()
