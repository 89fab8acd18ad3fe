"""
Requests to adnanh/webhook hooks and what webhook 2.8.0 answers: the table the
C{--hooks} front end must reproduce.

Written from webhook's docs (Hook-Definition.md, Hook-Rules.md,
Referencing-Request-Values.md, Webhook-Parameters.md) and checked against the
real webhook by L{tests.test_webhook_reference}. Where webhook does otherwise
than its docs say, the case expects what webhook does and its C{doc} says so.
Go source citations are to adnanh/webhook 2.8.0 (webhook.go, internal/hook/).

Each case's hook runs the recorder (tests/fixtures/webhook/record.py), so its
C{receipt} is what the command was given; L{webhook_reference} explains the
placeholders (C{@ROOT@}, C{@RECORDER@}, C{@CLIENT_PORT@}).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from tests.webhook_reference import (
    CLIENT_PORT,
    RECORDER_PATH,
    ROOT,
    Case,
    Expect,
    Flags,
    Output,
    PassedFile,
    Receipt,
    Request,
)

# -- building blocks -------------------------------------------------------------

TEXT = "text/plain; charset=utf-8"
"""The Content-Type Go's http.DetectContentType gives a text body webhook writes."""

JSON = (("Content-Type", "application/json"),)
FORM = (("Content-Type", "application/x-www-form-urlencoded"),)
XML = (("Content-Type", "application/xml"),)

NOT_FOUND = b"Hook not found."
MISMATCH = b"Hook rules were not satisfied."
RULE_ERROR = b"Error occurred while evaluating hook rules."
COMMAND_ERROR = (
    b"Error occurred while executing the hook's command. Please check your logs for more details."
)
GO_NOT_FOUND = b"404 page not found\n"
"""Go's http.NotFound, for a path no route of webhook's router matches."""

REMOTE_ADDR = f"127.0.0.1:{CLIENT_PORT}"
TMP = f"{ROOT}/tmp"
WORK = f"{ROOT}/work"

SECRET = "s3cret"
SIGNED_BODY = b'{"ref": "refs/heads/main", "after": "c0ffee"}'


def hook(id: str, **properties: Any) -> dict[str, Any]:
    """A hooks-file hook: keyword names with C{_} for the file's C{-}."""
    return {"id": id, **{name.replace("_", "-"): value for name, value in properties.items()}}


def arg(
    source: str, name: str = "", envname: str = "", base64decode: bool = False
) -> dict[str, Any]:
    argument: dict[str, Any] = {"source": source}
    if name:
        argument["name"] = name
    if envname:
        argument["envname"] = envname
    if base64decode:
        argument["base64decode"] = True
    return argument


def match(type: str, parameter: Mapping[str, Any] | None = None, **fields: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"type": type, **{k.replace("_", "-"): v for k, v in fields.items()}}
    if parameter is not None:
        rule["parameter"] = dict(parameter)
    return {"match": rule}


def value_is(value: str, source: str, name: str) -> dict[str, Any]:
    return match("value", arg(source, name), value=value)


TRUE = value_is("yes", "string", "yes")
"""A rule that holds whatever the request."""
FALSE = value_is("no", "string", "yes")
"""A rule that never holds."""


def signature(algorithm: str, body: bytes = SIGNED_BODY, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def json_post(target: str, payload: Any, **fields: Any) -> Request:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = (*JSON, *fields.pop("headers", ()))
    return Request(target, headers=headers, body=body, **fields)


BOUNDARY = "hooks-boundary"


def multipart(*parts: tuple[str, bytes, str, str]) -> tuple[tuple[str, str], bytes]:
    """A multipart/form-data body of (name, content, filename, content type) parts."""
    body = b""
    for name, content, filename, content_type in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename else ""
        )
        head = f"Content-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        body += f"--{BOUNDARY}\r\n{head}\r\n".encode() + content + b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"), body


def answer(
    status: int,
    body: bytes,
    *headers: tuple[str, str],
    absent: tuple[str, ...] = (),
    receipt: Receipt | None = None,
) -> Expect:
    return Expect(status, body, headers, absent, receipt)


def ran(
    *argv: str,
    env: Mapping[str, str] | None = None,
    files: Mapping[str, PassedFile] | None = None,
    cwd: str = ROOT,
    command: str | None = None,
) -> Receipt:
    return Receipt(
        argv=argv,
        env=dict(env or {}),
        files=dict(files or {}),
        cwd=cwd,
        command=RECORDER_PATH if command is None else command,
    )


def text(
    status: int, body: bytes, *headers: tuple[str, str], receipt: Receipt | None = None
) -> Expect:
    """An answer with a text body, as Go types it (text/plain; charset=utf-8)."""
    return answer(status, body, ("Content-Type", TEXT), *headers, receipt=receipt)


def runs(body: bytes = b"", *headers: tuple[str, str], receipt: Receipt | None = None) -> Expect:
    """The hook ran: 200 with its response-message."""
    if body:
        return text(200, body, *headers, receipt=receipt or ran())
    return answer(200, b"", *headers, absent=("Content-Type",), receipt=receipt or ran())


def mismatch(status: int = 200, *headers: tuple[str, str]) -> Expect:
    return text(status, MISMATCH, *headers)


def rule_error(*headers: tuple[str, str]) -> Expect:
    return text(500, RULE_ERROR, *headers)


def post(target: str, **fields: Any) -> Request:
    return Request(target, **fields)


# -- the table -----------------------------------------------------------------------

ROUTING = (
    Case(
        "root_answers_ok",
        None,
        Request("/", "GET"),
        answer(200, b"OK", ("Content-Type", TEXT), ("Content-Length", "2")),
        doc="webhook.go main: the / route prints OK",
    ),
    Case(
        "root_answers_ok_to_any_method",
        None,
        Request("/", "DELETE", query="x=1"),
        text(200, b"OK"),
    ),
    Case(
        "unknown_hook_is_404",
        None,
        post("no-such-hook"),
        answer(404, NOT_FOUND, ("Content-Type", TEXT), ("Content-Length", "15")),
    ),
    Case(
        "unknown_hook_is_404_for_get", None, Request("no-such-hook", "GET"), text(404, NOT_FOUND)
    ),
    Case(
        "unknown_hook_is_404_for_head_without_body",
        None,
        Request("no-such-hook", "HEAD"),
        answer(404, b"", ("Content-Length", "15")),
    ),
    Case(
        "prefix_alone_is_go_not_found",
        None,
        post("/hooks"),
        answer(404, GO_NOT_FOUND, ("Content-Type", TEXT), ("X-Content-Type-Options", "nosniff")),
        doc="no route matches /hooks: gorilla/mux answers with Go's http.NotFound",
    ),
    Case(
        "other_path_is_go_not_found",
        None,
        post("/elsewhere/x"),
        answer(404, GO_NOT_FOUND, ("Content-Type", TEXT), ("X-Content-Type-Options", "nosniff")),
    ),
    Case(
        "prefix_is_case_sensitive",
        None,
        post("/HOOKS/x"),
        answer(404, GO_NOT_FOUND, ("Content-Type", TEXT)),
    ),
    Case(
        "empty_id_is_an_unknown_hook",
        None,
        post("/hooks/"),
        text(404, NOT_FOUND),
        doc="/hooks/ matches the route with the id empty; a hook with id '' would be served here",
    ),
    Case(
        "double_slash_redirects_to_clean_path",
        hook("double-slash"),
        post("//hooks/double-slash"),
        answer(301, b"", ("Location", "/hooks/double-slash"), absent=("Content-Type",)),
        doc="gorilla/mux cleans the path (cleanPath) and redirects; the hook does not run",
    ),
    Case(
        "dot_segment_redirects_to_clean_path",
        hook("dot-segment"),
        post("/hooks/./dot-segment"),
        answer(301, b"", ("Location", "/hooks/dot-segment")),
    ),
    Case(
        "id_with_slash_is_served",
        hook("deploy/site", response_message="slash"),
        post("deploy/site"),
        runs(b"slash"),
        doc="the route is /hooks/{id:.*}: an id may hold slashes",
    ),
    Case(
        "id_with_encoded_slash_matches_decoded",
        hook("encoded/slash", response_message="decoded"),
        post("encoded%2Fslash"),
        runs(b"decoded"),
        doc="mux matches the decoded path (no UseEncodedPath)",
    ),
    Case(
        "id_percent_encoded_is_decoded",
        hook("with space", response_message="space"),
        post("with%20space"),
        runs(b"space"),
    ),
    Case(
        "id_is_case_sensitive",
        hook("CaseId"),
        post("caseid"),
        text(404, NOT_FOUND),
    ),
    Case(
        "trailing_slash_is_another_id",
        hook("trailing"),
        post("trailing/"),
        text(404, NOT_FOUND),
        doc="the id is everything after /hooks/: trailing/ is not trailing",
    ),
    Case(
        "query_string_is_not_part_of_the_id",
        hook("with-query", response_message="q"),
        post("with-query", query="id=other"),
        runs(b"q"),
    ),
)

