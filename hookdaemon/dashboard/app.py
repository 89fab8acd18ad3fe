"""
The dashboard's routes under C{/ui/}: the pages, the sign-in, and the forms
that replay and cancel. Each page is guarded exactly as the job API is (see
L{hookdaemon.status_access}), the signed-in token standing for a bearer one.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs

from klein import Klein
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from twisted.web.server import Request

from hookdaemon.config import HookConfig
from hookdaemon.dashboard import pages, session
from hookdaemon.dashboard.live import (
    CUT_OFF_EVENT,
    STREAM_START,
    JobChanges,
    LineFrames,
    event,
    keep_alive,
)
from hookdaemon.follow import FollowStream
from hookdaemon.hooksfile.model import rule_outline
from hookdaemon.job_state import JobState
from hookdaemon.job_views import JobQuery, job_query
from hookdaemon.journal import JobRecord
from hookdaemon.request_values import status_request, url_query
from hookdaemon.status_access import StatusRefusal, StatusRequest, Tokens, status_refusal

SECURITY_HEADERS = {
    # Nothing but this daemon's own files; no inline script or style, no frames.
    b"content-security-policy": (
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        b" connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"cache-control": b"no-store",
}

STATIC = {
    "ui.css": b"text/css; charset=utf-8",
    "ui.js": b"text/javascript; charset=utf-8",
    "icon.svg": b"image/svg+xml",
}


class Jobs(Protocol):
    """What the pages read: the job API's own source (L{hookdaemon.job_status.JobStatus})."""

    def recent(self, query: JobQuery) -> Deferred[list[dict[str, Any]]]: ...

    def one(self, job_id: int) -> Deferred[dict[str, Any] | None]: ...

    def job_output(self, job_id: int) -> Deferred[bytes | None]: ...

    def follow(self, job_id: int, write: Callable[[bytes], None]) -> Deferred[bool]: ...


class Steering(Protocol):
    """What the forms steer: the job engine, as the job API's POSTs do."""

    def replay(self, job_id: int) -> Deferred[JobRecord]: ...

    def cancel(self, job_id: int) -> JobState | None: ...


