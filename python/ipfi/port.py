"""A Port is this process's view of one channel: its *home* (the receiver lives here: a queue and
the receives waiting on it) or a *route* to where the receiver lives, through one link (an import
of the peer's export, or a forwarder to a receiver that moved out over that link).

``senders`` counts every reference that can still put a message into the channel through this
port: live local Sender objects, and each remote reference (an export entry or an inbound entry on
some link). At the home, zero means disconnected; on a route, zero means release it upstream
(RELEASE or FINISH). PROTOCOL §1.3-§7.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, List, Optional, Set

from .errors import ConnectionLostError, DisconnectedError, describe_cause

if TYPE_CHECKING:  # pragma: no cover
    from .link import Link

__all__ = ["Port", "Entry", "Cap", "Route", "drop_entry", "drop_caps", "drop_cap", "UNSET"]

UNSET: Any = object()


class Route:
    """Where a route port sends (the peer's export or inbound ``id`` over ``link``), and equally how
    a remote party reaches a port (an entry of ``link``'s export or inbound table)."""

    __slots__ = ("link", "kind", "id")

    def __init__(self, link: "Link", kind: int, id: int) -> None:
        self.link = link
        self.kind = kind
        self.id = id


class Entry:
    """A queued message: the value and the handles inside it (closed if it is dropped)."""

    __slots__ = ("value", "handles", "nbytes", "account")

    def __init__(self, value: Any, handles: Optional[List[Any]] = None, nbytes: int = 0, account: Optional["Link"] = None) -> None:
        self.value = value
        self.handles = handles
        self.nbytes = nbytes
        #: The link it came over, which counts what its peer has queued unread here.
        self.account = account


class Cap:
    """A handle carried by a message, with the reference it owns: a sender's, or a whole receiver."""

    __slots__ = ("kind", "port")

    def __init__(self, kind: str, port: "Port") -> None:
        self.kind = kind
        self.port = port


def disconnected(message: str, lost: Any = UNSET, ended: Any = UNSET) -> DisconnectedError:
    """ConnectionLostError if it went down with a lost link, else DisconnectedError (saying why its
    link closed, if it did)."""
    if lost is not UNSET:
        return ConnectionLostError(f"{message}: {describe_cause(lost)}", lost)
    if ended is not UNSET:
        return DisconnectedError(f"{message}: {describe_cause(ended)}", ended)
    return DisconnectedError(message)


class Port:
    __slots__ = ("route", "senders", "receiver_gone", "gone_reason", "gone_cause", "lost_cause", "end_cause",
                 "remotes", "queue", "waiters", "watcher", "__weakref__")

    def __init__(self, route: Optional[Route] = None) -> None:
        self.route = route
        self.senders = 0
        #: The receiver is known to be gone (closed here, or DROPPED reported from its home).
        self.receiver_gone = False
        #: Why, when it was lost with a link (senders then get ConnectionLostError).
        self.gone_reason: Optional[str] = None
        self.gone_cause: Any = UNSET
        #: Set when a sender reference went down with a lost link / ended with an orderly one.
        self.lost_cause: Any = UNSET
        self.end_cause: Any = UNSET
        #: Remote parties holding a reference to this port (export entries, inbound entries).
        self.remotes: Set[Route] = set()
        self.queue: Deque[Entry] = deque()
        self.waiters: Deque["asyncio.Future[Entry]"] = deque()
        #: Called when something changes for a ReceiverSet watching this port.
        self.watcher: Optional[Callable[[], None]] = None

    @property
    def is_home(self) -> bool:
        return self.route is None

    @property
    def disconnected(self) -> bool:
        """Home only: no sender can ever add a message again."""
        return self.senders == 0

    @property
    def has_waiters(self) -> bool:
        return any(not w.done() for w in self.waiters)

    # ---- references

    def add_sender(self) -> None:
        self.senders += 1

    def release_sender(self, lost: Any = UNSET, ended: Any = UNSET) -> None:
        if lost is not UNSET:
            self.lost_cause = lost
        if ended is not UNSET:
            self.end_cause = ended
        self.senders -= 1
        if self.senders > 0:
            return
        if self.senders < 0:
            raise RuntimeError("ipfi internal error: sender count below zero")
        self.on_idle()

    def on_idle(self) -> None:
        """The sender count is zero (also right after a receiver moved away with none left)."""
        if self.senders != 0:
            return
        if self.route is not None:
            r = self.route
            r.link.release_route(r, None if self.lost_cause is UNSET else describe_cause(self.lost_cause))
        elif not self.queue:
            self._fail_waiters()
        elif self.watcher is not None:
            self.watcher()

    def add_remote(self, ref: Route) -> None:
        self.remotes.add(ref)
        self.senders += 1

    def remove_remote(self, ref: Route, lost: Any = UNSET, ended: Any = UNSET) -> None:
        if ref in self.remotes:
            self.remotes.discard(ref)
            self.release_sender(lost, ended)

    def gone_error(self) -> DisconnectedError:
        """What a sender through this port gets once the receiver is gone."""
        if self.gone_reason is None:
            if self.gone_cause is UNSET:
                return disconnected("the receiver of this channel is closed")
            return disconnected("the link to the receiver of this channel was closed", ended=self.gone_cause)
        cause = self.gone_reason if self.gone_cause is UNSET else self.gone_cause
        return disconnected("the link to the receiver of this channel was lost", lost=cause)

    def disconnected_error(self) -> DisconnectedError:
        if self.lost_cause is not UNSET:
            return disconnected("the last senders of this channel were lost with their link", lost=self.lost_cause)
        if self.end_cause is not UNSET:
            return disconnected("the last senders of this channel ended with their link", ended=self.end_cause)
        return disconnected("every sender of this channel is closed")

    # ---- home side

    def push(self, entry: Entry) -> None:
        if self.receiver_gone:
            return drop_entry(entry)
        waiters = self.waiters
        while waiters:
            w = waiters.popleft()
            if not w.done():
                w.set_result(entry)
                return
        self.queue.append(entry)
        link = entry.account
        if link is not None:
            link._queued_bytes += entry.nbytes  # Link.queued, inline: once per message
            if link._queued_bytes > link.max_queued_bytes:
                link.queued(0)
        if self.watcher is not None:
            self.watcher()

    def take(self) -> Optional[Entry]:
        if not self.queue:
            return None
        e = self.queue.popleft()
        if e.account is not None:
            e.account._queued_bytes -= e.nbytes  # Link.unqueued, inline
        return e

    def put_back(self, entry: Entry) -> None:
        """A receive that took ``entry`` was cancelled before it could return it: first in line again."""
        if self.receiver_gone:
            return drop_entry(entry)
        self.queue.appendleft(entry)
        if entry.account is not None:
            entry.account.queued(entry.nbytes)

    def drain(self) -> List[Entry]:
        rest = list(self.queue)
        self.queue.clear()
        for e in rest:
            if e.account is not None:
                e.account.unqueued(e.nbytes)
        return rest

    def wait(self) -> "asyncio.Future[Entry]":
        f: "asyncio.Future[Entry]" = asyncio.get_running_loop().create_future()
        self.waiters.append(f)
        return f

    def _fail_waiters(self) -> None:
        waiters, self.waiters = self.waiters, deque()
        for w in waiters:
            if not w.done():
                w.set_exception(self.disconnected_error())
        if self.watcher is not None:
            self.watcher()

    def close_receiver(self) -> None:
        """The receiver is closed for good: drop what is queued and tell every remote holder."""
        if self.receiver_gone:
            return
        self.receiver_gone = True
        for e in self.drain():
            drop_entry(e)
        waiters, self.waiters = self.waiters, deque()
        for w in waiters:
            if not w.done():
                w.set_exception(DisconnectedError("the receiver was closed"))
        self.watcher = None
        for ref in list(self.remotes):
            ref.link.send_dropped(ref, None)

    # ---- route side

    def move_to(self, route: Route) -> None:
        """The receiver moved out over ``route``'s link: from now on this port forwards."""
        self.route = route
        self.watcher = None

    def forward_queued(self) -> None:
        """Once the frame that moved the receiver is queued: what was queued here follows it, in order."""
        route = self.route
        assert route is not None
        for e in self.drain():
            route.link.forward_entry(route, e)
        self.on_idle()

    def route_gone(self, lost_reason: Optional[str], cause: Any = UNSET) -> None:
        """The receiver's home reported it gone, or the route's link died: tell whoever routes through us."""
        if self.receiver_gone:
            return
        self.receiver_gone = True
        self.gone_reason = lost_reason
        self.gone_cause = cause
        for ref in list(self.remotes):
            ref.link.send_dropped(ref, lost_reason)

    def accept(self, buf: bytes, start: int, end: int, caps: List[Cap], decode_entry: Callable[..., Entry]) -> None:
        """A message from a remote party, ``buf[start:end]``: pass it on along the route, or deliver it here."""
        if self.receiver_gone:
            return drop_caps(caps)
        if self.route is not None:
            return self.route.link.forward(self.route, buf[start:end], caps)
        self.push(decode_entry(buf, start, end, caps))

    def deliver(self, entry: Entry) -> None:
        """A message sent in this process, already prepared (its handles moved into fresh ones)."""
        if self.receiver_gone:
            return drop_entry(entry)
        if self.route is not None:
            return self.route.link.forward_entry(self.route, entry)
        self.push(entry)

    def accept_disembargo(self, token: int) -> None:
        """A DISEMBARGO token travelling along routes (PROTOCOL §5): a route passes it on; a home
        ignores it (this side never shortens routes, so it never waits for a token)."""
        if self.route is not None:
            self.route.link.send_disembargo(self.route, token)


def drop_entry(entry: Entry) -> None:
    if entry.handles:
        for h in entry.handles:
            h.close()


def drop_caps(caps: List[Cap]) -> None:
    for c in caps:
        drop_cap(c)


def drop_cap(c: Cap) -> None:
    if c.kind == "sender":
        c.port.release_sender()
    else:
        c.port.close_receiver()
