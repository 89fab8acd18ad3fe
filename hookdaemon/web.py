"""
The Klein app: HTTP in, answers out. Decisions are made in L{hookdaemon.intake},
L{hookdaemon.client_address}, L{hookdaemon.status_access} and L{hookdaemon.ratelimit}.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from klein import Klein
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request
from werkzeug.exceptions import BadHost, MethodNotAllowed, NotFound

from hookdaemon.client_address import UNKNOWN, client_address
from hookdaemon.config import HookConfig, Network, Secret
from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.follow import FollowStream
from hookdaemon.intake import Accepted, Ignored, Pong, Refused, client_allowed, judge
from hookdaemon.jobs import QueueFullError
from hookdaemon.journal import Added
from hookdaemon.ratelimit import RateLimiter
from hookdaemon.status_access import StatusRequest, status_refusal

log = Logger()

REDACTED_PARAMETERS = frozenset({"token", "secret", "access_token"})


def redact_uri(uri: bytes) -> bytes:
    """Hide the values of secret-bearing query parameters, for the access log."""
    try:
        parts = urlsplit(uri.decode("latin-1"))
    except ValueError:
        # Not a URL urlsplit can take apart (``http://[bad/...``): hide the whole query.
        path, question, _ = uri.partition(b"?")
        return path + (b"?REDACTED" if question else b"")
    if not parts.query:
        return uri
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(name.lower() in REDACTED_PARAMETERS for name, _ in pairs):
        return uri
    query = urlencode(
        [(n, "REDACTED" if n.lower() in REDACTED_PARAMETERS else v) for n, v in pairs]
    )
    return urlunsplit(parts._replace(query=query)).encode("latin-1")


class _RedactedRequest:
    """The request as the access log shows it: no secrets, the resolved client."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self.uri = redact_uri(request.uri)

    def getClientAddress(self) -> IPv4Address | IPv6Address | None:
        client = getattr(self._request, _CLIENT, None)
        if client is None:
            # Never reached the app (a malformed request): the peer is all we know.
            address = self._request.getClientAddress()
            return address if isinstance(address, IPv4Address | IPv6Address) else None
        if client == UNKNOWN:
            return None
        return (IPv6Address if ":" in client else IPv4Address)("TCP", client, 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)


def access_log_formatter(timestamp: str, request: Request) -> str:
    """Twisted's combined log format, with the client behind a trusted proxy and no tokens."""
    return http.combinedLogFormatter(timestamp, _RedactedRequest(request))  # type: ignore[no-any-return]


_CLIENT = "hookdaemon_client"
"""The request attribute holding the client's address once it is resolved."""


def client_host(request: IRequest) -> str:
    """The host of the connection's peer address; empty for a UNIX socket."""
    address = request.getClientAddress()
    if isinstance(address, IPv4Address | IPv6Address):
        return address.host
    return ""


def header_values(request: IRequest, name: bytes) -> list[str]:
    return [v.decode("latin-1") for v in request.requestHeaders.getRawHeaders(name, [])]


def url_query(request: IRequest) -> dict[str, list[str]]:
    """
    The URL's query parameters. Not request.args: twisted.web merges form-encoded
    body fields into it, and a token must only ever come from the URL.
    """
    return parse_qs(urlsplit(request.uri.decode("latin-1")).query, keep_blank_values=True)


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

    def accept(self, hook: HookConfig, delivery: Delivery, body: bytes) -> Deferred[Added]:
        """
        Journal an accepted delivery and queue its job; fires once it is on disk, or
        fails with L{QueueFullError} when too many of the hook's jobs wait already.
        """


class JobSource(Protocol):
    """Where the status endpoints read jobs from: the journal, off the reactor thread."""

    def recent(self, hook: str | None, limit: int) -> Deferred[list[dict[str, Any]]]: ...

    def one(self, job_id: int) -> Deferred[dict[str, Any] | None]: ...

    def job_output(self, job_id: int) -> Deferred[bytes | None]: ...

    def follow(self, job_id: int, write: Callable[[bytes], None]) -> Deferred[bool]:
        """Pass the output so far and then each new chunk to C{write} until the job ends."""


MAX_LIMIT = 1000


