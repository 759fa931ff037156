"""A link's liveness timers (PROTOCOL §4): a PING when we have been silent for the interval the peer
asked for, and, with an idle timeout, the peer declared lost once nothing arrived for that long."""
from __future__ import annotations

import asyncio
import math
from typing import Callable, Optional

__all__ = ["Heartbeat"]


class Heartbeat:
    def __init__(self, idle_timeout: Optional[float], ping: Callable[[], None], silent: Callable[[], None]) -> None:
        self.idle_timeout = idle_timeout
        self._ping = ping
        self._silent = silent
        self._heard = True
        self._spoke = False
        self._silent_for = 0.0
        self._timers: "list[asyncio.TimerHandle]" = []
        self._stopped = False

    @property
    def ask_peer_every_ms(self) -> Optional[int]:
        """The interval to ask the peer for in HELLO: a third of our idle timeout."""
        if not self.idle_timeout:
            return None
        return max(10, math.floor(self.idle_timeout * 1000 / 3))

    def heard(self) -> None:
        self._heard = True

    def said(self) -> None:
        self._spoke = True

    def start(self, every_ms: Optional[int]) -> None:
        loop = asyncio.get_running_loop()
        if every_ms is not None:
            interval = max(10, min(every_ms, 2**31 - 1)) / 1000

            def tick() -> None:
                if self._stopped:
                    return
                if not self._spoke:
                    self._ping()
                    if self._stopped:
                        return
                self._spoke = False
                self._timers[0] = loop.call_later(interval, tick)

            self._timers.append(loop.call_later(interval, tick))
        if self.idle_timeout:
            step = self.idle_timeout / 2  # silence is noticed between 1x and 1.5x the timeout
            idle = self.idle_timeout
            slot = len(self._timers)

            def check() -> None:
                if self._stopped:
                    return
                if self._heard:
                    self._heard = False
                    self._silent_for = 0.0
                else:
                    self._silent_for += step
                    if self._silent_for >= idle:
                        return self._silent()
                self._timers[slot] = loop.call_later(step, check)

            self._timers.append(loop.call_later(step, check))

    def stop(self) -> None:
        self._stopped = True
        for t in self._timers:
            t.cancel()
        self._timers.clear()
