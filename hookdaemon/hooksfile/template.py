"""
webhook's C{-template}: a hooks file rendered as a Go text/template, with no
data, before it is loaded (C{Hooks.LoadFromFile} in internal/hook/hook.go).
webhook 2.8 offers the function C{getenv}; later releases add C{cat} and
C{credential}; hookdaemon offers all three.

This is the part of Go's text/template that config files use, written after
Go 1.19's src/text/template (Debian's webhook 2.8.0 is built with go1.19.8)
and checked against that binary: text and actions, the trim markers, comments,
pipelines, literals, variables, if and with, and the builtins (funcs.go) with
fmt's printing (src/fmt/print.go and format.go, strconv's quote.go and
ftoa.go). What needs data (fields, methods, range, call) or other templates
(define, template, block) is refused by name when the file is parsed, wherever
it stands, rather than rendered the way no data renders it.

Go strings are bytes: inside, a string is C{bytes}; text that is not UTF-8
comes in and goes out as surrogate escapes (PEP 383), as a file read with
C{errors="surrogateescape"} gives it.

The renderer reads no file and no environment itself: it calls the
L{TemplateFunctions} it is given; L{system_functions} makes the real ones.
"""

from __future__ import annotations

import bisect
import math
import posixpath
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import NoReturn

from attrs import frozen

__all__ = ["TemplateError", "TemplateFunctions", "render", "system_functions"]


class TemplateError(ValueError):
    """
    A template Go would refuse to parse or to execute, or one that uses what
    hookdaemon does not offer: one sentence that starts with the line. It
    names template text and Go types, never a value read from the
    environment or a file.
    """

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@frozen
class TemplateFunctions:
    """
    webhook's template functions (hook.go: getenv, cat, credential), passed
    in so that rendering reads nothing it was not handed.
    """

    getenv: Callable[[str], str]
    cat: Callable[[str], str]
    credential: Callable[[str], str]


def system_functions(environ: Mapping[str, str]) -> TemplateFunctions:
    """The functions as webhook has them, reading C{environ} and the file system."""

    def getenv(name: str) -> str:
        # os.Getenv: an unset variable is "".
        return environ.get(name, "")

    def cat(path: str) -> str:
        # hook.go's cat: any error reading the file (missing, a directory, no
        # permission) is "", and one trailing newline goes (commit 1b13355,
        # strings.TrimSuffix: only "\n", and only one).
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (OSError, ValueError):
            return ""
        text = data.decode("utf-8", "surrogateescape")
        return text[:-1] if text.endswith("\n") else text

    def credential(name: str) -> str:
        # hook.go's credential: systemd's $CREDENTIALS_DIRECTORY/NAME
        # (path.Join, which cleans the path lexically), or the environment
        # variable NAME when the directory is unset or empty.
        directory = environ.get("CREDENTIALS_DIRECTORY", "")
        if directory == "":
            return getenv(name)
        return cat(_go_path_join(directory, name))

    return TemplateFunctions(getenv=getenv, cat=cat, credential=credential)


def render(text: str, functions: TemplateFunctions) -> str:
    """
    C{text} rendered as webhook renders a hooks file (C{Execute(&buf, nil)}).

    @raise TemplateError: when Go would fail to parse or execute it, or it
        uses a construct hookdaemon refuses.
    """
    nodes = _Parser(text).parse()
    state = _State(functions)
    state.walk_list(None, nodes)
    return b"".join(state.out).decode("utf-8", "surrogateescape")


def _go_path_join(directory: str, name: str) -> str:
    """Go's path.Join of two elements: joined with a slash and cleaned."""
    joined = posixpath.normpath(f"{directory}/{name}")
    # normpath keeps a leading "//" (POSIX allows it a meaning); path.Clean does not.
    return "/" + joined.lstrip("/") if joined.startswith("//") else joined


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


# --- Lexing (src/text/template/parse/lex.go) ---------------------------------

_TEXT = "text"
_LEFT_DELIM = "left delim"
_RIGHT_DELIM = "right delim"
_SPACE = "space"
_IDENT = "identifier"
_FIELD = "field"
_VARIABLE = "variable"
_STRING = "string"
_RAW_STRING = "raw string"
_CHAR_CONST = "char constant"
_NUMBER = "number"
_COMPLEX = "complex"
_BOOL = "bool"
_PIPE = "pipe"
_LPAREN = "left paren"
_RPAREN = "right paren"
_DECLARE = "declare"
_ASSIGN = "assign"
_CHAR = "char"
_EOF = "EOF"
_ERROR = "error"

_KEYWORDS = {
    ".": "dot",
    "block": "block",
    "break": "break",
    "continue": "continue",
    "define": "define",
    "else": "else",
    "end": "end",
    "if": "if",
    "range": "range",
    "nil": "nil",
    "template": "template",
    "with": "with",
}
_KEYWORD_KINDS = frozenset(_KEYWORDS.values())

_SPACE_CHARS = " \t\r\n"


_StateFn = Callable[[], "_StateFn | None"]
"""A state of the lexer (lex.go's stateFn): it lexes a little and names the next state."""


@frozen
class _Token:
    kind: str
    value: str
    line: int

    def describe(self) -> str:
        """As Go's item.String() names a token in "unexpected ..." errors."""
        if self.kind == _EOF:
            return "EOF"
        if self.kind == _ERROR:
            return self.value
        if self.kind in _KEYWORD_KINDS:
            return f"<{self.value}>"
        if len(self.value) > 10:
            return _quote_text(self.value[:10]) + "..."
        return _quote_text(self.value)


def _is_space(c: str) -> bool:
    return c != "" and c in _SPACE_CHARS


def _is_alphanumeric(c: str) -> bool:
    # lex.go's isAlphaNumeric: '_', unicode.IsLetter, unicode.IsDigit (Nd).
    return c == "_" or c.isalpha() or c.isdecimal()


