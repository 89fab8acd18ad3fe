"""
Running one command step as a child process, streaming its output by line.

The child is started in a session of its own (through setsid) so a timeout can
signal its whole process group, grandchildren included. It enters its working
directory through C{env -C} rather than spawnProcess's C{path}: Twisted starts a
child with posix_spawn only when it has no directory to enter, and otherwise
forks the whole daemon, which costs the reactor far more per step (README: Why
the code is as it is).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.main import CONNECTION_DONE, CONNECTION_LOST
from twisted.internet.process import ProcessReader
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from hookdaemon.command import BASE_PATH

MAX_LINE = 64 * 1024
"""A line longer than this is written in pieces rather than held whole."""

LineSink = Callable[[str, bytes], None]
"""Takes a stream's name and a block of one or more whole lines, each ending in a newline."""

TRAMPOLINE = (
    "import os,sys; os.chdir(sys.argv[1]); os.setsid(); os.execvp(sys.argv[2], sys.argv[2:])"
)
"""The same in Python, where C{env -C} (coreutils 8.28) or setsid (util-linux) is missing."""


@functools.cache
def _launcher() -> Callable[[str], list[str]]:
    env = shutil.which("env", path=BASE_PATH)
    setsid = shutil.which("setsid", path=BASE_PATH)
    if env and setsid:
        # Does this env take -C? (It wants a command: env itself, which prints the environment.)
        probe = subprocess.run(
            [env, "-C", "/", env], stdin=subprocess.DEVNULL, capture_output=True
        )
        if probe.returncode == 0:
            return lambda workdir: [env, "-C", workdir, setsid]
    return lambda workdir: [sys.executable, "-c", TRAMPOLINE, workdir]


def launch_prefix(workdir: str) -> list[str]:
    """The argv before a step's own that enters C{workdir} and starts a new session."""
    return _launcher()(workdir)


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


class RunningStep:
    """A spawned step: wait on C{ended}, or signal its whole process group."""

    def __init__(
        self,
        reactor: IReactorProcess,
        argv: Sequence[str],
        env: Mapping[str, str],
        workdir: str,
        sink: LineSink,
        raw: Callable[[bytes], None] | None = None,
    ) -> None:
        self.protocol = StepProtocol(sink, raw)
        self.paused = False
        command = [*launch_prefix(workdir), *argv]
        self._transport = reactor.spawnProcess(self.protocol, command[0], command, env=dict(env))
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
