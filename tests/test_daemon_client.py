"""
The commands that speak to a running daemon (jobs, show, log, replay, cancel,
and what send shares with them) as a person runs them, real processes against
a real twistd; and the plain values under them (where a daemon listens, what
a client reads of its config, the table).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import ConfigError
from hookdaemon.daemon_client import (
    DaemonAddress,
    config_token,
    given_token,
    read_config,
)
from hookdaemon.job_table import duration, local_time, report_lines, seconds_text, short_ref
from hookdaemon.testing import Environ, TwistdDaemon, environment, run_twistd, signed
from tests.live import LiveDaemon
from tests.test_tls import issue, write

COMMAND = [sys.executable, "-m", "hookdaemon"]
UTC = {"TZ": "UTC"}


def hookdaemon(
    *args: str, environ: Environ | None = None, cwd: str = "/"
) -> subprocess.CompletedProcess[str]:
    """The command run to its end, in UTC (for the times it shows)."""
    return run_twistd(*args, cwd=cwd, environ={**UTC, **(environ or {})}, twistd=COMMAND)


def started(*args: str) -> subprocess.Popen[str]:
    """The command running, its stdout read as it prints."""
    return subprocess.Popen(
        [*COMMAND, *args],
        cwd="/",
        env=environment(UTC),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


PUSH = json.dumps(
    {
        "ref": "refs/heads/main",
        "before": "1" * 40,
        "after": "abcdef1" + "2" * 33,
        "repository": {"full_name": "acme/site", "clone_url": "https://x.invalid/acme/site.git"},
        "pusher": {"name": "dev"},
    }
).encode()


def finished(daemon: TwistdDaemon, job_id: int, token: str) -> None:
    """Wait for the job to end, asking with C{token}."""
    for _ in range(1500):
        _, job = daemon.request(
            "GET", f"/jobs/{job_id}", None, {"Authorization": f"Bearer {token}"}
        )
        if job["state"] not in ("queued", "running"):
            return
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never ended")


def deliver(daemon: TwistdDaemon, hook: str = "site", body: bytes = PUSH) -> int:
    """A signed GitHub push to C{hook} (secret s3cret); its job's id."""
    headers = {"X-GitHub-Event": "push", **signed("github", "s3cret", body)}
    code, answer = daemon.post(f"/hooks/{hook}", body, headers)
    assert code == 202, (code, answer)
    return int(answer["job"])


GATED = "sh -c 'echo first; while [ ! -e gate ]; do sleep 0.02; done; echo second'"
"""A step that prints a line, then waits for the test to create C{gate} in the workdir."""


def hook(command: str = "echo hello", extra: str = "") -> str:
    return (
        f"[hook:site]\nforge = github\nsecret = s3cret\n{extra}workdir = .\ncommand = {command}\n"
    )


def open_gate(daemon: TwistdDaemon) -> None:
    with open(os.path.join(daemon.directory, "gate"), "w"):
        pass


def wait_state(daemon: TwistdDaemon, job_id: int, state: str) -> None:
    for _ in range(1500):
        if daemon.job(job_id)["state"] == state:
            return
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never {state}: {daemon.job(job_id)}")


