"""L{hookdaemon.job_views}: what the job API shows of a job's delivery."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.delivery import SHOWN_FIELDS
from hookdaemon.job_state import JobState
from hookdaemon.job_views import job_json
from hookdaemon.journal import JobRecord
from tests.delivery_values import every_value


def record() -> JobRecord:
    return JobRecord(
        id=3,
        hook="site",
        delivery=every_value(),
        state=JobState.SUCCEEDED,
        exit_code=0,
        signal=None,
        queued_at=100.0,
        started_at=101.0,
        finished_at=102.0,
        covered_by=None,
        retry_of=None,
        output_tail=b"",
    )


class DeliveryJsonTests(SynchronousTestCase):
    def test_theKeysAsTheAPIHasAlwaysShownThem(self) -> None:
        """The id first; the clone URL, the kind and the commit count are not shown."""
        shown = job_json(record(), [], None)["delivery"]
        self.assertEqual(
            list(shown),
            [
                "id",
                "forge",
                "event",
                "ref",
                "branch",
                "tag",
                "before",
                "after",
                "repository",
                "pusher",
            ],
        )

    def test_everyShownFieldHasItsValue(self) -> None:
        """A field the Delivery says is shown is under its key, with its own value."""
        delivery = every_value()
        shown = job_json(record(), [], None)["delivery"]
        for key, name in SHOWN_FIELDS:
            self.assertEqual(shown[key], getattr(delivery, name), key)
        self.assertEqual(len(shown), len(SHOWN_FIELDS))