class _Lexer:
    """
    lex.go's state machine, run to the end (or to its first error token) at
    once: the parser reads the tokens in the order Go's would receive them.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.width = 0
        self.paren_depth = 0
        self.tokens: list[_Token] = []
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]

    def run(self) -> list[_Token]:
        state: _StateFn | None = self.lex_text
        while state is not None:
            state = state()
        return self.tokens

    def line_at(self, pos: int) -> int:
        return 1 + bisect.bisect_left(self.newlines, pos)

    def next(self) -> str:
        if self.pos >= len(self.text):
            self.width = 0
            return ""
        self.width = 1
        self.pos += 1
        return self.text[self.pos - 1]

    def backup(self) -> None:
        self.pos -= self.width

    def peek(self) -> str:
        c = self.next()
        self.backup()
        return c

    def accept(self, valid: str) -> bool:
        c = self.next()
        if c != "" and c in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            c = self.next()
            if c == "" or c not in valid:
                break
        self.backup()

    def emit(self, kind: str) -> None:
        value = self.text[self.start : self.pos]
        self.tokens.append(_Token(kind, value, self.line_at(self.start)))
        self.start = self.pos

    def ignore(self) -> None:
        self.start = self.pos

    def error(self, message: str) -> _StateFn | None:
        """An error token, the last: Go's lexer stops there."""
        self.tokens.append(_Token(_ERROR, message, self.line_at(self.start)))
        return None

    def has_left_trim(self, i: int) -> bool:
        # "{{- ": a '-' and one of " \t\r\n" (hasLeftTrimMarker); "{{-3}}" is minus three.
        return self.text[i : i + 1] == "-" and _is_space(self.text[i + 1 : i + 2])

    def has_right_trim(self, i: int) -> bool:
        return _is_space(self.text[i : i + 1]) and self.text[i + 1 : i + 2] == "-"

    def at_right_delim(self) -> tuple[bool, bool]:
        if self.has_right_trim(self.pos) and self.text.startswith("}}", self.pos + 2):
            return True, True
        if self.text.startswith("}}", self.pos):
            return True, False
        return False, False

    def leading_space(self, i: int) -> int:
        rest = self.text[i:]
        return len(rest) - len(rest.lstrip(_SPACE_CHARS))

    def lex_text(self) -> _StateFn | None:
        x = self.text.find("{{", self.pos)
        if x < 0:
            self.pos = len(self.text)
            if self.pos > self.start:
                self.emit(_TEXT)
            self.emit(_EOF)
            return None
        self.pos = x
        trim = 0
        if self.has_left_trim(x + 2):
            before = self.text[self.start : x]
            trim = len(before) - len(before.rstrip(_SPACE_CHARS))
        self.pos -= trim
        if self.pos > self.start:
            self.emit(_TEXT)
        self.pos += trim
        self.ignore()
        return self.lex_left_delim

    def lex_left_delim(self) -> _StateFn | None:
        self.pos += 2
        after_marker = 2 if self.has_left_trim(self.pos) else 0
        if self.text.startswith("/*", self.pos + after_marker):
            self.pos += after_marker
            self.ignore()
            return self.lex_comment
        self.emit(_LEFT_DELIM)
        self.pos += after_marker
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> _StateFn | None:
        self.pos += 2
        end = self.text.find("*/", self.pos)
        if end < 0:
            return self.error("unclosed comment")
        self.pos = end + 2
        delim, trim = self.at_right_delim()
        if not delim:
            return self.error("comment ends before closing delimiter")
        if trim:
            self.pos += 2
        self.pos += 2
        if trim:
            self.pos += self.leading_space(self.pos)
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> _StateFn | None:
        trim = self.has_right_trim(self.pos)
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += 2
        self.emit(_RIGHT_DELIM)
        if trim:
            self.pos += self.leading_space(self.pos)
            self.ignore()
        return self.lex_text

    def lex_inside_action(self) -> _StateFn | None:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            return self.error("unclosed left paren")
        c = self.next()
        if c == "":
            return self.error("unclosed action")
        if _is_space(c):
            # Since Go 1.16 newlines are spaces inside an action.
            self.backup()
            return self.lex_space
        if c == "=":
            self.emit(_ASSIGN)
        elif c == ":":
            if self.next() != "=":
                return self.error("expected :=")
            self.emit(_DECLARE)
        elif c == "|":
            self.emit(_PIPE)
        elif c == '"':
            return self.lex_quote
        elif c == "`":
            return self.lex_raw_quote
        elif c == "$":
            return self.lex_variable
        elif c == "'":
            return self.lex_char
        elif c == "." and self.pos < len(self.text) and not "0" <= self.text[self.pos] <= "9":
            return self.lex_field
        elif c in "+-." or "0" <= c <= "9":
            self.backup()
            return self.lex_number
        elif _is_alphanumeric(c):
            self.backup()
            return self.lex_identifier
        elif c == "(":
            self.emit(_LPAREN)
            self.paren_depth += 1
        elif c == ")":
            self.emit(_RPAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self.error(f"unexpected right paren {_go_unicode(c)}")
        elif " " <= c <= "~":
            self.emit(_CHAR)
        else:
            return self.error(f"unrecognized character in action: {_go_unicode(c)}")
        return self.lex_inside_action

    def lex_space(self) -> _StateFn | None:
        spaces = 0
        while _is_space(self.peek()):
            self.next()
            spaces += 1
        # A space may be the start of " -}}", which belongs to the delimiter.
        if self.has_right_trim(self.pos - 1) and self.text.startswith("}}", self.pos + 1):
            self.backup()
            if spaces == 1:
                return self.lex_right_delim
        self.emit(_SPACE)
        return self.lex_inside_action

    def lex_identifier(self) -> _StateFn | None:
        while _is_alphanumeric(self.peek()):
            self.next()
        if not self.at_terminator():
            return self.error(f"bad character {_go_unicode(self.peek())}")
        word = self.text[self.start : self.pos]
        if word in _KEYWORDS:
            self.emit(_KEYWORDS[word])
        elif word in ("true", "false"):
            self.emit(_BOOL)
        else:
            self.emit(_IDENT)
        return self.lex_inside_action

    def lex_field(self) -> _StateFn | None:
        return self.lex_field_or_variable(_FIELD)

    def lex_variable(self) -> _StateFn | None:
        if self.at_terminator():
            self.emit(_VARIABLE)
            return self.lex_inside_action
        return self.lex_field_or_variable(_VARIABLE)

    def lex_field_or_variable(self, kind: str) -> _StateFn | None:
        if self.at_terminator():
            self.emit(_VARIABLE if kind == _VARIABLE else "dot")
            return self.lex_inside_action
        while _is_alphanumeric(self.peek()):
            self.next()
        if not self.at_terminator():
            return self.error(f"bad character {_go_unicode(self.peek())}")
        self.emit(kind)
        return self.lex_inside_action

    def at_terminator(self) -> bool:
        c = self.peek()
        return c == "" or c in _SPACE_CHARS or c in ".,|:)(}"  # '}' starts "}}"

    def lex_char(self) -> _StateFn | None:
        while True:
            c = self.next()
            if c == "\\":
                if self.next() not in ("", "\n"):
                    continue
                return self.error("unterminated character constant")
            if c in ("", "\n"):
                return self.error("unterminated character constant")
            if c == "'":
                break
        self.emit(_CHAR_CONST)
        return self.lex_inside_action

    def lex_number(self) -> _StateFn | None:
        if not self.scan_number():
            return self.error(
                f"bad number syntax: {_quote_text(self.text[self.start : self.pos])}"
            )
        if self.peek() in ("+", "-"):
            # A complex constant: 1+2i, no spaces, ending in 'i'.
            if not self.scan_number() or self.text[self.pos - 1] != "i":
                return self.error(
                    f"bad number syntax: {_quote_text(self.text[self.start : self.pos])}"
                )
            self.emit(_COMPLEX)
        else:
            self.emit(_NUMBER)
        return self.lex_inside_action

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if _is_alphanumeric(self.peek()):
            self.next()
            return False
        return True

    def lex_quote(self) -> _StateFn | None:
        while True:
            c = self.next()
            if c == "\\":
                if self.next() not in ("", "\n"):
                    continue
                return self.error("unterminated quoted string")
            if c in ("", "\n"):
                return self.error("unterminated quoted string")
            if c == '"':
                break
        self.emit(_STRING)
        return self.lex_inside_action

    def lex_raw_quote(self) -> _StateFn | None:
        while True:
            c = self.next()
            if c == "":
                return self.error("unterminated raw quoted string")
            if c == "`":
                break
        self.emit(_RAW_STRING)
        return self.lex_inside_action


# --- The parse tree (src/text/template/parse/node.go) ------------------------


@frozen
class _Text:
    line: int
    data: bytes


@frozen
class _Identifier:
    line: int
    name: str


@frozen
class _Dot:
    line: int


@frozen
class _Nil:
    line: int


@frozen
class _Variable:
    line: int
    name: str


@frozen
class _Bool:
    line: int
    value: bool


@frozen
class _Number:
    line: int
    text: str
    value: int | float | complex
    overflows: bool = False
    """A number only uint64 holds: Go parses it and fails when it is used (idealConstant)."""


@frozen
class _String:
    line: int
    quoted: str
    value: bytes


@frozen
class _Command:
    line: int
    args: tuple[_Operand, ...]


@frozen
class _Pipe:
    line: int
    decls: tuple[str, ...]
    is_assign: bool
    cmds: tuple[_Command, ...]


@frozen
class _Action:
    line: int
    pipe: _Pipe


@frozen
class _Branch:
    """An C{if} or a C{with}: the same but that C{with} sets dot (exec.go, walkIfOrWith)."""

    line: int
    is_with: bool
    pipe: _Pipe
    body: tuple[_Node, ...]
    orelse: tuple[_Node, ...] | None


@frozen
class _End:
    line: int


@frozen
class _Else:
    line: int


_Operand = _Identifier | _Dot | _Nil | _Variable | _Bool | _Number | _String | _Pipe
_Node = _Text | _Action | _Branch


def _describe(node: _Operand | _Command | _Action) -> str:
    """A node as Go's String() writes it back, for errors: template text only."""
    if isinstance(node, _Identifier | _Variable):
        return node.name
    if isinstance(node, _Dot):
        return "."
    if isinstance(node, _Nil):
        return "nil"
    if isinstance(node, _Bool):
        return "true" if node.value else "false"
    if isinstance(node, _Number):
        return node.text
    if isinstance(node, _String):
        return node.quoted
    if isinstance(node, _Command):
        return " ".join(
            f"({_describe(arg)})" if isinstance(arg, _Pipe) else _describe(arg)
            for arg in node.args
        )
    if isinstance(node, _Action):
        return "{{" + _describe(node.pipe) + "}}"
    text = " | ".join(_describe(cmd) for cmd in node.cmds)
    if node.decls:
        text = f"{', '.join(node.decls)} {'=' if node.is_assign else ':='} {text}"
    return text


# --- Parsing (src/text/template/parse/parse.go) ------------------------------

_TERM_START = frozenset(
    {
        _BOOL,
        _CHAR_CONST,
        _COMPLEX,
        "dot",
        _FIELD,
        _IDENT,
        _NUMBER,
        "nil",
        _RAW_STRING,
        _STRING,
        _VARIABLE,
        _LPAREN,
    }
)

_NO_DATA = "webhook renders the hooks file with no data"

_UNSUPPORTED = {
    "range": f"{{{{range}}}} is not supported: {_NO_DATA}, so there is nothing to range over",
    "define": "{{define}} is not supported: a hooks file is a single template",
    "template": "{{template}} is not supported: a hooks file is a single template",
    "block": "{{block}} is not supported: a hooks file is a single template",
}

_MAX_DEPTH = 100
"""How deep parentheses and if/with may nest (Go allows 10000 parentheses; Python's stack less)."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _Lexer(text).run()
        self.i = 0
        self.furthest = 0
        self.vars = ["$"]
        self.action_line = 0
        self.depth = 0
        self.controls: list[str] = []
        """The if and with being parsed, innermost last."""

    # Go's parser keeps a three-token lookahead and reports the line of the
    # newest token it has read (token[0]); a list and the furthest index read
    # do the same.

    def next(self) -> _Token:
        index = min(self.i, len(self.tokens) - 1)
        self.i = index + 1
        self.furthest = max(self.furthest, index)
        return self.tokens[index]

    def backup(self) -> None:
        self.i -= 1

    def peek(self) -> _Token:
        token = self.next()
        self.backup()
        return token

    def next_non_space(self) -> _Token:
        while (token := self.next()).kind == _SPACE:
            pass
        return token

    def peek_non_space(self) -> _Token:
        token = self.next_non_space()
        self.backup()
        return token

    def errorf(self, reason: str) -> NoReturn:
        raise TemplateError(self.tokens[self.furthest].line, reason)

    def expect(self, kind: str, context: str) -> _Token:
        token = self.next_non_space()
        if token.kind != kind:
            self.unexpected(token, context)
        return token

    def unexpected(self, token: _Token, context: str) -> NoReturn:
        if token.kind == _ERROR:
            extra = ""
            if self.action_line and self.action_line != token.line:
                extra = f" in action started at line {self.action_line}"
                if token.value.endswith(" action"):
                    extra = extra[len(" in action") :]
            self.errorf(token.value + extra)
        self.errorf(f"unexpected {token.describe()} in {context}")

    def nest(self, reason: str) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            self.errorf(reason)

    def parse(self) -> tuple[_Node, ...]:
        nodes: list[_Node] = []
        while self.peek().kind != _EOF:
            if self.peek().kind == _LEFT_DELIM:
                mark = self.i
                self.next()
                token = self.next_non_space()
                if token.kind == "define":
                    self.errorf(_UNSUPPORTED["define"])
                self.i = mark
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                self.errorf(
                    "unexpected {{end}}" if isinstance(node, _End) else "unexpected {{else}}"
                )
            nodes.append(node)
        return tuple(nodes)

    def item_list(self) -> tuple[tuple[_Node, ...], _End | _Else]:
        nodes: list[_Node] = []
        while self.peek_non_space().kind != _EOF:
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                return tuple(nodes), node
            nodes.append(node)
        self.errorf("unexpected EOF")

    def text_or_action(self) -> _Node | _End | _Else:
        token = self.next_non_space()
        if token.kind == _TEXT:
            return _Text(token.line, _encode(token.value))
        if token.kind == _LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        self.unexpected(token, "input")

    def action(self) -> _Node | _End | _Else:
        token = self.next_non_space()
        if token.kind in _UNSUPPORTED:
            self.errorf(_UNSUPPORTED[token.kind])
        if token.kind in ("break", "continue"):
            following = self.next_non_space()
            if following.kind != _RIGHT_DELIM:
                self.unexpected(following, f"{{{{{token.kind}}}}}")
            # No range, so never inside one.
            self.errorf(f"{{{{{token.kind}}}}} outside {{{{range}}}}")
        if token.kind == "else":
            return self.else_control()
        if token.kind == "end":
            return _End(self.expect(_RIGHT_DELIM, "end").line)
        if token.kind in ("if", "with"):
            return self.control(token.kind)
        self.backup()
        return _Action(self.peek().line, self.pipeline("command", _RIGHT_DELIM))

    def else_control(self) -> _Else:
        token = self.peek_non_space()
        # "{{else if ...}}" is "{{else}}{{if ...}}", and in a with "{{else with ...}}"
        # is "{{else}}{{with ...}}": Go 1.23's, which later webhook releases have and
        # Debian's 2.8.0 (Go 1.19) refuses.
        if token.kind == "if" or (token.kind == "with" and self.controls[-1:] == ["with"]):
            return _Else(token.line)
        return _Else(self.expect(_RIGHT_DELIM, "else").line)

    def control(self, context: str) -> _Branch:
        mark = len(self.vars)
        self.nest("if and with nest too deeply")
        self.controls.append(context)
        try:
            pipe = self.pipeline(context, _RIGHT_DELIM)
            body, end = self.item_list()
            orelse: tuple[_Node, ...] | None = None
            if isinstance(end, _Else):
                if self.peek().kind == context:
                    self.next()
                    orelse = (self.control(context),)
                else:
                    orelse, end = self.item_list()
                    if not isinstance(end, _End):
                        self.errorf("expected end; found {{else}}")
            return _Branch(pipe.line, context == "with", pipe, body, orelse)
        finally:
            del self.vars[mark:]
            self.depth -= 1
            self.controls.pop()

    def pipeline(self, context: str, end: str) -> _Pipe:
        line = self.peek_non_space().line
        decls: list[str] = []
        is_assign = False
        token = self.peek_non_space()
        if token.kind == _VARIABLE:
            mark = self.i
            self.next()
            following = self.peek_non_space()
            if following.kind in (_ASSIGN, _DECLARE):
                is_assign = following.kind == _ASSIGN
                self.next_non_space()
                decls.append(token.value)
                # Go adds an assigned name too; assigning an undeclared one
                # fails when it runs (exec.go's setVar), not here.
                self.vars.append(token.value)
            elif following.kind == _CHAR and following.value == ",":
                self.next_non_space()
                self.errorf(f"too many declarations in {context}")
            else:
                self.i = mark
        cmds: list[_Command] = []
        while True:
            token = self.next_non_space()
            if token.kind == end:
                self.check_pipeline(cmds, context)
                return _Pipe(line, tuple(decls), is_assign, tuple(cmds))
            if token.kind in _TERM_START:
                self.backup()
                cmds.append(self.command())
            else:
                self.unexpected(token, context)

    def check_pipeline(self, cmds: list[_Command], context: str) -> None:
        if not cmds:
            self.errorf(f"missing value for {context}")
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], _Bool | _Dot | _Nil | _Number | _String):
                self.errorf(f"non executable command in pipeline stage {stage}")

    def command(self) -> _Command:
        line = self.peek_non_space().line
        args: list[_Operand] = []
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            token = self.next()
            if token.kind == _SPACE:
                continue
            if token.kind in (_RIGHT_DELIM, _RPAREN):
                self.backup()
            elif token.kind != _PIPE:
                self.unexpected(token, "operand")
            break
        if not args:
            self.errorf("empty command")
        return _Command(line, tuple(args))

    def operand(self) -> _Operand | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().kind == _FIELD:
            fields = ""
            while self.peek().kind == _FIELD:
                fields += self.next().value
            if isinstance(node, _Bool | _String | _Number | _Nil | _Dot):
                self.errorf(f"unexpected . after term {_quote_text(_describe(node))}")
            self.errorf(f"{fields} is not supported: fields and methods need data, and {_NO_DATA}")
        return node

    def term(self) -> _Operand | None:
        token = self.next_non_space()
        kind = token.kind
        if kind == _IDENT:
            if token.value not in _FUNCTIONS and token.value != "call":
                self.errorf(f"function {_quote_text(token.value)} not defined")
            if token.value == "call":
                self.errorf(f"call is not supported: it calls functions from data, and {_NO_DATA}")
            return _Identifier(token.line, token.value)
        if kind == "dot":
            return _Dot(token.line)
        if kind == "nil":
            return _Nil(token.line)
        if kind == _VARIABLE:
            if token.value not in self.vars:
                self.errorf(f"undefined variable {_quote_text(token.value)}")
            return _Variable(token.line, token.value)
        if kind == _FIELD:
            self.errorf(
                f"{token.value} is not supported: fields and methods need data, and {_NO_DATA}"
            )
        if kind == _BOOL:
            return _Bool(token.line, token.value == "true")
        if kind in (_CHAR_CONST, _COMPLEX, _NUMBER):
            try:
                return _number(token)
            except ValueError as e:
                reason = str(e)
            self.errorf(reason)
        if kind == _LPAREN:
            self.nest("max expression depth exceeded")
            try:
                return self.pipeline("parenthesized pipeline", _RPAREN)
            finally:
                self.depth -= 1
        if kind in (_STRING, _RAW_STRING):
            try:
                return _String(token.line, token.value, _unquote(token.value))
            except ValueError as e:
                reason = str(e)
            self.errorf(reason)
        self.backup()
        return None


# --- Literals (parse.go's newNumber and idealConstant; strconv) -------------


def _unquote(quoted: str) -> bytes:
    """strconv.Unquote of a "..." or `...` literal, to a Go string (bytes)."""
    if quoted[0] == "`":
        # Raw strings lose their carriage returns (strconv.Unquote).
        return _encode(quoted[1:-1].replace("\r", ""))
    out = bytearray()
    rest = quoted[1:-1]
    while rest:
        value, rest = _unquote_char(rest, '"')
        out += value
    return bytes(out)


def _unquote_char(s: str, quote: str) -> tuple[bytes, str]:
    """strconv.UnquoteChar: the first character of C{s} (bytes) and the rest."""
    c = s[0]
    if c == quote:
        raise ValueError("invalid syntax")
    if c != "\\":
        # A byte that is not UTF-8 decodes to U+FFFD (utf8.DecodeRuneInString).
        return _encode("\ufffd" if "\udc80" <= c <= "\udcff" else c), s[1:]
    if len(s) < 2:
        raise ValueError("invalid syntax")
    c, s = s[1], s[2:]
    simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
    if c in simple:
        return bytes([simple[c]]), s
    if c in "xuU":
        size = {"x": 2, "u": 4, "U": 8}[c]
        digits = s[:size]
        if len(digits) < size or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 16)
        if c == "x":
            return bytes([value]), s[size:]
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise ValueError("invalid syntax")
        return chr(value).encode(), s[size:]
    if "0" <= c <= "7":
        digits = c + s[:2]
        if len(digits) < 3 or not all("0" <= d <= "7" for d in digits) or int(digits, 8) > 255:
            raise ValueError("invalid syntax")
        return bytes([int(digits, 8)]), s[2:]
    if c in "'\"" and c == quote:
        return c.encode(), s
    raise ValueError("invalid syntax")


def _number(token: _Token) -> _Number:
    """
    parse.go's newNumber and exec.go's idealConstant at once: what type Go
    gives the literal (int, float64 or complex128) and its value.
    """
    text, line = token.value, token.line
    if token.kind == _CHAR_CONST:
        char, tail = _unquote_char(text[1:], "'")
        if tail != "'":
            raise ValueError(f"malformed character constant: {text}")
        return _Number(line, text, ord(_decode(char)) if len(char) > 1 else char[0])
    if token.kind == _COMPLEX:
        # The lexer made it "REAL+IMAGi": the last sign that starts no exponent splits it.
        split = next(
            i for i in range(len(text) - 1, 0, -1) if text[i] in "+-" and text[i - 1] not in "eEpP"
        )
        real, imag = _parse_float(text[:split]), _parse_float(text[split:-1])
        if real is None or imag is None:
            raise ValueError(f"illegal number syntax: {_quote_text(text)}")
        return _Number(line, text, complex(real, imag))
    if text.endswith("i"):
        imag = _parse_float(text[:-1])
        if imag is not None:
            return _Number(line, text, complex(0, imag))
    signed = _parse_int(text, signed=True)
    if signed is not None:
        return _Number(line, text, signed)
    unsigned = _parse_int(text, signed=False)
    if unsigned is not None:
        # Go holds it as uint64 and refuses it as an int when it runs.
        return _Number(line, text, unsigned, overflows=True)
    value = _parse_float(text)
    if value is None:
        raise ValueError(f"illegal number syntax: {_quote_text(text)}")
    if not any(c in text for c in ".eEpP"):
        raise ValueError(f"integer overflow: {_quote_text(text)}")
    return _Number(line, text, value)


def _underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: underscores only between digits (or after a base prefix)."""
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexadecimal = False
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i = 2
        saw = "0"
        hexadecimal = s[1] in "xX"
    for c in s[i:]:
        if "0" <= c <= "9" or (hexadecimal and c in "abcdefABCDEF"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _parse_int(text: str, signed: bool) -> int | None:
    """strconv.ParseInt(text, 0, 64) or ParseUint(text, 0, 64); None where they fail."""
    s = text
    negative = False
    if signed and s[:1] in ("+", "-"):
        negative = s[0] == "-"
        s = s[1:]
    if not s:
        return None
    base = 10
    body = s
    if s[0] == "0":
        if len(s) >= 3 and s[1] in "bB":
            base, body = 2, s[2:]
        elif len(s) >= 3 and s[1] in "oO":
            base, body = 8, s[2:]
        elif len(s) >= 3 and s[1] in "xX":
            base, body = 16, s[2:]
        else:
            base, body = 8, s[1:]
    if "_" in body and not _underscore_ok(s):
        return None
    digits = body.replace("_", "")
    valid = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}[base]
    if (body and not digits) or not all(c in valid for c in digits):
        return None
    value = int(digits, base) if digits else 0
    if not signed:
        return value if value < 1 << 64 else None
    value = -value if negative else value
    return value if -(1 << 63) <= value < 1 << 63 else None


_DECIMAL_FLOAT = re.compile(r"[+-]?(?=\.?[0-9])[0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9_]+)?")
_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?=\.?[0-9a-fA-F_])[0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?[pP][+-]?[0-9_]+"
)


