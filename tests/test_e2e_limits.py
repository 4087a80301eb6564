"""
The HTTP layer's limits, timeouts and strictness end to end: a real
gracehttp server in this process (L{tests.server.startInProcess}) on
127.0.0.1, spoken to with raw sockets, for a tiny WSGI and a tiny ASGI
application.

Waits are on the server's answer (a socket read with a timeout) or on
events the applications set, never fixed sleeps.
"""

import asyncio
import socket
import threading
import time
from unittest import TestCase

from .server import startInProcess

HEAD_LIMIT = 8192
TIMEOUT = 0.5
GRACE = 0.2
BODY_LIMIT = 256 * 1024
PART_BODY = 64 * 1024 + 8 * 1024
"""
Body bytes larger than the server's body buffer (64 KiB) by less than what
it reads on while paused (16 KiB).
"""

SETTINGS = dict(
    limitRequestHeaderSize=HEAD_LIMIT,
    limitRequestBody=BODY_LIMIT,
    timeoutHeader=TIMEOUT,
    timeoutKeepAlive=TIMEOUT,
    limitConcurrency=1,
    disconnectGracePeriod=GRACE,
    proxyHeaders=True,
    forwardedAllowIPs=("127.0.0.1",),
    accessLog="off",
    lifespan="off",
)


class Recorder:
    """
    What the applications saw: the paths they were called for, and events
    tests wait on.
    """

    def __init__(self):
        self.paths = []
        self.holding = threading.Event()
        self.released = threading.Event()
        self.told = threading.Event()

    def reset(self):
        self.__init__()


def makeWSGIApp(recorder):
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        recorder.paths.append(path)
        if path == "/hold":
            recorder.holding.set()
            environ["gracehttp.disconnected"].wait(10)
            recorder.released.set()
            body = b"late"
        elif path == "/ignore-body":
            # Never reads the body; only learns that the client left.
            recorder.holding.set()
            if environ["gracehttp.disconnected"].wait(10):
                recorder.told.set()
            body = b"done"
        elif path == "/echo":
            body = environ["wsgi.input"].read()
        elif path == "/upload":
            try:
                environ["wsgi.input"].read()
            except OSError:
                recorder.told.set()
                raise
            body = b"uploaded"
        elif path == "/client":
            body = f"{environ.get('REMOTE_ADDR')} {environ['wsgi.url_scheme']}".encode()
        else:
            body = b"hello"
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    return app


def makeASGIApp(recorder):
    async def app(scope, receive, send):
        path = scope["path"]
        recorder.paths.append(path)
        if path == "/hold":
            recorder.holding.set()
            while (await receive())["type"] != "http.disconnect":
                pass
            recorder.released.set()
            return
        if path == "/ignore-body":
            # Never reads the body; only learns that the client left through
            # cancellation after the grace period.
            recorder.holding.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                recorder.told.set()
                raise
            body = b"done"
        elif path == "/echo":
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
        elif path == "/upload":
            message = {"more_body": True}
            while message.get("more_body"):
                message = await receive()
                if message["type"] == "http.disconnect":
                    recorder.told.set()
                    return
            body = b"uploaded"
        elif path == "/client":
            body = f"{scope['client'][0]} {scope['scheme']}".encode()
        else:
            body = b"hello"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def readAll(s, timeout=5.0):
    """
    Read until the server closes the connection (or C{timeout} seconds).

    @return: C{(data, closed)}
    """
    s.settimeout(timeout)
    chunks = []
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return b"".join(chunks), True
            chunks.append(data)
    except TimeoutError:
        return b"".join(chunks), False
    except ConnectionResetError:
        return b"".join(chunks), True


