"""
What the status endpoints show, and who may see it, from plain values.

C{/jobs} reveals refs, commits and output: with a C{status_token} it needs that
token; without one only loopback clients may look. The client is the one behind
a trusted proxy (L{hookdaemon.client_address}): behind nginx on 127.0.0.1 every
caller would otherwise be loopback.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from hookdaemon.config import Secret
from hookdaemon.forges._base import bearer, same
from hookdaemon.intake import client_allowed
from hookdaemon.journal import JobRecord


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def job_json(record: JobRecord, covers: list[int], covered_by: int | None) -> dict[str, Any]:
    """
    C{covers}: every delivery this run stood in for; C{covered_by}: the job whose
    run stood in for this one (the end of a chain of replacements).
    """
    delivery = record.delivery
    return {
        "id": record.id,
        "url": f"/jobs/{record.id}",
        "log_url": f"/jobs/{record.id}/log",
        "hook": record.hook,
        "state": record.state,
        "exit_code": record.exit_code,
        "signal": record.signal,
        "delivery": {
            "id": delivery.delivery_id,
            "forge": delivery.forge,
            "event": delivery.event,
            "ref": delivery.ref,
            "branch": delivery.branch,
            "tag": delivery.tag,
            "before": delivery.before,
            "after": delivery.after,
            "repository": delivery.repository,
            "pusher": delivery.pusher,
        },
        "queued_at": iso(record.queued_at),
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
        "covered_by": covered_by,
        "covers": covers,
        "retry_of": record.retry_of,
    }


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def status_refusal(token: Secret | None, authorization: str | None, client: str) -> int | None:
    """None when the status endpoints may answer this client; else 401 or 403."""
    if token is not None:
        given = bearer(authorization)
        return None if given is not None and same(given, token.value) else 401
    return None if client_allowed(LOOPBACK, client) else 403
