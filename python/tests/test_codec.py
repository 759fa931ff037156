"""The value codec: every type and tag of PROTOCOL §9 both ways, exact bytes where the protocol
fixes them, limits, refusals, malformed input (always ProtocolError, never another exception), and
golden vectors made by the JavaScript implementation (dist/), checked both ways."""
from __future__ import annotations

import array
import json
import math
import subprocess
import unittest
from datetime import datetime, timedelta, timezone

from ipfi import (UNDEFINED, BigInt, ConnectionLostError, DisconnectedError, JsBinary, JsDate, JsSet, LimitExceededError, Map, ObjectKey,
                  NullProtoDict, ProtocolError, RegExp, RemoteError, URL, UnsupportedValueError, register_error_class)
from ipfi.codec import Handle, MAX_DECODE_DEPTH, MAX_NESTING_DEPTH, decode, decode_plain, encode, encode_plain, walk_local
from tests.support import fixture, node, same
from tests.values_table import EXPECTED, SAME_BYTES, check_error

UTC = timezone.utc


def rt(v):
    enc = encode(v)
    assert enc.handles == []
    return decode(enc.payload)


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


class RoundTrips(unittest.TestCase):
    def check(self, v, expected=None):
        got = rt(v)
        self.assertTrue(same(got, v if expected is None else expected), f"{v!r} came back as {got!r}")

    def test_scalars(self):
        for v in [None, True, False, UNDEFINED, 0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, 2**32 - 1,
                  -128, -129, -32768, -32769, -(2**31), 1.5, -0.0, 0.0, math.inf, -math.inf, 0.1, "", "é😀", "x" * 70000,
                  b"", b"\x00\xff", bytes(70000)]:
            self.check(v)
        self.assertTrue(math.isnan(rt(math.nan)))

    def test_ints_outside_32_bits_travel_as_bigints(self):
        for v in [2**32, -(2**31) - 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**64), 2**200, -(2**200)]:
            self.check(v, BigInt(v))
        for v in [BigInt(0), BigInt(5), BigInt(-5), BigInt(2**70)]:
            self.check(v)

    def test_containers(self):
        self.check([1, [2, [3, []]], {"a": {"b": None}}])
        self.check((1, 2), [1, 2])
        self.check(list(range(70000)))
        self.check({str(i): i for i in range(70000)})
        self.check({"__proto__": 1, "constructor": 2, "prototype": 3})
        self.check({1: "one", "1": "string one", None: "nil"}, Map({1: "one", "1": "string one", None: "nil"}))
        self.check(Map({"a": 1}))
        self.check({"big": bytes(100_000), 1: b"x" * 70_000}, Map({"big": bytes(100_000), 1: b"x" * 70_000}))
        self.check(Map())
        self.check(NullProtoDict(x=1, y=[2]))
        self.check({1, "a", None})
        self.check(frozenset({1}), {1})
        self.check(bytearray(b"ab"), b"ab")
        self.check(memoryview(b"ab"), b"ab")

    def test_map_and_set_keys_that_python_must_make_hashable(self):
        got = decode(h("d4 02 00 92 92 01 02 a1 78"))  # Map { [1, 2] => 'x' }
        self.assertTrue(same(got, Map({(1, 2): "x"})))
        self.assertEqual(decode(h("d4 73 00 91 91 01")), {(1,)})
        # Objects, Maps and typed arrays as Map keys or Set items: ObjectKeys, distinct by identity as
        # in JavaScript (two equal objects are two keys), going back out as they came.
        payload = h("d4 02 00 96 81 a1 61 01 a1 78 81 a1 61 01 a1 79 d4 02 00 92 01 02 a1 7a")  # Map { {a:1} => 'x', {a:1} => 'y', Map {1 => 2} => 'z' }
        got = decode(payload)
        self.assertEqual(len(got), 3)
        keys = list(got)
        self.assertEqual([type(k) for k in keys], [ObjectKey, ObjectKey, ObjectKey])
        self.assertEqual([k.value for k in keys[:2]], [{"a": 1}, {"a": 1}])
        self.assertIsNot(keys[0], keys[1])
        self.assertEqual(got[keys[1]], "y")
        self.assertTrue(same(keys[2].value, Map({1: 2})))
        self.assertEqual(decode(encode(got).payload).pairs()[2][1], "z")
        self.assertTrue(same(decode(encode(got).payload), got))
        items = decode(h("d4 73 00 92 80 c7 03 74 04 07 00"))  # Set { {}, Uint16Array [7] }
        self.assertEqual([type(x) for x in items.ordered()], [ObjectKey, ObjectKey])
        self.assertEqual(encode(items).payload, h("d4 73 00 92 de 00 00 c7 03 74 04 07 00"))  # objects as map16, as JS writes them
        # One made here: a Map keyed by an object, sent over a link or in process (the same object).
        mine = Map({ObjectKey({"k": 1}): 2})
        self.assertEqual(encode(mine).payload, h("d4 02 00 92 de 00 01 a1 6b 01 02"))
        self.assertIs(walk_local(mine, lambda handle: handle), mine)

    def test_dates(self):
        for v in [datetime(1970, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
                  datetime(1960, 5, 6, 7, 8, 9, 123000, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
                  datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), datetime(2106, 2, 8, tzinfo=UTC)]:
            self.check(v)
        self.check(datetime(2020, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), datetime(2020, 1, 1, tzinfo=UTC))
        self.check(JsDate(8.64e15))
        self.check(JsDate(-8.64e15))
        got = rt(JsDate(math.nan))
        self.assertIsInstance(got, JsDate)
        self.assertFalse(got.valid)
        with self.assertRaises(UnsupportedValueError):
            encode(datetime(2020, 1, 1))

    def test_timestamp_encodings(self):
        self.assertEqual(encode(datetime(2020, 1, 1, tzinfo=UTC)).payload, h("d6 ff 5e 0b e1 00"))
        self.assertEqual(encode(datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)).payload, h("d7 ff 00 3d 09 00 00 00 00 00"))
        self.assertEqual(encode(datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)).payload,
                         h("c7 0c ff 3b 8b 87 c0 ff ff ff ff ff ff ff ff"))
        self.assertEqual(encode(JsDate(math.nan)).payload, h("d4 ff ff"))
        # 64-bit timestamps carry 34 bits of seconds: the top two bits sit in the nanosecond word.
        self.assertEqual(decode(h("d7 ff 00 00 00 01 00 00 00 00")), datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=2**32))
        for bad in ["d5 ff 00 00", "c7 00 ff", "c7 03 ff 00 00 00"]:
            self.assertFalse(decode(h(bad)).valid)

    def test_url_regexp_binaries(self):
        self.check(URL("https://example.com/a?b=1"))
        self.check(RegExp("ab+c", "gi"))
        for tc, vals in [("b", [-1, 2]), ("B", [1, 2]), ("h", [-2]), ("H", [65535]), ("i", [-(2**31)]), ("I", [2**32 - 1]),
                         ("f", [1.5]), ("d", [0.1]), ("q", [-1]), ("Q", [2**64 - 1])]:
            self.check(array.array(tc, vals))
        for kind in JsBinary.KINDS:
            self.check(JsBinary(kind, b"\x01\x02"))
        self.assertEqual(encode(array.array("B", [1, 2])).payload, h("c7 03 74 01 01 02"))
        self.assertEqual(encode(array.array("f", [1])).payload, h("c7 05 74 07 00 00 80 3f"))
        with self.assertRaises(UnsupportedValueError):
            encode(array.array("u", "x"))

    def test_exact_bytes_of_the_protocol_page(self):
        self.assertEqual(encode(-0.0).payload, h("cb 80 00 00 00 00 00 00 00"))
        self.assertEqual(encode(BigInt(5)).payload, h("d3 00 00 00 00 00 00 00 05"))
        self.assertEqual(encode(2**64).payload, h("d8 42 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00"))
        self.assertEqual(encode(UNDEFINED).payload, h("d4 00 00"))
        self.assertEqual(encode({"a": 1}).payload, h("de 00 01 a1 61 01"))
        self.assertEqual(encode(Map({1: 2})).payload, h("d4 02 00 92 01 02"))
        self.assertEqual(encode({1, 2}).payload, h("d4 73 00 92 01 02"))
        self.assertEqual(encode(NullProtoDict(a=1)).payload, h("d4 06 00 de 00 01 a1 61 01"))
        self.assertEqual(encode(URL("a:b")).payload, h("d4 07 00 a3 61 3a 62"))

    def test_every_valid_encoding_is_accepted(self):
        self.assertEqual(decode(h("81 a1 61 01")), {"a": 1})
        self.assertEqual(decode(h("df 00 00 00 01 a1 61 01")), {"a": 1})
        self.assertEqual(decode(h("dd 00 00 00 01 01")), [1])
        self.assertEqual(decode(h("dc 00 01 01")), [1])
        self.assertEqual(decode(h("db 00 00 00 01 61")), "a")
        self.assertEqual(decode(h("c5 00 01 61")), b"a")
        self.assertEqual(decode(h("ca 3f c0 00 00")), 1.5)
        self.assertEqual(decode(h("d0 05")), 5)
        self.assertEqual(type(decode(h("cf 00 00 00 00 00 00 00 05"))), BigInt)
        self.assertIs(decode(h("d5 00 00 00")), UNDEFINED)
        self.assertEqual(decode(h("d4 42 ff")), -1)
        self.assertEqual(decode(h("c7 03 42 01 00 00")), 65536)

    def test_map_keys_become_property_names_as_in_javascript(self):
        self.assertEqual(decode(h("84 01 a1 61 c3 a1 62 c0 a1 63 cb 3f f8 00 00 00 00 00 00 a1 64")),
                         {"1": "a", "true": "b", "null": "c", "1.5": "d"})
        self.assertEqual(decode(h("81 d3 00 00 00 00 00 00 00 07 01")), {"7": 1})
        # undefined too (values.json: "object with keys that are not strings on the wire"; it was refused)
        self.assertEqual(decode(h("83 cb 3f b9 99 99 99 99 99 9a 01 cf ff ff ff ff ff ff ff ff 02 d4 00 00 03")),
                         {"0.1": 1, "18446744073709551615": 2, "undefined": 3})

    def test_invalid_utf8_reads_as_replacement_characters_as_in_javascript(self):
        self.assertEqual(decode(h("a2 ff 61")), "\ufffda")
        self.assertEqual(rt("\ud800"), "\ufffd\ufffd\ufffd")  # a lone surrogate (msgpackr writes ed a0 80 too)


