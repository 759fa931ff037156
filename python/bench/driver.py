"""The driving end of the Python socket benchmarks, run by bench/run.mjs (bench/lib/open/python.mjs):
it listens on a fresh Unix socket, starts the far end (python/bench/peer.py, or a node child),
accepts it, then measures what the runner asks, one JSON line per command on stdin, one JSON line
per answer on stdout. Timing is done here, in Python, so the figures are the Python peer's own.

    python3 python/bench/driver.py MODE

    raw-echo    the raw Python baseline (rawframe.py) to a raw Python echo peer
    ipfi-echo   ipfi.connect_wire to a Python ipfi echo peer
    js-echo     ipfi.connect_wire to the node echo child bench/children/ipfi-socket-echo.mjs
    raw-count   one-way to a raw Python counting peer
    ipfi-count  one-way over ipfi to a Python ipfi counting peer
    grpc-unary  grpcio (grpc.aio) unary Echo calls to a grpcio server (peer.py grpc-server)
    ipfi-calls  ipfi.connect() to a Python ipfi.listen() server (peer.py ipfi-proc-server) and
                remote(endpoint).echo(m) calls, as grpc-unary's

Commands: {"op": "echo", "msg": m} -> {"reply": r}; {"op": "latency", "n": N} -> {"samples": [µs],
"elapsedMs"}; {"op": "throughput", "n": N, "window": W} -> {"elapsedMs", "rtPerSec"};
{"op": "oneway", "n": N} -> {"elapsedMs", "msgsPerSec"}; each of these three also with "cpuUsSelf"
and "cpuUsPeer", the CPU time this driver and its far end used during it. Errors: {"error": "..."}. When stdin
closes, the driver closes its end, waits for the far end to exit, and exits 0 only if it exited 0.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import ipfi  # noqa: E402
from rawframe import FramedProtocol  # noqa: E402

MSG = {"a": 1, "b": 2}
END = {"end": "ipfi-bench-oneway"}
BURST = 1000  # one-way: messages per loop turn, as bench/lib/measure/oneway.mjs
NODE_ECHO = os.path.join(HERE, "..", "..", "bench", "children", "ipfi-socket-echo.mjs")
perf = time.perf_counter


def cpu_ns(pid: int) -> int:
    """CPU time a process used so far, every thread of it, in ns (Linux /proc/PID/task/*/schedstat;
    0 where that is missing): the measure that shared, busy machines disturb least."""
    total = 0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return total


class Cpu:
    """CPU µs of this driver and of its far end during a phase."""

    def __init__(self, peer_pid: int) -> None:
        self.pids = (os.getpid(), peer_pid)
        self.start = [cpu_ns(p) for p in self.pids]

    def used(self) -> Dict[str, float]:
        me, peer = (cpu_ns(p) - s for p, s in zip(self.pids, self.start))
        return {"cpuUsSelf": me / 1e3, "cpuUsPeer": peer / 1e3}


def is_echo(r: Any) -> bool:
    return type(r) is dict and r.get("a") == 1 and r.get("b") == 2


class End:
    """One measured transport: ``send``/``recv`` (message scenarios) or ``call`` (request/reply)."""

    send: Callable[[Any], None]
    recv: Callable[[], Awaitable[Any]]
    call: Optional[Callable[[Any], Awaitable[Any]]] = None
    child: "asyncio.subprocess.Process"

    async def close(self) -> None:
        raise NotImplementedError


async def start_child(argv: List[str], *, stdout: Any = 2) -> "asyncio.subprocess.Process":
    """The far end; its stdout goes to our stderr (our stdout is the runner's)."""
    return await asyncio.create_subprocess_exec(*argv, stdout=stdout)


def peer_argv(mode: str, address: str) -> List[str]:
    return [sys.executable, os.path.join(HERE, "peer.py"), mode, address]


class Raw(End):
    async def open(self, mode: str, path: str) -> None:
        loop = asyncio.get_running_loop()
        made: "asyncio.Future[FramedProtocol]" = loop.create_future()

        def factory() -> FramedProtocol:
            p = FramedProtocol()
            if not made.done():
                made.set_result(p)
            return p

        server = await loop.create_unix_server(factory, path)
        self.child = await start_child(peer_argv(mode, f"unix:{path}"))
        self.proto = await asyncio.wait_for(made, 15)
        server.close()
        self.send = self.proto.send
        self.recv = self.proto.recv

    async def close(self) -> None:
        assert self.proto.transport is not None
        self.proto.transport.close()


class Ipfi(End):
    async def open(self, argv: List[str], path: str) -> None:
        loop = asyncio.get_running_loop()
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        lsock.listen(1)
        lsock.setblocking(False)
        self.child = await start_child(argv)
        s, _ = await asyncio.wait_for(loop.sock_accept(lsock), 15)
        lsock.close()
        self.conn = ipfi.connect_wire(ipfi.FdWire(s.detach()), name="bench python driver")
        await self.conn.ready
        self.send = self.conn.sender.send
        self.recv = self.conn.receiver.recv

    async def close(self) -> None:
        self.conn.sender.close()  # the far end's loop ends; it closes the link and exits
        try:
            await asyncio.wait_for(asyncio.shield(self.conn.closed), 5)
        except asyncio.TimeoutError:
            pass
        self.conn.close()
        self.conn.receiver.close()


class Grpc(End):
    async def open(self, path: str) -> None:
        import grpc  # type: ignore[import-not-found]  # bench only: python3-grpcio

        self.child = await start_server("grpc-server", path)
        self.channel = grpc.aio.insecure_channel(f"unix:{path}")
        self.call = self.channel.unary_unary("/ipfi.bench.Bench/Echo", request_serializer=lambda v: json.dumps(v).encode(),
                                             response_deserializer=json.loads)
        await asyncio.wait_for(self.channel.channel_ready(), 15)

    async def close(self) -> None:
        await self.channel.close()
        assert self.child.stdin is not None
        self.child.stdin.close()


async def start_server(mode: str, path: str) -> "asyncio.subprocess.Process":
    """A far end that listens at ``path`` and says "ready"; it ends when its stdin closes."""
    child = await asyncio.create_subprocess_exec(*peer_argv(mode, f"unix:{path}"), stdin=subprocess.PIPE,
                                                 stdout=subprocess.PIPE)
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), 15)
    if line.strip() != b"ready":
        raise RuntimeError(f"{mode} said {line!r}")
    return child


class Calls(End):
    async def open(self, path: str) -> None:
        self.child = await start_server("ipfi-proc-server", path)
        self.peer = await ipfi.connect(f"unix:{path}")
        endpoint = await self.peer.receiver.recv(timeout=15)
        self.api = ipfi.remote(endpoint)
        self.call = self.api.echo

    async def close(self) -> None:
        self.api.close()
        self.peer.close()
        await asyncio.wait_for(asyncio.shield(self.peer.closed), 5)
        assert self.child.stdin is not None
        self.child.stdin.close()


async def latency(end: End, n: int) -> Dict[str, Any]:
    samples: List[float] = []
    add = samples.append
    call, send, recv = end.call, getattr(end, "send", None), getattr(end, "recv", None)
    start = perf()
    if call is not None:
        for _ in range(n):
            t0 = perf()
            r = await call(MSG)
            add((perf() - t0) * 1e6)
            if not is_echo(r):
                raise RuntimeError(f"bad echo {r!r}")
    else:
        assert send is not None and recv is not None
        for _ in range(n):
            t0 = perf()
            send(MSG)
            r = await recv()
            add((perf() - t0) * 1e6)
            if not is_echo(r):
                raise RuntimeError(f"bad echo {r!r}")
    elapsed = perf() - start
    return {"samples": samples, "elapsedMs": elapsed * 1e3}


async def throughput(end: End, total: int, window: int) -> Dict[str, Any]:
    """``total`` round trips with ``window`` in flight: each reply lets the next request go."""
    start = perf()
    if end.call is not None:
        call = end.call
        left = [total]

        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                r = await call(MSG)
                if not is_echo(r):
                    raise RuntimeError(f"bad echo {r!r}")

        await asyncio.gather(*(worker() for _ in range(min(window, total))))
    else:
        send, recv = end.send, end.recv
        sent = min(window, total)
        for _ in range(sent):
            send(MSG)
        for _ in range(total):
            r = await recv()
            if not is_echo(r):
                raise RuntimeError(f"bad echo {r!r}")
            if sent < total:
                sent += 1
                send(MSG)
    elapsed = perf() - start
    return {"elapsedMs": elapsed * 1e3, "rtPerSec": total / elapsed}


async def oneway(end: End, n: int) -> Dict[str, Any]:
    send = end.send
    start = perf()
    sent = 0
    while sent < n:
        stop = min(n, sent + BURST)
        while sent < stop:
            send(MSG)
            sent += 1
        if sent < n:
            await asyncio.sleep(0)
    send(END)
    r = await end.recv()
    elapsed = perf() - start
    if type(r) is not dict or r.get("count") != n or r.get("wrong"):
        raise RuntimeError(f"the peer counted {r!r} of {n} messages")
    return {"elapsedMs": elapsed * 1e3, "msgsPerSec": n / elapsed}


async def echo_once(end: End, msg: Any) -> Dict[str, Any]:
    if end.call is not None:
        return {"reply": await end.call(msg)}
    end.send(msg)
    return {"reply": await end.recv()}


async def open_end(mode: str, path: str) -> End:
    end: End
    if mode in ("raw-echo", "raw-count"):
        end = Raw()
        await end.open(mode, path)
    elif mode in ("ipfi-echo", "ipfi-count"):
        end = Ipfi()
        await end.open(peer_argv(mode, f"unix:{path}"), path)
    elif mode == "js-echo":
        end = Ipfi()
        await end.open([os.environ.get("IPFI_BENCH_NODE", "node"), NODE_ECHO, f"unix:{path}"], path)
    elif mode == "grpc-unary":
        end = Grpc()
        await end.open(path)
    elif mode == "ipfi-calls":
        end = Calls()
        await end.open(path)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    return end


def answer(obj: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main(mode: str) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tmp = tempfile.mkdtemp(prefix="ipfi-pybench-")
    path = os.path.join(tmp, "s.sock")
    try:
        end = await open_end(mode, path)
        answer({"ready": True, "python": sys.version.split()[0]})
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = json.loads(line)
            op = cmd["op"]
            try:
                if op == "echo":
                    out = await echo_once(end, cmd["msg"])
                elif op in ("latency", "throughput", "oneway"):
                    cpu = Cpu(end.child.pid)
                    if op == "latency":
                        out = await latency(end, cmd["n"])
                    elif op == "throughput":
                        out = await throughput(end, cmd["n"], cmd["window"])
                    else:
                        out = await oneway(end, cmd["n"])
                    out.update(cpu.used())
                else:
                    out = {"error": f"unknown op {op!r}"}
            except Exception as e:  # noqa: BLE001 - reported to the runner, which fails the run
                out = {"error": f"{type(e).__name__}: {e}"}
            answer(out)
        await end.close()
        child = end.child
        try:
            code = await asyncio.wait_for(child.wait(), 5)
        except asyncio.TimeoutError:
            child.kill()
            await child.wait()
            print(f"driver {mode}: the far end did not exit within 5 s", file=sys.stderr)
            return 1
        if code != 0:
            print(f"driver {mode}: the far end exited with {code}", file=sys.stderr)
            return 1
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(asyncio.run(main(sys.argv[1])))
