"""Channels in one process: order, disconnects, timeouts and cancellation that lose nothing,
try_recv, async for, handles moving inside messages, ReceiverSet."""
from __future__ import annotations

import asyncio
import gc
import unittest

import ipfi
from tests.support import run


class Channels(unittest.TestCase):
    def test_send_recv_clone_close(self):
        async def main():
            tx, rx = ipfi.channel()
            tx.send({"hello": "world"})
            tx2 = tx.clone()
            tx2.send(2)
            tx.close()
            tx2.close()
            tx.close()  # idempotent
            self.assertEqual(await rx.recv(), {"hello": "world"})
            self.assertEqual(rx.try_recv(), 2)
            with self.assertRaises(ipfi.DisconnectedError) as e:
                await rx.recv()
            self.assertNotIsInstance(e.exception, ipfi.ConnectionLostError)
            self.assertEqual(e.exception.code, "ERR_IPFI_DISCONNECTED")
        run(main())

    def test_in_process_the_value_itself_is_delivered(self):
        async def main():
            tx, rx = ipfi.channel()
            v = {"a": [1, 2]}
            tx.send(v)
            self.assertIs(await rx.recv(), v)
        run(main())

    def test_try_recv_empty_and_disconnected(self):
        tx, rx = ipfi.channel()
        with self.assertRaises(ipfi.Empty):
            rx.try_recv()
        self.assertIsInstance(ipfi.Empty(), asyncio.QueueEmpty)
        tx.close()
        with self.assertRaises(ipfi.DisconnectedError):
            rx.try_recv()

    def test_closed_receiver_fails_senders_and_pending_receives(self):
        async def main():
            tx, rx = ipfi.channel()
            pending = asyncio.ensure_future(rx.recv())
            await asyncio.sleep(0)
            rx.close()
            with self.assertRaises(ipfi.DisconnectedError):
                await pending
            self.assertTrue(tx.is_disconnected)
            with self.assertRaises(ipfi.DisconnectedError):
                tx.send(1)
            with self.assertRaises(ipfi.HandleError):
                await rx.recv()
        run(main())

    def test_timeout_and_cancel_lose_nothing(self):
        async def main():
            tx, rx = ipfi.channel()
            with self.assertRaises(ipfi.TimeoutError) as e:
                await rx.recv(timeout=0.01)
            self.assertIsInstance(e.exception, TimeoutError)  # the builtin too
            task = asyncio.ensure_future(rx.recv())
            await asyncio.sleep(0)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            tx.send("kept")
            self.assertEqual(await rx.recv(timeout=1), "kept")
            # A value handed to a receive that is cancelled before it resumes goes back to the queue.
            task = asyncio.ensure_future(rx.recv())
            await asyncio.sleep(0)
            tx.send("first")
            tx.send("second")
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            self.assertEqual([rx.try_recv(), rx.try_recv()], ["first", "second"])
        run(main())

    def test_async_for_ends_on_disconnect(self):
        async def main():
            tx, rx = ipfi.channel()
            for i in range(3):
                tx.send(i)
            tx.close()
            self.assertEqual([v async for v in rx], [0, 1, 2])
        run(main())

    def test_context_managers(self):
        tx, rx = ipfi.channel()
        with tx, rx:
            tx.send(1)
        with self.assertRaises(ipfi.HandleError):
            tx.send(2)

    def test_a_dropped_sender_lets_the_receiver_disconnect(self):
        tx, rx = ipfi.channel()
        tx.send(1)
        del tx
        gc.collect()
        self.assertEqual(rx.try_recv(), 1)
        with self.assertRaises(ipfi.DisconnectedError):
            rx.try_recv()

    def test_values_are_checked_in_process_as_over_a_wire(self):
        tx, rx = ipfi.channel()
        with self.assertRaises(ipfi.UnsupportedValueError):
            tx.send(object())
        with self.assertRaises(ipfi.UnsupportedValueError):
            tx.send({"when": __import__("datetime").datetime(2020, 1, 1)})
        self.assertEqual(rx.size, 0)


