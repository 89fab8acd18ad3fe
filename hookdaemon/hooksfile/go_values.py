"""
Go's renderings of the values webhook decodes, which reach commands and rules
unchanged: encoding/json's Marshal (C{entire-payload}, a map or list read by
C{payload}) and fmt's C{%v} (every other value), as webhook 2.8.0's hook.go
ExtractParameterAsString chooses between them.

The Debian webhook 2.8.0 this reproduces was built with Go 1.19.8
(C{go version -m /usr/bin/webhook}); the escapes below are Go 1.19's (Go 1.22
began writing C{\\b} and C{\\f} instead of C{\\u0008} and C{\\u000c}).

It also decodes JSON as webhook does (L{decode_first}): a json.Decoder with
UseNumber that reads the first value of its input and ignores what follows
(request.go ParseJSONPayload, hook.go ParseJSONParameters, webhook.go's
multipart file parts). Go differs from Python's json where it matters: NaN and
Infinity are errors, bytes that are not UTF-8 inside a string become U+FFFD
(one per byte), as does a lone surrogate escape, and nesting deeper than 10000
is an error. Python's C decoder does the work; a small iterative parser takes
over when a document nests deeper than Python's recursion allows.

Strings are Go strings held as Python text: bytes that are not UTF-8 (a form
value's C{%FF}, a header's Latin-1) are kept as surrogate escapes, so
C{s.encode("utf-8", "surrogateescape")} gives Go's bytes back, and C{go_json}
writes each of them as C{\\ufffd} as Go does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from attrs import frozen


@frozen
class JSONNumber:
    """
    A JSON number as webhook keeps it: its literal text (webhook decodes with
    json.Decoder.UseNumber, so C{1.50} stays C{1.50} and C{1e3} stays C{1e3}).
    """

    literal: str

    def __str__(self) -> str:
        return self.literal


@frozen
class NilMap:
    """
    Go's nil C{map[string]interface{}}: what webhook stores for a multipart file
    part it could not decode as a JSON object (webhook.go hookHandler assigns
    the nil map it decoded into). It renders as C{null} where a JSON null
    renders as C{<nil>}, and has no keys.
    """


NIL_MAP = NilMap()


class UnsupportedValueError(ValueError):
    """A value encoding/json refuses (NaN or an infinity), or one Go could not hold."""


_HEX = "0123456789abcdef"


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch in '"\\':
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    if code < 0x20 or ch in "<>&":
        # encoding/json encodeState.string: other control bytes, and with
        # escapeHTML (Marshal's default) <, > and &, as \u00XX.
        return "\\u00" + _HEX[code >> 4] + _HEX[code & 0xF]
    if ch in "\u2028\u2029":
        return "\\u202" + _HEX[code & 0xF]
    if 0xD800 <= code <= 0xDFFF:
        # A byte that was not UTF-8 (held as a surrogate escape): Go writes
        # \ufffd for each such byte (utf8.RuneError with size 1).
        return "\\ufffd"
    return ch


_ESCAPES = {chr(c): _escape_char(chr(c)) for c in range(0x80)}
_ESCAPES.update({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json_string(s: str) -> str:
    if s.isascii() and s.isprintable() and not any(c in s for c in '"\\<>&'):
        return '"' + s + '"'
    out = []
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is None:
            esc = _escape_char(ch) if 0xD800 <= ord(ch) <= 0xDFFF else ch
        out.append(esc)
    return '"' + "".join(out) + '"'


def _shortest(f: float) -> tuple[str, int]:
    """The shortest digits that round-trip (as strconv's -1 precision) and the decimal exponent."""
    sign_digits = Decimal(repr(abs(f))).normalize().as_tuple()
    digits = "".join(map(str, sign_digits.digits))
    exponent = int(sign_digits.exponent) + len(digits) - 1
    return digits, exponent


def _exponent_form(f: float, digits: str, exponent: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if f < 0 else ""
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _plain_form(f: float) -> str:
    text = format(Decimal(repr(f)).normalize(), "f")
    return text


def _go_float(f: float) -> str:
    """encoding/json floatEncoder for a float64: 'f' format, 'e' outside [1e-6, 1e21)."""
    if math.isnan(f) or math.isinf(f):
        raise UnsupportedValueError(f"json: unsupported value: {f!r}")
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    if 1e-6 <= abs(f) < 1e21:
        return _plain_form(f)
    text = _exponent_form(f, *_shortest(f))
    # floatEncoder cleans e-09 up to e-9 (positive exponents keep two digits).
    if len(text) >= 4 and text[-4:-1] in ("e-0",):
        text = text[:-2] + text[-1]
    return text


def _go_g(f: float) -> str:
    """fmt's %v of a float64: strconv 'g', shortest digits (%e below 1e-4 and from 1e6)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    digits, exponent = _shortest(f)
    # strconv formatDigits: with the shortest digits, %e when the exponent is
    # below -4 or at least 6 (eprec = 6).
    if exponent < -4 or exponent >= 6:
        return _exponent_form(f, digits, exponent)
    return _plain_form(f)


def _key_bytes(key: str) -> bytes:
    # Go sorts a map's keys as byte strings (encoding/json mapEncoder).
    return (
        key.encode("utf-8", "surrogateescape")
        if _escapable(key)
        else key.encode("utf-8", "surrogatepass")
    )


def _escapable(s: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDC7F for c in s)


def go_json(value: Any) -> str:
    """
    encoding/json Marshal of a decoded value: compact, map keys sorted,
    HTML-safe escapes, Go 1.19's escapes for control characters.
    """
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


class _Text(str):
    """Output already rendered, on the encoder's stack beside values still to encode."""


def _encode(value: Any, out: list[str]) -> None:
    # An explicit stack: decoded documents may nest up to Go's 10000 levels.
    stack: list[Any] = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, _Text):
            out.append(value)
        elif value is None or isinstance(value, NilMap):
            out.append("null")
        elif value is True:
            out.append("true")
        elif value is False:
            out.append("false")
        elif isinstance(value, JSONNumber):
            out.append(value.literal)
        elif isinstance(value, str):
            out.append(_json_string(value))
        elif isinstance(value, int):
            out.append(str(value))
        elif isinstance(value, float):
            out.append(_go_float(value))
        elif isinstance(value, Mapping):
            items: list[Any] = [_Text("{")]
            for index, key in enumerate(sorted(value, key=_key_bytes)):
                items.append(_Text(("," if index else "") + _json_string(key) + ":"))
                items.append(value[key])
            items.append(_Text("}"))
            stack.extend(reversed(items))
        elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
            items = [_Text("[")]
            for index, item in enumerate(value):
                if index:
                    items.append(_Text(","))
                items.append(item)
            items.append(_Text("]"))
            stack.extend(reversed(items))
        else:
            raise UnsupportedValueError(f"json: unsupported type: {type(value).__name__}")


def is_composite(value: Any) -> bool:
    """A Go map or slice (what ExtractParameterAsString renders as JSON)."""
    if isinstance(value, NilMap | Mapping):
        return True
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def go_format(value: Any) -> str:
    """
    fmt's C{%v} of a value that is not a map or slice: strings as they are, a
    JSON number's literal, true/false, C{<nil>} for a JSON null.
    """
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, JSONNumber):
        return value.literal
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_g(value)
    if is_composite(value):
        return go_json(value)
    return str(value)