class JobsTests(SynchronousTestCase):
    def test_aTableNewestFirst(self) -> None:
        daemon = LiveDaemon(self, hook() + hook("false").replace("site", "api"))
        first, second = deliver(daemon), deliver(daemon, "api")
        daemon.wait_finished(first), daemon.wait_finished(second)
        result = hookdaemon("jobs", "--config", daemon.config)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        lines = result.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "HOOK", "STATE", "REF", "COMMIT", "QUEUED",
                                            "DURATION"])  # fmt: skip
        rows = [line.split() for line in lines[1:]]
        for row, job_id, name, state in (
            (rows[0], 2, "api", "failed"),
            (rows[1], 1, "site", "succeeded"),
        ):
            queued = daemon.job(job_id)["queued_at"]  # shown in TZ=UTC
            self.assertEqual(
                row[:7],
                [str(job_id), name, state, "main", "abcdef1", queued[:10], queued[11:19]],
            )
            self.assertRegex(row[7], r"^\d+\.\ds$")
        self.assertEqual(len(rows), 2)
        # The columns line up under their headings.
        self.assertEqual(lines[0].index("QUEUED"), lines[1].index(rows[0][5]))

        only = hookdaemon("jobs", "--config", daemon.config, "--hook", "site")
        self.assertEqual([line.split()[0] for line in only.stdout.splitlines()], ["ID", "1"])
        limited = hookdaemon("jobs", "--config", daemon.config, "--limit", "1")
        self.assertEqual([line.split()[0] for line in limited.stdout.splitlines()], ["ID", "2"])
        failed = hookdaemon("jobs", "--config", daemon.config, "--state", "failed")
        self.assertEqual([line.split()[0] for line in failed.stdout.splitlines()], ["ID", "2"])

    def test_jsonIsTheAPIs(self) -> None:
        daemon = LiveDaemon(self, hook())
        daemon.wait_finished(deliver(daemon))
        result = hookdaemon("jobs", "--config", daemon.config, "--json", "--limit", "5")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), daemon.request("GET", "/jobs?limit=5")[1])

    def test_none(self) -> None:
        daemon = LiveDaemon(self, hook())
        result = hookdaemon("jobs", "--config", daemon.config)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "no jobs\n", ""))


class ShowTests(SynchronousTestCase):
    def test_aJobLineByLine(self) -> None:
        daemon = LiveDaemon(self, hook("sh -c 'exit 4'"))
        job = daemon.wait_finished(deliver(daemon))
        result = hookdaemon("show", "1", "--config", daemon.config)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        facts = [
            re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in result.stdout.splitlines()
        ]
        shown = {fact[0]: fact[1] for fact in facts}
        self.assertEqual(
            {
                key: shown[key]
                for key in ("job", "hook", "state", "why", "attempt", "log", "ref", "after")
            },
            {
                "job": "1",
                "hook": "site",
                "state": "failed (exit 4)",
                "why": "step 1/1 (sh -c 'exit 4') exit 4",
                "attempt": "1",
                "log": "/jobs/1/log",
                "ref": "refs/heads/main",
                "after": job["delivery"]["after"],
            },
        )
        self.assertEqual(shown["queued"], job["queued_at"][:19].replace("T", " "))
        self.assertEqual(shown["repository"], "acme/site")

    def test_aSupersededJob(self) -> None:
        """What ran in its place, and that its body is gone (so it cannot be replayed)."""
        daemon = LiveDaemon(self, hook(GATED))
        first = deliver(daemon)
        wait_state(daemon, first, "running")
        superseded, newer = deliver(daemon), deliver(daemon)
        wait_state(daemon, superseded, "superseded")
        self.addCleanup(open_gate, daemon)
        result = hookdaemon("show", str(superseded), "--config", daemon.config)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertRegex(result.stdout, rf"(?m)^state\s+superseded by job {newer}$")
        self.assertRegex(
            result.stdout,
            rf"(?m)^why\s+superseded by job {newer}, a newer delivery \(burst = coalesce\)$",
        )
        self.assertRegex(result.stdout, r"(?m)^body\s+not kept, so it cannot be replayed$")
        shown = hookdaemon("show", str(newer), "--config", daemon.config)
        self.assertRegex(shown.stdout, rf"(?m)^covers\s+{superseded}$")
        replayed = hookdaemon("replay", str(superseded), "--config", daemon.config)
        self.assertEqual(replayed.returncode, 1)
        self.assertRegex(replayed.stderr, r"^hookdaemon replay: [^\n]+\n$")  # the daemon's 409

    def test_anIgnoredDelivery(self) -> None:
        """Why that push did not run, and when it came: nothing else is known of it."""
        daemon = LiveDaemon(self, hook(extra="branches = release/*\n"))
        headers = {"X-GitHub-Event": "push", **signed("github", "s3cret", PUSH)}
        code, answer = daemon.post("/hooks/site", PUSH, headers)
        why = "branch main does not match branches (release/*)"
        self.assertEqual((code, answer), (200, {"status": "ignored", "reason": why}))
        for _ in range(1500):
            listed = hookdaemon("jobs", "--state", "ignored", "--config", daemon.config)
            if listed.stdout != "no jobs\n":
                break
            time.sleep(0.02)
        self.assertEqual(
            listed.stdout.splitlines()[1].split()[:4], ["1", "site", "ignored", "main"]
        )
        result = hookdaemon("show", "1", "--config", daemon.config)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        labels = [re.split(r"\s{2,}", line.strip())[0] for line in result.stdout.splitlines()]
        self.assertEqual(labels[:6], ["job", "hook", "state", "why", "received", "delivery"])
        self.assertRegex(result.stdout, rf"(?m)^why\s+{re.escape(why)}$")

    def test_jsonIsTheAPIs(self) -> None:
        daemon = LiveDaemon(self, hook())
        job = daemon.wait_finished(deliver(daemon))
        result = hookdaemon("show", "1", "--json", "--config", daemon.config)
        self.assertEqual((result.returncode, json.loads(result.stdout)), (0, job))


