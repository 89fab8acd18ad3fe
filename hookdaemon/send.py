"""
What C{hookdaemon send} posts: a delivery for one hook in its forge's own
format, signed with the hook's secret as that forge signs, so that a person can
test a setup without pushing a commit.

The body is the smallest push each forge module reads in full (ref, before,
after, repository and clone URL, pusher, one commit), shaped as the forge's
real deliveries in tests/fixtures/forges are. Plain values in and out: no I/O.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from attrs import frozen

from hookdaemon import __version__
from hookdaemon.config import HookConfig
from hookdaemon.delivery import BRANCH_PREFIX, TAG_PREFIX, ZERO_SHA, split_ref
from hookdaemon.forges._base import basic_header
from hookdaemon.signing import SIGNING_PREFIX, signed

__all__ = ["Outgoing", "Push", "default_push", "imitated_forge", "outgoing"]

FORGE_NAMES = {
    "github": "GitHub",
    "gitlab": "GitLab",
    "gitea": "Gitea",
    "forgejo": "Forgejo",
    "gogs": "Gogs",
    "bitbucket": "Bitbucket Cloud",
    "bitbucket-server": "Bitbucket Server",
    "generic": "a generic caller",
}

DEFAULT_BRANCH = "main"
DEFAULT_TAG = "v1.0.0"
DEFAULT_REPOSITORY = "example/site"
"""The repository a push is for when the hook's filters name none plainly."""

_GLOB = frozenset("*?[")

_CLONE_HOSTS = {
    # Where each forge's clone URLs point: its public instance, or an example host
    # for the ones people run themselves.
    "github": "https://github.com",
    "gitlab": "https://gitlab.com",
    "bitbucket": "https://bitbucket.org",
}
_SELF_HOSTED = "https://git.example.com"


@frozen
class Push:
    """The push a delivery tells of."""

    ref: str
    before: str
    after: str
    repository: str
    pusher: str


@frozen
class Outgoing:
    """One delivery ready to POST to C{/hooks/NAME}."""

    forge: str
    """The forge it is sent as."""
    event: str
    """The forge's own name for the event, as its header says it ("" for generic)."""
    body: bytes
    headers: Mapping[str, str]
    query: str = ""
    """What follows C{?} in the hook's URL: a generic token where Basic takes the header."""


def imitated_forge(hook: HookConfig) -> str:
    """
    The forge a hook's deliveries are sent as: its own, and for C{forge = auto}
    GitHub (what auto recognises first among the common ones), or GitLab for a
    C{whsec_} signing token, which only GitLab's signed form uses.
    """
    if hook.forge != "auto":
        return hook.forge
    if hook.secret is not None and hook.secret.value.startswith(SIGNING_PREFIX.encode()):
        return "gitlab"
    return "github"


def _plain(patterns: Iterable[str]) -> str:
    """The first pattern that names one value (no glob characters), or ""."""
    return next((p for p in patterns if not _GLOB & set(p)), "")


def full_ref(name: str) -> str:
    """C{--ref}: a full ref as given, else a branch's name."""
    return name if name.startswith("refs/") else BRANCH_PREFIX + name


def default_push(
    hook: HookConfig,
    pusher: str,
    ref: str | None = None,
    after: str | None = None,
    repository: str | None = None,
) -> Push:
    """
    A push the hook would want: to the repository its C{repository} filter names
    plainly, of the branch its C{branches} name plainly (or a tag, for a hook
    whose events are tags only), to a new commit; each may be given instead.
    """
    if ref is None:
        if "tag" in hook.events and "push" not in hook.events:
            ref = TAG_PREFIX + (_plain(hook.tags) or DEFAULT_TAG)
        else:
            ref = BRANCH_PREFIX + (_plain(hook.branches) or DEFAULT_BRANCH)
    return Push(
        ref=full_ref(ref),
        before=secrets.token_hex(20),
        after=secrets.token_hex(20) if after is None else after,
        repository=repository or _plain(hook.repository) or DEFAULT_REPOSITORY,
        pusher=pusher,
    )


def push_event(forge: str, ref: str) -> str:
    """The forge's own name for a push of C{ref}."""
    if forge == "gitlab":
        return "Tag Push Hook" if ref.startswith(TAG_PREFIX) else "Push Hook"
    if forge == "bitbucket":
        return "repo:push"
    if forge == "bitbucket-server":
        return "repo:refs_changed"
    return "push"


