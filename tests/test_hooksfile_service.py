"""
What hookdaemon adds to adnanh/webhook's hooks files (issue 16, item 3), on a
real C{twistd -n hookdaemon --hooks FILE} on 127.0.0.1 running real child
processes: one run at a time per hook, answers that do not wait, the job API
and the hook's log, de-duplication of forge deliveries, timeouts that end the
whole process group, nothing accepted lost to a SIGKILL, replays, ignored
calls recorded, and passed files removed.

Every command is L{RECORDER}, written into the test's directory: it appends a
line of JSON to C{runs.jsonl} as it starts (what it was given) and as it ends,
and waits for a file C{go-TAG} when told to, so that a test holds a run where
it wants it and reads the order of events instead of timing anything.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pwd
import signal
import sys
from collections.abc import Mapping
from typing import Any

from attrs import frozen
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import TestCase
from twisted.web.http_headers import Headers

from hookdaemon.testing import TwistdDaemon
from tests.fake_api import FakeApi, TestCA
from tests.forgefixtures import fixture_body, fixture_headers
from tests.support import get, http_client, post, wait_for, wait_until

RECORDER = """#!@PYTHON@
import json, os, stat, sys, time

RECORDS = @RECORDS@
tag, mode = (sys.argv[1:] + ["", ""])[:2]


