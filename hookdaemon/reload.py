"""
Reload on SIGHUP: the configuration file is read and checked again, as at
start, and applied if it passes; if it does not, the lines that say why are
logged and the configuration in use stays, whole.

twistd installs no SIGHUP handler (it would end the daemon), so this service
installs one while it runs. Each attempt's outcome is also written to
STATE_DIR/reload.json for C{hookdaemon reload}, which waits for it.

The file is read and checked in a thread of the reloader's own: for 50
hooks that took 40 to 60 ms, 110 with an C{ssl:} endpoint's key to load,
and has no bound on a disk that stalls (NFS); on the reactor, every
delivery would wait for it. What was read is compared and applied on the
reactor, one reload at a time.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from types import FrameType
from typing import Any, Protocol

from attrs import frozen
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from hookdaemon.config import Config, ConfigError
from hookdaemon.config_change import CertificateRead, ConfigChange, compare
from hookdaemon.config_check import checked_config
from hookdaemon.config_source import ConfigSource
from hookdaemon.listening import CannotListenError
from hookdaemon.preflight import RunAs
from hookdaemon.private_files import write_private

log = Logger()

RESULT_NAME = "reload.json"


@frozen
class ReloadResult:
    """One attempt, as STATE_DIR/reload.json tells it to C{hookdaemon reload}."""

    pid: int
    serial: int
    """Attempts since the daemon started, this one included."""
    applied: bool
    lines: tuple[str, ...]
    """What the daemon logged of it: the change, or each reason for refusing it."""

    def to_json(self) -> bytes:
        return json.dumps(
            {"pid": self.pid, "serial": self.serial, "applied": self.applied, "lines": self.lines}
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ReloadResult:
        value = json.loads(data)
        return cls(value["pid"], value["serial"], value["applied"], tuple(value["lines"]))


class Reloadable(Protocol):
    """What a reload applies the configuration to: the daemon's service."""

    config: Config

    def apply(
        self, config: Config, change: ConfigChange
    ) -> Coroutine[Any, Any, Sequence[CertificateRead]]:
        """
        Use C{config} from now on; raises L{CannotListenError} having changed
        nothing. Returns the C{ssl:} endpoints whose files it read again.
        """


