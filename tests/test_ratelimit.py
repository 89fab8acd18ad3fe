"""Tests for L{hookdaemon.ratelimit}: exact times in, allowances and waits out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import Rate
from hookdaemon.ratelimit import RateLimiter, Refusal, client_key

TWO_A_MINUTE = Rate(2, 60.0)


class RateLimiterTests(SynchronousTestCase):
    def test_countAtOnceThenOneEachInterval(self) -> None:
        limiter = RateLimiter(TWO_A_MINUTE)
        self.assertIsNone(limiter.take("203.0.113.9", 0.0))
        self.assertIsNone(limiter.take("203.0.113.9", 0.0))
        self.assertEqual(limiter.take("203.0.113.9", 0.0), Refusal(30.0, report=True))
        self.assertEqual(limiter.take("203.0.113.9", 29.0), Refusal(1.0, report=False))
        self.assertIsNone(limiter.take("203.0.113.9", 30.0))
        self.assertEqual(limiter.take("203.0.113.9", 30.0), Refusal(30.0, report=False))

    def test_refusalsCostNothing(self) -> None:
        """Hammering while refused does not push the next allowed call further away."""
        limiter = RateLimiter(TWO_A_MINUTE)
        limiter.take("a", 0.0)
        limiter.take("a", 0.0)
        for now in range(1, 30):
            self.assertIsNotNone(limiter.take("a", float(now)))
        self.assertIsNone(limiter.take("a", 30.0))

    def test_clientsAreCountedApart(self) -> None:
        limiter = RateLimiter(Rate(1, 1.0))
        self.assertIsNone(limiter.take("203.0.113.9", 5.0))
        self.assertIsNone(limiter.take("203.0.113.10", 5.0))
        self.assertIsNotNone(limiter.take("203.0.113.9", 5.0))

    def test_fractionalIntervalsAllowExactlyCount(self) -> None:
        """3/second: an interval of 1/3 s, which floats cannot hold exactly."""
        limiter = RateLimiter(Rate(3, 1.0))
        for _ in range(3):
            self.assertIsNone(limiter.take("a", 100.0))
        refusal = limiter.take("a", 100.0)
        assert refusal is not None
        self.assertAlmostEqual(refusal.retry_after, 1 / 3)
        self.assertEqual(refusal.retry_after_header, 1)
        for _ in range(3):
            self.assertIsNone(limiter.take("a", 101.0))

    def test_costTakesSeveralCalls(self) -> None:
        limiter = RateLimiter(Rate(4, 60.0))
        self.assertIsNone(limiter.take("a", 0.0, cost=3))
        self.assertEqual(limiter.take("a", 0.0, cost=2), Refusal(15.0, report=True))
        self.assertIsNone(limiter.take("a", 0.0, cost=1))

    def test_chargeCountsEvenWithNothingLeft(self) -> None:
        """A failed check costs one more call, so wrong secrets run out twice as fast."""
        limiter = RateLimiter(TWO_A_MINUTE)
        self.assertIsNone(limiter.take("a", 0.0))
        limiter.charge("a", 0.0)
        self.assertEqual(limiter.take("a", 0.0), Refusal(30.0, report=True))
        self.assertIsNone(limiter.take("a", 30.0))
        limiter.charge("a", 30.0)
        self.assertEqual(limiter.take("a", 30.0), Refusal(60.0, report=False))

    def test_refusalIsReportedOncePerPeriod(self) -> None:
        limiter = RateLimiter(TWO_A_MINUTE)
        reports = []
        for now in range(0, 181, 5):
            refusal = limiter.take("a", float(now))
            if refusal is not None and refusal.report:
                reports.append(now)
        self.assertEqual(reports, [10, 70, 130])

    def test_retryAfterHeaderIsWholeSecondsRoundedUpAtLeastOne(self) -> None:
        self.assertEqual(Refusal(0.2, report=False).retry_after_header, 1)
        self.assertEqual(Refusal(1.0, report=False).retry_after_header, 1)
        self.assertEqual(Refusal(1.01, report=False).retry_after_header, 2)
        self.assertEqual(Refusal(59.5, report=False).retry_after_header, 60)


class MemoryTests(SynchronousTestCase):
    def test_refilledClientsAreForgotten(self) -> None:
        limiter = RateLimiter(TWO_A_MINUTE)
        for n in range(100):
            limiter.take(f"10.0.0.{n}", 0.0)
        self.assertEqual(len(limiter), 100)
        limiter.take("10.1.0.1", 29.0)
        self.assertEqual(len(limiter), 101)
        limiter.take("10.1.0.2", 30.0)
        self.assertEqual(len(limiter), 2)

    def test_aRefusedClientIsRememberedUntilQuiet(self) -> None:
        """Forgetting it the moment it refills would report its next refusal too soon."""
        limiter = RateLimiter(Rate(1, 60.0))
        limiter.take("a", 0.0)
        self.assertEqual(limiter.take("a", 50.0), Refusal(10.0, report=True))
        self.assertIsNone(limiter.take("a", 60.0))
        self.assertEqual(limiter.take("a", 60.0), Refusal(60.0, report=False))
        self.assertEqual(limiter.take("a", 120.0 - 10.0), Refusal(10.0, report=True))

    def test_tableIsCappedByEvictingTheOldest(self) -> None:
        limiter = RateLimiter(Rate(1, 3600.0), max_clients=3)
        for n in range(4):
            limiter.take(f"10.0.0.{n}", float(n))
        self.assertEqual(len(limiter), 3)
        # 10.0.0.0 was evicted, so it starts afresh; 10.0.0.2 is still limited.
        self.assertIsNone(limiter.take("10.0.0.0", 4.0))
        self.assertIsNotNone(limiter.take("10.0.0.2", 4.0))

    def test_aCallMakesAClientTheNewest(self) -> None:
        limiter = RateLimiter(Rate(2, 3600.0), max_clients=2)
        limiter.take("a", 0.0)
        limiter.take("b", 1.0)
        limiter.take("a", 2.0)
        limiter.take("c", 3.0)  # evicts b, the least recently charged
        self.assertIsNotNone(limiter.take("a", 4.0))
        self.assertIsNone(limiter.take("b", 4.0))

    def test_ipv6ClientsShareTheirSlash64(self) -> None:
        limiter = RateLimiter(Rate(1, 60.0))
        self.assertIsNone(limiter.take("2001:db8:1:2::1", 0.0))
        self.assertIsNotNone(limiter.take("2001:db8:1:2:ffff::9", 0.0))
        self.assertIsNone(limiter.take("2001:db8:1:3::1", 0.0))
        self.assertEqual(len(limiter), 2)

    @given(
        st.lists(
            st.tuples(st.ip_addresses().map(str), st.floats(0, 1.0)),
            max_size=200,
        )
    )
    def test_tableNeverExceedsItsCap(self, calls: list[tuple[str, float]]) -> None:
        limiter = RateLimiter(Rate(5, 60.0), max_clients=16)
        now = 0.0
        for client, step in calls:
            now += step
            if limiter.take(client, now) is None and client.endswith("1"):
                limiter.charge(client, now)
            self.assertLessEqual(len(limiter), 16)


class ClientKeyTests(SynchronousTestCase):
    def test_keys(self) -> None:
        self.assertEqual(client_key("203.0.113.9"), "203.0.113.9")
        self.assertEqual(client_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64")
        self.assertEqual(client_key(""), "")


class RateLimiterProperties(SynchronousTestCase):
    @given(
        count=st.integers(1, 10),
        period=st.sampled_from([1.0, 60.0, 3600.0]),
        gaps=st.lists(st.floats(0, 5.0), max_size=60),
    )
    def test_neverMoreThanCountPlusRefillInAnyWindow(
        self, count: int, period: float, gaps: list[float]
    ) -> None:
        """
        Over any span of time, the calls allowed are at most C{count} plus one for
        each full interval in the span: the promise C{N/period} makes.
        """
        limiter = RateLimiter(Rate(count, period))
        now = 0.0
        allowed: list[float] = []
        for gap in gaps:
            now += gap * period / 5
            if limiter.take("a", now) is None:
                allowed.append(now)
        interval = period / count
        for i, start in enumerate(allowed):
            for j in range(i, len(allowed)):
                span = allowed[j] - start
                self.assertLessEqual(j - i + 1, count + int(span / interval + 1e-6))
