"""Per-link limits (PROTOCOL §11). Each side announces the first two in its HELLO and the peer never
sends past them; the others are local. Times are in seconds, as everywhere in Python."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["Limits", "DEFAULT_LIMITS", "HANDSHAKE_MAX_FRAME", "resolve_limits"]

#: The handshake frame is read with this limit, before the peer's HELLO is known.
HANDSHAKE_MAX_FRAME = 64 * 1024


@dataclass(frozen=True)
class Limits:
    #: Largest frame body accepted, in bytes (announced). Default 64 MiB.
    max_frame_bytes: int = 64 * 1024 * 1024
    #: Most handles in one message (announced). Default 1,024.
    max_handles_per_message: int = 1024
    #: Most imports plus inbound receivers over one link. Default 100,000.
    max_imports: int = 100_000
    #: Time allowed for the peer's HELLO, in seconds. Default 10.
    handshake_timeout: float = 10.0
    #: Most bytes of the peer's messages waiting unread in this process; past it the link fails
    #: with LimitExceededError. Default 256 MiB.
    max_queued_bytes: int = 256 * 1024 * 1024
    #: Most bytes sent and not yet taken by the transport (a peer that stopped reading); past it
    #: the link fails with LimitExceededError. Default 128 MiB.
    max_unsent_bytes: int = 128 * 1024 * 1024


DEFAULT_LIMITS = Limits()


def resolve_limits(limits: Any = None, **overrides: Any) -> Limits:
    """A Limits from ``None``, a Limits, or a dict of field names, with ``overrides`` applied."""
    if limits is None:
        base = DEFAULT_LIMITS
    elif isinstance(limits, Limits):
        base = limits
    elif isinstance(limits, dict):
        base = replace(DEFAULT_LIMITS, **limits)
    else:
        raise TypeError(f"limits must be a Limits or a dict, not {type(limits).__name__}")
    if overrides:
        base = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    for f in fields(Limits):
        v = getattr(base, f.name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or not math.isfinite(v):
            raise ValueError(f"limit {f.name} must be a positive number, got {v!r}")
    return base