class Dashboard:
    """The dashboard: the same job source, steering and tokens as the job API's."""

    app = Klein()

    def __init__(
        self,
        hooks: Mapping[str, HookConfig],
        jobs: Jobs,
        tokens: Tokens,
        clock: IReactorTime,
    ) -> None:
        self._hooks = hooks
        self._jobs = jobs
        self._tokens = tokens
        self._clock = clock
        """What times the streams' keep-alive comments."""
        self._steering: Steering | None = None
        self._key = os.urandom(32)
        """The CSRF tokens' key: new at each start, so a form outlives no restart."""
        self.changes = JobChanges()
        """The lifecycle's changes, for the pages' live updates: the service subscribes it."""

    def steer_with(self, steering: Steering) -> None:
        """The engine, made after the dashboard (whose changes it tells): its forms steer it."""
        self._steering = steering

    def reconfigure(self, hooks: Mapping[str, HookConfig], tokens: Tokens) -> None:
        self._hooks = hooks
        self._tokens = tokens

    def resource(self) -> IResource:
        resource: IResource = self.app.resource()
        return resource

    # Who is looking.

    def _refusal(self, request: IRequest, act: bool = False) -> tuple[StatusRefusal | None, str]:
        """Why this request may not see (or with C{act}, steer) jobs; and its credential."""
        token = session.cookie_token(_header(request, b"cookie"))
        refusal = status_refusal(
            self._tokens,
            status_request(request, None if token is None else f"Bearer {token}"),
            act=act,
        )
        return refusal, token or ""

    def _viewer(self, request: IRequest) -> pages.Viewer | bytes:
        """The viewer, or the answer for one who may not look (sign in, or why not)."""
        _secure(request)
        refusal, credential = self._refusal(request)
        if refusal is not None:
            if self._tokens.any:
                request.setResponseCode(303)
                request.setHeader(b"location", b"/ui/signin")
                return b""
            request.setResponseCode(refusal.code)
            return pages.refused_page(refusal.reason)
        can_act = self._refusal(request, act=True)[0] is None
        return pages.Viewer(
            can_act=can_act,
            csrf=session.csrf_token(self._key, credential),
            signed_in=bool(credential),
        )

    # The pages.

    @app.route("/", methods=["GET"])
    def hooks(self, request: Request) -> bytes | Deferred[bytes]:
        viewer = self._viewer(request)
        if isinstance(viewer, bytes):
            return viewer
        names = list(self._hooks)
        reads = [self._jobs.recent(JobQuery(hook=name, limit=pages.RECENT)) for name in names]

        def shown(results: list[tuple[bool, Any]]) -> bytes:
            summaries = []
            for name, (ok, jobs) in zip(names, results, strict=True):
                if not ok:
                    return _failed(request, jobs)
                hook = self._hooks[name]
                summaries.append(
                    pages.HookSummary(name, _forge(hook), _filters(hook), tuple(jobs))
                )
            return pages.hooks_page(summaries, viewer)

        return DeferredList(reads, consumeErrors=True).addCallback(shown)

    @app.route("/hooks/<string:name>", methods=["GET"])
    def hook_jobs(self, request: Request, name: str) -> bytes | Deferred[bytes]:
        viewer = self._viewer(request)
        if isinstance(viewer, bytes):
            return viewer
        if name not in self._hooks:
            request.setResponseCode(404)
            return pages.message_page("No such hook", f"There is no hook {name}.", viewer)
        # As GET /jobs reads it; the form's "any" state sends an empty one.
        given = {key: values for key, values in url_query(request).items() if values != [""]}
        query = job_query(
            {**given, "hook": [name], "limit": given.get("limit", [str(pages.PAGE_SIZE)])}
        )
        if isinstance(query, str):
            request.setResponseCode(400)
            return pages.message_page("Not a list of jobs", f"{query}.", viewer)
        return self._jobs.recent(query).addCallback(
            lambda jobs: pages.jobs_page(name, jobs, query, viewer)
        )

    @app.route("/jobs/<int:job_id>", methods=["GET"])
    def job(self, request: Request, job_id: int) -> bytes | Deferred[bytes]:
        viewer = self._viewer(request)
        if isinstance(viewer, bytes):
            return viewer

        def found(job: dict[str, Any] | None) -> bytes | Deferred[bytes]:
            if job is None:
                request.setResponseCode(404)
                return pages.message_page("No such job", f"There is no job {job_id}.", viewer)
            return self._jobs.job_output(job_id).addCallback(
                lambda output: pages.job_page(job, output or b"", viewer)
            )

        return self._jobs.one(job_id).addCallback(found)

    # Signing in and out.

    @app.route("/signin", methods=["GET"])
    def signin_form(self, request: Request) -> bytes:
        _secure(request)
        if not self._tokens.any:  # nothing to sign in with: loopback callers see it all
            request.setResponseCode(303)
            request.setHeader(b"location", b"/ui/")
            return b""
        return pages.signin_page(None, self._form_csrf())

    @app.route("/signin", methods=["POST"])
    def signin(self, request: Request) -> bytes:
        _secure(request)
        form = _form(request)
        if not session.csrf_passes(self._key, "", _field(form, "csrf")):
            request.setResponseCode(403)
            return pages.signin_page("The form was out of date; try again.", self._form_csrf())
        token = _field(form, "token") or ""
        trial = StatusRequest(
            peer="",
            version="HTTP/1.1",
            hosts=(),
            header_names=frozenset(),
            authorization=f"Bearer {token}",
        )
        if not self._tokens.any or status_refusal(self._tokens, trial) is not None:
            request.setResponseCode(401)
            return pages.signin_page("That token is not one this daemon takes.", self._form_csrf())
        request.responseHeaders.addRawHeader(
            b"set-cookie", session.token_cookie(token, request.isSecure()).encode("latin-1")
        )
        request.setResponseCode(303)
        request.setHeader(b"location", b"/ui/")
        return b""

    def _form_csrf(self) -> str:
        return session.csrf_token(self._key, "")

    @app.route("/signout", methods=["POST"])
    def signout(self, request: Request) -> bytes:
        _secure(request)
        request.responseHeaders.addRawHeader(
            b"set-cookie", session.cleared_cookie(request.isSecure()).encode("latin-1")
        )
        request.setResponseCode(303)
        request.setHeader(b"location", b"/ui/signin")
        return b""

    # Steering: forms posted by the job page.

    def _steer(self, request: Request) -> pages.Viewer | bytes:
        refusal, credential = self._refusal(request, act=True)
        _secure(request)
        if refusal is not None:
            request.setResponseCode(refusal.code)
            return pages.refused_page(refusal.reason)
        if not session.csrf_passes(self._key, credential, _field(_form(request), "csrf")):
            request.setResponseCode(403)
            return pages.refused_page(
                "The form was out of date or not this dashboard's; reload it."
            )
        return pages.Viewer(True, session.csrf_token(self._key, credential), bool(credential))

    @app.route("/jobs/<int:job_id>/replay", methods=["POST"])
    def replay(self, request: Request, job_id: int) -> bytes | Deferred[bytes]:
        viewer = self._steer(request)
        if isinstance(viewer, bytes):
            return viewer
        if self._steering is None:
            request.setResponseCode(404)
            return pages.message_page("Not here", "Jobs cannot be replayed here.", viewer)

        def replayed(record: JobRecord) -> bytes:
            request.setResponseCode(303)
            request.setHeader(b"location", f"/ui/jobs/{record.id}".encode())
            return b""

        def refused(failure: Failure) -> bytes:
            request.setResponseCode(409)
            return pages.message_page("Not replayed", failure.getErrorMessage(), viewer)

        return self._steering.replay(job_id).addCallbacks(replayed, refused)

    @app.route("/jobs/<int:job_id>/cancel", methods=["POST"])
    def cancel(self, request: Request, job_id: int) -> bytes:
        viewer = self._steer(request)
        if isinstance(viewer, bytes):
            return viewer
        if self._steering is None:
            request.setResponseCode(404)
            return pages.message_page("Not here", "Jobs cannot be cancelled here.", viewer)
        self._steering.cancel(job_id)
        request.setResponseCode(303)
        request.setHeader(b"location", f"/ui/jobs/{job_id}".encode())
        return b""

    # Live: Server-Sent Events.

    def _event_stream(self, request: Request) -> FollowStream:
        request.setHeader(b"content-type", b"text/event-stream; charset=utf-8")
        _secure(request)
        request.setHeader(b"x-accel-buffering", b"no")  # nginx would hold events back
        request.write(STREAM_START)
        return FollowStream(request, farewell=CUT_OFF_EVENT)

    def _kept_alive(self, stream: FollowStream, answer: Deferred[bytes]) -> Deferred[bytes]:
        """C{answer}, the stream kept alive until it fires: ended, cut off or left."""
        stop = keep_alive(self._clock, stream.write)

        def over(result: bytes | Failure) -> bytes | Failure:
            stop()
            return result

        return answer.addBoth(over)

    @app.route("/events", methods=["GET"])
    def events(self, request: Request) -> bytes | Deferred[bytes]:
        """Every job's changes, as they happen, until the reader leaves or falls behind."""
        viewer = self._viewer(request)
        if isinstance(viewer, bytes):
            return viewer
        stream = self._event_stream(request)
        stop = self.changes.listen(stream.write)

        def left(_: object) -> None:
            stop()  # the connection is gone, and the producer with it

        # Cancelled when the reader goes away; fired when it is cut off.
        open_: Deferred[bytes] = Deferred(left)

        def cut_off(_: None) -> None:
            stop()
            stream.close()
            open_.callback(b"")

        stream.cut_off.addCallback(cut_off)
        return self._kept_alive(stream, open_)

    @app.route("/jobs/<int:job_id>/events", methods=["GET"])
    def job_events(self, request: Request, job_id: int) -> bytes | Deferred[bytes]:
        """
        A job's output as C{line} events (all of it so far, after a C{start}),
        then C{end} with its state: a page that reconnects starts over.
        """
        viewer = self._viewer(request)
        if isinstance(viewer, bytes):
            return viewer
        stream = self._event_stream(request)
        stream.write(event("start", str(job_id)))

        def ended(found: bool | None) -> bytes | Deferred[bytes]:
            if found is None:
                return b""  # cut off: the stream said so

            def told(job: dict[str, Any] | None) -> bytes:
                stream.write(event("end", str(job["state"]) if job else "gone"))
                stream.close()
                return b""

            return self._jobs.one(job_id).addCallback(told)

        following = stream.follow(
            lambda write: self._jobs.follow(job_id, write), LineFrames(stream.write)
        )
        return self._kept_alive(stream, following.addCallback(ended))

    # The page's own files.

    @app.route("/static/<string:name>", methods=["GET"])
    def static(self, request: Request, name: str) -> bytes:
        _secure(request)
        if name not in STATIC:
            request.setResponseCode(404)
            return b""
        request.setHeader(b"content-type", STATIC[name])
        return _static_file(name)


