"""
Tests for L{hookdaemon.hooksfile.rules}: webhook 2.8.0's trigger rules, with
hook_test.go's cases as values and each outcome checked against the real
/usr/bin/webhook's answer where it is installed.
"""

from __future__ import annotations

import hashlib
import hmac
import subprocess
import sys
import time
from collections.abc import Sequence
from email.utils import formatdate
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.hooksfile import model
from hookdaemon.hooksfile.request import read_request
from hookdaemon.hooksfile.rules import (
    RuleError,
    check_ip_whitelist,
    evaluate,
    extract_signatures,
    parse_scalr_date,
    regex_problem,
    translate_regex,
)
from tests.test_hooksfile_request import MULTIPART_TYPE, LiveWebhook, multipart, request

BODY = b'{"a": "z", "ref": "refs/heads/main", "nil": null}'
JSON_TYPE = ("Content-Type", "application/json")


def header(name: str) -> model.Argument:
    return model.Argument(source="header", name=name)


def payload(name: str) -> model.Argument:
    return model.Argument(source="payload", name=name)


def sign(body: bytes, secret: str = "secret", digest: Any = hashlib.sha256) -> str:
    return hmac.new(secret.encode(), body, digest).hexdigest()


def match(type: str, **kwargs: Any) -> model.Match:
    return model.Match(type=type, **kwargs)


def outcome(rule: model.Rule, req: model.WebhookRequest, soft: bool = False) -> str:
    """What hookHandler answers: 'satisfied', 'not satisfied' or 'error'."""
    try:
        return "satisfied" if evaluate(rule, req, soft) else "not satisfied"
    except RuleError:
        return "error"


def scalr_date(offset: float = 0) -> str:
    # Scalr's layout: Mon 02 Jan 2006 15:04:05 UTC.
    return time.strftime("%a %d %b %Y %H:%M:%S UTC", time.gmtime(time.time() + offset))


SIG = sign(BODY)
EMPTY_SIG = sign(b"")
VALUE_TRUE = match("value", value="z", parameter=payload("a"))
VALUE_FALSE = match("value", value="y", parameter=payload("a"))
MISSING = match("value", value="x", parameter=header("x-missing"))
BAD_SIG = match("payload-hmac-sha256", secret="secret", parameter=header("x-bad-sig"))

# (name, rule, soft signature failures, extra headers, expected outcome)
CASES: list[tuple[str, model.Rule, bool, Sequence[tuple[str, str]], str]] = [
    ("value", VALUE_TRUE, False, (), "satisfied"),
    ("value mismatch", VALUE_FALSE, False, (), "not satisfied"),
    ("missing header", MISSING, False, (), "not satisfied"),
    ("not of a missing header is true", model.Not(MISSING), False, (), "satisfied"),
    (
        "and stops at a missing header",
        model.And((model.Not(MISSING),)),
        False,
        (),
        "not satisfied",
    ),
    ("or passes over a missing header", model.Or((MISSING, VALUE_TRUE)), False, (), "satisfied"),
    ("empty and", model.And(()), False, (), "satisfied"),
    ("empty or", model.Or(()), False, (), "not satisfied"),
    ("no rule", model.NoRule(), False, (), "not satisfied"),
    ("through a null", match("value", value="", parameter=payload("nil.x")), False, (), "error"),
    (
        "regex",
        match("regex", regex=r"^refs/heads/(main|master)$", parameter=payload("ref")),
        False,
        (),
        "satisfied",
    ),
    ("bad regex", match("regex", regex="(", parameter=payload("ref")), False, (), "error"),
    (
        "sha256",
        match("payload-hmac-sha256", secret="secret", parameter=header("x-sig")),
        False,
        (("X-Sig", "sha256=" + SIG),),
        "satisfied",
    ),
    (
        "sha256 in a list",
        match("payload-hash-sha256", secret="secret", parameter=header("x-sig")),
        False,
        (("X-Sig", "sha256=00,sha256=" + SIG),),
        "satisfied",
    ),
    (
        "sha1",
        match("payload-hmac-sha1", secret="secret", parameter=header("x-sig")),
        False,
        (("X-Sig", sign(BODY, digest=hashlib.sha1)),),
        "satisfied",
    ),
    (
        "sha512",
        match("payload-hmac-sha512", secret="s", parameter=header("x-sig")),
        False,
        (("X-Sig", "sha512=" + sign(BODY, "s", hashlib.sha512)),),
        "satisfied",
    ),
    ("wrong signature", BAD_SIG, False, (("X-Bad-Sig", "sha256=00"),), "error"),
    ("missing signature", BAD_SIG, False, (), "not satisfied"),
    (
        "upper-case hex",
        match("payload-hmac-sha256", secret="secret", parameter=header("x-sig")),
        False,
        (("X-Sig", SIG.upper()),),
        "error",
    ),
    (
        "empty secret",
        match("payload-hmac-sha256", secret="", parameter=header("x-sig")),
        False,
        (("X-Sig", SIG),),
        "error",
    ),
    (
        "soft failure in or",
        model.Or((BAD_SIG, VALUE_TRUE)),
        True,
        (("X-Bad-Sig", "0"),),
        "satisfied",
    ),
    ("hard failure in or", model.Or((BAD_SIG, VALUE_TRUE)), False, (("X-Bad-Sig", "0"),), "error"),
    ("soft failure in and", model.And((BAD_SIG,)), True, (("X-Bad-Sig", "0"),), "error"),
    ("ip", match("ip-whitelist", ip_range="10.0.0.0/8 127.0.0.1"), False, (), "satisfied"),
    ("ip mismatch", match("ip-whitelist", ip_range="10.0.0.0/8"), False, (), "not satisfied"),
    ("ip6 single", match("ip-whitelist", ip_range="::1"), False, (), "not satisfied"),
    ("bad range", match("ip-whitelist", ip_range="10.0.0.0/33"), False, (), "error"),
    (
        "request key",
        match("value", value="POST", parameter=model.Argument("request", "Method")),
        False,
        (),
        "satisfied",
    ),
    (
        "bad request key",
        match("value", parameter=model.Argument("request", "path")),
        False,
        (),
        "error",
    ),
    ("no source", match("value", parameter=model.Argument()), False, (), "error"),
    ("scalr without headers", match("scalr-signature", secret="k"), False, (), "not satisfied"),
]


