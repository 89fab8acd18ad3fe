"""
Files and directories for the daemon's user alone: the journal (every
delivery's body), payload files and output logs are 0600, and the directories
hookdaemon makes for them 0700, whatever the umask (which can only take bits
away, so each is set again after it is made).
"""

from __future__ import annotations

import os
import secrets
import tempfile

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def private_directory(path: str) -> None:
    """
    Make C{path}, and whichever of its parents are missing, 0700 whatever the
    umask (which can only take bits away); directories already there keep theirs.
    """
    missing = []
    head = os.path.abspath(path)
    while not os.path.exists(head):
        missing.append(head)
        head = os.path.dirname(head)
    os.makedirs(path, DIRECTORY_MODE, exist_ok=True)
    for made in missing:
        os.chmod(made, DIRECTORY_MODE)


def write_private(path: str, data: bytes) -> None:
    """Write C{data} to a new or emptied file of mode 0600 whatever the umask (a payload)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        _fill(fd, data)
    finally:
        os.close(fd)


def _fill(fd: int, data: bytes) -> None:
    """Mode 0600 whatever the umask, then all of C{data} (os.write may take less)."""
    os.fchmod(fd, FILE_MODE)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_passed_file(variable: str, data: bytes, directory: str | None) -> str:
    """
    A hooks-file hook's C{pass-file-to-command} file: new, 0600, named after
    its variable with random digits after it in C{directory} (the system's
    temporary directory when None), as webhook's ioutil.TempFile names it
    (os/tempfile.go: the pattern, then a random number); its path.
    """
    directory = tempfile.gettempdir() if directory is None else directory
    for _ in range(10000):
        path = os.path.join(directory, f"{variable}{secrets.randbelow(2**32)}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"no free name for {variable} in {directory}")
    try:
        _fill(fd, data)
    except BaseException:
        os.close(fd)
        os.remove(path)
        raise
    os.close(fd)
    return path


def private_file(path: str) -> None:
    """
    Make the journal's file 0600 whatever the umask, empty if missing, or take
    from an existing one (an older release's, 0644) what others could read: it
    holds every delivery's body. SQLite gives its -wal and -shm the same mode.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for companion in (path + "-wal", path + "-shm"):
        try:
            if os.stat(companion).st_mode & 0o077:
                os.chmod(companion, FILE_MODE)
        except FileNotFoundError:
            pass
