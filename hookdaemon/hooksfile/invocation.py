"""
What one triggered call of a hooks-file hook gives its command, as values:
the arguments after the program, the environment it adds, and the files it
passes. It is decided when the call is accepted, from the request, and kept
in the journal beside the body, so that a job resumed after a restart, retried
or replayed runs with exactly what its call gave.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from attrs import frozen


@frozen
class PassedFile:
    """A C{pass-file-to-command} entry: written to a file of its own, named in C{variable}."""

    variable: str
    data: bytes


@frozen
class Invocation:
    arguments: tuple[str, ...] = ()
    """The command's arguments after its program (C{pass-arguments-to-command})."""
    environment: tuple[tuple[str, str], ...] = ()
    """C{pass-environment-to-command}'s variables, in order: a later one wins."""
    files: tuple[PassedFile, ...] = ()

    def to_json(self) -> bytes:
        """
        The journal's form. Values are text that may hold the raw bytes of a
        body that is not UTF-8 (as surrogate escapes): ASCII JSON keeps them.
        """
        return json.dumps(
            {
                "arguments": list(self.arguments),
                "environment": [list(pair) for pair in self.environment],
                "files": [
                    {"variable": f.variable, "data": base64.b64encode(f.data).decode("ascii")}
                    for f in self.files
                ],
            }
        ).encode("ascii")

    @classmethod
    def from_json(cls, data: bytes) -> Invocation:
        value: Any = json.loads(data)
        return cls(
            arguments=tuple(value["arguments"]),
            environment=tuple((name, text) for name, text in value["environment"]),
            files=tuple(
                PassedFile(f["variable"], base64.b64decode(f["data"])) for f in value["files"]
            ),
        )


def program_path(execute_command: str, working_directory: str, workdir: str) -> str:
    """
    The program a hooks-file hook runs, found as webhook finds it (webhook.go,
    handleHook): a relative C{execute-command} is joined to
    C{command-working-directory} (C{workdir}, made absolute) when there is one;
    without one, a name holding C{/} is relative to the daemon's directory
    (C{workdir} then), and a bare name is looked up on the PATH (the steps'
    PATH here; webhook's own there).
    """
    if os.path.isabs(execute_command):
        return execute_command
    if working_directory or "/" in execute_command:
        return os.path.join(workdir, execute_command)
    return execute_command
