"""The bridge between user-level handles (Sender, Receiver, endpoints) and ports. A handle is a
``codec.Handle`` with three methods: ``_ipfi_kind`` ('sender' or 'receiver'), ``_ipfi_check()``
(its port; HandleError if it was moved or closed, or cannot move now) and ``_ipfi_detach()`` (gives
its port and reference away as a Cap: the handle becomes moved). The layer above registers a factory
per payload tag that turns a Cap back into a handle."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from .codec import TAG_HANDLE, Handle
from .errors import HandleError, ProtocolError
from .port import Cap, Port

__all__ = ["register_handle_factory", "wrap_cap", "check_handles", "commit_handles"]

HandleFactory = Callable[[Cap], Any]
_factories: Dict[int, HandleFactory] = {}


def register_handle_factory(tag: int, factory: HandleFactory) -> None:
    _factories[tag] = factory


def wrap_cap(cap: Cap, tag: int = TAG_HANDLE) -> Any:
    f = _factories.get(tag)
    if f is None:
        raise ProtocolError(f"a handle with tag {tag}, which this process does not know")
    return f(cap)


def check_handles(handles: List[Handle], target: Optional[Port]) -> None:
    """Check that every handle in a message can move, before anything moves. A receiver may not be
    sent into its own channel, nor twice in one message."""
    receivers: set = set()
    for h in handles:
        port = h._ipfi_check()  # type: ignore[attr-defined]
        if h._ipfi_kind == "receiver":  # type: ignore[attr-defined]
            if port is target:
                raise HandleError("a receiver cannot be sent into its own channel")
            if id(h) in receivers:
                raise HandleError("the same receiver appears twice in one message")
            receivers.add(id(h))


def commit_handles(handles: List[Handle]) -> List[Cap]:
    """Move the handles: each occurrence becomes a Cap owning its reference (the same sender twice
    is two independent senders)."""
    caps: List[Cap] = []
    seen: Dict[int, Cap] = {}
    for h in handles:
        prev = seen.get(id(h))
        if prev is not None:
            prev.port.add_sender()
            caps.append(Cap("sender", prev.port))
            continue
        cap = h._ipfi_detach()  # type: ignore[attr-defined]
        seen[id(h)] = cap
        caps.append(cap)
    return caps
