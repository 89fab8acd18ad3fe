"""
A hook's workdir and step programs, checked on this machine as the daemon's
user will find them: real directories, real modes, real programs.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.config import Config, parse_config
from hookdaemon.preflight import RunAs, machine_warnings
from hookdaemon.testing import FOREGROUND, run_twistd
from tests.fake_api import TestCA
from tests.support import open_directory

NOBODY = RunAs(65534, frozenset({65534}))
"""A user who owns nothing here and is in no group that does."""


def config(workdir: str, command: str, extra: str = "") -> Config:
    text = (
        "[hook:site]\nallow_from = 127.0.0.1\n"
        f"workdir = {workdir}\ncommand =\n"
        + "".join(f"    {line}\n" for line in command.splitlines())
        + extra
    )
    return parse_config(text, "tap.cfg", {}, lambda path: b"")


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class PreflightTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = open_directory(self)
        self.me = RunAs.this_process()

    def warnings(
        self, workdir: str, command: str, user: RunAs | None = None, extra: str = ""
    ) -> list[str]:
        found = machine_warnings(config(workdir, command, extra), user or self.me)
        return [str(problem) for problem in found]

    def test_aWorkdirThatDoesNotExist(self) -> None:
        missing = os.path.join(self.root, "site")
        self.assertEqual(
            self.warnings(missing, "git fetch"),
            [
                f"tap.cfg: [hook:site] workdir: {missing} does not exist: every job would"
                " fail before its first step; create it (clone the repository there)"
                " before the first delivery"
            ],
        )

    def test_aWorkdirThatIsAFile(self) -> None:
        path = os.path.join(self.root, "site")
        open(path, "w").close()
        self.assertEqual(
            self.warnings(path, "git fetch"),
            [f"tap.cfg: [hook:site] workdir: {path} is not a directory"],
        )

    def test_aWorkdirTheUserMayNotEnter(self) -> None:
        """Checked along the way: a 0700 parent stops another user, not its owner."""
        parent = os.path.join(self.root, "private")
        workdir = os.path.join(parent, "site")
        os.makedirs(workdir)
        os.chmod(parent, 0o700)
        self.assertEqual(self.warnings(workdir, "git fetch"), [])
        who = _who(NOBODY)
        self.assertEqual(
            self.warnings(workdir, "git fetch", NOBODY),
            [
                f"tap.cfg: [hook:site] workdir: {who} may not enter {parent}, so every job"
                f" would fail before its first step; give {who} execute permission on it"
            ],
        )
        os.chmod(parent, 0o711)
        self.assertEqual(self.warnings(workdir, "git fetch", NOBODY), [])

    def test_aProgramNotOnTheStepsPath(self) -> None:
        self.assertEqual(
            self.warnings(self.root, "git fetch\nsh -c true\nno-such-program-here --x"),
            [
                "tap.cfg: [hook:site] command: step 3: no-such-program-here is not found on"
                " the steps' PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:"
                "/bin); install it, write its whole path, or set PATH in the hook's env"
            ],
        )

    def test_theHooksOwnPathIsTheOneSearched(self) -> None:
        bin_dir = os.path.join(self.root, "bin")
        os.makedirs(bin_dir)
        program = os.path.join(bin_dir, "deploy-tool")
        with open(program, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(program, 0o755)
        extra = f"env =\n    PATH={bin_dir}:/usr/bin:/bin\n"
        self.assertEqual(self.warnings(self.root, "deploy-tool", extra=extra), [])
        self.assertEqual(len(self.warnings(self.root, "deploy-tool")), 1)  # not on the base PATH

    def test_aScriptInTheWorkdir(self) -> None:
        script = os.path.join(self.root, "deploy.sh")
        self.assertEqual(
            self.warnings(self.root, "./deploy.sh"),
            [
                "tap.cfg: [hook:site] command: step 1: ./deploy.sh does not exist"
                f" (looked for {script})"
            ],
        )
        with open(script, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(script, 0o644)
        self.assertEqual(
            self.warnings(self.root, "./deploy.sh"),
            [
                f"tap.cfg: [hook:site] command: step 1: {script} is not a program"
                f" {_who(self.me)} may run (chmod +x it)"
            ],
        )
        os.chmod(script, 0o700)
        self.assertEqual(self.warnings(self.root, "./deploy.sh"), [])
        self.assertEqual(len(self.warnings(self.root, "./deploy.sh", NOBODY)), 1)

    def test_whatIsKnownOnlyLaterIsNotChecked(self) -> None:
        """A program a delivery fills in, and the words of a shell script, are not looked for."""
        self.assertEqual(self.warnings(self.root, "${HOOK_REPOSITORY}/deploy"), [])
        self.assertEqual(
            self.warnings(self.root, "no-such-program-here | tee log", extra="shell = yes\n"),
            [],
        )


class CheckTests(SynchronousTestCase):
    """The warnings as twistd's --check prints them, and --strict."""

    def setUp(self) -> None:
        self.directory = open_directory(self)
        with open(os.path.join(self.directory, "tap.cfg"), "w") as f:
            f.write(
                "[hookdaemon]\nlisten = tcp:9000:interface=127.0.0.1\n"
                "[hook:site]\nallow_from = 127.0.0.1\nworkdir = missing\ncommand = git fetch\n"
            )
        self.line = (
            f"tap.cfg: [hook:site] workdir: {self.directory}/missing does not exist:"
            " every job would fail before its first step; create it (clone the"
            " repository there) before the first delivery (warning)"
        )

    def test_checkWarnsAndSucceeds(self) -> None:
        result = run_twistd("hookdaemon", "--check", cwd=self.directory)
        self.assertEqual((result.returncode, result.stderr.splitlines()), (0, [self.line]))
        self.assertIn("tap.cfg: OK", result.stdout)

    def test_strictRefusesWhatWarns(self) -> None:
        result = run_twistd("hookdaemon", "--check", "--strict", cwd=self.directory)
        self.assertEqual(
            (result.returncode, result.stderr.splitlines()),
            (1, [self.line, "tap.cfg: 1 warning(s) and --strict; nothing started"]),
        )
        started = run_twistd(*FOREGROUND, "hookdaemon", "--strict", cwd=self.directory)
        self.assertEqual(started.returncode, 1)
        self.assertIn("nothing started", started.stderr)

    def test_theUserIsTwistdsUid(self) -> None:
        """With --uid, the workdir is checked as that user, before twistd switches to it."""
        if os.geteuid() != 0:
            raise SkipTest("twistd --uid needs root (CI runs as root)")
        os.makedirs(os.path.join(self.directory, "private", "site"))
        os.chmod(os.path.join(self.directory, "private"), 0o700)
        with open(os.path.join(self.directory, "tap.cfg"), "a") as f:
            f.write(
                "[hook:other]\nallow_from = 127.0.0.1\n"
                "workdir = private/site\ncommand = git fetch\n"
            )
        as_root = run_twistd("hookdaemon", "--check", cwd=self.directory)
        self.assertNotIn("private", as_root.stderr)
        as_nobody = run_twistd("--uid=65534", "hookdaemon", "--check", cwd=self.directory)
        self.assertIn(f"may not enter {self.directory}/private,", as_nobody.stderr)


