"""The protocol under malformed and hostile input (PROTOCOL §11). The victim is a real link over a
real socket pair; the attacker is a RawPeer writing bytes by hand. Each attack must close only that
link, with a typed error (ProtocolError or LimitExceededError) that it also sends in a GOODBYE, and
every handle that crossed the link must report ConnectionLostError with that error as its cause;
another link in the same process keeps working."""
from __future__ import annotations

import asyncio
import struct
import unittest
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Type

import ipfi
from ipfi.codec import encode_plain
from tests.raw_peer import (DISEMBARGO, DROPPED, FINISH, GOODBYE, MSG, RELEASE, RawPeer, control, frame, handle_ref,
                            hello, msg)
from tests.support import run
from tests.test_link import pair

EXPORT, INBOUND = 0, 1


class Attack(NamedTuple):
    name: str
    handshake: bool
    data: Callable[[], bytes]
    error: Type[Exception]
    fragment: str
    options: Optional[Dict[str, Any]] = None


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


ATTACKS: List[Attack] = [
    Attack("garbage instead of a handshake (an HTTP request: its first bytes read as a huge length)", False,
           lambda: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ipfi.LimitExceededError, "over the limit"),
    Attack("a small frame of the wrong kind instead of a handshake", False, lambda: frame(b"\x02" + bytes(9)),
           ipfi.ProtocolError, "expected a handshake"),
    Attack("a wrong magic", False, lambda: hello(magic=b"IPFX"), ipfi.ProtocolError, "magic"),
    Attack("a truncated magic", False, lambda: frame(b"\x01IPF"), ipfi.ProtocolError, "magic"),
    Attack("a wrong version", False, lambda: hello(version=2), ipfi.ProtocolError, "version 2"),
    Attack("handshake options cut short", False, lambda: frame(b"\x01IPFI\x01\xde\x00\x02"), ipfi.ProtocolError, "undecodable"),
    Attack("a heartbeat in the handshake that is not a positive integer", False,
           lambda: hello({"maxFrameBytes": 1024, "maxHandlesPerMessage": 8, "heartbeatMs": -5}), ipfi.ProtocolError, "malformed limit"),
    Attack("handshake options that are not a map", False, lambda: frame(b"\x01IPFI\x01" + encode_plain([1, 2])),
           ipfi.ProtocolError, "not a map"),
    Attack("a handle tag inside the handshake options", False,
           lambda: frame(b"\x01IPFI\x01\xde\x00\x01\xadmaxFrameBytes\xd4\x01\x00\x00"), ipfi.ProtocolError, "handle reference"),
    Attack("a frame header claiming 4 GB (nothing follows it)", False, lambda: b"\xff\xff\xff\xff", ipfi.LimitExceededError, "4294967295"),
    Attack("a frame one byte over a configured max_frame_bytes (header only)", True, lambda: u32(1001),
           ipfi.LimitExceededError, "1001 bytes", {"limits": {"max_frame_bytes": 1000}}),
    Attack("a zero-length frame", True, lambda: u32(0), ipfi.ProtocolError, "empty frame"),
    Attack("a MSG payload that is not MessagePack (reserved byte 0xc1)", True, lambda: msg(EXPORT, 0, None, b"\xc1"),
           ipfi.ProtocolError, "0xc1"),
    Attack("a MSG payload cut short (array of 3 with 1 element)", True, lambda: msg(EXPORT, 0, None, b"\x93\x01"),
           ipfi.ProtocolError, "undecodable"),
    Attack("a MSG payload with trailing bytes", True, lambda: msg(EXPORT, 0, None, b"\x01\x02"), ipfi.ProtocolError, "after the value"),
    Attack("a MSG with an empty payload", True, lambda: msg(EXPORT, 0, None, b""), ipfi.ProtocolError, "empty"),
    Attack("a MSG payload nested 100,000 levels deep", True, lambda: msg(EXPORT, 0, None, b"\x91" * 100_000 + b"\x90"),
           ipfi.LimitExceededError, "nested deeper than 512"),
    Attack("a MSG payload nested 513 levels deep, one over MAX_NESTING_DEPTH", True, lambda: msg(EXPORT, 0, None, b"\x91" * 512 + b"\x90"),
           ipfi.LimitExceededError, "nested deeper than 512"),
    Attack("a MSG payload of Map tags nested 100,000 levels deep", True, lambda: msg(EXPORT, 0, None, b"\xd4\x02\x00\x92\x01" * 100_000 + b"\x90"),
           ipfi.LimitExceededError, "nested deeper than 512"),
    Attack("a MSG payload with a map key that is a BigInt of 20,000 digits", True,
           lambda: msg(EXPORT, 0, None, b"\x81\xc9" + u32(8400) + b"\x42" + b"\x7f" * 8400 + b"\x01"), ipfi.ProtocolError, "BigInt too large"),
    Attack("a MSG payload declaring an array of 4 billion elements", True, lambda: msg(EXPORT, 0, None, b"\xdd\xff\xff\xff\xff"),
           ipfi.ProtocolError, "longer than the message"),
    Attack("a MSG payload with a record definition (msgpackr 0x72)", True, lambda: msg(EXPORT, 0, None, b"\xd4\x72\x40\x91\xa1a"),
           ipfi.ProtocolError, "record"),
    Attack("a MSG payload with an unknown extension", True, lambda: msg(EXPORT, 0, None, b"\xd6\x55\x00\x00\x00\x00"),
           ipfi.ProtocolError, "extension type 85"),
    Attack("a MSG payload with a map key of a non-scalar type", True, lambda: msg(EXPORT, 0, None, b"\x81\x90\x01"),
           ipfi.ProtocolError, "map key"),
    Attack("a MSG shorter than its header", True, lambda: frame(b"\x02\x00\x00"), ipfi.ProtocolError, "truncated MSG"),
    Attack("a MSG whose caps length runs past the frame", True, lambda: frame(b"\x02\x00" + u32(0) + u32(100) + b"\x90"),
           ipfi.ProtocolError, "caps run past"),
    Attack("a MSG whose caps are not an array", True, lambda: frame(b"\x02\x00" + u32(0) + u32(1) + b"\x01\x01"),
           ipfi.ProtocolError, "not an array"),
    Attack("a MSG to an unknown export id", True, lambda: msg(EXPORT, 99, None, b"\x01"), ipfi.ProtocolError, "unknown export 99"),
    Attack("a MSG to an unknown inbound id", True, lambda: msg(INBOUND, 99, None, b"\x01"), ipfi.ProtocolError, "unknown inbound 99"),
    Attack("a MSG with an unknown target kind", True, lambda: msg(2, 0, None, b"\x01"), ipfi.ProtocolError, "target kind 2"),
    Attack("a capability naming an unknown export of the victim", True, lambda: msg(EXPORT, 0, [[1, 99]], handle_ref(0)),
           ipfi.ProtocolError, "unknown export 99"),
    Attack("a capability naming an unknown inbound id of the victim", True, lambda: msg(EXPORT, 0, [[2, 99]], handle_ref(0)),
           ipfi.ProtocolError, "unknown inbound 99"),
    Attack("a capability of an unknown kind", True, lambda: msg(EXPORT, 0, [[9, 1]], handle_ref(0)), ipfi.ProtocolError,
           "unknown capability kind 9"),
    Attack("a malformed capability descriptor", True, lambda: msg(EXPORT, 0, [[0]], handle_ref(0)), ipfi.ProtocolError,
           "malformed capability"),
    Attack("a capability with a 64-bit id", True, lambda: frame(b"\x02\x00" + u32(0) + u32(12) + b"\x91\x92\x00\xcf" + bytes(7) + b"\x01" + handle_ref(0)),
           ipfi.ProtocolError, "malformed capability"),
    Attack("hints on a sender capability", True, lambda: msg(EXPORT, 0, [[0, 1, 0, 1]], handle_ref(0)), ipfi.ProtocolError,
           "malformed capability"),
    Attack("a receiver moved in twice under the same inbound id", True,
           lambda: msg(EXPORT, 0, [[3, 5], [3, 5]], b"\xc0"), ipfi.ProtocolError, "inbound 5, which is taken"),
    Attack("a receiver arriving with the endpoint tag", True, lambda: msg(EXPORT, 0, [[3, 5]], b"\xd4\x04\x00\x00"),
           ipfi.ProtocolError, "cannot arrive as"),
    Attack("a handle reference past the caps table", True, lambda: msg(EXPORT, 0, [[0, 1]], handle_ref(1)), ipfi.ProtocolError,
           "out of range"),
    Attack("the same handle reference used twice", True, lambda: msg(EXPORT, 0, [[0, 1]], b"\x92" + handle_ref(0) + handle_ref(0)),
           ipfi.ProtocolError, "used twice"),
    Attack("a handle reference in a message without caps", True, lambda: msg(EXPORT, 0, None, handle_ref(0)),
           ipfi.ProtocolError, "out of range"),
    Attack("a RELEASE of more references than held", True, lambda: control(RELEASE, [1, 2]), ipfi.ProtocolError, "RELEASE of 2"),
    Attack("a RELEASE of an export never given out", True, lambda: control(RELEASE, [99, 1]), ipfi.ProtocolError, "export 99"),
    Attack("a RELEASE of zero references", True, lambda: control(RELEASE, [1, 0]), ipfi.ProtocolError, "RELEASE of 0"),
    Attack("a malformed RELEASE", True, lambda: control(RELEASE, "x"), ipfi.ProtocolError, "malformed RELEASE"),
    Attack("a RELEASE whose body holds a handle tag", True, lambda: frame(b"\x03\x92\xd4\x01\x00\x00\x01"), ipfi.ProtocolError,
           "malformed RELEASE"),
    Attack("a FINISH for an unknown inbound id", True, lambda: control(FINISH, [42]), ipfi.ProtocolError, "unknown inbound 42"),
    Attack("a malformed DROPPED", True, lambda: control(DROPPED, [5, 1, None]), ipfi.ProtocolError, "malformed DROPPED"),
    Attack("a DISEMBARGO to an unknown target", True, lambda: control(DISEMBARGO, [0, 77, 1]), ipfi.ProtocolError, "DISEMBARGO"),
    Attack("an undecodable GOODBYE", True, lambda: frame(b"\x06\xc1"), ipfi.ProtocolError, "GOODBYE"),
    Attack("an unknown frame kind", True, lambda: frame(b"\x63"), ipfi.ProtocolError, "unknown frame kind 99"),
    Attack("frame kind 0", True, lambda: frame(b"\x00"), ipfi.ProtocolError, "unknown frame kind 0"),
    Attack("a second HELLO", True, lambda: hello(), ipfi.ProtocolError, "second handshake"),
    Attack("a message with more handles than max_handles_per_message", True,
           lambda: msg(EXPORT, 0, [[0, 10], [0, 11], [0, 12]], b"\x90"), ipfi.LimitExceededError, "3 handles",
           {"limits": {"max_handles_per_message": 2}}),
    Attack("more channels than max_imports", True, lambda: msg(EXPORT, 0, [[0, 10], [0, 11]], b"\x90"),
           ipfi.LimitExceededError, "more than 3 channels", {"limits": {"max_imports": 3}}),
]


