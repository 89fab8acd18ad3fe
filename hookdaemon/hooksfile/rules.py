"""
webhook 2.8.0's trigger rules (internal/hook/hook.go Rules.Evaluate and the
And, Or, Not and Match rules), evaluated over a L{model.WebhookRequest}.

L{evaluate} gives what hookHandler decides on: true runs the hook, false
answers "Hook rules were not satisfied.", and L{RuleError} is where webhook's
Evaluate returns an error that is not a ParameterNodeError, which it answers
500 "Error occurred while evaluating hook rules.".

Regular expressions are Go's RE2 syntax; L{regex_problem} says when a pattern
is one Go refuses or one hookdaemon cannot run as RE2 means it, so that
loading a hooks file warns of it (webhook compiles each pattern per request
and answers 500 on every request that reaches a bad one, as L{evaluate} does).
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable
from typing import Any

import re2

from hookdaemon.hooksfile import model
from hookdaemon.hooksfile.request import argument_value

__all__ = ["RuleError", "check_ip_whitelist", "evaluate", "regex_problem"]


class RuleError(Exception):
    """
    A rule webhook's Evaluate fails on (a bad regex, an empty secret, a
    C{request} argument it does not know, a Date it cannot parse...). The
    reason is one line and never holds a secret or a signature.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Outcome = tuple[bool, Exception | None]


def evaluate(
    rule: model.Rule, request: model.WebhookRequest, soft_signature_failures: bool
) -> bool:
    """
    The rule's outcome as hookHandler takes it: a ParameterNodeError beside a
    result leaves the result (C{not} of a missing header is true), any other
    error raises L{RuleError}.
    """
    ok, error = _evaluate(rule, request, soft_signature_failures)
    if error is not None and not isinstance(error, model.ParameterNodeError):
        if isinstance(error, RuleError):
            raise error
        raise RuleError(_reason(error))
    return ok


def _reason(error: Exception) -> str:
    if isinstance(error, model.SignatureError):
        return "invalid payload signature"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _evaluate(rule: model.Rule, request: model.WebhookRequest, soft: bool) -> Outcome:
    if isinstance(rule, model.And):
        # AndRule.Evaluate: any error (a ParameterNodeError too) ends it false.
        for child in rule.rules:
            ok, error = _evaluate(child, request, soft)
            if error is not None:
                return False, error
            if not ok:
                return False, None
        return True, None
    if isinstance(rule, model.Or):
        # OrRule.Evaluate: a ParameterNodeError, and with soft signature
        # failures a SignatureError, is passed over (its result still counts).
        for child in rule.rules:
            ok, error = _evaluate(child, request, soft)
            passed_over = isinstance(error, model.ParameterNodeError) or (
                soft and isinstance(error, model.SignatureError)
            )
            if error is not None and not passed_over:
                return False, error
            if ok:
                return True, None
        return False, None
    if isinstance(rule, model.Not):
        ok, error = _evaluate(rule.rule, request, soft)
        return not ok, error
    if isinstance(rule, model.Match):
        return _match(rule, request)
    return False, None


_HASHES: dict[str, tuple[str, Callable[[], Any]]] = {
    "payload-hmac-sha1": ("sha1=", hashlib.sha1),
    "payload-hash-sha1": ("sha1=", hashlib.sha1),
    "payload-hmac-sha256": ("sha256=", hashlib.sha256),
    "payload-hash-sha256": ("sha256=", hashlib.sha256),
    "payload-hmac-sha512": ("sha512=", hashlib.sha512),
    "payload-hash-sha512": ("sha512=", hashlib.sha512),
}


