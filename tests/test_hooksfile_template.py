"""
hookdaemon.hooksfile.template: Go's text/template as webhook's -template uses
it, construct by construct, and against the real webhook 2.8.0 (Debian's, built
with Go 1.19) on one hooks file: the answer of each hook is its rendered
response-message.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase, TestCase

from hookdaemon.hooksfile.template import (
    TemplateError,
    TemplateFunctions,
    render,
    system_functions,
)


def functions(
    env: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    credentials: Mapping[str, str] | None = None,
) -> TemplateFunctions:
    """Functions over plain mappings, so a test reads no environment and no file."""
    env = env or {}
    files = files or {}
    credentials = credentials or {}
    return TemplateFunctions(
        getenv=lambda name: env.get(name, ""),
        cat=lambda path: files.get(path, ""),
        credential=lambda name: credentials.get(name, ""),
    )


def r(text: str, **env: str) -> str:
    return render(text, functions(env))


class TemplateErrorAssertions:
    def assertTemplateError(self, text: str, expected: str, **env: str) -> TemplateError:
        try:
            render(text, functions(env))
        except TemplateError as e:
            assert str(e) == expected, f"{text!r}: {str(e)!r} != {expected!r}"
            return e
        raise AssertionError(f"{text!r} rendered; expected {expected!r}")


class TextAndActionTests(SynchronousTestCase):
    def test_textWithoutActionsIsUnchanged(self) -> None:
        text = '[{"id": "a", "note": "}} and { alone stay"}]\n'
        self.assertEqual(r(text), text)

    def test_emptyTemplateIsEmpty(self) -> None:
        self.assertEqual(r(""), "")

    def test_noDataPrintsNoValue(self) -> None:
        # Go prints the invalid value of nil data as "<no value>"; so is $.
        self.assertEqual(r("x{{.}}y{{ $ }}z"), "x<no value>y<no value>z")

    def test_literalsPrintAsGoPrintsThem(self) -> None:
        self.assertEqual(
            r('{{"s"}} {{`r`}} {{1}} {{true}} {{false}} {{1.5}}'), "s r 1 true false 1.5"
        )

    def test_actionThatDeclaresPrintsNothing(self) -> None:
        self.assertEqual(r('a{{ $x := "v" }}b{{ $x = "w" }}c{{ $x }}'), "abcw")

    def test_actionsMaySpanLines(self) -> None:
        # Newlines are spaces inside an action since Go 1.16.
        self.assertEqual(r('{{ printf "%s-%s"\n  "a"\n  "b" }}'), "a-b")

    def test_nonUTF8TextRoundTripsAsSurrogateEscapes(self) -> None:
        text = b"\xff{{ 1 }}\xfe".decode("utf-8", "surrogateescape")
        self.assertEqual(r(text).encode("utf-8", "surrogateescape"), b"\xff1\xfe")


class TrimTests(SynchronousTestCase):
    def test_trimMarkersRemoveSpacesTabsAndNewlines(self) -> None:
        self.assertEqual(r("a \t\n {{- 1 -}} \n\t b"), "a1b")

    def test_leftTrimOnly(self) -> None:
        self.assertEqual(r("a  {{- 1 }}  b"), "a1  b")

    def test_rightTrimOnly(self) -> None:
        self.assertEqual(r("a  {{ 1 -}}\n  b"), "a  1b")

    def test_markerNeedsASpace(self) -> None:
        # "{{-3}}" is minus three, and "{{-"x"}}" a minus sign that is no number.
        self.assertEqual(r("a {{-3}} b"), "a -3 b")
        self.assertEqual(r("a {{- 3}} b"), "a3 b")
        self.assertRaises(TemplateError, r, 'a {{-"b"}}')

    def test_newlineCountsAsTheMarkersSpace(self) -> None:
        self.assertEqual(r("a {{-\n1\n-}} b"), "a1b")

    def test_trimmedComment(self) -> None:
        self.assertEqual(r("a \n {{- /* note */ -}} \n b"), "ab")

    def test_trimAcrossLinesOfAJSONString(self) -> None:
        text = '"{{ if eq (getenv "E") "prod" -}}\n    on\n  {{- else -}}\n    off\n  {{- end }}"'
        self.assertEqual(r(text, E="prod"), '"on"')
        self.assertEqual(r(text), '"off"')


class CommentTests(SynchronousTestCase, TemplateErrorAssertions):
    def test_commentsPrintNothing(self) -> None:
        self.assertEqual(r("a{{/* one\ntwo */}}b"), "ab")

    def test_commentMustTouchTheDelimiters(self) -> None:
        self.assertTemplateError("{{ /* c */ }}", 'line 1: unexpected "/" in command')
        self.assertTemplateError("{{/* c */ }}", "line 1: comment ends before closing delimiter")

    def test_unclosedComment(self) -> None:
        self.assertTemplateError("\n{{/* c }}", "line 2: unclosed comment")


class LiteralTests(SynchronousTestCase, TemplateErrorAssertions):
    def test_stringEscapes(self) -> None:
        self.assertEqual(
            r(r'{{ "\a\b\f\n\r\t\v\\\"\x41\101\u00e9\U0001F600" }}'),
            '\a\b\f\n\r\t\v\\"AAé\U0001f600',
        )

    def test_byteEscapesMakeBytes(self) -> None:
        self.assertEqual(r(r'{{ "\xc3\xa9\303\251" }}'), "éé")
        self.assertEqual(r(r'{{ "\xff" }}').encode("utf-8", "surrogateescape"), b"\xff")

    def test_badEscapes(self) -> None:
        for text in (
            r'{{ "\q" }}',
            r'{{ "\'" }}',
            r'{{ "\x4" }}',
            r'{{ "\400" }}',
            r'{{ "\ud800" }}',
        ):
            self.assertTemplateError(text, "line 1: invalid syntax")

    def test_rawStringsKeepBackslashesAndLoseCarriageReturns(self) -> None:
        self.assertEqual(r("{{ `a\\n\r\nb` }}"), "a\\n\nb")

    def test_integers(self) -> None:
        self.assertEqual(
            r("{{ print 0x1F 0X1f 017 0o17 0b101 1_000 0x_1F -5 +5 -0 }}"),
            "31 31 15 15 5 1000 31 -5 5 0",
        )

    def test_floats(self) -> None:
        self.assertEqual(
            r("{{ print 1.5 .5 5. 1e3 1.5e-3 1_0.5 0x1p4 -0.0 }}"),
            "1.5 0.5 5 1000 0.0015 10.5 16 -0",
        )

    def test_characterConstantsAreInts(self) -> None:
        self.assertEqual(r(r"{{ print 'a' '\n' '\x41' '\377' 'é' '\'' }}"), "97 10 65 255 233 39")

    def test_complex(self) -> None:
        self.assertEqual(r("{{ print 1i 1+2i 1e1-2.5i 0i }}"), "(0+1i) (1+2i) (10-2.5i) (0+0i)")

    def test_badNumbers(self) -> None:
        self.assertTemplateError("{{ 08 }}", 'line 1: integer overflow: "08"')
        self.assertTemplateError(
            "{{ 99999999999999999999 }}", 'line 1: integer overflow: "99999999999999999999"'
        )
        self.assertTemplateError("{{ 1e }}", 'line 1: illegal number syntax: "1e"')
        self.assertTemplateError("{{ 1.5e400 }}", 'line 1: illegal number syntax: "1.5e400"')
        self.assertTemplateError("{{ 0x1.8 }}", 'line 1: illegal number syntax: "0x1.8"')
        self.assertTemplateError("{{ 0b2 }}", 'line 1: bad number syntax: "0b2"')
        self.assertTemplateError("{{ 1x }}", 'line 1: bad number syntax: "1x"')
        self.assertTemplateError("{{ 'ab' }}", "line 1: malformed character constant: 'ab'")

    def test_uint64OverflowsWhenUsed(self) -> None:
        # Go parses 2^64-1 (as a uint64) and fails only where it is evaluated.
        self.assertEqual(r("{{ if false }}{{ 18446744073709551615 }}{{ end }}ok"), "ok")
        self.assertTemplateError(
            "{{ print 18446744073709551615 }}",
            "line 1: at <18446744073709551615>: 18446744073709551615 overflows int",
        )

    def test_nilIsNoCommand(self) -> None:
        self.assertTemplateError("{{ nil }}", "line 1: at <nil>: nil is not a command")


class PipelineTests(SynchronousTestCase, TemplateErrorAssertions):
    def test_valueBecomesTheLastArgument(self) -> None:
        self.assertEqual(r('{{ "a" | printf "%s-%s" "b" }}'), "b-a")

    def test_chainedPipes(self) -> None:
        self.assertEqual(r('{{ getenv "X" | print "y" | printf "%q" }}', X="x"), '"yx"')

    def test_parenthesizedPipelines(self) -> None:
        self.assertEqual(r('{{ print (print "a" "b") ("c" | printf "%s!") }}'), "abc!")

    def test_trailingPipeIsAccepted(self) -> None:
        # Go's parser ends the pipeline at the delimiter after a '|'.
        self.assertEqual(r('{{ "a" | }}'), "a")

    def test_literalCannotTakeArguments(self) -> None:
        self.assertTemplateError(
            "{{ 1 2 }}", "line 1: at <1>: can't give argument to non-function 1"
        )
        self.assertTemplateError(
            '{{ "a" | "b" }}', "line 1: non executable command in pipeline stage 2"
        )

    def test_emptyPipeline(self) -> None:
        self.assertTemplateError("{{ }}", "line 1: missing value for command")
        self.assertTemplateError("{{ if }}{{ end }}", "line 1: missing value for if")


class VariableTests(SynchronousTestCase, TemplateErrorAssertions):
    def test_declareAndAssign(self) -> None:
        self.assertEqual(r('{{ $x := "a" }}{{ $x }}{{ $x = "b" }}{{ $x }}'), "ab")

    def test_assignmentInsideIfReachesOut(self) -> None:
        self.assertEqual(r("{{ $x := 1 }}{{ if 1 }}{{ $x = 2 }}{{ end }}{{ $x }}"), "2")

    def test_declarationInsideIfShadowsUntilEnd(self) -> None:
        self.assertEqual(r("{{ $x := 1 }}{{ if 1 }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}"), "21")

    def test_withDeclaresForItsBody(self) -> None:
        self.assertEqual(r('{{ with $v := getenv "V" }}{{ $v }}{{ . }}{{ end }}', V="q"), "qq")

    def test_dollarCanBeRedeclared(self) -> None:
        self.assertEqual(r("{{ $ := 1 }}{{ $ }}"), "1")

    def test_undefinedVariableIsAParseError(self) -> None:
        self.assertTemplateError("{{ $x }}", 'line 1: undefined variable "$x"')
        self.assertTemplateError(
            "{{ with $x := 1 }}{{ end }}\n{{ $x }}", 'line 2: undefined variable "$x"'
        )

    def test_assigningAnUndeclaredVariableFailsWhenRun(self) -> None:
        self.assertEqual(r("{{ if false }}{{ $y = 2 }}{{ end }}ok"), "ok")
        self.assertTemplateError("{{ $y = 2 }}", "line 1: at <2>: undefined variable: $y")

    def test_variableCannotTakeArguments(self) -> None:
        self.assertTemplateError(
            "{{ $x := 1 }}{{ $x 2 }}", "line 1: at <$x>: can't give argument to non-function $x"
        )


class ControlTests(SynchronousTestCase, TemplateErrorAssertions):
    def test_ifElseIfElse(self) -> None:
        text = (
            '{{ if eq (getenv "E") "a" }}A{{ else if eq (getenv "E") "b" }}B{{ else }}C{{ end }}'
        )
        self.assertEqual([r(text, E=e) for e in ("a", "b", "c")], ["A", "B", "C"])

    def test_truth(self) -> None:
        # The zero value of each type is false, and so is no value.
        for value, expected in (
            ('""', "F"),
            ('"0"', "T"),
            ("0", "F"),
            ("1", "T"),
            ("0.0", "F"),
            ("0i", "F"),
            ("1i", "T"),
            ("false", "F"),
            ("true", "T"),
            (".", "F"),
            ('(index "\\x00" 0)', "F"),
        ):
            self.assertEqual(
                r(f"{{{{ if {value} }}}}T{{{{ else }}}}F{{{{ end }}}}"), expected, value
            )

    def test_withSetsDot(self) -> None:
        self.assertEqual(r('{{ with getenv "V" }}[{{ . }}]{{ else }}none{{ end }}', V="v"), "[v]")
        self.assertEqual(r('{{ with getenv "V" }}[{{ . }}]{{ else }}none{{ end }}'), "none")

    def test_elseWithChainsInAWith(self) -> None:
        # Go 1.23 (and webhook releases built with it); Go 1.19's webhook 2.8.0 refuses it.
        text = (
            '{{ with getenv "A" }}a={{ . }}{{ else with getenv "B" }}b={{ . }}'
            "{{ else }}none{{ end }}"
        )
        self.assertEqual(r(text, A="1", B="2"), "a=1")
        self.assertEqual(r(text, B="2"), "b=2")
        self.assertEqual(r(text), "none")

    def test_elseWithInAnIfIsRefused(self) -> None:
        self.assertTemplateError(
            "{{ if 1 }}{{ else with 1 }}{{ end }}", "line 1: unexpected <with> in else"
        )

    def test_unbalanced(self) -> None:
        self.assertTemplateError("{{ end }}", "line 1: unexpected {{end}}")
        self.assertTemplateError("{{ else }}", "line 1: unexpected {{else}}")
        self.assertTemplateError("[\n{{ if 1 }}\n]", "line 3: unexpected EOF")
        self.assertTemplateError(
            "{{ if 1 }}\n{{ else }}\n{{ else }}{{ end }}", "line 3: expected end; found {{else}}"
        )
        self.assertTemplateError('{{ if 1 }}{{ end "x" }}', 'line 1: unexpected "\\"x\\"" in end')


class UnsupportedTests(SynchronousTestCase, TemplateErrorAssertions):
    """What needs data or other templates is refused by name, even where it would not run."""

    def test_range(self) -> None:
        self.assertTemplateError(
            "{{ if false }}\n{{ range . }}{{ end }}{{ end }}",
            "line 2: {{range}} is not supported: webhook renders the hooks file with no data, "
            "so there is nothing to range over",
        )

    def test_otherTemplates(self) -> None:
        for word, text in (
            ("define", '{{ define "x" }}a{{ end }}'),
            ("template", '{{ template "x" }}'),
            ("block", '{{ block "x" . }}a{{ end }}'),
        ):
            self.assertTemplateError(
                text, f"line 1: {{{{{word}}}}} is not supported: a hooks file is a single template"
            )

    def test_fieldsAndMethods(self) -> None:
        reason = (
            "is not supported: fields and methods need data, "
            "and webhook renders the hooks file with no data"
        )
        self.assertTemplateError("{{ .Foo }}", f"line 1: .Foo {reason}")
        self.assertTemplateError("{{ $.Foo.Bar }}", f"line 1: .Foo.Bar {reason}")
        self.assertTemplateError('{{ (getenv "X").Foo }}', f"line 1: .Foo {reason}")

    def test_call(self) -> None:
        self.assertTemplateError(
            '{{ call getenv "x" }}',
            "line 1: call is not supported: it calls functions from data, and webhook renders "
            "the hooks file with no data",
        )

    def test_breakOutsideRange(self) -> None:
        self.assertTemplateError("{{ break }}", "line 1: {{break}} outside {{range}}")

    def test_unknownFunction(self) -> None:
        self.assertTemplateError(
            '[\n  "{{ gettenv "X" }}"\n]', 'line 2: function "gettenv" not defined'
        )


class BuiltinTests(SynchronousTestCase, TemplateErrorAssertions):
    def test_andOrReturnTheDecidingValue(self) -> None:
        self.assertEqual(r('{{ print (and 1 0 2) (and 1 2) (or 0 "" "x") (or 0 "") }}'), "0 2x")

    def test_orGivesADefault(self) -> None:
        self.assertEqual(r('{{ or (getenv "PORT") "8080" }}'), "8080")
        self.assertEqual(r('{{ or (getenv "PORT") "8080" }}', PORT="9"), "9")

    def test_andOrStopAtTheDecidingArgument(self) -> None:
        called: list[str] = []

        def getenv(name: str) -> str:
            called.append(name)
            return ""

        tracking = TemplateFunctions(getenv=getenv, cat=getenv, credential=getenv)
        self.assertEqual(render('{{ or 1 (getenv "A") }}{{ and 0 (getenv "B") }}', tracking), "10")
        self.assertEqual(called, [])

    def test_andOrWithNoValue(self) -> None:
        self.assertEqual(r("{{ and . 1 }}|{{ print (and . 1) }}"), "<no value>|<nil>")

    def test_not(self) -> None:
        self.assertEqual(r('{{ not 0 }} {{ not "a" }} {{ not . }}'), "true false true")

    def test_lenCountsBytes(self) -> None:
        self.assertEqual(r('{{ len "héllo" }}'), "6")

    def test_indexGivesBytes(self) -> None:
        self.assertEqual(r('{{ index "héllo" 1 }} {{ printf "%c" (index "abc" 1) }}'), "195 b")

    def test_slice(self) -> None:
        self.assertEqual(
            r('{{ slice "abcdef" 1 3 }}|{{ slice "abc" 1 }}|{{ slice "abc" }}'), "bc|bc|abc"
        )

    def test_comparisons(self) -> None:
        self.assertEqual(
            r(
                '{{ print (eq 1 1) (eq "a" "b" "a") (ne 1 2) (lt 1 2) (le 2 2)'
                ' (gt "b" "ab") (ge 1.5 2.5) }}'
            ),
            "true true true true true true false",
        )

    def test_intAndUint8Compare(self) -> None:
        self.assertEqual(r('{{ eq (index "a" 0) 97 }} {{ lt -1 (index "a" 0) }}'), "true true")

    def test_eqWithNoValueIsFalse(self) -> None:
        self.assertEqual(
            r('{{ eq . 1 }} {{ eq . . }} {{ eq . nil }} {{ eq "a" . "a" }}'),
            "false true true true",
        )

    def test_comparisonErrors(self) -> None:
        self.assertTemplateError(
            '{{ eq 1 "a" }}',
            'line 1: at <eq 1 "a">: error calling eq: incompatible types for comparison',
        )
        self.assertTemplateError(
            "{{ eq 1 1.0 }}",
            "line 1: at <eq 1 1.0>: error calling eq: incompatible types for comparison",
        )
        self.assertTemplateError(
            "{{ lt true false }}",
            "line 1: at <lt true false>: error calling lt: invalid type for comparison",
        )
        self.assertTemplateError(
            "{{ eq 1 }}", "line 1: at <eq 1>: error calling eq: missing argument for comparison"
        )

    def test_print(self) -> None:
        # Sprint puts a space between operands when neither is a string.
        self.assertEqual(r('{{ print 1 2 "a" 3 nil true 1.5 }}'), "1 2a3 <nil> true 1.5")
        self.assertEqual(r('{{ println 1 "a" 2 }}'), "1 a 2\n")

    def test_floatsPrintShortest(self) -> None:
        self.assertEqual(
            r("{{ print 1e6 1234567.0 100000.0 0.0001 0.00001 1e21 3.0 1.5e300 0.1 }}"),
            "1e+06 1.234567e+06 100000 0.0001 1e-05 1e+21 3 1.5e+300 0.1",
        )

    def test_argumentErrors(self) -> None:
        self.assertTemplateError(
            "{{ getenv }}", "line 1: at <getenv>: wrong number of args for getenv: want 1 got 0"
        )
        self.assertTemplateError(
            '{{ getenv "a" "b" }}',
            "line 1: at <getenv>: wrong number of args for getenv: want 1 got 2",
        )
        self.assertTemplateError("{{ getenv 1 }}", "line 1: at <1>: expected string; found 1")
        self.assertTemplateError(
            "{{ 3 | getenv }}",
            "line 1: at <getenv>: wrong type for value; expected string; got int",
        )
        self.assertTemplateError(
            "{{ getenv . }}", "line 1: at <.>: invalid value; expected string"
        )
        self.assertTemplateError(
            "{{ getenv nil }}", "line 1: at <nil>: cannot assign nil to string"
        )
        self.assertTemplateError(
            "{{ printf }}",
            "line 1: at <printf>: wrong number of args for printf: want at least 1 got 0",
        )

    def test_indexErrors(self) -> None:
        # Go adds the index; hookdaemon does not, as it may be a secret's length.
        for text, reason in (
            ('index "abc" 5', "index out of range"),
            ('index "abc" 3', "index out of range"),
            ('index "abc" 1 0', "can't index item of type uint8"),
            ('index "abc" "x"', "cannot index slice/array with type string"),
            ('index "abc" nil', "cannot index slice/array with nil"),
            ("index 1 0", "can't index item of type int"),
            ("index . 0", "index of untyped nil"),
        ):
            self.assertTemplateError(
                f"{{{{ {text} }}}}", f"line 1: at <{text}>: error calling index: {reason}"
            )

    def test_lenAndSliceErrors(self) -> None:
        self.assertTemplateError(
            "{{ len 3 }}", "line 1: at <len 3>: error calling len: len of type int"
        )
        self.assertTemplateError(
            "{{ len . }}", "line 1: at <len .>: error calling len: len of untyped nil"
        )
        self.assertTemplateError(
            '{{ slice "abc" 2 1 }}',
            'line 1: at <slice "abc" 2 1>: error calling slice: '
            "invalid slice index: the start is after the end",
        )
        self.assertTemplateError(
            '{{ slice "abc" 1 2 3 }}',
            'line 1: at <slice "abc" 1 2 3>: error calling slice: cannot 3-index slice a string',
        )


class EscapeTests(SynchronousTestCase):
    """funcs.go's JSEscape, HTMLEscape and url.QueryEscape, byte for byte (as Go 1.19 has them)."""

    def test_js(self) -> None:
        self.assertEqual(
            r('{{ js "\\\\ \' \\" < > & = \\x00\\x1f\\t\\n /`\\x7f" }}'),
            "\\\\ \\' \\\" \\u003C \\u003E \\u0026 \\u003D \\u0000\\u001F\\u0009\\u000A /`\x7f",
        )

    def test_jsKeepsPrintableRunesAndEscapesOthers(self) -> None:
        self.assertEqual(
            r('{{ js "é€😀\\u00a0\\u2028\\ufeff\\u0300" }}'), "é€😀\\u00A0\\u2028\\uFEFF\u0300"
        )

    def test_jsPassesBytesThatAreNotUTF8(self) -> None:
        rendered = r('{{ js "\\xff<" }}').encode("utf-8", "surrogateescape")
        self.assertEqual(rendered, b"\xff\\u003C")

    def test_jsOfASecretInAJSONString(self) -> None:
        text = '{"secret": "{{ getenv "S" | js }}"}'
        secret = 'pa"ss\\w<o>r&d=é'
        self.assertEqual(json.loads(r(text, S=secret)), {"secret": secret})

    def test_html(self) -> None:
        self.assertEqual(
            r('{{ html "<a href=\\"x\\">\'&\'</a>\\x00" }}'),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;\ufffd",
        )

    def test_urlquery(self) -> None:
        self.assertEqual(
            r('{{ urlquery "a b+c/d?e=f&g#h%~-_.é!*\'()" }}'),
            "a+b%2Bc%2Fd%3Fe%3Df%26g%23h%25~-_.%C3%A9%21%2A%27%28%29",
        )

    def test_severalArgumentsAreSprinted(self) -> None:
        self.assertEqual(
            r('{{ js "a" 1 "b" }}|{{ js 1 2 }}|{{ html "<" ">" }}'), "a1b|1 2|&lt;&gt;"
        )

    def test_noValueIsEscapedAsText(self) -> None:
        self.assertEqual(
            r("{{ js . }}|{{ html nil }}|{{ urlquery . }}"),
            "\\u003Cno value\\u003E|&lt;no value&gt;|%3Cno+value%3E",
        )


