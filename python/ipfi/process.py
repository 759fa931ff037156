"""Processes linked over their stdio (PROTOCOL Appendix A): :func:`spawn` starts any ipfi program (a Node
one included) and links to it over its stdin and stdout; :func:`stdio_link`, in a program started
that way (by Python's ``spawn`` or JavaScript's ``spawn()``), serves this process's own stdio.

Both use the bootstrap of Appendix A: the parent sends one message ``{receiver, sender, data}`` to the
child's export 0, holding the child's two ends, then closes its bootstrap sender."""
from __future__ import annotations

import asyncio
import os
import signal as signals
import sys
from typing import Any, Generic, List, NamedTuple, Optional, Sequence, TypeVar

from .channel import Receiver, Sender, bootstrap_receiver, bootstrap_sender, channel
from .errors import ProtocolError
from .link import Link, PeerEnd
from .values import UNDEFINED
from .wire import FdWire

__all__ = ["spawn", "stdio_link", "Child", "ParentEnds", "ExitInfo", "offer_ends", "take_ends"]

ToChild = TypeVar("ToChild")
ToParent = TypeVar("ToParent")

#: How long a link whose child's wire ended waits for the exit status, and dispose for the exit.
_EXIT_WAIT = 2.0


class ExitInfo(NamedTuple):
    """How a child process ended: its exit ``code``, or the ``signal`` that ended it."""

    code: Optional[int]
    signal: Optional[str]
    pid: Optional[int] = None
    #: What the child said when it failed (its GOODBYE), e.g. "uncaught exception: ValueError: boom".
    reason: Optional[str] = None

    def describe(self) -> str:
        who = f"process {self.pid}" if self.pid is not None else "the peer"
        how = f"{who} was killed by {self.signal}" if self.signal else f"{who} exited with code {self.code}"
        return f"{how} ({self.reason})" if self.reason else how

    def __str__(self) -> str:
        return self.describe()


class ParentEnds(NamedTuple):
    """What a child gets: ``receiver`` (what the parent sends), ``sender`` (to the parent),
    ``data`` (what the parent passed, UNDEFINED if nothing) and the ``link``."""

    receiver: Receiver[Any]
    sender: Sender[Any]
    data: Any
    link: Link


def offer_ends(link: Link, data: Any) -> "tuple[Sender[Any], Receiver[Any]]":
    """Parent side: make both channels, hand the child its ends, keep ours."""
    to_child, child_rx = channel()
    child_tx, from_child = channel()
    boot = bootstrap_sender(link)
    boot.send({"receiver": child_rx, "sender": child_tx, "data": data})
    boot.close()
    return to_child, from_child


async def take_ends(link: Link) -> ParentEnds:
    """Child side: wait for the parent's boot message."""
    inbox = bootstrap_receiver(link)
    try:
        m = await inbox.recv()
    finally:
        inbox.close()
    if not (type(m) is dict and isinstance(m.get("receiver"), Receiver) and isinstance(m.get("sender"), Sender)):
        link.fail(ProtocolError(f"{link.name}: malformed boot message from the parent"))
        raise ProtocolError(f"{link.name}: malformed boot message from the parent")
    return ParentEnds(m["receiver"], m["sender"], m.get("data", UNDEFINED), link)


_stdio: "Optional[asyncio.Future[ParentEnds]]" = None


async def stdio_link(*, limits: Any = None, redirect_stdout: bool = True) -> ParentEnds:
    """In a program started over its stdio: the two ends its parent made for it. Call it as often as
    you like; it is the same pair each time.

    From then on the wire owns stdin and stdout: with ``redirect_stdout`` (the default) file
    descriptor 1 is pointed at stderr, so ``print()`` and anything else that writes to stdout goes
    to stderr instead of corrupting the wire; stdin reads as empty."""
    global _stdio
    if _stdio is None:
        _stdio = asyncio.get_running_loop().create_future()
        try:
            _stdio.set_result(await _open_stdio(limits, redirect_stdout))
        except BaseException as e:
            _stdio.set_exception(e)
            _stdio.exception()
            raise
    return await asyncio.shield(_stdio)


