"""
The service twistd runs: it builds the daemon's parts and orders them, and
hands each the configuration a reload brings; nothing else.
"""

from __future__ import annotations

import os
from typing import Any, cast

from cryptography import x509
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IAddress, IListeningPort
from twisted.logger import ILogObserver, Logger
from twisted.python.components import Componentized
from twisted.python.failure import Failure

from hookdaemon.access_log import access_log_formatter
from hookdaemon.config import Config
from hookdaemon.config_change import CertificateRead, ConfigChange
from hookdaemon.config_source import ConfigSource
from hookdaemon.dashboard.app import Dashboard
from hookdaemon.dispatcher import Dispatcher
from hookdaemon.job_status import JobStatus
from hookdaemon.journal_records import JournalRecords
from hookdaemon.journal_worker import JournalWorker
from hookdaemon.lifecycle import JobEvents
from hookdaemon.listening import Listeners, ListeningEndpoint
from hookdaemon.log_lines import JobLogLines
from hookdaemon.metrics import Metrics
from hookdaemon.outbox import Outbox, Reports
from hookdaemon.output import OutputLogs
from hookdaemon.reactors import DaemonReactor, stop_reactor
from hookdaemon.reload import Reloader
from hookdaemon.site import HookSite
from hookdaemon.status_access import Tokens
from hookdaemon.systemd_notify import SystemdNotice
from hookdaemon.web import HookApp

log = Logger()


class InOrder(MultiService):
    """
    A MultiService that stops its children one at a time, the last started
    first, each once the one before it has stopped (MultiService stops them
    all at once), so a child can rely on the ones started before it until
    it has stopped.
    """

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)  # not MultiService's, which stops every child at once
        return Deferred.fromCoroutine(self._stop_children())

    async def _stop_children(self) -> None:
        for child in reversed(list(self)):
            try:
                await maybeDeferred(child.stopService)
            except Exception:
                # The ones started before it still stop: the journal last of all.
                log.failure("stopping {child}", child=child)


