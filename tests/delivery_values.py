"""
A L{Delivery} whose every field holds a value of its own, so a test can tell
which field's value reached a variable, a journal column or a JSON key.
"""

from __future__ import annotations

from typing import Any

from attrs import fields

from hookdaemon.delivery import Delivery


def every_value() -> Delivery:
    """Text fields hold C{"<name>-value"}, numbers their position; flags and changes are set."""
    values: dict[str, Any] = {}
    for position, attribute in enumerate(fields(Delivery), 1):
        default = attribute.default
        if isinstance(default, bool):
            values[attribute.name] = not default
        elif isinstance(default, int):
            values[attribute.name] = position
        elif isinstance(default, tuple):
            values[attribute.name] = (Delivery("generic", "push", "push", ref="refs/heads/x"),)
        else:
            values[attribute.name] = f"{attribute.name}-value"
    return Delivery(**values)