def readResponse(s):
    """
    Read one response with a Content-Length body.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += s.recv(65536)
    return head, body


class LimitsMixin:
    makeApp = None

    @classmethod
    def setUpClass(cls):
        cls.recorder = Recorder()
        _host, cls.port, cls.stop = startInProcess(cls.makeApp(cls.recorder), **SETTINGS)

    @classmethod
    def tearDownClass(cls):
        cls.stop()

    def setUp(self):
        # The application of the test before may still be finishing (its
        # events are set before it returns): wait until a request is served,
        # so that it has left the concurrency count and sets no event of
        # this test.
        self.assertServing()
        self.recorder.reset()

    def get(self, path=b"/", extra=b""):
        s = connect(self.port)
        s.sendall(b"GET %b HTTP/1.1\r\nHost: t\r\n%b\r\n" % (path, extra))
        try:
            return readResponse(s)
        finally:
            s.close()

    def assertServing(self):
        """
        A new connection is answered 200 (the server keeps serving); the
        previous request may take a moment to leave the concurrency count.
        """
        deadline = time.monotonic() + 5
        while True:
            head, body = self.get()
            if head.startswith(b"HTTP/1.1 200 ") or time.monotonic() > deadline:
                break
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(body, b"hello")

    def test_headTooLargeSingleWrite(self):
        """
        A 100 KiB head sent in one write gets 431 and a close; the server
        keeps serving.
        """
        s = connect(self.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n")
        data, closed = readAll(s)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 431 "), data[:60])
        self.assertTrue(closed)
        self.assertEqual(self.recorder.paths, [])
        self.assertServing()

    def test_bodyTooLarge(self):
        """
        A Content-Length over the limit gets 413 before the application
        starts; so does a chunked body once it goes over.
        """
        s = connect(self.port)
        s.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (BODY_LIMIT + 1)
        )
        data, closed = readAll(s)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:60])
        self.assertTrue(closed)
        self.assertEqual(self.recorder.paths, [])
        s = connect(self.port)
        s.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n%b\r\n" % (BODY_LIMIT + 1, b"c" * (BODY_LIMIT + 1))
        )
        data, closed = readAll(s)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:60])
        self.assertTrue(closed)
        self.assertServing()

    def test_stalledBody(self):
        """
        A body that stops arriving for timeoutHeader seconds ends the
        request the same way on both interfaces: the application is told
        the client is gone, the client gets 408 and the connection closes.
        """
        s = connect(self.port)
        s.sendall(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"u" * 1000
        )
        data, closed = readAll(s)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:60])
        self.assertTrue(closed)
        self.assertTrue(self.recorder.told.wait(5))
        self.assertServing()

    def test_slowloris(self):
        """
        A client that keeps sending one byte of its head every 50 ms is
        answered 408 and closed about timeoutHeader seconds after it
        connected.
        """
        s = connect(self.port)
        start = time.monotonic()
        head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 1000
        data = b""
        s.settimeout(0.05)
        for index in range(200):
            try:
                s.send(head[index : index + 1])
                data = s.recv(65536)
                break
            except TimeoutError:
                continue
            except OSError:
                break
        elapsed = time.monotonic() - start
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:60])
        self.assertGreaterEqual(elapsed, TIMEOUT * 0.9)
        self.assertLess(elapsed, TIMEOUT + 2)
        self.assertServing()

    def test_keepAliveTimeout(self):
        """
        An idle kept-alive connection is closed by the server after about
        timeoutKeepAlive seconds, without a response.
        """
        s = connect(self.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        head, _body = readResponse(s)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "))
        start = time.monotonic()
        data, closed = readAll(s)
        elapsed = time.monotonic() - start
        s.close()
        self.assertTrue(closed)
        self.assertEqual(data, b"")
        self.assertGreaterEqual(elapsed, TIMEOUT * 0.9)
        self.assertLess(elapsed, TIMEOUT + 2)

    def test_concurrencyLimit(self):
        """
        With one request in flight (limitConcurrency=1) another is answered
        503 with Retry-After; once it ends requests are served again.
        """
        holder = connect(self.port)
        holder.sendall(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertTrue(self.recorder.holding.wait(5))
        head, _ = self.get()
        self.assertTrue(head.startswith(b"HTTP/1.1 503 "), head)
        self.assertIn(b"retry-after: 1", head.lower())
        holder.close()
        self.assertTrue(self.recorder.released.wait(5))
        self.assertServing()

    def test_smuggling(self):
        """
        A request with both Content-Length and Transfer-Encoding gets 400 and
        a close; the request hidden behind it never reaches the application.
        """
        s = connect(self.port)
        s.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        data, closed = readAll(s)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:60])
        self.assertTrue(closed)
        self.assertNotIn("/smuggled", self.recorder.paths)
        self.assertServing()

    def test_proxyHeaders(self):
        """
        From a trusted peer (127.0.0.1) X-Forwarded-For and -Proto become
        the client address and scheme the application sees.
        """
        _head, body = self.get(
            b"/client", b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"
        )
        self.assertEqual(body, b"203.0.113.7 https")

    def test_closeNoticedWhileBodyUnread(self):
        """
        A client that sends somewhat more body than the server buffers and
        closes before the end, while the application reads none of it, is
        noticed: the application is told.
        """
        s = connect(self.port)
        s.sendall(
            b"POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (PART_BODY * 2)
            + b"x" * PART_BODY
        )
        # Once started (a WSGI request whose client left before a thread
        # took it is never started at all).
        self.assertTrue(self.recorder.holding.wait(5))
        s.close()
        self.assertTrue(self.recorder.told.wait(5))


class WSGILimitsTests(LimitsMixin, TestCase):
    makeApp = staticmethod(makeWSGIApp)

    def test_stalledBodyRead408(self):
        """
        A body that stops arriving while the application reads it is
        answered 408 with exactly one C{connection: close}, and the
        connection closes.
        """
        s = connect(self.port)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        data, closed = readAll(s)
        s.close()
        head = data.partition(b"\r\n\r\n")[0]
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:60])
        self.assertEqual(head.lower().count(b"\r\nconnection: close"), 1, head)
        self.assertTrue(closed)
        self.assertEqual(self.recorder.paths, ["/echo"])
        self.assertServing()

    def test_chunkedOverLimitWhileSpooling(self):
        """
        A chunked body that goes over the limit while it is being spooled
        gets 413 and a close; the application never starts.
        """
        s = connect(self.port)
        s.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        # Spooling starts at once and says so: the body is wanted now.
        self.assertEqual(s.recv(65536), b"HTTP/1.1 100 Continue\r\n\r\n")
        part = b"%x\r\n%b\r\n" % (100 * 1024, b"c" * (100 * 1024))
        for _ in range(3):
            s.sendall(part)
        data, closed = readAll(s)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:60])
        self.assertTrue(closed)
        self.assertEqual(self.recorder.paths, [])
        self.assertServing()

    def test_chunkedStallWhileSpooling408(self):
        """
        A chunked body that stops arriving while it is being spooled gets
        408 with one C{connection: close}; the application never starts.
        """
        s = connect(self.port)
        s.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        data, closed = readAll(s)
        s.close()
        head = data.partition(b"\r\n\r\n")[0]
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:60])
        self.assertEqual(head.lower().count(b"\r\nconnection: close"), 1, head)
        self.assertTrue(closed)
        self.assertEqual(self.recorder.paths, [])
        self.assertServing()


class ASGILimitsTests(LimitsMixin, TestCase):
    makeApp = staticmethod(makeASGIApp)