def parameter_string(value: Any) -> str:
    """hook.go ExtractParameterAsString: JSON for maps and slices, %v for the rest."""
    return go_json(value) if is_composite(value) else go_format(value)


# --- decoding -------------------------------------------------------------

MAX_DEPTH = 10000
"""encoding/json's scanner refuses deeper nesting (maxNestingDepth, Go 1.17+)."""


class JSONDecodeError(ValueError):
    """The input holds no JSON value Go would decode."""


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise JSONDecodeError(f"invalid character {name[0]!r} looking for beginning of value")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Go's decoder into a map keeps the last of duplicate keys, as dict() does.
    return {_clean(k): v for k, v in pairs}


def _clean(s: str) -> str:
    # Bytes that were not UTF-8 (surrogate escapes of the input) and lone
    # surrogate escapes (\ud800) both become U+FFFD in Go (decode.go unquoteBytes).
    return _SURROGATE.sub("\ufffd", s) if _SURROGATE.search(s) else s


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs,
    parse_int=JSONNumber,
    parse_float=JSONNumber,
    parse_constant=_refuse_constant,
)


def decode_first(data: bytes) -> Any:
    """
    The first JSON value in C{data}, with numbers as L{JSONNumber}; raises
    L{JSONDecodeError} where Go's Decoder.Decode returns an error.
    """
    text = data.decode("utf-8", "surrogateescape")
    start = _WHITESPACE.match(text, 0)
    assert start is not None
    index = start.end()
    if index == len(text):
        raise JSONDecodeError("EOF")
    try:
        value, _end = _DECODER.raw_decode(text, index)
    except RecursionError:
        value = _IterativeParser(text, index).parse()
    except json.JSONDecodeError as e:
        raise JSONDecodeError(str(e)) from None
    return _clean_strings(value)


