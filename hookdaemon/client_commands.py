"""
The C{hookdaemon} commands that are clients of a running daemon: C{send},
C{jobs}, C{show}, C{log}, C{replay} and C{cancel}. They speak to it through
L{hookdaemon.daemon_client} and show its answers with L{hookdaemon.job_table};
none of them imports twistd, so they start quickly.
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hookdaemon.journald import error_line

if TYPE_CHECKING:
    from hookdaemon.config import Config
    from hookdaemon.daemon_client import JobAPI


def _job_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a job id (a whole number from 1)")
    return int(text)


def client_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that speak to a running daemon, and the options they share."""
    from hookdaemon.daemon_client import DEFAULT_TIMEOUT
    from hookdaemon.job_state import JobState

    talking = argparse.ArgumentParser(add_help=False)
    talking.add_argument(
        "--config",
        "-c",
        help="the daemon's configuration, for where it listens and its tokens (default tap.cfg)",
    )
    talking.add_argument(
        "--url",
        help="where the daemon answers: http://HOST:PORT, https://HOST:PORT or unix:/PATH"
        " (default: the config's first tcp:, ssl: or unix: listen endpoint)",
    )
    talking.add_argument(
        "--token",
        help="the bearer token, as env:NAME, file:PATH or itself (default: the config's"
        " status_token, or operator_token to replay and cancel)",
    )
    talking.add_argument(
        "--cafile", help="for https://: trust this certificate (a self-signed one) or CA"
    )
    talking.add_argument(
        "--insecure", action="store_true", help="for https://: do not check the certificate"
    )
    talking.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds each call may wait (default {DEFAULT_TIMEOUT:g})",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the API's JSON")
    exits = " Exit 0 done, 1 refused (the daemon's reason is shown), 2 no daemon answers."

    sent = commands.add_parser(
        "send",
        parents=[talking],
        help="send a hook a signed delivery, as its forge would",
        description="Build a delivery for HOOK in its forge's format (a push by default, of"
        " the branch and repository its filters name, else main and example/site), sign it"
        " with the hook's secret from the config as that forge signs, POST it to the"
        " running daemon and print its answer. forge = auto is sent as GitHub (GitLab for a"
        " whsec_ secret). With --follow, print the job's log as it runs and exit with its"
        " outcome: 0 succeeded, 1 otherwise (nothing ran, too)." + exits,
    )
    sent.add_argument("hook", metavar="HOOK", help="the hook's name ([hook:NAME])")
    sent.add_argument("--ref", help="the ref pushed: refs/heads/B, refs/tags/T, or a branch name")
    sent.add_argument("--after", metavar="SHA", help="the commit pushed (default: a new id)")
    sent.add_argument("--repository", help="the repository's full name, as owner/name")
    sent.add_argument(
        "--event", help="the forge's event name, as its header says it (default: its push)"
    )
    sent.add_argument(
        "--payload", metavar="FILE", help="send this file as the body (- for stdin), signed"
    )
    sent.add_argument("--follow", "-f", action="store_true", help="follow the job to its end")

    listed = commands.add_parser(
        "jobs",
        parents=[talking, as_json],
        help="list recent jobs",
        description="List the daemon's recent jobs, newest first." + exits,
    )
    listed.add_argument("--hook", help="only this hook's")
    listed.add_argument("--state", choices=[state.value for state in JobState])
    listed.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")

    shown = commands.add_parser(
        "show",
        parents=[talking, as_json],
        help="show one job",
        description="Show one job: its state, times and delivery." + exits,
    )
    shown.add_argument("job", metavar="JOB", type=_job_id)

    logged = commands.add_parser(
        "log",
        parents=[talking],
        help="print a job's output",
        description="Print a job's output (the last of it, for a job that has ended). With"
        " --follow, print it as it comes until the job ends, and exit 0 if it succeeded, 1"
        " otherwise." + exits,
    )
    logged.add_argument("job", metavar="JOB", type=_job_id)
    logged.add_argument("--follow", "-f", action="store_true", help="until the job ends")

    replayed = commands.add_parser(
        "replay",
        parents=[talking, as_json],
        help="run a job's delivery again",
        description="Run a job's delivery again, with its original body, as a new job"
        " recorded as its replay. Needs the operator token where tokens are set." + exits,
    )
    replayed.add_argument("job", metavar="JOB", type=_job_id)

    cancelled = commands.add_parser(
        "cancel",
        parents=[talking, as_json],
        help="cancel a queued or running job",
        description="Cancel a job: a queued one is removed; a running one's processes get"
        " TERM, then KILL after its hook's kill_grace. Needs the operator token where"
        " tokens are set." + exits,
    )
    cancelled.add_argument("job", metavar="JOB", type=_job_id)


REFUSED = 1
UNREACHABLE = 2
"""Exit statuses: the daemon said no; no daemon answered (or nothing to ask it with)."""


