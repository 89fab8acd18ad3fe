"""Tests for L{hookdaemon.follow}: a live-log reader that stops reading is cut off."""

from __future__ import annotations

from twisted.internet.interfaces import IPushProducer
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from hookdaemon.dashboard.live import CUT_OFF_EVENT
from hookdaemon.follow import CUT_OFF, FollowStream


class RecordingConsumer:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.producer: IPushProducer | None = None
        self.unregistered = 0

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None:
        assert streaming
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.unregistered += 1


class FollowStreamTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.consumer = RecordingConsumer()
        self.stream = FollowStream(self.consumer, max_behind=10)

    def test_registersItselfAsAPushProducer(self) -> None:
        self.assertIs(self.consumer.producer, self.stream)
        self.assertTrue(verifyObject(IPushProducer, self.stream))

    def test_writesWhileTheReaderKeepsUp(self) -> None:
        for _ in range(100):
            self.stream.write(b"0123456789")
        self.assertEqual(len(self.consumer.written), 100)
        self.assertNoResult(self.stream.cut_off)

    def test_pausedReaderMayFallBehindUpToTheLimit(self) -> None:
        self.stream.pauseProducing()
        self.stream.write(b"01234")
        self.stream.write(b"56789")
        self.assertEqual(self.consumer.written, [b"01234", b"56789"])
        self.assertNoResult(self.stream.cut_off)

    def test_pausedReaderPastTheLimitIsCutOffOnce(self) -> None:
        self.stream.pauseProducing()
        self.stream.write(b"0123456789")
        self.stream.write(b"x")
        self.stream.write(b"more")
        self.assertEqual(self.consumer.written, [b"0123456789", CUT_OFF])
        self.assertIsNone(self.successResultOf(self.stream.cut_off))
        self.assertEqual(self.consumer.unregistered, 1)

    def test_aStreamSaysItsOwnFarewell(self) -> None:
        """The dashboard's event streams end a reader cut off with an event, not text."""
        consumer = RecordingConsumer()
        stream = FollowStream(consumer, max_behind=3, farewell=CUT_OFF_EVENT)
        stream.pauseProducing()
        stream.write(b"event: line\ndata: x\n\n")
        self.assertEqual(consumer.written[-1], CUT_OFF_EVENT)
        self.assertTrue(CUT_OFF_EVENT.startswith(b"event: cut-off\n"))

    def test_resumingForgivesTheBacklog(self) -> None:
        self.stream.pauseProducing()
        self.stream.write(b"0123456789")
        self.stream.resumeProducing()
        self.stream.pauseProducing()
        self.stream.write(b"0123456789")
        self.assertNoResult(self.stream.cut_off)
        self.assertNotIn(CUT_OFF, self.consumer.written)

    def test_closeUnregistersOnce(self) -> None:
        self.stream.close()
        self.stream.close()
        self.assertEqual(self.consumer.unregistered, 1)
