"""What every Python role shares (conformance/python/README.md): opening the link on the wire it was
given, checks that record failures instead of stopping at the first, the bootstrap mailbox, the
finish, and the verdict on fd 3. The Python counterpart of conformance/js/lib/kit.mjs."""
from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

import ipfi
from tagged import difference, from_tagged

HERE = Path(__file__).resolve().parent
SCENARIOS = json.loads((HERE.parent / "scenarios.json").read_text("utf-8"))
VALUES = json.loads((HERE.parent / "values.json").read_text("utf-8"))["fixtures"]

#: A wait that could hang is bounded by this (a hang guard, never a timing assertion).
GUARD_S = 30.0


class HangGuard(Exception):
    pass


def ending(e: BaseException) -> str:
    """How a failure is named in checks: 'orderly' and 'lost' for the two endings, else the class name."""
    if isinstance(e, ipfi.ConnectionLostError):
        return "lost"
    if isinstance(e, ipfi.DisconnectedError):
        return "orderly"
    if isinstance(e, BaseException):
        return type(e).__name__
    return f"a non-exception {e!r}"


def describe(e: Any) -> str:
    if isinstance(e, BaseException):
        return f"{type(e).__name__}: {e}"
    return repr(e)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class Conn:
    """A link's two bootstrap ends, whatever opened it."""

    def __init__(self, c: Any) -> None:
        self.sender = c.sender
        self.receiver = c.receiver
        self.link = c.link
        self.ready = c.ready
        self.closed = c.closed
        self._c = c

    def close(self, reason: Optional[str] = None) -> None:
        self._c.close(reason)


class Role:
    def __init__(self, scenario: dict, role: str, wire: str, address: Optional[str]) -> None:
        self.scenario = scenario
        self.role = role
        self.wire = wire
        self.address = address
        self.spec = scenario["victim"] if scenario.get("kind") == "hostile" else scenario["roles"][role]
        self.args: Dict[str, Any] = self.spec.get("args") or {}
        self.limits = {_snake(k): v for k, v in (self.spec.get("limits") or {}).items()}
        link = self.spec.get("link") or {}
        self.idle_timeout: Optional[float] = link["idleTimeoutMs"] / 1000 if "idleTimeoutMs" in link else None
        self.secret = os.environ.get("IPFI_CONFORMANCE_SECRET") or None
        self.failures: List[str] = []
        self.checks = 0
        self.exit_code = 0
        self.server: Optional[ipfi.Server] = None
        self.sessions: List[dict] = []
        self.session_waiters: List["asyncio.Future[dict]"] = []
        self.kept: List[Any] = []
        self.end_error: Optional[BaseException] = None
        self._tasks: List["asyncio.Task[Any]"] = []

    def keep(self, *things: Any) -> None:
        """Hold on to handles for the life of the process (a collected handle is closed)."""
        self.kept.extend(things)

    def spawn(self, coro: Awaitable[Any]) -> "asyncio.Task[Any]":
        t = asyncio.ensure_future(coro)
        self._tasks.append(t)
        return t

    # ---- reporting

    def emit(self, event: dict) -> None:
        os.write(3, (json.dumps(event) + "\n").encode())

    def mark(self, name: str) -> None:
        self.emit({"mark": name})

    def log(self, *parts: Any) -> None:
        sys.stderr.write(f"[{self.scenario['name']}.{self.role} py] " + " ".join(p if isinstance(p, str) else repr(p) for p in parts) + "\n")
        sys.stderr.flush()

    def fail(self, what: str) -> None:
        self.failures.append(what)
        self.log("FAIL", what)

    def check(self, cond: Any, what: str) -> bool:
        self.checks += 1
        if not cond:
            self.fail(what)
        return bool(cond)

    def same(self, actual: Any, expected: Any, what: str) -> bool:
        self.checks += 1
        try:
            d = difference(actual, expected)
        except Exception as e:  # noqa: BLE001
            d = f"cannot compare: {describe(e)}"
        if d:
            self.fail(f"{what}: {d}")
        return not d

    def same_tagged(self, actual: Any, tagged: Any, what: str) -> bool:
        return self.same(actual, from_tagged(tagged), what)

    def verdict(self) -> bool:
        ok = not self.failures
        self.emit({"verdict": "pass" if ok else "fail", "checks": self.checks, "failures": self.failures})
        return ok

    # ---- waiting

    async def within(self, aw: Any, what: str, seconds: float = GUARD_S) -> Any:
        """Await ``aw``, or raise HangGuard after ``seconds``. A shared future is shielded (not
        cancelled at the guard); a coroutine is cancelled."""
        if isinstance(aw, asyncio.Future) and not isinstance(aw, asyncio.Task):
            aw = asyncio.shield(aw)
        task = asyncio.ensure_future(aw)
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if not done:
            task.cancel()
            raise HangGuard(f"hang guard: {what} did not happen within {seconds:g} s")
        return task.result()

    async def rejects(self, aw: Any, kind: str, what: str) -> Optional[BaseException]:
        """``aw`` (or what ``aw()`` returns) must raise ``kind`` (see ``ending``). Returns the error."""
        self.checks += 1
        try:
            if callable(aw):
                aw = aw()
            value = await self.within(aw, what)
        except HangGuard as e:
            self.fail(str(e))
            return e
        except Exception as e:  # noqa: BLE001
            if ending(e) != kind:
                self.fail(f"{what}: expected {kind}, got {describe(e)}")
            return e
        self.fail(f"{what}: expected {kind}, but it gave {value!r}"[:500])
        return None

    def throws(self, f: Callable[[], Any], kind: str, what: str) -> Optional[BaseException]:
        self.checks += 1
        try:
            f()
        except Exception as e:  # noqa: BLE001
            if ending(e) != kind:
                self.fail(f"{what}: expected {kind}, got {describe(e)}")
            return e
        self.fail(f"{what}: expected it to throw {kind}")
        return None

    async def eventually(self, f: Callable[[], Awaitable[Any]], what: str, tries: int = 500, seconds: float = 0.02) -> Any:
        last = None
        for _ in range(tries):
            last = await f()
            if last:
                return last
            await asyncio.sleep(seconds)
        self.fail(f"{what}: still not so after {tries} tries")
        return last

    # ---- the link

    async def open(self) -> Conn:
        if self.wire == "stdio":
            wire = ipfi.FdWire(0, 1)
            return Conn(ipfi.connect_wire(wire, name="stdio", limits=self.limits or None, idle_timeout=self.idle_timeout))
        if self.wire == "connect":
            extra = {} if self.idle_timeout is None else {"idle_timeout": self.idle_timeout}
            return Conn(await ipfi.connect(self.address, secret=self.secret, limits=self.limits or None, timeout=GUARD_S, **extra))
        if self.wire == "listen":
            s = await self.session()
            if "rejected" in s:
                raise s["rejected"]
            return s["conn"]
        raise ValueError(f"unknown wire {self.wire}")

    def _arrived(self, s: dict) -> None:
        while self.session_waiters:
            w = self.session_waiters.pop(0)
            if not w.done():
                w.set_result(s)
                return
        self.sessions.append(s)

    async def listening(self) -> None:
        if self.server is not None:
            return
        extra = {} if self.idle_timeout is None else {"idle_timeout": self.idle_timeout}
        self.server = await ipfi.listen(self.address, secret=self.secret, limits=self.limits or None,
                                        handshake_timeout=GUARD_S, on_reject=lambda e, who: self._arrived({"rejected": e}),
                                        **extra)
        self.emit({"listening": self.server.address})

        async def accept_all() -> None:
            try:
                async for peer in self.server:  # type: ignore[union-attr]
                    self._arrived({"conn": Conn(peer)})
            except Exception as e:  # noqa: BLE001
                self.fail(f"accepting clients: {describe(e)}")

        self.spawn(accept_all())

    async def session(self) -> dict:
        """The next session: {'conn': Conn} once linked, or {'rejected': error}."""
        if self.wire != "listen":
            try:
                return {"conn": await self.open()}
            except Exception as e:  # noqa: BLE001
                return {"rejected": e}
        await self.listening()
        if self.sessions:
            return self.sessions.pop(0)
        fut: "asyncio.Future[dict]" = asyncio.get_running_loop().create_future()
        self.session_waiters.append(fut)
        return await self.within(fut, "the next client")

    async def finish(self, conn: Conn, box: "Mailbox") -> None:
        """Close the bootstrap sender, drain the mailbox to its orderly end, close the link."""
        conn.sender.close()
        end = await self.within(box.ended, "the peer to finish (its bootstrap sender to close)")
        self.check(end == "orderly", f"the bootstrap channel ends in order, got {end}")
        self.check(not box.unread, f"no unexpected messages, got {[m.get('kind') if isinstance(m, dict) else m for m in box.unread]!r}")
        conn.close("done")
        await self.within(conn.closed, "the link to close")

    async def close_server(self) -> None:
        if self.server is not None:
            await self.within(self.server.close(), "the server to close")