class LogTests(SynchronousTestCase):
    def test_theOutput(self) -> None:
        daemon = LiveDaemon(self, hook("sh -c 'echo out; echo err >&2'"))
        daemon.wait_finished(deliver(daemon))
        result = hookdaemon("log", "1", "--config", daemon.config)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertIn("stdout out\nstderr err\n", result.stdout)
        self.assertEqual(result.stdout.encode(), daemon.request("GET", "/jobs/1/log")[1])

    def test_followPrintsEachLineAsItComesUntilTheJobEnds(self) -> None:
        daemon = LiveDaemon(self, hook(GATED))
        job_id = deliver(daemon)
        follower = started("log", str(job_id), "--follow", "--config", daemon.config)
        self.addCleanup(follower.kill)
        assert follower.stdout is not None
        # The first line arrives while the job still waits at the gate.
        for line in follower.stdout:
            if line == "stdout first\n":
                break
        self.assertEqual(daemon.job(job_id)["state"], "running")
        open_gate(daemon)
        rest, errors = follower.communicate(timeout=60)
        self.assertEqual((follower.returncode, errors), (0, ""))
        self.assertIn("stdout second\n", rest)
        self.assertTrue(rest.endswith("job 1 succeeded (exit 0)\n"), rest)

    def test_followWaitsThroughSilenceAskingTheDaemon(self) -> None:
        """
        A job silent for longer than --timeout is not given up on: the follower
        asks the daemon (GET /jobs/ID, in its access log) and goes on reading.
        """
        daemon = LiveDaemon(self, hook(GATED))
        job_id = deliver(daemon)
        follower = started(
            "log", str(job_id), "--follow", "--timeout", "0.2", "--config", daemon.config
        )
        self.addCleanup(follower.kill)
        for _ in range(3000):
            if re.search(rf'"GET /jobs/{job_id} HTTP/1.1" 200', daemon.log):
                break
            time.sleep(0.02)
        else:
            raise AssertionError(f"the follower never asked after the job:\n{daemon.log}")
        open_gate(daemon)
        out, errors = follower.communicate(timeout=60)
        self.assertEqual((follower.returncode, errors), (0, ""))
        self.assertIn("stdout first\n", out)
        self.assertIn("stdout second\n", out)

    def test_followExitsOneForAFailedJob(self) -> None:
        daemon = LiveDaemon(self, hook("sh -c 'echo bye; exit 2'"))
        job_id = deliver(daemon)
        result = hookdaemon("log", str(job_id), "--follow", "--config", daemon.config)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertTrue(result.stdout.endswith("job 1 failed (exit 2)\n"), result.stdout)

    def test_followOfAStoppedDaemonEndsAtTheTimeout(self) -> None:
        daemon = LiveDaemon(self, hook(GATED))
        job_id = deliver(daemon)
        follower = started(
            "log", str(job_id), "--follow", "--timeout", "1", "--config", daemon.config
        )
        self.addCleanup(follower.kill)
        assert follower.stdout is not None
        for line in follower.stdout:
            if line == "stdout first\n":
                break
        self.addCleanup(open_gate, daemon)  # so that the daemon's stop need not wait for it
        daemon.process.send_signal(signal.SIGSTOP)
        self.addCleanup(daemon.process.send_signal, signal.SIGCONT)
        _, errors = follower.communicate(timeout=60)
        self.assertEqual(
            (follower.returncode, errors),
            (2, f"hookdaemon log: no daemon answers at {daemon.url} (nothing within 1 s)\n"),
        )


