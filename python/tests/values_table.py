"""The values of fixtures/values_table.mjs, as Python holds them: what every interop test
exchanges with JavaScript (one of each kind PROTOCOL §9 carries)."""
from __future__ import annotations

import array
import math
import unittest
from datetime import datetime, timezone

from ipfi import UNDEFINED, BigInt, JsBinary, JsDate, JsSet, Map, NullProtoDict, ObjectKey, RegExp, RemoteError, URL

UTC = timezone.utc

EXPECTED = {
    "null": None,
    "undefined": UNDEFINED,
    "booleans": [True, False],
    "ints": [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2**31)],
    "floats": [1.5, -0.0, math.nan, math.inf, -math.inf, float(2**40), 0.1, float(-(2**31) - 1), float(2**53)],
    "bigints": [BigInt(x) for x in [5, -5, 0, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**64), 2**200, -(2**63) - 1]],
    "strings": ["", "hello", "é", "😀", "x" * 31, "x" * 32, "x" * 255, "x" * 256, "y" * 70000],
    "buffers": [b"\x01\x02\x03", b"\x07" * 300, b"\x09" * 70000, b""],
    "arrays": [[], [1, [2, [3]]], list(range(16)), [i % 3 for i in range(70000)]],
    "objects": [{}, {"a": 1, "b": 2}, {"nested": {"deeper": {"deepest": "yes"}}}, {"__proto__": 1, "constructor": 2}],
    "map": Map({1: "one", "1": "string one", None: "nil", (1, 2): "array key"}),
    "set": {1, "a", None},
    "object_keys": Map.from_pairs([(ObjectKey({"a": 1}), "object key"), (ObjectKey({"a": 1}), "an equal object: another key"),
                                   (ObjectKey(Map({1: 2})), "map key"), (frozenset({ObjectKey({"s": 1})}), "set key")]),
    "object_items": JsSet([ObjectKey({"a": 1}), ObjectKey({"a": 1}), ObjectKey(array.array("H", [7]))]),
    "dates": [datetime(1970, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
              datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC), JsDate(8.64e15)],
    "invalid_date": JsDate(math.nan),
    "regexp": RegExp("ab+c", "gi"),
    "url": URL("https://example.com/a?b=1#c"),
    "typed": [array.array("b", [-1, 2]), array.array("B", [1, 2]), array.array("h", [-2, 3]), array.array("H", [65535]),
              array.array("i", [-(2**31)]), array.array("I", [2**32 - 1]), array.array("f", [1.5]), array.array("d", [0.1]),
              array.array("q", [-1]), array.array("Q", [2**64 - 1])],
    "binaries": [JsBinary("Uint8ClampedArray", b"\xff\x00"), JsBinary("ArrayBuffer", b"\x01\x02\x03"), JsBinary("DataView", b"\x04\x05")],
    "nullProto": NullProtoDict(x=1, y=[2]),
    "nested": {"list": [1, {"m": Map({"k": {1}})}], "when": datetime(1970, 1, 1, tzinfo=UTC), "u": UNDEFINED, "n": None},
}
#: Values whose bytes Python writes exactly as JavaScript does (sets and errors may differ in order or stack).
SAME_BYTES = set(EXPECTED) - {"set", "map", "nested", "object_keys", "object_items"}


def check_error(t: unittest.TestCase, name: str, e: object) -> None:
    t.assertIsInstance(e, RemoteError)
    if name == "type_error":
        t.assertIsInstance(e, TypeError)
        t.assertEqual((e.name, e.message), ("TypeError", "bad type"))
    elif name == "error_code":
        t.assertEqual((e.name, e.message, e.fields), ("Error", "with a code", {"code": "E_X", "n": 7}))
        t.assertEqual(e.code, "E_X")
    elif name == "error_cause":
        t.assertEqual((e.message, e.cause.message), ("outer", "inner"))
        t.assertIs(e.__cause__, e.cause)
    elif name == "error_cause_value":
        t.assertEqual(e.cause, {"why": 5})
    t.assertIn("at ", e.stack)  # the JavaScript stack came along
