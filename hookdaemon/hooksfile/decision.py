"""
The decision for one call to a hooks-file hook, made from plain values in
webhook's order (webhook.go, hookHandler): read the body as its content type
says, evaluate the trigger rule, and for a triggered hook, what its command is
given and the delivery its job records. The method and the daemon's own
checks (stopping, rate, address) come before, in L{hookdaemon.intake}.
"""

from __future__ import annotations

from attrs import frozen

from hookdaemon.delivery import Delivery, Incoming
from hookdaemon.field_rules import refusal
from hookdaemon.forges import PayloadError, detect
from hookdaemon.hooksfile.invocation import Invocation, PassedFile
from hookdaemon.hooksfile.model import (
    ArgumentError,
    FileHook,
    ParameterNodeError,
    WebhookRequest,
)
from hookdaemon.hooksfile.request import (
    HandlerPanicError,
    MultipartError,
    argument_value,
    environment_name,
    file_content,
    file_environment_name,
)
from hookdaemon.hooksfile.rules import RuleError, evaluate


@frozen
class FormUnreadable:
    """A multipart body that cannot be read: webhook's 500."""

    reason: str


@frozen
class Panicked:
    """A call on which webhook's handler panics (L{HandlerPanicError}): its recoverer's 500."""

    reason: str


@frozen
class RulesFailed:
    """The trigger rule could not be evaluated (a wrong signature, an error): webhook's 500."""

    reason: str


@frozen
class RulesUnmet:
    """The trigger rule is false: the hook's mismatch code (or 200)."""


@frozen
class Triggered:
    """A call to run the hook's command for: what it is given, and what its job records."""

    invocation: Invocation
    delivery: Delivery


Decision = FormUnreadable | Panicked | RulesFailed | RulesUnmet | Triggered

RULES_UNMET = RulesUnmet()


def decide(
    hook: FileHook,
    request: WebhookRequest | MultipartError | HandlerPanicError,
    incoming: Incoming,
) -> Decision:
    """
    What a call the method check let in comes to: C{request} is the call as
    webhook reads it (or why it could not be read as webhook reads it).
    """
    if isinstance(request, MultipartError):
        return FormUnreadable(str(request))
    if isinstance(request, HandlerPanicError):
        return Panicked(str(request))
    if hook.trigger_rule is not None:
        try:
            if not evaluate(hook.trigger_rule, request, hook.trigger_signature_soft_failures):
                return RULES_UNMET
        except RuleError as e:
            return RulesFailed(str(e))
    return Triggered(invocation_for(hook, request), delivery_for(incoming))


def invocation_for(hook: FileHook, request: WebhookRequest) -> Invocation:
    """
    The command's arguments, environment and files, as hook.go's
    ExtractCommandArguments, ...ForEnv and ...ForFile make them: an argument
    that cannot be read is an empty string, a variable or file that cannot be
    read is left out.
    """
    arguments = []
    for argument in hook.pass_arguments_to_command:
        try:
            arguments.append(argument_value(argument, request))
        except (ParameterNodeError, ArgumentError):
            arguments.append("")
    environment = []
    for argument in hook.pass_environment_to_command:
        try:
            environment.append((environment_name(argument), argument_value(argument, request)))
        except (ParameterNodeError, ArgumentError):
            continue
    files = []
    for argument in hook.pass_file_to_command:
        try:
            data = file_content(argument, request)
        except (ParameterNodeError, ArgumentError):
            continue
        files.append(PassedFile(file_environment_name(argument), data))
    return Invocation(tuple(arguments), tuple(environment), tuple(files))


GENERIC_CALL = Delivery(forge="generic", event="push", kind="push")
"""What the job of a call from no forge records: any caller, as C{forge = generic} says."""


def delivery_for(incoming: Incoming) -> Delivery:
    """
    What the job records of a call, for the job API and de-duplication: a
    forge's call (told by its headers) as that forge's module reads it, when
    it can and its values pass hookdaemon's checks (L{refusal}); else a call
    of no forge, with no delivery id. Never a refusal: the hook's rules, not
    hookdaemon's forge checks, decide whether a call runs.
    """
    forge = detect(incoming)
    if forge is None:
        return GENERIC_CALL
    try:
        delivery = forge.parse(incoming)
    except PayloadError:
        return GENERIC_CALL
    if refusal(delivery, forge.delivery_ids, forge.events) is not None:
        return GENERIC_CALL
    # A push of several refs (Bitbucket): no filter chooses one, so the newest.
    return delivery.candidates()[-1]
