"""The procedure scenarios (docs/PROTOCOL.md §10) in Python, as conformance/js/scenarios/procedures.mjs.
All but procedures-kill are symmetric: each side exposes the same API, sends its endpoint as
{kind:'api', endpoint}, and checks the peer's. Also the callee of the procedures-hostile-* victims."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, List, Optional

import ipfi
from kit import VALUES, Role, describe, ending, opened
from tagged import from_tagged


def err_name(e: Any) -> str:
    name = getattr(e, "name", None)
    return name if isinstance(name, str) else type(e).__name__


def err_message(e: Any) -> Any:
    m = getattr(e, "message", None)
    return m if isinstance(m, str) else (e.args[0] if isinstance(e, BaseException) and e.args else None)


def exchange(make_api: Callable[[Role], Any], check: Callable[..., Any]) -> Callable[[Role], Any]:
    async def play(role: Role) -> None:
        conn, box = await opened(role)
        conn.sender.send({"kind": "api", "endpoint": ipfi.expose(make_api(role))})
        endpoint = (await box.next("api")).get("endpoint")
        if not role.check(isinstance(endpoint, ipfi.Endpoint), f"the peer's endpoint arrives (got {type(endpoint).__name__})"):
            await role.finish(conn, box)
            return
        peer = ipfi.remote(endpoint)
        try:
            await check(role, peer, endpoint)
        finally:
            peer.close()
            endpoint.close()
        await role.finish(conn, box)
    return play


async def rejection(role: Role, aw: Any, what: str) -> Optional[BaseException]:
    """``aw`` must raise; returns what it raised (or fails the check and returns None)."""
    try:
        v = await role.within(aw, what)
    except Exception as e:  # noqa: BLE001
        return e
    role.fail(f"{what}: expected a rejection, got {v!r}"[:300])
    return None


async def gather(*aws: Any) -> List[Any]:
    async def one(a: Any) -> Any:
        return await a
    return list(await asyncio.gather(*(one(a) for a in aws)))


# ---- procedures-calls

def calls_api(role: Role) -> Dict[str, Any]:
    async def after(tag: Any, ms: Any) -> Any:
        await asyncio.sleep(ms / 1000)
        return tag

    return {
        "add": lambda x, y: x + y,
        "echo": lambda v: v,
        "concat": lambda *parts: "".join(p if isinstance(p, str) else str(p) for p in parts),
        "after": after,
    }


async def check_calls(role: Role, peer: Any, endpoint: Any) -> None:
    role.same(await role.within(peer.add(2, 3), "add(2, 3)"), 5, "add(2, 3)")
    for name in role.args.get("echo", []):
        f = next((x for x in VALUES if x["name"] == name), None)
        if not role.check(f is not None, f'fixture "{name}" exists'):
            continue
        role.same(await role.within(peer.echo(from_tagged(f["value"])), f"echo({name})"), from_tagged(f["value"]), f'echo of fixture "{name}"')
    role.same(await role.within(peer.concat("a", "b", "c"), "concat"), "abc", "concat with three arguments")
    tags = list(range(20))
    got = await role.within(gather(*(peer.after(i, (20 - i) * 5) for i in tags)), "20 concurrent calls")
    role.same(got, tags, "20 concurrent calls, finishing in reverse order, each resolve with their own result")


# ---- procedures-streams

def streams_api(role: Role) -> Any:
    state = {"produced": 0, "finished": False}

    class Api:
        async def ticks(self, n: int) -> Any:
            state["produced"] = 0
            state["finished"] = False
            try:
                for i in range(n):
                    state["produced"] += 1
                    yield i
            finally:
                state["finished"] = True

        def stats(self) -> Dict[str, Any]:
            return dict(state)

        async def sum(self, xs: Any) -> Dict[str, Any]:
            total = count = 0
            async for x in xs:
                total += x
                count += 1
            return {"sum": total, "count": count}

        async def take(self, xs: Any, n: int) -> List[Any]:
            out: List[Any] = []
            async for x in xs:
                out.append(x)
                if len(out) >= n:
                    break
            aclose = getattr(xs, "aclose", None)
            if aclose is not None:
                await aclose()  # stop reading now (a break alone leaves the stream to the end of the call)
            return out

        async def broken(self, n: int) -> Any:
            for i in range(n):
                yield i
            e = TypeError("stream broke")
            e.code = "E_STREAM"  # type: ignore[attr-defined]
            raise e

    return Api()


async def check_streams(role: Role, peer: Any, endpoint: Any) -> None:
    async def collect(call: Any) -> List[Any]:
        return [x async for x in call]

    role.same(await role.within(collect(peer.ticks.with_options(window=8)(100)), "ticks(100)"), list(range(100)), "a result stream of 100 items, in order")

    window = 4
    it = peer.ticks.with_options(window=window)(100_000)
    read = 0
    for k in (1, 10, 30):
        while read < k:
            v = await role.within(it.__anext__(), f"stream item {read}")
            role.same(v, read, f"stream item {read}")
            read += 1
        st = await role.within(peer.stats(), "stats()")
        produced = st.get("produced") if isinstance(st, dict) else None
        role.check(isinstance(produced, int) and k <= produced <= k + window + 1,
                   f"after {k} items read with window {window}, the producer produced {produced} (at most {k + window + 1})")
    await role.within(it.aclose(), "closing the stream")

    async def finished() -> bool:
        return bool((await role.within(peer.stats(), "stats()")).get("finished"))
    await role.eventually(finished, "the remote generator's finally runs once the caller stops reading")

    async def up_to(n: int) -> Any:
        for i in range(1, n + 1):
            yield i
    role.same(await role.within(peer.sum(up_to(100)), "sum(1..100)"), {"sum": 5050, "count": 100}, "an argument stream of 100 items")

    mine = {"produced": 0, "finished": False}

    async def counting() -> Any:
        try:
            i = 0
            while True:
                mine["produced"] += 1
                yield i
                i += 1
        finally:
            mine["finished"] = True
    role.same(await role.within(peer.take.with_options(window=window)(counting(), 5), "take(counting, 5)"), [0, 1, 2, 3, 4],
              "the callee takes 5 items of an endless argument stream")

    async def ours_finished() -> bool:
        return bool(mine["finished"])
    await role.eventually(ours_finished, "our argument generator's finally runs once the callee stops reading")
    role.check(mine["produced"] <= 5 + window + 1, f"our argument generator produced {mine['produced']} items, at most {5 + window + 1} (pulled by window {window})")

    items: List[Any] = []
    err: Any = None
    try:
        async def read_broken() -> None:
            async for x in peer.broken(3):
                items.append(x)
        await role.within(read_broken(), "broken(3)")
    except Exception as e:  # noqa: BLE001
        err = e
    role.same(items, [0, 1, 2], "a result stream that throws: its items first")
    role.check(isinstance(err, TypeError) and err_message(err) == "stream broke" and getattr(err, "code", None) == "E_STREAM",
               f"then its error, a TypeError 'stream broke' with code E_STREAM, got {describe(err)}")

    async def bad() -> Any:
        yield 1
        yield 2
        raise Exception("arg broke")
    e = await rejection(role, peer.sum(bad()), "sum(an argument stream that throws)")
    role.check(isinstance(e, Exception) and err_name(e) == "Error" and err_message(e) == "arg broke",
               f"an argument stream that throws fails the call with its error, got {describe(e)}")


# ---- procedures-callbacks

def callbacks_api(role: Role) -> Any:
    held: Dict[str, Any] = {}

    class Api:
        async def work(self, steps: int, progress: Any) -> List[Any]:
            out = []
            for i in range(1, steps + 1):
                out.append(await progress(i))
            return out

        def keep(self, cb: Any) -> None:
            held["kept"] = cb

        async def fire(self, x: Any) -> Any:
            return await held["kept"](x)

        def lend(self, f: Any) -> None:
            held["lent"] = f

        async def callLent(self) -> str:  # noqa: N802 - the scenario's name
            try:
                await held["lent"]()
                return "no error"
            except Exception as e:  # noqa: BLE001
                return err_name(e)

        async def twice(self, f: Any) -> Any:
            return await f(lambda x: x * 2)

    return Api()


async def check_callbacks(role: Role, peer: Any, endpoint: Any) -> None:
    seen: List[int] = []

    def progress(i: int) -> int:
        seen.append(i)
        return i * 10
    role.same(await role.within(peer.work(3, progress), "work(3, progress)"), [10, 20, 30], "a callback's results reach the callee")
    role.same(seen, [1, 2, 3], "the callback ran here, in order")

    cb = ipfi.callback(lambda x: x + 1)
    await role.within(peer.keep(cb), "keep(callback)")
    role.same(await role.within(peer.fire(1), "fire(1)"), 2, "a long-lived callback is callable after the call that passed it")
    role.same(await role.within(peer.fire(41), "fire(41)"), 42, "and again")
    cb.close()
    e = await rejection(role, peer.fire(0), "fire(0) after close")
    role.check(e is not None and err_name(e) == "DisconnectedError", f"a closed long-lived callback fails with DisconnectedError, got {describe(e)}")

    await role.within(peer.lend(lambda: 1), "lend(f)")
    role.same(await role.within(peer.callLent(), "callLent()"), "DisconnectedError", "a lent function fails with DisconnectedError once its call is over")

    async def g_of_21(g: Any) -> Any:
        return await g(21)
    role.same(await role.within(peer.twice(g_of_21), "twice"), 42, "a callback that is given a function of the callee calls it")


# ---- procedures-cancellation

def cancellation_api(role: Role) -> Any:
    aborted: List[Any] = []

    async def hang(tag: Any) -> Any:
        ctx = ipfi.current_call()
        assert ctx is not None
        ctx.signal.add_listener(lambda _: aborted.append(tag))
        await ctx.wait_cancelled()
        raise Exception("aborted")

    return {"hang": hang, "aborted": lambda: list(aborted)}


async def check_cancellation(role: Role, peer: Any, endpoint: Any) -> None:
    e = await rejection(role, peer.hang.with_options(timeout=0.2)("t"), "a call with a timeout")
    role.check(e is not None and ending(e) == "TimeoutError", f"a call past its timeout rejects with TimeoutError, got {describe(e)}")

    sig = ipfi.AbortSignal()
    reason = Exception("stop it")
    asyncio.get_running_loop().call_later(0.1, sig.abort, reason)
    e = await rejection(role, peer.hang.with_options(signal=sig)("s"), "a call with a signal")
    role.check(e is reason, f"an aborted call rejects with the signal's reason, got {describe(e)}")

    second = ipfi.remote(endpoint)
    pending = second.hang("d")
    second.close()
    e = await rejection(role, pending, "a call on a proxy that was closed")
    role.check(isinstance(e, ipfi.DisconnectedError), f"a pending call on a closed proxy rejects with a DisconnectedError, got {describe(e)}")

    async def all_aborted() -> Any:
        a = await role.within(peer.aborted(), "aborted()")
        return all(t in a for t in ("t", "s", "d")) and a
    got = await role.eventually(all_aborted, "the callee's calls abort")
    if got:
        role.same(sorted(got), ["d", "s", "t"], "each cancelled call aborted once on the callee")


# ---- procedures-errors

class ValidationError(Exception):
    pass


class RangeError(Exception):
    pass


def errors_api(role: Role) -> Any:
    def fail(kind: str) -> Any:
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
        return "no such kind"

    return {"fail": fail}


async def check_errors(role: Role, peer: Any, endpoint: Any) -> None:
    e: Any = await rejection(role, peer.fail("type"), "fail('type')")
    role.check(isinstance(e, TypeError) and err_name(e) == "TypeError" and err_message(e) == "bad type" and getattr(e, "code", None) == "E_TYPE",
               f"a TypeError with its message and code, got {describe(e)} (code {getattr(e, 'code', None)})")
    role.check(isinstance(e, ipfi.RemoteError), "a thrown error is marked remote")

    e = await rejection(role, peer.fail("custom"), "fail('custom')")
    role.check(isinstance(e, Exception) and err_name(e) == "ValidationError" and err_message(e) == "name is wrong", f"an error of another name, got {describe(e)}")
    fields = getattr(e, "fields", None) or {}
    role.same({"code": getattr(e, "code", None), "field": fields.get("field"), "limits": fields.get("limits")},
              {"code": "E_VALID", "field": "name", "limits": {"min": 1, "max": 3}}, "the error's own fields")

    e = await rejection(role, peer.fail("cause"), "fail('cause')")
    role.check(isinstance(e, Exception) and err_message(e) == "outer", f"an error with a cause, got {describe(e)}")
    cause = getattr(e, "cause", None)
    role.check(isinstance(cause, Exception) and err_name(cause) == "RangeError" and err_message(cause) == "inner",
               f"its cause, a RangeError 'inner', got {describe(cause)}")

    e = await rejection(role, peer.fail("value"), "fail('value')")
    role.check(isinstance(e, ipfi.ThrownValue), f"a thrown non-Error arrives as itself (a ThrownValue), got {describe(e)}")
    role.same(getattr(e, "value", None), {"reason": "plain", "n": 1}, "a thrown non-Error arrives as itself")
    e = await rejection(role, peer.fail("string"), "fail('string')")
    role.same(getattr(e, "value", None), "just a string", "a thrown string arrives as itself")

    e = await rejection(role, peer.nope(), "a procedure that is not exposed")
    role.check(isinstance(e, TypeError) and getattr(e, "code", None) == "ERR_IPFI_NO_SUCH_PROCEDURE",
               f"an unknown name is refused with a TypeError, code ERR_IPFI_NO_SUCH_PROCEDURE, got {describe(e)} (code {getattr(e, 'code', None)})")


# ---- procedures-kill

async def kill_caller(role: Role) -> None:
    conn, box = await opened(role)
    endpoint = (await box.next("api"))["endpoint"]
    peer = ipfi.remote(endpoint)
    call = peer.hang()
    e = await rejection(role, call, "a call pending when the callee is killed")
    role.check(e is not None and ending(e) == "lost" and not isinstance(e, ipfi.RemoteError),
               f"the pending call rejects with our own ConnectionLostError, got {describe(e)}")
    end = await role.within(box.ended, "the bootstrap receive to end")
    role.check(end == "lost", f"the pending bootstrap recv: expected lost, got {end} ({role.end_error!r})")
    later = await rejection(role, peer.hang(), "a call after the loss")
    role.check(isinstance(later, ipfi.DisconnectedError), f"a call after the loss rejects with a DisconnectedError, got {describe(later)}")


async def kill_callee(role: Role) -> None:
    conn = await role.open()
    role.keep(conn)

    async def hang() -> Any:
        role.mark("ready")
        await asyncio.get_running_loop().create_future()

    ep = ipfi.expose({"hang": hang})
    role.keep(ep)
    conn.sender.send({"kind": "api", "endpoint": ep})
    await asyncio.sleep(600)  # until the runner kills this process


# ---- the callee of procedures-hostile-*

async def hostile_callee(role: Role) -> None:
    s = await role.session()
    if "rejected" in s:
        role.fail(f"the link did not open: {describe(s['rejected'])}")
        return
    conn = s["conn"]

    async def hang() -> Any:
        await asyncio.get_running_loop().create_future()

    conn.sender.send({"kind": "api", "endpoint": ipfi.expose({"add": lambda x, y: x + y, "hang": hang})})
    await role.rejects(conn.receiver.recv(), "orderly", "the bootstrap inbox after the goodbye (the link stayed up)")
    await role.within(conn.closed, "the link to close")


def sym(api: Callable[[Role], Any], check: Callable[..., Any]) -> Dict[str, Any]:
    f = exchange(api, check)
    return {"a": f, "b": f}


SCENARIOS = {
    "procedures-calls": sym(calls_api, check_calls),
    "procedures-streams": sym(streams_api, check_streams),
    "procedures-callbacks": sym(callbacks_api, check_callbacks),
    "procedures-cancellation": sym(cancellation_api, check_cancellation),
    "procedures-errors": sym(errors_api, check_errors),
    "procedures-kill": {"a": kill_caller, "b": kill_callee},
}
