"""Link speed between two Python links over a Unix socket pair, in one process: small messages one
way (msg/s), round trips (µs), and 1 MiB messages (MB/s).

    python3 python/bench/link.py [messages, default 100000]
"""
from __future__ import annotations

import asyncio
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import ipfi  # noqa: E402


async def main(n: int) -> None:
    s1, s2 = socket.socketpair()
    a = ipfi.connect_wire(ipfi.FdWire(s1.detach()), name="A")
    b = ipfi.connect_wire(ipfi.FdWire(s2.detach()), name="B")
    await asyncio.gather(a.ready, b.ready)

    start = time.perf_counter()
    for i in range(n):
        a.sender.send({"i": i, "s": "x"})
        if i % 1000 == 999:
            await asyncio.sleep(0)
    for _ in range(n):
        await b.receiver.recv()
    t = time.perf_counter() - start
    print(f"one way, {n:,} small messages: {n / t:>10,.0f} msg/s")

    rounds = n // 10
    start = time.perf_counter()
    for i in range(rounds):
        a.sender.send(i)
        b.sender.send(await b.receiver.recv())
        await a.receiver.recv()
    t = time.perf_counter() - start
    print(f"round trip ({rounds:,}):            {t / rounds * 1e6:>10,.1f} µs")

    big = os.urandom(1 << 20)
    count = 100
    start = time.perf_counter()
    for _ in range(count):
        a.sender.send(big)
        await b.receiver.recv()
    t = time.perf_counter() - start
    print(f"1 MiB messages ({count}):            {count / t:>10,.1f} msg/s ({count * len(big) / t / 1e6:,.0f} MB/s)")
    a.close()
    await b.closed


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
