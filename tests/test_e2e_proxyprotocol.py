"""
The PROXY protocol end to end: a real gracehttp server listening on
C{haproxy:tcp:0:interface=127.0.0.1} (and C{haproxy:ssl:...}), raw
sockets that send a version 1 or version 2 header as a load balancer
does, then HTTP/1.1, HTTP/2 (h2c, and ALPN over TLS) or a WebSocket
handshake; a Flask and a FastAPI application say which addresses they
saw.

Every wait is bounded by a socket timeout; nothing sleeps.
"""

import json
import os
import socket
import ssl
import tempfile
from unittest import TestCase

from websockets.sync.client import connect

from .h2peer import SocketPeer, request
from .server import makeCertificate, serveInProcess

FLASK = "tests.apps.flask_app:app"
FASTAPI = "tests.apps.starlette_app:app"
PROXY_TCP = "haproxy:tcp:0:interface=127.0.0.1"
WAIT = 10.0

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(family, source, destination, sourcePort, destinationPort):
    """
    @return: a version 1 header, e.g. C{PROXY TCP4 1.2.3.4 ...\\r\\n}.
    """
    line = f"PROXY {family} {source} {destination} {sourcePort} {destinationPort}\r\n"
    return line.encode("ascii")


def v2(source, destination, sourcePort, destinationPort, command=1):
    """
    @return: a version 2 header (TCP over IPv4 or IPv6, as the addresses
        are), C{command} 1 PROXY or 0 LOCAL, with a type-length-value field
        after the addresses (which the server skips).
    """
    family = socket.AF_INET6 if ":" in source else socket.AF_INET
    familyByte = 0x21 if family == socket.AF_INET6 else 0x11
    body = (
        socket.inet_pton(family, source)
        + socket.inet_pton(family, destination)
        + sourcePort.to_bytes(2, "big")
        + destinationPort.to_bytes(2, "big")
        + b"\x04\x00\x01\x00"  # PP2_TYPE_NOOP, one byte
    )
    return V2_SIGNATURE + bytes([0x20 | command, familyByte]) + len(body).to_bytes(2, "big") + body


def fetch(port, header, path, version="1.1", context=None):
    """
    Send C{header}, then (over TLS if C{context}) C{GET path} with
    C{Connection: close}, and read the answer to its end.

    @return: the status code and the body parsed as JSON, or C{(None,
        b"")} if the server closed without answering.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
        raw.sendall(header)
        sock = raw if context is None else context.wrap_socket(raw, server_hostname="127.0.0.1")
        host = "" if version == "1.0" else "Host: example\r\n"
        sock.sendall(f"GET {path} HTTP/{version}\r\n{host}Connection: close\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    if not received:
        return None, b""
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


class FlaskTests(TestCase):
    """
    A WSGI application behind the PROXY protocol sees the header's
    addresses in C{REMOTE_ADDR}, C{REMOTE_PORT}, C{SERVER_NAME} and
    C{SERVER_PORT}.
    """

    @classmethod
    def setUpClass(cls):
        cls.server = serveInProcess(FLASK, listen=PROXY_TCP, accessLog="off")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_v1TCP4(self):
        """A version 1 TCP4 header's source is REMOTE_ADDR and REMOTE_PORT."""
        header = v1("TCP4", "1.2.3.4", "10.0.0.5", 56324, 443)
        status, seen = fetch(self.server.port, header, "/peer")
        self.assertEqual(status, 200)
        self.assertEqual((seen["REMOTE_ADDR"], seen["REMOTE_PORT"]), ("1.2.3.4", "56324"))

    def test_v2TCP6ServerAddress(self):
        """
        A version 2 TCP6 header's source is the client, and its destination
        the SERVER_NAME and SERVER_PORT of a request without Host.
        """
        header = v2("2001:db8::1", "2001:db8::2", 40000, 8443)
        status, seen = fetch(self.server.port, header, "/peer", version="1.0")
        self.assertEqual(status, 200)
        self.assertEqual(
            seen,
            {
                "REMOTE_ADDR": "2001:db8::1",
                "REMOTE_PORT": "40000",
                "SERVER_NAME": "2001:db8::2",
                "SERVER_PORT": "8443",
            },
        )

    def test_v2Local(self):
        """A version 2 LOCAL header leaves the connection's own addresses."""
        header = v2("1.2.3.4", "10.0.0.5", 1, 2, command=0)
        status, seen = fetch(self.server.port, header, "/peer")
        self.assertEqual(status, 200)
        self.assertEqual(seen["REMOTE_ADDR"], "127.0.0.1")

    def test_v1Unknown(self):
        """A version 1 UNKNOWN header leaves the connection's own addresses."""
        status, seen = fetch(self.server.port, b"PROXY UNKNOWN\r\n", "/peer")
        self.assertEqual(status, 200)
        self.assertEqual(seen["REMOTE_ADDR"], "127.0.0.1")

    def test_malformedClosedServerServes(self):
        """
        A malformed header, or none, closes the connection without an
        answer; the server goes on serving.
        """
        for header in (
            b"PROXY TCP4 999.1.2.3 10.0.0.5 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 10.0.0.5 1\r\n",
            v2("1.2.3.4", "10.0.0.5", 1, 2)[:13] + b"\x99" + v2("1.2.3.4", "10.0.0.5", 1, 2)[14:],
            b"",
        ):
            with self.subTest(header=header):
                self.assertEqual(fetch(self.server.port, header, "/peer"), (None, b""))
        status, seen = fetch(self.server.port, v1("TCP4", "5.6.7.8", "10.0.0.5", 9, 80), "/peer")
        self.assertEqual((status, seen["REMOTE_ADDR"]), (200, "5.6.7.8"))


