"""
The Klein app: HTTP in, answers out. Decisions are made in L{hookdaemon.intake},
L{hookdaemon.client_address} and L{hookdaemon.status_access}; L{answer} turns
each into HTTP, in one place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol, assert_never, cast
from urllib.parse import quote, urlsplit

from klein import Klein
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import CancelledError, Deferred, DeferredSemaphore
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import NO_BODY_CODES
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request
from werkzeug.exceptions import BadHost, MethodNotAllowed, NotFound

from hookdaemon.access_log import access_log_formatter
from hookdaemon.client_address import client_address
from hookdaemon.config import HookConfig, Network
from hookdaemon.dashboard.app import Dashboard
from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.dispatcher import NoJobError, ReplayError
from hookdaemon.follow import FollowStream
from hookdaemon.hooksfile.answers import (
    NO_FRONT_END,
    Answer,
    FrontEnd,
    clean_path,
    command_ended,
    form_error,
    method_refused,
    moved,
    no_route,
    panicked,
    root,
    rules_error,
    rules_unmet,
    triggered,
)
from hookdaemon.hooksfile.answers import not_found as hook_not_found
from hookdaemon.hooksfile.decision import (
    Decision,
    FormUnreadable,
    Panicked,
    RulesFailed,
    RulesUnmet,
    decide,
    delivery_for,
)
from hookdaemon.hooksfile.model import FileHook, Header, WebhookRequest
from hookdaemon.hooksfile.request import HandlerPanicError, MultipartError, read_request
from hookdaemon.intake import (
    Accepted,
    Ignored,
    Intake,
    NoHook,
    OverRate,
    Pong,
    Refusal,
    Refused,
    Stopping,
    WrongMethod,
)
from hookdaemon.job_state import JobState
from hookdaemon.job_views import JobQuery, job_query
from hookdaemon.jobs import QueueFullError
from hookdaemon.journal import Added, JobRecord
from hookdaemon.journal_worker import RETRY_MAX, JournalUnavailableError
from hookdaemon.lifecycle import JobOutcome
from hookdaemon.metrics import Metrics
from hookdaemon.request_state import IHookRequest
from hookdaemon.request_values import client_host, header_values, status_request, url_query
from hookdaemon.status_access import StatusRefusal, Tokens, status_refusal

__all__ = [
    "DeliveryTaker",
    "HookApp",
    "JobSource",
    "access_log_formatter",
    "answer",
]

log = Logger()


def incoming_from(request: Request, client: str) -> Incoming:
    headers = {
        name.decode("latin-1"): ", ".join(v.decode("latin-1") for v in values)
        for name, values in request.requestHeaders.getAllRawHeaders()
    }
    query = {name: values[0] for name, values in url_query(request).items()}
    assert request.content is not None
    request.content.seek(0)
    return Incoming(
        body=request.content.read(),
        headers=headers,
        query=query,
        client=client,
    )


def json_answer(request: IRequest, code: int, body: Mapping[str, Any]) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body).encode() + b"\n"


class DeliveryTaker(Protocol):
    """What the app hands accepted deliveries to: the job engine."""

    @property
    def stopping(self) -> bool:
        """Set while the daemon stops: deliveries get 503 so the forge tries again later."""

    @property
    def trouble(self) -> str | None:
        """Why deliveries cannot be taken now (stopping, a journal that cannot commit), or None."""

    def accept(
        self, hook: HookConfig, delivery: Delivery, body: bytes, invocation: bytes | None = None
    ) -> Deferred[Added]:
        """
        Journal an accepted delivery and queue its job; fires once it is on disk, or
        fails with L{QueueFullError} when too many of the hook's jobs wait already,
        or with L{JournalUnavailableError} when the journal cannot commit. A
        hooks-file hook's call comes with what its command is given (C{invocation}).
        """

    def finished(self, job_id: int) -> Deferred[JobOutcome] | None:
        """How a live job ends, once it has; None for a job that is not live."""

    def ignored(self, hook: HookConfig, delivery: Delivery, reason: str) -> None:
        """Record, without waiting, a delivery the hook's filters did not want, and why."""


