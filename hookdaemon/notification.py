"""
What a finished deploy says to the team's chat: one job rendered as the JSON
body of a Slack-compatible incoming-webhook message (C{notify_format = slack})
or as a plain summary with stable keys (C{notify_format = json}).

Plain values in, plain values out: no reactor, no I/O. The sender serialises
the dict and POSTs it.

One C{slack} body serves four receivers, so it keeps to what all of them show:
top-level C{text} and one legacy attachment (C{color}, C{fallback}, C{title},
C{title_link}, C{fields}, C{text}, C{footer}, C{ts}), never C{blocks}:

  - Slack: U{https://api.slack.com/reference/messaging/attachments}.
  - Mattermost translates that payload to its Markdown, C{<url|label>} links
    included (U{https://developers.mattermost.com/integrate/slash-commands/slack/}).
  - Rocket.Chat's incoming webhook takes the same C{text} and C{attachments}.
  - Discord's C{/slack} endpoint maps it to a message and an embed; it does not
    support C{channel}, C{icon_emoji}, C{mrkdwn} or C{mrkdwn_in}
    (U{https://discord.com/developers/docs/resources/webhook#execute-slackcompatible-webhook}).

The repository, ref, pusher and output come from the push, so whoever can push
writes them. Each such value goes through L{_inline} (summary and fields) or
L{_code_block} (output), which between them leave it no way to make a mention,
a link or formatting, or to end the code block; see L{_chat_text}.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from attrs import frozen

OUTPUT_LINES = 20
"""How many of the job's last output lines a failure report carries."""

LINE_CHARS = 300
"""A longer output line is cut to this many characters, the last an ellipsis."""

SUMMARY_CHARS = 1000
"""The top-level C{text} at most; Discord takes 2000 in a message's content."""

OUTPUT_CHARS = 3000
"""
The code block at most, after escaping. Discord takes 4096 in an embed's
description and 6000 over all of its text; Slack cuts a message at 40,000 and
Mattermost splits a post over 16,383.
"""

VALUE_CHARS = 120
"""One pushed value (ref, pusher, repository) at most, escaped; Discord takes 1024 a field."""

REASON_CHARS = 300

TITLE_CHARS = 256
"""The attachment's title at most: Discord's limit for an embed's title."""

SUCCEEDED = "succeeded"
FAILED = "failed"
TIMED_OUT = "timed_out"
CANCELLED = "cancelled"
INTERRUPTED = "interrupted"

STATE_WORDS = {
    SUCCEEDED: "succeeded",
    FAILED: "failed",
    TIMED_OUT: "timed out",
    CANCELLED: "cancelled",
    INTERRUPTED: "interrupted",
}

COLOURS = {
    SUCCEEDED: "#2eb67d",
    FAILED: "#e01e5a",
    TIMED_OUT: "#e01e5a",
    CANCELLED: "#9e9e9e",
    INTERRUPTED: "#f2952f",
}
"""Hex, which Slack, Mattermost, Rocket.Chat and Discord's C{/slack} all read."""

STREAMS = ("stdout ", "stderr ", "hookdaemon ")
"""How each line of C{/jobs/ID/log} begins: its stream, then what was written."""

ELLIPSIS = "\u2026"
ZWSP = "\u200b"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"\s+")

Render = Callable[[str], str]


@frozen
class Finished:
    """A job that has ended, as much of it as a notification tells."""

    hook: str
    job: int
    state: str
    reason: str | None
    forge: str
    repository: str
    ref: str
    branch: str
    tag: str
    commit: str
    pusher: str
    started_at: float | None
    finished_at: float
    output_tail: bytes
    link: str | None
    covers: tuple[int, ...] = ()
    attempt: int = 1

    @property
    def succeeded(self) -> bool:
        return self.state == SUCCEEDED


def last_lines(tail: bytes, count: int = OUTPUT_LINES) -> list[str]:
    """
    The last C{count} whole lines of C{tail}, each with its stream prefix.

    The tail is cut from a larger log, so a first line that does not begin
    with a stream prefix is the end of a line and is dropped. A carriage
    return inside a line is a progress bar redrawing itself: only what it
    last showed is kept. Colour codes go, other control characters become
    U+FFFD, and so does invalid UTF-8.
    """
    if count <= 0 or not tail:
        return []
    raw = tail.split(b"\n")
    if raw[-1] == b"":
        raw.pop()
    if raw and not raw[0].startswith(tuple(s.encode() for s in STREAMS)):
        raw.pop(0)
    lines = [_clean_line(line.decode("utf-8", "replace")) for line in raw[-count:]]
    return lines


