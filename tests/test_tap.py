"""
twistd itself: `--check`, startup refusing a bad config without a traceback,
and a real `twistd -n hookdaemon` serving a delivery.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.endpoint_text import endpoint_base_url, hook_address
from hookdaemon.journal import Journal
from hookdaemon.testing import FOREGROUND, TWISTD, TwistdDaemon, run_twistd
from tests.support import alive
from tests.test_cli import COMMAND

TOKEN = "ghp_" + "Q7x" * 12
TOKEN_DIGITS = "7391846205" * 3
"""A numeric secret, which an integer option such as backlog takes."""

BAD = """\
[hookdaemon]
listen = tcp:9000:interface=127.0.0.1
max_parallel = lots
colour = blue

[hook:site]
forge = githab
secret = env:HOOKDAEMON_TEST_UNSET
workdir = /srv/site
command = git reset --hard ${HOOK_AFTR}

[hooks:typo]
"""


def _kill_quietly(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


class TwistdTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)

    def write(self, text: str) -> str:
        path = os.path.join(self.directory, "tap.cfg")
        with open(path, "w") as f:
            f.write(text)
        return path

    def twistd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_twistd(*args, cwd=self.directory, environ={"HOOKDAEMON_TEST_UNSET": None})

    def test_checkListsEveryProblemAsFileSectionKey(self) -> None:
        path = self.write(BAD)
        result = self.twistd("hookdaemon", "--config", path, "--check")
        self.assertEqual(result.returncode, 1)
        lines = result.stderr.splitlines()
        self.assertEqual(
            lines,
            [
                f"{path}: [hookdaemon] colour: unknown key (known keys: dashboard, "
                "delivery_id_days, "
                "delivery_id_max, header_timeout, history, listen, log_dir, log_keep, "
                "log_max_bytes, max_attempts, max_body, max_client_connections, "
                "max_connections, max_parallel, operator_token, "
                "payload_budget, public_url, request_timeout, state_dir, "
                "status_token, stop_grace, trusted_proxies)",
                f"{path}: [hookdaemon] max_parallel: is not a whole number; write one such as 4",
                f"{path}: [hook:site] forge: must be one of: "
                "auto, github, gitlab, gitea, forgejo, gogs, bitbucket, "
                "bitbucket-server, generic",
                f"{path}: [hook:site] command: step 1 (line 10) uses "
                "$HOOK_AFTR, which is not one of HOOK_NAME, HOOK_JOB, HOOK_FORGE, HOOK_EVENT, "
                "HOOK_DELIVERY, HOOK_REF, HOOK_BRANCH, HOOK_TAG, HOOK_BEFORE, HOOK_AFTER, "
                "HOOK_REPOSITORY, HOOK_CLONE_URL, HOOK_PUSHER, HOOK_PAYLOAD",
                f"{path}: [hook:site] secret: env:HOOKDAEMON_TEST_UNSET is not set in the "
                "daemon's environment",
                f"{path}: [hooks:typo]: unknown section; use [hookdaemon] or [hook:NAME]",
                f"{path}: 6 problem(s); nothing started",
            ],
        )

    def test_startupWithBadConfigPrintsProblemsNotATraceback(self) -> None:
        path = self.write(BAD)
        result = self.twistd(*FOREGROUND, "--logfile=-", "hookdaemon", "--config", path)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(
            f"{path}: [hookdaemon] max_parallel: is not a whole number; write one such as 4",
            result.stderr,
        )
        self.assertNotIn("Traceback", result.stderr + result.stdout)

    def test_missingConfigFileIsNamed(self) -> None:
        missing = os.path.join(self.directory, "nope.cfg")
        result = self.twistd("hookdaemon", "--config", missing, "--check")
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{missing}: [-]: cannot read: No such file or directory", result.stderr)

    def test_badListenEndpointIsAConfigProblem(self) -> None:
        path = self.write("[hookdaemon]\nlisten = tcp:9000 tcp:notaport\n")
        result = self.twistd("hookdaemon", "--config", path, "--check")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr.splitlines(),
            [
                f"{path}: [hookdaemon] listen: endpoint 2 (tcp) is not a Twisted endpoint "
                "string: invalid literal for int() with base 10: '...'",
                f"{path}: 1 problem(s); nothing started",
            ],
        )

    def test_anUnescapedIPv6InterfaceSaysHowToWriteIt(self) -> None:
        path = self.write("[hookdaemon]\nlisten = tcp:9000:interface=::1\n")
        result = self.twistd("hookdaemon", "--config", path, "--check")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr.splitlines()[0],
            f"{path}: [hookdaemon] listen: endpoint 1 (tcp) is not a Twisted endpoint string:"
            " _parseTCP() got multiple values for argument 'interface'; write each : of an"
            " IPv6 interface as \\:, as in interface=\\:\\:1",
        )

    def test_checkOnGoodConfigListsHooksAndUrls(self) -> None:
        path = self.write(
            "[hookdaemon]\nlisten = tcp:9123:interface=127.0.0.1\n"
            "[hook:site]\nforge = github\nsecret = env:HOME\nworkdir = .\ncommand = true\n"
        )
        result = self.twistd("hookdaemon", "--config", path, "--check")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            result.stdout.splitlines(),
            [
                f"{path}: OK",
                "hook site: forge github, secret env:HOME: http://127.0.0.1:9123/hooks/site",
            ],
        )

    def test_literalSecretIsWarnedAboutAndNeverPrinted(self) -> None:
        path = self.write(
            "[hook:site]\nforge = generic\nsecret = hunter2-literal\nworkdir = .\ncommand = true\n"
        )
        result = self.twistd("hookdaemon", "--config", path, "--check")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("[hook:site] secret: the secret is written in the file", result.stderr)
        self.assertNotIn("hunter2", result.stdout + result.stderr)

    def test_checkRefusesASigningTokenThatIsNotBase64(self) -> None:
        """A whsec_ secret GitLab could not have shown is refused, not used as a plain string."""
        with open(os.path.join(self.directory, "gl.secret"), "w") as f:
            f.write(f"whsec_{TOKEN}!\n")
        path = self.write(
            "[hook:gl]\nforge = gitlab\nsecret = file:gl.secret\nworkdir = .\ncommand = true\n"
        )
        result = self.twistd("hookdaemon", "--config", path, "--check")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr.splitlines(),
            [
                f"{path}: [hook:gl] secret: file:gl.secret starts with whsec_ but what follows "
                "is not a base64 key; copy the signing token from GitLab again, whole",
                f"{path}: 1 problem(s); nothing started",
            ],
        )
        self.assertNotIn(TOKEN, result.stdout + result.stderr)

    def test_checkAcceptsASigningTokenWithoutItsPadding(self) -> None:
        key = base64.b64encode(bytes(range(32))).decode()
        with open(os.path.join(self.directory, "gl.secret"), "w") as f:
            f.write(f"whsec_{key.rstrip('=')}\n")
        path = self.write(
            "[hook:gl]\nforge = gitlab\nsecret = file:gl.secret\nworkdir = .\ncommand = true\n"
        )
        result = self.twistd("hookdaemon", "--config", path, "--check")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("hook gl: forge gitlab, secret file:gl.secret", result.stdout)

    def test_shellWarningsAtCheckAndAtStartup(self) -> None:
        """On the terminal for --check and for a start, and in the daemon's log file."""
        daemon = TwistdDaemon(
            self.directory,
            "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\nshell = yes\n"
            "command = echo $HOOK_PUSHER\n",
        )
        warning = (
            f"{daemon.config}: [hook:site] command: step 1 (line 7) leaves $HOOK_PUSHER "
            "unquoted, so sh splits its value into words and expands * and ? in it to file "
            'names; write "$HOOK_PUSHER" in double quotes (warning)'
        )
        check = daemon.check()
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertEqual(check.stderr.splitlines(), [warning])

        daemon.start()
        self.addCleanup(daemon.stop)
        daemon.stop()
        self.assertEqual(daemon.stderr.splitlines(), [warning])
        self.assertIn(warning, daemon.log)

    def test_underJournaldWarningsAreLoggedOnce(self) -> None:
        """With stderr journald's stream, the printed copy would be a second one, at info."""
        hooks = (
            "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\nshell = yes\n"
            "command = echo $HOOK_PUSHER\n"
        )
        stderr = os.path.join(self.directory, "twistd.stderr")
        open(stderr, "w").close()
        found = os.stat(stderr)
        daemon = TwistdDaemon(
            self.directory, hooks, environ={"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
        )
        daemon.start()
        self.addCleanup(daemon.stop)
        daemon.stop()
        self.assertNotIn("(warning)", daemon.stderr)
        self.assertIn("leaves $HOOK_PUSHER unquoted", daemon.log)
        # --check has no log: it prints them whatever stderr is.
        check = daemon.check()
        self.assertIn("leaves $HOOK_PUSHER unquoted", check.stderr)

    def test_underJournaldARefusedStartSaysWhyAtErr(self) -> None:
        stderr = os.path.join(self.directory, "stderr")
        path = os.path.join(self.directory, "tap.cfg")
        with open(path, "w") as f:
            f.write("[hook:site]\nworkdir = .\ncommand = true\nshell = maybe\n")
        with open(stderr, "w") as out:
            found = os.fstat(out.fileno())
            done = subprocess.run(
                [*TWISTD, *FOREGROUND, "hookdaemon", "--config", path],
                cwd=self.directory,
                stderr=out,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"},
                timeout=60,
            )
        self.assertEqual(done.returncode, 1)
        with open(stderr) as f:
            self.assertEqual(
                f.read().splitlines(),
                [
                    f"<3>{path}: [hook:site] shell: must be yes or no",
                    f"<3>{path}: 1 problem(s); nothing started",
                ],
            )

    def test_shippedTapCfgChecksClean(self) -> None:
        shipped = os.path.join(os.path.dirname(os.path.dirname(__file__)), "tap.cfg")
        result = self.twistd("hookdaemon", "--config", shipped, "--check")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("http://127.0.0.1:9000/hooks/example", result.stdout)

    def test_realTwistdServesADelivery(self) -> None:
        daemon = TwistdDaemon(
            self.directory,
            "[hook:site]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\n"
            "command = echo deployed ${HOOK_REF}\n",
        ).start()
        self.addCleanup(daemon.stop)
        answer = daemon.post("/hooks/site", b'{"ref": "refs/heads/main"}')
        self.assertEqual(answer, (202, {"job": 1, "status": "queued", "url": "/jobs/1"}))
        for _ in range(500):
            if "job succeeded" in daemon.output("site"):
                break
            time.sleep(0.02)
        self.assertIn("1 stdout deployed refs/heads/main\n", daemon.output("site"))
        self.assertIn("job 1 for hook site succeeded: exit 0", daemon.log)


class EndpointUrlTests(SynchronousTestCase):
    def test_urls(self) -> None:
        self.assertEqual(
            endpoint_base_url("tcp:9000:interface=127.0.0.1"), "http://127.0.0.1:9000"
        )
        self.assertEqual(endpoint_base_url("tcp:port=80"), "http://0.0.0.0:80")
        self.assertEqual(endpoint_base_url("tcp6:9000:interface=\\:\\:1"), "http://[::1]:9000")
        self.assertEqual(endpoint_base_url("ssl:443:privateKey=k.pem"), "https://0.0.0.0:443")
        self.assertEqual(
            endpoint_base_url("unix:/run/hookdaemon.sock"), "unix:/run/hookdaemon.sock"
        )
        self.assertEqual(
            endpoint_base_url("unix:address=/run/h.sock:mode=660:lockfile=1"), "unix:/run/h.sock"
        )

    def test_whereAHookIsReachedThroughEachKind(self) -> None:
        """--check's listing: a URL where there is one, and how to get there where not."""
        self.assertEqual(
            hook_address("tcp:9000:interface=127.0.0.1", "/hooks/who"),
            "http://127.0.0.1:9000/hooks/who",
        )
        self.assertEqual(
            hook_address("unix:/run/hookdaemon.sock", "/hooks/who"),
            "http://localhost/hooks/who through the UNIX socket /run/hookdaemon.sock",
        )
        self.assertEqual(
            hook_address("systemd:domain=INET:index=0", "/hooks/who"),
            "/hooks/who on the socket systemd passes (index 0; see its .socket unit)",
        )
        self.assertEqual(
            hook_address(f"haproxy:tcp:443:privateKey={TOKEN}", "/hooks/who"),
            "/hooks/who on haproxy:(options not shown)",
        )

    def test_otherOptionsAreNotShown(self) -> None:
        """Only what makes the address: a plugin's options may hold a password."""
        self.assertEqual(
            endpoint_base_url(f"onion:443:privateKey={TOKEN}"), "onion:(options not shown)"
        )
        self.assertEqual(
            endpoint_base_url(f"ssl:443:privateKey=/etc/{TOKEN}.pem:interface=10.0.0.1"),
            "https://10.0.0.1:443",
        )


STARTS = {
    "twistd -n hookdaemon": [*TWISTD, *FOREGROUND, "--logfile=-", "hookdaemon"],
    "hookdaemon run": [*COMMAND, "run"],
}
"""The two ways to start the daemon in the foreground, logging to stdout."""


class StartFailureTests(SynchronousTestCase):
    """
    A daemon that stops itself as it starts exits 1, whichever way it was
    started, so that systemd's Restart=on-failure and scripts see it (twistd
    alone exits 0 whenever no signal stopped it); a SIGTERM still ends it.
    """

    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)

    def start(
        self, daemon: str, listen: str = "tcp:0:interface=127.0.0.1"
    ) -> dict[str, subprocess.CompletedProcess[str]]:
        """Each way of starting, run to its end on a config with C{daemon}'s lines."""
        path = os.path.join(self.directory, "tap.cfg")
        with open(path, "w") as f:
            f.write(
                f"[hookdaemon]\nlisten = {listen}\n{daemon}\n"
                "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n"
            )
        return {
            name: run_twistd("--config", path, cwd=self.directory, twistd=start)
            for name, start in STARTS.items()
        }

    def test_aStateDirInUseByAnotherDaemon(self) -> None:
        first = TwistdDaemon(
            self.mktemp(), "[hook:a]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n"
        )
        self.addCleanup(first.stop)
        first.start()
        state = os.path.join(first.directory, "var")
        for name, done in self.start(f"state_dir = {state}").items():
            self.assertEqual(done.returncode, 1, f"{name}:\n{done.stdout}{done.stderr}")
            self.assertIn(
                f"journal: {state} is in use by another hookdaemon (pid {first.process.pid}):"
                " stop that one first, or give this one its own state_dir; stopping",
                done.stdout,
            )
        self.assertIsNone(first.process.poll())
        self.assertEqual(first.stop(), -signal.SIGTERM)

    def test_aLogDirThatCannotBeMade(self) -> None:
        """A part that cannot start: one line, no traceback, and the process ends."""
        taken = os.path.join(self.directory, "a-file")
        open(taken, "w").close()
        logs = os.path.join(taken, "logs")
        for name, done in self.start(f"log_dir = {logs}").items():
            self.assertEqual(done.returncode, 1, f"{name}:\n{done.stdout}{done.stderr}")
            self.assertIn(
                f"cannot start the output logs: {logs}: Not a directory; stopping", done.stdout
            )
            self.assertNotIn("Traceback", done.stdout + done.stderr)
            self.assertIn("Server Shut Down.", done.stdout)  # twistd's own stop, to its end

    def test_aPortInUse(self) -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            ended = self.start("", listen=f"tcp:{port}:interface=127.0.0.1")
        for name, done in ended.items():
            self.assertEqual(done.returncode, 1, f"{name}:\n{done.stdout}{done.stderr}")
            self.assertIn(f"cannot listen on http://127.0.0.1:{port}: ", done.stdout)