class Reloader(Service):
    """
    While running, a SIGHUP reloads C{path} into C{target}. Hangups that come
    while a reload is under way are answered by one more reload after it.
    """

    def __init__(
        self,
        reactor: IReactorFromThreads,
        source: str | ConfigSource,
        target: Reloadable,
        strict: bool = False,
        around: Callable[[bool], None] = lambda starting: None,
    ) -> None:
        self._reactor = reactor
        self._source = ConfigSource(config=source) if isinstance(source, str) else source
        self._path = self._source.label
        self._target = target
        self._strict = strict
        self._around = around
        """Told True as a reload starts and False as it ends (systemd's RELOADING=1, READY=1)."""
        self._previous: Any = None
        self._waiting: list[Deferred[None]] = []
        """Callers of L{reload} until the reloads under way have ended."""
        self._again = False
        self._serial = 0
        self._reading: ThreadPool | None = None
        """Where the file is read while running: one thread, made at the first reload."""

    def privilegedStartService(self) -> None:
        """
        Catch SIGHUP from here on: L{HookService} calls this before anything
        binds, as a hangup that came between the bind and L{startService} would
        end the daemon. It is handed to the reactor, which runs it only once
        running: after twistd has called L{startService}.
        """
        super().privilegedStartService()
        if self._previous is None:
            self._previous = signal.signal(signal.SIGHUP, self._hangup)

    def startService(self) -> None:
        super().startService()
        self._reading = ThreadPool(minthreads=0, maxthreads=1, name="hookdaemon-reload")
        self._reading.start()

    def stopService(self) -> Deferred[None]:
        """Fires once a reload under way has ended: the parts it changes stop after it."""
        super().stopService()
        if not self._waiting:
            self._stop_reading()
            return succeed(None)
        done: Deferred[None] = Deferred()
        self._waiting.append(done)
        return done.addCallback(lambda _: self._stop_reading())

    def _stop_reading(self) -> None:
        # Once no reload is under way: its thread is idle, and the join is at once.
        reading, self._reading = self._reading, None
        if reading is not None:
            reading.stop()

    def release(self) -> None:
        """
        Give SIGHUP back to what had it before. Not in L{stopService}: the
        daemon drains its jobs after this service stops, and a SIGHUP then
        (logrotate's, say) would end it with its jobs orphaned.
        """
        if self._previous is not None:
            signal.signal(signal.SIGHUP, self._previous)
            self._previous = None

    def _hangup(self, number: int, frame: FrameType | None) -> None:
        # A signal handler may run between any two bytecodes: hand over to the reactor.
        self._reactor.callFromThread(self._hung_up_now)

    def _hung_up_now(self) -> None:
        if self.running:
            self.reload()
        else:
            log.info("SIGHUP: the daemon is stopping; not reloaded")

    def reload(self) -> Deferred[None]:
        """Reload now, or once the reload under way has ended; fires when done."""
        done: Deferred[None] = Deferred()
        self._waiting.append(done)
        if len(self._waiting) == 1:
            Deferred.fromCoroutine(self._reload_until_quiet())
        else:
            self._again = True
        return done

    async def _reload_until_quiet(self) -> None:
        again = True
        while again and self.running:
            self._again = False
            await self._reload_once()
            again = self._again
        waiting, self._waiting = self._waiting, []
        for done in waiting:
            done.callback(None)

    async def _reload_once(self) -> None:
        self._serial += 1
        self._around(True)
        try:
            applied, lines = await self._attempt()
        except Exception:
            log.failure("reload of {path} failed; the configuration in use stays", path=self._path)
            applied, lines = False, ("the reload failed inside the daemon (see its log)",)
        finally:
            self._around(False)
        self._tell(ReloadResult(os.getpid(), self._serial, applied, lines))

    async def _attempt(self) -> tuple[bool, tuple[str, ...]]:
        path = self._path
        log.info("SIGHUP: reloading {path}", path=path)
        try:
            # Plain I/O and parsing: serverFromString only builds its endpoints.
            assert self._reading is not None, "a reload runs only while the service does"
            config = await deferToThreadPool(
                self._reactor, self._reading, checked_config, self._source, RunAs.this_process()
            )
        except ConfigError as e:
            problems = [str(p) for p in e.problems]
            return self._refuse([*problems, f"{path}: {len(problems)} problem(s)"])
        warnings = [f"{warning} (warning)" for warning in config.warnings]
        if self._strict and warnings:
            return self._refuse([*warnings, f"{path}: {len(warnings)} warning(s) and --strict"])
        for warning in warnings:
            log.warn("{problem}", problem=warning)
        change = compare(self._target.config, config)
        if change.restart_keys:
            keys = ", ".join(change.restart_keys)
            return self._refuse(
                [f"{path}: [hookdaemon] {keys} changed: that takes a restart, not a reload"]
            )
        try:
            certificates = await self._target.apply(config, change)
        except CannotListenError as e:
            return self._refuse([str(e)])
        line = f"reloaded {path}: {change.summary(certificates)}"
        log.info("{line}", line=line)
        return True, (line,)

    def _refuse(self, reasons: list[str]) -> tuple[bool, tuple[str, ...]]:
        last = "reload refused; the configuration in use stays as it was"
        for reason in (*reasons, last):
            log.error("{reason}", reason=reason)
        return False, (*reasons, last)

    def _tell(self, result: ReloadResult) -> None:
        """Write the outcome where C{hookdaemon reload} waits for it; a failure is only logged."""
        path = os.path.join(self._target.config.daemon.state_dir, RESULT_NAME)
        try:
            write_private(f"{path}.new", result.to_json())
            os.replace(f"{path}.new", path)
        except OSError as e:
            log.warn("cannot write {path}: {error}", path=path, error=e.strerror)
