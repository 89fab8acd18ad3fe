"""
The decision for one call to /hooks/NAME, made from plain values, in the order
of DESIGN.md's HTTP table: the hook, the method, the daemon stopping, the
client's address, its rate, then the request itself (Basic credentials,
signature, content type, parse, field checks, ping, filters).

Basic credentials come first of the request's own checks, before the forge is
even chosen: they stand where a proxy's HTTP authentication would, so a caller
without them learns nothing of the hook, not even which forge it reads.

The web layer hands L{Intake} what the request says and turns the outcome into
HTTP; everything in between lives here, where it is tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from hookdaemon.client_address import parse_address
from hookdaemon.config import HookConfig, Network, Rate
from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.field_rules import refusal
from hookdaemon.filters import ignore_reason
from hookdaemon.forges import FORGES, Forge, PayloadError, detect, type_refusal
from hookdaemon.forges._base import basic_matches
from hookdaemon.forges.generic import Generic
from hookdaemon.hooksfile.answers import NO_FRONT_END, FrontEnd, method_allowed
from hookdaemon.ratelimit import RateLimiter


@frozen
class NoHook:
    """No hook has this name: 404."""

    name: str


@frozen
class WrongMethod:
    """A hook takes POST only: 405."""


@frozen
class Stopping:
    """The daemon is stopping: 503, so that the forge tries again later."""


@frozen
class OverRate:
    """The client has used up the hook's C{rate}: 429."""

    rate: Rate
    retry_after: int
    """Whole seconds until one more call is allowed, for C{Retry-After}."""
    report: bool
    """The first refusal of this client in this period: worth one log line, not more."""


@frozen
class Refused:
    """A client mistake or a request we will not serve: a 4xx."""

    code: int
    reason: str
    challenge: str = ""
    """A 401's C{WWW-Authenticate} value, where the caller can answer one; else empty."""


@frozen
class Pong:
    """A forge's ping or test event: answered, nothing runs."""

    delivery: Delivery


@frozen
class Ignored:
    """A genuine delivery the hook's filters do not want."""

    delivery: Delivery
    reason: str


@frozen
class Accepted:
    """A delivery to run the hook for: the job engine takes it from here."""

    delivery: Delivery


Outcome = Refused | Pong | Ignored | Accepted
"""What the request itself decides (L{judge}, L{Intake.decide})."""

Refusal = NoHook | WrongMethod | Stopping | Refused | OverRate
"""What refuses a call before its body is read (L{Intake.admit})."""

WRONG_METHOD = WrongMethod()
STOPPING = Stopping()
NOT_ALLOWED = Refused(403, "client address not allowed")
BASIC_CHALLENGE = 'Basic realm="hookdaemon"'
BASIC_REQUIRED = Refused(401, "basic credentials required", BASIC_CHALLENGE)
BASIC_MISMATCH = Refused(401, "basic credentials mismatch", BASIC_CHALLENGE)


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
    """
    Decide what to do with a request to C{hook}, in the order DESIGN.md's table
    implies, from the request alone: its client, then L{examine}'s checks. The
    daemon's own state (stopping, rates) is L{Intake}'s.
    """
    if not client_allowed(hook.allow_from, incoming.client):
        return NOT_ALLOWED
    return examine(hook, incoming)


def basic_refusal(hook: HookConfig, incoming: Incoming) -> Refused | None:
    """Why a call to a hook with C{basic_auth} is refused for its credentials, or None."""
    if hook.basic_auth is None:
        return None
    # Who sends them: Bitbucket Server and Data Center, given webhook credentials
    # ("Authorization ... present if the webhook has basic authentication configured",
    # https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html;
    # where the form offers them or a secret, its REST API takes both: BSERV-14021,
    # https://jira.atlassian.com/browse/BSERV-14021),
    # and Gitea and Forgejo, whose webhook "Authorization Header" is sent as typed
    # (go-gitea/gitea services/webhook/deliver.go, Deliver: req.Header.Set("Authorization",
    # authorization)), so "Basic <base64 of user:password>" typed there is Basic.
    matches = basic_matches(incoming.header("authorization"), hook.basic_auth.value)
    if matches is None:
        return BASIC_REQUIRED
    return None if matches else BASIC_MISMATCH


def examine(hook: HookConfig, incoming: Incoming) -> Outcome:
    """The checks on the request itself, for a client C{allow_from} admits."""
    refused = basic_refusal(hook, incoming)
    if refused is not None:
        return refused
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


class Intake:
    """
    The whole decision for a call to /hooks/NAME, and the state it needs: the
    calls each client made to each hook with a C{rate}.

    It is made in two steps, L{admit} and L{decide}, so that a call refused for
    its hook, method, address or rate costs nothing more: its headers and body
    are not even read.
    """

    def __init__(self, hooks: Mapping[str, HookConfig], front: FrontEnd = NO_FRONT_END) -> None:
        self._hooks = hooks
        self._front = front
        self._limiters = {
            hook.name: RateLimiter(hook.rate) for hook in hooks.values() if hook.rate is not None
        }

    @property
    def front(self) -> FrontEnd:
        """What C{--http-methods} and C{--header} say for the hooks files' hooks."""
        return self._front

    def hooks_file_hook(self, hook_id: str) -> HookConfig | None:
        """The hooks-file hook of this id (under C{--urlprefix}), if there is one."""
        hook = self._hooks.get(hook_id)
        return hook if hook is not None and hook.hooks_file is not None else None

    def tap_hook(self, name: str) -> bool:
        """Whether a tap.cfg hook has this name."""
        hook = self._hooks.get(name)
        return hook is not None and hook.hooks_file is None

    def for_hooks(self, hooks: Mapping[str, HookConfig], front: FrontEnd | None = None) -> Intake:
        """
        The intake for a reloaded configuration: a hook whose C{rate} stays
        keeps the calls counted against it, so a reload frees no client.
        """
        new = Intake(hooks, self._front if front is None else front)
        for name, limiter in new._limiters.items():
            kept = self._limiters.get(name)
            if kept is not None and kept.rate == limiter.rate:
                new._limiters[name] = kept
        return new

    def admit(
        self, name: str, method: bytes, client: str, stopping: bool, now: float
    ) -> HookConfig | Refusal:
        """
        The hook to L{decide} the call for, or why it is refused before that.
        A call admitted is charged to C{client}'s rate; one refused here never is.
        """
        hook = self._hooks.get(name)
        if hook is None:
            return NoHook(name)
        if hook.hooks_file is not None:
            if not method_allowed(hook.hooks_file, self._front, method.decode("latin-1")):
                return WRONG_METHOD
        elif method != b"POST":
            return WRONG_METHOD
        if stopping:
            return STOPPING
        if not client_allowed(hook.allow_from, client):
            return NOT_ALLOWED
        limiter = self._limiters.get(hook.name)
        if limiter is not None:
            refusal = limiter.take(client, now)
            if refusal is not None:
                return OverRate(limiter.rate, refusal.retry_after_header, refusal.report)
        return hook

    def decide(self, hook: HookConfig, incoming: Incoming, now: float) -> Outcome:
        """
        What to do with the request of a call L{admit} let in for C{hook}. A
        wrong secret costs the client double, so guessing runs out twice as fast.
        """
        outcome = examine(hook, incoming)
        if isinstance(outcome, Refused) and outcome.code == 401:
            limiter = self._limiters.get(hook.name)
            if limiter is not None:
                limiter.charge(incoming.client, now)
        return outcome
