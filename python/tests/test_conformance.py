"""The byte traces of docs/PROTOCOL.md, reproduced by the Python implementation byte for byte: the
worked MSG of §9, the A->B->C trace of §6 (a receiver with its queue moved twice, then FINISH
along the chain), a sender sent home (§6), and the parent's first write of §11."""
from __future__ import annotations

import asyncio
import unittest
from typing import Any, Callable, List, Optional, Sequence

import ipfi
from ipfi.channel import bootstrap_receiver, bootstrap_sender
from ipfi.process import offer_ends
from tests.raw_peer import hello
from tests.support import run


class MemoryWire(ipfi.Wire):
    """A wire whose far side is the test: ``feed`` delivers bytes, ``frames()`` what was written."""

    def __init__(self) -> None:
        self.written = bytearray()
        self._on_data: Optional[Callable[[bytes], None]] = None

    def start(self, on_data: Callable[[bytes], None], on_end: Any) -> None:
        self._on_data = on_data

    def write(self, parts: Sequence[Any]) -> None:
        for p in parts:
            self.written += p

    def close(self) -> None:
        pass

    def feed(self, data: bytes) -> None:
        assert self._on_data is not None
        self._on_data(data)

    def take(self, skip_hello: bool = True) -> bytes:
        """What was written since the last take (the HELLO left out)."""
        out = bytes(self.written)
        self.written.clear()
        if skip_hello and out[4:5] == b"\x01":
            out = out[4 + int.from_bytes(out[:4], "big"):]
        return out


def h(text: str) -> bytes:
    """Hex as the page writes it: bytes and u32s separated by spaces, quoted strings as UTF-8."""
    out = bytearray()
    pieces = text.split('"')
    for i, piece in enumerate(pieces):
        if i % 2:
            out += piece.encode()
        else:
            out += bytes.fromhex(piece.replace(" ", "").replace("\n", ""))
    return bytes(out)


async def turn() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def link(name: str) -> "tuple[ipfi.Link, MemoryWire]":
    w = MemoryWire()
    return ipfi.Link(w, name=name), w


class Traces(unittest.TestCase):
    def test_the_worked_example_of_section_8(self) -> None:
        async def main() -> None:
            a, wa = link("A")
            tx, rx = ipfi.channel()
            boot = bootstrap_sender(a)  # held: a handle dropped is closed (and a RELEASE would follow)
            boot.send({"tx": tx})
            await turn()
            self.assertEqual(wa.take().hex(" "), h("00 00 00 18 02 00 00 00 00 00 00 00 00 04 91 92 00 01 de 00 01 a2 74 78 d4 01 00 00").hex(" "))
            # B's answer, fed to A: "hi", then RELEASE [1, 1]; rx disconnects after "hi".
            wa.feed(hello() + h("00 00 00 0d 02 00 00 00 00 01 00 00 00 00 a2 68 69") + h("00 00 00 04 03 92 01 01"))
            self.assertEqual(await rx.recv(timeout=1), "hi")
            with self.assertRaises(ipfi.DisconnectedError):
                await rx.recv(timeout=1)

            b, wb = link("B")
            wb.feed(hello() + h("00 00 00 18 02 00 00 00 00 00 00 00 00 04 91 92 00 01 de 00 01 a2 74 78 d4 01 00 00"))
            inbox = bootstrap_receiver(b)
            got = await inbox.recv(timeout=1)
            got["tx"].send("hi")
            got["tx"].close()
            await turn()
            self.assertEqual(wb.take().hex(" "), h("00 00 00 0d 02 00 00 00 00 01 00 00 00 00 a2 68 69 00 00 00 04 03 92 01 01").hex(" "))
        run(main())

    def test_the_a_b_c_trace_of_section_6(self) -> None:
        async def main() -> None:
            a, wa = link("A")  # A's link to B
            ba, wba = link("B-A")  # B's link to A
            bc, wbc = link("B-C")  # B's link to C
            wba.feed(hello())
            wbc.feed(hello())
            to_b = bootstrap_sender(a)
            tx, rx = ipfi.channel()
            tx.send("q1")
            to_b.send(rx)
            tx.send("a1")
            await turn()
            ab_1 = wa.take()
            # The moving MSG, then the old queue; B passes on the same bytes to C.
            move = h('00 00 00 12 02 00 00000000 00000004 91 92 03 01 d4 01 00 00'
                     '00 00 00 0d 02 01 00000001 00000000 a2 "q1"'
                     '00 00 00 0d 02 01 00000001 00000000 a2 "a1"')
            self.assertEqual(ab_1.hex(" "), move.hex(" "))
            wba.feed(ab_1)
            inbox = bootstrap_receiver(ba)
            at_b = await inbox.recv(timeout=1)
            to_c = bootstrap_sender(bc)
            to_c.send(at_b)
            await turn()
            self.assertEqual(wbc.take().hex(" "), move.hex(" "))
            # "a2" to B's inbound 1, forwarded to C's; then FINISH [1] on both links.
            for act, frame in [(lambda: tx.send("a2"), h('00 00 00 0d 02 01 00000001 00000000 a2 "a2"')),
                               (tx.close, h("00 00 00 03 05 91 01"))]:
                act()
                await turn()
                ab = wa.take()
                self.assertEqual(ab.hex(" "), frame.hex(" "))
                wba.feed(ab)
                await turn()
                self.assertEqual(wbc.take().hex(" "), frame.hex(" "))
        run(main())

    def test_a_sender_sent_home(self) -> None:
        """A exported a sender to B as export 2; B sends it back: "your export 2", then RELEASE after the MSG."""
        async def main() -> None:
            b, wb = link("B")
            wb.feed(hello() + h("00 00 00 12 02 00 00000000 00000004 91 92 00 02 d4 01 00 00"))
            inbox = bootstrap_receiver(b)
            sender = await inbox.recv(timeout=1)
            back = bootstrap_sender(b)
            back.send(sender)
            await turn()
            self.assertEqual(wb.take().hex(" "), h(
                "00 00 00 12 02 00 00000000 00000004 91 92 01 02 d4 01 00 00"
                "00 00 00 04 03 92 02 01").hex(" "))
        run(main())

    def test_the_parents_first_write_of_section_11(self) -> None:
        async def main() -> None:
            parent, w = link("parent")
            ends = offer_ends(parent, 7)  # held: the parent's two ends
            await turn()
            self.assertEqual(w.take().hex(" "), h(
                '00 00 00 32 02 00 00000000 00000007 92 92 03 01 92 00 01'
                'de 00 03 a8 "receiver" d4 01 00 00 a6 "sender" d4 01 00 01 a4 "data" 07'
                '00 00 00 04 03 92 00 01').hex(" "))
            self.assertEqual(len(ends), 2)
        run(main())


if __name__ == "__main__":
    unittest.main()
