"""Length-prefixed framing (PROTOCOL §2.2) and the frame vocabulary's readers (§4-§5)."""
from __future__ import annotations

import unittest

from ipfi import UNDEFINED, LimitExceededError, ProtocolError
from ipfi import frames as F
from ipfi.codec import encode_plain
from ipfi.wire import FrameDecoder


def frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


class Framing(unittest.TestCase):
    def collect(self, max_frame: int = 1000):
        got = []
        return got, FrameDecoder(max_frame, lambda b, s, e: got.append(bytes(b[s:e])))

    def test_any_chunking_down_to_one_byte(self):
        stream = frame(b"\x05\x91\x01") + frame(b"x" * 300) + frame(b"\x08")
        for size in [1, 2, 3, 4, 5, 7, 64, len(stream)]:
            got, d = self.collect()
            for i in range(0, len(stream), size):
                d.push(stream[i:i + size])
            self.assertEqual(got, [b"\x05\x91\x01", b"x" * 300, b"\x08"], size)
            self.assertFalse(d.partial)

    def test_the_example_of_the_page(self):
        got, d = self.collect()
        d.push(bytes.fromhex("00 00 00 03 05 91 01"))
        self.assertEqual(got, [bytes.fromhex("05 91 01")])

    def test_empty_frame_and_over_the_limit_from_the_header_alone(self):
        _, d = self.collect()
        with self.assertRaises(ProtocolError):
            d.push(bytes(4))
        _, d = self.collect(10)
        with self.assertRaises(LimitExceededError):
            d.push(b"\x00\x00\x00")
            d.push(b"\x0b")  # 11 > 10: refused before any body byte arrives

    def test_a_new_limit_applies_from_the_next_frame_even_in_the_same_chunk(self):
        got: list = []
        d = FrameDecoder(100, lambda b, s, e: (got.append(e - s), setattr(d, "max_frame", 5)))
        with self.assertRaises(LimitExceededError):
            d.push(frame(b"a" * 50) + frame(b"b" * 6))
        self.assertEqual(got, [50])

    def test_partial(self):
        _, d = self.collect()
        d.push(b"\x00\x00")
        self.assertTrue(d.partial)
        d.push(b"\x00\x05ab")
        self.assertTrue(d.partial)