class PrintfTests(SynchronousTestCase):
    """fmt's verbs as Go 1.19 prints them (each case checked against webhook 2.8.0)."""

    def assertPrintf(self, args: str, expected: str) -> None:
        self.assertEqual(r("{{ printf " + args + " }}"), expected, args)

    def test_integers(self) -> None:
        self.assertPrintf(
            '"%d|%5d|%-5d|%05d|%x|%X|%o|%b|%c|%q|%U" 42 42 42 42 255 255 8 5 65 65 65',
            "42|   42|42   |00042|ff|FF|10|101|A|'A'|U+0041",
        )
        self.assertPrintf(
            '"%.3d|%8.3d|%-08d|%+05d|% 05d" 7 7 7 7 7', "007|     007|7       |+0007| 0007"
        )
        self.assertPrintf(
            '"%x|%#x|%#o|%O|%#b|%+d" -255 255 8 64 5 5', "-ff|0xff|010|0o100|0b101|+5"
        )
        self.assertPrintf('"%#U|%c|%q" 233 -1 -1', "U+00E9 'é'|\ufffd|'\ufffd'")

    def test_strings(self) -> None:
        self.assertPrintf(
            '"%s|%q|%x|% x|%X|%10s|%-10s|%.2s|%#q|%05s"'
            ' "héllo" "a\\"b\\n" "hi" "hi" "hi" "r" "l" "abc" "x`y" "ab"',
            'héllo|"a\\"b\\n"|6869|68 69|6869|         r|l         |ab|"x`y"|000ab',
        )
        self.assertPrintf(
            '"%q|%+q|%#q|%#x|%# x" "\\u2028\\x01é\\xff" "é😀" "abc" "ab" "ab"',
            '"\\u2028\\x01é\\xff"|"\\u00e9\\U0001f600"|`abc`|0x6162|0x61 0x62',
        )

    def test_floats(self) -> None:
        self.assertPrintf(
            '"%f|%.2f|%e|%g|%8.3f|%G|%08.3f|%+.1f|% .1f"'
            " 3.14159 3.14159 1234.5 0.000012 2.5 1e-10 -3.14159 3.0 3.0",
            "3.141590|3.14|1.234500e+03|1.2e-05|   2.500|1E-10|-003.142|+3.0| 3.0",
        )
        self.assertPrintf(
            '"%.0f|%.0f|%.0f|%.1f|%#g|%.3g|%x|%b" 0.5 1.5 2.5 0.05 1.0 3.14159 3.5 1.0',
            "0|2|2|0.1|1.00000|3.14|0x1.cp+01|4503599627370496p-52",
        )
        self.assertPrintf('"%v|%.2f" 1i 1i', "(0+1i)|(0.00+1.00i)")

    def test_otherVerbs(self) -> None:
        self.assertPrintf(
            '"%v|%t|%T %T %T %T %T|%%|%5%" true false 1 "a" 1.5 true nil',
            "true|false|int string float64 bool <nil>|%|%",
        )
        self.assertPrintf('"%[2]d %[1]d" 1 2', "2 1")
        self.assertPrintf('"%*d|%.*f" 5 1 2 3.14159', "    1|3.14")
        # After %[1]d the next verb takes the second argument.
        self.assertPrintf('"%[2]d %[1]d|%*d|%.*f" 1 2 5 1 2 3.14159', "2 1| 5|%!f(int=2)")

    def test_mistakesArePrintedNotRaised(self) -> None:
        self.assertPrintf('"%d" "str"', "%!d(string=str)")
        self.assertPrintf('"%s" 5', "%!s(int=5)")
        self.assertPrintf('"%d %d" 1', "1 %!d(MISSING)")
        self.assertPrintf('"%d" 1 2', "1%!(EXTRA int=2)")
        self.assertPrintf('"%z" 1', "%!z(int=1)")
        self.assertPrintf('"%s|%v" nil nil', "%!s(<nil>)|<nil>")
        self.assertPrintf('"%[3]d|%!|abc%" 1', "%!d(BADINDEX)|%!!(int=1)|abc%!(NOVERB)")


