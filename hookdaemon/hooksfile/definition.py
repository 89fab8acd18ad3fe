"""
An adnanh/webhook hooks file's text -> L{FileHook} values and hookdaemon's own
per-hook settings, with every problem in the file reported at once, as
tap.cfg's are (L{hookdaemon.config}).

webhook 2.8.0 reads a hooks file in three steps (Hooks.LoadFromFile in
internal/hook/hook.go calls github.com/ghodss/yaml's Unmarshal): go-yaml v2
reads the text as YAML 1.1 (a JSON file too: JSON is read as YAML), ghodss/yaml
turns what it read into JSON, and encoding/json fills the Hook structs. Each
step has quirks a user notices, and this module reproduces them, checked
against the Debian package's C{/usr/bin/webhook} (2.8.0-4, built with Go 1.19
and a go-yaml v2 older than 2.2.3: its float pattern needs a sign in an
exponent):

  - go-yaml resolves an unquoted scalar by YAML 1.1's rules as go-yaml spells
    them (L{_resolve_plain}): C{yes}, C{on} and C{y} are true, C{0755} is 493,
    C{1e3} is text but C{1e-3} a number, C{2001-01-01} is text;
  - ghodss/yaml writes a number or a boolean that lands in a text field as
    text (C{id: 1.10} is the id C{1.1}, C{id: yes} is C{true}), formatting a
    float as Go's C{FormatFloat(f, 'g', -1, 32)} does; a null map key, a key
    above 2**63-1 and a float that JSON cannot write (C{.nan}, C{.inf}) anywhere
    refuse the whole file;
  - encoding/json reads the keys of each object in sorted order (json.Marshal
    sorted them), matches property names without regard to case, ignores
    unknown ones, leaves a field as it was for a null (a list or a rule: unset),
    and refuses the whole file for a value of the wrong type; a number is an
    int if it is a whole one (200.0 is 200).

Where webhook refuses a file it names one error; here each is a problem with
its place. What webhook loads but then meets on every call (it answers 500,
or never matches) is a warning, and the hook is kept as webhook holds it, to
answer as webhook's does; see L{load_hooks}.

No message shows a secret: not C{match.secret}, not a C{value} rule's value
(GitLab's token is compared that way), not a command (it may carry a token),
not an C{env} value.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import json
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

import yaml
from attrs import field, frozen

from hookdaemon.command import SHELL_NAME
from hookdaemon.config import REPORTING_KEYS, Network, Rate, network, parse_rate
from hookdaemon.hooksfile.answers import GO_STATUS_CODES
from hookdaemon.hooksfile.model import (
    MATCH_TYPES,
    SOURCE_ORDER,
    SOURCES,
    And,
    Argument,
    FileHook,
    Header,
    Match,
    NoRule,
    Not,
    Or,
    Rule,
)
from hookdaemon.hooksfile.rules import check_ip_whitelist, regex_problem

# -- what load_hooks returns ----------------------------------------------------------


@frozen
class HooksFileProblem:
    """
    One thing wrong with a hooks file, as a person should read it: the file,
    the hook (its id, or C{#3} for the third hook when its id cannot name it),
    the property (a path such as C{trigger-rule.and[1].match.type}, list
    indexes from 0; "" for the hook or the file as a whole) and what to do.
    """

    source: str
    hook: str
    property: str
    message: str

    def __str__(self) -> str:
        where = [self.source]
        if self.hook:
            where.append(f"hook {self.hook}")
        if self.property:
            where.append(self.property)
        return ": ".join([*where, self.message])


@frozen
class Extras:
    """
    hookdaemon's settings for one hooks-file hook: the optional C{hookdaemon}
    object in its definition, which webhook ignores as it ignores every key it
    does not know. None or empty: the daemon's default.
    """

    timeout: float | None = None
    """Seconds a run may take before its process group is killed."""
    kill_grace: float | None = None
    """Seconds between TERM and KILL."""
    burst: str | None = None
    """C{coalesce} or C{queue}: what a call does while a run is under way."""
    max_queued: int | None = None
    rate: Rate | None = None
    """At most so many calls per client; None: no limit."""
    history: int | None = None
    """Finished jobs kept for this hook."""
    env: Mapping[str, str] = field(factory=dict, repr=False)
    """Environment for the command; never shown (a value may be a token)."""
    allow_from: tuple[Network, ...] = ()
    reporting: Mapping[str, str] = field(factory=dict, repr=False)
    """The reporting keys as written (C{notify}'s URLs one per line); never shown."""


@frozen
class LoadedHook:
    """A hook as webhook defines it, and what hookdaemon's own object adds."""

    hook: FileHook
    extras: Extras = Extras()


EXTRAS_KEY = "hookdaemon"
"""The property of a hook definition that holds its L{Extras}."""

REPORTING_EXTRAS = REPORTING_KEYS
"""Read as text here, and as tap.cfg's keys of the same names once the daemon's are known."""
EXTRAS_KEYS = tuple(
    sorted(
        (
            "allow_from",
            "burst",
            "env",
            "history",
            "kill_grace",
            "max_queued",
            "rate",
            "timeout",
            *REPORTING_EXTRAS,
        )
    )
)

MATCH_TYPE_ORDER = (
    "value",
    "regex",
    "payload-hmac-sha1",
    "payload-hmac-sha256",
    "payload-hmac-sha512",
    "ip-whitelist",
    "scalr-signature",
)
"""The match types as messages list them; webhook also takes three old names (L{HASH_NAMES})."""
HASH_NAMES = {
    "payload-hash-sha1": "payload-hmac-sha1",
    "payload-hash-sha256": "payload-hmac-sha256",
    "payload-hash-sha512": "payload-hmac-sha512",
}
"""webhook's deprecated names (MatchHash*): it logs a warning on every call that uses one."""

NAMED_SOURCES = frozenset({"header", "url", "query", "payload", "request"})
"""The sources whose C{name} says which value: without one, no value is found."""
REQUEST_NAMES = ("method", "remote-addr")
"""What a C{request} source can name (Argument.Get compares them lower-cased)."""
JSON_SOURCES = frozenset({"header", "url", "query", "payload"})
"""What parse-parameters-as-json can replace (Hook.ParseJSONParameters)."""

HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An HTTP token (RFC 9110's tchar): a method or a header name."""
"""An HTTP token (RFC 9110's tchar): a method or a header name."""
_URL_SAFE = "-._~!$&'()*+,;=:@/"
_URL_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
"""What a URL path carries as it is (RFC 3986's pchar, and / between segments)."""
_GO_PLAIN_FLOAT = re.compile(r"[-+]?[0-9]*\.?[0-9]+([eE][-+][0-9]+)?")
"""go-yaml v2's yamlStyleFloat before 2.2.3, as in webhook's binary: 1e3 is not a float."""
_GO_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
"""What Go's ParseFloat takes of a scalar that starts with a dot (go-yaml's '.' hint)."""
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)")
"""Go's strconv.ParseInt with base 0 (underscores are gone already: go-yaml drops them)."""
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1
_MAX_VALUES = 1_000_000
"""More values than this, once YAML aliases are expanded, is refused (a 'billion laughs')."""

_BOOLEANS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
}
"""go-yaml v2's resolve table (resolve.go): y and n are booleans there, unlike in PyYAML."""
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}

GoValue = str | int | float | bool | None
"""A scalar as go-yaml hands it to ghodss/yaml: string, int, uint64, float64, bool or nil."""


# -- the text, read as webhook's readers read it --------------------------------------


@frozen
class _Scalar:
    value: GoValue
    text: str
    """As written, for a warning when webhook reads it as other text."""
    plain: bool = False
    """Written without quotes: resolved as go-yaml resolves such a scalar."""


@frozen
class _Map:
    items: tuple[tuple[str, _Node], ...]
    """Each key once, in the order first written, with the value webhook reads (the last)."""
    notes: tuple[tuple[str, str], ...] = ()
    """Warnings about keys of this object: (key, message)."""


@frozen
class _Seq:
    items: tuple[_Node, ...]


_Node = _Scalar | _Map | _Seq


class _FileError(Exception):
    """The text cannot be read at all; the message says where and why."""


def _resolve_plain(text: str) -> GoValue:
    """
    An unquoted scalar's value as go-yaml v2 resolves it (resolve.go, resolve):
    by its first character, a boolean, null or special float from the table,
    else an int, a uint64 or a float by Go's parsers, else text.
    """
    first = text[:1]
    if first and not (first in "+-.~0123456789" or first in "yYnNtTfFoO"):
        return text
    if text in _NULLS:
        return None
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if first == ".":
        number = float(text) if _GO_DOT_FLOAT.fullmatch(text) else math.inf
        return number if math.isfinite(number) else text
    if first in "+-0123456789":
        plain = text.replace("_", "")
        whole = _go_parse_int(plain)
        if whole is not None:
            if _INT64[0] <= whole <= _INT64[1]:
                return whole
            if whole <= _UINT64_MAX and plain[0] not in "+-":  # ParseUint takes no sign
                return whole
        if _GO_PLAIN_FLOAT.fullmatch(plain):
            number = float(plain)
            if math.isfinite(number):  # ParseFloat's range error leaves it text
                return number
    return text


def _go_parse_int(text: str) -> int | None:
    """C{strconv.ParseInt(text, 0, 64)}'s digits, range left to the caller."""
    match = _GO_INT.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    prefix = digits[:2].lower()
    if prefix in ("0x", "0b", "0o"):
        value = int(digits[2:], {"0x": 16, "0b": 2, "0o": 8}[prefix])
    elif len(digits) > 1 and digits[0] == "0":
        value = int(digits, 8)
    else:
        value = int(digits)
    return -value if sign == "-" else value


def _go_text(value: GoValue) -> str:
    """
    A scalar that lands in a text field, as ghodss/yaml makes it text
    (convertToJSONableObject): ints in decimal, floats as
    C{strconv.FormatFloat(f, 'g', -1, 32)}, booleans as true and false.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float32(value)
    return "" if value is None else value


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _format_float32(value: float) -> str:
    """Go's C{FormatFloat(value, 'g', -1, 32)}: the shortest text that reads back the float32."""
    if math.isnan(value):
        return "NaN"
    try:
        single = _float32(value)
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isinf(single):
        return "+Inf" if single > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, single) < 0 else ""
    size = abs(single)
    if size == 0:
        return f"{sign}0"
    for precision in range(1, 18):
        mantissa, _, exponent = f"{size:.{precision - 1}e}".partition("e")
        if _float32(float(f"{mantissa}e{exponent}")) == size:
            break
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    power = int(exponent)
    # %e when the exponent is below -4 or at least 6 (the shortest form's precision).
    if power < -4 or power >= 6:
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if power < 0 else '+'}{abs(power):02d}"
    point = power + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _map_key(value: GoValue) -> str:
    """
    A map key as ghodss/yaml makes it a JSON key (convertToJSONableObject):
    numbers and booleans become text; null and uint64 keys are refused.
    """
    if value is None:
        raise _FileError("has a null key (~ or nothing before a colon), which webhook refuses")
    if isinstance(value, int) and not isinstance(value, bool) and value > _INT64[1]:
        raise _FileError(f"has the key {value}, above 2**63-1, which webhook refuses")
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    return _go_text(value)