def _match(rule: model.Match, request: model.WebhookRequest) -> Outcome:
    if rule.type == "ip-whitelist":
        try:
            return check_ip_whitelist(request.client, rule.ip_range), None
        except ValueError as e:
            return False, RuleError(str(e))
    if rule.type == "scalr-signature":
        return _scalr(request, rule.secret)
    try:
        value = argument_value(rule.parameter, request)
    except (model.ParameterNodeError, model.ArgumentError) as e:
        return False, e
    if rule.type == "value":
        # hook.go compare: subtle.ConstantTimeCompare.
        return hmac.compare_digest(_bytes(value), _bytes(rule.value)), None
    if rule.type == "regex":
        try:
            pattern = _compiled(rule.regex)
        except RuleError as e:
            return False, e
        return pattern.search(_subject(value)) is not None, None
    if rule.type in _HASHES:
        prefix, digest = _HASHES[rule.type]
        return _check_signature(request.body, rule.secret, value, prefix, digest)
    # A type hook.go's switch does not name: false, no error.
    return False, None


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _subject(text: str) -> str:
    # Go matches runes decoded from UTF-8: a byte that is not UTF-8 is U+FFFD.
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def extract_signatures(source: str, prefix: str) -> list[str]:
    """
    hook.go ExtractSignatures: with a comma, every part that starts with the
    prefix (without it); else the whole value with the prefix trimmed.
    """
    if "," in source:
        return [part[len(prefix) :] for part in source.split(",") if part.startswith(prefix)]
    return [source[len(prefix) :] if source.startswith(prefix) else source]


def _check_signature(
    body: bytes, secret: str, signature: str, prefix: str, digest: Callable[[], Any]
) -> Outcome:
    """hook.go CheckPayloadSignature*, ValidateMAC: lower-case hex, constant-time."""
    if not secret:
        return False, RuleError("signature validation secret can not be empty")
    expected = hmac.new(_bytes(secret), body, digest).hexdigest().encode()
    for candidate in extract_signatures(signature, prefix):
        if hmac.compare_digest(_bytes(candidate), expected):
            return True, None
    return False, model.SignatureError("invalid payload signature")


def _scalr(request: model.WebhookRequest, secret: str) -> Outcome:
    """hook.go CheckScalrSignature, with the date checked (checkDate true)."""
    headers = request.headers
    if "X-Signature" not in headers or "Date" not in headers:
        return False, None
    if not secret:
        return False, RuleError("signature validation signing key can not be empty")
    provided, date = headers["X-Signature"], headers["Date"]
    if not isinstance(provided, str) or not isinstance(date, str):
        # Go's type assertion panics on a header parse-parameters-as-json replaced.
        return False, RuleError("scalr-signature: a header is not a string")
    mac = hmac.new(_bytes(secret), request.body + _bytes(date), hashlib.sha1)
    if not hmac.compare_digest(_bytes(provided), mac.hexdigest().encode()):
        return False, model.SignatureError("invalid payload signature")
    try:
        when = parse_scalr_date(date)
    except ValueError as e:
        return False, RuleError(str(e))
    if abs(request.received_at - when) > 300:
        return False, model.SignatureError("outdated")
    return True, None


# --- scalr's Date: time.Parse("Mon 02 Jan 2006 15:04:05 MST", value) ----------

_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text

    def bad(self) -> ValueError:
        return ValueError("scalr-signature: cannot parse the Date header")

    def space(self) -> None:
        # time.skip: a space in the layout takes one or more spaces, or none
        # at the end of the value.
        if self.text and self.text[0] != " ":
            raise self.bad()
        self.text = self.text.lstrip(" ")

    def literal(self, c: str) -> None:
        if not self.text.startswith(c):
            raise self.bad()
        self.text = self.text[1:]

    def name(self, table: tuple[str, ...]) -> int:
        for index, name in enumerate(table):
            head = self.text[: len(name)]
            if len(head) == len(name) and head.lower() == name.lower() and head.isascii():
                self.text = self.text[len(name) :]
                return index
        raise self.bad()

    def number(self, fixed: bool) -> int:
        t = self.text
        if not t[:1].isdigit() or not t[:1].isascii():
            raise self.bad()
        if not (t[1:2].isdigit() and t[1:2].isascii()):
            if fixed:
                raise self.bad()
            self.text = t[1:]
            return int(t[0])
        self.text = t[2:]
        return int(t[:2])


def _zone_length(value: str) -> int:
    """time.parseTimeZone's length, 0 when it is not a zone."""
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value[:3] == "GMT":
        return 3 + _signed_offset_length(value[3:]) if len(value) > 3 else 3
    if value[0] in "+-":
        return _signed_offset_length(value)
    upper = 0
    while upper < 6 and upper < len(value) and "A" <= value[upper] <= "Z":
        upper += 1
    if upper == 3:
        return 3
    if upper == 4 and (value[3] == "T" or value[:4] == "WITA"):
        return 4
    if upper == 5 and value[4] == "T":
        return 5
    return 0


