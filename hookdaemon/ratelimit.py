"""
How often one client may call one hook: GCRA over plain numbers.

The generic cell rate algorithm keeps one "theoretical arrival time" per client:
C{rate.count} calls may come at once, then one more every C{period / count}
seconds. Time is a float passed in, so tests give exact values and the web
layer gives the reactor's clock.

An attacker with many addresses must not grow the table without bound: a
client whose allowance has fully refilled is forgotten (it would be allowed
anyway), the table has a cap past which the least recently charged client is
dropped, and IPv6 clients are counted by their /64, the block one subscriber
usually gets.
"""

from __future__ import annotations

import ipaddress
import math

from attrs import frozen

from hookdaemon.config import Rate

MAX_CLIENTS = 10_000
"""Clients remembered per hook; past this the least recently charged is forgotten."""

_SLACK = 1e-9
"""Seconds of float rounding forgiven, so C{3/second} allows exactly three at once."""


@frozen
class Refusal:
    """Too many calls: try again in C{retry_after} seconds."""

    retry_after: float
    report: bool
    """The first refusal of this client in this period: worth one log line, not more."""

    @property
    def retry_after_header(self) -> int:
        """Whole seconds, rounded up, at least 1: what C{Retry-After} may carry."""
        return max(1, math.ceil(self.retry_after - _SLACK))


def client_key(client: str) -> str:
    """IPv6 clients by their /64; others (IPv4, unknown) as they are."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return client


class _Entry:
    __slots__ = ("quiet_until", "tat")

    def __init__(self, tat: float) -> None:
        self.tat = tat
        """When this client's allowance is fully back."""
        self.quiet_until = -math.inf
        """Refusals before this time are not reported again."""


class RateLimiter:
    """The calls of every client to one hook, against that hook's C{rate}."""

    def __init__(self, rate: Rate, max_clients: int = MAX_CLIENTS) -> None:
        self.rate = rate
        self._interval = rate.period / rate.count
        self._max_clients = max_clients
        self._entries: dict[str, _Entry] = {}
        """In order of last charge, oldest first."""

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, client: str, now: float, cost: int = 1) -> Refusal | None:
        """Charge C{cost} calls if the client has them left; else say when it will."""
        self._forget(now)
        key = client_key(client)
        entry = self._entries.get(key)
        tat = max(entry.tat if entry is not None else now, now) + cost * self._interval
        wait = tat - self.rate.period - now
        if wait > _SLACK:
            report = entry is None or entry.quiet_until <= now
            if entry is not None and report:
                entry.quiet_until = now + self.rate.period
            return Refusal(retry_after=wait, report=report)
        self._store(key, entry, tat)
        return None

    def charge(self, client: str, now: float, cost: int = 1) -> None:
        """Charge C{cost} more calls whether or not any are left: the price of a failed check."""
        self._forget(now)
        key = client_key(client)
        entry = self._entries.get(key)
        tat = max(entry.tat if entry is not None else now, now) + cost * self._interval
        self._store(key, entry, tat)

    def _store(self, key: str, entry: _Entry | None, tat: float) -> None:
        if entry is None:
            if len(self._entries) >= self._max_clients:
                del self._entries[next(iter(self._entries))]
            entry = _Entry(tat)
        else:
            del self._entries[key]
            entry.tat = tat
        self._entries[key] = entry

    def _forget(self, now: float) -> None:
        """
        Drop clients from the oldest end while they are fully refilled (and not
        kept quiet). One that is not was charged within the last two periods or
        so, and so was every client after it: the table holds only recent callers.
        """
        while self._entries:
            key = next(iter(self._entries))
            entry = self._entries[key]
            if entry.tat > now or entry.quiet_until > now:
                return
            del self._entries[key]
