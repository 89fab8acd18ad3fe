"""
Rotating per-hook output logs.

Each line is written as it arrives with its UTC time, job id and stream, so
`tail -f` shows a deploy as it happens; nothing is held longer than a line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from twisted.python.logfile import LogFile


def utc_stamp(seconds: float) -> bytes:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-28T01:50:23.123Z."""
    whole = int(seconds)
    millis = int((seconds - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)).encode() + b".%03dZ" % millis


class OutputLog:
    """LOG_DIR/NAME.log, rotated at C{max_bytes}, keeping C{keep} old files."""

    def __init__(
        self,
        directory: str,
        name: str,
        max_bytes: int,
        keep: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        os.makedirs(directory, exist_ok=True)
        self._file = LogFile(
            f"{name}.log", directory, rotateLength=max_bytes, maxRotatedFiles=keep
        )
        self._clock = clock
        self.path = self._file.path

    def write_lines(self, job_id: int, stream: str, lines: Iterable[bytes]) -> None:
        """Write lines (without their newline) in one system call."""
        prefix = b"%s %d %s " % (utc_stamp(self._clock()), job_id, stream.encode())
        chunk = b"".join(prefix + line + b"\n" for line in lines)
        if chunk:
            self._file.write(chunk)

    def note(self, job_id: int, text: str) -> None:
        """A line from hookdaemon itself about the job (step started, exit status)."""
        self.write_lines(job_id, "hookdaemon", [text.encode("utf-8", "replace")])

    def close(self) -> None:
        self._file.close()
