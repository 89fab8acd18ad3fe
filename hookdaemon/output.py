"""
Rotating per-hook output logs.

Each line is written as it arrives with its UTC time, job id and stream, so
`tail -f` shows a deploy as it happens; nothing is held longer than the
reactor's turn (and the writer thread's queue, L{hookdaemon.disk_writer}).
A line is in the file whole or not at all: lines a full disk will not take
are counted, and the count is written in their place once it takes lines
again. Logs are 0600 and the directories made for them 0700, whatever the
umask: a deploy's output may hold what only its operator should read.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from functools import partial

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from hookdaemon.config import DaemonConfig
from hookdaemon.disk_writer import DiskWriter
from hookdaemon.private_files import FILE_MODE, private_directory
from hookdaemon.reactors import OutputReactor

log = Logger()

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC

SystemWrite = Callable[[int, memoryview], int]
"""C{os.write}, or a stand-in for it."""

Tell = Callable[[Callable[[], object]], object]
"""Runs a daemon log call where logging is safe: on the reactor."""


def utc_stamp(seconds: float) -> bytes:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-28T01:50:23.123Z."""
    whole = int(seconds)
    millis = int((seconds - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)).encode() + b".%03dZ" % millis


def log_file_name(hook: str) -> str:
    """
    C{NAME.log}; a hooks file's id may hold C{/} (C{deploy/site}), which is
    written C{%2F} (and C{%} as C{%25}), so that each hook has one file in log_dir.
    """
    return hook.replace("%", "%25").replace("/", "%2F") + ".log"


