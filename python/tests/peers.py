"""Real JavaScript peers for the interop tests (fixtures/js_peer.mjs on dist/), each reached over
one kind of link. Every peer greets with ``{hello: 'from node', data, pid}`` and then serves the
command language of js_peer.mjs on the link's two bootstrap-born channels."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import tempfile
from typing import Any, List, Optional

import ipfi
from tests.support import fixture, node


class Peer:
    """A JavaScript peer as the tests see it: ``sender``, ``receiver``, ``link``, ``pid``."""

    sender: ipfi.Sender[Any]
    receiver: ipfi.Receiver[Any]
    link: ipfi.Link
    pid: int
    hello: Any

    async def ask(self, message: Any, timeout: float = 10.0) -> Any:
        self.sender.send(message)
        return await self.receiver.recv(timeout=timeout)

    async def close(self) -> None:
        raise NotImplementedError


class StdioPeer(Peer):
    """Node started by Python's ``ipfi.spawn()``, serving ``stdioLink()``."""

    kind = "stdio"

    async def open(self, data: Any = ipfi.UNDEFINED, stderr: Any = None) -> "StdioPeer":
        self.child = await ipfi.spawn([node(), fixture("js_peer.mjs"), "stdio"], data=data, stderr=stderr)
        self.sender, self.receiver, self.link, self.pid = self.child.sender, self.child.receiver, self.child.link, self.child.pid
        self.hello = await self.receiver.recv(timeout=20)
        return self

    async def close(self) -> None:
        await self.child.aclose()


class _ServerProcess:
    """A Node server process of js_peer.mjs that prints ``ready <address>``."""

    async def start(self, *args: str) -> str:
        self.proc = await asyncio.create_subprocess_exec(node(), fixture("js_peer.mjs"), *args, stdout=asyncio.subprocess.PIPE)
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 20)).decode().strip()  # type: ignore[union-attr]
        if not line.startswith("ready "):
            raise RuntimeError(f"the JavaScript server did not start: {line!r}")
        return line[len("ready "):]

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        await self.proc.wait()


class _NodeServerPeer(Peer):
    """A Node server process of js_peer.mjs that Python connects to, in a private directory."""

    def _start(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="ipfi-py-")
        self.server = _ServerProcess()

    async def _attach(self, conn: ipfi.Connection) -> None:
        self.sender, self.receiver, self.link = conn.sender, conn.receiver, conn.link
        self.pid = self.server.proc.pid
        self.hello = await self.receiver.recv(timeout=20)

    async def close(self) -> None:
        self.link.close()
        await self.server.stop()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


class UnixRawPeer(_NodeServerPeer):
    """A Node ``net`` server on a Unix socket, ``connectWire()`` on each connection; Python connects
    a plain socket and runs ``connect_wire`` over an FdWire."""

    kind = "unix-raw"

    async def open(self) -> "UnixRawPeer":
        self._start()
        path = os.path.join(self.dir, "peer.sock")
        await self.server.start("unix-raw", path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        await self._attach(ipfi.connect_wire(ipfi.FdWire(s.detach()), name="node over unix"))
        return self


async def collect(rx: ipfi.Receiver[Any], timeout: float = 10.0) -> List[Any]:
    """Everything until the channel disconnects (in order)."""
    out: List[Any] = []
    while True:
        try:
            out.append(await rx.recv(timeout=timeout))
        except ipfi.ConnectionLostError:
            raise
        except ipfi.DisconnectedError:
            return out


def lost_cause(e: BaseException) -> Optional[Any]:
    return getattr(e, "cause", None)


TLS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "test", "fixtures", "tls")


def tls_file(name: str) -> str:
    return os.path.join(TLS_DIR, name)


def client_tls():
    """A client context that trusts the test CA (test/fixtures/tls)."""
    import ssl
    ctx = ssl.create_default_context(cafile=tls_file("ca.crt"))
    return ctx


def server_tls():
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_file("server.crt"), tls_file("server.key"))
    return ctx


class JsListenPeer(_NodeServerPeer):
    """A Node ``listen()`` server (admission, then a link); Python ``connect()``s to it."""

    def __init__(self, kind: str = "unix", secret: Optional[str] = "let me in") -> None:
        self.kind = kind
        self.secret = secret

    async def open(self) -> "JsListenPeer":
        self._start()
        if self.kind == "unix":
            address = await self.server.start("listen", f"unix:{os.path.join(self.dir, 'node.sock')}", self.secret or "")
            conn = await ipfi.connect(address, secret=self.secret)
        elif self.kind == "tcp":
            address = await self.server.start("listen", "tcp://127.0.0.1:0", self.secret or "")
            conn = await ipfi.connect(address, secret=self.secret)
        else:
            address = await self.server.start("listen-tls", "tls://127.0.0.1:0", tls_file("server.key"), tls_file("server.crt"))
            conn = await ipfi.connect(address, tls=client_tls(), server_hostname="localhost")
        self.address = address
        await self._attach(conn)
        return self


class JsClientPeer(Peer):
    """A Python ``listen()`` server; a Node process ``connect()``s to it and serves the link."""

    def __init__(self, kind: str = "unix", secret: Optional[str] = "let me in") -> None:
        self.kind = kind
        self.secret = secret

    async def open(self) -> "JsClientPeer":
        self.dir = tempfile.mkdtemp(prefix="ipfi-py-")
        where = f"unix:{os.path.join(self.dir, 'py.sock')}" if self.kind == "unix" else "tcp://127.0.0.1:0"
        self.server = await ipfi.listen(where, secret=self.secret)
        self.proc = await asyncio.create_subprocess_exec(node(), fixture("js_peer.mjs"), "connect", self.server.address, self.secret or "")
        peer = await self.server.accept(timeout=20)
        self.sender, self.receiver, self.link = peer.sender, peer.receiver, peer.link
        self.pid = self.proc.pid
        self.hello = await self.receiver.recv(timeout=20)
        return self

    async def close(self) -> None:
        await self.server.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        os.rmdir(self.dir)
