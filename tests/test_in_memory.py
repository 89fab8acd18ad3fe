"""
hookdaemon.testing's in-memory app (L{InMemoryApp}): a L{HookApp} answering
without a socket, whole answers at once, and a clear error for one that waits.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.config import HookConfig
from hookdaemon.delivery import Delivery
from hookdaemon.journal import Added
from hookdaemon.testing import AcceptingEngine, InMemoryApp
from tests.forgefixtures import make_hook


def hooks() -> dict[str, HookConfig]:
    return {"site": make_hook("forge = generic")}


class Waiting(AcceptingEngine):
    """An engine whose journal never commits."""

    def accept(self, hook: HookConfig, delivery: Delivery, body: bytes) -> Deferred[Added]:
        self.accepted.append(delivery)
        return Deferred()


class InMemoryAppTests(SynchronousTestCase):
    def test_postIsAcceptedByTheDefaultEngine(self) -> None:
        memory = InMemoryApp(hooks())
        answer = memory.post("/hooks/site")
        self.assertEqual(answer.code, 202)
        self.assertEqual(answer.json(), {"job": 1, "status": "queued", "url": "/jobs/1"})
        self.assertEqual(answer.headers.getRawHeaders("location"), ["/jobs/1"])
        assert isinstance(memory.engine, AcceptingEngine)
        self.assertEqual(len(memory.engine.accepted), 1)

    def test_anIgnoredDeliveryIsHandedToTheEngineWithWhy(self) -> None:
        memory = InMemoryApp({"site": make_hook("forge = generic\nbranches = main")})
        answer = memory.post(
            "/hooks/site", b'{"ref": "refs/heads/wip", "after": "' + b"1" * 40 + b'"}'
        )
        reason = "branch wip does not match branches (main)"
        self.assertEqual(
            (answer.code, answer.json()), (200, {"status": "ignored", "reason": reason})
        )
        assert isinstance(memory.engine, AcceptingEngine)
        self.assertEqual(
            [(d.branch, why) for d, why in memory.engine.ignored_deliveries], [("wip", reason)]
        )
        self.assertEqual(memory.engine.accepted, [])

    def test_statusFromLoopbackWithALoopbackHost(self) -> None:
        memory = InMemoryApp(hooks())
        self.assertEqual(
            memory.request("GET", "/jobs/4", headers={"Host": "localhost"}).json(), {"id": 4}
        )
        self.assertEqual(memory.request("GET", "/jobs/4").code, 403)

    def test_forwardedClientFromATrustedProxy(self) -> None:
        walled = {"site": make_hook("forge = generic\nallow_from = 10.0.0.0/8")}
        forwarded = {"X-Forwarded-For": "10.0.0.7"}
        self.assertEqual(InMemoryApp(walled).post("/hooks/site", headers=forwarded).code, 403)
        trusting = InMemoryApp(walled, trusted_proxies=("127.0.0.1",))
        self.assertEqual(trusting.post("/hooks/site", headers=forwarded).code, 202)

    def test_anAnswerThatWaitsIsAnError(self) -> None:
        memory = InMemoryApp(hooks(), engine=Waiting())
        with self.assertRaises(AssertionError) as raised:
            memory.post("/hooks/site")
        self.assertIn("POST /hooks/site", str(raised.exception))
        self.assertNoResult(memory.send("POST", "/hooks/site", b"{}"))
