"""
Commit statuses: a deploy's result, reported to the forge as the exact HTTP
request its documented commit-status API expects.

One module per forge API, all with the L{StatusApi} members, chosen by the
C{report} key through L{STATUS_APIS}. Pure: the caller sends the request.
Adding a forge means one new module and a line in L{STATUS_APIS}.
"""

from __future__ import annotations

from collections.abc import Mapping

from hookdaemon.commit_status import bitbucket, bitbucket_server, forgejo, gitea, github, gitlab
from hookdaemon.commit_status._base import (
    ApiRequest,
    CommitStatus,
    MissingTargetUrlError,
    StatusApi,
    StatusState,
    commit_problem,
)

STATUS_APIS: Mapping[str, StatusApi] = {
    api.NAME: api for api in (github, gitlab, gitea, forgejo, bitbucket, bitbucket_server)
}

UNSUPPORTED: Mapping[str, str] = {
    # Gogs' API (internal/route/api/v1/api.go) has no statuses route, and
    # gogs/gogs#4631 (commit/PR build status) is open.
    "gogs": (
        "Gogs has no commit status API (gogs/gogs#4631), so hookdaemon cannot report to it;"
        " use Gitea or Forgejo, which took Gogs' place and have one, or leave report unset"
    ),
}
"""C{report} values hookdaemon knows but cannot serve, each with the sentence saying why."""


def problem(api_name: str, repository: str, commit: str) -> str | None:
    """Why a delivery's commit cannot be given a status through C{api_name}, or None."""
    if api_name in UNSUPPORTED:
        return UNSUPPORTED[api_name]
    api = STATUS_APIS.get(api_name)
    if api is None:
        return f"{api_name[:40]!r} is not a forge hookdaemon can report to"
    if not repository:
        return "the delivery names no repository"
    return api.repository_problem(repository) or commit_problem(commit)


__all__ = [
    "STATUS_APIS",
    "UNSUPPORTED",
    "ApiRequest",
    "CommitStatus",
    "MissingTargetUrlError",
    "StatusApi",
    "StatusState",
    "problem",
]
