"""
Bitbucket Cloud: POST /repositories/{workspace}/{repo_slug}/commit/{commit}/statuses/build.

See https://developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses/
(fields key, state, name, url, description, refname; states INPROGRESS,
SUCCESSFUL, FAILED, STOPPED). A POST with a key the commit already has
overwrites that status, so each run updates one status per context.
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
    owner_name_problem,
    segment,
    short_key,
    short_ref,
    text_fallback,
    truncate,
    words,
)

NAME = "bitbucket"
DEFAULT_API: str | None = "https://api.bitbucket.org/2.0"
API_PATH = "/2.0"
HEADERS: Mapping[str, str] = {"Accept": "application/json", "Content-Type": "application/json"}
REQUIRES_TARGET_URL = True
"""
The reference marks C{url} optional, but a status without a valid one is
refused (C{{"url": ["Enter a valid URL."]}}, hirakiuc/tinybucket#127), so
hookdaemon asks for a job link rather than invent one.
"""

KEY_LIMIT = 40
"""
"key: Ensure this value has at most 40 characters" (buildbot/buildbot#7049,
jenkinsci/bitbucket-build-status-notifier-plugin#11); a longer context
becomes L{short_key}'s stable 40-character key, kept whole as C{name}.
"""
NAME_LIMIT = 255
"""Names longer than 255 characters are refused (jenkinsci/bitbucket-branch-source-plugin#928)."""
DESCRIPTION_LIMIT = 255
"""Not documented; 255 as for C{name}, to be safe."""

# Bitbucket has no separate pending or error: waiting is in progress, and a
# run that could not complete failed; a person's cancel is STOPPED.
STATES: Mapping[StatusState, str] = {
    StatusState.PENDING: "INPROGRESS",
    StatusState.RUNNING: "INPROGRESS",
    StatusState.SUCCESS: "SUCCESSFUL",
    StatusState.FAILURE: "FAILED",
    StatusState.ERROR: "FAILED",
    StatusState.CANCELLED: "STOPPED",
}


def repository_problem(repository: str) -> str | None:
    return owner_name_problem(repository)


def status_request(status: CommitStatus) -> ApiRequest:
    if status.target_url is None:
        raise MissingTargetUrlError(
            "Bitbucket Cloud requires a link to the job (url) in every status"
        )
    workspace, slug = status.repository.split("/")
    body: dict[str, object] = {
        "key": short_key(status.context, KEY_LIMIT),
        "state": STATES[status.state],
        "name": truncate(status.context, NAME_LIMIT),
        # The url is a URI template: Bitbucket expands {repository.full_name}
        # and the like when it shows it, so literal braces are escaped.
        "url": status.target_url.replace("{", "%7B").replace("}", "%7D"),
    }
    description = truncate(status.description, DESCRIPTION_LIMIT)
    if description:
        body["description"] = description
    # refname is the branch name; it is what ties a status to a pull request.
    refname = short_ref(status.ref)
    if refname:
        body["refname"] = refname
    return ApiRequest(
        method="POST",
        path=(
            f"/repositories/{segment(workspace)}/{segment(slug)}"
            f"/commit/{segment(status.commit)}/statuses/build"
        ),
        json=body,
    )


def credentials(token: str) -> Mapping[str, str]:
    """
    C{user:secret} as Basic: an app password with the username, or an API
    token with the account's email. Anything else is an access token
    (repository, project or workspace), sent as Bearer.
    See https://developer.atlassian.com/cloud/bitbucket/rest/intro/#authentication
    """
    return basic_or_bearer(token)


def error_message(status_code: int, body: bytes) -> str:
    """C{error.message} of C{{"type": "error", "error": {"message": "...", "fields": {...}}}}."""
    answer = json_body(body)
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict) and (message := words(error.get("message"))):
            return one_line(message)
        if message := words(answer.get("message")):
            return one_line(message)
    return text_fallback(status_code, body)
