"""
The real adnanh/webhook as a reference: start C{/usr/bin/webhook} on a hooks file,
send it a request, and read back what the hook's command received, so that the
same case (L{tests.webhook_cases}) can be run against webhook and hookdaemon and
the two answers compared.

A server is anything with an C{address} (L{Server}); a L{Starter} starts one on a
hooks file with webhook's command-line flags (L{Flags}). L{start_webhook} is
webhook's; hookdaemon's starter has the same signature. L{run_case} sends one
case and returns what was seen (L{Observed}), with this run's paths and the
client's port replaced by placeholders, so that two servers' observations and
a case's expectation compare with C{==}.

Synchronous on purpose (http.client, subprocess): webhook is another process,
and a case reads like the request it sends.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from attrs import evolve, field, frozen
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.testing import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDER = os.path.join(HERE, "fixtures", "webhook", "record.py")
"""The command every case's hook runs (its C{execute-command}, unless the case names another)."""

WEBHOOK = shutil.which("webhook")
"""The reference binary (the Debian package's C{/usr/bin/webhook}, 2.8.0), or None."""

ROOT = "@ROOT@"
"""A case's stand-in for the run's own directory (L{Workspace.root})."""
RECORDER_PATH = "@RECORDER@"
"""A case's stand-in for L{RECORDER}'s path."""
CLIENT_PORT = "@CLIENT_PORT@"
"""A case's stand-in for the request's own port: C{remote-addr} is C{127.0.0.1:@CLIENT_PORT@}."""

CONTROL = ("RECORD_DIR", "RECORD_ENV", "RECORD_STDOUT", "RECORD_STDERR", "RECORD_EXIT")
"""What the runner passes the recorder (L{hook_definition}): no case's business."""

WAIT = 10.0
"""How long to wait, at most, for a server to listen or a command to finish (seconds)."""


# -- the cases' vocabulary ---------------------------------------------------------


@frozen
class Flags:
    """
    The webhook command-line flags a group of cases needs; cases with equal
    flags share one server. A starter translates them into its own options.
    """

    headers: tuple[tuple[str, str], ...] = ()
    """C{-header NAME=VALUE}, in order."""
    http_methods: str = ""
    """C{-http-methods}, as given (comma separated)."""
    urlprefix: str = "hooks"
    """C{-urlprefix}."""


@frozen
class Request:
    """
    One request. C{target} is the path under the url prefix (C{hook-id} is sent
    as C{/hooks/hook-id}), or, if it starts with C{/}, the whole path, sent as
    written. C{query} is the query string as sent (already encoded).
    """

    target: str
    method: str = "POST"
    headers: tuple[tuple[str, str], ...] = ()
    """Sent in this order and case; C{Host} is added unless given, C{Content-Length} for a body."""
    body: bytes = b""
    query: str = ""
    scalr_secret: str = ""
    """Sign with Scalr's scheme (C{X-Signature}, C{Date}) when sent: its date must be recent."""
    scalr_age: int = 0
    """How many seconds before the send the Scalr signature says it was made."""


@frozen
class PassedFile:
    """A pass-file-to-command file as the command found it."""

    dir: str
    name: str
    """
    Its name, the random digits webhook's C{ioutil.TempFile(dir, ENVNAME)} puts
    after the variable's name as C{*}: C{HOOK_DATA*}.
    """
    content: bytes
    mode: int = 0o600


@frozen
class Receipt:
    """What one run of the command received, with this run's paths as placeholders."""

    argv: tuple[str, ...] = ()
    """The arguments after the command itself (argv[1:])."""
    env: Mapping[str, str] = field(factory=dict)
    """The HOOK_* variables and those the case asks for (L{Case.record_env}), nothing else."""
    files: Mapping[str, PassedFile] = field(factory=dict)
    """By the variable that names each."""
    cwd: str = ROOT
    command: str = RECORDER_PATH
    """The path the command was run by (a script sees this as argv[0], not Go's Args[0])."""
    stdin: bytes = b""


@frozen
class Expect:
    """The answer a case expects, and what its command receives (None: it does not run)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    """Headers the answer has: each name's values, all of them, in order."""
    absent: tuple[str, ...] = ()
    """Headers the answer does not have."""
    receipt: Receipt | None = None


@frozen
class Output:
    """What the recorder prints and how it exits, for include-command-output-in-response."""

    stdout: str = ""
    stderr: str = ""
    exit: int = 0