def _signed_offset_length(value: str) -> int:
    if not value or value[0] not in "+-":
        return 0
    digits = 0
    while 1 + digits < len(value) and value[1 + digits] in "0123456789":
        digits += 1
    if digits == 0 or int(value[1 : 1 + digits]) > 23:
        return 0
    return 1 + digits


def parse_scalr_date(text: str) -> float:
    """
    Seconds since the epoch of a Scalr Date (C{Fri 08 Sep 2017 11:24:32 UTC}),
    as Go's time.Parse reads that layout: names in any case, a fractional
    second taken though the layout has none, the weekday never checked. A zone
    other than UTC counts as UTC: Go gives an abbreviation its offset only when
    the machine's local zone defines it (on a UTC machine, none), and a GMT+3
    keeps UTC's instant. Raises ValueError where Go's Parse errs.
    """
    cursor = _Cursor(text)
    cursor.name(_DAYS)
    cursor.space()
    day = cursor.number(fixed=True)
    cursor.space()
    month = cursor.name(_MONTHS) + 1
    cursor.space()
    year_text = cursor.text[:4]
    if len(year_text) < 4 or not year_text.isascii() or not year_text.isdigit():
        raise cursor.bad()
    year = int(year_text)
    cursor.text = cursor.text[4:]
    cursor.space()
    hour = cursor.number(fixed=False)
    if hour >= 24:
        raise ValueError("scalr-signature: Date hour out of range")
    cursor.literal(":")
    minute = cursor.number(fixed=True)
    if minute >= 60:
        raise ValueError("scalr-signature: Date minute out of range")
    cursor.literal(":")
    second = cursor.number(fixed=True)
    if second >= 60:
        raise ValueError("scalr-signature: Date second out of range")
    fraction = 0.0
    t = cursor.text
    if len(t) >= 2 and t[0] in ".," and t[1].isascii() and t[1].isdigit():
        n = 2
        while n < len(t) and t[n].isascii() and t[n].isdigit():
            n += 1
        fraction = int(t[1 : min(n, 10)]) / 10 ** (min(n, 10) - 1)
        cursor.text = t[n:]
    cursor.space()
    if cursor.text[:3] == "UTC":
        cursor.text = cursor.text[3:]
    else:
        length = _zone_length(cursor.text)
        if not length:
            raise cursor.bad()
        cursor.text = cursor.text[length:]
    if cursor.text:
        raise ValueError("scalr-signature: extra text after the Date")
    if not 1 <= day <= _days_in(month, year):
        raise ValueError("scalr-signature: Date day out of range")
    days = _days_from_civil(year, month, day)
    return days * 86400 + hour * 3600 + minute * 60 + second + fraction


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if calendar.isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (year 0 included)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# --- ip-whitelist -------------------------------------------------------------


def _go_ip(text: str) -> bytes | None:
    """net.ParseIP: 4 bytes for IPv4, 16 for IPv6; None where Go returns nil (zones too)."""
    if "%" in text:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return ip.packed


def _to4(ip: bytes) -> bytes | None:
    if len(ip) == 4:
        return ip
    if ip[:12] == b"\x00" * 10 + b"\xff\xff":
        return ip[12:]
    return None