RESPONSES = (
    Case(
        "response_message_answers_at_once",
        hook("message", response_message="deploying"),
        post("message"),
        runs(b"deploying", ("Content-Length", "9")),
        doc="the command runs in a goroutine; the answer does not wait for it",
    ),
    Case(
        "no_response_message_is_an_empty_200",
        hook("no-message"),
        post("no-message"),
        answer(200, b"", ("Content-Length", "0"), absent=("Content-Type",), receipt=ran()),
        doc="Go sends no Content-Type for an empty body",
    ),
    Case(
        "response_message_html_is_sniffed",
        hook("html-message", response_message="<html><body>done</body></html>"),
        post("html-message"),
        answer(
            200,
            b"<html><body>done</body></html>",
            ("Content-Type", "text/html; charset=utf-8"),
            receipt=ran(),
        ),
        doc="no Content-Type is set: Go's http.DetectContentType picks one from the body",
    ),
    Case(
        "response_message_json_is_text",
        hook("json-message", response_message='{"ok": true}'),
        post("json-message"),
        runs(b'{"ok": true}'),
    ),
    Case(
        "response_headers_are_sent",
        hook(
            "response-headers",
            response_message='{"ok": true}',
            response_headers=[
                {"name": "X-Deploy", "value": "yes"},
                {"name": "Content-Type", "value": "application/json"},
            ],
        ),
        post("response-headers"),
        answer(
            200,
            b'{"ok": true}',
            ("X-Deploy", "yes"),
            ("Content-Type", "application/json"),
            receipt=ran(),
        ),
    ),
    Case(
        "response_header_repeated_keeps_the_last",
        hook(
            "header-twice",
            response_headers=[
                {"name": "X-Twice", "value": "first"},
                {"name": "X-Twice", "value": "second"},
            ],
        ),
        post("header-twice"),
        answer(200, b"", ("X-Twice", "second"), receipt=ran()),
        doc="webhook.go hookHandler: w.Header().Set per header, so the last one wins",
    ),
    Case(
        "response_header_name_is_canonical",
        hook("header-case", response_headers=[{"name": "x-lower-case", "value": "v"}]),
        post("header-case"),
        answer(200, b"", ("X-Lower-Case", "v"), receipt=ran()),
        doc="Go's Header.Set canonicalises the name",
    ),
    Case(
        "response_headers_not_sent_on_mismatch",
        hook(
            "headers-mismatch",
            response_headers=[{"name": "X-Deploy", "value": "yes"}],
            trigger_rule=FALSE,
        ),
        post("headers-mismatch"),
        answer(200, MISMATCH, ("Content-Type", TEXT), absent=("X-Deploy",)),
        doc="the hook's headers are set only once its rules hold",
    ),
    Case(
        "success_code_is_used",
        hook("created", response_message="made", success_http_response_code=201),
        post("created"),
        text(201, b"made", receipt=ran()),
    ),
    Case(
        "success_code_204_has_no_body",
        hook("no-content", response_message="dropped", success_http_response_code=204),
        post("no-content"),
        answer(204, b"", absent=("Content-Type", "Content-Length"), receipt=ran()),
        doc="Go writes no body (and no Content-Length) for 204",
    ),
    Case(
        "success_code_304_has_no_body",
        hook("not-modified", response_message="dropped", success_http_response_code=304),
        post("not-modified"),
        answer(304, b"", absent=("Content-Type", "Content-Length"), receipt=ran()),
    ),
    Case(
        "success_code_teapot",
        hook("teapot", response_message="short and stout", success_http_response_code=418),
        post("teapot"),
        text(418, b"short and stout", receipt=ran()),
    ),
    Case(
        "success_code_go_cannot_name_is_200",
        hook("unnamed-code", response_message="fine", success_http_response_code=299),
        post("unnamed-code"),
        text(200, b"fine", receipt=ran()),
        doc="webhook.go writeHttpResponseCode: a code without http.StatusText is left at 200",
    ),
    Case(
        "success_code_out_of_range_is_200",
        hook("code-999", response_message="fine", success_http_response_code=999),
        post("code-999"),
        text(200, b"fine", receipt=ran()),
    ),
    Case(
        "mismatch_is_200_by_default",
        hook("mismatch-default", trigger_rule=FALSE),
        post("mismatch-default"),
        answer(200, MISMATCH, ("Content-Type", TEXT), ("Content-Length", "30")),
    ),
    Case(
        "mismatch_code_is_used",
        hook("mismatch-400", trigger_rule=FALSE, trigger_rule_mismatch_http_response_code=400),
        post("mismatch-400"),
        mismatch(400),
    ),
    Case(
        "mismatch_code_go_cannot_name_is_200",
        hook("mismatch-299", trigger_rule=FALSE, trigger_rule_mismatch_http_response_code=299),
        post("mismatch-299"),
        mismatch(200),
    ),
    Case(
        "success_code_does_not_apply_to_mismatch",
        hook("mismatch-success-code", trigger_rule=FALSE, success_http_response_code=201),
        post("mismatch-success-code"),
        mismatch(200),
    ),
)

METHODS = (
    Case(
        "method_allowed",
        hook("post-only", http_methods=["POST"], response_message="posted"),
        post("post-only"),
        runs(b"posted"),
    ),
    Case(
        "method_refused_is_405_with_empty_body",
        hook("post-only-get", http_methods=["POST"]),
        Request("post-only-get", "GET"),
        answer(405, b"", ("Content-Length", "0"), absent=("Content-Type",)),
    ),
    Case(
        "methods_are_trimmed_and_upper_cased",
        hook("get-spaced", http_methods=[" get "], response_message="got"),
        Request("get-spaced", "GET"),
        runs(b"got"),
        doc="webhook.go hookHandler: ToUpper(TrimSpace(method)) for each of the hook's",
    ),
    Case(
        "request_method_is_compared_as_sent",
        hook("post-only-lower", http_methods=["POST"]),
        Request("post-only-lower", "post"),
        answer(405, b""),
        doc="the request's method is not upper-cased: post is not POST",
    ),
    Case(
        "any_method_without_http_methods",
        hook("any-method", response_message="put"),
        Request("any-method", "PUT"),
        runs(b"put"),
    ),
    Case(
        "head_runs_the_hook",
        hook("head", response_message="headed"),
        Request("head", "HEAD"),
        answer(200, b"", ("Content-Length", "6"), ("Content-Type", TEXT), receipt=ran()),
        doc="a HEAD is a request like another: the command runs, Go drops the body",
    ),
    Case(
        "method_refused_before_rules",
        hook("refused-signed", http_methods=["PUT"], trigger_rule=FALSE),
        post("refused-signed"),
        answer(405, b""),
    ),
)

GLOBAL = Flags(headers=(("X-Global", "yes"), ("X-Both", "global")), http_methods="post, Put")
"""-header twice and -http-methods (upper-cased, spaces removed: POST,PUT)."""

