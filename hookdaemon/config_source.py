"""
Where a daemon's configuration comes from: a tap.cfg, adnanh/webhook hooks
files (C{--hooks}), or both, and the command line's options for them. The same
L{ConfigSource} is read at start and at every reload, so SIGHUP re-reads the
hooks files too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

import attrs
from attrs import frozen

from hookdaemon.command import Step
from hookdaemon.config import (
    DEFAULT_LISTEN,
    HOOK_DEFAULTS,
    Config,
    ConfigError,
    HookConfig,
    Problem,
    Reporting,
    parse_config,
    read_reporting,
)
from hookdaemon.hooksfile.answers import FrontEnd
from hookdaemon.hooksfile.definition import (
    HTTP_TOKEN,
    HooksFileProblem,
    LoadedHook,
    load_hooks,
)
from hookdaemon.hooksfile.model import Header
from hookdaemon.hooksfile.template import (
    TemplateError,
    TemplateFunctions,
    render,
    system_functions,
)

COMMAND_LINE = "the command line"
"""The source named in problems of what no file says (C{--listen}, C{--header})."""

NO_CONFIG = "(no tap.cfg)"
"""
The C{source} of a configuration with no tap.cfg: relative paths in it (state
and logs) resolve against the working directory, as they would for a tap.cfg there.
"""


@frozen
class ConfigSource:
    """What to read, as C{twistd hookdaemon} or C{hookdaemon run} was told."""

    config: str | None = "tap.cfg"
    """tap.cfg's path; None: none is read (C{--hooks} without C{--config})."""
    hooks: tuple[str, ...] = ()
    """Hooks files, in the order given: webhook's C{-hooks}, repeatable."""
    template: bool = False
    url_prefix: str = "hooks"
    http_methods: str = ""
    """As webhook's C{-http-methods} takes it: comma-separated."""
    headers: tuple[str, ...] = ()
    """C{NAME=VALUE} each, as webhook's C{-header}."""
    listen: tuple[str, ...] = ()
    """Endpoints that replace tap.cfg's C{listen}; empty: tap.cfg's, or the default."""

    def absolute(self) -> ConfigSource:
        """The same, its paths made absolute: a reload reads them from wherever it runs."""
        return attrs.evolve(
            self,
            config=None if self.config is None else os.path.abspath(self.config),
            hooks=tuple(os.path.abspath(path) for path in self.hooks),
        )

    @property
    def label(self) -> str:
        """How a person names this configuration: its files."""
        return ", ".join(path for path in (self.config, *self.hooks) if path is not None)


