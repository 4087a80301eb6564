"""
End-to-end tests of the graceful shutdown: C{twist gracehttp} in a child
process (L{tests.server.startSubprocess}) with a request in flight gets
SIGTERM or SIGINT.

This module doubles as the application module for the children: keep its
imports light and free of the reactor.
"""

import asyncio
import os
import signal
import socket
import sys
import threading
import time
import unittest

from .server import startSubprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SLOW = 1.0
"""
Seconds the slow request takes.
"""

TIMEOUT = 30.0
"""
Seconds any wait in these tests may take before it fails (a safety net,
not a timing assumption).
"""


def _mark(text):
    sys.stderr.write(f"MARK {text}\n")
    sys.stderr.flush()


async def asgiApp(scope, receive, send):
    """
    C{/slow} answers after L{SLOW} seconds (C{/forever}: an hour), anything
    else at once; the lifespan shutdown leaves a mark on stderr.
    """
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _mark("lifespan shutdown ran")
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path in ("/slow", "/forever"):
        _mark(f"{path} started")
        await asyncio.sleep(SLOW if path == "/slow" else 3600)
    body = f"done {path}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


def wsgiApp(environ, start_response):
    """
    The WSGI twin of L{asgiApp} (no lifespan).
    """
    path = environ["PATH_INFO"]
    if path in ("/slow", "/forever"):
        _mark(f"{path} started")
        time.sleep(SLOW if path == "/slow" else 3600)
    body = f"done {path}".encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def request(port, path, keepAlive=False):
    """
    Send one GET; return the socket (to read the answer from) without
    waiting.
    """
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    connection = b"keep-alive" if keepAlive else b"close"
    s.sendall(
        b"GET %s HTTP/1.1\r\nHost: test\r\nConnection: %s\r\n\r\n" % (path.encode(), connection)
    )
    return s


def readAll(s):
    """
    Read until the server closes the connection.
    """
    data = b""
    with s:
        while chunk := s.recv(65536):
            data += chunk
    return data


class InBackground:
    """
    Run a call on a thread and keep its result.
    """

    def __init__(self, f, *args):
        self.result = None
        self._thread = threading.Thread(target=self._run, args=(f, *args), daemon=True)
        self._thread.start()

    def _run(self, f, *args):
        try:
            self.result = f(*args)
        except BaseException as e:
            self.result = e

    def join(self):
        self._thread.join(TIMEOUT)
        return self.result


class GracefulShutdownMixin:
    """
    The shutdown scenario, run for one application (C{appRef}).
    """

    appRef = None

    def assertClosedWithoutAnswer(self, result):
        """
        The server closed (or reset) the connection without a response.
        """
        if not isinstance(result, ConnectionResetError):
            self.assertEqual(result, b"")

    def start(self, *args):
        server = startSubprocess(self.appRef, "--access-log", "off", *args, cwd=REPO)
        self.addCleanup(server.stop)
        return server

    def sigtermScenario(self):
        """
        SIGTERM with a 1 s request in flight, an idle keep-alive connection
        and a new connection attempt during the drain.

        @return: the process's output.
        """
        server = self.start()
        # An idle keep-alive connection, closed by the stop.
        idle = request(server.port, "/quick", keepAlive=True)
        self.assertIn(b"done /quick", idle.recv(65536))
        slow = InBackground(readAll, request(server.port, "/slow"))
        server.waitFor("MARK /slow started", TIMEOUT)
        server.process.send_signal(signal.SIGTERM)
        server.waitFor("gracehttp stopping: waiting up to 30.0 s for 1 request", TIMEOUT)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT).close()
        with idle:
            self.assertEqual(idle.recv(65536), b"")
        response = slow.join()
        self.assertIsInstance(response, bytes, server.output())
        self.assertTrue(response.startswith(b"HTTP/1.1 200 "), server.output())
        self.assertTrue(response.endswith(b"done /slow"), response)
        self.assertEqual(server.wait(TIMEOUT), 0, server.output())
        output = server.output()
        self.assertIn("gracehttp stopped", output)
        self.assertNotIn("Traceback", output)
        return output

    def test_sigtermDrains(self):
        """
        SIGTERM with a 1 s request in flight: it gets 200, idle and new connections are closed or
        refused, exit 0.
        """
        self.sigtermScenario()

    def gracefulTimeoutScenario(self):
        """
        SIGTERM while a request that never ends is in flight, with a short
        graceful timeout and no disconnect grace period.

        @return: the process, and the L{InBackground} reading the request's
            answer.
        """
        server = self.start("--graceful-timeout", "0.2", "--disconnect-grace-period", "0")
        forever = InBackground(readAll, request(server.port, "/forever"))
        server.waitFor("MARK /forever started", TIMEOUT)
        server.process.send_signal(signal.SIGTERM)
        server.waitFor(
            r"1 request\(s\) still running on 1 connection\(s\) "
            r"after the graceful timeout of 0.2 s",
            TIMEOUT,
        )
        return server, forever

    def test_secondInterruptExitsAtOnce(self):
        """A second SIGINT during the drain ends the process at once (status 130)."""
        server = self.start()
        stuck = InBackground(readAll, request(server.port, "/forever"))
        server.waitFor("MARK /forever started", TIMEOUT)
        server.process.send_signal(signal.SIGINT)
        server.waitFor("gracehttp stopping: waiting up to 30.0 s", TIMEOUT)
        server.process.send_signal(signal.SIGINT)
        self.assertEqual(server.wait(TIMEOUT), 130, server.output())
        self.assertIn("second interrupt, exiting at once", server.output())
        self.assertClosedWithoutAnswer(stuck.join())


class ASGIShutdownTests(GracefulShutdownMixin, unittest.TestCase):
    """
    The shutdown of an ASGI application, with its lifespan.
    """

    appRef = "tests.test_shutdown:asgiApp"

    def test_sigtermDrains(self):
        """
        SIGTERM with a 1 s request in flight: 200, refused connections, lifespan shutdown after,
        exit 0.
        """
        output = self.sigtermScenario()
        self.assertLess(
            output.index("MARK /slow started"), output.index("MARK lifespan shutdown ran")
        )

    def test_gracefulTimeoutDisconnects(self):
        """
        A request outliving --graceful-timeout is disconnected and cancelled; lifespan shutdown
        runs; exit 0.
        """
        server, forever = self.gracefulTimeoutScenario()
        self.assertClosedWithoutAnswer(forever.join())
        self.assertEqual(server.wait(TIMEOUT), 0, server.output())
        self.assertIn("MARK lifespan shutdown ran", server.output())


class WSGIShutdownTests(GracefulShutdownMixin, unittest.TestCase):
    """
    The shutdown of a WSGI application.
    """

    appRef = "tests.test_shutdown:wsgiApp"

    def test_gracefulTimeoutDisconnects(self):
        """
        A WSGI request outliving --graceful-timeout is disconnected; its thread cannot be cancelled,
        so the stop waits.
        """
        server, forever = self.gracefulTimeoutScenario()
        self.assertClosedWithoutAnswer(forever.join())
        server.waitFor("a thread cannot be cancelled", TIMEOUT)
        self.assertIsNone(server.process.poll())
        # The operator's way out: a second interrupt.
        server.process.send_signal(signal.SIGINT)
        self.assertEqual(server.wait(TIMEOUT), 130, server.output())