def _parse_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64); None where it fails (a syntax error or out of range)."""
    if "_" in text and not _underscore_ok(text):
        return None
    try:
        if _HEX_FLOAT.fullmatch(text):
            value = float.fromhex(text.replace("_", ""))
        elif _DECIMAL_FLOAT.fullmatch(text):
            value = float(text.replace("_", ""))
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return None if math.isinf(value) else value


# --- Execution (src/text/template/exec.go) ----------------------------------


@frozen
class _Byte:
    """A uint8: what indexing a string gives (funcs.go's index)."""

    value: int


_Value = bytes | bool | int | float | complex | _Byte | None
"""A Go value in a template: None is the invalid value (no data, nil)."""


class _Missing:
    """exec.go's missingVal: no value came down the pipeline."""


_MISSING = _Missing()


class _CallError(Exception):
    """An error a builtin returns: Go reports it as "error calling NAME: ..."."""


def _type_name(value: _Value) -> str:
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, _Byte):
        return "uint8"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, complex):
        return "complex128"
    return "<nil>"


def _is_true(value: _Value) -> bool:
    # exec.go's isTrue: the zero value of its type is false; so is no value.
    if value is None:
        return False
    if isinstance(value, _Byte):
        return value.value != 0
    if isinstance(value, bytes):
        return len(value) > 0
    return bool(value)


