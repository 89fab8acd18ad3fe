"""
C{hookdaemon reload}: send the running daemon SIGHUP and wait for what it
made of the file, so that C{systemctl reload} fails where the daemon refused
it. The daemon judges the file, not this command: it reads it as its own
user, with its own environment (where C{env:} secrets are).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

from hookdaemon.config import DAEMON_DEFAULTS, ConfigError, state_dir_in
from hookdaemon.journald import error_line
from hookdaemon.pid_record import NotRunningError, running_pid, state_dir_of
from hookdaemon.reload import RESULT_NAME, ReloadResult

WAIT = 60.0
"""Seconds to wait for the daemon's answer: a reload binds endpoints, nothing slower."""


def reload(
    config_path: str | None,
    pid: int | None,
    wait: float = WAIT,
    say: Callable[[str], None] = print,
    complain: Callable[[str], None] = lambda line: print(error_line(line), file=sys.stderr),
) -> int:
    """
    The exit status: 0 applied, 1 refused by the daemon, 2 no daemon to tell
    or no answer from it.
    """
    if pid is None:
        try:
            if config_path is None:
                # A daemon started with --hooks alone keeps its state under its directory.
                state_dir = os.path.abspath(DAEMON_DEFAULTS["state_dir"])
            else:
                state_dir = state_dir_in(config_path)
            pid = running_pid(state_dir)
        except ConfigError as e:
            complain(f"hookdaemon reload: {e}")
            return 2
        except NotRunningError as e:
            complain(
                f"hookdaemon reload: {e}; if it runs on another state_dir, give its --pid"
                " (a changed state_dir takes a restart)"
            )
            return 2
    else:
        # SIGHUP ends a process that does not catch it: only a hookdaemon gets one.
        found = state_dir_of(pid)
        if found is None:
            complain(
                f"hookdaemon reload: process {pid} holds no hookdaemon.pid: it is not a"
                " hookdaemon, or not one this user may look at (run as its user or root)"
            )
            return 2
        state_dir = found
    result_path = os.path.join(state_dir, RESULT_NAME)
    before = _read_result(result_path)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        complain(f"hookdaemon reload: no process {pid}")
        return 2
    except PermissionError:
        complain(
            f"hookdaemon reload: not allowed to signal process {pid}: run as its user or root"
        )
        return 2
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        result = _read_result(result_path)
        if result is not None and result.pid == pid and result != before:
            for line in result.lines:
                (say if result.applied else complain)(line)
            return 0 if result.applied else 1
        time.sleep(0.05)
    complain(
        f"hookdaemon reload: sent SIGHUP to {pid}, but no answer in {wait:g} s in {result_path};"
        " see the daemon's log"
    )
    return 2


def _read_result(path: str) -> ReloadResult | None:
    try:
        with open(path, "rb") as f:
            return ReloadResult.from_json(f.read())
    except (OSError, ValueError, KeyError, TypeError):
        return None