Case = tuple[str, model.Rule, bool, Sequence[tuple[str, str]], str]


def scalr_cases() -> list[Case]:
    rule = match("scalr-signature", secret="k")
    cases: list[Case] = []
    for name, date, expected in (
        ("scalr", scalr_date(), "satisfied"),
        ("scalr outdated", scalr_date(-3600), "error"),
        ("scalr other layout", formatdate(usegmt=True), "error"),
    ):
        signature = hmac.new(b"k", BODY + date.encode(), hashlib.sha1).hexdigest()
        cases.append((name, rule, False, (("X-Signature", signature), ("Date", date)), expected))
    cases.append(
        ("scalr wrong", rule, False, (("X-Signature", "00"), ("Date", scalr_date())), "error")
    )
    return cases


class EvaluateTests(SynchronousTestCase):
    def test_cases(self) -> None:
        for name, rule, soft, headers, expected in CASES + scalr_cases():
            req = request(
                BODY,
                headers=[JSON_TYPE, *headers],
                remote_addr="127.0.0.1:5000",
                received_at=time.time(),
            )
            self.assertEqual(outcome(rule, req, soft), expected, name)

    def test_reasonNeverHoldsTheSecretOrSignature(self) -> None:
        req = request(BODY, headers=[JSON_TYPE, ("X-Bad-Sig", "sha256=deadbeef")])
        rule = match("payload-hmac-sha256", secret="hunter2", parameter=header("x-bad-sig"))
        error = self.assertRaises(RuleError, evaluate, rule, req, False)
        self.assertNotIn("hunter2", error.reason)
        self.assertNotIn("deadbeef", error.reason)
        self.assertNotIn(SIG, error.reason)

    def test_multipartSignatureChecksTheBytesReceived(self) -> None:
        """
        webhook checks a multipart body's HMAC over the empty string (it never
        reads r.Body); hookdaemon checks the bytes it received.
        """
        body = multipart([('Content-Disposition: form-data; name="a"', b"1")])
        rule = match("payload-hmac-sha256", secret="secret", parameter=header("x-sig"))
        over_nothing = request(body, headers=[MULTIPART_TYPE, ("X-Sig", EMPTY_SIG)])
        self.assertEqual(outcome(rule, over_nothing), "error")
        over_body = request(body, headers=[MULTIPART_TYPE, ("X-Sig", sign(body))])
        self.assertEqual(outcome(rule, over_body), "satisfied")


