"""
Tests for L{hookdaemon.notification}: what a finished job says to chat, as a
Slack-compatible message and as a plain JSON summary.
"""

from __future__ import annotations

import json
import re
from typing import Any

from attrs import evolve
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.notification import (
    LINE_CHARS,
    OUTPUT_LINES,
    ZWSP,
    Finished,
    duration,
    iso_utc,
    json_summary,
    last_lines,
    slack_message,
    summary_line,
)

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
LINK = "https://deploy.example.com/jobs/41"
TAIL = (
    b"ut of a cut line\n"
    b"hookdaemon step 2/3 started: make\n"
    b"stdout cc -o app main.c\n"
    b"stderr main.c:3: error: expected ';'\n"
    b"hookdaemon step 2/3 (make) exit 2\n"
)


def finished(state: str = "failed", **changes: Any) -> Finished:
    base = Finished(
        hook="api",
        job=41,
        state=state,
        reason=None if state == "succeeded" else "step 2/3 (make) exit 2",
        forge="github",
        repository="example/site",
        ref="refs/heads/main",
        branch="main",
        tag="",
        commit=SHA,
        pusher="alice",
        started_at=1700000000.0,
        finished_at=1700000012.25,
        output_tail=TAIL,
        link=LINK,
    )
    return evolve(base, **changes)


FIELDS = [
    {"title": "Repository", "value": "`example/site`", "short": True},
    {"title": "Ref", "value": "`main`", "short": True},
    {"title": "Commit", "value": "`1a2b3c4`", "short": True},
    {"title": "Pusher", "value": "`alice`", "short": True},
    {"title": "Duration", "value": "12 s", "short": True},
]
CODE = (
    "```\n"
    "hookdaemon step 2/3 started: make\n"
    "stdout cc -o app main.c\n"
    "stderr main.c:3: error: expected ';'\n"
    "hookdaemon step 2/3 (make) exit 2\n"
    "```"
)


def expected_slack(
    colour: str, outcome: str, code: bool = True, link: bool = True
) -> dict[str, object]:
    text = f"deploy api #41 {outcome}: `main` at `1a2b3c4` by `alice` in 12 s"
    attachment: dict[str, object] = {
        "fallback": f"deploy api #41 {outcome}: main at 1a2b3c4 by alice in 12 s",
        "color": colour,
        "title": f"api job 41: {outcome}",
    }
    if link:
        text += f" <{LINK}|job 41>"
        attachment["title_link"] = LINK
    attachment["fields"] = FIELDS
    attachment["mrkdwn_in"] = ["text", "fields"]
    if code:
        attachment["text"] = CODE
    attachment["footer"] = "hookdaemon"
    attachment["ts"] = 1700000012
    return {"text": text, "attachments": [attachment]}


def attachment_of(message: dict[str, object]) -> dict[str, Any]:
    attachments = message["attachments"]
    assert isinstance(attachments, list)
    first: dict[str, Any] = attachments[0]
    return first


