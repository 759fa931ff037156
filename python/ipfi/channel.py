"""Channels: :func:`channel`, :class:`Sender`, :class:`Receiver`, :class:`ReceiverSet`.

A channel is unbounded: ``send`` never blocks, ``await recv()`` waits. Either end may move to
another process by being sent inside a message; the code that uses them stays the same. Sending a
handle moves it, as in Rust: the local object raises :class:`HandleError` if used again, and each
occurrence in the message arrives as an independent handle (send ``tx.clone()`` to keep one).

Handles belong to the event loop (thread) that uses them; they are not thread-safe.
"""
from __future__ import annotations

import asyncio
from typing import Any, Generic, List, NamedTuple, Optional, Tuple, TypeVar

from .codec import TAG_ENDPOINT, TAG_FUNCTION, TAG_HANDLE, Handle, walk_local
from .errors import ConnectionLostError, DisconnectedError, HandleError, ProtocolError, TimeoutError
from .handles import check_handles, commit_handles, register_handle_factory, wrap_cap
from .link import Link
from .port import Cap, Entry, Port

__all__ = ["channel", "Sender", "Receiver", "ReceiverSet", "SelectEvent", "Empty", "Endpoint", "FunctionEndpoint",
           "bootstrap_sender", "bootstrap_receiver"]

T = TypeVar("T")
_INTERNAL = object()
_LIVE, _MOVED, _CLOSED = 0, 1, 2


class Empty(asyncio.QueueEmpty):
    """``try_recv()`` found nothing queued (and the channel is not disconnected)."""


class _ChannelEnd(Handle):
    """What a Sender and a Receiver share: a port while live, then moved or closed for good."""

    __slots__ = ("_port", "_state", "_moved_how", "__weakref__")

    def __init__(self, port: Port, _token: Any = None) -> None:
        if _token is not _INTERNAL:
            raise TypeError("use ipfi.channel() to make a channel")
        self._port: Optional[Port] = port
        self._state = _LIVE
        self._moved_how = ""

    def _live(self) -> Port:
        if self._state == _LIVE:
            assert self._port is not None
            return self._port
        if self._state == _MOVED:
            raise HandleError(f"this {type(self).__name__} {self._moved_how}")
        raise HandleError(f"this {type(self).__name__} is closed")

    def _take(self, how: str) -> Port:
        """Give the port (and the reference it holds) away: this end becomes unusable."""
        port = self._live()
        self._state = _MOVED
        self._moved_how = how
        self._port = None
        return port

    def close(self) -> None:
        """Close this end (idempotent). A sender: when the last one closes, the receiver sees the
        disconnect. A receiver: queued messages are dropped and every sender learns it."""
        if self._state != _LIVE:
            return
        self._state = _CLOSED
        port, self._port = self._port, None
        assert port is not None
        self._let_go(port)

    def _let_go(self, port: Port) -> None:
        raise NotImplementedError

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # A handle dropped without close() lets go of its reference (a receiver then disconnects).
        try:
            if self._state == _LIVE and self._port is not None:
                self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit, or with the loop gone
            pass

    def _state_name(self) -> str:
        return ("live", "moved", "closed")[self._state]


class Sender(_ChannelEnd, Generic[T]):
    """The sending end of a channel. Clone it to have more senders; the receiver sees the
    disconnect once every sender, everywhere, is closed."""

    __slots__ = ()
    _ipfi_kind = "sender"
    _ipfi_tag = TAG_HANDLE

    def send(self, value: T) -> None:
        """Send a value (never blocks). Raises DisconnectedError (ConnectionLostError when it was
        lost with a link) if the receiver is known to be gone, UnsupportedValueError for a value
        that cannot cross a wire, LimitExceededError for one over the peer's limits; in each case
        nothing was sent and no handle inside moved."""
        port = self._port if self._state == _LIVE else self._live()
        assert port is not None
        if port.receiver_gone:
            raise port.gone_error()
        route = port.route
        if route is not None:
            route.link.send_value(route, value, port)
        else:
            port.deliver(_local_entry(value, port))

    def clone(self) -> "Sender[T]":
        """Another sender for the same channel."""
        port = self._live()
        port.add_sender()
        return type(self)(port, _INTERNAL)

    def _let_go(self, port: Port) -> None:
        port.release_sender()

    @property
    def is_disconnected(self) -> bool:
        """Whether the receiver is known to be gone (a send would raise)."""
        return self._port is None or self._port.receiver_gone

    @property
    def buffered_bytes(self) -> int:
        """Bytes sent and not yet taken by the transport of the link this channel crosses (0 in process)."""
        route = self._live().route
        return route.link.unsent_bytes if route is not None else 0

    async def drained(self) -> None:
        """Return once what was sent has reached the transport (at once in process)."""
        route = self._live().route
        if route is not None:
            await route.link.drained()

    def __repr__(self) -> str:
        return f"<ipfi.{type(self).__name__} {self._state_name()}>"

    # ---- the handle protocol (handles.py)
    def _ipfi_check(self) -> Port:
        return self._live()

    def _ipfi_detach(self) -> Cap:
        return Cap("sender", self._take("was moved into a message (send tx.clone() to keep one)"))