class Errors(unittest.TestCase):
    def test_python_exceptions_travel_as_records(self):
        e = rt(ValueError("boom"))
        self.assertIsInstance(e, RemoteError)
        self.assertEqual((e.name, e.message), ("ValueError", "boom"))
        self.assertEqual(rt(Exception("x")).name, "Error")

    def test_a_remote_error_goes_on_as_it_came(self):
        src = h("d4 03 00") + encode_plain({"name": "TypeError", "message": "m", "stack": "TypeError: m\n  at f",
                                             "fields": {"code": "E_X", "__class__": 1}, "cause": 5})
        e = decode(src)
        self.assertIsInstance(e, TypeError)
        self.assertIsInstance(e, RemoteError)
        self.assertEqual((e.code, e.cause, e.fields["__class__"]), ("E_X", 5, 1))
        self.assertIs(type(e).__name__, "RemoteTypeError")
        again = rt(e)
        self.assertEqual((again.name, again.message, again.stack, again.fields, again.cause),
                         ("TypeError", "m", "TypeError: m\n  at f", {"code": "E_X", "__class__": 1}, 5))

    def test_ipfi_error_names_come_back_as_their_classes(self):
        e = rt(ConnectionLostError("gone"))
        self.assertIsInstance(e, ConnectionLostError)
        self.assertIsInstance(e, DisconnectedError)
        self.assertIsInstance(e, RemoteError)
        self.assertEqual(e.code, "ERR_IPFI_CONNECTION_LOST")

    def test_defaults_and_causes(self):
        e = decode(h("d4 03 00 80"))
        self.assertEqual((e.name, e.message, e.stack), ("Error", "", "Error: "))
        inner = ValueError("inner")
        try:
            raise KeyError("outer") from inner
        except KeyError as caught:
            got = rt(caught)
        self.assertEqual(got.cause.name, "ValueError")
        self.assertIs(got.__cause__, got.cause)
        self.assertIn("Traceback", got.stack)
        e = decode(h("d4 65 00 93 a9") + b"TypeError" + h("a1 6d 05"))  # msgpackr's own error tag
        self.assertEqual((e.name, e.message, e.cause), ("TypeError", "m", 5))

    def test_registered_classes(self):
        class AppError(Exception):
            def __init__(self):  # never called on decode
                raise AssertionError("constructor ran")

        register_error_class(AppError)
        got = decode(h("d4 03 00") + encode_plain({"name": "AppError", "message": "m", "fields": {"detail": 3, "__dict__": 1, "args": 9}}))
        self.assertIsInstance(got, AppError)
        self.assertEqual((got.args, got.detail, got.fields["__dict__"]), (("m",), 3, 1))

    def test_handles_inside_errors_are_refused(self):
        class H(Handle):
            pass
        e = ValueError("x")
        e.h = H()  # type: ignore[attr-defined]
        with self.assertRaises(UnsupportedValueError):
            encode(e)