def _cidr(text: str) -> tuple[bytes, bytes]:
    """net.ParseCIDR: (network, mask); ValueError as Go errs."""
    address, _, prefix = text.partition("/")
    ip = _go_ip(address)
    bits = 32 if ip is not None and "." in address and ":" not in address else 128
    if ip is None or not prefix.isascii() or not prefix.isdigit() or len(prefix) > 8:
        raise ValueError(f"invalid CIDR address: {text}")
    length = int(prefix)
    if length > bits:
        raise ValueError(f"invalid CIDR address: {text}")
    if bits == 32:
        ip = _to4(ip) or ip
    mask_int = ((1 << length) - 1) << (bits - length)
    mask = mask_int.to_bytes(bits // 8, "big")
    network = bytes(a & b for a, b in zip(ip, mask, strict=True))
    return network, mask


def _contains(network: bytes, mask: bytes, ip: bytes) -> bool:
    """net.IPNet.Contains, IPv4-in-IPv6 rules and all."""
    nn = _to4(network) or network
    m = mask
    if len(m) == 16 and len(nn) == 4:
        m = m[12:]
    elif len(m) == 4 and len(nn) != 4:
        return False
    x = _to4(ip)
    candidate = x if x is not None else ip
    if len(candidate) != len(nn):
        return False
    return all((c & k) == (n & k) for c, k, n in zip(candidate, m, nn, strict=True))


def check_ip_whitelist(client: str, ip_range: str) -> bool:
    """
    hook.go CheckIPWhitelist: each space-separated range in CIDR form, a single
    address taken as C{/32} (an IPv6 address too, as Go does: a /32 network).
    ValueError where Go errs (a client or a range it cannot parse).

    webhook checks r.RemoteAddr, the TCP peer. hookdaemon checks the request's
    client, which is that peer unless C{trusted_proxies} names the peer as a
    proxy whose X-Forwarded-For hookdaemon believes: behind such a proxy the
    peer is always the proxy, so checking it would let everything through.
    """
    ip = _go_ip(client.strip(" []"))
    if ip is None:
        raise ValueError(f"invalid IP address found in remote address {client!r}")
    for part in ip_range.split():
        network, mask = _cidr(part if "/" in part else part + "/32")
        if _contains(network, mask, ip):
            return True
    return False


# --- regex: Go's RE2 syntax on Python's re ------------------------------------

_FOLD = 1
_MULTILINE = 2
_DOTNL = 4

_WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_PERL = {
    "d": [(0x30, 0x39)],
    "s": [(0x9, 0xA), (0xC, 0xD), (0x20, 0x20)],
    "w": _WORD,
}
_POSIX = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x0, 0x7F)],
    "blank": [(0x9, 0x9), (0x20, 0x20)],
    "cntrl": [(0x0, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x9, 0xD), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": _WORD,
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_WORD_CLASS = "[0-9A-Za-z_]"
_BOUNDARY = f"(?:(?<={_WORD_CLASS})(?!{_WORD_CLASS})|(?<!{_WORD_CLASS})(?={_WORD_CLASS}))"
_NOT_BOUNDARY = f"(?:(?<={_WORD_CLASS})(?={_WORD_CLASS})|(?<!{_WORD_CLASS})(?!{_WORD_CLASS}))"
_MAX_RUNE = 0x10FFFF


class _RefusedError(ValueError):
    """A pattern Go accepts but this translation cannot run as Go would."""


class _GoError(ValueError):
    """A pattern Go's regexp.Compile refuses, with Go's message."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


def _negate(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    nxt = 0
    for lo, hi in sorted(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= _MAX_RUNE:
        out.append((nxt, _MAX_RUNE))
    return out


def _class_text(ranges: list[tuple[int, int]], negated: bool, fold: bool) -> str:
    if not ranges:
        text = "[^\\x00-\\U0010ffff]" if not negated else "[\\x00-\\U0010ffff]"
    else:
        items = "".join(
            f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges
        )
        text = f"[{'^' if negated else ''}{items}]"
    return f"(?i:{text})" if fold else text


class _Unit:
    """A piece of the translation a repetition can apply to."""

    def __init__(self, text: str, repeats: list[Any] | None = None, repeated: bool = False):
        self.text = text
        # Nested {n,m} repeats, for Go's repeatIsValid (products over 1000 fail).
        self.repeats: list[Any] = repeats or []
        self.repeated = repeated


def _repeat_valid(tree: list[Any], n: int) -> bool:
    """regexp/syntax repeatIsValid over the nested {min,max} repeats of a unit."""
    for node in tree:
        lo, hi, children = node
        m = hi
        if m == 0:
            continue
        if m < 0:
            m = lo
        if m > n:
            return False
        if not _repeat_valid(children, n // m if m > 0 else n):
            return False
    return True


class _Translator:
    """Go's regexp/syntax parse (Perl flags) walked once, writing Python's re."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def translate(self) -> str:
        t = self.pattern
        flags = 0
        # Stack of open groups: (saved flags, alternatives so far, current units, opener).
        stack: list[tuple[int, list[list[_Unit]], list[_Unit], str]] = []
        alternatives: list[list[_Unit]] = []
        units: list[_Unit] = []
        last_repeat = ""
        i = 0
        while i < len(t):
            repeat = ""
            c = t[i]
            if c == "(":
                if t.startswith("(?", i):
                    if t.startswith("(?P<", i):
                        end = t.find(">", i)
                        name = t[i + 4 : end] if end >= 0 else ""
                        if end < 0 or not name or not re.fullmatch(r"[0-9A-Za-z_]+", name):
                            raise _GoError(
                                "invalid named capture", t[i : end + 1 if end >= 0 else len(t)]
                            )
                        stack.append((flags, alternatives, units, "(?:"))
                        alternatives, units = [], []
                        i = end + 1
                    else:
                        i, new_flags, opens = self._perl_flags(t, i, flags)
                        if opens:
                            stack.append((flags, alternatives, units, "(?:"))
                            alternatives, units = [], []
                        flags = new_flags
                    last_repeat = ""
                    continue
                stack.append((flags, alternatives, units, "(?:"))
                alternatives, units = [], []
                i += 1
            elif c == "|":
                alternatives.append(units)
                units = []
                i += 1
            elif c == ")":
                if not stack:
                    raise _GoError("unexpected )", t)
                alternatives.append(units)
                text = "|".join("".join(u.text for u in alt) for alt in alternatives)
                repeats = [r for alt in alternatives for u in alt for r in u.repeats]
                flags, alternatives, units, opener = stack.pop()
                units.append(_Unit(f"{opener}{text})", repeats))
                i += 1
            elif c == "^":
                units.append(_Unit("(?m:^)" if flags & _MULTILINE else "\\A"))
                i += 1
            elif c == "$":
                units.append(_Unit("(?m:$)" if flags & _MULTILINE else "\\Z"))
                i += 1
            elif c == ".":
                units.append(_Unit("[\\x00-\\U0010ffff]" if flags & _DOTNL else "[^\\n]"))
                i += 1
            elif c == "[":
                i, text = self._class(t, i, flags)
                units.append(_Unit(text))
            elif c in "*+?":
                before = i
                i += 1
                if i < len(t) and t[i] == "?":
                    i += 1
                if last_repeat:
                    raise _GoError("invalid nested repetition operator", last_repeat + t[before:i])
                self._apply(units, c, None, t[before:i])
                repeat = t[before:i]
            elif c == "{":
                parsed = _parse_repeat(t, i)
                if parsed is None:
                    units.append(_Unit("\\{"))
                    i += 1
                else:
                    lo, hi, end = parsed
                    if lo < 0 or lo > 1000 or hi > 1000 or (hi >= 0 and lo > hi):
                        raise _GoError("invalid repeat count", t[i:end])
                    before = i
                    i = end
                    if i < len(t) and t[i] == "?":
                        i += 1
                    if last_repeat:
                        raise _GoError(
                            "invalid nested repetition operator", last_repeat + t[before:i]
                        )
                    quantifier = f"{{{lo}}}" if lo == hi else f"{{{lo},{'' if hi < 0 else hi}}}"
                    self._apply(units, quantifier, (lo, hi), t[before:i])
                    repeat = t[before:i]
            elif c == "\\":
                i, unit = self._escape(t, i, flags)
                units.append(unit)
            else:
                units.append(_Unit(_literal(c, flags)))
                i += 1
            last_repeat = repeat
        if stack:
            raise _GoError("missing closing )", t)
        alternatives.append(units)
        return "|".join("".join(u.text for u in alt) for alt in alternatives)

    def _apply(
        self, units: list[_Unit], quantifier: str, counts: tuple[int, int] | None, expr: str
    ) -> None:
        if not units:
            raise _GoError("missing argument to repetition operator", expr)
        unit = units[-1]
        tree = unit.repeats if counts is None else [[counts[0], counts[1], unit.repeats]]
        if counts is not None and max(counts) >= 2 and not _repeat_valid(tree, 1000):
            raise _GoError("invalid repeat count", expr)
        units[-1] = _Unit(f"(?:{unit.text}){quantifier}", tree, repeated=True)

    def _perl_flags(self, t: str, i: int, flags: int) -> tuple[int, int, bool]:
        """Decoder of (?flags) and (?flags:...); returns (position, flags, opens a group)."""
        j = i + 2
        sign = 1
        saw = False
        new = flags
        while j < len(t):
            c = t[j]
            j += 1
            bit = {"i": _FOLD, "m": _MULTILINE, "s": _DOTNL, "U": 0}.get(c)
            if bit is not None:
                new = new | bit if sign > 0 else new & ~bit
                saw = True
                continue
            if c == "-":
                if sign < 0:
                    break
                sign = -1
                saw = False
                continue
            if c in ":)":
                if sign < 0 and not saw:
                    break
                return j, new, c == ":"
            break
        raise _GoError("invalid or unsupported Perl syntax", t[i:j])

    def _escape(self, t: str, i: int, flags: int) -> tuple[int, _Unit]:
        if i + 1 >= len(t):
            raise _GoError("trailing backslash at end of expression", "")
        c = t[i + 1]
        if c == "A":
            return i + 2, _Unit("\\A")
        if c == "z":
            return i + 2, _Unit("\\Z")
        if c == "b":
            return i + 2, _Unit(_BOUNDARY)
        if c == "B":
            return i + 2, _Unit(_NOT_BOUNDARY)
        if c == "C":
            raise _GoError("invalid escape sequence", t[i : i + 2])
        if c == "Q":
            end = t.find("\\E", i + 2)
            literal = t[i + 2 :] if end < 0 else t[i + 2 : end]
            text = "".join(_literal(ch, flags) for ch in literal)
            return (len(t) if end < 0 else end + 2), _Unit(f"(?:{text})" if text else "(?:)")
        if c in "pP":
            raise _RefusedError("Unicode classes (\\p, \\P) are not supported")
        if c.lower() in _PERL:
            ranges = _PERL[c.lower()]
            return i + 2, _Unit(_class_text(ranges, c.isupper(), bool(flags & _FOLD)))
        code, end = _escape_char(t, i)
        return end, _Unit(_literal(chr(code), flags))

    def _class(self, t: str, i: int, flags: int) -> tuple[int, str]:
        start = i
        i += 1
        negated = False
        if i < len(t) and t[i] == "^":
            negated = True
            i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while i >= len(t) or t[i] != "]" or first:
            if i >= len(t):
                raise _GoError("missing closing ]", t[start:])
            first = False
            if t.startswith("[:", i):
                end = t.find(":]", i + 2)
                if end >= 0:
                    name = t[i + 2 : end]
                    group = _POSIX.get(name[1:] if name.startswith("^") else name)
                    if group is None:
                        raise _GoError("invalid character class range", t[i : end + 2])
                    ranges.extend(_negate(group) if name.startswith("^") else group)
                    i = end + 2
                    continue
            if t.startswith("\\", i) and i + 1 < len(t) and t[i + 1] in "pP":
                raise _RefusedError("Unicode classes (\\p, \\P) are not supported")
            if t.startswith("\\", i) and i + 1 < len(t) and t[i + 1].lower() in _PERL:
                group = _PERL[t[i + 1].lower()]
                ranges.extend(_negate(group) if t[i + 1].isupper() else group)
                i += 2
                continue
            range_start = i
            lo, i = _class_char(t, i, start)
            hi = lo
            if i + 1 < len(t) and t[i] == "-" and t[i + 1] != "]":
                hi, i = _class_char(t, i + 1, start)
                if hi < lo:
                    raise _GoError("invalid character class range", t[range_start:i])
            ranges.append((lo, hi))
        return i + 1, _class_text(ranges, negated, bool(flags & _FOLD))


def _class_char(t: str, i: int, start: int) -> tuple[int, int]:
    if i >= len(t):
        raise _GoError("missing closing ]", t[start:])
    if t[i] == "\\":
        return _escape_char(t, i)
    return ord(t[i]), i + 1


def _escape_char(t: str, i: int) -> tuple[int, int]:
    """regexp/syntax parseEscape for one character: (code point, next position)."""
    if i + 1 >= len(t):
        raise _GoError("trailing backslash at end of expression", "")
    c = t[i + 1]
    j = i + 2
    if c.isascii() and not c.isalnum():
        return ord(c), j
    if c in "1234567" and not (j < len(t) and t[j] in "01234567"):
        raise _GoError("invalid escape sequence", t[i:j])
    if c in "01234567":
        value = int(c)
        for _ in range(2):
            if j < len(t) and t[j] in "01234567":
                value = value * 8 + int(t[j])
                j += 1
        return value, j
    if c == "x":
        if j < len(t) and t[j] == "{":
            end = t.find("}", j)
            digits = t[j + 1 : end] if end >= 0 else ""
            if end < 0 or not digits or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise _GoError("invalid escape sequence", t[i : end + 1 if end >= 0 else len(t)])
            value = int(digits, 16)
            if value > _MAX_RUNE:
                raise _GoError("invalid escape sequence", t[i : end + 1])
            return value, end + 1
        pair = t[j : j + 2]
        if len(pair) == 2 and all(d in "0123456789abcdefABCDEF" for d in pair):
            return int(pair, 16), j + 2
        raise _GoError("invalid escape sequence", t[i : j + 2])
    simple = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
    if c in simple:
        return simple[c], j
    raise _GoError("invalid escape sequence", t[i:j])


def _literal(c: str, flags: int) -> str:
    text = f"\\U{ord(c):08x}" if not c.isalnum() or not c.isascii() else c
    if flags & _FOLD and c.lower() != c.upper():
        return f"(?i:{text})"
    return text


def _parse_repeat(t: str, i: int) -> tuple[int, int, int] | None:
    """regexp/syntax parseRepeat: (min, max or -1, end), None where { is a literal."""
    j = i + 1
    lo, j = _parse_int(t, j)
    if lo is None or j >= len(t):
        return None
    if t[j] != ",":
        hi = lo
    else:
        j += 1
        if j >= len(t):
            return None
        if t[j] == "}":
            hi = -1
        else:
            hi_value, j = _parse_int(t, j)
            if hi_value is None:
                return None
            hi = hi_value
            if hi < 0:
                lo = -1
    if j >= len(t) or t[j] != "}":
        return None
    return lo, hi, j + 1


def _parse_int(t: str, j: int) -> tuple[int | None, int]:
    if j >= len(t) or not ("0" <= t[j] <= "9"):
        return None, j
    if j + 1 < len(t) and t[j] == "0" and "0" <= t[j + 1] <= "9":
        return None, j  # leading zeros make it no repeat
    start = j
    while j < len(t) and "0" <= t[j] <= "9":
        j += 1
    digits = t[start:j]
    value = -1 if len(digits) > 8 else int(digits)
    return value, j


def _translate(pattern: str) -> str:
    return _Translator(pattern).translate()


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> Any:
    """
    The pattern compiled by RE2 itself (google-re2), which matches in time
    linear in the value as Go's regexp does: Python's re backtracks, and a
    pattern such as C{^(a+)+$} took it seconds on a 27-character value a
    caller chose, with the reactor held. The translation to Python's syntax
    stays the judge of what Go refuses, in Go's words; what it cannot
    express (Unicode classes) RE2 runs all the same. A C{str}: why not.
    """
    try:
        _translate(pattern)
    except _GoError as e:
        return str(e)
    except (_RefusedError, re.error):
        pass  # Go takes it; only the translation to Python's re cannot say it
    try:
        return re2.compile(pattern)
    except re2.error as e:
        return f"cannot run this RE2 pattern: {e}"


def _compiled(pattern: str) -> Any:
    compiled = _compile(pattern)
    if isinstance(compiled, str):
        raise RuleError(compiled)
    return compiled


def regex_problem(pattern: str) -> str | None:
    """
    Why a C{regex} rule's pattern cannot be used: Go's compile error (webhook
    would answer 500 to each request reaching it), or one RE2 refuses; None
    when it runs as Go's.
    """
    compiled = _compile(pattern)
    return compiled if isinstance(compiled, str) else None


def translate_regex(pattern: str) -> str:
    """The Python pattern that matches as Go's; ValueError where regex_problem says why not."""
    problem = regex_problem(pattern)
    if problem is not None:
        raise ValueError(problem)
    return _translate(pattern)