@frozen
class Case:
    """
    One request to one hook, and what webhook answers. C{hook} is the hook as a
    hooks file writes it (JSON-able; no C{execute-command} means the recorder);
    None for a request that reaches no hook. Strings in it may use L{ROOT} and
    L{RECORDER_PATH}.
    """

    name: str
    """Unique, a plain word: the case's directories are named after it."""
    hook: Mapping[str, Any] | None
    request: Request
    expect: Expect
    flags: Flags = Flags()
    output: Output = Output()
    record_env: tuple[str, ...] = ()
    """Variables to record beside HOOK_* (an C{envname} of another form)."""
    doc: str = ""
    """Where the expectation comes from, and where webhook departs from its docs."""


# -- servers -------------------------------------------------------------------------


class Server(Protocol):
    """What L{run_case} needs of a running server: where it listens, and its L{Workspace}."""

    @property
    def address(self) -> tuple[str, int]:
        """C{(host, port)} to connect to."""
        ...

    @property
    def base_url(self) -> str:
        """C{http://host:port}, no trailing slash."""
        ...

    @property
    def workspace(self) -> Workspace: ...


Starter = Callable[[SynchronousTestCase, "Workspace", Flags], Server]
"""
Start a server on C{workspace.hooks} with these flags, in C{workspace.root}, its
temporary files (pass-file-to-command without a working directory) in
C{workspace.tmp}, running until the test's cleanup; return once it listens.
"""


@frozen
class Workspace:
    """
    One server's directory for one group of cases: its hooks file, where its
    commands record (runs/CASE/), a working directory (work/, with a link to
    the recorder) and its temporary directory (tmp/).
    """

    root: str

    @property
    def hooks(self) -> str:
        return os.path.join(self.root, "hooks.json")

    @property
    def work(self) -> str:
        return os.path.join(self.root, "work")

    @property
    def tmp(self) -> str:
        return os.path.join(self.root, "tmp")

    @property
    def log(self) -> str:
        return os.path.join(self.root, "server.log")

    def runs(self, case: Case) -> str:
        return os.path.join(self.root, "runs", case.name)

    @classmethod
    def make(cls, root: str, cases: Sequence[Case]) -> Workspace:
        """Make the directories and write the hooks file of C{cases}."""
        workspace = cls(os.path.abspath(root))
        for directory in (workspace.work, workspace.tmp):
            os.makedirs(directory, exist_ok=True)
        os.symlink(RECORDER, os.path.join(workspace.work, "record.py"))
        for case in cases:
            os.makedirs(workspace.runs(case), exist_ok=True)
        with open(workspace.hooks, "w") as f:
            json.dump(hooks_file(cases, workspace), f, indent=1)
        return workspace


@frozen
class WebhookServer:
    """A running C{webhook}: its process, where it listens, its C{-verbose} log."""

    process: subprocess.Popen[bytes]
    address: tuple[str, int]
    workspace: Workspace

    @property
    def base_url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def webhook_arguments(workspace: Workspace, flags: Flags, port: int) -> list[str]:
    arguments = ["-hooks", workspace.hooks, "-ip", "127.0.0.1", "-port", str(port), "-verbose"]
    for name, value in flags.headers:
        arguments += ["-header", f"{name}={value}"]
    if flags.http_methods:
        arguments += ["-http-methods", flags.http_methods]
    if flags.urlprefix != "hooks":
        arguments += ["-urlprefix", flags.urlprefix]
    return arguments


