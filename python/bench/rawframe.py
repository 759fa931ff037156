"""The raw Python baseline of the socket benchmarks, written as plainly as asyncio allows: an
``asyncio.Protocol`` over a Unix socket, each message encoded with ipfi's own codec
(``ipfi.codec.encode``) behind a 4-byte big-endian length, one ``transport.write`` per message, no
coalescing. The same shape as the JS raw socket baseline (bench/lib/peers/raw-wires.mjs); what ipfi
adds on top of it is what the ratios show.
"""
from __future__ import annotations

import asyncio
import struct
from collections import deque
from typing import Any, Callable, Deque, Optional

from ipfi.codec import decode, encode

_len = struct.Struct(">I")
_pack = _len.pack
_unpack = _len.unpack_from


def frame(value: Any) -> bytes:
    payload = encode(value).payload
    return _pack(len(payload)) + payload


class FramedProtocol(asyncio.Protocol):
    """Cuts frames out of what arrives and hands each decoded value to ``on_value``; ``send`` writes
    one frame. ``recv()`` (for the driving side) is the smallest awaitable receive: a deque of
    values and one waiter."""

    def __init__(self, on_value: Optional[Callable[[Any], None]] = None) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self._buf = b""
        self._values: Deque[Any] = deque()
        self._waiter: Optional["asyncio.Future[Any]"] = None
        self._on_value = on_value if on_value is not None else self._queue
        self.lost: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        off, size = 0, len(buf)
        on_value = self._on_value
        while size - off >= 4:
            n = _unpack(buf, off)[0]
            start = off + 4
            if size - start < n:
                break
            off = start + n
            on_value(decode(buf, None, start, off))
        self._buf = buf[off:] if off < size else b""

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        w = self._waiter
        if w is not None and not w.done():
            w.set_exception(ConnectionError("the raw peer closed the socket"))

    def send(self, value: Any) -> None:
        payload = encode(value).payload
        self.transport.write(_pack(len(payload)) + payload)  # type: ignore[union-attr]

    def _queue(self, value: Any) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(value)
                return
        self._values.append(value)

    async def recv(self) -> Any:
        if self._values:
            return self._values.popleft()
        w = self._waiter = asyncio.get_running_loop().create_future()
        return await w