class _State:
    def __init__(self, functions: TemplateFunctions) -> None:
        self.functions = functions
        self.vars: list[tuple[str, _Value]] = [("$", None)]
        self.out: list[bytes] = []
        self.at: _Operand | _Command | _Action = _Dot(1)

    def errorf(self, reason: str) -> NoReturn:
        raise TemplateError(self.at.line, f"at <{_describe(self.at)}>: {reason}")

    def walk_list(self, dot: _Value, nodes: Sequence[_Node]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                self.out.append(node.data)
            elif isinstance(node, _Action):
                self.at = node
                value = self.eval_pipeline(dot, node.pipe)
                # An action that declares a variable prints nothing.
                if not node.pipe.decls:
                    self.out.append(b"<no value>" if value is None else _sprint([value]))
            else:
                mark = len(self.vars)
                try:
                    value = self.eval_pipeline(dot, node.pipe)
                    if _is_true(value):
                        self.walk_list(value if node.is_with else dot, node.body)
                    elif node.orelse is not None:
                        self.walk_list(dot, node.orelse)
                finally:
                    del self.vars[mark:]

    def var_value(self, name: str) -> _Value:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        self.errorf(f"undefined variable: {name}")

    def set_var(self, name: str, value: _Value) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        self.errorf(f"undefined variable: {name}")

    def eval_pipeline(self, dot: _Value, pipe: _Pipe) -> _Value:
        value: _Value | _Missing = _MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        assert not isinstance(value, _Missing)
        for name in pipe.decls:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append((name, value))
        return value

    def not_a_function(self, args: Sequence[_Operand], final: _Value | _Missing) -> None:
        if len(args) > 1 or final is not _MISSING:
            self.errorf(f"can't give argument to non-function {_describe(args[0])}")

    def eval_command(self, dot: _Value, cmd: _Command, final: _Value | _Missing) -> _Value:
        first = cmd.args[0]
        if isinstance(first, _Identifier):
            return self.eval_function(dot, first, cmd, cmd.args[1:], final)
        if isinstance(first, _Variable):
            self.at = first
            value = self.var_value(first.name)
            self.not_a_function(cmd.args, final)
            return value
        self.at = cmd if isinstance(first, _Pipe) else first
        self.not_a_function(cmd.args, final)
        if isinstance(first, _Pipe):
            return self.eval_pipeline(dot, first)
        if isinstance(first, _Bool):
            return first.value
        if isinstance(first, _Dot):
            return dot
        if isinstance(first, _Nil):
            self.errorf("nil is not a command")
        if isinstance(first, _Number):
            return self.ideal_constant(first)
        return first.value

    def ideal_constant(self, number: _Number) -> _Value:
        self.at = number
        if number.overflows:
            self.errorf(f"{number.text} overflows int")
        return number.value

    def eval_function(
        self,
        dot: _Value,
        ident: _Identifier,
        node: _Command | _Identifier,
        args: Sequence[_Operand],
        final: _Value | _Missing,
    ) -> _Value:
        self.at = ident
        name = ident.name
        function = _FUNCTIONS[name]
        fixed = function.fixed
        given = len(args) + (final is not _MISSING)
        if function.variadic is not None:
            if given < len(fixed):
                self.errorf(
                    f"wrong number of args for {name}: want at least {len(fixed)} got {len(args)}"
                )
        elif given != len(fixed):
            self.errorf(f"wrong number of args for {name}: want {len(fixed)} got {given}")
        if name in ("and", "or"):
            # and and or stop at the first argument that decides (Go 1.18).
            value: _Value = None
            for arg in args:
                value = self.eval_arg(dot, "value", arg)
                if _is_true(value) == (name == "or"):
                    return value
            if not isinstance(final, _Missing):
                value = final
            return value
        argv: list[_Value] = []
        for i, arg in enumerate(args):
            kind = fixed[i] if i < len(fixed) else function.variadic
            assert kind is not None
            argv.append(self.eval_arg(dot, kind, arg))
        if not isinstance(final, _Missing):
            kind = fixed[given - 1] if given - 1 < len(fixed) else function.variadic
            assert kind is not None
            argv.append(self.validate_type(final, kind))
        try:
            return function.call(self.functions, argv)
        except _CallError as e:
            reason = str(e)
        self.at = node
        self.errorf(f"error calling {name}: {reason}")

    def eval_arg(self, dot: _Value, kind: str, arg: _Operand) -> _Value:
        """An argument for a parameter of C{kind}: "string", "any" or "value" (reflect.Value)."""
        self.at = arg
        if isinstance(arg, _Dot):
            return self.validate_type(dot, kind)
        if isinstance(arg, _Nil):
            if kind == "string":
                self.errorf("cannot assign nil to string")
            return None
        if isinstance(arg, _Variable):
            return self.validate_type(self.var_value(arg.name), kind)
        if isinstance(arg, _Pipe):
            return self.validate_type(self.eval_pipeline(dot, arg), kind)
        if isinstance(arg, _Identifier):
            return self.validate_type(self.eval_function(dot, arg, arg, (), _MISSING), kind)
        if kind == "string":
            if isinstance(arg, _String):
                return arg.value
            self.errorf(f"expected string; found {_describe(arg)}")
        if isinstance(arg, _Number):
            return self.ideal_constant(arg)
        return arg.value

    def validate_type(self, value: _Value, kind: str) -> _Value:
        if kind != "string":
            return value
        if value is None:
            self.errorf("invalid value; expected string")
        if not isinstance(value, bytes):
            self.errorf(f"wrong type for value; expected string; got {_type_name(value)}")
        return value


# --- The functions (src/text/template/funcs.go, hook.go) --------------------


@frozen
class _Function:
    fixed: tuple[str, ...]
    variadic: str | None
    call: Callable[[TemplateFunctions, list[_Value]], _Value]


def _go_string(value: _Value) -> bytes:
    assert isinstance(value, bytes)
    return value


def _hook_function(
    pick: Callable[[TemplateFunctions], Callable[[str], str]],
) -> Callable[[TemplateFunctions, list[_Value]], _Value]:
    def call(functions: TemplateFunctions, argv: list[_Value]) -> _Value:
        return _encode(pick(functions)(_decode(_go_string(argv[0]))))

    return call


def _basic_kind(value: _Value) -> str:
    """funcs.go's basicKind: the family of a value for eq, lt and the others."""
    if value is None:
        return "invalid"
    if isinstance(value, _Byte):
        return "uint"
    return _type_name(value).rstrip("0123456789")


def _eq(argv: list[_Value]) -> bool:
    first, others = argv[0], argv[1:]
    if not others:
        raise _CallError("missing argument for comparison")
    k1 = _basic_kind(first)
    for other in others:
        k2 = _basic_kind(other)
        if k1 != k2:
            # An int and a uint compare by value; with no value on one side
            # eq is false (Go 1.18), other mixes are errors.
            if k1 == "int" and isinstance(other, _Byte):
                truth = first == other.value
            elif k2 == "int" and isinstance(first, _Byte):
                truth = other == first.value
            elif first is not None and other is not None:
                raise _CallError("incompatible types for comparison")
            else:
                truth = False
        else:
            truth = first == other
        if truth:
            return True
    return False


def _lt(a: _Value, b: _Value) -> bool:
    k1, k2 = _basic_kind(a), _basic_kind(b)
    if "invalid" in (k1, k2):
        raise _CallError("invalid type for comparison")
    x = a.value if isinstance(a, _Byte) else a
    y = b.value if isinstance(b, _Byte) else b
    if k1 != k2 and {k1, k2} != {"int", "uint"}:
        raise _CallError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise _CallError("invalid type for comparison")
    return x < y  # type: ignore[operator]


def _le(a: _Value, b: _Value) -> bool:
    return _lt(a, b) or _eq([a, b])


def _index_arg(index: _Value, cap: int) -> int:
    """funcs.go's indexArg: an int (or uint8) index no greater than C{cap}."""
    if isinstance(index, _Byte):
        x = index.value
    elif isinstance(index, int) and not isinstance(index, bool):
        x = index
    elif index is None:
        raise _CallError("cannot index slice/array with nil")
    else:
        raise _CallError(f"cannot index slice/array with type {_type_name(index)}")
    # Go names the index; a computed one may come from the environment, so not here.
    if x < 0 or x > cap:
        raise _CallError("index out of range")
    return x


def _index(argv: list[_Value]) -> _Value:
    item = argv[0]
    if item is None:
        raise _CallError("index of untyped nil")
    for index in argv[1:]:
        if not isinstance(item, bytes):
            raise _CallError(f"can't index item of type {_type_name(item)}")
        x = _index_arg(index, len(item))
        if x == len(item):
            # Go 1.19 panics in reflect here ("reflect: string index out of range").
            raise _CallError("index out of range")
        item = _Byte(item[x])
    return item


def _slice(argv: list[_Value]) -> _Value:
    item, indexes = argv[0], argv[1:]
    if item is None:
        raise _CallError("slice of untyped nil")
    if len(indexes) > 3:
        raise _CallError(f"too many slice indexes: {len(indexes)}")
    if not isinstance(item, bytes):
        raise _CallError(f"can't slice item of type {_type_name(item)}")
    if len(indexes) == 3:
        raise _CallError("cannot 3-index slice a string")
    bounds = [0, len(item)]
    for i, index in enumerate(indexes):
        bounds[i] = _index_arg(index, len(item))
    if bounds[0] > bounds[1]:
        raise _CallError("invalid slice index: the start is after the end")
    return item[bounds[0] : bounds[1]]


def _length(argv: list[_Value]) -> _Value:
    item = argv[0]
    if item is None:
        # Go 1.19 says "reflect: call of reflect.Value.Type on zero Value".
        raise _CallError("len of untyped nil")
    if not isinstance(item, bytes):
        raise _CallError(f"len of type {_type_name(item)}")
    return len(item)


def _eval_args(argv: list[_Value]) -> bytes:
    """funcs.go's evalArgs: one string as it is, else fmt.Sprint with no value as C{<no value>}."""
    if len(argv) == 1 and isinstance(argv[0], bytes):
        return argv[0]
    return _sprint([b"<no value>" if arg is None else arg for arg in argv])


_FUNCTIONS: dict[str, _Function] = {
    # and and or are evaluated in _State.eval_function: they stop early.
    "and": _Function(("value",), "value", lambda f, a: None),
    "or": _Function(("value",), "value", lambda f, a: None),
    "not": _Function(("value",), None, lambda f, a: not _is_true(a[0])),
    "len": _Function(("value",), None, lambda f, a: _length(a)),
    "index": _Function(("value",), "value", lambda f, a: _index(a)),
    "slice": _Function(("value",), "value", lambda f, a: _slice(a)),
    "print": _Function((), "any", lambda f, a: _sprint(a)),
    "println": _Function((), "any", lambda f, a: _sprintln(a)),
    "printf": _Function(("string",), "any", lambda f, a: _sprintf(_go_string(a[0]), a[1:])),
    "html": _Function((), "any", lambda f, a: _html_escape(_eval_args(a))),
    "js": _Function((), "any", lambda f, a: _js_escape(_eval_args(a))),
    "urlquery": _Function((), "any", lambda f, a: _query_escape(_eval_args(a))),
    "eq": _Function(("value",), "value", lambda f, a: _eq(a)),
    "ne": _Function(("value", "value"), None, lambda f, a: not _eq(a)),
    "lt": _Function(("value", "value"), None, lambda f, a: _lt(a[0], a[1])),
    "le": _Function(("value", "value"), None, lambda f, a: _le(a[0], a[1])),
    "gt": _Function(("value", "value"), None, lambda f, a: not _le(a[0], a[1])),
    "ge": _Function(("value", "value"), None, lambda f, a: not _lt(a[0], a[1])),
    # webhook's own (hook.go's funcMap), each func(string) string.
    "getenv": _Function(("string",), None, _hook_function(lambda f: f.getenv)),
    "cat": _Function(("string",), None, _hook_function(lambda f: f.cat)),
    "credential": _Function(("string",), None, _hook_function(lambda f: f.credential)),
}


# --- Escaping (funcs.go: HTMLEscape, JSEscape, URLQueryEscaper) --------------


def _decode_rune(data: bytes, i: int) -> tuple[int, int]:
    """utf8.DecodeRune at C{i}: the rune and its size; a stray byte is (U+FFFD, 1)."""
    lead = data[i]
    if lead < 0x80:
        return lead, 1
    size = 2 if 0xC2 <= lead <= 0xDF else 3 if 0xE0 <= lead <= 0xEF else 4 if lead <= 0xF4 else 0
    if size:
        try:
            return ord(data[i : i + size].decode("utf-8")), size
        except UnicodeDecodeError:
            pass
    return 0xFFFD, 1


def _is_print(rune: int) -> bool:
    # unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the
    # ASCII space; Python's isprintable draws the same line.
    return chr(rune).isprintable()


def _html_escape(data: bytes) -> bytes:
    table = {
        ord('"'): b"&#34;",
        ord("'"): b"&#39;",
        ord("&"): b"&amp;",
        ord("<"): b"&lt;",
        ord(">"): b"&gt;",
        0: "\ufffd".encode(),
    }
    return b"".join(table.get(c, bytes([c])) for c in data)


_JS_ASCII = {
    ord("\\"): b"\\\\",
    ord("'"): b"\\'",
    ord('"'): b'\\"',
    ord("<"): b"\\u003C",
    ord(">"): b"\\u003E",
    ord("&"): b"\\u0026",
    ord("="): b"\\u003D",
}


def _js_escape(data: bytes) -> bytes:
    # Go 1.19's JSEscape: control characters as \u00XX and <>&= as \u00XX too
    # (older Go wrote \x3C); other runes as they are unless not printable. A
    # byte that is not UTF-8 passes unchanged (RuneError counts as printable).
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c < 0x80:
            if c in _JS_ASCII:
                out += _JS_ASCII[c]
            elif c < 0x20:
                out += b"\\u00%02X" % c
            else:
                out.append(c)
            i += 1
            continue
        rune, size = _decode_rune(data, i)
        if _is_print(rune):
            out += data[i : i + size]
        else:
            out += b"\\u%04X" % rune
        i += size
    return bytes(out)


_QUERY_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _query_escape(data: bytes) -> bytes:
    # url.QueryEscape: the unreserved characters stay, a space is '+', every
    # other byte is %XX.
    out = bytearray()
    for c in data:
        if c in _QUERY_SAFE:
            out.append(c)
        elif c == 0x20:
            out.append(ord("+"))
        else:
            out += b"%%%02X" % c
    return bytes(out)


# --- Quoting (strconv/quote.go) ---------------------------------------------


def _append_escaped_rune(out: bytearray, rune: int, quote: int, ascii_only: bool) -> None:
    if rune in (quote, ord("\\")):
        out.append(ord("\\"))
        out += chr(rune).encode()
        return
    if ascii_only:
        if rune < 0x80 and _is_print(rune):
            out.append(rune)
            return
    elif _is_print(rune):
        out += chr(rune).encode()
        return
    named = {7: b"\\a", 8: b"\\b", 12: b"\\f", 10: b"\\n", 13: b"\\r", 9: b"\\t", 11: b"\\v"}
    if rune in named:
        out += named[rune]
    elif rune < 0x20 or rune == 0x7F:
        out += b"\\x%02x" % rune
    elif rune > 0x10FFFF or 0xD800 <= rune <= 0xDFFF:
        out += b"\\ufffd"
    elif rune < 0x10000:
        out += b"\\u%04x" % rune
    else:
        out += b"\\U%08x" % rune


def _quote(data: bytes, ascii_only: bool = False) -> bytes:
    """strconv.Quote (or QuoteToASCII): a Go string literal; bytes that are not UTF-8 as \\xNN."""
    out = bytearray(b'"')
    i = 0
    while i < len(data):
        rune, size = _decode_rune(data, i)
        if size == 1 and rune == 0xFFFD:
            out += b"\\x%02x" % data[i]
        else:
            _append_escaped_rune(out, rune, ord('"'), ascii_only)
        i += size
    out += b'"'
    return bytes(out)


def _quote_text(text: str) -> str:
    """Go's %q of a string, for error messages."""
    return _decode(_quote(_encode(text)))


def _quote_rune(rune: int, ascii_only: bool) -> bytes:
    if rune > 0x10FFFF or 0xD800 <= rune <= 0xDFFF:
        rune = 0xFFFD
    out = bytearray(b"'")
    _append_escaped_rune(out, rune, ord("'"), ascii_only)
    out += b"'"
    return bytes(out)


def _can_backquote(data: bytes) -> bool:
    i = 0
    while i < len(data):
        rune, size = _decode_rune(data, i)
        i += size
        if size > 1:
            if rune == 0xFEFF:
                return False
            continue
        if rune == 0xFFFD:
            return False
        if (rune < 0x20 and rune != 9) or rune in (0x60, 0x7F):
            return False
    return True


def _go_unicode(c: str) -> str:
    """fmt's %#U of a character: U+0022 '"'."""
    rune = ord(c)
    return f"U+{rune:04X} '{c}'" if _is_print(rune) else f"U+{rune:04X}"


# --- Printing (src/fmt/print.go and format.go, strconv/ftoa.go) --------------


def _sprint(args: Sequence[_Value]) -> bytes:
    """fmt.Sprint: a space between two operands when neither is a string."""
    printer = _Printer()
    previous_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, bytes)
        if i > 0 and not is_string and not previous_string:
            printer.buf += b" "
        printer.print_arg(arg, "v")
        previous_string = is_string
    return bytes(printer.buf)


