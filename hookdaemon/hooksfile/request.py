"""
A request as adnanh/webhook 2.8.0 reads it (webhook.go hookHandler,
internal/hook/request.go), made from plain values; and the values an argument
takes from it (hook.go Argument.Get and the command's arguments, environment
and files).

Strings are Go strings held as Python text: bytes that are not UTF-8 are
surrogate escapes (see L{hookdaemon.hooksfile.go_values}). Header names and
values and the query string may be given as bytes (as Twisted has them) or as
such text.

One deliberate difference from webhook: for a multipart body webhook never
reads r.Body into its Request (hookHandler reads it only when the content type
is not multipart; ParseMultipartForm consumes it), so its signature rules
(payload-hmac-*, scalr-signature) check an HMAC of the empty string, and a
multipart request signed over nothing passes any of them. hookdaemon keeps the
bytes it received in L{WebhookRequest.body} and its signature rules check
those. C{raw-request-body} stays webhook's for a multipart body, the empty
string, so that a command gets what it got under webhook.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from hookdaemon.hooksfile import model
from hookdaemon.hooksfile.go_values import (
    NIL_MAP,
    JSONDecodeError,
    NilMap,
    decode_first,
    go_json,
    parameter_string,
)

__all__ = [
    "HandlerPanicError",
    "MultipartError",
    "argument_value",
    "canonical_header_key",
    "environment_name",
    "file_content",
    "file_environment_name",
    "get_parameter",
    "go_base64_decode",
    "go_remote_addr",
    "parse_form",
    "parse_json_payload",
    "parse_media_type",
    "parse_multipart",
    "parse_query",
    "parse_xml",
    "read_request",
]

MAX_MULTIPART_MEMORY = 1 << 20
"""webhook's -max-multipart-mem default: ParseMultipartForm's maxMemory."""


class MultipartError(ValueError):
    """
    A body webhook's ParseMultipartForm refuses: webhook answers 500
    "Error occurred while parsing multipart form." (webhook.go hookHandler).
    """


class HandlerPanicError(RuntimeError):
    """
    A request on which webhook's handler panics; chi's Recoverer then answers
    500 "Internal Server Error" (and a newline, as http.Error writes it). The
    one case: a C{parse-parameters-as-json} name with a dot, whose value
    parses (hook.go ReplaceParameter asserts the top-level *map to a map).
    """


# --- headers, addresses, query ------------------------------------------------

_TOKEN_BYTES = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


def canonical_header_key(name: str) -> str:
    """
    textproto.CanonicalMIMEHeaderKey: C{x-hub-signature} is C{X-Hub-Signature};
    a name with a byte that is not a token byte (a space) is left as it is.
    """
    if any(c not in _TOKEN_BYTES for c in name):
        return name
    out = []
    upper = True
    for c in name:
        out.append(c.upper() if upper else c.lower())
        upper = c == "-"
    return "".join(out)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def go_remote_addr(host: str, port: int) -> str:
    """
    Go's RemoteAddr (net.TCPAddr.String): C{192.0.2.1:5000},
    C{[2001:db8::1]:5000}; an IPv4-mapped IPv6 peer is written as IPv4, as
    net.IP.String does.
    """
    address, _, zone = host.partition("%")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{host}:{port}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"{ip.ipv4_mapped}:{port}"
    if isinstance(ip, ipaddress.IPv6Address):
        return f"[{ip.compressed}{'%' + zone if zone else ''}]:{port}"
    return f"{ip}:{port}"


_HEX = frozenset("0123456789abcdefABCDEF")


def _query_unescape(s: str) -> str:
    """url.QueryUnescape: C{+} is a space, C{%XX} a byte; a bad escape raises ValueError."""
    if "%" not in s and "+" not in s:
        return s
    raw = s.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:  # %
            pair = raw[i + 1 : i + 3]
            if len(pair) < 2 or not all(chr(b) in _HEX for b in pair):
                raise ValueError(f"invalid URL escape {raw[i : i + 3].decode('latin-1')!r}")
            out.append(int(pair, 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B else c)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def parse_query(text: str | bytes) -> tuple[dict[str, list[str]], str | None]:
    """
    net/url ParseQuery (Go 1.19): pairs split on C{&}; a pair holding C{;} or a
    bad escape is dropped and the first such error returned beside the values.
    """
    query = _text(text)
    values: dict[str, list[str]] = {}
    error: str | None = None
    for pair in query.split("&") if query else ():
        if ";" in pair:
            # Go 1.17 stopped taking ';' as a separator (golang.org/issue/25192);
            # the whole pair is dropped.
            error = "invalid semicolon separator in query"
            continue
        if not pair:
            continue
        key, _, value = pair.partition("=")
        try:
            key = _query_unescape(key)
            value = _query_unescape(value)
        except ValueError as e:
            if error is None:
                error = str(e)
            continue
        values.setdefault(key, []).append(value)
    return values, error


def _first_values(values: Mapping[str, list[str]]) -> dict[str, Any]:
    return {key: vs[0] for key, vs in values.items() if vs}


def _go_headers(header_lines: Iterable[tuple[str | bytes, str | bytes]]) -> dict[str, list[str]]:
    """
    The request's headers as Go's server leaves them in r.Header: canonical
    names, every value in order, Host moved out (into r.Host), and
    C{Pragma: no-cache} adding C{Cache-Control: no-cache} (net/http readRequest
    and fixPragmaCacheControl).
    """
    headers: dict[str, list[str]] = {}
    for name, value in header_lines:
        key = canonical_header_key(_text(name))
        headers.setdefault(key, []).append(_text(value).strip(" \t"))
    headers.pop("Host", None)
    # Go's readTransfer drops a chunked Transfer-Encoding once it has taken the
    # body apart (transfer.go fixTransferEncoding).
    if [v.lower() for v in headers.get("Transfer-Encoding", [])] == ["chunked"]:
        del headers["Transfer-Encoding"]
    pragma = headers.get("Pragma")
    if pragma and pragma[0] == "no-cache" and "Cache-Control" not in headers:
        headers["Cache-Control"] = ["no-cache"]
    return headers


# --- payloads -----------------------------------------------------------------


def parse_json_payload(body: bytes) -> dict[str, Any] | None:
    """
    request.go ParseJSONPayload: an object, or an array as C{{"root": [...]}};
    anything else, or an error, leaves no payload.
    """
    try:
        value = decode_first(body)
    except JSONDecodeError:
        return None
    if isinstance(value, list):
        # ParseJSONPayload looks at the first byte that is not unicode.IsSpace;
        # the decoder only skips JSON's four spaces, so whenever they disagree
        # the decoder fails anyway.
        return {"root": value}
    if isinstance(value, dict):
        return value
    return None


def decode_json_object(text: str | bytes) -> dict[str, Any] | NilMap | None:
    """
    A json.Decoder decoding into a map[string]interface{}: an object; a JSON
    null leaves the nil map (no error); None where Decode returns an error.
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    try:
        value = decode_first(data)
    except JSONDecodeError:
        return None
    if value is None:
        return NIL_MAP
    return value if isinstance(value, dict) else None