class Mailbox:
    """Reads the bootstrap receiver and hands each message to whoever waits for its ``kind``.
    ``ended`` resolves with how the channel ended ('orderly', 'lost', or an error name)."""

    def __init__(self, role: Role, receiver: Any) -> None:
        self.role = role
        self.unread: List[Any] = []
        self.waiters: List[tuple] = []
        self.end: Optional[str] = None
        self.ended: "asyncio.Future[str]" = asyncio.get_running_loop().create_future()
        role.spawn(self._read(receiver))

    async def _read(self, receiver: Any) -> None:
        while True:
            try:
                m = await receiver.recv()
            except Exception as e:  # noqa: BLE001
                self.end = ending(e)
                self.role.end_error = e
                if not self.ended.done():
                    self.ended.set_result(self.end)
                self._deliver()
                return
            self.unread.append(m)
            self._deliver()

    def _deliver(self) -> None:
        for w in list(self.waiters):
            kind, fut = w
            if fut.done():
                self.waiters.remove(w)
                continue
            j = next((j for j, m in enumerate(self.unread) if isinstance(m, dict) and m.get("kind") == kind), None)
            if j is not None:
                self.waiters.remove(w)
                fut.set_result(self.unread.pop(j))
            elif self.end is not None:
                self.waiters.remove(w)
                fut.set_exception(RuntimeError(f"the bootstrap channel ended ({self.end}) before a '{kind}' message came"))

    async def next(self, kind: str, what: Optional[str] = None) -> Any:
        fut: "asyncio.Future[Any]" = asyncio.get_running_loop().create_future()
        self.waiters.append((kind, fut))
        self._deliver()
        try:
            return await self.role.within(fut, what or f"a '{kind}' message")
        finally:
            if not fut.done():
                fut.cancel()
                self._deliver()


async def opened(role: Role) -> "tuple[Conn, Mailbox]":
    conn = await role.open()
    return conn, Mailbox(role, conn.receiver)


def format_exc(e: BaseException) -> str:
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    return text if len(text) < 4000 else text[:1000] + "\n...\n" + text[-3000:]