class FastAPITests(TestCase):
    """
    An ASGI application behind the PROXY protocol sees the header's
    addresses in C{scope["client"]} and C{scope["server"]}, over HTTP/1.1,
    a WebSocket session and h2c.
    """

    @classmethod
    def setUpClass(cls):
        cls.server = serveInProcess(FASTAPI, listen=PROXY_TCP, accessLog="off", h2c=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_v1TCP6(self):
        """A version 1 TCP6 header's addresses are the scope's client and server."""
        header = v1("TCP6", "2001:db8::7", "2001:db8::8", 1234, 443)
        status, seen = fetch(self.server.port, header, "/peer")
        self.assertEqual(status, 200)
        self.assertEqual(seen, {"client": ["2001:db8::7", 1234], "server": ["2001:db8::8", 443]})

    def test_v2TCP4(self):
        """A version 2 TCP4 header's addresses are the scope's client and server."""
        header = v2("1.2.3.4", "10.0.0.5", 56324, 443)
        status, seen = fetch(self.server.port, header, "/peer")
        self.assertEqual(status, 200)
        self.assertEqual(seen, {"client": ["1.2.3.4", 56324], "server": ["10.0.0.5", 443]})

    def test_webSocket(self):
        """A WebSocket session's scope has the header's client and server."""
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=WAIT)
        sock.sendall(v2("1.2.3.4", "10.0.0.5", 56324, 443))
        with connect(f"ws://127.0.0.1:{self.server.port}/ws/peer", sock=sock) as ws:
            seen = json.loads(ws.recv(timeout=WAIT))
        self.assertEqual(seen, {"client": ["1.2.3.4", 56324], "server": ["10.0.0.5", 443]})

    def test_h2c(self):
        """An h2c connection's streams have the header's client and server."""
        peer = SocketPeer(self.server.port, prefix=v1("TCP4", "1.2.3.4", "10.0.0.5", 5, 80))
        self.addCleanup(peer.close)
        streamId = peer.send(request(path=b"/peer", scheme=b"http"))
        peer.waitFor(lambda: peer.responses().get(streamId, {}).get("ended"))
        seen = json.loads(peer.responses()[streamId]["body"])
        self.assertEqual(seen, {"client": ["1.2.3.4", 5], "server": ["10.0.0.5", 80]})


class TLSTests(TestCase):
    """
    C{haproxy:ssl:...}: the header comes before the TLS handshake, as load
    balancers send it; HTTP/1.1 and HTTP/2 (ALPN) both see its addresses.
    """

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        keyPath, certPath = makeCertificate(cls.directory.name)
        cls.certPath = certPath
        cls.context = ssl.create_default_context(cafile=certPath)
        listen = f"haproxy:ssl:0:interface=127.0.0.1:privateKey={keyPath}:certKey={certPath}"
        cls.server = serveInProcess(FASTAPI, listen=listen, accessLog="off")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.directory.cleanup()

    def test_http11(self):
        """HTTP/1.1 over TLS after a header sees the header's client."""
        header = v2("1.2.3.4", "10.0.0.5", 56324, 443)
        status, seen = fetch(self.server.port, header, "/peer", context=self.context)
        self.assertEqual(status, 200)
        self.assertEqual(seen["client"], ["1.2.3.4", 56324])

    def test_http2(self):
        """HTTP/2 chosen by ALPN after a header sees the header's client."""
        context = ssl.create_default_context(cafile=self.certPath)
        peer = SocketPeer(
            self.server.port, context, prefix=v1("TCP4", "1.2.3.4", "10.0.0.5", 5, 443)
        )
        self.addCleanup(peer.close)
        streamId = peer.send(request(path=b"/peer", authority=b"127.0.0.1"))
        peer.waitFor(lambda: peer.responses().get(streamId, {}).get("ended"))
        seen = json.loads(peer.responses()[streamId]["body"])
        self.assertEqual(seen["client"], ["1.2.3.4", 5])


class AccessLogTests(TestCase):
    """
    The access log's client is the header's source.
    """

    def test_accessLogClient(self):
        """The access log names the header's client, not the balancer."""
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "access.log")
            server = serveInProcess(
                FLASK, listen=PROXY_TCP, accessLog=path, accessLogFormat="{client} {status}"
            )
            try:
                status, _ = fetch(server.port, v1("TCP4", "1.2.3.4", "10.0.0.5", 7, 80), "/peer")
                self.assertEqual(fetch(server.port, b"PROXY TCP9\r\n", "/peer"), (None, b""))
            finally:
                server.stop()
            with open(path) as f:
                lines = f.read().splitlines()
        self.assertEqual((status, lines), (200, ["1.2.3.4 200"]))
