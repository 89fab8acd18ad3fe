"""
Replaying and cancelling jobs through the job API, on a live service: real
HTTP on 127.0.0.1, real child processes, the real journal.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any

from twisted.trial.unittest import TestCase

from hookdaemon.delivery import Delivery
from hookdaemon.job_state import JobState
from hookdaemon.journal import SCHEMA_VERSION, Journal, NewDelivery
from tests import journal_c5ab9a6
from tests.support import (
    RunningDaemon,
    finished,
    get,
    github_headers,
    github_push_body,
    http_client,
    post,
    start_daemon,
    wait_for,
    wait_until,
)

SECRET = "steering-secret"
PUSH = Delivery.of_push("refs/heads/main", "0" * 40, "1" * 40, forge="github", event="push")


def hook(name: str, command: str, extra: str = "") -> str:
    return (
        f"[hook:{name}]\nforge = github\nsecret = file:{name}.secret\nworkdir = .\n"
        f"command = {command}\nburst = queue\nkill_grace = 1\n{extra}\n"
    )


WAIT_FOR_GO = "sh -c 'echo waiting; while [ ! -e go ]; do sleep 0.02; done; echo went'"


class SteeringTests(TestCase):
    async def daemon(self, hooks: str, daemon: str = "") -> RunningDaemon:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        for line in hooks.splitlines():
            if line.startswith("[hook:"):
                with open(os.path.join(directory, f"{line[6:-1]}.secret"), "w") as f:
                    f.write(SECRET)
        return await start_daemon(self, hooks, daemon, directory=directory)

    async def deliver(self, running: RunningDaemon, name: str, after: str = "1" * 40) -> int:
        body = github_push_body(after=after)
        code, answer, _ = await post(running.hook_url(name), body, github_headers(body, SECRET))
        self.assertEqual(code, 202, answer)
        job: int = answer["job"]
        return job

    def go(self, running: RunningDaemon) -> None:
        with open(os.path.join(running.directory, "go"), "w"):
            pass

    async def test_aReplayRunsTheDeliveryAgainWithItsBody(self) -> None:
        command = "sh -c 'echo ${HOOK_AFTER}; wc -c < ${HOOK_PAYLOAD}'"
        running = await self.daemon(hook("site", command))
        first = await self.deliver(running, "site")
        await finished(running, first)
        code, answer, response = await post(f"{running.url}/jobs/{first}/replay", b"", {})
        self.assertEqual(code, 202)
        second = answer["job"]
        self.assertEqual(
            answer,
            {"job": second, "status": "queued", "url": f"/jobs/{second}", "replay_of": first},
        )
        self.assertEqual(response.headers.getRawHeaders(b"location"), [f"/jobs/{second}".encode()])
        await finished(running, second)
        _, job = await get(f"{running.url}/jobs/{second}")
        shown = json.loads(job)
        self.assertEqual((shown["state"], shown["replay_of"]), ("succeeded", first))
        self.assertEqual(shown["delivery"]["after"], "1" * 40)
        size = str(len(github_push_body(after="1" * 40)))
        log = running.log_text("site")
        self.assertEqual(log.count(f" {first} stdout {size}"), 1)
        self.assertEqual(log.count(f" {second} stdout {size}"), 1)  # the same body

    async def test_anIgnoredDeliveryIsRecordedWithWhy(self) -> None:
        """ "Why didn't that push run?": the job API lists it, apart from the history."""
        running = await self.daemon(
            hook("site", "true", "branches = main release/*"), daemon="history = 2\n"
        )
        deploy = await self.deliver(running, "site")
        await finished(running, deploy)
        for n in range(3):
            body = github_push_body(ref=f"refs/heads/wip-{n}")
            code, answer, _ = await post(
                running.hook_url("site"), body, github_headers(body, SECRET)
            )
            reason = f"branch wip-{n} does not match branches (main release/*)"
            self.assertEqual((code, answer), (200, {"status": "ignored", "reason": reason}))

        async def listed(query: str) -> list[dict[str, Any]]:
            code, body = await get(f"{running.url}/jobs?{query}")
            self.assertEqual(code, 200, body)
            jobs: list[dict[str, Any]] = json.loads(body)["jobs"]
            return jobs

        ignored: list[dict[str, Any]] = []

        async def recorded() -> bool:
            nonlocal ignored
            ignored = await listed("state=ignored")
            return bool(ignored) and ignored[0]["delivery"]["branch"] == "wip-2"

        await wait_until(recorded, "the last ignored delivery's record")
        self.assertEqual(
            [(job["state"], job["delivery"]["branch"], job["reason"]) for job in ignored],
            [
                ("ignored", f"wip-{n}", f"branch wip-{n} does not match branches (main release/*)")
                for n in (2, 1)
            ],
        )
        self.assertEqual([job["payload_kept"] for job in ignored], [False, False])
        # The deploy is still in the history of two: ignored records are kept apart.
        self.assertEqual([job["id"] for job in await listed("state=succeeded")], [deploy])
        code, answer, _ = await post(f"{running.url}/jobs/{ignored[0]['id']}/replay", b"", {})
        self.assertEqual(code, 409)
        self.assertEqual(
            answer["error"],
            f"job {ignored[0]['id']} is an ignored delivery"
            " (branch wip-2 does not match branches (main release/*)): it has no body to run",
        )

    async def test_replayOfAnUnknownJobIs404(self) -> None:
        running = await self.daemon(hook("site", "true"))
        code, answer, _ = await post(f"{running.url}/jobs/99/replay", b"", {})
        self.assertEqual((code, answer), (404, {"error": "no job 99"}))

    async def test_replayOfARemovedHooksJobIs409(self) -> None:
        running = await self.daemon(hook("site", "true") + hook("other", "true"))
        job = await self.deliver(running, "other")
        await finished(running, job)
        with open(os.path.join(running.directory, "tap.cfg")) as f:
            text = f.read()
        with open(os.path.join(running.directory, "tap.cfg"), "w") as f:
            f.write(text.split("[hook:other]")[0])
        await running.service.reloader.reload()
        code, answer, _ = await post(f"{running.url}/jobs/{job}/replay", b"", {})
        self.assertEqual((code, answer), (409, {"error": "hook other is no longer configured"}))

    async def test_cancelAQueuedJob(self) -> None:
        running = await self.daemon(hook("site", WAIT_FOR_GO))
        first = await self.deliver(running, "site")
        second = await self.deliver(running, "site", "2" * 40)
        await wait_for(lambda: running.job(first).state.value == "running", "the first to run")
        code, answer, _ = await post(f"{running.url}/jobs/{second}/cancel", b"", {})
        self.assertEqual((code, answer), (200, {"job": second, "state": "cancelled"}))
        self.assertEqual((await finished(running, second)).state.value, "cancelled")
        self.go(running)
        self.assertEqual((await finished(running, first)).state.value, "succeeded")
        _, shown = await get(f"{running.url}/jobs/{second}")
        self.assertEqual(
            (json.loads(shown)["state"], json.loads(shown)["reason"]),
            ("cancelled", "cancelled before it started"),
        )
        self.assertNotIn(f" {second} ", running.log_text("site"))  # it never ran
        code, answer, _ = await post(f"{running.url}/jobs/{second}/cancel", b"", {})
        self.assertEqual((code, answer), (409, {"error": f"job {second} has ended (cancelled)"}))

    async def test_cancelARunningJobWhoseChildIgnoresTerm(self) -> None:
        command = 'sh -c \'trap "" TERM; (trap "" TERM; sleep 60) & echo started; wait\''
        running = await self.daemon(hook("site", command + "\n    touch not-reached"))
        job = await self.deliver(running, "site")
        await wait_for(lambda: "started" in running.log_text("site"), "the step to start")
        began = time.monotonic()
        code, answer, _ = await post(f"{running.url}/jobs/{job}/cancel", b"", {})
        self.assertEqual((code, answer), (200, {"job": job, "state": "cancelling"}))
        view = await finished(running, job)
        self.assertLess(time.monotonic() - began, 30)  # not the 60 s of the grandchild
        self.assertEqual(view.state.value, "cancelled")
        log = running.log_text("site")
        self.assertIn(f"{job} hookdaemon cancelled; sending SIGTERM", log)
        self.assertIn(f"{job} hookdaemon still running 1s later; SIGKILL", log)
        self.assertIn(f"{job} hookdaemon job cancelled", log)
        self.assertFalse(os.path.exists(os.path.join(running.directory, "not-reached")))
        _, shown = await get(f"{running.url}/jobs/{job}")
        self.assertEqual(json.loads(shown)["reason"], "cancelled in step 1/2")

    async def test_cancelOfAnUnknownJobIs404(self) -> None:
        running = await self.daemon(hook("site", "true"))
        code, answer, _ = await post(f"{running.url}/jobs/7/cancel", b"", {})
        self.assertEqual((code, answer), (404, {"error": "no job 7"}))

    async def test_jobsByStateAndPages(self) -> None:
        running = await self.daemon(hook("site", f"sh -c 'test $HOOK_AFTER != {'3' * 40}'"))
        jobs = []
        for n in range(1, 6):
            jobs.append(await self.deliver(running, "site", str(n) * 40))
        for job in jobs:
            await finished(running, job)

        async def ids(query: str) -> list[int]:
            code, body = await get(f"{running.url}/jobs?{query}")
            self.assertEqual(code, 200, body)
            return [job["id"] for job in json.loads(body)["jobs"]]

        self.assertEqual(await ids("state=failed"), [jobs[2]])
        _, body = await get(f"{running.url}/jobs?state=failed")
        command = f"sh -c 'test $HOOK_AFTER != {'3' * 40}'"
        self.assertEqual(
            [job["reason"] for job in json.loads(body)["jobs"]], [f"step 1/1 ({command}) exit 1"]
        )
        _, body = await get(f"{running.url}/jobs?state=succeeded")
        self.assertEqual({job["reason"] for job in json.loads(body)["jobs"]}, {None})
        self.assertEqual(await ids("limit=2"), [jobs[4], jobs[3]])
        self.assertEqual(await ids(f"limit=2&before={jobs[3]}"), [jobs[2], jobs[1]])
        self.assertEqual(await ids("since=2100-01-01T00:00:00Z"), [])
        self.assertEqual(len(await ids("since=0")), 5)
        code, body = await get(f"{running.url}/jobs?state=lost")
        self.assertEqual(code, 400)
        self.assertIn(b"state must be one of: queued, running", body)

    async def test_followCarriesHookdaemonsLinesAndNoBuffering(self) -> None:
        running = await self.daemon(hook("site", WAIT_FOR_GO))
        job = await self.deliver(running, "site")
        await wait_for(lambda: "waiting" in running.log_text("site"), "the step to start")
        response = await http_client().get(f"{running.url}/jobs/{job}/log?follow=1")
        self.assertEqual(response.headers.getRawHeaders(b"x-accel-buffering"), [b"no"])
        self.go(running)
        body = await response.content()
        self.assertEqual(
            body.decode().splitlines(),
            [
                f"hookdaemon step 1/1: {WAIT_FOR_GO}",
                "stdout waiting",
                "stdout went",
                "hookdaemon step 1 ended: exit 0",
                "hookdaemon job succeeded",
            ],
        )


class JournalReplayTests(TestCase):
    def test_anOlderJournalsJobIsReplayedWithItsBody(self) -> None:
        path = os.path.abspath(self.mktemp())
        db = journal_c5ab9a6.open_old(path)
        first = journal_c5ab9a6.add_old(db, b"old-body", state="succeeded")
        db.close()
        journal = Journal(path)  # upgraded through every schema to this one's
        self.addCleanup(journal.close)
        replayed = journal.replay(first, 2.0)
        self.assertEqual((replayed.replay_of, replayed.state.value), (first, "queued"))
        self.assertEqual(journal.payload(replayed.id), b"old-body")
        old = journal.get(first)
        assert old is not None
        self.assertEqual((old.replay_of, old.reason), (None, None))
        self.assertEqual(journal._pragma("user_version"), SCHEMA_VERSION)

    def test_aSchema3JournalGainsReasons(self) -> None:
        """The release before reasons: its jobs keep theirs empty, and new ends say why."""
        path = os.path.abspath(self.mktemp())
        journal = Journal(path)
        added = journal.add(NewDelivery("site", PUSH, b"body", queued_at=1.0))
        assert added.job_id is not None
        journal.close()
        db = sqlite3.connect(path)
        db.execute("ALTER TABLE jobs DROP COLUMN reason")
        db.execute("PRAGMA user_version = 3")
        db.commit()
        db.close()
        journal = Journal(path)
        self.addCleanup(journal.close)
        self.assertEqual(journal._pragma("user_version"), SCHEMA_VERSION)
        record = journal.get(added.job_id)
        assert record is not None
        self.assertEqual((record.state.value, record.reason), ("queued", None))
        journal.finished(
            added.job_id, JobState.FAILED, 1, None, b"", 2.0, "step 1/1 (false) exit 1"
        )
        record = journal.get(added.job_id)
        assert record is not None
        self.assertEqual(record.reason, "step 1/1 (false) exit 1")
