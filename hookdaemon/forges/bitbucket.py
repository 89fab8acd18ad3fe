"""
Bitbucket Cloud: X-Event-Key, X-Request-UUID, X-Hub-Signature (C{sha256=} only).

One repo:push carries every ref it changed in C{push.changes[]}; each becomes
a L{Delivery} of its own, and the hook runs once, for the newest it wants.
See https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from attrs import evolve, frozen

from hookdaemon.delivery import BRANCH_PREFIX, TAG_PREFIX, ZERO_SHA, Delivery, Incoming
from hookdaemon.forges._base import (
    COLON_EVENT,
    UUID,
    PayloadError,
    count,
    load_object,
    prefixed_signature_ok,
    required,
    required_header,
    text,
)

# A change names its ref by short name and says what kind it is.
_REF_PREFIXES = {"branch": BRANCH_PREFIX, "tag": TAG_PREFIX}

# Changes without a commit date (deletions) sort before every dated one, so a
# deletion never hides a pushed commit from HOOK_* when a hook wants both.
_UNDATED = datetime.min.replace(tzinfo=UTC)


@frozen
class BitbucketCloud:
    """Bitbucket Cloud as a L{Forge}: X-Event-Key with X-Hook-UUID or X-Request-UUID."""

    name = "bitbucket"
    # X-Request-UUID is a UUID; event keys are "repo:push", "pullrequest:created".
    # See https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/#HTTP-headers
    delivery_ids = UUID
    events = COLON_EVENT

    def detect(self, incoming: Incoming) -> bool:
        # Bitbucket Server sends X-Event-Key too, but neither of these.
        return incoming.header("x-event-key") is not None and (
            incoming.header("x-hook-uuid") is not None
            or incoming.header("x-request-uuid") is not None
        )

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        return prefixed_signature_ok(
            incoming.header("x-hub-signature"), "sha256=", secret, incoming.body, hashlib.sha256
        )

    def parse(self, incoming: Incoming) -> Delivery:
        event = required_header(incoming, "X-Event-Key")
        payload = load_object(incoming)
        common: dict[str, Any] = dict(
            forge=self.name,
            event=event,
            delivery_id=incoming.header("x-request-uuid") or "",
            repository=text(payload, "repository", "full_name"),
            clone_url=_clone_url(payload.get("repository")),
            # Since 2019 Bitbucket sends nickname instead of username; older payloads the reverse.
            pusher=text(payload, "actor", "nickname")
            or text(payload, "actor", "username")
            or text(payload, "actor", "display_name"),
        )
        if event == "repo:push":
            return _push(payload, common)
        if event.startswith("pullrequest:"):
            return _pull_request(event, payload, common)
        return Delivery(kind=event, **common)


def _clone_url(repository: Any) -> str:
    """
    The HTTPS clone URL. Webhook payloads carry no clone links, only the
    repository's web page, which git clones from with .git added.
    """
    links = repository.get("links") if isinstance(repository, dict) else None
    clone = links.get("clone") if isinstance(links, dict) else None
    if isinstance(clone, list):
        for link in clone:
            if text(link, "name") == "https" and text(link, "href"):
                return text(link, "href")
    html = text(links, "html", "href")
    return html + ".git" if html else ""


def _push(payload: dict[str, Any], common: dict[str, Any]) -> Delivery:
    """The newest change, carrying all of them oldest first by their new commit's date."""
    push = payload.get("push")
    changes = push.get("changes") if isinstance(push, dict) else None
    if not isinstance(changes, list):
        raise PayloadError("repo:push payload has no push.changes list")
    if not changes:
        # Well-formed and seen in the wild (Zulip's and Woodpecker's Bitbucket
        # integrations ignore it too): nothing to run for.
        return Delivery(kind="push", changed_nothing=True, **common)
    dated = [_change(index, change, common) for index, change in enumerate(changes)]
    ordered = tuple(delivery for _, delivery in sorted(dated, key=lambda pair: pair[0]))
    return evolve(ordered[-1], changes=ordered)


def _change(index: int, change: Any, common: dict[str, Any]) -> tuple[datetime, Delivery]:
    """One ref's change, and the date it sorts by."""
    if not isinstance(change, dict):
        raise PayloadError(f"repo:push change {index} is not an object")
    new, old = change.get("new"), change.get("old")
    # A created ref has no old state, a deleted one no new state.
    named = new if isinstance(new, dict) else old
    if not isinstance(named, dict):
        raise PayloadError(f"repo:push change {index} has neither new nor old")
    kind = text(named, "type")
    prefix = _REF_PREFIXES.get(kind)
    if prefix is None:
        # The type is the caller's text: say what it is not, never what it is.
        raise PayloadError(f"repo:push change {index} is not a branch or tag")
    ref = prefix + required(named, f"repo:push change {index}", "name")
    delivery = Delivery.of_push(
        ref=ref,
        before=text(old, "target", "hash") if isinstance(old, dict) else ZERO_SHA,
        after=text(new, "target", "hash") if isinstance(new, dict) else ZERO_SHA,
        # At most the 5 newest commits are listed (then "truncated" is true).
        commits=count(change, "commits"),
        **common,
    )
    return _date(text(new, "target", "date")), delivery


def _date(value: str) -> datetime:
    try:
        date = datetime.fromisoformat(value)
    except ValueError:
        return _UNDATED
    return date if date.tzinfo is not None else date.replace(tzinfo=UTC)


def _pull_request(event: str, payload: dict[str, Any], common: dict[str, Any]) -> Delivery:
    """
    Any pull request event, by its own key; Bitbucket has no ref for a pull
    request, so its branch is the one it targets and C{after} its source commit.
    """
    required(payload, "pull request", "pullrequest", "id")
    return Delivery(
        kind=event,
        branch=text(payload, "pullrequest", "destination", "branch", "name"),
        before=text(payload, "pullrequest", "destination", "commit", "hash"),
        after=text(payload, "pullrequest", "source", "commit", "hash"),
        **common,
    )


forge = BitbucketCloud()
