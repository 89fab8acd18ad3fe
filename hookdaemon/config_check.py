"""
Everything that is checked before a configuration is used, at start and at
reload alike: the file itself (L{hookdaemon.config}), its endpoint strings,
and what the machine says about its hooks (L{hookdaemon.preflight}).
"""

from __future__ import annotations

import re

import attrs
from twisted.internet.endpoints import serverFromString

from hookdaemon.config import Config, ConfigError, Problem
from hookdaemon.config_source import ConfigSource, load_source
from hookdaemon.endpoint_text import KNOWN_KINDS, scrubbed, split_endpoint
from hookdaemon.preflight import RunAs, machine_warnings
from hookdaemon.tls import tls_problem


def check_endpoints(config: Config) -> list[Problem]:
    """Endpoint strings are Twisted's to parse; ask it without binding anything."""
    from twisted.internet import reactor

    problems = []
    # Endpoints from --listen are the command line's, not the file's.
    source = "--listen" if config.origin is not None and config.origin.listen else config.source
    for number, description in enumerate(config.daemon.listen, 1):
        if description.startswith("systemd:"):
            # Only valid in a process systemd started with that socket; checked at bind.
            continue
        if description.startswith("ssl:"):
            # Ours to read (TLS 1.2 at least, the whole chain, read again at reload).
            problem = tls_problem(description)
            if problem is not None:
                problems.append(
                    Problem(
                        source,
                        "hookdaemon",
                        "listen",
                        f"endpoint {number} (ssl): {problem}",
                    )
                )
            continue
        try:
            serverFromString(reactor, description)
        except Exception as e:
            kind = split_endpoint(description)[0]
            which = f"endpoint {number} ({kind})" if kind in KNOWN_KINDS else f"endpoint {number}"
            message = f"{which} is not a Twisted endpoint string: {scrubbed(str(e), description)}"
            if re.search(r"interface=[0-9A-Fa-f]*:", description):
                # An IPv6 address's colons end the option early (twistd's own error
                # is "got multiple values for argument 'interface'").
                message += "; write each : of an IPv6 interface as \\:, as in interface=\\:\\:1"
            problems.append(Problem(source, "hookdaemon", "listen", message))
    return problems


def checked_config(source: str | ConfigSource, run_as: RunAs) -> Config:
    """
    The configuration C{source} names (a tap.cfg's path, or tap.cfg and hooks
    files) with every warning found for it, steps run as C{run_as}; raises
    L{ConfigError} listing every problem, so none hides another.
    """
    if isinstance(source, str):
        source = ConfigSource(config=source)
    config = load_source(source)
    problems = check_endpoints(config)
    if problems:
        raise ConfigError(problems)
    return attrs.evolve(config, warnings=(*config.warnings, *machine_warnings(config, run_as)))
