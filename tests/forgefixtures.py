"""
Recorded forge deliveries (tests/fixtures/forges/, see SOURCES.md there) as
L{Incoming} requests, and the hook configurations the pure-core tests judge
them against.

A fixture is a body file plus a C{.headers} sidecar with the headers the forge
sends, minus its signature or token: tests add those themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from typing import Any

from hypothesis import strategies as st

from hookdaemon.config import HookConfig, parse_config
from hookdaemon.delivery import Incoming
from hookdaemon.testing import signed

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "forges")


def fixture_body(forge: str, name: str) -> bytes:
    """The exact bytes of a recorded body."""
    with open(os.path.join(FIXTURES, forge, name), "rb") as f:
        return f.read()


def fixture_headers(forge: str, name: str) -> dict[str, str]:
    """The headers recorded beside a body, from its C{NAME.headers} sidecar."""
    headers = {}
    with open(os.path.join(FIXTURES, forge, name + ".headers"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            header, colon, value = line.partition(":")
            if not colon:
                raise ValueError(f"{forge}/{name}.headers: {line!r} is not 'Name: value'")
            headers[header.strip()] = value.strip()
    return headers


def fixture_incoming(
    forge: str,
    name: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    client: str = "127.0.0.1",
    body: bytes | None = None,
) -> Incoming:
    """A recorded delivery as an L{Incoming}; C{headers} are added to the recorded ones."""
    return Incoming(
        body=fixture_body(forge, name) if body is None else body,
        headers={**fixture_headers(forge, name), **(headers or {})},
        query=dict(query or {}),
        client=client,
    )


def github_signatures(secret: bytes, body: bytes) -> dict[str, str]:
    """
    Both signature headers GitHub sends for C{body} signed with C{secret}: the
    SHA-256 one, and the legacy SHA-1 one, which L{signed} does not make.
    """
    return {
        **signed("github", secret, body),
        "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
    }


def make_hook(keys: str = "", environ: Mapping[str, str] | None = None) -> HookConfig:
    """
    A hook called C{site} read through the real config parser; C{keys} holds
    extra C{key = value} lines, which override the defaults given here.
    """
    lines = {"workdir": "/srv/site", "command": "true"}
    for line in keys.strip().splitlines():
        key, _, value = line.partition("=")
        lines[key.strip()] = value.strip()
    text = "[hook:site]\n" + "".join(f"{key} = {value}\n" for key, value in lines.items())

    def no_files(path: str) -> bytes:
        raise FileNotFoundError(2, "No such file or directory", path)

    config = parse_config(text, "/etc/hookdaemon/tap.cfg", environ or {}, no_files)
    return config.hooks["site"]


def gitlab_signed(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """GitLab's signed form for a C{whsec_} signing token (see L{hookdaemon.testing.signed})."""
    return signed("gitlab", secret, body, now=now)


def signed_headers(forge: str, body: bytes, secret: str) -> dict[str, str]:
    """
    The credential headers C{forge} adds to C{body} for a hook whose secret is
    C{secret}; for GitLab, the plain token whatever the secret looks like.
    """
    if forge == "gitlab":
        return {"X-Gitlab-Token": secret}
    return signed(forge, secret, body)


def json_payloads(keys: Iterable[str]) -> st.SearchStrategy[Any]:
    """
    Arbitrary JSON whose objects use C{keys}, the field names a forge reads, so
    generated payloads reach deep into the parser instead of missing every field.
    """
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from(sorted(set(keys))), children, max_size=6)
        ),
        max_leaves=20,
    )