class Endpoint(Sender[Any]):
    """A procedure endpoint (payload tag 0x04, PROTOCOL §10): a sender of session openings. This
    phase carries it (and sends it on as an endpoint) but does not call it yet."""

    __slots__ = ()
    _ipfi_tag = TAG_ENDPOINT


class FunctionEndpoint(Sender[Any]):
    """A function lent for a procedure call (payload tag 0x05): carried as an endpoint for now."""

    __slots__ = ()
    _ipfi_tag = TAG_FUNCTION


class Receiver(_ChannelEnd, Generic[T]):
    """The receiving end of a channel. Messages come out in the order they were sent. Once every
    sender is closed and the queue is drained, ``recv`` raises DisconnectedError
    (ConnectionLostError if the last senders went down with a lost link)."""

    __slots__ = ()
    _ipfi_kind = "receiver"
    _ipfi_tag = TAG_HANDLE

    async def recv(self, timeout: Optional[float] = None) -> T:
        """The next message. ``timeout`` (seconds): raise ipfi.TimeoutError after that long. A
        receive that times out or is cancelled loses nothing: a message that arrives later stays
        queued."""
        if self._state == _LIVE:  # a message already queued: no more than taking it
            e = self._port.take()  # type: ignore[union-attr]
            if e is not None:
                return e.value  # type: ignore[no-any-return]
        port, e = self._next()
        if e is not None:
            return e.value  # type: ignore[no-any-return]
        fut = port.wait()
        timer = None
        if timeout is not None:
            timer = asyncio.get_running_loop().call_later(max(0.0, timeout), _expire, fut, timeout)
        try:
            entry = await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                port.put_back(fut.result())  # taken for us just before the cancel: not lost
            raise
        finally:
            if timer is not None:
                timer.cancel()
            # A delivered entry took its waiter off already; a failed deque.remove would build its
            # error message from repr(fut), which costs more than the whole round trip's bookkeeping.
            waiters = port.waiters
            if waiters and fut in waiters:
                waiters.remove(fut)
        return entry.value  # type: ignore[no-any-return]

    def try_recv(self) -> T:
        """A message if one is queued now; never waits. Raises :class:`Empty` when none is, and
        DisconnectedError when none ever will be."""
        if self._state == _LIVE:
            e = self._port.take()  # type: ignore[union-attr]
            if e is not None:
                return e.value  # type: ignore[no-any-return]
        _, e = self._next()
        if e is None:
            raise Empty()
        return e.value  # type: ignore[no-any-return]

    def _next(self) -> Tuple[Port, Optional[Entry]]:
        """The port and its next queued entry (None if none yet); raises once none ever will come."""
        port = self._live()
        e = port.take()
        if e is None and port.disconnected:
            raise port.disconnected_error()
        return port, e

    @property
    def size(self) -> int:
        """Messages queued here now."""
        return len(self._port.queue) if self._port is not None else 0

    def _let_go(self, port: Port) -> None:
        port.close_receiver()

    def __aiter__(self) -> "Receiver[T]":
        return self

    async def __anext__(self) -> T:
        """``async for m in rx``: ends once the channel is disconnected and drained; raises
        ConnectionLostError if it went down with a lost link. Breaking out leaves it open."""
        try:
            return await self.recv()
        except ConnectionLostError:
            raise
        except DisconnectedError:
            raise StopAsyncIteration from None

    def __repr__(self) -> str:
        return f"<ipfi.Receiver {self._state_name()}, {self.size} queued>"

    # ---- the handle protocol
    def _ipfi_check(self) -> Port:
        port = self._live()
        if port.has_waiters:
            raise HandleError("this Receiver cannot move while a recv() is pending on it")
        return port

    def _ipfi_detach(self) -> Cap:
        return Cap("receiver", self._take("was moved into a message"))


def _expire(fut: "asyncio.Future[Entry]", timeout: float) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError(f"recv timed out after {timeout:g} s"))


def channel() -> Tuple[Sender[Any], Receiver[Any]]:
    """A new channel: ``tx, rx = ipfi.channel()``."""
    port = Port()
    port.add_sender()
    return Sender(port, _INTERNAL), Receiver(port, _INTERNAL)


