"""Does this delivery want a run of this hook? A reason when it does not."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from hookdaemon.config import HookConfig
from hookdaemon.delivery import TAG_PREFIX, Delivery


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def _shown(patterns: Iterable[str]) -> str:
    """The patterns a delivery failed, as the hook's key lists them (a sender sees its config)."""
    return " ".join(patterns)


def ignore_reason(hook: HookConfig, delivery: Delivery) -> str | None:
    """None when the hook should run for C{delivery}; otherwise why not, in one line."""
    if not delivery.names() & hook.events:
        if delivery.kind == "delete":
            what = f"branch {delivery.branch}" if delivery.branch else f"ref {delivery.ref}"
            if delivery.tag:
                what = f"tag {delivery.tag}"
            return f"deletes {what}; add delete to events to run on deletions"
        # A tag push is a "push" or "repo:push" event to the forge; name it by what selects it.
        event = delivery.kind if delivery.kind in ("push", "tag") else delivery.event
        return f"event {event} is not in events ({' '.join(sorted(hook.events))})"
    if hook.repository and not _matches(delivery.repository, hook.repository):
        return (
            f"repository {delivery.repository or '(none)'} does not match repository"
            f" ({_shown(hook.repository)})"
        )
    if delivery.tag or delivery.ref.startswith(TAG_PREFIX):
        # By the ref, not the name: an empty name (refs/tags/) must not pass as a branch.
        if hook.tags and not _matches(delivery.tag, hook.tags):
            return f"tag {delivery.tag or '(empty)'} does not match tags ({_shown(hook.tags)})"
    elif hook.branches:
        if not delivery.branch:
            return "the delivery names no branch and branches is set"
        if not _matches(delivery.branch, hook.branches):
            return f"branch {delivery.branch} does not match branches ({_shown(hook.branches)})"
    return None