class JobSteering(Protocol):
    """What replays and cancels jobs at a person's request: the job engine."""

    def replay(self, job_id: int) -> Deferred[JobRecord]:
        """The new job's record; fails with L{NoJobError} or L{ReplayError}."""

    def cancel(self, job_id: int) -> JobState | None:
        """C{CANCELLED} (done), C{RUNNING} (being stopped), or None (not live)."""


class JobSource(Protocol):
    """Where the status endpoints read jobs from: the journal, off the reactor thread."""

    def recent(self, query: JobQuery) -> Deferred[list[dict[str, Any]]]: ...

    def one(self, job_id: int) -> Deferred[dict[str, Any] | None]: ...

    def job_output(self, job_id: int) -> Deferred[bytes | None]: ...

    def follow(self, job_id: int, write: Callable[[bytes], None]) -> Deferred[bool]:
        """Pass the output so far and then each new chunk to C{write} until the job ends."""


Answerable = (
    Refusal | Pong | Ignored | Added | QueueFullError | JournalUnavailableError | StatusRefusal
)
"""Everything decided about a request that L{answer} turns into HTTP."""

ACCEPT_POST = b"application/json, application/x-www-form-urlencoded"
"""The body types a 415 names (RFC 9110's C{Accept-Post}): what the forges read."""


def answer(outcome: Answerable, request: IRequest, hook: str = "", client: str = "") -> bytes:
    """
    The one place an outcome becomes HTTP: its status code, the headers it calls
    for, its JSON body, and the daemon's log line naming C{hook} and C{client}.
    """
    match outcome:
        case Added(job_id=job_id):
            if outcome.duplicate:
                return json_answer(request, 200, {"status": "duplicate", "job": job_id})
            url = f"/jobs/{job_id}"
            request.setHeader(b"location", url.encode())
            answer = {"job": job_id, "status": JobState.QUEUED, "url": url}
            return json_answer(request, 202, answer)
        case Refused(code=code, reason=reason):
            log.info(
                "hook {hook}: refused {code} from {client}: {reason}",
                hook=hook,
                code=code,
                client=client or "-",
                reason=reason,
            )
            if code == 415:
                request.setHeader(b"accept-post", ACCEPT_POST)
            if outcome.challenge:
                request.setHeader(b"www-authenticate", outcome.challenge.encode("ascii"))
            return json_answer(request, code, {"error": reason})
        case Pong(delivery=delivery):
            log.info("hook {hook}: ping from {forge}", hook=hook, forge=delivery.forge)
            return json_answer(request, 200, {"status": "pong"})
        case Ignored(reason=reason):
            log.info("hook {hook}: ignored: {reason}", hook=hook, reason=reason)
            return json_answer(request, 200, {"status": "ignored", "reason": reason})
        case OverRate(rate=rate, retry_after=wait):
            if outcome.report:
                log.info(
                    "hook {hook}: {client} is over the rate of {rate}; answering 429"
                    " (said once per {period:g} s)",
                    hook=hook,
                    client=client or "-",
                    rate=str(rate),
                    period=rate.period,
                )
            request.setHeader(b"retry-after", str(wait).encode())
            return json_answer(
                request,
                429,
                {"error": f"more than {rate} calls from this address; try again in {wait} s"},
            )
        case NoHook(name=name):
            return json_answer(request, 404, {"error": f"no hook named {name}"})
        case WrongMethod():
            request.setHeader(b"allow", b"POST")
            return json_answer(request, 405, {"error": "use POST"})
        case Stopping():
            request.setHeader(b"retry-after", b"30")
            return json_answer(request, 503, {"error": "shutting down; try again shortly"})
        case QueueFullError():
            log.info("hook {hook}: queue full, answering 503: {why}", hook=hook, why=outcome)
            request.setHeader(b"retry-after", b"60")
            return json_answer(
                request, 503, {"error": "too many deliveries wait for this hook; try again later"}
            )
        case JournalUnavailableError():
            # Not logged per request: the journal says once when it starts and stops.
            request.setHeader(b"retry-after", b"%d" % RETRY_MAX)
            return json_answer(
                request, 503, {"error": f"the journal cannot commit ({outcome}); try again later"}
            )
        case StatusRefusal(code=code, reason=reason):
            if code == 401:
                request.setHeader(b"www-authenticate", b"Bearer")
            return json_answer(request, code, {"error": reason})
    assert_never(outcome)


