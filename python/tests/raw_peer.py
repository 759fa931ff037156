"""A hand-driven peer for protocol tests: it writes bytes it builds itself (not through the
library's link) and parses the frames the real side sends back."""
from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any, Callable, List, Optional, Tuple

import ipfi
from ipfi.codec import decode_plain, encode_plain

HELLO, MSG, RELEASE, DROPPED, FINISH, GOODBYE, DISEMBARGO, PING = range(1, 9)


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def hello(options: Any = None, magic: bytes = b"IPFI", version: int = 1) -> bytes:
    opts = {"maxFrameBytes": 64 * 1024 * 1024, "maxHandlesPerMessage": 1024} if options is None else options
    return frame(bytes([HELLO]) + magic + bytes([version]) + encode_plain(opts))


def msg(target_kind: int, target: int, caps: Optional[list], payload: bytes) -> bytes:
    caps_bytes = encode_plain(caps) if caps is not None else b""
    return frame(bytes([MSG, target_kind]) + struct.pack(">II", target, len(caps_bytes)) + caps_bytes + payload)


def control(kind: int, body: Any) -> bytes:
    return frame(bytes([kind]) + encode_plain(body))


def handle_ref(i: int) -> bytes:
    return b"\xd4\x01\x00" + encode_plain(i)


class Frame:
    def __init__(self, body: bytes) -> None:
        self.kind = body[0]
        self.body = body

    def value(self) -> Any:
        return decode_plain(self.body, 1)

    def msg(self) -> Tuple[int, int, Any, bytes]:
        """(target kind, target id, caps, payload)."""
        kind, target, caps_len = struct.unpack_from(">BII", self.body, 1)
        caps = decode_plain(self.body, 10, 10 + caps_len) if caps_len else []
        return kind, target, caps, self.body[10 + caps_len:]


class RawPeer:
    """The other end of a socket pair whose first end runs a real ipfi link."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames: List[Frame] = []
        self.ended = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._read())

    @classmethod
    async def pair(cls, name: str = "victim", **options: Any) -> "Tuple[ipfi.Connection, RawPeer]":
        a, b = socket.socketpair()
        victim = ipfi.connect_wire(ipfi.FdWire(a.detach()), name=name, **options)
        reader, writer = await asyncio.open_unix_connection(sock=b)
        return victim, cls(reader, writer)

    async def _read(self) -> None:
        try:
            while True:
                head = await self.reader.readexactly(4)
                body = await self.reader.readexactly(struct.unpack(">I", head)[0])
                self.frames.append(Frame(body))
                self._changed.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if not self.ended.done():
                self.ended.set_result(None)
            self._changed.set()

    def write(self, *parts: bytes) -> None:
        self.writer.write(b"".join(parts))

    async def wait_frame(self, pred: Callable[[Frame], bool], timeout: float = 5.0) -> Frame:
        async def find() -> Frame:
            seen = 0
            while True:
                for f in self.frames[seen:]:
                    if pred(f):
                        return f
                seen = len(self.frames)
                if self.ended.done():
                    raise AssertionError(f"the wire ended; frames seen: {[f.kind for f in self.frames]}")
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(find(), timeout)

    def close(self) -> None:
        self._task.cancel()
        self.writer.close()
        self.writer.transport.abort()