def prefixed(block: bytes, prefix: bytes) -> bytes:
    """C{prefix} before every line of C{block}, which ends in a newline."""
    return prefix + block[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


def _reason(error: OSError) -> str:
    """The error as the log says it: C{no space left on device}."""
    text = os.strerror(error.errno) if error.errno else str(error)
    return text[:1].lower() + text[1:]


FLUSH_BYTES = 262144
"""
Output held back at most: small writes to the log cost more than all the rest
(README: Why the code is as it is).
"""


class _LineFile:
    """
    One output log file, rotated by size, that takes whole lines or none.

    Not Twisted's C{LogFile}: it ignores what C{os.write} returns, and on a
    disk about to fill the kernel writes what fits and returns short, so the
    next write began in the middle of a line. Here a write that stops part way
    is cut back (C{ftruncate}) to its last whole line, and the lines that did
    not fit are counted; the count is written, as a line of its own, before the
    first lines the file takes again. Used on one thread only (the writer's).

    @ivar _lost: lines dropped since the last note of them in the file.
    @ivar _episode: lines dropped since the file last took a whole write, as
        the daemon's log reports them; nonzero from the first write that
        failed until the first that does not.
    @ivar _cut_to: the size a torn write must be cut back to, while cutting
        it back fails; nothing is written until it succeeds.
    @ivar written_bytes: bytes put in the file (and its rotated successors)
        since it was opened here, for C{/metrics}; read on the reactor.
    @ivar lost_lines: lines dropped since it was opened here, for C{/metrics}.
    @ivar lost_bytes: the bytes of those lines.
    """

    def __init__(
        self,
        directory: str,
        name: str,
        max_bytes: int,
        keep: int,
        clock: Callable[[], float],
        tell: Tell,
        write: SystemWrite,
    ) -> None:
        self.path = os.path.join(directory, name)
        self._max_bytes = max_bytes
        self._keep = keep
        self._clock = clock
        self._tell = tell
        self._write = write
        self._fd: int | None = None
        self._size = 0
        self._lost = 0
        self._episode = 0
        self._reason = ""
        self._cut_to: int | None = None
        self._closed = False
        self.written_bytes = 0
        self.lost_lines = 0
        self.lost_bytes = 0
        self._open()

    def write(self, data: bytes) -> None:
        """Append C{data}, whole lines; those the file will not take are counted."""
        note = self._note() if self._lost else b""
        if note:
            data = note + data
        written = 0
        try:
            fd = self._ready()
            view = memoryview(data)
            while written < len(data):
                taken = self._write(fd, view[written:])
                if taken == 0:  # taking nothing and not saying why: never loop on it
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += taken
        except OSError as e:
            self._failed(data, written, len(note), e)
            return
        self._size += written
        self.written_bytes += written
        if self._episode:
            self._tell(
                partial(
                    log.info,
                    "output log {path} written again: {lost} lines were lost ({reason})",
                    path=self.path,
                    lost=self._episode,
                    reason=self._reason,
                )
            )
        self._lost = self._episode = 0

    def _ready(self) -> int:
        """The file to write to: cut back, rotated if due, open."""
        if self._cut_to is not None:
            assert self._fd is not None
            os.ftruncate(self._fd, self._cut_to)
            self._cut_to = None
        if self._fd is not None and self._size >= self._max_bytes:
            self._rotate()
        if self._fd is None:
            self._open()
        assert self._fd is not None
        return self._fd

    def _failed(self, data: bytes, written: int, noted: int, error: OSError) -> None:
        """Cut a torn write back to its last whole line and count the lines lost."""
        kept = data.rfind(b"\n", 0, written) + 1
        if kept < written:
            assert self._fd is not None
            # With O_APPEND the offset is the end of what this write put there.
            self._cut_to = os.lseek(self._fd, 0, os.SEEK_CUR) - (written - kept)
            try:
                os.ftruncate(self._fd, self._cut_to)
                self._cut_to = None
            except OSError:
                pass
        self._size += kept
        self.written_bytes += kept
        lost = data.count(b"\n", max(kept, noted))
        self.lost_lines += lost
        self.lost_bytes += len(data) - max(kept, noted)
        if noted and kept >= noted:
            self._lost = lost  # the note is in: only what followed it is still to tell
        else:
            self._lost += lost
        if not self._episode and lost:
            self._reason = _reason(error)
            self._tell(
                partial(
                    log.warn,
                    "output log {path} cannot be written ({reason}): "
                    "its lines are dropped, and counted, until it can",
                    path=self.path,
                    reason=self._reason,
                )
            )
        self._episode += lost

    def _note(self) -> bytes:
        lines = b"line" if self._lost == 1 else b"lines"
        return b"%s - hookdaemon %d %s lost: %s\n" % (
            utc_stamp(self._clock()),
            self._lost,
            lines,
            self._reason.encode(),
        )

    def _open(self) -> None:
        try:
            fd = os.open(self.path, _FLAGS | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            fd = os.open(self.path, _FLAGS)
        else:
            try:
                os.fchmod(fd, FILE_MODE)  # open()'s mode went through the umask
            except OSError:
                os.close(fd)
                raise
        self._fd = fd
        self._size = os.fstat(fd).st_size

    def _rotate(self) -> None:
        """NAME.1 to NAME.2 and so on, the oldest beyond C{keep} removed, NAME to NAME.1."""
        assert self._fd is not None
        prefix = os.path.basename(self.path) + "."
        directory = os.path.dirname(self.path)
        try:
            numbers = sorted(
                (
                    int(name[len(prefix) :])
                    for name in os.listdir(directory)
                    if name.startswith(prefix) and name[len(prefix) :].isdigit()
                ),
                reverse=True,
            )
            for number in numbers:
                older = f"{self.path}.{number}"
                if number >= self._keep:
                    os.remove(older)
                elif number > 0:
                    os.replace(older, f"{self.path}.{number + 1}")
            os.replace(self.path, f"{self.path}.1")
        except OSError as e:
            # Writing on is better than losing lines; try again max_bytes later.
            self._size = 0
            self._tell(
                partial(
                    log.warn,
                    "output log {path} not rotated ({reason}); written on",
                    path=self.path,
                    reason=_reason(e),
                )
            )
            return
        os.close(self._fd)
        self._fd = None

    def limit(self, max_bytes: int, keep: int) -> None:
        self._max_bytes = max_bytes
        self._keep = keep

    def close(self) -> None:
        """Close the file, noting first any lines lost, if it can."""
        if self._closed:
            return
        self._closed = True
        if self._lost:
            self.write(b"")
        if self._episode:
            self._tell(
                partial(
                    log.warn,
                    "output log {path} closed with {lost} lines lost ({reason}) not noted in it",
                    path=self.path,
                    lost=self._episode,
                    reason=self._reason,
                )
            )
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class OutputLog:
    """
    LOG_DIR/NAME.log, rotated at C{max_bytes}, keeping C{keep} old files.

    With C{later} (the reactor's C{callLater(0, ...)}), blocks are gathered and
    written together once L{FLUSH_BYTES} are waiting or at the end of the
    reactor's turn, whichever comes first, so a line still reaches the file
    as soon as the reactor is free; without it every block is written at once.
    With C{writer}, the writes (and rotations) are done on its thread, not the
    caller's. C{write} is the system call that writes, for a test that cannot
    fill a disk.
    """

    def __init__(
        self,
        directory: str,
        name: str,
        max_bytes: int,
        keep: int,
        clock: Callable[[], float] = time.time,
        later: Callable[[Callable[[], None]], object] | None = None,
        writer: DiskWriter | None = None,
        write: SystemWrite = os.write,
    ) -> None:
        private_directory(directory)
        tell: Tell = (lambda action: action()) if writer is None else writer.on_reactor
        self._file = _LineFile(directory, log_file_name(name), max_bytes, keep, clock, tell, write)
        self._clock = clock
        self._later = later
        self._writer = writer
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._flush_planned = False
        self.path = self._file.path

    def write_block(self, job_id: int, stream: str, block: bytes) -> None:
        """
        Write a block of whole lines (each ending in a newline), each line
        prefixed with the time, the job and the stream.
        """
        if not block:
            return
        prefix = b"%s %d %s " % (utc_stamp(self._clock()), job_id, stream.encode())
        data = prefixed(block, prefix)
        if self._later is None:
            self._file.write(data)
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()
        elif not self._flush_planned:
            self._flush_planned = True
            self._later(self._planned_flush)

    def note(self, job_id: int, text: str) -> None:
        """A line from hookdaemon itself about the job (step started, exit status)."""
        self.write_block(job_id, "hookdaemon", text.encode("utf-8", "replace") + b"\n")
        self.flush()

    def flush(self) -> None:
        """Write what is held back, in one system call (on the writer's thread, if any)."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            if self._writer is None:
                self._file.write(data)
            else:
                self._writer.submit(partial(self._file.write, data), len(data))

    @property
    def written_bytes(self) -> int:
        """Bytes written to the file so far (the writer's thread counts them)."""
        return self._file.written_bytes

    @property
    def lost_lines(self) -> int:
        """Lines the file would not take so far (a full disk)."""
        return self._file.lost_lines

    @property
    def lost_bytes(self) -> int:
        """The bytes of those lines."""
        return self._file.lost_bytes

    @property
    def congested(self) -> bool:
        """Is the writer behind by more than it should hold? Then pause the producers."""
        return self._writer is not None and self._writer.congested

    def when_relieved(self, resume: Callable[[], object]) -> None:
        """Call C{resume} once the writer has caught up (at once without a writer)."""
        if self._writer is None:
            resume()
        else:
            self._writer.when_relieved(resume)

    def written(self) -> Deferred[None]:
        """Fires once everything given so far is in the file."""
        self.flush()
        return succeed(None) if self._writer is None else self._writer.drained()

    def _planned_flush(self) -> None:
        self._flush_planned = False
        self.flush()

    def limit(self, max_bytes: int, keep: int) -> None:
        """Rotate at C{max_bytes} and keep C{keep} old files from now on (a reload)."""

        def apply() -> None:
            self._file.limit(max_bytes, keep)

        if self._writer is None:
            apply()
        else:
            self._writer.submit(apply)  # on the writer's thread, as every use of the file

    def close(self) -> None:
        self.flush()
        if self._writer is None:
            self._file.close()
        else:
            self._writer.submit(self._file.close)


class OutputLogs(Service):
    """
    Every hook's L{OutputLog}, written on one L{DiskWriter} thread: opened when
    the service starts, and closed once what was written is in the files when
    it stops (after the jobs that write them: see L{hookdaemon.service}).
    """

    def __init__(
        self, daemon: DaemonConfig, hook_names: list[str], reactor: OutputReactor
    ) -> None:
        self._daemon = daemon
        self._hook_names = hook_names
        self._reactor = reactor
        self._writer: DiskWriter | None = None
        self.logs: dict[str, OutputLog] = {}
        """Each hook's log by the hook's name, while the service runs."""

    def startService(self) -> None:
        super().startService()
        self._writer = DiskWriter(self._reactor.callFromThread)
        for name in self._hook_names:
            self._open(name)

    def reconfigure(self, daemon: DaemonConfig, hook_names: list[str]) -> None:
        """
        A reload: a log for each hook added, the new sizes for all. A removed
        hook's log stays open, as its last jobs may still write to it.
        """
        self._daemon = daemon
        self._hook_names = hook_names
        for output in self.logs.values():
            output.limit(daemon.log_max_bytes, daemon.log_keep)
        for name in hook_names:
            if name not in self.logs:
                self._open(name)

    def _open(self, name: str) -> None:
        daemon = self._daemon
        self.logs[name] = OutputLog(
            daemon.log_dir,
            name,
            daemon.log_max_bytes,
            daemon.log_keep,
            later=lambda flush: self._reactor.callLater(0, flush),
            writer=self._writer,
        )

    def stopService(self) -> Deferred[None]:
        super().stopService()
        for output in self.logs.values():
            output.close()
        self.logs.clear()
        if self._writer is None:
            return succeed(None)
        return self._writer.stop()