class _MapBuilder:
    """One object's keys as go-yaml v2 sets them into a Go map: a repeated key's last value."""

    def __init__(self) -> None:
        self.values: dict[str, _Node] = {}
        self.notes: list[tuple[str, str]] = []
        self.written: set[str] = set()

    def set(self, key: str, value: _Node) -> None:
        if key in self.written:
            self.notes.append((key, "is given twice in this object; webhook takes the last one"))
        self.written.add(key)
        self.values[key] = value

    def merge(self, merged: _Map) -> None:
        for key, value in merged.items:
            if key in self.written:
                self.notes.append(
                    (
                        key,
                        "is replaced by the << merge written after it: webhook's YAML reader"
                        " lets a merge override the keys before it; write << first",
                    )
                )
            self.values[key] = value

    def build(self) -> _Map:
        return _Map(tuple(self.values.items()), tuple(self.notes))


def _read_json(text: str) -> _Node | None:
    """
    A JSON file, read as JSON so that its errors name JSON lines and columns;
    its numbers and literals are then resolved as go-yaml resolves them, since
    webhook reads the file as YAML (C{1e5} is text there, C{1E+5} a number).
    """

    def scalar(literal: str) -> _Scalar:
        return _Scalar(_resolve_plain(literal), literal, plain=True)

    def node(value: Any) -> _Node:
        if isinstance(value, _Scalar | _Map):
            return value
        if isinstance(value, str):
            return _Scalar(value, value)
        if isinstance(value, list):
            return _Seq(tuple(node(v) for v in value))
        literal = {True: "true", False: "false", None: "null"}[value]
        return _Scalar(_resolve_plain(literal), literal, plain=True)

    def pairs(items: list[tuple[str, Any]]) -> _Map:
        builder = _MapBuilder()
        for key, value in items:
            builder.set(key, node(value))
        return builder.build()

    parsed = json.loads(
        text,
        object_pairs_hook=pairs,
        parse_int=scalar,
        parse_float=scalar,
        parse_constant=scalar,
    )
    return None if parsed is None else node(parsed)


_NOT_YAML_PRINTABLE = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
"""What YAML 1.1 does not allow in a stream (its c-printable), such as DEL and C1 controls."""


def _json_read_otherwise(text: str) -> str | None:
    """
    What webhook's YAML reader makes of a valid JSON text that JSON does not:
    go-yaml knows no C{\\/} escape ("found unknown escape character") and no
    surrogate C{\\u} escapes ("found invalid Unicode character escape code"),
    takes no control character but tab and line breaks ("control characters
    are not allowed"), and folds YAML's other line breaks into a space.
    """
    odd = _NOT_YAML_PRINTABLE.search(text)
    if odd is not None:
        code = f"U+{ord(odd.group()):04X}"
        return f"webhook refuses this file: it holds {code}, which YAML does not allow"
    for literal in re.finditer(r'"(?:[^"\\]|\\.)*"', text, re.DOTALL):
        for escape in re.finditer(r"\\(u[0-9a-fA-F]{4}|.)", literal.group(), re.DOTALL):
            if escape.group(1) == "/":
                return (
                    "webhook refuses this file: its YAML reader has no escape \\/; write / alone"
                )
            if re.fullmatch("u[dD][89a-fA-F]..", escape.group(1)):
                return (
                    "webhook refuses this file: its YAML reader takes no surrogate pair"
                    " (such as \\ud83d\\ude00); write the character itself"
                )
    folded = re.search("[\x85\u2028\u2029]", text)
    if folded is not None:
        return (
            f"webhook reads U+{ord(folded.group()):04X} in this file as a line break, which"
            f" it folds into a space: write \\u{ord(folded.group()):04x} instead"
        )
    return None


_PLAIN_TAG = "!hookdaemon-plain"
"""What L{_Loader} tags an unquoted scalar with, left for L{_resolve_plain} to resolve."""
_YAML_TAG = "tag:yaml.org,2002:"


