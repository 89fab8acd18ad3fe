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
    """A command step that cannot be split into words."""


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
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            words = tuple(shlex.split(line))
        except ValueError as e:
            raise StepError(f"cannot split {line!r} into words: {e}") from None
        for word in words:
            for name in references(word):
                if shell and not name.startswith("HOOK_"):
                    continue
                if name not in HOOK_VARIABLES:
                    raise StepError(
                        f"{line!r} uses ${name}, which is not one of {', '.join(HOOK_VARIABLES)}"
                    )
        steps.append(Step(text=line, words=words))
    return tuple(steps)


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