def load_source(
    source: ConfigSource,
    environ: Mapping[str, str] | None = None,
    read_file: Callable[[str], bytes] | None = None,
    functions: TemplateFunctions | None = None,
) -> Config:
    """
    The configuration C{source} names, every file read and checked; raises
    L{ConfigError} listing every problem of every file at once.
    """
    environ = os.environ if environ is None else environ
    read_file = _read_bytes if read_file is None else read_file
    problems: list[Problem | HooksFileProblem] = []
    try:
        if source.config is not None:
            config = _tap_cfg(source.config, environ, read_file)
        else:
            config = parse_config("", os.path.join(os.getcwd(), NO_CONFIG), environ, read_file)
    except ConfigError as e:
        problems.extend(e.problems)
        config = None
    front, line_problems, line_warnings = _front_end(source)
    problems.extend(line_problems)
    hooks: dict[str, HookConfig] = {} if config is None else dict(config.hooks)
    origins = {name: source.config or "" for name in hooks}
    warnings: list[Problem | HooksFileProblem] = [] if config is None else list(config.warnings)
    warnings.extend(line_warnings)
    for path in source.hooks:
        loaded, file_problems, file_warnings = _hooks_file(
            path, source.template, read_file, functions or system_functions(environ)
        )
        problems.extend(file_problems)
        warnings.extend(file_warnings)
        for one in loaded:
            name = one.hook.id
            if name in origins:
                where = origins[name]
                problems.append(
                    HooksFileProblem(
                        path,
                        name,
                        "id",
                        f"is also the name of a hook in {where}; hook names are one"
                        " namespace, so rename one of them",
                    )
                )
                continue
            origins[name] = path
            public_url = "" if config is None else config.daemon.public_url
            reporting, report_problems, report_warnings = file_hook_reporting(
                one, environ, read_file, public_url
            )
            problems.extend(report_problems)
            warnings.extend(report_warnings)
            made = file_hook_config(one, front.url_prefix, reporting)
            if isinstance(made, HooksFileProblem):
                problems.append(made)
                continue
            hooks[name] = made
    if problems or config is None:
        raise ConfigError(problems)
    daemon = config.daemon
    if source.listen:
        daemon = attrs.evolve(daemon, listen=source.listen)
    return attrs.evolve(
        config,
        source=source.config or (source.hooks[0] if source.hooks else COMMAND_LINE),
        daemon=daemon,
        hooks=hooks,
        warnings=tuple(warnings),
        front=front,
        origin=source,
    )


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _tap_cfg(path: str, environ: Mapping[str, str], read_file: Callable[[str], bytes]) -> Config:
    try:
        text = read_file(path).decode("utf-8")
    except OSError as e:
        raise ConfigError([Problem(path, "-", "", f"cannot read: {e.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(path, "-", "", "is not UTF-8 text")]) from None
    return parse_config(text, path, environ, read_file)


def _hooks_file(
    path: str,
    template: bool,
    read_file: Callable[[str], bytes],
    functions: TemplateFunctions,
) -> tuple[tuple[LoadedHook, ...], list[HooksFileProblem], list[HooksFileProblem]]:
    try:
        text = read_file(path).decode("utf-8")
    except OSError as e:
        return (), [HooksFileProblem(path, "", "", f"cannot read: {e.strerror}")], []
    except UnicodeDecodeError:
        return (), [HooksFileProblem(path, "", "", "is not UTF-8 text")], []
    if template:
        try:
            text = render(text, functions)
        except TemplateError as e:
            return (), [HooksFileProblem(path, "", "", f"as a template (--template): {e}")], []
    loaded, problems, warnings = load_hooks(path, text)
    return loaded, list(problems), list(warnings)


NO_REPORTING = Reporting()


def file_hook_reporting(
    loaded: LoadedHook,
    environ: Mapping[str, str],
    read_file: Callable[[str], bytes],
    public_url: str,
) -> tuple[Reporting, list[HooksFileProblem], list[HooksFileProblem]]:
    """
    A hooks-file hook's reporting extras, read as tap.cfg's keys of the same
    names are (relative paths from the hooks file), its problems placed in it.
    """
    hook = loaded.hook
    reporting, problems, warnings = read_reporting(
        loaded.extras.reporting, hook.source, hook.id, environ, read_file, public_url
    )

    def placed(problem: Problem) -> HooksFileProblem:
        where = f"hookdaemon.{problem.key}" if problem.key else "hookdaemon"
        return HooksFileProblem(hook.source, hook.id, where, problem.message)

    return reporting, [placed(p) for p in problems], [placed(p) for p in warnings]


def file_hook_config(
    loaded: LoadedHook, url_prefix: str, reporting: Reporting = NO_REPORTING
) -> HookConfig | HooksFileProblem:
    """
    A hooks-file hook as the rest of hookdaemon sees every hook: its one step
    is its command, its lane, timeout and burst are its C{hookdaemon} extras'
    or the defaults, and its definition decides calls (L{HookConfig.hooks_file}).
    """
    hook, extras = loaded.hook, loaded.extras
    # webhook runs the command in command-working-directory, relative to
    # webhook's own working directory, or in that directory (cmd.Dir = "").
    workdir = os.path.normpath(os.path.join(os.getcwd(), hook.command_working_directory))
    burst = extras.burst or "queue"
    if burst == "coalesce" and hook.include_command_output_in_response:
        return HooksFileProblem(
            hook.source,
            hook.id,
            "hookdaemon.burst",
            "coalesce cannot be used with include-command-output-in-response: each call"
            " waits for its own command's output; use queue",
        )
    return HookConfig(
        name=hook.id,
        forge="webhook",
        secret=None,
        signature_header="",
        allow_from=extras.allow_from,
        events=frozenset(),
        branches=(),
        tags=(),
        repository=(),
        workdir=workdir,
        steps=(Step(text=hook.execute_command, words=(hook.execute_command,)),),
        shell=False,
        env=extras.env,
        timeout=float(HOOK_DEFAULTS["timeout"]) if extras.timeout is None else extras.timeout,
        kill_grace=(
            float(HOOK_DEFAULTS["kill_grace"]) if extras.kill_grace is None else extras.kill_grace
        ),
        burst=burst,
        rate=extras.rate,
        max_queued=(
            int(HOOK_DEFAULTS["max_queued"]) if extras.max_queued is None else extras.max_queued
        ),
        hooks_file=hook,
        prefix=url_prefix,
        history=extras.history,
        report=reporting.report,
        notify=reporting.notify,
        report_ca=reporting.report_ca,
    )


def _front_end(source: ConfigSource) -> tuple[FrontEnd, list[Problem], list[Problem]]:
    """
    The front end's options, as webhook reads its flags: a C{--header} without
    C{=} is a problem (webhook refuses to start), one webhook takes but never
    sends is a warning.
    """
    problems = []
    warnings = []
    headers = []
    for given in source.headers:
        # webhook's ResponseHeaders.Set: strings.SplitN(value, "=", 2).
        name, equals, value = given.partition("=")
        if not equals:
            problems.append(
                Problem(COMMAND_LINE, "--header", "", f"{given!r} is not in NAME=VALUE form")
            )
            continue
        # webhook Sets it on every answer, and Go's net/http (Header.writeSubset)
        # drops a name that is no token, makes line breaks spaces and trims the
        # value; twisted.web would refuse such a name, failing every answer.
        if not HTTP_TOKEN.fullmatch(name):
            warnings.append(
                Problem(
                    COMMAND_LINE,
                    "--header",
                    "",
                    f"{name!r} is not an HTTP header name, so webhook never sends the header:"
                    " write the name alone, in letters, digits and -",
                )
            )
            continue
        if re.search("[\r\n]", value):
            warnings.append(
                Problem(
                    COMMAND_LINE,
                    "--header",
                    "",
                    f"{name}: the value holds a line break, which webhook sends as a space:"
                    " write the value on one line",
                )
            )
        headers.append(Header(name, re.sub("[\r\n]", " ", value).strip(" \t")))
    # webhook.go: strings.ToUpper(strings.ReplaceAll(*httpMethods, " ", "")), split on ",".
    methods = source.http_methods.replace(" ", "").upper()
    front = FrontEnd(
        hooks_files=source.hooks,
        url_prefix=source.url_prefix.strip("/"),
        http_methods=tuple(m for m in methods.split(",") if m) if methods else (),
        headers=tuple(headers),
    )
    return front, problems, warnings


__all__ = ["DEFAULT_LISTEN", "ConfigSource", "file_hook_config", "load_source"]
