"""
The C{listen} endpoints as services, each as C{twisted.application.strports.service}
makes one: it binds when privileges allow (before twistd's C{--uid} switch, so
ports below 1024 work), and stops listening when it stops; and L{Listeners},
the set of them, which a reload changes in one place.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from typing import cast

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorCore,
    IReactorSocket,
    IReactorSSL,
)
from twisted.internet.ssl import CertificateOptions
from twisted.logger import Logger
from twisted.python.failure import Failure

from hookdaemon.endpoint_text import endpoint_base_url, scrubbed
from hookdaemon.systemd_sockets import SystemdSocketError, systemd_endpoint
from hookdaemon.tls import TLSEndpoint, TLSSetupError, tls_endpoint

log = Logger()


class CannotListenError(Exception):
    """An endpoint could not be bound; the message says which and why, in one line."""


class ListeningEndpoint(Service):
    """
    Listens on one Twisted endpoint string. A bind that fails at once (tcp,
    unix, ssl) stops the start with C{SystemExit(1)}, so twistd exits non-zero
    and a supervisor sees it; one that fails later stops the reactor: a daemon
    that cannot take deliveries must not look healthy.
    """

    def __init__(self, reactor: IReactorCore, description: str, factory: IProtocolFactory) -> None:
        self._reactor = reactor
        self.description = description
        self._factory = factory
        self.shown = endpoint_base_url(description)
        """The address only: an endpoint string's options may hold a password."""
        self.port: IListeningPort | None = None
        self.tls: TLSEndpoint | None = None
        """An C{ssl:} endpoint's certificate files, to be read again at a reload."""
        self.listening: Deferred[IListeningPort | None] | None = None
        """Fires with the port once bound, or with None if the bind failed."""

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        if self.listening is None:
            self._listen_or_stop()
            if self.listening is not None and self.listening.called and self.port is None:
                raise SystemExit(1)

    def startService(self) -> None:
        super().startService()
        if self.listening is None:
            self._listen_or_stop()

    def listen(self) -> Deferred[IListeningPort]:
        """
        Bind now: fails with L{CannotListenError}, saying why in one line, which
        the start logs (and stops the daemon for) and a reload refuses for.
        """
        self.listening = Deferred()
        bound = maybeDeferred(self._bind)

        def listening(port: IListeningPort) -> IListeningPort:
            self.port = port
            log.info("listening on {address}", address=self.shown)
            assert self.listening is not None
            self.listening.callback(port)
            return port

        def failed(failure: Failure) -> Failure:
            if failure.check(TLSSetupError):
                error = cast(TLSSetupError, failure.value).reason  # a file, not the string
            elif failure.check(SystemdSocketError):
                error = failure.getErrorMessage()  # quotes nothing of the string
            else:
                error = scrubbed(failure.getErrorMessage(), self.description)
                found = getattr(failure.value, "socketError", None)
                if getattr(found, "errno", None) == errno.EACCES and os.geteuid() != 0:
                    error = error.rstrip(".") + (
                        "; a port below 1024 takes root (twistd binds before --uid) or"
                        " CAP_NET_BIND_SERVICE (systemd: AmbientCapabilities=), which this"
                        " process does not have"
                    )
            assert self.listening is not None
            self.listening.callback(None)
            return Failure(CannotListenError(f"cannot listen on {self.shown}: {error}"))

        return bound.addCallbacks(listening, failed)

    def _bind(self) -> Deferred[IListeningPort]:
        if self.description.startswith("ssl:"):
            self.tls = tls_endpoint(cast(IReactorSSL, self._reactor), self.description)
            return self.tls.endpoint.listen(self._factory)
        if self.description.startswith("systemd:"):
            adopted = systemd_endpoint(cast(IReactorSocket, self._reactor), self.description)
            return adopted.listen(self._factory)  # type: ignore[no-any-return]
        endpoint = serverFromString(self._reactor, self.description)
        return endpoint.listen(self._factory)  # type: ignore[no-any-return]

    def _listen_or_stop(self) -> None:
        """Bind at start: a daemon that cannot take deliveries must not look healthy."""

        def failed(failure: Failure) -> None:
            failure.trap(CannotListenError)
            log.critical("{error}", error=failure.getErrorMessage())
            self._reactor.callWhenRunning(self._reactor.stop)

        self.listen().addErrback(failed)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        port, self.port = self.port, None
        if port is None:
            return succeed(None)
        stopped: Deferred[None] = maybeDeferred(port.stopListening)  # type: ignore[call-overload]
        return stopped


