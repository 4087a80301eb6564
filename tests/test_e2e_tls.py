"""
TLS end to end: a real gracehttp server on C{ssl:0:interface=127.0.0.1}
with a certificate made at test time, spoken to by clients that offer ALPN
(curl, httpx, C{ssl.SSLContext.set_alpn_protocols}) for a tiny WSGI and a
tiny ASGI application: HTTP/2 when they offer C{h2} (C{h2} is installed
with the test extra), HTTP/1.1 otherwise; and every way the server closes
an HTTP/1.1 connection, over TLS and over plain TCP.

A close is proven on the server's side: the factory's C{whenDrained()}
fires (no connection left open) within L{WAIT} seconds, which is shorter
than the default C{timeoutClose}, so only a server that reads the client's
close (its FIN, or over TLS its C{close_notify}) passes, not one that
waits for the abort.  Every wait is bounded; nothing sleeps.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
from dataclasses import replace
from unittest import TestCase, skipUnless

import httpx

from .server import (
    LOOPBACK_ANY_PORT,
    makeCertificate,
    serveInProcess,
    startSubprocess,
    tlsEndpoint,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CURL = shutil.which("curl")
WAIT = 5.0
"""
Seconds a test waits for the server to close a connection, for a response,
or for a stop: well under the default C{timeoutClose} (15 s) and graceful
timeout (30 s).
"""

SHORT = 0.5
"""
The head and keep-alive timeouts of the close-path servers, in seconds.
"""

HEAD_LIMIT = 1024
BODY_LIMIT = 1024
CONNECTIONS = 20

BIG = b"x" * (8 * 1024 * 1024)
"""
A response body far larger than the transport's buffer (64 KiB), sent in
one write: the transport still holds most of it when the server closes.
"""

GOOD = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
BAD = b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n"

_certificates = None
KEY = CERT = None
"""
The paths of the test key and certificate, made by L{setUpModule}.
"""


def setUpModule():
    global _certificates, KEY, CERT
    _certificates = tempfile.TemporaryDirectory()
    KEY, CERT = makeCertificate(_certificates.name)


def tearDownModule():
    _certificates.cleanup()


def wsgiApp(environ, start_response):
    if environ["PATH_INFO"] == "/big":
        body = BIG
    else:
        body = b"hello from wsgi over " + environ["wsgi.url_scheme"].encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def asgiApp(scope, receive, send):
    if scope["path"] == "/big":
        body = BIG
    else:
        body = b"hello from asgi over " + scope["scheme"].encode("ascii")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


def clientContext(alpn=None):
    """
    A client context that trusts the test certificate and, if C{alpn} is
    given, offers those ALPN protocols.
    """
    context = ssl.create_default_context(cafile=CERT)
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


def connect(port, tls, alpn=None):
    """
    A client socket to 127.0.0.1:C{port}, over TLS (handshake done) if
    C{tls}; every read times out after L{WAIT} seconds.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    if tls:
        sock = clientContext(alpn).wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def readToEnd(sock):
    """
    Read until the server closes (EOF, or over TLS its close_notify).
    """
    chunks = []
    while chunk := sock.recv(1024 * 1024):
        chunks.append(chunk)
    return b"".join(chunks)