def outgoing(
    hook: HookConfig,
    push: Push,
    now: float,
    event: str | None = None,
    body: bytes | None = None,
) -> Outgoing:
    """
    The delivery of C{push} as the hook's forge sends it (or of C{body}, a
    payload as given), for C{event} (the forge's push event by default),
    signed with the hook's secret (and with its Basic credentials where it has
    C{basic_auth}), timestamped C{now}; a new delivery id each time, so the
    daemon never takes it for a redelivery.
    """
    forge = imitated_forge(hook)
    if forge == "generic" and event is not None:
        raise ValueError("a generic hook's deliveries name no event; leave --event out")
    event = event or ("" if forge == "generic" else push_event(forge, push.ref))
    if body is None:
        body = json.dumps(payload(forge, event, push, now), indent=2).encode() + b"\n"
    delivery_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"hookdaemon-send/{__version__}",
        **_event_headers(forge, event, delivery_id),
    }
    query = ""
    if hook.secret is not None:
        credentials = signed(
            forge,
            hook.secret.value,
            body,
            now=now,
            signature_header=hook.signature_header,
            webhook_id=delivery_id,
        )
        if hook.basic_auth is not None and "Authorization" in credentials:
            # Basic takes the header a generic caller's Bearer token goes in; the
            # daemon reads that token from the URL as well.
            token = credentials.pop("Authorization").removeprefix("Bearer ")
            query = urlencode({"token": token})
        headers.update(credentials)
    if hook.basic_auth is not None:
        headers["Authorization"] = basic_header(hook.basic_auth.value)
    return Outgoing(forge=forge, event=event, body=body, headers=headers, query=query)


def _event_headers(forge: str, event: str, delivery_id: str) -> dict[str, str]:
    """The headers naming the event and the delivery, as in tests/fixtures/forges/*.headers."""
    if forge == "github":
        return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery_id}
    if forge == "gitlab":
        return {
            "X-Gitlab-Event": event,
            "X-Gitlab-Instance": _CLONE_HOSTS["gitlab"],
            "X-Gitlab-Event-UUID": delivery_id,
            "Idempotency-Key": delivery_id,
        }
    if forge in ("gitea", "forgejo", "gogs"):
        # Forgejo sends its headers and Gitea's, Gitea sends Gogs' too, all send GitHub's.
        families = {
            "forgejo": ("Forgejo", "Gitea", "Gogs"),
            "gitea": ("Gitea", "Gogs"),
            "gogs": ("Gogs",),
        }[forge]
        headers = {}
        for family in (*families, "GitHub"):
            headers[f"X-{family}-Event"] = event
            headers[f"X-{family}-Delivery"] = delivery_id
            if forge != "gogs":
                headers[f"X-{family}-Event-Type"] = event
        return headers
    if forge == "bitbucket":
        return {
            "X-Event-Key": event,
            "X-Hook-UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, "hookdaemon-send")),
            "X-Request-UUID": delivery_id,
            "X-Attempt-Number": "1",
        }
    if forge == "bitbucket-server":
        return {"X-Event-Key": event, "X-Request-Id": delivery_id}
    return {"X-Request-Id": delivery_id}


def _clone_url(forge: str, repository: str) -> str:
    return f"{_CLONE_HOSTS.get(forge, _SELF_HOSTED)}/{repository}.git"


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")