class Refusals(unittest.TestCase):
    def test_what_would_arrive_reshaped_is_refused(self):
        import collections
        import enum

        class Color(enum.IntEnum):
            RED = 1

        for v in [object(), lambda: 1, collections.OrderedDict(), Color.RED, type("S", (str,), {})("x"), {1: object()},
                  [print], re_compile(), 1j, datetime(2020, 1, 1).date()]:
            with self.assertRaises(UnsupportedValueError, msg=repr(v)):
                encode(v)
            with self.assertRaises(UnsupportedValueError, msg=repr(v)):
                walk_local(v, lambda x: x)

    def test_depth_and_cycles(self):
        v: list = []
        for _ in range(400):
            v = [v]
        self.assertTrue(same(rt(v), v))
        cyc: list = []
        cyc.append(cyc)
        with self.assertRaises(UnsupportedValueError):
            encode(cyc)
        with self.assertRaises(UnsupportedValueError):
            walk_local(cyc, lambda x: x)
        with self.assertRaises(LimitExceededError):
            decode(b"\x91" * (MAX_DECODE_DEPTH + 5) + b"\x90")

    def test_plain_encoding_refuses_handles(self):
        class H(Handle):
            pass
        with self.assertRaises(UnsupportedValueError):
            encode_plain([H()])


