"""The service with its journal: duplicates, records of runs, resuming after a crash."""

from __future__ import annotations

import os
import sqlite3

from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from zope.interface import provider

from hookdaemon import job_status, service
from hookdaemon.config import parse_config
from hookdaemon.delivery import Delivery
from hookdaemon.journal import JobRecord, Journal, NewDelivery, SQLiteTooOldError
from hookdaemon.journal_worker import journal_failed
from tests import journal_c5ab9a6
from tests.support import (
    RunningDaemon,
    config_text,
    finished,
    git,
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
        self.assertEqual(list(daemon.jobs), [first["job"]])

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
            b"hookdaemon step 1/1: echo deployed ${HOOK_AFTER}\n"
            b"stdout deployed " + b"b" * 40 + b"\n"
            b"hookdaemon step 1 ended: exit 0\nhookdaemon job succeeded\n",
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
        await wait_for(lambda: retry in daemon.jobs, "the interrupted job to be queued again")
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


def daemon_log(case: TestCase) -> list[LogEvent]:
    """The daemon's log events from here to the end of the test."""
    events: list[LogEvent] = []

    @provider(ILogObserver)
    def observe(event: LogEvent) -> None:
        events.append(event)

    globalLogPublisher.addObserver(observe)
    case.addCleanup(globalLogPublisher.removeObserver, observe)
    return events


FETCH_HOOK = """
[hook:site]
forge = github
secret = env:SITE_SECRET
workdir = {workdir}
command = git fetch origin ${{HOOK_AFTER}}
burst = queue
"""


class ResumeChecksTests(TestCase):
    async def test_aJobAnOlderReleaseQueuedIsHeldToTodaysChecks(self) -> None:
        """
        The release at c5ab9a6 accepted an after of --upload-pack=...: such a job
        still queued at the upgrade ends failed and never runs; its neighbour runs.
        """
        root = os.path.abspath(self.mktemp())
        origin, clone = os.path.join(root, "origin"), os.path.join(root, "clone")
        os.makedirs(origin)
        git("init", "-q", "-b", "main", cwd=origin)
        git("commit", "-q", "--allow-empty", "-m", "one", cwd=origin)
        git("clone", "-q", origin, clone, cwd=root)
        git("commit", "-q", "--allow-empty", "-m", "two", cwd=origin)
        commit = git("rev-parse", "HEAD", cwd=origin)
        canary = os.path.join(root, "canary")
        directory = os.path.join(root, "daemon")
        os.makedirs(os.path.join(directory, "var"))
        db = journal_c5ab9a6.open_old(os.path.join(directory, "var", "journal.sqlite"))
        refused = journal_c5ab9a6.add_old(db, b"{}", after=f"--upload-pack=touch {canary}")
        good = journal_c5ab9a6.add_old(db, b"{}", after=commit)
        db.close()

        events = daemon_log(self)
        daemon = await start_daemon(
            self, FETCH_HOOK.format(workdir=clone), environ=ENVIRON, directory=directory
        )
        await wait_for(lambda: good in daemon.jobs, "the good job to be queued")
        self.assertEqual((await finished(daemon, good)).state, "succeeded")
        self.assertFalse(os.path.exists(canary))  # it would be there: it ran first
        self.assertNotIn(refused, daemon.jobs)
        await daemon.service.stopService()

        record = read_journal(daemon.journal_path, refused)
        reason = "HOOK_AFTER starts with '-', so a command would read it as an option"
        line = f"refused on resume: {reason}; not run"
        self.assertEqual(
            (record.state, record.exit_code, record.output_tail),
            ("failed", None, f"hookdaemon {line}\n".encode()),
        )
        with open(os.path.join(directory, "var", "log", "site.log")) as f:
            written = f.read()  # the service is stopped: every line is on disk
        hook_log = [text for text in written.splitlines() if "refused" in text]
        self.assertEqual(len(hook_log), 1)
        self.assertTrue(hook_log[0].endswith(f" {refused} hookdaemon {line}"), hook_log)
        said = [formatEvent(event) for event in events if "refused" in formatEvent(event)]
        self.assertEqual(said, [f"hook site: job {refused} {line}"])
        self.assertNotIn("upload-pack", written + "".join(said))
        self.assertEqual(read_journal(daemon.journal_path, good).state, "succeeded")


class JournalFailureTests(TestCase):
    def test_anUnusableJournalIsOneLineAndStopsTheDaemon(self) -> None:
        """An SQLite too old, a newer schema: the message says what to do, no traceback."""
        directory = os.path.abspath(self.mktemp())
        text = config_text(HOOKS, state=directory)
        config = parse_config(text, "tap.cfg", ENVIRON, lambda path: b"")
        reactor = MemoryReactorClock()
        reactor.running = True
        service.HookService(config, reactor)
        events = daemon_log(self)
        message = "the journal needs SQLite 3.20.0 or newer and this Python has 3.19.4: ..."
        journal_failed(Failure(SQLiteTooOldError(message)), reactor)
        self.assertEqual(
            [formatEvent(event) for event in events], [f"journal: {message}; stopping"]
        )
        self.assertNotIn("log_failure", events[0])
        self.assertTrue(reactor.hasStopped)

    def test_aStateDirTheFileSystemRefusesIsOneLine(self) -> None:
        """A state_dir under a plain file, no permission: the OS's sentence names the path."""
        reactor = MemoryReactorClock()
        reactor.running = True
        events = daemon_log(self)
        error = NotADirectoryError(20, "Not a directory", "/srv/plain/var")
        journal_failed(Failure(error), reactor)
        self.assertEqual(
            [formatEvent(event) for event in events],
            ["journal: cannot open: [Errno 20] Not a directory: '/srv/plain/var'; stopping"],
        )
        self.assertNotIn("log_failure", events[0])
        self.assertTrue(reactor.hasStopped)


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
        await wait_for(lambda: retry in daemon.jobs, "the interrupted job to run again")
        self.assertEqual((await finished(daemon, retry)).state, "succeeded")
        self.assertIn(f"{retry} stdout the body", daemon.log_text("site"))
        view = await daemon.service.status.one(retry)
        assert view is not None
        self.assertFalse(view["payload_kept"])  # finished: with a budget of 0 it went

    async def test_aPayloadFileThatCannotBeRemovedKeepsNoJobFromEnding(self) -> None:
        """
        The end of a job is told and recorded before its payload file goes, so
        a file that cannot be removed is one logged error, not a job left
        running for ever and a stop that never ends.
        """
        remove = os.remove

        def refuse(path: str) -> None:
            if path.endswith(".body"):
                raise PermissionError(13, "Permission denied", path)
            remove(path)

        self.patch(os, "remove", refuse)
        daemon = await start_daemon(self, HOOKS, environ=ENVIRON)
        job_id = await push(daemon, after="1" * 40)
        self.assertEqual((await finished(daemon, job_id)).state, "succeeded")
        await daemon.service.stopService()
        self.assertEqual(read_journal(daemon.journal_path, job_id).state, "succeeded")
        self.assertEqual(len(self.flushLoggedErrors(PermissionError)), 1)


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

    async def test_aPruneThatFailsLeavesTheJobsEndRecorded(self) -> None:
        """Had the prune shared the end's savepoint, the job would run again at the next start."""

        def broken(journal: Journal, hook: str, keep: int) -> int:
            raise sqlite3.OperationalError("disk I/O error")

        self.patch(Journal, "prune", broken)
        daemon = await start_daemon(self, HOOKS, daemon="history = 2\n", environ=ENVIRON)
        job_id = await push(daemon, after="1" * 40)
        await finished(daemon, job_id)
        await daemon.service.journal.call(lambda journal: None)  # the end is recorded
        self.assertEqual(len(self.flushLoggedErrors(sqlite3.OperationalError)), 1)
        await daemon.service.stopService()
        self.assertEqual(read_journal(daemon.journal_path, job_id).state, "succeeded")


class MemoryTests(TestCase):
    async def test_onlyTheJobsThatEndedLastStayInMemory(self) -> None:
        """
        The service keeps L{job_status.RECENT_JOBS} ended jobs besides the journal,
        dropping the ones that ended first; a waiting job is never dropped.
        """
        self.patch(job_status, "RECENT_JOBS", 2)
        daemon = await start_daemon(
            self,
            HOOKS.replace("echo deployed ${HOOK_AFTER}", "sleep 0.2"),
            environ=ENVIRON,
        )
        ids = []
        for n in range(4):
            ids.append(await push(daemon, after=f"{n + 1}" * 40))
        await finished(daemon, ids[0])
        self.assertEqual(list(daemon.jobs), ids)  # one ended, three to go
        await finished(daemon, ids[-1])
        self.assertEqual(list(daemon.jobs), ids[2:])
