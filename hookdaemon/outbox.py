"""
Commit statuses and notifications, from the job lifecycle to the forge and
the chat, through the journal's outbox so that a restart loses none.

    started / ended / recovered -> (journal thread) reports.on_start / on_end
        -> journal.post: the outbox rows, committed -> Outbox.take -> one lane
        per hook and channel, in order -> Outgoing.send -> settled / postponed

Nothing here delays a job or a delivery: the lifecycle events only queue a
journal write, and the calls go out on their own.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from itertools import islice

import attrs
from attrs import define, field
from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from hookdaemon import __version__, commit_status
from hookdaemon.ca_file import CAFileError
from hookdaemon.config import HookConfig, Secret
from hookdaemon.job_state import JobState
from hookdaemon.journal import Journal, OutboxEntry
from hookdaemon.journal_worker import JournalNotOpenError, JournalWorker
from hookdaemon.lifecycle import Job, JobObserver, JobOutcome
from hookdaemon.outgoing import Caller, CallFailedError, Outgoing, OutgoingAnswer, OutgoingRequest
from hookdaemon.reactors import OutgoingReactor
from hookdaemon.reports import REPORT, Posting, notify_channel, on_end, on_start

log = Logger()

FIRST_RETRY = 10.0
"""Seconds before a report that failed for now is tried again; doubled at each failure."""
LAST_RETRY = 600.0
GIVE_UP_AFTER = 24 * 3600.0
"""A report still not sent this long after its job's event is let go, and logged."""
CALL_TIMEOUT = 30.0


class Reports(JobObserver):
    """Turns each start and end of a reporting hook's job into outbox entries."""

    def __init__(
        self, journal: JournalWorker, clock: IReactorTime, outbox: Outbox, public_url: str
    ) -> None:
        self._journal = journal
        self._clock = clock
        self._outbox = outbox
        self.public_url = public_url
        """The daemon's C{public_url}, for links to jobs; a reload may change it."""

    def started(self, job: Job) -> None:
        if job.hook.report is not None:
            self._post(job, start=True)

    def ended(self, job: Job, outcome: JobOutcome) -> None:
        if job.hook.report is not None or job.hook.notify is not None:
            self._post(job, start=False)

    def recovered(self, job: Job, outcome: JobOutcome) -> None:
        self.ended(job, outcome)

    def _post(self, job: Job, start: bool) -> None:
        hook, public_url, now = job.hook, self.public_url, self._clock.seconds()

        def post(journal: Journal) -> tuple[Posting, list[OutboxEntry]]:
            # On the journal's thread, after the job's own record: the end is read
            # back as the job API shows it, and the jobs it covers with it.
            record = journal.get(job.id)
            if record is None:
                return Posting(), []
            covered = [found for i in journal.covers(job.id) if (found := journal.get(i))]
            if start:
                posting = on_start(hook, record, covered, public_url, now)
            else:
                retried_as = (
                    journal.retried_as(record) if record.state is JobState.INTERRUPTED else None
                )
                previous = None
                if hook.notify is not None and hook.notify.on == "change":
                    previous = journal.previous_end(hook.name, job.id)
                posting = on_end(hook, record, covered, public_url, now, retried_as, previous)
            return posting, journal.post(posting.entries)

        def posted(result: tuple[Posting, list[OutboxEntry]]) -> None:
            posting, entries = result
            for note in posting.notes:
                log.info("hook {hook}: {note}", hook=hook.name, note=note)
            self._outbox.take(entries)

        what = f"job {job.id}'s reports"
        self._journal.write(post).addCallback(posted).addErrback(
            lambda failure: log.failure("journal: cannot post {what}", failure, what=what)
        )


@define(eq=False)
class _Lane:
    """
    One hook's channel: its entries go out one at a time, in order, so the
    status a commit is left with is the last one posted. The head of
    C{waiting} is the entry being sent, or waiting for its retry.
    """

    waiting: deque[OutboxEntry] = field(factory=deque)
    wait: IDelayedCall | None = None
    """The head's retry, when it waits for one."""
    call: Deferred[OutgoingAnswer] | None = None
    """The head's call, while it is in flight."""

    @property
    def busy(self) -> bool:
        return self.wait is not None or self.call is not None

    def replace(self, subject: str) -> None:
        """
        A commit's newer status replaces those not yet sent (the journal has
        dropped them too). One in flight is left to finish; if it fails, the
        newer one behind it is why it is not tried again (L{superseded}).
        """
        if self.wait is not None and self.waiting[0].subject == subject:
            self.wait.cancel()
            self.wait = None
        head = [self.waiting.popleft()] if self.call is not None else []
        self.waiting = deque(head + [e for e in self.waiting if e.subject != subject])

    @property
    def superseded(self) -> bool:
        """The head has a newer status of its commit behind it."""
        subject = self.waiting[0].subject
        return subject is not None and any(
            entry.subject == subject for entry in islice(self.waiting, 1, None)
        )


