"""
adnanh/webhook hooks files through hookdaemon's commands, as a user switching
from webhook runs them: C{twistd hookdaemon --hooks F --check} and C{hookdaemon
check}, C{hookdaemon run --hooks F} with no tap.cfg, and reloads (SIGHUP and
C{hookdaemon reload}) that read the hooks files again, templates rendered anew.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from hookdaemon.testing import Environ, TwistdDaemon, environment, free_port, run_twistd
from tests.support import open_directory, wait_for
from tests.test_cli import COMMAND

HOOKS = """[
  {"id": "deploy", "execute-command": "/bin/true", "response-message": "deploying",
   "trigger-rule": {"match": {"type": "value", "value": "s3cret",
                              "parameter": {"source": "header", "name": "X-Token"}}}},
  {"id": "where", "execute-command": "/bin/pwd", "include-command-output-in-response": true}
]
"""

BROKEN = """[
  {"id": "one", "execute-command": "/bin/true", "include-command-output-in-response": "yes"},
  {"id": "two", "execute-command": "/bin/true", "success-http-response-code": "two hundred"},
  {"id": "three", "execute-command": "/bin/true", "hookdaemon": {"timeout": "soon"}}
]
"""
BROKEN_LINES = [
    "hooks.json: hook one: include-command-output-in-response: must be true or false, not"
    " text: write it without quotes",
    "hooks.json: hook two: success-http-response-code: must be a whole number such as 200, not"
    " text: write it without quotes",
    "hooks.json: hook three: hookdaemon.timeout: must be a positive number of seconds, such as"
    " 600",
]

NOT_A_MATCH_TYPE = (
    "trigger-rule.match.type: 'valeu' is not a match type: webhook reads its parameter all the"
    ' same and, as it has none, answers 500 "Error occurred while evaluating hook rules." to'
    " every call that reaches this rule; write one of value, regex, payload-hmac-sha1,"
    " payload-hmac-sha256, payload-hmac-sha512, ip-whitelist, scalr-signature"
)


def hookdaemon(
    *args: str, cwd: str, environ: Environ | None = None
) -> subprocess.CompletedProcess[str]:
    """The C{hookdaemon} command run to its end in C{cwd}."""
    return run_twistd(*args, cwd=cwd, environ=environ, twistd=COMMAND)


def write(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def directory_of(case: SynchronousTestCase, hooks: str = HOOKS) -> str:
    """A fresh directory holding C{hooks.json}, and no tap.cfg."""
    directory = os.path.abspath(str(case.mktemp()))
    os.makedirs(directory)
    write(directory, "hooks.json", hooks)
    return directory


def hook_json(hook_id: str, message: str, extra: str = "") -> str:
    return (
        f'{{"id": "{hook_id}", "execute-command": "/bin/true",'
        f' "response-message": "{message}"{extra}}}'
    )


def token_rule(value: str) -> str:
    return (
        ', "trigger-rule": {"match": {"type": "value", "value": "' + value + '",'
        ' "parameter": {"source": "header", "name": "X-Token"}}}'
    )


def hooks_file(*hooks: str) -> str:
    return "[\n  " + ",\n  ".join(hooks) + "\n]\n"


class CheckTests(SynchronousTestCase):
    def test_twistdCheckSaysOKAndListsEachHooksURL(self) -> None:
        directory = directory_of(self)
        result = run_twistd("hookdaemon", "--hooks", "hooks.json", "--check", cwd=directory)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertEqual(
            result.stdout.splitlines(),
            [
                "hooks.json: OK",
                "hook deploy: from hooks.json, a trigger rule: http://127.0.0.1:9000/hooks/deploy",
                "hook where: from hooks.json, no trigger rule: http://127.0.0.1:9000/hooks/where",
            ],
        )
        self.assertEqual(sorted(os.listdir(directory)), ["hooks.json"])  # nothing started

    def test_hookdaemonCheckTakesWebhooksFlags(self) -> None:
        directory = directory_of(self)
        result = hookdaemon(
            "check",
            "--hooks",
            "hooks.json",
            "--urlprefix",
            "ci",
            "--listen",
            "tcp:8123:interface=127.0.0.1",
            "--http-methods",
            "post, Put",
            "--header",
            "X-Served-By=hookdaemon",
            cwd=directory,
        )
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertEqual(
            result.stdout.splitlines(),
            [
                "hooks.json: OK",
                "hook deploy: from hooks.json, a trigger rule: http://127.0.0.1:8123/ci/deploy",
                "hook where: from hooks.json, no trigger rule: http://127.0.0.1:8123/ci/where",
            ],
        )

    def test_everyProblemNamedByFileHookAndPropertyAndExit1(self) -> None:
        directory = directory_of(self, BROKEN)
        for result in (
            run_twistd("hookdaemon", "--hooks", "hooks.json", "--check", cwd=directory),
            hookdaemon("check", "--hooks", "hooks.json", cwd=directory),
        ):
            self.assertEqual(result.returncode, 1)
            self.assertEqual(result.stdout, "")
            self.assertEqual(
                result.stderr.splitlines(),
                [*BROKEN_LINES, "hooks.json: 3 problem(s); nothing started"],
            )

    def test_problemsOfSeveralFilesAllAtOnce(self) -> None:
        directory = directory_of(self, BROKEN)
        write(directory, "more.yaml", "- id: [build]\n  execute-command: /bin/true\n")
        files = ["--hooks", "hooks.json", "--hooks", "more.yaml", "--hooks", "gone.json"]
        result = hookdaemon("check", *files, cwd=directory)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stderr.splitlines(),
            [
                *BROKEN_LINES,
                "more.yaml: hook #1: id: must be text, not a list",
                "gone.json: cannot read: No such file or directory",
                "hooks.json, more.yaml, gone.json: 5 problem(s); nothing started",
            ],
        )

    def test_warningsArePrintedAndStrictRefusesThem(self) -> None:
        hooks = hooks_file(
            '{"id": "w", "execute-command": "./deploy.sh",'
            ' "trigger-rule": {"match": {"type": "valeu", "value": "x"}}}'
        )
        directory = directory_of(self, hooks)
        warnings = [
            f"hooks.json: hook w: {NOT_A_MATCH_TYPE} (warning)",
            f"hooks.json: hook w: execute-command: ./deploy.sh does not exist (looked for"
            f" {directory}/deploy.sh) (warning)",
        ]
        result = hookdaemon("check", "--hooks", "hooks.json", cwd=directory)
        self.assertEqual(
            (result.returncode, result.stderr.splitlines(), result.stdout.splitlines()[0]),
            (0, warnings, "hooks.json: OK"),
        )
        for strict in (
            hookdaemon("check", "--hooks", "hooks.json", "--strict", cwd=directory),
            run_twistd(
                "hookdaemon", "--hooks", "hooks.json", "--check", "--strict", cwd=directory
            ),
        ):
            self.assertEqual(
                (strict.returncode, strict.stdout, strict.stderr.splitlines()),
                (1, "", [*warnings, "hooks.json: 2 warning(s) and --strict; nothing started"]),
            )

    def test_aHeaderWebhookNeverSendsIsAWarning(self) -> None:
        directory = directory_of(self)
        result = hookdaemon("check", "--hooks", "hooks.json", "--header", "X Y=z", cwd=directory)
        self.assertEqual(
            (result.returncode, result.stderr.splitlines()),
            (
                0,
                [
                    "the command line: [--header]: 'X Y' is not an HTTP header name, so webhook"
                    " never sends the header: write the name alone, in letters, digits and -"
                    " (warning)"
                ],
            ),
        )
        result = hookdaemon("check", "--hooks", "hooks.json", "--header", "X-Y", cwd=directory)
        self.assertEqual(
            (result.returncode, result.stderr.splitlines()),
            (
                1,
                [
                    "the command line: [--header]: 'X-Y' is not in NAME=VALUE form",
                    "hooks.json: 1 problem(s); nothing started",
                ],
            ),
        )

    def test_asAnotherUserTheFileAndWhereItsHooksRun(self) -> None:
        """
        --user: a hooks file that user could not read again at a reload, and a
        directory it could not enter, named as hooks files' places are.
        """
        if os.geteuid() != 0:
            raise SkipTest("checking as another user's permissions needs root (CI runs as root)")
        private = os.path.join(open_directory(self), "private")
        os.makedirs(os.path.join(private, "site"))
        os.chmod(private, 0o700)
        write(
            private,
            "hooks.json",
            hooks_file(
                hook_json("here", "ran"),
                hook_json("there", "ran", ', "command-working-directory": "site"'),
            ),
        )
        result = hookdaemon("check", "--hooks", "hooks.json", "--user", "65534", cwd=private)
        enter = (
            f"user nobody may not enter {private}, so every job would fail before its first"
            " step; give user nobody execute permission on it (warning)"
        )
        self.assertEqual(
            (result.returncode, result.stderr.splitlines()),
            (
                0,
                [
                    "hooks.json: hook here: runs in the daemon's working directory (it has no"
                    f" command-working-directory): {enter}",
                    f"hooks.json: hook there: command-working-directory: {enter}",
                    "hooks.json: user nobody may not read this file, so every reload would be"
                    " refused; let it read the file (a group, say) (warning)",
                ],
            ),
        )

    def test_hooksAndConfigTogether(self) -> None:
        directory = directory_of(self)
        write(
            directory,
            "tap.cfg",
            "[hookdaemon]\nlisten = tcp:8124:interface=127.0.0.1\n"
            "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n",
        )
        result = hookdaemon("check", "--hooks", "hooks.json", "--config", "tap.cfg", cwd=directory)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertEqual(
            result.stdout.splitlines(),
            [
                "tap.cfg, hooks.json: OK",
                "hook site: forge generic, secret none: http://127.0.0.1:8124/hooks/site",
                "hook deploy: from hooks.json, a trigger rule: http://127.0.0.1:8124/hooks/deploy",
                "hook where: from hooks.json, no trigger rule: http://127.0.0.1:8124/hooks/where",
            ],
        )
        write(directory, "more.json", hooks_file(hook_json("site", "clash")))
        files = ["--config", "tap.cfg", "--hooks", "hooks.json", "--hooks", "more.json"]
        result = hookdaemon("check", *files, cwd=directory)
        self.assertEqual(
            (result.returncode, result.stderr.splitlines()),
            (
                1,
                [
                    "more.json: hook site: id: is also the name of a hook in tap.cfg; hook names"
                    " are one namespace, so rename one of them",
                    "tap.cfg, hooks.json, more.json: 1 problem(s); nothing started",
                ],
            ),
        )

    def test_aBadListenIsTheCommandLines(self) -> None:
        directory = directory_of(self)
        result = hookdaemon(
            "check", "--hooks", "hooks.json", "--listen", "tcp:notaport", cwd=directory
        )
        self.assertEqual(result.returncode, 1)
        lines = result.stderr.splitlines()
        self.assertTrue(
            lines[0].startswith(
                "--listen: [hookdaemon] listen: endpoint 1 (tcp) is not a Twisted endpoint string"
            ),
            lines,
        )
        self.assertNotIn("Traceback", result.stderr)


def request(
    url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> tuple[int, bytes, Mapping[str, str]]:
    """A POST's status, body and headers; 4xx and 5xx are answers too."""
    made = urllib.request.Request(url, data=body, headers=dict(headers or {}), method="POST")
    try:
        with urllib.request.urlopen(made, timeout=30) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