class HookApp:
    """The HTTP interface of DESIGN.md."""

    app = Klein()

    def __init__(
        self,
        hooks: Mapping[str, HookConfig],
        engine: DeliveryTaker,
        jobs: JobSource,
        tokens: Tokens,
        trusted_proxies: tuple[Network, ...] = (),
        clock: IReactorTime | None = None,
        steering: JobSteering | None = None,
        metrics: Metrics | None = None,
        front: FrontEnd = NO_FRONT_END,
        dashboard: Dashboard | None = None,
    ) -> None:
        self._intake = Intake(hooks, front)
        self._dashboard = dashboard
        """The pages under C{/ui/}; None: C{dashboard = no}, and C{/ui/} is not found."""
        self._trusted_proxies = trusted_proxies
        if clock is None:
            # Imported here, not at the top, so twistd's --reactor can still choose.
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self._clock = clock
        self._engine = engine
        self._jobs = jobs
        self._steering = steering
        self._metrics = Metrics(hooks) if metrics is None else metrics
        self._tokens = tokens
        self._parsing = DeferredSemaphore(1)
        """One large hooks-file body read at a time, off the reactor (L{INLINE_BODY})."""

    def reconfigure(
        self,
        hooks: Mapping[str, HookConfig],
        tokens: Tokens,
        trusted_proxies: tuple[Network, ...],
        front: FrontEnd | None = None,
    ) -> None:
        """Answer as a reloaded configuration says; requests under way finish as they began."""
        self._intake = self._intake.for_hooks(hooks, front)
        self._tokens = tokens
        self._trusted_proxies = trusted_proxies
        if self._dashboard is not None:
            self._dashboard.reconfigure(hooks, tokens)

    def resolve_client(self, request: IRequest) -> str:
        """
        The caller's address, behind a trusted proxy the one it names (see
        L{client_address}), kept in the request's L{IHookRequest} for the access log.
        """
        trusted = self._trusted_proxies
        client = client_address(
            client_host(request),
            # Believed only from a trusted proxy: without one, not even read.
            header_values(request, b"x-forwarded-for") if trusted else (),
            header_values(request, b"x-real-ip") if trusted else (),
            trusted,
        )
        IHookRequest(request).client = client
        return client

    def deliver(self, request: Request, name: str, client: str) -> bytes | Deferred[bytes]:
        """A call to /hooks/NAME: L{Intake} decides, the engine journals, L{answer} says so."""
        intake = self._intake
        now = self._clock.seconds()
        hook = intake.admit(name, request.method, client, self._engine.stopping, now)
        if not isinstance(hook, HookConfig):
            self._metrics.delivery(name, hook)
            return answer(hook, request, name, client)
        incoming = incoming_from(request, client)
        outcome = intake.decide(hook, incoming, now)
        if not isinstance(outcome, Accepted):
            if isinstance(outcome, Ignored):
                self._engine.ignored(hook, outcome.delivery, outcome.reason)
            self._metrics.delivery(name, outcome)
            return answer(outcome, request, name, client)
        taken = self._engine.accept(hook, outcome.delivery, incoming.body)
        return taken.addBoth(self._metrics.delivered, name).addCallbacks(
            answer, _not_taken, callbackArgs=(request,), errbackArgs=(request, name)
        )

    @property
    def front(self) -> FrontEnd:
        return self._intake.front

    def hooks_file_hook(self, hook_id: str) -> HookConfig | None:
        return self._intake.hooks_file_hook(hook_id)

    def tap_hook(self, name: str) -> bool:
        """Whether tap.cfg has a hook of this name (at C{/hooks/NAME})."""
        return self._intake.tap_hook(name)

    def deliver_file(
        self, request: Request, hook: HookConfig, client: str
    ) -> bytes | Deferred[bytes]:
        """
        A call to a hooks-file hook: admitted as every call is (method, stopping,
        address, rate), then decided as webhook decides it, and answered as
        webhook answers (L{hookdaemon.hooksfile.answers}).
        """
        intake = self._intake
        front = intake.front
        definition = hook.hooks_file
        assert definition is not None
        now = self._clock.seconds()
        admitted = intake.admit(hook.name, request.method, client, self._engine.stopping, now)
        if not isinstance(admitted, HookConfig):
            self._metrics.delivery(hook.name, admitted)
            return write_answer(request, refusal_answer(admitted, front, hook.name, client))
        incoming = incoming_from(request, client)
        arguments = webhook_request_arguments(request, definition, incoming)

        def decided() -> Decision:
            try:
                read: WebhookRequest | MultipartError | HandlerPanicError = read_request(
                    **arguments
                )
            except (MultipartError, HandlerPanicError) as e:
                read = e
            return decide(definition, read, incoming)

        threads = getattr(self._clock, "getThreadPool", None)
        if len(incoming.body) <= INLINE_BODY or threads is None:
            return self._answer_decision(request, hook, client, incoming, decided())
        # Pure Python reads a large body (10 MiB of XML took 20 s): in a thread,
        # one at a time, so the reactor goes on serving every other request.
        reactor = cast(IReactorFromThreads, self._clock)

        def read_in_thread() -> Deferred[Decision]:
            return deferToThreadPool(reactor, threads(), decided)

        parsing: Deferred[Decision] = self._parsing.run(read_in_thread)

        def answered(decision: Decision) -> bytes | Deferred[bytes]:
            return self._answer_decision(request, hook, client, incoming, decision)

        return parsing.addCallback(answered)

    def _answer_decision(
        self,
        request: Request,
        hook: HookConfig,
        client: str,
        incoming: Incoming,
        decision: Decision,
    ) -> bytes | Deferred[bytes]:
        """A hooks-file call's answer once it is decided: journaled first if it runs."""
        front = self._intake.front
        definition = hook.hooks_file
        assert definition is not None
        match decision:
            case RulesUnmet():
                delivery = delivery_for(incoming)
                self._engine.ignored(hook, delivery, RULES_UNMET_REASON)
                self._metrics.delivery(hook.name, Ignored(delivery, RULES_UNMET_REASON))
                log.info("hook {hook}: {reason}", hook=hook.name, reason=RULES_UNMET_REASON)
                return write_answer(request, rules_unmet(definition, front))
            case (
                RulesFailed(reason=reason)
                | FormUnreadable(reason=reason)
                | Panicked(reason=reason)
            ):
                log.info(
                    "hook {hook}: refused 500 from {client}: {reason}",
                    hook=hook.name,
                    client=client or "-",
                    reason=reason,
                )
                self._metrics.delivery(hook.name, Refused(500, reason))
                if isinstance(decision, FormUnreadable):
                    return write_answer(request, form_error(front))
                if isinstance(decision, Panicked):
                    return write_answer(request, panicked(front))
                return write_answer(request, rules_error(front))
        invocation = decision.invocation.to_json()
        taken = self._engine.accept(hook, decision.delivery, incoming.body, invocation)
        taken.addBoth(self._metrics.delivered, hook.name)

        def accepted(added: Added) -> bytes | Deferred[bytes]:
            extra = () if added.job_id is None else (Header(JOB_HEADER, str(added.job_id)),)
            if added.duplicate:
                log.info(
                    "hook {hook}: a duplicate of job {job}; answered as that call was",
                    hook=hook.name,
                    job="(pruned)" if added.job_id is None else added.job_id,
                )
            waiting = None
            if definition.include_command_output_in_response and added.job_id is not None:
                waiting = self._engine.finished(added.job_id)
            if waiting is None:
                return write_answer(request, triggered(definition, front, extra))

            def ended(outcome: JobOutcome) -> bytes:
                succeeded = outcome.state is JobState.SUCCEEDED
                output = outcome.captured or b""
                answer = command_ended(definition, front, succeeded, output, extra)
                return write_answer(request, answer)

            return waiting.addCallback(ended)

        def not_taken(failure: Failure) -> bytes:
            failure.trap(QueueFullError, JournalUnavailableError)
            error = cast(QueueFullError | JournalUnavailableError, failure.value)
            return write_answer(request, refusal_answer(error, front, hook.name, client))

        return taken.addCallbacks(accepted, not_taken)

    def root(self, request: Request) -> bytes:
        """C{/} with hooks files: 200 C{OK} to any method, as webhook's C{/} answers."""
        return write_answer(request, root())

    def _refuse_status(self, request: Request, act: bool = False) -> bytes | None:
        """
        The answer refusing a job API request, or None when it may go on: to read,
        or with C{act} to replay or cancel (see L{status_refusal}).
        """
        authorization = request.getHeader(b"authorization")
        refusal = status_refusal(
            self._tokens,
            status_request(request, authorization.decode("latin-1") if authorization else None),
            act=act,
        )
        if refusal is None:
            return None
        return answer(refusal, request)

    @app.route("/jobs", methods=["GET"])
    def list_jobs(self, request: Request) -> bytes | Deferred[bytes]:
        refused = self._refuse_status(request)
        if refused is not None:
            return refused
        query = job_query(url_query(request))
        if isinstance(query, str):
            return json_answer(request, 400, {"error": query})
        return self._jobs.recent(query).addCallback(
            lambda jobs: json_answer(request, 200, {"jobs": jobs})
        )

    @app.route("/jobs/<int:job_id>", methods=["GET"])
    def show_job(self, request: Request, job_id: int) -> bytes | Deferred[bytes]:
        refused = self._refuse_status(request)
        if refused is not None:
            return refused

        def answer(job: dict[str, Any] | None) -> bytes:
            if job is None:
                return json_answer(request, 404, {"error": f"no job {job_id}"})
            return json_answer(request, 200, job)

        return self._jobs.one(job_id).addCallback(answer)

    @app.route("/jobs/<int:job_id>/log", methods=["GET"])
    def job_log(self, request: Request, job_id: int) -> bytes | Deferred[bytes]:
        refused = self._refuse_status(request)
        if refused is not None:
            return refused
        if url_query(request).get("follow") == ["1"]:
            return self._follow(request, job_id)

        def answer(output: bytes | None) -> bytes:
            if output is None:
                return json_answer(request, 404, {"error": f"no job {job_id}"})
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.setHeader(b"cache-control", b"no-store")
            return output

        return self._jobs.job_output(job_id).addCallback(answer)

    def _follow(self, request: Request, job_id: int) -> Deferred[bytes]:
        """
        Stream a job's output as it is written; the answer ends when the job does,
        or when the reader falls too far behind (L{FollowStream}).
        """
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        # nginx buffers a proxied answer by default: a follower behind it got
        # every line of a 5 s job at its end (issue 15).
        request.setHeader(b"x-accel-buffering", b"no")
        stream = FollowStream(request)

        def ended(found: bool | None) -> bytes:
            if found is None:
                return b""  # cut off: the stream said so
            stream.close()
            if not found:
                return json_answer(request, 404, {"error": f"no job {job_id}"})
            return b""

        return stream.follow(lambda write: self._jobs.follow(job_id, write)).addCallback(ended)

    @app.route("/jobs/<int:job_id>/replay", methods=["POST"])
    def replay_job(self, request: Request, job_id: int) -> bytes | Deferred[bytes]:
        """202 and the new job: the delivery of C{job_id} runs again, with its body."""
        refused = self._refuse_status(request, act=True)
        if refused is not None:
            return refused
        if self._steering is None:
            return json_answer(request, 404, {"error": "jobs cannot be replayed here"})

        def replayed(record: JobRecord) -> bytes:
            url = f"/jobs/{record.id}"
            request.setHeader(b"location", url.encode())
            body = {"job": record.id, "status": "queued", "url": url, "replay_of": job_id}
            return json_answer(request, 202, body)

        def refused_replay(failure: Failure) -> bytes:
            failure.trap(NoJobError, ReplayError, JournalUnavailableError)
            if failure.check(NoJobError):
                return json_answer(request, 404, {"error": f"no job {job_id}"})
            if failure.check(ReplayError):
                return json_answer(request, 409, {"error": failure.getErrorMessage()})
            return answer(cast(JournalUnavailableError, failure.value), request)

        return self._steering.replay(job_id).addCallbacks(replayed, refused_replay)

    @app.route("/jobs/<int:job_id>/cancel", methods=["POST"])
    def cancel_job(self, request: Request, job_id: int) -> bytes | Deferred[bytes]:
        """
        200 with C{cancelled} (it had not started) or C{cancelling} (its process
        group is being stopped); 409 for a job that is over.
        """
        refused = self._refuse_status(request, act=True)
        if refused is not None:
            return refused
        if self._steering is None:
            return json_answer(request, 404, {"error": "jobs cannot be cancelled here"})
        state = self._steering.cancel(job_id)
        if state is JobState.CANCELLED:
            return json_answer(request, 200, {"job": job_id, "state": "cancelled"})
        if state is JobState.RUNNING:
            return json_answer(request, 200, {"job": job_id, "state": "cancelling"})

        def over(job: dict[str, Any] | None) -> bytes:
            if job is None:
                return json_answer(request, 404, {"error": f"no job {job_id}"})
            error = f"job {job_id} has ended ({job['state']})"
            return json_answer(request, 409, {"error": error})

        return self._jobs.one(job_id).addCallback(over)

    @app.route("/ui", methods=["GET"])
    def dashboard_home(self, request: Request) -> bytes:
        if self._dashboard is None:
            return json_answer(request, 404, {"error": "not found"})
        request.setResponseCode(301)
        request.setHeader(b"location", b"/ui/")
        return b""

    @app.route("/ui/", branch=True)
    def dashboard(self, request: Request) -> IResource | bytes:
        if self._dashboard is None:
            return json_answer(request, 404, {"error": "not found (set dashboard = yes)"})
        return self._dashboard.resource()

    @app.route("/metrics", methods=["GET"])
    def metrics(self, request: Request) -> bytes:
        """The Prometheus exposition (OpenMetrics when the scraper asks), guarded like /jobs."""
        refused = self._refuse_status(request)
        if refused is not None:
            return refused
        body, content_type = self._metrics.exposition(request.getHeader(b"accept"))
        request.setHeader(b"content-type", content_type)
        request.setHeader(b"cache-control", b"no-store")
        return body

    @app.route("/healthz", methods=["GET", "HEAD"])
    def healthz(self, request: Request) -> bytes:
        """200 while deliveries can be taken; 503 with the reason while they cannot."""
        trouble = self._engine.trouble
        if trouble is None:
            return json_answer(request, 200, {"status": "ok"})
        request.setHeader(b"retry-after", b"%d" % RETRY_MAX)
        return json_answer(request, 503, {"status": "unavailable", "reason": trouble})

    @app.handle_errors(JournalUnavailableError)
    def journal_unavailable(self, request: IRequest, failure: Failure) -> bytes:
        """The job API's reads, when even they cannot be made (a lock another program holds)."""
        return answer(cast(JournalUnavailableError, failure.value), request)

    @app.handle_errors(NotFound)
    def not_found(self, request: IRequest, failure: Failure) -> bytes:
        if self._intake.front.hooks_files:
            # What webhook's router answers a path it has no route for.
            return write_answer(request, no_route())
        return json_answer(request, 404, {"error": "not found"})

    @app.handle_errors(MethodNotAllowed)
    def not_allowed(self, request: IRequest, failure: Failure) -> bytes:
        return json_answer(request, 405, {"error": "method not allowed"})

    def resource(self) -> IResource:
        """The app as the site's root resource: see L{_Dispatcher}."""
        return _Dispatcher(self, self.app.resource())


