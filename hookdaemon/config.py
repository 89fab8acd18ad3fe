"""
tap.cfg -> frozen objects. Every problem names the file, the section and the key.

Reading is all-or-nothing: every problem in the file is collected and reported
together, so a person fixes them in one pass. No message quotes a value: a
command step, an env line or an endpoint may hold a token, and an indented line
meant for one key continues whichever key is above it. Messages point at file
lines instead.
"""

from __future__ import annotations

import configparser
import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from attrs import field, frozen

from hookdaemon import commit_status
from hookdaemon.ca_file import CAFileError, read_ca
from hookdaemon.command import (
    FIXED_FORM,
    SHELL_NAME,
    Reading,
    Step,
    StepError,
    parse_steps,
    script_references,
    shell_exposures,
)
from hookdaemon.forges import FORGES
from hookdaemon.forges._base import COLON_EVENT, SNAKE_CASE_EVENT
from hookdaemon.forges.gitlab import signing_token_problem
from hookdaemon.hooksfile.answers import NO_FRONT_END, FrontEnd
from hookdaemon.hooksfile.model import FileHook

if TYPE_CHECKING:
    from hookdaemon.config_source import ConfigSource
    from hookdaemon.hooksfile.definition import HooksFileProblem

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DAEMON_DEFAULTS: Mapping[str, str] = {
    # Each [hookdaemon] key and its default, as tap.cfg would write it. README's
    # table and the shipped tap.cfg repeat them; tests/test_config.py holds them to this.
    "listen": "tcp:9000:interface=127.0.0.1",
    "state_dir": "var",
    "log_dir": "var/log",
    "log_max_bytes": "10485760",  # 10 MiB
    "log_keep": "10",
    "max_body": "10485760",  # 10 MiB
    "max_parallel": "4",
    "history": "500",
    "trusted_proxies": "",
    "status_token": "",
    "operator_token": "",
    "stop_grace": "30",
    "request_timeout": "30",
    "header_timeout": "10",
    "max_connections": "256",
    "max_client_connections": "32",
    "payload_budget": "",  # empty: each body as long as its job's record (history)
    "max_attempts": "3",
    "delivery_id_days": "30",
    "delivery_id_max": "100000",
    "public_url": "",  # how the daemon is reached from outside, for links in reports
    "dashboard": "no",  # yes: the web dashboard under /ui/, guarded like /jobs
}

HOOK_DEFAULTS: Mapping[str, str] = {
    # Each [hook:NAME] key that may be left out, and its default, as above.
    "forge": "generic",
    "secret": "",
    "signature_header": "",
    "allow_from": "",
    "events": "push",
    "branches": "",
    "tags": "",
    "repository": "",
    "shell": "no",
    "env": "",
    "timeout": "600",
    "kill_grace": "10",
    "burst": "coalesce",
    "rate": "",
    "max_queued": "100",
    "basic_auth": "",
    "report": "",
    "report_token": "",
    "report_url": "",
    "report_context": "",  # empty: hookdaemon/NAME
    "report_ca": "",
    "notify": "",
    "notify_format": "slack",
    "notify_on": "always",
}
REQUIRED_HOOK_KEYS = frozenset({"workdir", "command"})
"""The keys every hook must set: they have no default."""

DAEMON_KEYS = frozenset(DAEMON_DEFAULTS)
HOOK_KEYS = frozenset(HOOK_DEFAULTS) | REQUIRED_HOOK_KEYS

DEFAULT_LISTEN = DAEMON_DEFAULTS["listen"]
HOOK_PREFIX = "hook:"
_HOOK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

T = TypeVar("T")


@frozen
class Problem:
    """One thing wrong with the configuration, as a person should read it."""

    source: str
    section: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"[{self.section}] {self.key}" if self.key else f"[{self.section}]"
        return f"{self.source}: {where}: {self.message}"