class HookApp:
    """The HTTP interface of DESIGN.md."""

    app = Klein()

    def __init__(
        self,
        hooks: Mapping[str, HookConfig],
        engine: DeliveryTaker,
        jobs: JobSource,
        status_token: Secret | None,
        trusted_proxies: tuple[Network, ...] = (),
        clock: IReactorTime | None = None,
    ) -> None:
        self._hooks = hooks
        self._trusted_proxies = trusted_proxies
        if clock is None:
            # Imported here, not at the top, so twistd's --reactor can still choose.
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self._clock = clock
        self._limiters = {
            name: RateLimiter(hook.rate) for name, hook in hooks.items() if hook.rate is not None
        }
        self._engine = engine
        self._jobs = jobs
        self._status_token = status_token

    def client(self, request: IRequest) -> str:
        """The caller's address, behind a trusted proxy the one it names; see L{client_address}."""
        client: str | None = getattr(request, _CLIENT, None)
        if client is None:
            client = client_address(
                client_host(request),
                header_values(request, b"x-forwarded-for"),
                header_values(request, b"x-real-ip"),
                self._trusted_proxies,
            )
            setattr(request, _CLIENT, client)
        return client

    def _refuse_status(self, request: Request) -> bytes | None:
        authorization = request.getHeader(b"authorization")
        refusal = status_refusal(
            self._status_token,
            StatusRequest(
                peer=client_host(request),
                version=request.clientproto.decode("latin-1"),
                hosts=tuple(header_values(request, b"host")),
                header_names=frozenset(
                    name.decode("latin-1") for name, _ in request.requestHeaders.getAllRawHeaders()
                ),
                authorization=authorization.decode("latin-1") if authorization else None,
            ),
        )
        if refusal is None:
            return None
        if refusal.code == 401:
            request.setHeader(b"www-authenticate", b"Bearer")
        return json_answer(request, refusal.code, {"error": refusal.reason})

    @app.route("/jobs", methods=["GET"])
    def list_jobs(self, request: Request) -> bytes | Deferred[bytes]:
        refused = self._refuse_status(request)
        if refused is not None:
            return refused
        query = url_query(request)
        hook = query.get("hook", [None])[0]
        try:
            limit = int(query.get("limit", ["50"])[0])
        except ValueError:
            return json_answer(request, 400, {"error": "limit must be a whole number"})
        if not 1 <= limit <= MAX_LIMIT:
            return json_answer(request, 400, {"error": f"limit must be 1 to {MAX_LIMIT}"})
        return self._jobs.recent(hook, limit).addCallback(
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
        stream = FollowStream(request)
        following = self._jobs.follow(job_id, stream.write)
        stream.cut_off.addCallback(lambda _: following.cancel())

        def ended(found: bool) -> bytes:
            stream.close()
            if not found:
                return json_answer(request, 404, {"error": f"no job {job_id}"})
            return b""

        def cut_off(failure: Failure) -> bytes | Failure:
            if stream.cut_off.called:
                failure.trap(CancelledError)
                return b""
            return failure  # the reader went away

        return following.addCallbacks(ended, cut_off)

    @app.route("/hooks/<string:name>", branch=False)
    def hook(self, request: Request, name: str) -> bytes | Deferred[bytes]:
        hook = self._hooks.get(name)
        if hook is None:
            return json_answer(request, 404, {"error": f"no hook named {name}"})
        if request.method != b"POST":
            request.setHeader(b"allow", b"POST")
            return json_answer(request, 405, {"error": "use POST"})
        if self._engine.stopping:
            request.setHeader(b"retry-after", b"30")
            return json_answer(request, 503, {"error": "shutting down; try again shortly"})
        client = self.client(request)
        if not client_allowed(hook.allow_from, client):
            return self._refused(request, name, client, Refused(403, "client address not allowed"))
        limiter = self._limiters.get(name)
        if limiter is not None:
            over = self._over_rate(request, name, client, limiter)
            if over is not None:
                return over
        incoming = incoming_from(request, client)
        outcome = judge(hook, incoming)
        if isinstance(outcome, Refused):
            if outcome.code == 401 and limiter is not None:
                # A wrong secret costs double, so guessing runs out twice as fast.
                limiter.charge(client, self._clock.seconds())
            return self._refused(request, name, client, outcome)
        delivery = outcome.delivery
        if isinstance(outcome, Pong):
            log.info("hook {hook}: ping from {forge}", hook=name, forge=delivery.forge)
            return json_answer(request, 200, {"status": "pong"})
        if isinstance(outcome, Ignored):
            log.info("hook {hook}: ignored: {reason}", hook=name, reason=outcome.reason)
            return json_answer(request, 200, {"status": "ignored", "reason": outcome.reason})
        assert isinstance(outcome, Accepted)
        return (
            self._engine.accept(hook, delivery, incoming.body)
            .addCallback(self._accepted, request)
            .addErrback(self._queue_full, request, name)
        )

    def _queue_full(self, failure: Failure, request: Request, name: str) -> bytes:
        failure.trap(QueueFullError)
        log.info("hook {hook}: queue full, answering 503: {why}", hook=name, why=failure.value)
        request.setHeader(b"retry-after", b"60")
        return json_answer(
            request, 503, {"error": "too many deliveries wait for this hook; try again later"}
        )

    def _over_rate(
        self, request: Request, name: str, client: str, limiter: RateLimiter
    ) -> bytes | None:
        """Charge the call to the client; a 429 if it has none left."""
        refusal = limiter.take(client, self._clock.seconds())
        if refusal is None:
            return None
        if refusal.report:
            log.info(
                "hook {hook}: {client} is over the rate of {rate}; answering 429"
                " (said once per {period:g} s)",
                hook=name,
                client=client or "-",
                rate=str(limiter.rate),
                period=limiter.rate.period,
            )
        wait = refusal.retry_after_header
        request.setHeader(b"retry-after", str(wait).encode())
        return json_answer(
            request,
            429,
            {"error": f"more than {limiter.rate} calls from this address; try again in {wait} s"},
        )

    def _refused(self, request: Request, name: str, client: str, refused: Refused) -> bytes:
        log.info(
            "hook {hook}: refused {code} from {client}: {reason}",
            hook=name,
            code=refused.code,
            client=client or "-",
            reason=refused.reason,
        )
        if refused.code == 415:
            request.setHeader(
                b"accept-post", b"application/json, application/x-www-form-urlencoded"
            )
        return json_answer(request, refused.code, {"error": refused.reason})

    def _accepted(self, added: Added, request: Request) -> bytes:
        if added.duplicate:
            return json_answer(request, 200, {"status": "duplicate", "job": added.job_id})
        url = f"/jobs/{added.job_id}"
        request.setHeader(b"location", url.encode())
        return json_answer(request, 202, {"job": added.job_id, "status": "queued", "url": url})

    @app.route("/healthz", methods=["GET", "HEAD"])
    def healthz(self, request: Request) -> bytes:
        return json_answer(request, 200, {"status": "ok"})

    @app.handle_errors(NotFound)
    def not_found(self, request: IRequest, failure: Failure) -> bytes:
        return json_answer(request, 404, {"error": "not found"})

    @app.handle_errors(MethodNotAllowed)
    def not_allowed(self, request: IRequest, failure: Failure) -> bytes:
        return json_answer(request, 405, {"error": "method not allowed"})

    def resource(self) -> IResource:
        """The app as a resource that resolves each request's client before routing it."""
        return _ResolvingClient(self, self.app.resource())


class _ResolvingClient(Resource):
    """
    Resolve the client of every request, so the access log shows it even for
    answers no route gave (Klein's own 404 and 405).

    Deliveries (C{/hooks/NAME}, the path that carries the load) go straight to
    L{HookApp.hook}, without binding and matching werkzeug's URL map (ingest
    with a job that keeps running: 1,745 -> 1,981 requests/s). Every other path
    goes through Klein's routes.
    """

    isLeaf = True

    def __init__(self, app: HookApp, routes: IResource) -> None:
        super().__init__()
        self._app = app
        self._routes = routes

    def render(self, request: IRequest) -> Any:
        self._app.client(request)
        try:
            # The path as Klein decodes it: segments already %-unquoted by twisted.web.
            for segment in (*request.prepath, *request.postpath):
                segment.decode("utf-8")
            request.getRequestHostname().decode("utf-8")
        except UnicodeDecodeError:
            # Klein would answer in plain text and log a traceback per request.
            return json_answer(request, 400, {"error": "the URL's path or host is not UTF-8"})
        path = request.postpath
        if len(path) == 2 and path[0] == b"hooks" and path[1] and b"/" not in path[1]:
            return self._deliver(cast(Request, request), path[1].decode("utf-8"))
        try:
            return self._routes.render(request)
        except BadHost:
            # Raised by werkzeug while Klein binds its routes, for a Host header
            # it cannot IDNA-encode (a..b, a label over 63 characters).
            return json_answer(request, 400, {"error": "the Host header is not a host name"})

    def _deliver(self, request: Request, name: str) -> bytes | int:
        """What Klein does with a route's answer, for this one route."""
        answer = self._app.hook(request, name)
        if isinstance(answer, bytes):
            return answer
        gone = False

        def hung_up(failure: Failure) -> None:
            nonlocal gone
            gone = True
            answer.cancel()  # the journal's commit and the job go on: see accept

        request.notifyFinish().addErrback(hung_up)

        def write(body: bytes) -> None:
            if not gone:
                request.write(body)
                request.finish()

        def failed(failure: Failure) -> None:
            if not gone:
                request.processingFailed(failure)
            elif not failure.check(CancelledError):
                log.failure("answering a delivery to a client that has gone", failure)

        answer.addCallbacks(write, failed)
        return NOT_DONE_YET
