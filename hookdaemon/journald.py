"""
The daemon's log written for journald, when systemd connects stdout to it:
journald makes a record of each line, timed by itself, at the priority a
C{<N>} prefix gives (sd-daemon(3)), or at info without one. twistd's own
lines carry a timestamp and no prefix, so C{journalctl} showed every line
timed twice and every line, a traceback's too, at info.

C{hookdaemon run} uses L{journal_observer} by itself when L{stdout_is_journal};
C{twistd -n --logger=hookdaemon.journald.journal_observer hookdaemon}
asks for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from twisted.logger import FileLogObserver, ILogObserver, LogEvent, LogLevel

from hookdaemon.log_text import event_text

PRIORITIES = {
    LogLevel.debug: 7,  # SD_DEBUG
    LogLevel.info: 6,  # SD_INFO
    LogLevel.warn: 4,  # SD_WARNING
    LogLevel.error: 3,  # SD_ERR
    LogLevel.critical: 2,  # SD_CRIT
}
"""twisted.logger's levels as sd-daemon(3)'s (syslog's) priorities."""


def journal_line(event: LogEvent) -> str | None:
    """
    The event as twistd would write it, without its time and system, each
    line prefixed with its priority: journald splits the stream at each
    newline (systemd-journald.service(8), "Stream logging"), so a traceback's
    every line keeps the event's priority.
    """
    text = event_text(event)
    if not text:
        return None
    prefix = f"<{PRIORITIES.get(event.get('log_level'), 6)}>"
    return "".join(f"{prefix}{line}\n" for line in text.rstrip("\n").split("\n"))


def journal_observer() -> ILogObserver:
    """twistd's C{--logger}: stdout in journald's form (called before twistd redirects stdout)."""
    return FileLogObserver(sys.stdout, journal_line)


def stdout_is_journal(environ: Mapping[str, str] | None = None, fd: int = 1) -> bool:
    """
    Is C{fd} the stream systemd connected to journald? C{$JOURNAL_STREAM} holds
    that stream's device and inode; a process that redirected its output may
    still carry the variable, so the numbers are compared (systemd.exec(5)).
    """
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        found = os.fstat(fd)
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (int(device), int(inode))


def error_line(text: str, priority: int = 3) -> str:
    """
    A line printed on stderr before the log begins (a refused start, a
    refused reload): journald files it at C{priority} (err) when stderr is
    its stream, so C{journalctl -p err} shows why a unit failed.
    """
    return f"<{priority}>{text}" if stdout_is_journal(fd=2) else text
