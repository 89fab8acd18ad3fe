"""
Gitea: POST /repos/{owner}/{repo}/statuses/{sha} under /api/v1.

See https://docs.gitea.com/api/ (repoCreateStatus, CreateStatusOption: state,
target_url, description, context; states pending, success, error, failure,
warning) and https://docs.gitea.com/development/api-usage for the
C{Authorization: token} header. Forgejo, a fork, serves the same API; see
L{hookdaemon.commit_status.forgejo}.
"""

from __future__ import annotations

from collections.abc import Mapping

from hookdaemon.commit_status._base import (
    ApiRequest,
    CommitStatus,
    StatusState,
    json_body,
    one_line,
    owner_name_problem,
    segment,
    text_fallback,
    truncate,
    words,
)

NAME = "gitea"
DEFAULT_API: str | None = None
"""Self-hosted: gitea.com is one instance among many, so report_url must name it."""
API_PATH = "/api/v1"
HEADERS: Mapping[str, str] = {"Accept": "application/json", "Content-Type": "application/json"}
REQUIRES_TARGET_URL = False

DESCRIPTION_LIMIT = 1000
"""
Gitea stores the description in a TEXT column (models/git/commit_status.go)
and documents no limit; 1000 only keeps a runaway sentence out of the page.
"""

# Gitea has no "running" and no "cancelled" (its State column is VARCHAR(7)):
# the same choices as GitHub's, whose API Gitea's follows.
STATES: Mapping[StatusState, str] = {
    StatusState.PENDING: "pending",
    StatusState.RUNNING: "pending",
    StatusState.SUCCESS: "success",
    StatusState.FAILURE: "failure",
    StatusState.ERROR: "error",
    StatusState.CANCELLED: "error",
}


def repository_problem(repository: str) -> str | None:
    return owner_name_problem(repository)


def status_request(status: CommitStatus) -> ApiRequest:
    owner, name = status.repository.split("/")
    body: dict[str, object] = {"state": STATES[status.state], "context": status.context}
    if status.target_url is not None:
        body["target_url"] = status.target_url
    description = truncate(status.description, DESCRIPTION_LIMIT)
    if description:
        body["description"] = description
    return ApiRequest(
        method="POST",
        path=f"/repos/{segment(owner)}/{segment(name)}/statuses/{segment(status.commit)}",
        json=body,
    )


def credentials(token: str) -> Mapping[str, str]:
    # "For historical reasons, Gitea needs the word token included before the
    # apiKey token in an authorization header" (docs.gitea.com API usage).
    return {"Authorization": f"token {token}"}


def error_message(status_code: int, body: bytes) -> str:
    """C{message} of Gitea's C{{"message": "...", "url": "..."}} (APIError)."""
    answer = json_body(body)
    if isinstance(answer, dict) and (message := words(answer.get("message"))):
        return one_line(message)
    return text_fallback(status_code, body)
