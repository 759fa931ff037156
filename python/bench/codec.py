"""Codec speed: encode and decode of a small map and of a 1 MiB bytes value, in ops/s.

    python3 python/bench/codec.py [seconds per case, default 1]
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ipfi.codec import decode, encode  # noqa: E402


def rate(f, seconds: float) -> float:
    n, batch = 0, 1
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            f()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed
        batch = min(batch * 2, 10_000)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    small = {"a": 1, "b": 2}
    big = os.urandom(1 << 20)
    small_bytes = encode(small).payload
    big_bytes = encode(big).payload
    print(f"Python {sys.version.split()[0]}, {seconds:g} s a case")
    for name, f in [
        ("encode {a:1,b:2}", lambda: encode(small)),
        ("decode {a:1,b:2}", lambda: decode(small_bytes)),
        ("encode 1 MiB bytes", lambda: encode(big)),
        ("decode 1 MiB bytes", lambda: decode(big_bytes)),
    ]:
        r = rate(f, seconds)
        extra = f"  ({r * (1 << 20) / 1e9:.2f} GB/s)" if "MiB" in name else ""
        print(f"{name:22} {r:>12,.0f} ops/s{extra}")


if __name__ == "__main__":
    main()