class ConfigError(Exception):
    """The configuration has problems; C{problems} lists every one."""

    def __init__(self, problems: Sequence[Problem | HooksFileProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


@frozen
class Secret:
    """A secret and where it came from; its repr never shows the value."""

    origin: str = field()
    value: bytes = field(repr=False)

    @property
    def literal(self) -> bool:
        return not self.origin.startswith(("env:", "file:"))

    def describe(self) -> str:
        """What may be shown to a person: the source, never the value."""
        return "(literal, hidden)" if self.literal else self.origin


@frozen
class Rate:
    """At most C{count} requests per C{period} seconds, from one client to one hook."""

    count: int
    period: float

    def __str__(self) -> str:
        unit = {1.0: "second", 60.0: "minute", 3600.0: "hour"}[self.period]
        return f"{self.count}/{unit}"


RATE_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


def parse_rate(text: str) -> Rate | None:
    """C{N/second}, C{N/minute} or C{N/hour}; empty means no limit."""
    if not text:
        return None
    count, slash, unit = text.partition("/")
    period = RATE_PERIODS.get(unit.strip().lower())
    if not slash or period is None or not count.strip().isdigit() or int(count) < 1:
        raise ValueError("is not N/second, N/minute or N/hour with N at least 1")
    return Rate(int(count), period)


_DEFAULT_RATE = parse_rate(HOOK_DEFAULTS["rate"])
"""The default rate, read: no limit."""

REPORT_APIS = ("github", "gitlab", "gitea", "forgejo", "gogs", "bitbucket", "bitbucket-server")
NOTIFY_FORMATS = ("slack", "json")
NOTIFY_ON = ("always", "failure", "change")


@frozen
class ReportTarget:
    """Where a hook's jobs set commit statuses (C{report}), and as whom."""

    api: str
    """The forge's status API, a key of L{hookdaemon.commit_status.STATUS_APIS}."""
    url: str
    """The API's base URL, without a trailing slash."""
    token: Secret
    context: str
    """The status's name on the commit (GitHub's context, GitLab's name, Bitbucket's key)."""


@frozen
class Notifying:
    """Where a hook's finished jobs are told (C{notify}), in which form, and which of them."""

    urls: tuple[Secret, ...]
    """Incoming-webhook URLs: a chat's holds its credential, so each is a secret."""
    format: str = "slack"
    on: str = "always"


@frozen
class HookConfig:
    """One C{[hook:NAME]} section, read and checked: what a delivery must be, and what it runs."""

    name: str
    forge: str
    secret: Secret | None
    signature_header: str
    allow_from: tuple[Network, ...]
    events: frozenset[str]
    branches: tuple[str, ...]
    tags: tuple[str, ...]
    repository: tuple[str, ...]
    workdir: str
    steps: tuple[Step, ...]
    shell: bool
    env: Mapping[str, str]
    timeout: float
    kill_grace: float
    burst: str
    rate: Rate | None = _DEFAULT_RATE
    max_queued: int = int(HOOK_DEFAULTS["max_queued"])
    basic_auth: Secret | None = None
    """C{user:password} that a call must carry as C{Authorization: Basic}; None: no such check."""
    hooks_file: FileHook | None = None
    """
    For a hook of an adnanh/webhook hooks file (C{--hooks}), its definition:
    its trigger rule decides a call, and its one step is its command.
    """
    prefix: str = "hooks"
    """The first part of its URL path: C{--urlprefix} for a hooks file's hooks; may be empty."""
    history: int | None = None
    """Finished jobs kept for this hook; None: the daemon's C{history}."""
    report: ReportTarget | None = None
    notify: Notifying | None = None
    report_ca: str | None = None
    """PEM certificates trusted for this hook's reports and notifications; None: the system's."""

    @property
    def path(self) -> str:
        return f"/{self.prefix}/{self.name}" if self.prefix else f"/{self.name}"


@frozen
class DaemonConfig:
    """The C{[hookdaemon]} section, read and checked: listening, state, logs and limits."""

    listen: tuple[str, ...]
    state_dir: str
    log_dir: str
    log_max_bytes: int
    log_keep: int
    max_body: int
    max_parallel: int
    history: int
    trusted_proxies: tuple[Network, ...]
    stop_grace: float
    status_tokens: tuple[Secret, ...] = ()
    """Bearer tokens that may read the job API and /metrics; several, so one can be rotated."""
    operator_tokens: tuple[Secret, ...] = ()
    """Bearer tokens that may read as status tokens do and also replay and cancel jobs."""
    request_timeout: float = float(DAEMON_DEFAULTS["request_timeout"])
    header_timeout: float = float(DAEMON_DEFAULTS["header_timeout"])
    """Seconds a client has to send its request line and headers: less than a whole request."""
    max_connections: int = int(DAEMON_DEFAULTS["max_connections"])
    max_client_connections: int = int(DAEMON_DEFAULTS["max_client_connections"])
    """Connections one client address may hold open at once."""
    payload_budget: int | None = None
    """
    Bytes of finished jobs' bodies the journal keeps, queued and running ones on
    top; None: each body as long as its job's record, so any job listed can be replayed.
    """
    max_attempts: int = int(DAEMON_DEFAULTS["max_attempts"])
    """Runs a delivery gets in all when stops or crashes interrupt them."""
    delivery_id_days: int = int(DAEMON_DEFAULTS["delivery_id_days"])
    """Days a forge's delivery id is remembered, so a redelivery does not run again."""
    delivery_id_max: int = int(DAEMON_DEFAULTS["delivery_id_max"])
    """Delivery ids remembered per hook at most, the newest kept."""
    public_url: str = ""
    """The daemon's URL from outside (no trailing slash), for links to jobs; empty: none."""
    dashboard: bool = False
    """Serve the dashboard under C{/ui/}."""


@frozen
class Config:
    """A whole config file, read and checked: its path, the daemon's section, each hook by name."""

    source: str
    daemon: DaemonConfig
    hooks: Mapping[str, HookConfig]
    warnings: tuple[Problem | HooksFileProblem, ...] = ()
    front: FrontEnd = NO_FRONT_END
    """The hooks files' front end (C{--hooks}, C{--urlprefix}, ...); none by default."""
    origin: ConfigSource | None = None
    """What was read to make it (L{hookdaemon.config_source}), for a reload to read again."""

    def secrets(self) -> tuple[tuple[str, str, Secret], ...]:
        """Every secret the file names, with its section and key, for checks that name them."""
        found = [("hookdaemon", "status_token", s) for s in self.daemon.status_tokens]
        found += [("hookdaemon", "operator_token", s) for s in self.daemon.operator_tokens]
        for name, hook in self.hooks.items():
            found += [
                (f"{HOOK_PREFIX}{name}", key, secret)
                for key, secret in (("secret", hook.secret), ("basic_auth", hook.basic_auth))
                if secret is not None
            ]
            if hook.report is not None:
                found.append((f"{HOOK_PREFIX}{name}", "report_token", hook.report.token))
            if hook.notify is not None:
                found += [(f"{HOOK_PREFIX}{name}", "notify", url) for url in hook.notify.urls]
        return tuple(found)


VERBATIM_KEYS = frozenset({"command", "env"})
MULTI_LINE_KEYS = frozenset(
    {"listen", "trusted_proxies", "allow_from", "events", "branches", "tags", "repository"}
    | {"status_token", "operator_token", "notify"}
    | VERBATIM_KEYS
)
"""Keys whose value may go on over several lines; every other key takes one line."""
_INLINE_COMMENT = re.compile(r"\s;.*$")


def strip_comments(key: str, value: str) -> str:
    """
    Drop `` ; comment`` from a value, as the examples in DESIGN.md write them.

    In C{command} and C{env} a ``;`` belongs to the text (``make ; make install``
    under C{shell = yes}); there only a line that starts with ``;`` is a comment.
    A comment line is left empty, not removed, so lines keep their numbers.
    """
    lines = value.split("\n")
    if key in VERBATIM_KEYS:
        return "\n".join("" if line.lstrip().startswith(";") else line for line in lines)
    return "\n".join(_INLINE_COMMENT.sub("", line) for line in lines)


def network(text: str) -> Network:
    """
    One C{allow_from} or C{trusted_proxies} entry. An IPv4-mapped IPv6 one
    (C{::ffff:a.b.c.d/N}) is read as the IPv4 network it maps, because clients
    are (see L{hookdaemon.client_address.parse_address}): as written it would
    match nobody.
    """
    try:
        parsed = ipaddress.ip_network(text, strict=False)
        written = ipaddress.ip_address(text.partition("/")[0])
    except ValueError:
        raise ValueError("is not an IP address or CIDR network") from None
    mapped = written.ipv4_mapped if isinstance(written, ipaddress.IPv6Address) else None
    if mapped is None:
        return parsed
    if parsed.prefixlen < 96:
        raise ValueError(
            "is an IPv4-mapped range wider than /96, which holds IPv6 addresses as well "
            "as every IPv4 one; write the IPv4 network (::ffff:a.b.c.d/N is a.b.c.d/N-96)"
        )
    return ipaddress.IPv4Network((mapped, parsed.prefixlen - 96), strict=False)


_KEY_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_SECTION_LINE = re.compile(r"\[(?P<header>.+)\]")
_KEY_LINE = re.compile(r"(?P<key>.*?)\s*[=:]")


def _key_lines(lines: list[str]) -> tuple[dict[tuple[str, str], int], list[tuple[str, str, int]]]:
    """
    The file line (from 1) of each C{key =} line, by section, read as configparser
    reads them, since configparser keeps no line numbers; and each section
    header or key line that repeats one before it (section, key or "", line).
    """
    found: dict[tuple[str, str], int] = {}
    repeats: list[tuple[str, str, int]] = []
    sections: set[str] = set()
    section = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or line[:1].isspace() or stripped.startswith((";", "#")):
            continue
        header = _SECTION_LINE.match(stripped)
        if header:
            section = header.group("header")
            if section in sections:
                repeats.append((section, "", number))
            sections.add(section)
            continue
        key = _KEY_LINE.match(line)
        if section is not None and key:
            name = key.group("key").rstrip()
            if (section, name) in found:
                repeats.append((section, name, number))
            found.setdefault((section, name), number)
    return found, repeats


def _repeated(source: str, repeats: list[tuple[str, str, int]]) -> list[Problem]:
    """
    Each section and key written twice, named with the repeat's line (the last
    one written counts, until the file is fixed): configparser stops at the
    first, which hid every other problem of the file.
    """
    problems = []
    for section, key, number in repeats:
        if not key:
            problems.append(Problem(source, section, "", f"appears twice (line {number})"))
        elif _KEY_NAME.match(key):
            problems.append(Problem(source, section, key, f"is set twice (line {number})"))
        else:
            # As in _Section._unknown: a line of a value read as a key, twice.
            problems.append(
                Problem(
                    source,
                    section,
                    "",
                    f"line {number} is not a key = value line of this section; "
                    "indent it if it continues the value above",
                )
            )
    return problems


def _whole_number(example: str, minimum: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"is not a whole number; write one such as {example}") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return convert


class _Section:
    """Reads typed keys from one section, recording problems instead of raising."""

    def __init__(
        self,
        reader: _Reader,
        name: str,
        values: Mapping[str, str],
        defaults: Mapping[str, str],
        required: frozenset[str] = frozenset(),
    ) -> None:
        self.reader = reader
        self.name = name
        self.values = dict(values)
        self.defaults = defaults
        known = frozenset(defaults) | required
        for key in values:
            if key not in known:
                self._unknown(key, known)
            elif key not in MULTI_LINE_KEYS and len(self.lines(key)) > 1:
                # Most likely a line meant for another key (an env line, a step),
                # indented under this one: its text may be anything, so never shown.
                continued = self.lines(key)[1][0]
                self.problem(
                    key,
                    f"goes on to {self.where(key, continued)}, but takes one line; "
                    "an indented line continues the key above it",
                )
                del self.values[key]

    def _unknown(self, key: str, known: frozenset[str]) -> None:
        if _KEY_NAME.match(key):
            self.problem(key, f"unknown key (known keys: {', '.join(sorted(known))})")
            return
        # Not a name at all: a line of some value that lost its indent, read up to
        # its first = or : as a key. That text may hold a secret.
        self.problem(
            "",
            f"{self.where(key, 0)} is not a key = value line of this section; "
            "indent it if it continues the value above",
        )

    def lines(self, key: str) -> list[tuple[int, str]]:
        """The non-empty lines of C{key}'s value, comments dropped, with their indexes."""
        value = strip_comments(key, self.values.get(key, self.default(key)))
        return [(i, line.strip()) for i, line in enumerate(value.split("\n")) if line.strip()]

    def where(self, key: str, index: int) -> str:
        """C{"line N"}, the file line of line C{index} of C{key}'s value."""
        return self.reader.where(self.name, key, index)

    def problem(self, key: str, message: str) -> None:
        self.reader.problems.append(Problem(self.reader.source, self.name, key, message))

    def problem_keys(self) -> set[str]:
        return {p.key for p in self.reader.problems if p.section == self.name}

    def warn(self, key: str, message: str) -> None:
        self.reader.warnings.append(Problem(self.reader.source, self.name, key, message))

    def default(self, key: str) -> str:
        """The key's default text; empty for a key that has none (a required one)."""
        return self.defaults.get(key, "")

    def raw(self, key: str) -> str:
        return strip_comments(key, self.values.get(key, self.default(key))).strip()

    def convert(self, key: str, convert: Callable[[str], T]) -> T:
        """The value as C{convert} reads it; after a problem, the default's (never used)."""
        try:
            return convert(self.raw(key))
        except ValueError as e:
            self.problem(key, str(e))
            return convert(self.default(key))

    def integer(self, key: str, minimum: int) -> int:
        return self.convert(key, _whole_number(self.default(key), minimum))

    def optional_integer(self, key: str, minimum: int, example: str) -> int | None:
        """A whole number, or None where the key is empty (its default)."""
        number = _whole_number(example, minimum)
        return self.convert(key, lambda text: number(text) if text else None)

    def seconds(self, key: str) -> float:
        default = self.default(key)

        def convert(text: str) -> float:
            try:
                value = float(text)
            except ValueError:
                value = 0.0  # the same advice as for 0
            if not 0 < value < float("inf"):
                raise ValueError(f"must be a positive number of seconds, such as {default}")
            return value

        return self.convert(key, convert)

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        def convert(text: str) -> str:
            if text not in choices:
                raise ValueError(f"must be one of: {', '.join(choices)}")
            return text

        return self.convert(key, convert)

    def boolean(self, key: str) -> bool:
        def convert(text: str) -> bool:
            lowered = text.lower()
            if lowered in ("yes", "true", "on", "1"):
                return True
            if lowered in ("no", "false", "off", "0"):
                return False
            raise ValueError("must be yes or no")

        return self.convert(key, convert)

    def words(self, key: str) -> tuple[str, ...]:
        return tuple(self.raw(key).split())

    def networks(self, key: str) -> tuple[Network, ...]:
        found = []
        entry = 0
        for index, line in self.lines(key):
            for word in line.split():
                entry += 1
                try:
                    found.append(network(word))
                except ValueError as e:
                    self.problem(key, f"entry {entry} ({self.where(key, index)}) {e}")
        return tuple(found)

    def path(self, key: str) -> str:
        value = self.raw(key)
        if not value:
            self.problem(key, "must name a directory")
        return self.reader.resolve(value)

    def secret(self, key: str) -> Secret | None:
        """The secret C{key} names; messages show where it comes from, never the value."""
        origin = self.raw(key)
        return self._secret(key, origin, "") if origin else None

    def secrets(self, key: str) -> tuple[Secret, ...]:
        """
        The secrets C{key} lists, separated by whitespace or lines, so that one can
        be rotated: the new one added, its callers moved to it, the old one removed.
        """
        entries = []
        for index, line in self.lines(key):
            words = line.split()
            if len(words) > 1 and any(not w.startswith(("env:", "file:")) for w in words):
                # "status_token = correct horse battery staple" was one token: read
                # as four, "correct" alone would be let in.
                self.problem(
                    key,
                    f"{self.where(key, index)} holds several words, not all of them env: or "
                    "file:, so it cannot be told whether they are several tokens or one with "
                    "spaces in it; write each token on a line of its own, or name it with "
                    "env:NAME or file:PATH",
                )
                continue
            entries += [(index, word) for word in words]
        found = []
        for number, (index, origin) in enumerate(entries, 1):
            at = f"entry {number} ({self.where(key, index)}): " if len(entries) > 1 else ""
            secret = self._secret(key, origin, at)
            if secret is not None:
                found.append(secret)
        return tuple(found)

    def _secret(self, key: str, origin: str, at: str) -> Secret | None:
        """One C{env:}, C{file:} or literal secret; C{at} says which entry of the key it is."""
        if origin.startswith("env:"):
            name = origin[4:]
            if name not in self.reader.environ:
                self.problem(key, f"{at}{origin} is not set in the daemon's environment")
                return None
            value = self.reader.environ[name].encode("utf-8")
        elif origin.startswith("file:"):
            path = self.reader.resolve(origin[5:])
            try:
                value = self.reader.read_file(path).rstrip(b"\r\n")
            except OSError as e:
                self.problem(key, f"{at}{origin}: cannot read: {e.strerror}")
                return None
        else:
            value = origin.encode("utf-8")
            # The text is the secret itself: never keep it where repr() would show it.
            origin = "literal"
            self.warn(key, f"{at}the secret is written in the file; prefer env:NAME or file:PATH")
        if not value:
            self.problem(key, f"{at}{origin} is empty")
            return None
        return Secret(origin=origin, value=value)


class _Reader:
    def __init__(
        self,
        source: str,
        text: str,
        environ: Mapping[str, str],
        read_file: Callable[[str], bytes],
        place: Callable[[str, int], str] | None = None,
    ) -> None:
        self.source = source
        self.environ = environ
        self.read_file = read_file
        self._place = place
        """Where line C{index} of C{key}'s value is, for values read from elsewhere than text."""
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.public_url = ""
        """The daemon's C{public_url}, once its section is read: hooks' keys depend on it."""
        self.lines = text.split("\n")
        self.key_lines, self.repeats = _key_lines(self.lines)

    def where(self, section: str, key: str, index: int) -> str:
        """
        C{"line N"}: the file line of line C{index} of C{key}'s value, counting
        as configparser does (comment lines are not part of a value).
        """
        if self._place is not None:
            return self._place(key, index)
        number = self.key_lines.get((section, key))
        if number is None:
            return f"line {index + 1} of the value"
        while index > 0 and number < len(self.lines):
            number += 1
            if not self.lines[number - 1].strip().startswith((";", "#")):
                index -= 1
        return f"line {number}"

    def resolve(self, path: str) -> str:
        return resolve_path(self.source, path)


def resolve_path(source: str, path: str) -> str:
    """Relative paths are relative to the config file, not to wherever twistd ran."""
    base = os.path.dirname(os.path.abspath(source))
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def state_dir_in(path: str) -> str:
    """
    The state_dir the file at C{path} names, read from it alone: for a client
    of the running daemon, which has to find it before (and without) judging
    the rest, whose secrets may be in the daemon's environment only.
    """
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f, source=path)
    except OSError as e:
        raise ConfigError([Problem(path, "-", "", f"cannot read: {e.strerror}")]) from None
    except (UnicodeDecodeError, configparser.Error):
        raise ConfigError([Problem(path, "-", "", "cannot be read as tap.cfg")]) from None
    value = parser.get("hookdaemon", "state_dir", fallback=DAEMON_DEFAULTS["state_dir"])
    return resolve_path(path, strip_comments("state_dir", value).strip())


def _daemon(section: _Section) -> DaemonConfig:
    listen = section.words("listen")
    if not listen:
        section.problem("listen", f"names no endpoint; try {DEFAULT_LISTEN}")
    return DaemonConfig(
        listen=listen,
        state_dir=section.path("state_dir"),
        log_dir=section.path("log_dir"),
        log_max_bytes=section.integer("log_max_bytes", minimum=1024),
        log_keep=section.integer("log_keep", minimum=1),
        max_body=section.integer("max_body", minimum=1),
        max_parallel=section.integer("max_parallel", minimum=1),
        history=section.integer("history", minimum=1),
        trusted_proxies=section.networks("trusted_proxies"),
        stop_grace=section.seconds("stop_grace"),
        status_tokens=section.secrets("status_token"),
        operator_tokens=section.secrets("operator_token"),
        request_timeout=section.seconds("request_timeout"),
        header_timeout=section.seconds("header_timeout"),
        max_connections=section.integer("max_connections", minimum=1),
        max_client_connections=section.integer("max_client_connections", minimum=1),
        payload_budget=section.optional_integer("payload_budget", minimum=0, example="104857600"),
        max_attempts=section.integer("max_attempts", minimum=1),
        delivery_id_days=section.integer("delivery_id_days", minimum=1),
        delivery_id_max=section.integer("delivery_id_max", minimum=1),
        public_url=_public_url(section),
        dashboard=section.boolean("dashboard"),
    )


def _public_url(section: _Section) -> str:
    value = section.raw("public_url").rstrip("/")
    if value and web_url_problem(value) is not None:
        section.problem(
            "public_url", f"{web_url_problem(value)}, such as https://deploy.example.com"
        )
    return value


def web_url_problem(url: str) -> str | None:
    """Why C{url} is no http(s) URL a call can go to, never quoting it (it may hold a token)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "must be an https:// (or http://) URL"
    if not parts.hostname:
        return "names no host"
    try:
        _ = parts.port
    except ValueError:
        return "holds a port that is not a number from 0 to 65535"
    if any(c.isspace() for c in url):
        return "holds a space"
    if parts.username is not None or parts.password is not None:
        return "holds a user:password@ part, which no call would send as credentials"
    return None


def _environment(section: _Section) -> dict[str, str]:
    env = {}
    for index, line in section.lines("env"):
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not SHELL_NAME.fullmatch(name):
            section.problem(
                "env",
                f"{section.where('env', index)} is not KEY=VALUE (KEY: letters, digits "
                "and _, not starting with a digit)",
            )
            continue
        env[name] = value.strip()
    return env


# What to say of each way sh misreads a HOOK_ value in a shell = yes step:
# C{names} lists the names, C{first} is the first. Names of a fixed form
# (L{FIXED_FORM}) are harmless split or read as code, but not single-quoted:
# there no value at all reaches the command.
_SHELL_WARNINGS: tuple[tuple[Reading, bool, str], ...] = (
    (
        "split",
        False,
        "{at} leaves {names} unquoted, so sh splits its value into words and "
        'expands * and ? in it to file names; write "{first}" in double quotes',
    ),
    (
        "split output",
        False,
        "{at} uses {names} in a $(...) or `...` that is not in double quotes, so "
        "sh splits its output into words and expands * and ? in it to file names; "
        'write "$(...)" in double quotes',
    ),
    (
        "unexpanded",
        True,
        "{at} has {names} inside single quotes, where sh does not expand it; "
        'write "{first}" in double quotes for its value',
    ),
    (
        "code",
        False,
        "{at} gives {names} to eval or to the script of sh -c, where its value is "
        "read as shell code and a ; or $(...) in it runs; pass it as an argument "
        'instead, as in sh -c \'... "$1"\' sh "{first}"',
    ),
)
_PASTED_WARNING = (
    "{at} puts {names} into the script a shell runs with -c, where a value "
    "is read as shell code; pass it as an argument instead, as in "
    "sh -c 'git checkout \"$1\"' sh {first}"
)


def _steps(section: _Section, shell: bool) -> tuple[Step, ...]:
    """The hook's steps; with warnings where sh would read a HOOK_ value as code or as words."""
    text = strip_comments("command", section.values.get("command", ""))
    try:
        steps = parse_steps(text, shell)
    except StepError as e:
        where = section.where("command", e.line)
        section.problem("command", f"step {e.step} ({where}) {e.reason}")
        return ()
    if not steps:
        section.problem("command", "is required: one step per line")
    lines = [index for index, _ in section.lines("command")]
    for number, (step, index) in enumerate(zip(steps, lines, strict=True), 1):
        at = f"step {number} ({section.where('command', index)})"
        exposures = shell_exposures(step.text) if shell else []
        for reading, fixed_form_too, message in _SHELL_WARNINGS:
            names = (
                e.name
                for e in exposures
                if e.reading == reading and (fixed_form_too or e.name not in FIXED_FORM)
            )
            _warn_names(section, message, at, names)
        if not shell:
            _warn_names(section, _PASTED_WARNING, at, script_references(step))
            _warn_operators(section, at, step)
    return steps


def _warn_names(section: _Section, message: str, at: str, names: Iterable[str]) -> None:
    """A C{command} warning about C{names}, if there are any: C{"$A, $B and $C"}."""
    unique = [f"${name}" for name in dict.fromkeys(names)]
    if not unique:
        return
    listed = unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]
    section.warn("command", message.format(at=at, names=listed, first=unique[0]))


