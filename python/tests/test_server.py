"""listen() and connect(): admission (PROTOCOL §3: secret both ways, capacity, a client that says
nothing or is not ipfi), private Unix socket files, TCP, TLS with and without client certificates,
and refusals across languages. (Channels over these links: test_interop.py.)"""
from __future__ import annotations

import asyncio
import os
import socket
import ssl
import stat
import tempfile
import unittest
from typing import Any, List

import ipfi
from tests.peers import client_tls, server_tls, tls_file
from tests.support import fixture, node, run


def sock_path() -> str:
    return os.path.join(tempfile.mkdtemp(prefix="ipfi-py-"), "s.sock")


class Admission(unittest.TestCase):
    def test_a_shared_secret_admits_and_refuses_and_never_crosses_the_wire(self) -> None:
        async def main() -> None:
            rejected: List[Any] = []
            server = await ipfi.listen(f"unix:{sock_path()}", secret="let me in", on_reject=lambda e, who: rejected.append(e))
            client = await ipfi.connect(server.address, secret="let me in")
            peer = await server.accept(timeout=5)
            peer.sender.send("welcome")
            self.assertEqual(await client.receiver.recv(timeout=5), "welcome")
            with self.assertRaises(ipfi.AuthenticationError) as e:
                await ipfi.connect(server.address, secret="wrong")
            self.assertIn("refused the shared secret", str(e.exception))
            with self.assertRaises(ipfi.AuthenticationError) as e:
                await ipfi.connect(server.address)
            self.assertIn("requires a shared secret", str(e.exception))
            await asyncio.sleep(0.05)
            self.assertEqual([type(r) for r in rejected], [ipfi.AuthenticationError] * 2)
            await server.close()
            with self.assertRaises(ipfi.DisconnectedError) as e2:
                await client.receiver.recv(timeout=5)
            self.assertNotIsInstance(e2.exception, ipfi.ConnectionLostError)
        run(main())

    def test_a_client_with_a_secret_refuses_a_server_that_checks_none(self) -> None:
        async def main() -> None:
            server = await ipfi.listen(f"unix:{sock_path()}")
            with self.assertRaises(ipfi.AuthenticationError) as e:
                await ipfi.connect(server.address, secret="s")
            self.assertIn("refusing an unauthenticated server", str(e.exception))
            await server.close()
        run(main())

    def test_a_full_server_refuses_with_a_clear_error_and_takes_clients_again_once_one_left(self) -> None:
        async def main() -> None:
            server = await ipfi.listen(f"unix:{sock_path()}", max_clients=1)
            first = await ipfi.connect(server.address)
            with self.assertRaises(ipfi.AuthenticationError) as e:
                await ipfi.connect(server.address)
            self.assertIn("maximum number of clients", str(e.exception))
            first.close()
            peer = await server.accept(timeout=5)
            await peer.closed
            again = await ipfi.connect(server.address)
            self.assertIsNot(await server.accept(timeout=5), peer)
            again.close()
            await server.close()
        run(main())

    def test_a_client_that_says_nothing_is_closed_after_the_handshake_timeout(self) -> None:
        async def main() -> None:
            rejected: List[Any] = []
            server = await ipfi.listen(f"unix:{sock_path()}", handshake_timeout=0.2, on_reject=lambda e, who: rejected.append((e, who)))
            reader, writer = await asyncio.open_unix_connection(server.address[5:])
            offer = await reader.readexactly(39)
            self.assertEqual(offer[:7], b"IPFA\x01\x00\x00")
            self.assertEqual(await asyncio.wait_for(reader.read(), 5), b"")  # closed by the server
            writer.close()
            self.assertIsInstance(rejected[0][0], ipfi.TimeoutError)
            self.assertEqual(server.clients, 0)
            await server.close()
        run(main())

    def test_a_client_that_is_not_ipfi(self) -> None:
        async def main() -> None:
            server = await ipfi.listen(f"unix:{sock_path()}")
            reader, writer = await asyncio.open_unix_connection(server.address[5:])
            await reader.readexactly(39)
            writer.write(b"GET / HTTP/1.1\r\n" + bytes(54))
            verdict = await reader.readexactly(38)
            self.assertEqual(verdict[:6], b"IPFA\x01\x04")
            self.assertEqual(await reader.read(), b"")
            writer.close()
            await server.close()
        run(main())

    def test_connecting_where_nothing_listens_or_to_something_that_is_not_an_ipfi_server(self) -> None:
        async def main() -> None:
            with self.assertRaises(ipfi.DisconnectedError):
                await ipfi.connect(f"unix:{sock_path()}")

            async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n" + bytes(20))
                await writer.drain()
                writer.close()
            plain = await asyncio.start_server(http, "127.0.0.1", 0)
            port = plain.sockets[0].getsockname()[1]
            with self.assertRaises(ipfi.AuthenticationError):
                await ipfi.connect(f"tcp://127.0.0.1:{port}")
            plain.close()
            await plain.wait_closed()
        run(main())

    def test_bad_arguments(self) -> None:
        async def main() -> None:
            for bad in ["http://x:1", "tcp://x", "unix:", "tcp://127.0.0.1:70000"]:
                with self.assertRaises(ValueError):
                    await ipfi.listen(bad)
            with self.assertRaises(TypeError):
                await ipfi.listen("tls://127.0.0.1:0")
            with self.assertRaises(ValueError):
                await ipfi.listen("tcp://127.0.0.1:0", secret="")
            with self.assertRaises(ValueError):
                await ipfi.listen("tcp://127.0.0.1:0", max_clients=0)
        run(main())