class SignatureTests(SynchronousTestCase):
    """hook_test.go TestCheckPayloadSignature*: its payloads, secrets and signatures."""

    def check(self, body: bytes, secret: str, signature: str, type: str) -> str:
        req = request(body, headers=[("X-Sig", signature)])
        return outcome(match(type, secret=secret, parameter=header("x-sig")), req)

    def test_goCases(self) -> None:
        payload_a = b'{"a": "z"}'
        sha1 = "b17e04cbb22afa8ffbff8796fc1894ed27badd9e"
        sha256 = "f417af3a21bd70379b5796d5f013915e7029f62c580fb0f500f59a35a6f04c89"
        empty1 = "25af6174a0fcecc4d346680a72b7ce644b9a88e8"
        cases = [
            (payload_a, "secret", sha1, "payload-hmac-sha1", "satisfied"),
            (payload_a, "secret", "sha1=" + sha1, "payload-hmac-sha1", "satisfied"),
            (
                payload_a,
                "secret",
                "sha1=XXX" + sha1[3:] + ",sha1=" + sha1,
                "payload-hmac-sha1",
                "satisfied",
            ),
            (b"", "secret", empty1, "payload-hmac-sha1", "satisfied"),
            (payload_a, "secret", "XXX" + sha1[3:], "payload-hmac-sha1", "error"),
            (payload_a, "secreX", sha1, "payload-hmac-sha1", "error"),
            (payload_a, "", sha1, "payload-hmac-sha1", "error"),
            (payload_a, "secret", "sha256=" + sha256, "payload-hmac-sha256", "satisfied"),
        ]
        for body, secret, signature, type, expected in cases:
            self.assertEqual(self.check(body, secret, signature, type), expected, signature)

    def test_extractSignatures(self) -> None:
        self.assertEqual(extract_signatures("sha1=a,sha256=b,sha1=c", "sha1="), ["a", "c"])
        self.assertEqual(extract_signatures("abc", "sha1="), ["abc"])


class IPWhitelistTests(SynchronousTestCase):
    """hook_test.go TestCheckIPWhitelist, with the client as hookdaemon gives it."""

    def test_goCases(self) -> None:
        cases = [
            ("10.0.0.1", "  10.0.0.1 ", True),
            ("10.0.0.1", "  10.0.0.0 ", False),
            ("10.0.0.1", "  10.0.0.1 10.0.0.1 ", True),
            ("10.0.0.1", "  10.0.0.0/31 ", True),
            ("2001:db8:1:2::1", "  2001:db8:1::/48 ", True),
            ("2001:db8:1:2::1", "  2001:db8:1::/48 2001:db8:1::/64", True),
            ("2001:db8:1:2::1", "  2001:db8:1::/64 ", False),
        ]
        for client, ip_range, expected in cases:
            self.assertEqual(check_ip_whitelist(client, ip_range), expected, (client, ip_range))

    def test_singleIPv6AddressIsA32(self) -> None:
        self.assertTrue(check_ip_whitelist("2001:db8:ffff::9", "2001:db8::1"))

    def test_ipv4MappedClientMatchesIPv4Ranges(self) -> None:
        self.assertTrue(check_ip_whitelist("::ffff:192.0.2.9", "192.0.2.0/24"))

    def test_errors(self) -> None:
        self.assertRaises(ValueError, check_ip_whitelist, "fe80::1%eth0", "fe80::/10")
        self.assertRaises(ValueError, check_ip_whitelist, "10.0.0.1", "010.0.0.1")
        self.assertRaises(ValueError, check_ip_whitelist, "nonsense", "10.0.0.1")


class ScalrDateTests(SynchronousTestCase):
    def test_layout(self) -> None:
        self.assertEqual(parse_scalr_date("Thu 07 Sep 2017 06:30:04 UTC"), 1504765804)
        # Go: names in any case, spaces repeated, a fraction, any zone as UTC.
        self.assertEqual(parse_scalr_date("thu  07 SEP 2017 6:30:04.5 CEST"), 1504765804.5)

    def test_errors(self) -> None:
        for text in (
            "Thu, 07 Sep 2017 06:30:04 GMT",
            "Thu 7 Sep 2017 06:30:04 UTC",
            "Thu 31 Sep 2017 06:30:04 UTC",
            "Thu 07 Sep 2017 24:30:04 UTC",
            "Thu 07 Sep 2017 06:30:04 UTC+1",
            "Thu 07 Sep 2017 06:30:04 Utc",
        ):
            self.assertRaises(ValueError, parse_scalr_date, text)


