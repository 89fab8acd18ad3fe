"""
An adnanh/webhook hooks file as plain values: its hooks, their arguments and
trigger rules, and the request a rule or an argument reads, as webhook 2.8
defines them (internal/hook/hook.go and request.go in adnanh/webhook 2.8.0;
its docs are Hook-Definition.md, Hook-Rules.md and Referencing-Request-Values.md).

Nothing here reads a file or a socket: L{hookdaemon.hooksfile.definition} makes
these from a file's text, L{hookdaemon.hooksfile.request} from a request's values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

SOURCE_ORDER = (
    "header",
    "url",
    "query",  # webhook's alias of url (SourceQueryAlias)
    "payload",
    "raw-request-body",
    "request",
    "string",
    "entire-payload",
    "entire-headers",
    "entire-query",
)
"""The C{source} of an argument, as hook.go's Source* constants name them, in messages' order."""
SOURCES = frozenset(SOURCE_ORDER)

MATCH_TYPES = frozenset(
    {
        "value",
        "regex",
        "payload-hmac-sha1",
        "payload-hmac-sha256",
        "payload-hmac-sha512",
        # Deprecated names webhook still takes for the three above (MatchHash*).
        "payload-hash-sha1",
        "payload-hash-sha256",
        "payload-hash-sha512",
        "ip-whitelist",
        "scalr-signature",
    }
)

ENV_PREFIX = "HOOK_"
"""What webhook puts before an argument's name when it has no C{envname} (EnvNamespace)."""


@frozen
class Argument:
    """
    A value a hook takes from the request: for the command's arguments, its
    environment, a file, a rule's parameter, or C{parse-parameters-as-json}.
    An argument the file leaves out is webhook's zero value: source "".
    """

    source: str = ""
    name: str = ""
    envname: str = ""
    base64decode: bool = False


@frozen
class Header:
    """A response header, as C{response-headers} and C{--header NAME=VALUE} give them."""

    name: str
    value: str


@frozen
class Match:
    """A C{match} rule; which fields count depends on its C{type}."""

    type: str
    value: str = ""
    regex: str = ""
    """As written, in Go's RE2 syntax; see L{hookdaemon.hooksfile.rules}."""
    secret: str = ""
    parameter: Argument = Argument()
    ip_range: str = ""


@frozen
class And:
    """True when every rule is; an empty list is true (hook.go's AndRule starts at true)."""

    rules: tuple[Rule, ...]


@frozen
class Or:
    """True when any rule is; an empty list is false."""

    rules: tuple[Rule, ...]


@frozen
class Not:
    rule: Rule


@frozen
class NoRule:
    """
    A rules object that names none of and, or, not and match (C{{}}): webhook
    evaluates it to false (Rules.Evaluate's last return).
    """


Rule = And | Or | Not | Match | NoRule


@frozen
class FileHook:
    """
    One hook of a hooks file, as webhook reads it. Fields are the file's
    properties with C{-} as C{_}; what is left out has webhook's zero value.
    """

    id: str
    execute_command: str
    source: str = ""
    """The hooks file it was read from, for errors and the reload summary."""
    command_working_directory: str = ""
    response_message: str = ""
    response_headers: tuple[Header, ...] = ()
    include_command_output_in_response: bool = False
    include_command_output_in_response_on_error: bool = False
    pass_environment_to_command: tuple[Argument, ...] = ()
    pass_arguments_to_command: tuple[Argument, ...] = ()
    pass_file_to_command: tuple[Argument, ...] = ()
    parse_parameters_as_json: tuple[Argument, ...] = ()
    trigger_rule: Rule | None = None
    trigger_rule_mismatch_http_response_code: int = 0
    trigger_signature_soft_failures: bool = False
    incoming_payload_content_type: str = ""
    success_http_response_code: int = 0
    http_methods: tuple[str, ...] = ()
    """Upper-cased and stripped, as webhook compares them; empty: the daemon's default."""


@frozen
class WebhookRequest:
    """
    What a rule or an argument can read of one request, as webhook's
    hook.Request holds it: the first value of each header (under Go's
    canonical name, C{X-Hub-Signature}) and of each query parameter, and the
    body parsed by its content type (C{payload}: JSON, form, XML or multipart
    values; None when there is none or it could not be parsed).
    """

    method: str
    remote_addr: str
    """The peer as Go's RemoteAddr says it: C{192.0.2.1:5000}, C{[2001:db8::1]:5000}."""
    body: bytes
    """The bytes received; for a multipart body, webhook's is empty, hookdaemon's is not."""
    headers: Mapping[str, str] = field(factory=dict)
    query: Mapping[str, str] = field(factory=dict)
    payload: Mapping[str, Any] | None = None
    client: str = ""
    """
    The client's address alone (no port): the peer, or behind a C{trusted_proxies}
    proxy the address it names, which C{ip-whitelist} checks.
    """
    received_at: float = 0.0
    """Seconds since the epoch, for C{scalr-signature}'s five minutes."""
    multipart: bool = False
    """
    A multipart body, which webhook never reads as bytes: its C{raw-request-body}
    is empty there (its signature rules see nothing either; hookdaemon's see C{body}).
    """


class ParameterNodeError(LookupError):
    """
    The request has no value where an argument points (hook.go's
    ParameterNodeError): a rule reading it is false, not an error.
    """


class ArgumentError(ValueError):
    """An argument that cannot be read for another reason (an unsupported C{request} name)."""


class SignatureError(ValueError):
    """
    A signature rule whose signature is present but wrong: an error that
    answers 500, unless C{trigger-signature-soft-failures} lets an C{or} go on.
    """


def rule_outline(rule: Rule | None) -> str:
    """
    A trigger rule as a person scans it, naming what each match reads but
    none of its values: a C{value} match's value is often a shared token.
    """
    if rule is None:
        return "none"
    if isinstance(rule, Match):
        read = rule.parameter
        if rule.type == "ip-whitelist":
            return "caller's address in a range"
        on = f" of {read.source} {read.name}".rstrip() if read.source else ""
        return f"{rule.type}{on}"
    if isinstance(rule, Not):
        return f"not ({rule_outline(rule.rule)})"
    if isinstance(rule, And | Or):
        word = " and " if isinstance(rule, And) else " or "
        parts = [rule_outline(inner) for inner in rule.rules]
        if not parts:  # as webhook evaluates them: an empty and is true, an empty or false
            return "always" if isinstance(rule, And) else "never"
        return f"({word.join(parts)})" if len(parts) > 1 else parts[0]
    return "never"  # NoRule
