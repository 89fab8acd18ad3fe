"""
The forge-independent view of one webhook call.

Forge modules turn an L{Incoming} request into a L{Delivery}; filters and
commands only ever see the L{Delivery}.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from attrs import field, fields, frozen

ZERO_SHA = "0" * 40
ZERO_SHA256 = "0" * 64
"""What a deletion's new commit is in a SHA-256 repository."""

BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"


def _lower_keys(headers: Mapping[str, str]) -> Mapping[str, str]:
    return {name.lower(): value for name, value in headers.items()}


CREDENTIALS = frozenset({"authorization", "x-gitlab-token", "token"})
"""Headers and query parameters that carry a secret as it is: never shown."""


def _hidden(values: Mapping[str, str]) -> str:
    """A repr that a traceback or a log line may show: credentials hidden."""
    return repr(
        {name: "(hidden)" if name.lower() in CREDENTIALS else v for name, v in values.items()}
    )


@frozen
class Incoming:
    """An HTTP request reduced to plain values, so forges are tested without a server."""

    body: bytes
    headers: Mapping[str, str] = field(factory=dict, converter=_lower_keys, repr=_hidden)
    query: Mapping[str, str] = field(factory=dict, repr=_hidden)
    client: str = ""
    received_at: float = field(factory=time.time)
    """Seconds since the epoch, for forges whose signatures carry a timestamp."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased; empty when absent."""
        value = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()


@frozen
class Carried:
    """
    Where one L{Delivery} value goes beyond filters, said beside its field so that
    a field added is added to the HOOK_* variables, the journal and the job API
    at once, or visibly to none of them.
    """

    variable: str | None
    """The HOOK_ variable a step reads it from; None: no step sees it."""
    journaled: bool
    """Kept in the journal's C{jobs} table, in a column named as the field."""
    shown_as: str | None
    """Its key in the job API's C{delivery} object; None: not shown."""


_CARRIED = "hookdaemon.carried"


def _carried(
    variable: str | None = None, journaled: bool = False, shown_as: str | None = None
) -> dict[str, Carried]:
    return {_CARRIED: Carried(variable, journaled, shown_as)}


@frozen
class Delivery:
    """
    What a forge told us, normalised.

    C{kind} is hookdaemon's own word for the event ("push", "tag", "delete",
    "ping", or the forge's event name for anything else); C{event} is the
    forge's own name for it. Each field's metadata (L{Carried}) says where its
    value goes; L{CARRIED} lists them.
    """

    forge: str = field(metadata=_carried("HOOK_FORGE", journaled=True, shown_as="forge"))
    event: str = field(metadata=_carried("HOOK_EVENT", journaled=True, shown_as="event"))
    kind: str = field(metadata=_carried(journaled=True))
    delivery_id: str = field(
        default="", metadata=_carried("HOOK_DELIVERY", journaled=True, shown_as="id")
    )
    ref: str = field(default="", metadata=_carried("HOOK_REF", journaled=True, shown_as="ref"))
    branch: str = field(
        default="", metadata=_carried("HOOK_BRANCH", journaled=True, shown_as="branch")
    )
    tag: str = field(default="", metadata=_carried("HOOK_TAG", journaled=True, shown_as="tag"))
    before: str = field(
        default="", metadata=_carried("HOOK_BEFORE", journaled=True, shown_as="before")
    )
    after: str = field(
        default="", metadata=_carried("HOOK_AFTER", journaled=True, shown_as="after")
    )
    repository: str = field(
        default="", metadata=_carried("HOOK_REPOSITORY", journaled=True, shown_as="repository")
    )
    clone_url: str = field(default="", metadata=_carried("HOOK_CLONE_URL", journaled=True))
    pusher: str = field(
        default="", metadata=_carried("HOOK_PUSHER", journaled=True, shown_as="pusher")
    )
    commits: int = field(default=0, metadata=_carried(journaled=True))
    changes: tuple[Delivery, ...] = field(default=(), metadata=_carried())
    """
    For a push that changes several refs at once (Bitbucket): one delivery per
    ref, oldest first. The hook runs once, for the newest change it wants.
    """
    changed_nothing: bool = field(default=False, metadata=_carried())
    """
    A push whose list of changed refs is empty (Bitbucket Server sends one for
    a pull request merged outside it): there is nothing for a hook to run for.
    """

    @classmethod
    def of_push(cls, ref: str, before: str, after: str, **fields: Any) -> Delivery:
        """A push of C{ref}: a branch push, a tag push or a deletion, told apart here once."""
        branch, tag = split_ref(ref)
        return cls(
            kind=push_kind(ref, after),
            ref=ref,
            branch=branch,
            tag=tag,
            before=before,
            after=after,
            **fields,
        )

    def candidates(self) -> tuple[Delivery, ...]:
        """The deliveries filters choose from, oldest first."""
        return self.changes or (self,)

    @property
    def is_ping(self) -> bool:
        return self.kind == "ping"

    def names(self) -> frozenset[str]:
        """The words in a hook's C{events} that select this delivery."""
        if self.kind == "delete":
            # A deletion must be asked for by name, never by the forge's "push".
            return frozenset({"delete"})
        if self.event == "push" or self.kind == self.event:
            return frozenset({self.kind})
        return frozenset({self.kind, self.event})


def split_ref(ref: str) -> tuple[str, str]:
    """Return (branch, tag) for a full ref; at most one is non-empty."""
    if ref.startswith(BRANCH_PREFIX):
        return ref[len(BRANCH_PREFIX) :], ""
    if ref.startswith(TAG_PREFIX):
        return "", ref[len(TAG_PREFIX) :]
    return "", ""


def push_kind(ref: str, after: str) -> str:
    """Classify a push as "push" (branch), "tag", or "delete"."""
    if after in (ZERO_SHA, ZERO_SHA256):
        return "delete"
    if ref.startswith(TAG_PREFIX):
        return "tag"
    return "push"


def _carried_by_field() -> tuple[tuple[str, Carried], ...]:
    found = []
    for attribute in fields(Delivery):
        if _CARRIED not in attribute.metadata:
            raise TypeError(f"Delivery.{attribute.name} does not say where it goes (Carried)")
        found.append((attribute.name, attribute.metadata[_CARRIED]))
    return tuple(found)


CARRIED = _carried_by_field()
"""Each field of L{Delivery} in order, with where its value goes."""

VARIABLE_FIELDS = tuple(
    (carried.variable, name) for name, carried in CARRIED if carried.variable is not None
)
"""(HOOK_ variable, field) for each value a step sees, in field order."""

JOURNALED_FIELDS = tuple(name for name, carried in CARRIED if carried.journaled)
"""The fields the journal keeps, each in a column of its name."""

SHOWN_FIELDS = tuple(
    (carried.shown_as, name) for name, carried in CARRIED if carried.shown_as is not None
)
"""(job API key, field) for each value the job API shows, in field order."""