class Outbox(Service):
    """
    Sends the outbox's entries, each once its lane is free: a 2xx is done, a
    4xx is refused (logged with the forge's message, never tried again), a 5xx,
    a 429 or a failed connection is tried again later, doubling the wait.
    """

    def __init__(
        self,
        journal: JournalWorker,
        reactor: OutgoingReactor,
        hooks: Mapping[str, HookConfig],
        callers: Callable[[str | None], Caller] | None = None,
    ) -> None:
        self._journal = journal
        self._reactor = reactor
        self._hooks = hooks
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._callers = callers
        """Makes the client for a trust (a C{report_ca} path, or None); None: L{Outgoing}."""
        self._clients: dict[str | None, Caller] = {}
        """One client per trust: the system's (None), or a C{report_ca} file's."""

    def reconfigure(self, hooks: Mapping[str, HookConfig]) -> None:
        """A reload: entries not yet sent go with the hooks' new credentials."""
        self._hooks = hooks

    def startService(self) -> None:
        super().startService()
        self._journal.call(lambda journal: journal.outbox()).addCallbacks(
            self._resume, self._unread
        )

    def _unread(self, failure: Failure) -> None:
        if not failure.check(JournalNotOpenError):  # that one was said, and stops the daemon
            log.failure("outbox: cannot read the reports left by the last run", failure)

    def _resume(self, entries: list[OutboxEntry]) -> None:
        if entries:
            log.info("outbox: {count} report(s) left by the last run", count=len(entries))
        # A start is a new try: what waited for a retry goes now.
        self.take([attrs.evolve(entry, next_at=0.0) for entry in entries])

    def take(self, entries: Sequence[OutboxEntry]) -> None:
        """Entries now in the journal's outbox: each joins its lane."""
        if not self.running:
            return  # sent at the next start: they are on disk
        for entry in entries:
            lane = self._lanes.setdefault((entry.hook, entry.channel), _Lane())
            if entry.subject is not None:
                lane.replace(entry.subject)
            lane.waiting.append(entry)
            self._next(lane)

    def _next(self, lane: _Lane) -> None:
        if lane.busy or not lane.waiting or not self.running:
            return
        entry = lane.waiting[0]
        delay = entry.next_at - self._reactor.seconds()
        if delay > 0:
            lane.wait = self._reactor.callLater(delay, self._send, lane, entry)
        else:
            self._send(lane, entry)

    def _send(self, lane: _Lane, entry: OutboxEntry) -> None:
        lane.wait = None
        hook = self._hooks.get(entry.hook)
        request = None if hook is None else self._request(hook, entry)
        if hook is None or request is None:
            _say(
                log.warn,
                "outbox: job {job}'s {what} dropped: hook {hook} no longer has it configured",
                entry,
                hook=entry.hook,
            )
            detail = f"hook {entry.hook} no longer has it configured"
            self._settle(lane, entry, "dropped", detail, entry.attempts)
            return
        try:
            client = self._client(hook.report_ca)
        except CAFileError as e:  # checked at start, but gone or changed since
            self._failed(lane, entry, f"report_ca {e}")
            return
        lane.call = call = client.send(request)
        call.addCallbacks(
            lambda answer: self._answered(lane, entry, hook, request, answer),
            lambda failure: self._failed(
                lane,
                entry,
                failure.value.reason if failure.check(CallFailedError) else str(failure.value),
            ),
        )

    def _request(self, hook: HookConfig, entry: OutboxEntry) -> OutgoingRequest | None:
        """The call an entry makes with its hook's credentials now; None if the hook lost it."""
        message = json.loads(entry.message)
        headers = {"Content-Type": "application/json", "User-Agent": f"hookdaemon/{__version__}"}
        if entry.channel == REPORT:
            report = hook.report
            if report is None or report.api != message["api"]:
                return None
            api = commit_status.STATUS_APIS[report.api]
            headers.update(api.HEADERS)
            headers.update(api.credentials(report.token.value.decode("utf-8")))
            body = json.dumps(message["json"]).encode()
            return OutgoingRequest(message["method"], report.url + message["path"], headers, body)
        url = _notify_url(hook, entry.channel)
        if url is None:
            return None
        body = json.dumps(message["body"]).encode()
        return OutgoingRequest("POST", url.value.decode("utf-8"), headers, body, secret_url=True)

    def _answered(
        self,
        lane: _Lane,
        entry: OutboxEntry,
        hook: HookConfig,
        request: OutgoingRequest,
        answer: OutgoingAnswer,
    ) -> None:
        lane.call = None
        if 200 <= answer.status < 300:
            _say(log.info, "job {job}: {what} sent ({status})", entry, status=answer.status)
            self._settle(lane, entry, "sent", str(answer.status), entry.attempts + 1)
        elif answer.status >= 500 or answer.status == 429:
            self._failed(lane, entry, f"answered {answer.status}")
        else:
            said = _forge_message(hook, entry, request, answer)
            _say(
                log.warn,
                "job {job}: {what} refused with {status}: {said}; not tried again",
                entry,
                status=answer.status,
                said=said,
            )
            detail = f"{answer.status}: {said}"
            self._settle(lane, entry, "refused", detail, entry.attempts + 1)

    def _failed(self, lane: _Lane, entry: OutboxEntry, reason: str) -> None:
        lane.call = None
        if not self.running:
            return  # cancelled by the stop: the entry stays for the next start
        if lane.superseded:
            detail = f"{reason}; a newer status of its commit goes instead"
            self._settle(lane, entry, "replaced", detail, entry.attempts + 1)
            return
        attempts = entry.attempts + 1
        wait = min(FIRST_RETRY * 2 ** (attempts - 1), LAST_RETRY)
        next_at = self._reactor.seconds() + wait
        if next_at - entry.created_at > GIVE_UP_AFTER:
            _say(
                log.warn,
                "job {job}: {what} not sent after {attempts} tries ({reason}); given up",
                entry,
                attempts=attempts,
                reason=reason,
            )
            self._settle(lane, entry, "given up", reason, attempts)
            return
        _say(
            log.info,
            "job {job}: {what} not sent ({reason}); trying again in {wait:.0f} s",
            entry,
            reason=reason,
            wait=wait,
        )
        assert entry.id is not None
        entry_id = entry.id
        self._journal.record(
            lambda journal: journal.postponed(entry_id, attempts, next_at, reason),
            f"job {entry.job_id}'s report for later",
        )
        lane.waiting[0] = attrs.evolve(
            entry, attempts=attempts, next_at=next_at, last_error=reason
        )
        self._next(lane)

    def _settle(
        self, lane: _Lane, entry: OutboxEntry, outcome: str, detail: str, attempts: int
    ) -> None:
        """The lane's head is done with: its outcome kept for its job, the next one's turn."""
        assert entry.id is not None
        entry_id, now = entry.id, self._reactor.seconds()
        self._journal.record(
            lambda journal: journal.settled(entry_id, outcome, detail, now, attempts),
            f"job {entry.job_id}'s report as {outcome}",
        )
        lane.waiting.popleft()
        self._next(lane)

    def _client(self, ca_file: str | None) -> Caller:
        client = self._clients.get(ca_file)
        if client is None:
            if self._callers is None:
                client = Outgoing(self._reactor, ca_file, CALL_TIMEOUT)
            else:
                client = self._callers(ca_file)
            self._clients[ca_file] = client
        return client

    def stopService(self) -> Deferred[None]:
        """Stop sending: what is not sent stays in the outbox for the next start."""
        super().stopService()
        for lane in self._lanes.values():
            if lane.wait is not None:
                lane.wait.cancel()
        self._lanes.clear()
        # Each client cancels its calls under way; their failures find us stopped.
        closing = [client.close() for client in self._clients.values()]
        self._clients.clear()
        return DeferredList(closing).addCallback(lambda _: None)


def _notify_url(hook: HookConfig, channel: str) -> Secret | None:
    if hook.notify is None:
        return None
    for url in hook.notify.urls:
        if notify_channel(url) == channel:
            return url
    return None


def _say(level: Callable[..., None], format: str, entry: OutboxEntry, **fields: object) -> None:
    """Log about an entry: C{format} may name its C{{job}} and C{{what}} it is."""
    level(format, job=entry.job_id, what=_what(entry), **fields)


def _what(entry: OutboxEntry) -> str:
    if entry.what:
        return entry.what
    # An entry of a release before entries said what they are.
    return "commit status" if entry.channel == REPORT else "notification"


def _forge_message(
    hook: HookConfig, entry: OutboxEntry, request: OutgoingRequest, answer: OutgoingAnswer
) -> str:
    """What the forge or chat said of a refusal, without the credentials it may echo."""
    if entry.channel != REPORT or hook.report is None:
        said = answer.body[:200].decode("utf-8", "replace")
    else:
        said = commit_status.STATUS_APIS[hook.report.api].error_message(answer.status, answer.body)
    for secret in request.secrets:
        said = said.replace(secret, "<hidden>")
    return said
