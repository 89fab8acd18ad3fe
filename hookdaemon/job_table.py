"""
The job API's JSON as a person reads it: C{hookdaemon jobs}' table and
C{hookdaemon show}'s lines. Plain values in, text out: no I/O, and any key
the API leaves out shows as C{-}, so an older or newer daemon still reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from attrs import frozen

from hookdaemon.delivery import BRANCH_PREFIX, TAG_PREFIX

__all__ = ["duration", "job_lines", "job_table", "outcome", "short_ref"]

COLUMNS = ("ID", "HOOK", "STATE", "REF", "COMMIT", "QUEUED", "DURATION")

NOTHING = "-"


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def local_time(text: Any) -> str:
    """An API time (ISO 8601, UTC) in this machine's time zone, to the second."""
    moment = _moment(text)
    return NOTHING if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def seconds_text(seconds: float) -> str:
    """C{0.4s}, C{12s}, C{3m05s}, C{2h07m}: as precise as a person needs."""
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def duration(job: Mapping[str, Any], now: datetime) -> str:
    """How long the job ran, or has run so far; C{-} before it started."""
    started = _moment(job.get("started_at"))
    if started is None:
        return NOTHING
    finished = _moment(job.get("finished_at")) or now
    shown = seconds_text(max(0.0, (finished - started).total_seconds()))
    return shown if job.get("finished_at") else f"{shown}+"


def _delivery(job: Mapping[str, Any]) -> Mapping[str, Any]:
    delivery = job.get("delivery")
    return delivery if isinstance(delivery, dict) else {}


def short_ref(ref: Any) -> str:
    """A branch by its name, a tag as C{tag NAME}, any other ref whole."""
    if not isinstance(ref, str) or not ref:
        return NOTHING
    if ref.startswith(BRANCH_PREFIX):
        return ref.removeprefix(BRANCH_PREFIX)
    if ref.startswith(TAG_PREFIX):
        return "tag " + ref.removeprefix(TAG_PREFIX)
    return ref


def _text(value: Any) -> str:
    if value is None or value == "":
        return NOTHING
    return str(value)


def row(job: Mapping[str, Any], now: datetime) -> tuple[str, ...]:
    delivery = _delivery(job)
    after = delivery.get("after")
    return (
        _text(job.get("id")),
        _text(job.get("hook")),
        _text(job.get("state")),
        short_ref(delivery.get("ref")),
        after[:7] if isinstance(after, str) and after else NOTHING,
        local_time(job.get("queued_at")),
        duration(job, now),
    )


def job_table(jobs: Sequence[Mapping[str, Any]], now: datetime) -> str:
    """The jobs as aligned columns under a header line, newest first as given."""
    rows = [COLUMNS, *(row(job, now) for job in jobs)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in rows
    )


def outcome(job: Mapping[str, Any]) -> str:
    """
    The state and what ended it: C{succeeded}, C{failed (exit 2)}, C{cancelled
    (killed by SIGTERM)}, C{superseded by job 8}.
    """
    state = _text(job.get("state"))
    signal = job.get("signal")
    if signal is not None:
        named = str(signal) if str(signal).startswith("SIG") else f"signal {signal}"
        return f"{state} (killed by {named})"
    if job.get("exit_code") is not None:
        return f"{state} (exit {job['exit_code']})"
    if job.get("covered_by") is not None:
        return f"{state} by job {job['covered_by']}"
    return state


def _ids(value: Any) -> str:
    if isinstance(value, list) and value:
        return " ".join(str(v) for v in value)
    return _text(value)


def job_lines(job: Mapping[str, Any], now: datetime) -> str:
    """One job, a line per fact; the delivery's fields indented under it."""
    delivery = _delivery(job)
    facts: list[tuple[str, str]] = [
        ("job", _text(job.get("id"))),
        ("hook", _text(job.get("hook"))),
        ("state", outcome(job)),
        *([("why", _text(job["reason"]))] if job.get("reason") else []),
    ]
    if job.get("state") == "ignored":
        # A record of a delivery that was never queued: when it came is all there is.
        facts.append(("received", local_time(job.get("queued_at"))))
        return _facts_text(facts, delivery)
    facts += [
        ("queued", local_time(job.get("queued_at"))),
        ("started", local_time(job.get("started_at"))),
        ("finished", local_time(job.get("finished_at"))),
        ("duration", duration(job, now)),
        ("attempt", _text(job.get("attempt"))),
    ]
    for key, label in (
        ("retry_of", "retry of"),
        ("replay_of", "replay of"),
        ("covered_by", "covered by"),
        ("covers", "covers"),
    ):
        if job.get(key) not in (None, []):
            facts.append((label, _ids(job.get(key))))
    if job.get("payload_kept") is False:
        facts.append(("body", "not kept, so it cannot be replayed"))
    facts.append(("log", _text(job.get("log_url"))))
    facts += [("report", line) for line in report_lines(job)]
    return _facts_text(facts, delivery)


@frozen
class ReportLine:
    """
    One report in words and the time it names, which the CLI writes in local
    time and the dashboard as a C{<time>} the viewer's browser converts.
    """

    text: str
    before_time: str = ""
    """What joins the time to the text (C{" at "}, C{"; next try "}); empty: no time."""
    at: Any = None
    """The API's time, as the job holds it."""


def reports(job: Mapping[str, Any]) -> list[ReportLine]:
    """What became of the job's commit statuses and notifications, one each."""
    held = job.get("reports")
    if not isinstance(held, list):
        return []
    shown = []
    for report in held:
        if not isinstance(report, Mapping):
            continue
        detail = f" ({report['detail']})" if report.get("detail") else ""
        what, outcome, at = _text(report.get("what")), report.get("outcome"), report.get("at")
        if outcome != "waiting":
            shown.append(ReportLine(f"{what}: {_text(outcome)}{detail}", " at ", at))
        elif report.get("attempts"):
            tries = _text(report.get("attempts"))
            text = f"{what}: not sent after {tries} tries{detail}"
            shown.append(ReportLine(text, "; next try ", at))
        else:
            shown.append(ReportLine(f"{what}: not yet sent"))
    return shown


def report_lines(job: Mapping[str, Any]) -> list[str]:
    """
    L{reports} as the CLI prints them:
    C{commit status success for 1a2b3c4d5e6f (github): sent (201) at ...}.
    """
    return [
        f"{line.text}{line.before_time}{local_time(line.at)}" if line.before_time else line.text
        for line in reports(job)
    ]


def _facts_text(facts: list[tuple[str, str]], delivery: Mapping[str, Any]) -> str:
    """The facts and then the delivery's, one per line, the values in one column."""
    facts = [*facts, ("delivery", _text(delivery.get("id")))]
    for key in ("forge", "event", "ref", "before", "after", "repository", "pusher"):
        facts.append((f"  {key}", _text(delivery.get(key))))
    width = max(len(label) for label, _ in facts)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in facts)
