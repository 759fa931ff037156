"""Procedures (PROTOCOL §10): expose() and remote() over real links, Python to Python (a socket
pair) and Python to a real Node process (tests/fixtures/js_procs.mjs on dist/, over stdio) both
ways: calls, result streams paced by credits and argument streams paced by pulls (the window bounds
what is in flight), callbacks both ways (lent and long-lived), cancellation (timeout, deadline,
AbortSignal, a cancelled task, a closed proxy) seen by the callee, errors with name, message, code
and fields, thrown non-errors, limits, a peer killed mid-call, and hostile session messages."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import unittest
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple

import ipfi
from ipfi.channel import _INTERNAL
from tests.support import fixture, node, run

GUARD = 60.0


class ValidationError(Exception):
    pass


class RangeError(Exception):
    pass


class Api:
    """The API both languages expose in these tests (the JavaScript one is in js_procs.mjs)."""

    def __init__(self) -> None:
        self.stats_: Dict[str, Any] = {"produced": 0, "finished": False}
        self.aborted_: List[str] = []
        self.kept: Any = None
        self.lent: Any = None
        self.contexts: List[Any] = []

    def add(self, a: int, b: int) -> int:
        return a + b

    def echo(self, v: Any) -> Any:
        return v

    def concat(self, *parts: Any) -> str:
        return "".join(str(p) for p in parts)

    async def after(self, tag: Any, ms: int) -> Any:
        await asyncio.sleep(ms / 1000)
        return tag

    async def ticks(self, n: int) -> AsyncIterator[int]:
        try:
            for i in range(n):
                self.stats_["produced"] += 1
                yield i
        finally:
            self.stats_["finished"] = True

    def stats(self) -> Dict[str, Any]:
        return dict(self.stats_)

    def reset(self) -> None:
        self.stats_ = {"produced": 0, "finished": False}

    async def sum(self, xs: Any) -> Dict[str, int]:
        total = count = 0
        async for x in xs:
            total += x
            count += 1
        return {"sum": total, "count": count}

    async def take(self, xs: Any, n: int) -> List[Any]:
        out = []
        async for x in xs:
            out.append(x)
            if len(out) >= n:
                break
        return out

    async def broken(self, n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i
        e = TypeError("stream broke")
        e.code = "E_STREAM"  # type: ignore[attr-defined]
        raise e

    async def work(self, steps: int, progress: Any) -> List[Any]:
        return [await progress(i) for i in range(1, steps + 1)]

    def keep(self, cb: Any) -> None:
        self.kept = cb

    async def fire(self, x: Any) -> Any:
        return await self.kept(x)

    def lend(self, f: Any) -> None:
        self.lent = f

    async def callLent(self) -> str:  # noqa: N802 - the JavaScript name
        try:
            await self.lent()
            return "no error"
        except Exception as e:  # noqa: BLE001
            return getattr(e, "name", type(e).__name__)

    async def twice(self, f: Any) -> Any:
        return await f(lambda x: x * 2)

    def fail(self, kind: str) -> str:
        if kind == "type":
            e = TypeError("bad type")
            e.code = "E_TYPE"  # type: ignore[attr-defined]
            raise e
        if kind == "custom":
            v = ValidationError("name is wrong")
            v.code, v.field, v.limits = "E_VALID", "name", {"min": 1, "max": 3}  # type: ignore[attr-defined]
            raise v
        if kind == "cause":
            raise Exception("outer") from RangeError("inner")
        if kind == "value":
            raise ipfi.ThrownValue({"reason": "plain", "n": 1})
        if kind == "string":
            raise ipfi.ThrownValue("just a string")
        return "no failure"

    async def hang(self, tag: str) -> None:
        ctx = ipfi.current_call()
        assert ctx is not None
        self.contexts.append(ctx)
        try:
            await ctx.wait_cancelled()
        finally:
            self.aborted_.append(tag)

    def aborted(self) -> List[str]:
        return list(self.aborted_)

    def pid(self) -> int:
        return os.getpid()

    def _private(self) -> str:
        return "never reachable"

    @property
    def prop(self) -> Any:
        raise AssertionError("a property must never run")


async def counting(record: Dict[str, Any]) -> AsyncIterator[int]:
    i = 0
    try:
        while True:
            record["produced"] += 1
            yield i
            i += 1
    finally:
        record["finished"] = True


async def up_to(n: int) -> AsyncIterator[int]:
    for i in range(1, n + 1):
        yield i


async def breaking() -> AsyncIterator[int]:
    yield 1
    yield 2
    raise Exception("arg broke")


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        v = await check() if asyncio.iscoroutinefunction(check) else check()
        if v or loop.time() > end:
            return v
        await asyncio.sleep(0.01)


async def pair() -> Tuple[ipfi.Connection, ipfi.Connection]:
    s1, s2 = socket.socketpair()
    a = ipfi.connect_wire(ipfi.FdWire(s1.detach()), name="caller")
    b = ipfi.connect_wire(ipfi.FdWire(s2.detach()), name="callee")
    await a.ready
    await b.ready
    return a, b


# ---------------------------------------------------------------------------------- peers


class PythonPeer:
    """The callee is another Python link end (a socket pair): Api exposed there, its endpoint
    sent over the link."""

    async def open(self) -> ipfi.Endpoint:
        self.a, self.b = await pair()
        self.api = Api()
        self.b.sender.send({"endpoint": ipfi.expose(self.api)})
        m = await self.a.receiver.recv(timeout=10)
        return m["endpoint"]  # type: ignore[no-any-return]

    async def aborted(self, proxy: Any) -> List[str]:
        return await proxy.aborted()  # type: ignore[no-any-return]

    async def close(self) -> None:
        self.a.close()
        self.b.close()


class NodePeer:
    """The callee is a Node process (js_procs.mjs), spawned over its stdio."""

    async def open(self) -> ipfi.Endpoint:
        self.child = await ipfi.spawn([node(), fixture("js_procs.mjs")])
        self.hello = await self.child.receiver.recv(timeout=20)
        return self.hello["endpoint"]  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.child.aclose()


class Calls:
    """A Python caller against a callee (the subclasses say which)."""

    make_peer: Any

    def go(self, body: Callable[[Any, ipfi.Endpoint], Any], timeout: float = GUARD) -> None:
        async def main() -> None:
            peer = self.make_peer()
            endpoint = await peer.open()
            try:
                await body(peer, endpoint)
            finally:
                await peer.close()
        run(main(), timeout)

    def test_calls_results_and_values(self) -> None:
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            api = ipfi.remote(endpoint)
            t.assertEqual(await api.add(2, 3), 5)
            t.assertEqual(await api.concat("a", "b", "c"), "abc")
            when = datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
            value = {"big": ipfi.BigInt(2 ** 64), "map": ipfi.Map({1: "one"}), "when": when, "bytes": b"\x01\x02\x03",
                     "u": ipfi.UNDEFINED, "list": [1, 2.5, None, True]}
            back = await api.echo(value)
            t.assertEqual(back, value)
            t.assertIsInstance(back["big"], ipfi.BigInt)
            t.assertIsInstance(back["map"], ipfi.Map)
            t.assertIs(back["u"], ipfi.UNDEFINED)
            # 20 calls at once, finishing in the reverse order: each gets its own answer.
            order = await asyncio.gather(*(api.after(i, (20 - i) * 5) for i in range(20)))
            t.assertEqual(order, list(range(20)))
            # Call ids past 2**32 still match their answers (they travel as numbers, not BigInts).
            with ipfi.remote(endpoint) as far:
                far._session.next_id = 2 ** 40
                t.assertEqual(await asyncio.gather(far.add(1, 2), far.add(3, 4)), [3, 7])
            # A proxy dropped at once still answers the calls made through it, then closes.
            t.assertEqual(await ipfi.remote(endpoint).add(20, 22), 42)
            t.assertEqual([x async for x in ipfi.remote(endpoint).ticks(3)], [0, 1, 2])
            # The endpoint passed to remote() stays usable: remote() holds its own copy.
            with ipfi.remote(endpoint) as again:
                t.assertEqual(await again["add"](1, 1), 2)
            api.close()
            with t.assertRaises(ipfi.DisconnectedError):
                await api.add(1, 2)
            endpoint.close()
        self.go(body)

    def test_a_result_stream_is_held_to_its_window(self) -> None:
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            api = ipfi.remote(endpoint)
            t.assertEqual([x async for x in api.ticks.with_options(window=8)(100)], list(range(100)))
            await api.reset()
            seen = []
            async with api.ticks.with_options(window=4)(100000) as stream:
                async for x in stream:
                    if x in (0, 9, 29):
                        await asyncio.sleep(0.05)  # the producer runs ahead as far as it may
                        seen.append((x + 1, (await api.stats())["produced"]))
                    if x == 29:
                        break
            for k, produced in seen:
                t.assertLessEqual(produced, k + 4 + 1, seen)
                t.assertGreaterEqual(produced, k, seen)
            t.assertTrue(await eventually(lambda: api.stats()), "stats")
            async def finished() -> bool:
                return bool((await api.stats())["finished"])
            t.assertTrue(await eventually(finished), "breaking out stops the producer (its finally runs)")
            # A plain `async for` broken out of: the stream, dropped, is stopped too.
            await api.reset()
            async for x in api.ticks.with_options(window=4)(100000):
                if x == 5:
                    break
            t.assertTrue(await eventually(finished), "a stream dropped unread stops its producer")
            t.assertLessEqual((await api.stats())["produced"], 6 + 4 + 1)
            broken = []
            with t.assertRaises(TypeError) as e:
                async for x in api.broken(3):
                    broken.append(x)
            t.assertEqual(broken, [0, 1, 2])
            t.assertIsInstance(e.exception, ipfi.RemoteError)
            t.assertEqual((str(e.exception.message), e.exception.code), ("stream broke", "E_STREAM"))  # type: ignore[attr-defined]
            with t.assertRaises(TypeError):  # a value is not a stream
                async for _ in api.add(1, 2):
                    pass
            api.close()
        self.go(body)

    def test_argument_streams_are_pulled_within_the_window(self) -> None:
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            api = ipfi.remote(endpoint)
            t.assertEqual(await api.sum(up_to(100)), {"sum": 5050, "count": 100})
            record = {"produced": 0, "finished": False}
            t.assertEqual(await api.take.with_options(window=4)(counting(record), 5), [0, 1, 2, 3, 4])
            t.assertTrue(await eventually(lambda: record["finished"]), "the argument's finally ran")
            t.assertLessEqual(record["produced"], 5 + 4 + 1)
            with t.assertRaises(Exception) as e:
                await api.sum(breaking())
            t.assertEqual(e.exception.message, "arg broke")  # type: ignore[attr-defined]
            api.close()
        self.go(body)

    def test_callbacks_both_ways(self) -> None:
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            api = ipfi.remote(endpoint)
            order: List[int] = []

            def progress(i: int) -> int:
                order.append(i)
                return i * 10
            t.assertEqual(await api.work(3, progress), [10, 20, 30])
            t.assertEqual(order, [1, 2, 3])

            async def slow_progress(i: int) -> int:
                await asyncio.sleep(0.001)
                return -i
            t.assertEqual(await api.work(2, slow_progress), [-1, -2])
            cb = ipfi.callback(lambda x: x + 1)
            t.assertEqual(cb(1), 2)  # still callable here
            await api.keep(cb)
            t.assertEqual([await api.fire(1), await api.fire(41)], [2, 42])
            cb.close()
            with t.assertRaises(ipfi.DisconnectedError):
                await api.fire(0)
            await api.lend(lambda: 1)
            t.assertEqual(await api.callLent(), "DisconnectedError")

            async def twice(g: Any) -> Any:
                t.assertIsInstance(g, ipfi.RemoteFunction)
                return await g(21)
            t.assertEqual(await api.twice(twice), 42)
            api.close()
        self.go(body)

    def test_cancellation_timeouts_deadlines_signals_tasks_and_closed_proxies(self) -> None:
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            api = ipfi.remote(endpoint)
            loop = asyncio.get_running_loop()
            started = loop.time()
            with t.assertRaises(ipfi.TimeoutError):
                await api.hang.with_options(timeout=0.2)("t")
            t.assertGreaterEqual(loop.time() - started, 0.19)
            with t.assertRaises(ipfi.TimeoutError):
                await api.hang.with_options(deadline=loop.time() + 0.05)("dl")
            sig = ipfi.AbortSignal()
            loop.call_later(0.1, sig.abort, ValueError("stop now"))
            with t.assertRaises(ValueError) as e:
                await api.hang.with_options(signal=sig)("s")
            t.assertEqual(str(e.exception), "stop now")
            task = asyncio.ensure_future(api.hang("c"))
            await asyncio.sleep(0.05)
            task.cancel()
            with t.assertRaises(asyncio.CancelledError):
                await task
            explicit = api.hang("x")
            await asyncio.sleep(0.02)
            explicit.cancel()
            with t.assertRaises(ipfi.AbortError):
                await explicit
            second = ipfi.remote(endpoint)
            pending = asyncio.ensure_future(second.hang("d"))
            await asyncio.sleep(0.05)
            second.close()
            with t.assertRaises(ipfi.DisconnectedError):
                await pending
            async def all_seen() -> bool:
                return {"t", "dl", "s", "c", "x", "d"} <= set(await api.aborted())
            t.assertTrue(await eventually(all_seen), await api.aborted())
            # A default timeout of the proxy applies to every call.
            with ipfi.remote(endpoint, timeout=0.05) as quick:
                with t.assertRaises(ipfi.TimeoutError):
                    await quick.hang("q")
                t.assertEqual(await quick.add(1, 2), 3)
            api.close()
        self.go(body)

    def test_a_call_cancelled_as_soon_as_it_is_made_still_runs_and_sees_its_signal(self) -> None:
        # The conformance suite's procedures-cancellation closes a proxy right after a call: the
        # callee gets the CALL and the end of the session together. The procedure must still run
        # and see its call aborted, as in JavaScript (a Python callee cancelled its task before it
        # had ever run, so the procedure never saw the call).
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            api = ipfi.remote(endpoint)
            second = ipfi.remote(endpoint)
            pending = second.hang("closed at once")
            second.close()
            with t.assertRaises(ipfi.DisconnectedError):
                await pending
            call = api.hang("cancelled at once")
            call.cancel()
            with t.assertRaises(ipfi.AbortError):
                await call
            async def all_seen() -> bool:
                return {"closed at once", "cancelled at once"} <= set(await api.aborted())
            t.assertTrue(await eventually(all_seen), await api.aborted())
            api.close()
        self.go(body)

    def test_errors_carry_name_message_code_fields_and_cause(self) -> None:
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            api = ipfi.remote(endpoint)
            with t.assertRaises(TypeError) as te:
                await api.fail("type")
            e: Any = te.exception
            t.assertIsInstance(e, ipfi.RemoteError)
            t.assertEqual((e.name, e.message, e.code), ("TypeError", "bad type", "E_TYPE"))
            with t.assertRaises(ipfi.RemoteError) as ce:
                await api.fail("custom")
            e = ce.exception
            t.assertEqual((e.name, e.message, e.code), ("ValidationError", "name is wrong", "E_VALID"))
            t.assertEqual(e.fields, {"code": "E_VALID", "field": "name", "limits": {"min": 1, "max": 3}})
            with t.assertRaises(ipfi.RemoteError) as ca:
                await api.fail("cause")
            e = ca.exception
            t.assertEqual((e.name, e.message), ("Error", "outer"))
            t.assertIsInstance(e.cause, ipfi.RemoteError)
            t.assertEqual((e.cause.name, e.cause.message), ("RangeError", "inner"))
            with t.assertRaises(ipfi.ThrownValue) as tv:
                await api.fail("value")
            t.assertEqual(tv.exception.value, {"reason": "plain", "n": 1})
            with t.assertRaises(ipfi.ThrownValue) as ts:
                await api.fail("string")
            t.assertEqual(ts.exception.value, "just a string")
            for name in ("nope", "__proto__", "constructor", "_private", "prop"):
                with t.assertRaises(TypeError) as ne:
                    await api[name]()
                t.assertEqual(ne.exception.code, "ERR_IPFI_NO_SUCH_PROCEDURE", name)  # type: ignore[attr-defined]
            with t.assertRaises(ipfi.LimitExceededError) as le:
                await api.many(*[lambda: 1 for _ in range(65)])
            t.assertIsInstance(le.exception, ipfi.RemoteError)
            t.assertEqual(await api.add(1, 1), 2)  # the session goes on
            api.close()
        self.go(body)

    def test_hostile_session_messages_close_only_that_session(self) -> None:
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            attacks: List[List[Any]] = [
                [[0, 1, "add", [2, 3], 0, []]],                         # window 0
                [[0, 1, "add", [2, 3], MAX_WINDOW + 1, []]],            # window too large
                ["hello"],                                               # not an array
                [[9, 0]],                                                # unknown kind
                [[0, 1, "hang", ["x"], 32, []], [0, 1, "hang", ["x"], 32, []]],  # duplicate id
                [[0, 1, "hang", ["t"], 32, []], [3, 1, 0, 1]],          # ITEM for an argument not streamed
                [[0, 1, 5, [], 32, []]],                                 # a name that is not a string
                [[0, 1, "add", [1], 32, [0]]],                           # stream position that is not nil
                [[2, 1, -1]],                                            # malformed credit
                [[float("inf"), 1]],                                     # a kind that is no integer
                [[float("nan"), 1]],
                [[0, float("inf"), "add", [], 32, []]],                  # an id that is no integer
                [[0, 1, "add", [], 32.5, []]],                           # a window that is no integer
                [[0, 1, "add", [], 32, {"not": "a list"}]],              # streams not an array
            ]
            for attack in attacks:
                s = RawSession(endpoint)
                s.send([0, 0, "add", [2, 3], 32, []])
                t.assertEqual(await s.recv(), [0, 0, 5])
                for m in attack:
                    s.send(m)
                closing = await s.recv()
                t.assertEqual(closing[0], 6, attack)
                t.assertIsInstance(closing[1], ipfi.ProtocolError, attack)
                with t.assertRaises(ipfi.DisconnectedError):
                    await s.recv()
                s.close()
                again = RawSession(endpoint)  # the endpoint and the link go on
                again.send([0, 0, "add", [20, 22], 32, []])
                t.assertEqual(await again.recv(), [0, 0, 42], attack)
                again.close()
            # Answered with ERROR, the session goes on: unknown names.
            s = RawSession(endpoint)
            for i, name in enumerate(["nope", "__proto__", "constructor"], 1):
                s.send([0, i, name, [], 32, []])
                m = await s.recv()
                t.assertEqual(m[:2], [1, i])
                t.assertEqual((m[2].name, m[2].code), ("TypeError", "ERR_IPFI_NO_SUCH_PROCEDURE"))
            # A window of MAX_WINDOW and a huge credit are accepted; CANCEL frees the id at once.
            s.send([0, 10, "ticks", [3], MAX_WINDOW, []])
            t.assertEqual([await s.recv() for _ in range(4)], [[2, 10, 0], [2, 10, 1], [2, 10, 2], [3, 10]])
            s.send([0, 11, "ticks", [3], 1, []])
            t.assertEqual(await s.recv(), [2, 11, 0])
            s.send([2, 11, float(2 ** 53 - 1)])  # a number: a Python int past 2**32 is sent as a BigInt
            t.assertEqual([await s.recv() for _ in range(3)], [[2, 11, 1], [2, 11, 2], [3, 11]])
            s.send([0, 12, "hang", ["reused"], 32, []])
            s.send([1, 12])
            s.send([0, 12, "add", [1, 2], 32, []])
            t.assertEqual(await s.recv(), [0, 12, 3])
            # Ids past 2**32 travel as numbers (float64), and the answer names the same id.
            s.send([0, float(2 ** 40), "add", [1, 1], 32, []])
            m = await s.recv()
            t.assertEqual((m, type(m[1])), ([0, 2 ** 40, 2], float))
            # Not errors: CANCEL/CREDIT for unknown ids, and an opening of the wrong shape.
            s.send([1, 77])
            s.send([2, 77, 5])
            endpoint.clone().send({"calls": 1, "reply": 2})
            s.send([0, 4, "add", [40, 2], 32, []])
            t.assertEqual(await s.recv(), [0, 4, 42])
            # Garbage that carries a handle: the session closes, and so does the handle.
            tx, rx = ipfi.channel()
            s.send({"not": "an array", "tx": tx})
            t.assertEqual((await s.recv())[0], 6)
            with t.assertRaises(ipfi.DisconnectedError):
                await rx.recv(timeout=10)
            s.close()
        self.go(body)

    def test_a_callee_killed_mid_call(self) -> None:
        async def body(peer: Any, endpoint: ipfi.Endpoint) -> None:
            t: unittest.TestCase = self  # type: ignore[assignment]
            api = ipfi.remote(endpoint)
            t.assertEqual(await api.add(1, 2), 3)
            pending = [asyncio.ensure_future(api.hang("k")), asyncio.ensure_future(api.hang("k2"))]
            stream = api.ticks.with_options(window=2)(10 ** 9)
            t.assertEqual(await stream.__anext__(), 0)
            await asyncio.sleep(0.05)
            await peer.kill()
            for p in pending:
                with t.assertRaises(ipfi.ConnectionLostError) as e:
                    await p
                t.assertNotIsInstance(e.exception, ipfi.RemoteError)
            with t.assertRaises(ipfi.ConnectionLostError):
                async for _ in stream:
                    pass
            with t.assertRaises(ipfi.DisconnectedError):
                await api.add(1, 2)
        self.go(body)


MAX_WINDOW = 1 << 20


class RawSession:
    """A session opened by hand: the tests write the messages of §10.2 themselves."""

    def __init__(self, endpoint: ipfi.Endpoint) -> None:
        self.calls, calls_rx = ipfi.channel()
        reply_tx, self.replies = ipfi.channel()
        endpoint.clone().send({"calls": calls_rx, "reply": reply_tx})

    def send(self, m: Any) -> None:
        self.calls.send(m)

    async def recv(self, timeout: float = 10.0) -> Any:
        return await self.replies.recv(timeout=timeout)

    def close(self) -> None:
        self.calls.close()
        self.replies.close()


class PythonToPython(Calls, unittest.TestCase):
    class Peer(PythonPeer):
        async def kill(self) -> None:
            self.b.link.fail(ConnectionResetError("killed"))

    make_peer = Peer


class PythonToNode(Calls, unittest.TestCase):
    class Peer(NodePeer):
        async def kill(self) -> None:
            os.kill(self.child.pid, signal.SIGKILL)

    make_peer = Peer


# ------------------------------------------------------------------------ JavaScript calling Python


class NodeCallsPython(unittest.TestCase):
    """JavaScript (js_procs.mjs) calls procedures Python exposed, and reports what it saw."""

    def drive(self, test: str, api: Optional[Api] = None, **expose: Any) -> Any:
        async def main() -> Any:
            child = await ipfi.spawn([node(), fixture("js_procs.mjs")])
            try:
                await child.receiver.recv(timeout=20)
                child.sender.send({"op": "drive", "endpoint": ipfi.expose(api or Api(), **expose), "test": test})
                m = await child.receiver.recv(timeout=GUARD - 10)
                self.assertNotIn("failed", m, m)
                return m["result"]
            finally:
                await child.aclose()
        return run(main(), GUARD)

    def test_calls(self) -> None:
        r = self.drive("calls")
        self.assertEqual((r["add"], r["concat"], r["order"]), (5, "abc", list(range(20))))
        echo = r["echo"]
        self.assertEqual(echo["big"], 2 ** 64)
        self.assertIsInstance(echo["big"], ipfi.BigInt)
        self.assertEqual(echo["map"], {1: "one"})
        self.assertEqual(echo["bytes"], b"\x01\x02\x03")
        self.assertIs(echo["u"], ipfi.UNDEFINED)
        self.assertEqual(echo["when"], datetime(1970, 1, 1, 0, 20, 34, 567000, tzinfo=timezone.utc))

    def test_streams_both_ways_paced_by_credits_and_pulls(self) -> None:
        api = Api()
        r = self.drive("streams", api)
        self.assertEqual(r["ticks"], list(range(100)))
        for s in r["seen"]:
            self.assertLessEqual(s["produced"], s["k"] + 4 + 1, r["seen"])
        self.assertTrue(r["finished"], "breaking out in JavaScript ends the Python generator (its finally ran)")
        self.assertEqual(r["sum"], {"sum": 5050, "count": 100})
        self.assertEqual(r["taken"], [0, 1, 2, 3, 4])
        self.assertTrue(r["record"]["finished"])
        self.assertLessEqual(r["record"]["produced"], 5 + 4 + 1)
        self.assertEqual(r["broken"], [0, 1, 2])
        self.assertEqual({k: r["brokenError"][k] for k in ("name", "message", "code", "typeError", "remote")},
                         {"name": "TypeError", "message": "stream broke", "code": "E_STREAM", "typeError": True, "remote": True})
        self.assertEqual((r["argBroke"]["error"]["name"], r["argBroke"]["error"]["message"]), ("Error", "arg broke"))

    def test_callbacks(self) -> None:
        r = self.drive("callbacks")
        self.assertEqual(r["work"], [10, 20, 30])
        self.assertEqual(r["order"], [1, 2, 3])
        self.assertEqual(r["fired"], [2, 42])
        self.assertTrue(r["afterClose"]["error"]["disconnected"], r["afterClose"])
        self.assertEqual(r["callLent"], "DisconnectedError")
        self.assertEqual(r["twice"], 42)

    def test_cancellation_reaches_the_python_procedure(self) -> None:
        api = Api()
        r = self.drive("cancel", api)
        self.assertEqual(r["t"]["error"]["name"], "TimeoutError")
        self.assertEqual(r["s"]["error"]["message"], "stop now")
        self.assertTrue(r["d"]["error"]["disconnected"])
        self.assertLessEqual({"t", "s", "d"}, set(r["tags"]))
        self.assertTrue(all(c.cancelled for c in api.contexts))
        self.assertEqual([c.name for c in api.contexts], ["hang"] * len(api.contexts))

    def test_cancellation_without_cancelling_the_task_aborts_the_signal(self) -> None:
        api = Api()
        r = self.drive("cancel", api, cancel_tasks=False)
        self.assertLessEqual({"t", "s", "d"}, set(r["tags"]))
        self.assertTrue(all(isinstance(c.signal.reason, ipfi.IpfiError) for c in api.contexts))

    def test_errors(self) -> None:
        r = self.drive("errors")
        t = r["type"]["error"]
        self.assertEqual((t["name"], t["message"], t["code"], t["typeError"], t["remote"]), ("TypeError", "bad type", "E_TYPE", True, True))
        c = r["custom"]["error"]
        self.assertEqual((c["name"], c["message"], c["code"]), ("ValidationError", "name is wrong", "E_VALID"))
        self.assertEqual(c["fields"], {"field": "name", "limits": {"min": 1, "max": 3}})
        cause = r["cause"]["error"]
        self.assertEqual((cause["name"], cause["message"], cause["cause"]), ("Error", "outer", {"name": "RangeError", "message": "inner"}))
        self.assertEqual(r["value"]["error"], {"thrown": {"reason": "plain", "n": 1}})
        self.assertEqual(r["string"]["error"], {"thrown": "just a string"})
        self.assertEqual((r["nope"]["error"]["code"], r["nope"]["error"]["typeError"]), ("ERR_IPFI_NO_SUCH_PROCEDURE", True))
        self.assertEqual((r["limit"]["error"]["name"], r["limit"]["error"]["code"]), ("LimitExceededError", "ERR_IPFI_LIMIT_EXCEEDED"))

    def test_a_caller_killed_mid_call_aborts_the_python_procedure(self) -> None:
        async def main() -> None:
            api = Api()
            child = await ipfi.spawn([node(), fixture("js_procs.mjs")])
            try:
                await child.receiver.recv(timeout=20)
                child.sender.send({"op": "hold-call", "endpoint": ipfi.expose(api)})
                self.assertEqual(await child.receiver.recv(timeout=20), "calling")
                self.assertTrue(await eventually(lambda: api.contexts), "the call arrived")
                os.kill(child.pid, signal.SIGKILL)
                self.assertTrue(await eventually(lambda: api.aborted_ == ["held"]), api.aborted_)
                self.assertIsInstance(api.contexts[0].signal.reason, ipfi.ConnectionLostError)
            finally:
                await child.aclose()
        run(main(), GUARD)


# ----------------------------------------------------------------- the rules of §10.3, by hand


class Credits(unittest.TestCase):
    """The window bounds what is in flight, and a peer past it fails only that call."""

    def test_the_python_callee_sends_exactly_window_plus_credit_items(self) -> None:
        async def main() -> None:
            a, b = await pair()
            api = Api()
            b.sender.send(ipfi.expose(api))
            endpoint = await a.receiver.recv(timeout=5)
            s = RawSession(endpoint)
            s.send([0, 0, "ticks", [10 ** 6], 4, []])
            got = [await s.recv() for _ in range(4)]
            self.assertEqual(got, [[2, 0, i] for i in range(4)])
            await asyncio.sleep(0.1)
            with self.assertRaises(ipfi.TimeoutError):  # nothing more without credit
                await s.recv(timeout=0.1)
            self.assertLessEqual(api.stats_["produced"], 5)
            s.send([2, 0, 2])
            self.assertEqual([await s.recv() for _ in range(2)], [[2, 0, 4], [2, 0, 5]])
            with self.assertRaises(ipfi.TimeoutError):
                await s.recv(timeout=0.1)
            s.send([2, 0, 0])  # 0 adds nothing
            with self.assertRaises(ipfi.TimeoutError):
                await s.recv(timeout=0.1)
            s.send([1, 0])  # CANCEL: the generator's finally runs
            self.assertTrue(await eventually(lambda: api.stats_["finished"]))
            # Argument streams: the callee pulls a window, then tops it up after half is consumed.
            s.send([0, 1, "sum", [None], 4, [0]])
            self.assertEqual(await s.recv(), [4, 1, 0, 4])
            asked, sent = 4, 0
            for i in range(4):
                s.send([3, 1, 0, i])
                sent += 1
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
            s.send([4, 1, 0])
            while True:
                m = await s.recv()
                if m[0] != 4:
                    break
                self.assertEqual(m[:3], [4, 1, 0])
                asked += m[3]
                self.assertLessEqual(asked - sent, 4, "never more than the window asked for and not received")
            self.assertGreater(asked, 4, "it tops the window up as it reads")
            self.assertEqual(m, [0, 1, {"sum": 6, "count": 4}])
            # An ITEM that was not pulled ends the session with CLOSE.
            s.send([0, 2, "hang", [None], 2, [0]])  # hang() never reads its argument: nothing is pulled
            self.assertTrue(await eventually(lambda: api.contexts), "hang() runs")
            s.send([3, 2, 0, "unasked"])
            m = await s.recv()
            self.assertEqual(m[0], 6)
            self.assertIsInstance(m[1], ipfi.ProtocolError)
            self.assertIn("not asked for", m[1].message)
            self.assertTrue(await eventually(lambda: api.aborted_), "the session's end aborts its calls")
            a.close()
            b.close()
        run(main(), 30)

    def hostile_callee(self, script: Callable[[List[Any], ipfi.Sender[Any], Any], Any]) -> Callable[[], Any]:
        """A callee written by hand, on the far side of a link: ``script(call, reply, calls_rx)``."""
        async def serve(b: ipfi.Connection) -> None:
            tx, rx = ipfi.channel()
            b.sender.send(ipfi.Endpoint(tx._take("an endpoint"), _INTERNAL))
            opening = await rx.recv(timeout=5)
            call = await opening["calls"].recv(timeout=5)
            await script(call, opening["reply"], opening["calls"])
            b.cancels = [m async for m in opening["calls"]]  # type: ignore[attr-defined]
        return serve  # type: ignore[return-value]

    def test_a_python_caller_fails_a_stream_past_its_credit_after_the_items_within_it(self) -> None:
        async def script(call: List[Any], reply: ipfi.Sender[Any], _: Any) -> None:
            self.assertEqual(call[:5], [0, 0, "flood", [], 4])
            for i in range(7):
                reply.send([2, 0, i])

        async def main() -> None:
            a, b = await pair()
            server = asyncio.ensure_future(self.hostile_callee(script)(b))  # type: ignore[call-arg]
            api = ipfi.remote(await a.receiver.recv(timeout=5))
            got = []
            stream = await api.flood.with_options(window=4)()
            await asyncio.sleep(0.2)  # everything has arrived before anything is read
            with self.assertRaises(ipfi.ProtocolError) as e:
                async for x in stream:
                    got.append(x)
            self.assertNotIsInstance(e.exception, ipfi.RemoteError)
            self.assertEqual(got, [0, 1, 2, 3])
            api.close()
            await server
            self.assertEqual(b.cancels[0], [1, 0])  # type: ignore[attr-defined]
            self.assertFalse(a.link.is_closed)
            a.close()
            b.close()
        run(main(), 30)

    def test_a_python_caller_ignores_replies_it_cannot_place(self) -> None:
        async def script(call: List[Any], reply: ipfi.Sender[Any], calls: Any) -> None:
            for junk in ("junk", [], [float("inf"), 0], [float("nan"), 0], [0, 99, 1], [0, float("nan"), 1],
                         [0, {"id": 0}, 1], [4, 0, 0, 1], [5, 0, 7], [7, 0]):
                reply.send(junk)
            reply.send([0.0, 0.0, "ok"])  # integral floats are those numbers, as in JavaScript
            second = await calls.recv(timeout=5)
            reply.send([6, "not an error"])  # CLOSE: every pending call fails
            self.assertEqual(second[:3], [0, 1, "again"])

        async def main() -> None:
            a, b = await pair()
            server = asyncio.ensure_future(self.hostile_callee(script)(b))  # type: ignore[call-arg]
            api = ipfi.remote(await a.receiver.recv(timeout=5))
            self.assertEqual(await api.first(), "ok")
            with self.assertRaises(ipfi.DisconnectedError):
                await api.again()
            with self.assertRaises(ipfi.DisconnectedError):
                await api.later()
            await server
            self.assertFalse(a.link.is_closed)
            a.close()
            b.close()
        run(main(), 30)

    def test_a_long_stream_list_is_checked_in_linear_time(self) -> None:
        async def main() -> None:
            a, b = await pair()
            b.sender.send(ipfi.expose(Api()))
            s = RawSession(await a.receiver.recv(timeout=5))
            n = 200_000
            loop = asyncio.get_running_loop()
            started = loop.time()
            s.send([0, 0, "take", [None] * n, 1, list(range(n - 1)) + [0]])  # one duplicate, at the end
            m = await s.recv(timeout=20)
            self.assertEqual(m[0], 6)
            self.assertLess(loop.time() - started, 5.0)
            a.close()
            b.close()
        run(main(), 30)

    def test_a_result_in_the_middle_of_a_stream_fails_it(self) -> None:
        async def script(call: List[Any], reply: ipfi.Sender[Any], _: Any) -> None:
            reply.send([2, 0, "a"])
            reply.send([0, 0, "x"])

        async def main() -> None:
            a, b = await pair()
            server = asyncio.ensure_future(self.hostile_callee(script)(b))  # type: ignore[call-arg]
            api = ipfi.remote(await a.receiver.recv(timeout=5))
            got = []
            with self.assertRaises(ipfi.ProtocolError):
                async for x in api.ticks():
                    got.append(x)
            self.assertEqual(got, ["a"])
            api.close()
            await server
            a.close()
            b.close()
        run(main(), 30)

    def test_an_argument_stream_stopped_before_its_pump_ran_is_closed(self) -> None:
        # A PULL, then the RESULT in the same turn: the call ends (stopping the argument) before the
        # pump's task ran. The generator, started by an earlier PULL, must still be closed.
        async def script(call: List[Any], reply: ipfi.Sender[Any], calls: Any) -> None:
            reply.send([4, 0, 0, 2])
            self.assertEqual([await calls.recv(timeout=5) for _ in range(2)], [[3, 0, 0, i] for i in range(2)])
            reply.send([4, 0, 0, 2])
            reply.send([0, 0, "done"])

        async def main() -> None:
            a, b = await pair()
            server = asyncio.ensure_future(self.hostile_callee(script)(b))  # type: ignore[call-arg]
            api = ipfi.remote(await a.receiver.recv(timeout=5))
            record = {"produced": 0, "finished": False}
            self.assertEqual(await api.eat.with_options(window=4)(counting(record)), "done")
            self.assertTrue(await eventually(lambda: record["finished"]), "the argument's finally ran")
            api.close()
            await server
            a.close()
            b.close()
        run(main(), 30)

    def test_a_python_caller_refuses_a_pull_past_the_window(self) -> None:
        async def script(call: List[Any], reply: ipfi.Sender[Any], calls: Any) -> None:
            self.assertEqual(call[5], [0])
            reply.send([4, 0, 0, 3])
            self.assertEqual([await calls.recv(timeout=5) for _ in range(3)], [[3, 0, 0, i] for i in range(3)])
            reply.send([4, 0, 0, 5])  # 5 more: 5 > window 4

        async def main() -> None:
            a, b = await pair()
            server = asyncio.ensure_future(self.hostile_callee(script)(b))  # type: ignore[call-arg]
            api = ipfi.remote(await a.receiver.recv(timeout=5))
            record = {"produced": 0, "finished": False}
            with self.assertRaises(ipfi.ProtocolError):
                await api.eat.with_options(window=4)(counting(record))
            self.assertTrue(await eventually(lambda: record["finished"]), "the argument's finally ran")
            api.close()
            await server
            self.assertEqual(b.cancels[0], [1, 0])  # type: ignore[attr-defined]
            a.close()
            b.close()
        run(main(), 30)


SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "conformance", "scenarios.json")


class HostileScenarios(unittest.TestCase):
    """The procedures-hostile-* scenarios of conformance/scenarios.json, their raw bytes written at a
    Python callee (as the conformance runner does, conformance/runner/raw.ts): each answer must be
    byte for byte what the scenario awaits, and the link must end without a GOODBYE of its own."""

    def test_every_procedures_hostile_scenario(self) -> None:
        import json
        with open(SCENARIOS, encoding="utf-8") as f:
            spec = json.load(f)
        scenarios = [sc for sc in spec["scenarios"] if sc["name"].startswith("procedures-hostile-")]
        self.assertGreaterEqual(len(scenarios), 6)
        for sc in scenarios:
            with self.subTest(sc["name"]):
                problems = run(self.attack(sc, spec["frames"]), 30)
                self.assertEqual(problems, [], sc["name"])

    async def attack(self, sc: Dict[str, Any], frames: Dict[str, str]) -> List[str]:
        s1, s2 = socket.socketpair()
        victim = ipfi.connect_wire(ipfi.FdWire(s1.detach()), name="victim")

        async def hang() -> None:
            await asyncio.Event().wait()
        victim.sender.send({"kind": "api", "endpoint": ipfi.expose({"add": lambda x, y: x + y, "hang": hang})})
        inbox = asyncio.ensure_future(victim.receiver.recv())
        reader, writer = await asyncio.open_connection(sock=s2)
        problems: List[str] = []

        def hexb(text: str) -> bytes:
            return bytes.fromhex(frames.get(text[1:], "") if text.startswith("@") else text.replace(" ", ""))

        async def frame() -> Optional[Tuple[int, bytes]]:
            try:
                head = await asyncio.wait_for(reader.readexactly(4), 10)
                body = await asyncio.wait_for(reader.readexactly(int.from_bytes(head, "big")), 10)
            except asyncio.IncompleteReadError:
                return None
            return body[0], body[1:]
        for step in sc["attack"]:
            if "send" in step:
                writer.write(hexb(step["send"]))
            elif step.get("end"):
                writer.write_eof()
            elif step.get("await") == "hello":
                f = await frame()
                if f is None or f[0] != 1:
                    problems.append(f"expected HELLO, got {f}")
            elif step.get("await") == "msg":
                while True:
                    f = await frame()
                    if f is None or f[0] == 6:
                        problems.append(f"expected a MSG, got {f}")
                        break
                    if f[0] != 2:
                        continue
                    body = f[1]
                    target = [body[0], int.from_bytes(body[1:5], "big")]
                    caps_len = int.from_bytes(body[5:9], "big")
                    payload = body[9 + caps_len:]
                    if step.get("caps") and caps_len == 0:
                        problems.append("expected a MSG with capabilities")
                    if "target" in step and target != step["target"]:
                        problems.append(f"expected a MSG to {step['target']}, got {target}")
                    if "payload" in step and payload != hexb(step["payload"]):
                        problems.append(f"expected payload {step['payload']}, got {payload.hex(' ')}")
                    if "payloadPrefix" in step and not payload.startswith(hexb(step["payloadPrefix"])):
                        problems.append(f"expected a payload starting {step['payloadPrefix']}, got {payload.hex(' ')}")
                    break
            else:
                problems.append(f"unknown step {step}")
        after = []
        while True:
            f = await frame()
            if f is None:
                break
            after.append(f)
        if sc["expect"].get("goodbye") == "none" and any(k == 6 for k, _ in after):
            problems.append(f"the victim sent GOODBYE: {after}")
        with self.assertRaises(ipfi.DisconnectedError):
            await inbox
        writer.close()
        victim.close()
        return problems


class Surface(unittest.TestCase):
    """What the API refuses locally, and what a callee does with a lookup."""

    def test_the_readme_block_runs(self) -> None:
        readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
        with open(readme, encoding="utf-8") as f:
            block = f.read().split("## Procedures", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
        body, shown = [], []
        for ln in block.splitlines():
            if ln.startswith(("await ", "[")):  # a result the README shows: record it
                code, _, comment = ln.partition("#")
                body.append(f"_out.append({code.strip()})")
                shown.append(comment.strip())
            else:
                body.append(ln)
        src = "async def main(ipfi, numbers, print):\n    _out = []\n" + "".join(f"    {ln}\n" for ln in body) + "    return _out\n"
        scope: Dict[str, Any] = {}
        exec(compile(src, "python/README.md", "exec"), scope)  # noqa: S102 - the README's own code

        async def numbers() -> AsyncIterator[int]:
            for i in (1, 2, 3):
                yield i
        printed: List[Any] = []
        got = run(scope["main"](ipfi, numbers, lambda *a: printed.append(a)), 10)
        self.assertEqual(got, [3, [0, 1, 2], 6, "done", 3])
        self.assertEqual(shown[:2], ["3", "[0, 1, 2]"])
        self.assertIn('"done"', shown[3])
        self.assertEqual(printed, [(0.5,), (1.0,)])

    def test_expose_needs_a_running_loop(self) -> None:
        with self.assertRaisesRegex(RuntimeError, "running asyncio event loop"):
            ipfi.expose({"f": lambda: 1})
        with self.assertRaisesRegex(RuntimeError, "running asyncio event loop"):
            ipfi.callback(lambda: 1)

    def test_bad_options_and_arguments_are_refused_where_they_are_written(self) -> None:
        async def main() -> None:
            ep = ipfi.expose({"add": lambda a, b: a + b})
            with self.assertRaises(ipfi.HandleError):
                ipfi.remote("not an endpoint")  # type: ignore[arg-type]
            for bad in ({"window": 0}, {"window": MAX_WINDOW + 1}, {"timeout": -1}, {"timeout": float("nan")}):
                with self.assertRaises(ValueError, msg=bad):
                    ipfi.remote(ep, **bad)
            with self.assertRaises(TypeError):
                ipfi.remote(ep, signal=asyncio.Event())  # type: ignore[arg-type]
            with self.assertRaises(TypeError):
                ipfi.expose(42)
            with self.assertRaises(TypeError):
                ipfi.callback(3)  # type: ignore[arg-type]
            with self.assertRaises(ValueError):
                ipfi.expose({}, limits={"max_arg_bytes": -1})
            api = ipfi.remote(ep)
            with self.assertRaises(ipfi.UnsupportedValueError):  # nothing is sent, the session goes on
                await api.add(object(), 1)
            self.assertEqual(await api.add(1, 2), 3)
            self.assertIsNone(ipfi.current_call())
            sig = ipfi.AbortSignal()
            sig.abort()
            with self.assertRaises(ipfi.AbortError):
                await api.add.with_options(signal=sig)(1, 2)
            api.close()
            ep.close()
        run(main(), 10)

    def test_a_call_signal_beside_the_proxy_default_leaves_no_listener_behind(self) -> None:
        async def main() -> None:
            ep = ipfi.expose({"add": lambda x, y: x + y})
            default = ipfi.AbortSignal()
            api = ipfi.remote(ep, signal=default)
            for i in range(200):
                own = ipfi.AbortSignal()
                self.assertEqual(await api.add.with_options(signal=own)(i, 1), i + 1)
                self.assertEqual(own._listeners, [])
            self.assertEqual(default._listeners, [])
            # Both still abort a call while it runs.
            hang = asyncio.get_running_loop().create_future()
            ep2 = ipfi.expose({"hang": lambda: hang})
            api2 = ipfi.remote(ep2, signal=default)
            own = ipfi.AbortSignal()
            call = asyncio.ensure_future(api2.hang.with_options(signal=own)())
            await asyncio.sleep(0.01)
            own.abort()
            with self.assertRaises(ipfi.AbortError):
                await call
            call = asyncio.ensure_future(api2.hang.with_options(signal=ipfi.AbortSignal())())
            await asyncio.sleep(0.01)
            default.abort()
            with self.assertRaises(ipfi.AbortError):
                await call
            for x in (api, api2, ep, ep2):
                x.close()
        run(main(), 10)

    def test_limits_refuse_one_call_and_the_session_goes_on(self) -> None:
        async def main() -> None:
            a, b = await pair()
            release = asyncio.Event()

            async def wait() -> str:
                await release.wait()
                return "released"
            b.sender.send(ipfi.expose({"wait": wait, "echo": lambda v: v},
                                      limits={"max_calls_in_flight": 2, "max_arg_bytes": 1000, "max_callbacks_per_call": 1}))
            api = ipfi.remote(await a.receiver.recv(timeout=5))
            first = [asyncio.ensure_future(api.wait()) for _ in range(2)]
            await asyncio.sleep(0.05)
            with self.assertRaises(ipfi.LimitExceededError):
                await api.wait()
            with self.assertRaises(ipfi.LimitExceededError):
                await api.echo("x" * 2000)
            release.set()
            self.assertEqual(await asyncio.gather(*first), ["released"] * 2)
            with self.assertRaises(ipfi.LimitExceededError):
                await api.echo([lambda: 1, lambda: 2])
            self.assertEqual(await api.echo("small"), "small")
            # Calls cancelled before their procedure ran are counted out too.
            raw = RawSession(api._session.endpoint)
            for i in range(10):
                raw.send([0, i, "wait", [], 32, []])
                raw.send([1, i])
            await asyncio.sleep(0.05)  # a cancelled call counts until its procedure returned (§10.4)
            raw.send([0, 99, "echo", ["still served"], 32, []])
            m = await raw.recv()
            while m[1] != 99:
                self.assertIsInstance(m[2], ipfi.LimitExceededError)
                m = await raw.recv()
            self.assertEqual(m, [0, 99, "still served"])
            raw.close()
            api.close()
            a.close()
            b.close()
        run(main(), 20)

    def test_a_callback_sent_in_a_plain_message(self) -> None:
        async def main() -> None:
            a, b = await pair()
            seen: List[Any] = []
            cb = ipfi.callback(lambda x: seen.append(x) or x * 2)
            a.sender.send({"cb": cb, "again": cb})  # each occurrence is a reference of its own
            m = await b.receiver.recv(timeout=5)
            self.assertIsInstance(m["cb"], ipfi.RemoteFunction)
            self.assertEqual(await m["cb"](21), 42)
            self.assertEqual(await m["again"].with_options(timeout=5)(1), 2)
            b.sender.send({"back": m["cb"]})  # a function passed on stays callable here too
            back = (await a.receiver.recv(timeout=5))["back"]
            self.assertEqual(await back(5), 10)
            self.assertEqual(await m["cb"](6), 12)
            self.assertEqual(seen, [21, 1, 5, 6])
            with self.assertRaises(ipfi.UnsupportedValueError):
                a.sender.send({"f": lambda: 1})  # a bare function is not a value
            cb.close()
            with self.assertRaises(ipfi.DisconnectedError):
                await m["cb"](0)
            a.close()
            b.close()
        run(main(), 20)

    def test_withdrawing_procedures_with_a_signal(self) -> None:
        async def main() -> None:
            a, b = await pair()
            sig = ipfi.AbortSignal()
            seen: List[Any] = []

            async def hang() -> None:
                try:
                    await asyncio.sleep(100)
                finally:
                    seen.append(ipfi.current_call().signal.reason)  # type: ignore[union-attr]
            b.sender.send(ipfi.expose({"hang": hang}, signal=sig))
            api = ipfi.remote(await a.receiver.recv(timeout=5))
            pending = asyncio.ensure_future(api.hang())
            await asyncio.sleep(0.05)
            sig.abort()
            with self.assertRaises(ipfi.DisconnectedError):
                await pending
            self.assertEqual(len(seen), 1)
            self.assertIsInstance(seen[0], ipfi.DisconnectedError)
            with self.assertRaises(ipfi.DisconnectedError):
                await api.hang()
            a.close()
            b.close()
        run(main(), 20)

    def test_a_function_endpoint_naming_a_receiver_closes_the_link(self) -> None:
        async def main() -> None:
            from ipfi.procedures import _wrap_function
            from ipfi.port import Cap, Port
            with self.assertRaises(ipfi.ProtocolError):
                _wrap_function(Cap("receiver", Port()))
        run(main(), 5)


if __name__ == "__main__":
    unittest.main()