def start_webhook(
    test: SynchronousTestCase, workspace: Workspace, flags: Flags = Flags()
) -> WebhookServer:
    """
    L{Starter} for the real webhook (skips C{test} if it is not installed): on a
    free loopback port, C{-verbose} into C{workspace.log}, killed at cleanup.
    """
    if WEBHOOK is None:
        raise SkipTest("webhook (adnanh/webhook 2.8.0, the Debian package) is not installed")
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TMPDIR": workspace.tmp,  # Go's os.TempDir: where pass-file-to-command writes
        "LANG": "C.UTF-8",
    }
    for _ in range(3):  # another process may take the free port first
        port = free_port()
        with open(workspace.log, "ab") as log:
            process = subprocess.Popen(
                [WEBHOOK, *webhook_arguments(workspace, flags, port)],
                cwd=workspace.root,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = WebhookServer(process, ("127.0.0.1", port), workspace)
        test.addCleanup(server.stop)
        if wait_serving(server):
            return server
    raise AssertionError(f"webhook could not listen: {_read(workspace.log)}")


def _read(path: str) -> str:
    with open(path, errors="replace") as f:
        return f.read()


def wait_serving(server: WebhookServer, timeout: float = WAIT) -> bool:
    """
    Poll webhook's log until it says it serves (it has bound its port before
    it says anything); False if it could not bind. Its own line, not a
    connection: another process may hold the port free_port gave.
    """
    line = f"serving hooks on http://127.0.0.1:{server.address[1]}/"
    deadline = time.monotonic() + timeout
    while line not in _read(server.workspace.log):
        if server.process.poll() is not None:
            if "error listening on port" in _read(server.workspace.log):
                return False
            raise AssertionError(f"webhook exited: {_read(server.workspace.log)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook does not serve after {timeout} s")
        time.sleep(0.01)
    socket.create_connection(server.address, timeout=WAIT).close()
    return True


# -- the hooks file ----------------------------------------------------------------


def _placed(value: Any, workspace: Workspace) -> Any:
    if isinstance(value, str):
        return value.replace(ROOT, workspace.root).replace(RECORDER_PATH, RECORDER)
    if isinstance(value, Mapping):
        return {key: _placed(item, workspace) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_placed(item, workspace) for item in value]
    return value


def _string(envname: str, value: str) -> dict[str, str]:
    return {"source": "string", "envname": envname, "name": value}


def hook_definition(case: Case, workspace: Workspace) -> dict[str, Any]:
    """
    The case's hook as this workspace's hooks file has it: its paths placed, the
    recorder as its command unless it names one, and the recorder's own
    variables after the hook's (L{CONTROL}).
    """
    assert case.hook is not None
    hook: dict[str, Any] = _placed(case.hook, workspace)
    hook.setdefault("execute-command", RECORDER)
    control = [_string("RECORD_DIR", workspace.runs(case))]
    if case.record_env:
        control.append(_string("RECORD_ENV", ",".join(case.record_env)))
    if case.output.stdout:
        control.append(_string("RECORD_STDOUT", case.output.stdout))
    if case.output.stderr:
        control.append(_string("RECORD_STDERR", case.output.stderr))
    if case.output.exit:
        control.append(_string("RECORD_EXIT", str(case.output.exit)))
    hook["pass-environment-to-command"] = [*hook.get("pass-environment-to-command", []), *control]
    return hook


def hooks_file(cases: Sequence[Case], workspace: Workspace) -> list[dict[str, Any]]:
    """The hooks file of a group of cases, in their order."""
    return [hook_definition(case, workspace) for case in cases if case.hook is not None]


def groups(cases: Sequence[Case]) -> Iterator[tuple[Flags, list[Case]]]:
    """The cases by the flags their server needs, in the order each first appears."""
    by_flags: dict[Flags, list[Case]] = {}
    for case in cases:
        by_flags.setdefault(case.flags, []).append(case)
    yield from by_flags.items()


# -- a client ----------------------------------------------------------------------


class Headers(Mapping[str, tuple[str, ...]]):
    """An answer's headers: looked up in any case, each name with all its values."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self.items_as_sent: tuple[tuple[str, str], ...] = tuple(items)
        self._values: dict[str, tuple[str, ...]] = {}
        for name, value in items:
            key = name.lower()
            self._values[key] = (*self._values.get(key, ()), value)

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({list(self.items_as_sent)!r})"


@frozen
class Response:
    status: int
    reason: str
    headers: Headers
    body: bytes
    client: tuple[str, int]
    """The request's own address (what the server sees as its peer)."""


def send(
    address: tuple[str, int],
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    timeout: float = 30,
) -> Response:
    """One request on a connection of its own, the headers exactly as given."""
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        names = {name.lower() for name, _ in headers}
        if "host" not in names:
            connection.putheader("Host", f"{address[0]}:{address[1]}")
        for name, value in headers:
            connection.putheader(name, value)
        if body and "content-length" not in names and "transfer-encoding" not in names:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        assert connection.sock is not None
        client = connection.sock.getsockname()[:2]
        answer = connection.getresponse()
        content = answer.read()
        return Response(
            answer.status,
            answer.reason,
            Headers(answer.getheaders()),
            content,
            (client[0], client[1]),
        )
    finally:
        connection.close()


def scalr_headers(secret: str, body: bytes, age: int = 0) -> list[tuple[str, str]]:
    """Scalr's C{X-Signature} and C{Date} (CheckScalrSignature in webhook's hook.go)."""
    import hashlib
    import hmac

    date = time.strftime("%a %d %b %Y %H:%M:%S UTC", time.gmtime(time.time() - age))
    signature = hmac.new(secret.encode(), body + date.encode(), hashlib.sha1).hexdigest()
    return [("X-Signature", signature), ("Date", date)]


def path_of(request: Request, flags: Flags) -> str:
    path = (
        request.target
        if request.target.startswith("/")
        else f"/{flags.urlprefix}/{request.target}"
    )
    return f"{path}?{request.query}" if request.query else path


# -- what the command received -----------------------------------------------------


def wait_for_runs(directory: str, count: int, timeout: float = WAIT) -> list[dict[str, Any]]:
    """The recorder's first C{count} runs in C{directory}, polling until they are there."""
    paths = [os.path.join(directory, f"{number:04d}.json") for number in range(1, count + 1)]
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(path) for path in paths):
        if time.monotonic() > deadline:
            raise AssertionError(f"{directory}: no {count} runs after {timeout} s")
        time.sleep(0.01)
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append(json.load(f))
    return runs