# What a step's unquoted word means to sh, for warning that with shell = no it
# means nothing: (category, how the warning shows it). Only these fixed texts
# are ever shown, never the step's own words (it may hold a token).
_OPERATORS_BY_WORD = {
    **dict.fromkeys(("|", "|&"), "pipe"),
    **dict.fromkeys(("&&", "||", ";", ";;"), "list"),
    "&": "background",
    **dict.fromkeys(
        (">", ">>", "1>", "1>>", "2>", "2>>", "&>", "&>>", "2>&1", "1>&2", ">&2"),
        "redirect",
    ),
    **dict.fromkeys(("<", "<<"), "input"),
}
_REDIRECT_TO_FILE = re.compile(r"(?P<operator>[12]?>>?|&>>?|(?P<input><))[^<>&|;]")
_QUOTED = "\0"
"""Stands for each quoted or escaped character in L{_bare_words}' words."""
_FIND_ACTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_OPERATOR_ADVICE = {
    "pipe": "put the pipeline in a script",
    "list": "write each command as a step of its own (steps run in order, stopping at "
    "the first that fails)",
    "background": "start background work from a script",
    "redirect": "a step's output already goes to the hook's log; to write a file, use a script",
    "input": "a step's stdin is closed; to read a file into it, use a script",
}