GLOBAL_FLAGS = (
    Case(
        "global_header_on_success",
        hook("global-success", response_message="ok"),
        post("global-success"),
        text(200, b"ok", ("X-Global", "yes"), ("X-Both", "global"), receipt=ran()),
        flags=GLOBAL,
    ),
    Case(
        "global_header_on_mismatch",
        hook("global-mismatch", trigger_rule=FALSE),
        post("global-mismatch"),
        mismatch(200, ("X-Global", "yes")),
        flags=GLOBAL,
    ),
    Case(
        "global_header_on_rule_error",
        hook(
            "global-rule-error",
            trigger_rule=match("payload-hmac-sha256", arg("header", "X-Sig"), secret=SECRET),
        ),
        post("global-rule-error", headers=(("X-Sig", "sha256=00"),), body=b"x"),
        rule_error(("X-Global", "yes")),
        flags=GLOBAL,
    ),
    Case(
        "global_header_not_on_unknown_hook",
        None,
        post("global-unknown"),
        answer(404, NOT_FOUND, absent=("X-Global",)),
        flags=GLOBAL,
        doc="webhook.go hookHandler sets -header only after the hook and method are found",
    ),
    Case(
        "global_header_not_on_refused_method",
        hook("global-get"),
        Request("global-get", "GET"),
        answer(405, b"", absent=("X-Global",)),
        flags=GLOBAL,
    ),
    Case(
        "global_header_not_on_root",
        None,
        Request("/", "GET"),
        answer(200, b"OK", absent=("X-Global",)),
        flags=GLOBAL,
    ),
    Case(
        "hook_header_overrides_global",
        hook("global-override", response_headers=[{"name": "X-Both", "value": "hook"}]),
        post("global-override"),
        answer(200, b"", ("X-Both", "hook"), ("X-Global", "yes"), receipt=ran()),
        flags=GLOBAL,
    ),
    Case(
        "default_methods_allow_put",
        hook("global-put"),
        Request("global-put", "PUT"),
        answer(200, b"", receipt=ran()),
        flags=GLOBAL,
    ),
    Case(
        "hook_methods_override_default",
        hook("global-own-get", http_methods=["GET"]),
        Request("global-own-get", "GET"),
        answer(200, b"", receipt=ran()),
        flags=GLOBAL,
    ),
    Case(
        "hook_methods_override_default_refuse",
        hook("global-own-get-post", http_methods=["GET"]),
        post("global-own-get-post"),
        answer(405, b""),
        flags=GLOBAL,
    ),
)

PREFIX = Flags(urlprefix="api/v1")

URL_PREFIX = (
    Case(
        "urlprefix_serves_hooks_under_it",
        hook("prefixed", response_message="prefixed"),
        post("prefixed"),
        runs(b"prefixed"),
        flags=PREFIX,
    ),
    Case(
        "urlprefix_replaces_hooks",
        None,
        post("/hooks/prefixed"),
        answer(404, GO_NOT_FOUND),
        flags=PREFIX,
    ),
)

COMMANDS = (
    Case(
        "working_directory_is_the_commands",
        hook("cwd", command_working_directory=WORK),
        post("cwd"),
        runs(receipt=ran(cwd=WORK)),
    ),
    Case(
        "relative_command_is_found_in_working_directory",
        hook("relative-command", execute_command="record.py", command_working_directory=WORK),
        post("relative-command"),
        runs(receipt=ran(cwd=WORK, command=f"{WORK}/record.py")),
        doc="webhook.go handleHook: LookPath(Join(dir, command)) for a relative command",
    ),
    Case(
        "without_working_directory_the_command_runs_in_webhooks",
        hook("inherited-cwd"),
        post("inherited-cwd"),
        runs(receipt=ran(cwd=ROOT)),
    ),
    Case(
        "missing_command_still_answers",
        hook("missing-command", execute_command=f"{WORK}/no-such-command", response_message="q"),
        post("missing-command"),
        text(200, b"q"),
        doc="the command is looked up in the goroutine, after the answer",
    ),
    Case(
        "failing_command_without_output_still_answers",
        hook("async-failure", response_message="q"),
        post("async-failure"),
        text(200, b"q", receipt=ran()),
        output=Output(stdout="lost\n", exit=3),
    ),
    Case(
        "output_is_the_answer",
        hook("output", include_command_output_in_response=True, response_message="ignored"),
        post("output"),
        text(200, b"out\nerr\n", receipt=ran()),
        output=Output(stdout="out\n", stderr="err\n"),
        doc="stdout and stderr together (CombinedOutput); response-message is not used",
    ),
    Case(
        "output_with_success_code",
        hook(
            "output-201", include_command_output_in_response=True, success_http_response_code=201
        ),
        post("output-201"),
        text(201, b"made\n", receipt=ran()),
        output=Output(stdout="made\n"),
    ),
    Case(
        "output_empty_is_an_empty_200",
        hook("output-empty", include_command_output_in_response=True),
        post("output-empty"),
        answer(200, b"", ("Content-Length", "0"), absent=("Content-Type",), receipt=ran()),
    ),
    Case(
        "output_html_is_sniffed",
        hook("output-html", include_command_output_in_response=True),
        post("output-html"),
        answer(
            200,
            b"<!DOCTYPE html><p>x",
            ("Content-Type", "text/html; charset=utf-8"),
            receipt=ran(),
        ),
        output=Output(stdout="<!DOCTYPE html><p>x"),
    ),
    Case(
        "output_failure_is_500_without_output",
        hook("output-fails", include_command_output_in_response=True),
        post("output-fails"),
        text(500, COMMAND_ERROR, receipt=ran()),
        output=Output(stdout="partial\n", exit=1),
    ),
    Case(
        "output_failure_on_error_is_500_with_output",
        hook(
            "output-fails-shown",
            include_command_output_in_response=True,
            include_command_output_in_response_on_error=True,
        ),
        post("output-fails-shown"),
        text(500, b"partial\nwhy\n", receipt=ran()),
        output=Output(stdout="partial\n", stderr="why\n", exit=1),
    ),
    Case(
        "output_failure_keeps_the_hooks_content_type",
        hook(
            "output-fails-typed",
            include_command_output_in_response=True,
            response_headers=[
                {"name": "Content-Type", "value": "application/json"},
                {"name": "X-Hook", "value": "kept"},
            ],
        ),
        post("output-fails-typed"),
        answer(
            500,
            COMMAND_ERROR,
            ("Content-Type", "application/json"),
            ("X-Hook", "kept"),
            receipt=ran(),
        ),
        output=Output(stdout="{}", exit=1),
        doc=(
            "webhook.go hookHandler means to set text/plain for this message, but sets it after"
            " WriteHeader, when Go no longer reads the header map: the hook's type stays"
        ),
    ),
    Case(
        "output_failure_message_is_sniffed_as_text",
        hook("output-fails-untyped", include_command_output_in_response=True),
        post("output-fails-untyped"),
        text(500, COMMAND_ERROR, receipt=ran()),
        output=Output(exit=2),
    ),
    Case(
        "output_failure_on_error_keeps_the_hooks_content_type",
        hook(
            "output-fails-typed-shown",
            include_command_output_in_response=True,
            include_command_output_in_response_on_error=True,
            response_headers=[{"name": "Content-Type", "value": "application/json"}],
        ),
        post("output-fails-typed-shown"),
        answer(500, b"{}", ("Content-Type", "application/json"), receipt=ran()),
        output=Output(stdout="{}", exit=1),
    ),
    Case(
        "output_missing_command_is_500",
        hook(
            "output-missing",
            execute_command=f"{WORK}/no-such-command",
            include_command_output_in_response=True,
        ),
        post("output-missing"),
        text(500, COMMAND_ERROR),
    ),
    Case(
        "output_missing_command_on_error_is_an_empty_500",
        hook(
            "output-missing-shown",
            execute_command=f"{WORK}/no-such-command",
            include_command_output_in_response=True,
            include_command_output_in_response_on_error=True,
        ),
        post("output-missing-shown"),
        answer(500, b"", ("Content-Length", "0"), absent=("Content-Type",)),
    ),
    Case(
        "on_error_alone_changes_nothing",
        hook(
            "on-error-alone",
            include_command_output_in_response_on_error=True,
            response_message="q",
        ),
        post("on-error-alone"),
        text(200, b"q", receipt=ran()),
        output=Output(stdout="no\n", exit=1),
        doc="Hook-Definition.md: it only works with include-command-output-in-response",
    ),
    Case(
        "argument_with_nul_cannot_start_the_command",
        hook(
            "nul-argument",
            include_command_output_in_response=True,
            include_command_output_in_response_on_error=True,
            pass_arguments_to_command=[arg("payload", "value")],
        ),
        json_post("nul-argument", {"value": "a\u0000b"}),
        answer(500, b""),
        doc="Go's exec refuses a NUL in an argument (fork/exec: invalid argument)",
    ),
)

