"""Links between Python peers over real sockets and pipes: handles across links and chains of
links, orderly and lost endings, limits, heartbeats, and Python children over stdio (exit codes, an
uncaught exception, SIGKILL, print() kept off the wire)."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import unittest
from typing import Any, Tuple

import ipfi
from ipfi.codec import decode_plain
from tests.peers import collect
from tests.raw_peer import PING, RawPeer, hello
from tests.support import fixture, run


async def pair(a_name: str = "A", b_name: str = "B", **options: Any) -> Tuple[ipfi.Connection, ipfi.Connection]:
    s1, s2 = socket.socketpair()
    a = ipfi.connect_wire(ipfi.FdWire(s1.detach()), name=a_name, **options)
    b = ipfi.connect_wire(ipfi.FdWire(s2.detach()), name=b_name)
    await asyncio.gather(a.ready, b.ready)
    return a, b


def tables(c: ipfi.Connection) -> Tuple[int, ...]:
    s = c.link.stats
    return s["exports"], s["imports"], s["inbound"], s["outbound"]


async def settle(*conns: ipfi.Connection) -> None:
    for _ in range(200):
        if all(tables(c) == (1, 1, 0, 0) for c in conns):
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"tables not back to the bootstrap entries: {[c.link.stats for c in conns]}")


class BetweenPythonPeers(unittest.TestCase):
    def test_handles_both_ways_and_back_home(self) -> None:
        async def main() -> None:
            a, b = await pair()
            tx, rx = ipfi.channel()
            jtx, jrx = ipfi.channel()
            jtx.send("queued")
            a.sender.send({"reply": tx, "jobs": jrx})
            jtx.send("after")
            m = await b.receiver.recv(timeout=5)
            self.assertEqual([await m["jobs"].recv(timeout=5), await m["jobs"].recv(timeout=5)], ["queued", "after"])
            m["reply"].send("pong")
            self.assertEqual(await rx.recv(timeout=5), "pong")
            b.sender.send({"home": m["reply"]})  # goes back as "your export 1"
            home = (await a.receiver.recv(timeout=5))["home"]
            self.assertIsNone(home._port.route)
            home.close()
            jtx.close()
            with self.assertRaises(ipfi.DisconnectedError):
                await m["jobs"].recv(timeout=5)
            with self.assertRaises(ipfi.DisconnectedError):
                await rx.recv(timeout=5)
            await settle(a, b)
            a.close()
        run(main())

    def test_a_chain_of_three_processes_worth_of_links(self) -> None:
        """A moves a receiver to B, B moves it on to C; A's messages follow it through B, then FINISH."""
        async def main() -> None:
            ab, ba = await pair("A-B", "B-A")
            bc, cb = await pair("B-C", "C-B")
            tx, rx = ipfi.channel()
            tx.send("q1")
            ab.sender.send(rx)
            tx.send("a1")
            at_b = await ba.receiver.recv(timeout=5)
            bc.sender.send(at_b)
            tx.send("a2")
            at_c = await cb.receiver.recv(timeout=5)
            tx.close()
            self.assertEqual(await collect(at_c, 5), ["q1", "a1", "a2"])
            await settle(ab, ba, bc, cb)
        run(main())

    def test_a_loss_upstream_reaches_the_end_of_the_chain_as_a_loss(self) -> None:
        """A-B-C: a receiver moved A to B to C, and a sender proxied from A through B to C. When the
        A-B link is lost, C's receiver and C's sender both report ConnectionLostError (FINISH with a
        lost reason, DROPPED with a reason, PROTOCOL §5 and §7)."""
        async def main() -> None:
            ab, ba = await pair("A-B", "B-A")
            bc, cb = await pair("B-C", "C-B")
            tx, rx = ipfi.channel()
            ab.sender.send(rx)
            bc.sender.send(await ba.receiver.recv(timeout=5))
            rx_at_c = await cb.receiver.recv(timeout=5)
            tx2, rx2 = ipfi.channel()
            ab.sender.send(tx2)
            bc.sender.send(await ba.receiver.recv(timeout=5))
            tx2_at_c = await cb.receiver.recv(timeout=5)
            tx2_at_c.send("through B")
            self.assertEqual(await rx2.recv(timeout=5), "through B")
            ba.link.fail(ipfi.ConnectionLostError("B-A: the wire was cut"))
            with self.assertRaises(ipfi.ConnectionLostError) as e:
                await rx_at_c.recv(timeout=5)
            self.assertIn("the wire was cut", str(e.exception))
            for _ in range(100):
                if tx2_at_c.is_disconnected:
                    break
                await asyncio.sleep(0.005)
            with self.assertRaises(ipfi.ConnectionLostError):
                tx2_at_c.send("the route through B is lost")
            self.assertFalse(bc.link.is_closed)  # only the A-B link closed
            tx.close()
        run(main())

    def test_orderly_close_and_failure(self) -> None:
        async def main() -> None:
            a, b = await pair()
            tx, rx = ipfi.channel()
            a.sender.send(tx)
            remote_tx = await b.receiver.recv(timeout=5)
            a.close("done")
            with self.assertRaises(ipfi.DisconnectedError) as e:
                await rx.recv(timeout=5)
            self.assertNotIsInstance(e.exception, ipfi.ConnectionLostError)
            await b.closed
            with self.assertRaises(ipfi.DisconnectedError) as e2:
                remote_tx.send(1)
            self.assertNotIsInstance(e2.exception, ipfi.ConnectionLostError)
            self.assertIn("done", str(await b.closed))

            a, b = await pair()
            tx, rx = ipfi.channel()
            a.sender.send(tx)
            await b.receiver.recv(timeout=5)
            a.link.fail(ipfi.ConnectionLostError("A: gave up"))
            with self.assertRaises(ipfi.ConnectionLostError):
                await rx.recv(timeout=5)
            with self.assertRaises(ipfi.ConnectionLostError):
                await b.receiver.recv(timeout=5)
        run(main())

    def test_sends_over_the_peers_limits_fail_locally_and_the_link_stays_up(self) -> None:
        async def main() -> None:
            s1, s2 = socket.socketpair()
            a = ipfi.connect_wire(ipfi.FdWire(s1.detach()), name="A")
            b = ipfi.connect_wire(ipfi.FdWire(s2.detach()), name="B", limits={"max_frame_bytes": 1000, "max_handles_per_message": 2})
            await asyncio.gather(a.ready, b.ready)
            tx, _rx = ipfi.channel()
            with self.assertRaises(ipfi.LimitExceededError):
                a.sender.send(b"x" * 2000)
            with self.assertRaises(ipfi.LimitExceededError):
                a.sender.send([tx.clone(), tx.clone(), tx])
            tx.send("tx did not move")
            a.sender.send("still up")
            self.assertEqual(await b.receiver.recv(timeout=5), "still up")
        run(main())

    def test_queued_bytes_past_the_limit_close_the_link(self) -> None:
        async def main() -> None:
            s1, s2 = socket.socketpair()
            a = ipfi.connect_wire(ipfi.FdWire(s1.detach()), name="A")
            b = ipfi.connect_wire(ipfi.FdWire(s2.detach()), name="B", limits={"max_queued_bytes": 10_000})
            await asyncio.gather(a.ready, b.ready)
            for _ in range(20):
                a.sender.send(b"x" * 1000)
            cause = await asyncio.wait_for(b.closed, 5)
            self.assertIsInstance(cause, ipfi.LimitExceededError)
            self.assertIsInstance(await asyncio.wait_for(a.closed, 5), ipfi.ConnectionLostError)
        run(main())

    def test_unsent_bytes_past_the_limit_fail_the_link(self) -> None:
        async def main() -> None:
            victim, peer = await RawPeer.pair(limits={"max_unsent_bytes": 64 * 1024})
            peer.write(hello())
            await victim.ready
            peer.reader._transport.pause_reading()  # type: ignore[attr-defined]  # the peer stops reading
            for _ in range(64):
                victim.sender.send(b"x" * 65536)
                await asyncio.sleep(0)
                if victim.link.is_closed:
                    break
            cause = await asyncio.wait_for(victim.closed, 5)
            self.assertIsInstance(cause, ipfi.LimitExceededError)
            self.assertIn("max_unsent_bytes", str(cause))
            peer.close()
        run(main())

    def test_heartbeats(self) -> None:
        async def main() -> None:
            # The peer asks for a PING every 30 ms of silence: we send them.
            victim, peer = await RawPeer.pair()
            peer.write(hello({"maxFrameBytes": 1 << 20, "maxHandlesPerMessage": 8, "heartbeatMs": 30}))
            await victim.ready
            await peer.wait_frame(lambda f: f.kind == PING, 2)
            victim.close()
            peer.close()
            # We ask for heartbeats; a peer that says nothing for our idle timeout is lost.
            victim, peer = await RawPeer.pair(idle_timeout=0.2)
            peer.write(hello())
            await victim.ready
            first = await peer.wait_frame(lambda f: f.kind == 1)
            self.assertEqual(decode_plain(first.body, 6)["heartbeatMs"], 66)
            cause = await asyncio.wait_for(victim.closed, 3)
            self.assertIsInstance(cause, ipfi.ConnectionLostError)
            self.assertIn("nothing arrived", str(cause))
            peer.close()
        run(main())

    def test_no_handshake_in_time(self) -> None:
        async def main() -> None:
            victim, peer = await RawPeer.pair(limits={"handshake_timeout": 0.1})
            with self.assertRaises(ipfi.ProtocolError):
                await victim.ready
            self.assertIsInstance(victim.link.cause, ipfi.ProtocolError)
            await peer.ended
            peer.close()
        run(main())