def _named(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def _who(user: RunAs) -> str:
    name = _named(user.uid)
    return f"user {name}" if name else f"uid {user.uid}"


class TLSFileTests(SynchronousTestCase):
    """Certificate files the daemon's user could not read at a reload."""

    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("needs root: the files must be root's and the check another user's")
        self.root = open_directory(self)
        self.key = os.path.join(self.root, "privkey.pem")
        self.cert = os.path.join(self.root, "fullchain.pem")
        for path in (self.key, self.cert):
            with open(path, "w") as f:
                f.write("PEM\n")
            os.chmod(path, 0o644)
        text = (
            "[hookdaemon]\n"
            f"listen = ssl:8443:interface=127.0.0.1:privateKey={self.key}:certKey={self.cert}\n"
            f"[hook:site]\nallow_from = 127.0.0.1\nworkdir = {self.root}\ncommand = true\n"
        )
        self.config = parse_config(text, "tap.cfg", {}, lambda path: b"")

    def test_aKeyOnlyRootMayReadIsAWarningForAnotherUser(self) -> None:
        os.chmod(self.key, 0o600)
        self.assertEqual(
            [str(p) for p in machine_warnings(self.config, NOBODY)],
            [
                f"tap.cfg: [hookdaemon] listen: endpoint 1 (ssl): user nobody may not read"
                f" privateKey {self.key}, so a reload (a renewed certificate) would be"
                " refused; let it read the file through a group (README: TLS)"
            ],
        )
        # Root itself reads it (and --check as root reads the files anyway).
        self.assertEqual(machine_warnings(self.config, RunAs.this_process()), [])

    def test_filesTheUserMayReadThroughAGroup(self) -> None:
        os.chmod(self.key, 0o640)
        os.chown(self.key, 0, 65534)
        self.assertEqual(machine_warnings(self.config, NOBODY), [])


class ReloadFileTests(SynchronousTestCase):
    """The file and its file: secrets, which a reload reads as the daemon's user."""

    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("needs root: the files must be root's and the check another user's")
        self.root = open_directory(self)
        self.source = os.path.join(self.root, "tap.cfg")
        self.secret = os.path.join(self.root, "secret")
        with open(self.secret, "w") as f:
            f.write("s3cret\n")
        text = (
            f"[hook:site]\nsecret = file:{self.secret}\nallow_from = 127.0.0.1\n"
            f"workdir = {self.root}\ncommand = true\n"
        )
        with open(self.source, "w") as f:
            f.write(text)

    def warnings(self) -> list[str]:
        with open(self.source) as f:
            config = parse_config(f.read(), self.source, {}, read_bytes)
        return [str(p) for p in machine_warnings(config, NOBODY)]

    def test_filesOnlyRootMayReadAreWarnedOf(self) -> None:
        os.chmod(self.source, 0o600)
        os.chmod(self.secret, 0o600)
        then = "so every reload would be refused; let it read the file (a group, say)"
        self.assertEqual(
            self.warnings(),
            [
                f"{self.source}: [-]: user nobody may not read this file, {then}",
                f"{self.source}: [hook:site] secret: user nobody may not read {self.secret},"
                f" {then}",
            ],
        )

    def test_aReportCaOnlyRootMayReadIsWarnedOf(self) -> None:
        ca = os.path.join(self.root, "forge-ca.pem")
        TestCA().write(ca)
        os.chmod(ca, 0o600)
        for path in (self.source, self.secret):
            os.chmod(path, 0o644)
        with open(self.source, "a") as f:
            f.write(f"report = github\nreport_token = file:{self.secret}\nreport_ca = {ca}\n")
        self.assertEqual(
            self.warnings(),
            [
                f"{self.source}: [hook:site] report_ca: user nobody may not read {ca}, so every"
                " commit status and notification would fail when it is sent; let it read the"
                " file (a group, say)"
            ],
        )
        os.chmod(ca, 0o644)
        self.assertEqual(self.warnings(), [])

    def test_filesTheUserMayReadAreNot(self) -> None:
        for path in (self.source, self.secret):
            os.chmod(path, 0o640)
            os.chown(path, 0, 65534)
        self.assertEqual(self.warnings(), [])