class SlackMessageTests(SynchronousTestCase):
    def test_succeededIsGreenWithoutOutput(self) -> None:
        self.assertEqual(
            slack_message(finished("succeeded")),
            expected_slack("#2eb67d", "succeeded", code=False),
        )

    def test_failedIsRedWithTheLastLines(self) -> None:
        self.assertEqual(
            slack_message(finished("failed")),
            expected_slack("#e01e5a", "failed (step 2/3 (make) exit 2)"),
        )

    def test_timedOutIsRed(self) -> None:
        message = slack_message(finished("timed_out", reason="timed out after 600 s"))
        self.assertEqual(message, expected_slack("#e01e5a", "timed out (timed out after 600 s)"))

    def test_cancelledIsGrey(self) -> None:
        message = slack_message(finished("cancelled", reason="cancelled by POST /jobs/41/cancel"))
        self.assertEqual(
            message, expected_slack("#9e9e9e", "cancelled (cancelled by POST /jobs/41/cancel)")
        )

    def test_interruptedIsOrange(self) -> None:
        message = slack_message(finished("interrupted", reason="the daemon stopped"))
        self.assertEqual(message, expected_slack("#f2952f", "interrupted (the daemon stopped)"))

    def test_noLinkWithoutPublicURL(self) -> None:
        self.assertEqual(
            slack_message(finished("failed", link=None)),
            expected_slack("#e01e5a", "failed (step 2/3 (make) exit 2)", link=False),
        )

    def test_failureWithoutOutputHasNoCodeBlock(self) -> None:
        attachment = attachment_of(slack_message(finished("failed", output_tail=b"")))
        self.assertNotIn("text", attachment)

    def test_tagRetryAndCovers(self) -> None:
        message = slack_message(
            finished(
                "succeeded",
                ref="refs/tags/v1.2",
                branch="",
                tag="v1.2",
                covers=(38, 39),
                attempt=2,
            )
        )
        self.assertEqual(
            message["text"],
            f"deploy api #41 succeeded: `tag v1.2` at `1a2b3c4` by `alice` in 12 s"
            f" (attempt 2) <{LINK}|job 41>",
        )
        fields = attachment_of(message)["fields"]
        self.assertIn({"title": "Attempt", "value": "2", "short": True}, fields)
        self.assertIn({"title": "Covers jobs", "value": "38, 39", "short": False}, fields)

    def test_unknownCommitAndStartLeaveThemOut(self) -> None:
        message = slack_message(finished("interrupted", commit="", started_at=None, reason=None))
        self.assertEqual(
            message["text"], f"deploy api #41 interrupted: `main` by `alice` <{LINK}|job 41>"
        )
        titles = [field["title"] for field in attachment_of(message)["fields"]]
        self.assertEqual(titles, ["Repository", "Ref", "Pusher"])

    def test_linkCannotEndTheLinkEarly(self) -> None:
        message = slack_message(finished("succeeded", link="https://x.example/a|b>c&d e"))
        self.assertTrue(
            str(message["text"]).endswith("<https://x.example/a%7Cb%3Ec%26d%20e|job 41>")
        )


class EscapingTests(SynchronousTestCase):
    """Whatever the push wrote can make no mention, no link and no formatting."""

    def hostile(self) -> Finished:
        return finished(
            "failed",
            pusher="<!channel> @here @everyone <@U123> [x](https://evil.example) `a`",
            branch="<https://evil.example|main>",
            repository="a&b <!here>",
            output_tail=(
                b"stdout <!channel> <@U123> @everyone @here\n"
                b"stdout ```\n"
                b"stdout @channel [click](https://evil.example) <https://evil.example|x>\n"
                b"stderr ``\n"
            ),
        )

    def texts(self) -> list[str]:
        message = slack_message(self.hostile())
        attachment = attachment_of(message)
        texts = [str(message["text"]), str(attachment["text"]), str(attachment["fallback"])]
        texts += [str(field["value"]) for field in attachment["fields"]]
        return texts

    def test_noAngleBracketFromThePush(self) -> None:
        """
        Slack and Mattermost only make mentions and links from a literal C{<}:
        the only one left is the job's own link.
        """
        message = slack_message(self.hostile())
        self.assertEqual(str(message["text"]).count("<"), 1)
        self.assertTrue(str(message["text"]).endswith(f" <{LINK}|job 41>"))
        for text in self.texts()[1:]:
            self.assertNotIn("<", text)
            self.assertNotIn(">", text)
        self.assertIn("&lt;!channel&gt;", message["text"])
        self.assertIn("a&amp;b", attachment_of(message)["fields"][0]["value"])

    def test_noBareMention(self) -> None:
        for text in self.texts():
            self.assertIsNone(re.search(r"@(?!\u200b)", text), text)
            for word in ("@here", "@everyone", "@channel"):
                self.assertNotIn(word, text)

    def test_pushedValuesAreInlineCode(self) -> None:
        """No C{[label](url)} link in Mattermost or Discord, and no backtick to end the span."""
        pusher = next(
            field["value"]
            for field in attachment_of(slack_message(self.hostile()))["fields"]
            if field["title"] == "Pusher"
        )
        self.assertTrue(pusher.startswith("`") and pusher.endswith("`"))
        self.assertEqual(pusher.count("`"), 2)
        self.assertIn("\u02cba\u02cb", pusher)

    def test_outputCannotEndTheCodeBlock(self) -> None:
        code = str(attachment_of(slack_message(self.hostile()))["text"])
        self.assertTrue(code.startswith("```\n") and code.endswith("\n```"))
        inner = code[len("```\n") : -len("\n```")]
        self.assertNotIn("``", inner)
        self.assertIn(f"stdout `{ZWSP}`{ZWSP}`", inner)

    def test_newlineInAValueStaysOnOneLine(self) -> None:
        message = slack_message(finished("succeeded", pusher="alice\n# big\n> quote"))
        self.assertNotIn("\n", message["text"])
        self.assertIn("`alice # big &gt; quote`", message["text"])

    def test_jsonIsNotEscaped(self) -> None:
        summary = json_summary(self.hostile())
        self.assertEqual(summary["repository"], "a&b <!here>")
        output = summary["output"]
        assert isinstance(output, list)
        self.assertIn("stdout <!channel> <@U123> @everyone @here", output)