VALUES = (
    "null",
    "int",
    "float",
    "exp",
    "big",
    "negzero",
    "true",
    "false",
    "str",
    "obj",
    "arr",
    "empty_obj",
    "empty_arr",
)
# Numbers as they are written: json.dumps would spell 1.50 as 1.5.
VALUES_BODY = (
    b'{"null": null, "int": 1, "float": 1.50, "exp": 1e3,'
    b' "big": 123456789012345678901234567890, "negzero": -0, "true": true, "false": false,'
    b' "str": "\xc3\xa9 \xe2\x98\x83", "obj": {"z": "<&>", "a": [1, 2.0]}, "arr": [null, "x"],'
    b' "empty_obj": {}, "empty_arr": []}'
)

ARGUMENTS = (
    Case(
        "arguments_from_each_source",
        hook(
            "sources",
            pass_arguments_to_command=[
                arg("header", "X-Event"),
                arg("url", "q"),
                arg("query", "q"),
                arg("payload", "ref"),
                arg("request", "method"),
                arg("request", "remote-addr"),
                arg("string", "literal value"),
                arg("raw-request-body"),
            ],
        ),
        json_post(
            "sources", b'{"ref": "refs/heads/main"}', headers=(("X-Event", "push"),), query="q=1"
        ),
        runs(
            receipt=ran(
                "push",
                "1",
                "1",
                "refs/heads/main",
                "POST",
                REMOTE_ADDR,
                "literal value",
                '{"ref": "refs/heads/main"}',
            )
        ),
        doc="query is webhook's alias of url (SourceQueryAlias); remote-addr is Go's RemoteAddr",
    ),
    Case(
        "missing_value_is_an_empty_argument",
        hook(
            "missing-argument",
            pass_arguments_to_command=[
                arg("payload", "nope"),
                arg("header", "X-Nope"),
                arg("url", "nope"),
                arg("string", "after"),
            ],
        ),
        json_post("missing-argument", {"ref": "x"}),
        runs(receipt=ran("", "", "", "after")),
        doc="hook.go ExtractCommandArguments appends an empty string for a value it cannot get",
    ),
    Case(
        "header_name_in_any_case",
        hook("header-case-arg", pass_arguments_to_command=[arg("header", "x-event-NAME")]),
        post("header-case-arg", headers=(("X-EVENT-name", "push"),)),
        runs(receipt=ran("push")),
        doc="both names are made canonical (textproto.CanonicalMIMEHeaderKey)",
    ),
    Case(
        "repeated_header_gives_the_first",
        hook(
            "header-twice-arg",
            pass_arguments_to_command=[arg("header", "X-Dup"), arg("entire-headers")],
        ),
        post("header-twice-arg", headers=(("X-Dup", "one"), ("X-Dup", "two"))),
        runs(receipt=ran("one", '{"X-Dup":"one"}')),
        doc="request.go ParseHeaders keeps each header's first value",
    ),
    Case(
        "entire_headers_is_canonical_json_without_host",
        hook("entire-headers", pass_arguments_to_command=[arg("entire-headers")]),
        post(
            "entire-headers",
            headers=(("x-lower", "<v>"), ("User-Agent", "test/1"), ("Content-Type", "text/plain")),
            body=b"abc",
        ),
        runs(
            receipt=ran(
                '{"Content-Length":"3","Content-Type":"text/plain",'
                '"User-Agent":"test/1","X-Lower":"\\u003cv\\u003e"}'
            )
        ),
        doc="Go keeps Host out of Request.Header; Content-Length is in it",
    ),
    Case(
        "request_names_in_any_case",
        hook(
            "request-case",
            pass_arguments_to_command=[arg("request", "METHOD"), arg("request", "Remote-Addr")],
        ),
        Request("request-case", "PATCH"),
        runs(receipt=ran("PATCH", REMOTE_ADDR)),
        doc="hook.go Argument.Get lower-cases a request name",
    ),
    Case(
        "request_name_unsupported_is_an_empty_argument",
        hook("request-path", pass_arguments_to_command=[arg("request", "path")]),
        post("request-path"),
        runs(receipt=ran("")),
        doc="only method and remote-addr exist",
    ),
    Case(
        "query_plus_percent_and_repeats",
        hook(
            "query-forms",
            pass_arguments_to_command=[
                arg("url", "a"),
                arg("url", "b"),
                arg("url", "c"),
                arg("url", "d"),
                arg("entire-query"),
            ],
        ),
        post("query-forms", query="a=x+y&b=%2B%26&c=%zz&d&a=second"),
        runs(receipt=ran("x y", "+&", "", "", '{"a":"x y","b":"+\\u0026","d":""}')),
        doc="Go's url.ParseQuery: + is a space, a bad escape drops its pair, the first one counts",
    ),
    Case(
        "values_are_rendered_as_go_prints_them",
        hook(
            "values",
            pass_arguments_to_command=[arg("payload", name) for name in VALUES],
        ),
        json_post("values", VALUES_BODY),
        runs(
            receipt=ran(
                "<nil>",
                "1",
                "1.50",
                "1e3",
                "123456789012345678901234567890",
                "-0",
                "true",
                "false",
                "é ☃",
                '{"a":[1,2.0],"z":"\\u003c\\u0026\\u003e"}',
                '[null,"x"]',
                "{}",
                "[]",
            )
        ),
        doc=(
            "hook.go ExtractParameterAsString: fmt %v for scalars (JSON numbers as written,"
            " UseNumber), json.Marshal (sorted keys, HTML escapes) for objects and arrays"
        ),
    ),
    Case(
        "entire_payload_is_compact_sorted_json",
        hook("entire-payload", pass_arguments_to_command=[arg("entire-payload")]),
        json_post(
            "entire-payload",
            b'{"z": 1.0, "a": {"y": "\\u2028 \\u0001 \\t \\u001f \\u007f \\"", "b": "\xff"}}',
        ),
        runs(
            receipt=ran('{"a":{"b":"\ufffd","y":"\\u2028 \\u0001 \\t \\u001f \x7f \\""},"z":1.0}')
        ),
        doc="Go's json escapes control characters and U+2028, turns invalid UTF-8 into U+FFFD",
    ),
    Case(
        "entire_payload_without_a_payload_is_null",
        hook(
            "entire-nothing",
            pass_arguments_to_command=[arg("entire-payload"), arg("entire-query")],
        ),
        post("entire-nothing", body=b"not parsed"),
        runs(receipt=ran("null", "{}")),
    ),
    Case(
        "dotted_paths_and_array_indexes",
        hook(
            "dotted",
            pass_arguments_to_command=[
                arg("payload", "commits.0.commit.id"),
                arg("payload", "commits.1.commit.id"),
                arg("payload", "commits.2.commit.id"),
                arg("payload", "commits.x"),
                arg("payload", "a.b"),
                arg("payload", "commits.1"),
            ],
        ),
        json_post(
            "dotted",
            {
                "commits": [{"commit": {"id": 1}}, {"commit": {"id": 2}}],
                "a.b": "literal",
                "a": {"b": "nested"},
            },
        ),
        runs(receipt=ran("1", "2", "", "", "literal", '{"commit":{"id":2}}')),
        doc="Referencing-Request-Values.md: a key with the dotted name wins over the path",
    ),
    Case(
        "array_payload_is_under_root",
        hook(
            "array-root",
            pass_arguments_to_command=[arg("payload", "root.0.id"), arg("entire-payload")],
        ),
        json_post("array-root", [{"id": "first"}]),
        runs(receipt=ran("first", '{"root":[{"id":"first"}]}')),
        doc="request.go ParseJSONPayload: a top-level array is put under root (not in the docs)",
    ),
    Case(
        "invalid_json_leaves_no_payload",
        hook(
            "invalid-json",
            pass_arguments_to_command=[arg("payload", "a"), arg("entire-payload")],
        ),
        json_post("invalid-json", b'{"a": '),
        runs(receipt=ran("", "null")),
    ),
    Case(
        "json_after_the_first_value_is_ignored",
        hook("json-trailing", pass_arguments_to_command=[arg("payload", "a")]),
        json_post("json-trailing", b'{"a": 1} {"a": 2} junk'),
        runs(receipt=ran("1")),
        doc="request.go decodes one value (json.Decoder.Decode) and ignores the rest",
    ),
    Case(
        "json_repeated_key_keeps_the_last_and_keys_are_case_sensitive",
        hook(
            "json-keys",
            pass_arguments_to_command=[arg("payload", "a"), arg("payload", "A")],
        ),
        json_post("json-keys", b'{"a": 1, "a": 2}'),
        runs(receipt=ran("2", "")),
    ),
    Case(
        "json_scalar_leaves_no_payload",
        hook("json-scalar", pass_arguments_to_command=[arg("entire-payload")]),
        json_post("json-scalar", b'"just a string"'),
        runs(receipt=ran("null")),
        doc="only an object (or an array, under root) is a payload",
    ),
    Case(
        "json_with_a_byte_order_mark_leaves_no_payload",
        hook("json-bom", pass_arguments_to_command=[arg("entire-payload")]),
        json_post("json-bom", b'\xef\xbb\xbf{"a": 1}'),
        runs(receipt=ran("null")),
    ),
    Case(
        "json_content_type_is_any_containing_json",
        hook("vendor-json", pass_arguments_to_command=[arg("payload", "a")]),
        post(
            "vendor-json",
            headers=(("Content-Type", "application/vnd.api+json; charset=utf-8"),),
            body=b'{"a": "parsed"}',
        ),
        runs(receipt=ran("parsed")),
        doc='webhook.go hookHandler: strings.Contains(contentType, "json")',
    ),
    Case(
        "unknown_content_type_leaves_no_payload",
        hook(
            "text-body",
            pass_arguments_to_command=[arg("payload", "a"), arg("raw-request-body")],
        ),
        post("text-body", headers=(("Content-Type", "text/plain"),), body=b'{"a": 1}'),
        runs(receipt=ran("", '{"a": 1}')),
    ),
    Case(
        "incoming_payload_content_type_overrides_the_header",
        hook(
            "incoming-type",
            incoming_payload_content_type="application/json",
            pass_arguments_to_command=[arg("payload", "a")],
        ),
        post("incoming-type", headers=(("Content-Type", "text/plain"),), body=b'{"a": "json"}'),
        runs(receipt=ran("json")),
    ),
    Case(
        "incoming_payload_content_type_without_a_header",
        hook(
            "incoming-form",
            incoming_payload_content_type="application/x-www-form-urlencoded",
            pass_arguments_to_command=[arg("payload", "a")],
        ),
        post("incoming-form", body=b"a=form"),
        runs(receipt=ran("form")),
    ),
    Case(
        "large_body_is_read_whole",
        hook("large-body", pass_arguments_to_command=[arg("payload", "last")]),
        json_post(
            "large-body", b'{"pad": "' + b"x" * (6 * 1024 * 1024) + b'", "last": "reached"}'
        ),
        runs(receipt=ran("reached")),
        doc="webhook reads the whole body (ioutil.ReadAll), no limit",
    ),
)