class Armed(NamedTuple):
    inbox_pending: "asyncio.Future[Any]"
    exported_pending: "asyncio.Future[Any]"
    moved_sender: ipfi.Sender[Any]
    imported: Optional[ipfi.Sender[Any]]


async def arm(victim: ipfi.Connection, peer: RawPeer, handshake: bool) -> Armed:
    """Handles across the victim's link before the attack: a pending receive on its inbox and on a
    channel whose sender it exported, the sender of a receiver it moved, and an imported sender."""
    etx, erx = ipfi.channel()
    mtx, mrx = ipfi.channel()
    victim.sender.send({"exported": etx, "moved": mrx})
    imported = None
    if handshake:
        peer.write(hello(), msg(EXPORT, 0, [[0, 7]], handle_ref(0)))
        imported = await victim.receiver.recv(timeout=5)
        assert isinstance(imported, ipfi.Sender)
        imported.send("to-seven")
        f = await peer.wait_frame(lambda x: x.kind == MSG and x.msg()[1] == 7)
        assert ipfi.codec.decode(f.msg()[3]) == "to-seven"
    first = await peer.wait_frame(lambda x: x.kind == MSG and x.msg()[1] == 0)
    assert first.msg()[2] == [[0, 1], [3, 1]], first.msg()
    inbox = asyncio.ensure_future(victim.receiver.recv())
    exported = asyncio.ensure_future(erx.recv())
    await asyncio.sleep(0)
    return Armed(inbox, exported, mtx, imported)


