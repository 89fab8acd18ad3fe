"""
twistd's own files and C{--uid}/C{--gid}: twistd opens its C{--logfile} and
writes its C{--pidfile} as root, and only then becomes that user
(twisted/scripts/_twistd_unix.py: the logger starts, then setupEnvironment
writes the pid file, then privilegedStartService, then shedPrivileges). The
user must later remove the pid file (at stop: "Warning: No permission to
delete pid file" otherwise) and rotate the log, which twisted/python/logfile.py
skips without a word when the user may not write the file or its directory,
so the log grows for ever.

L{file_problems} says what would go wrong, one sentence each, from twistd's
parsed options: C{hookdaemon run} refuses to start on them, plain twistd
warns. L{give_log_file} makes a missing log file the user's beforehand.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterator, Mapping
from typing import Any

from hookdaemon.preflight import RunAs, who_is

WRITE = (stat.S_IWUSR, stat.S_IWGRP, stat.S_IWOTH)

LOG_MODE = 0o640


def log_file(options: Mapping[str, Any]) -> str | None:
    """The file twistd will log to, as an absolute path; None for stdout, syslog or a --logger."""
    if options.get("syslog") or options.get("logger") is not None:
        return None
    logfile = options.get("logfile")
    if logfile == "-" or (not logfile and options.get("nodaemon")):
        return None
    return os.path.abspath(logfile or "twistd.log")  # a daemon's default, in its directory


def file_problems(options: Mapping[str, Any]) -> list[str]:
    """
    What twistd's C{--uid} user could not do with the pid file and the log
    file C{options} (twistd's, parsed) name; empty without C{--uid}. Paths are
    taken from this directory, as twistd takes them before its C{--rundir}.
    """
    user = RunAs.from_twistd(options)
    if user is None:
        return []  # --gid alone keeps root's uid, which may write anywhere
    found: list[str] = []
    pidfile = options.get("pidfile") or ""
    if pidfile and not options.get("chroot"):  # chrooted, twistd writes it inside the root
        found.extend(_pidfile_problems(os.path.abspath(pidfile), user))
    logfile = log_file(options)
    if logfile is not None:
        found.extend(_logfile_problems(logfile, user))
    return found


def _pidfile_problems(path: str, user: RunAs) -> Iterator[str]:
    who = who_is(user)
    directory = os.path.dirname(path)
    fix = (
        "use a directory it owns (systemd: RuntimeDirectory=hookdaemon makes"
        " /run/hookdaemon), or no --pidfile (systemd knows the daemon's pid)"
    )
    if not os.path.isdir(directory):
        yield f"--pidfile {path}: {directory} is not a directory; create it, or {fix}"
    elif not _may_write_in(user, directory):
        yield (
            f"--pidfile {path}: {who} may not write in {directory}, so the daemon could"
            f" not remove its pid file at stop; {fix}"
        )
    elif _sticky_against(user, directory):
        yield (
            f"--pidfile {path}: {directory} is sticky (mode +t), so {who} could not"
            f" remove the pid file root writes there; {fix}"
        )
    else:
        # Where the user may remove it, the user may also put a link in its
        # place, and root writes through it at the next start.
        yield (
            f"--pidfile {path}: {who} may write in {directory}, so it could leave a link"
            " there to any file, which root would overwrite at the next start; give no"
            " --pidfile (STATE_DIR/hookdaemon.pid holds the pid; systemd knows it too)"
        )


def _logfile_problems(path: str, user: RunAs) -> Iterator[str]:
    who = who_is(user)
    directory = os.path.dirname(path)
    fix = (
        "give it a directory it owns (systemd: LogsDirectory=hookdaemon makes"
        " /var/log/hookdaemon), or log to journald (no --logfile under systemd)"
    )
    if not os.path.isdir(directory):
        yield f"--logfile {path}: {directory} is not a directory; create it, or {fix}"
    elif os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
        # Root opens it at start, following a link the user may have left there.
        yield (
            f"--logfile {path}: is not a plain file (a link, say), which root would"
            f" open at start; remove it, or {fix}"
        )
    elif not _may_write_in(user, directory):
        yield (
            f"--logfile {path}: {who} may not write in {directory}, so the log would"
            f" never be rotated (twistd skips that without a word); {fix}"
        )
    elif not os.path.exists(path):
        yield (
            f"--logfile {path}: twistd would create it as root, so {who} could never"
            f" rotate it; create it as that user first (hookdaemon run does), or {fix}"
        )
    elif not user.may(path, WRITE):
        yield (
            f"--logfile {path}: {who} may not write it, so it would never be rotated;"
            f" chown it to that user, or {fix}"
        )


def give_log_file(options: Mapping[str, Any]) -> str | None:
    """
    Create the missing log file of a C{--uid} start as that user's (C{LOG_MODE})
    where that user may write in its directory, so that it can rotate it; its
    path, or None where there was nothing to do.
    """
    uid = options.get("uid")
    path = log_file(options)
    if uid is None or path is None or os.path.lexists(path):
        return None
    user = RunAs.from_twistd(options)
    assert user is not None, "a --uid was given"
    gid = options.get("gid")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory) or not _may_write_in(user, directory):
        return None  # file_problems says so
    if gid is None:
        try:
            gid = pwd.getpwuid(int(uid)).pw_gid  # as twistd picks it
        except KeyError:
            return None  # twistd itself fails on such a uid
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, LOG_MODE)
    try:
        os.fchown(fd, int(uid), int(gid))
        os.fchmod(fd, LOG_MODE)  # whatever the umask
    finally:
        os.close(fd)
    return path


def _may_write_in(user: RunAs, directory: str) -> bool:
    return user.can_enter(directory) is None and user.may(directory, WRITE)


def _sticky_against(user: RunAs, directory: str) -> bool:
    """
    In a sticky directory only a file's owner or the directory's may remove it
    (unlink(2), EPERM), and the pid file is always root's: twistd removes a
    stale one and writes its own anew before it drops privileges.
    """
    found = os.stat(directory)
    return user.uid != 0 and bool(found.st_mode & stat.S_ISVTX) and found.st_uid != user.uid