def re_compile():
    import re
    return re.compile("x")


MALFORMED = {
    "empty": "",
    "reserved byte": "c1",
    "reserved byte nested": "91 c1",
    "truncated int": "cd 01",
    "truncated str": "a5 61",
    "truncated bin": "c4 05 00",
    "array longer than the message": "dd ff ff ff ff",
    "map longer than the message": "df ff ff ff ff",
    "trailing bytes": "01 02",
    "map key of a non-scalar type": "81 90 01",
    "bin map key": "81 c4 01 00 01",
    "record definition d4": "d4 72 40",
    "record definition d5": "d5 72 40 00",
    "unknown ext": "d4 55 00",
    "structured clone": "d6 69 00 00 00 01",
    "string bundle": "d6 62 00 00 00 01",
    "unknown ext 8": "c7 01 55 00",
    "handle with no caps": "d4 01 00 00",
    "negative handle index": "d4 01 00 ff",
    "bigint handle index": "d4 01 00 d3 00 00 00 00 00 00 00 00",
    "float handle index": "d4 01 00 cb 00 00 00 00 00 00 00 00",
    "odd Map": "d4 02 00 91 01",
    "Map of a scalar": "d4 02 00 01",
    "Error tag on a scalar": "d4 03 00 01",
    "Error tag on nothing": "d4 03 00",
    "no prototype on an array": "d4 06 00 90",
    "URL on a number": "d4 07 00 01",
    "URL that is not one": "d4 07 00 a3 61 62 63",
    "Set of a scalar": "d4 73 00 01",
    "RegExp of one string": "d4 78 00 91 a0",
    "typed array of an unknown code": "c7 02 74 0b 00",
    "typed array misaligned": "c7 04 74 07 00 00 00",
    "empty bigint": "c7 00 42",
    "tag in a longer ext": "d5 02 00 00 90",
    "a tag whose value is a tag": "d4 02 00 d4 02 00 90",
}


