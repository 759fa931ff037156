"""Procedures (PROTOCOL §10): :func:`expose` serves an object's methods (or one function) behind a
sendable :class:`~ipfi.Endpoint`; :func:`remote` gives a proxy whose attributes call them, from this
process or any process the endpoint was sent to. Speaks the same session protocol as the
JavaScript ``expose()``/``remote()`` (src/procedures), so either side may be either language.

    endpoint = ipfi.expose({"add": lambda a, b: a + b})
    api = ipfi.remote(endpoint)
    print(await api.add(1, 2))                     # 3

Calls are messages on ordinary channels: a session is a call channel and a reply channel, opened by
sending ``{calls, reply}`` on the endpoint. Result streams are paced by credits and argument streams
by pulls (§10.3); a callable in a call's arguments is lent for that call as a callback (§10.5);
cancelling the awaiting task, a ``timeout``/``deadline`` or an :class:`AbortSignal` cancel a call
and the procedure sees it (:func:`current_call`). Nothing from the wire is evaluated: a name is only
ever looked up among the exposed object's public callables.
"""
from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import math
from collections import deque
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Union, cast

from .channel import _INTERNAL, Endpoint, Receiver, Sender, channel
from .codec import TAG_ENDPOINT, TAG_FUNCTION, Handle
from .errors import DisconnectedError, HandleError, IpfiError, LimitExceededError, ProtocolError, RemoteError, TimeoutError, UnsupportedValueError
from .handles import register_handle_factory, wrap_cap
from .port import Cap, Entry, Port
from .values import UNDEFINED, Map, NullProtoDict

__all__ = [
    "expose", "remote", "callback", "current_call", "CallContext", "AbortSignal", "AbortError", "ThrownValue",
    "Remote", "RemoteMethod", "RemoteCall", "ResultStream", "RemoteFunction", "Callback", "ProcedureLimits",
    "DEFAULT_PROCEDURE_LIMITS", "DEFAULT_WINDOW", "MAX_WINDOW",
]

# Caller -> callee, on the call channel.
CALL, CANCEL, CREDIT, ITEM, END, FAIL = 0, 1, 2, 3, 4, 5
# Callee -> caller, on the reply channel.
RESULT, ERROR, YIELD, DONE, PULL, STOP, CLOSE = 0, 1, 2, 3, 4, 5, 6

#: Most items a caller may let a producer run ahead by (a CALL's window is 1 to this).
MAX_WINDOW = 1 << 20
#: The window of result and argument streams unless a call says otherwise.
DEFAULT_WINDOW = 32
_MAX_SAFE = 2 ** 53 - 1
#: Functions nested deeper than this in a call's arguments are not looked for (the codec refuses it).
_MAX_WALK = 512


def _index(x: Any) -> Optional[int]:
    """A non-negative integer as JavaScript's ``isIndex`` sees it (a float like 3.0 too; never a
    bool, nor a BigInt, which is not a number in JavaScript); None otherwise."""
    t = type(x)
    if t is int:
        return x if 0 <= x <= _MAX_SAFE else None
    if t is float and math.isfinite(x) and x == int(x) and 0 <= x <= _MAX_SAFE:
        return int(x)
    return None


def _num(i: int) -> Union[int, float]:
    """An id or count as a JavaScript number: past 2**32 Python's codec writes an int as a BigInt
    (PROTOCOL §9.5), which is no index in JavaScript; a float64 holds it exactly up to 2**53."""
    return i if i < 0x1_0000_0000 else float(i)


# ------------------------------------------------------------------------------------ errors, signals

class AbortError(IpfiError):
    """A call was aborted: what an :class:`AbortSignal` aborted without a reason raises, and the
    reason a procedure's signal carries when its caller cancelled (JavaScript's ``AbortError``)."""

    code = "ABORT_ERR"


class ThrownValue(Exception):
    """A value thrown that is not an error. A procedure that raises ``ThrownValue(v)`` throws ``v``
    itself to its caller (a JavaScript caller catches ``v``), and a caller whose procedure threw a
    non-error (``throw 'just a string'`` in JavaScript) gets ``ThrownValue`` with it as ``value``."""

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return f"a procedure threw {self.value!r}"


class AbortSignal:
    """A signal that aborts what it is given to once :meth:`abort` is called: a call
    (``api.f.with_options(signal=s)``), or the procedures of an :func:`expose`. A procedure's own
    call context has one too (``current_call().signal``), aborted when its caller cancels."""

    __slots__ = ("aborted", "reason", "_listeners", "_event")

    def __init__(self) -> None:
        self.aborted = False
        self.reason: Any = None
        self._listeners: List[Callable[[Any], None]] = []
        self._event: Optional[asyncio.Event] = None

    def abort(self, reason: Any = None) -> None:
        """Abort (idempotent). ``reason``: what aborted calls raise (default ``AbortError``)."""
        if self.aborted:
            return
        self.aborted = True
        self.reason = reason if reason is not None else AbortError("the operation was aborted")
        listeners, self._listeners = self._listeners, []
        for f in listeners:
            f(self.reason)
        if self._event is not None:
            self._event.set()

    @property
    def event(self) -> asyncio.Event:
        """An ``asyncio.Event`` set once aborted."""
        if self._event is None:
            self._event = asyncio.Event()
            if self.aborted:
                self._event.set()
        return self._event

    async def wait(self) -> Any:
        """Wait until aborted; returns the reason."""
        await self.event.wait()
        return self.reason

    def add_listener(self, f: Callable[[Any], None]) -> None:
        """Call ``f(reason)`` when aborted (at once if it already is)."""
        if self.aborted:
            f(self.reason)
        else:
            self._listeners.append(f)

    def remove_listener(self, f: Callable[[Any], None]) -> None:
        try:
            self._listeners.remove(f)
        except ValueError:
            pass

    def __repr__(self) -> str:
        return f"<ipfi.AbortSignal {'aborted' if self.aborted else 'live'}>"


def _thrown(e: BaseException) -> Any:
    """What travels in ERROR or FAIL for an exception raised here."""
    return e.value if isinstance(e, ThrownValue) else e


def _from_remote(thrown: Any, label: str) -> BaseException:
    """What the caller raises for what a procedure threw (an error record arrives as a RemoteError,
    or as a registered class; any other value as ThrownValue)."""
    if isinstance(thrown, BaseException):
        if isinstance(thrown, RemoteError):
            thrown.procedure = label  # type: ignore[attr-defined]
        return thrown
    return ThrownValue(thrown)


def _close_handles(entry: Entry) -> None:
    if entry.handles:
        for h in entry.handles:
            try:
                h.close()
            except Exception:  # noqa: BLE001 - closing what is dropped never fails the caller
                pass


def _label(name: Optional[str]) -> str:
    return "callback" if name is None else json.dumps(name, ensure_ascii=False)


def _is_stream(x: Any) -> bool:
    """Streamed (a top-level argument, or a result): an async iterable that is not itself a handle."""
    return hasattr(type(x), "__aiter__") and not isinstance(x, Handle)


# ------------------------------------------------------------------------------------------- limits

@dataclass(frozen=True)
class ProcedureLimits:
    """What a callee allows its callers (each breach fails that one call with LimitExceededError)."""

    #: Most calls (streams included) running at once for callers over one link. Default 16,384.
    max_calls_in_flight: int = 16_384
    #: Most callbacks (functions) in one call's arguments. Default 64.
    max_callbacks_per_call: int = 64
    #: Largest encoded call (name and arguments), in bytes. Default 16 MiB.
    max_arg_bytes: int = 16 * 1024 * 1024


