"""Finding and ending a dead daemon's leftover job processes, by group and HOOK_JOB."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.leftovers import members, signal_leftover


class LeftoverTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.process = subprocess.Popen(
            ["sleep", "60"],
            env={"PATH": os.environ["PATH"], "HOOK_JOB": "5"},
            start_new_session=True,
        )
        self.addCleanup(self.process.wait)
        self.addCleanup(lambda: self.process.poll() is None and self.process.kill())
        # Popen returns once the child is forked; until it has exec'd sleep, /proc
        # shows the test's own environment, without HOOK_JOB (a loaded machine
        # made that window long enough to fail the test).
        for _ in range(3000):
            with open(f"/proc/{self.process.pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[0] == b"sleep":
                    break
            time.sleep(0.01)
        else:
            self.fail("sleep never started")

    def test_membersAreTheGroupsProcessesOfThatJob(self) -> None:
        group = self.process.pid
        self.assertEqual(members(group, 5), [self.process.pid])
        self.assertEqual(members(group, 6), [])
        self.assertEqual(members(os.getpgrp(), 5), [])

    def test_signalOnlyTheGroupOfThatJob(self) -> None:
        self.assertFalse(signal_leftover(self.process.pid, 6, signal.SIGTERM))
        self.assertIsNone(self.process.poll())
        self.assertTrue(signal_leftover(self.process.pid, 5, signal.SIGTERM))
        self.assertEqual(self.process.wait(30), -signal.SIGTERM)
        self.assertEqual(members(self.process.pid, 5), [])