ENVIRONMENT = (
    Case(
        "environment_name_is_hook_and_the_name_as_written",
        hook(
            "env-default",
            pass_environment_to_command=[
                arg("payload", "repo.name"),
                arg("header", "X-Event"),
                arg("url", "q"),
            ],
        ),
        json_post(
            "env-default", {"repo": {"name": "site"}}, headers=(("X-Event", "push"),), query="q=v"
        ),
        runs(receipt=ran(env={"HOOK_repo.name": "site", "HOOK_X-Event": "push", "HOOK_q": "v"})),
        doc="hook.go ExtractCommandArgumentsForEnv: EnvNamespace + Name, case and dots kept",
    ),
    Case(
        "environment_envname",
        hook(
            "env-envname",
            pass_environment_to_command=[
                arg("url", "q", envname="QUERY"),
                arg("string", "fixed", envname="HOOK_FIXED"),
            ],
        ),
        post("env-envname", query="q=x"),
        runs(receipt=ran(env={"QUERY": "x", "HOOK_FIXED": "fixed"})),
        record_env=("QUERY",),
    ),
    Case(
        "environment_missing_value_is_not_set",
        hook(
            "env-missing",
            pass_environment_to_command=[
                arg("payload", "nope"),
                arg("payload", "present"),
            ],
        ),
        json_post("env-missing", {"present": 1}),
        runs(receipt=ran(env={"HOOK_present": "1"})),
        doc="unlike an argument, a variable without a value is left out",
    ),
    Case(
        "environment_values_rendered_like_arguments",
        hook(
            "env-values",
            pass_environment_to_command=[
                arg("payload", "null"),
                arg("payload", "obj"),
                arg("entire-payload", envname="HOOK_ALL"),
            ],
        ),
        json_post("env-values", {"null": None, "obj": {"b": 1, "a": "<"}}),
        runs(
            receipt=ran(
                env={
                    "HOOK_null": "<nil>",
                    "HOOK_obj": '{"a":"\\u003c","b":1}',
                    "HOOK_ALL": '{"null":null,"obj":{"a":"\\u003c","b":1}}',
                }
            )
        ),
    ),
)


def passed(content: bytes, variable: str, directory: str = TMP) -> PassedFile:
    return PassedFile(dir=directory, name=f"{variable}*", content=content)


FILES = (
    Case(
        "file_default_name_is_hook_and_the_name_upper_cased",
        hook("file-default", pass_file_to_command=[arg("payload", "data")]),
        json_post("file-default", {"data": "hello"}),
        runs(
            receipt=ran(
                env={"HOOK_DATA": f"{TMP}/HOOK_DATA*"},
                files={"HOOK_DATA": passed(b"hello", "HOOK_DATA")},
            )
        ),
        doc=(
            "hook.go ExtractCommandArgumentsForFile: EnvNamespace + ToUpper(Name); the file is"
            " ioutil.TempFile(os.TempDir, envname), mode 0600, removed after the run"
        ),
    ),
    Case(
        "file_envname_and_base64decode",
        hook(
            "file-base64",
            pass_file_to_command=[
                arg("payload", "blob", envname="BLOB_FILE", base64decode=True),
            ],
        ),
        json_post("file-base64", {"blob": base64.b64encode(b"\x00\xffbinary\n").decode()}),
        runs(
            receipt=ran(
                env={"BLOB_FILE": f"{TMP}/BLOB_FILE*"},
                files={"BLOB_FILE": passed(b"\x00\xffbinary\n", "BLOB_FILE")},
            )
        ),
        record_env=("BLOB_FILE",),
    ),
    Case(
        "file_bad_base64_keeps_what_decoded",
        hook(
            "file-bad-base64",
            pass_file_to_command=[arg("payload", "blob", base64decode=True)],
        ),
        json_post("file-bad-base64", {"blob": "aGk=!!!!"}),
        runs(
            receipt=ran(
                env={"HOOK_BLOB": f"{TMP}/HOOK_BLOB*"},
                files={"HOOK_BLOB": passed(b"hi", "HOOK_BLOB")},
            )
        ),
        doc="Go's base64 DecodeString returns the bytes before the error; webhook writes them",
    ),
    Case(
        "file_in_the_working_directory",
        hook(
            "file-workdir",
            command_working_directory=WORK,
            pass_file_to_command=[arg("header", "X-Data")],
        ),
        post("file-workdir", headers=(("X-Data", "from a header"),)),
        runs(
            receipt=ran(
                env={"HOOK_X-DATA": f"{WORK}/HOOK_X-DATA*"},
                files={"HOOK_X-DATA": passed(b"from a header", "HOOK_X-DATA", WORK)},
                cwd=WORK,
            )
        ),
    ),
    Case(
        "file_of_the_entire_payload",
        hook(
            "file-entire",
            pass_file_to_command=[arg("entire-payload", envname="HOOK_PAYLOAD")],
        ),
        json_post("file-entire", b'{"b": [1.0], "a": "<"}'),
        runs(
            receipt=ran(
                env={"HOOK_PAYLOAD": f"{TMP}/HOOK_PAYLOAD*"},
                files={"HOOK_PAYLOAD": passed(b'{"a":"\\u003c","b":[1.0]}', "HOOK_PAYLOAD")},
            )
        ),
    ),
    Case(
        "file_missing_value_is_not_made",
        hook(
            "file-missing",
            pass_file_to_command=[arg("payload", "nope"), arg("payload", "data")],
        ),
        json_post("file-missing", {"data": ""}),
        runs(
            receipt=ran(
                env={"HOOK_DATA": f"{TMP}/HOOK_DATA*"},
                files={"HOOK_DATA": passed(b"", "HOOK_DATA")},
            )
        ),
        doc="an empty value still makes an (empty) file",
    ),
)

