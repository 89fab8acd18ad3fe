"""
The forge layer: one module per forge family, all with the L{Forge} interface.

Adding a forge means one new module and a line in L{FORGES} (and in
L{DETECTION_ORDER} if C{forge = auto} should recognise it).
"""

from hookdaemon.delivery import Incoming
from hookdaemon.forges import generic, github, gitlab
from hookdaemon.forges._base import Forge, PayloadError

FORGES: dict[str, Forge] = {
    github.forge.name: github.forge,
    gitlab.forge.name: gitlab.forge,
    generic.forge.name: generic.forge,
}

DETECTION_ORDER: tuple[Forge, ...] = (
    # Most specific first: Forgejo also sends Gitea's, Gogs' and GitHub's headers,
    # and Gitea sends Gogs' and GitHub's.
    github.forge,
    gitlab.forge,
)
"""The forges C{forge = auto} tries, in order; generic is never guessed."""


def detect(incoming: Incoming) -> Forge | None:
    """The forge a request's headers say it comes from, if any."""
    for forge in DETECTION_ORDER:
        if forge.detect(incoming):
            return forge
    return None


__all__ = ["DETECTION_ORDER", "FORGES", "Forge", "PayloadError", "detect"]
