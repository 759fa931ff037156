"""When this process exits, every open link writes what it has queued, synchronously (the event
loop will not run again), ending with a GOODBYE that says how this process ended (PROTOCOL §8).

Python does not tell an ``atexit`` hook the exit code. So an uncaught exception (seen through
``sys.excepthook``) ends every link with a failed GOODBYE naming it; otherwise a link whose peer
owns this process (``stdio_link``: it has our exit status) sends no GOODBYE at all, and any other
link an orderly one."""
from __future__ import annotations

import atexit
import sys
import time
from typing import Any, Optional, Set

__all__ = ["watch", "unwatch", "note_crash", "EXIT_FLUSH_SECONDS"]

#: How long an exiting process waits for its peers to take what it wrote last.
EXIT_FLUSH_SECONDS = 10.0

_links: Set[Any] = set()
_installed = False
_crash: Optional[str] = None


def watch(link: Any) -> None:
    global _installed
    _links.add(link)
    if not _installed:
        _installed = True
        _install()


def unwatch(link: Any) -> None:
    _links.discard(link)


def note_crash(exc: BaseException, how: str = "uncaught exception") -> None:
    global _crash
    try:
        _crash = f"{how}: {type(exc).__name__}: {exc}"
    except Exception:  # an exception whose str() fails
        _crash = f"{how}: {type(exc).__name__}"


def _install() -> None:
    previous = sys.excepthook

    def hook(kind: Any, value: Any, tb: Any) -> None:
        if isinstance(value, BaseException) and not isinstance(value, (SystemExit, KeyboardInterrupt)):
            note_crash(value)
        elif isinstance(value, KeyboardInterrupt):
            note_crash(value, "interrupted")
        previous(kind, value, tb)

    sys.excepthook = hook
    atexit.register(_at_exit)


def _at_exit() -> None:
    deadline = time.monotonic() + EXIT_FLUSH_SECONDS
    for link in list(_links):
        try:
            link.at_exit(_crash, deadline)
        except Exception:  # a link that cannot write any more: nothing else to do at exit
            pass