class PythonChildren(unittest.TestCase):
    """Python spawning Python (fixtures/py_peer.py): the child's at-exit behaviour."""

    async def child(self, **kw: Any) -> Tuple[ipfi.Child, Any]:
        c = await ipfi.spawn([sys.executable, fixture("py_peer.py")], **kw)
        return c, await c.receiver.recv(timeout=20)

    def test_data_print_and_an_orderly_exit(self) -> None:
        async def main() -> None:
            c, hi = await self.child(data={"n": 7}, stderr=asyncio.subprocess.PIPE)
            self.assertEqual(hi["data"], {"n": 7})
            c.sender.send({"op": "print"})
            self.assertEqual(await c.receiver.recv(timeout=10), "printed")
            c.sender.close()
            self.assertEqual(await collect(c.receiver), [])
            self.assertEqual((await c.wait()).code, 0)
            err = await c.process.stderr.read()  # type: ignore[union-attr]
            self.assertIn(b"this line goes to stderr, not into the wire", err)
        run(main())

    def test_exit_codes_crash_and_kill(self) -> None:
        async def main() -> None:
            c, _ = await self.child()
            c.sender.send({"op": "exit", "code": 3})
            with self.assertRaises(ipfi.ConnectionLostError) as e:
                await c.receiver.recv(timeout=10)
            self.assertEqual(e.exception.cause.code, 3)
            await c.wait()  # reaped before the loop ends (asyncio would warn otherwise)

            c, _ = await self.child(stderr=asyncio.subprocess.DEVNULL)
            c.sender.send({"op": "echo", "value": "last words"})
            c.sender.send({"op": "crash"})
            self.assertEqual(await c.receiver.recv(timeout=10), "last words")
            with self.assertRaises(ipfi.ConnectionLostError) as e:
                await c.receiver.recv(timeout=10)
            self.assertEqual(e.exception.cause.code, 1)
            self.assertEqual(e.exception.cause.reason, "uncaught exception: ValueError: boom")
            await c.wait()

            c, _ = await self.child()
            got = await (c.sender.send({"op": "give-sender"}) or c.receiver.recv(timeout=10))
            pending = asyncio.ensure_future(c.receiver.recv())
            os.kill(c.pid, signal.SIGKILL)
            with self.assertRaises(ipfi.ConnectionLostError) as e:
                await asyncio.wait_for(pending, 10)
            self.assertEqual(e.exception.cause.signal, "SIGKILL")
            with self.assertRaises(ipfi.ConnectionLostError):
                got["tx"].send(1)
            await c.wait()
        run(main(), 60)

    def test_a_program_that_cannot_start(self) -> None:
        async def main() -> None:
            with self.assertRaises(FileNotFoundError):
                await ipfi.spawn(["/nonexistent/ipfi-no-such-program"])
        run(main())


if __name__ == "__main__":
    unittest.main()