class ControlBodies(unittest.TestCase):
    def body(self, kind: int, value) -> bytes:
        return bytes([kind]) + encode_plain(value)

    def test_hello(self):
        h = F.hello({"maxFrameBytes": 67108864, "maxHandlesPerMessage": 1024})
        self.assertEqual(h.hex(), "00000034" + "0149504649" + "01" + "de0002" + "ad" + b"maxFrameBytes".hex() + "ce04000000"
                         + "b4" + b"maxHandlesPerMessage".hex() + "cd0400")
        self.assertEqual(F.read_hello(h, 4, len(h)), {"maxFrameBytes": 67108864, "maxHandlesPerMessage": 1024, "heartbeatMs": None})
        bare = b"\x01IPFI\x01"
        self.assertEqual(F.read_hello(bare, 0, 6)["maxFrameBytes"], None)
        floaty = b"\x01IPFI\x01" + encode_plain({"maxFrameBytes": 16777216.0, "x": "unknown keys are ignored",
                                                  "maxHandlesPerMessage": 2**40})
        self.assertEqual(F.read_hello(floaty, 0, len(floaty))["maxFrameBytes"], 16777216)
        self.assertEqual(F.read_hello(floaty, 0, len(floaty))["maxHandlesPerMessage"], 2**32 - 1)
        huge = b"\x01IPFI\x01" + encode_plain({"maxFrameBytes": 1e300, "maxHandlesPerMessage": UNDEFINED})
        self.assertEqual(F.read_hello(huge, 0, len(huge)), {"maxFrameBytes": 2**32 - 1, "maxHandlesPerMessage": None, "heartbeatMs": None})
        for bad in [b"\x01IPFX\x01", b"\x01IPF", b"\x01IPFI\x02", b"\x01IPFI\x01\x90", b"\x01IPFI\x01\x80\x80",
                    b"\x01IPFI\x01" + encode_plain({"maxFrameBytes": 0}), b"\x01IPFI\x01" + encode_plain({"maxFrameBytes": 1.5}),
                    b"\x01IPFI\x01" + encode_plain({"maxFrameBytes": "1"}), b"\x01IPFI\x01" + encode_plain({"heartbeatMs": None}),
                    b"\x01IPFI\x01" + encode_plain({"maxFrameBytes": -1}), b"\x01IPFI\x01" + encode_plain({"maxFrameBytes": True}),
                    b"\x01IPFI\x01\xde\x00\x01\xa1a\xd4\x01\x00\x00"]:
            with self.subTest(bad), self.assertRaises(ProtocolError):
                F.read_hello(bad, 0, len(bad))

    def test_release_finish_dropped_disembargo_goodbye(self):
        b = self.body(F.RELEASE, [1, 2])
        self.assertEqual(F.read_ids_and_reason(b, 0, len(b), 2, "RELEASE"), ([1, 2], None))
        b = self.body(F.RELEASE, [1, 2, "lost upstream"])
        self.assertEqual(F.read_ids_and_reason(b, 0, len(b), 2, "RELEASE"), ([1, 2], "lost upstream"))
        b = bytes.fromhex("05 91 01")
        self.assertEqual(F.read_ids_and_reason(b, 0, len(b), 1, "FINISH"), ([1], None))
        b = bytes.fromhex("04 93 01 02 c0")
        self.assertEqual(F.read_dropped(b, 0, len(b)), (1, 2, None))
        b = self.body(F.DROPPED, [0, 3, 7])
        self.assertEqual(F.read_dropped(b, 0, len(b)), (0, 3, None))  # a non-string reason reads as nil
        b = bytes.fromhex("06 92 a4 62 6f 6f 6d af") + b"ERR_IPFI_EXITED"
        self.assertEqual(F.read_goodbye(b, 0, len(b)), ("boom", "boom"))
        b = bytes.fromhex("06 91 c0")
        self.assertEqual(F.read_goodbye(b, 0, len(b)), (None, None))
        b = bytes.fromhex("06 92 c0 c0")
        self.assertEqual(F.read_goodbye(b, 0, len(b)), (None, None))
        for kind, value, n in [(F.RELEASE, [1], 2), (F.RELEASE, [1, 2, 3], 2), (F.RELEASE, [1, -2], 2), (F.RELEASE, "x", 2),
                               (F.FINISH, [2**32], 1), (F.FINISH, [1.5], 1), (F.FINISH, [True], 1), (F.FINISH, [], 1),
                               (F.FINISH, [float('inf')], 1), (F.FINISH, [-1.0], 1)]:
            b = self.body(kind, value)
            with self.subTest(value), self.assertRaises(ProtocolError):
                F.read_ids_and_reason(b, 0, len(b), n, "X")
        for raw in ["03 92 01 01 01", "03", "03 92 cf 00 00 00 00 00 00 00 01 01", "03 92 d4 01 00 00 01"]:
            b = bytes.fromhex(raw)
            with self.subTest(raw), self.assertRaises(ProtocolError):
                F.read_ids_and_reason(b, 0, len(b), 2, "RELEASE")
        for value in [[0, 1], [2, 1, None], [0, -1, None], [0, 1, None, 1], {"a": 1}]:
            b = self.body(F.DROPPED, value)
            with self.subTest(value), self.assertRaises(ProtocolError):
                F.read_dropped(b, 0, len(b))
        with self.assertRaises(ProtocolError):
            F.read_goodbye(b"\x06\xc1", 0, 2)
        # A whole float is that integer (PROTOCOL.md §5), returned as an int; nil is no lost reason.
        b = self.body(F.FINISH, [1.0])
        self.assertEqual(F.read_ids_and_reason(b, 0, len(b), 1, "FINISH"), ([1], None))
        self.assertIs(type(F.read_ids_and_reason(b, 0, len(b), 1, "FINISH")[0][0]), int)
        b = self.body(F.RELEASE, [3.0, 2.0, None])
        self.assertEqual(F.read_ids_and_reason(b, 0, len(b), 2, "RELEASE"), ([3, 2], None))
        b = self.body(F.DROPPED, [1.0, 4.0, None])
        self.assertEqual(F.read_dropped(b, 0, len(b)), (1, 4, None))
        b = self.body(F.DISEMBARGO, [0.0, 2.0, 1.0])
        self.assertEqual([type(x) for x in F.read_ids(b, 0, len(b), 3, "DISEMBARGO")], [int, int, int])
        b = self.body(F.DISEMBARGO, [0, 2, 1])
        self.assertEqual(F.read_ids(b, 0, len(b), 3, "DISEMBARGO"), [0, 2, 1])


if __name__ == "__main__":
    unittest.main()
