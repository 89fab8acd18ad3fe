"""
Tests for L{hookdaemon.hooksfile.go_values}: Go 1.19's encoding/json and fmt
renderings of decoded values, and JSON decoded as webhook's json.Decoder does.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from hookdaemon.hooksfile.go_values import (
    NIL_MAP,
    JSONDecodeError,
    JSONNumber,
    UnsupportedValueError,
    decode_first,
    go_format,
    go_json,
    parameter_string,
)


class GoJSONTests(SynchronousTestCase):
    def test_compactWithSortedKeys(self) -> None:
        self.assertEqual(
            go_json({"b": [1, None], "a": {"z": True, "y": False}}),
            '{"a":{"y":false,"z":true},"b":[1,null]}',
        )

    def test_htmlCharactersAndSeparatorsAreEscaped(self) -> None:
        self.assertEqual(
            go_json("<a & b>\u2028\u2029"), '"\\u003ca \\u0026 b\\u003e\\u2028\\u2029"'
        )

    def test_controlCharactersAsGo119WritesThem(self) -> None:
        # Go 1.22 began writing \b and \f; webhook 2.8.0 in Debian is Go 1.19.8.
        self.assertEqual(
            go_json('\x00\x08\x0c\n\r\t\x1f\x7f"\\'),
            '"\\u0000\\u0008\\u000c\\n\\r\\t\\u001f\x7f\\"\\\\"',
        )

    def test_bytesThatAreNotUTF8AreReplacementCharacters(self) -> None:
        text = b"a\xff\xfeb".decode("utf-8", "surrogateescape")
        self.assertEqual(go_json({text: text}), '{"a\\ufffd\\ufffdb":"a\\ufffd\\ufffdb"}')

    def test_keysSortAsBytes(self) -> None:
        self.assertEqual(
            go_json({"\U0001f600": 1, "\uffff": 2, "B": 3, "a": 4}),
            '{"B":3,"a":4,"\uffff":2,"\U0001f600":1}',
        )

    def test_numbersKeepTheirLiteral(self) -> None:
        self.assertEqual(
            go_json([JSONNumber("1.50"), JSONNumber("-0"), JSONNumber("1e400")]), "[1.50,-0,1e400]"
        )

    def test_nilMapIsNull(self) -> None:
        self.assertEqual(go_json({"f": NIL_MAP}), '{"f":null}')

    def test_floatsAsFloatEncoderWritesThem(self) -> None:
        self.assertEqual(
            [go_json(f) for f in (1e21, 1e20, 1e-6, 1e-7, 0.1, -0.0)],
            ["1e+21", "100000000000000000000", "0.000001", "1e-7", "0.1", "-0"],
        )
        self.assertRaises(UnsupportedValueError, go_json, float("nan"))

    def test_deepNesting(self) -> None:
        value: list[object] = []
        for _ in range(5000):
            value = [value]
        self.assertEqual(len(go_json(value)), 10002)


class GoFormatTests(SynchronousTestCase):
    def test_scalars(self) -> None:
        self.assertEqual(
            [go_format(v) for v in ("s", JSONNumber("1.0"), True, False, None)],
            ["s", "1.0", "true", "false", "<nil>"],
        )

    def test_floatsAsPercentV(self) -> None:
        self.assertEqual(
            [go_format(f) for f in (1e6, 123456.0, 1e-5, 0.0001)],
            ["1e+06", "123456", "1e-05", "0.0001"],
        )

    def test_parameterStringUsesJSONForMapsAndSlices(self) -> None:
        self.assertEqual(parameter_string({"a": "<"}), '{"a":"\\u003c"}')
        self.assertEqual(parameter_string(["x"]), '["x"]')
        self.assertEqual(parameter_string(NIL_MAP), "null")
        self.assertEqual(parameter_string(None), "<nil>")


class DecodeTests(SynchronousTestCase):
    def test_firstValueOnly(self) -> None:
        self.assertEqual(
            decode_first(b' {"a": [1, 2.5e1]} garbage'),
            {"a": [JSONNumber("1"), JSONNumber("2.5e1")]},
        )

    def test_aTopLevelNumberEndsAtTheFirstByteAfterIt(self) -> None:
        # Decoder.Decode: "01" is 0 and a 1 left for the next Decode.
        self.assertEqual(decode_first(b"01"), JSONNumber("0"))

    def test_duplicateKeysKeepTheLast(self) -> None:
        self.assertEqual(decode_first(b'{"a": 1, "a": 2}'), {"a": JSONNumber("2")})

    def test_refusals(self) -> None:
        for data in (
            b"",
            b"   ",
            b"NaN",
            b"-Infinity",
            b"[1,]",
            b'"\x01"',
            b"\xef\xbb\xbf{}",
        ):
            self.assertRaises(JSONDecodeError, decode_first, data)

    def test_deepDocumentsUpToGosLimit(self) -> None:
        self.assertEqual(
            go_json(decode_first(b"[" * 10000 + b"]" * 10000)), "[" * 10000 + "]" * 10000
        )
        self.assertRaises(JSONDecodeError, decode_first, b"[" * 10001 + b"]" * 10001)
        self.assertEqual(
            decode_first(b'[{"a": [], "b": {}}, "x\xff"' + b"]"), [{"a": [], "b": {}}, "x\ufffd"]
        )
