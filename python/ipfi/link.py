"""A Link joins this process to one peer over one Wire (PROTOCOL §4-§11). It runs the handshake,
carries every channel that crosses the wire, and keeps the four per-link tables of Cap'n Proto's
RPC protocol:

    exports   id -> port  channels the peer may send into, counted by how often we sent each
    imports   id -> port  the peer's exports we hold, counted by how often we received each
    inbound   id -> port  receivers the peer moved here
    outbound  id -> port  receivers we moved to the peer (the forwarders left behind)

Export 0 on each side is the link's bootstrap inbox, so a link starts as a pair of channels.
A peer that breaks the protocol closes this link only, with a ProtocolError or LimitExceededError
as the cause every handle on it reports (inside a ConnectionLostError).
"""
from __future__ import annotations

import asyncio
import warnings
from typing import Any, Awaitable, Callable, Dict, List, NamedTuple, Optional, Union

from . import at_exit
from . import frames as F
from .codec import decode, encode, encode_plain
from .errors import ConnectionLostError, DisconnectedError, LimitExceededError, ProtocolError, describe_cause
from .handles import check_handles, commit_handles, wrap_cap
from .heartbeat import Heartbeat
from .limits import HANDSHAKE_MAX_FRAME, Limits, resolve_limits
from .port import UNSET, Cap, Entry, Port, Route, drop_cap, drop_caps, drop_entry
from .wire import FrameDecoder, Wire

__all__ = ["Link", "PeerEnd"]

#: A batch is written as soon as it holds this many frames (otherwise once the loop turns).
_FLUSH_AT = 32
#: A payload shorter than this is copied behind its frame header (one part); a longer one is its own part.
_JOIN_BELOW = 16384
_msg_prefix = F._msg_header.pack  # body length, MSG, target kind, target id, caps length
_msg_header_unpack = F.msg_header_unpack


class PeerEnd(NamedTuple):
    """How the owner of a link saw its peer end (see ``on_wire_end``)."""

    cause: Any
    orderly: bool


OnWireEnd = Callable[[Optional[BaseException], Optional[str]], Union[Awaitable[Optional[PeerEnd]], Optional[PeerEnd]]]


class _Export:
    __slots__ = ("port", "count", "ref")

    def __init__(self, port: Port, ref: Route) -> None:
        self.port = port
        self.count = 1
        self.ref = ref


class _Import:
    __slots__ = ("port", "count")

    def __init__(self, port: Port) -> None:
        self.port = port
        self.count = 1


_HANDSHAKE, _OPEN, _CLOSED = 0, 1, 2


