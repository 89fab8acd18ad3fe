"""
SIGHUP, until the daemon can reload: twistd installs no handler for it, so it
ended the daemon (exit 129) and orphaned the running jobs, and systemd's
C{Restart=on-failure} took that for a clean exit. Now it is logged and ignored.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger

log = Logger()


class HangupNotice(Service):
    """While running, a SIGHUP is answered with a log line instead of an exit."""

    def __init__(self, reactor: IReactorFromThreads) -> None:
        self._reactor = reactor
        self._previous: Any = None

    def startService(self) -> None:
        super().startService()
        self._previous = signal.signal(signal.SIGHUP, self._hangup)

    def stopService(self) -> None:
        super().stopService()
        if self._previous is not None:
            signal.signal(signal.SIGHUP, self._previous)
            self._previous = None

    def _hangup(self, number: int, frame: FrameType | None) -> None:
        # A signal handler may run between any two bytecodes: hand over to the reactor.
        self._reactor.callFromThread(
            log.warn,
            "SIGHUP: reloading is not supported yet; carrying on with the configuration"
            " read at start (restart the daemon to read it again)",
        )