DEFAULT_PROCEDURE_LIMITS = ProcedureLimits()


def _resolve_limits(limits: Union[None, ProcedureLimits, Dict[str, Any]]) -> ProcedureLimits:
    if limits is None:
        return DEFAULT_PROCEDURE_LIMITS
    if isinstance(limits, ProcedureLimits):
        base = limits
    elif isinstance(limits, dict):
        base = replace(DEFAULT_PROCEDURE_LIMITS, **limits)
    else:
        raise TypeError(f"limits must be a ProcedureLimits or a dict, not {type(limits).__name__}")
    for f in fields(ProcedureLimits):
        v = getattr(base, f.name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 or math.isnan(v):
            raise ValueError(f"limit {f.name} must be a number >= 0, got {v!r}")
        if isinstance(v, float):
            base = replace(base, **{f.name: math.floor(v) if math.isfinite(v) else _MAX_SAFE})
    return base


# ------------------------------------------------------------------------------ reading a channel

async def _recv_entry(rx: Receiver[Any]) -> Entry:
    """The next message of ``rx`` with its handles and size (a cancelled receive loses nothing)."""
    port = rx._live()
    e = port.take()
    if e is not None:
        return e
    if port.disconnected:
        raise port.disconnected_error()
    fut = port.wait()
    try:
        return await fut
    except asyncio.CancelledError:
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            port.put_back(fut.result())
        raise
    finally:
        try:
            port.waiters.remove(fut)
        except ValueError:
            pass


#: Tasks nothing else holds (the event loop keeps only weak references to tasks).
_running: "Set[asyncio.Task[Any]]" = set()


def _spawn(coro: Any) -> None:
    t = asyncio.get_running_loop().create_task(coro)
    _running.add(t)
    t.add_done_callback(_running.discard)


def _take_entry(rx: Receiver[Any]) -> Optional[Entry]:
    port = rx._port
    return port.take() if port is not None else None


# ----------------------------------------------------------------------------------- call context

_current: "contextvars.ContextVar[Optional[CallContext]]" = contextvars.ContextVar("ipfi_current_call", default=None)


class CallContext:
    """What a running procedure knows about the call it serves (:func:`current_call`)."""

    __slots__ = ("name", "signal")

    def __init__(self, name: Optional[str], signal: AbortSignal) -> None:
        #: The procedure's name (None for a callback).
        self.name = name
        #: Aborted when the caller cancels (cancel, timeout, stopped reading) or goes away.
        self.signal = signal

    @property
    def cancelled(self) -> bool:
        """Whether the caller cancelled this call (or went away)."""
        return self.signal.aborted

    async def wait_cancelled(self) -> Any:
        """Wait until the call is cancelled; returns why."""
        return await self.signal.wait()


def current_call() -> Optional[CallContext]:
    """Inside a procedure (anywhere in its task, across awaits): the call it serves. None elsewhere."""
    return _current.get()


# =========================================================================================== callee

_OPEN, _DRAINING, _ENDED = 0, 1, 2
_END_MARK = object()
_LOCAL = object()


def _lookup(impl: Any, name: Any) -> Callable[..., Any]:
    """The procedure ``name`` may reach: a public callable of the exposed dict, object or class,
    never a name starting with ``_``, never running a property (looking a name up runs no code)."""
    if isinstance(name, str) and name and not name.startswith("_"):
        if isinstance(impl, dict):
            f = impl.get(name)
            if callable(f):
                return f  # type: ignore[no-any-return]
        else:
            own = getattr(impl, "__dict__", None)
            if isinstance(own, dict) and name in own:
                f = own[name]
                if callable(f) and not isinstance(f, type):
                    return f  # type: ignore[no-any-return]
            else:
                for klass in type(impl).__mro__:
                    if klass is object or klass is type:
                        break
                    d = klass.__dict__.get(name)
                    if d is None:
                        continue
                    if isinstance(d, (staticmethod, classmethod)) or inspect.isfunction(d):
                        return getattr(impl, name)  # type: ignore[no-any-return]
                    break
    shown = json.dumps(name[:100] + "..." if len(name) > 100 else name, ensure_ascii=False) if isinstance(name, str) else _js_typeof(name)
    e = TypeError(f"no procedure named {shown} is exposed")
    e.code = "ERR_IPFI_NO_SUCH_PROCEDURE"  # type: ignore[attr-defined]
    return _raiser(e)


def _raiser(e: BaseException) -> Callable[..., Any]:
    def f(*_: Any) -> Any:
        raise e
    f.refusal = e  # type: ignore[attr-defined]
    return f


def _js_typeof(v: Any) -> str:
    if v is None:
        return "object"
    if v is UNDEFINED:
        return "undefined"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return "object"


class _Callee:
    """Takes session openings from an endpoint's channel and serves a session for each."""

    def __init__(self, impl: Any, opens: Receiver[Any], limits: ProcedureLimits, cancel_tasks: bool) -> None:
        self.impl = impl
        self.opens = opens
        self.limits = limits
        self.cancel_tasks = cancel_tasks
        self.sessions: Set[_CalleeSession] = set()
        self.in_flight: Dict[Any, int] = {}
        self.stopped = False
        self.graceful = False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("ipfi.expose() and ipfi.callback() need a running asyncio event loop "
                               "(call them from async code)") from None
        self.task = loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                entry = await _recv_entry(self.opens)
            except (IpfiError, asyncio.CancelledError):
                return  # every endpoint is closed, or we stopped
            self._accept(entry)
            while not self.stopped:
                more = _take_entry(self.opens)
                if more is None:
                    break
                self._accept(more)
            if self.stopped:
                return

    def _accept(self, entry: Entry) -> None:
        v = entry.value
        calls = v.get("calls") if type(v) is dict else None
        reply = v.get("reply") if type(v) is dict else None
        if ((self.stopped and not self.graceful) or type(calls) is not Receiver or type(reply) is not Sender
                or not entry.handles or len(entry.handles) != 2):
            _close_handles(entry)  # not a session opening (nothing to answer it on), or withdrawn
            return
        route = reply._port.route if reply._port is not None else None
        s = _CalleeSession(self, calls, reply, route.link if route is not None else _LOCAL)
        self.sessions.add(s)
        s.task = asyncio.get_running_loop().create_task(s.run())
        if self.stopped:
            s.stop(True)

    def admit(self, key: Any) -> bool:
        n = self.in_flight.get(key, 0)
        if n >= self.limits.max_calls_in_flight:
            return False
        self.in_flight[key] = n + 1
        return True

    def release(self, key: Any) -> None:
        n = self.in_flight.get(key, 1) - 1
        if n <= 0:
            self.in_flight.pop(key, None)
        else:
            self.in_flight[key] = n

    def stop(self, graceful: bool) -> None:
        """Stop serving. ``graceful``: what had arrived still runs and is answered, later calls are
        refused with DisconnectedError. Otherwise running calls are aborted and callers' pending
        calls fail with DisconnectedError."""
        if self.stopped:
            return
        self.stopped = True
        self.graceful = graceful
        if graceful:
            while True:
                more = _take_entry(self.opens)
                if more is None:
                    break
                self._accept(more)
        self.opens.close()
        for s in list(self.sessions):
            s.stop(graceful)


class _CalleeSession:
    def __init__(self, callee: _Callee, calls: Receiver[Any], reply: Sender[Any], link_key: Any) -> None:
        self.callee = callee
        self.calls = calls
        self.reply = reply
        self.link_key = link_key
        self.active: Dict[Union[int, float], _CalleeCall] = {}
        self.state = _OPEN
        self.reply_closed = False
        self.task: Optional["asyncio.Task[None]"] = None
        self._fut: "Optional[asyncio.Future[Entry]]" = None
        self._drain_cancel = False

    async def run(self) -> None:
        port = self.calls._port
        assert port is not None
        while True:
            early = self.state == _OPEN
            entry = port.take() if not self.reply_closed else None
            if entry is None:
                if self.reply_closed or self.state == _ENDED:
                    return
                if port.disconnected:
                    self._gone(port.disconnected_error())
                    return
                fut = self._fut = port.wait()
                try:
                    entry = await fut
                except asyncio.CancelledError:
                    if self._drain_cancel and fut.cancelled():
                        self._drain_cancel = False
                        self._maybe_close()  # stopped while nothing was on its way: read on, refusing new calls
                        continue
                    if fut.done() and not fut.cancelled() and fut.exception() is None:
                        port.put_back(fut.result())
                    raise
                except IpfiError as e:
                    self._gone(e)
                    return
                finally:
                    self._fut = None
                    try:
                        port.waiters.remove(fut)
                    except ValueError:
                        pass
            if self.state == _ENDED or self.reply_closed:
                _close_handles(entry)
                return
            try:
                self._handle(entry, not early)
            except Exception as e:  # noqa: BLE001 - a message this side cannot handle ends the session, loudly
                _close_handles(entry)
                self._end(ProtocolError(f"the callee could not handle a session message: {e}"), True)
            if self.state == _ENDED:
                return
            self._maybe_close()

    def _gone(self, e: BaseException) -> None:
        """The caller closed its session or its link died: abort what it was waiting for."""
        if not self.reply_closed:
            self._end(e if isinstance(e, DisconnectedError) else DisconnectedError("the caller went away"), False)

    def stop(self, graceful: bool) -> None:
        if self.state != _OPEN:
            return
        if not graceful:
            return self._end(DisconnectedError("the procedures were withdrawn"), False)
        while self.state == _OPEN:  # what is queued arrived before the stop: it is served
            more = _take_entry(self.calls)
            if more is None:
                break
            self._handle(more, False)
        if self.state != _OPEN:
            return
        self.state = _DRAINING
        fut = self._fut
        if fut is not None and not fut.done():
            self._drain_cancel = True
            fut.cancel()
        self._maybe_close()

    def send(self, msg: List[Any]) -> bool:
        """Send a reply; False if the caller is gone. Raises if the value cannot travel."""
        if self.reply_closed:
            return False
        try:
            self.reply.send(msg)
            return True
        except DisconnectedError as e:
            self._end(e, False)
            return False

    def call_done(self, call: "_CalleeCall") -> None:
        if self.active.get(call.id) is call:
            del self.active[call.id]
        self.callee.release(self.link_key)
        self._maybe_close()

    def _maybe_close(self) -> None:
        if self.state != _DRAINING or self.active:
            return
        fut = self._fut
        if fut is not None and fut.done() and not fut.cancelled():
            return  # a message that arrived before the stop is on its way to run()
        self._close()

    def _close(self) -> None:
        if self.reply_closed:
            return
        self.reply_closed = True
        self.calls.close()
        self.reply.close()
        self.callee.sessions.discard(self)

    def _end(self, reason: BaseException, tell: bool) -> None:
        if self.state == _ENDED:
            return
        self.state = _ENDED
        if tell:
            try:
                self.send([CLOSE, reason])
            except Exception:  # noqa: BLE001 - best effort
                pass
        for c in list(self.active.values()):
            c.cancel(reason)
        self._close()

    def _protocol_error(self, message: str, entry: Entry) -> None:
        _close_handles(entry)
        self._end(ProtocolError(message), True)

    def _handle(self, entry: Entry, late: bool) -> None:
        msg = entry.value
        cid = _index(msg[1]) if type(msg) is list and len(msg) > 1 else None
        if cid is None:
            return self._protocol_error("malformed call message", entry)
        kind = _index(msg[0])
        if kind is None:
            return self._protocol_error("unknown call message", entry)
        if kind == CALL:
            return self._call(msg, cid, entry, late)
        if kind == CANCEL:
            call = self.active.pop(cid, None)
            if call is not None:
                call.cancel(None)  # the id is free again at once, though the procedure may still unwind
                self._maybe_close()
            return _close_handles(entry)
        if kind == CREDIT:
            n = _index(msg[2]) if len(msg) > 2 else None
            if n is None:
                return self._protocol_error("malformed credit", entry)
            call = self.active.get(cid)
            if call is not None:
                call.add_credit(n)
            return _close_handles(entry)
        if kind in (ITEM, END, FAIL):
            arg = _index(msg[2]) if len(msg) > 2 else None
            if arg is None:
                return self._protocol_error("malformed stream message", entry)
            call = self.active.get(cid)
            if call is None:
                return _close_handles(entry)  # the call ended: items still in flight are dropped
            err = call.arg_message(kind, arg, msg[3] if len(msg) > 3 else UNDEFINED, entry)
            if err is not None:
                self._protocol_error(err, entry)
            return
        return self._protocol_error("unknown call message", entry)

    def _call(self, msg: List[Any], cid: int, entry: Entry, late: bool) -> None:
        if len(msg) != 6:
            return self._protocol_error("malformed call", entry)
        _, _, name, args, window, streams = msg
        w = _index(window)
        if ((name is not None and type(name) is not str) or type(args) is not list or w is None or w < 1
                or w > MAX_WINDOW or type(streams) is not list):
            return self._protocol_error("malformed call", entry)
        positions: Dict[int, None] = {}  # in order, and each checked once (a long list costs linear time)
        for a in streams:
            i = _index(a)
            if i is None or i >= len(args) or args[i] is not None or i in positions:
                return self._protocol_error("malformed call: bad stream argument list", entry)
            positions[i] = None
        if cid in self.active:
            return self._protocol_error(f"call id {cid} is already in use", entry)
        if self.state == _ENDED:
            return _close_handles(entry)
        if late:
            _close_handles(entry)
            self.send([ERROR, _num(cid), DisconnectedError("these procedures are no longer served")])
            return
        limits = self.callee.limits
        refusal: Optional[str] = None
        if entry.nbytes > limits.max_arg_bytes:
            refusal = f"the call's arguments take {entry.nbytes} bytes, more than max_arg_bytes ({limits.max_arg_bytes})"
        else:
            n = sum(1 for h in entry.handles or () if isinstance(h, RemoteFunction))
            if n > limits.max_callbacks_per_call:
                refusal = f"the call passes {n} callbacks, more than max_callbacks_per_call ({limits.max_callbacks_per_call})"
        if refusal is None and not self.callee.admit(self.link_key):
            refusal = f"more than max_calls_in_flight ({limits.max_calls_in_flight}) calls are running for this link"
        if refusal is not None:
            _close_handles(entry)
            self.send([ERROR, _num(cid), LimitExceededError(refusal)])
            return
        call = _CalleeCall(self, cid, name, w)
        self.active[cid] = call
        impl = self.callee.impl
        fn = impl if name is None and callable(impl) and not isinstance(impl, dict) else _lookup(impl, name)
        refused = getattr(fn, "refusal", None)
        if isinstance(refused, BaseException):
            _close_handles(entry)
            call.finish([ERROR, call.id, refused])
            return
        for i in positions:
            args[i] = call.arg_stream(i)
        call.start(fn, args)


def _cancel_task(t: "asyncio.Task[Any]") -> None:
    if not t.done():
        t.cancel()


class _CalleeCall:
    __slots__ = ("session", "id", "name", "window", "credit", "_credit_fut", "args", "cancelled", "done",
                 "signal", "task", "context")

    def __init__(self, session: _CalleeSession, cid: int, name: Optional[str], window: int) -> None:
        self.session = session
        self.id = _num(cid)  # equal to cid (and hashes alike): a dict key either way
        self.name = name
        self.window = window
        self.credit = window
        self._credit_fut: "Optional[asyncio.Future[None]]" = None
        self.args: Optional[Dict[int, _ArgStream]] = None
        self.cancelled = False
        self.done = False
        self.signal = AbortSignal()
        self.task: "Optional[asyncio.Task[None]]" = None
        self.context = CallContext(name, self.signal)

    def start(self, fn: Callable[..., Any], args: List[Any]) -> None:
        """Run the procedure as its call, at once (as JavaScript does, up to its first await): a
        plain function's result is answered without a task; an awaitable or a stream goes on in one."""
        token = _current.set(self.context)
        try:
            result = fn(*args)
        except Exception as e:  # noqa: BLE001 - what the procedure raised goes to its caller
            return self.finish([ERROR, self.id, _thrown(e)])
        finally:
            _current.reset(token)
        if not inspect.isawaitable(result) and not _is_stream(result):
            return self.finish([RESULT, self.id, result])
        task = self.task = asyncio.get_running_loop().create_task(self.run(result))
        task.add_done_callback(lambda _: self._ran(result))

    def _ran(self, result: Any) -> None:
        # A call cancelled before its task ran never entered run(): it still leaves (counted out),
        # and the procedure's coroutine, never started, is closed (no "never awaited" warning).
        if inspect.iscoroutine(result) and inspect.getcoroutinestate(result) == inspect.CORO_CREATED:
            result.close()
        self.finish(None)

    async def run(self, result: Any) -> None:
        _current.set(self.context)
        out: Optional[List[Any]]
        try:
            if inspect.isawaitable(result):
                result = await result
            out = await self._pump(result) if _is_stream(result) else [RESULT, self.id, result]
        except asyncio.CancelledError:
            if not self.cancelled:
                self.finish(None)
                raise  # not ours: the loop is shutting down
            out = None
        except Exception as e:  # noqa: BLE001 - what the procedure raised goes to its caller
            out = [ERROR, self.id, _thrown(e)]
        self.finish(out)

    def finish(self, out: Optional[List[Any]]) -> None:
        """Send the final answer (unless the caller cancelled), stop argument streams, and leave."""
        if self.done:
            return
        if self.args:
            for s in self.args.values():
                s.stop_from_here()
        self.done = True
        if not self.cancelled and out is not None:
            try:
                self.session.send(out)
            except Exception as e:  # noqa: BLE001 - the result (or what was raised) cannot travel: say so
                try:
                    self.session.send([ERROR, self.id, e])
                except Exception:  # noqa: BLE001
                    what = "error" if out[0] == ERROR else "result"
                    self.session.send([ERROR, self.id, UnsupportedValueError(f"the {what} could not be sent")])
        self.session.call_done(self)

    async def _pump(self, source: Any) -> List[Any]:
        """Drive a result stream: the credit starts at ``window``, each YIELD spends one and each
        CREDIT n adds n (exactly what the caller counts)."""
        it = source.__aiter__()
        finished = False
        try:
            while True:
                if self.cancelled:
                    return [DONE, self.id]
                if self.credit <= 0:
                    fut = self._credit_fut = asyncio.get_running_loop().create_future()
                    await fut
                    continue
                try:
                    v = await it.__anext__()
                except StopAsyncIteration:
                    finished = True
                    return [DONE, self.id]
                except Exception:
                    finished = True
                    raise
                if self.cancelled:
                    return [DONE, self.id]
                self.credit -= 1
                if not self._try_send([YIELD, self.id, v]):
                    return [DONE, self.id]
        finally:
            if not finished:
                aclose = getattr(it, "aclose", None)
                if aclose is not None:
                    try:
                        await aclose()
                    except Exception:  # noqa: BLE001 - the producer's own cleanup failed; nobody to tell
                        pass

    def _try_send(self, msg: List[Any]) -> bool:
        try:
            return self.session.send(msg)
        except Exception as e:  # noqa: BLE001 - an item that cannot travel ends the stream with that error
            self.session.send([ERROR, self.id, e])
            self.cancelled = True  # the answer is sent
            return False

    def add_credit(self, n: int) -> None:
        self.credit = min(self.credit + n, _MAX_SAFE)
        self._wake()

    def _wake(self) -> None:
        f, self._credit_fut = self._credit_fut, None
        if f is not None and not f.done():
            f.set_result(None)

    def cancel(self, reason: Optional[BaseException]) -> None:
        """The caller cancelled (reason None), or the session ends (reason given)."""
        if self.cancelled or self.done:
            return
        self.cancelled = True
        why = reason if reason is not None else AbortError("the caller cancelled the call")
        self.signal.abort(why)
        self._wake()
        if self.args:
            for s in self.args.values():
                s.abort(why)
        t = self.task
        if self.session.callee.cancel_tasks and t is not None and not t.done():
            # Next turn: a task that has not run yet starts first (FIFO), so the procedure runs and
            # sees its signal aborted, as a JavaScript callee's does (it was never called at all).
            asyncio.get_running_loop().call_soon(_cancel_task, t)

    def arg_stream(self, index: int) -> "_ArgStream":
        s = _ArgStream(self, index)
        if self.args is None:
            self.args = {}
        self.args[index] = s
        return s

    def arg_message(self, op: int, index: int, value: Any, entry: Entry) -> Optional[str]:
        s = self.args.get(index) if self.args is not None else None
        if s is None:
            return f"no streamed argument {index} in call {self.id}"
        return s.receive(op, value, entry)

    def send(self, msg: List[Any]) -> None:
        if not self.done and not self.cancelled:
            self.session.send(msg)


class _ArgStream:
    """A streamed argument as the procedure reads it (``async for x in arg``): pulled from the
    caller, ``window`` items at a time."""

    def __init__(self, call: _CalleeCall, index: int) -> None:
        self.call = call
        self.index = index
        self.queue: Deque[Any] = deque()
        self.owed = 0
        self.ended = False
        self.error: Optional[BaseException] = None
        self.waiter: "Optional[asyncio.Future[Any]]" = None

    def __aiter__(self) -> "_ArgStream":
        return self

    async def __anext__(self) -> Any:
        if self.queue:
            v = self.queue.popleft()
            self._refill()
            return v
        if self.error is not None:
            raise self.error
        if self.ended:
            raise StopAsyncIteration
        if self.waiter is not None:
            raise TypeError("a streamed argument is read one item at a time")
        self._refill()
        w = self.waiter = asyncio.get_running_loop().create_future()
        try:
            v = await w
        finally:
            self.waiter = None
        if v is _END_MARK:
            if self.error is not None:
                raise self.error
            raise StopAsyncIteration
        return v

    async def aclose(self) -> None:
        """Stop reading: the caller is told to stop producing (STOP)."""
        self.stop_from_here()

    def _refill(self) -> None:
        if self.ended:
            return
        w = self.call.window
        have = self.owed + len(self.queue)
        if have * 2 > w:
            return
        n = w - have
        self.owed += n
        self.call.send([PULL, self.call.id, self.index, n])

    def stop_from_here(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.queue.clear()
        self.call.send([STOP, self.call.id, self.index])
        self._settle()

    def abort(self, reason: BaseException) -> None:
        if self.ended:
            return
        self.ended = True
        self.error = reason
        self._settle()

    def receive(self, op: int, value: Any, entry: Entry) -> Optional[str]:
        if self.ended:
            _close_handles(entry)  # stopped here; what was in flight is dropped
            return None
        if op == ITEM:
            if self.owed <= 0:
                return f"streamed argument {self.index} sent an item that was not asked for"
            self.owed -= 1
            w = self.waiter
            if w is not None and not w.done():
                w.set_result(value)
                self.waiter = None
                self._refill()
            else:
                self.queue.append(value)
        else:
            self.ended = True
            if op == FAIL:
                self.error = _from_remote(value, "argument stream")
            if not self.queue:
                self._settle()
        return None

    def _settle(self) -> None:
        w = self.waiter
        if w is None or self.queue or w.done():
            return
        self.waiter = None
        w.set_result(_END_MARK)


# ======================================================================================= endpoints

def expose(impl: Any, *, signal: Optional[AbortSignal] = None,
           limits: Union[None, ProcedureLimits, Dict[str, Any]] = None, cancel_tasks: bool = True) -> Endpoint:
    """Serve ``impl``'s procedures to whoever holds the returned endpoint (it travels in messages
    like a Sender; tag 0x04). ``impl`` is a dict of callables, an object (its public methods and
    callable attributes: never a name starting with ``_``, never a property) or one callable (served
    as a callback: called with name None). Procedures may be plain functions, coroutine functions
    (awaited) or async generator functions (a result stream, paced by credits).

    Served until every copy of the endpoint is closed, or ``signal`` aborts (running calls are then
    aborted and callers' pending and later calls fail with DisconnectedError). ``limits``: a
    :class:`ProcedureLimits` or a dict of its fields. ``cancel_tasks``: when a caller cancels, the
    procedure's task is cancelled too (it sees ``CancelledError`` at its next await, after its
    ``current_call().signal`` aborted); with False only the signal tells it."""
    if impl is None or isinstance(impl, (str, bytes, int, float, list, tuple)):
        raise TypeError("expose() takes a dict, an object or a function")
    if signal is not None and not isinstance(signal, AbortSignal):
        raise TypeError("signal must be an ipfi.AbortSignal")
    if not isinstance(cancel_tasks, bool):
        raise TypeError(f"cancel_tasks must be a bool, got {type(cancel_tasks).__name__}")
    resolved = _resolve_limits(limits)
    tx, rx = channel()
    callee = _Callee(impl, rx, resolved, cancel_tasks)
    ep = Endpoint(tx._take("became an endpoint"), _INTERNAL)
    if signal is not None:
        signal.add_listener(lambda _: callee.stop(False))
    return ep


def _serve_function(fn: Callable[..., Any]) -> "tuple[Endpoint, Callable[[], None]]":
    """Serve one function behind a fresh endpoint; the returned stop ends it gracefully."""
    tx, rx = channel()
    callee = _Callee(fn, rx, DEFAULT_PROCEDURE_LIMITS, True)
    ep = Endpoint(tx._take("became an endpoint"), _INTERNAL)

    def stop() -> None:
        ep.close()
        callee.stop(True)
    return ep, stop


class _LentFunction(Handle):
    """A function lent for one call: it moves into the call message and is revoked when the call settles."""

    __slots__ = ("_endpoint", "revoke")
    _ipfi_kind = "sender"
    _ipfi_tag = TAG_FUNCTION

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._endpoint, self.revoke = _serve_function(fn)

    def _ipfi_check(self) -> Port:
        return self._endpoint._ipfi_check()

    def _ipfi_detach(self) -> Cap:
        return self._endpoint._ipfi_detach()

    def close(self) -> None:
        self.revoke()


class Callback(Handle):
    """A long-lived callback (:func:`callback`): callable here, and sendable any number of times (in
    calls or messages), each time as a new reference; it works until :meth:`close`."""

    __slots__ = ("_fn", "_endpoint", "_stop", "__weakref__")
    _ipfi_kind = "sender"
    _ipfi_tag = TAG_FUNCTION

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._endpoint, self._stop = _serve_function(fn)

    def __call__(self, *args: Any) -> Any:
        return self._fn(*args)

    def close(self) -> None:
        """Stop serving: calls made from elsewhere after this fail with DisconnectedError."""
        self._stop()

    def __enter__(self) -> "Callback":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _ipfi_check(self) -> Port:
        return self._endpoint._ipfi_check()

    def _ipfi_detach(self) -> Cap:
        return self._endpoint.clone()._ipfi_detach()

    def __repr__(self) -> str:
        return f"<ipfi.Callback of {self._fn!r}>"


def callback(fn: Callable[..., Any]) -> Callback:
    """Make ``fn`` a long-lived callback: passed in a call's arguments (or sent in a message) it
    arrives as a function that calls ``fn`` here, and stays callable after the call settles, until
    ``close()``."""
    if not callable(fn) or isinstance(fn, Handle):
        raise TypeError("callback() takes a function")
    return Callback(fn)


# =========================================================================================== caller

class _Settings:
    __slots__ = ("timeout", "deadline", "signal", "window")

    def __init__(self, timeout: Optional[float], deadline: Optional[float], signal: Optional[AbortSignal], window: int) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self.signal = signal
        self.window = window


def _check_options(timeout: Any, deadline: Any, signal: Any, window: Any) -> None:
    if window is not None and (type(window) is not int or not 1 <= window <= MAX_WINDOW):
        raise ValueError(f"window must be an integer from 1 to {MAX_WINDOW}, got {window!r}")
    if signal is not None and not isinstance(signal, AbortSignal):
        raise TypeError("signal must be an ipfi.AbortSignal")
    for what, v in (("timeout", timeout), ("deadline", deadline)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or (what == "timeout" and v < 0)):
            raise ValueError(f"{what} must be a number of seconds{' >= 0' if what == 'timeout' else ''}, got {v!r}")


class _CallerCall:
    def __init__(self, session: "_CallerSession", cid: int, name: Optional[str], settings: _Settings) -> None:
        self.session = session
        self.id = cid
        self.name = name
        self.settings = settings
        self.fut: "asyncio.Future[Any]" = asyncio.get_running_loop().create_future()
        self.fut.add_done_callback(_retrieve)
        self.stream: Optional[ResultStream] = None
        self.finished = False
        self.timer: Optional[asyncio.TimerHandle] = None
        self.on_abort: Optional[Callable[[Any], None]] = None
        self.lent: Optional[List[_LentFunction]] = None
        self.pumps: Optional[Dict[int, _ArgPump]] = None

    @property
    def label(self) -> str:
        return _label(self.name)

    def arm(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        when: Optional[float] = None
        if s.timeout is not None and math.isfinite(s.timeout):
            when = loop.time() + s.timeout
        if s.deadline is not None and math.isfinite(s.deadline):
            when = s.deadline if when is None else min(when, s.deadline)
        if when is not None:
            what = f"{s.timeout:g} s" if s.timeout is not None else "its deadline"
            self.timer = loop.call_at(when, lambda: self.cancel(TimeoutError(f"call to {self.label} timed out after {what}")))
        if s.signal is not None:
            self.on_abort = lambda reason: self.cancel(reason)
            s.signal.add_listener(self.on_abort)

    def on_reply(self, msg: List[Any]) -> None:
        kind = msg[0]
        value = msg[2] if len(msg) > 2 else UNDEFINED
        if kind == RESULT:
            if self.stream is not None:
                self.stream.fail(ProtocolError(f"the procedure {self.label} answered with a result in the middle of its stream"))
            else:
                self._settle(True, value)
            self.finish()
        elif kind == ERROR:
            e = _from_remote(value, self.label)
            if self.stream is not None:
                self.stream.fail(e)
            else:
                self._settle(False, e)
            self.finish()
        elif kind == YIELD:
            self._ensure_stream().push(value)
        elif kind == DONE:
            self._ensure_stream().end()
            self.finish()
        elif kind in (PULL, STOP):
            arg = _index(value)
            pump = self.pumps.get(arg) if self.pumps is not None and arg is not None else None
            if pump is not None:
                if kind == PULL:
                    pump.pull(msg[3] if len(msg) > 3 else None)
                else:
                    pump.stop()

    def _ensure_stream(self) -> "ResultStream":
        if self.stream is None:
            self.stream = ResultStream(self)
            self._settle(True, self.stream)
        return self.stream

    def _settle(self, ok: bool, v: Any) -> None:
        if self.fut.done():
            return
        if ok:
            self.fut.set_result(v)
        elif isinstance(v, asyncio.CancelledError):
            self.fut.cancel()
        else:
            self.fut.set_exception(v if isinstance(v, BaseException) else ThrownValue(v))

    def cancel(self, reason: Any, quiet: bool = False) -> None:
        """The caller gives up (cancel, timeout, abort, or it stopped reading): the callee is told."""
        if self.finished:
            return
        try:
            self.session.send([CANCEL, self.id])
        except Exception:  # noqa: BLE001 - the session is gone: nothing to tell
            pass
        if not quiet:
            if self.stream is not None:
                self.stream.abort(reason)
            self._settle(False, reason)
        elif not self.fut.done():
            self._ensure_stream().end()  # stopped before anything came: an empty, finished stream
        self.finish()

    def violated(self, e: ProtocolError) -> None:
        """The callee broke the stream rules: it is told to stop, and the call fails with ``e``
        after the stream items that came within the rules."""
        if self.finished:
            return
        try:
            self.session.send([CANCEL, self.id])
        except Exception:  # noqa: BLE001
            pass
        self.finish(e)

    def finish(self, error: Optional[BaseException] = None) -> None:
        if self.finished:
            return
        self.finished = True
        if error is not None:
            if self.stream is not None:
                self.stream.fail(error)
            self._settle(False, error)
        if self.timer is not None:
            self.timer.cancel()
        if self.on_abort is not None and self.settings.signal is not None:
            self.settings.signal.remove_listener(self.on_abort)
        if isinstance(self.settings.signal, _Both):
            self.settings.signal.release()
        for lent in self.lent or ():
            lent.revoke()
        for p in (self.pumps or {}).values():
            p.stop()
        self.session.forget(self)

    async def result(self) -> Any:
        try:
            return await self.fut
        except asyncio.CancelledError:
            if not self.finished:  # the awaiting task was cancelled (and with it the future): so is the call
                self.cancel(asyncio.CancelledError())
            raise


def _retrieve(f: "asyncio.Future[Any]") -> None:
    # A call nobody awaits (a callback fired and forgotten) must not log "exception never retrieved".
    if not f.cancelled():
        f.exception()


class ResultStream:
    """A result stream as the caller reads it (``async for x in stream``): items queue as they come,
    credit is granted as they are consumed, so a slow reader holds the producer to ``window`` items."""

    def __init__(self, call: _CallerCall) -> None:
        self._call = call
        self._queue: Deque[Any] = deque()
        self._ended = False
        self._error: Optional[BaseException] = None
        self._consumed = 0
        self._allowed = call.settings.window
        self._received = 0
        self._waiter: "Optional[asyncio.Future[Any]]" = None

    def push(self, v: Any) -> None:
        if self._ended:
            return
        self._received += 1
        if self._received > self._allowed:
            return self._call.violated(ProtocolError(
                f"the procedure {self._call.label} sent more stream items than the credit it was given"))
        w = self._waiter
        if w is not None and not w.done():
            self._waiter = None
            self._took()
            w.set_result(v)
        else:
            self._queue.append(v)

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._wake()

    def fail(self, e: BaseException) -> None:
        if self._ended:
            return
        self._ended = True
        self._error = e
        self._wake()

    def abort(self, e: Any) -> None:
        if self._ended:
            return
        self._queue.clear()
        self.fail(e if isinstance(e, BaseException) else ThrownValue(e))

    def _wake(self) -> None:
        w, self._waiter = self._waiter, None
        if w is not None and not w.done():
            w.set_result(_END_MARK)

    def _took(self) -> None:
        self._consumed += 1
        if self._consumed * 2 >= self._call.settings.window and not self._ended:
            n, self._consumed = self._consumed, 0
            self._allowed += n
            try:
                self._call.session.send([CREDIT, self._call.id, n])
            except Exception:  # noqa: BLE001 - the session is gone; the call learns it from its replies
                pass

    def __aiter__(self) -> "ResultStream":
        return self

    async def __anext__(self) -> Any:
        if self._queue:
            v = self._queue.popleft()
            self._took()
            return v
        if self._error is not None:
            raise self._error
        if self._ended:
            raise StopAsyncIteration
        if self._waiter is not None:
            raise TypeError("a result stream is read one item at a time")
        w = self._waiter = asyncio.get_running_loop().create_future()
        try:
            v = await w
        except asyncio.CancelledError:
            self._waiter = None
            await self.aclose()  # the reading task was cancelled: stop the producer
            raise
        if v is _END_MARK:
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return v

    async def aclose(self) -> None:
        """Stop reading: the producer is told to stop (its ``finally`` runs)."""
        if not self._ended:
            self._ended = True
            self._queue.clear()
            self._call.cancel(None, True)
            self._wake()

    def __del__(self) -> None:
        try:
            if not self._ended and not self._call.finished:
                self._call.cancel(None, True)
        except Exception:  # noqa: BLE001 - at interpreter exit
            pass


class RemoteCall:
    """What calling a remote procedure returns, at once (the CALL is already sent): ``await`` it for
    the result, or ``async for`` over it for a result stream (``async with`` it, or ``aclose()``,
    to stop reading early; a stream dropped unread is stopped too). ``cancel()`` gives up."""

    __slots__ = ("_call", "_iterating", "_stream", "__weakref__")

    def __init__(self, call: _CallerCall) -> None:
        self._call = call
        self._iterating = False
        self._stream: Optional[ResultStream] = None

    def __await__(self) -> Any:
        return self._call.result().__await__()

    def cancel(self, reason: Any = None) -> None:
        """Give up the call: it raises ``reason`` (default AbortError) and the callee is told."""
        self._call.cancel(reason if reason is not None else AbortError("the call was cancelled"))

    def done(self) -> bool:
        return self._call.fut.done()

    def __aiter__(self) -> "RemoteCall":
        self._iterating = True
        return self

    async def _open(self) -> ResultStream:
        if self._stream is None:
            v = await self._call.result()
            if not isinstance(v, ResultStream):
                if hasattr(type(v), "__aiter__"):
                    self._stream = v
                    return cast(ResultStream, v)
                raise TypeError(f"the procedure {self._call.label} returned a value, not a stream: await it instead")
            self._stream = v
        return self._stream

    async def __anext__(self) -> Any:
        return await (await self._open()).__anext__()

    async def aclose(self) -> None:
        """Stop reading the stream (the producer's ``finally`` runs); before it began, stop it anyway."""
        if self._stream is not None:
            await self._stream.aclose()
        elif self._call.stream is not None:
            await self._call.stream.aclose()
        elif not self._call.fut.done():
            self._call.cancel(None, True)

    async def __aenter__(self) -> "RemoteCall":
        self._iterating = True
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __del__(self) -> None:
        try:
            if self._iterating and not self._call.finished:
                s = self._call.stream
                if s is not None:
                    s._ended = True
                self._call.cancel(None, True)
        except Exception:  # noqa: BLE001
            pass

    def __repr__(self) -> str:
        return f"<ipfi.RemoteCall {self._call.label}>"


class _ArgPump:
    """Feeds one streamed argument to the procedure, as many items as it pulls, until END, FAIL or STOP."""

    def __init__(self, call: _CallerCall, index: int, source: Any) -> None:
        self.call = call
        self.index = index
        self.source = source
        self.it: Any = None
        self.wanted = 0
        self.running = False
        self.stopped = False

    def pull(self, n: Any) -> None:
        if self.stopped:
            return
        k = _index(n)
        if k is None:
            return self.call.violated(ProtocolError(
                f"the procedure {self.call.label} asked for a malformed number of items of argument {self.index}"))
        if self.wanted + k > self.call.settings.window:
            return self.call.violated(ProtocolError(
                f"the procedure {self.call.label} asked for more items of argument {self.index} than the window ({self.call.settings.window})"))
        if k == 0:
            return
        self.wanted += k
        if not self.running:
            self.running = True
            _spawn(self._run())

    async def _run(self) -> None:
        call, index = self.call, self.index
        send = call.session.send
        try:
            if self.it is None:
                self.it = self.source.__aiter__()
            while self.wanted > 0 and not self.stopped:
                try:
                    v = await self.it.__anext__()
                except StopAsyncIteration:
                    self.stopped = True
                    return send([END, call.id, index])
                except Exception as e:  # noqa: BLE001 - the argument failed: the procedure sees it
                    self.stopped = True
                    return send([FAIL, call.id, index, _thrown(e)])
                if self.stopped:
                    return await self._close()
                self.wanted -= 1
                try:
                    send([ITEM, call.id, index, v])
                except DisconnectedError:
                    raise
                except Exception as e:  # noqa: BLE001 - an item that cannot travel fails the argument with that error
                    self.stopped = True
                    send([FAIL, call.id, index, e])
                    return await self._close()
            if self.stopped:
                # Stopped before this task ran (a PULL, then RESULT or STOP in the same turn): stop()
                # saw it running and left the closing to it.
                await self._close()
        except Exception:  # noqa: BLE001 - the session is gone
            self.stopped = True
            await self._close()
        finally:
            self.running = False

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if not self.running:
            _spawn(self._close())

    async def _close(self) -> None:
        aclose = getattr(self.it, "aclose", None) if self.it is not None else None
        if aclose is None and self.it is None:
            aclose = getattr(self.source, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:  # noqa: BLE001 - the source's own cleanup failed; nobody is left to tell
                pass


def _lend_walk(v: Any, call: _CallerCall, depth: int) -> Any:
    """``v`` with every callable inside it lent for the call (containers copied only on that path)."""
    if isinstance(v, Handle) or depth > _MAX_WALK:
        return v
    t = type(v)
    if t in (str, int, float, bool, bytes) or v is None:
        return v
    if callable(v) and not isinstance(v, (type, BaseException)):
        lent = _LentFunction(v)
        if call.lent is None:
            call.lent = []
        call.lent.append(lent)
        return lent
    if t is list or t is tuple:
        items = [_lend_walk(x, call, depth + 1) for x in v]
        return v if all(a is b for a, b in zip(items, v)) else (items if t is list else tuple(items))
    if t is dict or t is Map or t is NullProtoDict:
        pairs = [(k, _lend_walk(x, call, depth + 1)) for k, x in v.items()]
        return v if all(a is b for (_, a), b in zip(pairs, v.values())) else t(pairs)
    return v


class _CallerSession:
    """The caller's side of a session: one call channel out, one reply channel back, many calls in
    flight matched by id."""

    def __init__(self, endpoint: Endpoint, timeout: Optional[float] = None, deadline: Optional[float] = None,
                 signal: Optional[AbortSignal] = None, window: Optional[int] = None) -> None:
        self.endpoint = endpoint
        self.plain = _Settings(timeout, deadline, signal, window if window is not None else DEFAULT_WINDOW)
        self.pending: Dict[int, _CallerCall] = {}
        self.next_id = 0
        self.reader: "Optional[asyncio.Task[None]]" = None
        self.dead: Optional[BaseException] = None
        self.close_when_idle = False
        call_tx, call_rx = channel()
        reply_tx, reply_rx = channel()
        self.calls: Sender[Any] = call_tx
        self.replies: Receiver[Any] = reply_rx
        try:
            endpoint.send({"calls": call_rx, "reply": reply_tx})
        except Exception as e:  # noqa: BLE001 - a dead endpoint: every call fails with this
            call_rx.close()
            reply_tx.close()
            self.dead = e

    def call(self, name: Optional[str], args: List[Any], options: Optional[_Settings]) -> RemoteCall:
        s = self.plain
        if options is not None:
            sig = options.signal
            if sig is not None and s.signal is not None and sig is not s.signal:
                sig = _Both(sig, s.signal)
            s = _Settings(options.timeout if options.timeout is not None else s.timeout,
                          options.deadline if options.deadline is not None else s.deadline,
                          sig if sig is not None else s.signal,
                          options.window if options.window is not None else s.window)
        call = _CallerCall(self, _num(self.next_id), name, s)  # type: ignore[arg-type]
        self.next_id += 1
        handle = RemoteCall(call)
        if self.dead is not None:
            call.finish(self.dead)
            return handle
        if s.signal is not None and s.signal.aborted:
            call.finish(s.signal.reason if isinstance(s.signal.reason, BaseException) else ThrownValue(s.signal.reason))
            return handle
        sent: List[Any] = []
        streams: List[int] = []
        sources: List[Any] = []
        try:
            for i, a in enumerate(args):
                if _is_stream(a):
                    streams.append(i)
                    sources.append(a)
                    sent.append(None)
                else:
                    sent.append(_lend_walk(a, call, 0))
            self.calls.send([CALL, call.id, name, sent, s.window, streams])
        except Exception as e:  # noqa: BLE001 - nothing was sent: the call fails with why
            if isinstance(e, DisconnectedError):
                self.dead = e
            call.finish(e)
            return handle
        if streams:
            call.pumps = {i: _ArgPump(call, i, src) for i, src in zip(streams, sources)}
        self.pending[call.id] = call
        call.arm()
        if self.reader is None:
            self.reader = asyncio.get_running_loop().create_task(self._read())
        return handle

    def send(self, msg: List[Any]) -> None:
        self.calls.send(msg)

    def forget(self, call: _CallerCall) -> None:
        if self.pending.get(call.id) is call:
            del self.pending[call.id]
            if self.close_when_idle and not self.pending:
                self.close()

    def let_go(self) -> None:
        """Its proxy was dropped: close now, or once the calls still pending have settled."""
        if self.pending:
            self.close_when_idle = True
        elif self.dead is None:
            self.close()

    def close(self) -> None:
        """Pending calls fail with DisconnectedError; the callee aborts them."""
        if self.dead is None:
            self.dead = DisconnectedError("this remote proxy was closed")
        self.calls.close()
        self.replies.close()
        self.endpoint.close()
        self._fail_all(self.dead)

    def _fail_all(self, e: BaseException) -> None:
        for c in list(self.pending.values()):
            c.finish(e)

    async def _read(self) -> None:
        try:
            while True:
                try:
                    entry = await _recv_entry(self.replies)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - the callee closed the session, or the link died
                    if self.dead is None:
                        self.dead = e if isinstance(e, DisconnectedError) else DisconnectedError("the session ended")
                    self._fail_all(self.dead)
                    return
                try:
                    self._dispatch(entry)
                except Exception as e:  # noqa: BLE001 - never leave calls waiting on a reader that died
                    self.dead = e
                    self.calls.close()
                    self._fail_all(e)
                    return
        finally:
            self.reader = None

    def _dispatch(self, entry: Entry) -> None:
        msg = entry.value
        if type(msg) is not list or not msg:
            return _close_handles(entry)
        kind = _index(msg[0])  # a number, as JavaScript compares it (2.0 is 2)
        if kind is None:
            return _close_handles(entry)
        msg[0] = kind
        if kind == CLOSE:
            e = msg[1] if len(msg) > 1 else None
            self.dead = _from_remote(e, "(the session was closed)") if isinstance(e, BaseException) \
                else DisconnectedError("the procedures closed the session")
            self.calls.close()
            _close_handles(entry)
            return self._fail_all(self.dead)
        cid = _index(msg[1]) if len(msg) > 1 else None
        call = self.pending.get(cid) if cid is not None else None
        if call is None:
            return _close_handles(entry)
        call.on_reply(msg)


class _Both(AbortSignal):
    """Aborted when either of two signals is: a call's own and its proxy's default. The call
    releases it when it is done, taking its listeners off both, so a long-lived default signal does
    not gather one listener (and one signal) per call."""

    __slots__ = ("_parents",)

    def __init__(self, a: AbortSignal, b: AbortSignal) -> None:
        super().__init__()
        self._parents = (a, b)
        a.add_listener(self.abort)
        b.add_listener(self.abort)

    def release(self) -> None:
        for p in self._parents:
            p.remove_listener(self.abort)


class RemoteMethod:
    """``api.name``: call it (``await api.name(*args)``), or ``api.name.with_options(...)(*args)``
    for one call's options."""

    __slots__ = ("_session", "_name", "_proxy")

    def __init__(self, session: _CallerSession, name: Optional[str], proxy: Any = None) -> None:
        self._session = session
        self._name = name
        self._proxy = proxy  # a method keeps its proxy (and so its session) alive

    def __call__(self, *args: Any) -> RemoteCall:
        return self._session.call(self._name, list(args), None)

    def with_options(self, *, timeout: Optional[float] = None, deadline: Optional[float] = None,
                     signal: Optional[AbortSignal] = None, window: Optional[int] = None) -> Callable[..., RemoteCall]:
        """The same call with options: ``timeout`` (seconds), ``deadline`` (``loop.time()``),
        ``signal`` (an :class:`AbortSignal`), ``window`` (items a result stream may run ahead)."""
        _check_options(timeout, deadline, signal, window)
        opts = _Settings(timeout, deadline, signal, window)  # type: ignore[arg-type]
        return lambda *args: self._session.call(self._name, list(args), opts)

    def __repr__(self) -> str:
        return f"<ipfi.RemoteMethod {_label(self._name)}>"


class Remote:
    """The proxy :func:`remote` returns: ``api.name(*args)`` calls procedure ``name`` there
    (``api["name"]`` reaches any name, ``close`` included). ``close()``, ``with``/``async with``, or
    dropping it, closes its session."""

    __slots__ = ("_session", "__weakref__")

    def __init__(self, session: _CallerSession) -> None:
        self._session = session

    def __getattr__(self, name: str) -> RemoteMethod:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> RemoteMethod:
        if not isinstance(name, str):
            raise TypeError("a procedure name is a str")
        return RemoteMethod(self._session, name, self)

    def close(self) -> None:
        """Close the session: pending calls fail with DisconnectedError, the callee aborts them."""
        self._session.close()

    def __enter__(self) -> "Remote":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "Remote":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._session.let_go()  # `await ipfi.remote(ep).f()` still gets its answer
        except Exception:  # noqa: BLE001 - at interpreter exit
            pass

    def __repr__(self) -> str:
        return "<ipfi.Remote>"


def remote(endpoint: Endpoint, *, timeout: Optional[float] = None, deadline: Optional[float] = None,
           signal: Optional[AbortSignal] = None, window: Optional[int] = None) -> Remote:
    """A proxy for the procedures behind ``endpoint`` (from :func:`expose`, or received in a
    message): ``await api.add(1, 2)``, ``async for x in api.count(3)``. It holds its own copy of the
    endpoint (the one passed in stays yours). The options are the defaults of every call (see
    :meth:`RemoteMethod.with_options`)."""
    if not isinstance(endpoint, Endpoint):
        raise HandleError("remote() takes an Endpoint (from expose(), or received in a message)")
    _check_options(timeout, deadline, signal, window)
    return Remote(_CallerSession(cast(Endpoint, endpoint.clone()), timeout, deadline, signal, window))


class RemoteFunction(Handle):
    """A function that arrived from elsewhere (payload tag 0x05): calling it runs the original
    there (``await f(*args)``, a :class:`RemoteCall`). Sent on, it sends another reference and stays
    callable here. ``close()`` lets go of it (so does dropping it)."""

    __slots__ = ("_endpoint", "_session", "__weakref__")
    _ipfi_kind = "sender"
    _ipfi_tag = TAG_FUNCTION

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._session: Optional[_CallerSession] = None

    def _open(self) -> _CallerSession:
        if self._session is None:
            self._session = _CallerSession(cast(Endpoint, self._endpoint.clone()))
        return self._session

    def __call__(self, *args: Any) -> RemoteCall:
        return self._open().call(None, list(args), None)

    def with_options(self, *, timeout: Optional[float] = None, deadline: Optional[float] = None,
                     signal: Optional[AbortSignal] = None, window: Optional[int] = None) -> Callable[..., RemoteCall]:
        _check_options(timeout, deadline, signal, window)
        opts = _Settings(timeout, deadline, signal, window)  # type: ignore[arg-type]
        return lambda *args: self._open().call(None, list(args), opts)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._endpoint.close()

    def __enter__(self) -> "RemoteFunction":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._session is not None:
                self._session.let_go()  # calls still pending get their answers
            self._endpoint.close()
        except Exception:  # noqa: BLE001
            pass

    def _ipfi_check(self) -> Port:
        return self._endpoint._ipfi_check()

    def _ipfi_detach(self) -> Cap:
        return self._endpoint.clone()._ipfi_detach()

    def __repr__(self) -> str:
        return "<ipfi.RemoteFunction>"


def _wrap_function(cap: Cap) -> RemoteFunction:
    if cap.kind != "sender":
        raise ProtocolError("a function handle (tag 0x05) must name a sender capability (descriptor tag 0, 1 or 2), "
                            "not a moved receiver (tag 3)")
    return RemoteFunction(wrap_cap(cap, TAG_ENDPOINT))


register_handle_factory(TAG_FUNCTION, _wrap_function)
