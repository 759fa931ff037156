"""Python and a real Node process (dist/), over real pipes and sockets: every value of the codec
both ways, senders and receivers moved both ways (a receiver with its queue, a sender sent home, a
receiver sent back into a loop), disconnects, orderly and lost endings, a peer killed with -9."""
from __future__ import annotations

import asyncio
import os
import signal
import unittest
from typing import Any

import ipfi
from tests.peers import JsClientPeer, JsListenPeer, Peer, StdioPeer, UnixRawPeer, collect
from tests.support import run, same
from tests.values_table import EXPECTED, check_error


class Exchanges:
    """Tests run over each kind of link (the subclasses say which)."""

    make_peer: Any

    def go(self, body: Any, timeout: float = 60.0) -> None:
        async def main() -> None:
            peer: Peer = await self.make_peer().open()
            self.baseline = await self.tables(peer)
            try:
                await body(peer)
            finally:
                await peer.close()
        run(main(), timeout)

    def test_every_value_arrives_in_javascript_as_itself(self) -> None:
        async def body(peer: Peer) -> None:
            for name, value in EXPECTED.items():
                got = await peer.ask({"op": "check", "name": name, "value": value})
                self.assertEqual(got, {"name": name, "same": True}, name)  # type: ignore[attr-defined]
        self.go(body)

    def test_every_value_from_javascript_arrives_as_expected_and_goes_back_as_itself(self) -> None:
        async def body(peer: Peer) -> None:
            peer.sender.send({"op": "table"})
            arrived = []
            while True:
                m = await peer.receiver.recv(timeout=10)
                if m == {"done": True}:
                    break
                arrived.append(m)
            seen = set()
            for m in arrived:
                name, value = m["name"], m["value"]
                seen.add(name)
                if name in EXPECTED:
                    self.assertTrue(same(value, EXPECTED[name]), f"{name}: {value!r}"[:300])  # type: ignore[attr-defined]
                else:
                    check_error(self, name, value)  # type: ignore[arg-type]
                back = await peer.ask({"op": "check", "name": name, "value": value})
                self.assertTrue(back["same"], name)  # type: ignore[attr-defined]
            self.assertGreaterEqual(seen, set(EXPECTED))  # type: ignore[attr-defined]
        self.go(body)

    def test_a_sender_moved_to_javascript(self) -> None:
        async def body(peer: Peer) -> None:
            tx, rx = ipfi.channel()
            peer.sender.send({"op": "reply", "to": tx, "value": "pong"})
            with self.assertRaises(ipfi.HandleError):  # type: ignore[attr-defined]
                tx.send("moved: unusable here")
            self.assertEqual(await rx.recv(timeout=10), "pong")  # type: ignore[attr-defined]
            with self.assertRaises(ipfi.DisconnectedError) as e:  # type: ignore[attr-defined]
                await rx.recv(timeout=10)
            self.assertNotIsInstance(e.exception, ipfi.ConnectionLostError)  # type: ignore[attr-defined]
            await self.settled(peer)
        self.go(body)

    def test_a_sender_from_javascript(self) -> None:
        async def body(peer: Peer) -> None:
            got = await peer.ask({"op": "give-sender"})
            tx = got["tx"]
            self.assertIsInstance(tx, ipfi.Sender)  # type: ignore[attr-defined]
            other = tx.clone()
            tx.send(1)
            other.send({"two": [2]})
            tx.send(ipfi.Map({3: "three"}))
            tx.close()
            other.close()
            report = await peer.receiver.recv(timeout=10)
            self.assertEqual(report["collected"], {"got": [1, {"two": [2]}, {3: "three"}], "end": "disconnected"})  # type: ignore[attr-defined]
            await self.settled(peer)
        self.go(body)

    def test_a_receiver_moved_to_javascript_takes_its_queue_and_later_messages_follow(self) -> None:
        async def body(peer: Peer) -> None:
            tx, rx = ipfi.channel()
            out_tx, out_rx = ipfi.channel()
            tx.send("q1")
            tx.send({"q": 2})
            peer.sender.send({"op": "drain", "from": rx, "to": out_tx})
            self.assertEqual(rx.size, 0)  # type: ignore[attr-defined]
            with self.assertRaises(ipfi.HandleError):  # type: ignore[attr-defined]
                rx.try_recv()
            tx.send("a1")
            tx.send("a2")
            tx.close()
            self.assertEqual(await collect(out_rx), ["q1", {"q": 2}, "a1", "a2", {"end": "disconnected"}])  # type: ignore[attr-defined]
            await self.settled(peer)
        self.go(body)

    def test_a_receiver_from_javascript_with_its_queue(self) -> None:
        async def body(peer: Peer) -> None:
            got = await peer.ask({"op": "give-receiver", "before": [1, "two"], "after": [{"three": 3}]})
            rx = got["rx"]
            self.assertIsInstance(rx, ipfi.Receiver)  # type: ignore[attr-defined]
            self.assertEqual(await collect(rx), [1, "two", {"three": 3}])  # type: ignore[attr-defined]
            await self.settled(peer)
        self.go(body)

    def test_a_sender_sent_home_is_local_again(self) -> None:
        async def body(peer: Peer) -> None:
            tx, rx = ipfi.channel()
            got = await peer.ask({"op": "return", "handle": tx})
            home = got["returned"]
            self.assertIsNone(home._port.route)  # type: ignore[attr-defined]  # no detour through JavaScript
            home.send("here")
            self.assertEqual(rx.try_recv(), "here")  # type: ignore[attr-defined]
            home.close()
            with self.assertRaises(ipfi.DisconnectedError):  # type: ignore[attr-defined]
                rx.try_recv()
            await self.settled(peer)
        self.go(body)

    def test_a_receiver_moved_to_where_a_sender_to_it_already_is(self) -> None:
        """JavaScript holds a sender into our channel, then gets its receiver: it shortens its
        route (hint, DISEMBARGO passed back through our forwarder), and nothing is lost or reordered."""
        async def body(peer: Peer) -> None:
            tx, rx = ipfi.channel()
            self.assertEqual(await peer.ask({"op": "hold", "value": tx.clone()}), "held")  # type: ignore[attr-defined]
            tx.send("q1")
            out_tx, out_rx = ipfi.channel()
            peer.sender.send({"op": "drain", "from": rx, "to": out_tx})
            self.assertEqual(await peer.ask({"op": "send-held", "value": "from js"}), "sent")  # type: ignore[attr-defined]
            self.assertEqual(await peer.ask({"op": "release-held"}), "released")  # type: ignore[attr-defined]
            tx.send("a1")
            tx.close()
            got = await collect(out_rx)
            self.assertEqual(got[0], "q1")  # type: ignore[attr-defined]
            self.assertEqual(sorted(map(str, got[1:3])), ["a1", "from js"])  # type: ignore[attr-defined]
            self.assertEqual(got[3:], [{"end": "disconnected"}])  # type: ignore[attr-defined]
            await self.settled(peer)
        self.go(body)

    def test_a_receiver_arriving_where_a_sender_to_it_already_is(self) -> None:
        """JavaScript gives us a sender, then the receiver of the same channel (hinting at our
        import); we keep the detour through JavaScript (PROTOCOL §1.3 allows ignoring hints), and
        everything arrives, in order per sender, then the disconnect."""
        async def body(peer: Peer) -> None:
            peer.sender.send({"op": "give-pair"})
            tx = (await peer.receiver.recv(timeout=10))["tx"]
            tx.send("p1")
            rx = (await peer.receiver.recv(timeout=10))["rx"]
            tx.send("p2")
            tx.close()
            got = await collect(rx)
            self.assertEqual([v for v in got if v in ("queued", "after the move")], ["queued", "after the move"])  # type: ignore[attr-defined]
            self.assertEqual([v for v in got if v in ("p1", "p2")], ["p1", "p2"])  # type: ignore[attr-defined]
            self.assertEqual(len(got), 4)  # type: ignore[attr-defined]
            await self.settled(peer)
        self.go(body)

    def test_the_peer_closing_its_link_ends_channels_in_order(self) -> None:
        async def body(peer: Peer) -> None:
            got = await peer.ask({"op": "give-sender"})
            tx = got["tx"]
            peer.sender.send({"op": "close-link"})
            self.assertEqual(await collect(peer.receiver), [])  # type: ignore[attr-defined]
            cause = await peer.link.closed
            self.assertIsInstance(cause, ipfi.DisconnectedError)  # type: ignore[attr-defined]
            self.assertNotIsInstance(cause, ipfi.ConnectionLostError)  # type: ignore[attr-defined]
            self.assertIn("js says bye", str(cause))  # type: ignore[attr-defined]
            with self.assertRaises(ipfi.DisconnectedError) as e:  # type: ignore[attr-defined]
                tx.send(1)
            self.assertNotIsInstance(e.exception, ipfi.ConnectionLostError)  # type: ignore[attr-defined]
        self.go(body)

    def test_closing_our_link_ends_the_peer_in_order(self) -> None:
        async def body(peer: Peer) -> None:
            tx, rx = ipfi.channel()
            peer.sender.send({"op": "reply", "to": tx, "value": "first"})
            self.assertEqual(await rx.recv(timeout=10), "first")  # type: ignore[attr-defined]
            peer.link.close("python is done")
            with self.assertRaises(ipfi.DisconnectedError) as e:  # type: ignore[attr-defined]
                await peer.receiver.recv(timeout=10)
            self.assertNotIsInstance(e.exception, ipfi.ConnectionLostError)  # type: ignore[attr-defined]
        self.go(body)

    def test_kill_9_fails_a_pending_receive_with_connection_lost(self) -> None:
        async def body(peer: Peer) -> None:
            got = await peer.ask({"op": "give-sender"})
            tx = got["tx"]
            pending = asyncio.ensure_future(peer.receiver.recv())
            await asyncio.sleep(0.05)
            os.kill(peer.pid, signal.SIGKILL)
            with self.assertRaises(ipfi.ConnectionLostError) as e:  # type: ignore[attr-defined]
                await asyncio.wait_for(pending, 10)
            await peer.link.closed
            with self.assertRaises(ipfi.ConnectionLostError):  # type: ignore[attr-defined]
                tx.send("after the kill")
            self.check_killed(e.exception)
        self.go(body)

    def check_killed(self, e: ipfi.ConnectionLostError) -> None:
        pass

    async def tables(self, peer: Peer) -> Any:
        js = await peer.ask({"op": "stats"})
        keys = ("exports", "imports", "inbound", "outbound")
        return tuple(peer.link.stats[k] for k in keys), tuple(js[k] for k in keys)

    async def settled(self, peer: Peer) -> None:
        """Once the exchange is over, both sides' tables are back to what the link began with."""
        for _ in range(100):
            now = await self.tables(peer)
            if now == self.baseline:
                return
            await asyncio.sleep(0.02)
        self.fail(f"tables not settled: (python, javascript) {now}, at the start {self.baseline}")  # type: ignore[attr-defined]


