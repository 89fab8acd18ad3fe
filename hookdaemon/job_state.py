"""
The states of a job, defined once: the dispatcher, the journal, the job API and
every lifecycle subscriber use these and no other spelling.

The machine (L{hookdaemon.dispatcher.Dispatcher} is the only code that moves a
job along it)::

    queued --+--> running --+--> succeeded
             |              +--> failed
             |              +--> timed_out
             |              +--> interrupted   (the daemon stopped or died while it ran)
             |              +--> cancelled     (POST /jobs/ID/cancel: its group TERMed, KILLed)
             +--> cancelled                    (POST /jobs/ID/cancel before it started)
             +--> superseded                   (a newer delivery of a coalescing hook)
             +--> failed                       (refused on resume by today's checks)
             +--> interrupted                  (its hook is gone from the configuration)

    ignored                                    (a genuine delivery the hook's filters did
                                                not want: recorded, never queued or run)

A final state never changes again. After a crash the journal turns a job
left C{running} into C{interrupted} and queues a new job (a retry) for it.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """Where a job is in its life; the value is what the journal and the job API store."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    IGNORED = "ignored"

    @property
    def final(self) -> bool:
        """Is the job over? A final state never changes again."""
        return self in FINAL_STATES


LIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})
FINAL_STATES = frozenset(JobState) - LIVE_STATES
QUEUED_ENDS = FINAL_STATES - {JobState.IGNORED}
"""The final states of a job that was queued: the lifecycle's, and the history's to keep."""
