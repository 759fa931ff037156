"""Server addresses (``unix:/path``, ``tcp://host:port``, ``tls://host:port``) and private Unix
socket files: the directory must be this user's and not writable by group or others (made 0700
when missing), the socket is made 0600, a stale socket left by a dead server is replaced and a
live one refused."""
from __future__ import annotations

import os
import re
import socket
import stat
from typing import NamedTuple, Optional

from .errors import AddressInUseError

__all__ = ["Address", "parse_address", "format_address", "prepare_socket_path"]


class Address(NamedTuple):
    kind: str  # 'unix', 'tcp' or 'tls'
    path: Optional[str] = None
    host: str = "127.0.0.1"
    port: int = 0


_NET = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:.]+\]|[^:/\[\]]*):(\d{1,5})$")


def parse_address(address: str) -> Address:
    if not isinstance(address, str):
        raise TypeError('an address is a string such as "unix:/run/app.sock" or "tcp://127.0.0.1:7000"')
    if address.startswith("unix:"):
        path = address[5:]
        if not path:
            raise ValueError(f"no socket path in {address!r}")
        return Address("unix", path=path)
    m = _NET.match(address)
    if not m:
        raise ValueError(f"not an ipfi address: {address!r} (use unix:/path, tcp://host:port or tls://host:port)")
    port = int(m.group(3))
    if port > 65535:
        raise ValueError(f"port out of range in {address!r}")
    host = m.group(2)
    if host.startswith("["):
        host = host[1:-1]
    return Address(m.group(1), host=host or "127.0.0.1", port=port)


def format_address(a: Address) -> str:
    if a.kind == "unix":
        return f"unix:{a.path}"
    host = f"[{a.host}]" if ":" in a.host else a.host
    return f"{a.kind}://{host}:{a.port}"


def prepare_socket_path(path: str) -> str:
    full = os.path.abspath(path)
    directory = os.path.dirname(full)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, f"ipfi: cannot create the socket directory {directory}: {e.strerror}") from e
    d = os.stat(directory)
    if not stat.S_ISDIR(d.st_mode):
        raise OSError(f"ipfi: {directory} is not a directory")
    if d.st_uid != os.getuid():
        raise PermissionError(f"ipfi: the socket directory {directory} belongs to uid {d.st_uid}, not to this user ({os.getuid()})")
    if d.st_mode & 0o022:
        raise PermissionError(f"ipfi: the socket directory {directory} is writable by group or others "
                              f"(mode {stat.S_IMODE(d.st_mode):o}); use a private directory (0700)")
    try:
        existing = os.lstat(full)
    except FileNotFoundError:
        return full
    if not stat.S_ISSOCK(existing.st_mode):
        raise AddressInUseError(f"ipfi: {full} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(full)
        live = True
    except OSError:
        live = False
    finally:
        probe.close()
    if live:
        raise AddressInUseError(f"ipfi: a server is already listening on {full}")
    os.unlink(full)  # stale: its server is gone
    return full