class _Loader(yaml.SafeLoader):
    """
    PyYAML's safe loader used only to compose nodes (nothing is constructed):
    unquoted scalars are left unresolved, to be resolved by go-yaml's rules
    instead of PyYAML's, and an anchor may be defined again, as go-yaml allows.
    """

    # go-yaml takes \' in a double-quoted scalar as ' (scannerc.go,
    # yaml_parser_scan_flow_scalar), and webhook's documented idiom needs it:
    # "{{ getenv "SECRET" | js }}" writes a ' of the secret as \' (Templates.md).
    ESCAPE_REPLACEMENTS = {**yaml.SafeLoader.ESCAPE_REPLACEMENTS, "'": "'"}  # type: ignore[misc]

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN_TAG
        return super().resolve(kind, value, implicit)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.check_event(yaml.AliasEvent):
            anchor = getattr(self.peek_event(), "anchor", None)
            if anchor is not None:
                self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


def _read_yaml(text: str) -> tuple[_Node | None, int]:
    """The first YAML document, as go-yaml v2 reads it, and how many more there are."""
    loader = _Loader(text)
    try:
        root = loader.get_node() if loader.check_node() else None
        others = 0
        while loader.check_node():
            loader.get_node()
            others += 1
    finally:
        loader.dispose()
    if root is None:
        return None, others
    _count_values(root)
    return _yaml_node(root, {}), others


def _count_values(root: yaml.Node) -> None:
    """Refuses a document that its aliases make huge or make contain itself."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise _FileError("has an alias inside the very node its anchor names")
        active.add(id(node))
        children: Iterable[yaml.Node] = ()
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = (n for pair in node.value for n in pair)
        total = 1 + sum(size(child) for child in children)
        active.discard(id(node))
        if total > _MAX_VALUES:
            raise _FileError(f"holds more than {_MAX_VALUES} values once its aliases are expanded")
        sizes[id(node)] = total
        return total

    size(root)


def _yaml_scalar(node: yaml.ScalarNode) -> GoValue:
    """A scalar's value as go-yaml v2's decoder gives it (decode.go, scalar; resolve.go)."""
    text = str(node.value)
    tag = node.tag
    if tag == _PLAIN_TAG:
        return _resolve_plain(text)
    if not tag.startswith(_YAML_TAG):
        return text  # a tag go-yaml cannot resolve: the text as written
    kind = tag[len(_YAML_TAG) :]
    if kind == "str":
        return text
    if kind == "binary":
        try:
            # Go's base64.StdEncoding skips line breaks, and nothing else.
            data = base64.b64decode(re.sub("[\r\n]", "", text), validate=True)
            return data.decode("utf-8", "replace")
        except binascii.Error:
            raise _FileError(
                f"line {node.start_mark.line + 1}: a !!binary value that is not base64"
            ) from None
    resolved = _resolve_plain(text)
    kinds = {"bool": bool, "int": int, "float": float, "null": type(None)}
    if kind not in kinds:
        return text
    if isinstance(resolved, kinds[kind]) and (kind == "int") == (type(resolved) is int):
        return resolved
    raise _FileError(
        f"line {node.start_mark.line + 1}: a value tagged !!{kind} that go-yaml does not"
        f" read as one (webhook: cannot decode ... as a !!{kind}); remove the tag or fix the value"
    )


def _yaml_node(node: yaml.Node, made: dict[int, _Node]) -> _Node:
    """
    The value a composed node stands for. An alias is the node it names: made
    once (L{_count_values} has bounded the document).
    """
    if id(node) in made:
        return made[id(node)]
    result: _Node
    if isinstance(node, yaml.ScalarNode):
        result = _Scalar(_yaml_scalar(node), str(node.value), plain=node.tag == _PLAIN_TAG)
    elif isinstance(node, yaml.SequenceNode):
        result = _Seq(tuple(_yaml_node(child, made) for child in node.value))
    else:
        builder = _MapBuilder()
        for key_node, value_node in node.value:
            if _is_merge(key_node):
                _merge(builder, value_node, made)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _FileError(
                    f"line {key_node.start_mark.line + 1}: has a list or an object as a key,"
                    " which webhook refuses (yaml: invalid map key)"
                )
            try:
                key = _map_key(_yaml_scalar(key_node))
            except _FileError as e:
                raise _FileError(f"line {key_node.start_mark.line + 1}: {e}") from None
            builder.set(key, _yaml_node(value_node, made))
        result = builder.build()
    made[id(node)] = result
    return result


def _is_merge(node: yaml.Node) -> bool:
    """go-yaml's isMerge: an unquoted (or !!merge) C{<<} key."""
    return (
        isinstance(node, yaml.ScalarNode)
        and node.value == "<<"
        and node.tag in (_PLAIN_TAG, f"{_YAML_TAG}merge")
    )


def _merge(builder: _MapBuilder, node: yaml.Node, made: dict[int, _Node]) -> None:
    """
    go-yaml v2's merge (decode.go): an object's keys are set over the ones
    before; of a list of objects, the earlier ones win (they are set last).
    """
    targets = list(reversed(node.value)) if isinstance(node, yaml.SequenceNode) else [node]
    for target in targets:
        if not isinstance(target, yaml.MappingNode):
            raise _FileError(
                f"line {node.start_mark.line + 1}: a << merge takes an object or a list of"
                " objects (webhook: map merge requires map or sequence of maps as the value)"
            )
        merged = _yaml_node(target, made)
        assert isinstance(merged, _Map)
        builder.merge(merged)


def _looks_like_json(source: str) -> bool:
    return ".json" in PurePath(source).suffixes


def _read(source: str, text: str) -> tuple[_Node | None, list[str]]:
    """
    The file's one value (None: empty) and warnings about the file as a
    whole. A JSON file is read as JSON first; one that is not valid JSON is
    read as YAML, as webhook reads every file.
    """
    found: list[str] = []
    text = text.removeprefix("\ufeff")  # webhook reads a file that starts with a BOM
    if not text.strip():
        return None, found
    json_error: json.JSONDecodeError | None = None
    if _looks_like_json(source):
        try:
            root = _read_json(text)
        except json.JSONDecodeError as e:
            json_error = e
        except RecursionError:
            raise _FileError("nests lists and objects too deeply to be read") from None
        else:
            otherwise = _json_read_otherwise(text)
            if otherwise is not None:
                found.append(otherwise)
            return root, found
    try:
        root, others = _read_yaml(text)
    except yaml.MarkedYAMLError as e:
        if json_error is not None:
            raise _FileError(
                f"is not valid JSON: line {json_error.lineno}, column {json_error.colno}:"
                f" {json_error.msg}"
            ) from None
        mark = e.problem_mark
        where = "" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}: "
        raise _FileError(f"is not valid YAML: {where}{e.problem}") from None
    except yaml.reader.ReaderError as e:
        character = e.character if isinstance(e.character, int) else ord(e.character)
        raise _FileError(
            f"is not valid YAML: character {e.position + 1} is U+{character:04X},"
            " which YAML does not allow"
        ) from None
    except RecursionError:
        raise _FileError("nests lists and objects too deeply to be read") from None
    if json_error is not None:
        found.append(
            f"is not valid JSON (line {json_error.lineno}, column {json_error.colno}:"
            f" {json_error.msg}); it is read as YAML, as webhook reads it"
        )
    if others:
        found.append(
            f"holds {others + 1} YAML documents; webhook reads only the first, and so does"
            " hookdaemon: put every hook in one list"
        )
    return root, found


# -- the text's values, decoded into webhook's structs as encoding/json does -----------