class ErrorLineTests(SynchronousTestCase, TemplateErrorAssertions):
    def test_lexerErrorsNameTheActionsFirstLine(self) -> None:
        self.assertTemplateError('[\n{{ getenv\n"x"', "line 3: unclosed action started at line 2")
        self.assertTemplateError(
            '[\n{{ print\n  "x\n" }}',
            "line 3: unterminated quoted string in action started at line 2",
        )

    def test_lexerErrors(self) -> None:
        for text, reason in (
            ('{{ "a }}', "unterminated quoted string"),
            ("{{ `a }}", "unterminated raw quoted string"),
            ("{{ 'a }}", "unterminated character constant"),
            ("{{ $x=1 }}", "bad character U+003D '='"),
            ('{{ getenv"x" }}', "bad character U+0022 '\"'"),
            ("{{ ( }}", "unclosed left paren"),
            ("{{ # }}", 'unexpected "#" in command'),
            ("{{ ) }}", 'unexpected ")" in command'),
            ("{{ \x01 }}", "unrecognized character in action: U+0001"),
            ("{{ a : }}", 'function "a" not defined'),
            ("{{ 1 : }}", "expected :="),
        ):
            self.assertTemplateError(text, f"line 1: {reason}")

    def test_executionErrorsNameTheLine(self) -> None:
        self.assertTemplateError(
            '[\n\n  "{{ index "abc" 9 }}"\n]',
            'line 3: at <index "abc" 9>: error calling index: index out of range',
        )

    def test_errorNamesNoValueOfTheEnvironment(self) -> None:
        e = self.assertTemplateError(
            '{{ $s := getenv "S" }}{{ index "ab" (len $s) }}',
            'line 1: at <index "ab" (len $s)>: error calling index: index out of range',
            S="hunter2-and-more",
        )
        self.assertNotIn("hunter2", str(e))
        self.assertNotIn("16", str(e))

    def test_errorCarriesTheLine(self) -> None:
        e = self.assertTemplateError("\n\n{{ nope }}", 'line 3: function "nope" not defined')
        self.assertEqual((e.line, e.reason), (3, 'function "nope" not defined'))
        self.assertIsInstance(e, ValueError)

    def test_deepNestingIsAnErrorNotACrash(self) -> None:
        self.assertTemplateError(
            "{{ " + "(" * 200 + "1" + ")" * 200 + " }}", "line 1: max expression depth exceeded"
        )
        self.assertTemplateError(
            "{{ if 1 }}" * 200 + "{{ end }}" * 200, "line 1: if and with nest too deeply"
        )