def wait_for_run(directory: str, timeout: float = WAIT) -> dict[str, Any] | None:
    """The recorder's first run in C{directory}, or None if none comes in C{timeout} seconds."""
    try:
        [run] = wait_for_runs(directory, 1, timeout)
    except AssertionError:
        return None
    return run


def recorded_runs(directory: str) -> list[str]:
    """The run files in C{directory} now."""
    return sorted(name for name in os.listdir(directory) if name.endswith(".json"))


def wait_removed(paths: Sequence[str], timeout: float = WAIT) -> tuple[str, ...]:
    """Poll until none of C{paths} exists; those still there when time is up."""
    deadline = time.monotonic() + timeout
    while True:
        left = tuple(path for path in paths if os.path.exists(path))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.01)


@frozen
class Observed:
    """What one case saw, in a case's terms (L{Expect}, L{Receipt}) with placeholders."""

    status: int
    body: bytes
    headers: Headers
    receipt: Receipt | None
    kept_files: tuple[str, ...] = ()
    """Variables whose pass-file-to-command file was still there after the run."""
    runs: int = -1
    """How often the command ran for this case, counted once its group is done (-1: not yet)."""

    def answer(self, expect: Expect) -> Expect:
        """This answer as C{expect} states one: only the headers C{expect} names."""
        return Expect(
            status=self.status,
            body=self.body,
            headers=tuple(
                (name, value)
                for name in dict.fromkeys(name for name, _ in expect.headers)
                for value in self.headers.get(name, ())
            ),
            absent=tuple(name for name in expect.absent if name not in self.headers),
            receipt=self.receipt,
        )


def _stand_ins(workspace: Workspace, client: tuple[str, int]) -> Callable[[str], str]:
    def replace(text: str) -> str:
        text = text.replace(RECORDER, RECORDER_PATH).replace(workspace.root, ROOT)
        return text.replace(f"{client[0]}:{client[1]}", f"{client[0]}:{CLIENT_PORT}")

    return replace


def file_pattern(variable: str, name: str) -> str:
    """C{name} with the random digits after C{variable} (or at its end) as C{*}."""
    if name.startswith(variable) and name[len(variable) :].isdigit():
        return variable + "*"
    stem = name.rstrip("0123456789")
    return stem + "*" if stem != name else name


def receipt_of(run: Mapping[str, Any], replace: Callable[[str], str]) -> Receipt:
    files = {
        name: PassedFile(
            dir=replace(found["dir"]),
            name=file_pattern(name, found["name"]),
            content=base64.b64decode(found["content"]),
            mode=found["mode"],
        )
        for name, found in run["files"].items()
    }
    env = {name: replace(value) for name, value in run["env"].items() if name not in CONTROL}
    for name, passed in files.items():
        env[name] = os.path.join(passed.dir, passed.name)  # its random digits as *
    return Receipt(
        argv=tuple(replace(arg) for arg in run["argv"]),
        env=env,
        files=files,
        cwd=replace(run["cwd"]),
        command=replace(run["argv0"]),
        stdin=base64.b64decode(run["stdin"]),
    )


