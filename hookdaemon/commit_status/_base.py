"""
What every commit-status module shares: the neutral status, the request it
becomes, the interface each forge module provides, and small helpers.

Pure: no Twisted, no I/O. The caller sends L{ApiRequest} to the API base URL
with the module's C{HEADERS} and C{credentials(token)}, the body serialized
with C{json.dumps}.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

from attrs import frozen

from hookdaemon.delivery import split_ref


class StatusState(enum.Enum):
    """hookdaemon's own states; each forge module maps them to its words in one table."""

    PENDING = "pending"
    """Waiting: interrupted, and it will run again."""
    RUNNING = "running"
    """The deploy runs now."""
    SUCCESS = "success"
    FAILURE = "failure"
    """The deploy failed or timed out."""
    ERROR = "error"
    """It could not complete for a reason not the code's (interrupted for good)."""
    CANCELLED = "cancelled"
    """A person cancelled it."""


@frozen
class CommitStatus:
    """One deploy's result for one commit, in no forge's words."""

    repository: str
    """
    The Delivery's repository as the forge modules write it: C{owner/name}
    (GitHub, Gitea, Forgejo, Bitbucket), C{group/sub/project} (GitLab's
    path_with_namespace), C{PROJECT/slug} or C{~user/slug} (Bitbucket Server).
    """
    commit: str
    """The full commit id: 40 or 64 hex digits."""
    state: StatusState
    context: str
    """The label that tells our status from others', e.g. C{hookdaemon/deploy}."""
    description: str
    """A sentence; each module cuts it to its forge's limit."""
    target_url: str | None
    """A link to the job, or None."""
    ref: str = ""
    """The full ref (C{refs/heads/main}), for APIs that take one."""


@frozen
class ApiRequest:
    """One HTTP request to a forge's API, relative to its base URL."""

    method: str
    path: str
    """Appended to the API base URL; starts with "/", every segment percent-escaped."""
    json: Mapping[str, object]
    """The body; the caller serializes it with C{json.dumps}."""


class StatusApi(Protocol):
    """What each forge's module provides, as module-level names."""

    NAME: str
    """The C{report} value that picks this module."""
    DEFAULT_API: str | None
    """The public service's API base URL; None where the forge is self-hosted only."""
    API_PATH: str
    """
    The path a self-hosted API base URL ends with (C{/api/v4} for GitLab), so a
    configuration check can warn about a C{report_url} without it.
    """
    HEADERS: Mapping[str, str]
    """The non-secret headers every call carries."""
    REQUIRES_TARGET_URL: bool
    """Does the API refuse a status without a link? Then L{status_request} raises without one."""
    STATES: Mapping[StatusState, str]
    """Each state in the forge's own word: what its page shows (and the README's table)."""

    def status_request(self, status: CommitStatus) -> ApiRequest:
        """The request that sets C{status}; ValueError if the forge cannot take it."""

    def credentials(self, token: str) -> Mapping[str, str]:
        """The header(s) carrying C{token}."""

    def error_message(self, status_code: int, body: bytes) -> str:
        """The forge's own message from an error answer; never raises."""

    def repository_problem(self, repository: str) -> str | None:
        """Why C{repository} is not of the form this API needs, or None."""


class MissingTargetUrlError(ValueError):
    """The forge requires a link to the job and the status has none."""


_HEX_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")

MESSAGE_LIMIT = 200
"""How much of an error answer is kept: enough for a log line."""


def commit_problem(commit: str) -> str | None:
    """Why C{commit} cannot be given a status: none, not a full hex id, or a deletion."""
    if not commit:
        return "the delivery names no commit"
    if not _HEX_COMMIT.fullmatch(commit.lower()):
        return f"{commit[:80]!r} is not a full commit id (40 or 64 hex digits)"
    if not commit.strip("0"):
        return "the push deleted its ref, so there is no commit to mark"
    return None


def owner_name_problem(repository: str) -> str | None:
    """Is C{repository} C{owner/name}, as GitHub, Gitea, Forgejo and Bitbucket Cloud need?"""
    parts = repository.split("/")
    if len(parts) != 2 or not all(parts):
        return f"repository {repository[:200]!r} is not of the form owner/name"
    return None


def segment(text: str) -> str:
    """
    One path segment, percent-escaped as UTF-8 (RFC 3986, 2.1): "/" becomes
    %2F, a space %20; unreserved characters (letters, digits, "-._~") stay as
    they are, as RFC 3986, 2.3 asks of producers.
    """
    return quote(text, safe="")


def truncate(text: str, limit: int) -> str:
    """C{text} cut to C{limit} characters, an ellipsis marking the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def short_ref(ref: str) -> str:
    """The branch or tag name of a full ref; "" for any other ref."""
    branch, tag = split_ref(ref)
    return branch or tag


def short_key(context: str, limit: int) -> str:
    """
    C{context} itself when it fits in C{limit} characters; otherwise its head
    and 12 hex digits of its SHA-256, so the key is the same on every run and
    two long contexts that share a head still differ.
    """
    if len(context) <= limit:
        return context
    digest = hashlib.sha256(context.encode("utf-8")).hexdigest()[:12]
    return context[: limit - len(digest) - 1] + "-" + digest


def basic_or_bearer(token: str) -> Mapping[str, str]:
    """
    C{user:password} (a token with a ":") as Basic credentials (RFC 7617),
    anything else as a Bearer token (RFC 6750).
    """
    if ":" in token:
        encoded = base64.b64encode(token.encode("utf-8")).decode("ascii")
        return {"Authorization": f"Basic {encoded}"}
    return {"Authorization": f"Bearer {token}"}


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Forge text made fit for a log line: whitespace collapsed, at most C{limit} characters."""
    return " ".join(text.split())[:limit]


def json_body(body: bytes) -> Any:
    """The decoded JSON of an answer, or None when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def text_fallback(status_code: int, body: bytes) -> str:
    """The start of an answer whose JSON we could not read, as text."""
    text = one_line(body.decode("utf-8", "replace"))
    return text or f"HTTP {status_code} with an empty body"


def words(value: Any) -> str:
    """
    A message field as text: a string, a list of them, or an object of field
    errors (GitLab's C{{"name": ["is too long"]}}); "" for anything else.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(filter(None, (words(item) for item in value)))
    if isinstance(value, dict):
        return "; ".join(f"{key} {text}" for key, item in value.items() if (text := words(item)))
    return ""
