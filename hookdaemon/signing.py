"""
The credential headers each forge sends with a delivery, computed as that
forge computes them: for the tests, the benchmarks and C{hookdaemon send},
which must not pay for importing the Twisted test doubles to sign one body.
Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

__all__ = ["SIGNING_PREFIX", "signed"]

SIGNING_PREFIX = "whsec_"


def _hex(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _standard_webhooks(
    secret: str, body: bytes, now: float | None, webhook_id: str | None
) -> dict[str, str]:
    """
    GitLab's signed form (Standard Webhooks): the key after C{whsec_} signs
    C{"<id>.<timestamp>.<body>"} with HMAC-SHA256, sent as C{v1,<base64>}.
    """
    encoded = secret.removeprefix(SIGNING_PREFIX).rstrip("=")
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    if webhook_id is None:
        webhook_id = str(uuid.uuid4())  # GitLab sends its Idempotency-Key, a UUID
    timestamp = str(int(time.time() if now is None else now))
    signed_text = f"{webhook_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed_text, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
    }


def signed(
    forge: str,
    secret: str | bytes,
    body: bytes,
    now: float | None = None,
    signature_header: str = "",
    webhook_id: str | None = None,
) -> dict[str, str]:
    """
    The credential headers C{forge} sends with C{body} for a hook whose secret
    is C{secret}: its signature, or the token itself where that is its scheme.
    A GitLab secret starting with C{whsec_} is a signing token (the signed form,
    timestamped C{now}, with C{webhook_id} or a new UUID as its id); a generic
    hook with C{signature_header} is signed in that header. A secret may be
    bytes where it signs (a file: secret may hold any).
    """
    key = secret if isinstance(secret, bytes) else secret.encode()
    token = secret if isinstance(secret, str) else secret.decode("utf-8", "surrogateescape")
    if forge == "github":
        return {"X-Hub-Signature-256": "sha256=" + _hex(key, body)}
    if forge == "gitlab":
        if token.startswith(SIGNING_PREFIX):
            return _standard_webhooks(token, body, now, webhook_id)
        return {"X-Gitlab-Token": token}
    if forge == "gitea":
        return {"X-Gitea-Signature": _hex(key, body)}
    if forge == "forgejo":
        return {"X-Forgejo-Signature": _hex(key, body), "X-Gitea-Signature": _hex(key, body)}
    if forge == "gogs":
        return {"X-Gogs-Signature": _hex(key, body)}
    if forge in ("bitbucket", "bitbucket-server"):
        return {"X-Hub-Signature": "sha256=" + _hex(key, body)}
    if forge == "generic":
        if signature_header:
            return {signature_header: "sha256=" + _hex(key, body)}
        return {"Authorization": f"Bearer {token}"}
    raise ValueError(f"no signer for {forge}")
