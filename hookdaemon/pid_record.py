"""
STATE_DIR/hookdaemon.pid: which process runs on a state directory, held
with a lock for as long as it does.

Two daemons on one journal would each take the other's running jobs for
interrupted ones and run them again; the lock keeps the second out. The pid
is what C{hookdaemon reload} signals, and the lock tells a live daemon's
file from one a killed daemon left (the kernel drops the lock with its
process, so no stale file can keep a daemon from starting).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time

from hookdaemon.private_files import FILE_MODE

NAME = "hookdaemon.pid"


class StateInUseError(Exception):
    """Another live process holds the state directory."""


class NotRunningError(Exception):
    """No live daemon holds the state directory."""


def pid_path(state_dir: str) -> str:
    return os.path.join(state_dir, NAME)


class PidRecord:
    """The lock and the pid, from L{take} until L{release}."""

    def __init__(self, state_dir: str) -> None:
        self.path = pid_path(state_dir)
        self._fd: int | None = None

    def take(self) -> None:
        """Lock the file and write this process's pid, or raise L{StateInUseError}."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        if not _lock(fd):
            holder = _read_pid(fd)
            os.close(fd)
            raise StateInUseError(
                f"{os.path.dirname(self.path)} is in use by another hookdaemon"
                f"{f' (pid {holder})' if holder else ''}: stop that one first, or give"
                " this one its own state_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # Removed while still locked, so a daemon starting now makes a new file.
        with contextlib.suppress(OSError):
            os.remove(self.path)
        os.close(fd)


def running_pid(state_dir: str) -> int:
    """The pid of the daemon holding C{state_dir}, or raise L{NotRunningError}."""
    path = pid_path(state_dir)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise NotRunningError(f"no hookdaemon runs on {state_dir} (no {NAME} there)") from None
    except PermissionError:
        raise NotRunningError(f"cannot read {path}: run as the daemon's user or root") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            if pid is None:
                raise NotRunningError(f"{path} holds no pid") from None
            return pid
        raise NotRunningError(
            f"no hookdaemon runs on {state_dir} ({NAME} is left from one that was killed)"
        )
    finally:
        os.close(fd)


def state_dir_of(pid: int) -> str | None:
    """
    The state directory process C{pid} holds the lock of, from its open files
    (Linux's /proc), or None: for C{hookdaemon reload --pid} with a config
    whose state_dir is not the running daemon's.
    """
    directory = f"/proc/{pid}/fd"
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    for name in names:
        try:
            target = os.readlink(os.path.join(directory, name))
        except OSError:
            continue
        if os.path.basename(target) == NAME:
            return os.path.dirname(target)
    return None


def _lock(fd: int) -> bool:
    """
    Take the lock, allowing for a reader (L{running_pid}) that holds it shared
    for a moment: only a lock held for a whole second is another daemon's.
    Called on the journal's thread, where waiting blocks nothing else.
    """
    for _ in range(20):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            time.sleep(0.05)
        else:
            return True
    return False


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
