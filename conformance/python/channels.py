"""The channel scenarios of conformance/scenarios.json in Python: handshake and limits, values,
handles, disconnects, heartbeats, endings, kills (as conformance/js/scenarios/channels.mjs)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import ipfi
from kit import VALUES, Conn, Mailbox, Role, opened
from tagged import from_tagged


async def drain(role: Role, rx: Any, expected: List[Any], end: str, what: str) -> None:
    """Receive ``expected`` in order on ``rx``, then its end ('orderly' or 'lost')."""
    for i, v in enumerate(expected):
        try:
            got = await role.within(rx.recv(), f"{what}: message {i}")
        except Exception as e:  # noqa: BLE001
            role.fail(f"{what}: message {i} ({v!r}) did not come: {e}")
            return
        role.same(got, v, f"{what}: message {i}")
    await role.rejects(rx.recv(), end, f"{what}: the end after {len(expected)} messages")


def symmetric(f: Any) -> Dict[str, Any]:
    return {"a": f, "b": f}


# ---- handshake-limits

async def limits_a(role: Role) -> None:
    conn, box = await opened(role)
    await role.within(conn.ready, "the handshake")
    big = await box.next("big")
    role.same(big.get("text"), "y" * 4000, "the largest text that fits the announced maxFrameBytes arrives whole")
    h = await box.next("handles")
    senders = h.get("senders") or []
    role.check(isinstance(senders, list) and len(senders) == 4 and all(isinstance(s, ipfi.Sender) for s in senders),
               "four senders, the announced maxHandlesPerMessage, arrive")
    for i, s in enumerate(senders):
        s.send({"n": i})
        s.close()
    conn.sender.send({"kind": "large", "data": b"\xab" * 70000})
    tx, rx = ipfi.channel()
    conn.sender.send({"kind": "many", "senders": [tx.clone() for _ in range(5)]})
    tx.close()
    got = []
    for i in range(5):
        got.append((await role.within(rx.recv(), f"message {i} on the channel of five senders"))["n"])
    role.same(sorted(got), [0, 1, 2, 3, 4], "each of the five senders sent its number")
    await role.rejects(rx.recv(), "orderly", "the channel of five senders ends once all five are closed")
    await role.finish(conn, box)


async def limits_b(role: Role) -> None:
    conn, box = await opened(role)
    await role.within(conn.ready, "the handshake")
    role.throws(lambda: conn.sender.send({"kind": "big", "text": "x" * 5000}), "LimitExceededError",
                "a message over the peer's maxFrameBytes is refused on the sender")
    tx, rx = ipfi.channel()
    five = [tx.clone() for _ in range(5)]
    tx.close()
    role.throws(lambda: conn.sender.send({"kind": "handles", "senders": five}), "LimitExceededError",
                "a message with more handles than the peer's maxHandlesPerMessage is refused on the sender")
    five[4].send({"n": "local"})
    role.same(await role.within(rx.recv(), "a local send on a sender the refused message held"), {"n": "local"},
              "the senders of a refused message were not moved")
    conn.sender.send({"kind": "big", "text": "y" * 4000})
    conn.sender.send({"kind": "handles", "senders": five[:4]})
    five[4].close()
    got = []
    for i in range(4):
        got.append((await role.within(rx.recv(), f"message {i} from the four moved senders"))["n"])
    role.same(sorted(got), [0, 1, 2, 3], "each moved sender sent its number")
    await role.rejects(rx.recv(), "orderly", "the channel ends once the four moved senders and the local one are closed")
    large = await box.next("large")
    data = large.get("data")
    role.check(isinstance(data, (bytes, bytearray)) and len(data) == 70000 and data == b"\xab" * 70000,
               "a message over the 64 KiB handshake limit (and under the announced one) arrives whole")
    many = await box.next("many")
    ms = many.get("senders") or []
    role.check(isinstance(ms, list) and len(ms) == 5, "five senders arrive (the limit of this side is the default)")
    for i, s in enumerate(ms):
        s.send({"n": i})
        s.close()
    await role.finish(conn, box)


# ---- values

async def values(role: Role) -> None:
    conn, box = await opened(role)
    for i, f in enumerate(VALUES):
        conn.sender.send({"kind": "fresh", "i": i, "value": from_tagged(f["value"])})

    async def fresh() -> None:
        for _ in range(len(VALUES)):
            m = await box.next("fresh")
            i = m.get("i")
            if not role.check(isinstance(i, int) and 0 <= i < len(VALUES), f"a fresh value with a fixture index ({i!r})"):
                continue
            f = VALUES[i]
            role.same_tagged(m.get("value"), f["value"], f"fixture {i} \"{f['name']}\" as the peer built and sent it")
            conn.sender.send({"kind": "echo", "i": i, "value": m.get("value")})

    async def echoes() -> None:
        seen = set()
        for _ in range(len(VALUES)):
            m = await box.next("echo")
            i = m.get("i")
            if not role.check(isinstance(i, int) and 0 <= i < len(VALUES) and i not in seen, f"an echo of a fixture not echoed yet ({i!r})"):
                continue
            seen.add(i)
            f = VALUES[i]
            role.same_tagged(m.get("value"), f["value"], f"fixture {i} \"{f['name']}\" as we sent it and the peer echoed it")

    await asyncio.gather(fresh(), echoes())
    await role.finish(conn, box)


# ---- handles

async def handles_sender(role: Role) -> None:
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    conn.sender.send({"kind": "sender", "tx": tx, "note": f"from {role.role}"})
    role.throws(lambda: tx.send("after the move"), "HandleError", "a moved sender is unusable here")
    theirs = await box.next("sender")
    role.check(isinstance(theirs.get("tx"), ipfi.Sender), "a Sender arrives inside the message")
    role.check(isinstance(theirs.get("note"), str) and theirs["note"].startswith("from "), "beside the other fields of the message")
    for s in ("s1", "s2", "s3"):
        theirs["tx"].send(s)
    theirs["tx"].close()
    await drain(role, rx, ["s1", "s2", "s3"], "orderly", "the channel whose sender moved to the peer")
    await role.finish(conn, box)


async def handles_receiver(role: Role) -> None:
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    for s in ("q1", "q2", "q3"):
        tx.send(s)
    reply_tx, reply_rx = ipfi.channel()
    tx.send({"note": "q4", "reply": reply_tx})
    conn.sender.send({"kind": "receiver", "rx": rx})
    await role.rejects(lambda: rx.recv(), "HandleError", "a moved receiver is unusable here")
    tx.send("a1")
    tx.send("a2")
    tx.close()
    theirs = await box.next("receiver")
    prx = theirs.get("rx")
    role.check(isinstance(prx, ipfi.Receiver), "a Receiver arrives inside the message")
    for q in ("q1", "q2", "q3"):
        role.same(await role.within(prx.recv(), q), q, f"the moved receiver's queue: {q}")
    q4 = await role.within(prx.recv(), "the queued message holding a sender")
    ok = role.check(isinstance(q4, dict) and q4.get("note") == "q4" and isinstance(q4.get("reply"), ipfi.Sender),
                    "a queued message holding a sender moves with the receiver, its sender with it")
    if ok:
        q4["reply"].send("r")
        q4["reply"].close()
    await drain(role, prx, ["a1", "a2"], "orderly", "the moved receiver: what was sent after the move")
    await drain(role, reply_rx, ["r"], "orderly", "the channel whose sender was in a queued message")
    await role.finish(conn, box)


async def handles_home(role: Role) -> None:
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    conn.sender.send({"kind": "away", "tx": tx})
    tx2, rx2 = ipfi.channel()
    tx2.send("r1")
    conn.sender.send({"kind": "go", "rx": rx2})

    away = await box.next("away")
    role.check(isinstance(away.get("tx"), ipfi.Sender), "the peer's sender arrives")
    conn.sender.send({"kind": "home", "tx": away["tx"]})
    go = await box.next("go")
    role.check(isinstance(go.get("rx"), ipfi.Receiver), "the peer's receiver arrives")
    conn.sender.send({"kind": "back", "rx": go["rx"]})

    home = await box.next("home")
    role.check(isinstance(home.get("tx"), ipfi.Sender), "our sender comes home")
    home["tx"].send("h1")
    role.same(await role.within(rx.recv(), "a send on the sender that came home"), "h1", "the sender that came home sends into its channel")
    home["tx"].close()
    await role.rejects(rx.recv(), "orderly", "closing the sender that came home disconnects its channel")

    back = await box.next("back")
    role.check(isinstance(back.get("rx"), ipfi.Receiver), "our receiver comes back")
    tx2.send("r2")
    tx2.close()
    await drain(role, back["rx"], ["r1", "r2"], "orderly", "the receiver that came back: its queue, then a local send")
    await role.finish(conn, box)


async def handles_shortening(role: Role) -> None:
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    tx.send("o1")
    conn.sender.send({"kind": "sender", "tx": tx.clone()})

    async def owner() -> None:
        await box.next("p1")
        conn.sender.send({"kind": "receiver", "rx": rx})
        tx.send("o2")
        tx.close()

    async def holder() -> None:
        ptx = (await box.next("sender"))["tx"]
        ptx.send("p1")
        conn.sender.send({"kind": "p1"})
        ptx.send("p1b")
        prx = (await box.next("receiver"))["rx"]
        role.check(isinstance(prx, ipfi.Receiver), "the receiver our sender sends into arrives")
        ptx.send("p2")
        ptx.close()
        got: List[Any] = []
        for i in range(5):
            try:
                got.append(await role.within(prx.recv(), f"message {i} of 5"))
            except Exception as e:  # noqa: BLE001
                role.fail(f"message {i} of 5 did not come (got {got!r}): {e}")
                return
        role.same(sorted(got), ["o1", "o2", "p1", "p1b", "p2"], "every message sent on either side of the move arrives once")

        def order(xs: List[str]) -> bool:
            return all(i == 0 or got.index(xs[i - 1]) < got.index(x) for i, x in enumerate(xs))

        role.check(order(["o1", "o2"]) and order(["p1", "p1b", "p2"]), f"each sender's messages arrive in the order sent: {got!r}")
        await role.rejects(prx.recv(), "orderly", "the moved receiver ends once both senders are closed")

    await asyncio.gather(owner(), holder())
    await role.finish(conn, box)


async def everywhere(role: Role) -> None:
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    tx2, rx2 = ipfi.channel()
    tx2.send("inside")
    c = tx.clone
    twice = c()
    conn.sender.send({
        "kind": "everywhere",
        "list": [c(), [c()]],
        "map": ipfi.Map([("v", c()), (c(), "key")]),
        "set": {c()},
        "np": ipfi.NullProtoDict(s=c()),
        "deep": {"a": {"b": {"c": [c()]}}},
        "twice": [twice, twice],
        "receivers": ipfi.Map([("r", rx2)]),
    })
    tx.close()
    tx2.send("after")
    tx2.close()

    m = await box.next("everywhere")

    def get(f: Any) -> Any:
        try:
            return f()
        except Exception:  # noqa: BLE001
            return None

    mp = m.get("map")
    map_key = next((k for k in mp.keys() if isinstance(k, ipfi.Sender)), None) if isinstance(mp, ipfi.Map) else None
    st = m.get("set")
    found = {
        "list[0]": get(lambda: m["list"][0]),
        "list[1][0]": get(lambda: m["list"][1][0]),
        "map.get(v)": get(lambda: mp["v"]),
        "map key": map_key,
        "set": next(iter(st)) if isinstance(st, (set, frozenset)) and st else None,
        "np.s": get(lambda: m["np"]["s"]),
        "deep.a.b.c[0]": get(lambda: m["deep"]["a"]["b"]["c"][0]),
        "twice[0]": get(lambda: m["twice"][0]),
        "twice[1]": get(lambda: m["twice"][1]),
    }
    for path, s in found.items():
        role.check(isinstance(s, ipfi.Sender), f"a sender at {path}")
    role.check(map_key is not None and mp.get(map_key) == "key", "a sender as a Map key keeps its value")
    role.check(found["twice[0]"] is not found["twice[1]"], "the same sender twice in a message arrives as two senders")
    if isinstance(found["twice[0]"], ipfi.Sender):
        found["twice[0]"].close()
    for path, s in found.items():
        if isinstance(s, ipfi.Sender) and path != "twice[0]":
            s.send(path)
            s.close()
    recvs = m.get("receivers")
    prx = recvs.get("r") if isinstance(recvs, ipfi.Map) else None
    if role.check(isinstance(prx, ipfi.Receiver), "a receiver as a Map value"):
        await drain(role, prx, ["inside", "after"], "orderly", "the receiver that came in a Map")
    names = []
    for i in range(8):
        names.append(await role.within(rx.recv(), f"name {i} of 8"))
    role.same(sorted(names), sorted(p for p in found if p != "twice[0]"), "every sender, wherever it was in the message, sent its path")
    await role.rejects(rx.recv(), "orderly", "the channel ends once all nine are closed")
    await role.finish(conn, box)


async def null_prototype(role: Role) -> None:
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    conn.sender.send({"kind": "np", "values": [from_tagged(v) for v in role.args["values"]], "holder": ipfi.NullProtoDict(tx=tx)})
    m = await box.next("np")
    got = m.get("values") or []
    for i, t in enumerate(role.args["values"]):
        role.same_tagged(got[i] if i < len(got) else ipfi.UNDEFINED, t, f"value {i}")
    holder = m.get("holder")
    role.check(type(holder) is ipfi.NullProtoDict, f"an object without prototype holding a sender arrives without one (got {type(holder).__name__})")
    htx = holder.get("tx") if isinstance(holder, dict) else None
    role.check(isinstance(htx, ipfi.Sender), "with its sender")
    if isinstance(htx, ipfi.Sender):
        htx.send("through")
        htx.close()
    await drain(role, rx, ["through"], "orderly", "the channel whose sender was in an object without prototype")
    await role.finish(conn, box)


async def ball(role: Role, conn: Conn, box: Mailbox, owner: str, hops: int) -> None:
    me = role.role
    peer = "b" if me == "a" else "a"
    if owner == me:
        tx, rx = ipfi.channel()
        conn.sender.send({"kind": f"ball:{owner}", "tx": tx.clone()})
        tx.send(f"{me}-0")
        conn.sender.send({"kind": f"hop:{owner}", "k": 1, "rx": rx})
    else:
        tx = (await box.next(f"ball:{owner}"))["tx"]
        role.check(isinstance(tx, ipfi.Sender), f"a sender of {owner}'s ball arrives")
    k = 2 if owner == me else 1
    while k <= hops:
        hop = await box.next(f"hop:{owner}")
        role.check(hop.get("k") == k and isinstance(hop.get("rx"), ipfi.Receiver), f"hop {k} of {owner}'s ball brings its receiver (got hop {hop.get('k')})")
        tx.send(f"{me}-{k}")
        if k < hops:
            conn.sender.send({"kind": f"hop:{owner}", "k": k + 1, "rx": hop["rx"]})
            k += 2
            continue
        tx.close()
        conn.sender.send({"kind": f"done:{owner}"})
        got: List[str] = []
        for i in range(hops + 1):
            try:
                got.append(await role.within(hop["rx"].recv(), f"message {i} of {owner}'s ball"))
            except Exception as e:  # noqa: BLE001
                role.fail(f"message {i} of {owner}'s ball did not come (got {got!r}): {e}")
                return

        def want(who: str) -> List[str]:
            return [f"{who}-{i}" for i in range(hops + 1) if (i % 2 == 0) == (who == owner)]

        role.same([x for x in got if x.startswith(f"{me}-")], want(me), f"our messages into {owner}'s ball, in order")
        role.same([x for x in got if x.startswith(f"{peer}-")], want(peer), f"the peer's messages into {owner}'s ball, in order")
        await role.rejects(hop["rx"].recv(), "orderly", f"{owner}'s ball ends once both senders are closed")
        return
    await box.next(f"done:{owner}")
    tx.close()


async def bounce(role: Role) -> None:
    conn, box = await opened(role)
    hops = role.args.get("hops", 10)
    await asyncio.gather(ball(role, conn, box, "a", hops), ball(role, conn, box, "b", hops))
    await role.finish(conn, box)


async def dropped(role: Role) -> None:
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    tx2, rx2 = ipfi.channel()
    conn.sender.send({"kind": "sender", "tx": tx})
    conn.sender.send({"kind": "rx", "rx": rx2})
    ptx = (await box.next("sender"))["tx"]
    prx = (await box.next("rx"))["rx"]
    role.check(isinstance(ptx, ipfi.Sender) and isinstance(prx, ipfi.Receiver), "the peer's sender and receiver arrive")
    rx.close()
    prx.close()
    conn.sender.send({"kind": "closed"})
    await box.next("closed")
    role.throws(lambda: ptx.send("late"), "orderly", "a send to a receiver the peer closed at home")
    role.throws(lambda: tx2.send("late"), "orderly", "a send to our receiver, moved to the peer and closed there")
    ptx.close()
    tx2.close()
    await role.finish(conn, box)


async def heartbeat(role: Role) -> None:
    conn, box = await opened(role)
    conn.sender.send({"kind": "hi"})
    await box.next("hi")
    quiet = role.args.get("quietMs", 5000)
    await asyncio.sleep(quiet / 1000)
    role.check(not conn.link.is_closed, f"the link is still open after {quiet} ms of silence, on heartbeats alone")
    conn.sender.send({"kind": "after"})
    await box.next("after")
    await role.finish(conn, box)


# ---- disconnect counting

async def counting(role: Role) -> None:
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    conn.sender.send({"kind": "three", "one": tx.clone(), "two": [tx.clone(), tx.clone()]})
    tx.close()

    def try_recv() -> Dict[str, Any]:
        try:
            return {"ok": True, "value": rx.try_recv()}
        except ipfi.Empty:
            return {"ok": False, "reason": "empty"}
        except ipfi.DisconnectedError:
            return {"ok": False, "reason": "disconnected"}

    async def holder() -> None:
        three = await box.next("three")
        two = three.get("two") or []
        x, y = (two + [None, None])[:2]
        role.check(all(isinstance(s, ipfi.Sender) for s in (three.get("one"), x, y)), "three senders arrive in one message")
        three["one"].close()
        conn.sender.send({"kind": "closed", "n": 1})
        await box.next("ack")
        x.send("v")
        x.close()
        conn.sender.send({"kind": "closed", "n": 2})
        await box.next("ack")
        y.close()
        conn.sender.send({"kind": "closed", "n": 3})

    async def owner() -> None:
        n1 = await box.next("closed")
        role.check(n1.get("n") == 1, "the notes come in order")
        role.same(try_recv(), {"ok": False, "reason": "empty"}, "one of three remote senders closed: the channel is still connected")
        conn.sender.send({"kind": "ack", "n": 1})
        n2 = await box.next("closed")
        role.check(n2.get("n") == 2, "the notes come in order")
        role.same(await role.within(rx.recv(), "the second sender's message"), "v", "a message sent before the close arrives")
        role.same(try_recv(), {"ok": False, "reason": "empty"}, "two of three closed: still connected")
        conn.sender.send({"kind": "ack", "n": 2})
        n3 = await box.next("closed")
        role.check(n3.get("n") == 3, "the notes come in order")
        role.same(try_recv(), {"ok": False, "reason": "disconnected"}, "the third closed: disconnected, already when the note after it arrives")
        await role.rejects(rx.recv(), "orderly", "recv after the last sender closed")

    await asyncio.gather(holder(), owner())
    await role.finish(conn, box)


# ---- endings

async def senders_exchanged(role: Role) -> "tuple[Conn, Mailbox, Any, Any]":
    conn, box = await opened(role)
    tx, rx = ipfi.channel()
    conn.sender.send({"kind": "sender", "tx": tx})
    theirs = (await box.next("sender")).get("tx")
    role.check(isinstance(theirs, ipfi.Sender), "the peer's sender arrives")
    return conn, box, rx, theirs


async def ending_closer(role: Role) -> None:
    conn, box, rx, theirs = await senders_exchanged(role)
    conn.sender.send({"kind": "m", "n": 1})
    conn.sender.send({"kind": "m", "n": 2})
    conn.close("the closer is done")
    await role.within(conn.closed, "the link to close")
    await role.rejects(rx.recv(), "orderly", "our channel, whose sender crossed the closed link")
    role.throws(lambda: theirs.send("late"), "orderly", "a send on the peer's sender after the link closed")
    end = await role.within(box.ended, "the bootstrap channel to end")
    role.check(end == "orderly", f"our bootstrap channel ends in order, got {end}")


def ending_survivor(end: str) -> Any:
    async def play(role: Role) -> None:
        conn, box, rx, theirs = await senders_exchanged(role)
        m1 = await box.next("m")
        m2 = await box.next("m")
        role.same([m1.get("n"), m2.get("n")], [1, 2], "everything sent before the end arrives, in order")
        got = await role.within(box.ended, "the bootstrap channel to end")
        role.check(got == end, f"the bootstrap channel ends {end}, got {got} ({role.end_error!r})")
        await role.rejects(rx.recv(), end, "our channel, whose sender was on the other side")
        role.throws(lambda: theirs.send("late"), end, "a send on the peer's sender")
        await role.within(conn.closed, "the link to close")
    return play


def send_then_exit(code: int) -> Any:
    async def play(role: Role) -> None:
        conn, box, rx, theirs = await senders_exchanged(role)
        role.keep(conn, box, rx, theirs)
        conn.sender.send({"kind": "m", "n": 1})
        conn.sender.send({"kind": "m", "n": 2})
        if code != 0:
            # Written now, so that the exit only has to say how it ended.
            await role.within(conn.link.drained(), "what was sent to reach the wire")
        role.exit_code = code
    return play


# ---- kill -9

async def doomed(role: Role) -> None:
    conn, box, rx, theirs = await senders_exchanged(role)
    role.keep(conn, box, rx, theirs)
    await box.next("armed")
    role.mark("ready")
    await asyncio.sleep(600)  # until the runner kills this process


async def survivor(role: Role) -> None:
    conn, box, rx, theirs = await senders_exchanged(role)
    pending = asyncio.ensure_future(rx.recv())
    conn.sender.send({"kind": "armed"})
    await role.rejects(pending, "lost", "a pending recv whose sender was in the killed process")
    end = await role.within(box.ended, "the bootstrap receive to end")
    role.check(end == "lost", f"the pending bootstrap recv: expected lost, got {end} ({role.end_error!r})")
    role.throws(lambda: theirs.send("late"), "lost", "a send into the killed process")
    await role.within(conn.closed, "the link to close")


SCENARIOS = {
    "handshake-limits": {"a": limits_a, "b": limits_b},
    "values": symmetric(values),
    "handles-sender": symmetric(handles_sender),
    "handles-receiver": symmetric(handles_receiver),
    "handles-home": symmetric(handles_home),
    "handles-shortening": symmetric(handles_shortening),
    "handles-bounce": symmetric(bounce),
    "handles-everywhere": symmetric(everywhere),
    "null-prototype-objects": symmetric(null_prototype),
    "disconnect-dropped": symmetric(dropped),
    "heartbeat": symmetric(heartbeat),
    "disconnect-counting": symmetric(counting),
    "ending-orderly": {"a": ending_closer, "b": ending_survivor("orderly")},
    "ending-lost": {"a": send_then_exit(3), "b": ending_survivor("lost")},
    "ending-exit": {"a": send_then_exit(0), "b": ending_survivor("orderly")},
    "kill-a": {"a": doomed, "b": survivor},
    "kill-b": {"a": survivor, "b": doomed},
}
