"""
The C{hookdaemon} command: C{run} (what a systemd unit starts), C{check} and
C{reload} here; the clients of a running daemon (C{send}, C{jobs}, C{show},
C{log}, C{replay}, C{cancel}) in L{hookdaemon.client_commands}.

argparse rather than Twisted's C{usage.Options} sub-commands: C{run} hands
every option it does not know to twistd untouched (C{parse_known_args}), and
the clients have nothing to do with twistd's option tree.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from hookdaemon.client_commands import client, client_parsers
from hookdaemon.journald import error_line

if TYPE_CHECKING:
    from twisted.python import usage

    from hookdaemon.tap import Options


# twistd's modules are imported where run and check use them: a client of the
# running daemon (send, jobs, ...) starts without them.

DESCRIPTION = "Receive forge webhooks and run deploy commands in the background."


def _hookdaemon_only(interface: type[Any], package: Any = None) -> Iterable[Any]:
    """
    Only hookdaemon's own plugin: twistd would scan every twisted.plugins
    package and try to rewrite its dropin.cache, which a deploy user may not
    write ("Unable to write to plugin cache ... error number 13").
    """
    from twisted.plugins.hookdaemon_plugin import hookdaemon

    return [hookdaemon]


def server_options() -> usage.Options:
    """twistd's own options, knowing only the hookdaemon plugin."""
    from twisted.scripts._twistd_unix import ServerOptions

    class HookdaemonServerOptions(ServerOptions):
        _getPlugins = staticmethod(_hookdaemon_only)

        @property
        def subCommands(self) -> Iterator[tuple[str, Any, Callable[[], usage.Options], str]]:
            # twistd parses its plugin's options (which load and check the config)
            # before its own postOptions: settle twistd's files and log first.
            for name, short, plugin_options, about in super().subCommands:
                yield name, short, partial(_settled_first, self, plugin_options), about

    return HookdaemonServerOptions()


def _settled_first(
    options: usage.Options, plugin_options: Callable[[], usage.Options]
) -> usage.Options:
    """
    What run adds to twistd's own options, once parsed: a missing --logfile
    made the --uid user's, a refusal of a pid file or log file that user could
    not remove or rotate, and journald's log format when stdout is its stream.
    """
    from hookdaemon.journald import journal_observer, stdout_is_journal
    from hookdaemon.twistd_files import file_problems, give_log_file

    give_log_file(options)
    problems = file_problems(options)
    if problems:
        for problem in problems:
            print(error_line(f"hookdaemon run: {problem}"), file=sys.stderr)
        raise SystemExit(1)
    chosen = options["logger"] is not None or options["logfile"] or options["syslog"]
    if not chosen and stdout_is_journal():
        # A name, as --logger takes it: twistd's postOptions imports it.
        options["logger"] = f"{journal_observer.__module__}.{journal_observer.__name__}"
    made = cast("Options", plugin_options())
    made.file_warnings = tuple(problems)  # none, or run stopped above: the tap need not look
    return made


def plugin_arguments(arguments: argparse.Namespace) -> list[str]:
    """What C{run} and C{check} pass on to the twistd plugin's options (L{hookdaemon.tap})."""
    given = []
    if arguments.config is not None:
        given += ["--config", arguments.config]
    for option, values in (
        ("--hooks", arguments.hooks),
        ("--header", arguments.header),
        ("--listen", arguments.listen),
    ):
        for value in values:
            given += [option, value]
    if arguments.template:
        given.append("--template")
    if arguments.urlprefix is not None:
        given += ["--urlprefix", arguments.urlprefix]
    if arguments.http_methods is not None:
        given += ["--http-methods", arguments.http_methods]
    if arguments.strict:
        given.append("--strict")
    return given


def run(plugin: Sequence[str], twistd_options: Sequence[str]) -> int:
    """
    twistd in the foreground on C{config}, with C{twistd_options} (--uid,
    --logfile ...); the exit status: 1 if the daemon stopped itself, as it
    does when it cannot go on (L{hookdaemon.tap.Outcome}).
    """
    from twisted.application import app
    from twisted.scripts.twistd import runApp

    status = 0

    def run_and_say(options: Any) -> None:
        nonlocal status
        runApp(options)  # ends this process with the signal that stopped the daemon, if one did
        outcome = getattr(options.subOptions, "outcome", None)
        if outcome is not None:
            status = outcome.claim()

    options = list(twistd_options)
    if not any(o in ("-n", "--nodaemon") for o in options):
        options.insert(0, "--nodaemon")  # systemd (or the terminal) supervises it
    if not any(o == "--pidfile" or o.startswith("--pidfile=") for o in options):
        options.append("--pidfile=")  # no twistd.pid left in the working directory
    argv = [*options, "hookdaemon", *plugin]
    sys.argv = ["hookdaemon run", *argv]
    app.run(run_and_say, server_options)
    return status