def readResponse(sock):
    """
    Read one response whose body has a Content-Length, without waiting for
    more.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def factoryOf(server):
    return server.service._factory


def stateOf(server):
    return server.service._state


class ALPNTestsMixin:
    """
    Clients that offer ALPN are served HTTP/2 if they offer C{h2}, else
    HTTP/1.1, over TLS, and the application sees the C{https} scheme.
    """

    app = None
    body = None

    @classmethod
    def setUpClass(cls):
        cls.server = serveInProcess(
            cls.app, listen=tlsEndpoint(KEY, CERT), lifespan="off", accessLog="off"
        )
        cls.url = f"https://127.0.0.1:{cls.server.port}/"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def get(self, alpn):
        with connect(self.server.port, True, alpn) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            return sock.selected_alpn_protocol(), readToEnd(sock)

    def test_sslContextOffersHTTP11(self):
        """A client offering http/1.1 alone negotiates it and is served HTTP/1.1."""
        protocol, response = self.get(["http/1.1"])
        self.assertEqual(protocol, "http/1.1")
        self.assertTrue(response.startswith(b"HTTP/1.1 200 OK\r\n"), response[:100])
        self.assertTrue(response.endswith(self.body))

    def test_sslContextOffersH2AndHTTP11(self):
        """A client offering h2 and http/1.1 negotiates h2, the server's first choice."""
        with connect(self.server.port, True, ["h2", "http/1.1"]) as sock:
            self.assertEqual(sock.selected_alpn_protocol(), "h2")

    def test_noALPN(self):
        """A client offering no ALPN is served HTTP/1.1 (none negotiated)."""
        protocol, response = self.get(None)
        self.assertIsNone(protocol)
        self.assertTrue(response.endswith(self.body))

    def test_noCommonProtocolRefused(self):
        """
        A client offering only protocols the server does not speak is
        refused the handshake (RFC 7301 section 3.2), as documented.
        """
        with self.assertRaises(ssl.SSLError):
            self.get(["spdy/3"])

    def test_httpxHTTP2(self):
        """httpx offering h2 is served HTTP/2 over TLS."""
        with httpx.Client(http2=True, verify=clientContext(), timeout=WAIT) as client:
            response = client.get(self.url)
        self.assertEqual((response.http_version, response.status_code), ("HTTP/2", 200))
        self.assertEqual(response.content, self.body)

    def test_httpx(self):
        """httpx (which offers ALPN http/1.1) gets a 200 with http/1.1 negotiated."""
        with httpx.Client(verify=clientContext(), timeout=WAIT) as client:
            with client.stream("GET", self.url) as response:
                stream = response.extensions["network_stream"]
                protocol = stream.get_extra_info("ssl_object").selected_alpn_protocol()
                body = response.read()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(protocol, "http/1.1")
        self.assertEqual(body, self.body)

    @skipUnless(CURL, "no curl")
    def test_curl(self):
        """curl (which offers h2 and http/1.1) reports ALPN h2 accepted and gets the body."""
        result = subprocess.run(
            [CURL, "-sS", "-v", "--max-time", str(WAIT), "--cacert", CERT, self.url],
            capture_output=True,
            timeout=WAIT * 2,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stderr, rb"ALPN[:,] server accepted (to use )?h2")
        self.assertEqual(result.stdout, self.body)

    @skipUnless(CURL, "no curl")
    def test_curlHTTP11(self):
        """curl --http1.1 (which offers http/1.1 alone) has it accepted and gets the body."""
        result = subprocess.run(
            [CURL, "-sS", "-v", "--http1.1", "--max-time", str(WAIT), "--cacert", CERT, self.url],
            capture_output=True,
            timeout=WAIT * 2,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stderr, rb"ALPN[:,] server accepted (to use )?http/1\.1")
        self.assertEqual(result.stdout, self.body)


class WSGIALPNTests(ALPNTestsMixin, TestCase):
    app = staticmethod(wsgiApp)
    body = b"hello from wsgi over https"


class ASGIALPNTests(ALPNTestsMixin, TestCase):
    app = staticmethod(asgiApp)
    body = b"hello from asgi over https"