def _bare_words(text: str) -> list[str]:
    """
    C{text} split into words as L{parse_steps} splits it (shlex, posix), each
    with its quoted and backslash-escaped characters replaced by L{_QUOTED}:
    what is left is what sh would have read as syntax.
    """
    words: list[str] = []
    word: list[str] | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if c in " \t\r\n":
            if word is not None:
                words.append("".join(word))
                word = None
            i += 1
            continue
        if word is None:
            word = []
        if c == "\\":
            word.append(_QUOTED)
            i += 2
        elif c == "'":
            end = text.find("'", i + 1)
            end = len(text) if end < 0 else end
            word.append(_QUOTED * (end - i - 1))
            i = end + 1
        elif c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" and text[i + 1 : i + 2] in ('"', "\\") else 1
                word.append(_QUOTED)
            i += 1
        else:
            word.append(c)
            i += 1
    if word is not None:
        words.append("".join(word))
    return words


def _operators(step: Step) -> list[tuple[str, str]]:
    """The (category, shown text) of each shell operator written unquoted in C{step}."""
    words = _bare_words(step.text)
    if words and words[0].rsplit("/", 1)[-1] == "ssh":
        # ssh joins its arguments into a command line for the remote shell,
        # which does read a | or a && in them.
        return []
    found = []
    for at, word in enumerate(words):
        category = _OPERATORS_BY_WORD.get(word)
        if category is not None:
            if word == ";" and _FIND_ACTIONS.intersection(words[:at]):
                continue  # find's own terminator: find -exec rm {} ; is right as it is
            found.append((category, word))
            continue
        redirect = _REDIRECT_TO_FILE.match(word)
        if redirect:
            category = "input" if redirect.group("input") else "redirect"
            found.append((category, redirect.group("operator") + "FILE"))
        elif word.endswith(";"):
            found.append(("list", ";"))
    return list(dict.fromkeys(found))


