"""
What each part of the daemon needs of the reactor, named, as treq names its
C{_ITreqReactor}: a part asks for the interfaces it calls and no more, and
a test can hand it a fake that provides just those.

    RunnerReactor    the job runner: child processes, their deadlines
    EngineReactor    the job engine: the runner's, and stopping the daemon
    JournalReactor   the journal's thread: timers, a way back, stopping
    OutputReactor    the output logs: a timer, a way back from the writer
    OutgoingReactor  calls out (commit statuses, chat): connections, deadlines
    DaemonReactor    all of them: what the service hands its parts

The bases are listed in one order throughout (core, time, process, threads),
so L{DaemonReactor}'s resolution order is consistent.
"""

from __future__ import annotations

import contextlib

from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import (
    IReactorCore,
    IReactorFromThreads,
    IReactorProcess,
    IReactorTCP,
    IReactorTime,
)


class RunnerReactor(IReactorTime, IReactorProcess):
    """What the job runner needs: child processes, and timers for their timeouts."""


class EngineReactor(IReactorCore, RunnerReactor):
    """What the job engine needs: the runner's, and stopping the daemon when the journal fails."""


class JournalReactor(IReactorCore, IReactorTime, IReactorFromThreads):
    """What the journal needs: timers for upkeep, a way back from its thread, stopping."""


class OutputReactor(IReactorTime, IReactorFromThreads):
    """What the output logs need: a timer to gather writes, a way back from the writer."""


class OutgoingReactor(IReactorTCP, IReactorTime):
    """What calling out needs: TCP connections (TLS runs over them) and timers for deadlines."""


class DaemonReactor(EngineReactor, JournalReactor, OutputReactor, OutgoingReactor):
    """
    What the daemon's service hands its parts: everything above. Its listening
    endpoints also call whatever their strings name (C{IReactorTCP} for tcp,
    C{IReactorUNIX} for unix) when they listen; C{serverFromString} is untyped.
    """


def stop_reactor(reactor: IReactorCore) -> None:
    """Stop the daemon as it cannot go on: the parts that started stop in order."""
    with contextlib.suppress(ReactorNotRunning):  # stopping already (a SIGTERM came too)
        reactor.stop()