class HookService(InOrder):
    """
    The daemon's parts, started in this order and stopped in the reverse:

      1. the journal (L{JournalWorker}), which everything after it writes to;
      2. the L{Outbox}, which sends the commit statuses and notifications it holds;
      3. the output logs (L{OutputLogs});
      4. the C{listen} endpoints (L{Listeners}), serving the app;
      5. the job engine (L{Dispatcher}), which recovers the journal's jobs;
      6. the L{Reloader}, which applies the configuration file again on SIGHUP;
      7. the L{SystemdNotice} (READY=1 once listening), last, so it stops first.

    Stopping, the engine refuses deliveries (503, while the endpoints still
    answer) and drains its running jobs; then the endpoints close, then the
    output logs, then the journal, once all that was written is on disk.

    L{config} is the configuration in use, and L{apply} the one place it is
    replaced: each part is handed the new one, and takes it for what comes
    next (a new delivery, connection or job), never for what is under way.

    A part that cannot start (a log_dir that cannot be made) stops the
    daemon, once the reactor runs, as the journal does when it cannot be
    opened: twistd would print its traceback, and then never exit, as the
    journal's thread had started. L{failure} says why.
    """

    failure: str | None = None
    """Why the daemon could not start, if a part said so as it started."""
    log_observer: ILogObserver | None = None
    """
    The observer twistd is to log through (L{hookdaemon.log_observer}), set on
    the application this service joins; None: twistd's own.
    """

    def __init__(
        self,
        config: Config,
        reactor: DaemonReactor | None = None,
        strict: bool = False,
    ) -> None:
        super().__init__()
        if reactor is None:
            # Imported here, not at the top, so twistd's --reactor can still choose.
            from twisted.internet import reactor as default_reactor

            reactor = cast(DaemonReactor, default_reactor)
        daemon = config.daemon
        self._reactor = reactor
        self.config = config
        self.outputs = OutputLogs(daemon, list(config.hooks), reactor)
        self.metrics = Metrics(config.hooks, outputs=self.outputs)
        self.journal = JournalWorker(
            reactor,
            os.path.join(daemon.state_dir, "journal.sqlite"),
            daemon.payload_budget,
            on_commit=self.metrics.journal_committed,
            max_attempts=daemon.max_attempts,
            id_memory=daemon.delivery_id_days * 86400,
            id_max=daemon.delivery_id_max,
        )
        self.status = JobStatus(self.journal)
        self.records = JournalRecords(self.journal, reactor, daemon.history, self.status.output_of)
        # The journal hears first, so a reader told of an event finds it recorded;
        # the job API last, so one waiting for a job's end sees all else done.
        self.outbox = Outbox(self.journal, reactor, config.hooks)
        self.reports = Reports(self.journal, reactor, self.outbox, daemon.public_url)
        self.dashboard = (
            Dashboard(config.hooks, self.status, Tokens.of(daemon), reactor)
            if daemon.dashboard
            else None
        )
        watchers = [self.records, JobLogLines(), self.metrics, self.reports, self.status]
        if self.dashboard is not None:
            watchers.append(self.dashboard.changes)  # after the job API, which pages read
        events = JobEvents(watchers)
        self.engine = Dispatcher(config, self.journal, self.outputs, events, reactor)
        if self.dashboard is not None:
            self.dashboard.steer_with(self.engine)
        self.app = HookApp(
            config.hooks,
            self.engine,
            self.status,
            Tokens.of(daemon),
            trusted_proxies=daemon.trusted_proxies,
            clock=reactor,
            steering=self.engine,
            metrics=self.metrics,
            front=config.front,
            dashboard=self.dashboard,
        )
        self.site = HookSite(
            self.app.resource(), daemon, reactor, logFormatter=access_log_formatter
        )
        self.listeners = Listeners(reactor, daemon.listen, self.site)
        self.notice = SystemdNotice(reactor, self.listeners)
        source = config.origin or ConfigSource(config=config.source)
        self.reloader = Reloader(
            reactor, source.absolute(), self, strict, around=self.notice.around
        )
        # In start order, each named as a start that fails names it.
        for child, name in (
            (self.journal, "the journal"),
            (self.outbox, "the outbox"),
            (self.outputs, "the output logs"),
            (self.listeners, "the listen endpoints"),
            (self.engine, "the job engine"),
            (self.reloader, "the reloader"),
            (self.notice, "systemd's notice"),
        ):
            child.setName(name)
            child.setServiceParent(self)

    def setServiceParent(self, parent: Any) -> None:
        # twistd makes the application, sets this service in it, then asks it
        # for an ILogObserver before choosing one of its own.
        if self.log_observer is not None and isinstance(parent, Componentized):
            parent.setComponent(ILogObserver, self.log_observer)
        super().setServiceParent(parent)

    async def apply(self, config: Config, change: ConfigChange) -> tuple[CertificateRead, ...]:
        """
        Use C{config} from now on (a reload). The endpoints change first, as
        the one step that can fail: if one cannot be bound (or an C{ssl:}
        one's renewed files cannot be used), nothing else changes. Returns
        what each C{ssl:} endpoint kept serves now, its files read again.
        """
        before = {endpoint: _served(endpoint) for endpoint in self.endpoints}
        await self.listeners.replace(config.daemon.listen)
        daemon = config.daemon
        self.outputs.reconfigure(daemon, list(config.hooks))
        self.records.history = daemon.history
        self.metrics.reconfigure(config.hooks)
        self.site.reconfigure(daemon)
        self.engine.reconfigure(config)
        self.outbox.reconfigure(config.hooks)
        self.reports.public_url = daemon.public_url
        self.app.reconfigure(config.hooks, Tokens.of(daemon), daemon.trusted_proxies, config.front)
        self.config = config
        read = []
        for endpoint in self.endpoints:
            now, then = _served(endpoint), before.get(endpoint)
            if now is None or then is None:
                continue  # not TLS, or bound by this reload: "now listening on" says so
            leaf = now[0]
            read.append(
                CertificateRead(
                    endpoint.shown,
                    leaf.serial_number,
                    leaf.not_valid_after_utc,
                    new=leaf != then[0],
                    new_chain=now[1:] != then[1:],
                )
            )
        return tuple(read)

    def privilegedStartService(self) -> None:
        self.reloader.privilegedStartService()  # before the bind: see Reloader
        super().privilegedStartService()

    def startService(self) -> None:
        Service.startService(self)  # not MultiService's: a part that fails ends the start
        for child in self:
            try:
                child.startService()
            except Exception as e:
                self._cannot_start(str(child.name), e)
                return

    def _cannot_start(self, what: str, error: Exception) -> None:
        if isinstance(error, OSError) and error.strerror:
            # The sentence says what to fix; a traceback would only bury it.
            where = f"{error.filename}: " if error.filename else ""
            self.failure = f"cannot start {what}: {where}{error.strerror}"
            log.critical("{failure}; stopping", failure=self.failure)
        else:
            self.failure = f"cannot start {what}: {error!r}"
            log.failure("cannot start {what}; stopping", Failure(error), what=what)
        # Once running: twistd stops, in order, what had started, as at a SIGTERM.
        self._reactor.callWhenRunning(stop_reactor, self._reactor)

    def stopService(self) -> Deferred[None]:
        stopped = super().stopService()

        def release(result: object) -> object:
            self.reloader.release()  # once all is stopped: see Reloader.release
            return result

        return stopped.addBoth(release)

    @property
    def endpoints(self) -> list[ListeningEndpoint]:
        return self.listeners.endpoints

    @property
    def listening(self) -> Deferred[list[IListeningPort | None]]:
        """Fires once every endpoint is bound (None for one that failed)."""
        waiting = [e.listening for e in self.endpoints if e.listening is not None]
        return gatherResults(waiting)

    def addresses(self) -> list[IAddress]:
        return [e.port.getHost() for e in self.endpoints if e.port is not None]


def _served(endpoint: ListeningEndpoint) -> tuple[x509.Certificate, ...] | None:
    """What an C{ssl:} endpoint serves new connections: its certificate, then its chain."""
    if endpoint.tls is None:
        return None
    options: Any = endpoint.tls.certificate.options
    # cryptography's objects, which hookdaemon.tls.load_options hands CertificateOptions.
    return (options.certificate, *options.extraCertChain)