class ReplayTests(SynchronousTestCase):
    def test_theDeliveryRunsAgainAsANewJob(self) -> None:
        daemon = LiveDaemon(self, hook("sh -c 'echo $HOOK_AFTER'", "shell = no\n"))
        daemon.wait_finished(deliver(daemon))
        result = hookdaemon("replay", "1", "--config", daemon.config)
        self.assertEqual(
            (result.returncode, result.stdout, result.stderr),
            (0, "job 2 queued: a replay of job 1 (/jobs/2)\n", ""),
        )
        replay = daemon.wait_finished(2)
        self.assertEqual((replay["replay_of"], replay["state"]), (1, "succeeded"))
        self.assertEqual(replay["delivery"]["after"], daemon.job(1)["delivery"]["after"])
        shown = hookdaemon("show", "2", "--config", daemon.config)
        self.assertRegex(shown.stdout, r"(?m)^replay of\s+1$")
        as_json = hookdaemon("replay", "2", "--json", "--config", daemon.config)
        self.assertEqual(
            json.loads(as_json.stdout),
            {"job": 3, "status": "queued", "url": "/jobs/3", "replay_of": 2},
        )

    def test_noSuchJob(self) -> None:
        daemon = LiveDaemon(self, hook())
        result = hookdaemon("replay", "7", "--config", daemon.config)
        self.assertEqual((result.returncode, result.stderr), (1, "hookdaemon replay: no job 7\n"))


class CancelTests(SynchronousTestCase):
    def test_aRunningJobIsStoppedAndEndsCancelled(self) -> None:
        daemon = LiveDaemon(self, hook(GATED))
        job_id = deliver(daemon)
        wait_state(daemon, job_id, "running")
        result = hookdaemon("cancel", str(job_id), "--config", daemon.config)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertEqual(
            result.stdout,
            "job 1 cancelling: its processes got SIGTERM, and get SIGKILL if still there after"
            " the hook's kill_grace\n",
        )
        followed = hookdaemon("log", str(job_id), "--follow", "--config", daemon.config)
        self.assertEqual(followed.returncode, 1)
        self.assertTrue(
            followed.stdout.endswith("job 1 cancelled (killed by SIGTERM)\n"), followed.stdout
        )

    def test_aQueuedJobIsRemoved(self) -> None:
        daemon = LiveDaemon(self, hook(GATED, "burst = queue\n"))
        first = deliver(daemon)
        wait_state(daemon, first, "running")
        second = deliver(daemon)
        result = hookdaemon("cancel", str(second), "--json", "--config", daemon.config)
        self.assertEqual(json.loads(result.stdout), {"job": second, "state": "cancelled"})
        self.assertEqual(daemon.job(second)["state"], "cancelled")
        open_gate(daemon)
        self.assertEqual(daemon.wait_finished(first)["state"], "succeeded")

    def test_anEndedJobIsTheDaemonsRefusal(self) -> None:
        daemon = LiveDaemon(self, hook())
        daemon.wait_finished(deliver(daemon))
        result = hookdaemon("cancel", "1", "--config", daemon.config)
        self.assertEqual(
            (result.returncode, result.stderr),
            (1, "hookdaemon cancel: job 1 has ended (succeeded)\n"),
        )


