"""
Running one command step as a child process, streaming its output by line.

The child runs in its hook's working directory, in a session of its own so a
timeout can signal its whole process group, grandchildren included. subprocess
starts it (vfork; the child enters the directory, then execs) and setsid(1)
starts the session: two execs per step. Twisted starts a child with posix_spawn,
which can enter neither, and forks the whole daemon for a child with a directory
to enter. The session is not started by subprocess before the exec: the daemon
waits for a vforked child until it execs, and with the kernel's autogroups a
child that calls setsid first waits its turn in a scheduling group of its own,
7 ms at the median on a loaded machine against 3 ms (README: Why the code is as
it is).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IReactorFDSet
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.internet.process import Process, ProcessReader
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from hookdaemon.command import BASE_PATH

MAX_LINE = 64 * 1024
"""A line longer than this is written in pieces rather than held whole."""

LineSink = Callable[[str, bytes], None]
"""Takes a stream's name and a block of one or more whole lines, each ending in a newline."""


@frozen
class StepResult:
    """How a step ended: its exit code or the signal that killed it (neither: it never ran)."""

    exit_code: int | None
    signal: str | None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        if self.signal is not None:
            return f"killed by {self.signal}"
        return f"exit {self.exit_code}"


class LineSplitter:
    """
    Cuts a byte stream into blocks of whole lines for C{sink}, keeping at most
    one partial line of at most L{MAX_LINE} bytes.

    A read's whole lines go on as one block: the per-line work downstream is
    done by C{bytes.replace}, not in a Python loop, so a command printing a
    gigabyte costs one call per read, not one per line.
    """

    def __init__(self, stream: str, sink: LineSink) -> None:
        self._stream = stream
        self._sink = sink
        self._partial = b""

    def feed(self, data: bytes) -> None:
        end = data.rfind(b"\n") + 1
        if end:
            block = self._partial + data[:end] if self._partial else data[:end]
            self._partial = data[end:]
            self._emit(block)
        else:
            self._partial += data
        while len(self._partial) > MAX_LINE:
            self._emit(self._partial[:MAX_LINE] + b"\n")
            self._partial = self._partial[MAX_LINE:]

    def close(self) -> None:
        if self._partial:
            self._emit(self._partial + b"\n")
            self._partial = b""

    def _emit(self, block: bytes) -> None:
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
        self._sink(self._stream, block)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class StepProtocol(ProcessProtocol):
    """Streams stdout and stderr separately; C{ended} fires with a L{StepResult}."""

    def __init__(self, sink: LineSink, raw: Callable[[bytes], None] | None = None) -> None:
        self.ended: Deferred[StepResult] = Deferred()
        self._out = LineSplitter("stdout", sink)
        self._err = LineSplitter("stderr", sink)
        self._raw = raw
        """Told of both streams' bytes as read, before lines are cut (webhook's CombinedOutput)."""

    def connectionMade(self) -> None:
        self.transport.closeStdin()  # type: ignore[union-attr]

    def outReceived(self, data: bytes) -> None:
        if self._raw is not None:
            self._raw(data)
        self._out.feed(data)

    def errReceived(self, data: bytes) -> None:
        if self._raw is not None:
            self._raw(data)
        self._err.feed(data)

    def processEnded(self, reason: Failure) -> None:
        self._out.close()
        self._err.close()
        value = reason.value
        if isinstance(value, ProcessDone):
            result = StepResult(exit_code=0, signal=None)
        elif isinstance(value, ProcessTerminated) and value.signal is not None:
            result = StepResult(exit_code=None, signal=_signal_name(value.signal))
        elif isinstance(value, ProcessTerminated):
            result = StepResult(exit_code=value.exitCode, signal=None)
        else:
            result = StepResult(exit_code=None, signal="unknown")
        self.ended.callback(result)


READ_SIZE = 64 * 1024
"""Bytes read from a child's pipe at once: the pipe's whole buffer, where Twisted reads 8 KiB."""


