"""
webhook's answers, as values: the status, body and headers each outcome of a
call to a hooks-file hook gets, so that scripts reading them keep working
(webhook.go's hookHandler in adnanh/webhook 2.8.0 writes them).

Go's net/http picks a Content-Type by sniffing the body when the handler set
none (L{sniffed}); hookdaemon does the same, or a script that checks it would
see a change.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from hookdaemon.hooksfile.model import FileHook, Header

NOT_FOUND_TEXT = b"Hook not found."
RULES_UNMET_TEXT = b"Hook rules were not satisfied."
RULES_ERROR_TEXT = b"Error occurred while evaluating hook rules."
FORM_ERROR_TEXT = b"Error occurred while parsing multipart form."
COMMAND_ERROR_TEXT = (
    b"Error occurred while executing the hook's command. Please check your logs for more details."
)
PLAIN_TEXT = "text/plain; charset=utf-8"

GO_STATUS_CODES = frozenset(
    {
        *range(100, 104),
        *range(200, 209),
        226,
        *range(300, 306),
        307,
        308,
        *range(400, 419),
        *range(421, 427),
        428,
        429,
        431,
        451,
        *range(500, 509),
        510,
        511,
    }
)
"""
The codes Go's http.StatusText names (net/http/status.go): webhook answers any
other configured code as 200 (writeHttpResponseCode).
"""


NO_BODY = frozenset({204, 304})
"""Codes whose answers have no body: Go drops it (and sniffs nothing), as twisted.web drops it."""


@frozen
class FrontEnd:
    """
    What the command line says of the hooks files' front end as a whole:
    C{--hooks}, C{--urlprefix}, C{--http-methods} and C{--header}.
    """

    hooks_files: tuple[str, ...] = ()
    """The files given; empty: no front end (tap.cfg's hooks alone, answered as ever)."""
    url_prefix: str = "hooks"
    """The hooks' URLs are C{/PREFIX/ID}; empty: C{/ID}."""
    http_methods: tuple[str, ...] = ()
    """Upper-cased; empty: any method, unless a hook names its own."""
    headers: tuple[Header, ...] = ()

    def hook_id(self, path: str) -> str | None:
        """
        The id a request path names under the prefix, or None: webhook routes
        C{/PREFIX/{id:.*}}, so an id may hold C{/} (makeRoutePattern).
        """
        if not self.hooks_files:
            return None
        if not self.url_prefix:
            return path[1:] if path.startswith("/") else None
        start = f"/{self.url_prefix}/"
        return path[len(start) :] if path.startswith(start) else None


NO_FRONT_END = FrontEnd()
"""Any method, no extra headers: a daemon started without C{--http-methods} or C{--header}."""


@frozen
class Answer:
    code: int
    body: bytes
    headers: tuple[Header, ...] = ()
    """In the order Go's Header().Set calls made them: a later one of a name replaces it."""

    def content_type(self) -> str | None:
        """The Content-Type sent: the one set, else Go's sniffed one for a body, else none."""
        for header in reversed(self.headers):
            if header.name.lower() == "content-type":
                return header.value
        return sniffed(self.body) if self.body and self.code not in NO_BODY else None

    def header_lines(self) -> list[tuple[str, str]]:
        """The headers to send, one per name (Go's Set replaces), in first-set order."""
        chosen: dict[str, Header] = {}
        for header in self.headers:
            chosen.pop(header.name.lower(), None)
            chosen[header.name.lower()] = header
        lines = [(h.name, h.value) for h in chosen.values()]
        content_type = self.content_type()
        if content_type is not None and "content-type" not in chosen:
            lines.append(("Content-Type", content_type))
        return lines


def go_status(code: int, default: int = 200) -> int:
    """
    A configured code as webhook sends it: 0 is the default, a code Go cannot
    name is 200. A 1xx is 200 too: Go sends it as an informational answer and
    then the body under an implicit 200, which twisted.web cannot; the final
    status is the same.
    """
    if code == 0:
        return default
    if code < 200:
        return 200
    return code if code in GO_STATUS_CODES else 200


def method_allowed(hook: FileHook, front: FrontEnd, method: str) -> bool:
    """The hook's C{http-methods}, else C{--http-methods}, else any (hookHandler's switch)."""
    allowed = hook.http_methods or front.http_methods
    return not allowed or method in allowed


def clean_path(path: str) -> str:
    """
    The path gorilla/mux serves C{path} at (mux.go, cleanPath: Go's path.Clean,
    keeping a trailing slash); where they differ, webhook answers a 301.
    """
    if not path.startswith("/"):
        path = "/" + path
    kept: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if kept:
                kept.pop()
            continue
        kept.append(part)
    cleaned = "/" + "/".join(kept)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def not_found() -> Answer:
    """Any method, any unknown id: no headers of C{--header} (set only once a hook matched)."""
    return Answer(404, NOT_FOUND_TEXT)


def method_refused() -> Answer:
    """An empty body, and no C{--header} headers: hookHandler returns before setting them."""
    return Answer(405, b"")


def root() -> Answer:
    """
    C{/}, to any method: what health checks written for webhook read. Without
    C{--header}'s headers: webhook 2.8.0 sets them on hook answers only.
    """
    return Answer(200, b"OK")


def no_route() -> Answer:
    """A path none of the daemon's routes has, with hooks files: Go's http.NotFound."""
    return Answer(404, b"404 page not found\n", (Header("X-Content-Type-Options", "nosniff"),))


def moved(location: str) -> Answer:
    """A path gorilla/mux cleans (C{//hooks/x}, C{/hooks/./x}): 301 to the clean one."""
    return Answer(301, b"", (Header("Location", location),))


def rules_unmet(hook: FileHook, front: FrontEnd) -> Answer:
    code = go_status(hook.trigger_rule_mismatch_http_response_code)
    return Answer(code, RULES_UNMET_TEXT, front.headers)


def rules_error(front: FrontEnd) -> Answer:
    return Answer(500, RULES_ERROR_TEXT, front.headers)


def panicked(front: FrontEnd) -> Answer:
    """What chi's Recoverer answers when webhook's handler panics (http.Error's form)."""
    headers = (*front.headers, Header("X-Content-Type-Options", "nosniff"))
    return Answer(500, b"Internal Server Error\n", headers)


def form_error(front: FrontEnd) -> Answer:
    return Answer(500, FORM_ERROR_TEXT, front.headers)


def triggered(hook: FileHook, front: FrontEnd, extra: Iterable[Header] = ()) -> Answer:
    """A triggered hook that does not wait for its command: its C{response-message}."""
    return Answer(
        go_status(hook.success_http_response_code),
        hook.response_message.encode("utf-8"),
        (*front.headers, *hook.response_headers, *extra),
    )


def command_ended(
    hook: FileHook, front: FrontEnd, succeeded: bool, output: bytes, extra: Iterable[Header] = ()
) -> Answer:
    """
    An C{include-command-output-in-response} hook's answer once its command
    ended: the output and the success code, or 500 with the output (only with
    C{-on-error}) or webhook's sentence.
    """
    headers = (*front.headers, *hook.response_headers, *extra)
    if succeeded:
        return Answer(go_status(hook.success_http_response_code), output, headers)
    if hook.include_command_output_in_response_on_error:
        return Answer(500, output, headers)
    # webhook.go sets text/plain here after WriteHeader, so it never takes effect:
    # a hook's own Content-Type stays, else Go sniffs the sentence (text/plain).
    return Answer(500, COMMAND_ERROR_TEXT, headers)


# Go's content sniffing (net/http/sniff.go, after the WHATWG MIME Sniffing
# standard), for the types a command's output or a response-message can be.

_WHITESPACE = b"\t\n\x0c\r "
_HTML_TAGS = (
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
)
_EXACT = (
    (b"%PDF-", "application/pdf"),
    (b"%!PS-Adobe-", "application/postscript"),
    (b"\xfe\xff", "text/plain; charset=utf-16be"),
    (b"\xff\xfe", "text/plain; charset=utf-16le"),
    (b"\xef\xbb\xbf", "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x00\x00\x02\x00", "image/x-icon"),
    (b"BM", "image/bmp"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x89PNG\x0d\x0a\x1a\x0a", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"OggS\x00", "application/ogg"),
    (b"MThd\x00\x00\x00\x06", "audio/midi"),
    (b"ID3", "audio/mpeg"),
    (b"\x1f\x8b\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1a\x07\x00", "application/x-rar-compressed"),
    (b"Rar!\x1a\x07\x01\x00", "application/x-rar-compressed"),
    (b"\x00asm", "application/wasm"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
)
_BINARY = frozenset({*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)})


def sniffed(body: bytes) -> str:
    """The Content-Type Go's http.DetectContentType gives C{body}, for what webhook answers."""
    data = body[:512]
    stripped = data.lstrip(_WHITESPACE)
    upper = stripped[:16].upper()
    for tag in _HTML_TAGS:
        if upper.startswith(tag):
            after = stripped[len(tag) : len(tag) + 1]
            if after in (b" ", b">"):
                return "text/html; charset=utf-8"
    if stripped.startswith(b"<?xml"):
        return "text/xml; charset=utf-8"
    for signature, content_type in _EXACT:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:14] == b"WEBPVP":
        return "image/webp"
    if any(byte in _BINARY for byte in data):
        return "application/octet-stream"
    return PLAIN_TEXT
