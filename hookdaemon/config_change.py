"""
What a reload would change: the difference between the configuration in use
and the one just read, as plain values, for the reload to apply and to log.

No Twisted, no I/O: the reload's decisions are tested with two Configs.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence

import attrs
from attrs import frozen

from hookdaemon.config import Config, DaemonConfig, HookConfig
from hookdaemon.endpoint_text import endpoint_base_url

RESTART_KEYS = (
    "state_dir",
    "log_dir",
    "payload_budget",
    "max_attempts",
    "delivery_id_days",
    "delivery_id_max",
    "dashboard",
)
"""
[hookdaemon] keys a running daemon cannot take: where the journal and the
logs are, what the journal was opened with, and whether it serves /ui/ (the
job lifecycle it follows is wired at start). A reload that changes one is
refused, so the daemon never runs on a file it only half follows.
"""

_KEY_OF_FIELD = {
    "steps": "command",
    "status_tokens": "status_token",
    "operator_tokens": "operator_token",
}
"""A field of L{HookConfig} or L{DaemonConfig} whose key in tap.cfg has another name."""


@frozen
class ConfigChange:
    """From one configuration to the next: hooks, [hookdaemon] keys and endpoints."""

    added: tuple[str, ...]
    """Hooks in the new file only: they take deliveries once it applies."""
    removed: tuple[str, ...]
    """Hooks in the old one only: 404 from then on; their jobs still finish."""
    changed: tuple[tuple[str, tuple[str, ...]], ...]
    """Each hook in both whose keys differ, with those keys' names (never their values)."""
    daemon_keys: tuple[str, ...]
    """[hookdaemon] keys whose value differs, C{listen} among them."""
    listen_added: tuple[str, ...]
    listen_removed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.daemon_keys)

    @property
    def restart_keys(self) -> tuple[str, ...]:
        """The changed keys a reload cannot apply."""
        return tuple(key for key in self.daemon_keys if key in RESTART_KEYS)

    def summary(self, certificates: Sequence[CertificateRead] = ()) -> str:
        """
        One line for the log, with the C{ssl:} endpoints whose files the reload
        read again (the file may be as it was: a renewal); names only, as values
        may be secrets.
        """
        parts = self._parts() + [read.describe() for read in certificates]
        return "; ".join(parts) if parts else "nothing changed"

    def _parts(self) -> list[str]:
        parts = []
        if self.added:
            parts.append(f"hooks added: {', '.join(self.added)}")
        if self.removed:
            parts.append(f"hooks removed: {', '.join(self.removed)}")
        for name, keys in self.changed:
            parts.append(f"hook {name} changed: {', '.join(keys)}")
        others = [key for key in self.daemon_keys if key != "listen"]
        if others:
            parts.append(f"[hookdaemon] changed: {', '.join(others)}")
        if self.listen_added:
            shown = ", ".join(endpoint_base_url(d) for d in self.listen_added)
            parts.append(f"now listening on {shown}")
        if self.listen_removed:
            shown = ", ".join(endpoint_base_url(d) for d in self.listen_removed)
            parts.append(f"no longer listening on {shown}")
        return parts


@frozen
class CertificateRead:
    """
    An C{ssl:} endpoint's files as a reload read them again: what it serves
    from then on, and whether that differs from what it served before, so
    that whoever renewed the certificate sees it was taken (or was not).
    """

    address: str
    """The endpoint as C{https://HOST:PORT}: its string may hold a password."""
    serial: int
    until: datetime.datetime
    new: bool
    """Another certificate than the one served before the reload."""
    new_chain: bool
    """The same certificate, sent with other chain certificates."""

    def describe(self) -> str:
        if self.new:
            what = "a new certificate"
        elif self.new_chain:
            what = "the same certificate, a new chain"
        else:
            what = "the same certificate"
        # The serial as openssl x509 -serial prints it (README: TLS), to compare with.
        serial = format(self.serial, "X")
        serial = "0" * (len(serial) % 2) + serial
        until = self.until.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"certificate files read again for {self.address}: {what}"
            f" (serial {serial}, valid until {until})"
        )


def _differing(old: HookConfig | DaemonConfig, new: HookConfig | DaemonConfig) -> tuple[str, ...]:
    """The names of the fields two instances of one config class hold differently."""
    if (
        isinstance(old, HookConfig)
        and isinstance(new, HookConfig)
        and old.hooks_file is not None
        and new.hooks_file is not None
    ):
        return _hooks_file_differing(old, new)
    fields = attrs.fields(type(old))
    return tuple(
        _KEY_OF_FIELD.get(f.name, f.name)
        for f in fields
        if getattr(old, f.name) != getattr(new, f.name)
    )


_FILE_HOOK_DERIVED = frozenset({"workdir", "steps", "hooks_file", "prefix", "name", "forge"})
"""HookConfig fields a hooks-file hook's definition makes: its properties say what changed."""


def _hooks_file_differing(old: HookConfig, new: HookConfig) -> tuple[str, ...]:
    """
    A hooks-file hook's changes, as its file names them: its properties
    (C{trigger-rule}), its C{hookdaemon} extras (C{hookdaemon.timeout}) and its file.
    """
    assert old.hooks_file is not None and new.hooks_file is not None
    before, after = old.hooks_file, new.hooks_file
    names = [
        f.name.replace("_", "-")
        for f in attrs.fields(type(before))
        if f.name != "source" and getattr(before, f.name) != getattr(after, f.name)
    ]
    # The daemon starts on the paths as given (--hooks hooks.json) and reloads
    # them made absolute (ConfigSource.absolute): the same file either way.
    # os.path.abspath reads only the working directory, which a daemon keeps.
    if os.path.abspath(before.source) != os.path.abspath(after.source):
        names.insert(0, "file")
    if old.prefix != new.prefix:
        names.append("--urlprefix")
    names += [
        f"hookdaemon.{f.name}"
        for f in attrs.fields(HookConfig)
        if f.name not in _FILE_HOOK_DERIVED and getattr(old, f.name) != getattr(new, f.name)
    ]
    return tuple(names)


def compare(old: Config, new: Config) -> ConfigChange:
    """What changes if C{new} replaces C{old}."""
    before: dict[str, HookConfig] = dict(old.hooks)
    after: dict[str, HookConfig] = dict(new.hooks)
    changed = tuple(
        (name, keys)
        for name in after
        if name in before and (keys := _differing(before[name], after[name]))
    )
    old_daemon: DaemonConfig = old.daemon
    new_daemon: DaemonConfig = new.daemon
    return ConfigChange(
        added=tuple(name for name in after if name not in before),
        removed=tuple(name for name in before if name not in after),
        changed=changed,
        daemon_keys=tuple(
            key
            for key in _differing(old_daemon, new_daemon)
            # The same endpoints in another order: nothing to bind or close.
            if key != "listen" or set(old_daemon.listen) != set(new_daemon.listen)
        ),
        listen_added=tuple(d for d in new_daemon.listen if d not in old_daemon.listen),
        listen_removed=tuple(d for d in old_daemon.listen if d not in new_daemon.listen),
    )