class Hostile(unittest.TestCase):
    def expect_lost(self, e: BaseException, cause: BaseException) -> None:
        self.assertIsInstance(e, ipfi.ConnectionLostError)
        self.assertIs(e.cause, cause)  # type: ignore[attr-defined]

    def raised(self, f: Callable[[], Any]) -> BaseException:
        try:
            f()
        except BaseException as e:  # noqa: BLE001
            return e
        raise AssertionError("did not raise")

    async def expect_closed(self, victim: ipfi.Connection, peer: RawPeer, armed: Armed, attack: Attack) -> None:
        cause = await asyncio.wait_for(asyncio.shield(victim.closed), 5)
        self.assertIsInstance(cause, attack.error)
        self.assertIn(attack.fragment, str(cause))
        self.assertTrue(str(cause).startswith("victim: "), str(cause))
        self.assertTrue(victim.link.is_closed)
        for pending in (armed.inbox_pending, armed.exported_pending):
            with self.assertRaises(ipfi.ConnectionLostError) as e:
                await asyncio.wait_for(pending, 5)
            self.assertIs(e.exception.cause, cause)
        self.expect_lost(self.raised(lambda: victim.sender.send("after")), cause)
        self.expect_lost(self.raised(lambda: armed.moved_sender.send(1)), cause)
        if armed.imported is not None:
            self.expect_lost(self.raised(lambda: armed.imported.send("after")), cause)  # type: ignore[union-attr]
        bye = await peer.wait_frame(lambda f: f.kind == GOODBYE)
        self.assertEqual(bye.value(), [str(cause), cause.code])
        await asyncio.wait_for(peer.ended, 5)

    def test_each_violation_closes_only_that_link(self) -> None:
        for attack in ATTACKS:
            with self.subTest(attack.name):
                async def main(attack: Attack = attack) -> None:
                    healthy = await pair("healthy-a", "healthy-b")
                    victim, peer = await RawPeer.pair("victim", **(attack.options or {}))
                    armed = await arm(victim, peer, attack.handshake)
                    peer.write(attack.data())
                    await self.expect_closed(victim, peer, armed, attack)
                    peer.close()
                    await self.expect_healthy(*healthy)
                run(main(), 20)

    async def expect_healthy(self, a: ipfi.Connection, b: ipfi.Connection) -> None:
        tx, rx = ipfi.channel()
        a.sender.send({"n": 1, "reply": tx})
        got = await b.receiver.recv(timeout=5)
        got["reply"].send("pong")
        got["reply"].close()
        self.assertEqual(await rx.recv(timeout=5), "pong")
        a.close()

    def test_the_same_violations_are_caught_when_the_bytes_arrive_one_at_a_time(self) -> None:
        chosen = [a for a in ATTACKS if a.name in {
            "a wrong magic", "a MSG payload that is not MessagePack (reserved byte 0xc1)", "a MSG whose caps length runs past the frame",
            "the same handle reference used twice", "a frame one byte over a configured max_frame_bytes (header only)"}]
        self.assertEqual(len(chosen), 5)
        for attack in chosen:
            with self.subTest(attack.name):
                async def main(attack: Attack = attack) -> None:
                    victim, peer = await RawPeer.pair("victim", **(attack.options or {}))
                    armed = await arm(victim, peer, attack.handshake)
                    for b in attack.data():
                        peer.write(bytes([b]))
                        await peer.writer.drain()
                        await asyncio.sleep(0.001)
                    await self.expect_closed(victim, peer, armed, attack)
                    peer.close()
                run(main(), 30)


