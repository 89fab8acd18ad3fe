"""
What the config alone cannot tell and this machine can: whether each hook's
workdir is there for the daemon's user to enter, and whether each step's
program is found as the step will look for it (its PATH, its workdir).

Warnings, not problems: the machine may change before the first delivery (a
checkout made after the daemon starts). Read only, and no Twisted.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterator, Mapping
from typing import Any

from attrs import frozen

from hookdaemon.command import BASE_PATH
from hookdaemon.config import Config, HookConfig, Problem, resolve_path
from hookdaemon.hooksfile.definition import HooksFileProblem
from hookdaemon.hooksfile.invocation import program_path
from hookdaemon.tls import TLSSetupError, parse_ssl


@frozen
class RunAs:
    """The user the daemon's steps run as: its uid and every group it is in."""

    uid: int
    groups: frozenset[int]

    @classmethod
    def this_process(cls) -> RunAs:
        return cls(os.geteuid(), frozenset({os.getegid(), *os.getgroups()}))

    @classmethod
    def user(cls, uid: int, gid: int | None = None) -> RunAs:
        """A user by id, as twistd's --uid and --gid make the daemon (groups: /etc/group)."""
        groups = {gid} if gid is not None else set()
        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            return cls(uid, frozenset(groups))
        groups.add(entry.pw_gid if gid is None else gid)
        groups.update(os.getgrouplist(entry.pw_name, entry.pw_gid))
        return cls(uid, frozenset(groups))

    @classmethod
    def from_twistd(cls, options: Mapping[str, Any]) -> RunAs | None:
        """The user twistd's parsed C{--uid} (and C{--gid}) make the daemon, or None."""
        uid = options.get("uid")
        if uid is None:
            return None
        gid = options.get("gid")
        return cls.user(int(uid), None if gid is None else int(gid))

    def may(self, path: str, bits: tuple[int, int, int]) -> bool:
        """May this user do what C{bits} (owner, group, other) allow on C{path}?"""
        if self.uid == 0:
            return True  # root needs no permission bit to enter or read
        st = os.stat(path)
        if st.st_uid == self.uid:
            return bool(st.st_mode & bits[0])
        if st.st_gid in self.groups:
            return bool(st.st_mode & bits[1])
        return bool(st.st_mode & bits[2])

    def can_enter(self, directory: str) -> str | None:
        """The first directory on the way to C{directory} this user may not enter, or None."""
        for step in _ancestors(directory):
            if not self.may(step, (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)):
                return step
        return None

    def can_run(self, path: str) -> bool:
        if self.uid == 0:
            # Root still needs one execute bit on a file.
            return bool(os.stat(path).st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
        return self.may(path, (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH))


def _ancestors(path: str) -> Iterator[str]:
    """C{/}, C{/srv}, C{/srv/site}: each directory on the way to C{path}."""
    path = os.path.abspath(path)
    parts = [part for part in path.split(os.sep) if part]
    yield os.sep
    for end in range(1, len(parts) + 1):
        yield os.sep + os.path.join(*parts[:end])


def machine_warnings(config: Config, user: RunAs) -> list[Problem | HooksFileProblem]:
    """Each hook's workdir and step programs, and the TLS files, as C{user} will find them."""
    found: list[Problem | HooksFileProblem] = []
    for name, hook in config.hooks.items():
        if hook.hooks_file is not None:
            found.extend(_file_hook_warnings(hook, user))
            continue
        found.extend(_hook_warnings(config.source, f"hook:{name}", hook, user))
    if user.uid != os.geteuid():
        found.extend(_reload_warnings(config, user))
        found.extend(_tls_warnings(config, user))
        found.extend(_report_ca_warnings(config, user))
    return found


READ = (stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH)


def may_read(user: RunAs, path: str) -> bool:
    """May C{user} open C{path} for reading, its directories and all?"""
    return user.can_enter(os.path.dirname(os.path.abspath(path))) is None and user.may(path, READ)


def _reload_warnings(config: Config, user: RunAs) -> Iterator[Problem | HooksFileProblem]:
    """
    The files and their C{file:} secrets, read now as this process: a daemon
    that became C{user} reads them as C{user} at a reload, and would refuse it.
    """
    who = who_is(user)
    then = "so every reload would be refused; let it read the file (a group, say)"
    for path in dict.fromkeys((config.source, *config.front.hooks_files)):
        if os.path.isfile(path) and not may_read(user, path):
            message = f"{who} may not read this file, {then}"
            if path in config.front.hooks_files:
                yield HooksFileProblem(path, "", "", message)  # a hooks file has no [section]
            else:
                yield Problem(path, "-", "", message)
    for section, key, secret in config.secrets():
        if not secret.origin.startswith("file:"):
            continue
        path = resolve_path(config.source, secret.origin[5:])
        if os.path.isfile(path) and not may_read(user, path):
            yield Problem(config.source, section, key, f"{who} may not read {path}, {then}")


def _tls_warnings(config: Config, user: RunAs) -> Iterator[Problem]:
    """
    Certificate files read now, as this process, that C{user} could not read:
    a daemon started as root with --uid reads them at start, but a reload reads
    them as C{user}, and would be refused at the first renewal.
    """
    for number, description in enumerate(config.daemon.listen, 1):
        if not description.startswith("ssl:"):
            continue
        try:
            settings = parse_ssl(description)
        except TLSSetupError:
            continue  # a problem already
        for option, path in settings.files.items():
            if not os.path.isfile(path):
                continue
            if not may_read(user, path):
                yield Problem(
                    config.source,
                    "hookdaemon",
                    "listen",
                    f"endpoint {number} (ssl): {who_is(user)} may not read {option} {path}, so"
                    " a reload (a renewed certificate) would be refused; let it read the file"
                    " through a group (README: TLS)",
                )


def _report_ca_warnings(config: Config, user: RunAs) -> Iterator[Problem]:
    """
    A C{report_ca} file read now, as this process, that C{user} could not read:
    the daemon reads it as C{user} when it first reports, so every report would fail.
    """
    for name, hook in config.hooks.items():
        if hook.report_ca is not None and not may_read(user, hook.report_ca):
            yield Problem(
                config.source,
                f"hook:{name}",
                "report_ca",
                f"{who_is(user)} may not read {hook.report_ca}, so every commit status and"
                " notification would fail when it is sent; let it read the file (a group, say)",
            )


def _hook_warnings(source: str, section: str, hook: HookConfig, user: RunAs) -> Iterator[Problem]:
    workdir = hook.workdir
    if not workdir:
        return  # a problem already, not a warning
    who = who_is(user)
    if not os.path.exists(workdir):
        yield Problem(
            source,
            section,
            "workdir",
            f"{workdir} does not exist: every job would fail before its first step;"
            " create it (clone the repository there) before the first delivery",
        )
        return
    if not os.path.isdir(workdir):
        yield Problem(source, section, "workdir", f"{workdir} is not a directory")
        return
    blocked = user.can_enter(workdir)
    if blocked is not None:
        yield Problem(
            source,
            section,
            "workdir",
            f"{who} may not enter {blocked}, so every job would fail before its first"
            f" step; give {who} execute permission on it",
        )
        return
    if hook.shell:
        return  # the first word of a script may be a builtin, a function or a variable
    path = hook.env.get("PATH", BASE_PATH)
    for number, step in enumerate(hook.steps, 1):
        program = step.words[0]
        if "$" in program:
            continue  # known only once a delivery fills it in
        message = program_problem(program, workdir, path, user, who)
        if message is not None:
            yield Problem(source, section, "command", f"step {number}: {message}")


def program_problem(
    program: str, workdir: str, path: str, user: RunAs, who: str = "this user"
) -> str | None:
    """
    Why C{program} cannot be run from C{workdir} with C{path}, in words, or
    None: for --check, and before a step starts, so that the launcher's own
    error ("setsid: failed to execute ...") never stands in for it.
    """
    if "/" in program:
        found = os.path.normpath(os.path.join(workdir, program))  # absolute: workdir ignored
        if not os.path.exists(found):
            return f"{program} does not exist (looked for {found})"
        if os.path.isdir(found) or not user.can_run(found):
            return f"{found} is not a program {who} may run (chmod +x it)"
        return None
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or ".", program)
        if not os.path.isabs(candidate):
            candidate = os.path.join(workdir, candidate)
        if os.path.isfile(candidate) and user.can_run(candidate):
            return None
    return (
        f"{program} is not found on the steps' PATH ({path}); install it, write its whole"
        " path, or set PATH in the hook's env"
    )


