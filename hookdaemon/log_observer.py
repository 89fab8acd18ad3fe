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
from typing import IO, Any

from twisted.logger import ILogObserver, LogEvent
from twisted.python.logfile import LogFile
from zope.interface import implementer

from hookdaemon.log_text import ClassicText
from hookdaemon.twistd_files import log_file


@implementer(ILogObserver)
class TextObserver:
    """As twisted.logger's C{textFileLogObserver}: each event's text written and flushed."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        """Where the lines go: the log file, or stdout."""
        self._text = ClassicText()

    def __call__(self, event: LogEvent) -> None:
        text = self._text(event)
        if text:
            self.out.write(text)
            self.out.flush()


def twistd_observer(twistd: Mapping[str, Any] | None) -> TextObserver | None:
    """
    For twistd's parsed options, the observer its own logger would make; None
    where that is not a file or stdout, or without twistd's options (a test).
    """
    if twistd is None or twistd.get("syslog") or twistd.get("logger") is not None:
        return None
    path = log_file(twistd)
    if path is None:
        if not twistd.get("nodaemon"):
            return None  # "--logfile -" for a daemon: twistd refuses it, and says so
        return TextObserver(sys.stdout)
    opened = LogFile.fromFullPath(path)
    if not signal.getsignal(signal.SIGUSR1):  # as twistd: unless something else took it

        def rotate(signum: int, frame: object) -> None:
            from twisted.internet import reactor

            reactor.callFromThread(opened.rotate)  # type: ignore[attr-defined]

        signal.signal(signal.SIGUSR1, rotate)
    return TextObserver(opened)