class RegexTests(SynchronousTestCase):
    """RE2's syntax where Python's re differs; each checked against Go 1.19's regexp."""

    def matches(self, pattern: str, text: str) -> bool:
        req = request(query="v=" + text.replace("\n", "%0A").replace("&", "%26"))
        rule = match("regex", regex=pattern, parameter=model.Argument("url", "v"))
        return evaluate(rule, req, False)

    def test_dollarIsTheEndOfTextOnly(self) -> None:
        self.assertFalse(self.matches("a$", "a\n"))
        self.assertTrue(self.matches("(?m)a$", "a\nb"))

    def test_perlClassesAreASCII(self) -> None:
        self.assertFalse(self.matches(r"^\d$", "\u0663"))
        self.assertFalse(self.matches(r"^\s$", "\x0b"))
        self.assertTrue(self.matches(r"\bfoo\b", "a foo"))

    def test_flagsMidPattern(self) -> None:
        self.assertTrue(self.matches("a(?i)b|c", "C"))
        self.assertFalse(self.matches("(a(?i)b)c", "aBC"))

    def test_posixClassesAndQuoting(self) -> None:
        self.assertTrue(self.matches("^[[:alpha:]]+$", "abc"))
        self.assertTrue(self.matches(r"^\Q.*\E$", ".*"))
        self.assertTrue(self.matches(r"^x{,3}$", "x{,3}"))
        self.assertTrue(self.matches(r"^\12$", "\n"))

    def test_problems(self) -> None:
        self.assertIsNone(regex_problem(r"^refs/heads/(?P<branch>.+)$"))
        for pattern in ("(", r"\1", "(?=x)", "a**", "x{1001}", r"\Z", "(?x)a", "(?<n>a)", "a*+"):
            problem = regex_problem(pattern)
            assert problem is not None
            self.assertIn("error parsing regexp", problem, pattern)
        self.assertRaises(ValueError, translate_regex, "(")

    def test_unicodeClassesRunAsRE2RunsThem(self) -> None:
        """Go and RE2 take \\p classes, which Python's re has not: RE2 runs them."""
        self.assertIsNone(regex_problem(r"\pL"))
        self.assertTrue(self.matches(r"^\p{Lu}\pL+$", "%C3%89t%C3%A9"))
        self.assertFalse(self.matches(r"^\p{Lu}", "%C3%A9t%C3%A9"))

    def test_aPatternThatBacktracksInPythonIsLinear(self) -> None:
        """
        C{^(a+)+$} on 40 a's and a ! takes Python's re about 2**40 steps (hours,
        the reactor held); RE2, as Go's regexp, one pass. Run in a child so that
        a regression fails at its bound instead of hanging the suite.
        """
        script = (
            "from hookdaemon.hooksfile import model\n"
            "from hookdaemon.hooksfile.request import read_request\n"
            "from hookdaemon.hooksfile.rules import evaluate\n"
            "req = read_request(method='POST', remote_addr='127.0.0.1:1', header_lines=[],"
            " query_string='v=' + 'a' * 40 + '!', body=b'')\n"
            "rule = model.Match(type='regex', regex='^(a+)+$',"
            " parameter=model.Argument('url', 'v'))\n"
            "print(evaluate(rule, req, False))\n"
        )
        try:
            done = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
            )
        except subprocess.TimeoutExpired:
            self.fail("the match backtracked: still running after 60 s")
        self.assertEqual((done.returncode, done.stdout, done.stderr), (0, "False\n", ""))


