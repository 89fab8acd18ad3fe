"""
One reader of a job's live output (C{GET /jobs/ID/log?follow=1}).

A job never waits for its readers, so a reader that stops reading would make
twisted.web buffer the job's output for it without end. The stream listens to
the socket's backpressure and cuts a reader off once it is too far behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.python.failure import Failure
from zope.interface import implementer

MAX_BEHIND = 1024 * 1024
"""Bytes written while the socket would not take more before the reader is cut off."""

CUT_OFF = b"\n[hookdaemon: this reader fell too far behind and was cut off; see the job's log]\n"


class Consumer(Protocol):
    """The part of a twisted.web Request the stream writes to."""

    def write(self, data: bytes) -> None: ...

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None: ...

    def unregisterProducer(self) -> None: ...


@implementer(IPushProducer)
class FollowStream:
    """
    Writes output to C{consumer} while it keeps up; C{cut_off} fires when it
    fell C{max_behind} bytes behind, after which nothing more is written.
    """

    def __init__(
        self, consumer: Consumer, max_behind: int = MAX_BEHIND, farewell: bytes = CUT_OFF
    ) -> None:
        self._consumer = consumer
        self._max_behind = max_behind
        self._farewell = farewell
        """What a reader cut off is told last (the dashboard's streams say it as an event)."""
        self._paused = False
        self._behind = 0
        self._registered = True
        self.cut_off: Deferred[None] = Deferred()
        consumer.registerProducer(self, True)

    def write(self, chunk: bytes) -> None:
        if self.cut_off.called or not chunk:
            return
        if self._paused:
            self._behind += len(chunk)
            if self._behind > self._max_behind:
                self._consumer.write(self._farewell)
                self.close()
                self.cut_off.callback(None)
                return
        self._consumer.write(chunk)

    def follow(
        self,
        follow: Callable[[Callable[[bytes], None]], Deferred[bool]],
        write: Callable[[bytes], None] | None = None,
    ) -> Deferred[bool | None]:
        """
        Follow a job's output into this stream (through C{write}, which ends in
        L{write}, if given): C{follow} is the job API's, given the writer. Fires
        with whether the job was found once it ended, or None when this reader
        was cut off; fails when the reader went away (the route's cancellation).
        """
        following = follow(self.write if write is None else write)
        self.cut_off.addCallback(lambda _: following.cancel())

        def cut_off(failure: Failure) -> None:
            if not self.cut_off.called:
                failure.raiseException()  # the reader went away: fail on
            failure.trap(CancelledError)

        # The same Deferred: the route's cancellation still reaches the job API's.
        followed: Deferred[bool | None] = following.addErrback(cut_off)
        return followed

    def close(self) -> None:
        """Let go of the socket before the answer ends: a producer left behind blocks the next."""
        if self._registered:
            self._registered = False
            self._consumer.unregisterProducer()

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._behind = 0

    def stopProducing(self) -> None:
        # The connection is going away; the route's Deferred is cancelled for that.
        self._paused = True
