"""
Gitea, Forgejo and Gogs: one payload format, told apart by their header names.

Each signs with a bare hex HMAC-SHA256 in X-<Forge>-Signature and names the
event and delivery in X-<Forge>-Event and X-<Forge>-Delivery. Forgejo sends
its own headers and Gitea's, Gitea sends Gogs' too, and both send GitHub's.
See https://docs.gitea.com/usage/webhooks and https://forgejo.org/docs/latest/user/webhooks/
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.forges._base import (
    SNAKE_CASE_EVENT,
    UUID,
    PayloadError,
    body_format,
    count,
    hmac_hex,
    json_document,
    load_object,
    required,
    same,
    text,
)
from hookdaemon.forges.github import pull_request, ref_event

# create and delete name the ref by its short name and say what kind it is.


@frozen
class GiteaFamily:
    """One forge of the family; the instances differ only in the headers they read."""

    name: str
    families: tuple[str, ...]
    """
    The C{X-<family>-*} headers this forge reads, most specific first; the
    first family's event header is what L{detect} looks for.
    """
    # X-<Forge>-Delivery is a UUID (Gitea's and Gogs' webhook tasks make one with
    # uuid.New / uuid.NewV4); events are snake case (Gitea's webhook_module.HookEventType).
    delivery_ids = UUID
    events = SNAKE_CASE_EVENT

    def _header(self, incoming: Incoming, suffix: str) -> str | None:
        """The first of this forge's C{X-<family>-<suffix>} headers that was sent."""
        for family in self.families:
            value = incoming.header(f"x-{family}-{suffix}")
            if value is not None:
                return value
        return None

    def _names(self, suffix: str) -> str:
        return " or ".join(f"X-{family}-{suffix}" for family in self.families)

    def detect(self, incoming: Incoming) -> bool:
        return incoming.header(f"x-{self.families[0]}-event") is not None

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        signature = self._header(incoming, "signature")
        signed = _signed_bytes(incoming)
        if signature is None or signed is None:
            return False
        # Compared exactly as sent: Go's hex.EncodeToString writes lowercase.
        return same(signature, hmac_hex(secret, signed))

    def parse(self, incoming: Incoming) -> Delivery:
        event = self._header(incoming, "event")
        if not event:
            raise PayloadError(f"missing {self._names('Event')} header")
        payload = load_object(incoming)
        common: dict[str, Any] = dict(
            forge=self.name,
            event=event,
            delivery_id=self._header(incoming, "delivery") or "",
            repository=text(payload, "repository", "full_name"),
            clone_url=text(payload, "repository", "clone_url"),
            pusher=_login(payload, "pusher") or _login(payload, "sender"),
        )
        if event == "push":
            return Delivery.of_push(
                ref=required(payload, "push", "ref"),
                before=text(payload, "before"),
                after=text(payload, "after"),
                # Gitea caps the commits list it sends; total_commits (1.14+) is the real count.
                commits=count(payload, "total_commits") or count(payload, "commits"),
                **common,
            )
        if event in ("create", "delete"):
            return ref_event(event, payload, common)
        if event == "pull_request":
            return pull_request(payload, common)
        return Delivery(kind=event, **common)


def _signed_bytes(incoming: Incoming) -> bytes | None:
    """
    What the signature covers: the JSON payload, which for a hook with content
    type "form" is the C{payload} field, not the body Gitea and Gogs send.
    See services/webhook/deliver.go in go-gitea/gitea.
    """
    if body_format(incoming) != "form":
        return incoming.body
    # Found exactly as load_json finds it, so what is verified is what is read.
    try:
        document = json_document(incoming)
    except PayloadError:
        return None
    return document.encode("utf-8") if isinstance(document, str) else document


def _login(payload: dict[str, Any], user: str) -> str:
    return (
        text(payload, user, "login")
        or text(payload, user, "username")
        or text(payload, user, "name")
    )


gitea = GiteaFamily(name="gitea", families=("Gitea",))
forgejo = GiteaFamily(name="forgejo", families=("Forgejo", "Gitea"))
gogs = GiteaFamily(name="gogs", families=("Gogs",))