class ErrorTests(SynchronousTestCase):
    """Each error is one line on stderr: no daemon, no such job, a token refused."""

    def test_noDaemon(self) -> None:
        daemon = LiveDaemon(self, hook())
        daemon.stop()
        for command in (("jobs",), ("show", "1"), ("log", "1"), ("replay", "1"), ("cancel", "1")):
            result = hookdaemon(*command, "--config", daemon.config)
            self.assertEqual(
                (result.returncode, result.stdout, result.stderr),
                (
                    2,
                    "",
                    f"hookdaemon {command[0]}: no daemon answers at {daemon.url}"
                    " (connection refused)\n",
                ),
            )

    def test_noSuchJob(self) -> None:
        daemon = LiveDaemon(self, hook())
        for command in ("show", "log"):
            result = hookdaemon(command, "99", "--config", daemon.config)
            self.assertEqual(
                (result.returncode, result.stdout, result.stderr),
                (1, "", f"hookdaemon {command}: no job 99\n"),
            )

    def test_tokens(self) -> None:
        """The config's status_token reads; another is refused; none at all is asked for."""
        daemon = LiveDaemon(
            self, hook(), "status_token = env:READ_TOKEN", environ={"READ_TOKEN": "r3ad"}
        )
        reading = hookdaemon("jobs", "--config", daemon.config, environ={"READ_TOKEN": "r3ad"})
        self.assertEqual((reading.returncode, reading.stdout), (0, "no jobs\n"))
        wrong = hookdaemon("jobs", "--config", daemon.config, "--token", "nope")
        self.assertEqual(
            (wrong.returncode, wrong.stderr),
            (
                1,
                f"hookdaemon jobs: the daemon at {daemon.url} refused the token given with"
                " --token (401: a valid status_token is required); give one of its status_token"
                " values with --token\n",
            ),
        )
        stale = hookdaemon("jobs", "--config", daemon.config, environ={"READ_TOKEN": "old"})
        self.assertEqual(
            (stale.returncode, stale.stderr),
            (
                1,
                f"hookdaemon jobs: the daemon at {daemon.url} refused the status_token of"
                f" {daemon.config} (401: a valid status_token is required); give one of its"
                " status_token values with --token\n",
            ),
        )
        # No config here to read a token from.
        none = hookdaemon("jobs", "--url", daemon.url, cwd=tempfile.gettempdir())
        self.assertEqual(
            (none.returncode, none.stderr),
            (
                1,
                f"hookdaemon jobs: the daemon at {daemon.url} wants a token (401: a valid"
                " status_token is required); set status_token in the config, or give --token\n",
            ),
        )
        given = hookdaemon("jobs", "--url", daemon.url, "--token", "env:T", environ={"T": "r3ad"})
        self.assertEqual(given.returncode, 0, given.stderr)

    def test_aStatusTokenMayNotAct(self) -> None:
        daemon = LiveDaemon(self, hook(), "status_token = r3ad")
        finished(daemon, deliver(daemon), "r3ad")
        result = hookdaemon("replay", "1", "--config", daemon.config)
        self.assertEqual(
            (result.returncode, result.stderr),
            (
                1,
                f"hookdaemon replay: the daemon at {daemon.url} refused (403: set operator_token"
                " to replay or cancel jobs)\n",
            ),
        )

    def test_theOperatorTokenActs(self) -> None:
        daemon = LiveDaemon(self, hook(), "status_token = r3ad\noperator_token = 0perate")
        finished(daemon, deliver(daemon), "r3ad")
        result = hookdaemon("replay", "1", "--config", daemon.config)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        as_reader = hookdaemon("cancel", "1", "--config", daemon.config, "--token", "r3ad")
        self.assertEqual(
            (as_reader.returncode, as_reader.stderr),
            (
                1,
                f"hookdaemon cancel: the daemon at {daemon.url} refused (403: this status_token"
                " may read jobs but not replay or cancel them; use an operator_token)\n",
            ),
        )

    def test_aStalledDaemonIsTheTimeout(self) -> None:
        daemon = LiveDaemon(self, hook())
        daemon.process.send_signal(signal.SIGSTOP)
        self.addCleanup(daemon.process.send_signal, signal.SIGCONT)
        result = hookdaemon("jobs", "--config", daemon.config, "--timeout", "0.5")
        self.assertEqual(
            (result.returncode, result.stderr),
            (2, f"hookdaemon jobs: no daemon answers at {daemon.url} (nothing within 0.5 s)\n"),
        )

    def test_aConfigThatCannotBeRead(self) -> None:
        result = hookdaemon("jobs", "--config", "/nonexistent/tap.cfg")
        self.assertEqual(
            (result.returncode, result.stderr),
            (
                2,
                "hookdaemon jobs: cannot read /nonexistent/tap.cfg: No such file or directory;"
                " give --config, or --url\n",
            ),
        )