def check(plugin: Sequence[str], user: str | None, group: str | None) -> int:
    """C{twistd hookdaemon --check}, with the daemon's user as --uid would give it."""
    from twisted.python import usage

    from hookdaemon.preflight import RunAs
    from hookdaemon.tap import Options

    options = Options()
    if user is not None:
        gid = None if group is None else _id(group, grp.getgrnam, "group")
        options.run_as = RunAs.user(_id(user, pwd.getpwnam, "user"), gid)
    try:
        options.parseOptions([*plugin, "--check"])
    except SystemExit as e:
        return int(e.code or 0)
    except usage.UsageError as e:
        print(f"hookdaemon check: {e}", file=sys.stderr)
        return 2
    return 0


def _id(name: str, lookup: Any, what: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return int(lookup(name)[2])
    except KeyError:
        raise SystemExit(f"hookdaemon check: no {what} named {name}") from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hookdaemon", description=DESCRIPTION)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # What every command that reads a config takes.
    configured = argparse.ArgumentParser(add_help=False)
    configured.add_argument(
        "--config", "-c", help="the configuration file (default: tap.cfg, unless --hooks)"
    )
    # What run and check take for adnanh/webhook's hooks files, as webhook's flags.
    hooks_files = argparse.ArgumentParser(add_help=False)
    hooks_files.add_argument(
        "--hooks",
        action="append",
        default=[],
        metavar="FILE",
        help="an adnanh/webhook hooks file (JSON or YAML) to serve; repeatable",
    )
    hooks_files.add_argument(
        "--template", action="store_true", help="read hooks files as Go templates first"
    )
    hooks_files.add_argument(
        "--urlprefix", help="the hooks files' hooks are at /PREFIX/ID (default: hooks)"
    )
    hooks_files.add_argument(
        "--http-methods", help="methods the hooks files' hooks take, comma-separated"
    )
    hooks_files.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a response header for the hooks files' hooks; repeatable",
    )
    hooks_files.add_argument(
        "--listen",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="a Twisted endpoint to listen on instead of tap.cfg's listen; repeatable",
    )

    started = commands.add_parser(
        "run",
        parents=[configured, hooks_files],
        help="run the daemon in the foreground",
        description="Run the daemon in the foreground (as a systemd unit does). Options"
        " not listed here are twistd's (twistd --help), such as --uid, --gid, --logfile."
        " When stdout is journald's stream, it logs in journald's form (a priority per"
        " line, no timestamp) unless --logfile, --syslog or --logger says otherwise. With"
        " --uid, a --pidfile or --logfile that user could not remove or rotate stops the"
        " start.",
    )
    started.add_argument("--strict", action="store_true", help="refuse to start on warnings")

    checked = commands.add_parser(
        "check",
        parents=[configured, hooks_files],
        help="check the configuration and this machine, and list the hooks",
        description="Check the configuration, and the workdirs and programs its hooks"
        " need, as the daemon's user would find them; list the hooks and their URLs.",
    )
    checked.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    checked.add_argument("--user", "-u", help="check as this user (twistd's --uid)")
    checked.add_argument("--group", "-g", help="and this group (twistd's --gid)")

    reloaded = commands.add_parser(
        "reload",
        parents=[configured],
        help="make the running daemon read its configuration again",
        description="Send the daemon SIGHUP and wait for it to apply the file or refuse it"
        " (it checks it as its own user, with its own environment); exit 0 applied,"
        " 1 refused, 2 no daemon or no answer. The daemon is the one holding the"
        " configuration's state_dir, or --pid.",
    )
    reloaded.add_argument("--pid", type=int, help="the daemon's pid (systemd's $MAINPID)")
    client_parsers(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    commands = parser()
    arguments, rest = commands.parse_known_args(argv)
    if arguments.command == "run":
        return run(plugin_arguments(arguments), rest)
    if rest:
        commands.error(f"unrecognized arguments: {' '.join(rest)}")
    if arguments.command == "reload":
        from hookdaemon.reload_command import reload

        config = arguments.config
        if config is None and os.path.exists("tap.cfg"):
            config = "tap.cfg"
        return reload(config, arguments.pid)
    if arguments.command == "check":
        return check(plugin_arguments(arguments), arguments.user, arguments.group)
    return client(arguments)
