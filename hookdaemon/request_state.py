"""
What hookdaemon learns about a request while serving it, kept on the request as
a typed component, as Klein keeps its own in C{IKleinRequest}: no attribute of
ours is set on Twisted's request object.

C{twisted.web.server.Request} is C{Componentized}, so C{IHookRequest(request)}
builds a L{HookRequest} the first time and returns that same one afterwards.
"""

from __future__ import annotations

from twisted.python.components import registerAdapter
from twisted.web.server import Request
from zope.interface import Attribute, Interface, implementer


class IHookRequest(Interface):
    """hookdaemon's state of one request."""

    client: str | None = Attribute(
        "The caller's address as L{hookdaemon.client_address.client_address} resolves it"
        " (behind a trusted proxy, the client it names); None until the app has resolved it."
    )


@implementer(IHookRequest)
class HookRequest:
    """The state of a request no part of hookdaemon has looked at yet."""

    __slots__ = ("client",)

    def __init__(self, request: Request) -> None:
        self.client: str | None = None


registerAdapter(HookRequest, Request, IHookRequest)
