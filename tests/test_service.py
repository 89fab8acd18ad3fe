"""The service with its journal: duplicates, records of runs, resuming after a crash."""

from __future__ import annotations

import os

from twisted.trial.unittest import TestCase

from hookdaemon import service
from hookdaemon.delivery import Delivery
from hookdaemon.journal import JobRecord, Journal, NewDelivery
from tests.support import (
    RunningDaemon,
    finished,
    github_headers,
    github_push_body,
    post,
    start_daemon,
    wait_for,
)

SECRET = "service-secret"
HOOKS = """
[hook:site]
forge = github
secret = env:SITE_SECRET
workdir = .
command = echo deployed ${HOOK_AFTER}
burst = queue
"""
ENVIRON = {"SITE_SECRET": SECRET}


def read_journal(path: str, job_id: int) -> JobRecord:
    journal = Journal(path)
    try:
        record = journal.get(job_id)
    finally:
        journal.close()
    assert record is not None, f"job {job_id} is not in the journal"
    return record


class DuplicateTests(TestCase):
    async def test_redeliveryAnswersDuplicateWithTheFirstJob(self) -> None:
        daemon = await start_daemon(self, HOOKS, environ=ENVIRON)
        body = github_push_body()
        headers = github_headers(body, SECRET)
        code, first, _ = await post(daemon.hook_url("site"), body, headers)
        self.assertEqual(code, 202)
        code, second, _ = await post(daemon.hook_url("site"), body, headers)
        self.assertEqual((code, second), (200, {"status": "duplicate", "job": first["job"]}))
        await finished(daemon, first["job"])
        self.assertEqual(list(daemon.service.jobs), [first["job"]])

    async def test_redeliveryAfterARestartIsStillADuplicate(self) -> None:
        daemon = await start_daemon(self, HOOKS, environ=ENVIRON)
        body = github_push_body()
        headers = github_headers(body, SECRET)
        code, first, _ = await post(daemon.hook_url("site"), body, headers)
        await finished(daemon, first["job"])
        await daemon.service.stopService()

        again = await start_daemon(self, HOOKS, environ=ENVIRON, directory=daemon.directory)
        code, second, _ = await post(again.hook_url("site"), body, headers)
        self.assertEqual((code, second), (200, {"status": "duplicate", "job": first["job"]}))

    async def test_deliveriesWithoutIdAreNotDuplicates(self) -> None:
        daemon = await start_daemon(self, HOOKS, environ=ENVIRON)
        body = github_push_body()
        headers = github_headers(body, SECRET)
        del headers["X-GitHub-Delivery"]
        answers = [await post(daemon.hook_url("site"), body, headers) for _ in range(2)]
        self.assertEqual([code for code, _, _ in answers], [202, 202])
        self.assertNotEqual(answers[0][1]["job"], answers[1][1]["job"])


class JournalRecordTests(TestCase):
    async def test_finishedJobIsRecordedWithItsOutputTail(self) -> None:
        daemon = await start_daemon(self, HOOKS, environ=ENVIRON)
        body = github_push_body(after="b" * 40)
        _, answer, _ = await post(daemon.hook_url("site"), body, github_headers(body, SECRET))
        await finished(daemon, answer["job"])
        await daemon.service.stopService()
        record = read_journal(daemon.journal_path, answer["job"])
        self.assertEqual(record.state, "succeeded")
        self.assertEqual(record.exit_code, 0)
        self.assertEqual(record.delivery.after, "b" * 40)
        self.assertEqual(
            record.output_tail,
            b"stdout deployed " + b"b" * 40 + b"\n",
        )


class ResumeTests(TestCase):
    async def test_queuedJobsRunAndTheRunningOneRunsAgainAfterACrash(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(directory, "var"))
        journal = Journal(os.path.join(directory, "var", "journal.sqlite"))

        def delivery(after: str) -> Delivery:
            return Delivery.of_push(
                "refs/heads/main", "0" * 40, after, forge="github", event="push"
            )

        running = journal.add(NewDelivery("site", delivery("1" * 40), b"one", 1.0)).job_id
        queued = journal.add(NewDelivery("site", delivery("2" * 40), b"two", 2.0)).job_id
        journal.started(running, 3.0)
        journal.close()  # as a SIGKILL would leave it: one running, one queued

        daemon = await start_daemon(self, HOOKS, environ=ENVIRON, directory=directory)
        retry = queued + 1
        await wait_for(
            lambda: retry in daemon.service.jobs, "the interrupted job to be queued again"
        )
        await finished(daemon, retry)
        await finished(daemon, queued)
        log = daemon.log_text("site")
        self.assertLess(
            log.index(f"{retry} stdout deployed " + "1" * 40),
            log.index(f"{queued} stdout deployed " + "2" * 40),
        )
        await daemon.service.stopService()
        self.assertEqual(read_journal(daemon.journal_path, running).state, "interrupted")
        self.assertEqual(read_journal(daemon.journal_path, retry).state, "succeeded")