INLINE_BODY = 64 * 1024
"""A hooks-file call's body up to this size is read on the reactor; a larger one in a thread."""

JOB_HEADER = "X-Hookdaemon-Job"
"""The job a hooks-file hook's call became: an answer header webhook's scripts never read."""
RULES_UNMET_REASON = "the trigger rule is not satisfied"


def write_answer(request: IRequest, answer: Answer) -> bytes:
    """A hooks-file hook's answer, as webhook writes it: no Content-Type but Go's own."""
    request.setResponseCode(answer.code)
    # twisted.web adds text/html to an answer with none; Go adds only what it sniffs.
    cast(Request, request).defaultContentType = None
    for name, value in answer.header_lines():
        request.setHeader(name.encode("latin-1"), value.encode("utf-8"))
    return answer.body


def refusal_answer(
    outcome: Refusal | QueueFullError | JournalUnavailableError,
    front: FrontEnd,
    hook: str,
    client: str,
) -> Answer:
    """
    What webhook never refuses for, in one line of text as its answers are:
    hookdaemon stopping, a full queue or journal (503), an address its
    C{allow_from} refuses (403), a client over its C{rate} (429).
    """
    headers: tuple[Header, ...] = front.headers
    match outcome:
        case WrongMethod():
            return method_refused()
        case NoHook():
            return hook_not_found()
        case Stopping():
            text = "hookdaemon is shutting down; try again shortly."
            return Answer(503, text.encode(), (*headers, Header("Retry-After", "30")))
        case QueueFullError():
            log.info("hook {hook}: queue full, answering 503: {why}", hook=hook, why=outcome)
            text = "Too many calls of this hook wait already; try again later."
            return Answer(503, text.encode(), (*headers, Header("Retry-After", "60")))
        case JournalUnavailableError():
            text = f"hookdaemon's journal cannot commit ({outcome}); try again later."
            return Answer(503, text.encode(), (*headers, Header("Retry-After", str(RETRY_MAX))))
        case OverRate(rate=rate, retry_after=wait):
            if outcome.report:
                log.info(
                    "hook {hook}: {client} is over the rate of {rate}; answering 429",
                    hook=hook,
                    client=client or "-",
                    rate=str(rate),
                )
            text = f"More than {rate} calls from this address; try again in {wait} s."
            return Answer(429, text.encode(), (*headers, Header("Retry-After", str(wait))))
        case Refused(code=code, reason=reason):
            log.info(
                "hook {hook}: refused {code} from {client}: {reason}",
                hook=hook,
                code=code,
                client=client or "-",
                reason=reason,
            )
            return Answer(code, reason[:1].upper().encode() + reason[1:].encode() + b".", headers)
    assert_never(outcome)


