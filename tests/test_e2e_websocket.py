"""
WebSockets end to end: a real gracehttp server (in process, on
C{127.0.0.1}, over plain TCP and over TLS, and C{twist gracehttp} in a
subprocess for FastAPI) and real clients: the C{websockets} library, and
wsproto driven by hand over a socket for what a well-behaved client never
sends.  The applications are C{tests.apps.websocket_apps} and the FastAPI
app of C{tests.apps.starlette_app}.  Every wait is bounded and waits on an
event; nothing sleeps.
"""

import json
import os
import socket
import ssl
import tempfile
from unittest import TestCase

import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from wsproto.connection import CLIENT, Connection
from wsproto.events import CloseConnection, Ping

from .apps import websocket_apps
from .server import (
    LOOPBACK_ANY_PORT,
    makeCertificate,
    serveInProcess,
    startSubprocess,
    tlsEndpoint,
)

WAIT = 10.0
"""
Seconds a test waits for an answer, an event or a close.
"""

_certificates = None
KEY = CERT = None


def setUpModule():
    global _certificates, KEY, CERT
    _certificates = tempfile.TemporaryDirectory()
    KEY, CERT = makeCertificate(_certificates.name)


def tearDownModule():
    _certificates.cleanup()


def _repoRoot():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sawEvent(*prefix):
    """
    A predicate for L{websocket_apps.waitFor}: an event starting with
    C{prefix} was recorded.
    """
    return lambda events: any(event[: len(prefix)] == prefix for event in events)


def lastEvent(*prefix):
    """
    The last recorded event starting with C{prefix}, once there is one.
    """
    events = websocket_apps.waitFor(sawEvent(*prefix), WAIT)
    return [event for event in events if event[: len(prefix)] == prefix][-1]