class UnixSockets(unittest.TestCase):
    def test_private_files_stale_replaced_live_refused(self) -> None:
        async def main() -> None:
            base = tempfile.mkdtemp(prefix="ipfi-py-")
            path = os.path.join(base, "made", "s.sock")
            server = await ipfi.listen(f"unix:{path}")
            self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode), 0o700)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with self.assertRaises(ipfi.AddressInUseError):
                await ipfi.listen(f"unix:{path}")
            await server.close()
            self.assertFalse(os.path.exists(path))
            stale = socket.socket(socket.AF_UNIX)
            stale.bind(path)  # a socket file whose server is gone
            stale.close()
            server = await ipfi.listen(f"unix:{path}")
            await server.close()
            with open(path, "w") as f:
                f.write("not a socket")
            with self.assertRaises(ipfi.AddressInUseError):
                await ipfi.listen(f"unix:{path}")
            os.chmod(os.path.dirname(path), 0o777)
            os.unlink(path)
            with self.assertRaises(PermissionError):
                await ipfi.listen(f"unix:{path}")
        run(main())


class Tls(unittest.TestCase):
    def test_tls_with_a_trusted_server(self) -> None:
        async def main() -> None:
            server = await ipfi.listen("tls://127.0.0.1:0", tls=server_tls(), secret="both")
            client = await ipfi.connect(server.address, tls=client_tls(), server_hostname="localhost", secret="both")
            peer = await server.accept(timeout=5)
            tx, rx = ipfi.channel()
            client.sender.send({"reply": tx})
            (await peer.receiver.recv(timeout=5))["reply"].send("over TLS")
            self.assertEqual(await rx.recv(timeout=5), "over TLS")
            with self.assertRaises(ipfi.AuthenticationError):
                await ipfi.connect(server.address, server_hostname="localhost")  # the system store does not trust the test CA
            await server.close()
        run(main())

    def test_client_certificates(self) -> None:
        async def main() -> None:
            ctx = server_tls()
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(tls_file("ca.crt"))
            rejected: List[Any] = []
            server = await ipfi.listen("tls://127.0.0.1:0", tls=ctx, on_reject=lambda e, who: rejected.append(e))
            good = client_tls()
            good.load_cert_chain(tls_file("client.crt"), tls_file("client.key"))
            client = await ipfi.connect(server.address, tls=good, server_hostname="localhost")
            peer = await server.accept(timeout=5)
            self.assertIn("certificate", peer.remote)
            rogue = client_tls()
            rogue.load_cert_chain(tls_file("rogue-client.crt"), tls_file("rogue-client.key"))
            with self.assertRaises((ipfi.AuthenticationError, ipfi.DisconnectedError)):
                c = await ipfi.connect(server.address, tls=rogue, server_hostname="localhost", timeout=5)
                await c.receiver.recv(timeout=5)  # TLS 1.3: the refusal may come after the handshake
            client.close()
            await server.close()
        run(main())


class AcrossLanguages(unittest.TestCase):
    def test_a_javascript_client_with_the_wrong_secret_is_refused_by_a_python_server(self) -> None:
        async def main() -> None:
            rejected: List[Any] = []
            server = await ipfi.listen(f"unix:{sock_path()}", secret="right", on_reject=lambda e, who: rejected.append(e))
            proc = await asyncio.create_subprocess_exec(node(), fixture("js_peer.mjs"), "connect", server.address, "wrong",
                                                        stderr=asyncio.subprocess.PIPE)
            _, err = await asyncio.wait_for(proc.communicate(), 20)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn(b"AuthenticationError", err)
            self.assertIn("wrong shared secret", str(rejected[0]))
            await server.close()
        run(main())

    def test_a_python_client_with_the_wrong_secret_is_refused_by_a_javascript_server(self) -> None:
        async def main() -> None:
            path = sock_path()
            proc = await asyncio.create_subprocess_exec(node(), fixture("js_peer.mjs"), "listen", f"unix:{path}", "right",
                                                        stdout=asyncio.subprocess.PIPE)
            line = await asyncio.wait_for(proc.stdout.readline(), 20)  # type: ignore[union-attr]
            self.assertTrue(line.startswith(b"ready "))
            with self.assertRaises(ipfi.AuthenticationError):
                await ipfi.connect(f"unix:{path}", secret="wrong")
            with self.assertRaises(ipfi.AuthenticationError):
                await ipfi.connect(f"unix:{path}")
            ok = await ipfi.connect(f"unix:{path}", secret="right")
            self.assertEqual((await ok.receiver.recv(timeout=10))["hello"], "from node")
            ok.close()
            proc.terminate()
            await proc.wait()
        run(main())


if __name__ == "__main__":
    unittest.main()
