"""
The log observer twistd would make, writing L{hookdaemon.log_text}'s text.

twistd picks its observer from its own options after the plugin made the
service: a C{--logger}, else an C{ILogObserver} set on the application, else
its own (syslog, stdout, or a rotating C{--logfile}, which SIGUSR1 rotates).
The daemon sets the second to what twistd's own choice would have been, with
the faster text: the same file, the same rotation, the same lines. Where the
choice is a C{--logger} or syslog, twistd's stands, and so does its refusal of
a daemon logging to stdout.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping
from typing import IO, Any, cast

from twisted.logger import FileLogObserver, ILogObserver
from twisted.python.logfile import LogFile

from hookdaemon.log_text import ClassicText
from hookdaemon.twistd_files import log_file


def log_target(twistd: Mapping[str, Any] | None) -> IO[Any] | None:
    """
    Where twistd's own logger would write, for its parsed options: the rotating
    C{--logfile} (SIGUSR1 rotating it, as twistd has it) or stdout; None where
    that is neither (a C{--logger}, syslog), or without twistd's options (a test).
    """
    if twistd is None or twistd.get("syslog") or twistd.get("logger") is not None:
        return None
    path = log_file(twistd)
    if path is None:
        if not twistd.get("nodaemon"):
            return None  # "--logfile -" for a daemon: twistd refuses it, and says so
        return sys.stdout
    opened = LogFile.fromFullPath(path)
    if not signal.getsignal(signal.SIGUSR1):  # as twistd: unless something else took it

        def rotate(signum: int, frame: object) -> None:
            from twisted.internet import reactor

            reactor.callFromThread(opened.rotate)  # type: ignore[attr-defined]

        signal.signal(signal.SIGUSR1, rotate)
    return cast(IO[Any], opened)  # twisted.python.logfile has no types


def twistd_observer(twistd: Mapping[str, Any] | None) -> ILogObserver | None:
    """The observer twistd would make of its options, writing L{ClassicText}'s text."""
    target = log_target(twistd)
    return None if target is None else FileLogObserver(target, ClassicText())