RULES = (
    Case(
        "and_holds_when_all_hold",
        hook(
            "and-true",
            trigger_rule={
                "and": [value_is("main", "payload", "branch"), value_is("push", "header", "X-E")]
            },
        ),
        json_post("and-true", {"branch": "main"}, headers=(("X-E", "push"),)),
        runs(),
    ),
    Case(
        "and_fails_when_one_fails",
        hook(
            "and-false",
            trigger_rule={"and": [value_is("main", "payload", "branch"), FALSE]},
        ),
        json_post("and-false", {"branch": "main"}),
        mismatch(),
    ),
    Case(
        "or_holds_when_one_holds",
        hook("or-true", trigger_rule={"or": [FALSE, value_is("dev", "payload", "branch")]}),
        json_post("or-true", {"branch": "dev"}),
        runs(),
    ),
    Case(
        "or_fails_when_none_holds",
        hook("or-false", trigger_rule={"or": [FALSE, value_is("dev", "payload", "branch")]}),
        json_post("or-false", {"branch": "main"}),
        mismatch(),
    ),
    Case(
        "not_inverts",
        hook("not-true", trigger_rule={"not": value_is("dev", "payload", "branch")}),
        json_post("not-true", {"branch": "main"}),
        runs(),
    ),
    Case(
        "not_of_a_holding_rule_fails",
        hook("not-false", trigger_rule={"not": value_is("dev", "payload", "branch")}),
        json_post("not-false", {"branch": "dev"}),
        mismatch(),
    ),
    Case(
        "not_of_a_missing_value_holds",
        hook("not-missing", trigger_rule={"not": value_is("dev", "payload", "nope")}),
        json_post("not-missing", {"branch": "dev"}),
        runs(),
        doc="the missing value makes the match false and NotRule passes the node error on: true",
    ),
    Case(
        "empty_and_holds",
        hook("and-empty", trigger_rule={"and": []}),
        post("and-empty"),
        runs(),
        doc="hook.go AndRule.Evaluate starts at true",
    ),
    Case(
        "empty_or_fails",
        hook("or-empty", trigger_rule={"or": []}),
        post("or-empty"),
        mismatch(),
    ),
    Case(
        "empty_rule_object_fails",
        hook("rule-empty", trigger_rule={}),
        post("rule-empty"),
        mismatch(),
        doc="hook.go Rules.Evaluate: no and/or/not/match is false",
    ),
    Case(
        "multi_level_rule_from_the_docs",
        hook(
            "multi-level",
            trigger_rule={
                "and": [
                    match("payload-hmac-sha1", arg("header", "X-Hub-Signature"), secret=SECRET),
                    {
                        "or": [
                            value_is("refs/heads/master", "payload", "ref"),
                            value_is("ping", "header", "X-GitHub-Event"),
                        ]
                    },
                ]
            },
        ),
        post(
            "multi-level",
            headers=(
                *JSON,
                ("X-Hub-Signature", "sha1=" + signature("sha1")),
                ("X-GitHub-Event", "ping"),
            ),
            body=SIGNED_BODY,
        ),
        runs(),
        doc="Hook-Rules.md, Multi-level",
    ),
    Case(
        "match_value_is_exact",
        hook("value-exact", trigger_rule=value_is("refs/heads/main", "payload", "ref")),
        json_post("value-exact", {"ref": "refs/heads/main-2"}),
        mismatch(),
    ),
    Case(
        "match_value_of_a_number_as_written",
        hook("value-number", trigger_rule=value_is("1.0", "payload", "n")),
        json_post("value-number", b'{"n": 1.0}'),
        runs(),
        doc="Hook-Rules.md: numbers and booleans are matched as strings",
    ),
    Case(
        "match_value_of_a_number_is_not_numeric",
        hook("value-number-other", trigger_rule=value_is("1", "payload", "n")),
        json_post("value-number-other", b'{"n": 1.0}'),
        mismatch(),
    ),
    Case(
        "match_value_of_a_boolean",
        hook("value-bool", trigger_rule=value_is("true", "payload", "flag")),
        json_post("value-bool", {"flag": True}),
        runs(),
    ),
    Case(
        "match_missing_value_is_a_mismatch",
        hook("value-missing", trigger_rule=value_is("x", "payload", "nope")),
        json_post("value-missing", {"ref": "x"}),
        mismatch(),
        doc="a ParameterNodeError is logged and counts as false, not an error",
    ),
    Case(
        "match_missing_value_in_or_goes_on",
        hook(
            "or-missing",
            trigger_rule={"or": [value_is("x", "payload", "nope"), TRUE]},
        ),
        post("or-missing"),
        runs(),
    ),
    Case(
        "match_unsupported_request_name_is_an_error",
        hook("request-rule", trigger_rule=value_is("x", "request", "path")),
        post("request-rule"),
        rule_error(),
        doc="Argument.Get's error for an unknown request name is not a ParameterNodeError",
    ),
    Case(
        "regex_matches_anywhere",
        hook("regex-partial", trigger_rule=match("regex", arg("payload", "ref"), regex="main")),
        json_post("regex-partial", {"ref": "refs/heads/main-2"}),
        runs(),
        doc="Go's regexp.MatchString is unanchored",
    ),
    Case(
        "regex_anchored",
        hook(
            "regex-anchored",
            trigger_rule=match("regex", arg("payload", "ref"), regex="^refs/heads/main$"),
        ),
        json_post("regex-anchored", {"ref": "refs/heads/main-2"}),
        mismatch(),
    ),
    Case(
        "regex_go_syntax",
        hook(
            "regex-go",
            trigger_rule=match(
                "regex", arg("payload", "ref"), regex=r"^refs/tags/v\d+\.\d+(?i:-RC)?$"
            ),
        ),
        json_post("regex-go", {"ref": "refs/tags/v1.2-rc"}),
        runs(),
    ),
    Case(
        "regex_invalid_is_an_error",
        hook("regex-invalid", trigger_rule=match("regex", arg("payload", "ref"), regex="(")),
        json_post("regex-invalid", {"ref": "x"}),
        rule_error(),
    ),
    Case(
        "parse_parameters_as_json_from_the_payload",
        hook(
            "json-parameter",
            parse_parameters_as_json=[arg("payload", "data")],
            trigger_rule=value_is("prod", "payload", "data.env"),
            pass_arguments_to_command=[arg("payload", "data.n"), arg("payload", "data")],
        ),
        json_post("json-parameter", {"data": '{"env": "prod", "n": 1.0}'}),
        runs(receipt=ran("1.0", '{"env":"prod","n":1.0}')),
    ),
    Case(
        "parse_parameters_as_json_from_a_header",
        hook(
            "json-header",
            parse_parameters_as_json=[arg("header", "x-meta")],
            trigger_rule=value_is("prod", "header", "X-Meta.env"),
        ),
        post("json-header", headers=(("X-Meta", '{"env": "prod"}'),)),
        runs(),
    ),
    Case(
        "parse_parameters_as_json_from_the_query",
        hook(
            "json-query",
            parse_parameters_as_json=[arg("url", "m")],
            pass_arguments_to_command=[arg("url", "m.a.b")],
        ),
        post("json-query", query="m=%7B%22a%22%3A%7B%22b%22%3A%22deep%22%7D%7D"),
        runs(receipt=ran("deep")),
    ),
    Case(
        "parse_parameters_as_json_not_an_object_stays_a_string",
        hook(
            "json-not-object",
            parse_parameters_as_json=[arg("payload", "data")],
            pass_arguments_to_command=[arg("payload", "data")],
        ),
        json_post("json-not-object", {"data": "[1, 2]"}),
        runs(receipt=ran("[1, 2]")),
        doc="hook.go ParseJSONParameters decodes into a map: an array fails and is logged",
    ),
)


