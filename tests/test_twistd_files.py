"""twistd's pid file and log file as the --uid user (65534) finds them, in real directories."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.twistd_files import LOG_MODE, file_problems, give_log_file, log_file
from tests.support import open_directory

NOBODY = 65534


def options(**given: Any) -> dict[str, Any]:
    """twistd's options as ServerOptions parses them, with C{given} changed."""
    parsed: dict[str, Any] = {
        "uid": None,
        "gid": None,
        "pidfile": "",
        "logfile": None,
        "syslog": False,
        "logger": None,
        "nodaemon": True,
        "chroot": None,
    }
    parsed.update(given)
    return parsed


class TwistdFilesCase(SynchronousTestCase):
    def setUp(self) -> None:
        if os.geteuid() != 0:
            raise SkipTest("checking as uid 65534 needs root's directories (CI runs as root)")
        self.root_owned = open_directory(self)  # 0755, root's
        self.nobodys = os.path.join(self.root_owned, "nobody")
        os.makedirs(self.nobodys)
        os.chown(self.nobodys, NOBODY, NOBODY)


class PidFileTests(TwistdFilesCase):
    def test_withoutUidNothingToSay(self) -> None:
        pidfile = os.path.join(self.root_owned, "hookdaemon.pid")
        self.assertEqual(file_problems(options(pidfile=pidfile)), [])
        self.assertEqual(file_problems(options(pidfile=pidfile, gid=NOBODY)), [])

    def test_aDirectoryTheUserMayNotWriteIn(self) -> None:
        pidfile = os.path.join(self.root_owned, "hookdaemon.pid")
        self.assertEqual(
            file_problems(options(uid=NOBODY, pidfile=pidfile)),
            [
                f"--pidfile {pidfile}: user nobody may not write in {self.root_owned}, so the"
                " daemon could not remove its pid file at stop; use a directory it owns"
                " (systemd: RuntimeDirectory=hookdaemon makes /run/hookdaemon), or no"
                " --pidfile (systemd knows the daemon's pid)"
            ],
        )

    def test_aDirectoryTheUserMayWriteInLetsItRedirectRootsWrite(self) -> None:
        pidfile = os.path.join(self.nobodys, "hookdaemon.pid")
        self.assertEqual(
            file_problems(options(uid=NOBODY, gid=NOBODY, pidfile=pidfile)),
            [
                f"--pidfile {pidfile}: user nobody may write in {self.nobodys}, so it could"
                " leave a link there to any file, which root would overwrite at the next"
                " start; give no --pidfile (STATE_DIR/hookdaemon.pid holds the pid; systemd"
                " knows it too)"
            ],
        )

    def test_aStickyDirectoryOfAnotherOwner(self) -> None:
        """/tmp: anyone may write in it, but only root may remove the file root wrote."""
        os.chmod(self.root_owned, 0o1777)
        pidfile = os.path.join(self.root_owned, "hookdaemon.pid")
        (problem,) = file_problems(options(uid=NOBODY, pidfile=pidfile))
        self.assertTrue(
            problem.startswith(
                f"--pidfile {pidfile}: {self.root_owned} is sticky (mode +t), so user nobody"
                " could not remove the pid file root writes there; use a directory it owns"
            ),
            problem,
        )
        os.chmod(self.nobodys, 0o1777)  # the user's own sticky directory: the user may write
        mine = os.path.join(self.nobodys, "hookdaemon.pid")
        (problem,) = file_problems(options(uid=NOBODY, pidfile=mine))
        self.assertIn("could leave a link there to any file", problem)

    def test_aMissingDirectory(self) -> None:
        pidfile = os.path.join(self.root_owned, "run", "hookdaemon.pid")
        (problem,) = file_problems(options(uid=NOBODY, pidfile=pidfile))
        self.assertTrue(
            problem.startswith(f"--pidfile {pidfile}: {self.root_owned}/run is not a directory;")
        )

    def test_aRelativePathIsTakenFromHere(self) -> None:
        self.patch(os, "getcwd", lambda: self.root_owned)
        (problem,) = file_problems(options(uid=NOBODY, pidfile="twistd.pid"))
        self.assertTrue(problem.startswith(f"--pidfile {self.root_owned}/twistd.pid: "), problem)

    def test_chrootedTwistdWritesItInsideTheRoot(self) -> None:
        pidfile = os.path.join(self.root_owned, "hookdaemon.pid")
        self.assertEqual(file_problems(options(uid=NOBODY, pidfile=pidfile, chroot="/srv")), [])