class OtherListenDaemon(TwistdDaemon):
    """A L{TwistdDaemon} listening on C{listen} (its {port}: the free port) instead."""

    def __init__(self, case: SynchronousTestCase, listen: str, hooks: str, daemon: str = ""):
        super().__init__(case.mktemp(), hooks, daemon)
        with open(self.config) as f:
            text = f.read()
        written = f"listen = tcp:{self.port}:interface=127.0.0.1\n"
        with open(self.config, "w") as f:
            f.write(text.replace(written, f"listen = {listen.format(port=self.port)}\n"))
        self.start()
        case.addCleanup(self.stop)


def self_signed(directory: str) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, in files: (certificate, key)."""
    issued = issue("hookdaemon test", 1, address="127.0.0.1")
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    write(cert_path, issued.certificate_pem)
    write(key_path, issued.key_pem)
    return cert_path, key_path


class EndpointTests(SynchronousTestCase):
    """The config's listen endpoint is where the commands go: TLS, a UNIX socket."""

    def test_anSslEndpointIsVerified(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        cert, key = self_signed(directory)
        daemon = OtherListenDaemon(
            self, f"ssl:{{port}}:interface=127.0.0.1:privateKey={key}:certKey={cert}", hook()
        )
        url = f"https://127.0.0.1:{daemon.port}"
        unverified = hookdaemon("jobs", "--config", daemon.config)
        self.assertEqual(unverified.returncode, 2)
        self.assertEqual(
            unverified.stderr,
            f"hookdaemon jobs: the certificate of {url} does not verify (self-signed"
            " certificate); give --cafile with that certificate (self-signed) or its CA, --url"
            " with the name it is for, or --insecure\n",
        )
        trusted = hookdaemon("jobs", "--config", daemon.config, "--cafile", cert)
        self.assertEqual((trusted.returncode, trusted.stdout), (0, "no jobs\n"), trusted.stderr)
        insecure = hookdaemon("jobs", "--config", daemon.config, "--insecure")
        self.assertEqual((insecure.returncode, insecure.stdout), (0, "no jobs\n"))
        sent = hookdaemon("send", "site", "--config", daemon.config, "--cafile", cert, "--follow")
        self.assertEqual(sent.returncode, 0, sent.stdout + sent.stderr)
        self.assertEqual(sent.stdout.splitlines()[-1], "job 1 succeeded (exit 0)")

    def test_aUnixSocket(self) -> None:
        """Through the socket, with a token: the job API takes no tokenless socket callers."""
        directory = tempfile.mkdtemp(prefix="hd-")  # a socket's path is short
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "d.sock")
        daemon = OtherListenDaemon(self, f"unix:{path}", hook(), "status_token = r3ad")
        sent = hookdaemon("send", "site", "--config", daemon.config, "--follow")
        self.assertEqual(sent.returncode, 0, sent.stdout + sent.stderr)
        self.assertTrue(sent.stdout.startswith(f"POST unix:{path}/hooks/site: "), sent.stdout)
        listed = hookdaemon("jobs", "--config", daemon.config)
        self.assertEqual((listed.returncode, listed.stderr), (0, ""))
        self.assertEqual([line.split()[0] for line in listed.stdout.splitlines()], ["ID", "1"])
        gone = hookdaemon("jobs", "--url", f"unix:{path}.gone", "--token", "r3ad")
        self.assertEqual(
            (gone.returncode, gone.stderr),
            (2, f"hookdaemon jobs: no daemon answers at unix:{path}.gone (no such socket)\n"),
        )