class _Findings:
    """What one hook's reading found: (property, message) errors and warnings."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append((path, message))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(node: _Node) -> str:
    """What a value is, in a message: never the value itself."""
    if isinstance(node, _Map):
        return "an object"
    if isinstance(node, _Seq):
        return "a list"
    value = node.value
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "text"


def _unjsonable(node: _Node, path: str, findings: _Findings) -> None:
    """
    Floats JSON cannot write (C{.nan}, C{.inf}) where no text field takes
    them: ghodss/yaml's json.Marshal fails, and webhook refuses the file.
    """
    if isinstance(node, _Scalar):
        if isinstance(node.value, float) and not math.isfinite(node.value):
            findings.error(
                path,
                f"{node.text} is a YAML float JSON cannot write, so webhook refuses the whole"
                " file (json: unsupported value); quote it",
            )
    elif isinstance(node, _Seq):
        for index, item in enumerate(node.items):
            _unjsonable(item, f"{path}[{index}]", findings)
    else:
        for key, value in node.items:
            _unjsonable(value, _join(path, key), findings)


_FOLD = str.maketrans({"\u212a": "k", "\u017f": "s"})
"""The two non-ASCII letters Go's case folding matches to ASCII ones (Kelvin sign, long s)."""


def _folded(key: str) -> str | None:
    key = key.translate(_FOLD)
    return key.lower() if key.isascii() else None


class _Type:
    """
    A Go type as encoding/json fills it (encoding/json's decode.go: object,
    array, literalStore); C{expected} names it in a message.
    """

    expected = ""

    def zero(self) -> Any:
        """Go's zero value: what a list's null entry is."""
        return None

    def decode(self, node: _Node, path: str, current: Any, found: _Findings) -> Any:
        raise NotImplementedError

    def mismatch(self, node: _Node, path: str, current: Any, found: _Findings) -> Any:
        found.error(path, f"must be {self.expected}, not {_kind(node)}")
        return current


class _Text(_Type):
    expected = "text"

    def __init__(self, hidden: str = "") -> None:
        self.hidden = hidden
        """How a message names the value instead of showing it ("the secret"); "": shown."""

    def zero(self) -> Any:
        return ""

    def decode(self, node: _Node, path: str, current: Any, found: _Findings) -> Any:
        if not isinstance(node, _Scalar):
            return self.mismatch(node, path, current, found)
        if node.value is None:
            return current
        text = _go_text(node.value)
        if not isinstance(node.value, str) and text != node.text:
            taken = "a boolean" if isinstance(node.value, bool) else "a number"
            read = self.hidden or f"{node.text} as the text {text!r}"
            rewritten = " and rewrites it" if self.hidden else ""
            found.warn(
                path,
                f"webhook reads {read}: its YAML reader takes it for {taken}{rewritten};"
                " quote it to keep it as written",
            )
        return text


class _Flag(_Type):
    expected = "true or false"

    def zero(self) -> Any:
        return False

    def decode(self, node: _Node, path: str, current: Any, found: _Findings) -> Any:
        if not isinstance(node, _Scalar):
            return self.mismatch(node, path, current, found)
        if node.value is None:
            return current
        if isinstance(node.value, bool):
            return node.value
        if isinstance(node.value, str):
            found.error(path, "must be true or false, not text: write it without quotes")
            return current
        return self.mismatch(node, path, current, found)


_UNSIGNED_EXPONENT = re.compile(r"[-+]?[0-9]*\.?[0-9]+[eE][0-9]+")
"""A JSON number go-yaml v2 (before 2.2.3) reads as text: its exponent has no sign."""


class _Whole(_Type):
    def __init__(self, example: str) -> None:
        self.expected = f"a whole number such as {example}"

    def zero(self) -> Any:
        return 0

    def decode(self, node: _Node, path: str, current: Any, found: _Findings) -> Any:
        if not isinstance(node, _Scalar) or isinstance(node.value, bool):
            return self.mismatch(node, path, current, found)
        value = node.value
        if value is None:
            return current
        if isinstance(value, float) and not math.isfinite(value):
            _unjsonable(node, path, found)
            return current
        # encoding/json parses json.Marshal's text of the number: a float is an
        # int when it is whole and written without an exponent (below 1e21).
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
            value = int(value)
        if isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
            return value
        if isinstance(value, str) and node.plain and _UNSIGNED_EXPONENT.fullmatch(value):
            found.error(
                path,
                f"must be {self.expected}: webhook's YAML reader takes {node.text} for text, as"
                " its exponent has no sign; write the number out",
            )
        elif isinstance(value, str):
            found.error(path, f"must be {self.expected}, not text: write it without quotes")
        else:
            found.error(path, f"must be {self.expected}, not {node.text}")
        return current


class _List(_Type):
    def __init__(self, item: _Type, expected: str) -> None:
        self.item = item
        self.expected = expected

    def decode(self, node: _Node, path: str, current: Any, found: _Findings) -> Any:
        if isinstance(node, _Scalar) and node.value is None:
            return None  # null makes a slice nil
        if not isinstance(node, _Seq):
            return self.mismatch(node, path, current, found)
        return [
            self.item.decode(item, f"{path}[{index}]", self.item.zero(), found)
            for index, item in enumerate(node.items)
        ]


