"""
The HTTP server around the Klein app: body limits, slow clients, connection limits.

These guard the socket itself, before any route runs, so they live below L{HookApp}.
"""

from __future__ import annotations

from typing import Any

from twisted.web.resource import IResource
from twisted.web.server import Request, Site

from hookdaemon.config import DaemonConfig


class LimitedRequest(Request):
    """A request that stops storing its body past C{max_body} bytes."""

    max_body = 10 * 1024 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.body_length = 0
        self.too_large = False

    def handleContentChunk(self, data: bytes) -> None:
        # twisted.web has no body limit of its own and spools large bodies to disk.
        self.body_length += len(data)
        if self.body_length > self.max_body:
            self.too_large = True
            return
        super().handleContentChunk(data)


def limited_request_factory(max_body: int) -> type[LimitedRequest]:
    return type("LimitedRequest", (LimitedRequest,), {"max_body": max_body})


class HookSite(Site):
    """A Site with the daemon's limits from C{[hookdaemon]}."""

    def __init__(
        self, resource: IResource, daemon: DaemonConfig, reactor: Any, **kwargs: Any
    ) -> None:
        super().__init__(resource, reactor=reactor, **kwargs)
        self.daemon = daemon
        self.requestFactory = limited_request_factory(daemon.max_body)