def _clean_strings(value: Any) -> Any:
    """Replace surrogates in the decoded strings (keys were cleaned by _pairs)."""
    if isinstance(value, str):
        return _clean(value)
    if not isinstance(value, dict | list):
        return value
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in list(items):
            if isinstance(item, str):
                if _SURROGATE.search(item):
                    node[key] = _clean(item)
            elif isinstance(item, dict | list):
                stack.append(item)
    return value


_TOKEN = re.compile(
    r"""
    [ \t\n\r]*
    (?:
      (?P<punct>[{}\[\],:])
    | (?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")
    | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)
    | (?P<literal>true|false|null)
    )
    """,
    re.VERBOSE,
)


class _IterativeParser:
    """A JSON parser without recursion, for documents nested past Python's limit."""

    def __init__(self, text: str, index: int) -> None:
        self.text = text
        self.index = index

    def _next(self) -> tuple[str, str]:
        match = _TOKEN.match(self.text, self.index)
        if match is None or match.lastgroup is None:
            raise JSONDecodeError("invalid character")
        self.index = match.end()
        return match.lastgroup, match.group(match.lastgroup)

    def _scalar(self, kind: str, token: str) -> Any:
        if kind == "string":
            return json.loads(token)
        if kind == "number":
            return JSONNumber(token)
        return {"true": True, "false": False, "null": None}[token]

    def parse(self) -> Any:
        # Each frame is a container being filled: a list, or a dict with the
        # key awaiting its value (None when a key is expected).
        stack: list[tuple[Any, list[str | None]]] = []
        expect_value = True
        while True:
            kind, token = self._next()
            if expect_value:
                if kind == "punct" and token in "{[":
                    if len(stack) >= MAX_DEPTH:
                        raise JSONDecodeError("exceeded max depth")
                    container: Any = {} if token == "{" else []
                    if stack:
                        self._add(stack, container)
                    stack.append((container, [None]))
                    if isinstance(container, dict):
                        kind, token = self._next()
                        if kind == "punct" and token == "}":
                            value: Any = stack.pop()[0]
                            if not stack:
                                return value
                            expect_value = False
                            continue
                        self._key(stack, kind, token)
                        continue
                    # An empty list closes at once.
                    save = self.index
                    kind, token = self._next()
                    if kind == "punct" and token == "]":
                        value = stack.pop()[0]
                        if not stack:
                            return value
                        expect_value = False
                        continue
                    self.index = save
                    continue
                if kind == "punct":
                    raise JSONDecodeError(f"invalid character {token!r}")
                value = self._scalar(kind, token)
                if not stack:
                    return value
                self._add(stack, value)
                expect_value = False
                continue
            container = stack[-1][0]
            if kind != "punct":
                raise JSONDecodeError("invalid character after value")
            if token == ",":
                if isinstance(container, dict):
                    kind, token = self._next()
                    self._key(stack, kind, token)
                expect_value = True
                continue
            if (token == "}" and isinstance(container, dict)) or (
                token == "]" and isinstance(container, list)
            ):
                value = stack.pop()[0]
                if not stack:
                    return value
                continue
            raise JSONDecodeError(f"invalid character {token!r}")

    def _key(self, stack: list[tuple[Any, list[str | None]]], kind: str, token: str) -> None:
        if kind != "string":
            raise JSONDecodeError("invalid character looking for beginning of object key")
        colon_kind, colon = self._next()
        if colon_kind != "punct" or colon != ":":
            raise JSONDecodeError("invalid character after object key")
        stack[-1][1][0] = _clean(json.loads(token))
        # The caller's loop continues expecting the key's value.

    def _add(self, stack: list[tuple[Any, list[str | None]]], value: Any) -> None:
        container, key = stack[-1]
        if isinstance(container, dict):
            assert key[0] is not None
            container[key[0]] = value
            key[0] = None
        else:
            container.append(value)
