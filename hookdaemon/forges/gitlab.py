"""
GitLab: X-Gitlab-Event, X-Gitlab-Token (or the C{token} query parameter that
old GitLab setups put in the hook URL), or the signed form. The delivery id is
the signed form's webhook-id, which the signature covers, so a recorded
delivery sent again within the signature's window is a duplicate whatever else
it says; without the signed form, Idempotency-Key or X-Gitlab-Event-UUID.
See https://docs.gitlab.com/user/project/integrations/webhook_events/
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import urlsplit

from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.forges._base import UUID, PayloadError, count, load_object, required, same, text

# X-Gitlab-Event values whose object_kind we rely on, for payloads that lack it.
_EVENT_KINDS = {
    "Push Hook": "push",
    "Tag Push Hook": "tag_push",
    "Merge Request Hook": "merge_request",
}
_PUSH_KINDS = {"push", "tag_push"}

SIGNATURE_TOLERANCE = 300
"""Seconds a signed-form timestamp may be away from our clock, either way."""

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# An SSH clone URL in scp syntax: "git@host:group/project.git".
_SCP_LIKE = re.compile(r"[^/@:]+@[^/:]+:(.+)")


class GitLab:
    """GitLab as a L{Forge}: known by its X-Gitlab- headers, checked by token or signed form."""

    name = "gitlab"
    delivery_ids = re.compile(rf"{UUID.pattern}|msg_[A-Za-z0-9]{{1,64}}")
    """
    Idempotency-Key, X-Gitlab-Event-UUID and the signed form's webhook-id are
    UUIDs; Standard Webhooks senders name messages C{msg_<id>}.
    """
    events = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}(?: [A-Za-z0-9_]{1,32}){0,7}")
    """X-Gitlab-Event ("Push Hook", "Tag Push Hook", "System Hook") or an object_kind."""

    def detect(self, incoming: Incoming) -> bool:
        return any(
            incoming.header(name) is not None
            for name in ("x-gitlab-event", "x-gitlab-token", "x-gitlab-instance")
        )

    def authenticate(self, incoming: Incoming, secret: bytes) -> bool:
        signature = incoming.header("webhook-signature")
        if signature is not None:
            return _signed_form_ok(incoming, signature, secret)
        token = incoming.header("x-gitlab-token")
        if token is None:
            token = incoming.query.get("token")
        return token is not None and same(token, secret)

    def parse(self, incoming: Incoming) -> Delivery:
        payload = load_object(incoming)
        event = incoming.header("x-gitlab-event") or ""
        object_kind = text(payload, "object_kind") or _EVENT_KINDS.get(event, "")
        if not event and not object_kind and text(payload, "ref") and text(payload, "after"):
            # GitLab 7.x sends pushes with neither the header nor object_kind.
            object_kind = "push"
        if not event and not object_kind:
            raise PayloadError("missing X-Gitlab-Event header and object_kind")
        common: dict[str, Any] = dict(
            forge=self.name,
            event=event or object_kind,
            delivery_id=_delivery_id(incoming),
            repository=_full_name(payload),
            clone_url=(
                text(payload, "project", "git_http_url")
                or text(payload, "repository", "git_http_url")
                or text(payload, "repository", "url")
            ),
            pusher=(
                text(payload, "user_username")
                or text(payload, "user", "username")
                or text(payload, "user_name")
                or text(payload, "user", "name")
            ),
        )
        if object_kind in _PUSH_KINDS:
            return Delivery.of_push(
                ref=required(payload, "push", "ref"),
                before=text(payload, "before"),
                after=text(payload, "after") or text(payload, "checkout_sha"),
                commits=count(payload, "total_commits_count") or count(payload, "commits"),
                **common,
            )
        if object_kind == "merge_request":
            iid = required(payload, "merge_request", "object_attributes", "iid")
            return Delivery(
                kind="merge_request",
                ref=f"refs/merge-requests/{iid}/head",
                branch=text(payload, "object_attributes", "target_branch"),
                after=text(payload, "object_attributes", "last_commit", "id"),
                **common,
            )
        # System hooks name most of their events in event_name, not object_kind.
        return Delivery(kind=object_kind or text(payload, "event_name") or event, **common)


def _signed_form_ok(incoming: Incoming, signature: str, secret: bytes) -> bool:
    """
    GitLab's signed form (Standard Webhooks): HMAC-SHA256 of "id.timestamp.body",
    with a timestamp so that a recorded delivery cannot be replayed later.
    See https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
    """
    webhook_id = incoming.header("webhook-id")
    timestamp = incoming.header("webhook-timestamp")
    if webhook_id is None or timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        return False
    if abs(incoming.received_at - int(timestamp)) > SIGNATURE_TOLERANCE:
        return False
    try:
        # The web layer decodes header bytes as latin-1; this gets them back.
        prefix = f"{webhook_id}.{timestamp}.".encode("latin-1")
    except UnicodeEncodeError:
        return False
    signed = prefix + incoming.body
    digest = hmac.new(_signing_key(secret), signed, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode("ascii")
    matched = False
    for entry in signature.split():
        # Every entry is compared, so the time taken does not tell which one matched.
        matched |= same(entry, expected)
    return matched


def _delivery_id(incoming: Incoming) -> str:
    if incoming.header("webhook-signature") is not None:
        # Signed: only the signed id counts. GitLab sets it to the Idempotency-Key,
        # but that header is not signed, and a replay may change it.
        # See https://gitlab.com/gitlab-org/gitlab/-/merge_requests/230944
        return incoming.header("webhook-id") or ""
    return incoming.header("idempotency-key") or incoming.header("x-gitlab-event-uuid") or ""


SIGNING_PREFIX = b"whsec_"
SIGNING_KEY_BYTES = 32
"""
GitLab makes a signing token as C{"whsec_" + strict_encode64(SecureRandom.bytes(32))}
and accepts no other ("must be in whsec_<base64> format encoding a 32-byte key").
See https://gitlab.com/gitlab-org/gitlab/-/merge_requests/231325
"""


def _token_key(secret: bytes) -> bytes | None:
    """
    The key a C{whsec_} secret encodes, with any padding a paste lost put back;
    None if what follows C{whsec_} is not base64.
    """
    encoded = secret[len(SIGNING_PREFIX) :].rstrip(b"=")
    if not encoded or len(encoded) % 4 == 1:
        return None
    try:
        return base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return None


def _signing_key(secret: bytes) -> bytes:
    """
    GitLab shows the signing token as C{whsec_<base64 key>}; the key is what
    signs. A secret that is not such a token signs as it is (the config refuses
    a C{whsec_} secret that is not base64 or not a 32-byte key).
    """
    if secret.startswith(SIGNING_PREFIX):
        key = _token_key(secret)
        if key is not None:
            return key
    return secret


def signing_token_problem(secret: bytes) -> str | None:
    """Why a C{whsec_} secret is not a signing token GitLab could have shown, or None."""
    if not secret.startswith(SIGNING_PREFIX):
        return None
    key = _token_key(secret)
    if key is None:
        return "starts with whsec_ but what follows is not a base64 key"
    if len(key) != SIGNING_KEY_BYTES:
        # A token cut short in a paste is still base64, of a shorter key.
        return (
            f"starts with whsec_ but what follows decodes to {len(key)} bytes, and a GitLab "
            f"signing key is {SIGNING_KEY_BYTES}"
        )
    return None


def _full_name(payload: dict[str, Any]) -> str:
    """
    The project's "group/project" path. Old GitLab (7.x, 8.x) sends no
    C{project}, only C{repository}, whose SSH URL is that path plus ".git" (its
    homepage would also carry any relative URL root the instance is served under).
    """
    full_name = text(payload, "project", "path_with_namespace") or text(
        payload, "repository", "path_with_namespace"
    )
    if full_name:
        return full_name
    for url in (text(payload, "repository", "git_ssh_url"), text(payload, "repository", "url")):
        path = _ssh_path(url)
        if path:
            return path.removesuffix(".git")
    homepage = text(payload, "repository", "homepage")
    try:
        path = urlsplit(homepage).path.strip("/")
    except ValueError:
        path = ""
    return path or text(payload, "repository", "name")


def _ssh_path(url: str) -> str:
    """The path in an SSH clone URL, without its leading slash; "" for other URLs."""
    match = _SCP_LIKE.fullmatch(url)
    if match:
        return match.group(1).strip("/")
    if url.startswith("ssh://"):
        try:
            return urlsplit(url).path.strip("/")
        except ValueError:
            return ""
    return ""


forge = GitLab()
