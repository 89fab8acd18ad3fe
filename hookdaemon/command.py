"""
From a hook's C{command} text and a delivery to argv lists and an environment.

No shell ever sees payload data unless the hook says C{shell = yes}, and even
then only through the environment: C{${HOOK_X}} in a step becomes exactly one
argv item (or part of one), never re-split and never parsed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Literal

from attrs import Factory, define, frozen

from hookdaemon.delivery import VARIABLE_FIELDS, Delivery

HOOK_VARIABLES = ("HOOK_NAME", "HOOK_JOB", *(v for v, _ in VARIABLE_FIELDS), "HOOK_PAYLOAD")
"""
Every variable a step may use: the job's own, then the delivery's (the fields
of L{Delivery} that name one), then the payload file.
"""

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SHELL_NAME = re.compile("[A-Za-z_][A-Za-z0-9_]*")
"""
A name as sh reads one (POSIX's "Name", in the Base Definitions): what C{${X}}
may name, and what an assignment or an C{env} line's KEY must be.
"""
_HOOK_NAME = "HOOK_[A-Za-z0-9_]*"
"""How far sh reads C{$HOOK_X} written without braces."""

_REFERENCE = re.compile(rf"\$\{{({SHELL_NAME.pattern})\}}|\$({_HOOK_NAME})")


class StepError(ValueError):
    """
    A command step that cannot be used. It names the step and its line within
    C{command}, never the step's text: a step may carry a token.
    """

    def __init__(self, step: int, line: int, reason: str) -> None:
        super().__init__(f"step {step} {reason}")
        self.step = step
        """The step's number, counting from 1."""
        self.line = line
        """The index of the step's line in the text given to L{parse_steps}."""
        self.reason = reason


@frozen
class Step:
    """One line of a hook's C{command}: the text as written and its words."""

    text: str
    words: tuple[str, ...]

    def argv(self, environment: Mapping[str, str], shell: bool) -> list[str]:
        if shell:
            return ["/bin/sh", "-c", self.text]
        return [substitute(word, environment) for word in self.words]


def parse_steps(text: str, shell: bool = False) -> tuple[Step, ...]:
    """
    Split C{command} into steps, one per non-empty line, checking each now rather than later.

    With C{shell}, other variables (C{${HOME}}, a loop's C{${f}}) are the shell's
    business; only names starting with C{HOOK_} must be ones we set.
    """
    steps: list[Step] = []
    for index, line in enumerate(text.split("\n")):
        line = line.strip()
        if not line:
            continue
        number = len(steps) + 1
        try:
            words = tuple(shlex.split(line))
        except ValueError as e:
            reason = _SPLIT_REASONS.get(str(e), "its quoting is unbalanced")
            raise StepError(number, index, f"cannot be split into words: {reason}") from None
        for word in words:
            for name in references(word):
                if shell and not name.startswith("HOOK_"):
                    continue
                if name not in HOOK_VARIABLES:
                    raise StepError(
                        number,
                        index,
                        f"uses ${name}, which is not one of {', '.join(HOOK_VARIABLES)}",
                    )
        steps.append(Step(text=line, words=words))
    return tuple(steps)


# shlex's words for what it could not split, as a person would say them.
_SPLIT_REASONS = {
    "No closing quotation": "a quote is not closed",
    "No escaped character": "it ends in a backslash that escapes nothing",
}


Reading = Literal["split", "split output", "unexpanded", "code"]


@frozen
class Exposure:
    """A C{$HOOK_X} in a C{shell = yes} step that sh does not read as one word of data."""

    name: str
    reading: Reading
    """
    C{"split"}: expanded unquoted, so split into words and globbed; C{"split
    output"}: used in an unquoted C{$(...)} or backquotes, whose output is split and globbed;
    C{"unexpanded"}: inside single quotes, never expanded; C{"code"}: in the
    arguments of C{eval} or the script of C{sh -c}, where its value is parsed as shell code.
    """


_SHELL_REFERENCE = re.compile(rf"\$\{{?({_HOOK_NAME})")
_ASSIGNMENT = re.compile(f"{SHELL_NAME.pattern}=")
_OPERATORS = frozenset(";&|\n")


@define
class _Word:
    start: int
    """Where the word starts in the text scanned, to tell an assignment (C{NAME=}) by."""
    text: list[str] = Factory(list)
    """The word as the command receives it, with each expansion standing as C{x}."""
    references: list[tuple[str, str]] = Factory(list)
    """Each C{$HOOK_X} expanded by this shell, and its quote: C{""}, C{'"'} or C{"'"}."""
    substituted: list[tuple[str, bool]] = Factory(list)
    """The HOOK_ names inside a C{$(...)} or backquotes in the word, and whether it is quoted."""
    mentioned: list[str] = Factory(list)
    """
    Every HOOK_ name written in the word's C{$(...)} and backquotes, however
    quoted or escaped: where eval reads their output, any of them may be in it.
    """


class _Scan:
    """
    One shell text read as sh reads it: words, quotes, backslashes, comments,
    command separators; C{$(...)} and backquotes are read as texts of their own.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.found: list[Exposure] = []
        self.seen: list[str] = []
        """Every HOOK_ name referenced, here or in a nested text."""

    def nested(self, text: str) -> list[str]:
        """Scan C{text} as a script of its own; the HOOK_ names it refers to."""
        scan = _Scan(text)
        scan.commands(0, inside_parentheses=False)
        self.found.extend(scan.found)
        self.seen.extend(scan.seen)
        return scan.seen

    def commands(self, i: int, inside_parentheses: bool) -> int:
        """Read commands from C{i} to the end, or to the C{)} that closes a C{$(}."""
        text = self.text
        words: list[_Word] = []
        word: _Word | None = None
        depth = 0
        while i < len(text):
            c = text[i]
            if c in " \t<>" or c in _OPERATORS or c in "()":
                if word is not None:
                    words.append(word)
                    word = None
                if c in _OPERATORS or c in "()":
                    self.command(words)
                    words = []
                if c == ")":
                    if inside_parentheses and depth == 0:
                        return i + 1
                    depth -= 1
                elif c == "(":
                    depth += 1
                i += 1
                continue
            if c == "#" and word is None:
                end = text.find("\n", i)
                i = len(text) if end < 0 else end
                continue
            if word is None:
                word = _Word(start=i)
            if c == "\\":
                if text[i + 1 : i + 2] != "\n":
                    word.text.append(text[i + 1 : i + 2])
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                end = len(text) if end < 0 else end
                quoted = text[i + 1 : end]
                word.references.extend(
                    (m.group(1), "'") for m in _SHELL_REFERENCE.finditer(quoted)
                )
                word.text.append(quoted)
                i = end + 1
            elif c == '"':
                i = self.double_quoted(i + 1, word)
            elif c in "$`":
                i = self.expansion(i, word, quoted=False)
            else:
                word.text.append(c)
                i += 1
        if word is not None:
            words.append(word)
        self.command(words)
        return i

    def double_quoted(self, i: int, word: _Word) -> int:
        text = self.text
        while i < len(text):
            c = text[i]
            if c == '"':
                return i + 1
            if c == "\\":
                escaped = text[i + 1 : i + 2]
                word.text.append(escaped if escaped in '$`"\\\n' else c + escaped)
                i += 2
            elif c in "$`":
                i = self.expansion(i, word, quoted=True)
            else:
                word.text.append(c)
                i += 1
        return i

    def expansion(self, i: int, word: _Word, quoted: bool) -> int:
        """A C{$...} or a backquoted command at C{i}: where it ends."""
        text = self.text
        if text[i] == "`":
            # Backslash escapes $, ` and \ (and " within double quotes) in the
            # command's text before sh reads that text as a script.
            escapes = '$`\\"' if quoted else "$`\\"
            inner = []
            i += 1
            while i < len(text) and text[i] != "`":
                if text[i] == "\\" and text[i + 1 : i + 2] and text[i + 1] in escapes:
                    i += 1
                inner.append(text[i])
                i += 1
            command = "".join(inner)
            word.substituted.extend((name, quoted) for name in self.nested(command))
            word.mentioned.extend(m.group(1) for m in _SHELL_REFERENCE.finditer(command))
            word.text.append("x")
            return i + 1
        if text.startswith("$(", i):
            # $((...)) is arithmetic: what it gives is a number, which splits to itself.
            whole = quoted or text.startswith("$((", i)
            before = len(self.seen)
            end = self.commands(i + 2, inside_parentheses=True)
            word.substituted.extend((name, whole) for name in self.seen[before:])
            word.mentioned.extend(m.group(1) for m in _SHELL_REFERENCE.finditer(text, i, end))
            word.text.append("x")
            return end
        if text[i + 1 : i + 2] in set("$#?!-@*0123456789"):
            word.text.append(text[i : i + 2])  # a special parameter, such as $$ before HOOK_X
            return i + 2
        match = _SHELL_REFERENCE.match(text, i)
        if match is None:
            word.text.append("$")
            return i + 1
        word.references.append((match.group(1), '"' if quoted else ""))
        self.seen.append(match.group(1))
        word.text.append("x")
        return match.end()

    def command(self, words: list[_Word]) -> None:
        """One simple command's words: its assignments, then its name and arguments."""
        at = 0
        while at < len(words) and _ASSIGNMENT.match(self.text, words[at].start):
            # sh neither splits nor globs the value of an assignment (POSIX 2.9.1).
            self.found.extend(
                Exposure(name, "unexpanded")
                for name, quote in words[at].references
                if quote == "'"
            )
            at += 1
        words = words[at:]
        texts = ["".join(word.text) for word in words]
        if texts[:1] == ["eval"]:
            code = set(range(1, len(words)))
        else:
            script = _script_index(texts)
            code = set() if script is None else {script}
        for index, word in enumerate(words):
            for name, quote in word.references:
                if index in code:
                    if quote != "'":
                        self.found.append(Exposure(name, "code"))
                elif quote != '"':
                    self.found.append(Exposure(name, "split" if not quote else "unexpanded"))
            if index in code:
                self.found.extend(Exposure(name, "code") for name in word.mentioned)
            else:
                self.found.extend(
                    Exposure(name, "split output")
                    for name, quoted in word.substituted
                    if not quoted
                )
        if code:
            # What eval or sh -c reads as a script: what was quoted from this
            # shell (a single-quoted $HOOK_X) is expanded there, as that script says.
            self.nested(" ".join(texts[index] for index in sorted(code)))


def shell_exposures(script: str) -> list[Exposure]:
    """
    Each C{$HOOK_X} or C{${HOOK_X}} in C{script} that sh would not pass as one
    word of data: split and globbed outside quotes, left unexpanded inside single
    quotes, or read as code by C{eval} or C{sh -c}. A C{$(...)} or backquoted
    command is a script of its own, with its own quotes.
    """
    scan = _Scan(script)
    scan.commands(0, inside_parentheses=False)
    return list(dict.fromkeys(scan.found))


FIXED_FORM = frozenset({"HOOK_NAME", "HOOK_JOB", "HOOK_FORGE"})
"""
Variables whose values are ours and of a fixed form (a hook name, a number, a
forge's name), with no space, glob character or shell syntax in them.
"""

SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})


