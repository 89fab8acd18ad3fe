"""What a job's start and end put in the outbox (hookdaemon.reports), as plain values."""

from __future__ import annotations

import json
from typing import Any

import attrs
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import Config, parse_config
from hookdaemon.delivery import Delivery
from hookdaemon.job_state import JobState
from hookdaemon.journal import JobRecord
from hookdaemon.reports import NOTIFY, REPORT, notify_channel, on_end, on_start

COMMIT = "1a2b3c4d5e6f7081920a1b2c3d4e5f6071829304"
NEWER = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"

CONFIG = """\
[hookdaemon]
public_url = https://deploy.example.com/

[hook:site]
forge = github
workdir = /srv/site
command = ./deploy
report = github
report_token = env:GITHUB_TOKEN
notify = env:CHAT_URL
notify_format = {format}
notify_on = {on}
"""


def config(format: str = "json", on: str = "always", **extra: str) -> Config:
    text = CONFIG.format(format=format, on=on) + "".join(f"{k} = {v}\n" for k, v in extra.items())
    environ = {"GITHUB_TOKEN": "ghp_secret", "CHAT_URL": "https://chat.example/hooks/T/B/x"}
    return parse_config(text, "tap.cfg", environ, lambda path: b"")


def record(job_id: int = 12, state: JobState = JobState.RUNNING, **changes: Any) -> JobRecord:
    delivery = Delivery(
        forge="github",
        event="push",
        kind="push",
        ref="refs/heads/main",
        branch="main",
        after=COMMIT,
        repository="acme/site",
        pusher="ada",
    )
    made = JobRecord(
        id=job_id,
        hook="site",
        delivery=delivery,
        state=state,
        exit_code=None,
        signal=None,
        queued_at=100.0,
        started_at=101.0,
        finished_at=None if state is JobState.RUNNING else 115.0,
        covered_by=None,
        retry_of=None,
        output_tail=b"stdout building\nstderr make: *** [all] Error 2\n",
        payload_dropped=None,
        attempt=1,
        replay_of=None,
        reason=None,
    )
    return attrs.evolve(made, **changes)


def messages(posting: Any) -> list[dict[str, Any]]:
    return [json.loads(entry.message) for entry in posting.entries]


class StartTests(SynchronousTestCase):
    def test_startSetsItsCommitRunning(self) -> None:
        hook = config().hooks["site"]
        posting = on_start(hook, record(), [], "https://deploy.example.com", 200.0)
        [entry] = posting.entries
        self.assertEqual(
            (entry.hook, entry.job_id, entry.channel, entry.created_at),
            ("site", 12, REPORT, 200.0),
        )
        self.assertEqual(entry.subject, f"acme/site@{COMMIT} hookdaemon/site")
        message = json.loads(entry.message)
        self.assertEqual(message["method"], "POST")
        self.assertEqual(message["path"], f"/repos/acme/site/statuses/{COMMIT}")
        self.assertEqual(
            message["json"],
            {
                "state": "pending",
                "context": "hookdaemon/site",
                "description": "Deploying (job 12)",
                "target_url": "https://deploy.example.com/jobs/12",
            },
        )

    def test_theTokenIsNotInTheEntry(self) -> None:
        hook = config().hooks["site"]
        posting = on_start(hook, record(), [], "", 0.0)
        self.assertNotIn(b"ghp_secret", posting.entries[0].message)

    def test_coveredCommitsFollowTheJobThatCoversThem(self) -> None:
        hook = config().hooks["site"]
        old = record(
            10, JobState.SUPERSEDED, delivery=attrs.evolve(record().delivery, after=NEWER)
        )
        posting = on_start(hook, record(), [old], "", 0.0)
        self.assertEqual(
            [m["json"]["description"] for m in messages(posting)],
            ["Deploying (job 12)", "Deploying with job 12, at newer commit 1a2b3c4"],
        )
        self.assertEqual(messages(posting)[1]["path"], f"/repos/acme/site/statuses/{NEWER}")

    def test_aCoveredJobOfTheSameCommitGetsNoSecondStatus(self) -> None:
        hook = config().hooks["site"]
        posting = on_start(hook, record(), [record(10, JobState.SUPERSEDED)], "", 0.0)
        self.assertEqual(len(posting.entries), 1)

    def test_aDeletionIsNotReportedAndSaysWhy(self) -> None:
        hook = config().hooks["site"]
        deleted = record(delivery=attrs.evolve(record().delivery, after="0" * 40))
        posting = on_start(hook, deleted, [], "", 0.0)
        self.assertEqual(posting.entries, ())
        [note] = posting.notes
        self.assertTrue(note.startswith("job 12: no commit status: "), note)

    def test_noReportNoEntries(self) -> None:
        text = "[hook:site]\nworkdir = /srv\ncommand = true\n"
        hook = parse_config(text, "tap.cfg", {}, lambda path: b"").hooks["site"]
        self.assertEqual(on_start(hook, record(), [], "", 0.0).entries, ())
        self.assertEqual(on_end(hook, record(state=JobState.FAILED), [], "", 0.0).entries, ())


