"""
C{hookdaemon reload}: check the file as the daemon will, send the running
daemon SIGHUP, and wait for what it made of it, so that C{systemctl reload}
fails where the daemon refused the file.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

from hookdaemon.config import ConfigError
from hookdaemon.config_check import checked_config
from hookdaemon.pid_record import NotRunningError, running_pid, state_dir_of
from hookdaemon.preflight import RunAs
from hookdaemon.reload import RESULT_NAME, ReloadResult

WAIT = 60.0
"""Seconds to wait for the daemon's answer: a reload binds endpoints, nothing slower."""


def reload(
    config_path: str,
    pid: int | None,
    wait: float = WAIT,
    say: Callable[[str], None] = print,
    complain: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """
    The exit status: 0 applied, 1 refused (by this check or by the daemon),
    2 no daemon to tell or no answer from it.
    """
    try:
        config = checked_config(config_path, RunAs.this_process())
    except ConfigError as e:
        for problem in e.problems:
            complain(str(problem))
        complain(f"{config_path}: {len(e.problems)} problem(s); the daemon was not told to reload")
        return 1
    state_dir = config.daemon.state_dir  # relative paths are the config file's, as the daemon's
    if pid is None:
        try:
            pid = running_pid(state_dir)
        except NotRunningError as e:
            complain(
                f"hookdaemon reload: {e}; if it runs on another state_dir, give its --pid"
                " (a changed state_dir takes a restart)"
            )
            return 2
    else:
        state_dir = state_dir_of(pid) or state_dir  # it answers where it runs
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