class RunTests(SynchronousTestCase):
    def test_runWithHooksAloneServesAndKeepsItsStateInItsDirectory(self) -> None:
        """The one changed command line: no tap.cfg, state and logs under ./var."""
        directory = directory_of(self)
        port = free_port()
        out = os.path.join(directory, "stdout")
        with open(out, "w") as printed:
            process = subprocess.Popen(
                [
                    *COMMAND,
                    "run",
                    "--hooks",
                    "hooks.json",
                    "--listen",
                    f"tcp:{port}:interface=127.0.0.1",
                ],
                cwd=directory,
                env=environment(None),
                stdout=printed,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.addCleanup(_kill, process)
        _wait_for_line(process, out, f"listening on http://127.0.0.1:{port}")
        code, body, _ = request(f"http://127.0.0.1:{port}/hooks/where")
        # The command's output, as webhook gives it: it ran in the daemon's directory.
        self.assertEqual((code, body), (200, f"{directory}\n".encode()))
        code, body, _ = request(
            f"http://127.0.0.1:{port}/hooks/deploy", headers={"X-Token": "s3cret"}
        )
        self.assertEqual((code, body), (200, b"deploying"))
        self.assertTrue(os.path.isfile(os.path.join(directory, "var", "journal.sqlite")))
        self.assertTrue(os.path.isfile(os.path.join(directory, "var", "log", "where.log")))
        self.assertIsNone(process.poll())
        process.send_signal(signal.SIGTERM)
        # As with a tap.cfg (tests.test_cli): twistd ends with the signal that stopped
        # it, which systemd counts as a clean stop.
        self.assertEqual(process.wait(60), -signal.SIGTERM)
        printed_text = _read(out)
        self.assertIn("Server Shut Down.", printed_text)
        self.assertNotIn("Traceback", printed_text)
        self.assertFalse(os.path.exists(os.path.join(directory, "twistd.pid")))
        self.assertFalse(os.path.exists(os.path.join(directory, "tap.cfg")))

    def test_aHeaderNameWebhookNeverSendsIsDroppedNotA500(self) -> None:
        directory = directory_of(self)
        daemon = TwistdDaemon(
            directory,
            hooks="",
            cwd=directory,
            options=[
                "--hooks",
                "hooks.json",
                "--header",
                "Bad Name=v",
                "--header",
                "X-Served-By=hookdaemon",
            ],
            tap_cfg=False,
        )
        self.addCleanup(daemon.stop)
        daemon.start()
        code, body, headers = request(f"{daemon.url}/hooks/deploy", headers={"X-Token": "s3cret"})
        self.assertEqual(
            (code, body, headers.get("X-Served-By")), (200, b"deploying", "hookdaemon")
        )
        self.assertNotIn("Bad Name", headers)
        self.assertNotIn("Traceback", daemon.log)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(60)


def _wait_for_line(process: subprocess.Popen[bytes], path: str, text: str) -> None:
    """Until C{text} is in the file C{process} prints to; fail if it exits first."""
    deadline = time.monotonic() + 60
    while text not in _read(path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"never saw {text!r}:\n{_read(path)}")
        time.sleep(0.05)


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class ReloadTests(TestCase):
    """A live daemon on a hooks file, which a reload reads again."""

    def daemon(
        self,
        hooks: str,
        options: Sequence[str] = (),
        tap_cfg: str | None = None,
    ) -> TwistdDaemon:
        """twistd on C{hooks.json} in a fresh directory, given relatively as a user would."""
        directory = directory_of(self, hooks)
        daemon = TwistdDaemon(
            directory,
            hooks=tap_cfg or "",
            cwd=directory,
            options=["--hooks", "hooks.json", *options],
            tap_cfg=tap_cfg is not None,
        )
        self.addCleanup(daemon.stop)
        return daemon.start()

    def edit(self, daemon: TwistdDaemon, hooks: str) -> None:
        write(daemon.directory, "hooks.json", hooks)

    def result(self, daemon: TwistdDaemon) -> dict[str, object]:
        with open(os.path.join(daemon.directory, "var", "reload.json")) as f:
            found: dict[str, object] = json.load(f)
        return found

    def answer(
        self, daemon: TwistdDaemon, hook: str, token: str | None = None
    ) -> tuple[int, bytes]:
        code, body, _ = request(
            f"{daemon.url}/hooks/{hook}", headers={} if token is None else {"X-Token": token}
        )
        return code, body

    async def test_sighupAppliesTheEditedFile(self) -> None:
        daemon = self.daemon(
            hooks_file(hook_json("keep", "kept", token_rule("one")), hook_json("gone", "going"))
        )
        self.assertEqual(self.answer(daemon, "keep", "one"), (200, b"kept"))
        self.assertEqual(self.answer(daemon, "gone"), (200, b"going"))
        self.assertEqual(self.answer(daemon, "new"), (404, b"Hook not found."))
        self.edit(
            daemon,
            hooks_file(hook_json("keep", "kept", token_rule("two")), hook_json("new", "fresh")),
        )
        reload_json = os.path.join(daemon.directory, "var", "reload.json")
        daemon.process.send_signal(signal.SIGHUP)
        await wait_for(lambda: os.path.exists(reload_json), "the reload's outcome")
        self.assertEqual(
            self.result(daemon),
            {
                "pid": daemon.process.pid,
                "serial": 1,
                "applied": True,
                "lines": [
                    f"reloaded {daemon.directory}/hooks.json: hooks added: new; hooks removed:"
                    " gone; hook keep changed: trigger-rule"
                ],
            },
        )
        self.assertEqual(self.answer(daemon, "new"), (200, b"fresh"))
        self.assertEqual(self.answer(daemon, "gone"), (404, b"Hook not found."))
        self.assertEqual(self.answer(daemon, "keep", "two"), (200, b"kept"))
        self.assertEqual(
            self.answer(daemon, "keep", "one"), (200, b"Hook rules were not satisfied.")
        )

    def test_hookdaemonReloadInTheDaemonsDirectory(self) -> None:
        """
        With no tap.cfg there, it finds the daemon under ./var; a broken file is
        refused with its problems, and the hooks in use keep answering.
        """
        daemon = self.daemon(hooks_file(hook_json("keep", "kept")))
        self.edit(
            daemon,
            hooks_file(
                hook_json("keep", "kept anew", ', "http-methods": ["POST"]'),
                hook_json("new", "fresh"),
            ),
        )
        done = hookdaemon("reload", cwd=daemon.directory)
        self.assertEqual(
            (done.returncode, done.stdout.splitlines(), done.stderr),
            (
                0,
                [
                    f"reloaded {daemon.directory}/hooks.json: hooks added: new; hook keep"
                    " changed: response-message, http-methods"
                ],
                "",
            ),
        )
        self.assertEqual(self.answer(daemon, "keep"), (200, b"kept anew"))
        self.edit(daemon, BROKEN)
        done = hookdaemon("reload", cwd=daemon.directory)
        path = f"{daemon.directory}/hooks.json"
        self.assertEqual(
            (done.returncode, done.stdout, done.stderr.splitlines()),
            (
                1,
                "",
                [
                    *(line.replace("hooks.json", path, 1) for line in BROKEN_LINES),
                    f"{path}: 3 problem(s)",
                    "reload refused; the configuration in use stays as it was",
                ],
            ),
        )
        self.assertEqual(self.answer(daemon, "keep"), (200, b"kept anew"))
        self.assertEqual(self.answer(daemon, "new"), (200, b"fresh"))
        self.assertEqual(self.answer(daemon, "one"), (404, b"Hook not found."))
        self.assertIsNone(daemon.process.poll())
        self.assertEqual(self.result(daemon)["serial"], 2)

    def test_theTemplateIsRenderedAgainWithTheDaemonsEnvironment(self) -> None:
        """
        A reload renders the file anew: what C{cat} reads (a rotated token) and
        C{getenv} in the daemon's environment, not the environment of whoever
        runs C{hookdaemon reload}.
        """
        deploy = hook_json("deploy", "deploying", token_rule('{{ cat "token.txt" }}'))
        named = hook_json("name", '{{ getenv "HOOKDAEMON_TEST_NAME" }}')
        directory = directory_of(self, hooks_file(deploy))
        write(directory, "token.txt", "first\n")
        daemon = TwistdDaemon(
            directory,
            hooks="",
            cwd=directory,
            options=["--hooks", "hooks.json", "--template"],
            tap_cfg=False,
            environ={"HOOKDAEMON_TEST_NAME": "the daemon's"},
        )
        self.addCleanup(daemon.stop)
        daemon.start()
        self.assertEqual(self.answer(daemon, "deploy", "first"), (200, b"deploying"))
        write(directory, "token.txt", "second\n")
        self.edit(daemon, hooks_file(deploy, named))
        done = hookdaemon(
            "reload", cwd=directory, environ={"HOOKDAEMON_TEST_NAME": "the reloader's"}
        )
        self.assertEqual(
            (done.returncode, done.stdout.splitlines(), done.stderr),
            (
                0,
                [
                    f"reloaded {directory}/hooks.json: hooks added: name; hook deploy"
                    " changed: trigger-rule"
                ],
                "",
            ),
        )
        self.assertEqual(self.answer(daemon, "name"), (200, b"the daemon's"))
        self.assertEqual(self.answer(daemon, "deploy", "second"), (200, b"deploying"))
        self.assertEqual(
            self.answer(daemon, "deploy", "first"), (200, b"Hook rules were not satisfied.")
        )
        # Only the file cat reads changes: the reload takes it all the same.
        write(directory, "token.txt", "third\n")
        done = hookdaemon("reload", cwd=directory)
        self.assertEqual(
            (done.returncode, done.stdout.splitlines()),
            (0, [f"reloaded {directory}/hooks.json: hook deploy changed: trigger-rule"]),
        )
        self.assertEqual(self.answer(daemon, "deploy", "third"), (200, b"deploying"))

    def test_withStrictAWarningRefusesTheReload(self) -> None:
        daemon = self.daemon(hooks_file(hook_json("keep", "kept")), options=["--strict"])
        odd = hook_json("odd", "odd", ', "trigger-rule": {"match": {"type": "valeu"}}')
        self.edit(daemon, hooks_file(hook_json("keep", "kept"), odd))
        done = hookdaemon("reload", cwd=daemon.directory)
        path = f"{daemon.directory}/hooks.json"
        self.assertEqual(
            (done.returncode, done.stderr.splitlines()),
            (
                1,
                [
                    f"{path}: hook odd: {NOT_A_MATCH_TYPE} (warning)",
                    f"{path}: 1 warning(s) and --strict",
                    "reload refused; the configuration in use stays as it was",
                ],
            ),
        )
        self.assertEqual(self.answer(daemon, "odd"), (404, b"Hook not found."))
        self.assertEqual(self.answer(daemon, "keep"), (200, b"kept"))

    def test_withATapCfgBothFilesAreReadAgain(self) -> None:
        site = "[hook:site]\nallow_from = 127.0.0.1\nworkdir = .\ncommand = true\n"
        daemon = self.daemon(hooks_file(hook_json("keep", "kept")), tap_cfg=site)
        with open(daemon.config, "a") as f:
            f.write(site.replace("site", "more"))
        self.edit(daemon, hooks_file(hook_json("keep", "kept"), hook_json("new", "fresh")))
        done = hookdaemon("reload", cwd=daemon.directory)
        config, hooks = daemon.config, f"{daemon.directory}/hooks.json"
        self.assertEqual(
            (done.returncode, done.stdout.splitlines()),
            (0, [f"reloaded {config}, {hooks}: hooks added: more, new"]),
        )
        self.assertEqual(self.answer(daemon, "new"), (200, b"fresh"))
        # A hooks-file hook named as a tap.cfg one: refused, both files named.
        self.edit(daemon, hooks_file(hook_json("keep", "kept"), hook_json("more", "clash")))
        done = hookdaemon("reload", cwd=daemon.directory)
        self.assertEqual(
            (done.returncode, done.stderr.splitlines()),
            (
                1,
                [
                    f"{hooks}: hook more: id: is also the name of a hook in {config}; hook names"
                    " are one namespace, so rename one of them",
                    f"{config}, {hooks}: 1 problem(s)",
                    "reload refused; the configuration in use stays as it was",
                ],
            ),
        )
        self.assertEqual(self.answer(daemon, "new"), (200, b"fresh"))
