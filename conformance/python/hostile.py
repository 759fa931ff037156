"""The victim of the hostile scenarios (kind "hostile" in scenarios.json), in Python: the runner
writes raw bytes at it; it must close only that link, with the error the scenario names, report the
loss on every handle that crossed it, and then (on a socket wire) serve a well-behaved second peer.
As conformance/js/scenarios/hostile.mjs."""
from __future__ import annotations

import asyncio
from typing import Any, Optional

import ipfi
from kit import VALUES, Conn, Role, describe, ending
from tagged import from_tagged


class Armed:
    def __init__(self, role: Role, conn: Conn, recv_inbox: bool = True) -> None:
        tx, rx = ipfi.channel()
        conn.sender.send({"kind": "victim", "tx": tx})
        self.rx = rx
        self.inbox: Optional["asyncio.Task[Any]"] = role.spawn(conn.receiver.recv()) if recv_inbox else None
        self.exported = role.spawn(rx.recv())
        for t in (self.inbox, self.exported):
            if t is not None:
                t.add_done_callback(lambda f: f.cancelled() or f.exception())


async def drain_all(rx: Any) -> None:
    while True:
        await rx.recv()


async def hostile_session(role: Role, args: dict) -> None:
    s = await role.session()
    if args["phase"] == "handshake":
        if "rejected" in s:
            cause = s["rejected"]
        else:
            cause = await role.within(s["conn"].closed, "the link to fail")
        role.check(ending(cause) == args["error"], f"the link fails in the handshake with {args['error']}, got {describe(cause)}")
        if "conn" in s:
            await role.rejects(s["conn"].ready, args["error"], "the link never becomes ready")
        return
    if "rejected" in s:
        role.fail(f"the link did not open: {describe(s['rejected'])}")
        return
    conn = s["conn"]
    armed = Armed(role, conn, args.get("recvInbox", True))
    cause = await role.within(conn.closed, "the victim to close the link")
    role.check(ending(cause) == args["error"], f"the link closes with {args['error']}, got {describe(cause)}")
    if armed.inbox is not None:
        await role.rejects(armed.inbox, "lost", "a pending recv on the bootstrap inbox")
    else:
        await role.rejects(drain_all(conn.receiver), "lost", "the bootstrap inbox, past what had arrived")
    await role.rejects(armed.exported, "lost", "a pending recv on a channel whose sender crossed the link")
    role.throws(lambda: conn.sender.send("after"), "lost", "a send on the bootstrap sender")


async def ping_pong(role: Role, conn: Conn, armed: Armed) -> None:
    try:
        ping = await role.within(armed.inbox, "the peer's ping")
    except Exception as e:  # noqa: BLE001
        role.fail(f"no ping: {describe(e)}")
        return
    role.same(ping, "ping", "the ping arrives")
    conn.sender.send("pong")
    await role.rejects(conn.receiver.recv(), "orderly", "the bootstrap inbox after the peer said goodbye")
    await role.rejects(armed.exported, "orderly", "a channel whose sender crossed the link, after the goodbye")
    await role.within(conn.closed, "the link to close")


async def healthy_session(role: Role) -> None:
    s = await role.session()
    if "rejected" in s:
        role.fail(f"the second, well-behaved peer was not served: {describe(s['rejected'])}")
        return
    await ping_pong(role, s["conn"], Armed(role, s["conn"]))


async def decode(role: Role) -> None:
    s = await role.session()
    if "rejected" in s:
        role.fail(f"the link did not open: {describe(s['rejected'])}")
        return
    conn = s["conn"]
    armed = Armed(role, conn)
    first = True
    for i, f in enumerate(VALUES):
        for j, hex_text in enumerate([f["hex"], *(f.get("also") or [])]):
            try:
                got = await role.within(armed.inbox if first else conn.receiver.recv(), f"fixture {i} encoding {j}")
            except Exception as e:  # noqa: BLE001
                role.fail(f"fixture {i} \"{f['name']}\" encoding {j} ({hex_text}) did not arrive: {describe(e)}")
                return
            finally:
                first = False
            role.same(got, from_tagged(f["value"]), f"fixture {i} \"{f['name']}\" from {hex_text}")
    await role.rejects(conn.receiver.recv(), "orderly", "the bootstrap inbox after the goodbye")
    await role.rejects(armed.exported, "orderly", "a channel whose sender crossed the link, after the goodbye")


async def victim(role: Role) -> None:
    args = role.args
    phase = args.get("phase")
    if phase == "decode":
        return await decode(role)
    if phase == "tolerated":
        s = await role.session()
        if "rejected" in s:
            role.fail(f"the link did not open: {describe(s['rejected'])}")
            return
        return await ping_pong(role, s["conn"], Armed(role, s["conn"]))
    if phase in ("handshake", "open"):
        await hostile_session(role, args)
        if role.wire != "stdio":
            await healthy_session(role)
        return
    raise ValueError(f"no victim for phase {phase}")


#: The phases this role can play (the callee needs procedures).
PHASES = ("decode", "tolerated", "handshake", "open")
