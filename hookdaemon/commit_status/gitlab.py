"""
GitLab: POST /projects/{id}/statuses/{sha}, the project named by its
URL-encoded path (C{group%2Fsub%2Fproject}).

See https://docs.gitlab.com/ee/api/commits.html#set-the-pipeline-status-of-a-commit
(states pending, running, success, failed, canceled; fields name or context,
target_url, description, ref) and
https://docs.gitlab.com/ee/api/rest/index.html#namespaced-path-encoding for the encoded path.
"""

from __future__ import annotations

from collections.abc import Mapping

from hookdaemon.commit_status._base import (
    ApiRequest,
    CommitStatus,
    StatusState,
    json_body,
    one_line,
    segment,
    short_ref,
    text_fallback,
    truncate,
    words,
)

NAME = "gitlab"
DEFAULT_API: str | None = "https://gitlab.com/api/v4"
API_PATH = "/api/v4"
HEADERS: Mapping[str, str] = {"Accept": "application/json", "Content-Type": "application/json"}
REQUIRES_TARGET_URL = False

DESCRIPTION_LIMIT = 255
"""
GitLab documents no limit for C{description}; 255 is the one it enforces on
C{target_url} (app/models/generic_commit_status.rb), kept here to be safe.
"""
TARGET_URL_LIMIT = 255
"""
GenericCommitStatus validates C{target_url} to at most 255 characters; a longer
link would cost the whole status, so it is left out instead.
"""

# GitLab keeps each status as a job whose state machine refuses some moves:
# posting the state a status already has (running after running) answers 400
# "Cannot transition status via :run from :running" (lib/api/commit_statuses.rb).
STATES: Mapping[StatusState, str] = {
    StatusState.PENDING: "pending",
    StatusState.RUNNING: "running",
    StatusState.SUCCESS: "success",
    StatusState.FAILURE: "failed",
    StatusState.ERROR: "failed",
    StatusState.CANCELLED: "canceled",
}


def repository_problem(repository: str) -> str | None:
    parts = repository.split("/")
    if len(parts) < 2 or not all(parts):
        return f"repository {repository[:200]!r} is not a GitLab project path (group/project)"
    return None


def status_request(status: CommitStatus) -> ApiRequest:
    body: dict[str, object] = {"state": STATES[status.state], "name": status.context}
    # GitLab's ref is the branch or tag name; without one it picks the first
    # branch holding the commit, which may not be the one deployed.
    ref = short_ref(status.ref)
    if ref:
        body["ref"] = ref
    if status.target_url is not None and len(status.target_url) <= TARGET_URL_LIMIT:
        body["target_url"] = status.target_url
    description = truncate(status.description, DESCRIPTION_LIMIT)
    if description:
        body["description"] = description
    return ApiRequest(
        method="POST",
        path=f"/projects/{segment(status.repository)}/statuses/{segment(status.commit)}",
        json=body,
    )


def credentials(token: str) -> Mapping[str, str]:
    # Personal, project and group access tokens all go in PRIVATE-TOKEN.
    # See https://docs.gitlab.com/ee/api/rest/index.html#authentication
    return {"PRIVATE-TOKEN": token}


def error_message(status_code: int, body: bytes) -> str:
    """
    C{message} (a string, or field errors C{{"name": ["is too long"]}}), or
    C{error} (C{{"error": "state does not have a valid value"}}).
    """
    answer = json_body(body)
    if isinstance(answer, dict):
        message = words(answer.get("message")) or words(answer.get("error"))
        if message:
            return one_line(message)
    return text_fallback(status_code, body)