async def _open_stdio(limits: Any, redirect_stdout: bool) -> ParentEnds:
    sys.stdout.flush()
    read_fd, write_fd = os.dup(0), os.dup(1)
    if redirect_stdout:
        os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # The parent knows how this process ends (its exit status): no GOODBYE at a plain exit.
    link = Link(FdWire(read_fd, write_fd), name="stdio", limits=limits, goodbye_at_exit=False)
    return await take_ends(link)


class Child(Generic[ToChild, ToParent]):
    """A child process linked over its stdio. ``sender`` reaches its ``stdio_link().receiver``;
    its ``stdio_link().sender`` arrives at ``receiver``. ``async with`` closes both ends, waits up
    to 2 s for the child to exit, then terminates it."""

    def __init__(self, process: "asyncio.subprocess.Process", link: Link, sender: Sender[ToChild],
                 receiver: Receiver[ToParent], exited: "asyncio.Future[ExitInfo]") -> None:
        self.process = process
        self.link = link
        self.sender = sender
        self.receiver = receiver
        #: Resolves with the ExitInfo once the child has ended.
        self.exited = exited

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait(self) -> ExitInfo:
        return await asyncio.shield(self.exited)

    def kill(self, sig: int = signals.SIGTERM) -> None:
        if self.process.returncode is None:
            try:
                self.process.send_signal(sig)
            except ProcessLookupError:
                pass

    async def aclose(self) -> None:
        self.sender.close()
        self.receiver.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.exited), _EXIT_WAIT)
        except asyncio.TimeoutError:
            self.kill()
            await asyncio.shield(self.exited)

    async def __aenter__(self) -> "Child[ToChild, ToParent]":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def _exit_info(code: Optional[int], pid: int) -> ExitInfo:
    if code is not None and code < 0:
        try:
            name = signals.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return ExitInfo(None, name, pid)
    return ExitInfo(code, None, pid)


async def spawn(args: Sequence[str], *, data: Any = UNDEFINED, env: Optional[dict] = None, cwd: Optional[str] = None,
                stderr: Any = None, limits: Any = None) -> Child[Any, Any]:
    """Start ``args`` (a program and its arguments) and link to it over its stdin and stdout; its
    stderr is inherited unless ``stderr`` says otherwise (as for ``asyncio.create_subprocess_exec``).
    ``data`` is sent to the child with its ends (``stdio_link().data``)."""
    argv: List[str] = list(args)
    if not argv:
        raise ValueError("spawn needs a program to run")
    child_in, parent_out = os.pipe()
    parent_in, child_out = os.pipe()
    try:
        process = await asyncio.create_subprocess_exec(*argv, stdin=child_in, stdout=child_out, stderr=stderr, env=env, cwd=cwd)
    except BaseException:
        for fd in (child_in, parent_out, parent_in, child_out):
            os.close(fd)
        raise
    os.close(child_in)
    os.close(child_out)
    loop = asyncio.get_running_loop()
    pid = process.pid

    async def wait_exit() -> ExitInfo:
        return _exit_info(await process.wait(), pid)

    exited: "asyncio.Future[ExitInfo]" = loop.create_task(wait_exit())

    async def on_wire_end(error: Optional[BaseException], failure: Optional[str]) -> Optional[PeerEnd]:
        try:
            status = await asyncio.wait_for(asyncio.shield(exited), _EXIT_WAIT)
        except asyncio.TimeoutError:
            return None
        if failure is not None and failure != f"exited with code {status.code}":
            status = status._replace(reason=failure)
        return PeerEnd(status, failure is None and status.code == 0)

    link = Link(FdWire(parent_in, parent_out), name=f"{argv[0]} (process {pid}, over stdio)", limits=limits, on_wire_end=on_wire_end)
    sender, receiver = offer_ends(link, data)
    return Child(process, link, sender, receiver, exited)