class PayloadFileTests(TestCase):
    async def test_aRetryReadsItsBodyWhateverTheBudget(self) -> None:
        """
        With payload_budget = 0 no finished job keeps its body, but a job that
        runs, or runs again after a crash, always finds its own in HOOK_PAYLOAD.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(directory, "var"))
        journal = Journal(os.path.join(directory, "var", "journal.sqlite"))
        delivery = Delivery.of_push(
            "refs/heads/main", "0" * 40, "1" * 40, forge="github", event="push"
        )
        running = journal.add(NewDelivery("site", delivery, b"the body\n", 1.0)).job_id
        journal.started(running, 2.0)
        journal.close()  # as a SIGKILL would leave it

        daemon = await start_daemon(
            self,
            HOOKS.replace("echo deployed ${HOOK_AFTER}", "cat ${HOOK_PAYLOAD}"),
            daemon="payload_budget = 0\n",
            environ=ENVIRON,
            directory=directory,
        )
        retry = running + 1
        await wait_for(lambda: retry in daemon.service.jobs, "the interrupted job to run again")
        self.assertEqual((await finished(daemon, retry)).state, "succeeded")
        self.assertIn(f"{retry} stdout the body", daemon.log_text("site"))
        view = await daemon.service.one(retry)
        assert view is not None
        self.assertFalse(view["payload_kept"])  # finished: with a budget of 0 it went


QUEUE_HOOK = """
[hook:line]
forge = generic
allow_from = 127.0.0.1
workdir = {workdir}
shell = yes
command = until [ -e release ]; do sleep 0.01; done
burst = queue
max_queued = 2
"""


class QueueLimitTests(TestCase):
    async def test_deliveriesBeyondMaxQueuedAre503AndNotJournaled(self) -> None:
        """One job runs, two wait; the next delivery is told to come back later."""
        workdir = os.path.abspath(self.mktemp())
        os.makedirs(workdir)
        daemon = await start_daemon(self, QUEUE_HOOK.format(workdir=workdir))
        url = daemon.hook_url("line")
        code, answer, _ = await post(url, b"", {})
        self.assertEqual(code, 202)
        first = int(answer["job"])
        await wait_for(lambda: daemon.job(first).state == "running", "the first job to run")
        accepted = [first]
        for _ in range(2):
            code, answer, _ = await post(url, b"", {})
            self.assertEqual(code, 202)
            accepted.append(int(answer["job"]))
        code, answer, response = await post(url, b"", {})
        self.assertEqual(code, 503)
        self.assertEqual(
            answer, {"error": "too many deliveries wait for this hook; try again later"}
        )
        self.assertEqual(response.headers.getRawHeaders("retry-after"), ["60"])
        journal = Journal(daemon.journal_path)
        try:
            self.assertEqual([job.id for job in journal.recent("line", 10)], accepted[::-1])
        finally:
            journal.close()
        open(os.path.join(workdir, "release"), "w").close()
        for job_id in accepted:
            self.assertEqual((await finished(daemon, job_id)).state, "succeeded")
        code, _, _ = await post(url, b"", {})
        self.assertEqual(code, 202)


async def push(daemon: RunningDaemon, after: str) -> int:
    """A signed push to the site hook; the id of the job it queued."""
    body = github_push_body(after=after)
    code, answer, _ = await post(daemon.hook_url("site"), body, github_headers(body, SECRET))
    assert code == 202, (code, answer)
    return int(answer["job"])


class HistoryTests(TestCase):
    async def test_finishedJobsArePrunedToHistory(self) -> None:
        daemon = await start_daemon(self, HOOKS, daemon="history = 2\n", environ=ENVIRON)
        ids = []
        for n in range(4):
            ids.append(await push(daemon, after=f"{n + 1}" * 40))
            await finished(daemon, ids[-1])
        await daemon.service.journal.call(lambda journal: None)  # the last end is recorded
        journal = Journal(daemon.journal_path)
        try:
            self.assertEqual([job.id for job in journal.recent("site", 10)], ids[:-3:-1])
        finally:
            journal.close()


class MemoryTests(TestCase):
    async def test_onlyTheJobsThatEndedLastStayInMemory(self) -> None:
        """
        The service keeps L{service.RECENT_JOBS} ended jobs besides the journal,
        dropping the ones that ended first; a waiting job is never dropped.
        """
        self.patch(service, "RECENT_JOBS", 2)
        daemon = await start_daemon(
            self,
            HOOKS.replace("echo deployed ${HOOK_AFTER}", "sleep 0.2"),
            environ=ENVIRON,
        )
        ids = []
        for n in range(4):
            ids.append(await push(daemon, after=f"{n + 1}" * 40))
        await finished(daemon, ids[0])
        self.assertEqual(list(daemon.service.jobs), ids)  # one ended, three to go
        await finished(daemon, ids[-1])
        self.assertEqual(list(daemon.service.jobs), ids[2:])