def payload(forge: str, event: str, push: Push, now: float) -> dict[str, Any]:
    """The JSON body of C{push}, in C{forge}'s shape."""
    name = push.repository.rpartition("/")[2]
    clone_url = _clone_url(forge, push.repository)
    web_url = clone_url.removesuffix(".git")
    message = "hookdaemon send: a test delivery\n"
    commits = (
        []
        if push.after == ZERO_SHA
        else [
            {
                "id": push.after,
                "message": message,
                "timestamp": _iso(now),
                "url": f"{web_url}/commit/{push.after}",
                "author": {"name": push.pusher, "email": f"{push.pusher}@example.invalid"},
            }
        ]
    )
    # GitHub's repository object, which Gitea, Forgejo and Gogs copied.
    repository = {
        "name": name,
        "full_name": push.repository,
        "html_url": web_url,
        "clone_url": clone_url,
        "default_branch": DEFAULT_BRANCH,
    }
    if forge == "github":
        return {
            "ref": push.ref,
            "before": push.before,
            "after": push.after,
            "created": push.before == ZERO_SHA,
            "deleted": push.after == ZERO_SHA,
            "forced": False,
            "base_ref": None,
            "compare": f"{web_url}/compare/{push.before[:12]}...{push.after[:12]}",
            "commits": commits,
            "head_commit": commits[0] if commits else None,
            "repository": repository,
            "pusher": {"name": push.pusher, "email": f"{push.pusher}@example.invalid"},
            "sender": {"login": push.pusher},
        }
    if forge == "gitlab":
        kind = {"Push Hook": "push", "Tag Push Hook": "tag_push"}.get(event)
        project = {
            "name": name,
            "path_with_namespace": push.repository,
            "web_url": web_url,
            "git_http_url": clone_url,
            "default_branch": DEFAULT_BRANCH,
        }
        return {
            # Another event keeps its own name: object_kind would override it.
            **({"object_kind": kind, "event_name": kind} if kind else {}),
            "before": push.before,
            "after": push.after,
            "ref": push.ref,
            "checkout_sha": None if push.after == ZERO_SHA else push.after,
            "user_name": push.pusher,
            "user_username": push.pusher,
            "project": project,
            "repository": {
                "name": name,
                "homepage": web_url,
                "git_http_url": clone_url,
            },
            "commits": commits,
            "total_commits_count": len(commits),
        }
    if forge in ("gitea", "forgejo", "gogs"):
        user = {"login": push.pusher, "username": push.pusher}
        return {
            "ref": push.ref,
            "before": push.before,
            "after": push.after,
            "compare_url": f"{web_url}/compare/{push.before}...{push.after}",
            "commits": commits,
            # Gitea 1.14 and later (and so Forgejo) count the commits; Gogs does not.
            **({} if forge == "gogs" else {"total_commits": len(commits)}),
            "repository": repository,
            "pusher": user,
            "sender": user,
        }
    if forge == "bitbucket":
        return _bitbucket_cloud(push, web_url, commits, now)
    if forge == "bitbucket-server":
        return _bitbucket_server(push, now)
    return {
        "ref": push.ref,
        "before": push.before,
        "after": push.after,
        "repository": push.repository,
        "clone_url": clone_url,
        "pusher": push.pusher,
    }


def _bitbucket_cloud(
    push: Push, web_url: str, commits: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    """One change in C{push.changes}; a created ref has no C{old}, a deleted one no C{new}."""
    branch, tag = split_ref(push.ref)
    kind, short = ("tag", tag) if tag else ("branch", branch or push.ref)

    def state(commit: str, date: bool) -> dict[str, Any] | None:
        if commit == ZERO_SHA:
            return None
        target: dict[str, Any] = {"type": "commit", "hash": commit}
        if date:
            target.update(date=_iso(now), message=commits[0]["message"] if commits else "")
        return {"type": kind, "name": short, "target": target}

    return {
        "push": {
            "changes": [
                {
                    "new": state(push.after, date=True),
                    "old": state(push.before, date=False),
                    "created": push.before == ZERO_SHA,
                    "closed": push.after == ZERO_SHA,
                    "forced": False,
                    "commits": [{"hash": c["id"], "message": c["message"]} for c in commits],
                    "truncated": False,
                }
            ]
        },
        "repository": {
            "type": "repository",
            "name": push.repository.rpartition("/")[2],
            "full_name": push.repository,
            "links": {"html": {"href": web_url}},
        },
        "actor": {"nickname": push.pusher, "display_name": push.pusher},
    }


def _bitbucket_server(push: Push, now: float) -> dict[str, Any]:
    """Its repository is PROJECT/slug, and only that form names one."""
    project, _, slug = push.repository.rpartition("/")
    project = project or "PROJECT"
    branch, tag = split_ref(push.ref)
    change_type = (
        "ADD" if push.before == ZERO_SHA else "DELETE" if push.after == ZERO_SHA else "UPDATE"
    )
    host = _SELF_HOSTED.replace("git.", "bitbucket.")
    return {
        "eventKey": "repo:refs_changed",
        "date": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S%z"),
        "actor": {"name": push.pusher, "displayName": push.pusher, "slug": push.pusher},
        "repository": {
            "slug": slug,
            "name": slug,
            "scmId": "git",
            "project": {"key": project, "name": project},
            "links": {
                "clone": [
                    {"href": f"{host}/scm/{project.lower()}/{slug}.git", "name": "http"},
                ]
            },
        },
        "changes": [
            {
                "ref": {
                    "id": push.ref,
                    "displayId": tag or branch or push.ref,
                    "type": "TAG" if tag else "BRANCH",
                },
                "refId": push.ref,
                "fromHash": push.before,
                "toHash": push.after,
                "type": change_type,
            }
        ],
    }