def _listed(texts: list[str]) -> str:
    """C{"a"}, C{"a and b"}, C{"a, b and c"}."""
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


def _warn_operators(section: _Section, at: str, step: Step) -> None:
    """A C{shell = no} step with a pipe, a ; or a redirection in it, which no shell reads."""
    found = _operators(step)
    if not found:
        return
    shown = [text for _, text in found]
    listed = _listed(shown)
    them, arguments = ("it", "an argument") if len(shown) == 1 else ("them", "arguments")
    advice = [_OPERATOR_ADVICE[c] for c in dict.fromkeys(category for category, _ in found)]
    section.warn(
        "command",
        f"{at} has {listed} unquoted, but with shell = no no shell reads {them}: the "
        f"command gets {them} as {arguments}, with the words after {them}; "
        f"{'; '.join(advice)}, or set shell = yes "
        '(and write each "${HOOK_...}" in double quotes)',
    )


_PATTERN_KEYS = {"branches": "branch", "tags": "tag", "repository": "repository"}
"""The keys of glob patterns, and what each is matched against."""

# Signs that a pattern is a regular expression, each with how to write it as a
# glob. A ref name cannot hold ^, \\ or a component starting with a dot (git
# check-ref-format), so ^, \\ and .* at the start or after / - _ are safe
# signs; .* after a letter or digit (v1.*) is a glob's "a dot, then anything".
_REGEX_SIGNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\^"), "drop the ^ at the start"),
    (re.compile(r"(?<!\\)\$$"), "drop the $ at the end"),
    (re.compile(r"(?:^|(?<=[/_^-]))\.\*"), "write * for .*"),
    (re.compile(r"(?:^|(?<=[/_^-]))\.\+"), "write ?* for .+"),
    (re.compile(r"\\d\+"), r"write [0-9]* for \d+"),
    (re.compile(r"\\d(?!\+)"), r"write [0-9] for \d"),
    (re.compile(r"\](?:\+|\{[0-9,]+\})"), "write [...]* for [...]+ (a glob has no +)"),
    (re.compile(r"\|"), "write each alternative as a pattern of its own, separated by spaces"),
    (re.compile(r"\\(?!d)"), r"drop each \ (a name never holds one)"),
)
_NOT_A_GLOB_TOO = "patterns are shell-style globs (*, ?, [...]) matched against the whole name"