class Link:
    def __init__(self, wire: Wire, *, name: str = "link", limits: Any = None, idle_timeout: Optional[float] = None,
                 on_wire_end: Optional[OnWireEnd] = None, goodbye_at_exit: bool = True) -> None:
        """Start a link on ``wire`` (in the running event loop). ``idle_timeout`` (seconds): declare
        the peer lost when nothing arrives for that long (the HELLO asks it for a PING at a third of
        it). ``on_wire_end(error, peer_failure)``: asked, when the wire ends without an orderly
        GOODBYE, for the cause and whether the end was orderly after all (a child's exit status).
        ``goodbye_at_exit``: whether this process's exit says GOODBYE when it did not crash."""
        self._loop = asyncio.get_running_loop()
        self.limits: Limits = resolve_limits(limits)
        #: The limit Port.push checks once per message (limits.max_queued_bytes).
        self.max_queued_bytes = self.limits.max_queued_bytes
        self.name = name
        self._wire = wire
        self._on_wire_end = on_wire_end
        self._goodbye_at_exit = goodbye_at_exit
        if idle_timeout is not None and not idle_timeout >= 0.03:
            raise ValueError(f"idle_timeout must be at least 0.03 s, got {idle_timeout!r}")
        self._state = _HANDSHAKE
        self._ending = False
        self._peer_max_frame = self.limits.max_frame_bytes
        self._peer_max_handles = self.limits.max_handles_per_message
        self._exports: Dict[int, _Export] = {}
        self._export_of: Dict[Port, _Export] = {}
        self._next_export = 1
        self._imports: Dict[int, _Import] = {}
        self._inbound: Dict[int, "tuple[Port, Route]"] = {}
        self._outbound: Dict[int, Port] = {}
        self._next_outbound = 1
        self._batch: List[bytes] = []
        self._batch_frames = 0
        self._batch_bytes = 0
        self._flush_scheduled = False
        #: A frame was written at once (_queue) and no turn's flush or peer's data came since.
        self._wrote_through = False
        self._queued_bytes = 0
        self.cause: Any = None
        #: Resolves once the peer's HELLO arrived (fails if the link closes first).
        self.ready: "asyncio.Future[None]" = self._loop.create_future()
        #: Resolves with the cause once the link is closed, whatever closed it.
        self.closed: "asyncio.Future[Any]" = self._loop.create_future()
        self.ready.add_done_callback(_retrieve)

        self.inbox = Port()
        inbox_ref = Route(self, F.TARGET_EXPORT, 0)
        self._exports[0] = self._export_of[self.inbox] = _Export(self.inbox, inbox_ref)
        self.inbox.add_remote(inbox_ref)
        self.outbox = Port(Route(self, F.TARGET_EXPORT, 0))
        self._imports[0] = _Import(self.outbox)

        self._heartbeat = Heartbeat(idle_timeout, self._ping, self._silent)
        self._decoder = FrameDecoder(HANDSHAKE_MAX_FRAME, self._on_frame)
        self._handshake_timer: Optional[asyncio.TimerHandle] = self._loop.call_later(
            self.limits.handshake_timeout, self._no_handshake)
        at_exit.watch(self)
        options = {"maxFrameBytes": self.limits.max_frame_bytes, "maxHandlesPerMessage": self.limits.max_handles_per_message}
        every = self._heartbeat.ask_peer_every_ms
        if every is not None:
            options["heartbeatMs"] = every
        self._queue(F.hello(options))
        wire.start(self._on_data, self._on_end)

    @property
    def is_closed(self) -> bool:
        return self._state == _CLOSED

    @property
    def stats(self) -> Dict[str, int]:
        """Sizes of the link's tables (the bootstrap entries included), for tests and diagnostics."""
        return {"exports": len(self._exports), "imports": len(self._imports), "inbound": len(self._inbound),
                "outbound": len(self._outbound), "queued_bytes": self._queued_bytes}

    def __repr__(self) -> str:
        state = ("handshake", "open", "closed")[self._state]
        return f"<ipfi.Link {self.name!r} {state}>"

    # ------------------------------------------------------------------------------- sending

    def send_value(self, route: Route, value: Any, target: Port) -> None:
        """Send ``value`` into the channel ``route`` leads to. Raises before anything moves if it can't."""
        payload, handles = encode(value)
        if not handles:  # the common case, in short: no caps to check, move or describe
            n = len(payload)
            if F.MSG_HEADER + n > self._peer_max_frame:
                raise LimitExceededError(f"message of {n} bytes is over the peer's frame limit of {self._peer_max_frame} bytes")
            if self._state == _CLOSED:
                return
            head = _msg_prefix(F.MSG_HEADER + n, F.MSG, route.kind, route.id, 0)
            if n >= _JOIN_BELOW:
                return self._queue(head, payload)
            # _queue(frame), inline: the common message is one part, batched in this loop turn
            # (or, the turn's first, written at once)
            frame = head + payload
            self._heartbeat._spoke = True
            if self._flush_scheduled:
                self._batch.append(frame)
                self._batch_bytes += len(frame)
                self._batch_frames += 1
                if self._batch_frames >= _FLUSH_AT:
                    self._flush(False)
                return
            return self._queue(frame)
        if len(handles) > self._peer_max_handles:
            raise LimitExceededError(f"message holds {len(handles)} handles; the peer accepts at most {self._peer_max_handles}")
        check_handles(handles, target)
        if F.MSG_HEADER + len(handles) * 10 + len(payload) > self._peer_max_frame:
            raise LimitExceededError(f"message of {len(payload)} bytes is over the peer's frame limit of {self._peer_max_frame} bytes")
        self._send_msg(route, payload, commit_handles(handles) if handles else [])

    def forward(self, route: Route, payload: bytes, caps: List[Cap]) -> None:
        """Pass on a message that arrived for a receiver that moved on (its bytes as they came)."""
        self._send_msg(route, payload, caps)

    def forward_entry(self, route: Route, entry: Entry) -> None:
        """Send a queued entry on (its receiver moved over this link): encoded again, its handles moving again."""
        try:
            payload, handles = encode(entry.value)
        except Exception as e:  # a value that was sendable in process is not encodable: say so, drop it
            warnings.warn(f"ipfi: a queued message could not follow its moved receiver and was dropped: {e}", RuntimeWarning)
            return drop_entry(entry)
        self._send_msg(route, payload, commit_handles(handles) if handles else [])

    def _send_msg(self, route: Route, payload: bytes, caps: List[Cap]) -> None:
        if self._state == _CLOSED:
            return drop_caps(caps)
        if len(caps) > self._peer_max_handles or F.MSG_HEADER + len(payload) > self._peer_max_frame:
            # Only forwarded messages get here (direct sends are checked before anything moves).
            warnings.warn(f"ipfi: {self.name}: a forwarded message is over the peer's limits and was dropped", RuntimeWarning)
            return drop_caps(caps)
        after: List[Callable[[], None]] = []
        caps_bytes = encode_plain([self._encode_cap(c, after) for c in caps]) if caps else b""
        body_len = F.MSG_HEADER + len(caps_bytes) + len(payload)
        head = F.msg_prefix(route.kind, route.id, len(caps_bytes), body_len)
        if len(payload) < _JOIN_BELOW:
            self._queue(head + caps_bytes + payload)
        else:
            self._queue(head + caps_bytes, payload)
        for f in after:
            f()

    def _encode_cap(self, c: Cap, after: List[Callable[[], None]]) -> List[int]:
        """Describe one capability for the peer (PROTOCOL §1.3); ``after`` collects what must happen
        once the frame is queued (releases come after the MSG that carries the new reference)."""
        port = c.port
        if c.kind == "receiver":
            oid = self._next_outbound
            if oid > F.MAX_ID:
                raise LimitExceededError(f"{self.name}: out of receiver ids on this link")
            self._next_outbound += 1
            port.move_to(Route(self, F.TARGET_INBOUND, oid))
            self._outbound[oid] = port
            after.append(port.forward_queued)
            desc = [F.CAP_RECEIVER, oid]
            # Hints: the routes the peer already has to this channel over this link (it may shorten them).
            exported = self._export_of.get(port)
            if exported is not None:
                desc += [F.TARGET_EXPORT, exported.ref.id]
            for ref in port.remotes:
                if ref.link is self and ref.kind == F.TARGET_INBOUND:
                    desc += [F.TARGET_INBOUND, ref.id]
            return desc
        r = port.route
        if r is not None and r.link is self:
            # A sender going back to the side that holds what it points to: "your export/inbound id".
            after.append(port.release_sender)
            return [F.CAP_SENDER_YOUR_EXPORT if r.kind == F.TARGET_EXPORT else F.CAP_SENDER_YOUR_INBOUND, r.id]
        e = self._export_of.get(port)
        if e is not None:
            e.count += 1
        else:
            eid = self._next_export
            if eid > F.MAX_ID:
                raise LimitExceededError(f"{self.name}: out of export ids on this link")
            self._next_export += 1
            e = _Export(port, Route(self, F.TARGET_EXPORT, eid))
            self._exports[eid] = self._export_of[port] = e
            port.add_remote(e.ref)
            if port.receiver_gone:
                ref = e.ref
                after.append(lambda: self.send_dropped(ref, port.gone_reason))
        after.append(port.release_sender)
        return [F.CAP_SENDER_HOSTED, e.ref.id]

    def release_route(self, route: Route, lost_reason: Optional[str] = None) -> None:
        """Our last user of a route is gone: RELEASE the import, or FINISH the outbound forwarder."""
        if route.kind == F.TARGET_EXPORT:
            imp = self._imports.pop(route.id, None)
            if imp is not None and self._state != _CLOSED:
                self._control(F.RELEASE, [route.id, imp.count] + ([lost_reason] if lost_reason else []))
        elif self._outbound.pop(route.id, None) is not None and self._state != _CLOSED:
            self._control(F.FINISH, [route.id] + ([lost_reason] if lost_reason else []))

    def send_disembargo(self, route: Route, token: int) -> None:
        if self._state != _CLOSED:
            self._control(F.DISEMBARGO, [route.kind, route.id, token])

    def send_dropped(self, ref: Route, lost_reason: Optional[str]) -> None:
        if self._state != _CLOSED:
            self._control(F.DROPPED, [ref.kind, ref.id, lost_reason])

    def _control(self, kind: int, body: Any) -> None:
        self._queue(F.control(kind, body))

    def _ping(self) -> None:
        if self._state == _OPEN:
            self._queue(F.control(F.PING))

    def _queue(self, *parts: bytes) -> None:
        self._heartbeat._spoke = True  # Heartbeat.said(), inline: once per frame
        if not self._flush_scheduled and not self._wrote_through and not self._batch and not self._loop.is_closed():
            # The first frame since the peer's last data (or since the last batch went out) is
            # written now: a round trip does not wait for the loop to turn. The frames after it
            # gather until the loop turns (_flush), which makes the next one first again.
            self._wrote_through = True
            self._wire.write(parts)
            return self._check_unsent()
        self._batch.extend(parts)
        self._batch_frames += 1
        for p in parts:
            self._batch_bytes += len(p)
        if self._batch_frames >= _FLUSH_AT:
            self._flush(False)
        elif not self._flush_scheduled and not self._loop.is_closed():
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self, turn_ended: bool = True) -> None:
        if turn_ended:
            self._flush_scheduled = self._wrote_through = False
        if self._batch:
            batch, self._batch = self._batch, []
            self._batch_frames = self._batch_bytes = 0
            self._wire.write(batch)
        self._check_unsent()

    def _check_unsent(self) -> None:
        if self._state != _CLOSED:
            unsent = self._wire.buffered_bytes()
            if unsent > self.limits.max_unsent_bytes:
                self.fail(LimitExceededError(
                    f"{self.name}: {unsent} bytes wait for the peer to read them, over max_unsent_bytes "
                    f"({self.limits.max_unsent_bytes}); is it stopped?"), drop_unsent=True)

    @property
    def unsent_bytes(self) -> int:
        """Bytes sent on this link that have not reached the transport (queued here, or in the wire)."""
        return self._batch_bytes + self._wire.buffered_bytes()

    async def drained(self) -> None:
        """Return once everything sent so far has reached the transport (a socket: the kernel)."""
        self._flush()
        if self._state != _CLOSED:
            await self._wire.drained()

    def at_exit(self, crash: Optional[str], deadline: float) -> None:
        """The process is exiting: write what is queued and a GOODBYE now (see at_exit.py)."""
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        if crash is not None:
            self._control(F.GOODBYE, [crash, F.EXITED])
        elif self._goodbye_at_exit:
            self._control(F.GOODBYE, ["exited"])
        self._flush()
        self._wire.flush_sync(deadline)

    # ------------------------------------------------------------------------------ receiving

    def _on_data(self, chunk: bytes) -> None:
        if self._state == _CLOSED or self._ending:
            return
        self._wrote_through = False  # what we send in answer goes out at once (_queue)
        self._heartbeat.heard()
        try:
            self._decoder.push(chunk)
        except (ProtocolError, LimitExceededError) as e:
            self.fail(self._named(e))
        except Exception as e:  # noqa: BLE001 - whatever went wrong, only this link closes
            self.fail(ProtocolError(f"{self.name}: failed to handle the peer's frame: {type(e).__name__}: {e}", e))

    def _named(self, e: Exception) -> Exception:
        """The framing layer's errors do not know which link they are about: say it."""
        if isinstance(e, (ProtocolError, LimitExceededError)) and not e.message.startswith(f"{self.name}:"):
            return type(e)(f"{self.name}: {e.message}", e.cause if e.has_cause else UNSET)
        return e

    def _on_frame(self, buf: bytes, start: int, end: int) -> None:  # noqa: C901 - the one dispatch on frame kinds
        kind = buf[start]
        if kind == F.MSG and self._state == _OPEN and not self._ending:
            # The common frame, in short: a MSG without caps for an export whose receiver lives here
            # (else _on_msg, which checks and says what is wrong).
            if end - start >= F.MSG_HEADER:
                tk, tid, caps_len = _msg_header_unpack(buf, start + 1)
                if not caps_len and not tk:
                    e = self._exports.get(tid)
                    if e is not None:
                        port = e.port
                        if port.route is None and not port.receiver_gone:
                            p = start + F.MSG_HEADER
                            return port.push(Entry(decode(buf, _no_handles, p, end), None, end - p, self))
            return self._on_msg(buf, start, end)
        if self._state == _CLOSED or self._ending:
            return
        if self._state == _HANDSHAKE:
            if kind != F.HELLO:
                raise ProtocolError(f"{self.name}: expected a handshake, got frame kind {kind} (is the peer speaking ipfi?)")
            return self._on_hello(buf, start, end)
        if kind == F.RELEASE:
            (eid, count), lost = F.read_ids_and_reason(buf, start, end, 2, "RELEASE")
            e = self._exports.get(eid)
            if e is None or count < 1 or count > e.count:
                raise ProtocolError(f"{self.name}: RELEASE of {count} for export {eid}, which is not held that often")
            e.count -= count
            if e.count == 0:
                del self._exports[eid]
                del self._export_of[e.port]
                e.port.remove_remote(e.ref, UNSET if lost is None else lost)
        elif kind == F.DROPPED:
            tk, tid, reason = F.read_dropped(buf, start, end)
            port = (self._imports[tid].port if tid in self._imports else None) if tk == F.TARGET_EXPORT else self._outbound.get(tid)
            if port is not None:  # an unknown id is fine: we may have released it meanwhile
                port.route_gone(reason)
        elif kind == F.FINISH:
            (iid,), lost = F.read_ids_and_reason(buf, start, end, 1, "FINISH")
            entry = self._inbound.pop(iid, None)
            if entry is None:
                raise ProtocolError(f"{self.name}: FINISH for unknown inbound {iid}")
            entry[0].remove_remote(entry[1], UNSET if lost is None else lost)
        elif kind == F.DISEMBARGO:
            tk, tid, token = F.read_ids(buf, start, end, 3, "DISEMBARGO")
            target = self._target(tk, tid)
            if target is None:
                raise ProtocolError(f"{self.name}: DISEMBARGO to unknown target {tk}/{tid}")
            target.accept_disembargo(token)
        elif kind == F.GOODBYE:
            reason, failure = F.read_goodbye(buf, start, end)
            if failure is None:
                said = f": {reason}" if reason else ""
                self._teardown(DisconnectedError(f"{self.name}: the peer closed the link{said}"), orderly=True)
            else:
                self._peer_gone(ConnectionLostError(f"{self.name}: the peer closed the link because it failed: {failure}"), failure)
        elif kind == F.PING:
            pass  # its arrival was the point
        elif kind == F.HELLO:
            raise ProtocolError(f"{self.name}: a second handshake")
        else:
            raise ProtocolError(f"{self.name}: unknown frame kind {kind}")

    def _target(self, kind: int, tid: int) -> Optional[Port]:
        if kind == F.TARGET_EXPORT:
            e = self._exports.get(tid)
            return e.port if e is not None else None
        if kind == F.TARGET_INBOUND:
            i = self._inbound.get(tid)
            return i[0] if i is not None else None
        return None

    def _on_hello(self, buf: bytes, start: int, end: int) -> None:
        peer = F.read_hello(buf, start, end)
        if peer["maxFrameBytes"] is not None:
            self._peer_max_frame = peer["maxFrameBytes"]
        if peer["maxHandlesPerMessage"] is not None:
            self._peer_max_handles = peer["maxHandlesPerMessage"]
        self._state = _OPEN
        self._heartbeat.start(peer["heartbeatMs"])
        self._decoder.max_frame = self.limits.max_frame_bytes
        self._cancel_handshake_timer()
        if not self.ready.done():
            self.ready.set_result(None)

    def _on_msg(self, buf: bytes, start: int, end: int) -> None:
        if end - start < F.MSG_HEADER:
            raise ProtocolError(f"{self.name}: truncated MSG frame")
        tk, tid, caps_len = F.msg_header_unpack(buf, start + 1)
        caps_start = start + F.MSG_HEADER
        if caps_len > end - caps_start:
            raise ProtocolError(f"{self.name}: MSG caps run past the frame")
        port = self._target(tk, tid)
        if port is None:
            if tk not in (F.TARGET_EXPORT, F.TARGET_INBOUND):
                raise ProtocolError(f"{self.name}: MSG with unknown target kind {tk}")
            raise ProtocolError(f"{self.name}: MSG to unknown {'inbound' if tk == F.TARGET_INBOUND else 'export'} {tid}")
        if not caps_len and port.route is None and not port.receiver_gone:
            # The common case, in short: no caps, for a receiver that lives here (Port.accept, _decode_entry).
            return port.push(Entry(decode(buf, _no_handles, caps_start, end), None, end - caps_start, self))
        caps = self._materialize(decode(buf, None, caps_start, caps_start + caps_len)) if caps_len else []
        port.accept(buf, caps_start + caps_len, end, caps, self._decode_entry)

    def _materialize(self, descs: Any) -> List[Cap]:
        """Turn the peer's capability descriptors into caps that own their references."""
        if type(descs) is not list:
            raise ProtocolError(f"{self.name}: malformed caps (not an array)")
        if len(descs) > self.limits.max_handles_per_message:
            raise LimitExceededError(f"{self.name}: message holds {len(descs)} handles, over the limit of {self.limits.max_handles_per_message}")
        caps: List[Cap] = []
        try:
            for d in descs:
                caps.append(self._materialize_one(d))
        except BaseException:
            drop_caps(caps)
            raise
        return caps

    def _materialize_one(self, d: Any) -> Cap:
        if (type(d) is not list or len(d) < 2 or len(d) % 2 or not all(F.is_id(x) for x in d)
                or (len(d) > 2 and d[0] != F.CAP_RECEIVER)):
            raise ProtocolError(f"{self.name}: malformed capability {d!r}"[:200])
        d = F.ids(d)
        tag, cid = d[0], d[1]
        if tag == F.CAP_SENDER_HOSTED:
            imp = self._imports.get(cid)
            if imp is not None:
                imp.count += 1
            else:
                self._check_table()
                imp = self._imports[cid] = _Import(Port(Route(self, F.TARGET_EXPORT, cid)))
            imp.port.add_sender()
            return Cap("sender", imp.port)
        if tag == F.CAP_SENDER_YOUR_EXPORT or tag == F.CAP_SENDER_YOUR_INBOUND:
            port = self._target(F.TARGET_EXPORT if tag == F.CAP_SENDER_YOUR_EXPORT else F.TARGET_INBOUND, cid)
            if port is None:
                table = "export" if tag == F.CAP_SENDER_YOUR_EXPORT else "inbound"
                raise ProtocolError(f"{self.name}: capability names unknown {table} {cid}")
            port.add_sender()
            return Cap("sender", port)
        if tag == F.CAP_RECEIVER:
            if cid in self._inbound:
                raise ProtocolError(f"{self.name}: receiver moved in as inbound {cid}, which is taken")
            self._check_table()
            port = Port()
            ref = Route(self, F.TARGET_INBOUND, cid)
            self._inbound[cid] = (port, ref)
            port.add_remote(ref)
            # Hints (routes of ours that lead to this receiver) are ignored: PROTOCOL §1.3 allows it.
            return Cap("receiver", port)
        raise ProtocolError(f"{self.name}: unknown capability kind {tag}")

    def _check_table(self) -> None:
        if len(self._imports) + len(self._inbound) >= self.limits.max_imports:
            raise LimitExceededError(f"{self.name}: the peer holds more than {self.limits.max_imports} channels open on this link")

    def _decode_entry(self, buf: bytes, start: int, end: int, caps: List[Cap]) -> Entry:
        """Decode a message at its home, its caps made into handles (each used at most once)."""
        if not caps:
            return Entry(decode(buf, _no_handles, start, end), None, end - start, self)
        handles: List[Any] = []
        used = [False] * len(caps)

        def on_handle(i: int, tag: int) -> Any:
            if i >= len(caps) or used[i]:
                raise ProtocolError(f"{self.name}: handle reference {i} is out of range or used twice")
            h = wrap_cap(caps[i], tag)
            used[i] = True
            handles.append(h)
            return h

        try:
            value = decode(buf, on_handle, start, end)
        except BaseException:
            for h in handles:
                h.close()
            for c, u in zip(caps, used):
                if not u:
                    drop_cap(c)
            raise
        for c, u in zip(caps, used):
            if not u:
                drop_cap(c)  # caps the payload never referenced
        return Entry(value, handles or None, end - start, self)

    # Messages from the peer waiting unread here (Entry.account).
    def queued(self, n: int) -> None:
        self._queued_bytes += n
        if self._queued_bytes > self.limits.max_queued_bytes and self._state != _CLOSED:
            self.fail(LimitExceededError(
                f"{self.name}: the peer has {self._queued_bytes} bytes waiting unread in this process, "
                f"over max_queued_bytes ({self.limits.max_queued_bytes})"))

    def unqueued(self, n: int) -> None:
        self._queued_bytes -= n

    # -------------------------------------------------------------------------------- closing

    def _no_handshake(self) -> None:
        self._handshake_timer = None
        self.fail(ProtocolError(f"{self.name}: no handshake from the peer within {self.limits.handshake_timeout:g} s"))

    def _silent(self) -> None:
        self.fail(ConnectionLostError(f"{self.name}: nothing arrived from the peer for {self._heartbeat.idle_timeout:g} s"))

    def _cancel_handshake_timer(self) -> None:
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    def _on_end(self, error: Optional[BaseException]) -> None:
        if self._state == _CLOSED or self._ending:
            return
        if error is None and self._decoder.partial:
            error = ProtocolError(f"{self.name}: the stream ended in the middle of a frame")
        self._peer_gone(error, None)

    def _peer_gone(self, error: Optional[BaseException], failure: Optional[str]) -> None:
        """The peer is gone without an orderly goodbye: the owner, if any, says why and whether in order."""
        fallback: BaseException = error if error is not None else ConnectionLostError(f"{self.name}: the connection closed")
        if self._on_wire_end is None:
            return self.fail(fallback)
        self._ending = True
        ask = self._on_wire_end

        async def verdict() -> None:
            try:
                end = ask(error, failure)
                if asyncio.iscoroutine(end) or isinstance(end, asyncio.Future):
                    end = await end
            except Exception:  # noqa: BLE001 - an owner that cannot say: the fallback
                end = None
            if isinstance(end, PeerEnd) and end.orderly:
                self._teardown(end.cause, orderly=True)
            else:
                self.fail(end.cause if isinstance(end, PeerEnd) else fallback)

        self._loop.create_task(verdict())

    def fail(self, cause: Any, drop_unsent: bool = False) -> None:
        """Close because of an error: everything that crossed the link reports ConnectionLostError.
        A protocol or limit error is told to the peer (best effort) in a GOODBYE."""
        if self._state == _CLOSED:
            return
        if isinstance(cause, (ProtocolError, LimitExceededError)):
            self._batch, self._batch_frames, self._batch_bytes = [], 0, 0
            self._control(F.GOODBYE, [cause.message, cause.code])
        self._teardown(cause, orderly=False, drop_unsent=drop_unsent)

    def close(self, reason: Optional[str] = None) -> None:
        """Close in order: the peer is told, and the channels that crossed the link end as closed
        channels do (DisconnectedError), on both sides."""
        if self._state == _CLOSED:
            return
        self._control(F.GOODBYE, [reason])
        said = f": {reason}" if reason else ""
        self._teardown(DisconnectedError(f"{self.name}: the link was closed{said}"), orderly=True)

    def _teardown(self, cause: Any, orderly: bool, drop_unsent: bool = False) -> None:
        if self._state == _CLOSED:
            return
        was_open = self._state == _OPEN
        self._state = _CLOSED
        self.cause = cause
        self._cancel_handshake_timer()
        self._heartbeat.stop()
        at_exit.unwatch(self)
        if not was_open and not self.ready.done():
            self.ready.set_exception(cause if isinstance(cause, BaseException) else ConnectionLostError(
                f"{self.name}: {describe_cause(cause)}", cause))
        if drop_unsent:
            self._batch = []
            self._wire.abort()
        else:
            self._flush()
            self._wire.close()
        reason = describe_cause(cause)
        exports, inbound = list(self._exports.values()), list(self._inbound.values())
        imports, outbound = list(self._imports.values()), list(self._outbound.values())
        self._exports.clear()
        self._export_of.clear()
        self._inbound.clear()
        self._imports.clear()
        self._outbound.clear()
        lost, ended = (UNSET, cause) if orderly else (cause, UNSET)
        for imp in imports:
            imp.port.route_gone(None if orderly else reason, cause)
        for port in outbound:
            port.route_gone(None if orderly else reason, cause)
        for e in exports:
            e.port.remove_remote(e.ref, lost, ended)
        for port, ref in inbound:
            port.remove_remote(ref, lost, ended)
        if not self.closed.done():
            self.closed.set_result(cause)


def _no_handles(i: int, tag: int) -> Any:
    raise ProtocolError(f"handle reference {i} is out of range or used twice")


def _retrieve(f: "asyncio.Future[Any]") -> None:
    if not f.cancelled():
        f.exception()  # a link nobody awaited the readiness of: no "exception never retrieved"