def signed(
    name: str,
    rule_type: str,
    header_value: str,
    expect: Expect,
    doc: str = "",
    secret: str = SECRET,
    **properties: Any,
) -> Case:
    """A hook with one signature rule on X-Signature, sent SIGNED_BODY."""
    return Case(
        name,
        hook(
            name.replace("_", "-"),
            trigger_rule=match(rule_type, arg("header", "X-Signature"), secret=secret),
            **properties,
        ),
        post(
            name.replace("_", "-"),
            headers=(*JSON, ("X-Signature", header_value)),
            body=SIGNED_BODY,
        ),
        expect,
        doc=doc,
    )


SHA256 = signature("sha256")

SIGNATURES = (
    signed("sha1_with_prefix", "payload-hmac-sha1", "sha1=" + signature("sha1"), runs()),
    signed("sha1_without_prefix", "payload-hmac-sha1", signature("sha1"), runs()),
    signed("sha256_with_prefix", "payload-hmac-sha256", "sha256=" + SHA256, runs()),
    signed("sha256_without_prefix", "payload-hmac-sha256", SHA256, runs()),
    signed("sha512_with_prefix", "payload-hmac-sha512", "sha512=" + signature("sha512"), runs()),
    signed(
        "deprecated_hash_name",
        "payload-hash-sha256",
        "sha256=" + SHA256,
        runs(),
        doc="payload-hash-* are webhook's old names for payload-hmac-* (MatchHash*)",
    ),
    signed(
        "signature_list_any_matches",
        "payload-hmac-sha256",
        f"sha256={'0' * 64},sha256={SHA256}",
        runs(),
        doc="Hook-Rules.md: a comma-separated list, each tried",
    ),
    signed(
        "signature_list_keeps_only_the_prefixed",
        "payload-hmac-sha256",
        f"{SHA256},sha256={'0' * 64}",
        rule_error(),
        doc="hook.go ExtractCommaSeparatedValues drops list items without the prefix",
    ),
    signed(
        "signature_list_skips_other_algorithms",
        "payload-hmac-sha256",
        f"sha1={signature('sha1')},sha256={SHA256}",
        runs(),
    ),
    signed(
        "signature_list_spaces_are_not_trimmed",
        "payload-hmac-sha256",
        f"sha256={'0' * 64}, sha256={SHA256}",
        rule_error(),
    ),
    signed(
        "signature_other_prefix_alone_is_wrong",
        "payload-hmac-sha256",
        "sha1=" + SHA256,
        rule_error(),
        doc="without a comma only the rule's own prefix is trimmed",
    ),
    signed(
        "signature_upper_case_hex_is_wrong",
        "payload-hmac-sha256",
        "sha256=" + SHA256.upper(),
        rule_error(),
        doc="hook.go ValidateMAC compares the hex strings as they are",
    ),
    signed(
        "signature_wrong_is_an_error",
        "payload-hmac-sha1",
        "sha1=" + signature("sha1", secret="other"),
        rule_error(),
    ),
    signed(
        "signature_wrong_with_mismatch_code_is_still_500",
        "payload-hmac-sha256",
        "sha256=" + signature("sha256", secret="other"),
        rule_error(),
        trigger_rule_mismatch_http_response_code=403,
    ),
    signed(
        "signature_with_empty_secret_is_an_error",
        "payload-hmac-sha256",
        "sha256=" + SHA256,
        rule_error(),
        secret="",
    ),
    signed(
        "signature_empty_header_is_an_error",
        "payload-hmac-sha256",
        "",
        rule_error(),
        doc="present but empty is a wrong signature, not a missing one",
    ),
    Case(
        "signature_missing_is_a_mismatch",
        hook(
            "signature-missing",
            trigger_rule=match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET),
        ),
        json_post("signature-missing", SIGNED_BODY),
        mismatch(),
        doc="no header: a ParameterNodeError, so false",
    ),
    Case(
        "signature_over_a_form_body",
        hook(
            "signature-form",
            trigger_rule=match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET),
            pass_arguments_to_command=[arg("payload", "a")],
        ),
        post(
            "signature-form",
            headers=(*FORM, ("X-Signature", signature("sha256", b"a=1&b=2"))),
            body=b"a=1&b=2",
        ),
        runs(receipt=ran("1")),
    ),
    Case(
        "soft_failure_lets_or_go_on",
        hook(
            "soft-or",
            trigger_signature_soft_failures=True,
            trigger_rule={
                "or": [
                    match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET),
                    value_is("ci", "header", "X-Token"),
                ]
            },
        ),
        json_post(
            "soft-or", SIGNED_BODY, headers=(("X-Signature", "sha256=00"), ("X-Token", "ci"))
        ),
        runs(),
    ),
    Case(
        "without_soft_failures_or_stops_at_the_error",
        hook(
            "hard-or",
            trigger_rule={
                "or": [
                    match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET),
                    value_is("ci", "header", "X-Token"),
                ]
            },
        ),
        json_post(
            "hard-or", SIGNED_BODY, headers=(("X-Signature", "sha256=00"), ("X-Token", "ci"))
        ),
        rule_error(),
    ),
    Case(
        "soft_failure_alone_in_or_is_a_mismatch",
        hook(
            "soft-or-alone",
            trigger_signature_soft_failures=True,
            trigger_rule_mismatch_http_response_code=403,
            trigger_rule={
                "or": [match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET)]
            },
        ),
        json_post("soft-or-alone", SIGNED_BODY, headers=(("X-Signature", "sha256=00"),)),
        mismatch(403),
    ),
    Case(
        "soft_failure_outside_or_is_still_an_error",
        hook(
            "soft-and",
            trigger_signature_soft_failures=True,
            trigger_rule={
                "and": [match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET)]
            },
        ),
        json_post("soft-and", SIGNED_BODY, headers=(("X-Signature", "sha256=00"),)),
        rule_error(),
        doc="Hook-Definition.md says within Or rules; only OrRule.Evaluate looks at it",
    ),
    Case(
        "soft_failure_at_the_top_is_still_an_error",
        hook(
            "soft-top",
            trigger_signature_soft_failures=True,
            trigger_rule=match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET),
        ),
        json_post("soft-top", SIGNED_BODY, headers=(("X-Signature", "sha256=00"),)),
        rule_error(),
    ),
    Case(
        "not_passes_a_signature_error_on",
        hook(
            "not-signature",
            trigger_rule={
                "not": match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET)
            },
        ),
        json_post("not-signature", SIGNED_BODY, headers=(("X-Signature", "sha256=00"),)),
        rule_error(),
    ),
)

