"""
C{listen = systemd:...}: a socket systemd (a .socket unit, or
C{systemd-socket-activate}) passed to the daemon.

Twisted's own C{systemd:} parser reads the environment once, when
twisted.internet.endpoints is imported, and sees no socket at all when
C{LISTEN_FDNAMES} is missing (systemd before 227, C{systemd-socket-activate}
without C{--fdname}): C{index=0} then failed with "list index out of range".
(and it removes the variables from the environment as it reads them). This
reads what the package kept at its first import (L{hookdaemon.SYSTEMD_ENVIRONMENT})
when the daemon listens, names unnamed sockets as systemd does, and says in
words what is wrong.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

from twisted.internet.endpoints import AdoptedStreamServerEndpoint
from twisted.internet.interfaces import IReactorSocket
from twisted.python.systemd import ListenFDs

from hookdaemon import SYSTEMD_ENVIRONMENT
from hookdaemon.endpoint_text import split_endpoint


class SystemdSocketError(ValueError):
    """A C{systemd:} endpoint that names no socket systemd passed; the message says why."""


def with_default_names(environ: Mapping[str, str]) -> dict[str, str]:
    """C{environ}, with C{LISTEN_FDNAMES} as C{sd_listen_fds_with_names(3)} reads a missing one."""
    named = dict(environ)
    if "LISTEN_FDNAMES" not in named:
        try:
            count = int(named.get("LISTEN_FDS", ""))
        except ValueError:
            return named
        if count > 0:
            named["LISTEN_FDNAMES"] = ":".join(["unknown"] * count)
    return named


def systemd_endpoint(
    reactor: IReactorSocket, description: str, environ: Mapping[str, str] | None = None
) -> AdoptedStreamServerEndpoint:
    """The endpoint for a C{systemd:domain=INET:index=N} or C{...:name=NAME} string."""
    _, fields = split_endpoint(description)
    options = dict(field.split("=", 1) for field in fields if "=" in field)
    positional = [field for field in fields if "=" not in field]
    domain = options.pop("domain", positional[0] if positional else "")
    index, name = options.pop("index", None), options.pop("name", None)
    if options or len(positional) > 1:
        raise SystemdSocketError("a systemd endpoint takes only domain and index or name")
    family = getattr(socket, f"AF_{domain}", None)
    if family is None:
        raise SystemdSocketError("its domain must be INET, INET6 or UNIX")
    if (index is None) == (name is None):
        raise SystemdSocketError("give it an index or a name, not both")
    passed = SYSTEMD_ENVIRONMENT if environ is None else environ
    found = ListenFDs.fromEnvironment(with_default_names(passed))
    descriptors = found.inheritedDescriptors()
    if not descriptors:
        raise SystemdSocketError(
            "systemd passed this process no socket (LISTEN_FDS and LISTEN_PID are not"
            " set for it): start it from a .socket unit, or with systemd-socket-activate"
        )
    if index is not None:
        if not index.isdigit() or int(index) >= len(descriptors):
            raise SystemdSocketError(
                f"systemd passed {len(descriptors)} socket(s): index=0"
                + (f" to index={len(descriptors) - 1}" if len(descriptors) > 1 else "")
            )
        fileno = descriptors[int(index)]
    else:
        named = found.inheritedNamedDescriptors()
        if name not in named:
            raise SystemdSocketError(
                f"systemd passed no socket of that name (its sockets: {', '.join(named)};"
                " FileDescriptorName= in the .socket unit names them)"
            )
        fileno = named[name]
    return AdoptedStreamServerEndpoint(reactor, fileno, family)
