"""
The forge layer: one module per forge family, all with the L{Forge} interface.

Adding a forge means one new module and one line in L{FORGES}.
"""

from hookdaemon.forges import generic, github, gitlab
from hookdaemon.forges._base import Forge, PayloadError

FORGES: dict[str, Forge] = {
    github.forge.name: github.forge,
    gitlab.forge.name: gitlab.forge,
    generic.forge.name: generic.forge,
}

__all__ = ["FORGES", "Forge", "PayloadError"]