class Listeners(MultiService):
    """
    The C{listen} endpoints in use, and the one place they change: at a
    reload, L{replace} binds the new ones before it closes the old, so a
    forge always finds the daemon somewhere, and an endpoint that cannot be
    bound leaves every one in use as it was.
    """

    def __init__(
        self, reactor: IReactorCore, listen: Sequence[str], factory: IProtocolFactory
    ) -> None:
        super().__init__()
        self._reactor = reactor
        self._factory = factory
        for description in listen:
            ListeningEndpoint(reactor, description, factory).setServiceParent(self)

    @property
    def endpoints(self) -> list[ListeningEndpoint]:
        return cast(list[ListeningEndpoint], list(self))

    async def replace(self, listen: Sequence[str]) -> None:
        """
        Listen on C{listen} from now on, and serve each C{ssl:} endpoint's
        certificate files as they are now (a renewal). Raises
        L{CannotListenError} for the first new endpoint that cannot be bound,
        or files that will not do, having changed nothing.
        """
        kept = {e.description: e for e in self.endpoints}
        removed = [e for d, e in kept.items() if d not in listen]
        new = [d for d in listen if d not in kept]
        # Certificates are read first and served last, once nothing can fail.
        serve: list[tuple[TLSEndpoint, CertificateOptions]] = []
        moved: list[tuple[ListeningEndpoint, str, TLSEndpoint]] = []
        try:
            for endpoint in self.endpoints:
                if endpoint.tls is not None and endpoint.description in listen:
                    serve.append((endpoint.tls, endpoint.tls.renewed()))
            for description in [d for d in new if d.startswith("ssl:")]:
                for endpoint in removed:
                    found = endpoint.tls.moved(description) if endpoint.tls else None
                    if found is not None:
                        # Other files on the same port: no second bind, which would fail.
                        serve.append(found)
                        moved.append((endpoint, description, found[0]))
                        removed.remove(endpoint)
                        new.remove(description)
                        break
        except TLSSetupError as e:
            raise CannotListenError(f"cannot serve TLS on {e}") from None
        added = [ListeningEndpoint(self._reactor, d, self._factory) for d in new]
        for endpoint in added:
            if endpoint.description.startswith("systemd:"):
                raise CannotListenError(
                    f"cannot listen on {endpoint.shown}: systemd passes its sockets at start"
                    " only; restart the daemon to take a new one"
                )
        bound: list[ListeningEndpoint] = []
        try:
            for endpoint in added:
                await endpoint.listen()
                bound.append(endpoint)
        except CannotListenError as e:
            for endpoint in bound:
                await endpoint.stopService()
            taken = [r.shown for r in removed if r.shown == added[len(bound)].shown]
            if taken:
                # Moving one address between endpoint strings binds it twice.
                raise CannotListenError(
                    f"{e}; the endpoint it replaces still holds {taken[0]}: restart the"
                    " daemon to change that endpoint's options"
                ) from None
            raise
        for tls, options in serve:
            tls.serve(options)
        for endpoint, description, tls in moved:
            endpoint.description, endpoint.tls = description, tls
        for endpoint in added:
            endpoint.setServiceParent(self)  # already bound: starting it binds nothing
        for endpoint in removed:
            await endpoint.disownServiceParent()
