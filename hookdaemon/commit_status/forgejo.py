"""
Forgejo: Gitea's commit-status API, unchanged by the fork.

See https://forgejo.org/docs/latest/user/api-usage/ (C{Authorization: token},
base /api/v1) and https://codeberg.org/api/swagger#/repository/repoCreateStatus
(CreateStatusOption: state, target_url, description, context; states
pending, success, error, failure, warning).
"""

from __future__ import annotations

from hookdaemon.commit_status.gitea import (
    API_PATH,
    DESCRIPTION_LIMIT,
    HEADERS,
    REQUIRES_TARGET_URL,
    STATES,
    credentials,
    error_message,
    repository_problem,
    status_request,
)

NAME = "forgejo"
DEFAULT_API: str | None = None
"""Self-hosted: Codeberg (https://codeberg.org/api/v1) is one instance among many."""

__all__ = [
    "API_PATH",
    "DEFAULT_API",
    "DESCRIPTION_LIMIT",
    "HEADERS",
    "NAME",
    "REQUIRES_TARGET_URL",
    "STATES",
    "credentials",
    "error_message",
    "repository_problem",
    "status_request",
]