def parse_form(body: bytes) -> dict[str, Any] | None:
    """request.go ParseFormPayload: url.ParseQuery of the body; any error leaves no payload."""
    values, error = parse_query(body)
    return None if error is not None else _first_values(values)


# XML, as github.com/clbanning/mxj v1.8.4 NewMapXmlReader maps it over Go's
# encoding/xml Decoder (strict). Go's decoder knows only the five predefined
# entities and character references: a DOCTYPE is a directive it skips, never
# expands, and it reads nothing from outside; so no entity bomb and no external
# entity can reach here either.

_XML_URL = "http://www.w3.org/XML/1998/namespace"
_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:.-")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}
_ENTITY = re.compile(rb"&(?:#([0-9]+);|#x([0-9a-fA-F]+);|(lt|gt|amp|apos|quot);)")
_BAD_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACE = b" \r\n\t"


class _XMLError(ValueError):
    pass


def _name_ok(name: str) -> bool:
    """
    encoding/xml isName. Go checks XML 1.0's BaseChar/Ideographic tables;
    this takes their Unicode categories (letters first; then also digits,
    marks, C{.} C{-} and the middle dot), which agree on every ASCII name.
    """
    for index, c in enumerate(name):
        if c.isascii():
            if c.isalpha() or c in "_:":
                continue
            if index and (c.isdigit() or c in ".-"):
                continue
            return False
        category = unicodedata.category(c)
        if category in ("Lu", "Ll", "Lt", "Lo", "Nl"):
            continue
        if index and (category in ("Mn", "Mc", "Me", "Nd", "Lm") or c == "\u00b7"):
            continue
        return False
    return bool(name)


