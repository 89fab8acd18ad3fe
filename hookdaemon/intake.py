"""
The decision for one POST to /hooks/NAME, made from plain values.

The web layer turns an L{Incoming} into one of these outcomes and the outcome
into HTTP; everything in between lives here, where it is tested without a server.
"""

from __future__ import annotations

import ipaddress

from attrs import frozen

from hookdaemon.config import HookConfig, Network
from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.filters import ignore_reason
from hookdaemon.forges import FORGES, PayloadError


@frozen
class Refused:
    """A client mistake or a request we will not serve: a 4xx."""

    code: int
    reason: str


@frozen
class Pong:
    delivery: Delivery


@frozen
class Ignored:
    delivery: Delivery
    reason: str


@frozen
class Accepted:
    delivery: Delivery


Outcome = Refused | Pong | Ignored | Accepted


def client_allowed(allow_from: tuple[Network, ...], client: str) -> bool:
    """Empty C{allow_from} admits everyone; IPv4-mapped IPv6 peers match IPv4 networks."""
    if not allow_from:
        return True
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in allow_from)


def judge(hook: HookConfig, incoming: Incoming) -> Outcome:
    """Decide what to do with a request to C{hook}, in the order DESIGN.md's table implies."""
    if not client_allowed(hook.allow_from, incoming.client):
        return Refused(403, "client address not allowed")
    forge = FORGES[hook.forge]
    if hook.secret is not None and not forge.authenticate(incoming, hook.secret.value):
        return Refused(401, "signature mismatch")
    try:
        delivery = forge.parse(incoming)
    except PayloadError as e:
        return Refused(400, str(e))
    if delivery.is_ping:
        return Pong(delivery)
    reason = ignore_reason(hook, delivery)
    if reason is not None:
        return Ignored(delivery, reason)
    return Accepted(delivery)