class Malformed(unittest.TestCase):
    def test_malformed_payloads_raise_protocol_error_only(self):
        for what, hexs in MALFORMED.items():
            with self.subTest(what):
                with self.assertRaises(ProtocolError):
                    decode(h(hexs))

    def test_random_garbage_never_raises_anything_else(self):
        import random
        rnd = random.Random(7)
        seeds = [encode(v).payload for v in [{"a": [1, 2.5, "x", None]}, Map({1: {2}}), ValueError("e"),
                                              datetime(2020, 1, 1, tzinfo=UTC), array.array("h", [1, 2])]]
        for _ in range(3000):
            b = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 4)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            try:
                decode(bytes(b[: rnd.randint(1, len(b))]))
            except ProtocolError:
                pass

    def test_handle_reader(self):
        seen = []
        v = decode(h("92 d4 01 00 00 d4 04 00 01"), lambda i, tag: seen.append((i, tag)) or f"h{i}")
        self.assertEqual((v, seen), (["h0", "h1"], [(0, 1), (1, 4)]))
        # A whole float64 index is that index, as in JS (PROTOCOL.md §9.12); a fraction is malformed.
        seen.clear()
        self.assertEqual(decode(h("d4 01 00 cb 3f f0 00 00 00 00 00 00"), lambda i, tag: seen.append((type(i), i)) or "h"), "h")
        self.assertEqual(seen, [(int, 1)])
        for bad in ["d4 01 00 cb 3f f8 00 00 00 00 00 00", "d4 01 00 cb bf f0 00 00 00 00 00 00", "d4 01 00 a1 30"]:
            with self.subTest(bad), self.assertRaisesRegex(ProtocolError, "malformed handle reference"):
                decode(h(bad), lambda i, tag: "h")


def _depth(v) -> int:
    """Levels of arrays and maps, as the wire counts them (a Map is one, an error its record's map)."""
    deepest, todo = 0, [(v, 0)]
    while todo:  # a loop: the values here are too deep to walk with recursion
        x, d = todo.pop()
        if isinstance(x, Map):
            items = [y for kv in x.pairs() for y in kv]
        elif isinstance(x, dict):
            items = list(x.values())
        elif isinstance(x, (list, tuple, set, frozenset)):
            items = list(x)
        else:
            deepest = max(deepest, d)
            continue
        deepest = max(deepest, d + 1)
        todo.extend((y, d + 1) for y in items)
    return deepest


