"""
The forge layer: one module per forge family, all with the L{Forge} interface.

Adding a forge means one new module and a line in L{FORGES} (and in
L{DETECTION_ORDER} if C{forge = auto} should recognise it).
"""

from hookdaemon.delivery import Incoming
from hookdaemon.forges import bitbucket, bitbucket_server, generic, gitea, github, gitlab
from hookdaemon.forges._base import Forge, PayloadError, type_refusal

FORGES: dict[str, Forge] = {
    forge.name: forge
    for forge in (
        github.forge,
        gitlab.forge,
        gitea.gitea,
        gitea.forgejo,
        gitea.gogs,
        bitbucket.forge,
        bitbucket_server.forge,
        generic.forge,
    )
}

DETECTION_ORDER: tuple[Forge, ...] = (
    # Most specific first: Forgejo also sends Gitea's, Gogs' and GitHub's headers,
    # and Gitea sends Gogs' and GitHub's.
    gitea.forgejo,
    gitea.gitea,
    gitea.gogs,
    github.forge,
    gitlab.forge,
    bitbucket.forge,
    # Last: it claims any X-Event-Key request without Bitbucket Cloud's headers.
    bitbucket_server.forge,
)
"""The forges C{forge = auto} tries, in order; generic is never guessed."""


def detect(incoming: Incoming) -> Forge | None:
    """The forge a request's headers say it comes from, if any."""
    for forge in DETECTION_ORDER:
        if forge.detect(incoming):
            return forge
    return None


__all__ = ["DETECTION_ORDER", "FORGES", "Forge", "PayloadError", "detect", "type_refusal"]
