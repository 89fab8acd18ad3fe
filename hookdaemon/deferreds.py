"""Small Deferred helpers the Twisted shell shares."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred


def when_done(shared: Deferred[Any]) -> Deferred[None]:
    """
    A Deferred of the caller's own that fires once C{shared} has, leaving
    C{shared}'s result alone: so an idempotent C{stop()} can be waited on by
    every caller without one caller's callbacks changing what the next sees.
    """
    observer: Deferred[None] = Deferred()

    def fire(result: object) -> object:
        observer.callback(None)
        return result

    shared.addBoth(fire)
    return observer
