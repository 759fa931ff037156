"""The far end of the Python socket benchmarks (bench/scenarios/python.mjs, python/bench/driver.py):
connect to ``unix:/path`` and answer until the other side closes, then end with status 0.

    python3 python/bench/peer.py MODE unix:/path

    raw-echo     echo every frame (rawframe.py: length + ipfi codec, one write per message)
    raw-count    count {a:1,b:2} frames; answer the end marker with {count, wrong}
    ipfi-echo    ipfi.connect_wire over the socket; echo on the bootstrap channels
    ipfi-count   the same, counting as raw-count does
    grpc-server  grpcio (grpc.aio) server listening at the path (not connecting): unary Echo
                 with JSON bodies, as bench/lib/peers/grpc-service.mjs; prints "ready" once bound
    ipfi-proc-server
                 ipfi.listen() at the path: every client gets an endpoint, expose({"echo": m -> m}),
                 as bench/children/ipfi-server.mjs; prints "ready" once listening

The servers run until their stdin closes.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from typing import Any, Callable, Dict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import ipfi  # noqa: E402
from rawframe import FramedProtocol  # noqa: E402

END = "ipfi-bench-oneway"


def counter(reply: Callable[[Any], None]) -> Callable[[Any], None]:
    """bench/lib/peers/oneway-count.mjs in Python."""
    state = {"count": 0, "wrong": 0}

    def on_value(m: Any) -> None:
        if type(m) is dict and m.get("a") == 1 and m.get("b") == 2:
            state["count"] += 1
        elif type(m) is dict and m.get("end") == END:
            reply({"count": state["count"], "wrong": state["wrong"]})
            state["count"] = state["wrong"] = 0
        else:
            state["wrong"] += 1

    return on_value


def unix_path(address: str) -> str:
    if not address.startswith("unix:"):
        raise SystemExit(f"expected unix:/path, got {address!r}")
    return address[5:]


async def raw(mode: str, path: str) -> None:
    loop = asyncio.get_running_loop()
    holder: Dict[str, FramedProtocol] = {}

    def echo(v: Any) -> None:
        holder["p"].send(v)

    on_value = echo if mode == "raw-echo" else counter(echo)
    _, proto = await loop.create_unix_connection(lambda: FramedProtocol(on_value), path)
    holder["p"] = proto
    await proto.lost


async def ipfi_peer(mode: str, path: str) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    conn = ipfi.connect_wire(ipfi.FdWire(s.detach()), name=f"bench python {mode}")
    tx, rx = conn.sender, conn.receiver
    on_value = tx.send if mode == "ipfi-echo" else counter(tx.send)
    try:
        while True:
            on_value(await rx.recv())
    except ipfi.ConnectionLostError:
        raise
    except ipfi.DisconnectedError:
        pass
    tx.close()
    conn.close("echo done")
    await conn.closed


async def grpc_server(path: str) -> None:
    import grpc  # type: ignore[import-not-found]  # bench only: python3-grpcio

    def echo(request: Any, context: Any) -> Any:
        return request

    handler = grpc.method_handlers_generic_handler("ipfi.bench.Bench", {
        "Echo": grpc.unary_unary_rpc_method_handler(
            echo, request_deserializer=json.loads, response_serializer=lambda v: json.dumps(v).encode()),
    })
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"unix:{path}")
    await server.start()
    print("ready", flush=True)
    await until_stdin_closes()
    await server.stop(1)


async def until_stdin_closes() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def ipfi_proc_server(path: str) -> None:
    server = await ipfi.listen(f"unix:{path}")

    async def serve() -> None:
        async for peer in server:
            peer.sender.send(ipfi.expose({"echo": lambda m: m}))

    task = asyncio.ensure_future(serve())
    print("ready", flush=True)
    await until_stdin_closes()
    task.cancel()
    await server.close()


async def main(mode: str, address: str) -> None:
    path = unix_path(address)
    if mode in ("raw-echo", "raw-count"):
        await raw(mode, path)
    elif mode in ("ipfi-echo", "ipfi-count"):
        await ipfi_peer(mode, path)
    elif mode == "grpc-server":
        await grpc_server(path)
    elif mode == "ipfi-proc-server":
        await ipfi_proc_server(path)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    profile = os.environ.get("IPFI_BENCH_PROFILE")  # a file: where this peer's cProfile statistics go
    if profile:
        import cProfile
        cProfile.run("asyncio.run(main(sys.argv[1], sys.argv[2]))", profile)
    else:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
