"""
Tests for L{hookdaemon.hooksfile.request}: a request read as webhook 2.8.0
reads it, and what each argument source gives; checked case by case against
the real /usr/bin/webhook where it is installed (L{LiveWebhook}).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.hooksfile import model
from hookdaemon.hooksfile.go_values import NIL_MAP, JSONNumber, go_json
from hookdaemon.hooksfile.request import (
    HandlerPanicError,
    MultipartError,
    argument_value,
    canonical_header_key,
    environment_name,
    file_content,
    file_environment_name,
    get_parameter,
    go_base64_decode,
    go_remote_addr,
    parse_form,
    parse_json_payload,
    parse_media_type,
    parse_query,
    parse_xml,
    read_request,
)

WEBHOOK = shutil.which("webhook")

RECORDER = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    files = {{}}
    for name, path in os.environ.items():
        if name.startswith("HOOK_FILE"):
            with open(path, "rb") as f:
                files[name] = f.read().hex()
    print(json.dumps({{
        "argv": sys.argv[1:],
        "env": {{k: v for k, v in os.environ.items() if k.startswith(("HOOK_", "MY_")) and not
                 k.startswith("HOOK_FILE")}},
        "files": files,
    }}))
    """
)


def request(
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    query: str = "",
    method: str = "POST",
    remote_addr: str = "192.0.2.7:4711",
    **kwargs: Any,
) -> model.WebhookRequest:
    """A request read from these values, as a test writes them."""
    return read_request(
        method=method,
        remote_addr=remote_addr,
        header_lines=[("Host", "example.org"), *headers],
        query_string=query,
        body=body,
        **kwargs,
    )


def arg(source: str, name: str = "", **kwargs: Any) -> model.Argument:
    return model.Argument(source=source, name=name, **kwargs)