def script_references(step: Step) -> list[str]:
    """
    The HOOK_ names that C{shell = no} substitutes into the script of a
    C{sh -c SCRIPT} in C{step} (also after C{sudo}, C{env} and the like): there
    a value is not one argv item but text the shell parses as code. Names in
    L{FIXED_FORM} are left out.
    """
    at = _script_index(step.words)
    if at is None:
        return []
    script = references(step.words[at])
    return [name for name in script if name.startswith("HOOK_") and name not in FIXED_FORM]


def _script_index(words: Sequence[str]) -> int | None:
    """Where the SCRIPT of the first shell named in C{words} is, if it is run as C{-c SCRIPT}."""
    for at, word in enumerate(words):
        if word.rsplit("/", 1)[-1] not in SHELLS:
            continue
        position = at + 1
        runs_script = False
        while position < len(words) and words[position][:1] in ("-", "+"):
            option = words[position]
            position += 1
            if option == "--":
                break
            if option in ("-o", "+o"):
                position += 1
            elif option[:2] != "--" and "c" in option[1:]:
                runs_script = True
        return position if runs_script and position < len(words) else None
    return None


def references(word: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _REFERENCE.finditer(word)]


def substitute(word: str, environment: Mapping[str, str]) -> str:
    return _REFERENCE.sub(lambda m: environment.get(m.group(1) or m.group(2), ""), word)