class _XMLReader:
    """Go's encoding/xml tokenizer over bytes, as far as mxj's map needs it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.ns: dict[str, str] = {}
        self.ns_undo: list[list[tuple[str, str | None]]] = []
        self.elements: list[tuple[str, str]] = []
        self.pending_end: tuple[str, str] | None = None

    def _fail(self, message: str) -> _XMLError:
        return _XMLError(f"XML syntax error: {message}")

    def _byte(self) -> int:
        if self.pos >= len(self.data):
            raise self._fail("unexpected EOF")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def _space(self) -> None:
        while self.pos < len(self.data) and self.data[self.pos] in _SPACE:
            self.pos += 1

    def _raw_name(self) -> bytes | None:
        start = self.pos
        while self.pos < len(self.data):
            b = self.data[self.pos]
            if b < 0x80 and b not in _NAME_BYTES:
                break
            self.pos += 1
        if self.pos >= len(self.data):
            raise self._fail("unexpected EOF")
        return self.data[start : self.pos] if self.pos > start else None

    def _name(self) -> str | None:
        raw = self._raw_name()
        if raw is None:
            return None
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail("invalid XML name") from None
        if not _name_ok(name):
            raise self._fail(f"invalid XML name: {name}")
        return name

    def _nsname(self) -> tuple[str, str] | None:
        """(space, local) as Decoder.nsname splits them."""
        name = self._name()
        if name is None:
            return None
        space, colon, local = name.partition(":")
        if name.count(":") > 1 or not colon or not space or not local:
            return "", name
        return space, local

    def _text(self, raw: bytes, check_entities: bool = True) -> str:
        """Decoder.text's result: entities replaced, newlines normalised, characters checked."""
        if check_entities and b"&" in raw:
            pieces: list[bytes] = []
            last = 0
            for match in _ENTITY.finditer(raw):
                if b"&" in raw[last : match.start()]:
                    raise self._fail("invalid character entity")
                pieces.append(_newlines(raw[last : match.start()]))
                decimal, hexa, named = match.groups()
                if named:
                    pieces.append(_ENTITIES[named.decode()].encode())
                else:
                    number = int(decimal or hexa, 10 if decimal else 16)
                    if number > 0x10FFFF:
                        raise self._fail("invalid character entity")
                    # string(rune(n)) is U+FFFD for a surrogate.
                    char = "\ufffd" if 0xD800 <= number <= 0xDFFF else chr(number)
                    pieces.append(char.encode("utf-8"))
                last = match.end()
            if b"&" in raw[last:]:
                raise self._fail("invalid character entity")
            pieces.append(_newlines(raw[last:]))
            data = b"".join(pieces)
        else:
            data = _newlines(raw)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail("invalid UTF-8") from None
        bad = _BAD_CHAR.search(text)
        if bad:
            raise self._fail(f"illegal character code U+{ord(bad.group()):04X}")
        return text

    def _translate(self, space: str, local: str, element: bool) -> str:
        if space == "xmlns" or (not space and not element):
            return space
        if space == "xml":
            space = _XML_URL
        elif not space and local == "xmlns":
            return space
        if space in self.ns:
            return self.ns[space]
        return space

    def token(self) -> tuple[str, Any] | None:
        """The next token as (kind, value), None at the end of the input."""
        if self.pending_end is not None:
            pending, self.pending_end = self.pending_end, None
            return self._end(pending)
        if self.pos >= len(self.data):
            if self.elements:
                raise self._fail("unexpected EOF")
            return None
        if self.data[self.pos] != 0x3C:  # text
            end = self.data.find(b"<", self.pos)
            end = len(self.data) if end < 0 else end
            raw = self.data[self.pos : end]
            if b"]]>" in raw:
                raise self._fail("unescaped ]]> not in CDATA section")
            self.pos = end
            return "text", self._text(raw)
        self.pos += 1
        b = self._byte()
        if b == 0x2F:  # </
            name = self._nsname()
            if name is None:
                raise self._fail("expected element name after </")
            self._space()
            if self._byte() != 0x3E:
                raise self._fail("invalid characters between </ and >")
            return self._end(name)
        if b == 0x3F:  # <?
            target = self._name()
            if target is None:
                raise self._fail("expected target name after <?")
            self._space()
            end = self.data.find(b"?>", self.pos)
            if end < 0:
                raise self._fail("unexpected EOF")
            content = self.data[self.pos : end].decode("utf-8", "surrogateescape")
            self.pos = end + 2
            if target == "xml":
                version = _proc_inst("version", content)
                if version and version != "1.0":
                    raise _XMLError(f"xml: unsupported version {version!r}")
                encoding = _proc_inst("encoding", content)
                if encoding and encoding.lower() != "utf-8":
                    # mxj leaves Decoder.CharsetReader nil.
                    raise _XMLError(f"xml: encoding {encoding!r} declared but no charset reader")
            return "other", None
        if b == 0x21:  # <!
            b = self._byte()
            if b == 0x2D:
                if self._byte() != 0x2D:
                    raise self._fail("invalid sequence <!- not part of <!--")
                end = self.data.find(b"--", self.pos)
                if end < 0:
                    raise self._fail("unexpected EOF")
                if end + 2 >= len(self.data):
                    raise self._fail("unexpected EOF")
                if self.data[end + 2] != 0x3E:
                    raise self._fail('invalid sequence "--" not allowed in comments')
                self.pos = end + 3
                return "other", None
            if b == 0x5B:
                if self.data[self.pos : self.pos + 6] != b"CDATA[":
                    if (
                        len(self.data) - self.pos < 6
                        and b"CDATA["[: len(self.data) - self.pos] == (self.data[self.pos :])
                    ):
                        raise self._fail("unexpected EOF")
                    raise self._fail("invalid <![ sequence")
                self.pos += 6
                end = self.data.find(b"]]>", self.pos)
                if end < 0:
                    raise self._fail("unexpected EOF in CDATA section")
                raw = self.data[self.pos : end]
                self.pos = end + 3
                return "text", self._text(raw, check_entities=False)
            self._directive()
            return "other", None
        self.pos -= 1
        name = self._nsname()
        if name is None:
            raise self._fail("expected element name after <")
        attrs: list[tuple[tuple[str, str], str]] = []
        empty = False
        while True:
            self._space()
            b = self._byte()
            if b == 0x2F:
                if self._byte() != 0x3E:
                    raise self._fail("expected /> in element")
                empty = True
                break
            if b == 0x3E:
                break
            self.pos -= 1
            attr = self._nsname()
            if attr is None:
                raise self._fail("expected attribute name in element")
            self._space()
            if self._byte() != 0x3D:
                raise self._fail("attribute name without = in element")
            self._space()
            quote = self._byte()
            if quote not in (0x22, 0x27):
                raise self._fail("unquoted or missing attribute value in element")
            end = self.data.find(bytes([quote]), self.pos)
            if end < 0:
                lt = self.data.find(b"<", self.pos)
                if lt >= 0:
                    raise self._fail("unescaped < inside quoted string")
                raise self._fail("unexpected EOF")
            raw = self.data[self.pos : end]
            if b"<" in raw:
                raise self._fail("unescaped < inside quoted string")
            self.pos = end + 1
            attrs.append((attr, self._text(raw)))
        return self._start(name, attrs, empty)

    def _directive(self) -> None:
        """Skip <!DOCTYPE ...> and the like as Go does: nested <>, quotes, comments."""
        depth = 0
        quote = 0
        while True:
            b = self._byte()
            if quote == 0 and b == 0x3E and depth == 0:
                return
            if b == quote:
                quote = 0
            elif quote:
                continue
            elif b in (0x22, 0x27):
                quote = b
            elif b == 0x3E:
                depth -= 1
            elif b == 0x3C:
                if self.data[self.pos : self.pos + 3] == b"!--":
                    end = self.data.find(b"-->", self.pos + 3)
                    if end < 0:
                        raise self._fail("unexpected EOF")
                    self.pos = end + 3
                else:
                    # Go re-reads the bytes that were not "!--" as directive bytes.
                    depth += 1

    def _start(
        self, name: tuple[str, str], attrs: list[tuple[tuple[str, str], str]], empty: bool
    ) -> tuple[str, Any]:
        undo: list[tuple[str, str | None]] = []
        for (space, local), value in attrs:
            if space == "xmlns":
                undo.append((local, self.ns.get(local)))
                self.ns[local] = value
            if not space and local == "xmlns":
                undo.append(("", self.ns.get("")))
                self.ns[""] = value
        self.ns_undo.append(undo)
        translated = self._translate(name[0], name[1], element=True)
        self.elements.append((name[1], translated))
        if empty:
            self.pending_end = name
        return "start", (name[1], [(local, value) for (_space, local), value in attrs])

    def _end(self, name: tuple[str, str]) -> tuple[str, Any]:
        translated = self._translate(name[0], name[1], element=True)
        if not self.elements:
            raise self._fail(f"unexpected end element </{name[1]}>")
        local, space = self.elements.pop()
        if local != name[1] or space != translated:
            raise self._fail(f"element <{local}> closed by </{name[1]}>")
        for key, previous in reversed(self.ns_undo.pop()):
            if previous is None:
                self.ns.pop(key, None)
            else:
                self.ns[key] = previous
        return "end", name[1]