class LiveWebhook:
    """
    /usr/bin/webhook serving a hooks file on a free loopback port, for
    comparing answers; every hook's command is a recorder that prints its
    argv, HOOK_ environment and HOOK_FILE* files as JSON.
    """

    def __init__(self, hooks: list[dict[str, Any]]) -> None:
        if WEBHOOK is None:
            raise SkipTest("webhook is not installed (Debian package webhook, 2.8.0)")
        self.directory = tempfile.mkdtemp(prefix="hooksfile-live-")
        self.recorder = os.path.join(self.directory, "recorder.py")
        with open(self.recorder, "w") as f:
            f.write(RECORDER.format(python=sys.executable))
        os.chmod(self.recorder, 0o755)
        for hook in hooks:
            hook.setdefault("execute-command", self.recorder)
        hooks_file = os.path.join(self.directory, "hooks.json")
        with open(hooks_file, "w") as f:
            json.dump(hooks, f)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [
                WEBHOOK,
                "-hooks",
                hooks_file,
                "-ip",
                "127.0.0.1",
                "-port",
                str(self.port),
                "-verbose",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.log: list[str] = []
        listening = threading.Event()

        def drain() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.log.append(line.decode("utf-8", "replace"))
                if b"serving hooks on" in line:
                    listening.set()
            listening.set()

        threading.Thread(target=drain, daemon=True).start()
        if not listening.wait(30) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("webhook did not start:\n" + "".join(self.log))

    def send(
        self,
        path: str,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        method: str = "POST",
    ) -> tuple[int, bytes, str]:
        """Send exactly these headers (Host first); the status, body and our RemoteAddr."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.connect()
        assert connection.sock is not None
        host, port = connection.sock.getsockname()[:2]
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.header_lines(headers, body):
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        answer = response.read()
        connection.close()
        return response.status, answer, go_remote_addr(host, port)

    def header_lines(
        self, headers: Sequence[tuple[str, str]], body: bytes
    ) -> list[tuple[str, str]]:
        return [
            ("Host", f"127.0.0.1:{self.port}"),
            *headers,
            ("Content-Length", str(len(body))),
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def expected_argv(arguments: Iterable[model.Argument], req: model.WebhookRequest) -> list[str]:
    """hook.go ExtractCommandArguments: an argument that cannot be read is ''."""
    argv = []
    for argument in arguments:
        try:
            argv.append(argument_value(argument, req))
        except (model.ParameterNodeError, model.ArgumentError):
            argv.append("")
    return argv


class HeaderTests(SynchronousTestCase):
    def test_canonicalHeaderKeyCapitalisesEachWord(self) -> None:
        self.assertEqual(canonical_header_key("x-hub-SIGNATURE"), "X-Hub-Signature")
        self.assertEqual(canonical_header_key("x_under"), "X_under")

    def test_canonicalHeaderKeyLeavesNamesWithSpaces(self) -> None:
        self.assertEqual(canonical_header_key("x hub"), "x hub")

    def test_firstValueOfEachHeaderUnderItsCanonicalName(self) -> None:
        req = request(headers=[("x-dup", "1"), ("X-DUP", "2")])
        self.assertEqual(req.headers["X-Dup"], "1")

    def test_hostIsNotAHeader(self) -> None:
        req = request()
        self.assertNotIn("Host", req.headers)
        self.assertRaises(model.ParameterNodeError, argument_value, arg("header", "host"), req)

    def test_pragmaNoCacheAddsCacheControl(self) -> None:
        req = request(headers=[("Pragma", "no-cache")])
        self.assertEqual(req.headers["Cache-Control"], "no-cache")

    def test_bytesThatAreNotUTF8AreKept(self) -> None:
        req = request(headers=[(b"X-Latin", b"caf\xe9")])  # type: ignore[list-item]
        value = argument_value(arg("header", "x-latin"), req)
        self.assertEqual(value.encode("utf-8", "surrogateescape"), b"caf\xe9")
        self.assertEqual(argument_value(arg("entire-headers"), req), '{"X-Latin":"caf\\ufffd"}')


class RemoteAddrTests(SynchronousTestCase):
    def test_ipv4(self) -> None:
        self.assertEqual(go_remote_addr("192.0.2.1", 5000), "192.0.2.1:5000")

    def test_ipv6InBrackets(self) -> None:
        self.assertEqual(go_remote_addr("2001:DB8:0::1", 5000), "[2001:db8::1]:5000")

    def test_ipv4MappedIsWrittenAsIPv4(self) -> None:
        self.assertEqual(go_remote_addr("::ffff:192.0.2.1", 80), "192.0.2.1:80")

    def test_clientDefaultsToThePeer(self) -> None:
        self.assertEqual(request(remote_addr="[2001:db8::1]:80").client, "2001:db8::1")
        self.assertEqual(request(remote_addr="192.0.2.1:80").client, "192.0.2.1")


class QueryTests(SynchronousTestCase):
    def test_firstValueOfEach(self) -> None:
        self.assertEqual(request(query="x=1&x=2&y=%41+b").query, {"x": "1", "y": "A b"})

    def test_pairsWithSemicolonsAreDropped(self) -> None:
        values, error = parse_query("a=1;b=2&c=3")
        self.assertEqual(values, {"c": ["3"]})
        self.assertEqual(error, "invalid semicolon separator in query")

    def test_badEscapesAreDropped(self) -> None:
        values, error = parse_query("q=%zz&ok=1&=e&&k")
        self.assertEqual(values, {"ok": ["1"], "": ["e"], "k": [""]})
        self.assertIsNotNone(error)

    def test_escapedBytesThatAreNotUTF8(self) -> None:
        self.assertEqual(
            parse_query("a=%ff")[0]["a"][0].encode("utf-8", "surrogateescape"), b"\xff"
        )


class JSONPayloadTests(SynchronousTestCase):
    def test_objectWithNumbersAsTheirLiterals(self) -> None:
        payload = parse_json_payload(b'{"n": 1.50, "e": 1E3}')
        self.assertEqual(payload, {"n": JSONNumber("1.50"), "e": JSONNumber("1E3")})

    def test_onlyTheFirstValueIsRead(self) -> None:
        self.assertEqual(parse_json_payload(b'{"a": 1} {"b": trailing'), {"a": JSONNumber("1")})

    def test_arrayBecomesRoot(self) -> None:
        self.assertEqual(parse_json_payload(b' [1, "x"]'), {"root": [JSONNumber("1"), "x"]})

    def test_errorsAndScalarsLeaveNoPayload(self) -> None:
        for body in (b"", b"{", b'"s"', b"1", b"null", b"NaN", b'{"a": NaN}', b"\x0b{}"):
            self.assertIsNone(parse_json_payload(body), body)

    def test_badUTF8AndLoneSurrogatesBecomeReplacementCharacters(self) -> None:
        payload = parse_json_payload(b'{"a": "x\xffy", "b": "\\ud800", "c": "\\ud83d\\ude00"}')
        self.assertEqual(payload, {"a": "x\ufffdy", "b": "\ufffd", "c": "\U0001f600"})

    def test_nestingDeeperThanPythonsRecursionLimit(self) -> None:
        payload = parse_json_payload(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")
        self.assertIsNotNone(payload)
        self.assertIsNone(parse_json_payload(b"{" + b'"a":[' * 10001 + b"]" * 10001 + b"}"))


class FormPayloadTests(SynchronousTestCase):
    def test_firstValueOfEach(self) -> None:
        self.assertEqual(parse_form(b"a=1&a=2&b=x+y"), {"a": "1", "b": "x y"})

    def test_anyErrorLeavesNoPayload(self) -> None:
        self.assertIsNone(parse_form(b"a=1;b=2"))
        self.assertIsNone(parse_form(b"a=%z"))

    def test_emptyBodyIsAnEmptyPayload(self) -> None:
        self.assertEqual(parse_form(b""), {})


class XMLPayloadTests(SynchronousTestCase):
    def test_mxjShapes(self) -> None:
        body = (
            b'<?xml version="1.0"?><!DOCTYPE r><root a="1" xmlns:x="u">'
            b"<item>x</item><item>y</item><empty/><t b='2'> text </t>"
            b"<m>first<c>1</c>last</m><n><c>1</c>tail</n><x:ns>v</x:ns>"
            b"<![CDATA[<cd>]]></root> trailing garbage <"
        )
        self.assertEqual(
            parse_xml(body),
            {
                "root": {
                    "-a": "1",
                    "-x": "u",
                    "item": ["x", "y"],
                    "empty": "",
                    "t": {"-b": "2", "#text": "text"},
                    "m": "first",
                    "n": {"c": "1", "#text": "tail"},
                    "ns": "v",
                    "#text": "<cd>",
                }
            },
        )

    def test_entitiesAreNeverExpanded(self) -> None:
        body = b'<!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>'
        self.assertIsNone(parse_xml(body))
        external = b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'
        self.assertIsNone(parse_xml(external))

    def test_predefinedEntitiesAndCharacterReferences(self) -> None:
        self.assertEqual(parse_xml(b"<r>&lt;&#65;&#x42;&amp;</r>"), {"r": "<AB&"})

    def test_errors(self) -> None:
        for body in (
            b"",
            b"<r>",
            b"<r></s>",
            b'<?xml version="1.0" encoding="ISO-8859-1"?><r/>',
            b"<r a=1/>",
            b"<r>\xff</r>",
            b"<r>&#0;</r>",
        ):
            self.assertIsNone(parse_xml(body), body)


class MediaTypeTests(SynchronousTestCase):
    def test_typeLowerCasedWithParameters(self) -> None:
        self.assertEqual(
            parse_media_type('Multipart/Form-Data; Boundary="a b"; x=1;'),
            ("multipart/form-data", {"boundary": "a b", "x": "1"}),
        )

    def test_badParametersAreErrors(self) -> None:
        self.assertRaises(ValueError, parse_media_type, "text/plain; boundary")
        self.assertRaises(ValueError, parse_media_type, "text/plain; a=1; a=2")


def multipart(parts: Sequence[tuple[str, bytes]], boundary: str = "XyZ") -> bytes:
    """A multipart body from (headers, content) parts, CRLF line ends."""
    out = b""
    for headers, content in parts:
        out += b"--" + boundary.encode() + b"\r\n" + headers.encode() + b"\r\n\r\n"
        out += content + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


MULTIPART_TYPE = ("Content-Type", "multipart/form-data; boundary=XyZ")


class MultipartTests(SynchronousTestCase):
    def body(self) -> bytes:
        return multipart(
            [
                ('Content-Disposition: form-data; name="a"', b"1"),
                ('Content-Disposition: form-data; name="a"', b"2"),
                (
                    'Content-Disposition: form-data; name="j"; filename="j.json"\r\n'
                    "Content-Type: application/json",
                    b'{"k": [1]}',
                ),
                ('Content-Disposition: form-data; name="named"; filename="n"', b'{"n": 1}'),
                ('Content-Disposition: form-data; name="plain"; filename="p"', b"{}"),
                (
                    'Content-Disposition: form-data; name="bad"; filename="b"\r\n'
                    "Content-Type: application/json",
                    b"[1]",
                ),
            ]
        )

    def test_valuesAndJSONFiles(self) -> None:
        req = request(
            self.body(),
            headers=[MULTIPART_TYPE],
            parse_parameters_as_json=[arg("payload", "named")],
        )
        self.assertEqual(
            req.payload,
            {
                "a": "1",
                "j": {"k": [JSONNumber("1")]},
                "named": {"n": JSONNumber("1")},
                "bad": NIL_MAP,
            },
        )
        self.assertEqual(argument_value(arg("payload", "bad"), req), "null")

    def test_bodyIsKeptThoughWebhookReadsNone(self) -> None:
        """Signature rules check the bytes; raw-request-body stays webhook's empty string."""
        body = self.body()
        req = request(body, headers=[MULTIPART_TYPE])
        self.assertEqual(req.body, body)
        self.assertTrue(req.multipart)
        self.assertEqual(argument_value(arg("raw-request-body"), req), "")

    def test_notMultipartIsAnError(self) -> None:
        for body in (b"", b"no boundary here", multipart([])[:-4]):
            self.assertRaises(MultipartError, request, body, headers=[MULTIPART_TYPE])

    def test_theHeaderNotTheOverrideChoosesTheParser(self) -> None:
        self.assertRaises(
            MultipartError,
            request,
            self.body(),
            headers=[("Content-Type", "application/octet-stream")],
            incoming_payload_content_type="multipart/form-data; boundary=XyZ",
        )

    def test_aQueryWithASemicolonFailsTheForm(self) -> None:
        self.assertRaises(
            MultipartError, request, self.body(), headers=[MULTIPART_TYPE], query="a;b"
        )

    def test_jsonInTheTypeParsesAnEmptyBody(self) -> None:
        req = request(b'{"a": 1}', headers=[("Content-Type", "multipart/form-data; b=json")])
        self.assertIsNone(req.payload)

    def test_newlineLineEndsAndQuotedPrintable(self) -> None:
        body = (
            b"preamble\n--B\nContent-Disposition: form-data; name=q\n"
            b"Content-Transfer-Encoding: quoted-printable\n\nh=C3=A9llo=\n world\n--B--\n"
        )
        req = request(body, headers=[("Content-Type", "multipart/form-data; boundary=B")])
        self.assertEqual(req.payload, {"q": "héllo world"})


class ParseParametersAsJSONTests(SynchronousTestCase):
    def test_replacesValuesWhereTheyWereRead(self) -> None:
        req = request(
            b'{"p": "{\\"k\\": 1}", "n": "null", "arr": "[1]"}',
            headers=[("Content-Type", "application/json"), ("X-J", '{"h": true}')],
            query="q=%7B%7D",
            parse_parameters_as_json=[
                arg("payload", "p"),
                arg("header", "x-j"),
                arg("url", "q"),
                arg("payload", "n"),
                arg("payload", "arr"),
                arg("payload", "missing"),
                arg("string", "{}"),
            ],
        )
        self.assertEqual(argument_value(arg("payload", "p.k"), req), "1")
        self.assertEqual(argument_value(arg("header", "X-J.h"), req), "true")
        self.assertEqual(argument_value(arg("url", "q"), req), "{}")
        self.assertEqual(argument_value(arg("payload", "n"), req), "null")
        self.assertEqual(argument_value(arg("payload", "arr"), req), "[1]")

    def test_aDottedNameIsAPanic(self) -> None:
        self.assertRaises(
            HandlerPanicError,
            request,
            b'{"a": {"b": "{}"}}',
            headers=[("Content-Type", "application/json")],
            parse_parameters_as_json=[arg("payload", "a.b")],
        )


class GetParameterTests(SynchronousTestCase):
    """hook_test.go TestGetParameter and TestExtractParameter, as values."""

    def test_found(self) -> None:
        cases: list[tuple[str, Any, Any]] = [
            ("a", {"a": "1"}, "1"),
            ("a.b", {"a.b": "1"}, "1"),
            ("a.c", {"a": {"c": 2}}, 2),
            ("a.1", {"a": {"1": 3}}, 3),
            ("a.1", {"a": ["a", "b"]}, "b"),
            ("0", ["a", "b"], "a"),
            ("a.1.b.c", {"a": [{"b": {"c": "y"}}, {"b": {"c": "z"}}]}, "z"),
        ]
        for path, params, expected in cases:
            self.assertEqual(get_parameter(path, params), expected, path)

    def test_missing(self) -> None:
        cases: list[tuple[str, Any]] = [
            ("z", {"a": "1"}),
            ("a.z", {"a": {"b": 2}}),
            ("z.b", {"a": {"z": 2}}),
            ("a.2", {"a": ["a", "b"]}),
            ("a.X.c", {"a": [{"b": "y"}]}),
            ("a.-1.b", {"a": [{"b": "y"}]}),
            ("a.502.b", {"a": []}),
            ("a.b", "a"),
            ("a.b", {"a": JSONNumber("1")}),
        ]
        for path, params in cases:
            self.assertRaises(model.ParameterNodeError, get_parameter, path, params)

    def test_throughANullIsAnotherError(self) -> None:
        self.assertRaises(model.ArgumentError, get_parameter, "a.b", {"a": None})


class ArgumentValueTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.req = request(
            b'{"a": {"b": [1, {"c": "<&>"}]}, "nil": null, "t": true, "n": 1.0}',
            headers=[("Content-Type", "application/json"), ("x-sig", "s")],
            query="q=1",
            method="PATCH",
        )

    def value(self, source: str, name: str = "") -> str:
        return argument_value(arg(source, name), self.req)

    def test_renderings(self) -> None:
        self.assertEqual(self.value("payload", "a"), '{"b":[1,{"c":"\\u003c\\u0026\\u003e"}]}')
        self.assertEqual(self.value("payload", "a.b.1.c"), "<&>")
        self.assertEqual(self.value("payload", "nil"), "<nil>")
        self.assertEqual(self.value("payload", "t"), "true")
        self.assertEqual(self.value("payload", "n"), "1.0")

    def test_sources(self) -> None:
        self.assertEqual(self.value("header", "X-SIG"), "s")
        self.assertEqual(self.value("url", "q"), "1")
        self.assertEqual(self.value("query", "q"), "1")
        self.assertEqual(self.value("string", "lit"), "lit")
        self.assertEqual(self.value("request", "Method"), "PATCH")
        self.assertEqual(self.value("request", "REMOTE-ADDR"), "192.0.2.7:4711")
        self.assertEqual(self.value("entire-query"), '{"q":"1"}')
        self.assertTrue(self.value("raw-request-body").startswith('{"a"'))

    def test_errors(self) -> None:
        self.assertRaises(model.ArgumentError, self.value, "request", "path")
        self.assertRaises(model.ArgumentError, self.value, "")
        self.assertRaises(model.ParameterNodeError, self.value, "payload", "missing")

    def test_noPayload(self) -> None:
        req = request(b"x")
        self.assertEqual(argument_value(arg("entire-payload"), req), "null")
        self.assertRaises(model.ParameterNodeError, argument_value, arg("payload", "a"), req)


class FileAndEnvironmentTests(SynchronousTestCase):
    def test_base64AsGoDecodesIt(self) -> None:
        self.assertEqual(go_base64_decode("aGVsbG8="), (b"hello", True))
        self.assertEqual(go_base64_decode("aGVs\nbG8="), (b"hello", True))
        # Go keeps the quanta before the error.
        self.assertEqual(go_base64_decode("aGVsbG8"), (b"hel", False))
        self.assertEqual(go_base64_decode("aGVs!G8="), (b"hel", False))
        self.assertEqual(go_base64_decode("aGVsbG8=x"), (b"hello", False))

    def test_fileContent(self) -> None:
        req = request(query="f=aGk%3D")
        self.assertEqual(file_content(arg("url", "f", base64decode=True), req), b"hi")
        self.assertEqual(file_content(arg("url", "f"), req), b"aGk=")

    def test_names(self) -> None:
        self.assertEqual(environment_name(arg("url", "head_commit.id")), "HOOK_head_commit.id")
        self.assertEqual(environment_name(arg("url", "x", envname="MINE")), "MINE")
        self.assertEqual(file_environment_name(arg("url", "file.b")), "HOOK_FILE.B")
        self.assertEqual(file_environment_name(arg("url", "ß")), "HOOK_ß")


SOURCES = [
    arg("payload", "a"),
    arg("payload", "a.b"),
    arg("payload", "a.b.0"),
    arg("payload", "list.1.x"),
    arg("payload", "list"),
    arg("payload", "n"),
    arg("payload", "f"),
    arg("payload", "nil"),
    arg("payload", "nil.x"),
    arg("payload", "t"),
    arg("payload", "html"),
    arg("payload", "dotted.key"),
    arg("payload", "u"),
    arg("payload", "root.0"),
    arg("payload", "root"),
    arg("payload", "missing"),
    arg("payload", "root.-1"),
    arg("payload", "j.k"),
    arg("payload", "item"),
    arg("payload", "r.-a"),
    arg("payload", "r.item.1"),
    arg("payload", "r.#text"),
    arg("header", "x-test"),
    arg("header", "CONTENT-TYPE"),
    arg("header", "host"),
    arg("header", "x-json.k"),
    arg("url", "q"),
    arg("query", "q2"),
    arg("url", "nope"),
    arg("request", "method"),
    arg("request", "REMOTE-ADDR"),
    arg("request", "bogus"),
    arg("string", "lit eral"),
    arg("entire-payload"),
    arg("entire-headers"),
    arg("entire-query"),
    arg("raw-request-body"),
    arg(""),
]

JSON_PARAMETERS = [arg("payload", "inner"), arg("header", "x-json"), arg("url", "qj")]

ENVIRONMENT = [arg("payload", "n"), arg("header", "x-test", envname="MY_TEST")]
FILES = [
    arg("payload", "html", envname="HOOK_FILE_A"),
    arg("url", "b64", envname="HOOK_FILE_B", base64decode=True),
    arg("url", "q", envname="HOOK_FILE_C", base64decode=True),
]


def _as_json(arguments: Sequence[model.Argument]) -> list[dict[str, Any]]:
    out = []
    for a in arguments:
        d: dict[str, Any] = {"source": a.source, "name": a.name}
        if a.envname:
            d["envname"] = a.envname
        if a.base64decode:
            d["base64decode"] = True
        out.append(d)
    return out


def _hook(id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "include-command-output-in-response": True,
        "pass-arguments-to-command": _as_json(SOURCES),
        "pass-environment-to-command": _as_json(ENVIRONMENT),
        "pass-file-to-command": _as_json(FILES),
        "parse-parameters-as-json": _as_json(JSON_PARAMETERS),
        **extra,
    }


BODIES: list[tuple[str, str, bytes]] = [
    (
        "json object",
        "application/json",
        json.dumps(
            {
                "a": {"b": [1, 2.50, {"c": None}]},
                "list": [{"x": 1}, {"x": "<two>"}],
                "n": 1e400,
                "f": -0.0,
                "nil": None,
                "t": True,
                "html": "<a href='x'>&amp;</a>\u2028\x01",
                "dotted.key": "raw",
                "dotted": {"key": "walked"},
                "u": "h\u00e9 \U0001f600",
                "inner": '{"k": "from inner"}',
            }
        )
        .replace("Infinity", "1e400")
        .encode(),
    ),
    ("json array", "application/json; charset=utf-8", b' [{"x": 1}, "two", null]'),
    ("json with trailing data", "text/json", b'{"a": 1} and more'),
    ("json error", "application/json", b'{"a": '),
    ("form", "application/x-www-form-urlencoded", b"a=1&a=2&html=%3Cb%3E&dotted.key=v&n=%ff"),
    ("form error", "application/x-www-form-urlencoded", b"a=1;b=2"),
    (
        "xml",
        "application/xml",
        b'<?xml version="1.0"?><r a="1"><item>x</item><item>y</item><e/>'
        b"<t b='2'>text</t><m>first<c>1</c>last</m>tail<![CDATA[<cd>]]></r>",
    ),
    ("xml doctype", "text/xml", b'<!DOCTYPE r [<!ENTITY e "x">]><r><a>&lt;</a></r>'),
    ("xml error", "text/xml", b"<r><a></r>"),
    ("no type", "", b'{"a": 1}'),
]


def _multipart_body() -> bytes:
    return multipart(
        [
            ('Content-Disposition: form-data; name="a"', b"first"),
            ('Content-Disposition: form-data; name="a"', b"second"),
            ('Content-Disposition: form-data; name="html"', b"<&>"),
            (
                'Content-Disposition: form-data; name="j"; filename="j.json"\r\n'
                "Content-Type: application/json",
                b'{"k": [1, "x"]}',
            ),
            ('Content-Disposition: form-data; name="inner"; filename="i"', b'{"k": 2}'),
            ('Content-Disposition: form-data; name="item"; filename="p"', b"not json"),
            (
                'Content-Disposition: form-data; name="n"; filename="n.json"\r\n'
                "Content-Type: application/json",
                b"[1]",
            ),
        ]
    )


class WebhookArgumentsTests(SynchronousTestCase):
    """
    The real webhook's command arguments, environment and files for the same
    request as L{argument_value}, L{environment_name} and L{file_content} give.
    """

    def setUp(self) -> None:
        # trial has no setUpClass: one webhook per test, stopped by its cleanup.
        self.live = LiveWebhook(
            [
                _hook("args"),
                _hook("xml", **{"incoming-payload-content-type": "application/xml"}),
            ]
        )
        self.addCleanup(self.live.stop)

    def compare(
        self,
        hook: str,
        body: bytes,
        headers: Sequence[tuple[str, str]],
        query: str = "q=1&q=2&q2=%3C%3E&qj=%7B%22k%22%3A3%7D&b64=aGk%3D",
        override: str = "",
    ) -> dict[str, Any]:
        live = self.live
        status, answer, remote = live.send(f"/hooks/{hook}?{query}", body, headers)
        self.assertEqual(status, 200, answer)
        received: dict[str, Any] = json.loads(answer)
        req = read_request(
            method="POST",
            remote_addr=remote,
            header_lines=live.header_lines(headers, body),
            query_string=query,
            body=body,
            incoming_payload_content_type=override,
            parse_parameters_as_json=JSON_PARAMETERS,
        )
        ours = expected_argv(SOURCES, req)
        for index, (theirs, mine) in enumerate(zip(received["argv"], ours, strict=True)):
            self.assertEqual(theirs, mine, f"{SOURCES[index]} for {body[:40]!r}")
        env = {}
        for argument in ENVIRONMENT:
            with contextlib.suppress(model.ParameterNodeError, model.ArgumentError):
                env[environment_name(argument)] = argument_value(argument, req)
        self.assertEqual(received["env"], env)
        files = {}
        for argument in FILES:
            with contextlib.suppress(model.ParameterNodeError, model.ArgumentError):
                files[file_environment_name(argument)] = file_content(argument, req).hex()
        self.assertEqual(received["files"], files)
        return received

    def test_bodies(self) -> None:
        for _name, content_type, body in BODIES:
            headers = [("X-Test", "t<1>"), ("X-Json", '{"k": "h"}')]
            if content_type:
                headers.append(("Content-Type", content_type))
            self.compare("args", body, headers)

    def test_incomingPayloadContentType(self) -> None:
        body = b"<r><a>1</a></r>"
        self.compare(
            "xml", body, [("Content-Type", "application/json")], override="application/xml"
        )

    def test_multipart(self) -> None:
        self.compare("args", _multipart_body(), [MULTIPART_TYPE])

    def test_multipartEndingInAPartsHeadersKeepsThePartsBefore(self) -> None:
        # readMIMEHeader's io.EOF is the form's end to ReadForm.
        self.compare("args", _multipart_body()[:-20], [MULTIPART_TYPE])

    def test_headersAsGoKeepsThem(self) -> None:
        received = self.compare(
            "args",
            b"{}",
            [("pragma", "no-cache"), ("x-test", "one"), ("X-TEST", "two"), ("x_under", "u")],
        )
        headers = json.loads(received["argv"][SOURCES.index(arg("entire-headers"))])
        self.assertEqual(headers["Cache-Control"], "no-cache")
        self.assertNotIn("Host", headers)

    def test_queryAsGoKeepsIt(self) -> None:
        self.compare("args", b"", [], query="q=%zz&q=ok&q2=a;b&q2=c+d&&=e&qj=%7B%7D")

    def test_multipartErrorsAnswer500(self) -> None:
        live = self.live
        bad = [
            (b"", [MULTIPART_TYPE], "/hooks/args"),
            (_multipart_body()[:-9], [MULTIPART_TYPE], "/hooks/args"),
            (_multipart_body(), [MULTIPART_TYPE], "/hooks/args?a;b"),
        ]
        for body, headers, path in bad:
            status, answer, _ = live.send(path, body, headers)
            self.assertEqual(
                (status, answer), (500, b"Error occurred while parsing multipart form.")
            )
            query = path.partition("?")[2]
            self.assertRaises(
                MultipartError,
                read_request,
                method="POST",
                remote_addr="127.0.0.1:1",
                header_lines=live.header_lines(headers, body),
                query_string=query,
                body=body,
            )


class WebhookPanicTests(SynchronousTestCase):
    def test_dottedParseParametersAsJSONAnswers500(self) -> None:
        live = LiveWebhook(
            [{"id": "p", "parse-parameters-as-json": [{"source": "payload", "name": "a.b"}]}]
        )
        self.addCleanup(live.stop)
        body = b'{"a": {"b": "{}"}}'
        headers = [("Content-Type", "application/json")]
        status, answer, _ = live.send("/hooks/p", body, headers)
        self.assertEqual((status, answer), (500, b"Internal Server Error\n"))
        self.assertRaises(
            HandlerPanicError,
            read_request,
            method="POST",
            remote_addr="127.0.0.1:1",
            header_lines=live.header_lines(headers, body),
            query_string="",
            body=body,
            parse_parameters_as_json=[arg("payload", "a.b")],
        )


class GoJSONTests(SynchronousTestCase):
    def test_entirePayloadEscapes(self) -> None:
        self.assertEqual(
            go_json({"b": "\x08\x0c\u2029", "a": [None]}),
            '{"a":[null],"b":"\\u0008\\u000c\\u2029"}',
        )


__all__ = ["LiveWebhook", "multipart", "request"]
