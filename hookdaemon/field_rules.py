"""
What a delivery's values may be before they reach a command, the journal or an answer.

A step gets payload values as single argv items, never through a shell, but a
single argv item can still be an option: C{git fetch origin ${HOOK_AFTER}} with
C{after} set to C{--upload-pack=touch /tmp/x} runs C{touch}. So every value a
request brings is held to the shape its forge gives it, once, here, after
whichever forge read it: commit ids are hexadecimal, refs are git ref names
(by C{git check-ref-format}'s rules, see
https://git-scm.com/docs/git-check-ref-format) whose branch or tag does not
start with C{-}, ids and event names match their forge's format, and no value
starts with C{-} or holds a control character.

Reasons name the variable and the rule, never the value: it is the caller's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from re import Pattern

from hookdaemon.delivery import BRANCH_PREFIX, TAG_PREFIX, VARIABLE_FIELDS, Delivery

LIMITS = {
    "HOOK_EVENT": 128,
    "HOOK_DELIVERY": 128,
    "HOOK_REF": 1024,
    "HOOK_BRANCH": 1024,
    "HOOK_TAG": 1024,
    "HOOK_BEFORE": 64,
    "HOOK_AFTER": 64,
    "HOOK_REPOSITORY": 4096,
    "HOOK_CLONE_URL": 4096,
    "HOOK_PUSHER": 1024,
}
"""
UTF-8 bytes each value may have. The journal keeps every value of C{history}
jobs per hook, whose bodies may be dropped (C{payload_budget}) but whose rows
are not, so rows stay small: at most 13 KiB. Each bound is well above what a
forge sends: a ref is a file name per part in git (NAME_MAX, 255 bytes) and
forges refuse longer branch names; GitLab nests groups at most 20 deep.
"""

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Unicode's control characters (category Cc): C0, DEL and C1."""

_UNFIT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""A control character or an unpaired surrogate (which no exec or journal takes): one search."""

_COMMIT = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
"""A full SHA-1 or SHA-256 object name."""

_ABBREVIATED_COMMIT = re.compile(r"[0-9a-fA-F]{7,64}")
"""
An object name git may have shortened. Bitbucket Cloud's pull request payloads
carry 12 digits (pullrequest.source.commit.hash), so events other than pushes
may; pushes always name full commits, on every forge.
"""

_PUSH_KINDS = frozenset({"push", "tag", "delete", "create"})

_KIND = re.compile(r"[A-Za-z][A-Za-z0-9_:. -]{0,99}")
"""hookdaemon's word for an event, which a forge may take from the payload."""

_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")
"""check-ref-format's rules 3, 4, 5, 8 and 10: characters and pairs no ref holds."""

_TRANSPORT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
"""
git's C{<transport>::<address>} form, which runs a remote helper (C{ext::} runs
any command). See https://git-scm.com/docs/gitremote-helpers
"""

_CLONE_URL = re.compile(
    r"(?:https?|ssh|git)://[^\s/?#]+(?:[/?#]\S*)?"
    r"|(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.-]*:(?!/)\S+"
)
"""
What forges send as clone URLs: http(s), ssh and git URLs, and scp-like
C{git@host:owner/repo.git}. Not a local path or C{file://}: with
C{git clone ${HOOK_CLONE_URL}} a caller could copy any repository on the
machine that the deploy user can read.
See https://git-scm.com/docs/git-clone#_git_urls
"""


def ref_name_problem(name: str) -> str | None:
    """
    Why C{name} is not a git ref name (one-level names allowed, as
    C{git check-ref-format --allow-onelevel} allows them), or None.
    """
    if _REF_FORBIDDEN.search(name):
        return (
            "is not a git ref name: it holds a space, a control character, '..', '@{'"
            " or one of ~ ^ : ? * [ \\"
        )
    if name == "@":
        return "is not a git ref name: '@' alone"
    if name.endswith("."):
        return "is not a git ref name: it ends with '.'"
    for component in name.split("/"):
        if not component:
            return "is not a git ref name: it has an empty part ('//', or '/' at either end)"
        if component.startswith("."):
            return "is not a git ref name: a part of it starts with '.'"
        if component.endswith(".lock"):
            return "is not a git ref name: a part of it ends with '.lock'"
    return None