class SystemFunctionsTests(SynchronousTestCase):
    """webhook's getenv, cat and credential (hook.go), on real files in a temporary directory."""

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.directory, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_getenvReadsTheMappingGiven(self) -> None:
        f = system_functions({"A": "1"})
        self.assertEqual((f.getenv("A"), f.getenv("B")), ("1", ""))

    def test_catDropsOneTrailingNewline(self) -> None:
        # hook.go's cat since commit 1b13355: strings.TrimSuffix(data, "\n").
        f = system_functions({})
        self.assertEqual(f.cat(self.write("one", b"s3cret\n")), "s3cret")
        self.assertEqual(f.cat(self.write("two", b"s3cret\n\n")), "s3cret\n")
        self.assertEqual(f.cat(self.write("crlf", b"s3cret\r\n")), "s3cret\r")
        self.assertEqual(f.cat(self.write("none", b"s3cret")), "s3cret")

    def test_catOfWhatCannotBeReadIsEmpty(self) -> None:
        f = system_functions({})
        self.assertEqual(f.cat(os.path.join(self.directory, "missing")), "")
        self.assertEqual(f.cat(self.directory), "")
        self.assertEqual(f.cat(""), "")

    def test_catKeepsBytesThatAreNotUTF8(self) -> None:
        path = self.write("binary", b"\xff\x00a")
        rendered = render('{{ cat "' + path + '" | printf "%x" }}', system_functions({}))
        self.assertEqual(rendered, "ff0061")

    def test_credentialReadsTheCredentialsDirectory(self) -> None:
        self.write("db-password", b"from-file\n")
        f = system_functions({"CREDENTIALS_DIRECTORY": self.directory, "db-password": "from-env"})
        self.assertEqual(f.credential("db-password"), "from-file")
        self.assertEqual(f.credential("missing"), "")

    def test_credentialJoinsPathsAsGoDoes(self) -> None:
        # path.Join cleans: "sub/../db" is "db" in the directory.
        self.write("db", b"x")
        f = system_functions({"CREDENTIALS_DIRECTORY": self.directory + "//"})
        self.assertEqual(f.credential("sub/../db"), "x")

    def test_credentialFallsBackToTheEnvironment(self) -> None:
        for environ in ({"TOKEN": "t"}, {"TOKEN": "t", "CREDENTIALS_DIRECTORY": ""}):
            self.assertEqual(system_functions(environ).credential("TOKEN"), "t")

    def test_templateUsesAllThree(self) -> None:
        path = self.write("secret", b"file-secret\n")
        self.write("api", b"api-key\n")
        text = '{{ getenv "USER_NAME" }} {{ cat "' + path + '" | js }} {{ credential "api" }}'
        environ = {"USER_NAME": "deploy", "CREDENTIALS_DIRECTORY": self.directory}
        self.assertEqual(render(text, system_functions(environ)), "deploy file-secret api-key")


