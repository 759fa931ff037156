"""Codec speed: encode and decode of a small map, a record of mixed fields and a 1 MiB bytes
value, in ops/s. bench/codec.mjs runs the same cases on the JS codec and prints both.

    python3 python/bench/codec.py [seconds per case, default 1] [--json]
"""
from __future__ import annotations

import json
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


#: The record case, the same in bench/codec.mjs.
RECORD = {"id": 12345, "name": "some name", "tags": ["x", "y", "z"], "ok": True, "score": 1.5,
          "nested": {"a": 1, "b": [1, 2, 3]}}


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--json"]
    as_json = "--json" in sys.argv[1:]
    seconds = float(args[0]) if args else 1.0
    small = {"a": 1, "b": 2}
    big = os.urandom(1 << 20)
    small_bytes = encode(small).payload
    record_bytes = encode(RECORD).payload
    big_bytes = encode(big).payload
    out = {}
    if not as_json:
        print(f"Python {sys.version.split()[0]}, {seconds:g} s a case")
    for name, f in [
        ("encode {a:1,b:2}", lambda: encode(small)),
        ("decode {a:1,b:2}", lambda: decode(small_bytes)),
        ("encode record", lambda: encode(RECORD)),
        ("decode record", lambda: decode(record_bytes)),
        ("encode 1 MiB bytes", lambda: encode(big)),
        ("decode 1 MiB bytes", lambda: decode(big_bytes)),
    ]:
        r = out[name] = rate(f, seconds)
        if not as_json:
            extra = f"  ({r * (1 << 20) / 1e9:.2f} GB/s)" if "MiB" in name else ""
            print(f"{name:22} {r:>12,.0f} ops/s{extra}")
    if as_json:
        print(json.dumps({"python": sys.version.split()[0], "opsPerSec": out}))


if __name__ == "__main__":
    main()
