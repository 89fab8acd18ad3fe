"""
What the status endpoints show of a job, from plain values: the job API's JSON.

Who may see it is L{hookdaemon.status_access}'s concern.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from attrs import frozen

from hookdaemon.delivery import SHOWN_FIELDS
from hookdaemon.job_state import JobState
from hookdaemon.journal import JobRecord, ReportRecord

MAX_LIMIT = 1000


@frozen
class JobQuery:
    """Which jobs C{GET /jobs} asks for, newest first."""

    hook: str | None = None
    limit: int = 50
    state: JobState | None = None
    before: int | None = None
    """Only ids below this one: the next page after a page that ended with it."""
    since: float | None = None
    """Only jobs queued at this time (seconds since the epoch) or later."""


def job_query(query: Mapping[str, Sequence[str]]) -> JobQuery | str:
    """C{GET /jobs}'s query string, read; or the sentence its 400 says."""

    def one(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    limit_text = one("limit") or "50"
    if not limit_text.isdigit():
        return "limit must be a whole number"
    limit = int(limit_text)
    if not 1 <= limit <= MAX_LIMIT:
        return f"limit must be 1 to {MAX_LIMIT}"
    state_text = one("state")
    state = None
    if state_text is not None:
        try:
            state = JobState(state_text)
        except ValueError:
            return f"state must be one of: {', '.join(s.value for s in JobState)}"
    before_text = one("before")
    if before_text is not None and not before_text.isdigit():
        return "before must be a job id"
    since_text = one("since")
    since = None
    if since_text is not None:
        since = _moment(since_text)
        if since is None:
            return "since must be seconds since the epoch or an ISO 8601 time"
    return JobQuery(
        hook=one("hook"),
        limit=limit,
        state=state,
        before=None if before_text is None else int(before_text),
        since=since,
    )


def _moment(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the API's own times are UTC
    return moment.timestamp()


_SHOWN = (
    *(shown for shown in SHOWN_FIELDS if shown[0] == "id"),
    *(shown for shown in SHOWN_FIELDS if shown[0] != "id"),
)
"""The delivery's values a job shows, by key: its id first, as the API has always listed it."""


def iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def job_json(
    record: JobRecord,
    covers: list[int],
    covered_by: int | None,
    reports: Sequence[ReportRecord] | None = None,
) -> dict[str, Any]:
    """
    C{covers}: every delivery this run stood in for; C{covered_by}: the job whose
    run stood in for this one (the end of a chain of replacements). C{reports}:
    its commit statuses and notifications, shown by C{GET /jobs/ID} only.
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
        # Why it ended so: the step that failed, a timeout, a cancel, the job that
        # superseded it, a stop or crash; None while live and for a success.
        "reason": record.reason,
        "delivery": {key: getattr(delivery, name) for key, name in _SHOWN},
        "queued_at": iso(record.queued_at),
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
        "covered_by": covered_by,
        "covers": covers,
        # The delivery's first job, for a retry after a stop or crash interrupted it.
        "retry_of": record.retry_of,
        "attempt": record.attempt,
        # The job whose delivery a person ran again (POST /jobs/ID/replay).
        "replay_of": record.replay_of,
        # False once the journal dropped the body (superseded, or past payload_budget).
        "payload_kept": record.payload_kept,
    } | ({} if reports is None else {"reports": [report_json(r) for r in reports]})


def report_json(report: ReportRecord) -> dict[str, Any]:
    """
    One of a job's reports: what it is, its outcome (sent, refused, given up,
    dropped, replaced, or waiting), the answer or failure, the tries, and when it
    was settled (for one waiting, when it is tried next).
    """
    return {
        "what": report.what,
        "channel": report.channel.split()[0],  # a notification's URL digest is no one's business
        "outcome": report.outcome,
        "detail": report.detail,
        "attempts": report.attempts,
        "at": iso(report.at),
    }
