"""STATE_DIR/hookdaemon.pid: held by one process at a time, and read by hookdaemon reload."""

from __future__ import annotations

import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.pid_record import (
    NotRunningError,
    PidRecord,
    StateInUseError,
    pid_path,
    running_pid,
    state_dir_of,
)

HOLD = """
import sys, time
from hookdaemon.pid_record import PidRecord
PidRecord(sys.argv[1]).take()
print("held", flush=True)
time.sleep(60)
"""


class PidRecordTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.state = os.path.abspath(self.mktemp())
        os.makedirs(self.state)

    def hold(self) -> subprocess.Popen[str]:
        """Another process holding the record, as a running daemon does."""
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD, self.state], stdout=subprocess.PIPE, text=True
        )
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        assert holder.stdout is not None
        self.assertEqual(holder.stdout.readline(), "held\n")
        return holder

    def test_theHoldersPidIsRead(self) -> None:
        holder = self.hold()
        self.assertEqual(running_pid(self.state), holder.pid)
        self.assertEqual(state_dir_of(holder.pid), self.state)

    def test_aSecondHolderIsRefusedNamingTheFirst(self) -> None:
        holder = self.hold()
        with self.assertRaises(StateInUseError) as raised:
            PidRecord(self.state).take()
        self.assertEqual(
            str(raised.exception),
            f"{self.state} is in use by another hookdaemon (pid {holder.pid}): stop that one"
            " first, or give this one its own state_dir",
        )

    def test_aKilledHoldersFileIsNoDaemon(self) -> None:
        holder = self.hold()
        holder.kill()
        holder.wait()
        self.assertTrue(os.path.exists(pid_path(self.state)))  # SIGKILL leaves it behind
        with self.assertRaises(NotRunningError) as raised:
            running_pid(self.state)
        self.assertIn("left from one that was killed", str(raised.exception))
        record = PidRecord(self.state)
        record.take()  # and keeps no daemon from starting
        self.assertEqual(state_dir_of(os.getpid()), self.state)
        record.release()
        self.assertFalse(os.path.exists(pid_path(self.state)))

    def test_noFileNoDaemon(self) -> None:
        with self.assertRaises(NotRunningError) as raised:
            running_pid(self.state)
        self.assertEqual(
            str(raised.exception), f"no hookdaemon runs on {self.state} (no hookdaemon.pid there)"
        )
        self.assertIsNone(state_dir_of(os.getpid()))
