"""Shared helpers of the Python tests: deep comparison by type, the repository's paths, and a
guard that makes a missing Node (or an unbuilt dist/) fail loudly instead of skipping."""
from __future__ import annotations

import array
import asyncio
import math
import os
import shutil
from typing import Any

from ipfi import JsSet, Map, ObjectKey

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
REPO = os.path.dirname(os.path.dirname(HERE))
DIST = os.path.join(REPO, "dist", "index.js")


def node() -> str:
    """The node executable; raises (the test fails) when it or the built package is missing."""
    exe = shutil.which("node")
    if exe is None:
        raise RuntimeError("interop tests need `node` on PATH")
    if not os.path.exists(DIST):
        raise RuntimeError(f"interop tests need the built JavaScript package: run `npx tsup` first ({DIST} is missing)")
    return exe


def fixture(name: str) -> str:
    return os.path.join(FIXTURES, name)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (NaN equals NaN, -0.0 is not 0.0)."""
    if type(a) is not type(b) and {type(a), type(b)} != {set, JsSet}:  # a Set arrives as a JsSet
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return False
        for x, y in zip(a, b):  # a loop, not all(...): one frame per level for deep values
            if not same(x, y):
                return False
        return True
    if isinstance(a, ObjectKey):  # an object used as a Map key or Set item: compared by what it holds
        return same(a.value, b.value)
    if isinstance(a, Map) and any(type(k) is ObjectKey for k in a):  # keys by identity: compare pairs in order
        pa, pb = a.pairs(), b.pairs()
        return len(pa) == len(pb) and all(same(x[0], y[0]) and same(x[1], y[1]) for x, y in zip(pa, pb))
    if isinstance(a, (set, frozenset)) and any(type(x) is ObjectKey for x in a):  # items by identity
        oa = a.ordered() if isinstance(a, JsSet) else list(a)
        ob = b.ordered() if isinstance(b, JsSet) else list(b)
        return len(oa) == len(ob) and all(same(x, y) for x, y in zip(oa, ob))
    if isinstance(a, dict):
        if len(a) != len(b) or list(map(type, a)) != list(map(type, b)):
            return False
        return all(k in b and same(v, b[k]) for k, v in a.items())
    if isinstance(a, array.array):
        return a.typecode == b.typecode and (a == b or all(same(x, y) for x, y in zip(a, b)))
    if isinstance(a, BaseException):
        return str(a) == str(b) and getattr(a, "fields", None) == getattr(b, "fields", None)
    return bool(a == b)


def run(coro: Any, timeout: float = 30.0) -> Any:
    """Run one test coroutine with a hang guard."""
    return asyncio.run(asyncio.wait_for(coro, timeout))