def webhook_request_arguments(
    request: Request, hook: FileHook, incoming: Incoming
) -> dict[str, Any]:
    """What L{read_request} reads the call from, taken from twisted.web's request."""
    address = request.getClientAddress()
    if isinstance(address, IPv6Address):
        remote = f"[{address.host}]:{address.port}"
    elif isinstance(address, IPv4Address):
        remote = f"{address.host}:{address.port}"
    else:
        remote = "@"  # a UNIX socket: Go's RemoteAddr for one
    # Go's server keeps Host apart (r.Host) and consumes Transfer-Encoding.
    headers = [
        (name, value)
        for name, values in request.requestHeaders.getAllRawHeaders()
        if name.lower() not in (b"host", b"transfer-encoding")
        for value in values
    ]
    return {
        "method": request.method.decode("latin-1"),
        "remote_addr": remote,
        "client": incoming.client,
        # As bytes: read_request reads them as Go does (UTF-8, its errors kept).
        "header_lines": headers,
        "query_string": urlsplit(request.uri).query,
        "body": incoming.body,
        "incoming_payload_content_type": hook.incoming_payload_content_type,
        "parse_parameters_as_json": hook.parse_parameters_as_json,
        "received_at": incoming.received_at,
    }


def _not_taken(failure: Failure, request: IRequest, name: str) -> bytes:
    """A delivery the engine could not take: a full queue, a journal that cannot commit."""
    failure.trap(QueueFullError, JournalUnavailableError)
    return answer(cast(QueueFullError | JournalUnavailableError, failure.value), request, name)