class DaemonAddressTests(SynchronousTestCase):
    def test_theFirstTcpOrSslEndpoint(self) -> None:
        cases = {
            ("tcp:9000:interface=127.0.0.1",): "http://127.0.0.1:9000",
            ("tcp:9000",): "http://127.0.0.1:9000",
            ("tcp:port=9001:interface=0.0.0.0",): "http://127.0.0.1:9001",
            ("tcp6:9000",): "http://[::1]:9000",
            ("tcp6:9000:interface=\\:\\:",): "http://[::1]:9000",
            ("tcp6:9000:interface=fd00\\:\\:5",): "http://[fd00::5]:9000",
            ("ssl:8443:privateKey=k.pem:certKey=c.pem",): "https://127.0.0.1:8443",
            ("unix:/run/h.sock", "tcp:9000"): "http://127.0.0.1:9000",
            ("systemd:domain=INET:index=0", "unix:/run/h.sock:mode=660"): "unix:/run/h.sock",
        }
        for listen, url in cases.items():
            self.assertEqual(DaemonAddress.from_listen(listen).url, url, listen)
        address = DaemonAddress.from_listen(("tcp6:9000",))
        self.assertEqual((address.host, address.port), ("::1", 9000))

    def test_nothingToConnectTo(self) -> None:
        with self.assertRaises(ValueError) as raised:
            DaemonAddress.from_listen(("systemd:domain=INET:index=0",))
        self.assertIn("give --url", str(raised.exception))

    def test_urls(self) -> None:
        address = DaemonAddress.from_url("https://hooks.example.org:8443/hookdaemon/")
        self.assertEqual(
            (address.scheme, address.host, address.port, address.base_path, address.url),
            (
                "https",
                "hooks.example.org",
                8443,
                "/hookdaemon",
                "https://hooks.example.org:8443/hookdaemon",
            ),
        )
        self.assertEqual(DaemonAddress.from_url("unix:/run/h.sock").socket_path, "/run/h.sock")
        for bad in ("ftp://x", "127.0.0.1:9000", "unix:", "http://x:port"):
            self.assertRaises(ValueError, DaemonAddress.from_url, bad)


