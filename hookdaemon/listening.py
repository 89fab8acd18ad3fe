"""
One C{listen} endpoint as a service, as C{twisted.application.strports.service}
makes one: it binds when privileges allow (before twistd's C{--uid} switch, so
ports below 1024 work), and stops listening when it stops.
"""

from __future__ import annotations

from typing import cast

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorCore,
    IReactorSocket,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from hookdaemon.endpoint_text import endpoint_base_url, scrubbed
from hookdaemon.systemd_sockets import SystemdSocketError, systemd_endpoint

log = Logger()


class ListeningEndpoint(Service):
    """
    Listens on one Twisted endpoint string. A bind that fails at once (tcp,
    unix, ssl) stops the start with C{SystemExit(1)}, so twistd exits non-zero
    and a supervisor sees it; one that fails later stops the reactor: a daemon
    that cannot take deliveries must not look healthy.
    """

    def __init__(self, reactor: IReactorCore, description: str, factory: IProtocolFactory) -> None:
        self._reactor = reactor
        self._description = description
        self._factory = factory
        self.shown = endpoint_base_url(description)
        """The address only: an endpoint string's options may hold a password."""
        self.port: IListeningPort | None = None
        self.listening: Deferred[IListeningPort | None] | None = None
        """Fires with the port once bound, or with None if the bind failed."""

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self._listen()
        if self.listening is not None and self.listening.called and self.port is None:
            raise SystemExit(1)

    def startService(self) -> None:
        super().startService()
        if self.listening is None:
            self._listen()

    def _listen(self) -> None:
        def bind() -> Deferred[IListeningPort]:
            if self._description.startswith("systemd:"):
                adopted = systemd_endpoint(cast(IReactorSocket, self._reactor), self._description)
                return adopted.listen(self._factory)  # type: ignore[no-any-return]
            endpoint = serverFromString(self._reactor, self._description)
            return endpoint.listen(self._factory)  # type: ignore[no-any-return]

        def listening(port: IListeningPort) -> IListeningPort:
            self.port = port
            log.info("listening on {address}", address=self.shown)
            return port

        def failed(failure: Failure) -> None:
            error = failure.getErrorMessage()
            if not failure.check(SystemdSocketError):  # ours quote nothing of the string
                error = scrubbed(error, self._description)
            log.critical("cannot listen on {address}: {error}", address=self.shown, error=error)
            self._reactor.callWhenRunning(self._reactor.stop)

        self.listening = maybeDeferred(bind).addCallbacks(listening, failed)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        stopped: Deferred[None] = maybeDeferred(port.stopListening)  # type: ignore[call-overload]
        return stopped