class RawClient:
    """
    A WebSocket client made of a socket and wsproto driven by hand, for
    frames no library sends.

    @ivar sock: the socket.
    @ivar ws: wsproto's client connection.
    """

    def __init__(self, port, path="/hold", context=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        if context is not None:
            self.sock = context.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.sock.sendall(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"closed during the handshake: {data!r}")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101 "):
            raise AssertionError(head)
        self.ws = Connection(CLIENT)
        self.pending = rest

    def send(self, data):
        self.sock.sendall(data)

    def events(self):
        """
        Read until the server closes the connection.

        @return: the events in what it sent.
        """
        data = self.pending
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                break
            data += chunk
        self.ws.receive_data(data)
        return list(self.ws.events())

    def close(self):
        self.sock.close()


class WebSocketTestsMixin:
    """
    What a WebSocket client gets from gracehttp, over TCP or TLS.
    """

    tls = False

    @classmethod
    def setUpClass(cls):
        listen = tlsEndpoint(KEY, CERT) if cls.tls else LOOPBACK_ANY_PORT
        cls.server = serveInProcess(websocket_apps.app, listen=listen, accessLog="off")
        scheme = "wss" if cls.tls else "ws"
        cls.base = f"{scheme}://127.0.0.1:{cls.server.port}"
        cls.context = ssl.create_default_context(cafile=CERT) if cls.tls else None

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def connect(self, path, **kwargs):
        if self.tls:
            kwargs["ssl"] = self.context
        return connect(self.base + path, open_timeout=WAIT, close_timeout=WAIT, **kwargs)

    def test_echo(self):
        """Text and binary messages, small and large, come back as they were sent."""
        with self.connect("/echo") as ws:
            for message in ("h\u00e9llo", b"\x00\x01\xff", "x" * 300_000, os.urandom(200_000)):
                ws.send(message)
                self.assertEqual(ws.recv(timeout=WAIT), message)

    def test_compression(self):
        """The client's permessage-deflate offer is accepted, and messages go through compressed."""
        with self.connect("/echo") as ws:
            self.assertIn("permessage-deflate", ws.response.headers["Sec-WebSocket-Extensions"])
            ws.send("z" * 100_000)
            self.assertEqual(ws.recv(timeout=WAIT), "z" * 100_000)

    def test_fragmented(self):
        """A message sent in fragments is echoed whole."""
        with self.connect("/echo", compression=None) as ws:
            ws.send(["frag", "m\u00e9", "nt"])
            self.assertEqual(ws.recv(timeout=WAIT), "fragm\u00e9nt")
            ws.send([b"a", b"b"])
            self.assertEqual(ws.recv(timeout=WAIT), b"ab")

    def test_subprotocol(self):
        """The subprotocol the application accepts is the one the client gets."""
        with self.connect("/echo", subprotocols=["chat", "v2"]) as ws:
            self.assertEqual(ws.subprotocol, "chat")

    def test_denyByClose(self):
        """websocket.close before accepting is a 403 for the client."""
        with self.assertRaises(InvalidStatus) as caught:
            self.connect("/deny")
        self.assertEqual(caught.exception.response.status_code, 403)

    def test_denyByResponse(self):
        """websocket.http.response denies with the application's status, headers and body."""
        with self.assertRaises(InvalidStatus) as caught:
            self.connect("/deny401")
        response = caught.exception.response
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.headers["WWW-Authenticate"], "Bearer")
        self.assertEqual(bytes(response.body), b"no token\n")

    def test_serverCloses(self):
        """The application's close code and reason reach the client; its receive() then ends."""
        with self.connect("/close") as ws:
            ws.send("4001 bye")
            with self.assertRaises(ConnectionClosed) as caught:
                ws.recv(timeout=WAIT)
        self.assertEqual((caught.exception.rcvd.code, caught.exception.rcvd.reason), (4001, "bye"))
        _, message = lastEvent("closed")
        self.assertEqual(message["code"], 4001)

    def test_clientCloses(self):
        """
        The client's close code and reason reach the application as
        websocket.disconnect; its send() afterwards raises
        ClientDisconnected.
        """
        with self.connect("/hold") as ws:
            ws.close(4002, "ciao")
        self.assertEqual(
            lastEvent("hold")[1], {"type": "websocket.disconnect", "code": 4002, "reason": "ciao"}
        )
        self.assertEqual(lastEvent("hold-send")[1], "ClientDisconnected")

    def test_clientDrops(self):
        """A client that drops the TCP connection is websocket.disconnect 1006, at once."""
        before = len(websocket_apps.waitFor(lambda events: True))
        client = RawClient(self.server.port, "/hold", self.context)
        client.close()
        events = websocket_apps.waitFor(
            lambda events: any(event[0] == "hold-send" for event in events[before:]), WAIT
        )
        new = events[before:]
        self.assertIn(("hold", {"type": "websocket.disconnect", "code": 1006, "reason": ""}), new)
        self.assertIn(("hold-send", "ClientDisconnected"), new)

    def test_malformedFrame(self):
        """An unmasked frame from a client closes the connection with 1002."""
        client = RawClient(self.server.port, "/echo", self.context)
        client.send(b"\x81\x02hi")
        events = client.events()
        client.close()
        self.assertEqual([type(e) for e in events], [CloseConnection])
        self.assertEqual(events[0].code, 1002)

    def test_invalidUTF8(self):
        """A text message that is not UTF-8 closes the connection with 1007."""
        client = RawClient(self.server.port, "/echo", self.context)
        client.send(b"\x81\x82\x00\x00\x00\x00\xc3\x28")
        events = client.events()
        client.close()
        self.assertEqual(events[-1].code, 1007)

    def test_consumer(self):
        """
        A Channels-style consumer (a class per connection, handlers per
        event) is served; its scope has the query and the scheme (ws, wss
        over TLS).
        """
        with self.connect("/consumer?name=x") as ws:
            scheme = "wss" if self.tls else "ws"
            self.assertEqual(ws.recv(timeout=WAIT), f"hello name=x over {scheme}")
            ws.send("shout")
            self.assertEqual(ws.recv(timeout=WAIT), "SHOUT")
            ws.send(b"abc")
            self.assertEqual(ws.recv(timeout=WAIT), b"cba")
            ws.close(1001)
        self.assertEqual(lastEvent("consumer"), ("consumer", 1001))

    def test_plainHTTP(self):
        """A request that does not upgrade is still answered as HTTP on the same port."""
        scheme = "https" if self.tls else "http"
        response = requests.get(
            f"{scheme}://127.0.0.1:{self.server.port}/",
            timeout=WAIT,
            verify=CERT if self.tls else True,
        )
        self.assertEqual(response.text, "plain http")


class TCPWebSocketTests(WebSocketTestsMixin, TestCase):
    tls = False


class TLSWebSocketTests(WebSocketTestsMixin, TestCase):
    tls = True