def _check_patterns(section: _Section, key: str) -> None:
    """Warn of a C{branches}, C{tags} or C{repository} pattern that is a list or a regex."""
    what = _PATTERN_KEYS[key]
    entry = 0
    for index, line in section.lines(key):
        for word in line.split():
            entry += 1
            at = f"pattern {entry} ({section.where(key, index)})"
            if "," in word:
                section.warn(
                    key,
                    f"{at} has a comma, but patterns are separated by spaces: it is one "
                    f"pattern, which matches only a {what} name with that comma in it; write "
                    "each pattern on its own, with spaces between them instead of commas"
                    + (" (a glob has no {a,b})" if "{" in word else ""),
                )
                continue
            fixes = [fix for sign, fix in _REGEX_SIGNS if sign.search(word)]
            if fixes:
                section.warn(
                    key,
                    f"{at} looks like a regular expression, but {_NOT_A_GLOB_TOO}: "
                    + _listed(fixes),
                )


OWN_EVENTS = frozenset({"push", "tag", "delete"})
"""hookdaemon's own words for pushes, which every forge's deliveries may count as."""

# GitLab's X-Gitlab-Event header names, each with the object_kind hookdaemon
# selects it by (README, GitLab's "Event names"; a tag push counts as tag).
# See https://docs.gitlab.com/user/project/integrations/webhook_events/
_GITLAB_HEADERS = {
    "Push Hook": "push",
    "Tag Push Hook": "tag",
    "Issue Hook": "issue",
    "Note Hook": "note",
    "Merge Request Hook": "merge_request",
    "Wiki Page Hook": "wiki_page",
    "Pipeline Hook": "pipeline",
    "Job Hook": "build",
    "Deployment Hook": "deployment",
    "Release Hook": "release",
}
_GITLAB_HEADER_WORDS = re.compile(r"[A-Z][a-z]*")

# What to write instead of an events word the forge never sends.
_EVENT_ADVICE = {
    **dict.fromkeys(
        ("github", "gitea", "forgejo", "gogs"),
        "write push, tag, delete or one of the forge's event names, which are snake_case, "
        "such as pull_request or release",
    ),
    "gitlab": "write push, tag, delete or a GitLab object_kind, in lowercase, such as "
    "merge_request or pipeline (not an X-Gitlab-Event header name such as Push Hook)",
    "bitbucket": "write push, tag, delete or a Bitbucket Cloud event key, such as repo:push "
    "or pullrequest:created",
    "bitbucket-server": "write push, tag, delete or a Bitbucket Server event key, such as "
    "repo:refs_changed or pr:opened",
    "generic": "a generic delivery is always a push: write push, tag or delete",
    "auto": "write push, tag, delete or a forge's own event name, in lowercase, such as "
    "pull_request, merge_request, repo:push or pr:opened",
}
# Bitbucket Cloud's and Server's keys for the same things, which the other never sends.
_OTHER_BITBUCKET = {
    "bitbucket": (
        (
            "pr:",
            "pr: keys are Bitbucket Server's; Bitbucket Cloud's pull request keys start "
            "with pullrequest:, such as pullrequest:created",
        ),
        (
            "repo:refs_changed",
            "repo:refs_changed is Bitbucket Server's; Bitbucket Cloud's push is repo:push",
        ),
    ),
    "bitbucket-server": (
        (
            "pullrequest:",
            "pullrequest: keys are Bitbucket Cloud's; Bitbucket Server's pull "
            "request keys start with pr:, such as pr:opened",
        ),
        (
            "repo:push",
            "repo:push is Bitbucket Cloud's; Bitbucket Server's push is repo:refs_changed",
        ),
    ),
}


def _forge_sends(forge: str, word: str) -> bool:
    """Could a delivery from C{forge} count as the C{events} word C{word}?"""
    if word in OWN_EVENTS:
        return True
    if forge == "generic":
        return False
    if forge == "auto":
        return bool(SNAKE_CASE_EVENT.fullmatch(word) or COLON_EVENT.fullmatch(word))
    if forge == "gitlab":
        # Its events pattern also lets header names through, but those hold a
        # space ("Push Hook") and no word of events can; object_kinds are snake case.
        return word != "tag_push" and bool(SNAKE_CASE_EVENT.fullmatch(word))
    return bool(FORGES[forge].events.fullmatch(word))