def _newlines(raw: bytes) -> bytes:
    # Decoder.text rewrites \r\n and a lone \r as \n.
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in raw else raw


def _proc_inst(param: str, content: str) -> str:
    """encoding/xml procInst: the quoted value after the first C{param=}."""
    _, found, value = content.partition(param + "=")
    if not found or not value or value[0] not in "'\"":
        return ""
    unquoted, found, _ = value[1:].partition(value[0])
    return unquoted if found else ""


_MXJ_TRIM = "\t\r\b\n "


def parse_xml(body: bytes) -> dict[str, Any] | None:
    """
    mxj.NewMapXmlReader (v1.8.4, no casting): the root element as the one key;
    attributes as C{-name}, text beside attributes or children as C{#text},
    repeated elements as lists, an empty element as C{""}. None on any error.
    What follows the root element is never read.
    """
    reader = _XMLReader(body)
    # Frames of xmlToMapParser: (element name, n, na): n holds the element's
    # simple text, na its attributes and children.
    frames: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    try:
        while True:
            token = reader.token()
            if token is None:
                return None  # io.EOF before the root element ended
            kind, value = token
            if kind == "start":
                name, attrs = value
                na = {"-" + local: text for local, text in attrs}
                frames.append((name, {}, na))
            elif kind == "end":
                if not frames:
                    return None
                name, n, na = frames.pop()
                if not n:
                    n[name] = na if na else ""
                if not frames:
                    return n
                parent_na = frames[-1][2]
                child = n[name]
                if name in parent_na:
                    existing = parent_na[name]
                    if isinstance(existing, list):
                        existing.append(child)
                    else:
                        parent_na[name] = [existing, child]
                else:
                    parent_na[name] = child
            elif kind == "text" and frames:
                text = value.strip(_MXJ_TRIM)
                if text:
                    name, n, na = frames[-1]
                    if na:
                        na["#text"] = text
                    else:
                        n[name] = text
    except _XMLError:
        return None


# Content types, as mime.ParseMediaType (Go 1.19) reads them.

_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')


def _is_token_char(c: str) -> bool:
    return " " < c < "\x7f" and c not in _TSPECIALS


def _consume_token(v: str) -> tuple[str, str]:
    i = 0
    while i < len(v) and _is_token_char(v[i]):
        i += 1
    return v[:i], v[i:]


def _consume_value(v: str) -> tuple[str, str]:
    if not v:
        return "", v
    if v[0] != '"':
        return _consume_token(v)
    buffer: list[str] = []
    i = 1
    while i < len(v):
        c = v[i]
        if c == '"':
            return "".join(buffer), v[i + 1 :]
        # RFC 2045 quoted-pair; Go also lets a backslash before any
        # character through, except a lone one at the end.
        if (
            c == "\\"
            and i + 1 < len(v)
            and (_is_token_char(v[i + 1]) or v[i + 1] in _TSPECIALS or v[i + 1] in " \t")
        ):
            buffer.append(v[i + 1])
            i += 2
            continue
        if c in "\r\n":
            return "", v
        buffer.append(c)
        i += 1
    return "", v


def _consume_param(v: str) -> tuple[str, str, str]:
    rest = v.lstrip()
    if not rest.startswith(";"):
        return "", "", v
    rest = rest[1:].lstrip()
    name, rest = _consume_token(rest)
    name = name.lower()
    if not name:
        return "", "", v
    rest = rest.lstrip()
    if not rest.startswith("="):
        return "", "", v
    rest = rest[1:].lstrip()
    value, rest2 = _consume_value(rest)
    if value == "" and rest2 == rest:
        return "", "", v
    return name, value, rest2


def _decode_2231(value: str) -> str | None:
    """An RFC 2231 C{charset'lang'percent-encoded} value (mime decode2231Enc)."""
    parts = value.split("'", 2)
    if len(parts) != 3:
        return None
    charset = parts[0].lower()
    if not charset or charset not in ("us-ascii", "utf-8"):
        return None
    try:
        raw = _percent_hex_decode(parts[2])
    except ValueError:
        return None
    return raw.decode("utf-8", "surrogateescape")


