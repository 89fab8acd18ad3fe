"""
Commit statuses and notifications from a live daemon to fake forge and chat
APIs on 127.0.0.1 over HTTPS, with a CA the test makes: the exact requests,
retries, refusals, a certificate for another host, and an outbox entry that
outlives a SIGKILL of a real twistd.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from typing import Any

from twisted.trial.unittest import TestCase

from hookdaemon import outbox
from hookdaemon.testing import TwistdDaemon
from tests.fake_api import FakeApi, TestCA
from tests.support import (
    finished,
    github_headers,
    github_push_body,
    post,
    start_daemon,
    wait_for,
)

SECRET = "push-secret"
TOKEN = "ghs_statusToken123"
CHAT_PATH = "/services/T000/B000/XXXXsecret"

HOOK = """\
[hook:site]
forge = github
secret = env:PUSH_SECRET
workdir = {workdir}
command = {command}
report = github
report_url = {api}
report_token = env:STATUS_TOKEN
report_ca = {ca}
"""


def outbox_rows(journal_path: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(journal_path) as db:
        return db.execute(
            "SELECT id, channel, attempts, message FROM outbox ORDER BY id"
        ).fetchall()


def states(rows: list[tuple[Any, ...]]) -> list[str]:
    """The commit status each outbox row holds."""
    return [json.loads(row[3])["state"] for row in rows]


class Reporting(TestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.ca = TestCA()
        self.ca_path = os.path.join(self.directory, "ca.pem")
        self.ca.write(self.ca_path)
        self.patch(outbox, "FIRST_RETRY", 0.05)

    async def api(
        self, answers: Sequence[tuple[int, bytes]] = (), names: Sequence[str] = ("127.0.0.1",)
    ) -> FakeApi:
        api = FakeApi(certificate=self.ca.issue(names=names), answers=list(answers))
        await api.start()
        self.addCleanup(api.stop)
        return api

    def hooks(self, api: FakeApi, command: str = "true", extra: str = "") -> str:
        return (
            HOOK.format(workdir=self.directory, command=command, api=api.url, ca=self.ca_path)
            + extra
        )

    environ = {"PUSH_SECRET": SECRET, "STATUS_TOKEN": TOKEN}

    async def push(self, url: str) -> int:
        body = github_push_body()
        code, answer, _ = await post(f"{url}/hooks/site", body, github_headers(body, SECRET))
        self.assertEqual(code, 202, answer)
        return int(answer["job"])

    async def test_githubGetsPendingThenSuccessAsItsApiWantsThem(self) -> None:
        api = await self.api()
        daemon = await start_daemon(
            self,
            self.hooks(api),
            "public_url = https://deploy.example.com/\n",
            environ=self.environ,
        )
        job = await self.push(daemon.url)
        self.assertEqual((await finished(daemon, job)).state, "succeeded")
        pending, success = await api.received(2)
        commit = json.loads(github_push_body())["after"]
        for request in (pending, success):
            self.assertEqual(request.method, "POST")
            self.assertEqual(request.path, f"/repos/{_repository()}/statuses/{commit}")
            self.assertEqual(request.headers["authorization"], f"Bearer {TOKEN}")
            self.assertEqual(request.headers["accept"], "application/vnd.github+json")
            self.assertEqual(request.headers["x-github-api-version"], "2022-11-28")
            self.assertEqual(request.headers["content-type"], "application/json")
        self.assertEqual(
            pending.json,
            {
                "state": "pending",
                "context": "hookdaemon/site",
                "description": f"Deploying (job {job})",
                "target_url": f"https://deploy.example.com/jobs/{job}",
            },
        )
        self.assertEqual(success.json["state"], "success")
        self.assertTrue(success.json["description"].startswith(f"Deployed by job {job}"))
        await wait_for(lambda: not outbox_rows(daemon.journal_path), "the outbox to empty")

    async def test_a502IsTriedAgainA422IsNot(self) -> None:
        # The job waits for a file the test makes once the pending status has
        # met a 502 and then, tried again, a 422; the success goes after it:
        # had the 422 been tried again, it would have come first.
        api = await self.api(
            [(502, b'{"message": "bad gateway"}'), (422, b'{"message": "Validation Failed"}')]
        )
        command = "sh -c 'while [ ! -e go ]; do sleep 0.02; done'"
        daemon = await start_daemon(self, self.hooks(api, command), environ=self.environ)
        job = await self.push(daemon.url)
        first, again = await api.received(2)
        self.assertEqual(first.json, again.json)
        self.assertEqual(first.json["state"], "pending")
        open(os.path.join(self.directory, "go"), "w").close()
        await finished(daemon, job)
        requests = await api.received(3)
        self.assertEqual(requests[2].json["state"], "success")
        await wait_for(lambda: not outbox_rows(daemon.journal_path), "the outbox to empty")
        self.assertEqual(len(api.requests), 3)

    async def test_aCertificateForAnotherHostIsRefusedAndTheReportKept(self) -> None:
        api = await self.api(names=("forge.example",))
        daemon = await start_daemon(self, self.hooks(api), environ=self.environ)
        job = await self.push(daemon.url)
        await finished(daemon, job)

        def tried() -> bool:
            rows = outbox_rows(daemon.journal_path)
            return bool(rows) and rows[0][2] >= 2

        await wait_for(tried, "the status to be tried twice")
        self.assertEqual(api.requests, [])
        # The success replaced the pending status it follows: one row, kept.
        rows = outbox_rows(daemon.journal_path)
        self.assertEqual([row[1] for row in rows], ["report"])
        self.assertEqual(states(rows), ["success"])

    async def test_aFailedDeployIsAnnouncedInTheChat(self) -> None:
        api = await self.api()
        chat = await self.api()
        extra = "notify = env:CHAT_URL\nnotify_format = json\nnotify_on = failure\n"
        environ = {**self.environ, "CHAT_URL": chat.url + CHAT_PATH}
        daemon = await start_daemon(
            self, self.hooks(api, "sh -c 'echo broken >&2; exit 3'", extra), environ=environ
        )
        job = await self.push(daemon.url)
        self.assertEqual((await finished(daemon, job)).state, "failed")
        [message] = await chat.received(1)
        self.assertEqual((message.method, message.path), ("POST", CHAT_PATH))
        body = message.json
        self.assertEqual((body["hook"], body["job"], body["state"]), ("site", job, "failed"))
        self.assertIn("stderr broken", body["output"])
        _, failure = await api.received(2)
        self.assertEqual(failure.json["state"], "failure")


class Restart(TestCase):
    async def test_anOutboxEntrySurvivesSigkillAndIsSentAfterTheRestart(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        ca = TestCA()
        ca_path = os.path.join(directory, "ca.pem")
        ca.write(ca_path)
        # Every call fails for now: the statuses wait in the outbox for their retry.
        api = FakeApi(certificate=ca.issue(names=("127.0.0.1",)), answers=[(502, b"")] * 1000)
        await api.start()
        self.addCleanup(api.stop)
        hooks = HOOK.format(workdir=directory, command="true", api=api.url, ca=ca_path)
        twistd = TwistdDaemon(
            os.path.join(directory, "daemon"),
            hooks,
            environ={"PUSH_SECRET": SECRET, "STATUS_TOKEN": TOKEN},
        )
        self.addCleanup(twistd.stop)
        twistd.start()
        body = github_push_body()
        headers = github_headers(body, SECRET)
        code, answer, _ = await post(f"{twistd.url}/hooks/site", body, headers)
        self.assertEqual(code, 202, answer)
        job = answer["job"]
        # The success replaces the pending status in the outbox: it waits alone.
        await wait_for(
            lambda: states(outbox_rows(twistd.journal_path)) == ["success"],
            "the success in the outbox",
        )
        await api.received(1)
        twistd.kill()
        self.assertEqual(states(outbox_rows(twistd.journal_path)), ["success"])

        api.answers.clear()  # the forge is back: 201 from now on
        seen = len(api.requests)
        twistd.start()
        requests = await api.received(seen + 1)
        status = requests[seen].json
        self.assertEqual(status["state"], "success")
        self.assertTrue(status["description"].startswith(f"Deployed by job {job}"))
        await wait_for(lambda: not outbox_rows(twistd.journal_path), "the outbox to empty")


def _repository() -> str:
    return str(json.loads(github_push_body())["repository"]["full_name"])
