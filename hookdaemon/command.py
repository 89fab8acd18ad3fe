"""
From a hook's C{command} text and a delivery to argv lists and an environment.

No shell ever sees payload data unless the hook says C{shell = yes}, and even
then only through the environment: C{${HOOK_X}} in a step becomes exactly one
argv item (or part of one), never re-split and never parsed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from attrs import frozen

from hookdaemon.delivery import Delivery

HOOK_VARIABLES = (
    "HOOK_NAME",
    "HOOK_JOB",
    "HOOK_FORGE",
    "HOOK_EVENT",
    "HOOK_DELIVERY",
    "HOOK_REF",
    "HOOK_BRANCH",
    "HOOK_TAG",
    "HOOK_BEFORE",
    "HOOK_AFTER",
    "HOOK_REPOSITORY",
    "HOOK_CLONE_URL",
    "HOOK_PUSHER",
    "HOOK_PAYLOAD",
)

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$(HOOK_[A-Za-z0-9_]*)")


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


@frozen
class Exposure:
    """A C{$HOOK_X} in a C{shell = yes} step that sh does not read as one word."""

    name: str
    single_quoted: bool
    """True: inside single quotes, never expanded; False: unquoted, split and globbed."""


_SHELL_REFERENCE = re.compile(r"\$\{?(HOOK_[A-Za-z0-9_]*)")
_WORD_BREAKS = frozenset(" \t;&|()<>")


def shell_exposures(script: str) -> list[Exposure]:
    """
    Each C{$HOOK_X} or C{${HOOK_X}} in C{script} that sh would split into words
    and glob (outside quotes) or leave unexpanded (inside single quotes). Quotes,
    backslashes and comments are followed as sh follows them; the text of a
    C{$(...)} or backquoted command is read in the quoting around it.
    """
    found = []
    quote = ""
    word_start = True
    """Whether an unquoted # here would begin a comment."""
    i = 0
    while i < len(script):
        c = script[i]
        at_break = False
        if quote == "'":
            match = _SHELL_REFERENCE.match(script, i)
            if match:
                found.append(Exposure(match.group(1), single_quoted=True))
                i = match.end()
                continue
            if c == "'":
                quote = ""
        elif c == "\\":
            # Outside quotes it escapes any character; inside double quotes it
            # escapes $, `, " and \\, and skipping any other character is harmless.
            i += 2
            word_start = False
            continue
        elif c == "$":
            match = _SHELL_REFERENCE.match(script, i)
            if match:
                if not quote:
                    found.append(Exposure(match.group(1), single_quoted=False))
                i = match.end()
                word_start = False
                continue
        elif c == '"':
            quote = "" if quote else '"'
        elif quote:
            pass
        elif c == "'":
            quote = "'"
        elif c == "#" and word_start:
            break
        else:
            at_break = c in _WORD_BREAKS
        word_start = at_break
        i += 1
    return found


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
    words = step.words
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
        if runs_script and position < len(words):
            script = references(words[position])
            return [name for name in script if name.startswith("HOOK_") and name not in FIXED_FORM]
        return []
    return []


def references(word: str) -> list[str]:
    return [m.group(1) or m.group(2) for m in _REFERENCE.finditer(word)]


def substitute(word: str, environment: Mapping[str, str]) -> str:
    return _REFERENCE.sub(lambda m: environment.get(m.group(1) or m.group(2), ""), word)


def delivery_environment(
    hook_name: str, job_id: int, delivery: Delivery, payload_path: str
) -> dict[str, str]:
    """The HOOK_* variables every step of a job sees."""
    return {
        "HOOK_NAME": hook_name,
        "HOOK_JOB": str(job_id),
        "HOOK_FORGE": delivery.forge,
        "HOOK_EVENT": delivery.event,
        "HOOK_DELIVERY": delivery.delivery_id,
        "HOOK_REF": delivery.ref,
        "HOOK_BRANCH": delivery.branch,
        "HOOK_TAG": delivery.tag,
        "HOOK_BEFORE": delivery.before,
        "HOOK_AFTER": delivery.after,
        "HOOK_REPOSITORY": delivery.repository,
        "HOOK_CLONE_URL": delivery.clone_url,
        "HOOK_PUSHER": delivery.pusher,
        "HOOK_PAYLOAD": payload_path,
    }


def base_environment(home: str) -> dict[str, str]:
    """The fixed part of a step's environment: nothing leaks in from the daemon's."""
    return {
        "PATH": BASE_PATH,
        "HOME": home,
        "LANG": "C.UTF-8",
        "GIT_TERMINAL_PROMPT": "0",
    }


def step_environment(
    base: Mapping[str, str], hook_env: Mapping[str, str], delivery_env: Mapping[str, str]
) -> dict[str, str]:
    """Base, then the hook's C{env}, then HOOK_*: payload data always has the last word."""
    return {**base, **hook_env, **delivery_env}