class LogFileTests(TwistdFilesCase):
    def test_whichFileTwistdLogsTo(self) -> None:
        self.patch(os, "getcwd", lambda: self.root_owned)
        self.assertIsNone(log_file(options()))  # -n: stdout
        self.assertIsNone(log_file(options(logfile="-")))
        self.assertIsNone(log_file(options(logfile="x.log", syslog=True)))
        self.assertIsNone(log_file(options(logfile="x.log", logger="some.observer")))
        self.assertEqual(log_file(options(logfile="x.log")), f"{self.root_owned}/x.log")
        daemon = options(nodaemon=False)
        self.assertEqual(log_file(daemon), f"{self.root_owned}/twistd.log")

    def test_aDirectoryTheUserMayNotWriteIn(self) -> None:
        logfile = os.path.join(self.root_owned, "twistd.log")
        self.assertEqual(
            file_problems(options(uid=NOBODY, logfile=logfile)),
            [
                f"--logfile {logfile}: user nobody may not write in {self.root_owned}, so the"
                " log would never be rotated (twistd skips that without a word); give it a"
                " directory it owns (systemd: LogsDirectory=hookdaemon makes"
                " /var/log/hookdaemon), or log to journald (no --logfile under systemd)"
            ],
        )

    def test_aMissingFileWouldBeRoots(self) -> None:
        logfile = os.path.join(self.nobodys, "twistd.log")
        (problem,) = file_problems(options(uid=NOBODY, logfile=logfile))
        self.assertTrue(
            problem.startswith(
                f"--logfile {logfile}: twistd would create it as root, so user nobody could"
                " never rotate it; create it as that user first (hookdaemon run does)"
            ),
            problem,
        )

    def test_aFileOfRootsTheUserMayNotWrite(self) -> None:
        logfile = os.path.join(self.nobodys, "twistd.log")
        with open(logfile, "w"):
            pass
        os.chmod(logfile, 0o644)
        (problem,) = file_problems(options(uid=NOBODY, logfile=logfile))
        self.assertTrue(
            problem.startswith(
                f"--logfile {logfile}: user nobody may not write it, so it would never be"
                " rotated; chown it to that user"
            ),
            problem,
        )

    def test_givenTheUsersFileAllIsFine(self) -> None:
        logfile = os.path.join(self.nobodys, "twistd.log")
        old = os.umask(0o077)  # the mode is LOG_MODE whatever the umask
        try:
            self.assertEqual(give_log_file(options(uid=NOBODY, logfile=logfile)), logfile)
        finally:
            os.umask(old)
        found = os.stat(logfile)
        self.assertEqual((found.st_uid, found.st_gid), (NOBODY, NOBODY))
        self.assertEqual(stat.S_IMODE(found.st_mode), LOG_MODE)
        self.assertEqual(file_problems(options(uid=NOBODY, logfile=logfile)), [])
        self.assertIsNone(give_log_file(options(uid=NOBODY, logfile=logfile)))  # there already

    def test_aLinkTheUserLeftIsRefused(self) -> None:
        """Root opens the log file at start: a link would send root's writes anywhere."""
        logfile = os.path.join(self.nobodys, "twistd.log")
        target = os.path.join(self.root_owned, "precious")
        open(target, "w").close()
        os.symlink(target, logfile)
        (problem,) = file_problems(options(uid=NOBODY, logfile=logfile))
        self.assertTrue(
            problem.startswith(
                f"--logfile {logfile}: is not a plain file (a link, say), which root would"
                " open at start; remove it"
            ),
            problem,
        )
        self.assertIsNone(give_log_file(options(uid=NOBODY, logfile=logfile)))

    def test_nothingIsGivenWhereTheUserCouldNotRotateAnyway(self) -> None:
        logfile = os.path.join(self.root_owned, "twistd.log")
        self.assertIsNone(give_log_file(options(uid=NOBODY, logfile=logfile)))
        self.assertFalse(os.path.exists(logfile))
        self.assertIsNone(give_log_file(options(logfile=logfile)))  # no --uid: twistd's own
        self.assertFalse(os.path.exists(logfile))


class TwistdRotationTests(TwistdFilesCase):
    """Why it matters: twistd's LogFile, opened as root, rotated as the user."""

    def rotated(self, logfile: str) -> bool:
        script = textwrap.dedent(
            """
            import os, sys
            from twisted.python.logfile import LogFile
            log = LogFile.fromFullPath(sys.argv[1])  # as twistd opens it, as root
            os.setgroups([]); os.setgid(65534); os.setuid(65534)
            log.write("before\\n")
            log.rotate()
            print(os.path.exists(sys.argv[1] + ".1"))
            """
        )
        result = subprocess.run(
            [sys.executable, "-c", script, logfile], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return {"True\n": True, "False\n": False}[result.stdout]

    def test_aFileRootCreatedIsNeverRotatedWithoutAWord(self) -> None:
        self.assertFalse(self.rotated(os.path.join(self.nobodys, "twistd.log")))

    def test_aFileGivenToTheUserIsRotated(self) -> None:
        logfile = os.path.join(self.nobodys, "twistd.log")
        give_log_file(options(uid=NOBODY, logfile=logfile))
        self.assertTrue(self.rotated(logfile))
