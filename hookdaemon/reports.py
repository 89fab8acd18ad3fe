"""
What a job's start and end tell the forge and the team's chat, as plain
values: the outbox entries to send (L{hookdaemon.journal.OutboxEntry}), no
credentials in them. L{hookdaemon.outbox} sends them.

How a job's state reads on the commit:

    started                      running  "Deploying (job 12)"
    succeeded                    success  "Deployed by job 12 in 14 s"
    failed, timed_out            failure  "Deploy failed: step 2/3 (make) exit 2 (job 12)"
    cancelled                    cancelled
    interrupted, run again       pending  "Interrupted; runs again as job 13"
    interrupted, not run again   error    (max_attempts reached, or its hook is gone)

A superseded job never runs: its commit follows the job that covered it, a
status at that job's start and one at its end, each naming that job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from attrs import frozen

from hookdaemon import commit_status
from hookdaemon.commit_status import CommitStatus, StatusState
from hookdaemon.config import HookConfig, Secret
from hookdaemon.job_state import JobState
from hookdaemon.journal import OutboxEntry
from hookdaemon.notification import Finished, json_summary, slack_message

if TYPE_CHECKING:
    from hookdaemon.journal import JobRecord

REPORT = "report"
"""The channel of a hook's commit statuses."""
NOTIFY = "notify"

SHORT = 7
"""Digits of a commit shown in a sentence, as git and the forges shorten it."""


def notify_channel(url: Secret) -> str:
    """A notification URL's channel: its digest, as the journal must not hold the URL."""
    return f"{NOTIFY} {hashlib.sha256(url.value).hexdigest()[:16]}"


def job_link(public_url: str, job_id: int) -> str | None:
    return f"{public_url}/jobs/{job_id}" if public_url else None


@frozen
class Posting:
    """What a job's start or end puts in the outbox, and what it could not report (for the log)."""

    entries: tuple[OutboxEntry, ...] = ()
    notes: tuple[str, ...] = ()


def on_start(
    hook: HookConfig,
    record: JobRecord,
    covered: Sequence[JobRecord],
    public_url: str,
    now: float,
) -> Posting:
    """A job starts: its commit, and those of the jobs it covers, show it running."""
    if hook.report is None:
        return Posting()
    covering = _short(record.delivery.after)
    statuses = [(record, StatusState.RUNNING, f"Deploying (job {record.id})")]
    statuses += [
        (old, StatusState.RUNNING, f"Deploying with job {record.id}, at newer commit {covering}")
        for old in covered
    ]
    return _statuses(hook, record, statuses, public_url, now)


def on_end(
    hook: HookConfig,
    record: JobRecord,
    covered: Sequence[JobRecord],
    public_url: str,
    now: float,
    retried_as: int | None = None,
    previous: JobState | None = None,
) -> Posting:
    """
    A job has ended (C{record} says how): the statuses of its commit and of
    those it covers, and its notifications. C{retried_as}: the job an
    interrupted one runs again as; C{previous}: how the hook's deploy before
    it ended, for C{notify_on = change}.
    """
    state = record.state
    posting = Posting()
    if hook.report is not None:
        word, own, theirs = _final(record, retried_as)
        statuses = [(record, word, own)] + [(old, word, theirs) for old in covered]
        posting = _statuses(hook, record, statuses, public_url, now)
    if hook.notify is None or retried_as is not None:
        return posting
    on = hook.notify.on
    if (on == "failure" and state is JobState.SUCCEEDED) or (on == "change" and previous is state):
        return posting
    finished = _finished(record, covered, public_url)
    body = slack_message(finished) if hook.notify.format == "slack" else json_summary(finished)
    message = json.dumps({"kind": NOTIFY, "body": body}).encode()
    count = len(hook.notify.urls)
    notifications = tuple(
        _entry(
            hook.name,
            record.id,
            notify_channel(url),
            None,
            message,
            now,
            # Which of the hook's URLs, by its place: the URL itself is a secret.
            f"notification {number} of {count} ({url.describe()})"
            if count > 1
            else f"notification ({url.describe()})",
        )
        for number, url in enumerate(hook.notify.urls, 1)
    )
    return Posting(posting.entries + notifications, posting.notes)