def _sprintln(args: Sequence[_Value]) -> bytes:
    printer = _Printer()
    for i, arg in enumerate(args):
        if i > 0:
            printer.buf += b" "
        printer.print_arg(arg, "v")
    printer.buf += b"\n"
    return bytes(printer.buf)


def _sprintf(format: bytes, args: Sequence[_Value]) -> bytes:
    printer = _Printer()
    printer.do_printf(format, list(args))
    return bytes(printer.buf)


def _parse_num(s: bytes, start: int, end: int) -> tuple[int, bool, int]:
    """print.go's parsenum: the decimal number at C{start}, whether there is one, its end."""
    if start >= end:
        return 0, False, end
    num, is_num, i = 0, False, start
    while i < end and 0x30 <= s[i] <= 0x39:
        if num > 1_000_000:
            return 0, False, end
        num = num * 10 + s[i] - 0x30
        is_num = True
        i += 1
    return num, is_num, i


class _Printer:
    """One fmt.pp: a buffer and the flags of the verb at hand."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.arg: _Value = None
        self.reordered = False
        self.good_arg_num = True
        self.clear_flags()

    def clear_flags(self) -> None:
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid = self.prec = 0
        self.wid_present = self.prec_present = False

    # format.go: padding.

    def write_padding(self, n: int) -> None:
        if n > 0:
            self.buf += (b"0" if self.zero else b" ") * n

    def pad(self, data: bytes) -> None:
        if not self.wid_present or self.wid == 0:
            self.buf += data
            return
        width = self.wid - len(_decode(data))
        if not self.minus:
            self.write_padding(width)
            self.buf += data
        else:
            self.buf += data
            self.write_padding(width)

    def truncate(self, data: bytes) -> bytes:
        if self.prec_present:
            text = _decode(data)
            if len(text) > self.prec:
                return _encode(text[: self.prec])
        return data

    # print.go: printArg and the verbs of each type.

    def print_arg(self, arg: _Value, verb: str) -> None:
        self.arg = arg
        if arg is None:
            if verb in ("T", "v"):
                self.pad(b"<nil>")
            else:
                self.bad_verb(verb)
            return
        if verb == "T":
            self.pad(self.truncate(_type_name(arg).encode()))
        elif verb == "p":
            self.bad_verb(verb)
        elif isinstance(arg, bool):
            if verb in ("t", "v"):
                self.pad(b"true" if arg else b"false")
            else:
                self.bad_verb(verb)
        elif isinstance(arg, _Byte):
            self.fmt_integer_verb(arg.value, False, verb)
        elif isinstance(arg, int):
            self.fmt_integer_verb(arg, True, verb)
        elif isinstance(arg, float):
            self.fmt_float_verb(arg, verb)
        elif isinstance(arg, complex):
            if verb in "vbgGxXfFeE":
                old_plus = self.plus
                self.buf += b"("
                self.fmt_float_verb(arg.real, verb)
                self.plus = True  # The imaginary part always has a sign.
                self.fmt_float_verb(arg.imag, verb)
                self.buf += b"i)"
                self.plus = old_plus
            else:
                self.bad_verb(verb)
        else:
            self.fmt_string_verb(arg, verb)

    def bad_verb(self, verb: str) -> None:
        self.buf += b"%!" + _encode(verb) + b"("
        if self.arg is not None:
            self.buf += _type_name(self.arg).encode() + b"="
            self.print_arg(self.arg, "v")
        else:
            self.buf += b"<nil>"
        self.buf += b")"

    def fmt_integer_verb(self, value: int, signed: bool, verb: str) -> None:
        if verb == "v":
            if self.sharp_v and not signed:
                sharp, self.sharp = self.sharp, True
                self.fmt_integer(value, 16, signed, verb, upper=False)
                self.sharp = sharp
            else:
                self.fmt_integer(value, 10, signed, verb, upper=False)
        elif verb in ("d", "b", "o", "O", "x", "X"):
            base = {"d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}[verb]
            self.fmt_integer(value, base, signed, verb, upper=verb == "X")
        elif verb in ("c", "q", "U"):
            # These take the value as a uint64 (a negative int wraps).
            code = value & (1 << 64) - 1
            if verb == "U":
                self.fmt_unicode(code)
                return
            rune = code if code <= 0x10FFFF else 0xFFFD
            if verb == "c":
                self.pad(chr(rune if not 0xD800 <= rune <= 0xDFFF else 0xFFFD).encode())
            else:
                self.pad(_quote_rune(rune, ascii_only=self.plus))
        else:
            self.bad_verb(verb)

    def fmt_integer(self, value: int, base: int, signed: bool, verb: str, upper: bool) -> None:
        negative = signed and value < 0
        u = -value if negative else value
        prec = 0
        if self.prec_present:
            prec = self.prec
            if prec == 0 and u == 0:
                # Precision 0 and the value 0 print nothing, but the padding.
                zero, self.zero = self.zero, False
                self.write_padding(self.wid)
                self.zero = zero
                return
        elif self.zero and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        digits = {2: "{:b}", 8: "{:o}", 10: "{:d}", 16: "{:X}" if upper else "{:x}"}[base]
        text = digits.format(u).rjust(prec, "0")
        if self.sharp:
            if base == 2:
                text = "0b" + text
            elif base == 8 and text[0] != "0":
                text = "0" + text
            elif base == 16:
                text = ("0X" if upper else "0x") + text
        if verb == "O":
            text = "0o" + text
        if negative:
            text = "-" + text
        elif self.plus:
            text = "+" + text
        elif self.space:
            text = " " + text
        zero, self.zero = self.zero, False
        self.pad(text.encode())
        self.zero = zero

    def fmt_unicode(self, code: int) -> None:
        prec = self.prec if self.prec_present and self.prec > 4 else 4
        text = "U+" + f"{code:X}".rjust(prec, "0")
        if self.sharp and code <= 0x10FFFF and _is_print(code):
            text += f" '{chr(code)}'"
        zero, self.zero = self.zero, False
        self.pad(text.encode())
        self.zero = zero

    def fmt_float_verb(self, value: float, verb: str) -> None:
        if verb == "v":
            self.fmt_float(value, "g", -1)
        elif verb in "bgGxX":
            self.fmt_float(value, verb, -1)
        elif verb in "feE":
            self.fmt_float(value, verb, 6)
        elif verb == "F":
            self.fmt_float(value, "f", 6)
        else:
            self.bad_verb(verb)

    def fmt_float(self, value: float, verb: str, prec: int) -> None:
        if self.prec_present:
            prec = self.prec
        num = _format_float(value, verb, prec)
        if num[0] in "+-":
            sign, body = num[0], num[1:]
        else:
            sign, body = "+", num
        if self.space and sign == "+" and not self.plus:
            sign = " "
        if self.sharp and verb != "b":
            body = self.sharp_float(body, verb, prec)
        if self.plus or sign != "+":
            if self.zero and self.wid_present and self.wid > len(body) + 1:
                # The sign goes before the zeros.
                self.buf += sign.encode()
                self.write_padding(self.wid - len(body) - 1)
                self.buf += body.encode()
                return
            self.pad((sign + body).encode())
            return
        self.pad(body.encode())

    def sharp_float(self, body: str, verb: str, prec: int) -> str:
        """%#g and the like: keep the decimal point and, for %g, the trailing zeros."""
        digits = 0
        if verb in "vgGx":
            digits = 6 if prec == -1 else prec
        tail = ""
        has_point = saw_nonzero = False
        for i, c in enumerate(body):
            if c == ".":
                has_point = True
            elif c in "pP" or (c in "eE" and verb not in "xX"):
                body, tail = body[:i], body[i:]
                break
            else:
                if c != "0":
                    saw_nonzero = True
                if saw_nonzero:
                    digits -= 1
        if not has_point:
            if body == "0":
                digits -= 1
            body += "."
        return body + "0" * max(digits, 0) + tail

    def fmt_string_verb(self, value: bytes, verb: str) -> None:
        if (verb == "v" and self.sharp_v) or verb == "q":
            value = self.truncate(value)
            if self.sharp and _can_backquote(value):
                self.pad(b"`" + value + b"`")
            else:
                self.pad(_quote(value, ascii_only=self.plus))
        elif verb in ("v", "s"):
            self.pad(self.truncate(value))
        elif verb in ("x", "X"):
            self.fmt_hex_string(value, upper=verb == "X")
        else:
            self.bad_verb(verb)

    def fmt_hex_string(self, value: bytes, upper: bool) -> None:
        length = len(value)
        if self.prec_present and self.prec < length:
            length = self.prec
        if length == 0:
            if self.wid_present:
                self.write_padding(self.wid)
            return
        width = 2 * length
        if self.space:
            if self.sharp:
                width *= 2
            width += length - 1
        elif self.sharp:
            width += 2
        if self.wid_present and self.wid > width and not self.minus:
            self.write_padding(self.wid - width)
        prefix = b"0X" if upper else b"0x"
        hex_byte = b"%02X" if upper else b"%02x"
        out = bytearray(prefix if self.sharp else b"")
        for i in range(length):
            if self.space and i > 0:
                out += b" "
                if self.sharp:
                    out += prefix
            out += hex_byte % value[i]
        self.buf += out
        if self.wid_present and self.wid > width and self.minus:
            self.write_padding(self.wid - width)

    # print.go's doPrintf.

    def arg_number(self, arg_num: int, fmt: bytes, i: int, num_args: int) -> tuple[int, int, bool]:
        if i >= len(fmt) or fmt[i] != ord("["):
            return arg_num, i, False
        self.reordered = True
        # parseArgNumber: "[n]", one-based.
        index, width, ok = 0, 1, False
        if len(fmt) - i >= 3:
            close = fmt.find(b"]", i + 1)
            if close >= 0:
                n, is_num, end = _parse_num(fmt, i + 1, close)
                width = close - i + 1
                if is_num and end == close:
                    index, ok = n - 1, True
        if ok and 0 <= index < num_args:
            return index, i + width, True
        self.good_arg_num = False
        return arg_num, i + width, ok

    def int_from_arg(self, args: list[_Value], arg_num: int) -> tuple[int, bool, int]:
        if arg_num >= len(args):
            return 0, False, arg_num
        arg = args[arg_num]
        value = arg.value if isinstance(arg, _Byte) else arg
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and -1_000_000 <= value <= 1_000_000
        ):
            return value, True, arg_num + 1
        return 0, False, arg_num + 1

    def do_printf(self, fmt: bytes, args: list[_Value]) -> None:
        end = len(fmt)
        arg_num = 0
        after_index = False
        self.reordered = False
        i = 0
        while i < end:
            self.good_arg_num = True
            start = i
            while i < end and fmt[i] != ord("%"):
                i += 1
            if i > start:
                self.buf += fmt[start:i]
            if i >= end:
                break
            i += 1
            self.clear_flags()
            simple = False
            while i < end:
                c = chr(fmt[i])
                if c == "#":
                    self.sharp = True
                elif c == "0":
                    self.zero = not self.minus
                elif c == "+":
                    self.plus = True
                elif c == "-":
                    self.minus = True
                    self.zero = False
                elif c == " ":
                    self.space = True
                else:
                    if "a" <= c <= "z" and arg_num < len(args):
                        # The common case: flags and a lower-case verb.
                        if c == "v":
                            self.sharp_v, self.sharp = self.sharp, False
                            self.plus_v, self.plus = self.plus, False
                        self.print_arg(args[arg_num], c)
                        arg_num += 1
                        i += 1
                        simple = True
                    break
                i += 1
            if simple:
                continue

            arg_num, i, after_index = self.arg_number(arg_num, fmt, i, len(args))
            if i < end and fmt[i] == ord("*"):
                i += 1
                self.wid, self.wid_present, arg_num = self.int_from_arg(args, arg_num)
                if not self.wid_present:
                    self.buf += b"%!(BADWIDTH)"
                if self.wid < 0:
                    self.wid = -self.wid
                    self.minus = True
                    self.zero = False
                after_index = False
            else:
                self.wid, self.wid_present, i = _parse_num(fmt, i, end)
                if after_index and self.wid_present:
                    self.good_arg_num = False

            if i + 1 < end and fmt[i] == ord("."):
                i += 1
                if after_index:
                    self.good_arg_num = False
                arg_num, i, after_index = self.arg_number(arg_num, fmt, i, len(args))
                if i < end and fmt[i] == ord("*"):
                    i += 1
                    self.prec, self.prec_present, arg_num = self.int_from_arg(args, arg_num)
                    if self.prec < 0:
                        self.prec, self.prec_present = 0, False
                    if not self.prec_present:
                        self.buf += b"%!(BADPREC)"
                    after_index = False
                else:
                    self.prec, self.prec_present, i = _parse_num(fmt, i, end)
                    if not self.prec_present:
                        self.prec, self.prec_present = 0, True

            if not after_index:
                arg_num, i, after_index = self.arg_number(arg_num, fmt, i, len(args))

            if i >= end:
                self.buf += b"%!(NOVERB)"
                break

            rune, size = _decode_rune(fmt, i)
            verb = chr(rune)
            i += size
            if verb == "%":
                # A percent takes no operand and ignores width and precision.
                self.buf += b"%"
            elif not self.good_arg_num:
                self.buf += b"%!" + _encode(verb) + b"(BADINDEX)"
            elif arg_num >= len(args):
                self.buf += b"%!" + _encode(verb) + b"(MISSING)"
            else:
                if verb == "v":
                    self.sharp_v, self.sharp = self.sharp, False
                    self.plus_v, self.plus = self.plus, False
                self.print_arg(args[arg_num], verb)
                arg_num += 1

        if not self.reordered and arg_num < len(args):
            self.clear_flags()
            self.buf += b"%!(EXTRA "
            for n, arg in enumerate(args[arg_num:]):
                if n > 0:
                    self.buf += b", "
                if arg is None:
                    self.buf += b"<nil>"
                else:
                    self.buf += _type_name(arg).encode() + b"="
                    self.print_arg(arg, "v")
            self.buf += b")"


