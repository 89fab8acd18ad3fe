"""
What may be shown of a Twisted endpoint string: its options can carry a
password or a key's path, so logs and --check show only the address.

Plain strings in and out; no reactor.
"""

from __future__ import annotations

import re

KNOWN_KINDS = frozenset({"tcp", "tcp6", "ssl", "unix", "systemd"})
"""Twisted's own endpoint types, whose names may be shown; any other word could be anything."""


def split_endpoint(description: str) -> tuple[str, list[str]]:
    kind, *fields = re.split(r"(?<!\\):", description)
    return kind, [f.replace("\\:", ":") for f in fields]


def endpoint_base_url(description: str) -> str:
    """
    The URL a forge would use for an endpoint string, for --check's listing.
    Only what makes the address is shown: other options (a plugin's, say) may
    carry a password.
    """
    kind, fields = split_endpoint(description)
    options = dict(f.split("=", 1) for f in fields if "=" in f)
    positional = [f for f in fields if "=" not in f]
    if kind in ("tcp", "tcp6", "ssl"):
        port = positional[0] if positional else options.get("port", "?")
        host = options.get("interface", "0.0.0.0" if kind != "tcp6" else "::")
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if kind == "ssl" else "http"
        return f"{scheme}://{host}:{port}"
    if kind == "unix":
        return f"unix:{positional[0] if positional else options.get('address', '?')}"
    if kind == "systemd":
        return description
    return f"{kind}:(options not shown)"


def hook_address(description: str, path: str) -> str:
    """
    Where a caller reaches C{path} through an endpoint, as --check lists it: a
    URL for TCP and TLS, and for the rest how to get there (a UNIX socket is
    not a URL; a systemd socket is whatever the unit's .socket listens on).
    """
    kind, fields = split_endpoint(description)
    base = endpoint_base_url(description)
    if kind in ("tcp", "tcp6", "ssl"):
        return f"{base}{path}"
    if kind == "unix":
        return f"http://localhost{path} through the UNIX socket {base.removeprefix('unix:')}"
    if kind == "systemd":
        options = dict(f.split("=", 1) for f in fields if "=" in f)
        index = options.get("index", "?")
        return f"{path} on the socket systemd passes (index {index}; see its .socket unit)"
    return f"{path} on {base}"


def scrubbed(message: str, description: str) -> str:
    """Twisted's reason, with every part of the endpoint string it quotes cut out."""
    kind, fields = split_endpoint(description)
    parts = {description, kind, *fields, *(f.split("=", 1)[-1] for f in fields)}
    # Parts shorter than 3 characters are ports' digits and the like; cutting
    # those would cut "base 10" too.
    for part in sorted((p for p in parts if len(p) >= 3), key=len, reverse=True):
        message = message.replace(part, "...")
    return message
