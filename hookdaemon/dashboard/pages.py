"""
The dashboard's pages as HTML, from the job API's JSON and plain values:
nothing here reads the journal or a request, so a page is a function call.

Every value a delivery brought (a ref, a pusher, output) is escaped; times are
written in UTC inside C{<time datetime=...>}, which the page's script turns
into the reader's time zone, keeping UTC on hover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from attrs import frozen

from hookdaemon.job_state import JobState
from hookdaemon.job_table import reports
from hookdaemon.job_views import JobQuery
from hookdaemon.notification import seconds_words

RECENT = 20
"""Jobs a hook's summary is made of: its success rate and duration chart."""

PAGE_SIZE = 50
"""Jobs on a page of a hook's jobs, unless its URL asks for another C{limit}."""

FINISHED = ("succeeded", "failed", "timed_out", "cancelled", "interrupted")


@frozen
class Viewer:
    """Who is looking: whether they may replay and cancel, and their forms' CSRF token."""

    can_act: bool
    csrf: str
    signed_in: bool
    """Signed in with a token (a sign-out button), not a loopback caller without one."""


def page(title: str, body: str, viewer: Viewer | None, follow: bool = False) -> bytes:
    """A whole page: the layout around C{body}; C{follow}: refreshed as jobs change."""
    following = ' data-follow="jobs"' if follow else ""
    signout = ""
    if viewer is not None and viewer.signed_in:
        signout = (
            '<form method="post" action="/ui/signout" class="signout">'
            f'<input type="hidden" name="csrf" value="{escape(viewer.csrf)}">'
            '<button type="submit">Sign out</button></form>'
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · hookdaemon</title>"
        '<link rel="icon" href="/ui/static/icon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/ui/static/ui.css">'
        '<script src="/ui/static/ui.js" defer></script>'
        "</head><body>"
        '<header><a href="/ui/" class="home">hookdaemon</a>'
        f"{signout}</header>"
        f'<main id="main"{following}>{body}</main>'
        "</body></html>\n"
    ).encode()


def when(text: Any) -> str:
    """An API time as a C{<time>}: UTC in the text and title, the viewer's zone once scripted."""
    if not isinstance(text, str):
        return "-"
    shown = escape(text.replace("T", " ")[:19] + " UTC")
    return f'<time datetime="{escape(text)}" title="{shown}">{shown}</time>'


def seconds_between(start: Any, end: Any) -> float | None:
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return None


def duration_text(seconds: float | None) -> str:
    return "-" if seconds is None else seconds_words(seconds)


def state_badge(state: Any) -> str:
    text = escape(str(state))
    return f'<span class="state state-{text}">{text.replace("_", " ")}</span>'


@frozen
class HookSummary:
    """What the hooks page shows of one hook, from its newest jobs."""

    name: str
    forge: str
    filters: str
    jobs: tuple[Mapping[str, Any], ...]

    @property
    def finished(self) -> list[Mapping[str, Any]]:
        return [job for job in self.jobs if job.get("state") in FINISHED]

    @property
    def success_rate(self) -> str:
        finished = self.finished
        if not finished:
            return "-"
        succeeded = sum(1 for job in finished if job.get("state") == "succeeded")
        return f"{100 * succeeded // len(finished)}% of {len(finished)}"


