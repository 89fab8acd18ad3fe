"""
GitHub and GitHub Enterprise Server: POST /repos/{owner}/{repo}/statuses/{sha}.

See https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
(states error, failure, pending, success; fields state, target_url,
description, context). Enterprise Server serves the same API under
https://HOST/api/v3 (https://docs.github.com/en/enterprise-server@latest/rest).
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

NAME = "github"
DEFAULT_API: str | None = "https://api.github.com"
API_PATH = "/api/v3"
"""
What a GitHub Enterprise Server base ends with; api.github.com itself has no
path, so only a C{report_url} other than L{DEFAULT_API} should end with it.
"""
HEADERS: Mapping[str, str] = {
    # See https://docs.github.com/en/rest/about-the-rest-api/api-versions
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "Content-Type": "application/json",
}
REQUIRES_TARGET_URL = False

DESCRIPTION_LIMIT = 140
"""
GitHub answers 422 "description is too long (maximum is 140 characters)";
the limit is documented for deployment statuses and enforced for commit
statuses alike (github/developer.github.com#976, zalando/zappr#378).
"""

# GitHub has no "running" and no "cancelled": a running deploy is pending, and
# a cancelled one is an error (not the code's failure), as for ERROR.
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
    # Fine-grained and classic personal access tokens and app installation
    # tokens all go as Bearer.
    # See https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api
    return {"Authorization": f"Bearer {token}"}


def error_message(status_code: int, body: bytes) -> str:
    """
    C{message}, with the C{errors} a 422 lists: C{{"message": "Validation
    Failed", "errors": [{"field": "description", "message": "..."}]}}.
    """
    answer = json_body(body)
    if isinstance(answer, dict):
        message = words(answer.get("message"))
        errors = answer.get("errors")
        details = (
            words([error.get("message") for error in errors if isinstance(error, dict)])
            if isinstance(errors, list)
            else ""
        )
        if message and details:
            return one_line(f"{message}: {details}")
        if message or details:
            return one_line(message or details)
    return text_fallback(status_code, body)