def _percent_hex_decode(s: str) -> bytes:
    out = bytearray()
    i = 0
    data = s.encode("utf-8", "surrogateescape")
    while i < len(data):
        if data[i] == 0x25:
            pair = data[i + 1 : i + 3]
            if len(pair) < 2 or not all(chr(b) in _HEX for b in pair):
                raise ValueError("mime: bogus characters after %")
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def parse_media_type(v: str) -> tuple[str, dict[str, str]]:
    """mime.ParseMediaType: the lower-cased type and its parameters; ValueError as Go errs."""
    base = v.split(";", 1)[0]
    media_type = base.strip(" \t\n\r\v\f").lower()
    token, rest = _consume_token(media_type)
    if not token:
        raise ValueError("mime: no media type")
    if rest:
        if not rest.startswith("/"):
            raise ValueError("mime: expected slash after first token")
        sub, rest = _consume_token(rest[1:])
        if not sub:
            raise ValueError("mime: expected token after slash")
        if rest:
            raise ValueError("mime: unexpected content after media subtype")
    params: dict[str, str] = {}
    continuation: dict[str, dict[str, str]] = {}
    v = v[len(base) :]
    while v:
        v = v.lstrip(" \t\n\r\v\f\x85\xa0")
        if not v:
            break
        key, value, rest = _consume_param(v)
        if not key:
            if rest.strip() == ";":
                break
            raise ValueError("mime: invalid media parameter")
        target = params
        if "*" in key:
            target = continuation.setdefault(key.split("*", 1)[0], {})
        if key in target:
            raise ValueError("mime: duplicate parameter name")
        target[key] = value
        v = rest
    for key, pieces in continuation.items():
        single = key + "*"
        if single in pieces:
            decoded = _decode_2231(pieces[single])
            if decoded is not None:
                params[key] = decoded
            continue
        joined: list[str] = []
        valid = False
        n = 0
        while True:
            simple = f"{key}*{n}"
            if simple in pieces:
                valid = True
                joined.append(pieces[simple])
            else:
                encoded = simple + "*"
                if encoded not in pieces:
                    break
                valid = True
                value = pieces[encoded]
                if n == 0:
                    decoded = _decode_2231(value)
                    if decoded is None:
                        valid = False
                        break
                    joined.append(decoded)
                else:
                    try:
                        joined.append(
                            _percent_hex_decode(value).decode("utf-8", "surrogateescape")
                        )
                    except ValueError:
                        valid = False
                        break
            n += 1
        if valid:
            params[key] = "".join(joined)
    return media_type, params


# Multipart bodies, as Go 1.19.8's mime/multipart Reader and ReadForm read them
# for Request.ParseMultipartForm.

_PEEK_BUFFER = 4096  # multipart's bufio size: a line past it fails ReadSlice
_MAX_PARTS = 1000  # ReadForm (Go 1.19.8, CVE-2023-24536)
_MAX_HEADERS = 10000


class _Part:
    def __init__(self, headers: dict[str, list[str]], content: bytes) -> None:
        self.headers = headers
        self.content = content


def _read_part_headers(
    data: bytes, pos: int, budget: int, max_headers: int
) -> tuple[dict[str, list[str]], int] | None:
    """
    textproto readMIMEHeader on a part's header block, with Go 1.19.8's
    limits. None when the body ends inside the block: readMIMEHeader then
    returns io.EOF, which ReadForm takes for the end of the form (the parts
    before are kept, this one is not).
    """
    headers: dict[str, list[str]] = {}
    budget -= 400
    if pos < len(data) and data[pos] in b" \t":
        raise MultipartError("malformed MIME header initial line")

    def read_line() -> bytes | None:
        nonlocal pos
        if pos >= len(data):
            return None
        end = data.find(b"\n", pos)
        line, pos = (data[pos:], len(data)) if end < 0 else (data[pos:end], end + 1)
        return line[:-1] if line.endswith(b"\r") else line

    while True:
        line = read_line()
        if line is None:
            return None
        if not line:
            return headers, pos
        if b":" not in line:
            raise MultipartError("malformed MIME header: missing colon")
        line = line.strip(b" \t")
        # Continuation lines (obs-fold) join with one space.
        while pos < len(data) and data[pos] in b" \t":
            while pos < len(data) and data[pos] in b" \t":
                pos += 1
            more = read_line()
            if more is None:
                break
            line += b" " + more.strip(b" \t")
        raw_key, _, raw_value = line.partition(b":")
        key = canonical_header_key(raw_key.decode("utf-8", "surrogateescape"))
        if not key:
            continue
        max_headers -= 1
        if max_headers < 0:
            raise MultipartError("multipart: message too large")
        value = raw_value.lstrip(b" \t").decode("utf-8", "surrogateescape")
        if key not in headers:
            budget -= len(key.encode("utf-8", "surrogateescape")) + 200
        budget -= len(value.encode("utf-8", "surrogateescape"))
        if budget < 0:
            raise MultipartError("multipart: message too large")
        headers.setdefault(key, []).append(value)


def _quoted_printable(raw: bytes) -> bytes:
    """mime/quotedprintable Reader, its deviations from RFC 2045 included."""
    out = bytearray()
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        at_eof = end < 0
        whole = raw[pos:] if at_eof else raw[pos : end + 1]
        if len(whole) > _PEEK_BUFFER:
            raise MultipartError("quotedprintable: bufio: buffer full")
        pos = len(raw) if at_eof else end + 1
        line = whole.rstrip(b"\n\r \t")
        if line.endswith(b"="):
            stripped = whole[len(line) :]
            line = line[:-1]
            if not (
                stripped.startswith(b"\n")
                or stripped.startswith(b"\r\n")
                or (not stripped and line and at_eof)
            ):
                _qp_line(line, out)
                raise MultipartError("quotedprintable: invalid bytes after =")
        elif whole.endswith(b"\n"):
            line += b"\r\n" if whole.endswith(b"\r\n") else b"\n"
        _qp_line(line, out)
    return bytes(out)