class NestingDepth(unittest.TestCase):
    """At most MAX_NESTING_DEPTH (512) levels of arrays and maps, counted as JavaScript counts them
    (src/codec/depth.ts, test/codec.test.ts): 512 are accepted, 513 refused, with LimitExceededError
    when decoding (it closes only that link: the hostile-nesting-too-deep scenario) and
    UnsupportedValueError when encoding, whatever the interpreter's recursion limit."""

    def test_the_limit_is_the_protocols(self):
        self.assertEqual((MAX_NESTING_DEPTH, MAX_DECODE_DEPTH), (512, 512))

    def test_decoding_512_levels_are_accepted_and_513_refused_in_every_format(self):
        formats = [("fixarray", "91", "90"), ("array 16", "dc 00 01", "dc 00 00"), ("array 32", "dd 00 00 00 01", "dd 00 00 00 00"),
                   ("fixmap", "81 a0", "80"), ("map 16", "de 00 01 a1 6b", "de 00 00"), ("map 32", "df 00 00 00 01 c0", "df 00 00 00 00")]
        for name, opener, empty in formats:
            for innermost in ("01", empty):
                levels = 512 if innermost == "01" else 511
                with self.subTest(name, innermost=innermost):
                    self.assertEqual(_depth(decode(h(opener * levels + innermost))), 512)
                    with self.assertRaises(LimitExceededError) as e:
                        decode(h(opener * (levels + 1) + innermost))
                    self.assertIn("nested deeper than 512 levels (MAX_NESTING_DEPTH)", str(e.exception))
        for far in (h("91" * 200_000 + "01"), h("d4 02 00 92 01" * 100_000 + "90")):
            with self.assertRaises(LimitExceededError):
                decode(far)

    def test_decoding_tags_count_as_their_value(self):
        inner511 = lambda s: h("91" * 511 + s)  # noqa: E731
        for s in ("d4 02 00 92 01 02", "d4 73 00 91 01", "d4 03 00 81 a4 6e 61 6d 65 a1 45", "d4 78 00 92 a1 61 a0"):
            with self.subTest(s):
                decode(inner511(s))
                with self.assertRaises(LimitExceededError):
                    decode(h("91" * 512 + s))
        self.assertEqual(decode(h("91" * 512 + "d4 01 00 00"), lambda i, tag: ("handle", i)), _nest(512, ("handle", 0)))
        for leaf in ("d4 00 00", "d6 ff 00 00 00 01", "d9 03 91 91 91", "c4 02 91 91"):
            decode(h("91" * 512 + leaf))
        # 512 Maps one in another (each a tag and an array), and 512 errors each the cause of the next.
        maps = h("d4 02 00 92 01" * 511 + "d4 02 00 90")
        self.assertEqual(_depth(decode(maps)), 512)
        with self.assertRaises(LimitExceededError):
            decode(h("91") + maps)

    def test_the_limit_holds_under_any_recursion_limit(self):
        import sys
        saved = sys.getrecursionlimit()
        try:
            sys.setrecursionlimit(200)
            self.assertEqual(_depth(decode(h("d4 02 00 92 01" * 511 + "d4 02 00 90"))), 512)
        finally:
            sys.setrecursionlimit(saved)
        self.assertEqual(sys.getrecursionlimit(), saved)

    def test_encoding_refuses_what_decoding_would(self):
        def rec(n, make):
            v = 1
            for _ in range(n):
                v = make(v)
            return v
        builders = {
            "lists": lambda n: rec(n, lambda v: [v]),
            "dicts": lambda n: rec(n, lambda v: {"k": v}),
            "Maps": lambda n: rec(n, lambda v: Map([(1, v)])),
            "Sets": _sets,
            "NullProtoDicts": lambda n: rec(n, lambda v: NullProtoDict(k=v)),
            "an error at the bottom": lambda n: _nest(n - 1, RemoteError("Error", "e")),
            "an error with fields at the bottom": lambda n: _nest(n - 2, RemoteError("Error", "e", fields={"code": "E"})),
            "a RegExp at the bottom": lambda n: _nest(n - 1, RegExp("x", "g")),
            "errors, each the cause of the next": lambda n: rec(n, lambda v: RemoteError("Error", "e", cause=v)),
        }
        for name, build in builders.items():
            with self.subTest(name):
                payload = encode(build(512)).payload
                decode(payload)
                with self.assertRaises(UnsupportedValueError):
                    encode(build(513))
                with self.assertRaises(UnsupportedValueError):
                    walk_local(build(513), lambda x: x)
                walk_local(build(512), lambda x: x)
        # Leaves inside 512 levels are no level of their own.
        for leaf in (datetime(1970, 1, 1, tzinfo=UTC), b"x", URL("http://x/"), BigInt(5), "str", -0.0, array.array("h", [1])):
            decode(encode(_nest(512, leaf)).payload)


def _nest(n, inner):
    for _ in range(n):
        inner = [inner]
    return inner


def _sets(n):
    v = frozenset([1])
    for _ in range(n - 1):
        v = frozenset([v])
    return v