class NotViolations(unittest.TestCase):
    """What PROTOCOL §11 says is handled locally, and the boundaries, which are accepted."""

    def test_boundaries_and_local_matters(self) -> None:
        async def main() -> None:
            victim, peer = await RawPeer.pair("victim", limits={"max_frame_bytes": 1000, "max_handles_per_message": 3})
            peer.write(hello())
            await victim.ready
            body = b"\xc5" + struct.pack(">H", 1000 - 10 - 3) + bytes(1000 - 10 - 3)
            peer.write(msg(EXPORT, 0, None, body))  # exactly max_frame_bytes
            self.assertEqual(len(await victim.receiver.recv(timeout=5)), 987)
            peer.write(msg(EXPORT, 0, [[0, 1], [0, 2], [0, 3]], b"\x93" + handle_ref(0) + handle_ref(1) + handle_ref(2)))
            handles = await victim.receiver.recv(timeout=5)
            self.assertEqual([type(h) for h in handles], [ipfi.Sender] * 3)
            peer.write(msg(EXPORT, 0, [[0, 4]], b"\x01"))  # a cap the payload never references: dropped
            self.assertEqual(await victim.receiver.recv(timeout=5), 1)
            release = await peer.wait_frame(lambda f: f.kind == RELEASE and f.value()[0] == 4)
            self.assertEqual(release.value(), [4, 1])
            peer.write(control(DROPPED, [0, 99, None]), control(DROPPED, [1, 98, "x"]))  # unknown ids: ignored
            peer.write(msg(EXPORT, 0, None, encode_plain("still up")))
            self.assertEqual(await victim.receiver.recv(timeout=5), "still up")
            peer.write(frame(b"\x08"))  # PING: nothing to do
            peer.write(frame(bytes([GOODBYE]) + encode_plain([None, None])))  # a nil failure is orderly
            cause = await asyncio.wait_for(victim.closed, 5)
            self.assertIsInstance(cause, ipfi.DisconnectedError)
            self.assertNotIsInstance(cause, ipfi.ConnectionLostError)
            peer.close()
        run(main())

    def test_a_legal_release_and_a_moved_in_receiver_with_its_finish(self) -> None:
        async def main() -> None:
            victim, peer = await RawPeer.pair("victim")
            tx, rx = ipfi.channel()
            victim.sender.send(tx)
            peer.write(hello())
            await peer.wait_frame(lambda f: f.kind == MSG)
            peer.write(control(RELEASE, [1, 1]))  # exactly what is held
            with self.assertRaises(ipfi.DisconnectedError) as e:
                await rx.recv(timeout=5)
            self.assertNotIsInstance(e.exception, ipfi.ConnectionLostError)
            peer.write(msg(EXPORT, 0, [[3, 4]], handle_ref(0)), msg(INBOUND, 4, None, encode_plain("to the moved receiver")))
            moved = await victim.receiver.recv(timeout=5)
            self.assertEqual(await moved.recv(timeout=5), "to the moved receiver")
            peer.write(control(FINISH, [4, "upstream lost"]))
            with self.assertRaises(ipfi.ConnectionLostError) as e2:
                await moved.recv(timeout=5)
            self.assertIn("upstream lost", str(e2.exception))
            self.assertEqual(victim.link.stats["inbound"], 0)
            victim.close()
            peer.close()
        run(main())

    def test_the_stream_ending_mid_frame_is_a_protocol_error_and_between_frames_a_loss(self) -> None:
        async def main() -> None:
            for tail, error in [(b"\x00\x00\x00\x05\x02", ipfi.ProtocolError), (b"\x00\x00", ipfi.ProtocolError), (b"", ipfi.ConnectionLostError)]:
                victim, peer = await RawPeer.pair("victim")
                peer.write(hello(), tail)
                await victim.ready
                await peer.writer.drain()
                peer.writer.close()
                cause = await asyncio.wait_for(victim.closed, 5)
                self.assertIsInstance(cause, error, tail)
                if error is ipfi.ProtocolError:
                    self.assertIn("middle of a frame", str(cause))
                peer.close()
        run(main())


if __name__ == "__main__":
    unittest.main()
