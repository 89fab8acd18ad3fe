"""twistd glue: C{twistd hookdaemon [--config PATH] [--hooks FILE ...] [--check]}."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any, cast

from twisted.application.service import IService
from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger
from twisted.python import usage

from hookdaemon.config import Config, ConfigError, HookConfig
from hookdaemon.config_check import checked_config
from hookdaemon.config_source import ConfigSource
from hookdaemon.endpoint_text import hook_address
from hookdaemon.journald import error_line, stdout_is_journal
from hookdaemon.log_observer import twistd_observer
from hookdaemon.preflight import RunAs
from hookdaemon.twistd_files import file_problems

if TYPE_CHECKING:
    from hookdaemon.service import HookService

log = Logger()


class Options(usage.Options):
    synopsis = "[--config PATH] [--hooks FILE ...] [--check] [--strict]"
    longdesc = (
        "Receive webhooks from code forges and run the configured deploy commands "
        "in the background. Configuration: tap.cfg, adnanh/webhook hooks files "
        "(--hooks), or both (see README.md)."
    )
    optParameters = [
        ["config", "c", None, "The configuration file (default: tap.cfg, unless --hooks)."],
        ["urlprefix", None, "hooks", "The hooks files' hooks are at /PREFIX/ID (webhook's)."],
        ["http-methods", None, "", "Methods the hooks files' hooks take, comma-separated."],
    ]
    optFlags = [
        ["check", None, "Validate the configuration, list the hooks and their URLs, and exit."],
        ["strict", None, "Treat warnings as problems: exit 1 (with --check) or do not start."],
        ["template", None, "Read the hooks files as Go templates first (webhook's -template)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["hooks"] = []
        self["header"] = []
        self["listen"] = []

    def opt_hooks(self, path: str) -> None:
        """An adnanh/webhook hooks file (JSON or YAML) to serve; repeatable."""
        self["hooks"].append(path)

    def opt_header(self, header: str) -> None:
        """A response header NAME=VALUE for the hooks files' hooks; repeatable."""
        self["header"].append(header)

    def opt_listen(self, endpoint: str) -> None:
        """An endpoint to listen on instead of tap.cfg's listen; repeatable."""
        self["listen"].append(endpoint)

    def source(self) -> ConfigSource:
        """What these options say to read: tap.cfg unless only hooks files are named."""
        config = self["config"]
        if config is None and not self["hooks"]:
            config = "tap.cfg"
        return ConfigSource(
            config=config,
            hooks=tuple(self["hooks"]),
            template=bool(self["template"]),
            url_prefix=self["urlprefix"],
            http_methods=self["http-methods"],
            headers=tuple(self["header"]),
            listen=tuple(self["listen"]),
        )

    def postOptions(self) -> None:
        # Loading here, not in makeService, means a bad config stops twistd with
        # our lines before it daemonises or binds, and never with a traceback.
        source = self.source()
        path = source.label
        try:
            config = checked_config(source, self._run_as())
        except ConfigError as e:
            for problem in e.problems:
                print(error_line(str(problem)), file=sys.stderr)
            summary = f"{path}: {len(e.problems)} problem(s); nothing started"
            print(error_line(summary), file=sys.stderr)
            raise SystemExit(1) from None
        parent = getattr(self, "parent", None)
        if self.file_warnings is None:
            self.file_warnings = tuple(file_problems(parent)) if parent is not None else ()
        warnings = [*map(str, config.warnings), *self.file_warnings]
        if self["check"] or self["strict"] or not stdout_is_journal(fd=2):
            # A daemon that starts under journald logs them there: printed too, they
            # would be there twice.
            for warning in warnings:
                print(error_line(f"{warning} (warning)", 4), file=sys.stderr)
        if self["strict"] and warnings:
            summary = f"{path}: {len(warnings)} warning(s) and --strict; nothing started"
            print(error_line(summary), file=sys.stderr)
            raise SystemExit(1)
        self.loaded = config
        if self["check"]:
            self._report(config)
            raise SystemExit(0)

    file_warnings: tuple[str, ...] | None = None
    """
    What twistd's --uid user could not do with its pid file or log file
    (L{file_problems}); None until known: C{hookdaemon run} sets it, having
    looked already, else L{postOptions} looks.
    """

    outcome: Outcome | None = None
    """How the daemon twistd made of these options ended (L{makeService} sets it)."""

    run_as: RunAs | None = None
    """Who the steps will run as, when the caller knows (C{hookdaemon check --user})."""

    def _run_as(self) -> RunAs:
        """The user the steps will run as: twistd's --uid (and --gid), else this process's."""
        if self.run_as is not None:
            return self.run_as
        parent = getattr(self, "parent", None)
        switched = RunAs.from_twistd(parent) if parent is not None else None
        return RunAs.this_process() if switched is None else switched

    def _report(self, config: Config) -> None:
        print(f"{config.origin.label if config.origin else config.source}: OK")
        daemon = config.daemon
        for key, tokens in (
            ("status_token", daemon.status_tokens),
            ("operator_token", daemon.operator_tokens),
        ):
            if tokens:
                print(f"{key}: {', '.join(token.describe() for token in tokens)}")
        for name, hook in config.hooks.items():
            urls = ", ".join(hook_address(d, hook.path) for d in daemon.listen)
            if hook.hooks_file is not None:
                rule = "a trigger rule" if hook.hooks_file.trigger_rule else "no trigger rule"
                print(f"hook {name}: from {hook.hooks_file.source}, {rule}: {urls}")
            else:
                secret = hook.secret.describe() if hook.secret else "none"
                if hook.basic_auth is not None:
                    secret += f", basic_auth {hook.basic_auth.describe()}"
                print(f"hook {name}: forge {hook.forge}, secret {secret}: {urls}")
            for line in reporting_lines(hook):
                print(f"hook {name}: {line}")


