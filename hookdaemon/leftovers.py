"""
Ending the process groups of jobs a killed daemon left running.

A job's steps run in sessions of their own, so SIGKILL on the daemon does not
end them. Before a restarted daemon runs such a job again, its old process
group must be gone, or two deploys would work on one checkout at once. A group
is only signalled while a live member still carries that job's HOOK_JOB (or,
for a hooks-file hook, HOOKDAEMON_JOB) in its environment, so a reused process
id is never hit. Linux only (/proc).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

log = Logger()

JOB_MARKER = "HOOKDAEMON_JOB"
"""
The variable that names a hooks-file hook's job in its command's environment:
it has none of hookdaemon's HOOK_* (webhook gives none), and a restarted daemon
must still know the processes a killed one left.
"""

LEFTOVER_GRACE = 10.0
"""Seconds a leftover process group gets between SIGTERM and SIGKILL."""
LEFTOVER_POLL = 0.05


def live_members(process_group: int) -> Iterator[int]:
    """
    The processes of C{process_group} that are not zombies, as /proc lists
    them; OSError where there is no /proc to read.
    """
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] not in (b"Z", b"X") and int(fields[2]) == process_group:
                yield int(name)
        except (OSError, IndexError, ValueError):
            continue


def members(process_group: int, job_id: int) -> list[int]:
    """Live processes of C{process_group} that belong to job C{job_id}."""
    markers = {b"HOOK_JOB=%d" % job_id, b"%s=%d" % (JOB_MARKER.encode(), job_id)}
    found = []
    try:
        for pid in live_members(process_group):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if markers.intersection(f.read().split(b"\0")):
                        found.append(pid)
            except OSError:
                continue
    except OSError:
        return []
    return found


def signal_leftover(process_group: int, job_id: int, signum: int) -> bool:
    """Signal the group if job C{job_id} still has processes in it; True if it had."""
    if not members(process_group, job_id):
        return False
    try:
        os.killpg(process_group, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def end_leftovers(clock: IReactorTime, found: Sequence[tuple[int, int]]) -> None:
    """
    End each (job, process group) a killed daemon left running: SIGTERM, then
    SIGKILL after L{LEFTOVER_GRACE} seconds, and wait until it is gone, so no
    job runs again while its last run still works on the checkout.
    """
    for job_id, group in found:
        if not signal_leftover(group, job_id, signal.SIGTERM):
            continue
        log.warn(
            "job {job}: its process group {group} outlived the last daemon; ending it",
            job=job_id,
            group=group,
        )
        for signum in (signal.SIGKILL, None):
            for _ in range(int(LEFTOVER_GRACE / LEFTOVER_POLL)):
                if not members(group, job_id):
                    break
                await deferLater(clock, LEFTOVER_POLL)
            if signum is not None:
                signal_leftover(group, job_id, signum)
