"""Wires (any reliable, ordered byte stream) and the length-prefixed framing (PROTOCOL §2.1-§2.2).

A wire delivers chunks of any size and takes lists of byte chunks to write. Two are built in:

* :class:`FdWire`: file descriptors (pipes, stdio, Unix and TCP sockets), read and written by this
  module itself, so that what is still unsent can be written synchronously when the process exits;
* :class:`StreamWire`: an asyncio ``StreamReader``/``StreamWriter`` pair (TLS, or any stream).

Both also read a fixed number of bytes before the link starts (``read_exactly``, for admission);
whatever came after those bytes is delivered first once the wire starts.
"""
from __future__ import annotations

import asyncio
import os
import select
import socket
import stat
import struct
import time
from typing import Callable, List, Optional, Sequence, Union

from .errors import LimitExceededError, ProtocolError

__all__ = ["Wire", "FdWire", "StreamWire", "FrameDecoder", "FRAME_HEADER"]

Bytes = Union[bytes, bytearray, memoryview]
OnData = Callable[[bytes], None]
OnEnd = Callable[[Optional[BaseException]], None]

FRAME_HEADER = 4
_READ_SIZE = 256 * 1024
_IOV_MAX = 1024
_u32 = struct.Struct(">I").unpack_from


class Wire:
    """What a link needs from a byte stream. Subclass it to carry ipfi over a transport of your own."""

    def start(self, on_data: OnData, on_end: OnEnd) -> None:
        """Begin delivering: ``on_data`` per chunk, ``on_end(error or None)`` once at the end."""
        raise NotImplementedError

    def write(self, parts: Sequence[Bytes]) -> None:
        """Send these chunks, in order. Never blocks; never called after ``close``."""
        raise NotImplementedError

    def close(self) -> None:
        """Close once what was written is sent."""
        raise NotImplementedError

    def abort(self) -> None:
        """Close now, dropping what is not sent."""
        self.close()

    def buffered_bytes(self) -> int:
        """Bytes written and not yet taken by the transport."""
        return 0

    async def drained(self) -> None:
        """Return once nothing written waits in this wire."""

    def flush_sync(self, deadline: float) -> None:
        """The process is exiting: write what waits now, blocking until ``deadline`` (time.monotonic())."""

    async def read_exactly(self, n: int) -> bytes:
        """Before ``start``: the next ``n`` bytes (admission). Raises ``EOFError`` if the stream ends."""
        raise NotImplementedError