def run_case(server: Server, case: Case) -> Observed:
    """
    Send C{case}'s request to C{server}; if the case expects its command to
    run, wait for the run and for its files to go. Whether a command ran that
    should not have is for the caller to check once the group is done
    (L{recorded_runs}): nothing marks the moment it would have.
    """
    request = case.request
    headers = list(request.headers)
    if request.scalr_secret:
        headers += scalr_headers(request.scalr_secret, request.body, request.scalr_age)
    response = send(
        server.address, request.method, path_of(request, case.flags), headers, request.body
    )
    workspace = server.workspace
    replace = _stand_ins(workspace, response.client)
    receipt = None
    kept: tuple[str, ...] = ()
    run = wait_for_run(workspace.runs(case)) if case.expect.receipt is not None else None
    if run is not None:
        receipt = receipt_of(run, replace)
        paths = {found["path"]: name for name, found in run["files"].items()}
        kept = tuple(sorted(paths[path] for path in wait_removed(list(paths))))
    body = replace(response.body.decode("utf-8", "surrogateescape")).encode(
        "utf-8", "surrogateescape"
    )
    return Observed(response.status, body, response.headers, receipt, kept)


def observe(
    test: SynchronousTestCase, start: Starter, cases: Sequence[Case]
) -> dict[str, Observed]:
    """
    Run C{cases} on servers C{start} makes, one for each group of equal flags,
    in C{test}'s temporary directory; what each case saw, by its name, with the
    count of its command's runs taken once its group is done.
    """
    observed: dict[str, Observed] = {}
    for flags, group in groups(cases):
        last = evolve(SENTINEL, flags=flags)
        server = start(test, Workspace.make(test.mktemp(), [*group, last]), flags)
        seen = {case.name: run_case(server, case) for case in group}
        for count in (1, 2):
            send(server.address, "POST", path_of(last.request, flags))
            wait_for_runs(server.workspace.runs(last), count)
        for case in group:
            count = len(recorded_runs(server.workspace.runs(case)))
            observed[case.name] = evolve(seen[case.name], runs=count)
    return observed


SENTINEL = Case(
    "sentinel",
    {"id": "sentinel-for-the-test", "http-methods": ["POST"]},
    Request("sentinel-for-the-test"),
    Expect(200, b"", receipt=Receipt()),
)
"""
The hook L{observe} adds to every group and calls last, twice, one run after
the other: once its second run is done, a command of the group that should not
have run but did has had the whole of the first run's time to finish, and is
counted. Nothing marks the moment it would have run; this is the best a test
without sleeps can do.
"""


def differences(case: Case, observed: Observed) -> list[str]:
    """How C{observed} departs from C{case}'s expectation, one line each; none: it matches."""
    expect, seen = case.expect, observed.answer(case.expect)
    found = []
    for name in ("status", "body", "headers", "absent", "receipt"):
        if getattr(expect, name) != getattr(seen, name):
            found.append(
                f"{name}: expected {getattr(expect, name)!r}, saw {getattr(seen, name)!r}"
            )
    if observed.kept_files:
        found.append(f"files not removed after the run: {observed.kept_files}")
    runs = 0 if expect.receipt is None else 1
    if observed.runs not in (-1, runs):
        found.append(f"the command ran {observed.runs} times, expected {runs}")
    return [f"{case.name}: {line}" for line in found]


def compare(case: Case, reference: Observed, other: Observed) -> list[str]:
    """
    How C{other} answers C{case} otherwise than C{reference}: status, body, the
    headers the case and its flags name, what the command received.
    """
    names = dict.fromkeys(
        name.lower()
        for name in (
            *(name for name, _ in case.expect.headers),
            *case.expect.absent,
            *(name for name, _ in case.flags.headers),
        )
    )
    found = []
    for label, a, b in (
        ("status", reference.status, other.status),
        ("body", reference.body, other.body),
        *(
            (f"header {name}", reference.headers.get(name), other.headers.get(name))
            for name in names
        ),
        ("receipt", reference.receipt, other.receipt),
        ("kept files", reference.kept_files, other.kept_files),
        ("runs", reference.runs, other.runs),
    ):
        if a != b:
            found.append(f"{case.name}: {label}: webhook {a!r}, other {b!r}")
    return found


def compare_servers(
    test: SynchronousTestCase,
    other: Starter,
    cases: Sequence[Case],
    reference: Starter = start_webhook,
) -> list[str]:
    """
    The differential test's core: C{cases} on the reference (webhook) and on
    C{other}, each on a hooks file of its own with the same hooks; every
    difference L{compare} finds, one line each.
    """
    expected = observe(test, reference, cases)
    seen = observe(test, other, cases)
    return [line for case in cases for line in compare(case, expected[case.name], seen[case.name])]
