"""A link's two bootstrap ends as a pair of channels (PROTOCOL §1.3, export 0 on each side):
:func:`connect_wire` over any :class:`~ipfi.wire.Wire`, and the base of a server's peers."""
from __future__ import annotations

from typing import Any, Generic, Optional, TypeVar

from .channel import Receiver, Sender, bootstrap_receiver, bootstrap_sender
from .link import Link
from .wire import Wire

__all__ = ["Connection", "connect_wire"]

Out = TypeVar("Out")
In = TypeVar("In")


class Connection(Generic[Out, In]):
    """One link's two ends: ``sender`` arrives at the other side's ``receiver``, and the other
    side's ``sender`` at this ``receiver``. ``async with`` closes the link in order."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.sender: Sender[Out] = bootstrap_sender(link)
        self.receiver: Receiver[In] = bootstrap_receiver(link)

    @property
    def ready(self) -> Any:
        """Awaitable: the peer's handshake arrived (raises if the link failed first)."""
        return self.link.ready

    @property
    def closed(self) -> Any:
        """Awaitable: the link's cause once it is closed, whatever closed it."""
        return self.link.closed

    def close(self, reason: Optional[str] = None) -> None:
        """Close the link in order: the channels that cross it end as closed ones, on both sides."""
        self.link.close(reason)

    async def __aenter__(self) -> "Connection[Out, In]":
        await self.link.ready
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
        await self.link.closed


def connect_wire(wire: Wire, *, name: str = "link", limits: Any = None, idle_timeout: Optional[float] = None) -> Connection[Any, Any]:
    """Speak ipfi over ``wire`` (in the running event loop). Both ends call it; each gets a sender
    into the other's bootstrap channel and the receiver of its own."""
    return Connection(Link(wire, name=name, limits=limits, idle_timeout=idle_timeout))