def hook_name(path: list[bytes]) -> bytes | None:
    """
    NAME, when a request's path segments are C{/hooks/NAME}; else None.
    twisted.web has %-unquoted each segment, so a NAME holding C{/} (C{a%2Fb})
    is none of ours. Leading empty segments do not count: werkzeug's URL map
    strips leading slashes, so C{//hooks/NAME} reached the hook when it was a
    Klein route, and still does.
    """
    if len(path) != 2:
        while len(path) > 2 and not path[0]:
            path = path[1:]
        if len(path) != 2:
            return None
    first, name = path
    if first == b"hooks" and name and b"/" not in name:
        return name
    return None


class _Dispatcher(Resource):
    """
    The site's root, and the one place a request is routed: C{/hooks/NAME}, the
    path that carries the load, goes to L{HookApp.deliver} without binding and
    matching werkzeug's URL map, which cost a share of every delivery (README:
    Why the code is as it is); every other path goes to Klein's routes, none of
    which is under C{/hooks}.

    It resolves the client of every request first, so that the access log shows
    it even for answers no route gave (Klein's own 404 and 405).
    """

    isLeaf = True

    def __init__(self, app: HookApp, routes: IResource) -> None:
        super().__init__()
        self._app = app
        self._routes = routes

    def render(self, request: IRequest) -> Any:
        client = self._app.resolve_client(request)
        try:
            # The path as Klein decodes it: segments already %-unquoted by twisted.web.
            for segment in (*request.prepath, *request.postpath):
                segment.decode("utf-8")
            request.getRequestHostname().decode("utf-8")
        except UnicodeDecodeError:
            # Klein would answer in plain text and log a traceback per request.
            return json_answer(request, 400, {"error": "the URL's path or host is not UTF-8"})
        front = self._app.front
        if front.hooks_files:
            answered = self._hooks_file_route(cast(Request, request), client)
            if answered is not None:
                return answered
        name = hook_name(request.postpath)
        if name is not None and (not front.hooks_files or self._app.tap_hook(name.decode())):
            return self._deliver(cast(Request, request), name.decode("utf-8"), client)
        try:
            return self._routes.render(request)
        except BadHost:
            # Raised by werkzeug while Klein binds its routes, for a Host header
            # it cannot IDNA-encode (a..b, a label over 63 characters).
            return json_answer(request, 400, {"error": "the Host header is not a host name"})

    def _hooks_file_route(self, request: Request, client: str) -> bytes | int | None:
        """
        With hooks files, webhook's routes: a path gorilla/mux cleans is a 301,
        C{/PREFIX/ID} is the hook of that id (or C{Hook not found.}, unless a
        tap.cfg hook has that path), C{/} is C{OK}; None for every other path.
        """
        front = self._app.front
        segments = request.postpath or []
        path = "/" + "/".join(segment.decode("utf-8") for segment in segments)
        cleaned = clean_path(path)
        if cleaned != path:
            query = urlsplit(request.uri.decode("latin-1")).query
            # Escaped as Go's url.URL.String escapes a path (gorilla/mux's redirect).
            location = quote(cleaned, safe="$&+,/:;=@")
            return write_answer(request, moved(location + ("?" + query if query else "")))
        if path == "/":
            return self._app.root(request)
        hook_id = front.hook_id(path)
        if hook_id is None:
            return None
        hook = self._app.hooks_file_hook(hook_id)
        if hook is not None:
            return self._answer_when_done(request, self._app.deliver_file(request, hook, client))
        name = hook_name(segments)
        if name is not None and self._app.tap_hook(name.decode("utf-8")):
            return None
        if not front.url_prefix:
            # Every path is under an empty prefix: the job API's stay reachable
            # (webhook would answer them "Hook not found.").
            return None
        return write_answer(request, hook_not_found())

    def _deliver(self, request: Request, name: str, client: str) -> bytes | int:
        """What Klein does with a route's answer, for this one route."""
        return self._answer_when_done(
            request, self._app.deliver(request, name, client), sized=False
        )

    def _answer_when_done(
        self, request: Request, answered: bytes | Deferred[bytes], sized: bool = True
    ) -> bytes | int:
        """
        Klein's handling of a route's answer, for the hooks: C{sized}, an answer
        that waited has a Content-Length, as Go gives webhook's (not chunks).
        """
        if isinstance(answered, bytes):
            if request.code in NO_BODY_CODES:
                # Resource rendering adds Content-Length: 0, which Go never sends for these.
                request.write(b"")
                request.finish()
                return NOT_DONE_YET
            return answered
        gone = False

        def hung_up(failure: Failure) -> None:
            nonlocal gone
            gone = True
            answered.cancel()  # the journal's commit and the job go on: see accept

        request.notifyFinish().addErrback(hung_up)

        def write(body: bytes) -> None:
            if not gone:
                if sized and request.code not in NO_BODY_CODES:
                    # What Resource.render's caller does for bytes: HEAD and all.
                    request.setHeader(b"content-length", b"%d" % len(body))
                request.write(body)
                request.finish()

        def failed(failure: Failure) -> None:
            if not gone:
                request.processingFailed(failure)
            elif not failure.check(CancelledError):
                log.failure("answering a delivery to a client that has gone", failure)

        answered.addCallbacks(write, failed)
        return NOT_DONE_YET