class _CommandError(Exception):
    """A client command ends early: its line for stderr, and its exit status."""

    def __init__(self, line: str, status: int) -> None:
        super().__init__(line)
        self.status = status


def client(arguments: argparse.Namespace) -> int:
    """Run a client command; its errors are one line each on stderr."""
    from hookdaemon.daemon_client import DaemonUnreachableError, RefusedError

    command = arguments.command
    try:
        return int(_CLIENTS[command](arguments))
    except _CommandError as e:
        _complain(command, str(e))
        return e.status
    except RefusedError as e:
        _complain(command, str(e))
        return REFUSED
    except DaemonUnreachableError as e:
        _complain(command, str(e))
        return UNREACHABLE
    except BrokenPipeError:
        # | head: the reader has what it wanted. Python would flush stdout again at
        # exit and complain; https://docs.python.org/3/library/signal.html#note-on-sigpipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130  # as a shell reports a Ctrl-C; the daemon and its job go on


def _complain(command: str, line: str) -> None:
    print(error_line(f"hookdaemon {command}: {line}"), file=sys.stderr)


def _connect(
    arguments: argparse.Namespace, act: bool = False, hook: str | None = None, tokens: bool = True
) -> tuple[JobAPI, Config | None]:
    """
    The job API of the daemon the arguments name, and the
    configuration read for it (only its [hookdaemon] section and C{hook}'s;
    None when --url and --token make it unneeded).
    """
    from hookdaemon.config import DEFAULT_LISTEN, ConfigError
    from hookdaemon.daemon_client import (
        DaemonAddress,
        DaemonClient,
        JobAPI,
        config_token,
        given_token,
        read_config,
        tls_context,
    )

    path = arguments.config or "tap.cfg"
    # A daemon started with --hooks alone has no tap.cfg: it listens where one would by default.
    hooks_only = arguments.config is None and hook is None and not os.path.exists(path)
    wanted = (hook is not None or arguments.url is None) and not hooks_only
    if not wanted and tokens and arguments.token is None:
        # For its token: a remote daemon's config may well not be here.
        wanted = arguments.config is not None or os.path.exists(path)
    config = None
    if wanted:
        try:
            config, names = read_config(path, hook, tokens and arguments.token is None)
        except OSError as e:
            line = f"cannot read {path}: {e.strerror}; give --config, or --url"
            raise _CommandError(line, UNREACHABLE) from None
        except ConfigError as e:
            for problem in e.problems[:-1]:
                _complain(arguments.command, str(problem))
            raise _CommandError(str(e.problems[-1]), UNREACHABLE) from None
        if hook is not None and hook not in config.hooks:
            listed = ", ".join(names) if names else "none"
            raise _CommandError(f"{path} has no [hook:{hook}] (its hooks: {listed})", UNREACHABLE)
    token, key, origin = None, "operator_token" if act else "status_token", None
    try:
        if arguments.token is not None:
            token, origin = given_token(arguments.token), "the token given with --token"
        elif config is not None and tokens:
            token, key = config_token(config.daemon, act)
            origin = f"the {key} of {path}"
        if arguments.url is not None:
            address = DaemonAddress.from_url(arguments.url)
        elif config is None:
            address = DaemonAddress.from_listen((DEFAULT_LISTEN,))
        else:
            address = DaemonAddress.from_listen(config.daemon.listen)
    except ValueError as e:
        raise _CommandError(str(e), UNREACHABLE) from None
    tls = None
    if address.scheme == "https":
        try:
            tls = tls_context(arguments.cafile, arguments.insecure)
        except (OSError, ValueError) as e:
            raise _CommandError(f"--cafile {arguments.cafile}: {e}", UNREACHABLE) from None
    connection = DaemonClient(address, token, arguments.timeout, tls)
    return JobAPI(connection, key, origin if token is not None else None), config


def _print_body(body: bytes) -> None:
    sys.stdout.buffer.write(body if body.endswith(b"\n") else body + b"\n")
    sys.stdout.flush()


def _write_line(line: bytes) -> None:
    sys.stdout.buffer.write(line)
    sys.stdout.flush()


def _now() -> datetime:
    return datetime.now(UTC)