class SizeTests(SynchronousTestCase):
    """A huge output and huge pushed values stay inside every receiver's limits."""

    def setUp(self) -> None:
        line = b"stdout " + b"<&>" * 5000 + b"\n"
        self.job = finished(
            "failed",
            output_tail=line * 200,
            pusher="&" * 10_000,
            branch="<" * 10_000,
            repository="x" * 10_000,
            reason="r" * 10_000,
        )

    def test_discordLimits(self) -> None:
        """Content 2000; embed title 256, description 4096, field 1024, all text 6000."""
        message = slack_message(self.job)
        attachment = attachment_of(message)
        self.assertLessEqual(len(str(message["text"])), 2000)
        self.assertLessEqual(len(str(attachment["title"])), 256)
        self.assertLessEqual(len(str(attachment["text"])), 4096)
        values = [str(field["value"]) for field in attachment["fields"]]
        for value in values:
            self.assertLessEqual(len(value), 1024)
        total = len(str(attachment["title"])) + len(str(attachment["text"]))
        total += sum(len(v) for v in values) + len(str(attachment["footer"]))
        total += sum(len(str(f["title"])) for f in attachment["fields"])
        self.assertLessEqual(total, 6000)

    def test_wholeBodyFitsMattermostAndSlack(self) -> None:
        body = json.dumps(slack_message(self.job), ensure_ascii=False)
        self.assertLess(len(body), 16383)

    def test_noHalfEntityAtACut(self) -> None:
        message = slack_message(self.job)
        for text in (str(message["text"]), str(attachment_of(message)["text"])):
            self.assertIsNone(re.search(r"&[a-z]*(?![a-z;])", text), text)

    def test_cutOutputKeepsTheLastLinesAndSaysSo(self) -> None:
        job = evolve(self.job, output_tail=b"".join(b"stdout line %d\n" % n for n in range(1000)))
        code = str(attachment_of(slack_message(job))["text"]).splitlines()
        self.assertEqual(code[-2], "stdout line 999")
        self.assertEqual(len(code), OUTPUT_LINES + 2)
        wide = b"stdout " + b"<" * 900 + b"\n"  # cut to LINE_CHARS, then 4 characters each
        huge = evolve(self.job, output_tail=wide * 5 + TAIL[17:])
        lines = str(attachment_of(slack_message(huge))["text"]).splitlines()
        self.assertEqual(lines[1], "[earlier lines cut]")
        self.assertEqual(lines[-2], "hookdaemon step 2/3 (make) exit 2")


class LastLinesTests(SynchronousTestCase):
    def test_partialFirstLineDropped(self) -> None:
        self.assertEqual(
            last_lines(TAIL),
            [
                "hookdaemon step 2/3 started: make",
                "stdout cc -o app main.c",
                "stderr main.c:3: error: expected ';'",
                "hookdaemon step 2/3 (make) exit 2",
            ],
        )

    def test_wholeFirstLineKept(self) -> None:
        self.assertEqual(last_lines(b"stdout one\nstderr two\n"), ["stdout one", "stderr two"])

    def test_lastLineWithoutNewlineKept(self) -> None:
        self.assertEqual(last_lines(b"stdout one\nstdout two"), ["stdout one", "stdout two"])

    def test_count(self) -> None:
        tail = b"".join(b"stdout %d\n" % n for n in range(50))
        self.assertEqual(last_lines(tail), [f"stdout {n}" for n in range(30, 50)])
        self.assertEqual(last_lines(tail, 2), ["stdout 48", "stdout 49"])
        self.assertEqual(last_lines(tail, 0), [])

    def test_empty(self) -> None:
        self.assertEqual(last_lines(b""), [])
        self.assertEqual(last_lines(b"\n"), [])
        self.assertEqual(last_lines(b"cut mid-line, nothing whole"), [])

    def test_invalidUTF8Replaced(self) -> None:
        self.assertEqual(
            last_lines(b"stdout caf\xc3\n\xa9 stdout ok\nstdout \xff!\n")[-1], "stdout \ufffd!"
        )
        self.assertEqual(last_lines(b"stdout caf\xc3\xa9\n"), ["stdout caf\u00e9"])

    def test_carriageReturnShowsWhatTheTerminalWould(self) -> None:
        self.assertEqual(
            last_lines(b"stdout 10%\r50%\r100%\r\nstderr done\r\n"),
            ["stdout 100%", "stderr done"],
        )

    def test_colourCodesAndControlsGo(self) -> None:
        self.assertEqual(
            last_lines(b"stdout \x1b[31mred\x1b[0m bell\x07\n"), ["stdout red bell\ufffd"]
        )

    def test_hugeLineCutWithEllipsis(self) -> None:
        (line,) = last_lines(b"stdout " + b"x" * 100_000 + b"\n")
        self.assertEqual(len(line), LINE_CHARS)
        self.assertTrue(line.startswith("stdout xxx"))
        self.assertTrue(line.endswith("x\u2026"))


