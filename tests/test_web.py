"""
End-to-end tests of L{gracehttp.web}: a real C{twisted.web} site on
127.0.0.1 (in this process, on the tests' asyncio reactor) with static
files, an L{ASGIResource} under C{/app/} and a L{WSGIResource} under
C{/legacy/}, spoken to with real sockets and httpx.
"""

import asyncio
import os
import socket
import tempfile
import threading
from unittest import TestCase

import httpx
from twisted.python.threadpool import ThreadPool
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import File

from gracehttp.web import ASGIResource, WSGIResource

from .server import _globalReactor, callInReactor

GRACE = 0.2


class Recorder:
    """
    What the applications saw, with events the tests wait on.
    """

    def __init__(self):
        self.scopes = []
        self.told = threading.Event()
        self.cancelled = threading.Event()
        self.wsgiTold = threading.Event()
        self.started = []
        self.holding = threading.Event()


def makeASGIApp(recorder):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["greeting"] = "hello from lifespan"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        recorder.scopes.append(scope)
        path = scope["path"]
        if path == "/app/wait":
            # Told of the disconnect, then cleans up within the grace period.
            while (await receive())["type"] != "http.disconnect":
                pass
            recorder.told.set()
            return
        if path == "/app/ignore":
            # Ignores the disconnect: cancelled after the grace period.
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                recorder.cancelled.set()
                raise
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        text = f"{path} {scope['root_path']} {scope['state'].get('greeting')} {len(body)}"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": text.encode()})

    return app


def makeWSGIApp(recorder):
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        recorder.started.append(path)
        if path == "/hold":
            recorder.holding.set()
            if environ["gracehttp.disconnected"].wait(10):
                recorder.wsgiTold.set()
        body = f"{environ['SCRIPT_NAME']} {path}".encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    return app


class TwistedWebSiteTests(TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reactor = _globalReactor()
        cls.recorder = Recorder()
        cls.directory = tempfile.TemporaryDirectory()
        with open(os.path.join(cls.directory.name, "hello.txt"), "wb") as f:
            f.write(b"static hello")
        cls.pool = ThreadPool(1, 1, name="test-web")

        def build():
            root = Resource()
            root.putChild(b"static", File(cls.directory.name))
            cls.asgi = ASGIResource(
                makeASGIApp(cls.recorder),
                gracePeriod=GRACE,
                reactor=cls.reactor,
                lifespan="on",
            )
            root.putChild(b"app", cls.asgi)
            cls.wsgi = WSGIResource(
                makeWSGIApp(cls.recorder), cls.pool, gracePeriod=GRACE, reactor=cls.reactor
            )
            root.putChild(b"legacy", cls.wsgi)
            cls.pool.start()
            cls.port = cls.reactor.listenTCP(0, Site(root), interface="127.0.0.1")
            return cls.asgi.startup()

        callInReactor(cls.reactor, build)
        cls.base = f"http://127.0.0.1:{cls.port.getHost().port}"

    @classmethod
    def tearDownClass(cls):
        callInReactor(cls.reactor, cls.port.stopListening)
        callInReactor(cls.reactor, cls.asgi.shutdown)
        cls.pool.stop()
        cls.directory.cleanup()

    def get(self, path, **kwargs):
        return httpx.get(self.base + path, timeout=10, **kwargs)

    def hangUp(self, path):
        """
        Send a request for C{path} and close the connection without
        reading the answer.
        """
        s = socket.create_connection(("127.0.0.1", self.port.getHost().port), timeout=10)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
        return s

    def test_static(self):
        """The site's own resources still serve."""
        self.assertEqual(self.get("/static/hello.txt").content, b"static hello")

    def test_asgi(self):
        """
        The ASGI application gets the full path, its mount point as
        root_path, the lifespan state and the request body.
        """
        response = httpx.post(self.base + "/app/x/y", content=b"z" * 200_000, timeout=10)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.text, "/app/x/y /app hello from lifespan 200000")
        self.assertNotIn("text/html", response.headers.get("content-type"))

    def test_asgiDisconnect(self):
        """A client that leaves: the ASGI application is told (http.disconnect)."""
        s = self.hangUp("/app/wait")
        self.assertTrue(self._waitForScope("/app/wait"))
        s.close()
        self.assertTrue(self.recorder.told.wait(10))

    def test_asgiCancelledAfterGrace(self):
        """An ASGI application that ignores the disconnect is cancelled after the grace period."""
        s = self.hangUp("/app/ignore")
        self.assertTrue(self._waitForScope("/app/ignore"))
        s.close()
        self.assertTrue(self.recorder.cancelled.wait(10))

    def test_wsgi(self):
        """The WSGI application gets its mount point as SCRIPT_NAME."""
        self.assertEqual(self.get("/legacy/page").text, "/legacy /page")

    def test_wsgiDisconnectAndQueued(self):
        """
        With its one thread busy, a WSGI request whose client left while it
        waited never starts; the running one is told of its disconnect.
        """
        holding = self.hangUp("/legacy/hold")
        self.assertTrue(self.recorder.holding.wait(10))
        queued = self.hangUp("/legacy/queued")
        # Once the queued request waits for the thread, its client leaves.
        self.assertTrue(self._until(lambda: len(self.wsgi._adapters["/legacy"]._waiting) == 1))
        queued.close()
        holding.close()
        self.assertTrue(self.recorder.wsgiTold.wait(10))
        self.assertEqual(self.get("/legacy/after").text, "/legacy /after")
        self.assertNotIn("/queued", self.recorder.started)

    def _waitForScope(self, path):
        """
        Wait until the ASGI application was called for C{path}.
        """
        return self._until(lambda: any(s["path"] == path for s in self.recorder.scopes))

    def _until(self, condition, timeout=10):
        """
        Check C{condition} on the reactor thread, one reactor turn at a
        time, until it holds or C{timeout} seconds pass.

        @return: whether it held.
        """
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                if callInReactor(self.reactor, condition):
                    return True
            return False
        finally:
            timer.cancel()