class OverStdio(Exchanges, unittest.TestCase):
    """Python's ``ipfi.spawn(['node', ...])``; the Node child serves ``stdioLink()``."""

    make_peer = StdioPeer

    def check_killed(self, e: ipfi.ConnectionLostError) -> None:
        self.assertIsInstance(e.cause, ipfi.ExitInfo)
        self.assertEqual(e.cause.signal, "SIGKILL")

    def test_data_and_exit_codes(self) -> None:
        async def main() -> None:
            peer = await StdioPeer().open(data={"n": 7, "when": EXPECTED["dates"][1]})
            self.assertEqual(peer.hello["data"], {"n": 7, "when": EXPECTED["dates"][1]})
            peer.sender.send({"op": "exit", "code": 0})
            self.assertEqual(await collect(peer.receiver), [])
            self.assertEqual((await peer.child.wait()).code, 0)
            self.assertNotIsInstance(await peer.link.closed, ipfi.ConnectionLostError)

            peer = await StdioPeer().open()
            self.assertIs(peer.hello["data"], ipfi.UNDEFINED)
            peer.sender.send({"op": "exit", "code": 3})
            with self.assertRaises(ipfi.ConnectionLostError) as e:
                await peer.receiver.recv(timeout=10)
            self.assertEqual(e.exception.cause.code, 3)
            self.assertIn("exited with code 3", str(e.exception))
            await peer.child.wait()  # reaped before the loop ends (asyncio would warn otherwise)

            peer = await StdioPeer().open(stderr=asyncio.subprocess.DEVNULL)  # its traceback is expected
            peer.sender.send({"op": "crash"})
            with self.assertRaises(ipfi.ConnectionLostError) as e:
                await peer.receiver.recv(timeout=10)
            self.assertEqual(e.exception.cause.code, 1)
            self.assertIn("uncaught exception: Error: boom", e.exception.cause.reason)
            await peer.child.wait()
        run(main(), 60)

    def test_dispose_closes_both_ends_and_the_child_exits(self) -> None:
        async def main() -> None:
            peer = await StdioPeer().open()
            await peer.child.aclose()
            self.assertEqual(peer.child.exited.result().code, 0)
        run(main(), 30)


class OverUnixSocket(Exchanges, unittest.TestCase):
    """A plain Unix socket: a Node ``net`` server with ``connectWire`` per connection."""

    make_peer = UnixRawPeer


class PythonClientOfJsServerOverUnix(Exchanges, unittest.TestCase):
    """A Node ``listen('unix:...', {secret})`` server; Python ``connect()``s with the secret."""

    make_peer = JsListenPeer


class PythonClientOfJsServerOverTcp(Exchanges, unittest.TestCase):
    make_peer = staticmethod(lambda: JsListenPeer("tcp"))


class PythonClientOfJsServerOverTls(Exchanges, unittest.TestCase):
    make_peer = staticmethod(lambda: JsListenPeer("tls", secret=None))


class JsClientOfPythonServerOverUnix(Exchanges, unittest.TestCase):
    """A Python ``listen()`` server; Node ``connect()``s with the secret and serves the link."""

    make_peer = JsClientPeer


class JsClientOfPythonServerOverTcp(Exchanges, unittest.TestCase):
    make_peer = staticmethod(lambda: JsClientPeer("tcp"))


if __name__ == "__main__":
    unittest.main()
