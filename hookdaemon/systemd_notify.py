"""
Tells systemd how the daemon is doing, as sd_notify(3) does: C{READY=1} once
every endpoint listens (a C{Type=notify} unit's start, and the units ordered
after it, wait for that), C{STOPPING=1} as it stops, and C{RELOADING=1} with
C{MONOTONIC_USEC} then C{READY=1} around a reload, as C{Type=notify-reload}
(systemd 253) requires.

Our own dozen lines rather than a library: the protocol is one datagram to the
C{AF_UNIX} socket C{$NOTIFY_SOCKET} names, C{@} standing for Linux's abstract
namespace (sd_notify(3), "Notes", which shows a standalone Python version and
calls the protocol stable). On PyPI, C{sdnotify} (0.3.2) drops every error
with a bare C{except} and knows nothing of C{MONOTONIC_USEC}; C{systemd-python}
and C{cysystemd} wrap libsystemd in C, so every machine installing hookdaemon
would need its headers and a compiler. No new dependency is better than these.

Nothing in Twisted removes C{NOTIFY_SOCKET} from the environment (its
endpoints module removes only C{LISTEN_*}, see L{hookdaemon.SYSTEMD_ENVIRONMENT}),
and a step's environment is built from nothing (L{hookdaemon.command}), so no
step inherits it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger

log = Logger()


def socket_address(value: str) -> str | None:
    """
    The C{AF_UNIX} address C{$NOTIFY_SOCKET} names: a path, or an abstract name
    (C{@name} becomes C{"\\0name"}); None for anything else (systemd's own
    C{vsock:} addresses are for a virtual machine's manager, not a service).
    """
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return None


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, as C{MONOTONIC_USEC} wants it."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notifier:
    """
    Sends sd_notify messages to C{$NOTIFY_SOCKET}; without one, does nothing.
    It never raises: a message systemd cannot be sent costs one log line, and
    the next ones that fail with it none, until one gets through again.

    It connects as it is built: twistd builds the service as root, before
    C{--uid} drops privileges, and a connected socket goes on sending where
    the user it becomes could not connect (a socket in a directory only root
    may enter). systemd's own C{/run/systemd/notify} is writable by anyone.
    """

    def __init__(self, address: str | None, shown: str = "") -> None:
        self.address = address
        self.shown = shown or (address or "")
        """C{$NOTIFY_SOCKET} as it was written, for log lines."""
        self._socket: socket.socket | None = None
        self._failing = False
        if address is not None:
            try:
                self._socket = self._connected()
            except OSError as e:
                self._failed("cannot reach systemd", e)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        value = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
        if not value:
            return cls(None)
        address = socket_address(value)
        if address is None:
            log.warn(
                "NOTIFY_SOCKET={value} is neither a path nor an @name: systemd will not"
                " hear that the daemon is ready",
                value=value,
            )
        return cls(address, value)

    def ready(self, status: str = "") -> bool:
        """Started, or done reloading (C{READY=1})."""
        return self.send("READY=1", *_status(status))

    def reloading(self, status: str = "reloading the configuration") -> bool:
        # systemd.service(5), Type=notify-reload: RELOADING=1 and MONOTONIC_USEC in
        # one message, or systemd 253 and later fail the reload and stop the unit.
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", *_status(status))

    def stopping(self, status: str = "stopping") -> bool:
        return self.send("STOPPING=1", *_status(status))

    def status(self, text: str) -> bool:
        """What C{systemctl status} shows under the unit's name."""
        return self.send(*_status(text))

    def send(self, *assignments: str) -> bool:
        """One datagram of C{assignments}; whether it was sent (False without a socket)."""
        if self.address is None or not assignments:
            return False
        message = "\n".join(assignments).encode("utf-8")
        try:
            if self._socket is None:
                self._socket = self._connected()
            self._socket.send(message)
        except OSError:
            # The socket it was connected to may be gone and another bound at
            # its address (a manager re-executed): one more try, connecting anew.
            self.close()
            try:
                self._socket = self._connected()
                self._socket.send(message)
            except OSError as e:
                self._failed(f"cannot tell systemd {assignments[0]}", e)
                return False
        if self._failing:
            log.info("systemd hears the daemon again at NOTIFY_SOCKET={shown}", shown=self.shown)
        self._failing = False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _connected(self) -> socket.socket:
        assert self.address is not None
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # A full queue at systemd's end must never block the reactor.
        sender.setblocking(False)
        try:
            sender.connect(self.address)
        except OSError:
            sender.close()
            raise
        return sender

    def _failed(self, what: str, error: OSError) -> None:
        if not self._failing:
            log.warn(
                "{what} at NOTIFY_SOCKET={shown}: {error}",
                what=what,
                shown=self.shown,
                error=error.strerror or str(error),
            )
        self._failing = True


def _status(text: str) -> list[str]:
    # STATUS= is one line (sd_notify(3)); a newline would start another assignment.
    return [f"STATUS={' '.join(text.split())}"] if text else []


class Listener(Protocol):
    """What L{SystemdNotice} needs of an endpoint (L{hookdaemon.listening.ListeningEndpoint})."""

    @property
    def shown(self) -> str: ...

    @property
    def listening(self) -> Deferred[Any] | None: ...


class Endpoints(Protocol):
    """The endpoints in use, which a reload may change (L{hookdaemon.listening.Listeners})."""

    @property
    def endpoints(self) -> Sequence[Listener]: ...


class SystemdNotice(Service):
    """
    C{READY=1} once every endpoint listens, C{STOPPING=1} as the daemon stops,
    and C{RELOADING=1} then C{READY=1} around a reload (L{around}). The
    daemon's last child: it starts once the others have (the endpoints bound
    before C{--uid}, the job engine started) and stops first, so C{STOPPING=1}
    comes as the drain begins. Never ready if an endpoint could not listen at
    start: the daemon exits then, and systemd sees that.
    """

    def __init__(
        self, reactor: IReactorCore, listeners: Endpoints, notifier: Notifier | None = None
    ) -> None:
        self._reactor = reactor
        self.listeners = listeners
        self.notifier = Notifier.from_environment() if notifier is None else notifier
        self._ready = False
        """READY=1 went out: only then may a reload say RELOADING=1 and READY=1 again."""

    def startService(self) -> None:
        super().startService()
        # Once the reactor runs, not as twistd starts the services: its SIGTERM
        # handler is installed only then, and a stop systemd sends after READY=1
        # must drain the jobs, not kill the process outright.
        self._reactor.callWhenRunning(self._running)

    def _running(self) -> None:
        waiting = [e.listening for e in self.listeners.endpoints if e.listening is not None]
        gatherResults(waiting).addCallback(self._listening)

    def _listening(self, ports: list[Any]) -> None:
        if self.running and all(port is not None for port in ports):
            self.notifier.ready(self._status())
            self._ready = True

    def around(self, starting: bool) -> None:
        """
        L{hookdaemon.reload.Reloader}'s C{around}: C{RELOADING=1} as a reload
        starts, C{READY=1} as it ends, applied or refused (systemd waits for it
        either way, and the daemon goes on serving). Nothing before the first
        READY=1 or once stopping: systemd would take that READY=1 for the start's,
        or for the end of the stop.
        """
        if not (self.running and self._ready):
            return
        if starting:
            self.notifier.reloading()
        else:
            self.notifier.ready(self._status())

    def _status(self) -> str:
        shown = ", ".join(e.shown for e in self.listeners.endpoints)
        return f"listening on {shown}" if shown else ""

    def stopService(self) -> None:
        super().stopService()
        self.notifier.stopping()