def _text_problem(value: str, limit: int) -> str | None:
    """
    What no value may be: an option, a control character, invalid Unicode, too long.

    No forge makes a repository or user name that starts with C{-} or holds a
    control character, so refusing them loses nothing genuine:
      - GitHub: repository names are letters, digits, C{-}, C{_} and C{.}; a
        login is letters, digits and single hyphens, not at either end
        (https://docs.github.com/en/repositories/creating-and-managing-repositories/about-repositories).
      - GitLab: usernames and project or group slugs start with a letter or a
        digit (https://docs.gitlab.com/user/reserved_names/).
      - Gitea, Forgejo and Gogs: names are C{[-_.A-Za-z0-9]} and cannot start
        with C{-} (Gitea's modules/validation, IsValidUsername and the repository
        name pattern).
      - Bitbucket Cloud: repository slugs are lower-case letters, digits, C{-},
        C{_} and C{.}; display names (the pusher of older payloads) are free
        text, so only the two rules here apply to them.
      - Bitbucket Server: project keys start with a letter; repository slugs
        with a letter or digit.
    Clone URLs are forges' own https, ssh or scp-like addresses.
    """
    if value[0] == "-":
        return "starts with '-', so a command would read it as an option"
    unfit = _UNFIT.search(value)
    if unfit is not None:
        if CONTROL.match(unfit.group()):
            return "holds a control character"
        return "holds invalid Unicode (an unpaired surrogate)"
    # Bytes, not characters, count; a character is at most 4 bytes, so most
    # values need no encoding to know they fit.
    if len(value) * 4 > limit and len(value.encode("utf-8")) > limit:
        return f"is longer than {limit} bytes"
    return None


def _clone_url_problem(value: str) -> str | None:
    if _TRANSPORT.match(value):
        return "names a git remote helper (transport::address), which could run any command"
    if not _CLONE_URL.fullmatch(value):
        return "is not an http(s), ssh or git URL, nor an scp-like user@host:path"
    return None


def _repository_problem(value: str) -> str | None:
    """A forge's repository name is never a path that climbs out of a directory."""
    if any(part in ("", ".", "..") for part in value.split("/")):
        return "is a path, not a repository name: it has an empty, '.' or '..' part"
    return None


_NOT_A_COMMIT = "is not a commit id (40 or 64 hexadecimal digits)"


def _branch_problem(branch: str) -> str | None:
    return ref_name_problem(BRANCH_PREFIX + branch)


def _tag_problem(tag: str) -> str | None:
    return ref_name_problem(TAG_PREFIX + tag)


UNCHECKED = frozenset({"forge"})
"""Fields a step sees whose values hookdaemon sets itself: the forge's name is one of L{FORGES}."""

_VARIABLES = {name: variable for variable, name in VARIABLE_FIELDS} | {"kind": "HOOK_EVENT"}
"""
The variable a reason names for each field; the kind has none of its own, and
filters take it for the event.
"""

Rule = Pattern[str] | Callable[[str], str | None] | None
"""What one value must also be: a form to match, a check that says why not, or nothing more."""


def _one_refusal(
    delivery: Delivery, delivery_ids: Pattern[str], events: Pattern[str]
) -> str | None:
    """Why one delivery (not its changes) cannot be run, or None."""
    commits = _COMMIT if delivery.kind in _PUSH_KINDS else _ABBREVIATED_COMMIT
    checks: tuple[tuple[str, Rule, str], ...] = (
        # The field, its own rule, and the reason if a form fails; in field order,
        # and every field a step sees but the forge, which is ours (L{UNCHECKED}).
        ("event", events, "is not an event name of its forge"),
        ("kind", _KIND, "is not an event name"),
        ("delivery_id", delivery_ids, "is not a delivery id of its forge"),
        ("ref", ref_name_problem, ""),
        ("branch", _branch_problem, ""),
        ("tag", _tag_problem, ""),
        ("before", commits, _NOT_A_COMMIT),
        ("after", commits, _NOT_A_COMMIT),
        ("repository", _repository_problem, ""),
        ("clone_url", _clone_url_problem, ""),
        ("pusher", None, ""),
    )
    for name, rule, not_in_form in checks:
        value = getattr(delivery, name)
        if not value:
            # Absent: the variable is an empty string, which no command reads as an option.
            continue
        variable = _VARIABLES[name]
        problem = _text_problem(value, LIMITS[variable])
        if problem is None and rule is not None:
            if isinstance(rule, re.Pattern):
                problem = None if rule.fullmatch(value) else not_in_form
            else:
                problem = rule(value)
        if problem is not None:
            return f"{variable} {problem}"
    return None


def refusal(delivery: Delivery, delivery_ids: Pattern[str], events: Pattern[str]) -> str | None:
    """
    Why this delivery, or any of the changes it carries, cannot reach a command:
    the one-line reason of a 400, or None when every value may.
    """
    reason = _one_refusal(delivery, delivery_ids, events)
    if reason is not None:
        return reason
    for change in delivery.changes:
        reason = _one_refusal(change, delivery_ids, events)
        if reason is not None:
            return f"one of the push's changes: {reason}"
    return None