def _format_float(value: float, fmt: str, prec: int) -> str:
    """strconv.FormatFloat(value, fmt, prec, 64) for the formats fmt uses."""
    negative = math.copysign(1.0, value) < 0
    sign = "-" if negative else ""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return sign + "Inf" if negative else "+Inf"
    if fmt == "b":
        mantissa, exponent = _float_bits(value)
        exponent -= 52
        return f"{sign}{mantissa}p{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    if fmt in "xX":
        return _format_hex_float(value, fmt, prec)
    magnitude = abs(value)
    shortest = prec < 0
    if shortest:
        digits, point = _decimal_digits(Decimal(repr(magnitude)))
        prec = {"e": len(digits) - 1, "E": len(digits) - 1, "f": max(len(digits) - point, 0)}.get(
            fmt, len(digits)
        )
    else:
        digits, point = _decimal_digits(Decimal(magnitude))
        if fmt in "eE":
            digits, point = _round(digits, point, prec + 1)
        elif fmt == "f":
            digits, point = _round(digits, point, point + prec)
        else:
            prec = max(prec, 1)
            digits, point = _round(digits, point, prec)
    if fmt in "eE":
        return sign + _fmt_e(digits, point, prec, fmt)
    if fmt == "f":
        return sign + _fmt_f(digits, point, prec)
    # %g: %e when the exponent is below -4 or at least the precision (6 for the shortest).
    eprec = prec
    if eprec > len(digits) and len(digits) >= point:
        eprec = len(digits)
    if shortest:
        eprec = 6
    exponent = point - 1
    if exponent < -4 or exponent >= eprec:
        prec = min(prec, len(digits))
        return sign + _fmt_e(digits, point, prec - 1, "e" if fmt == "g" else "E")
    if prec > point:
        prec = len(digits)
    return sign + _fmt_f(digits, point, max(prec - point, 0))