def _follow(api: JobAPI, job_id: int, chase: bool = False) -> tuple[int, int]:
    """
    Print the job's log until it ends, and a line with its outcome; 0 if it
    succeeded, and the job that ran. C{chase}: a job superseded by a newer
    delivery's is followed into that one, which ran in its place.
    """
    from hookdaemon.job_table import outcome

    while True:
        job = api.follow(job_id, _write_line)
        covered_by = job.get("covered_by")
        if not (chase and job.get("state") == "superseded" and isinstance(covered_by, int)):
            break
        print(f"job {job_id} was superseded by job {covered_by}; following it", flush=True)
        job_id = covered_by
    print(f"job {job_id} {outcome(job)}", flush=True)
    return (0 if job.get("state") == "succeeded" else REFUSED), job_id


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _payload(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise _CommandError(f"--payload {path}: cannot read: {e.strerror}", UNREACHABLE) from None


def _send(arguments: argparse.Namespace) -> int:
    import time

    from hookdaemon.send import FORGE_NAMES, default_push, outgoing

    api, config = _connect(arguments, hook=arguments.hook, tokens=arguments.follow)
    assert config is not None  # read for the hook
    hook = config.hooks[arguments.hook]
    body = None if arguments.payload is None else _payload(arguments.payload)
    push = default_push(hook, _user(), arguments.ref, arguments.after, arguments.repository)
    try:
        delivery = outgoing(hook, push, time.time(), arguments.event, body)
    except ValueError as e:
        raise _CommandError(str(e), UNREACHABLE) from None
    if body is None:
        what = f"a push of {push.ref} ({push.after[:7]}) to {push.repository}"
    else:
        what = f"{arguments.payload} as the body of a {delivery.event or 'generic'} delivery"
    forge = FORGE_NAMES[delivery.forge]
    how = "with the hook's secret" if hook.secret is not None else "with no secret (it has none)"
    print(f"POST {api.url}{hook.path}: {what}, as {forge} sends it, {how}", flush=True)
    path = hook.path + (f"?{delivery.query}" if delivery.query else "")
    answer = api.client.request("POST", path, delivery.body, delivery.headers)
    print(f"{answer.status} {answer.body.decode('utf-8', 'replace').strip()}", flush=True)
    if answer.status not in (200, 202):
        return REFUSED
    if not arguments.follow:
        return 0
    document = answer.json()
    job = document.get("job") if isinstance(document, dict) else None
    if not isinstance(job, int):
        raise _CommandError("no job to follow: the daemon ran nothing for this delivery", REFUSED)
    status, ran = _follow(api, job, chase=True)
    if hook.report is not None or hook.notify is not None:
        _await_reports(api, ran, arguments.timeout)
    return status


def _await_reports(api: JobAPI, job_id: int, timeout: float) -> None:
    """
    After a followed job, wait (up to C{timeout} seconds) until each of its
    reports has been tried once, and print what became of them: what C{send}
    offers to try a hook's report_token and report_url without a push.
    """
    import time

    from hookdaemon.job_table import report_lines

    deadline = time.monotonic() + timeout
    while True:
        job = api.job(job_id)
        reports = job.get("reports") or []
        untried = [r for r in reports if r.get("outcome") == "waiting" and not r.get("attempts")]
        if not untried or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    none = (
        "none for this job (notify_on skipped it, or its delivery names no commit:"
        " the daemon's log says which)"
    )
    for line in report_lines(job) or [none]:
        print(f"report: {line}", flush=True)


def _jobs(arguments: argparse.Namespace) -> int:
    from hookdaemon.job_table import job_table

    api, _ = _connect(arguments)
    answer = api.jobs(arguments.hook, arguments.state, arguments.limit)
    if arguments.json:
        _print_body(answer.body)
        return 0
    document = answer.json()
    jobs = document.get("jobs") if isinstance(document, dict) else None
    print(job_table(jobs, _now()) if jobs else "no jobs")
    return 0


def _show(arguments: argparse.Namespace) -> int:
    from hookdaemon.job_table import job_lines

    api, _ = _connect(arguments)
    if arguments.json:
        _print_body(api.job_answer(arguments.job).body)
        return 0
    print(job_lines(api.job(arguments.job), _now()))
    return 0


def _log(arguments: argparse.Namespace) -> int:
    api, _ = _connect(arguments)
    if arguments.follow:
        return _follow(api, arguments.job)[0]
    sys.stdout.buffer.write(api.log(arguments.job))
    sys.stdout.flush()
    return 0


def _replay(arguments: argparse.Namespace) -> int:
    api, _ = _connect(arguments, act=True)
    answer = api.replay(arguments.job)
    if arguments.json:
        _print_body(answer.body)
        return 0
    document = answer.json() or {}
    new, url = document.get("job"), document.get("url")
    print(f"job {new} queued: a replay of job {arguments.job} ({url})")
    return 0


def _cancel(arguments: argparse.Namespace) -> int:
    api, _ = _connect(arguments, act=True)
    answer = api.cancel(arguments.job)
    if arguments.json:
        _print_body(answer.body)
        return 0
    document = answer.json() or {}
    if document.get("state") == "cancelling":
        print(
            f"job {arguments.job} cancelling: its processes got SIGTERM, and get SIGKILL"
            " if still there after the hook's kill_grace"
        )
    else:
        print(f"job {arguments.job} cancelled before it started")
    return 0


_CLIENTS: dict[str, Callable[[argparse.Namespace], int]] = {
    "send": _send,
    "jobs": _jobs,
    "show": _show,
    "log": _log,
    "replay": _replay,
    "cancel": _cancel,
}