def _qp_line(line: bytes, out: bytearray) -> None:
    i = 0
    while i < len(line):
        b = line[i]
        if b == 0x3D:
            pair = line[i + 1 : i + 3]
            if len(pair) == 2 and all(chr(c) in _HEX for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            if len(line) - i >= 2 and line[i + 1] not in b"\r\n":
                out.append(b)  # a lone = taken literally (issue 13219)
                i += 1
                continue
            raise MultipartError("quotedprintable: invalid hex byte")
        if b in b"\t\r\n" or b >= 0x80 or 0x20 <= b <= 0x7E:
            out.append(b)
            i += 1
            continue
        raise MultipartError(f"quotedprintable: invalid unescaped byte 0x{b:02x} in body")


class _MultipartReader:
    """mime/multipart Reader over a whole body."""

    def __init__(self, data: bytes, boundary: str) -> None:
        self.data = data
        self.pos = 0
        b = boundary.encode("utf-8", "surrogateescape")
        self.nl = b"\r\n"
        self.dash_boundary = b"--" + b
        self.dash_boundary_dash = b"--" + b + b"--"
        self.nl_dash_boundary = b"\r\n--" + b
        self.parts_read = 0

    def _line(self) -> tuple[bytes, bool]:
        """bufio ReadSlice('\\n'): the line and whether it ended at EOF."""
        end = self.data.find(b"\n", self.pos, self.pos + _PEEK_BUFFER)
        if end < 0:
            rest = self.data[self.pos :]
            if len(rest) >= _PEEK_BUFFER:
                raise MultipartError("multipart: NextPart: bufio: buffer full")
            self.pos = len(self.data)
            return rest, True
        line = self.data[self.pos : end + 1]
        self.pos = end + 1
        return line, False

    def _is_final(self, line: bytes) -> bool:
        if not line.startswith(self.dash_boundary_dash):
            return False
        rest = line[len(self.dash_boundary_dash) :].lstrip(b" \t")
        return not rest or rest == self.nl

    def _is_delimiter(self, line: bytes) -> bool:
        if not line.startswith(self.dash_boundary):
            return False
        rest = line[len(self.dash_boundary) :].lstrip(b" \t")
        if self.parts_read == 0 and rest == b"\n":
            # Lines end in \n alone: Go switches to that (multipart.go).
            self.nl = b"\n"
            self.nl_dash_boundary = self.nl_dash_boundary[1:]
        return rest == self.nl

    def next_part(self, budget: int, max_headers: int) -> tuple[dict[str, list[str]], int] | None:
        """Reader.nextPart up to the part's content: its headers and where the content starts."""
        if self.dash_boundary == b"--":
            raise MultipartError("multipart: boundary is empty")
        expect_new_part = False
        while True:
            line, at_eof = self._line()
            if at_eof and self._is_final(line):
                return None
            if at_eof:
                raise MultipartError("multipart: NextPart: EOF")
            if self._is_delimiter(line):
                self.parts_read += 1
                found = _read_part_headers(self.data, self.pos, budget, max_headers)
                if found is None:
                    return None
                headers, self.pos = found
                return headers, self.pos
            if self._is_final(line):
                return None
            if expect_new_part:
                raise MultipartError("multipart: expecting a new Part")
            if self.parts_read == 0:
                continue
            if line == self.nl:
                expect_new_part = True
                continue
            raise MultipartError("multipart: unexpected line in Next()")

    def content(self, start: int) -> tuple[bytes, bool]:
        """
        The part's content from C{start} (partReader and scanUntilBoundary):
        up to a delimiter that is followed by space, a newline or C{--}, or by
        the end. Returns the content and whether it ended without a delimiter.
        """
        data = self.data
        if data.startswith(self.dash_boundary, start):
            match = self._after(start, self.dash_boundary)
            if match > 0:
                self.pos = start
                return b"", False
        search = start
        while True:
            i = data.find(self.nl_dash_boundary, search)
            if i < 0:
                self.pos = len(data)
                return data[start:], True
            if self._after(i, self.nl_dash_boundary) > 0:
                self.pos = i
                return data[start:i], False
            search = i + len(self.nl_dash_boundary)

    def _after(self, at: int, prefix: bytes) -> int:
        """matchAfterPrefix with the whole body read: 1 boundary, -1 content."""
        follow = at + len(prefix)
        if follow == len(self.data):
            return 1
        c = self.data[follow]
        if c in b" \t\r\n":
            return 1
        if c == 0x2D:
            if follow + 1 == len(self.data):
                return -1
            if self.data[follow + 1] == 0x2D:
                return 1
        return -1


def _header_size(headers: Mapping[str, list[str]]) -> int:
    size = 400
    for key, values in headers.items():
        size += len(key) + 200 + sum(len(v.encode("utf-8", "surrogateescape")) for v in values)
    return size


def _read_form(
    body: bytes, boundary: str, max_memory: int
) -> tuple[dict[str, list[str]], dict[str, list[_Part]]]:
    """multipart.Reader.ReadForm (Go 1.19.8), with its limits."""
    reader = _MultipartReader(body, boundary)
    values: dict[str, list[str]] = {}
    files: dict[str, list[_Part]] = {}
    max_parts = _MAX_PARTS
    max_headers = _MAX_HEADERS
    max_file_memory = max_memory
    budget = max_memory + (10 << 20)
    while True:
        found = reader.next_part(budget, max_headers)
        if found is None:
            break
        headers, start = found
        raw, unexpected_eof = reader.content(start)
        if max_parts <= 0:
            raise MultipartError("multipart: message too large")
        max_parts -= 1
        cte = headers.get("Content-Transfer-Encoding", [""])[0]
        quoted_printable = cte.lower() == "quoted-printable"
        if quoted_printable:
            del headers["Content-Transfer-Encoding"]
        disposition, params = _content_disposition(headers)
        name = params.get("name", "") if disposition == "form-data" else ""
        if not name:
            # A skipped part is drained when the next is asked for; its errors
            # surface then, as here.
            if unexpected_eof:
                raise MultipartError("multipart: NextPart: unexpected EOF")
            continue
        if unexpected_eof:
            raise MultipartError("unexpected EOF")
        content = _quoted_printable(raw) if quoted_printable else raw
        filename = params.get("filename", "")
        name_size = len(name.encode("utf-8", "surrogateescape"))
        budget -= name_size + 200
        if budget < 0:
            raise MultipartError("multipart: message too large")
        if not filename:
            budget -= len(content)
            if budget < 0:
                raise MultipartError("multipart: message too large")
            values.setdefault(name, []).append(content.decode("utf-8", "surrogateescape"))
            continue
        budget -= _header_size(headers) + 200 + 100
        if budget < 0:
            raise MultipartError("multipart: message too large")
        for header_values in headers.values():
            max_headers -= len(header_values)
        if len(content) <= max_file_memory:
            max_file_memory -= len(content)
            budget -= len(content)
        # Larger files go to a temporary file in Go; here they stay in memory.
        files.setdefault(name, []).append(_Part(headers, content))
    return values, files


def _content_disposition(headers: Mapping[str, list[str]]) -> tuple[str, dict[str, str]]:
    value = headers.get("Content-Disposition", [""])[0]
    try:
        disposition, params = parse_media_type(value)
    except ValueError:
        return "", {}
    if params.get("filename"):
        # Part.FileName keeps only the base name (filepath.Base).
        params["filename"] = posixpath.basename(params["filename"].rstrip("/")) or "/"
    return disposition, params


def parse_multipart(
    body: bytes,
    header_content_type: str,
    query_error: str | None,
    json_names: Iterable[str],
    max_memory: int = MAX_MULTIPART_MEMORY,
) -> dict[str, Any] | None:
    """
    webhook.go hookHandler's multipart branch over Request.ParseMultipartForm:
    the first value of each form field, and the first file of each name
    decoded as a JSON object when C{parse-parameters-as-json} names it or its
    Content-Type is exactly C{application/json} (a file that does not decode
    becomes Go's nil map). Raises L{MultipartError} where webhook answers 500.

    ParseMultipartForm reads the request's own Content-Type header (not the
    hook's incoming-payload-content-type), and returns the error of the URL
    query's parse as well: a query with a C{;} fails a multipart request.
    """
    if not header_content_type:
        raise MultipartError("request Content-Type isn't multipart/form-data")
    try:
        media_type, params = parse_media_type(header_content_type)
    except ValueError:
        raise MultipartError("request Content-Type isn't multipart/form-data") from None
    if media_type != "multipart/form-data":
        raise MultipartError("request Content-Type isn't multipart/form-data")
    if "boundary" not in params:
        raise MultipartError("no multipart boundary param in Content-Type")
    values, files = _read_form(body, params["boundary"], max_memory)
    if query_error is not None:
        raise MultipartError(query_error)
    payload: dict[str, Any] | None = None
    for key, vs in values.items():
        payload = {} if payload is None else payload
        payload[key] = vs[0]
    names = set(json_names)
    for key, parts in files.items():
        part = parts[0]
        as_json = key in names or "application/json" in part.headers.get("Content-Type", [])
        if as_json:
            payload = {} if payload is None else payload
            decoded = decode_json_object(part.content)
            payload[key] = decoded if isinstance(decoded, dict) else NIL_MAP
    return payload


# --- the request --------------------------------------------------------------


def read_request(
    *,
    method: str,
    remote_addr: str,
    header_lines: Iterable[tuple[str | bytes, str | bytes]],
    query_string: str | bytes,
    body: bytes,
    client: str = "",
    incoming_payload_content_type: str = "",
    parse_parameters_as_json: Iterable[model.Argument] = (),
    received_at: float = 0.0,
    max_multipart_memory: int = MAX_MULTIPART_MEMORY,
) -> model.WebhookRequest:
    """
    A request as hookHandler makes its hook.Request: headers and query by their
    first values, the payload parsed by content type in webhook's order
    (contains "json", contains "x-www-form-urlencoded", contains "xml", starts
    with "multipart/form-data;"), then C{parse-parameters-as-json} applied.

    C{remote_addr} is Go's RemoteAddr form (L{go_remote_addr}); C{client} the
    address C{ip-whitelist} checks (the peer's host when left empty).
    Raises L{MultipartError} and L{HandlerPanicError} where webhook answers 500.
    """
    all_headers = _go_headers(header_lines)
    headers: dict[str, Any] = _first_values(all_headers)
    query_values, query_error = parse_query(query_string)
    query: dict[str, Any] = _first_values(query_values)
    header_type = all_headers.get("Content-Type", [""])[0]
    content_type = incoming_payload_content_type or header_type
    json_arguments = tuple(parse_parameters_as_json)
    multipart = content_type.startswith("multipart/form-data;")
    # hookHandler reads the body only when the type is not multipart; a
    # multipart type that also contains "json" is parsed as JSON of nothing.
    go_body = b"" if multipart else body
    payload: dict[str, Any] | None = None
    if "json" in content_type:
        payload = parse_json_payload(go_body)
    elif "x-www-form-urlencoded" in content_type:
        payload = parse_form(go_body)
    elif "xml" in content_type:
        payload = parse_xml(go_body)
    elif multipart:
        payload = parse_multipart(
            body,
            header_type,
            query_error,
            (a.name for a in json_arguments if a.source == "payload"),
            max_multipart_memory,
        )
    request = model.WebhookRequest(
        method=method,
        remote_addr=remote_addr,
        body=body,
        headers=headers,
        query=query,
        payload=payload,
        client=client or _client_of(remote_addr),
        received_at=received_at,
        multipart=multipart,
    )
    _parse_json_parameters(json_arguments, request, headers, query, payload)
    return request


def _client_of(remote_addr: str) -> str:
    host = remote_addr.rsplit(":", 1)[0] if ":" in remote_addr else remote_addr
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _parse_json_parameters(
    arguments: tuple[model.Argument, ...],
    request: model.WebhookRequest,
    headers: dict[str, Any],
    query: dict[str, Any],
    payload: dict[str, Any] | None,
) -> None:
    """
    hook.go ParseJSONParameters: each argument's value decoded as a JSON object
    replaces it where it was read (header, url/query or payload). An argument
    that cannot be read or decoded, or has another source, is skipped (webhook
    logs it). The maps are the request's own, changed in place before anyone
    else sees the request.
    """
    for argument in arguments:
        try:
            text = argument_value(argument, request)
        except (model.ParameterNodeError, model.ArgumentError):
            continue
        decoded = decode_json_object(text)
        if decoded is None:
            continue
        source: dict[str, Any] | None
        if argument.source == "header":
            source, key = headers, canonical_header_key(argument.name)
        elif argument.source == "payload":
            source, key = payload, argument.name
        elif argument.source in ("url", "query"):
            source, key = query, argument.name
        else:
            continue
        if "." in key:
            # ReplaceParameter's dotted branch asserts its *map argument to a map.
            raise HandlerPanicError(
                f"parse-parameters-as-json name {argument.name!r} has a dot: webhook panics"
            )
        if source is not None and key in source:
            source[key] = decoded


# --- arguments ----------------------------------------------------------------


def _slice_index(text: str) -> int | None:
    """strconv.ParseUint(text, 10, 64), None where it fails."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value < 1 << 64 else None


def get_parameter(path: str, params: Any) -> Any:
    """
    hook.go GetParameter: C{a.b.0} walks maps and lists; a map's raw key
    (C{"a.b"}) is tried before the dotted path. Raises ParameterNodeError
    where there is nothing, ArgumentError where Go's error is another (a path
    through a JSON null: "no parameters").
    """
    while True:
        if params is None:
            raise model.ArgumentError("no parameters")
        if isinstance(params, list):
            if not params:
                raise model.ParameterNodeError(path)
            head, dot, rest = path.partition(".")
            index = _slice_index(head if dot else path)
            if index is None or index >= len(params):
                if index is not None and index >= 1 << 63:
                    # int(index) wraps negative, the bounds check passes and
                    # the index panics.
                    raise model.ArgumentError(f"index out of range [{index}]")
                raise model.ParameterNodeError(path)
            if not dot:
                return params[index]
            path, params = rest, params[index]
            continue
        if isinstance(params, NilMap):
            raise model.ParameterNodeError(path)
        if isinstance(params, Mapping):
            if path in params:
                return params[path]
            head, dot, rest = path.partition(".")
            if head in params:
                if not dot:
                    return params[head]
                path, params = rest, params[head]
                continue
        raise model.ParameterNodeError(path)


def argument_value(argument: model.Argument, request: model.WebhookRequest) -> str:
    """
    hook.go Argument.Get: the argument's value as a command, a rule or the
    environment sees it. Raises ParameterNodeError where the request has no
    such value and ArgumentError where webhook's error is of another kind.
    """
    source = argument.source
    if source == "header":
        return parameter_string(
            get_parameter(canonical_header_key(argument.name), request.headers)
        )
    if source in ("url", "query"):
        return parameter_string(get_parameter(argument.name, request.query))
    if source == "payload":
        payload: Any = NIL_MAP if request.payload is None else request.payload
        return parameter_string(get_parameter(argument.name, payload))
    if source == "string":
        return argument.name
    if source == "raw-request-body":
        if request.multipart:
            return ""  # webhook never read it (see the module's docstring)
        return request.body.decode("utf-8", "surrogateescape")
    if source == "request":
        key = argument.name.lower()
        if key == "remote-addr":
            return request.remote_addr
        if key == "method":
            return request.method
        raise model.ArgumentError(f"unsupported request key: {argument.name!r}")
    if source == "entire-payload":
        return go_json(request.payload)
    if source == "entire-headers":
        return go_json(request.headers)
    if source == "entire-query":
        return go_json(request.query)
    raise model.ArgumentError("no source for value retrieval")


_B64 = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def go_base64_decode(text: str) -> tuple[bytes, bool]:
    """
    base64.StdEncoding.DecodeString: the bytes and whether it succeeded. On an
    error Go returns the quanta it decoded before it (newlines are skipped).
    """
    src = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    si = 0
    while si < len(src):
        quantum = [0, 0, 0, 0]
        dlen = 4
        j = 0
        trailing = False
        while j < 4:
            if si == len(src):
                if j == 0:
                    return bytes(out), True
                return bytes(out), False  # a short quantum: padding is required
            c = src[si]
            si += 1
            if c in _B64:
                quantum[j] = _B64[c]
                j += 1
                continue
            if c in b"\r\n":
                continue
            if c != 0x3D or j < 2:
                return bytes(out), False
            if j == 2:
                while si < len(src) and src[si] in b"\r\n":
                    si += 1
                if si == len(src) or src[si] != 0x3D:
                    return bytes(out), False
                si += 1
            while si < len(src) and src[si] in b"\r\n":
                si += 1
            trailing = si < len(src)
            dlen = j
            break
        value = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out += value.to_bytes(3, "big")[: dlen - 1]
        if trailing:
            return bytes(out), False
        if dlen < 4:
            return bytes(out), si == len(src)
    return bytes(out), True


def file_content(argument: model.Argument, request: model.WebhookRequest) -> bytes:
    """
    The data of a C{pass-file-to-command} file (hook.go
    ExtractCommandArgumentsForFile): the value's bytes, or with base64decode
    what Go's decoder gives, which on an error is what it decoded before it
    (webhook logs the error and writes those bytes).
    """
    value = argument_value(argument, request)
    if argument.base64decode:
        return go_base64_decode(value)[0]
    return value.encode("utf-8", "surrogateescape")


def environment_name(argument: model.Argument) -> str:
    """C{pass-environment-to-command}'s variable: envname, or HOOK_ and the name as written."""
    return argument.envname or model.ENV_PREFIX + argument.name


def _go_upper(text: str) -> str:
    # strings.ToUpper maps rune by rune; Python's str.upper can lengthen (ß -> SS).
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


def file_environment_name(argument: model.Argument) -> str:
    """C{pass-file-to-command}'s variable: envname, or HOOK_ and the name upper-cased."""
    return argument.envname or model.ENV_PREFIX + _go_upper(argument.name)