IP_AND_SCALR = (
    Case(
        "ip_whitelist_range",
        hook("ip-range", trigger_rule=match("ip-whitelist", ip_range="127.0.0.0/8")),
        post("ip-range"),
        runs(),
    ),
    Case(
        "ip_whitelist_single_address",
        hook("ip-single", trigger_rule=match("ip-whitelist", ip_range="127.0.0.1")),
        post("ip-single"),
        runs(),
        doc="hook.go CheckIPWhitelist adds /32 to an address without a mask",
    ),
    Case(
        "ip_whitelist_list",
        hook(
            "ip-list",
            trigger_rule=match("ip-whitelist", ip_range="10.0.0.0/8  192.168.0.0/16 127.0.0.1/32"),
        ),
        post("ip-list"),
        runs(),
        doc="several ranges separated by white space (strings.Fields); not in the docs",
    ),
    Case(
        "ip_whitelist_outside",
        hook("ip-outside", trigger_rule=match("ip-whitelist", ip_range="10.0.0.0/8")),
        post("ip-outside"),
        mismatch(),
    ),
    Case(
        "ip_whitelist_ipv6_range_for_ipv4_client",
        hook("ip-v6", trigger_rule=match("ip-whitelist", ip_range="::1/128")),
        post("ip-v6"),
        mismatch(),
    ),
    Case(
        "ip_whitelist_invalid_range_is_an_error",
        hook("ip-invalid", trigger_rule=match("ip-whitelist", ip_range="not-a-range")),
        post("ip-invalid"),
        rule_error(),
    ),
    Case(
        "scalr_signature",
        hook("scalr", trigger_rule=match("scalr-signature", secret=SECRET)),
        post("scalr", body=b'{"event": "x"}', scalr_secret=SECRET),
        runs(),
    ),
    Case(
        "scalr_signature_wrong_is_an_error",
        hook("scalr-wrong", trigger_rule=match("scalr-signature", secret=SECRET)),
        post("scalr-wrong", body=b'{"event": "x"}', scalr_secret="other"),
        rule_error(),
    ),
    Case(
        "scalr_signature_missing_is_a_mismatch",
        hook("scalr-missing", trigger_rule=match("scalr-signature", secret=SECRET)),
        post("scalr-missing", body=b'{"event": "x"}'),
        mismatch(),
    ),
    Case(
        "scalr_signature_outdated_is_an_error",
        hook("scalr-old", trigger_rule=match("scalr-signature", secret=SECRET)),
        post("scalr-old", body=b'{"event": "x"}', scalr_secret=SECRET, scalr_age=600),
        rule_error(),
        doc="Hook-Rules.md: signed less than 5 minutes before it was received",
    ),
)

XML_BODY = (
    b'<app>\n  <users>\n    <user id="1" name="Jeff" />\n    <user id="2" name="Sally" />\n'
    b"  </users>\n  <messages>\n"
    b'    <message id="1" from_user="1" to_user="2">Hello!!</message>\n  </messages>\n</app>'
)

MULTIPART_TYPE, MULTIPART_BODY = multipart(
    ("a", b"1", "", ""),
    ("a", b"2", "", ""),
    ("j", b'{"k": 1.0, "z": null}', "j.json", "application/json"),
    ("forced", b'{"f": 2}', "f.txt", "text/plain"),
    ("other", b"plain text", "o.txt", "text/plain"),
    ("jv", b'{"x": 1}', "", "application/json"),
)

BODIES = (
    Case(
        "form_body",
        hook(
            "form",
            pass_arguments_to_command=[
                arg("payload", "a"),
                arg("payload", "b"),
                arg("payload", "c"),
                arg("entire-payload"),
            ],
        ),
        post("form", headers=FORM, body=b"a=1&b=x+y&a=2&c=%26"),
        runs(receipt=ran("1", "x y", "&", '{"a":"1","b":"x y","c":"\\u0026"}')),
    ),
    Case(
        "form_body_with_charset",
        hook("form-charset", pass_arguments_to_command=[arg("payload", "a")]),
        post(
            "form-charset",
            headers=(("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"),),
            body=b"a=%C3%A9",
        ),
        runs(receipt=ran("é")),
    ),
    Case(
        "xml_body_as_the_docs_show",
        hook(
            "xml-docs",
            pass_arguments_to_command=[
                arg("payload", "app.users.user.0.-name"),
                arg("payload", "app.messages.message.-id"),
                arg("payload", "app.messages.message.#text"),
                arg("payload", "app.users.user.0.name"),
                arg("payload", "app.messages.message.id"),
            ],
        ),
        post("xml-docs", headers=XML, body=XML_BODY),
        runs(receipt=ran("Jeff", "1", "Hello!!", "", "")),
        doc=(
            "Referencing-Request-Values.md says app.users.user.0.name yields Jeff and"
            " app.messages.message.id 1; webhook needs the attribute's - prefix it describes"
            " just before (-name, -id): the unprefixed names find nothing"
        ),
    ),
    Case(
        "xml_body_as_json",
        hook("xml-json", pass_arguments_to_command=[arg("entire-payload")]),
        post(
            "xml-json",
            headers=(("Content-Type", "text/xml"),),
            body=b'<?xml version="1.0"?><app><n>1.50</n><e/><t a="x">  sp  </t>'
            b"<m>a</m><m>b</m></app><second/>",
        ),
        runs(receipt=ran('{"app":{"e":"","m":["a","b"],"n":"1.50","t":{"#text":"sp","-a":"x"}}}')),
        doc="mxj: values are strings, text is trimmed, repeats are lists, one root element only",
    ),
    Case(
        "xml_invalid_leaves_no_payload",
        hook("xml-invalid", pass_arguments_to_command=[arg("entire-payload")]),
        post("xml-invalid", headers=XML, body=b"<app>"),
        runs(receipt=ran("null")),
    ),
    Case(
        "multipart_values_and_json_files",
        hook(
            "multipart",
            parse_parameters_as_json=[arg("payload", "forced")],
            pass_arguments_to_command=[
                arg("payload", "a"),
                arg("payload", "j.k"),
                arg("payload", "forced.f"),
                arg("payload", "other"),
                arg("payload", "jv"),
                arg("raw-request-body"),
                arg("entire-payload"),
            ],
        ),
        post("multipart", headers=(MULTIPART_TYPE,), body=MULTIPART_BODY),
        runs(
            receipt=ran(
                "1",
                "1.0",
                "2",
                "",
                '{"x": 1}',
                "",
                '{"a":"1","forced":{"f":2},"j":{"k":1.0,"z":null},"jv":"{\\"x\\": 1}"}',
            )
        ),
        doc=(
            "webhook.go hookHandler: each value's first part; a file part only if its"
            " Content-Type is application/json or parse-parameters-as-json names it, parsed as"
            " JSON; other files are dropped; the body is not kept (raw-request-body is empty)"
        ),
    ),
    Case(
        "multipart_signature_is_checked_against_an_empty_body",
        hook(
            "multipart-signed",
            trigger_rule=match("payload-hmac-sha256", arg("header", "X-Signature"), secret=SECRET),
        ),
        post(
            "multipart-signed",
            headers=(MULTIPART_TYPE, ("X-Signature", "sha256=" + signature("sha256", b""))),
            body=MULTIPART_BODY,
        ),
        runs(),
        doc=(
            "webhook.go hookHandler does not read a multipart body into Request.Body, so HMAC"
            " rules see b'': a signature of the empty string passes. hookdaemon must not copy this"
        ),
    ),
    Case(
        "multipart_garbage_is_500",
        hook("multipart-garbage"),
        post("multipart-garbage", headers=(MULTIPART_TYPE,), body=b"garbage"),
        text(500, b"Error occurred while parsing multipart form."),
    ),
    Case(
        "multipart_type_is_case_sensitive",
        hook("multipart-case", pass_arguments_to_command=[arg("payload", "a")]),
        post(
            "multipart-case",
            headers=(("Content-Type", f"Multipart/Form-Data; boundary={BOUNDARY}"),),
            body=MULTIPART_BODY,
        ),
        runs(receipt=ran("")),
        doc='webhook.go: HasPrefix(contentType, "multipart/form-data;"), exact case',
    ),
)

CASES: tuple[Case, ...] = (
    *ROUTING,
    *RESPONSES,
    *METHODS,
    *GLOBAL_FLAGS,
    *URL_PREFIX,
    *COMMANDS,
    *ARGUMENTS,
    *ENVIRONMENT,
    *FILES,
    *RULES,
    *SIGNATURES,
    *IP_AND_SCALR,
    *BODIES,
)
"""Every case, each name once."""

DIFFERS = frozenset({"multipart_signature_is_checked_against_an_empty_body"})
"""Cases where hookdaemon means to answer otherwise than webhook (the issue says why)."""