class LimitTests(TestCase):
    """
    The size limit, compression bomb and pings, on a server with a 64 KiB
    limit and pings every 0.2 s.
    """

    @classmethod
    def setUpClass(cls):
        cls.server = serveInProcess(
            websocket_apps.app,
            accessLog="off",
            wsMaxSize=65536,
            wsPingInterval=0.2,
            wsPingTimeout=0.2,
        )
        cls.base = f"ws://127.0.0.1:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_tooBig(self):
        """A message over --ws-max-size is refused with close code 1009."""
        with connect(self.base + "/echo", compression=None, open_timeout=WAIT) as ws:
            ws.send(b"x" * 65536)
            self.assertEqual(len(ws.recv(timeout=WAIT)), 65536)
            ws.send(b"x" * 65537)
            with self.assertRaises(ConnectionClosed) as caught:
                ws.recv(timeout=WAIT)
        self.assertEqual(caught.exception.rcvd.code, 1009)

    def test_compressedBomb(self):
        """
        A compressed message that would expand past the limit (16 MiB of
        zeros, about 16 KiB on the wire) is refused with 1009.
        """
        with connect(self.base + "/echo", open_timeout=WAIT, max_size=None) as ws:
            ws.send(bytes(16 * 1024 * 1024))
            with self.assertRaises(ConnectionClosed) as caught:
                ws.recv(timeout=WAIT)
        self.assertEqual(caught.exception.rcvd.code, 1009)

    def test_answeringPeerStays(self):
        """A client that answers pings stays connected across several ping intervals."""
        with connect(self.base + "/echo", open_timeout=WAIT, ping_interval=None) as ws:
            for i in range(5):
                ws.ping().wait(WAIT)
                ws.send(str(i))
                self.assertEqual(ws.recv(timeout=WAIT), str(i))

    def test_pingTimeout(self):
        """
        A client that never answers pings is closed (1011 "ping timeout")
        and the application told: 1006 with the reason.
        """
        before = len(websocket_apps.waitFor(lambda events: True))
        client = RawClient(self.server.port, "/hold")
        events = client.events()
        client.close()
        self.assertIsInstance(events[0], Ping)
        self.assertEqual(events[-1], CloseConnection(code=1011, reason="ping timeout"))
        seen = websocket_apps.waitFor(
            lambda events: any(event[0] == "hold" for event in events[before:]), WAIT
        )
        [held] = [event for event in seen[before:] if event[0] == "hold"]
        self.assertEqual(
            held[1], {"type": "websocket.disconnect", "code": 1006, "reason": "ping timeout"}
        )


class ShutdownTests(TestCase):
    """
    A graceful stop with sessions open.
    """

    def test_shutdownSends1012(self):
        """
        At a graceful stop an open session runs until the graceful timeout,
        then the client gets a close frame with 1012 and the application
        websocket.disconnect with 1012; the stop then completes.
        """
        self.assertShutdown(tls=False)

    def test_shutdownSends1012TLS(self):
        """The same over TLS (the close completes with close_notify)."""
        self.assertShutdown(tls=True)

    def assertShutdown(self, tls):
        listen = tlsEndpoint(KEY, CERT) if tls else LOOPBACK_ANY_PORT
        server = serveInProcess(
            websocket_apps.app, listen=listen, accessLog="off", gracefulTimeout=0.2
        )
        before = len(websocket_apps.waitFor(lambda events: True))
        scheme, options = "ws", {}
        if tls:
            scheme, options = "wss", {"ssl": ssl.create_default_context(cafile=CERT)}
        url = f"{scheme}://127.0.0.1:{server.port}/hold"
        with connect(url, open_timeout=WAIT, **options) as ws:
            server.stop(timeout=WAIT)
            with self.assertRaises(ConnectionClosed) as caught:
                ws.recv(timeout=WAIT)
        self.assertEqual(caught.exception.rcvd.code, 1012)
        events = websocket_apps.waitFor(lambda events: len(events) > before, WAIT)
        self.assertEqual(
            events[before], ("hold", {"type": "websocket.disconnect", "code": 1012, "reason": ""})
        )

    def test_graceThenCancel(self):
        """
        An application that does not end after the 1012 is cancelled once
        the grace period runs out, and the stop completes.
        """
        server = serveInProcess(
            websocket_apps.app, accessLog="off", gracefulTimeout=0.2, disconnectGracePeriod=0.2
        )
        with connect(f"ws://127.0.0.1:{server.port}/stubborn", open_timeout=WAIT) as ws:
            server.stop(timeout=WAIT)
            with self.assertRaises(ConnectionClosed):
                ws.recv(timeout=WAIT)
        self.assertEqual(lastEvent("stubborn-cancelled"), ("stubborn-cancelled",))


