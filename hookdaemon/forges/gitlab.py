"""
GitLab: X-Gitlab-Event, X-Gitlab-Token (or the C{token} query parameter that
old GitLab setups put in the hook URL), X-Gitlab-Event-UUID.
See https://docs.gitlab.com/user/project/integrations/webhook_events/
"""

from __future__ import annotations

from typing import Any

from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.forges._base import PayloadError, count, load_object, required, same, text

# X-Gitlab-Event values for pushes, and the object_kind old GitLab sends instead.
_PUSH_EVENTS = {"Push Hook": "push", "Tag Push Hook": "tag_push"}
_PUSH_KINDS = {"push", "tag_push"}


class GitLab:
    name = "gitlab"

    def detect(self, incoming: Incoming) -> bool:
        return (
            incoming.header("x-gitlab-event") is not None
            or incoming.header("x-gitlab-token") is not None
        )

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        token = incoming.header("x-gitlab-token")
        if token is None:
            token = incoming.query.get("token")
        return token is not None and same(token, secret)

    def parse(self, incoming: Incoming) -> Delivery:
        payload = load_object(incoming)
        event = incoming.header("x-gitlab-event") or ""
        object_kind = text(payload, "object_kind") or _PUSH_EVENTS.get(event, "")
        if not event and not object_kind:
            raise PayloadError("missing X-Gitlab-Event header and object_kind")
        common: dict[str, Any] = dict(
            forge=self.name,
            event=event or object_kind,
            delivery_id=(
                incoming.header("idempotency-key") or incoming.header("x-gitlab-event-uuid") or ""
            ),
            repository=(
                text(payload, "project", "path_with_namespace")
                or text(payload, "repository", "path_with_namespace")
                or text(payload, "repository", "name")
            ),
            clone_url=(
                text(payload, "project", "git_http_url")
                or text(payload, "repository", "git_http_url")
                or text(payload, "repository", "url")
            ),
            pusher=text(payload, "user_username") or text(payload, "user_name"),
        )
        if object_kind in _PUSH_KINDS:
            return Delivery.of_push(
                ref=required(payload, "push", "ref"),
                before=text(payload, "before"),
                after=text(payload, "after") or text(payload, "checkout_sha"),
                commits=count(payload, "total_commits_count") or count(payload, "commits"),
                **common,
            )
        return Delivery(kind=object_kind or event, **common)


forge = GitLab()