def _check_events(section: _Section, forge: str) -> None:
    """Warn of an C{events} word that the hook's forge never sends, so nothing runs for it."""
    entry = 0
    for index, line in section.lines("events"):
        words = line.split()
        if forge == "gitlab":
            entry = _check_gitlab_headers(section, index, words, entry)
            continue
        for word in words:
            entry += 1
            _check_event(section, forge, f"event {entry} ({section.where('events', index)})", word)


def _check_gitlab_headers(section: _Section, index: int, words: list[str], entry: int) -> int:
    """One line of a GitLab hook's C{events}, where Push Hook is two words; the count so far."""
    where = section.where("events", index)
    at = 0
    while at < len(words):
        for length in (4, 3, 2):
            name = " ".join(words[at : at + length])
            if name in _GITLAB_HEADERS:
                section.warn(
                    "events",
                    f"{where} has {name}, the name of GitLab's X-Gitlab-Event header; events "
                    f"takes the payload's object_kind: write {_GITLAB_HEADERS[name]}",
                )
                entry += length
                at += length
                break
        else:
            entry += 1
            _check_event(section, "gitlab", f"event {entry} ({where})", words[at])
            at += 1
    return entry


def _check_event(section: _Section, forge: str, at: str, word: str) -> None:
    if "," in word:
        section.warn(
            "events",
            f"{at} has a comma, but events are separated by spaces: it is one name, which "
            "no forge sends; write spaces between the names instead of commas",
        )
        return
    for prefix, message in _OTHER_BITBUCKET.get(forge, ()):
        if word.startswith(prefix):
            section.warn("events", f"{at} is never sent by forge = {forge}: {message}")
            return
    if _forge_sends(forge, word):
        return
    if forge == "gitlab" and word == "tag_push":
        section.warn(
            "events",
            f"{at} is tag_push, but hookdaemon counts a GitLab tag push as tag; write tag",
        )
        return
    sender = "any forge" if forge == "auto" else f"forge = {forge}"
    section.warn(
        "events",
        f"{at} is not a name {sender} sends, so it never selects a delivery; "
        f"{_EVENT_ADVICE[forge]}",
    )


def _hook(section: _Section, name: str) -> HookConfig:
    forge = section.choice("forge", ("auto", *FORGES))
    workdir = section.raw("workdir")
    if not workdir and "workdir" not in section.problem_keys():
        section.problem("workdir", "is required: the directory the commands run in")
    shell = section.boolean("shell")
    steps = _steps(section, shell)
    secret = section.secret("secret")
    if secret is not None and forge in ("gitlab", "auto"):
        token_problem = signing_token_problem(secret.value)
        if token_problem is not None:
            # GitLab shows a signing token once, as whsec_ and a base64 key; one cut
            # short would make every signed delivery a 401 while --check said OK.
            origin = "the secret" if secret.literal else secret.origin
            section.problem(
                "secret",
                f"{origin} {token_problem}; copy the signing token from GitLab again, whole",
            )
            secret = None
    signature_header = section.raw("signature_header")
    if signature_header and forge != "generic":
        section.problem("signature_header", "only applies to forge = generic")
    elif signature_header and secret is None and "secret" not in section.problem_keys():
        section.problem("signature_header", "needs a secret: the HMAC-SHA256 key")
    allow_from = section.networks("allow_from")
    basic_auth = _basic_auth(section)
    unguarded = secret is None and basic_auth is None and not allow_from
    if unguarded and not {"secret", "basic_auth"} & section.problem_keys():
        section.warn("secret", "not set: anyone who can reach this URL can start a deploy")
    if basic_auth and secret and forge == "generic" and not signature_header:
        section.warn(
            "basic_auth",
            "takes the Authorization header, where a generic caller's Bearer token goes: "
            "send the secret as ?token= in the URL, or sign the body (signature_header)",
        )
    # An empty events is read as one left out.
    events = frozenset(section.words("events") or HOOK_DEFAULTS["events"].split())
    _check_events(section, forge)
    for key in _PATTERN_KEYS:
        _check_patterns(section, key)
    reporting = _reporting(section, name)
    return HookConfig(
        name=name,
        forge=forge,
        secret=secret,
        signature_header=signature_header,
        allow_from=allow_from,
        events=events,
        branches=section.words("branches"),
        tags=section.words("tags"),
        repository=section.words("repository"),
        workdir=section.reader.resolve(workdir) if workdir else "",
        steps=steps,
        shell=shell,
        env=_environment(section),
        timeout=section.seconds("timeout"),
        kill_grace=section.seconds("kill_grace"),
        burst=section.choice("burst", ("coalesce", "queue")),
        rate=section.convert("rate", parse_rate),
        max_queued=section.integer("max_queued", minimum=1),
        basic_auth=basic_auth,
        report=reporting.report,
        notify=reporting.notify,
        report_ca=reporting.report_ca,
    )


REPORTING_KEYS = (
    "report",
    "report_token",
    "report_url",
    "report_context",
    "report_ca",
    "notify",
    "notify_format",
    "notify_on",
)
"""A hook's keys for commit statuses and notifications: tap.cfg's, and a hooks file's extras."""


@frozen
class Reporting:
    """What a hook reports, and where: its L{HookConfig}'s fields of that name."""

    report: ReportTarget | None = None
    notify: Notifying | None = None
    report_ca: str | None = None


def _reporting(section: _Section, name: str) -> Reporting:
    return Reporting(_report(section, name), _notifying(section), _report_ca(section))


def read_reporting(
    values: Mapping[str, str],
    source: str,
    name: str,
    environ: Mapping[str, str],
    read_file: Callable[[str], bytes],
    public_url: str,
) -> tuple[Reporting, list[Problem], list[Problem]]:
    """
    The reporting keys of a hook defined elsewhere than in tap.cfg (a hooks
    file's C{hookdaemon} object), read exactly as tap.cfg's are: the same
    secrets, checks and messages; problems and warnings are keyed by key.
    """
    # A list's items (notify's URLs) are its value's lines: named as the list's items.
    reader = _Reader(source, "", environ, read_file, lambda key, index: f"{key}[{index}]")
    reader.public_url = public_url
    section = _Section(reader, name, values, {key: HOOK_DEFAULTS[key] for key in REPORTING_KEYS})
    return _reporting(section, name), reader.problems, reader.warnings


