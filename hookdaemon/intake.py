"""
The decision for one POST to /hooks/NAME, made from plain values.

The web layer turns an L{Incoming} into one of these outcomes and the outcome
into HTTP; everything in between lives here, where it is tested without a server.
"""

from __future__ import annotations

from attrs import frozen

from hookdaemon.client_address import parse_address
from hookdaemon.config import HookConfig, Network
from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.field_rules import refusal
from hookdaemon.filters import ignore_reason
from hookdaemon.forges import FORGES, Forge, PayloadError, detect, type_refusal
from hookdaemon.forges.generic import Generic


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
    address = parse_address(client)
    return address is not None and any(address in network for network in allow_from)


def forge_for(hook: HookConfig, incoming: Incoming) -> Forge | None:
    """The forge that reads this request: the hook's own, or for C{auto} the one it looks like."""
    if hook.forge == "auto":
        return detect(incoming)
    if hook.signature_header:
        return Generic(signature_header=hook.signature_header)
    return FORGES[hook.forge]


def choose(hook: HookConfig, delivery: Delivery) -> Accepted | Ignored:
    """The newest of the delivery's changes that the hook wants, or why none is wanted."""
    if delivery.changed_nothing:
        return Ignored(delivery, "the push changed no branch or tag")
    candidates = delivery.candidates()
    for candidate in reversed(candidates):
        if ignore_reason(hook, candidate) is None:
            return Accepted(candidate)
    newest = candidates[-1]
    reason = ignore_reason(hook, newest)
    assert reason is not None
    if len(candidates) > 1:
        reason = f"none of its {len(candidates)} changes is wanted; the newest: {reason}"
    return Ignored(newest, reason)


def judge(hook: HookConfig, incoming: Incoming) -> Outcome:
    """Decide what to do with a request to C{hook}, in the order DESIGN.md's table implies."""
    if not client_allowed(hook.allow_from, incoming.client):
        return Refused(403, "client address not allowed")
    forge = forge_for(hook, incoming)
    if forge is None:
        return Refused(400, "the request does not look like any known forge's")
    if hook.secret is not None and not forge.authenticate(incoming, hook.secret.value):
        return Refused(401, "signature mismatch")
    # After the signature: an unsigned caller learns nothing about what we read.
    unreadable = type_refusal(incoming)
    if unreadable is not None:
        return Refused(415, unreadable)
    try:
        delivery = forge.parse(incoming)
    except PayloadError as e:
        return Refused(400, str(e))
    # One check for every forge, so a new forge cannot forget it.
    unusable = refusal(delivery, forge.delivery_ids, forge.events)
    if unusable is not None:
        return Refused(400, unusable)
    if delivery.is_ping:
        return Pong(delivery)
    return choose(hook, delivery)