class ClosePathsMixin:
    """
    Every way the server closes a connection ends with the connection
    closed on the server's side once the client read the answer and
    closed.
    """

    tls = None
    app = None

    @classmethod
    def listen(cls):
        return tlsEndpoint(KEY, CERT) if cls.tls else LOOPBACK_ANY_PORT

    @classmethod
    def setUpClass(cls):
        cls.server = serveInProcess(
            cls.app,
            listen=cls.listen(),
            lifespan="off",
            accessLog="off",
            limitRequestHeaderSize=HEAD_LIMIT,
            limitRequestBody=BODY_LIMIT,
            timeoutHeader=SHORT,
            timeoutKeepAlive=SHORT,
            limitConnections=CONNECTIONS,
        )
        cls.state = stateOf(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def tearDown(self):
        # Whatever a failed test left open must not fail the next one.
        self.server.call(self.state.disconnectAll)
        self.assertDrained()

    def assertDrained(self):
        """
        The server has closed every connection within L{WAIT} seconds.
        """
        try:
            self.server.call(self.state.whenDrained, timeout=WAIT)
        except TimeoutError:
            self.fail(f"{len(self.state.connections)} connection(s) still open after {WAIT} s")

    def exchange(self, request):
        """
        Send C{request}, read until the server closes, then close.

        @return: what was read.
        """
        with connect(self.server.port, self.tls) as sock:
            sock.sendall(request)
            return readToEnd(sock)

    def assertClosedAfter(self, request, status):
        response = self.exchange(request)
        self.assertTrue(response.startswith(b"HTTP/1.1 %d " % status), response[:100])
        self.assertDrained()

    def test_badRequest(self):
        """400 (a bad header field), then the connection closes."""
        self.assertClosedAfter(BAD, 400)

    def test_headTooLarge(self):
        """431 (a head over the limit), then the connection closes."""
        self.assertClosedAfter(
            b"GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %b\r\n\r\n" % (b"p" * HEAD_LIMIT), 431
        )

    def test_bodyTooLarge(self):
        """413 (a Content-Length over the limit), then the connection closes."""
        self.assertClosedAfter(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (BODY_LIMIT + 1), 413
        )

    def test_headTimeout(self):
        """408 (a head not finished in time), then the connection closes."""
        self.assertClosedAfter(b"GET / HTTP/1.1\r\nHost: t\r\n", 408)

    def test_upgrade(self):
        """An Upgrade request is answered as plain HTTP, then the connection closes."""
        self.assertClosedAfter(
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n", 200
        )

    def test_badRequestAfterPipelinedRequest(self):
        """A 400 queued behind a pipelined request is sent after its response, then close."""
        response = self.exchange(GOOD + BAD)
        self.assertTrue(response.startswith(b"HTTP/1.1 200 "), response[:100])
        self.assertIn(b"HTTP/1.1 400 ", response)
        self.assertDrained()

    def test_connectionClose(self):
        """Connection: close: the response, then the connection closes."""
        self.assertClosedAfter(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 200)

    def test_largeResponseThenClose(self):
        """
        Connection: close after a response much larger than the transport's
        buffer: the client gets all of it, then the connection closes.
        """
        response = self.exchange(b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        head, _, body = response.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(len(body), len(BIG))
        self.assertDrained()

    def test_keepAliveTimeout(self):
        """An idle keep-alive connection is closed after the keep-alive timeout."""
        with connect(self.server.port, self.tls) as sock:
            sock.sendall(GOOD)
            self.assertTrue(readResponse(sock).startswith(b"HTTP/1.1 200 "))
            self.assertEqual(readToEnd(sock), b"")
        self.assertDrained()

    def test_connectionLimitNotLockedOut(self):
        """
        With limitConnections 20, 20 bad requests leave no connection open
        and the next client is served.
        """
        for _ in range(CONNECTIONS):
            self.assertTrue(self.exchange(BAD).startswith(b"HTTP/1.1 400 "))
        self.assertDrained()
        response = self.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertTrue(response.startswith(b"HTTP/1.1 200 "), response[:100])


class TLSASGIClosePathTests(ClosePathsMixin, TestCase):
    tls = True
    app = staticmethod(asgiApp)


class TLSWSGIClosePathTests(ClosePathsMixin, TestCase):
    tls = True
    app = staticmethod(wsgiApp)


class TCPASGIClosePathTests(ClosePathsMixin, TestCase):
    tls = False
    app = staticmethod(asgiApp)


class TCPWSGIClosePathTests(ClosePathsMixin, TestCase):
    tls = False
    app = staticmethod(wsgiApp)


class GracefulStopMixin:
    """
    A graceful stop after a rejected request finishes as soon as the
    clients have closed, not after the graceful timeout.
    """

    tls = None

    def test_stopAfterRejection(self):
        """
        After a 400 (client closed) and with an idle keep-alive client that
        closes when the server does, stopService finishes within WAIT
        seconds (the graceful timeout is 30 s).
        """
        server = serveInProcess(
            asgiApp,
            listen=tlsEndpoint(KEY, CERT) if self.tls else LOOPBACK_ANY_PORT,
            lifespan="off",
            accessLog="off",
            gracefulTimeout=30,
        )
        stopped = False
        try:
            with connect(server.port, self.tls) as sock:
                sock.sendall(BAD)
                self.assertTrue(readToEnd(sock).startswith(b"HTTP/1.1 400 "))
            idle = connect(server.port, self.tls)
            idle.sendall(GOOD)
            self.assertTrue(readResponse(idle).startswith(b"HTTP/1.1 200 "))
            seen = []

            def closeWhenClosed():
                with idle:
                    seen.append(readToEnd(idle))

            closer = threading.Thread(target=closeWhenClosed)
            closer.start()
            server.stop(timeout=WAIT)
            stopped = True
            closer.join(WAIT)
            self.assertEqual(seen, [b""])
        finally:
            if not stopped:
                # Let the rest of the stop (graceful timeout, abort) run out
                # in the background.
                server.call(stateOf(server).disconnectAll)


class TLSGracefulStopTests(GracefulStopMixin, TestCase):
    tls = True


class TCPGracefulStopTests(GracefulStopMixin, TestCase):
    tls = False


class CloseTimeoutTests(TestCase):
    """
    A TLS client that never answers the server's close_notify (nor closes)
    does not hold the connection: it is aborted after C{timeoutClose}.
    """

    def test_unansweredCloseNotifyAborted(self):
        """
        A keep-alive client that stays silent after the keep-alive timeout
        closed its connection is aborted timeoutClose (here 0.5 s) later.
        """
        server = serveInProcess(
            asgiApp,
            listen=tlsEndpoint(KEY, CERT),
            lifespan="off",
            accessLog="off",
            timeoutKeepAlive=SHORT,
        )
        try:
            factory = factoryOf(server)

            def shortClose():
                factory.settings = replace(factory.settings, timeoutClose=SHORT)

            server.call(shortClose)
            with connect(server.port, True) as sock:
                sock.sendall(GOOD)
                self.assertTrue(readResponse(sock).startswith(b"HTTP/1.1 200 "))
                # Read nothing more, close nothing: the server must give up.
                server.call(stateOf(server).whenDrained, timeout=WAIT)
        finally:
            server.stop()


class TwistTLSTests(TestCase):
    """
    C{twist gracehttp --listen ssl:...} as a user runs it.
    """

    def test_curlOverTwist(self):
        """twist serves a WSGI app over TLS; curl has ALPN h2 accepted."""
        server = startSubprocess(
            "tests.test_e2e_tls:wsgiApp", cwd=REPO, listen=tlsEndpoint(KEY, CERT)
        )
        try:
            self.assertIn(f"https://127.0.0.1:{server.port}", server.output())
            if CURL is None:
                self.skipTest("no curl")
            result = subprocess.run(
                [
                    CURL,
                    "-sS",
                    "-v",
                    "--max-time",
                    str(WAIT),
                    "--cacert",
                    CERT,
                    f"https://127.0.0.1:{server.port}/",
                ],
                capture_output=True,
                timeout=WAIT * 2,
            )
        finally:
            server.stop()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stderr, rb"ALPN[:,] server accepted (to use )?h2")
        self.assertEqual(result.stdout, b"hello from wsgi over https")

    def test_connectionLimitRefusesCleanly(self):
        """
        Over TLS, a connection past --limit-connections is closed at once,
        without an error logged, and the server keeps serving.
        """
        server = startSubprocess(
            "tests.test_e2e_tls:wsgiApp",
            "--limit-connections",
            "1",
            "--timeout-keep-alive",
            "30",
            cwd=REPO,
            listen=tlsEndpoint(KEY, CERT),
        )
        try:
            with connect(server.port, True) as held:
                held.sendall(GOOD)
                self.assertTrue(readResponse(held).startswith(b"HTTP/1.1 200 "))
                with self.assertRaises((ssl.SSLError, OSError)):
                    with connect(server.port, True) as refused:
                        refused.sendall(GOOD)
                        if not readToEnd(refused):
                            raise ConnectionResetError("closed without an answer")
                held.sendall(GOOD)
                self.assertTrue(readResponse(held).startswith(b"HTTP/1.1 200 "))
        finally:
            server.process.send_signal(signal.SIGTERM)
            server.wait(WAIT * 2)
        self.assertNotIn("Traceback", server.output())
        self.assertNotIn("Unhandled Error", server.output())
