"""L{JobQueue} exactly, with a fake clock and jobs that end when the test says."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import HookConfig, parse_config
from hookdaemon.delivery import Delivery
from hookdaemon.jobs import JobQueue
from hookdaemon.lifecycle import Job

HOOKS = "".join(
    f"[hook:{name}]\nforge = generic\nworkdir = /srv\ncommand = true\nburst = {burst}\n\n"
    for name, burst in (("a", "queue"), ("b", "queue"), ("c", "coalesce"))
)


def hooks() -> dict[str, HookConfig]:
    def no_files(path: str) -> bytes:
        raise FileNotFoundError(path)

    return dict(parse_config("[hookdaemon]\n" + HOOKS, "/etc/tap.cfg", {}, no_files).hooks)


class JobQueueTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.hooks = hooks()
        self.clock = Clock()
        self.running: dict[int, Deferred[None]] = {}
        self.started: list[int] = []
        self.replaced: list[tuple[int, int]] = []
        self.queue = self.make(max_parallel=2)
        self.next_id = 0

    def make(self, max_parallel: int) -> JobQueue:
        def run(job: Job) -> Deferred[None]:
            self.started.append(job.id)
            self.running[job.id] = Deferred()
            return self.running[job.id]

        return JobQueue(
            max_parallel,
            run,
            self.clock,
            superseded=lambda old, new: self.replaced.append((old.id, new.id)),
        )

    def submit(self, hook: str) -> Job:
        self.next_id += 1
        job = Job(
            id=self.next_id,
            hook=self.hooks[hook],
            delivery=Delivery(forge="generic", event="push", kind="push"),
            payload_path="/nonexistent",
        )
        self.queue.submit(job)
        return job

    def end(self, job_id: int) -> None:
        self.running.pop(job_id).callback(None)

    def test_nothingStartsBeforeTheNextTurn(self) -> None:
        self.submit("a")
        self.assertEqual(self.started, [])
        self.clock.advance(0)
        self.assertEqual(self.started, [1])

    def test_oneJobPerHookInArrivalOrderWithinMaxParallel(self) -> None:
        for hook in ("a", "a", "b", "a", "b"):
            self.submit(hook)
        self.clock.advance(0)
        self.assertEqual(self.started, [1, 3])
        self.assertEqual((self.queue.waiting("a"), self.queue.waiting("b")), (2, 1))
        self.end(3)  # b is idle: its next job, 5, is its oldest
        self.assertEqual(self.started, [1, 3, 5])
        self.end(1)
        self.assertEqual(self.started, [1, 3, 5, 2])
        self.end(5)
        self.end(2)
        self.assertEqual(self.started, [1, 3, 5, 2, 4])
        self.assertEqual((self.queue.waiting("a"), self.queue.waiting("b")), (0, 0))

    def test_theHookThatWaitedLongestStartsFirst(self) -> None:
        self.queue = self.make(max_parallel=1)
        for hook in ("a", "a", "b", "c"):
            self.submit(hook)
        self.clock.advance(0)
        self.end(1)  # 2 (a) arrived before 3 (b) and 4 (c)
        self.end(2)
        self.end(3)
        self.assertEqual(self.started, [1, 2, 3, 4])

    def test_coalesceReplacesOnlyTheWaitingJob(self) -> None:
        first = self.submit("c")
        self.clock.advance(0)
        second, third, fourth = self.submit("c"), self.submit("c"), self.submit("c")
        # The queue only tells: the dispatcher makes them superseded (test_jobs).
        self.assertEqual(self.replaced, [(second.id, third.id), (third.id, fourth.id)])
        self.assertEqual(self.queue.waiting("c"), 1)
        self.end(first.id)
        self.assertEqual(self.started, [1, 4])

    def test_heldQueueStartsNothing(self) -> None:
        self.submit("a")
        self.queue.hold()
        self.clock.advance(0)
        self.assertEqual(self.started, [])
        self.assertEqual(self.queue.waiting("a"), 1)

    def test_oneScheduledPumpPerTurn(self) -> None:
        for _ in range(50):
            self.submit("a")
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