class SelectEvent(NamedTuple):
    """One event of ``ReceiverSet.select``: ``kind`` is 'message' (with ``value``) or 'closed'."""

    id: int
    kind: str
    value: Any = None


class ReceiverSet(Generic[T]):
    """Wait on many receivers at once. ``add`` takes a receiver over (the Receiver object becomes
    unusable) and returns its id; ``select`` returns one or more events: at most one message per
    receiver per call, and a 'closed' event after a channel's last message, when it leaves the set."""

    def __init__(self) -> None:
        self._ports: "dict[int, Port]" = {}
        self._next_id = 1
        self._fut: "Optional[asyncio.Future[None]]" = None

    def add(self, receiver: Receiver[T]) -> int:
        port = receiver._live()
        if port.has_waiters:
            raise HandleError("this Receiver cannot join a ReceiverSet while a recv() is pending on it")
        receiver._take("was added to a ReceiverSet")
        rid = self._next_id
        self._next_id += 1
        self._ports[rid] = port
        port.watcher = self._wake
        self._wake()  # a select waiting now sees what this receiver already holds
        return rid

    def __len__(self) -> int:
        return len(self._ports)

    def _wake(self) -> None:
        f = self._fut
        if f is not None and not f.done():
            f.set_result(None)

    def try_select(self) -> List[SelectEvent]:
        """The events available now (possibly none); never waits."""
        events: List[SelectEvent] = []
        for rid, port in list(self._ports.items()):
            e = port.take()
            if e is not None:
                events.append(SelectEvent(rid, "message", e.value))
            elif port.disconnected:
                events.append(SelectEvent(rid, "closed"))
                del self._ports[rid]
                port.watcher = None
                port.close_receiver()
        return events

    async def select(self, timeout: Optional[float] = None) -> List[SelectEvent]:
        """Wait for at least one event, or ``timeout`` seconds (ipfi.TimeoutError). An empty set
        waits too: for a receiver to be added and have something. Cancelling loses nothing."""
        events = self.try_select()
        if events:
            return events
        if self._fut is not None:
            raise HandleError("another select() is already waiting on this ReceiverSet: one wait at a time")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + max(0.0, timeout)
        while True:
            fut = self._fut = loop.create_future()
            timer = None if deadline is None else loop.call_at(deadline, self._wake)
            try:
                await fut
            finally:
                self._fut = None
                if timer is not None:
                    timer.cancel()
            events = self.try_select()
            if events:
                return events
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"select timed out after {timeout:g} s")

    def close(self) -> None:
        """Close every receiver in the set; a waiting select raises DisconnectedError. The set is
        empty after."""
        f = self._fut
        if f is not None and not f.done():
            f.set_exception(DisconnectedError("the ReceiverSet was closed"))
        ports, self._ports = list(self._ports.values()), {}
        for port in ports:
            port.watcher = None
            port.close_receiver()

    def __enter__(self) -> "ReceiverSet[T]":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Slot(Handle):
    """Stands for a handle between the two walks of an in-process send."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _local_entry(value: Any, target: Port) -> Entry:
    """Sending in process: the value itself (no copy), handles inside moved into fresh ones."""
    found: List[Handle] = []

    def slot(h: Handle) -> Any:
        found.append(h)
        return _Slot(len(found) - 1)

    slotted = walk_local(value, slot)
    if not found:
        return Entry(value)
    check_handles(found, target)
    fresh = [wrap_cap(cap, h._ipfi_tag) for cap, h in zip(commit_handles(found), found)]
    delivered = walk_local(slotted, lambda s: fresh[s.index])  # type: ignore[attr-defined]
    return Entry(delivered, fresh)


def _wrap_handle(cap: Cap) -> Any:
    return Sender(cap.port, _INTERNAL) if cap.kind == "sender" else Receiver(cap.port, _INTERNAL)


def _wrapper(cls: type) -> Any:
    def wrap(cap: Cap) -> Any:
        if cap.kind != "sender":
            raise ProtocolError(f"a receiver cannot arrive as a {cls.__name__} (payload tag {cls._ipfi_tag})")
        return cls(cap.port, _INTERNAL)
    return wrap


register_handle_factory(TAG_HANDLE, _wrap_handle)
register_handle_factory(TAG_ENDPOINT, _wrapper(Endpoint))
register_handle_factory(TAG_FUNCTION, _wrapper(FunctionEndpoint))


def bootstrap_sender(link: Link) -> Sender[Any]:
    """A Sender into the peer's bootstrap inbox (its export 0)."""
    link.outbox.add_sender()
    return Sender(link.outbox, _INTERNAL)


def bootstrap_receiver(link: Link) -> Receiver[Any]:
    """The Receiver of this side's bootstrap inbox. Take it once."""
    return Receiver(link.inbox, _INTERNAL)
