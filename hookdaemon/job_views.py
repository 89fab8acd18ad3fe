"""
What the status endpoints show of a job, from plain values: the job API's JSON.

Who may see it is L{hookdaemon.status_access}'s concern.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
        # False once the journal dropped the body (superseded, or past payload_budget).
        "payload_kept": record.payload_kept,
    }
