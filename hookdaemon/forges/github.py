"""
GitHub: X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256.

SHA-1 (X-Hub-Signature) is accepted only when no SHA-256 header was sent, so a
forged SHA-1 next to a real SHA-256 header cannot downgrade the check.
See https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
from typing import Any

from hookdaemon.delivery import BRANCH_PREFIX, TAG_PREFIX, Delivery, Incoming, split_ref
from hookdaemon.forges._base import (
    SNAKE_CASE_EVENT,
    UUID,
    count,
    load_object,
    prefixed_signature_ok,
    required,
    required_header,
    text,
)

# create and delete name the ref by its short name and say what kind it is.
# See https://docs.github.com/en/webhooks/webhook-events-and-payloads#create
_REF_PREFIXES = {"branch": BRANCH_PREFIX, "tag": TAG_PREFIX}


class GitHub:
    """GitHub as a L{Forge}: known by X-GitHub-Event, signed in X-Hub-Signature-256."""

    name = "github"
    # X-GitHub-Delivery is a GUID; events are named in snake case.
    # See https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
    delivery_ids = UUID
    events = SNAKE_CASE_EVENT

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
        event = required_header(incoming, "X-GitHub-Event")
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
            return Delivery.of_push(
                ref=required(payload, "push", "ref"),
                before=text(payload, "before"),
                after=text(payload, "after"),
                commits=count(payload, "commits"),
                **common,
            )
        if event in ("create", "delete"):
            return ref_event(event, payload, common)
        if event == "pull_request":
            return pull_request(payload, common)
        return Delivery(kind=event, **common)


def ref_event(event: str, payload: dict[str, Any], common: dict[str, Any]) -> Delivery:
    """
    A branch or tag created or deleted; its kind is the event's own name.
    Gitea and Gogs send the same payload, so they use this too.
    """
    prefix = _REF_PREFIXES.get(text(payload, "ref_type"))
    if prefix is None:
        # GitHub once sent ref_type "repository" too: no ref for filters to judge.
        return Delivery(kind=event, **common)
    ref = prefix + required(payload, event, "ref")
    branch, tag = split_ref(ref)
    # GitHub sends no commit id; Gitea and Gogs send "sha" with create only,
    # the commit the new ref points at.
    after = text(payload, "sha") if event == "create" else ""
    return Delivery(kind=event, ref=ref, branch=branch, tag=tag, after=after, **common)


def pull_request(payload: dict[str, Any], common: dict[str, Any]) -> Delivery:
    """
    A pull request, named by the ref the forge keeps for its head; its branch is
    the one it targets, so C{branches = main} selects pull requests into main.
    Gitea and Gogs send GitHub's shape, so they use this too.
    """
    number = text(payload, "number") or required(payload, "pull_request", "pull_request", "number")
    return Delivery(
        kind="pull_request",
        ref=f"refs/pull/{number}/head",
        # Gogs names the target branch base_branch and sends no commit ids.
        branch=(
            text(payload, "pull_request", "base", "ref")
            or text(payload, "pull_request", "base_branch")
        ),
        before=text(payload, "pull_request", "base", "sha"),
        after=text(payload, "pull_request", "head", "sha"),
        commits=count(payload, "pull_request", "commits"),
        **common,
    )


forge = GitHub()