@functools.cache
def _static_file(name: str) -> bytes:
    """A file of the package's static/, read once: not on the reactor at each page."""
    return (resources.files("hookdaemon.dashboard") / "static" / name).read_bytes()


def _secure(request: IRequest) -> None:
    for name, value in SECURITY_HEADERS.items():
        request.setHeader(name, value)
    if not request.responseHeaders.hasHeader(b"content-type"):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")


def _header(request: IRequest, name: bytes) -> str | None:
    value = request.getHeader(name)
    return None if value is None else value.decode("latin-1")


MAX_FORM = 16 * 1024
"""A form here holds a token and a CSRF token: more is not one of ours."""


def _form(request: IRequest) -> dict[str, list[str]]:
    """
    A posted form's fields: the site parses no bodies into C{request.args}
    (deliveries' bodies are the forges'), so the dashboard reads its own.
    """
    kind = (_header(request, b"content-type") or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded" or request.content is None:
        return {}
    request.content.seek(0)
    body = request.content.read(MAX_FORM + 1)
    if len(body) > MAX_FORM:
        return {}
    try:
        return parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:  # more fields than any of these forms has
        return {}


def _field(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _forge(hook: HookConfig) -> str:
    """A tap.cfg hook's forge; a hooks file's hook takes any caller its rule lets through."""
    if hook.hooks_file is not None:
        return f"any caller (hooks file {os.path.basename(hook.hooks_file.source)})"
    return hook.forge


def _filters(hook: HookConfig) -> str:
    if hook.hooks_file is not None:
        rule = hook.hooks_file.trigger_rule
        return "no trigger rule" if rule is None else "trigger rule " + rule_outline(rule)
    parts = []
    if hook.branches:
        parts.append("branches " + " ".join(hook.branches))
    if hook.tags:
        parts.append("tags " + " ".join(hook.tags))
    if hook.repository:
        parts.append("repository " + " ".join(hook.repository))
    return "; ".join(parts)


def _failed(request: IRequest, failure: Failure) -> bytes:
    request.setResponseCode(503)
    return pages.message_page("Not available", failure.getErrorMessage(), None)