def _decimal_digits(number: Decimal) -> tuple[str, int]:
    """A non-negative number's significant digits and where the point goes (strconv's decimal)."""
    _, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    if digits.strip("0") == "":
        return "", 0
    # A Decimal's digits have no leading zeros (but for zero itself).
    return digits.rstrip("0"), len(digits) + exponent


def _round(digits: str, point: int, keep: int) -> tuple[str, int]:
    """strconv's decimal.Round: C{keep} digits, halves to even (the digits are exact)."""
    if keep < 0 or keep >= len(digits):
        return digits, point
    if digits[keep] == "5" and keep + 1 == len(digits):
        up = keep > 0 and int(digits[keep - 1]) % 2 == 1
    else:
        up = digits[keep] >= "5"
    if not up:
        kept = digits[:keep].rstrip("0")
        return (kept, point) if kept else ("", 0)
    i = keep - 1
    while i >= 0 and digits[i] == "9":
        i -= 1
    if i < 0:
        return "1", point + 1
    return digits[:i] + str(int(digits[i]) + 1), point


def _fmt_e(digits: str, point: int, prec: int, fmt: str) -> str:
    text = digits[:1] or "0"
    if prec > 0:
        text += "." + digits[1 : prec + 1].ljust(prec, "0")
    exponent = point - 1 if digits else 0
    text += fmt + ("-" if exponent < 0 else "+")
    return text + f"{abs(exponent):02d}"