class SummaryTests(SynchronousTestCase):
    def test_failure(self) -> None:
        self.assertEqual(
            summary_line(finished("failed")),
            "deploy api #41 failed (step 2/3 (make) exit 2): main at 1a2b3c4 by alice in 12 s",
        )

    def test_successHasNoReason(self) -> None:
        self.assertEqual(
            summary_line(finished("succeeded", reason="ignored")),
            "deploy api #41 succeeded: main at 1a2b3c4 by alice in 12 s",
        )

    def test_durations(self) -> None:
        def said(seconds: float) -> str:
            return summary_line(finished("succeeded", finished_at=1700000000.0 + seconds))

        self.assertTrue(said(0.4).endswith(" in 0.4 s"))
        self.assertTrue(said(200).endswith(" in 3 min 20 s"))
        self.assertTrue(said(3 * 3600 + 120).endswith(" in 3 h 2 min"))

    def test_duration(self) -> None:
        self.assertEqual(duration(finished()), 12.25)
        self.assertIsNone(duration(finished(started_at=None)))
        self.assertEqual(duration(finished(started_at=1700000020.0)), 0.0)

    def test_nothingKnown(self) -> None:
        job = finished("cancelled", reason=None, branch="", ref="", commit="", pusher="")
        self.assertEqual(summary_line(evolve(job, started_at=None)), "deploy api #41 cancelled")


class JSONSummaryTests(SynchronousTestCase):
    def test_failure(self) -> None:
        self.assertEqual(
            json_summary(finished("failed", covers=(39, 40), attempt=2)),
            {
                "hook": "api",
                "job": 41,
                "state": "failed",
                "reason": "step 2/3 (make) exit 2",
                "summary": "deploy api #41 failed (step 2/3 (make) exit 2):"
                " main at 1a2b3c4 by alice in 12 s (attempt 2)",
                "forge": "github",
                "repository": "example/site",
                "ref": "refs/heads/main",
                "branch": "main",
                "tag": "",
                "commit": SHA,
                "pusher": "alice",
                "started_at": "2023-11-14T22:13:20.000Z",
                "finished_at": "2023-11-14T22:13:32.250Z",
                "duration_seconds": 12.25,
                "link": LINK,
                "covers": [39, 40],
                "attempt": 2,
                "output": [
                    "hookdaemon step 2/3 started: make",
                    "stdout cc -o app main.c",
                    "stderr main.c:3: error: expected ';'",
                    "hookdaemon step 2/3 (make) exit 2",
                ],
            },
        )

    def test_successHasNoOutput(self) -> None:
        summary = json_summary(finished("succeeded", link=None, started_at=None))
        self.assertEqual(summary["output"], [])
        self.assertIsNone(summary["reason"])
        self.assertIsNone(summary["link"])
        self.assertIsNone(summary["started_at"])
        self.assertIsNone(summary["duration_seconds"])

    def test_everyFailureStateCarriesOutput(self) -> None:
        for state in ("failed", "timed_out", "cancelled", "interrupted"):
            output = json_summary(finished(state))["output"]
            self.assertEqual(output, last_lines(TAIL), state)

    def test_serialisable(self) -> None:
        json.dumps(json_summary(finished()))

    def test_isoTimes(self) -> None:
        self.assertEqual(iso_utc(0), "1970-01-01T00:00:00.000Z")
        self.assertEqual(iso_utc(1700000000.9996), "2023-11-14T22:13:21.000Z")
        pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
        self.assertRegex(str(json_summary(finished())["finished_at"]), pattern)