class Handles(unittest.TestCase):
    def test_handles_move_inside_messages(self):
        async def main():
            tx, rx = ipfi.channel()
            jtx, jrx = ipfi.channel()
            jtx.send("queued")
            tx.send({"reply": jtx, "jobs": [jrx], "again": jtx})
            with self.assertRaises(ipfi.HandleError):
                jtx.send("moved")
            with self.assertRaises(ipfi.HandleError):
                jrx.try_recv()
            m = await rx.recv()
            self.assertIsNot(m["reply"], m["again"])  # two occurrences, two independent senders
            self.assertEqual(m["jobs"][0].try_recv(), "queued")
            m["reply"].send(1)
            m["reply"].close()
            m["again"].send(2)
            m["again"].close()
            self.assertEqual([v async for v in m["jobs"][0]], [1, 2])
        run(main())

    def test_nothing_moves_when_a_send_fails(self):
        tx, rx = ipfi.channel()
        other_tx, other_rx = ipfi.channel()
        with self.assertRaises(ipfi.UnsupportedValueError):
            tx.send([other_tx, other_rx, object()])
        other_tx.send("still mine")
        self.assertEqual(other_rx.try_recv(), "still mine")

    def test_receiver_refusals(self):
        async def main():
            tx, rx = ipfi.channel()
            with self.assertRaises(ipfi.HandleError):
                tx.send(rx)  # into its own channel
            other, _ = ipfi.channel()
            with self.assertRaises(ipfi.HandleError):
                other.send([rx, rx])
            pending = asyncio.ensure_future(rx.recv())
            await asyncio.sleep(0)
            with self.assertRaises(ipfi.HandleError):
                other.send(rx)  # a receive is pending on it
            pending.cancel()
        run(main())


class Sets(unittest.TestCase):
    def test_select(self):
        async def main():
            s = ipfi.ReceiverSet()
            a, ra = ipfi.channel()
            b, rb = ipfi.channel()
            ida, idb = s.add(ra), s.add(rb)
            with self.assertRaises(ipfi.HandleError):
                ra.try_recv()
            a.send("from a")
            b.send("from b")
            a.close()
            events = await s.select(timeout=1)
            self.assertEqual(sorted((e.id, e.kind, e.value) for e in events), [(ida, "message", "from a"), (idb, "message", "from b")])
            events = await s.select(timeout=1)
            self.assertEqual(events, [ipfi.SelectEvent(ida, "closed")])
            self.assertEqual(len(s), 1)
            with self.assertRaises(ipfi.TimeoutError):
                await s.select(timeout=0.01)
            waiting = asyncio.ensure_future(s.select(timeout=1))
            await asyncio.sleep(0)
            b.send("late")
            self.assertEqual(await waiting, [ipfi.SelectEvent(idb, "message", "late")])
            s.close()
            self.assertTrue(b.is_disconnected)
        run(main())

    def test_close_ends_a_waiting_select_and_a_second_select_is_refused(self):
        async def main():
            s = ipfi.ReceiverSet()
            tx, rx = ipfi.channel()
            rid = s.add(rx)
            waiting = asyncio.ensure_future(s.select())
            await asyncio.sleep(0)
            with self.assertRaises(ipfi.HandleError):
                await s.select()  # one wait at a time; the waiting one goes on
            tx.send("x")
            self.assertEqual(await waiting, [ipfi.SelectEvent(rid, "message", "x")])
            waiting = asyncio.ensure_future(s.select())
            await asyncio.sleep(0)
            s.close()
            with self.assertRaises(ipfi.DisconnectedError) as caught:
                await asyncio.wait_for(waiting, 10)  # (without the rule, it would wait for ever)
            self.assertNotIsInstance(caught.exception, ipfi.ConnectionLostError)
            self.assertEqual(str(caught.exception), "the ReceiverSet was closed")
            self.assertTrue(tx.is_disconnected)
            self.assertEqual(len(s), 0)
        run(main())

    def test_an_empty_set_waits_for_a_receiver_to_be_added(self):
        async def main():
            s = ipfi.ReceiverSet()
            waiting = asyncio.ensure_future(s.select(timeout=1))
            await asyncio.sleep(0)
            tx, rx = ipfi.channel()
            tx.send(1)
            rid = s.add(rx)
            self.assertEqual(await waiting, [ipfi.SelectEvent(rid, "message", 1)])
        run(main())


if __name__ == "__main__":
    unittest.main()