def _report(section: _Section, name: str) -> ReportTarget | None:
    """C{report} and its keys: the forge API a hook's jobs set commit statuses with."""
    api = section.raw("report")
    if api and api not in REPORT_APIS:
        section.problem("report", f"must be one of: {', '.join(REPORT_APIS)}")
        return None
    if not api:
        for key in ("report_token", "report_url", "report_context"):
            if section.raw(key):
                section.warn(key, "is not used: report is not set")
        return None
    unsupported = commit_status.UNSUPPORTED.get(api)
    if unsupported is not None:
        section.problem("report", unsupported)
        return None
    status_api = commit_status.STATUS_APIS[api]
    token = section.secret("report_token")
    if token is None and "report_token" not in section.problem_keys():
        section.problem("report_token", f"is required with report = {api}: env:NAME or file:PATH")
    url = section.raw("report_url").rstrip("/") or (status_api.DEFAULT_API or "")
    if not url:
        section.problem(
            "report_url",
            f"is required with report = {api}, which has no public service: the API's base URL,"
            f" such as https://{api}.example.com{status_api.API_PATH}",
        )
    elif (problem := web_url_problem(url)) is not None:
        section.problem("report_url", problem)
        url = ""
    else:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "http":
            section.warn(
                "report_url",
                "is http://: the token crosses the network in the clear; use it only for a"
                " forge on this host",
            )
        if (
            status_api.API_PATH
            and url != status_api.DEFAULT_API  # api.github.com has no /api/v3
            and not parts.path.endswith(status_api.API_PATH)
        ):
            section.warn(
                "report_url",
                f"does not end with {status_api.API_PATH}, where {api}'s API usually is:"
                f" https://{parts.netloc}{status_api.API_PATH}?",
            )
    if not section.reader.public_url:
        if status_api.REQUIRES_TARGET_URL:
            section.problem(
                "report",
                f"{api} wants a link with every status: set public_url in [hookdaemon]",
            )
        else:
            section.warn(
                "report",
                "the statuses will not link to their job: set public_url in [hookdaemon]",
            )
    if token is None or not url:
        return None
    return ReportTarget(api, url, token, section.raw("report_context") or f"hookdaemon/{name}")


def _notifying(section: _Section) -> Notifying | None:
    urls = section.secrets("notify")
    notify_format = section.choice("notify_format", NOTIFY_FORMATS)
    on = section.choice("notify_on", NOTIFY_ON)
    if not urls:
        for key in ("notify_format", "notify_on"):
            if key in section.values:
                section.warn(key, "is not used: notify is not set")
        return None
    for number, url in enumerate(urls, 1):
        problem = web_url_problem(url.value.decode("utf-8", "replace"))
        if problem is not None:
            at = f"entry {number} ({url.describe()})" if len(urls) > 1 else url.describe()
            section.problem("notify", f"{at} {problem}")
    return Notifying(urls, notify_format, on)


def _report_ca(section: _Section) -> str | None:
    value = section.raw("report_ca")
    if not value:
        return None
    if not section.raw("report") and not section.raw("notify"):
        section.warn("report_ca", "is not used: neither report nor notify is set")
    path = section.reader.resolve(value)
    try:
        read_ca(path, section.reader.read_file)
    except CAFileError as e:  # the path unsaid: the value may be anything pasted there
        section.problem("report_ca", e.reason)
        return None
    return path


def _basic_auth(section: _Section) -> Secret | None:
    """C{basic_auth}: the C{user:password} a caller sends as HTTP Basic credentials."""
    secret = section.secret("basic_auth")
    if secret is not None and b":" not in secret.value:
        origin = "the value" if secret.literal else secret.origin
        section.problem(
            "basic_auth",
            f"{origin} holds no colon, so it is not user:password; write the user name, "
            "a colon, then the password",
        )
        return None
    return secret


def parse_config(
    text: str,
    source: str,
    environ: Mapping[str, str],
    read_file: Callable[[str], bytes],
) -> Config:
    """Read a configuration's text; raise L{ConfigError} listing every problem."""
    reader = _Reader(source, text, environ, read_file)
    parser = configparser.ConfigParser(
        interpolation=None,
        comment_prefixes=(";", "#"),
        inline_comment_prefixes=None,
        default_section="\0no defaults",
        # Not strict: configparser stops at the first key or section written
        # twice, which hid every other problem of the file; _repeated lists them.
        strict=False,
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=source)
    except configparser.MissingSectionHeaderError as e:
        # configparser's own messages quote the line, which may be anything.
        message = (
            f"line {e.lineno} comes before any section; begin with [hookdaemon] or [hook:NAME]"
        )
        raise ConfigError([Problem(source, "-", "", message)]) from None
    except configparser.ParsingError as e:
        raise ConfigError(
            [
                Problem(
                    source,
                    "-",
                    "",
                    f"line {number} is neither a [section] header, a key = value line, "
                    "a comment, nor an indented line continuing a key's value",
                )
                for number, _ in e.errors
            ]
        ) from None
    except configparser.Error:
        raise ConfigError([Problem(source, "-", "", "cannot be read as an INI file")]) from None

    reader.problems.extend(_repeated(source, reader.repeats))
    daemon_values = dict(parser["hookdaemon"]) if parser.has_section("hookdaemon") else {}
    daemon = _daemon(_Section(reader, "hookdaemon", daemon_values, DAEMON_DEFAULTS))
    reader.public_url = daemon.public_url
    hooks = {}
    for name in parser.sections():
        if name == "hookdaemon":
            continue
        if not name.startswith(HOOK_PREFIX):
            reader.problems.append(
                Problem(source, name, "", "unknown section; use [hookdaemon] or [hook:NAME]")
            )
            continue
        hook_name = name[len(HOOK_PREFIX) :]
        section = _Section(reader, name, dict(parser[name]), HOOK_DEFAULTS, REQUIRED_HOOK_KEYS)
        if not _HOOK_NAME.match(hook_name):
            section.problem(
                "",
                "hook names use letters, digits, '.', '_' and '-',"
                " starting with a letter or digit",
            )
            continue
        hooks[hook_name] = _hook(section, hook_name)
    if reader.problems:
        raise ConfigError(reader.problems)
    return Config(source=source, daemon=daemon, hooks=hooks, warnings=tuple(reader.warnings))


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def load_config(path: str, environ: Mapping[str, str] | None = None) -> Config:
    """Read the configuration file at C{path}."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError([Problem(path, "-", "", f"cannot read: {e.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(path, "-", "", "is not UTF-8 text")]) from None
    return parse_config(text, path, os.environ if environ is None else environ, _read_bytes)
