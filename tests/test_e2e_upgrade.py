"""
The protocol switch end to end: a real gracehttp server (in process, on
C{127.0.0.1}, over plain TCP and over TLS) whose factory has a protocol
switch that hands an C{Upgrade: echo} connection to an echo protocol, and
a real socket client that upgrades, is echoed, and closes.  Every wait is
bounded; nothing sleeps.
"""

import socket
import ssl
import tempfile
from unittest import TestCase

from .server import LOOPBACK_ANY_PORT, makeCertificate, serveInProcess, tlsEndpoint
from .test_http11_upgrade import SWITCHED, EchoSwitch

WAIT = 5.0
"""
Seconds a test waits for an answer, or for the server to close.
"""

REQUEST = b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"

_certificates = None
KEY = CERT = None


def setUpModule():
    global _certificates, KEY, CERT
    _certificates = tempfile.TemporaryDirectory()
    KEY, CERT = makeCertificate(_certificates.name)


def tearDownModule():
    _certificates.cleanup()


def app(environ, start_response):
    body = b"plain http"
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def readExactly(sock, size):
    """
    Read C{size} bytes (each read times out after L{WAIT} seconds).
    """
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class UpgradeTestsMixin:
    tls = None

    @classmethod
    def setUpClass(cls):
        listen = tlsEndpoint(KEY, CERT) if cls.tls else LOOPBACK_ANY_PORT
        cls.server = serveInProcess(
            app, listen=listen, lifespan="off", accessLog="off", interface="wsgi"
        )
        cls.switch = EchoSwitch()
        cls.server.call(setattr, cls.server.service._factory, "protocolSwitch", cls.switch)
        cls.state = cls.server.service._state

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=WAIT)
        if self.tls:
            context = ssl.create_default_context(cafile=CERT)
            sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
        return sock

    def test_upgradeAndEcho(self):
        """
        The client gets the new protocol's 101 and its echo of what it
        sent with the request and after it; when it closes, the server's
        side closes too (no connection is left open).
        """
        with self.connect() as sock:
            sock.sendall(REQUEST + b"first")
            self.assertEqual(readExactly(sock, len(SWITCHED) + 5), SWITCHED + b"first")
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            self.assertEqual(readExactly(sock, 18), b"GET / HTTP/1.1\r\n\r\n")
        self.server.call(self.state.whenDrained, timeout=WAIT)
        self.assertEqual(self.server.call(len, self.switch.offered), 1)


class TCPUpgradeTests(UpgradeTestsMixin, TestCase):
    tls = False


class TLSUpgradeTests(UpgradeTestsMixin, TestCase):
    tls = True
