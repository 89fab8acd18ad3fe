"""
Rotating per-hook output logs.

Each line is written as it arrives with its UTC time, job id and stream, so
`tail -f` shows a deploy as it happens; nothing is held longer than the
reactor's turn (and the writer thread's queue, L{hookdaemon.disk_writer}).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.python.logfile import LogFile

from hookdaemon.config import DaemonConfig
from hookdaemon.disk_writer import DiskWriter
from hookdaemon.reactors import OutputReactor


def utc_stamp(seconds: float) -> bytes:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-28T01:50:23.123Z."""
    whole = int(seconds)
    millis = int((seconds - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)).encode() + b".%03dZ" % millis


def prefixed(block: bytes, prefix: bytes) -> bytes:
    """C{prefix} before every line of C{block}, which ends in a newline."""
    return prefix + block[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


FLUSH_BYTES = 262144
"""
Output held back at most: small writes to the log cost more than all the rest
(README: Why the code is as it is).
"""


class OutputLog:
    """
    LOG_DIR/NAME.log, rotated at C{max_bytes}, keeping C{keep} old files.

    With C{later} (the reactor's C{callLater(0, ...)}), blocks are gathered and
    written together once L{FLUSH_BYTES} are waiting or at the end of the
    reactor's turn, whichever comes first, so a line still reaches the file
    as soon as the reactor is free; without it every block is written at once.
    With C{writer}, the writes (and rotations) are done on its thread, not the
    caller's.
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
    ) -> None:
        os.makedirs(directory, exist_ok=True)
        self._file = LogFile(
            f"{name}.log", directory, rotateLength=max_bytes, maxRotatedFiles=keep
        )
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
        daemon = self._daemon
        self._writer = DiskWriter(self._reactor.callFromThread)
        for name in self._hook_names:
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