class ListenFailureTests(SynchronousTestCase):
    def test_portInUseExitsNonZeroWithTheReason(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            path = os.path.join(directory, "tap.cfg")
            with open(path, "w") as f:
                # An option no address needs, holding what might be a token.
                listen = f"tcp:{port}:interface=127.0.0.1:backlog=50{TOKEN_DIGITS}"
                f.write(f"[hookdaemon]\nlisten = {listen}\n")
            result = run_twistd(
                *FOREGROUND, "--logfile=-", "hookdaemon", "--config", path, cwd=directory
            )
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"cannot listen on http://127.0.0.1:{port}: ", result.stdout)
        self.assertIn("Address already in use", result.stdout)
        self.assertNotIn(TOKEN_DIGITS, result.stdout + result.stderr)

    def test_systemdEndpointPassesCheck(self) -> None:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        path = os.path.join(directory, "tap.cfg")
        with open(path, "w") as f:
            f.write("[hookdaemon]\nlisten = systemd:domain=INET:index=0\n")
        result = run_twistd("hookdaemon", "--config", path, "--check", cwd=directory)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("Traceback", result.stderr)


class CrashTests(SynchronousTestCase):
    """A real twistd, killed with SIGKILL mid-job, started again on the same state."""

    def setUp(self) -> None:
        self.daemon = TwistdDaemon(
            self.mktemp(),
            "[hook:site]\nforge = generic\nallow_from = 127.0.0.1\nworkdir = .\n"
            "burst = queue\n"
            "command = sh -c 'echo started $HOOK_JOB $$ $HOOK_AFTER; "
            "while [ ! -e release-$HOOK_JOB ]; do sleep 0.01; done'\n",
            daemon="stop_grace = 1",
        )
        self.directory = self.daemon.directory
        self.addCleanup(self.daemon.stop)

    def post(self, after: str) -> tuple[int, Any]:
        body = json.dumps({"ref": "refs/heads/main", "after": after}).encode()
        return self.daemon.post("/hooks/site", body)

    def log(self) -> str:
        return self.daemon.output("site")

    def wait_for(self, text: str) -> None:
        for _ in range(1500):
            if text in self.log():
                return
            time.sleep(0.02)
        raise AssertionError(f"{text!r} never appeared in the output log")

    def release(self, job: object) -> None:
        open(os.path.join(self.directory, f"release-{job}"), "w").close()

    def test_sigkillLosesNothingAnswered(self) -> None:
        self.daemon.start()
        answers = [self.post(after) for after in ("1" * 40, "2" * 40, "3" * 40)]
        self.assertEqual([code for code, _ in answers], [202, 202, 202])
        jobs = [answer["job"] for _, answer in answers]
        self.wait_for(f"stdout started {jobs[0]} ")
        self.daemon.kill()
        # The killed daemon's job runs on in its own session: the next daemon must
        # end it before running that job again.
        orphan = int(self.log().split(f"stdout started {jobs[0]} ")[1].split()[0])
        self.addCleanup(_kill_quietly, orphan)
        self.assertTrue(alive(orphan))

        self.daemon.start()
        retry = jobs[-1] + 1
        for job in (jobs[1], jobs[2], retry):
            self.release(job)
        self.wait_for(f"{jobs[2]} hookdaemon job succeeded")
        log = self.log()
        order = [log.index(f"stdout started {job} ") for job in (retry, jobs[1], jobs[2])]
        self.assertEqual(order, sorted(order))
        self.assertIn(f"stdout started {retry} ", log)
        self.assertIn(" " + "1" * 40, log.split(f"stdout started {retry} ")[1].splitlines()[0])
        self.assertFalse(alive(orphan))
        daemon_log = self.daemon.log
        ended = daemon_log.index(
            f"job {jobs[0]}: its process group {orphan} outlived the last daemon"
        )
        self.assertLess(ended, daemon_log.index(f"job {retry} for hook site started"))
        code, answer = self.post("4" * 40)
        self.assertEqual((code, answer["job"]), (202, retry + 1))
        self.release(retry + 1)
        journal = Journal(self.daemon.journal_path)
        self.addCleanup(journal.close)
        states = {record.id: record.state for record in journal.recent("site")}
        self.assertEqual(states[jobs[0]], "interrupted")
        self.assertEqual([states[job] for job in (jobs[1], jobs[2], retry)], ["succeeded"] * 3)