def delivery_environment(
    hook_name: str, job_id: int, delivery: Delivery, payload_path: str
) -> dict[str, str]:
    """The HOOK_* variables every step of a job sees."""
    environment = {"HOOK_NAME": hook_name, "HOOK_JOB": str(job_id)}
    for variable, name in VARIABLE_FIELDS:
        environment[variable] = getattr(delivery, name)
    environment["HOOK_PAYLOAD"] = payload_path
    return environment


def base_environment(home: str, user: str = "") -> dict[str, str]:
    """
    The fixed part of a step's environment: nothing leaks in from the daemon's.
    C{USER} and C{LOGNAME} name the daemon's user, as a login would (ssh, npm
    and some build tools read them); left out when the uid has no name.
    """
    base = {
        "PATH": BASE_PATH,
        "HOME": home,
        "LANG": "C.UTF-8",
        "GIT_TERMINAL_PROMPT": "0",
    }
    if user:
        base["USER"] = base["LOGNAME"] = user
    return base


def step_environment(
    base: Mapping[str, str], hook_env: Mapping[str, str], delivery_env: Mapping[str, str]
) -> dict[str, str]:
    """Base, then the hook's C{env}, then HOOK_*: payload data always has the last word."""
    return {**base, **hook_env, **delivery_env}