def _read_large(reader: ProcessReader) -> object:
    """
    C{ProcessReader.doRead} (twisted.internet.fdesc.readFromFD) with reads of
    L{READ_SIZE}: a command printing fast costs an eighth of the reads.
    """
    try:
        output = os.read(reader.fd, READ_SIZE)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EINTR):
            return None
        return CONNECTION_LOST
    if not output:
        return CONNECTION_DONE
    reader.dataReceived(output)
    return None


@functools.cache
def setsid_program() -> str | None:
    """util-linux's setsid, where there is one (not on the BSDs or macOS)."""
    return shutil.which("setsid", path=BASE_PATH)


class _StepProcess(Process):
    """
    Twisted's child process, started as subprocess starts one: the child enters
    C{path}, execs setsid(1), which starts a new session and runs the step's
    program, found on the step's own C{PATH}. Where there is no setsid(1) the
    child starts the session itself, before it execs the program. Twisted reaps
    it (SIGCHLD), as any of its children.

    Twisted's L{Process} calls C{_trySpawnInsteadOfFork} to start the child,
    and forks only if it returns false. If a Twisted to come stopped calling it,
    a step would still run in its workdir, in the daemon's session (as the tests
    of this module would show).
    """

    _started: subprocess.Popen[bytes] | None = None

    def _trySpawnInsteadOfFork(
        self,
        path: str,
        uid: int | None,
        gid: int | None,
        executable: str,
        args: Sequence[str],
        environment: Mapping[str, str],
        kwargs: dict[str, Any],
    ) -> bool:
        if uid is not None or gid is not None:
            return False
        fdmap: dict[int, int] = kwargs["fdmap"]
        setsid = setsid_program()
        self._started = subprocess.Popen(
            list(args) if setsid is None else [setsid, *args],
            executable=executable if setsid is None else setsid,
            env=environment,
            cwd=path,
            stdin=fdmap[0],
            stdout=fdmap[1],
            stderr=fdmap[2],
            start_new_session=setsid is None,
        )
        self.pid = self._started.pid
        self.status = -1
        return True

    def processEnded(self, status: int) -> None:
        # Reaped by Twisted: the Popen must never poll this pid again (by then
        # it may be another child's), as it would once collected with no
        # returncode (Popen.__del__).
        if self._started is not None:
            try:
                self._started.returncode = os.waitstatus_to_exitcode(status)
            except (TypeError, ValueError):  # not an exit status: still never to be polled
                self._started.returncode = -1
        super().processEnded(status)


class RunningStep:
    """A spawned step: wait on C{ended}, or signal its whole process group."""

    def __init__(
        self,
        reactor: IReactorFDSet,
        argv: Sequence[str],
        env: Mapping[str, str],
        workdir: str,
        sink: LineSink,
        raw: Callable[[bytes], None] | None = None,
    ) -> None:
        self.protocol = StepProtocol(sink, raw)
        self.paused = False
        self._transport = _StepProcess(
            reactor, argv[0], list(argv), dict(env), workdir, self.protocol
        )
        self.pid = self._transport.pid
        for reader in getattr(self._transport, "pipes", {}).values():
            if isinstance(reader, ProcessReader):
                reader.doRead = partial(_read_large, reader)  # type: ignore[method-assign]

    @property
    def ended(self) -> Deferred[StepResult]:
        return self.protocol.ended

    def pause(self) -> None:
        """Stop reading the step's output: the child blocks once its pipes are full."""
        self.paused = True
        getattr(self._transport, "pauseProducing", lambda: None)()

    def resume(self) -> None:
        self.paused = False
        getattr(self._transport, "resumeProducing", lambda: None)()

    def signal_group(self, signum: int) -> None:
        """Signal every process of the step; the group outlives its leader."""
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessExitedAlready):
                self._transport.signalProcess(signum)