def who_is(user: RunAs) -> str:
    try:
        return f"user {pwd.getpwuid(user.uid).pw_name}"
    except KeyError:
        return f"uid {user.uid}"


def _file_hook_warnings(hook: HookConfig, user: RunAs) -> Iterator[HooksFileProblem]:
    """
    A hooks-file hook's directory and program, as C{user} will find them:
    webhook says nothing of them until a call fails.
    """
    definition = hook.hooks_file
    assert definition is not None
    for problem in _hook_warnings(definition.source, definition.id, hook, user):
        if problem.key == "workdir":
            if definition.command_working_directory:
                yield HooksFileProblem(
                    definition.source, definition.id, "command-working-directory", problem.message
                )
            else:
                # No property to name: the command runs where the daemon does, as webhook's.
                yield HooksFileProblem(
                    definition.source,
                    definition.id,
                    "",
                    "runs in the daemon's working directory (it has no"
                    f" command-working-directory): {problem.message}",
                )
            return
    program = program_path(
        definition.execute_command, definition.command_working_directory, hook.workdir
    )
    message = program_problem(
        program, hook.workdir, hook.env.get("PATH", BASE_PATH), user, who_is(user)
    )
    if message is not None:
        if program != definition.execute_command and message.startswith(f"{program} "):
            # Name it as the file writes it: "./deploy.sh does not exist (looked for
            # /srv/deploy.sh)", not the joined path twice.
            message = definition.execute_command + message[len(program) :]
        if " " in definition.execute_command:
            # webhook's own hint (webhook.go, handleHook) for the commonest mistake.
            message += "; arguments go in pass-arguments-to-command, not in execute-command"
        yield HooksFileProblem(definition.source, definition.id, "execute-command", message)
