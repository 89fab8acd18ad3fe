"""
The C{payload_budget} key: how tap.cfg sets it, how the job API says whether a
job's body is still kept, and a real twistd's journal under the issue's load.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import ConfigError, parse_config
from hookdaemon.delivery import Delivery
from hookdaemon.job_views import job_json
from hookdaemon.journal import RECLAIM_MIN_BYTES, WAL_LIMIT, JobRecord
from tests.live import LiveDaemon
from tests.support import MIB, github_headers, github_push_body, on_disk

SOURCE = "/etc/hookdaemon/tap.cfg"
HOOK = "[hook:site]\nworkdir = /srv/site\ncommand = true\n"


def budget(line: str) -> int | None:
    config = parse_config(f"[hookdaemon]\n{line}\n{HOOK}", SOURCE, {}, lambda path: b"")
    return config.daemon.payload_budget


def problems(line: str) -> list[str]:
    try:
        budget(line)
    except ConfigError as e:
        return [str(problem) for problem in e.problems]
    raise AssertionError(f"{line!r} was accepted")


class PayloadBudgetConfigTests(SynchronousTestCase):
    def test_defaultKeepsEachBodyAsLongAsItsJob(self) -> None:
        self.assertIsNone(budget(""))
        self.assertIsNone(budget("payload_budget ="))

    def test_aNumberOfBytes(self) -> None:
        self.assertEqual(budget("payload_budget = 1048576"), 1048576)

    def test_zeroKeepsNoFinishedJobsBody(self) -> None:
        self.assertEqual(budget("payload_budget = 0"), 0)

    def test_aNegativeOrNonNumberIsRefusedNamingTheKey(self) -> None:
        for line, why in (
            ("payload_budget = -1", "must be at least 0"),
            ("payload_budget = 100MB", "is not a whole number; write one such as 104857600"),
        ):
            self.assertEqual(problems(line), [f"{SOURCE}: [hookdaemon] payload_budget: {why}"])


def record(payload_dropped: str | None) -> JobRecord:
    delivery = Delivery.of_push(
        "refs/heads/main", "0" * 40, "1" * 40, forge="github", event="push"
    )
    return JobRecord(
        id=7,
        hook="site",
        delivery=delivery,
        state="succeeded",
        exit_code=0,
        signal=None,
        queued_at=1.0,
        started_at=2.0,
        finished_at=3.0,
        covered_by=None,
        retry_of=None,
        output_tail=b"",
        payload_dropped=payload_dropped,
    )


class PayloadKeptTests(SynchronousTestCase):
    def test_theJobSaysWhetherItsBodyIsKept(self) -> None:
        self.assertIs(job_json(record(None), [], None)["payload_kept"], True)
        self.assertIs(job_json(record("payload_budget"), [], None)["payload_kept"], False)


BUDGET = 2 * 1024 * 1024
SECRET = "budget-secret"
COALESCING = """
[hook:site]
forge = github
secret = env:SITE_SECRET
workdir = .
command = echo deployed
"""


def eventually(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(1500):
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


class ReplayedLargeDeliveryTests(SynchronousTestCase):
    def test_theJournalStaysNearItsBudget(self) -> None:
        """
        As issue 11 saw it on a real twistd: one 1 MiB delivery sent 300 times with
        fresh delivery ids grew the journal by 300 MiB for good. Superseded bodies
        go at once, finished ones beyond payload_budget (oldest first), and the
        file shrinks.
        """
        daemon = LiveDaemon(
            self, COALESCING, f"payload_budget = {BUDGET}\n", {"SITE_SECRET": SECRET}
        )
        document = json.loads(github_push_body())
        document["padding"] = ""
        document["padding"] = "x" * (MIB - len(json.dumps(document)))
        body = json.dumps(document).encode()
        self.assertEqual(len(body), MIB)

        def deliver(_: int) -> tuple[int, Any]:
            return daemon.post("/hooks/site", body, github_headers(body, SECRET))

        with ThreadPoolExecutor(8) as senders:
            answers = list(senders.map(deliver, range(300)))
        self.assertEqual([code for code, _ in answers], [202] * 300, answers[:3])
        ids = sorted(int(answer["job"]) for _, answer in answers)
        self.assertEqual(len(set(ids)), 300)

        def jobs() -> list[dict[str, Any]]:
            code, listing = daemon.request("GET", "/jobs?limit=1000")
            assert code == 200, (code, listing)
            return sorted(listing["jobs"], key=lambda job: int(job["id"]))

        eventually(
            lambda: all(job["state"] not in ("queued", "running") for job in jobs()),
            "every job to end",
        )
        # What may stay: the bodies the budget allows, less than a pass's minimum
        # of free pages, the job rows, and a write-ahead log cut back to WAL_LIMIT.
        bound = BUDGET + RECLAIM_MIN_BYTES + WAL_LIMIT + MIB
        path = daemon.journal_path
        eventually(lambda: on_disk(path) < bound, f"the journal to shrink under {bound}")

        ended = jobs()
        self.assertEqual([int(job["id"]) for job in ended], ids)
        self.assertEqual({job["state"] for job in ended}, {"succeeded", "superseded"})
        ran = [job["id"] for job in ended if job["state"] == "succeeded"]
        kept = [job["id"] for job in ended if job["payload_kept"]]
        # Only the newest finished jobs' bodies, as many as fit the budget.
        self.assertEqual(kept, ran[-(BUDGET // MIB) :])