class WebhookRulesTests(SynchronousTestCase):
    """Each case's outcome as the real webhook answers it."""

    def setUp(self) -> None:
        # trial has no setUpClass: one webhook per test, stopped by its cleanup.
        cases = CASES + scalr_cases()
        hooks = [
            {
                "id": f"case{index}",
                "response-message": "satisfied",
                "trigger-rule": rule_json(rule),
                "trigger-signature-soft-failures": soft,
            }
            for index, (_name, rule, soft, _headers, _expected) in enumerate(cases)
        ]
        hooks.append(
            {
                "id": "multipart",
                "response-message": "satisfied",
                "trigger-rule": rule_json(
                    match("payload-hmac-sha256", secret="secret", parameter=header("x-sig"))
                ),
            }
        )
        self.live = LiveWebhook(hooks)
        self.addCleanup(self.live.stop)

    def answer(self, path: str, body: bytes, headers: Sequence[tuple[str, str]]) -> str:
        live = self.live
        status, text, _remote = live.send(path, body, headers)
        answers = {
            (200, b"satisfied"): "satisfied",
            (200, b"Hook rules were not satisfied."): "not satisfied",
            (500, b"Error occurred while evaluating hook rules."): "error",
        }
        return answers.get((status, text), f"{status} {text!r}")

    def test_cases(self) -> None:
        live = self.live
        for index, (name, rule, soft, headers, expected) in enumerate(CASES + scalr_cases()):
            sent = [JSON_TYPE, *headers]
            theirs = self.answer(f"/hooks/case{index}", BODY, sent)
            req = read_request(
                method="POST",
                remote_addr="127.0.0.1:5000",
                header_lines=live.header_lines(sent, BODY),
                query_string="",
                body=BODY,
                received_at=time.time(),
            )
            self.assertEqual((name, theirs), (name, outcome(rule, req, soft)))
            self.assertEqual((name, theirs), (name, expected))

    def test_multipartSignedOverNothingPassesWebhook(self) -> None:
        body = multipart([('Content-Disposition: form-data; name="a"', b"1")])
        self.assertEqual(
            self.answer("/hooks/multipart", body, [MULTIPART_TYPE, ("X-Sig", EMPTY_SIG)]),
            "satisfied",
        )
        self.assertEqual(
            self.answer("/hooks/multipart", body, [MULTIPART_TYPE, ("X-Sig", sign(body))]),
            "error",
        )


class OutlineTests(SynchronousTestCase):
    """L{model.rule_outline}: what the dashboard shows of a hook's rule."""

    def test_namesWhatEachMatchReads(self) -> None:
        rule = model.And(
            (
                match(
                    "payload-hmac-sha256",
                    secret="hmac-s3cret",
                    parameter=header("X-Hub-Signature-256"),
                ),
                model.Or(
                    (
                        match("value", value="tok3n", parameter=payload("ref")),
                        model.Not(match("regex", regex="^refs/tags/", parameter=payload("ref"))),
                    )
                ),
                match("ip-whitelist", ip_range="192.0.2.0/24"),
            )
        )
        self.assertEqual(
            model.rule_outline(rule),
            "(payload-hmac-sha256 of header X-Hub-Signature-256"
            " and (value of payload ref or not (regex of payload ref))"
            " and caller's address in a range)",
        )

    def test_neverAValueASecretOrARange(self) -> None:
        secrets = ("tok3n", "hmac-s3cret", "192.0.2.0/24", "^refs/tags/")
        rule = model.Or(
            (
                match("value", value=secrets[0], parameter=header("X-Token")),
                match("payload-hmac-sha1", secret=secrets[1], parameter=header("X-Sig")),
                match("ip-whitelist", ip_range=secrets[2]),
                match("regex", regex=secrets[3], parameter=payload("ref")),
            )
        )
        shown = model.rule_outline(rule)
        for secret in secrets:
            self.assertNotIn(secret, shown)

    def test_asWebhookEvaluatesTheEmptyOnes(self) -> None:
        self.assertEqual(model.rule_outline(None), "none")
        self.assertEqual(model.rule_outline(model.And(())), "always")
        self.assertEqual(model.rule_outline(model.Or(())), "never")
        self.assertEqual(model.rule_outline(model.NoRule()), "never")
        one = match("value", value="x", parameter=header("X-Token"))
        self.assertEqual(model.rule_outline(model.And((one,))), "value of header X-Token")
        self.assertEqual(model.rule_outline(match("value", value="x")), "value")


def rule_json(rule: model.Rule) -> dict[str, Any]:
    """A rule as a hooks file writes it."""
    if isinstance(rule, model.And):
        return {"and": [rule_json(r) for r in rule.rules]}
    if isinstance(rule, model.Or):
        return {"or": [rule_json(r) for r in rule.rules]}
    if isinstance(rule, model.Not):
        return {"not": rule_json(rule.rule)}
    if isinstance(rule, model.NoRule):
        return {}
    out: dict[str, Any] = {"type": rule.type}
    for key, value in (
        ("value", rule.value),
        ("regex", rule.regex),
        ("secret", rule.secret),
        ("ip-range", rule.ip_range),
    ):
        if value:
            out[key] = value
    if rule.parameter != model.Argument():
        out["parameter"] = {"source": rule.parameter.source, "name": rule.parameter.name}
    return {"match": out}
