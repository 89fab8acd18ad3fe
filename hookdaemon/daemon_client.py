"""
Talking to a running daemon, for the commands that are its clients (send,
jobs, show, log, replay, cancel): where it listens, and one request at a time.

The standard library's http.client, not Twisted: each of these commands makes
a request or two and ends, so a reactor would only add its start-up and a
second way of failing. Every call has a timeout; a followed log is read line
by line as the daemon writes it, for as long as the job runs (L{_Patient}).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from attrs import frozen

from hookdaemon import __version__
from hookdaemon.config import HOOK_PREFIX, Config, DaemonConfig, parse_config
from hookdaemon.endpoint_text import split_endpoint
from hookdaemon.job_state import LIVE_STATES

__all__ = [
    "DEFAULT_TIMEOUT",
    "Answer",
    "DaemonAddress",
    "DaemonClient",
    "DaemonUnreachableError",
    "JobAPI",
    "RefusedError",
    "config_token",
    "given_token",
    "read_config",
    "tls_context",
]

DEFAULT_TIMEOUT = 30.0
"""Seconds any one call waits: to connect, for an answer, between two reads."""

USER_AGENT = f"hookdaemon/{__version__}"

_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
"""An endpoint on every address is reached on this machine's loopback of its family."""


class DaemonUnreachableError(Exception):
    """No daemon answered; the message is the one line a person is shown."""


@frozen
class DaemonAddress:
    """Where a daemon answers: an HTTP(S) base URL, or a UNIX socket."""

    url: str
    """As a person is shown it: C{http://127.0.0.1:9000}, C{unix:/run/hookdaemon.sock}."""
    scheme: str
    """C{http}, C{https} or C{unix}."""
    host: str = ""
    port: int | None = None
    socket_path: str = ""
    base_path: str = ""
    """A path the daemon is served under (behind a proxy at C{/hookdaemon/}); usually empty."""

    @classmethod
    def from_url(cls, text: str) -> DaemonAddress:
        """C{--url}: C{http://HOST:PORT[/PATH]}, C{https://...} or C{unix:/PATH}; ValueError."""
        if text.startswith("unix:"):
            path = text.removeprefix("unix:")
            if not path:
                raise ValueError("unix: names no socket; write unix:/run/hookdaemon.sock")
            return cls(url=text, scheme="unix", host="localhost", socket_path=path)
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as e:
            raise ValueError(f"{text} is not a URL ({e})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{text} is not an http:// or https:// URL with a host, nor unix:/PATH"
            )
        return cls(
            url=text.rstrip("/"),
            scheme=parts.scheme,
            host=parts.hostname,
            port=port,
            base_path=parts.path.rstrip("/"),
        )

    @classmethod
    def from_listen(cls, listen: Sequence[str]) -> DaemonAddress:
        """
        Where a client on this machine reaches a daemon that listens on
        C{listen}: its first tcp/tcp6/ssl endpoint (on every address: through
        loopback), else its first unix: one; ValueError when it has neither.
        """
        first_socket = None
        for description in listen:
            kind, fields = split_endpoint(description)
            positional = [f for f in fields if "=" not in f]
            options = dict(f.split("=", 1) for f in fields if "=" in f)
            if kind in ("tcp", "tcp6", "ssl"):
                port = positional[0] if positional else options.get("port", "")
                if not port.isdigit() or port == "0":
                    raise ValueError(
                        f"the {kind}: endpoint names no port to connect to; give --url"
                    )
                host = options.get("interface", "::" if kind == "tcp6" else "0.0.0.0")
                host = _ANY_ADDRESS.get(host, host)
                scheme = "https" if kind == "ssl" else "http"
                shown = f"[{host}]" if ":" in host else host
                url = f"{scheme}://{shown}:{port}"
                return cls(url=url, scheme=scheme, host=host, port=int(port))
            path = positional[0] if positional else options.get("address", "")
            if kind == "unix" and path and first_socket is None:
                first_socket = cls(
                    url=f"unix:{path}", scheme="unix", host="localhost", socket_path=path
                )
        if first_socket is not None:
            return first_socket
        raise ValueError(
            "listen names no tcp:, ssl: or unix: endpoint to connect to (systemd: sockets are"
            " the .socket unit's); give --url"
        )