def hooks_page(hooks: Sequence[HookSummary], viewer: Viewer) -> bytes:
    rows = []
    for hook in hooks:
        last = hook.jobs[0] if hook.jobs else None
        last_cell = (
            f'<a href="/ui/jobs/{int(last["id"])}">job {int(last["id"])}</a> '
            f"{state_badge(last.get('state'))} {when(last.get('queued_at'))}"
            if last is not None
            else "no jobs yet"
        )
        rows.append(
            "<tr>"
            f'<th scope="row"><a href="/ui/hooks/{quote(hook.name)}">{escape(hook.name)}</a></th>'
            f"<td>{escape(hook.forge)}</td>"
            f"<td>{escape(hook.filters) or '-'}</td>"
            f"<td>{last_cell}</td>"
            f"<td>{escape(hook.success_rate)}</td>"
            f"<td>{duration_chart(hook.finished)}</td>"
            "</tr>"
        )
    body = (
        "<h1>Hooks</h1>"
        '<table class="hooks"><thead><tr><th scope="col">Hook</th><th scope="col">Forge</th>'
        '<th scope="col">Filters</th><th scope="col">Last job</th>'
        f'<th scope="col">Succeeded (last {RECENT})</th>'
        '<th scope="col">Durations</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return page("Hooks", body, viewer, follow=True)


def duration_chart(jobs: Sequence[Mapping[str, Any]]) -> str:
    """
    The finished jobs' durations, oldest first, as bars in an inline SVG (no
    script, no library), each with its job, state and duration as its title.
    """
    times = [
        (job, seconds_between(job.get("started_at"), job.get("finished_at")))
        for job in reversed(jobs)
    ]
    longest = max((t for _, t in times if t is not None), default=0.0) or 1.0
    bars = []
    for index, (job, seconds) in enumerate(times):
        height = max(1.0, 20 * (seconds or 0.0) / longest)
        title = f"job {int(job['id'])}: {job.get('state')}, {duration_text(seconds)}"
        bars.append(
            f'<rect x="{index * 5}" y="{20 - height:.1f}" width="4" height="{height:.1f}"'
            f' class="bar state-{escape(str(job.get("state")))}">'
            f"<title>{escape(title)}</title></rect>"
        )
    if not bars:
        return "-"
    return (
        f'<svg class="chart" width="{len(bars) * 5}" height="20" role="img"'
        f' aria-label="durations of the last {len(bars)} finished jobs">{"".join(bars)}</svg>'
    )


def jobs_page(
    hook: str, jobs: Sequence[Mapping[str, Any]], query: JobQuery, viewer: Viewer
) -> bytes:
    """A page of C{hook}'s jobs as C{query} asks, and a link to the next when it is full."""
    state = query.state
    options = "".join(
        f'<option value="{s.value}"{" selected" if s is state else ""}>{s.value}</option>'
        for s in JobState
    )
    filter_form = (
        f'<form method="get" action="/ui/hooks/{quote(hook)}" class="filter">'
        '<label for="state">State</label> <select id="state" name="state">'
        f'<option value="">any</option>{options}</select> '
        '<button type="submit">Show</button></form>'
    )
    rows = "".join(job_row(job) for job in jobs) or '<tr><td colspan="6">no jobs</td></tr>'
    more = ""
    if jobs and len(jobs) == query.limit:
        older = {"before": str(int(jobs[-1]["id"]))}
        if state is not None:
            older["state"] = state.value
        if query.limit != PAGE_SIZE:
            older["limit"] = str(query.limit)
        link = escape(f"/ui/hooks/{quote(hook)}?{urlencode(older)}")
        more = f'<p><a href="{link}">Older jobs</a></p>'
    body = (
        f"<h1>Hook {escape(hook)}</h1>{filter_form}"
        '<table class="jobs"><thead><tr><th scope="col">Job</th><th scope="col">State</th>'
        '<th scope="col">Ref</th><th scope="col">Commit</th><th scope="col">Queued</th>'
        '<th scope="col">Duration</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>{more}"
    )
    return page(f"Hook {hook}", body, viewer, follow=True)


def job_row(job: Mapping[str, Any]) -> str:
    delivery = job.get("delivery") or {}
    job_id = int(job["id"])
    return (
        "<tr>"
        f'<th scope="row"><a href="/ui/jobs/{job_id}">{job_id}</a></th>'
        f"<td>{state_badge(job.get('state'))}</td>"
        f'<td class="ref">{escape(str(delivery.get("ref") or "-"))}</td>'
        f"<td><code>{escape(str(delivery.get('after') or '-')[:12])}</code></td>"
        f"<td>{when(job.get('queued_at'))}</td>"
        f"<td>{duration_text(seconds_between(job.get('started_at'), job.get('finished_at')))}</td>"
        "</tr>"
    )


def output_lines(output: bytes) -> str:
    """
    The job's log lines, each marked by its stream (stdout, stderr, hookdaemon)
    as the output log writes them: C{STREAM text}.
    """
    lines = []
    for raw in output.decode("utf-8", "replace").splitlines():
        stream, _, text = raw.partition(" ")
        if stream not in ("stdout", "stderr", "hookdaemon"):
            stream, text = "stdout", raw
        lines.append(
            f'<span class="line {stream}"><span class="stream">{stream}</span> '
            f"{escape(text)}</span>"
        )
    return "\n".join(lines)


def job_page(job: Mapping[str, Any], output: bytes, viewer: Viewer) -> bytes:
    job_id = int(job["id"])
    delivery = job.get("delivery") or {}
    hook = str(job.get("hook"))
    facts = [
        (
            "Hook",
            f'<a href="/ui/hooks/{quote(hook)}">{escape(hook)}</a>',
        ),
        ("State", state_badge(job.get("state"))),
        ("Why", escape(str(job.get("reason") or "-"))),
        ("Forge", escape(str(delivery.get("forge") or "-"))),
        ("Event", escape(str(delivery.get("event") or "-"))),
        ("Ref", escape(str(delivery.get("ref") or "-"))),
        ("Commit", f"<code>{escape(str(delivery.get('after') or '-'))}</code>"),
        ("Repository", escape(str(delivery.get("repository") or "-"))),
        ("Pusher", escape(str(delivery.get("pusher") or "-"))),
        ("Queued", when(job.get("queued_at"))),
        ("Started", when(job.get("started_at"))),
        ("Finished", when(job.get("finished_at"))),
        (
            "Duration",
            duration_text(seconds_between(job.get("started_at"), job.get("finished_at"))),
        ),
        ("Attempt", escape(str(job.get("attempt")))),
    ]
    for key, label in (
        ("retry_of", "Retry of"),
        ("replay_of", "Replay of"),
        ("covered_by", "Covered by"),
    ):
        if job.get(key) is not None:
            other = int(job[key])
            facts.append((label, f'<a href="/ui/jobs/{other}">job {other}</a>'))
    if job.get("covers"):
        links = ", ".join(f'<a href="/ui/jobs/{int(i)}">job {int(i)}</a>' for i in job["covers"])
        facts.append(("Covers", links))
    for report in reports(job):
        at = f"{escape(report.before_time)}{when(report.at)}" if report.before_time else ""
        facts.append(("Report", f"{escape(report.text)}{at}"))
    listed = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in facts)
    live = job.get("state") in ("queued", "running")
    body = (
        f"<h1>Job {job_id}</h1>{actions(job, viewer)}"
        f'<dl class="facts">{listed}</dl>'
        '<h2 id="output-heading">Output</h2>'
        f'<pre class="log" id="log" tabindex="0" aria-labelledby="output-heading"'
        f' data-job="{job_id}" data-live="{"yes" if live else "no"}">'
        f"{output_lines(output)}</pre>"
    )
    return page(f"Job {job_id}", body, viewer)