class _Struct(_Type):
    """A struct: its fields by their json tag; a null leaves it as it was."""

    def __init__(self, expected: str, fields: dict[str, _Type] | None = None) -> None:
        self.expected = expected
        self.fields = fields or {}
        self.nullable = False

    def zero(self) -> Any:
        return {}

    def field_for(self, key: str) -> str | None:
        """
        The field a key fills, as encoding/json's decode.go (object) finds it:
        by its exact name, or else by Go's case folding (bytes.EqualFold).
        """
        if key in self.fields:
            return key
        folded = _folded(key)
        return next((name for name in self.fields if name == folded), None)

    def decode(self, node: _Node, path: str, current: Any, found: _Findings) -> Any:
        if isinstance(node, _Scalar) and node.value is None:
            return None if self.nullable else current
        if not isinstance(node, _Map):
            return self.mismatch(node, path, current, found)
        values: dict[str, Any] = dict(current or {})
        spellings: dict[str, list[str]] = {}
        for key, message in node.notes:
            found.warn(_join(path, key), message)
        # ghodss/yaml's json.Marshal sorted the keys: encoding/json reads them in
        # that order, so of two spellings of one property, the last sorted counts.
        for key, value in sorted(node.items):
            name = self.field_for(key)
            if name is None:
                self.unknown(key, value, path, found)
                continue
            spellings.setdefault(name, []).append(key)
            values[name] = self.fields[name].decode(
                value, _join(path, name), values.get(name), found
            )
        for name, keys in spellings.items():
            if len(keys) > 1:
                found.warn(
                    _join(path, name),
                    f"is written {len(keys)} ways ({', '.join(keys)}); webhook reads them in"
                    f" that order, so {keys[-1]}'s value counts",
                )
        return values

    def unknown(self, key: str, value: _Node, path: str, found: _Findings) -> None:
        close = difflib.get_close_matches(key.lower(), self.fields, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        found.warn(
            _join(path, key), f"not a webhook property; webhook and hookdaemon ignore it{hint}"
        )
        _unjsonable(value, _join(path, key), found)


class _Pointer(_Struct):
    """A pointer to a struct (*Rules, *MatchRule): a null makes it nil (a rule not given)."""

    def __init__(self, expected: str, fields: dict[str, _Type] | None = None) -> None:
        super().__init__(expected, fields)
        self.nullable = True


_ARGUMENT = _Struct(
    "an object with a source and a name",
    {"source": _Text(), "name": _Text(), "envname": _Text(), "base64decode": _Flag()},
)
_ARGUMENTS = _List(_ARGUMENT, "a list of objects with a source and a name")
_MATCH = _Pointer(
    "an object with a type and what that type needs",
    {
        "type": _Text(),
        "regex": _Text(),
        "secret": _Text(hidden="the secret"),
        "value": _Text(hidden="the value"),
        "parameter": _ARGUMENT,
        "ip-range": _Text(),
    },
)
_RULES = _Pointer("a rule: an object with one of and, or, not and match")
_RULE_LIST = _List(_RULES, "a list of rules")
_RULES.fields.update({"and": _RULE_LIST, "or": _RULE_LIST, "not": _RULES, "match": _MATCH})
_RULE_KINDS = ("and", "or", "not", "match")
"""In the order Rules.Evaluate looks at them: the first one given is the rule."""
_CODE = _Whole("200")
_HOOK = _Struct(
    "a hook: an object with an id and an execute-command",
    {
        "id": _Text(),
        "execute-command": _Text(),
        "command-working-directory": _Text(),
        "response-message": _Text(),
        "response-headers": _List(
            _Struct("an object with a name and a value", {"name": _Text(), "value": _Text()}),
            "a list of objects with a name and a value",
        ),
        "include-command-output-in-response": _Flag(),
        "include-command-output-in-response-on-error": _Flag(),
        "pass-environment-to-command": _ARGUMENTS,
        "pass-arguments-to-command": _ARGUMENTS,
        "pass-file-to-command": _ARGUMENTS,
        "parse-parameters-as-json": _ARGUMENTS,
        "trigger-rule": _RULES,
        "trigger-rule-mismatch-http-response-code": _CODE,
        "trigger-signature-soft-failures": _Flag(),
        "incoming-payload-content-type": _Text(),
        "success-http-response-code": _CODE,
        "http-methods": _List(_Text(), 'a list of methods such as ["POST"]'),
    },
)
PROPERTIES = tuple(_HOOK.fields)
"""A hook's properties, as webhook 2.8's Hook struct names them."""


# -- checks beyond webhook's, and the model's values -------------------------------------


RULES_ERROR = '500 "Error occurred while evaluating hook rules."'
"""How a warning names webhook's answer when a rule cannot be evaluated (hookHandler)."""


@frozen
class _Use:
    """
    Where an argument is used, for its warnings: what it gives, and what
    webhook does where it cannot read it (Argument.Get errs, on every call)
    or finds no value for it (a ParameterNodeError).
    """

    gives: str
    unreadable: str
    absent: str


_PASSED = _Use(
    "it",
    "passes an empty argument in its place on every call",
    "passes an empty argument in its place",
)
"""pass-arguments-to-command: ExtractCommandArguments puts "" for what it cannot read."""
_ENVIRONMENT = _Use(
    "the value", "leaves the variable out on every call", "leaves the variable out"
)
_FILE = _Use("the content", "writes no file for it on every call", "writes no file for it")
_JSON = _Use(
    "the JSON text", "logs an error and parses nothing for it on every call", "parses nothing"
)
_CHECKED = _Use(
    "the value checked",
    f"answers {RULES_ERROR} to every call that reaches this rule",
    "takes this match for false",
)
"""A match's parameter: MatchRule.Evaluate returns Get's error (no ParameterNodeError)."""


def _plain_argument(values: Mapping[str, Any] | None) -> Argument:
    values = values or {}
    return Argument(
        source=values.get("source") or "",
        name=values.get("name") or "",
        envname=values.get("envname") or "",
        base64decode=bool(values.get("base64decode")),
    )


def _argument(
    values: Mapping[str, Any] | None, path: str, found: _Findings, use: _Use
) -> Argument:
    """
    An argument as webhook holds it, checked: a source webhook knows and,
    where it needs one, a name. webhook loads either mistake; each warning
    says what it then does on every call (hook.go, Argument.Get).
    """
    argument = _plain_argument(values)
    sources = ", ".join(SOURCE_ORDER)
    if not argument.source:
        found.warn(
            _join(path, "source"),
            f"is missing, so webhook {use.unreadable}: say where {use.gives} comes from:"
            f" {sources}",
        )
    elif argument.source not in SOURCES:
        cased = " (sources are lower case)" if argument.source.lower() in SOURCES else ""
        found.warn(
            _join(path, "source"),
            f"{argument.source!r} is not a source{cased}, so webhook {use.unreadable}: write"
            f" one of {sources}",
        )
    elif argument.source == "request":
        if argument.name.lower() not in REQUEST_NAMES:
            found.warn(
                _join(path, "name"),
                f"a request source gives {' or '.join(REQUEST_NAMES)}, not {argument.name!r},"
                f" so webhook {use.unreadable} (unsupported request key)",
            )
    elif argument.source in NAMED_SOURCES and not argument.name:
        found.warn(
            _join(path, "name"),
            f'is missing: webhook looks up the {argument.source} value named "", which a call'
            f" rarely has, and {use.absent}: say which {argument.source} value to take",
        )
    return argument


def _unreadable(argument: Argument) -> str | None:
    """Why webhook's Argument.Get errs on every call for this argument (not a value not found)."""
    if not argument.source:
        return "it has no source"
    if argument.source not in SOURCES:
        return f"{argument.source!r} is not a source"
    if argument.source == "request" and argument.name.lower() not in REQUEST_NAMES:
        return f"a request source gives {' or '.join(REQUEST_NAMES)} only"
    return None


def _arguments(
    values: list[Any] | None, path: str, found: _Findings, use: _Use
) -> tuple[Argument, ...]:
    return tuple(
        _argument(item, f"{path}[{index}]", found, use) for index, item in enumerate(values or ())
    )


_TOP = "trigger-rule"


def _rule(values: Mapping[str, Any], path: str, found: _Findings) -> Rule:
    """A rules object, checked: exactly one of and, or, not and match."""
    given = [kind for kind in _RULE_KINDS if values.get(kind) is not None]
    if not given:
        # Rules.Evaluate's last return: false, with no error (under a not: true).
        never = (
            ', so the hook never runs ("Hook rules were not satisfied.")' if path == _TOP else ""
        )
        found.warn(
            path,
            "names none of and, or, not and match: webhook takes such a rule for false on every"
            f" call{never}: write the rule in one of them",
        )
        return NoRule()
    kind = given[0]
    if len(given) > 1:
        named = ", ".join(f'"{g}"' for g in given)
        found.warn(
            path,
            f'names {named}; webhook uses only "{kind}" (it looks at and, or, not and match in'
            ' that order) and ignores the rest: put the rules in one "and"',
        )
    inner = _join(path, kind)
    if kind in ("and", "or"):
        items = values[kind]
        if not items:
            always = "true: it checks nothing" if kind == "and" else "false: the hook never runs"
            found.warn(inner, f"is an empty list, which is always {always}")
        rules = tuple(_rule(item or {}, f"{inner}[{i}]", found) for i, item in enumerate(items))
        return And(rules) if kind == "and" else Or(rules)
    if kind == "not":
        return Not(_rule(values["not"], inner, found))
    return _match(values["match"], inner, found)


_MATCH_USES = {
    "value": {"value", "parameter"},
    "regex": {"regex", "parameter"},
    "ip-whitelist": {"ip-range"},
    "scalr-signature": {"secret"},
    **{name: {"secret", "parameter"} for name in (*HASH_NAMES.values(), *HASH_NAMES)},
}
"""The properties each match type reads (MatchRule.Evaluate); webhook ignores the others."""


def _match(values: Mapping[str, Any], path: str, found: _Findings) -> Match:
    """
    A match rule as webhook holds it, parameter and all whatever its type
    (MatchRule.Evaluate reads the parameter of any type but ip-whitelist and
    scalr-signature, an unknown one too), with a warning for each mistake
    webhook loads and then meets on every call.
    """
    parameter_values = values.get("parameter")
    match = Match(
        type=values.get("type") or "",
        value=values.get("value") or "",
        regex=values.get("regex") or "",
        secret=values.get("secret") or "",
        parameter=_plain_argument(parameter_values),
        ip_range=values.get("ip-range") or "",
    )
    types = ", ".join(MATCH_TYPE_ORDER)
    at = _join(path, "type")
    if match.type not in MATCH_TYPES:
        # Evaluate's switch names no such type: false, unless reading the
        # parameter (which it does first) errs.
        what = f"{match.type!r} is not a match type" if match.type else "is missing"
        unreadable = "it has none" if parameter_values is None else _unreadable(match.parameter)
        if unreadable is None:
            does = "takes this match for false on every call"
        else:
            does = (
                f"reads its parameter all the same and, as {unreadable}, answers"
                f" {RULES_ERROR} to every call that reaches this rule"
            )
        found.warn(at, f"{what}: webhook {does}; write one of {types}")
        return match
    if match.type in HASH_NAMES:
        found.warn(
            at,
            f"is webhook's old name for {HASH_NAMES[match.type]}, which webhook warns about"
            " on every call; write that",
        )
    uses = _MATCH_USES[match.type]
    for name in ("value", "regex", "secret", "ip-range", "parameter"):
        if name not in uses and values.get(name):
            found.warn(
                _join(path, name), f"is not used by a {match.type} rule; webhook ignores it"
            )
    if "parameter" in uses:
        if parameter_values is None:
            found.warn(
                _join(path, "parameter"),
                f"is missing, so webhook {_CHECKED.unreadable} (no source for value"
                f" retrieval): a {match.type} rule checks the request value it names, such as"
                ' {"source": "header", "name": "X-Hub-Signature"}',
            )
        else:
            _argument(parameter_values, _join(path, "parameter"), found, _CHECKED)
    if "secret" in uses and not match.secret:
        # CheckPayloadSignature* and CheckScalrSignature err on an empty secret,
        # once the value they check is there; the error is no SignatureError,
        # so trigger-signature-soft-failures does not pass over it.
        carrying = (
            "with X-Signature and Date headers"
            if match.type == "scalr-signature"
            else "that carries the value it checks"
        )
        found.warn(
            _join(path, "secret"),
            f"is missing or empty: webhook answers {RULES_ERROR} to every call {carrying}, and"
            " the rule is false for the others: give the secret the sender signs with",
        )
    if match.type == "regex":
        _regex(match.regex, _join(path, "regex"), found)
    if match.type == "ip-whitelist":
        _ip_range(match.ip_range, _join(path, "ip-range"), found)
    return match


_NOT_RUN = "cannot run this RE2 pattern"
"""How L{regex_problem} begins when Go takes the pattern but hookdaemon cannot run it."""


def _regex(pattern: str, path: str, found: _Findings) -> None:
    """A regex rule's pattern, which webhook compiles on each call (regexp.MatchString)."""
    if not pattern:
        found.warn(path, "is empty, which matches every value")
        return
    problem = regex_problem(pattern)
    if problem is None:
        return
    carrying = "every call that carries the value the rule checks"
    if problem.startswith(_NOT_RUN):
        found.warn(
            path,
            f"{problem}: webhook runs it, but hookdaemon answers {RULES_ERROR} to {carrying};"
            " write the pattern another way",
        )
    else:
        found.warn(
            path,
            f"cannot be used: {problem}: webhook answers {RULES_ERROR} to {carrying}; fix the"
            " pattern",
        )


def _ip_range(text: str, path: str, found: _Findings) -> None:
    """
    An ip-range as CheckIPWhitelist reads it: words, each a CIDR network or an
    address, to which webhook adds C{/32}, even to an IPv6 one. It tries them
    in order: a call from none of the networks before a bad word gets its error.
    """
    parts = text.split()
    if not parts:
        found.warn(
            path,
            "is missing: webhook's ip-whitelist rule is false on every call without networks;"
            " name the networks calls may come from, such as 192.0.2.0/24",
        )
    good: list[str] = []
    for part in parts:
        try:
            check_ip_whitelist("127.0.0.1", part)  # raises where Go's ParseCIDR errs
        except ValueError:
            calls = f"every call from outside {_listed(good)}" if good else "every call"
            found.warn(
                path,
                f"{part!r} is not a CIDR network such as 192.0.2.0/24, or an address: webhook"
                f" answers {RULES_ERROR} to {calls}",
            )
            continue
        good.append(part)
        if "/" not in part and ":" in part:
            wide = ipaddress.ip_network(f"{part}/32", strict=False)
            found.warn(
                path,
                f"{part!r} is an IPv6 address without a prefix length: webhook adds /32 to it,"
                f" which lets in all of {wide}; write {part}/128 for the address alone",
            )


def _status_code(code: int, path: str, found: _Findings) -> None:
    """
    webhook's writeHttpResponseCode sends a code only when http.StatusText
    names it; else the answer goes out as 200.
    """
    if code == 0:
        return
    if not 100 <= code <= 599:
        found.warn(
            path,
            f"{code} is not an HTTP status code (100 to 599): webhook answers 200 instead;"
            " write a code from 100 to 599, or 0 for the default",
        )
    elif code not in GO_STATUS_CODES:
        found.warn(path, f"webhook answers 200 instead of {code}, a code Go has no name for")
    elif code < 200:
        # Go 1.19's WriteHeader sends a 1xx as an informational answer; the
        # body then goes out under an implicit 200 (seen from webhook 2.8.0).
        found.warn(
            path,
            f"webhook sends {code} as an informational answer and then answers 200;"
            " hookdaemon answers 200 alone: write the code meant",
        )


def _check_id(hook_id: str, found: _Findings) -> None:
    """
    The id is the last part of the hook's URL (webhook routes C{/PREFIX/{id:.*}},
    so it may hold slashes): it must be one a URL can name.
    """
    if not hook_id:
        # mux routes /hooks/ to the id "" ({id:.*} matches nothing).
        found.warn(
            "id",
            "is missing or empty: webhook serves the first such hook at /hooks/ (the URL prefix"
            " alone); give each hook an id, the last part of its URL (/hooks/ID)",
        )
        return
    controls = sorted({c for c in hook_id if not c.isprintable()})
    if controls:
        # webhook loads it; hookdaemon does not, as the id goes into its log lines.
        found.error(
            "id",
            f"has {_listed([f'U+{ord(c):04X}' for c in controls])}, which hookdaemon refuses in"
            " an id (its log would carry them as written, and no URL can): use letters, digits"
            " and - . _ ~ (and / between parts)",
        )
        return
    segments = hook_id.split("/")
    if any(s in ("", ".", "..") for s in segments[:-1]) or segments[-1] in (".", ".."):
        # gorilla/mux cleans the path and redirects (301) to the cleaned one.
        found.warn(
            "id",
            "has an empty, . or .. part between slashes: webhook's router answers 301 to such a"
            " path, redirecting it to the path cleaned, so no call reaches the hook: rename it",
        )
        return
    odd = sorted({c for c in hook_id if not _URL_PATH.fullmatch(c)})
    if odd:
        # Not refused: webhook serves "with space" at /hooks/with%20space, as
        # gorilla/mux matches the decoded path.
        named = [f"{c!r}" if c != " " else "a space" for c in odd]
        found.warn(
            "id",
            f"has {_listed(named)}, which a URL carries only percent-encoded: callers must"
            f" ask for .../{quote(hook_id, safe=_URL_SAFE)}; letters, digits and - . _ ~ need"
            " no encoding",
        )


@frozen
class _Entry:
    """One entry of the file's list, read: what load_hooks needs of it."""

    label: str
    """How problems name it: its id, or C{#N} when the id cannot."""
    id: str
    hook: FileHook | None
    """None when it has errors."""
    extras: Extras
    found: _Findings


def _entry(index: int, node: _Node, source: str) -> _Entry:
    found = _Findings()
    label = f"#{index}"
    if not isinstance(node, _Map):
        if isinstance(node, _Scalar) and node.value is None:
            # encoding/json makes a null entry of the []Hook a zero Hook.
            found.warn(
                "",
                "is null: webhook loads it as a hook with every property empty, its id too"
                " (served at /hooks/ when no hook before it has the empty id), that runs"
                " nothing: remove the entry",
            )
            return _Entry(
                label, "", FileHook(id="", execute_command="", source=source), Extras(), found
            )
        found.error("", f"must be {_HOOK.expected}, not {_kind(node)}")
        return _Entry(label, "", None, Extras(), found)
    extras_node: _Node | None = None
    rest = []
    for key, value in node.items:
        if key == EXTRAS_KEY:
            extras_node = value
            continue
        rest.append((key, value))
        if _folded(key) == EXTRAS_KEY:
            found.warn(key, f"is not read as hookdaemon's settings: write {EXTRAS_KEY}")
    values: dict[str, Any] = _HOOK.decode(_Map(tuple(rest), node.notes), "", None, found)
    hook_id = values.get("id") or ""
    if hook_id.isprintable() and hook_id:
        label = hook_id
    given = {path for path, _ in found.errors}
    if "id" not in given:
        _check_id(hook_id, found)
    command = values.get("execute-command") or ""
    if not command and "execute-command" not in given:
        # handleHook: exec.LookPath("") fails, after the answer unless the
        # hook waits for the command's output.
        found.warn(
            "execute-command",
            "is missing or empty: webhook finds no program to run, so a call it triggers runs"
            " nothing and, with include-command-output-in-response, is answered 500: name the"
            " program the hook runs",
        )
    elif any(c.isspace() for c in command):
        # What webhook logs when it cannot find such a program (handleHook).
        found.warn(
            "execute-command",
            "holds whitespace: webhook looks for a program whose name is the whole text, spaces"
            " and all; put the program's arguments in pass-arguments-to-command",
        )
    hook = _file_hook(values, source, found)
    extras = Extras() if extras_node is None else _extras(extras_node, found)
    return _Entry(label, hook_id, None if found.errors else hook, extras, found)


def _go_upper(text: str) -> str:
    # strings.ToUpper maps rune by rune; Python's str.upper can lengthen (ß -> SS).
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def _file_hook(values: Mapping[str, Any], source: str, found: _Findings) -> FileHook:
    methods = []
    for index, method in enumerate(values.get("http-methods") or ()):
        # webhook compares r.Method == strings.ToUpper(strings.TrimSpace(m)) (hookHandler).
        normal = _go_upper(method.strip())
        if not HTTP_TOKEN.fullmatch(normal):
            found.warn(
                f"http-methods[{index}]",
                f"{method!r} is not an HTTP method name, so no call's method is it (webhook"
                " answers 405 to a call whose method no entry names): write each method as an"
                " entry of its own",
            )
        methods.append(normal)
    headers = []
    for index, given in enumerate(values.get("response-headers") or ()):
        name, value = given.get("name") or "", given.get("value")
        at = f"response-headers[{index}]"
        if value is None:
            found.warn(
                _join(at, "value"),
                "is missing: webhook sends the header with an empty value: give the header's"
                " value",
            )
            value = ""
        if re.search("[\r\n]", value):
            found.warn(
                _join(at, "value"),
                "holds a line break, which webhook sends as a space: write the value on one line",
            )
        if "\0" in value:
            found.warn(
                _join(at, "value"),
                "holds a NUL, which webhook sends as it is and many clients refuse: remove it",
            )
        # webhook Sets each header; Go's net/http (Header.writeSubset) then
        # drops a name that is no token, makes line breaks spaces and trims
        # the value. The hook holds what goes out.
        if not name:
            found.warn(
                _join(at, "name"),
                "is missing: webhook never sends a header without a name: give the header's name",
            )
        elif not HTTP_TOKEN.fullmatch(name):
            found.warn(
                _join(at, "name"),
                f"{name!r} is not an HTTP header name, so webhook never sends the header: write"
                " the name alone, in letters, digits and -",
            )
        else:
            headers.append(Header(name, re.sub("[\r\n]", " ", value).strip(" \t\r\n")))
    for key in ("success-http-response-code", "trigger-rule-mismatch-http-response-code"):
        _status_code(values.get(key) or 0, key, found)
    json_arguments = _arguments(
        values.get("parse-parameters-as-json"), "parse-parameters-as-json", found, _JSON
    )
    for index, argument in enumerate(json_arguments):
        if argument.source in SOURCES and argument.source not in JSON_SOURCES:
            found.warn(
                f"parse-parameters-as-json[{index}].source",
                f"webhook parses JSON in {', '.join(sorted(JSON_SOURCES))} values only: for a"
                f" {argument.source} source it logs an error on every call and goes on",
            )
    rule_values = values.get("trigger-rule")
    return FileHook(
        id=values.get("id") or "",
        execute_command=values.get("execute-command") or "",
        source=source,
        command_working_directory=values.get("command-working-directory") or "",
        response_message=values.get("response-message") or "",
        response_headers=tuple(headers),
        include_command_output_in_response=bool(values.get("include-command-output-in-response")),
        include_command_output_in_response_on_error=bool(
            values.get("include-command-output-in-response-on-error")
        ),
        pass_environment_to_command=_arguments(
            values.get("pass-environment-to-command"),
            "pass-environment-to-command",
            found,
            _ENVIRONMENT,
        ),
        pass_arguments_to_command=_arguments(
            values.get("pass-arguments-to-command"), "pass-arguments-to-command", found, _PASSED
        ),
        pass_file_to_command=_arguments(
            values.get("pass-file-to-command"), "pass-file-to-command", found, _FILE
        ),
        parse_parameters_as_json=json_arguments,
        trigger_rule=None if rule_values is None else _rule(rule_values, "trigger-rule", found),
        trigger_rule_mismatch_http_response_code=(
            values.get("trigger-rule-mismatch-http-response-code") or 0
        ),
        trigger_signature_soft_failures=bool(values.get("trigger-signature-soft-failures")),
        incoming_payload_content_type=values.get("incoming-payload-content-type") or "",
        success_http_response_code=values.get("success-http-response-code") or 0,
        http_methods=tuple(methods),
    )


# -- hookdaemon's own settings -------------------------------------------------------


def _extras(node: _Node, found: _Findings) -> Extras:
    """
    The C{hookdaemon} object: ours, so unlike webhook's properties an unknown
    key is an error. webhook never reads it, but turns it into JSON all the same.
    """
    _unjsonable(node, EXTRAS_KEY, found)
    if isinstance(node, _Scalar) and node.value is None:
        return Extras()
    if not isinstance(node, _Map):
        found.error(EXTRAS_KEY, f"must be an object of hookdaemon settings, not {_kind(node)}")
        return Extras()
    for key, message in node.notes:
        found.warn(_join(EXTRAS_KEY, key), message)
    readers: dict[str, Callable[[_Node, str], Any]] = {
        "timeout": lambda n, at: _seconds(n, at, found, "600"),
        "kill_grace": lambda n, at: _seconds(n, at, found, "10"),
        "burst": lambda n, at: _choice(n, at, found, ("coalesce", "queue")),
        "max_queued": lambda n, at: _count(n, at, found, "100"),
        "history": lambda n, at: _count(n, at, found, "50"),
        "rate": lambda n, at: _rate(n, at, found),
        "env": lambda n, at: _env(n, at, found),
        "allow_from": lambda n, at: _allow_from(n, at, found),
    }
    for key in REPORTING_EXTRAS:
        readers[key] = lambda n, at: _reporting_text(n, at, found)
    read: dict[str, Any] = {}
    for key, value in node.items:
        at = _join(EXTRAS_KEY, key)
        if key not in readers:
            found.error(
                at, f"is not a hookdaemon setting; the settings are {', '.join(EXTRAS_KEYS)}"
            )
        elif not (isinstance(value, _Scalar) and value.value is None):
            read[key] = readers[key](value, at)
    reporting = {key: read.pop(key) for key in REPORTING_EXTRAS if read.get(key) is not None}
    kept = {key: value for key, value in read.items() if value is not None}
    return Extras(**kept, reporting=reporting)


def _reporting_text(node: _Node, at: str, found: _Findings) -> str | None:
    """
    A reporting key's text, as tap.cfg would hold it: C{notify} may list URLs
    (one per line there). Never quoted in a message: it may be a token.
    """
    if isinstance(node, _Scalar) and isinstance(node.value, str):
        return node.value
    if (
        at == _join(EXTRAS_KEY, "notify")
        and isinstance(node, _Seq)
        and all(isinstance(item, _Scalar) and isinstance(item.value, str) for item in node.items)
    ):
        return "\n".join(str(item.value) for item in node.items if isinstance(item, _Scalar))
    many = " or a list of texts" if at == _join(EXTRAS_KEY, "notify") else ""
    found.error(at, f"must be text{many}; quote it")
    return None


def _seconds(node: _Node, at: str, found: _Findings, example: str) -> float | None:
    value = node.value if isinstance(node, _Scalar) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        found.error(at, f"must be a positive number of seconds, such as {example}")
        return None
    return float(value)


def _count(node: _Node, at: str, found: _Findings, example: str) -> int | None:
    value = node.value if isinstance(node, _Scalar) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        found.error(at, f"must be a whole number, at least 1, such as {example}")
        return None
    return value


def _choice(node: _Node, at: str, found: _Findings, choices: tuple[str, ...]) -> str | None:
    value = node.value if isinstance(node, _Scalar) else None
    if value not in choices:
        found.error(at, f"must be {' or '.join(choices)}")
        return None
    assert isinstance(value, str)
    return value


def _rate(node: _Node, at: str, found: _Findings) -> Rate | None:
    value = node.value if isinstance(node, _Scalar) else None
    if not isinstance(value, str):
        found.error(at, 'must be text such as "10/minute"')
        return None
    try:
        return parse_rate(value.strip())
    except ValueError as e:
        found.error(at, f"{value!r} {e}")
        return None


def _env(node: _Node, at: str, found: _Findings) -> dict[str, str] | None:
    if not isinstance(node, _Map):
        found.error(at, "must be an object of NAME: value")
        return None
    for key, message in node.notes:
        found.warn(_join(at, key), message)
    env = {}
    for key, value in node.items:
        if not SHELL_NAME.fullmatch(key):
            found.error(
                at,
                f"{key!r} is not a variable name: letters, digits and _, not first a digit",
            )
        elif not (isinstance(value, _Scalar) and isinstance(value.value, str)):
            found.error(_join(at, key), "must be text; quote it")
        else:
            env[key] = value.value
    return env


def _allow_from(node: _Node, at: str, found: _Findings) -> tuple[Network, ...] | None:
    if not isinstance(node, _Seq):
        found.error(at, 'must be a list of addresses and CIDR networks, such as ["192.0.2.0/24"]')
        return None
    networks = []
    for index, item in enumerate(node.items):
        where = f"{at}[{index}]"
        if not (isinstance(item, _Scalar) and isinstance(item.value, str)):
            found.error(where, f"must be an address or a CIDR network as text, not {_kind(item)}")
            continue
        try:
            networks.append(network(item.value.strip()))
        except ValueError as e:
            found.error(where, f"{item.value!r} {e}")
    return tuple(networks)


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# -- the whole file -------------------------------------------------------------------


def load_hooks(
    source: str, text: str
) -> tuple[tuple[LoadedHook, ...], tuple[HooksFileProblem, ...], tuple[HooksFileProblem, ...]]:
    """
    The hooks a hooks file's text defines (its templates already rendered),
    with every problem and warning in it. A hook with a problem is left out.

    Problems are what makes webhook refuse the whole file (a value of the
    wrong type, a file that is not a list, text that is no YAML...), an id
    holding a control character, and mistakes in hookdaemon's own
    C{hookdaemon} object: a file that webhook loads loads here too.
    Warnings: what webhook reads other than written (a YAML C{yes} as text,
    a key written twice), what it ignores, and a hook it loads but then
    answers oddly on every call (an unknown match type, a regex Go refuses,
    a missing secret or id, an id used twice...). Such a hook is kept, with
    webhook's values, so that it answers as webhook's does; C{--strict}
    refuses to start on any warning.
    """
    problems: list[HooksFileProblem] = []
    notes: list[HooksFileProblem] = []
    try:
        root, file_warnings = _read(source, text)
    except _FileError as e:
        return (), (HooksFileProblem(source, "", "", str(e)),), ()
    notes += (HooksFileProblem(source, "", "", w) for w in file_warnings)
    if isinstance(root, _Scalar) and root.value is None:
        root = None  # null, ~: webhook finds 0 hooks
    if root is None or (isinstance(root, _Seq) and not root.items):
        notes.append(HooksFileProblem(source, "", "", "holds no hooks"))
        return (), tuple(problems), tuple(notes)
    if not isinstance(root, _Seq):
        problems.append(
            HooksFileProblem(
                source,
                "",
                "",
                f"must be a list of hooks, not {_kind(root)}, or webhook refuses it"
                " (json: cannot unmarshal ... into Go value of type hook.Hooks); in JSON put"
                " the hooks in [ ], in YAML start each with -",
            )
        )
        return (), tuple(problems), tuple(notes)
    loaded: list[LoadedHook] = []
    first: dict[str, int] = {}
    repeats: dict[str, list[int]] = {}
    for index, node in enumerate(root.items, 1):
        try:
            entry = _entry(index, node, source)
        except RecursionError:
            problems.append(
                HooksFileProblem(source, f"#{index}", "", "nests rules too deeply to be read")
            )
            continue
        problems += (HooksFileProblem(source, entry.label, p, m) for p, m in entry.found.errors)
        notes += (HooksFileProblem(source, entry.label, p, m) for p, m in entry.found.warnings)
        if entry.hook is None and not entry.id:
            continue  # not a hook (webhook refuses the file), or one nobody can name
        if entry.id in first:
            repeats.setdefault(entry.id, [first[entry.id]]).append(index)
            continue
        first[entry.id] = index
        if entry.hook is not None:
            loaded.append(LoadedHook(entry.hook, entry.extras))
    for hook_id, places in repeats.items():
        # webhook.go's main checks ids only against other files' hooks, and
        # Hooks.Match finds the first: it serves the first of these and never
        # the others, as hookdaemon does. Its reloadHooks refuses the file
        # (seenHooksIds), keeping the hooks it had.
        numbers = [f"#{n}" for n in places]
        what = "the id" if hook_id else "the empty id"
        notes.append(
            HooksFileProblem(
                source,
                hook_id if hook_id.isprintable() and hook_id else numbers[0],
                "id",
                f"is {what} of hooks {_listed(numbers)}: webhook serves only the first"
                f" ({numbers[0]}), and so does hookdaemon; webhook refuses the file when it"
                " reloads it: give each hook its own id",
            )
        )
    return tuple(loaded), tuple(problems), tuple(notes)