# --- The differential test against webhook 2.8.0 -----------------------------

WEBHOOK_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "DEPLOY_ENV": "production",
    "EMPTY": "",
    # No apostrophe under js: webhook's loader takes \' (go-yaml does), JSON does not.
    "SECRET": 'pa"ss\\w<o>r&d=é\t!',
    "HTML": '<b>Tom & "Jerry"\'s</b>',
    "QUERY": "a b&c=d/é?#+~",
    "UNICODE": "héllo\u2028wörld€",
    "COUNT": "3",
}

DIFFERENTIAL_HOOKS = r"""[
  {{- /* a hooks file as people template it: secrets, defaults, switches */ -}}
  {"id": "getenv", "execute-command": "/bin/true",
   "response-message": "{{ getenv "DEPLOY_ENV" }}"},
  {"id": "getenv-js", "execute-command": "/bin/true",
   "response-message": "{{ getenv "SECRET" | js }}"},
  {"id": "js-unicode", "execute-command": "/bin/true",
   "response-message": "{{ js (getenv "UNICODE") }}"},
  {"id": "html", "execute-command": "/bin/true",
   "response-message": "{{ getenv "HTML" | html }}"},
  {"id": "urlquery", "execute-command": "/bin/true",
   "response-message": "https://example.com/?q={{ getenv "QUERY" | urlquery }}"},
  {"id": "printf", "execute-command": "/bin/true",
   "response-message": "{{ printf "%s:%05d|%x|%.2f|%v|%e|%-4s|"
      (getenv "DEPLOY_ENV") 42 255 3.14159 1e6 1234.5 "ab" }}"},
  {"id": "printf-q", "execute-command": "/bin/true",
   "response-message": "{{ printf "%q" (getenv "SECRET") | js }}"},
  {"id": "if-else", "execute-command": "/bin/true",
   "response-message": "{{ if eq (getenv "DEPLOY_ENV") "production" -}}
      live
    {{- else if eq (getenv "DEPLOY_ENV") "staging" -}}
      staging
    {{- else -}}
      dev
    {{- end }}"},
  {"id": "unset-default", "execute-command": "/bin/true",
   "response-message": "{{ or (getenv "UNSET") (getenv "EMPTY") "fallback" }}"},
  {"id": "with", "execute-command": "/bin/true",
   "response-message": "{{ with getenv "UNSET" }}set:{{ . }}{{ else }}unset{{ end -}}
      /{{ with getenv "COUNT" }}n={{ . }}{{ end }}"},
  {"id": "trim", "execute-command": "/bin/true",
   "response-message": "a   {{- "b" -}}   c {{- /* gone */ -}}
        d"},
  {"id": "variables", "execute-command": "/bin/true",
   "response-message": "{{ $env := getenv "DEPLOY_ENV" }}{{ $n := len $env -}}
      {{ $env }}={{ $n }}{{ if gt $n 5 }}{{ $env = "long" }}{{ end }}:{{ $env }}"},
  {"id": "pipelines", "execute-command": "/bin/true",
   "response-message": "{{ getenv "DEPLOY_ENV" | printf "%s-%s" "env" | printf "[%s]" | html }}"},
  {"id": "multiline-action", "execute-command": "/bin/true",
   "response-message": "{{ printf "%s/%s"
        (getenv "DEPLOY_ENV")
        (getenv "COUNT") }}"},
  {"id": "comparisons", "execute-command": "/bin/true",
   "response-message": "{{ print (eq 1 1) (ne "a" "b") (lt 1 2) (le 2 2) (gt "b" "a")
      (ge 1.5 2.5) (eq (index "a" 0) 97) (not "") }}"},
  {"id": "and-or", "execute-command": "/bin/true",
   "response-message": "{{ print (and 1 0 2) (and 1 "x") (or 0 "" "y") (or 0 "") -}}
      |{{ and . 1 }}"},
  {"id": "len-index-slice", "execute-command": "/bin/true",
   "response-message": "{{ len (getenv "UNICODE") }} {{ index "abc" 1 }}
      {{- " " }}{{ slice (getenv "DEPLOY_ENV") 0 4 }}"},
  {"id": "print", "execute-command": "/bin/true",
   "response-message": "{{ print 1 2 "a" 3 nil true 1.5 1e21 0x1F 'a' 1i }}"},
  {"id": "no-value", "execute-command": "/bin/true",
   "response-message": "{{ . }}|{{ $ }}|{{ js . }}|{{ print . }}"},
  {"id": "literals", "execute-command": "/bin/true",
   "response-message": "{{ `raw \n` | js }}|{{ "\u00e9\x41\101" -}}
      |{{ print 017 0o17 0b101 1_000 -0.0 .5 }}"},
  {"id": "printf-mistakes", "execute-command": "/bin/true",
   "response-message": "{{ printf "%d|%s|%d %d|%z" "str" 5 1 }}|{{ printf "%d" 1 2 }}"},
  {"id": "printf-verbs", "execute-command": "/bin/true",
   "response-message": "{{ printf "%c|%U|%#U|%08.3f|%+.2e|%g|%G|%x|% x|%t|%T"
      65 233 233 -3.14159 12345.678 0.000012 1e-10 -255 "hi" true 2.5 }}"},
  {"id": "{{ "templated" }}-id", "execute-command": "/bin/true",
   "response-message": "{{ "hook" | printf "%s from a template" }}"}
]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WebhookDifferentialTests(TestCase):
    """
    The same hooks file served by the real webhook 2.8.0 with C{-template}
    and rendered here: each hook answers with its response-message, which
    must be what L{render} makes of it.
    """

    if shutil.which("webhook") is None:
        skip = "adnanh/webhook is not installed (Debian's package webhook is the reference)"

    def start_webhook(self, hooks: str, environment: Mapping[str, str]) -> int:
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        hooks_path = os.path.join(directory, "hooks.json")
        with open(hooks_path, "w") as f:
            f.write(hooks)
        log_path = os.path.join(directory, "webhook.log")
        port = free_port()
        # The log goes to a file: a pipe nobody reads fills up and stalls webhook.
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    "webhook",
                    "-template",
                    "-hooks",
                    hooks_path,
                    "-ip",
                    "127.0.0.1",
                    "-port",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(environment),
                cwd=directory,
            )

        def stop() -> None:
            process.kill()
            process.wait()

        self.addCleanup(stop)
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                with open(log_path) as f:
                    self.fail(f"webhook exited ({process.returncode}): {f.read()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                if time.monotonic() > deadline:
                    self.fail("webhook did not listen within 30 s")
                time.sleep(0.02)  # polling the port, not waiting a guessed time

    def test_renderedMessagesAreWebhooksAnswers(self) -> None:
        port = self.start_webhook(DIFFERENTIAL_HOOKS, WEBHOOK_ENVIRONMENT)
        rendered = json.loads(render(DIFFERENTIAL_HOOKS, system_functions(WEBHOOK_ENVIRONMENT)))
        self.assertEqual(len(rendered), DIFFERENTIAL_HOOKS.count('"id"'))
        for hook in rendered:
            url = f"http://127.0.0.1:{port}/hooks/{hook['id']}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                body = answer.read().decode()
            self.assertEqual(body, hook["response-message"], hook["id"])

    def test_webhookRefusesWhatRenderRefuses(self) -> None:
        # Without -verbose webhook exits when no hook loads; with it, it says why.
        for text in (
            '[{{ gettenv "X" }}]',
            "[{{ if 1 }}]",
            '[{{ index "abc" 5 }}]',
            "[{{ nil }}]",
        ):
            self.assertRaises(TemplateError, render, text, system_functions({}))
            directory = self.mktemp()
            os.makedirs(directory)
            hooks_path = os.path.join(directory, "hooks.json")
            with open(hooks_path, "w") as f:
                f.write(text)
            result = subprocess.run(
                [
                    "webhook",
                    "-template",
                    "-hooks",
                    hooks_path,
                    "-ip",
                    "127.0.0.1",
                    "-port",
                    str(free_port()),
                ],
                capture_output=True,
                timeout=30,
                env={"PATH": "/usr/bin:/bin"},
            )
            self.assertEqual(result.returncode, 1, text)
            self.assertIn(b"couldn't load any hooks", result.stdout + result.stderr, text)
