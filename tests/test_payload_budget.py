"""
The C{payload_budget} key: how tap.cfg sets it, and how the job API says
whether a job's body is still kept.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import ConfigError, parse_config
from hookdaemon.delivery import Delivery
from hookdaemon.job_views import job_json
from hookdaemon.journal import JobRecord

SOURCE = "/etc/hookdaemon/tap.cfg"
HOOK = "[hook:site]\nworkdir = /srv/site\ncommand = true\n"


def budget(line: str) -> int:
    config = parse_config(f"[hookdaemon]\n{line}\n{HOOK}", SOURCE, {}, lambda path: b"")
    return config.daemon.payload_budget


def problems(line: str) -> list[str]:
    try:
        budget(line)
    except ConfigError as e:
        return [str(problem) for problem in e.problems]
    raise AssertionError(f"{line!r} was accepted")


class PayloadBudgetConfigTests(SynchronousTestCase):
    def test_defaultIsOneHundredMebibytes(self) -> None:
        self.assertEqual(budget(""), 100 * 1024 * 1024)

    def test_aNumberOfBytes(self) -> None:
        self.assertEqual(budget("payload_budget = 1048576"), 1048576)

    def test_zeroKeepsNoFinishedJobsBody(self) -> None:
        self.assertEqual(budget("payload_budget = 0"), 0)

    def test_aNegativeOrNonNumberIsRefusedNamingTheKey(self) -> None:
        for line in ("payload_budget = -1", "payload_budget = 100MB"):
            found = problems(line)
            self.assertEqual(len(found), 1, found)
            self.assertTrue(found[0].startswith(f"{SOURCE}: [hookdaemon] payload_budget: "), found)


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