class ClientConfigTests(SynchronousTestCase):
    def write(self, text: str) -> str:
        path = os.path.abspath(self.mktemp())
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_onlyTheDaemonSectionAndTheHookAreRead(self) -> None:
        path = self.write(
            "[hookdaemon]\nstatus_token = env:UNSET_HERE\n"
            "[hook:a]\nsecret = env:UNSET_TOO\nworkdir = .\ncommand = true\n"
            "[hook:b]\nsecret = b\nworkdir = .\ncommand = true\n"
        )
        config, names = read_config(path, "b", tokens=False)
        self.assertEqual((list(config.hooks), names), (["b"], ("a", "b")))
        with self.assertRaises(ConfigError) as raised:
            read_config(path, "a", tokens=False)
        # Problems name the file's own lines.
        self.assertEqual(
            [str(p) for p in raised.exception.problems],
            [f"{path}: [hook:a] secret: env:UNSET_TOO is not set in the daemon's environment"],
        )
        self.assertRaises(ConfigError, read_config, path, None, tokens=True)

    def test_aLineNumberIsTheFilesOwn(self) -> None:
        path = self.write(
            "[hookdaemon]\nlisten = tcp:1\n[hook:a]\nworkdir = .\ncommand = true\n"
            "[hook:b]\nallow_from = 10.0.0.1\n    nonsense\nworkdir = .\ncommand = true\n"
        )
        with self.assertRaises(ConfigError) as raised:
            read_config(path, "b")
        self.assertIn("(line 8)", str(raised.exception))

    def test_whichToken(self) -> None:
        path = self.write("[hookdaemon]\nstatus_token =\n    s1\n    s2\noperator_token = o1\n")
        daemon = read_config(path)[0].daemon
        self.assertEqual(config_token(daemon, act=False), (b"s1", "status_token"))
        self.assertEqual(config_token(daemon, act=True), (b"o1", "operator_token"))
        operator_only = read_config(self.write("[hookdaemon]\noperator_token = o1\n"))[0].daemon
        self.assertEqual(config_token(operator_only, act=False), (b"o1", "operator_token"))
        none = read_config(self.write("[hookdaemon]\n"))[0].daemon
        self.assertEqual(config_token(none, act=True), (None, "operator_token"))

    def test_givenTokens(self) -> None:
        path = self.write("from-a-file\n")
        self.assertEqual(given_token(f"file:{path}"), b"from-a-file")
        self.assertEqual(given_token("plain"), b"plain")
        os.environ["HOOKDAEMON_TEST_TOKEN"] = "from-env"
        self.addCleanup(os.environ.pop, "HOOKDAEMON_TEST_TOKEN")
        self.assertEqual(given_token("env:HOOKDAEMON_TEST_TOKEN"), b"from-env")
        self.assertRaises(ValueError, given_token, "env:HOOKDAEMON_TEST_UNSET")
        self.assertRaises(ValueError, given_token, "file:/nonexistent")


class JobTableTests(SynchronousTestCase):
    def test_durations(self) -> None:
        self.assertEqual(
            [seconds_text(s) for s in (0.04, 9.96, 12, 185, 7650)],
            ["0.0s", "10s", "12s", "3m05s", "2h07m"],
        )
        now = datetime.datetime(2026, 1, 1, 0, 1, tzinfo=datetime.UTC)
        running = {"started_at": "2026-01-01T00:00:00.000+00:00", "finished_at": None}
        self.assertEqual(duration(running, now), "1m00s+")
        self.assertEqual(duration({"started_at": None}, now), "-")

    def test_refs(self) -> None:
        self.assertEqual(
            [short_ref(r) for r in ("refs/heads/main", "refs/tags/v1", "refs/pull/4/head", "")],
            ["main", "tag v1", "refs/pull/4/head", "-"],
        )

    def test_reportsSayWhenTheyWereSentOrWillBeTriedAgain(self) -> None:
        at = "2026-12-03T10:00:02.000+00:00"
        local = local_time(at)
        job = {
            "reports": [
                {"what": "commit status success", "outcome": "sent", "detail": "201", "at": at},
                {"what": "email", "outcome": "waiting", "attempts": 3, "detail": "503", "at": at},
                {"what": "slack", "outcome": "waiting", "attempts": 0, "at": None},
                "not a report",
            ]
        }
        self.assertEqual(
            report_lines(job),
            [
                f"commit status success: sent (201) at {local}",
                f"email: not sent after 3 tries (503); next try {local}",
                "slack: not yet sent",
            ],
        )
        self.assertEqual(report_lines({"reports": None}), [])