def tls_context(cafile: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """
    What an https:// daemon is checked against: the system's CAs, or
    C{cafile} (a self-signed certificate itself, or its CA); C{insecure}
    checks nothing, for a quick look at a test setup.
    """
    context = ssl.create_default_context(cafile=cafile)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@frozen
class Answer:
    """One whole answer of the daemon."""

    status: int
    reason: str
    body: bytes

    def json(self) -> Any:
        """The body as JSON; None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def error(self) -> str:
        """The daemon's one-line reason (its JSON C{error}), or the HTTP reason phrase."""
        document = self.json()
        if isinstance(document, dict) and isinstance(document.get("error"), str):
            return str(document["error"])
        return self.reason


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a UNIX socket; its Host is C{localhost}, which the job API takes as local."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _Patient(io.RawIOBase):
    """
    A followed log's socket, read without a deadline while its job runs: a
    build step may print nothing for minutes. Each C{idle} seconds of silence,
    C{still_live} asks the daemon (another connection, with its own timeout)
    whether the job goes on; once it has ended, the silence is the end.
    """

    def __init__(self, sock: socket.socket, idle: float, still_live: Callable[[], bool]) -> None:
        super().__init__()
        self._sock = sock
        self._idle = idle
        self._still_live = still_live

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._ready():
            if not self._still_live():
                return 0
        return self._sock.recv_into(buffer)

    def _ready(self) -> bool:
        if isinstance(self._sock, ssl.SSLSocket) and self._sock.pending():
            return True  # decrypted already: select cannot see it
        readable, _, _ = select.select([self._sock], [], [], self._idle)
        return bool(readable)


def _patient_response(
    idle: float, still_live: Callable[[], bool]
) -> type[http.client.HTTPResponse]:
    class PatientResponse(http.client.HTTPResponse):
        def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
            super().__init__(sock, *args, **kwargs)
            self.fp.close()  # the socket's own file: only a reference to the socket
            self.fp = io.BufferedReader(_Patient(sock, idle, still_live))

    return PatientResponse


class DaemonClient:
    """
    Requests to the daemon at C{address}, with C{token} as a bearer token when
    given; each connection waits at most C{timeout} seconds for anything.
    """

    def __init__(
        self,
        address: DaemonAddress,
        token: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self._token = token
        self._tls = tls

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request and its whole answer; L{DaemonUnreachableError} when none comes."""
        connection = self._connection()
        try:
            response = self._send(connection, method, path, body, headers)
            try:
                content = response.read()
            except (OSError, http.client.HTTPException) as e:
                raise self._unreachable(e) from None
            return Answer(response.status, response.reason, content)
        finally:
            connection.close()

    def follow(
        self, path: str, still_live: Callable[[], bool]
    ) -> tuple[Answer | None, Iterator[bytes]]:
        """
        A GET whose answer is read a line at a time as it comes: (None, its
        lines) for a 200, or (the whole answer, no lines) for any other. The
        lines end with the answer, or once C{still_live} says the job has ended
        and nothing more comes.
        """
        connection = self._connection()
        connection.response_class = _patient_response(self.timeout, still_live)
        try:
            response = self._send(connection, "GET", path, None, None)
        except BaseException:
            connection.close()
            raise
        if response.status != 200:
            try:
                return Answer(response.status, response.reason, response.read()), iter(())
            except (OSError, http.client.HTTPException) as e:
                raise self._unreachable(e) from None
            finally:
                connection.close()
        return None, self._lines(connection, response)

    def _lines(
        self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> Iterator[bytes]:
        try:
            while True:
                try:
                    line = response.readline()
                except http.client.IncompleteRead as e:
                    # Cut short (a daemon killed mid-answer): what came is still output.
                    if e.partial:
                        yield bytes(e.partial)
                    return
                except (OSError, http.client.HTTPException) as e:
                    raise self._unreachable(e) from None
                if not line:
                    return
                yield line
        finally:
            connection.close()

    def _connection(self) -> http.client.HTTPConnection:
        address = self.address
        if address.scheme == "unix":
            return _UnixConnection(address.socket_path, self.timeout)
        if address.scheme == "https":
            return http.client.HTTPSConnection(
                address.host, address.port, timeout=self.timeout, context=self._tls
            )
        return http.client.HTTPConnection(address.host, address.port, timeout=self.timeout)

    def _send(
        self,
        connection: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> http.client.HTTPResponse:
        sent = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self._token is not None:
            sent["Authorization"] = "Bearer " + self._token.decode("latin-1")
        sent.update(headers or {})
        try:
            connection.request(method, self.address.base_path + path, body, sent)
            return connection.getresponse()
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(e) from None

    def _unreachable(self, error: BaseException) -> DaemonUnreachableError:
        return DaemonUnreachableError(_unreachable_line(self.address, error, self.timeout))


def _unreachable_line(address: DaemonAddress, error: BaseException, timeout: float) -> str:
    """The one line that says why no answer came from C{address}."""
    url = address.url
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"the certificate of {url} does not verify ({error.verify_message}); give --cafile"
            " with that certificate (self-signed) or its CA, --url with the name it is for,"
            " or --insecure"
        )
    if isinstance(error, ssl.SSLError):
        return f"no TLS with {url} ({error.reason or error}); is it an https:// endpoint?"
    if isinstance(error, ConnectionRefusedError):
        why = "connection refused"
    elif isinstance(error, FileNotFoundError) and address.scheme == "unix":
        why = "no such socket"
    elif isinstance(error, TimeoutError):
        why = f"nothing within {timeout:g} s"
    elif isinstance(error, socket.gaierror):
        why = f"cannot resolve {address.host}"
    elif isinstance(error, http.client.RemoteDisconnected):
        why = "it closed the connection without answering"
    elif isinstance(error, OSError) and error.strerror:
        why = error.strerror.lower()
    else:
        why = str(error) or type(error).__name__
    return f"no daemon answers at {url} ({why})"


# What a client reads of the daemon's configuration ------------------------

TOKEN_KEYS = frozenset({"status_token", "operator_token"})

_SECTION = re.compile(r"\[(?P<name>.+)\]")
_KEY = re.compile(r"(?P<key>[^=:]*?)\s*[=:]")


def read_config(
    path: str, hook: str | None = None, tokens: bool = True
) -> tuple[Config, tuple[str, ...]]:
    """
    The file as the daemon reads it, but only its [hookdaemon] section (without
    the tokens unless C{tokens}) and C{hook}'s, with the names of all its hooks.
    A client needs no other hook's secret, and those may be set only where the
    daemon runs (C{env:}). What is left out is blanked, not cut, so that a
    problem names the file's own line. Raises L{hookdaemon.config.ConfigError}.
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = ""  # parse_config of the real text says what is wrong
    kept = {"hookdaemon", *(() if hook is None else (HOOK_PREFIX + hook,))}
    lines, names = [], []
    section: str | None = None
    dropping = False
    for line in text.split("\n"):
        stripped = line.strip()
        indented = line[:1].isspace()
        header = None if indented else _SECTION.fullmatch(stripped)
        if header:
            section = header.group("name")
            if section.startswith(HOOK_PREFIX):
                names.append(section.removeprefix(HOOK_PREFIX))
            dropping = False
        elif stripped and not indented and not stripped.startswith((";", "#")):
            key = _KEY.match(line)
            dropping = not tokens and key is not None and key.group("key") in TOKEN_KEYS
        keep = section is None or (section in kept and not (dropping and not header))
        lines.append(line if keep else "")
    return parse_config("\n".join(lines), path, os.environ, _read_bytes), tuple(names)


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def config_token(daemon: DaemonConfig, act: bool) -> tuple[bytes | None, str]:
    """
    The token a client sends, and the key it came from: to read, the first
    status token (or operator token, which may read too); to act (replay,
    cancel), the first operator token, or a status token where there is none.
    """
    status = ("status_token", daemon.status_tokens)
    operator = ("operator_token", daemon.operator_tokens)
    for key, secrets in (operator, status) if act else (status, operator):
        if secrets:
            return secrets[0].value, key
    return None, "operator_token" if act else "status_token"


def given_token(text: str) -> bytes:
    """C{--token}: C{env:NAME}, C{file:PATH} or the token itself, as the config's forms."""
    if text.startswith("env:"):
        value = os.environ.get(text.removeprefix("env:"))
        if not value:
            raise ValueError(f"--token {text}: {text.removeprefix('env:')} is not set")
        return value.encode("utf-8")
    if text.startswith("file:"):
        try:
            with open(text.removeprefix("file:"), "rb") as f:
                value_bytes = f.read().rstrip(b"\r\n")
        except OSError as e:
            raise ValueError(f"--token {text}: cannot read: {e.strerror}") from None
        if not value_bytes:
            raise ValueError(f"--token {text}: the file is empty")
        return value_bytes
    if not text:
        raise ValueError("--token is empty")
    return text.encode("utf-8")


# The job API, as the commands use it ---------------------------------------


class RefusedError(Exception):
    """The daemon answered, but not as asked; the message is the line a person is shown."""

    def __init__(self, line: str, answer: Answer) -> None:
        super().__init__(line)
        self.answer = answer


_ROUTE_MISSING = frozenset({"not found", "method not allowed"})
"""The daemon's errors for a path or method it has no route for (web.HookApp's handlers)."""

SETTLE = 0.05
"""Seconds between reads of a job whose log has ended but whose record says it runs."""


class JobAPI:
    """
    The job API of DESIGN.md through a L{DaemonClient}: each call returns what
    was asked for or raises L{RefusedError} with the line that says why not.
    C{token_key}: the config key a token comes from (C{status_token} or
    C{operator_token}); C{token_origin}: where the one sent came from, as a
    refusal names it (C{the token given with --token}), None if none was sent.
    """

    def __init__(self, client: DaemonClient, token_key: str, token_origin: str | None) -> None:
        self.client = client
        self._token_key = token_key
        self._token_origin = token_origin

    @property
    def url(self) -> str:
        return self.client.address.url

    def jobs(
        self, hook: str | None = None, state: str | None = None, limit: int | None = None
    ) -> Answer:
        """C{GET /jobs}: the answer whose JSON is C{{"jobs": [...]}}, newest first."""
        query = {
            key: value
            for key, value in (("hook", hook), ("state", state), ("limit", limit))
            if value is not None
        }
        path = "/jobs" + (f"?{urlencode(query)}" if query else "")
        return self._expect(self.client.request("GET", path), "GET /jobs", 200)

    def job(self, job_id: int) -> dict[str, Any]:
        """C{GET /jobs/ID}: the job's record."""
        answer = self.job_answer(job_id)
        document = answer.json()
        if not isinstance(document, dict):
            line = f"the daemon at {self.url} answered GET /jobs/{job_id} with no job"
            raise RefusedError(line, answer)
        return document

    def job_answer(self, job_id: int) -> Answer:
        """C{GET /jobs/ID} as the daemon sent it, for C{--json}."""
        return self._expect(self.client.request("GET", f"/jobs/{job_id}"), "GET /jobs/ID", 200)

    def log(self, job_id: int) -> bytes:
        """C{GET /jobs/ID/log}: a running job's output so far, an ended one's last."""
        answer = self.client.request("GET", f"/jobs/{job_id}/log")
        return self._expect(answer, "GET /jobs/ID/log", 200).body

    def follow(self, job_id: int, write: Callable[[bytes], None]) -> dict[str, Any]:
        """
        C{GET /jobs/ID/log?follow=1}: each line to C{write} as the job prints it,
        until it ends; then the job's final record.
        """

        def still_live() -> bool:
            return self.job(job_id)["state"] in LIVE_STATES

        refused, lines = self.client.follow(f"/jobs/{job_id}/log?follow=1", still_live)
        if refused is not None:
            self._expect(refused, "GET /jobs/ID/log", 200)
        for line in lines:
            write(line)
        return self.ended(job_id)

    def ended(self, job_id: int) -> dict[str, Any]:
        """
        The job's record once it says the job is over: the log ends when the job
        does, and the journal records that a moment later.
        """
        deadline = time.monotonic() + self.client.timeout
        while True:
            job = self.job(job_id)
            if job.get("state") not in LIVE_STATES or time.monotonic() > deadline:
                return job
            time.sleep(SETTLE)

    def replay(self, job_id: int) -> Answer:
        """C{POST /jobs/ID/replay}: 202 with the new job."""
        answer = self.client.request("POST", f"/jobs/{job_id}/replay")
        return self._expect(answer, "POST /jobs/ID/replay", 202)

    def cancel(self, job_id: int) -> Answer:
        """C{POST /jobs/ID/cancel}: 200 with C{cancelled} or C{cancelling}."""
        answer = self.client.request("POST", f"/jobs/{job_id}/cancel")
        return self._expect(answer, "POST /jobs/ID/cancel", 200)

    def _expect(self, answer: Answer, route: str, status: int) -> Answer:
        if answer.status == status:
            return answer
        raise RefusedError(self.refusal(answer, route), answer)

    def refusal(self, answer: Answer, route: str) -> str:
        """The line that says why the daemon did not do what C{route} asks."""
        code, error = answer.status, answer.error
        if code == 401:
            if self._token_origin is not None:
                return (
                    f"the daemon at {self.url} refused {self._token_origin} (401: {error}); give"
                    f" one of its {self._token_key} values with --token"
                )
            return (
                f"the daemon at {self.url} wants a token (401: {error}); set {self._token_key}"
                " in the config, or give --token"
            )
        if code == 403:
            return f"the daemon at {self.url} refused (403: {error})"
        if code in (404, 405) and error in _ROUTE_MISSING:
            return (
                f"the daemon at {self.url} has no {route} ({code} {error}); it is an older"
                " hookdaemon"
            )
        if code in (404, 409):
            return error
        return f"the daemon at {self.url} answered {code}: {error}"
