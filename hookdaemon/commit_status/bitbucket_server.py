"""
Bitbucket Server and Data Center: POST
/rest/api/latest/projects/{projectKey}/repos/{slug}/commits/{commitId}/builds.

See https://developer.atlassian.com/server/bitbucket/how-tos/updating-build-status-for-commits
(fields key, state, url, name, description, ref; C{key}, C{state} and C{url}
required). This repository-scoped resource came with Bitbucket 7.4; the older
/rest/build-status/1.0/commits/{commitId} names no repository, so a status
posted there shows on every repository holding the commit, and required-builds
merge checks need the repository-scoped one. hookdaemon uses the new one.

A personal repository (C{~user/slug}) lives in the personal project whose key
is C{~} and the user's slug, so it is addressed as C{projects/~user/repos/slug}
(https://confluence.atlassian.com/bitbucketserverkb/personal-projects-in-bitbucket-server-1072204133.html;
the user-centric C{/users/{userSlug}/repos/...} form addresses the same repository).
"""

from __future__ import annotations

from collections.abc import Mapping

from hookdaemon.commit_status._base import (
    ApiRequest,
    CommitStatus,
    MissingTargetUrlError,
    StatusState,
    basic_or_bearer,
    json_body,
    one_line,
    segment,
    short_key,
    text_fallback,
    truncate,
    words,
)

NAME = "bitbucket-server"
DEFAULT_API: str | None = None
API_PATH = ""
"""
Nothing: L{status_request}'s paths start at /rest/, so C{report_url} is the
server's base URL as users browse it (with its context path, if any:
C{https://host/bitbucket}).
"""
HEADERS: Mapping[str, str] = {"Accept": "application/json", "Content-Type": "application/json"}
REQUIRES_TARGET_URL = True
"""The how-to: "The state, key and url fields are required"."""

KEY_LIMIT = 255
"""Not documented here; 255 as for C{name}, with the same stable shortening as Cloud's."""
NAME_LIMIT = 255
"""The name field is limited to 255 characters (https://jira.atlassian.com/browse/BSERV-12804)."""
DESCRIPTION_LIMIT = 255
"""Not documented; 255 as for C{name}, to be safe."""
URL_LIMIT = 450
"""
Longer URLs are refused (jenkinsci/bitbucket-branch-source-plugin#928); a URL
cannot be cut, so such a status is refused here with a sentence instead.
"""

# The builds API has CANCELLED in recent releases, but 7.4 knows only these
# three: a person's cancel is reported as FAILED, the description saying why.
STATES: Mapping[StatusState, str] = {
    StatusState.PENDING: "INPROGRESS",
    StatusState.RUNNING: "INPROGRESS",
    StatusState.SUCCESS: "SUCCESSFUL",
    StatusState.FAILURE: "FAILED",
    StatusState.ERROR: "FAILED",
    StatusState.CANCELLED: "FAILED",
}


def repository_problem(repository: str) -> str | None:
    parts = repository.split("/")
    if len(parts) != 2 or not all(parts) or parts[0] == "~":
        return f"repository {repository[:200]!r} is not of the form PROJECT/slug or ~user/slug"
    return None


def status_request(status: CommitStatus) -> ApiRequest:
    if status.target_url is None:
        raise MissingTargetUrlError(
            "Bitbucket Server requires a link to the job (url) in every status"
        )
    if len(status.target_url) > URL_LIMIT:
        raise ValueError(f"Bitbucket Server refuses a job link longer than {URL_LIMIT} characters")
    project, slug = status.repository.split("/")
    body: dict[str, object] = {
        "key": short_key(status.context, KEY_LIMIT),
        "state": STATES[status.state],
        "name": truncate(status.context, NAME_LIMIT),
        "url": status.target_url,
    }
    description = truncate(status.description, DESCRIPTION_LIMIT)
    if description:
        body["description"] = description
    if status.ref:
        # The full ref, as Bitbucket's own refs are named (refs/heads/main).
        body["ref"] = status.ref
    return ApiRequest(
        method="POST",
        path=(
            f"/rest/api/latest/projects/{segment(project)}/repos/{segment(slug)}"
            f"/commits/{segment(status.commit)}/builds"
        ),
        json=body,
    )


def credentials(token: str) -> Mapping[str, str]:
    """
    An HTTP access token as Bearer (project and repository tokens work only
    that way); C{user:password} as Basic.
    See https://confluence.atlassian.com/bitbucketserver/personal-access-tokens-939515499.html
    """
    return basic_or_bearer(token)


def error_message(status_code: int, body: bytes) -> str:
    """The C{message}s of C{{"errors": [{"context": ..., "message": "...", ...}]}}."""
    answer = json_body(body)
    if isinstance(answer, dict):
        errors = answer.get("errors")
        if isinstance(errors, list) and (
            message := words([error.get("message") for error in errors if isinstance(error, dict)])
        ):
            return one_line(message)
    return text_fallback(status_code, body)