def record(event, **more):
    line = json.dumps({"event": event, "tag": tag, "pid": os.getpid(), **more}) + "\\n"
    fd = os.open(RECORDS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


passed = os.environ.get("CONFIG_FILE")
content = mode_bits = None
if passed is not None:
    with open(passed, "rb") as f:
        content = f.read().decode("latin-1")
        mode_bits = oct(stat.S_IMODE(os.fstat(f.fileno()).st_mode))
record(
    "start",
    argv=sys.argv[1:],
    env=dict(os.environ),
    cwd=os.getcwd(),
    pgid=os.getpgrp(),
    file=content,
    file_mode=mode_bits,
)
print("output of " + tag, flush=True)
print("second line", flush=True)
if mode == "wait":
    go = os.path.join(os.path.dirname(RECORDS), "go-" + tag)
    while not os.path.exists(go):
        time.sleep(0.02)
record("end")
sys.exit(3 if mode == "fail" else 0)
"""
"""
One run of a hook, as a line at its start and one at its end: its arguments
are a tag and a mode (C{wait}: until go-TAG exists; C{fail}: exit 3).
"""

SLEEPER = """#!@PYTHON@
import json, os, subprocess, sys, time

RECORDS = @RECORDS@
ready = RECORDS + ".ready"
# A grandchild that ignores SIGTERM and holds none of the step's pipes: only a
# SIGKILL to the whole group ends it, and nothing makes the job wait for it.
grandchild = subprocess.Popen(
    ["/bin/sh", "-c", "trap '' TERM; : > " + ready + "; exec sleep 300"],
    stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
while not os.path.exists(ready):
    time.sleep(0.02)
line = {"event": "start", "tag": "sleeper", "pid": os.getpid(), "pgid": os.getpgrp(),
        "grandchild": grandchild.pid}
with open(RECORDS, "a") as f:
    f.write(json.dumps(line) + "\\n")
print("sleeping", flush=True)
time.sleep(300)
"""
"""A command that sleeps past any test's timeout, with a grandchild that ignores SIGTERM."""

TAG_AND_MODE = [{"source": "payload", "name": "tag"}, {"source": "payload", "name": "mode"}]

CONFIG_FILE = {"source": "payload", "name": "config", "envname": "CONFIG_FILE"}
"""A pass-file-to-command the recorder reads: the payload's C{config}."""

COMMAND_ERROR = (
    b"Error occurred while executing the hook's command. Please check your logs for more details."
)
"""webhook's answer when an include-command-output-in-response hook's command fails."""

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The PATH every command gets (README: a step's environment)."""


@frozen
class Called:
    """One call's answer."""

    code: int
    body: bytes
    headers: Headers

    @property
    def job(self) -> int | None:
        """The job the call became: its X-Hookdaemon-Job header."""
        values = self.headers.getRawHeaders(b"x-hookdaemon-job")
        return None if not values else int(values[0])

    def header(self, name: str) -> list[str]:
        return list(self.headers.getRawHeaders(name) or [])


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group C{pgid}."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in (b"Z", b"X") and int(fields[2]) == pgid:
            found.append(int(name))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


class HooksFileService(TestCase):
    """A hooks-file daemon in the test's directory, and what its commands recorded."""

    def setUp(self) -> None:
        self.root = os.path.abspath(self.mktemp())
        self.tmp = os.path.join(self.root, "tmp")
        self.work = os.path.join(self.root, "work")
        for directory in (self.tmp, self.work):
            os.makedirs(directory)
        self.records = os.path.join(self.root, "runs.jsonl")
        self.recorder = self.script("record.py", RECORDER)
        self.sleeper = self.script("sleep.py", SLEEPER)
        # After every daemon's stop too: no run outlives the test.
        self.addCleanup(self.end_groups)

    def script(self, name: str, text: str) -> str:
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(
                text.replace("@PYTHON@", sys.executable).replace("@RECORDS@", repr(self.records))
            )
        os.chmod(path, 0o755)
        return path

    def end_groups(self) -> None:
        for line in self.runs():
            with contextlib.suppress(OSError, KeyError):
                os.killpg(line["pgid"], signal.SIGKILL)

    def recorded(self, hook_id: str, **properties: Any) -> dict[str, Any]:
        """
        A hook running the recorder with the payload's tag and mode, and
        C{properties} (their names' _ written -).
        """
        return {
            "id": hook_id,
            "execute-command": self.recorder,
            "pass-arguments-to-command": TAG_AND_MODE,
            **{name.replace("_", "-"): value for name, value in properties.items()},
        }

    def start(
        self, *hooks: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> TwistdDaemon:
        """twistd serving C{hooks} from a hooks file, run in the test's directory."""
        path = os.path.join(self.root, "hooks.json")
        with open(path, "w") as f:
            json.dump(list(hooks), f, indent=2)
        daemon = TwistdDaemon(
            os.path.join(self.root, "hookdaemon"),
            hooks="",
            environ={"TMPDIR": self.tmp, **(environ or {})},
            cwd=self.root,
            options=["--hooks", path],
            tap_cfg=False,
        )
        self.addCleanup(daemon.stop)
        # Before its stop (cleanups run last first), which would wait for a held run.
        self.addCleanup(self.end_groups)
        daemon.start()
        return daemon

    def runs(self, tag: str | None = None) -> list[dict[str, Any]]:
        """What the commands recorded, in order; only C{tag}'s runs if given."""
        try:
            with open(self.records) as f:
                lines = [json.loads(line) for line in f]
        except FileNotFoundError:
            return []
        return [line for line in lines if tag is None or line["tag"] == tag]

    def events(self) -> list[str]:
        return [f"{line['event']} {line['tag']}" for line in self.runs()]

    def go(self, tag: str) -> None:
        open(os.path.join(self.root, f"go-{tag}"), "w").close()

    async def call(
        self,
        daemon: TwistdDaemon,
        hook: str,
        payload: Mapping[str, Any] | bytes,
        headers: Mapping[str, str] | None = None,
    ) -> Called:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = Headers()
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            sent.setRawHeaders(name, [value])
        response = await http_client().post(f"{daemon.url}/hooks/{hook}", data=body, headers=sent)
        return Called(response.code, await response.content(), response.headers)

    async def api(self, daemon: TwistdDaemon, path: str) -> Any:
        code, body = await get(daemon.url + path)
        self.assertEqual(code, 200, body)
        return json.loads(body)

    async def jobs(self, daemon: TwistdDaemon, query: str) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = (await self.api(daemon, f"/jobs?{query}"))["jobs"]
        return listed

    async def ended(self, daemon: TwistdDaemon, job: int) -> dict[str, Any]:
        """The job, once the journal says it ended."""
        shown: dict[str, Any] = {}

        async def over() -> bool:
            nonlocal shown
            shown = await self.api(daemon, f"/jobs/{job}")
            return shown["finished_at"] is not None

        await wait_until(over, f"job {job} to end")
        return shown

    def expected_environment(self, job: int, **given: str) -> dict[str, str]:
        """
        The whole environment a hooks-file command of job C{job} gets:
        hookdaemon's fixed part, the job's marker, C{given}.
        """
        account = pwd.getpwuid(os.getuid())
        return {
            "HOOKDAEMON_JOB": str(job),
            "PATH": BASE_PATH,
            "HOME": account.pw_dir,
            "LANG": "C.UTF-8",
            "GIT_TERMINAL_PROMPT": "0",
            "USER": account.pw_name,
            "LOGNAME": account.pw_name,
            **given,
        }

    def passed_files(self, directory: str) -> list[str]:
        return sorted(name for name in os.listdir(directory) if name.startswith("CONFIG_FILE"))


class OneRunAtATime(HooksFileService):
    async def test_two_calls_at_once_each_get_their_own_output_and_their_runs_do_not_overlap(
        self,
    ) -> None:
        """
        webhook runs both at once; hookdaemon runs the second once the first
        ended, and each call, waiting its turn, answers with its own command's
        output. The first run holds until the test sees the second call queued.
        """
        daemon = self.start(self.recorded("serial", include_command_output_in_response=True))
        calls = {
            tag: ensureDeferred(self.call(daemon, "serial", {"tag": tag, "mode": "wait"}))
            for tag in ("a", "b")
        }
        await wait_for(lambda: len(self.runs()) == 1, "one of the runs to start")
        (first,) = self.runs()
        second = "b" if first["tag"] == "a" else "a"
        jobs: list[dict[str, Any]] = []

        async def both_taken() -> bool:
            nonlocal jobs
            jobs = await self.jobs(daemon, "hook=serial")
            return len(jobs) == 2

        await wait_until(both_taken, "both calls to be jobs")
        self.assertEqual(sorted(job["state"] for job in jobs), ["queued", "running"])
        self.assertEqual(self.events(), [f"start {first['tag']}"])
        self.go(first["tag"])
        await wait_for(lambda: len(self.runs()) == 3, "the second run to start")
        self.assertEqual(
            self.events(), [f"start {first['tag']}", f"end {first['tag']}", f"start {second}"]
        )
        self.go(second)
        answers = {tag: await call for tag, call in calls.items()}
        self.assertEqual(
            {tag: (called.code, called.body) for tag, called in answers.items()},
            {tag: (200, f"output of {tag}\nsecond line\n".encode()) for tag in ("a", "b")},
        )
        self.assertEqual(
            self.events(),
            [f"start {first['tag']}", f"end {first['tag']}", f"start {second}", f"end {second}"],
        )
        self.assertEqual(
            sorted(called.job for called in answers.values() if called.job is not None),
            sorted(job["id"] for job in jobs),
        )


class AnswersAtOnce(HooksFileService):
    async def test_a_call_without_command_output_is_answered_while_its_command_runs(
        self,
    ) -> None:
        daemon = self.start(
            self.recorded("background", response_message="deploying\n"),
        )
        called = await self.call(daemon, "background", {"tag": "t", "mode": "wait"})
        self.assertEqual((called.code, called.body), (200, b"deploying\n"))
        assert called.job is not None
        # The command waits for go-t, which only now exists: it cannot have ended.
        self.assertNotIn("end t", self.events())
        self.assertIn(
            (await self.api(daemon, f"/jobs/{called.job}"))["state"], ("queued", "running")
        )
        await wait_for(lambda: self.events() == ["start t"], "the run to start")
        self.go("t")
        job = await self.ended(daemon, called.job)
        self.assertEqual(job["state"], "succeeded")
        self.assertEqual(self.events(), ["start t", "end t"])


class JobApi(HooksFileService):
    async def test_the_job_api_and_the_hooks_log_show_the_call(self) -> None:
        daemon = self.start(self.recorded("listed"))
        called = await self.call(daemon, "listed", {"tag": "t", "mode": "fail"})
        self.assertEqual((called.code, called.body), (200, b""))
        job_id = called.job
        assert job_id is not None
        job = await self.ended(daemon, job_id)
        self.assertEqual(
            (job["hook"], job["state"], job["exit_code"], job["reason"]),
            ("listed", "failed", 3, f"step 1/1 ({self.recorder}) exit 3"),
        )
        self.assertEqual(
            [(j["id"], j["state"]) for j in await self.jobs(daemon, "hook=listed")],
            [(job_id, "failed")],
        )
        code, log = await get(f"{daemon.url}/jobs/{job_id}/log")
        self.assertEqual(code, 200)
        self.assertEqual(
            log.decode().splitlines(),
            [
                f"hookdaemon step 1/1: {self.recorder}",
                "stdout output of t",
                "stdout second line",
                "hookdaemon step 1 ended: exit 3",
                "hookdaemon job failed",
            ],
        )
        path = os.path.join(self.root, "var", "log", "listed.log")
        self.assertTrue(os.path.exists(path), path)
        written = daemon.output("listed")
        for line in ("stdout output of t", "stdout second line", "hookdaemon job failed"):
            self.assertIn(f" {job_id} {line}\n", written)


class Deduplication(HooksFileService):
    async def test_a_github_delivery_sent_again_runs_once_and_is_answered_as_before(
        self,
    ) -> None:
        """
        The push fixture, with its X-GitHub-Event and X-GitHub-Delivery, three
        times: while its run goes on, and after it ended. webhook would run it
        three times; the hook's answer is the same each time.
        """
        daemon = self.start(
            {
                "id": "deploy",
                "execute-command": self.recorder,
                # Tag push, mode wait (for go-push), then the push's ref and commit.
                "pass-arguments-to-command": [
                    {"source": "string", "name": "push"},
                    {"source": "string", "name": "wait"},
                    {"source": "payload", "name": "ref"},
                    {"source": "payload", "name": "head_commit.id"},
                ],
                "response-message": "deploying",
                "success-http-response-code": 202,
            }
        )
        body = fixture_body("github", "push.json")
        headers = fixture_headers("github", "push.json")
        self.assertEqual(
            (headers["X-GitHub-Event"], headers["X-GitHub-Delivery"]),
            ("push", "f2467dea-70d6-11e8-8955-3c83993e0aef"),
        )
        first = await self.call(daemon, "deploy", body, headers)
        self.assertEqual((first.code, first.body), (202, b"deploying"))
        assert first.job is not None
        again = await self.call(daemon, "deploy", body, headers)
        await wait_for(lambda: self.events() == ["start push"], "the run")
        self.go("push")
        job = await self.ended(daemon, first.job)
        late = await self.call(daemon, "deploy", body, headers)
        for answer in (again, late):
            self.assertEqual(
                (answer.code, answer.body, answer.job, answer.header("content-type")),
                (first.code, first.body, first.job, first.header("content-type")),
            )
        self.assertEqual([j["id"] for j in await self.jobs(daemon, "hook=deploy")], [first.job])
        self.assertEqual(self.events(), ["start push", "end push"])
        self.assertEqual(
            self.runs()[0]["argv"],
            ["push", "wait", "refs/heads/master", "199eddf46df50de8d02e99bf1c5fdb4101338224"],
        )
        self.assertEqual(job["state"], "succeeded")
        self.assertEqual(
            {
                key: job["delivery"][key]
                for key in ("forge", "event", "id", "ref", "branch", "before", "after")
            },
            {
                "forge": "github",
                "event": "push",
                "id": "f2467dea-70d6-11e8-8955-3c83993e0aef",
                "ref": "refs/heads/master",
                "branch": "master",
                "before": "a10867b14bb761a232cd80139fbd4c0d33264240",
                "after": "199eddf46df50de8d02e99bf1c5fdb4101338224",
            },
        )


class Reporting(HooksFileService):
    async def test_a_hooks_file_hook_sets_the_commit_status_of_the_push_it_ran_for(
        self,
    ) -> None:
        """
        The C{hookdaemon} extras' report keys, as tap.cfg's: a GitHub push to
        a hooks-file hook gets its pending and success statuses, sent with the
        token from the daemon's environment and trusting the CA file named
        relative to the hooks file.
        """
        ca = TestCA()
        ca.write(os.path.join(self.root, "forge-ca.pem"))
        api = FakeApi(certificate=ca.issue(names=("127.0.0.1",)))
        await api.start()
        self.addCleanup(api.stop)
        extras = {
            "report": "github",
            "report_url": api.url,
            "report_token": "env:STATUS_TOKEN",
            "report_ca": "forge-ca.pem",
        }
        daemon = self.start(
            {"id": "deploy", "execute-command": "/bin/true", "hookdaemon": extras},
            environ={"STATUS_TOKEN": "gh-t0ken"},
        )
        called = await self.call(
            daemon,
            "deploy",
            fixture_body("github", "push.json"),
            fixture_headers("github", "push.json"),
        )
        assert called.job is not None
        self.assertEqual((await self.ended(daemon, called.job))["state"], "succeeded")
        pending, success = await api.received(2)
        commit = "199eddf46df50de8d02e99bf1c5fdb4101338224"
        for request in (pending, success):
            self.assertEqual(
                (request.method, request.path),
                ("POST", f"/repos/Codertocat/Hello-World/statuses/{commit}"),
            )
            self.assertEqual(request.headers["authorization"], "Bearer gh-t0ken")
            self.assertEqual(request.json["context"], "hookdaemon/deploy")
        self.assertEqual([pending.json["state"], success.json["state"]], ["pending", "success"])


class Timeout(HooksFileService):
    async def test_a_command_past_its_timeout_ends_timed_out_with_its_whole_process_group(
        self,
    ) -> None:
        """
        The command obeys the SIGTERM; its grandchild ignores it and holds
        none of the step's pipes, so only the SIGKILL to the group, kill_grace
        later, ends it. The job ends once the whole group is gone.
        """
        daemon = self.start(
            {
                "id": "slow",
                "execute-command": self.sleeper,
                "include-command-output-in-response": True,
                "hookdaemon": {"timeout": 1, "kill_grace": 1},
            }
        )
        called = await self.call(daemon, "slow", {})
        self.assertEqual((called.code, called.body), (500, COMMAND_ERROR))
        assert called.job is not None
        (run,) = self.runs("sleeper")
        self.assertEqual(run["pgid"], run["pid"])  # the command leads a group of its own
        # Answered at the job's end, and the job ends once its group is gone.
        self.assertEqual(group_members(run["pgid"]), [])
        self.assertFalse(alive(run["grandchild"]))
        job = await self.api(daemon, f"/jobs/{called.job}")
        self.assertEqual(
            (job["state"], job["signal"], job["reason"]),
            ("timed_out", "SIGTERM", "timed out after 1s in step 1/1"),
        )
        written = daemon.output("slow")
        for line in (
            "hookdaemon timed out after 1s; sending SIGTERM",
            "hookdaemon still running 1s later; SIGKILL",
            "hookdaemon job timed_out",
        ):
            self.assertIn(f" {called.job} {line}\n", written)


class NothingLost(HooksFileService):
    async def test_a_call_queued_when_twistd_is_killed_runs_after_the_restart_as_it_was_given(
        self,
    ) -> None:
        daemon = self.start(
            self.recorded(
                "queued",
                pass_environment_to_command=[
                    {"source": "header", "name": "X-Stage", "envname": "STAGE"},
                    {"source": "payload", "name": "note"},
                ],
                pass_file_to_command=[{**CONFIG_FILE, "base64decode": True}],
                hookdaemon={"env": {"DEPLOY_TARGET": "staging"}},
            )
        )
        content = b"line one\nline two\n\x00\xff"
        long = await self.call(daemon, "queued", {"tag": "long", "mode": "wait"})
        await wait_for(lambda: self.events() == ["start long"], "the long run to start")
        behind = await self.call(
            daemon,
            "queued",
            {
                "tag": "behind",
                "mode": "ok",
                "note": "the second call",
                "config": base64.b64encode(content).decode(),
            },
            {"X-Stage": "blue"},
        )
        self.assertEqual((long.code, behind.code), (200, 200))
        assert behind.job is not None
        self.assertEqual((await self.api(daemon, f"/jobs/{behind.job}"))["state"], "queued")
        daemon.kill()
        daemon.start()
        self.go("long")
        job = await self.ended(daemon, behind.job)
        self.assertEqual(job["state"], "succeeded")
        (run,) = [line for line in self.runs("behind") if line["event"] == "start"]
        passed = run["env"]["CONFIG_FILE"]
        self.assertEqual(
            (run["argv"], run["env"], run["file"]),
            (
                ["behind", "ok"],
                self.expected_environment(
                    behind.job,
                    DEPLOY_TARGET="staging",
                    STAGE="blue",
                    HOOK_note="the second call",
                    CONFIG_FILE=passed,
                ),
                content.decode("latin-1"),
            ),
        )
        self.assertEqual(os.path.dirname(passed), self.tmp)
        self.assertFalse(os.path.exists(passed))

    async def test_a_run_cut_short_by_a_sigkill_is_ended_before_its_retry_starts(self) -> None:
        """
        The killed daemon's child goes on in its session; the next start ends
        it before the call runs again, so two runs never work at once.
        """
        daemon = self.start(self.recorded("cut"))
        called = await self.call(daemon, "cut", {"tag": "long", "mode": "wait"})
        assert called.job is not None
        await wait_for(lambda: self.events() == ["start long"], "the run to start")
        (old,) = self.runs("long")
        daemon.kill()
        self.assertTrue(alive(old["pid"]))
        daemon.start()
        await wait_for(lambda: len(self.runs("long")) == 2, "the retry to start")
        self.assertFalse(alive(old["pid"]), "the killed daemon's run still runs beside its retry")
        self.go("long")
        retry = (await self.jobs(daemon, "hook=cut"))[0]
        self.assertEqual((retry["retry_of"], retry["attempt"]), (called.job, 2))
        self.assertEqual((await self.ended(daemon, retry["id"]))["state"], "succeeded")


class Replay(HooksFileService):
    async def test_a_replay_runs_the_command_again_with_the_same_arguments_and_file(
        self,
    ) -> None:
        daemon = self.start(
            self.recorded(
                "again",
                pass_environment_to_command=[{"source": "payload", "name": "note"}],
                pass_file_to_command=[CONFIG_FILE],
            )
        )
        called = await self.call(
            daemon, "again", {"tag": "t", "mode": "ok", "note": "n", "config": "the file"}
        )
        assert called.job is not None
        await self.ended(daemon, called.job)
        code, answer, _ = await post(f"{daemon.url}/jobs/{called.job}/replay", b"", {})
        self.assertEqual(code, 202, answer)
        self.assertEqual(answer["replay_of"], called.job)
        replayed = await self.ended(daemon, answer["job"])
        self.assertEqual((replayed["state"], replayed["replay_of"]), ("succeeded", called.job))
        first, second = [line for line in self.runs("t") if line["event"] == "start"]
        for run, job in ((first, called.job), (second, answer["job"])):
            self.assertEqual(
                (run["argv"], run["file"], run["env"]),
                (
                    ["t", "ok"],
                    "the file",
                    self.expected_environment(
                        job, HOOK_note="n", CONFIG_FILE=run["env"]["CONFIG_FILE"]
                    ),
                ),
            )
        self.assertEqual(self.passed_files(self.tmp), [])


class RuleMismatch(HooksFileService):
    async def test_a_call_the_trigger_rule_refuses_is_listed_as_ignored_with_why(self) -> None:
        daemon = self.start(
            self.recorded(
                "guarded",
                trigger_rule={
                    "match": {
                        "type": "value",
                        "value": "yes",
                        "parameter": {"source": "header", "name": "X-Deploy"},
                    }
                },
                trigger_rule_mismatch_http_response_code=412,
            )
        )
        called = await self.call(daemon, "guarded", {"tag": "t", "mode": "ok"}, {"X-Deploy": "no"})
        self.assertEqual(
            (called.code, called.body, called.job), (412, b"Hook rules were not satisfied.", None)
        )
        ignored: list[dict[str, Any]] = []

        async def listed() -> bool:
            nonlocal ignored
            ignored = await self.jobs(daemon, "state=ignored")
            return bool(ignored)

        await wait_until(listed, "the ignored call's record")
        self.assertEqual(
            [(job["hook"], job["state"], job["reason"]) for job in ignored],
            [("guarded", "ignored", "the trigger rule is not satisfied")],
        )
        self.assertEqual(self.runs(), [])
        # The call the rule lets in runs, and is no ignored one.
        called = await self.call(
            daemon, "guarded", {"tag": "t", "mode": "ok"}, {"X-Deploy": "yes"}
        )
        assert called.job is not None
        self.assertEqual((await self.ended(daemon, called.job))["state"], "succeeded")
        self.assertEqual(self.events(), ["start t", "end t"])
        self.assertEqual(
            [job["id"] for job in await self.jobs(daemon, "state=ignored")], [ignored[0]["id"]]
        )


class PassedFiles(HooksFileService):
    async def test_passed_files_are_removed_after_the_run_whether_it_succeeds_or_fails(
        self,
    ) -> None:
        """In command-working-directory, where webhook writes them, and gone at the job's end."""
        daemon = self.start(
            self.recorded(
                "files",
                command_working_directory=self.work,
                pass_file_to_command=[CONFIG_FILE],
            )
        )
        for mode, state in (("ok", "succeeded"), ("fail", "failed")):
            called = await self.call(daemon, "files", {"tag": mode, "mode": mode, "config": mode})
            assert called.job is not None
            job = await self.ended(daemon, called.job)
            self.assertEqual(job["state"], state)
            (run,) = [line for line in self.runs(mode) if line["event"] == "start"]
            passed = run["env"]["CONFIG_FILE"]
            self.assertEqual(
                (run["file"], run["file_mode"], os.path.dirname(passed)),
                (mode, "0o600", self.work),
            )
            self.assertFalse(os.path.exists(passed), f"{mode}: {passed} is left")
        self.assertEqual(self.passed_files(self.work), [])