class JsSetsAndMaps(unittest.TestCase):
    """A Set or Map goes back out as it came: in its order (Python's sets have none of their own),
    with keys JavaScript tells apart and Python holds as one (1 and true, 5 and 5n, equal arrays)."""

    def test_a_set_keeps_its_order(self):
        payload = h("d4 73 00 94 01 a1 61 c0 91 02")  # Set {1, 'a', null, [2]}
        got = decode(payload)
        self.assertIsInstance(got, set)
        self.assertEqual(got.ordered(), [1, "a", None, (2,)])
        self.assertEqual(encode(got).payload, payload)
        words = [f"w{i}" for i in range(50)]  # string hashes vary per process: no order of their own
        many = encode(JsSet(words)).payload
        self.assertEqual(decode(many).ordered(), words)
        self.assertEqual(encode(decode(many)).payload, many)

    def test_a_changed_set_goes_out_as_it_is_now(self):
        s = decode(h("d4 73 00 93 01 02 03"))
        s.discard(2)
        s.add(4)
        self.assertEqual(s.ordered(), [1, 3, 4])
        self.assertEqual(decode(encode(s).payload), {1, 3, 4})

    def test_a_map_keeps_keys_javascript_tells_apart(self):
        # Map {1 -> 'one', true -> 'yes', 1n -> 'big', [1] -> 'a', [1] -> 'b'}: five keys in JavaScript
        payload = h("d4 02 00 9a 01 a3 6f 6e 65 c3 a3 79 65 73 d3 00 00 00 00 00 00 00 01 a3 62 69 67 91 01 a1 61 91 01 a1 62")
        got = decode(payload)
        pairs = got.pairs()
        self.assertEqual([type(k) for k, _ in pairs], [int, bool, BigInt, tuple, tuple])
        self.assertEqual([v for _, v in pairs], ["one", "yes", "big", "a", "b"])
        self.assertEqual(encode(got).payload, payload)
        got[2] = "two"  # changed: goes out as the dict it is now
        self.assertEqual(len(decode(encode(got).payload).pairs()), len(got))

    def test_keys_that_are_one_key_in_javascript_too_stay_one(self):
        got = decode(h("d4 02 00 94 01 a1 61 cb 3f f0 00 00 00 00 00 00 a1 62"))  # Map {1 -> 'a', 1.0 -> 'b'}: one number
        self.assertEqual(got.pairs(), [(1, "b")])


class GoldenVectors(unittest.TestCase):
    """The JavaScript implementation writes a table of values; Python reads each as expected and
    writes it back; JavaScript reads Python's bytes and finds each value deep-equal to its own."""

    @classmethod
    def setUpClass(cls):
        out = subprocess.run([node(), fixture("codec_vectors.mjs"), "encode"], capture_output=True, check=True, timeout=60)
        cls.js = {k: bytes.fromhex(v) for k, v in json.loads(out.stdout).items()}

    def test_python_decodes_what_javascript_wrote(self):
        for name, payload in self.js.items():
            with self.subTest(name):
                got = decode(payload)
                if name in EXPECTED:
                    self.assertTrue(same(got, EXPECTED[name]), f"{name}: {got!r}"[:300])
                else:
                    check_error(self, name, got)

    def test_python_writes_the_same_bytes(self):
        for name in SAME_BYTES:
            with self.subTest(name):
                self.assertEqual(encode(EXPECTED[name]).payload.hex(), self.js[name].hex())

    def test_javascript_decodes_what_python_wrote(self):
        mine = {name: encode(v).payload.hex() for name, v in EXPECTED.items()}
        # Errors that came from JavaScript go back as they came; so do values decoded from its bytes.
        for name, payload in self.js.items():
            if name not in EXPECTED:
                mine[name] = encode(decode(payload)).payload.hex()
        mine["py_value_error"] = encode(ValueError("from python")).payload.hex()
        mine["py_big_int"] = encode(2**40).payload.hex()
        out = subprocess.run([node(), fixture("codec_vectors.mjs"), "decode"], input=json.dumps(mine).encode(),
                             capture_output=True, check=True, timeout=60)
        verdicts = json.loads(out.stdout)
        for name in EXPECTED.keys() | (self.js.keys() - EXPECTED.keys()):
            with self.subTest(name):
                self.assertEqual(verdicts[name], "same")
        self.assertEqual(verdicts["py_value_error"]["name"], "ValueError")
        self.assertEqual(verdicts["py_value_error"]["message"], "from python")
        self.assertEqual(verdicts["py_big_int"], {"type": "bigint", "value": str(2**40)})


if __name__ == "__main__":
    unittest.main()
