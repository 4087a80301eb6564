"""
End-to-end tests of mounts: one gracehttp process serving a Django WSGI
application under C{/legacy} and a FastAPI application at C{/}, in this
process (so the tests can see what each application saw) and from the
command line, with real clients on 127.0.0.1.
"""

import os
import socket
import tempfile
from unittest import TestCase

import httpx

from .apps import starlette_app
from .apps.djangoproject import urls as djangoURLs
from .server import serveInProcess, startSubprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DJANGO = "tests.apps.djangoproject.wsgi:application"
FASTAPI = "tests.apps.starlette_app:app"


class MountsInProcessTests(TestCase):
    @classmethod
    def setUpClass(cls):
        starlette_app.events.clear()
        djangoURLs.events.clear()
        cls.server = serveInProcess(
            FASTAPI, mounts={"/legacy": DJANGO}, disconnectGracePeriod=1.0, accessLog="off"
        )
        cls.base = f"http://127.0.0.1:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def hangUp(self, path):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
        return s

    def test_urlsCarryTheirPrefix(self):
        """Each framework routes under its mount and builds URLs with its prefix."""
        django = httpx.get(self.base + "/legacy/items/3", timeout=10).json()
        self.assertEqual(django, {"url": "/legacy/items/3", "path": "/legacy/items/3"})
        fastapi = httpx.get(self.base + "/items/3", timeout=10).json()
        self.assertEqual(fastapi, {"url": self.base + "/items/3", "path": "/items/3"})

    def test_lifespanOnce(self):
        """The ASGI mount's lifespan startup ran once; its state reaches its requests."""
        self.assertEqual(starlette_app.events.count("lifespan startup"), 1)
        self.assertEqual(
            httpx.get(self.base + "/json", timeout=10).json()["greeting"], "hello from lifespan"
        )

    def test_disconnectReachesTheRightApp(self):
        """A client that leaves each mount's waiting view is reported to that application."""
        for path, told, events in (
            ("/wait", "told", starlette_app.events),
            ("/legacy/wait", "wsgi told", djangoURLs.events),
        ):
            with self.subTest(path=path):
                s = self.hangUp(path)
                self.assertTrue(events.waitFor("waiting"))
                s.close()
                self.assertTrue(events.waitFor(told))


class MountsAccessLogTests(TestCase):
    def test_accessLogNamesTheMount(self):
        """The access log says which mount answered each request."""
        with tempfile.TemporaryDirectory() as directory:
            accessLog = os.path.join(directory, "access.log")
            server = serveInProcess(
                FASTAPI,
                mounts={"/legacy": DJANGO},
                accessLog=accessLog,
                accessLogFormat="{path} {status} {mount}",
            )
            try:
                base = f"http://127.0.0.1:{server.port}"
                httpx.get(base + "/legacy/json", timeout=10)
                httpx.get(base + "/json", timeout=10)
            finally:
                server.stop()
            with open(accessLog) as f:
                self.assertEqual(f.read().splitlines(), ["/legacy/json 200 /legacy", "/json 200 /"])


class MountsOnlyTests(TestCase):
    def test_noMatchIs404(self):
        """Without --app, a request no mount matches gets 404 from gracehttp."""
        server = serveInProcess(None, mounts=[f"/legacy={DJANGO}"], accessLog="off")
        try:
            base = f"http://127.0.0.1:{server.port}"
            self.assertEqual(httpx.get(base + "/legacyx", timeout=10).status_code, 404)
            self.assertEqual(httpx.get(base + "/legacy/json", timeout=10).status_code, 200)
        finally:
            server.stop()


class MountsCommandLineTests(TestCase):
    def test_commandLine(self):
        """--mount PREFIX=REFERENCE[@INTERFACE] with --app, from twist gracehttp."""
        child = startSubprocess(FASTAPI, "--mount", f"/legacy={DJANGO}@wsgi", cwd=REPO)
        try:
            base = f"http://127.0.0.1:{child.port}"
            self.assertEqual(
                httpx.get(base + "/legacy/items/3", timeout=10).json()["url"], "/legacy/items/3"
            )
            self.assertEqual(httpx.get(base + "/", timeout=10).text, "Hello from FastAPI")
            child.waitFor(r"mounts / asgi3 \(detected\), /legacy wsgi \(given\) with 10 threads")
        finally:
            self.assertEqual(child.stop(), 0)


class MountsWebSocketTests(TestCase):
    """
    WebSocket upgrades are routed like requests: FastAPI mounted at C{/v2}
    takes its sessions with the prefix as C{root_path}; an upgrade to the
    Django WSGI application at C{/} is answered by it as plain HTTP.
    """

    @classmethod
    def setUpClass(cls):
        starlette_app.events.clear()
        cls.server = serveInProcess(None, mounts={"/": DJANGO, "/v2": FASTAPI}, accessLog="off")
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_sessionReachesTheASGIMount(self):
        """A WebSocket to /v2/ws is served by the FastAPI route /ws."""
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{self.port}/v2/ws", open_timeout=10) as ws:
            ws.send("hi")
            self.assertEqual(ws.recv(timeout=10), "hello from lifespan: hi")

    def test_upgradeToWSGIMountIsPlainHTTP(self):
        """An upgrade to the WSGI mount reaches Django as a plain GET."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(
                b"GET /items/3 HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
                b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            head = s.recv(65536).split(b"\r\n", 1)[0]
        self.assertEqual(head, b"HTTP/1.1 200 OK")


class MountsHTTP2Tests(TestCase):
    def test_streamsRoutedByMount(self):
        """HTTP/2 streams (h2c) are routed to each mount and build URLs with its prefix."""
        server = serveInProcess(FASTAPI, mounts={"/legacy": DJANGO}, h2c=True, accessLog="off")
        try:
            base = f"http://127.0.0.1:{server.port}"
            with httpx.Client(http1=False, http2=True, timeout=10) as client:
                django = client.get(base + "/legacy/items/3")
                fastapi = client.get(base + "/items/3")
            self.assertEqual(django.http_version, "HTTP/2")
            self.assertEqual(django.json()["url"], "/legacy/items/3")
            self.assertEqual(fastapi.json()["url"], base + "/items/3")
        finally:
            server.stop()