def _clean_line(line: str) -> str:
    prefix = next((s for s in STREAMS if line.startswith(s)), "")
    body = line[len(prefix) :]
    shown = [part for part in body.split("\r") if part]
    body = shown[-1] if shown else ""
    body = _CONTROL.sub("\ufffd", _ANSI.sub("", body))
    return _clip(prefix + body, LINE_CHARS)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def duration(finished: Finished) -> float | None:
    """Seconds from start to end; None for a job that never started."""
    if finished.started_at is None:
        return None
    return max(0.0, finished.finished_at - finished.started_at)


def seconds_words(seconds: float) -> str:
    """C{4.2 s}, C{12 s}, C{3 min 5 s}, C{2 h 7 min}: a duration as a message says it."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def short_commit(commit: str) -> str:
    return commit[:7]


def ref_text(finished: Finished) -> str:
    """The ref as people say it: the branch, C{tag v1.2}, or the full ref."""
    if finished.branch:
        return finished.branch
    if finished.tag:
        return f"tag {finished.tag}"
    return finished.ref


def _single_line(text: str) -> str:
    """A pushed value on one line: no newline can start a heading or a quote."""
    return _SPACES.sub(" ", _CONTROL.sub("\ufffd", text)).strip()


def _outcome(finished: Finished) -> str:
    words: str = STATE_WORDS.get(finished.state, finished.state)
    if finished.reason and not finished.succeeded:
        words += f" ({_clip(_single_line(finished.reason), REASON_CHARS)})"
    return words


def summary_line(finished: Finished) -> str:
    """
    One line of plain text, e.g. C{deploy api #41 failed (step 2/3 (make)
    exit 2): main at 1a2b3c4 by alice in 12 s}.
    """
    return _summary(finished, _plain, _plain)


def _plain(value: str) -> str:
    return _clip(_single_line(value), VALUE_CHARS)


def _summary(finished: Finished, words: Render, value: Render) -> str:
    """The summary, with C{words} rendering its own text and C{value} each pushed value."""
    head = words(f"deploy {finished.hook} #{finished.job} {_outcome(finished)}")
    where: list[str] = []
    if ref_text(finished):
        where.append(value(ref_text(finished)))
    if finished.commit:
        where.append(f"at {value(short_commit(finished.commit))}")
    if finished.pusher:
        where.append(f"by {value(finished.pusher)}")
    seconds = duration(finished)
    if seconds is not None:
        where.append(f"in {seconds_words(seconds)}")
    if finished.attempt > 1:
        where.append(f"(attempt {finished.attempt})")
    return f"{head}: {' '.join(where)}" if where else head


def _chat_text(text: str) -> str:
    """
    Text any of the four receivers shows as written.

    Slack reads C{&}, C{<} and C{>} as control characters, so C{<!channel>},
    C{<@U123>} and C{<url|label>} are only made with them; escaped as
    entities they are shown instead
    (U{https://api.slack.com/reference/surfaces/formatting#escaping}).
    Mattermost turns the same three sequences into mentions and links, by
    their literal C{<} (its C{expandAnnouncement} and C{linkWithTextRegex}),
    so the entities disarm them there as well. Mattermost also links a bare
    C{@channel}, C{@all}, C{@here} or C{@name} ("Mattermost always ...
    automatically links @mentions"), and Discord pings a bare C{@everyone} and
    C{@here}: a zero-width space after every C{@} breaks each of them while
    reading the same.
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("@", "@" + ZWSP)


def _inline(value: str) -> str:
    """
    A pushed value as inline code: no Markdown or mrkdwn inside it (no
    C{[label](url)} link in Mattermost or Discord, no C{*bold*}, no autolinked
    URL), on one line, and with no backtick to end the span early.
    """
    value = _single_line(value).replace("`", "\u02cb")
    return f"`{_escaped_clip(_chat_text(value), VALUE_CHARS)}`" if value else ""


def _escaped_clip(text: str, limit: int) -> str:
    """L{_clip} for escaped text: the cut never leaves half an entity."""
    if len(text) <= limit:
        return text
    return re.sub(r"&[a-z]*$", "", text[: limit - 1]) + ELLIPSIS


def _code_block(lines: list[str], budget: int = OUTPUT_CHARS) -> str:
    """
    Output lines as a fenced code block of at most C{budget} characters,
    keeping the last lines. A run of backticks anywhere in a line would end
    the block in Slack (and at a line's start in Mattermost and Discord), so
    each run is broken with zero-width spaces.
    """
    fence = "```"
    cut_note = "[earlier lines cut]"
    room = budget - 2 * len(fence) - 2 - len(cut_note) - 1
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        shown = _chat_text(re.sub("`(?=`)", "`" + ZWSP, line))
        if used + len(shown) + 1 > room:
            break
        kept.append(shown)
        used += len(shown) + 1
    kept.reverse()
    if len(kept) < len(lines):
        kept.insert(0, cut_note)
    return fence + "\n" + "\n".join(kept) + "\n" + fence


def _link_target(url: str) -> str:
    """The job's URL safe between C{<} and C{|}: none of C{<>|&} or whitespace."""
    for char, code in (("%", "%25"), ("<", "%3C"), (">", "%3E"), ("|", "%7C"), ("&", "%26")):
        url = url.replace(char, code)
    return re.sub(r"\s", lambda m: f"%{ord(m.group()):02X}", url)


def slack_message(finished: Finished) -> dict[str, object]:
    """
    The body to POST to a Slack-compatible incoming webhook: the summary as
    C{text} (the job linked when there is a public URL), and one attachment
    coloured by state, with the details as fields and, unless the job
    succeeded, its last output lines in a code block.
    """
    text = _escaped_clip(_summary(finished, _chat_text, _inline), SUMMARY_CHARS)
    if finished.link:
        text = f"{text} <{_link_target(finished.link)}|job {finished.job}>"
    fields: list[dict[str, object]] = []

    def field(title: str, value: str, short: bool = True) -> None:
        if value:
            fields.append({"title": title, "value": value, "short": short})

    field("Repository", _inline(finished.repository))
    field("Ref", _inline(ref_text(finished)))
    field("Commit", _inline(short_commit(finished.commit)))
    field("Pusher", _inline(finished.pusher))
    seconds = duration(finished)
    field("Duration", seconds_words(seconds) if seconds is not None else "")
    if finished.attempt > 1:
        field("Attempt", str(finished.attempt))
    if finished.covers:
        field("Covers jobs", ", ".join(str(job) for job in finished.covers), short=False)
    attachment: dict[str, object] = {
        "fallback": _escaped_clip(_chat_text(summary_line(finished)), SUMMARY_CHARS),
        "color": COLOURS.get(finished.state, COLOURS[CANCELLED]),
        "title": _escaped_clip(
            _chat_text(f"{finished.hook} job {finished.job}: {_outcome(finished)}"), TITLE_CHARS
        ),
    }
    if finished.link:
        attachment["title_link"] = finished.link
    attachment["fields"] = fields
    # Slack formats an attachment's text and fields only when told to (its own
    # example sets it); Discord and Mattermost ignore the key.
    attachment["mrkdwn_in"] = ["text", "fields"]
    if not finished.succeeded:
        lines = last_lines(finished.output_tail)
        if lines:
            attachment["text"] = _code_block(lines)
    attachment["footer"] = "hookdaemon"
    attachment["ts"] = int(finished.finished_at)
    return {"text": text, "attachments": [attachment]}


def iso_utc(seconds: float) -> str:
    """ISO 8601 UTC with milliseconds, as the job log stamps its lines."""
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def json_summary(finished: Finished) -> dict[str, object]:
    """
    The job as plain JSON for any receiver: values as they are, no escaping
    (the receiver decides how to show them). The keys are documented in
    README ("Chat notifications") and only ever added to.
    """
    seconds = duration(finished)
    return {
        "hook": finished.hook,
        "job": finished.job,
        "state": finished.state,
        "reason": finished.reason,
        "summary": summary_line(finished),
        "forge": finished.forge,
        "repository": finished.repository,
        "ref": finished.ref,
        "branch": finished.branch,
        "tag": finished.tag,
        "commit": finished.commit,
        "pusher": finished.pusher,
        "started_at": None if finished.started_at is None else iso_utc(finished.started_at),
        "finished_at": iso_utc(finished.finished_at),
        "duration_seconds": None if seconds is None else round(seconds, 3),
        "link": finished.link,
        "covers": list(finished.covers),
        "attempt": finished.attempt,
        "output": [] if finished.succeeded else last_lines(finished.output_tail),
    }