class FdWire(Wire):
    """A wire over file descriptors (one for a socket, two for a pair of pipes). The wire owns them
    and closes them."""

    def __init__(self, read_fd: int, write_fd: Optional[int] = None, *, is_socket: Optional[bool] = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._rfd = read_fd
        self._wfd = read_fd if write_fd is None else write_fd
        for fd in {self._rfd, self._wfd}:
            os.set_blocking(fd, False)
        self._socket = stat.S_ISSOCK(os.fstat(self._wfd).st_mode) if is_socket is None else is_socket
        self._out = bytearray()
        self._early = bytearray()
        self._on_data: Optional[OnData] = None
        self._on_end: Optional[OnEnd] = None
        self._reading = False
        self._writing = False
        self._closing = False
        self._closed = False
        self._ended = False
        self._drain_waiters: List["asyncio.Future[None]"] = []

    # ---- reading
    def start(self, on_data: OnData, on_end: OnEnd) -> None:
        if self._on_data is not None:
            raise RuntimeError("wire already started")
        self._on_data, self._on_end = on_data, on_end
        if self._closed:
            return
        if self._early:
            early, self._early = bytes(self._early), bytearray()
            self._loop.call_soon(self._deliver, early)
        self._loop.add_reader(self._rfd, self._readable)
        self._reading = True

    def _deliver(self, chunk: bytes) -> None:
        if not self._ended and self._on_data is not None:
            self._on_data(chunk)

    def _readable(self) -> None:
        try:
            data = os.read(self._rfd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            return self._end(e)
        if not data:
            return self._end(None)
        if self._on_data is not None:
            self._on_data(data)

    def _end(self, error: Optional[BaseException]) -> None:
        if self._ended:
            return
        self._ended = True
        self._stop_reading()
        if self._on_end is not None:
            self._on_end(error)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._rfd)

    async def read_exactly(self, n: int) -> bytes:
        while len(self._early) < n:
            fut: "asyncio.Future[None]" = self._loop.create_future()
            self._loop.add_reader(self._rfd, lambda: fut.done() or fut.set_result(None))
            try:
                await fut
            finally:
                self._loop.remove_reader(self._rfd)
            try:
                data = os.read(self._rfd, _READ_SIZE)
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                raise EOFError(f"the stream ended after {len(self._early)} of {n} bytes")
            self._early += data
        out = bytes(self._early[:n])
        del self._early[:n]
        return out

    # ---- writing
    def write(self, parts: Sequence[Bytes]) -> None:
        if self._closing or self._closed:
            return
        if self._out:
            for p in parts:
                self._out += p
            return
        sent = self._try_write(list(parts))
        if sent is None:
            return
        rest = sum(len(p) for p in parts) - sent
        if rest:
            skip = sent
            for p in parts:
                if skip >= len(p):
                    skip -= len(p)
                    continue
                self._out += memoryview(p)[skip:] if skip else p
                skip = 0
            self._want_write()

    def _try_write(self, parts: List[Bytes]) -> Optional[int]:
        """Write what the kernel takes now; None if the wire broke."""
        sent = 0
        try:
            while parts:
                batch = parts[:_IOV_MAX]
                n = os.writev(self._wfd, batch)
                sent += n
                if n < sum(len(p) for p in batch):
                    break
                parts = parts[_IOV_MAX:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            self._broken(e)
            return None
        return sent

    def _want_write(self) -> None:
        if not self._writing and not self._closed and not self._loop.is_closed():  # closed: flush_sync writes at exit
            self._writing = True
            self._loop.add_writer(self._wfd, self._writable)

    def _writable(self) -> None:
        try:
            n = os.write(self._wfd, self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            return self._broken(e)
        del self._out[:n]
        if not self._out:
            self._loop.remove_writer(self._wfd)
            self._writing = False
            self._drained_now()

    def _broken(self, e: OSError) -> None:
        self._out.clear()
        self._drained_now()
        if self._closing:
            self._finish_close()
        else:
            self._end(e)

    def _drained_now(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for f in waiters:
            if not f.done():
                f.set_result(None)
        if self._closing and not self._out:
            self._finish_close()

    def buffered_bytes(self) -> int:
        return len(self._out)

    async def drained(self) -> None:
        if not self._out or self._closed:
            return
        f: "asyncio.Future[None]" = self._loop.create_future()
        self._drain_waiters.append(f)
        await f

    def flush_sync(self, deadline: float) -> None:
        while self._out and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                select.select([], [self._wfd], [], left)
                n = os.write(self._wfd, self._out)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            del self._out[:n]

    # ---- closing
    def close(self) -> None:
        if self._closing or self._closed:
            return
        self._closing = True
        if not self._out:
            self._finish_close()

    def abort(self) -> None:
        self._out.clear()
        self._closing = True
        self._finish_close()

    def _finish_close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ended = True
        self._stop_reading()
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._wfd)
        if self._socket:
            try:
                # FIN after what was sent; read what is left so that closing sends no RST over it.
                s = socket.socket(fileno=os.dup(self._wfd))
                try:
                    s.shutdown(socket.SHUT_WR)
                finally:
                    s.close()
                while os.read(self._rfd, _READ_SIZE):
                    pass
            except OSError:
                pass
        for fd in {self._rfd, self._wfd}:
            try:
                os.close(fd)
            except OSError:
                pass
        self._drained_now()


class StreamWire(Wire):
    """A wire over an asyncio stream pair (``asyncio.open_connection`` and friends, TLS included)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._task: Optional["asyncio.Task[None]"] = None
        self._closed = False

    def start(self, on_data: OnData, on_end: OnEnd) -> None:
        if self._task is not None:
            raise RuntimeError("wire already started")

        async def pump() -> None:
            try:
                while True:
                    chunk = await self._reader.read(_READ_SIZE)
                    if not chunk:
                        break
                    on_data(chunk)
            except asyncio.CancelledError:
                return
            except (OSError, EOFError) as e:
                if not self._closed:
                    on_end(e)
                return
            if not self._closed:
                on_end(None)

        self._task = asyncio.get_running_loop().create_task(pump())

    def write(self, parts: Sequence[Bytes]) -> None:
        if not self._closed and not self._writer.is_closing():
            self._writer.writelines(parts)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        self._writer.close()

    def abort(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        self._writer.transport.abort()

    def buffered_bytes(self) -> int:
        return self._writer.transport.get_write_buffer_size()

    async def drained(self) -> None:
        try:
            await self._writer.drain()
        except (OSError, RuntimeError):
            pass

    async def read_exactly(self, n: int) -> bytes:
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError as e:
            raise EOFError(f"the stream ended after {len(e.partial)} of {n} bytes") from None


class FrameDecoder:
    """Cuts frames (u32 big-endian length, then the body) out of chunks split anywhere, checking
    each length against ``max_frame`` as soon as its header is in. A frame that spans chunks is
    kept as the bytes that arrived, so memory follows what the peer sent, not what it declared.
    ``on_frame(buf, start, end)`` gets each body in place."""

    __slots__ = ("max_frame", "_on_frame", "_pending", "_length")

    def __init__(self, max_frame: int, on_frame: Callable[[bytes, int, int], None]) -> None:
        self.max_frame = max_frame
        self._on_frame = on_frame
        self._pending = bytearray()  # a frame begun: its header (and body) bytes so far
        self._length = -1  # its declared length, once the header is in

    @property
    def partial(self) -> bool:
        return bool(self._pending)

    def _check(self, n: int) -> int:
        if n == 0:
            raise ProtocolError("empty frame")
        if n > self.max_frame:
            raise LimitExceededError(f"frame of {n} bytes is over the limit of {self.max_frame} bytes")
        return n

    def push(self, chunk: bytes) -> None:
        off = 0
        size = len(chunk)
        p = self._pending
        if p:
            if len(p) < FRAME_HEADER:
                take = min(FRAME_HEADER - len(p), size)
                p += chunk[:take]
                off = take
                if len(p) < FRAME_HEADER:
                    return
                self._length = self._check(_u32(p, 0)[0])
            take = min(FRAME_HEADER + self._length - len(p), size - off)
            p += memoryview(chunk)[off:off + take]
            off += take
            if len(p) < FRAME_HEADER + self._length:
                return
            frame = bytes(memoryview(p)[FRAME_HEADER:])
            self._pending = bytearray()
            self._length = -1
            self._on_frame(frame, 0, len(frame))
        on_frame = self._on_frame
        while off < size:
            if size - off < FRAME_HEADER:
                self._pending = bytearray(chunk[off:])
                return
            n = _u32(chunk, off)[0]
            if n == 0 or n > self.max_frame:  # (a HELLO in this chunk raises max_frame: read it each time)
                self._check(n)
            start = off + FRAME_HEADER
            if size - start < n:
                self._pending = bytearray(chunk[off:])
                self._length = n
                return
            off = start + n
            on_frame(chunk, start, off)
