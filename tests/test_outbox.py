"""
The Outbox's lanes on a Clock, with a real journal file and a scripted
client: what is sent when, in which order, what is tried again and when,
what is replaced, dropped or given up, and what a stop leaves for the start.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any, cast

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.ca_file import CAFileError
from hookdaemon.config import Config, parse_config
from hookdaemon.job_state import JobState
from hookdaemon.job_views import iso, report_json
from hookdaemon.journal import Journal, NewDelivery, OutboxEntry
from hookdaemon.journal_worker import JournalWorker
from hookdaemon.outbox import FIRST_RETRY, GIVE_UP_AFTER, LAST_RETRY, Outbox
from hookdaemon.outgoing import CallFailedError, OutgoingAnswer, OutgoingRequest
from hookdaemon.reactors import OutgoingReactor
from hookdaemon.reports import REPORT, on_end, on_start
from tests.test_reports import COMMIT, CONFIG, NEWER, config, record

TOKEN = "ghp_secret"  # tests.test_reports' GITHUB_TOKEN


class InlineJournal:
    """
    The journal worker's queue, run at once on a real journal file: the
    Outbox's timing is then the Clock's alone.
    """

    def __init__(self, path: str) -> None:
        self.journal = Journal(path)

    def call(self, operation: Any) -> Deferred[Any]:
        return succeed(operation(self.journal))

    def record(self, operation: Any, what: str) -> None:
        operation(self.journal)


class ScriptedCaller:
    """A client whose calls wait until the test answers or fails them."""

    def __init__(self) -> None:
        self.calls: list[tuple[OutgoingRequest, Deferred[OutgoingAnswer]]] = []
        self.closed = False

    def send(self, request: OutgoingRequest) -> Deferred[OutgoingAnswer]:
        call: Deferred[OutgoingAnswer] = Deferred()
        self.calls.append((request, call))
        return call

    def close(self) -> Deferred[None]:
        self.closed = True
        for _, call in self.calls:
            if not call.called:
                call.cancel()
        return succeed(None)

    def answer(self, status: int, body: bytes = b"{}") -> OutgoingRequest:
        """Answer the call under way (there must be exactly one); the request it made."""
        [(request, call)] = self.open()
        call.callback(OutgoingAnswer(status, body))
        return request

    def fail(self, reason: str) -> None:
        [(_, call)] = self.open()
        call.errback(CallFailedError(reason))

    def open(self) -> list[tuple[OutgoingRequest, Deferred[OutgoingAnswer]]]:
        return [(request, call) for request, call in self.calls if not call.called]


def state(request: OutgoingRequest) -> tuple[str, str]:
    """A status call's commit (the end of its path) and state."""
    body = json.loads(request.body)
    return request.url.rsplit("/", 1)[1], body["state"]


class OutboxTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000.0)
        self.journal = InlineJournal(os.path.abspath(self.mktemp()) + ".sqlite")
        self.addCleanup(self.journal.journal.close)
        self.caller = ScriptedCaller()
        self.trusts: list[str | None] = []
        self.config = config()
        self.outbox = self.make_outbox(self.config)
        self.logged: list[str] = []

        def observe(event: LogEvent) -> None:
            if event.get("log_namespace") == "hookdaemon.outbox":
                self.logged.append(formatEvent(event))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)

    def make_outbox(self, config: Config) -> Outbox:
        def callers(trust: str | None) -> ScriptedCaller:
            self.trusts.append(trust)
            return self.caller

        return Outbox(
            cast(JournalWorker, self.journal),
            cast(OutgoingReactor, self.clock),
            config.hooks,
            callers=callers,
        )

    def start(self) -> None:
        self.outbox.startService()
        self.addCleanup(lambda: self.outbox.running and self.outbox.stopService())

    def post(self, entries: Sequence[OutboxEntry]) -> list[OutboxEntry]:
        """What the Reports observer does: entries into the journal, then to the Outbox."""
        posted = self.journal.journal.post(entries)
        self.outbox.take(posted)
        return posted

    def pending(self, job: int = 12, commit: str = COMMIT) -> list[OutboxEntry]:
        hook = self.config.hooks["site"]
        job_record = record(job, delivery=attrs.evolve(record().delivery, after=commit))
        return [
            e
            for e in on_start(hook, job_record, [], "", self.clock.seconds()).entries
            if e.channel == REPORT
        ]

    def ended(
        self,
        job: int = 12,
        commit: str = COMMIT,
        outcome: JobState = JobState.SUCCEEDED,
        notify: bool = False,
    ) -> list[OutboxEntry]:
        """A job's end: its commit status, and its notification if C{notify}."""
        hook = self.config.hooks["site"]
        job_record = record(job, outcome, delivery=attrs.evolve(record().delivery, after=commit))
        entries = on_end(hook, job_record, [], "", self.clock.seconds()).entries
        return [e for e in entries if notify or e.channel == REPORT]

    def fail_every_try(self, status: int) -> int:
        """Answer every try with C{status}, waiting out each retry, until none is left."""
        tries = 0
        while self.caller.open():
            self.caller.answer(status)
            tries += 1
            for _, _, next_at in self.left():
                self.clock.advance(next_at - self.clock.seconds())
        return tries

    def left(self) -> list[tuple[str, int, float]]:
        """The journal's outbox: each entry's channel kind, attempts and next try."""
        return [
            (e.channel.split()[0], e.attempts, e.next_at) for e in self.journal.journal.outbox()
        ]

    def test_aLaneSendsOneAtATimeInOrder(self) -> None:
        self.start()
        self.post(self.pending(12, COMMIT) + self.pending(13, NEWER))
        self.assertEqual(len(self.caller.calls), 1)
        first = self.caller.answer(201)
        self.assertEqual(state(first), (COMMIT, "pending"))
        self.assertEqual(first.method, "POST")
        self.assertEqual(first.headers["Authorization"], f"Bearer {TOKEN}")
        self.assertEqual(state(self.caller.answer(201)), (NEWER, "pending"))
        self.assertEqual(self.caller.open(), [])
        self.assertEqual(self.left(), [])
        self.assertEqual(self.trusts, [None])  # one client for the system's trust

    def test_lanesOfOneHookGoIndependently(self) -> None:
        self.start()
        self.post(self.ended(outcome=JobState.FAILED, notify=True))
        # The commit status and the notification are on their own lanes: both in flight.
        urls = sorted(request.url for request, _ in self.caller.open())
        self.assertEqual(
            urls,
            [
                "https://api.github.com/repos/acme/site/statuses/" + COMMIT,
                "https://chat.example/hooks/T/B/x",
            ],
        )

    def test_a5xxIsTriedAgainWithDoublingWaitsAndKeptInTheJournal(self) -> None:
        self.start()
        self.post(self.pending())
        waits = []
        for _ in range(8):
            self.caller.answer(502)
            [(kind, attempts, next_at)] = self.left()
            waits.append(next_at - self.clock.seconds())
            self.clock.advance(waits[-1] - 0.5)
            self.assertEqual(self.caller.open(), [])  # not before its time
            self.clock.advance(0.5)
        self.assertEqual(waits, [10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 600.0, 600.0])
        self.assertEqual((kind, attempts), (REPORT, 8))
        self.caller.answer(201)
        self.assertEqual(self.left(), [])
        self.assertIn(
            f"job 12: commit status pending for {COMMIT[:12]} (github) not sent "
            "(answered 502); trying again in 10 s",
            self.logged,
        )

    def test_429AndFailedConnectionsAreTriedAgain(self) -> None:
        self.start()
        self.post(self.pending())
        self.caller.answer(429)
        self.clock.advance(FIRST_RETRY)
        self.caller.fail("https://api.github.com:443: Connection refused")
        self.assertEqual(self.left(), [(REPORT, 2, self.clock.seconds() + 2 * FIRST_RETRY)])
        self.assertIn(
            f"job 12: commit status pending for {COMMIT[:12]} (github) not sent "
            "(https://api.github.com:443: Connection refused); trying again in 20 s",
            self.logged,
        )

    def test_a4xxIsDroppedWithTheForgesMessage(self) -> None:
        self.start()
        self.post(self.pending(12, COMMIT) + self.pending(13, NEWER))
        self.caller.answer(422, b'{"message": "No commit found for SHA: 1a2b"}')
        self.assertEqual(len(self.left()), 1)  # only the next one's
        self.assertEqual(state(self.caller.answer(201)), (NEWER, "pending"))
        self.clock.advance(GIVE_UP_AFTER)
        self.assertEqual(self.caller.open(), [])  # never tried again
        [refused] = [line for line in self.logged if "refused" in line]
        self.assertEqual(
            refused,
            f"job 12: commit status pending for {COMMIT[:12]} (github) refused with 422: "
            "No commit found for SHA: 1a2b; not tried again",
        )

    def test_aNewerStatusReplacesOneWaitingForItsRetry(self) -> None:
        self.start()
        self.post(self.pending())
        self.caller.answer(503)
        self.post(self.ended())  # the job ended before the pending's retry
        # Sent at once: the pending's wait is not the success's.
        self.assertEqual(state(self.caller.answer(201)), (COMMIT, "success"))
        self.clock.advance(LAST_RETRY)
        self.assertEqual(self.caller.open(), [])
        self.assertEqual(len(self.caller.calls), 2)
        self.assertEqual(self.left(), [])

    def test_aNewerStatusWaitsForOneInFlightAndReplacesItIfItFails(self) -> None:
        self.start()
        self.post(self.pending())
        self.post(self.ended())
        self.assertEqual(len(self.caller.open()), 1)  # the pending, still in flight
        self.caller.answer(502)
        # Not tried again: the success behind it says what the commit should show.
        self.assertEqual(state(self.caller.answer(201)), (COMMIT, "success"))
        self.assertEqual(self.caller.open(), [])
        self.assertEqual(self.left(), [])

    def test_aNewerStatusFollowsOneInFlightThatSucceeds(self) -> None:
        self.start()
        self.post(self.pending())
        self.post(self.ended())
        self.assertEqual(state(self.caller.answer(201)), (COMMIT, "pending"))
        self.assertEqual(state(self.caller.answer(201)), (COMMIT, "success"))

    def test_anotherCommitsStatusIsNotReplaced(self) -> None:
        self.start()
        self.post(self.pending(12, COMMIT))
        self.caller.answer(500)
        self.post(self.pending(13, NEWER))
        self.assertEqual(self.caller.open(), [])  # behind the first, which waits
        self.clock.advance(FIRST_RETRY)
        self.assertEqual(state(self.caller.answer(201)), (COMMIT, "pending"))
        self.assertEqual(state(self.caller.answer(201)), (NEWER, "pending"))

    def test_givenUpAfterADay(self) -> None:
        self.start()
        self.post(self.pending())
        tries = self.fail_every_try(502)
        self.assertEqual(self.left(), [])
        [given_up] = [line for line in self.logged if "given up" in line]
        self.assertTrue(
            given_up.startswith(
                f"job 12: commit status pending for {COMMIT[:12]} (github) not sent after "
                f"{tries} tries (answered 502); given up"
            ),
            given_up,
        )
        # Waits of 10 .. 320 s (630 s in all), then of 600 s: the try whose
        # next would come more than 24 h after the entry was made is the last.
        self.assertEqual(tries, 6 + math.ceil((GIVE_UP_AFTER - 630) / LAST_RETRY))

    def test_aClientThatCannotBeMadeIsAFailureForNow(self) -> None:
        # report_ca was checked at start, then removed: the status waits, the lane too.
        made = []

        def callers(trust: str | None) -> ScriptedCaller:
            made.append(trust)
            if len(made) == 1:
                raise CAFileError("/etc/forge-ca.pem", "does not exist")
            return self.caller

        self.outbox = Outbox(
            cast(JournalWorker, self.journal),
            cast(OutgoingReactor, self.clock),
            self.config.hooks,
            callers=callers,
        )
        self.start()
        self.post(self.pending())
        self.assertEqual(self.caller.calls, [])
        self.assertEqual(self.left(), [(REPORT, 1, self.clock.seconds() + FIRST_RETRY)])
        self.assertIn(
            f"job 12: commit status pending for {COMMIT[:12]} (github) not sent (report_ca "
            "/etc/forge-ca.pem does not exist); trying again in 10 s",
            self.logged,
        )
        self.clock.advance(FIRST_RETRY)
        self.assertEqual(state(self.caller.answer(201)), (COMMIT, "pending"))

    def test_aStopLeavesWhatIsNotSentForTheStart(self) -> None:
        self.start()
        self.post(self.pending(12, COMMIT))
        self.caller.answer(502)
        self.post(self.pending(13, NEWER))
        self.post(self.ended(14, "c" * 40, notify=True))  # its notification in flight
        self.assertEqual(len(self.caller.open()), 1)
        self.successResultOf(self.outbox.stopService())
        self.assertTrue(self.caller.closed)
        self.assertEqual(self.caller.open(), [])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual([kind for kind, _, _ in self.left()], [REPORT, REPORT, REPORT, "notify"])

        again = ScriptedCaller()
        self.caller = again
        self.outbox = self.make_outbox(self.config)
        self.start()
        # At once, the retry's wait included, in order, lane by lane.
        self.assertEqual(len(again.open()), 2)
        self.assertEqual(state(again.open()[0][0]), (COMMIT, "pending"))
        self.assertIn("outbox: 4 report(s) left by the last run", self.logged)

    def test_whatIsTakenWhileStoppedWaitsForTheStart(self) -> None:
        self.post(self.pending())
        self.assertEqual(self.caller.calls, [])
        self.start()
        self.assertEqual(state(self.caller.answer(201)), (COMMIT, "pending"))

    def test_aReloadSendsWithTheNewTokenAndDropsWhatLostItsConfig(self) -> None:
        self.start()
        self.post(self.pending(12, COMMIT) + self.pending(13, NEWER))
        self.caller.answer(502)
        environ = {"GITHUB_TOKEN": "ghp_rotated", "CHAT_URL": "https://chat.example/new"}
        text = CONFIG.format(format="json", on="always")
        self.outbox.reconfigure(parse_config(text, "tap.cfg", environ, lambda path: b"").hooks)
        self.clock.advance(FIRST_RETRY)
        [(request, _)] = self.caller.open()
        self.assertEqual(request.headers["Authorization"], "Bearer ghp_rotated")
        self.outbox.reconfigure({})
        self.caller.answer(502)
        self.clock.advance(2 * FIRST_RETRY)
        self.assertEqual(self.caller.open(), [])
        self.assertEqual(self.left(), [])
        dropped = [line for line in self.logged if "dropped" in line]
        self.assertEqual(
            dropped,
            [
                f"outbox: job 12's commit status pending for {COMMIT[:12]} (github) dropped: "
                "hook site no longer has it configured",
                f"outbox: job 13's commit status pending for {NEWER[:12]} (github) dropped: "
                "hook site no longer has it configured",
            ],
        )

    def test_eachOutcomeIsKeptForItsJob(self) -> None:
        jobs = [
            self.journal.journal.add(NewDelivery("site", record().delivery, b"{}", 1.0)).job_id
            for _ in range(5)
        ]
        sent, refused, given_up, dropped, waiting = (job for job in jobs if job is not None)
        self.start()
        self.post(self.pending(sent, COMMIT))
        self.caller.answer(502)
        self.clock.advance(FIRST_RETRY)
        self.caller.answer(201)
        self.post(self.pending(refused, NEWER))
        self.caller.answer(422, b'{"message": "No commit found for SHA"}')
        self.post(self.pending(given_up, "c" * 40))
        self.fail_every_try(503)
        self.post(self.pending(dropped, "d" * 40))
        self.caller.answer(500)
        self.outbox.reconfigure({})  # the hook lost its report before the retry
        self.clock.advance(FIRST_RETRY)
        self.outbox.reconfigure(self.config.hooks)
        self.post(self.pending(waiting, "e" * 40))
        self.assertEqual(len(self.caller.open()), 1)  # in flight, not yet answered
        outcomes = {
            job: [(r.outcome, r.detail, r.attempts) for r in self.journal.journal.reports_of(job)]
            for job in jobs
            if job is not None
        }
        self.assertEqual(
            outcomes,
            {
                sent: [("sent", "201", 2)],
                refused: [("refused", "422: No commit found for SHA", 1)],
                given_up: [("given up", "answered 503", 149)],
                dropped: [("dropped", "hook site no longer has it configured", 1)],
                waiting: [("waiting", "", 0)],
            },
        )
        # The job API's view of one: what, outcome, and when it was settled.
        [shown] = [report_json(r) for r in self.journal.journal.reports_of(sent)]
        self.assertEqual(
            shown,
            {
                "what": f"commit status pending for {COMMIT[:12]} (github)",
                "channel": "report",
                "outcome": "sent",
                "detail": "201",
                "attempts": 2,
                "at": iso(1000.0 + FIRST_RETRY),
            },
        )

    def test_aReportOfAPrunedJobIsStillSent(self) -> None:
        journal = self.journal.journal
        job = journal.add(NewDelivery("site", record().delivery, b"{}", 1.0)).job_id
        assert job is not None
        journal.started(job, 2.0)
        journal.finished(job, JobState.SUCCEEDED, 0, None, b"", 3.0)
        self.post(self.ended(job))  # while stopped: it waits in the outbox
        self.assertEqual(journal.prune("site", 0), 1)
        self.assertIsNone(journal.get(job))
        self.start()
        self.assertEqual(state(self.caller.answer(201)), (COMMIT, "success"))
        self.assertEqual(self.left(), [])
        self.assertEqual(journal.reports_of(job), [])  # nothing kept for a job that is gone

    def test_aRefusalThatEchoesACredentialIsLoggedWithoutIt(self) -> None:
        self.start()
        self.post(self.ended(outcome=JobState.FAILED, notify=True))
        status, chat = sorted(self.caller.open(), key=lambda call: "chat" in call[0].url)
        status[1].callback(OutgoingAnswer(401, f'{{"message": "Bad token {TOKEN}"}}'.encode()))
        chat[1].callback(OutgoingAnswer(404, b"no such hook: /hooks/T/B/x"))
        self.assertEqual(
            [line for line in self.logged if "refused" in line],
            [
                f"job 12: commit status failure for {COMMIT[:12]} (github) refused with 401: "
                "Bad token <hidden>; not tried again",
                "job 12: notification (env:CHAT_URL) refused with 404: no such hook: <hidden>;"
                " not tried again",
            ],
        )
