"""
L{hookdaemon.request_state}: hookdaemon's state of a request is a component of
the request, the same one each time it is asked for.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel
from zope.interface.verify import verifyObject

from hookdaemon.request_state import HookRequest, IHookRequest


class HookRequestTests(SynchronousTestCase):
    def test_noClientBeforeTheAppResolvesIt(self) -> None:
        state = IHookRequest(Request(DummyChannel()))
        self.assertIsInstance(state, HookRequest)
        self.assertIsNone(state.client)
        self.assertTrue(verifyObject(IHookRequest, state))

    def test_oneStatePerRequest(self) -> None:
        request = Request(DummyChannel())
        IHookRequest(request).client = "10.0.0.7"
        self.assertIs(IHookRequest(request), IHookRequest(request))
        self.assertEqual(IHookRequest(request).client, "10.0.0.7")
        self.assertIsNone(IHookRequest(Request(DummyChannel())).client)

    def test_noAttributeOnTheRequest(self) -> None:
        request = Request(DummyChannel())
        before = set(vars(request))
        IHookRequest(request).client = "10.0.0.7"
        self.assertEqual(set(vars(request)) - before, set())