class OffTests(TestCase):
    """
    Upgrade requests answered as plain HTTP: WebSockets off, or a WSGI
    application.
    """

    def assertPlainHTTP(self, **kwargs):
        server = serveInProcess(accessLog="off", **kwargs)
        try:
            with self.assertRaises(InvalidStatus) as caught:
                connect(f"ws://127.0.0.1:{server.port}/echo", open_timeout=WAIT)
            self.assertEqual(caught.exception.response.status_code, 200)
            self.assertEqual(bytes(caught.exception.response.body), b"plain http")
        finally:
            server.stop()

    def test_off(self):
        """With --ws off an ASGI application answers the upgrade request as plain HTTP."""
        self.assertPlainHTTP(app=websocket_apps.app, ws="off")

    def test_wsgi(self):
        """A WSGI application answers an upgrade request as plain HTTP."""

        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", "10")])
            return [b"plain http"]

        self.assertPlainHTTP(app=app, interface="wsgi")

    def test_wsgiWithWebSocketsOn(self):
        """--ws on with a WSGI application is a one-line error."""

        def app(environ, start_response):
            return []

        with self.assertRaises(ValueError) as caught:
            serveInProcess(app, interface="wsgi", ws="on")
        self.assertEqual(
            str(caught.exception),
            "--ws on needs an ASGI application: a WSGI application has no WebSockets",
        )


class AccessLogTests(TestCase):
    def test_sessionLogged(self):
        """
        A session is logged once, when it ends: the upgrade request with
        status 101, its duration, its messages and bytes each way, its
        close code and outcome.
        """
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "access.log")
            server = serveInProcess(websocket_apps.app, accessLog=path)
            try:
                with connect(f"ws://127.0.0.1:{server.port}/echo") as ws:
                    ws.send("h\u00e9")
                    ws.recv(timeout=WAIT)
                    ws.send(b"1234")
                    ws.recv(timeout=WAIT)
                    ws.close(1000)
                server.call(server.service._state.whenDrained)
                with open(path, encoding="utf-8") as f:
                    [line] = f.read().splitlines()
            finally:
                server.stop()
        self.assertIn('"GET /echo HTTP/1.1" 101 7 ', line)
        self.assertTrue(line.endswith(" completed ws in=2/7 out=2/7 close=1000"), line)


class FastAPITests(TestCase):
    """
    FastAPI (on Starlette) WebSocket routes, served by C{twist gracehttp}
    in a subprocess.
    """

    @classmethod
    def setUpClass(cls):
        cls.server = startSubprocess("tests.apps.starlette_app:app", cwd=_repoRoot())
        cls.base = f"ws://127.0.0.1:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_route(self):
        """A FastAPI websocket route echoes with the lifespan state, and its subprotocol."""
        with connect(self.base + "/ws", subprotocols=["chat"], open_timeout=WAIT) as ws:
            self.assertEqual(ws.subprotocol, "chat")
            ws.send("hi")
            self.assertEqual(ws.recv(timeout=WAIT), "hello from lifespan: hi")
        self.server.waitFor(r'"GET /ws HTTP/1\.1" 101 .* completed ws in=1/2 out=1/', WAIT)

    def test_endpoint(self):
        """A Starlette WebSocketRoute with a WebSocketEndpoint class (JSON) is served."""
        with connect(self.base + "/ws/counter", open_timeout=WAIT) as ws:
            for count in (1, 2):
                ws.send(json.dumps({"n": count}))
                self.assertEqual(json.loads(ws.recv(timeout=WAIT)), {"count": count, "n": count})

    def test_closeBeforeAccept(self):
        """A route that closes before accepting gives the client 403."""
        with self.assertRaises(InvalidStatus) as caught:
            connect(self.base + "/ws/private", open_timeout=WAIT)
        self.assertEqual(caught.exception.response.status_code, 403)

    def test_denialResponse(self):
        """Starlette's send_denial_response gives the client that response."""
        with self.assertRaises(InvalidStatus) as caught:
            connect(self.base + "/ws/denied", open_timeout=WAIT)
        self.assertEqual(caught.exception.response.status_code, 401)
        self.assertEqual(bytes(caught.exception.response.body), b"go away")

    def test_clientLeaves(self):
        """
        The route sees the client's close code (WebSocketDisconnect) and
        nothing is logged as an error.
        """
        with connect(self.base + "/ws", open_timeout=WAIT) as ws:
            ws.close(4003, "done")
        self.server.waitFor(r"route saw close 4003", WAIT)
        self.assertNotIn("Traceback", self.server.output())