def reporting_lines(hook: HookConfig) -> list[str]:
    """What C{--check} says of a hook's commit statuses and notifications: where, and with what."""
    lines = []
    trust = f"trusting {hook.report_ca}" if hook.report_ca else "trusting the system's CAs"
    if hook.report is not None:
        report = hook.report
        lines.append(
            f"commit statuses to {report.api} at {report.url} as {report.context},"
            f" token {report.token.describe()}, {trust}"
        )
    if hook.notify is not None:
        notify = hook.notify
        urls = ", ".join(url.describe() for url in notify.urls)
        lines.append(f"notifies {urls} ({notify.format}, on {notify.on}), {trust}")
    return lines


class Outcome:
    """
    How the daemon ended, as its exit status: 1 when it stopped itself (it
    does only when it cannot go on: a journal that cannot be opened or
    recovered, an endpoint that cannot be bound, a part that cannot start).

    twistd has no exit status for that: its runApp (twisted/scripts/twistd.py)
    ends the process with the signal the reactor caught, if one stopped it,
    else returns, and the twistd script exits 0 (twisted/twisted#11335, open
    since 2004). So a stop that no signal asked for is the daemon's own, and
    at the process's exit, once twistd is done (its pid file removed, "Server
    Shut Down." logged), this ends it with 1. C{hookdaemon run} asks L{claim}
    instead, and returns the status itself.
    """

    def __init__(self, reactor: IReactorCore, service: HookService) -> None:
        self._reactor = reactor
        self._service = service
        self.failed = False
        reactor.addSystemEventTrigger("before", "shutdown", self._stopping)
        atexit.register(self._exit)

    def _stopping(self) -> None:
        # Set by the reactor's SIGINT and SIGTERM handlers before the stop they
        # ask for; what twistd's runApp reads (twisted/internet/base.py).
        signalled = getattr(self._reactor, "_exitSignal", None) is not None
        self.failed = self._service.failure is not None or not signalled

    @property
    def status(self) -> int:
        return 1 if self.failed else 0

    def claim(self) -> int:
        """The exit status, for a caller that exits with it: nothing is done at exit."""
        atexit.unregister(self._exit)
        return self.status

    def _exit(self) -> None:
        if self.failed:
            # Exit handlers cannot change the status (Python ignores a SystemExit
            # raised in one): only os._exit can, which flushes nothing itself.
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(self.status)


def makeService(options: Any) -> IService:
    from twisted.internet import reactor

    from hookdaemon.service import HookService

    config: Config = options.loaded
    # twistd starts its log after makeService and replays what came before, so
    # these reach the log file as well as the terminal postOptions printed them to.
    for warning in [*map(str, config.warnings), *options.file_warnings]:
        log.warn("{problem} (warning)", problem=warning)
    service = HookService(config, strict=bool(options["strict"]))
    # twistd's options, whose log choice the daemon's observer follows.
    service.log_observer = twistd_observer(getattr(options, "parent", None))
    options.outcome = Outcome(cast(IReactorCore, reactor), service)
    return service