class EndTests(SynchronousTestCase):
    def status(self, job: JobRecord, **kwargs: Any) -> dict[str, Any]:
        hook = config().hooks["site"]
        posting = on_end(hook, job, [], "", 0.0, **kwargs)
        [status] = [m for m in messages(posting) if m["kind"] == REPORT]
        return dict(status["json"])

    def test_eachStateReadsOnTheCommit(self) -> None:
        cases = [
            (record(state=JobState.SUCCEEDED), {}, "success", "Deployed by job 12 in 14 s"),
            (
                record(state=JobState.FAILED, reason="step 1/1 (./deploy) exit 2"),
                {},
                "failure",
                "Deploy failed: step 1/1 (./deploy) exit 2 (job 12)",
            ),
            (
                record(state=JobState.TIMED_OUT, reason="timed out after 600 s"),
                {},
                "failure",
                "Deploy timed out: timed out after 600 s (job 12)",
            ),
            (record(state=JobState.CANCELLED), {}, "error", "Deploy cancelled (job 12)"),
            (
                record(state=JobState.INTERRUPTED),
                {"retried_as": 13},
                "pending",
                "Interrupted; runs again as job 13",
            ),
            (record(state=JobState.INTERRUPTED), {}, "error", "Deploy interrupted (job 12)"),
        ]
        for job, kwargs, state, description in cases:
            status = self.status(job, **kwargs)
            self.assertEqual((status["state"], status["description"]), (state, description))

    def test_noLinkWithoutPublicUrl(self) -> None:
        self.assertNotIn("target_url", self.status(record(state=JobState.SUCCEEDED)))


class NotifyTests(SynchronousTestCase):
    def notifications(self, on: str, state: JobState, **kwargs: Any) -> list[dict[str, Any]]:
        hook = config(on=on).hooks["site"]
        posting = on_end(hook, record(state=state), [], "https://d.example", 5.0, **kwargs)
        found = [entry for entry in posting.entries if entry.channel != REPORT]
        assert hook.notify is not None
        for entry in found:
            self.assertEqual(entry.channel, notify_channel(hook.notify.urls[0]))
            self.assertIsNone(entry.subject)
            self.assertNotIn(b"chat.example", entry.message)
        return [json.loads(entry.message) for entry in found]

    def test_alwaysNotifiesEveryEnd(self) -> None:
        [message] = self.notifications("always", JobState.SUCCEEDED)
        self.assertEqual(message["kind"], NOTIFY)
        self.assertEqual(
            (message["body"]["hook"], message["body"]["job"], message["body"]["state"]),
            ("site", 12, "succeeded"),
        )
        self.assertEqual(message["body"]["link"], "https://d.example/jobs/12")

    def test_failureSkipsASuccess(self) -> None:
        self.assertEqual(self.notifications("failure", JobState.SUCCEEDED), [])
        self.assertEqual(len(self.notifications("failure", JobState.TIMED_OUT)), 1)

    def test_changeComparesWithThePreviousEnd(self) -> None:
        self.assertEqual(
            self.notifications("change", JobState.FAILED, previous=JobState.FAILED), []
        )
        self.assertEqual(
            len(self.notifications("change", JobState.FAILED, previous=JobState.SUCCEEDED)), 1
        )
        self.assertEqual(len(self.notifications("change", JobState.SUCCEEDED, previous=None)), 1)

    def test_anInterruptedJobRunAgainIsNotAnnounced(self) -> None:
        self.assertEqual(self.notifications("always", JobState.INTERRUPTED, retried_as=13), [])

    def test_slackFormat(self) -> None:
        hook = config(format="slack").hooks["site"]
        posting = on_end(hook, record(state=JobState.FAILED), [], "", 0.0)
        [message] = [m for m in messages(posting) if m["kind"] == NOTIFY]
        self.assertIn("text", message["body"])