def actions(job: Mapping[str, Any], viewer: Viewer) -> str:
    """Replay (any job whose body is kept) and Cancel (a live one), for those who may act."""
    if not viewer.can_act:
        return ""
    job_id = int(job["id"])
    csrf = f'<input type="hidden" name="csrf" value="{escape(viewer.csrf)}">'
    buttons = []
    if job.get("payload_kept") and job.get("state") != "ignored":
        buttons.append(
            f'<form method="post" action="/ui/jobs/{job_id}/replay">{csrf}'
            '<button type="submit">Replay</button></form>'
        )
    if job.get("state") in ("queued", "running"):
        buttons.append(
            f'<form method="post" action="/ui/jobs/{job_id}/cancel">{csrf}'
            '<button type="submit" class="danger">Cancel</button></form>'
        )
    return f'<div class="actions">{"".join(buttons)}</div>' if buttons else ""


def signin_page(problem: str | None, csrf: str) -> bytes:
    said = f'<p class="problem" role="alert">{escape(problem)}</p>' if problem else ""
    body = (
        "<h1>Sign in</h1>"
        "<p>This dashboard shows jobs to holders of a <code>status_token</code> or an"
        " <code>operator_token</code> (who may also replay and cancel).</p>"
        f"{said}"
        '<form method="post" action="/ui/signin" class="signin">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<label for="token">Token</label> '
        '<input type="password" id="token" name="token" autocomplete="current-password"'
        " required autofocus> "
        '<button type="submit">Sign in</button></form>'
    )
    return page("Sign in", body, None)


def refused_page(reason: str) -> bytes:
    return page("Not shown", f"<h1>Not shown</h1><p>{escape(reason)}</p>", None)


def message_page(title: str, text: str, viewer: Viewer | None) -> bytes:
    return page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>", viewer)
