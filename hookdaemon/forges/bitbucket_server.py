"""
Bitbucket Server and Data Center: X-Event-Key, X-Request-Id, X-Hub-Signature
(C{sha256=}).

One repo:refs_changed carries every ref a push changed in C{changes[]}; each
becomes a L{Delivery} of its own, and the hook runs once, for the newest it wants.
See https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html
"""

from __future__ import annotations

import hashlib
from typing import Any

from attrs import evolve, frozen

from hookdaemon.delivery import ZERO_SHA, Delivery, Incoming
from hookdaemon.forges._base import (
    COLON_EVENT,
    UUID,
    PayloadError,
    load_object,
    prefixed_signature_ok,
    required,
    required_header,
    text,
)


@frozen
class BitbucketServer:
    """Bitbucket Server and Data Center as a L{Forge}: X-Event-Key without Cloud's UUID headers."""

    name = "bitbucket-server"
    # X-Request-Id is a UUID; event keys are "repo:refs_changed", "pr:reviewer:approved".
    # See https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html
    delivery_ids = UUID
    events = COLON_EVENT

    def detect(self, incoming: Incoming) -> bool:
        # X-Hook-UUID and X-Request-UUID are Bitbucket Cloud's; Server sends X-Request-Id.
        return (
            incoming.header("x-event-key") is not None
            and incoming.header("x-hook-uuid") is None
            and incoming.header("x-request-uuid") is None
        )

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        return prefixed_signature_ok(
            incoming.header("x-hub-signature"), "sha256=", secret, incoming.body, hashlib.sha256
        )

    def parse(self, incoming: Incoming) -> Delivery:
        event = required_header(incoming, "X-Event-Key")
        delivery_id = incoming.header("x-request-id") or ""
        if event == "diagnostics:ping":
            # "Test connection" sends {"test": true}: nothing to read.
            return Delivery(forge=self.name, event=event, kind="ping", delivery_id=delivery_id)
        payload = load_object(incoming)
        repository = payload.get("repository")
        if event.startswith("pr:"):
            # A pull request names its repositories only in its refs; the target's is ours.
            repository = _member(payload, "pullRequest", "toRef", "repository")
        common: dict[str, Any] = dict(
            forge=self.name,
            event=event,
            delivery_id=delivery_id,
            repository=_full_name(repository),
            clone_url=_clone_url(repository),
            pusher=text(payload, "actor", "name"),
        )
        if event == "repo:refs_changed":
            return _refs_changed(payload, common)
        if event.startswith("pr:"):
            return _pull_request(event, payload, common)
        return Delivery(kind=event, **common)


def _member(value: Any, *path: str) -> Any:
    """The value at C{path} inside nested objects, or None."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _full_name(repository: Any) -> str:
    """PROJECT/slug, or C{~user/slug} for a personal repository."""
    project, slug = text(repository, "project", "key"), text(repository, "slug")
    return f"{project}/{slug}" if project and slug else ""


def _clone_url(repository: Any) -> str:
    links = _member(repository, "links", "clone")
    if not isinstance(links, list):
        return ""
    # Named "http" whether the server speaks HTTP or HTTPS; the other is "ssh".
    return next((text(link, "href") for link in links if text(link, "name") == "http"), "")


def _refs_changed(payload: dict[str, Any], common: dict[str, Any]) -> Delivery:
    """The last change, carrying all of them in the order the payload lists them."""
    changes = payload.get("changes")
    if not isinstance(changes, list):
        raise PayloadError("repo:refs_changed payload has no changes list")
    if not changes:
        # It happens (a pull request merged outside Bitbucket Server, see its
        # RepositoryRefsChangedEvent javadoc): well-formed, and nothing to run for.
        return Delivery(kind="push", changed_nothing=True, **common)
    deliveries = tuple(_change(index, change, common) for index, change in enumerate(changes))
    return evolve(deliveries[-1], changes=deliveries)


def _change(index: int, change: Any, common: dict[str, Any]) -> Delivery:
    where = f"repo:refs_changed change {index}"
    if not isinstance(change, dict):
        raise PayloadError(f"{where} is not an object")
    kind = text(change, "type")
    # The type, not the hashes sent, decides which side is missing: a DELETE is a deletion.
    return Delivery.of_push(
        ref=text(change, "ref", "id") or required(change, where, "refId"),
        before=ZERO_SHA if kind == "ADD" else text(change, "fromHash"),
        after=ZERO_SHA if kind == "DELETE" else text(change, "toHash"),
        **common,
    )


def _pull_request(event: str, payload: dict[str, Any], common: dict[str, Any]) -> Delivery:
    """
    Any pull request event, by its own key, named by the ref Bitbucket Server
    keeps for its source; its branch is the one it targets.
    """
    number = required(payload, "pull request", "pullRequest", "id")
    return Delivery(
        kind=event,
        ref=f"refs/pull-requests/{number}/from",
        branch=text(payload, "pullRequest", "toRef", "displayId"),
        before=text(payload, "pullRequest", "toRef", "latestCommit"),
        after=text(payload, "pullRequest", "fromRef", "latestCommit"),
        **common,
    )


forge = BitbucketServer()