def _fmt_f(digits: str, point: int, prec: int) -> str:
    text = digits[:point].ljust(point, "0") if point > 0 else "0"
    if prec > 0:
        text += "." + "".join(
            digits[point + i] if 0 <= point + i < len(digits) else "0" for i in range(prec)
        )
    return text


def _float_bits(value: float) -> tuple[int, int]:
    """A float64's mantissa (with its implicit bit) and unbiased exponent, as strconv splits it."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", value))
    exponent = (bits >> 52) & 0x7FF
    mantissa = bits & ((1 << 52) - 1)
    if exponent == 0:
        exponent = 1
    else:
        mantissa |= 1 << 52
    return mantissa, exponent - 1023


def _format_hex_float(value: float, fmt: str, prec: int) -> str:
    """strconv's fmtX: %x of a float, C{-0x1.8p+01}."""
    mask = (1 << 64) - 1
    mantissa, exponent = _float_bits(value)
    if mantissa == 0:
        exponent = 0
    mantissa <<= 60 - 52
    while mantissa != 0 and mantissa & (1 << 60) == 0:
        mantissa <<= 1
        exponent -= 1
    if 0 <= prec < 15:
        shift = prec * 4
        extra = (mantissa << shift) & ((1 << 60) - 1)
        mantissa >>= 60 - shift
        if extra | (mantissa & 1) > 1 << 59:
            mantissa += 1
        mantissa <<= 60 - shift
        if mantissa & (1 << 61):
            mantissa >>= 1
            exponent += 1
    digits = "0123456789ABCDEF" if fmt == "X" else "0123456789abcdef"
    text = ("-" if math.copysign(1.0, value) < 0 else "") + "0" + fmt + str((mantissa >> 60) & 1)
    mantissa = (mantissa << 4) & mask
    if prec < 0 and mantissa != 0:
        text += "."
        while mantissa != 0:
            text += digits[(mantissa >> 60) & 15]
            mantissa = (mantissa << 4) & mask
    elif prec > 0:
        text += "."
        for _ in range(prec):
            text += digits[(mantissa >> 60) & 15]
            mantissa = (mantissa << 4) & mask
    text += "P" if fmt == "X" else "p"
    text += "-" if exponent < 0 else "+"
    return text + f"{abs(exponent):02d}"
