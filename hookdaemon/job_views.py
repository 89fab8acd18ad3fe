"""
What the status endpoints show of a job, from plain values: the job API's JSON.

Who may see it is L{hookdaemon.status_access}'s concern.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hookdaemon.delivery import SHOWN_FIELDS
from hookdaemon.journal import JobRecord

_SHOWN = (
    *(shown for shown in SHOWN_FIELDS if shown[0] == "id"),
    *(shown for shown in SHOWN_FIELDS if shown[0] != "id"),
)
"""The delivery's values a job shows, by key: its id first, as the API has always listed it."""


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
        "delivery": {key: getattr(delivery, name) for key, name in _SHOWN},
        "queued_at": iso(record.queued_at),
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
        "covered_by": covered_by,
        "covers": covers,
        # The delivery's first job, for a retry after a stop or crash interrupted it.
        "retry_of": record.retry_of,
        "attempt": record.attempt,
        # False once the journal dropped the body (superseded, or past payload_budget).
        "payload_kept": record.payload_kept,
    }