def _final(record: JobRecord, retried_as: int | None) -> tuple[StatusState, str, str]:
    """A final state's status word, its commit's sentence and a covered commit's."""
    job, state, reason = record.id, record.state, record.reason or ""
    newer = _short(record.delivery.after)
    if state is JobState.SUCCEEDED:
        took = _took(record)
        return (
            StatusState.SUCCESS,
            f"Deployed by job {job}{took}",
            (f"Deployed by job {job}, at newer commit {newer}"),
        )
    if state is JobState.INTERRUPTED and retried_as is not None:
        return (
            StatusState.PENDING,
            f"Interrupted; runs again as job {retried_as}",
            (f"Job {job} was interrupted; runs again as job {retried_as}"),
        )
    word, verb = {
        JobState.FAILED: (StatusState.FAILURE, "failed"),
        JobState.TIMED_OUT: (StatusState.FAILURE, "timed out"),
        JobState.CANCELLED: (StatusState.CANCELLED, "cancelled"),
    }.get(state, (StatusState.ERROR, "interrupted"))
    why = f": {reason}" if reason else ""
    return (
        word,
        f"Deploy {verb}{why} (job {job})",
        f"Deploy {verb} in job {job}, at newer commit {newer}",
    )


def _statuses(
    hook: HookConfig,
    record: JobRecord,
    statuses: Sequence[tuple[JobRecord, StatusState, str]],
    public_url: str,
    now: float,
) -> Posting:
    report = hook.report
    assert report is not None
    api = commit_status.STATUS_APIS[report.api]
    link = job_link(public_url, record.id)
    entries: list[OutboxEntry] = []
    notes = []
    seen = set()
    for subject_record, state, description in statuses:
        delivery = subject_record.delivery
        problem = commit_status.problem(report.api, delivery.repository, delivery.after)
        if problem is not None:
            if subject_record is record:
                notes.append(f"job {record.id}: no commit status: {problem}")
            continue
        subject = f"{delivery.repository}@{delivery.after} {report.context}"
        if subject in seen:
            continue  # a covered job of the same commit: its status is the covering one's
        seen.add(subject)
        status = CommitStatus(
            repository=delivery.repository,
            commit=delivery.after,
            state=state,
            context=report.context,
            description=description,
            target_url=link,
            ref=delivery.ref,
        )
        request = api.status_request(status)
        message = json.dumps(
            {
                "kind": REPORT,
                "api": report.api,
                "commit": delivery.after,
                "state": state.value,
                "method": request.method,
                "path": request.path,
                "json": request.json,
            }
        ).encode()
        # In the forge's own word for the state: what its page shows.
        what = f"commit status {api.STATES[state]} for {delivery.after[:12]} ({report.api})"
        entries.append(_entry(hook.name, record.id, REPORT, subject, message, now, what))
    return Posting(tuple(entries), tuple(notes))


def _entry(
    hook: str,
    job_id: int,
    channel: str,
    subject: str | None,
    message: bytes,
    now: float,
    what: str,
) -> OutboxEntry:
    return OutboxEntry(hook, job_id, channel, subject, message, now, what=what)


def _finished(record: JobRecord, covered: Sequence[JobRecord], public_url: str) -> Finished:
    delivery = record.delivery
    return Finished(
        hook=record.hook,
        job=record.id,
        state=record.state.value,
        reason=record.reason,
        forge=delivery.forge,
        repository=delivery.repository,
        ref=delivery.ref,
        branch=delivery.branch,
        tag=delivery.tag,
        commit=delivery.after,
        pusher=delivery.pusher,
        started_at=record.started_at,
        finished_at=record.finished_at or record.queued_at,
        output_tail=record.output_tail,
        link=job_link(public_url, record.id),
        covers=tuple(old.id for old in covered),
        attempt=record.attempt,
    )


def _short(commit: str) -> str:
    return commit[:SHORT] if commit else "(none)"


def _took(record: JobRecord) -> str:
    if record.started_at is None or record.finished_at is None:
        return ""
    seconds = max(0.0, record.finished_at - record.started_at)
    return f" in {seconds:.0f} s" if seconds >= 1 else " in under a second"
