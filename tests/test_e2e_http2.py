"""
HTTP/2 end to end over TLS (ALPN C{h2}) and cleartext (h2c): a real
gracehttp server on 127.0.0.1, real clients (httpx with C{http2=True};
C{h2} driven by hand for resets, floods and C{GOAWAY}: L{tests.h2peer}),
for an ASGI and a WSGI application.

Every wait is bounded (sockets time out, queues are read with a timeout);
nothing sleeps.
"""

import asyncio
import hashlib
import json
import os
import queue
import ssl
import tempfile
import threading
from dataclasses import replace
from typing import ClassVar
from unittest import TestCase
from urllib.parse import parse_qs

import httpx
from h2.errors import ErrorCodes

from gracehttp._apps.wsgi.bridge import HIGH_WATER as BRIDGE_HIGH_WATER
from gracehttp._protocols.http2.guard import IDLE_BURST, RESET_BURST
from gracehttp._protocols.http2.stream import HIGH_WATER

from .h2peer import (
    ContinuationFrame,
    HeadersFrame,
    PingFrame,
    SocketPeer,
    request,
    settingsFrame,
)
from .server import makeCertificate, serveInProcess, startSubprocess, tlsEndpoint
from .test_e2e_apps import procStatus

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WAIT = 10.0
"""
Seconds any wait lasts at most.
"""

STREAMS = 100
"""
Concurrent streams on one connection: the default limit.
"""

ARRIVED = queue.Queue()
"""
The key of each waiting request once its application started.
"""

ENDED = queue.Queue()
"""
C{(key, how)} for each waiting request once its application ended:
C{"released"}, C{"disconnected"}, or, for C{/flood}, the bytes written.
"""

_releases = {}
_gathers = {}
_lock = threading.Lock()


def _query(queryString):
    return {name: values[0] for name, values in parse_qs(queryString.decode()).items()}


# -- the ASGI application ------------------------------------------------------------


async def _answer(send, body, status=200):
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def asgiApp(scope, receive, send):
    path = scope["path"]
    query = _query(scope["query_string"])
    key = query.get("key")
    if path == "/hello":
        await _answer(send, b"hello over HTTP/" + scope["http_version"].encode())
    elif path == "/gather":
        await _asgiGather(scope, send, key, int(query["n"]))
    elif path == "/upload":
        await _asgiUpload(receive, send)
    elif path == "/wait-release":
        future = asyncio.get_running_loop().create_future()
        with _lock:
            _releases[key] = lambda: future.get_loop().call_soon_threadsafe(future.set_result, None)
        ARRIVED.put(key)
        await future
        ENDED.put((key, "released"))
        await _answer(send, b"released " + key.encode())
    elif path == "/wait-disconnect":
        ARRIVED.put(key)
        while (await receive())["type"] != "http.disconnect":
            pass
        ENDED.put((key, "disconnected"))
    elif path == "/flood":
        await _asgiFlood(send, key)
    else:
        await _answer(send, b"not found", 404)


async def _asgiGather(scope, send, key, count):
    """
    Answer once C{count} requests with C{key} are running at the same
    time, each with the client's port.
    """
    with _lock:
        gather = _gathers.setdefault(key, {"count": 0, "event": asyncio.Event()})
        gather["count"] += 1
        if gather["count"] == count:
            gather["event"].set()
    await asyncio.wait_for(gather["event"].wait(), WAIT)
    await _answer(send, json.dumps({"port": scope["client"][1]}).encode())


async def _asgiUpload(receive, send):
    digest = hashlib.sha256()
    size = largest = 0
    while True:
        message = await receive()
        body = message.get("body", b"")
        digest.update(body)
        size += len(body)
        largest = max(largest, len(body))
        if not message.get("more_body"):
            break
    result = {"size": size, "sha256": digest.hexdigest(), "largest": largest}
    await _answer(send, json.dumps(result).encode())


async def _asgiFlood(send, key):
    """
    Write a response without end until the client is gone; report how many
    bytes were written.
    """
    await send({"type": "http.response.start", "status": 200, "headers": []})
    written = 0
    chunk = b"x" * 16384
    try:
        while True:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            written += len(chunk)
            if written == len(chunk):
                ARRIVED.put(key)
    except OSError:
        ENDED.put((key, written))


# -- the WSGI application --------------------------------------------------------------


def wsgiApp(environ, start_response):
    path = environ["PATH_INFO"]
    query = _query(environ["QUERY_STRING"].encode())
    key = query.get("key")
    if path == "/hello":
        body = b"hello over " + environ["SERVER_PROTOCOL"].encode()
    elif path == "/gather":
        with _lock:
            barrier = _gathers.setdefault(key, threading.Barrier(int(query["n"])))
        barrier.wait(WAIT)
        body = json.dumps({"port": int(environ["REMOTE_PORT"])}).encode()
    elif path == "/upload":
        body = _wsgiUpload(environ["wsgi.input"])
    elif path == "/wait-release":
        release = threading.Event()
        with _lock:
            _releases[key] = release.set
        ARRIVED.put(key)
        release.wait(WAIT)
        ENDED.put((key, "released"))
        body = b"released " + key.encode()
    elif path == "/wait-disconnect":
        ARRIVED.put(key)
        environ["gracehttp.disconnected"].wait(WAIT)
        ENDED.put((key, "disconnected"))
        body = b""
    elif path == "/flood":
        return _wsgiFlood(start_response, key)
    else:
        start_response("404 Not Found", [])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def _wsgiUpload(stream):
    digest = hashlib.sha256()
    size = largest = 0
    while block := stream.read(65536):
        digest.update(block)
        size += len(block)
        largest = max(largest, len(block))
    return json.dumps({"size": size, "sha256": digest.hexdigest(), "largest": largest}).encode()


def _wsgiFlood(start_response, key):
    write = start_response("200 OK", [])
    written = 0
    chunk = b"x" * 16384
    try:
        while True:
            write(chunk)
            written += len(chunk)
            if written == len(chunk):
                ARRIVED.put(key)
    except OSError:
        ENDED.put((key, written))
    return []


# -- helpers ---------------------------------------------------------------------------------

_certificates = None
KEY = CERT = None


def setUpModule():
    global _certificates, KEY, CERT
    _certificates = tempfile.TemporaryDirectory()
    KEY, CERT = makeCertificate(_certificates.name)


def tearDownModule():
    _certificates.cleanup()


def context():
    return ssl.create_default_context(cafile=CERT)


def take(q):
    """
    The next item of C{q}, waiting at most L{WAIT} seconds.
    """
    try:
        return q.get(timeout=WAIT)
    except queue.Empty:
        raise AssertionError("nothing arrived in time") from None


def release(key):
    with _lock:
        _releases.pop(key)()


class E2EMixin:
    """
    One in-process server over TLS per test class, and a raw HTTP/2
    client on it.
    """

    app = None
    serverArgs: ClassVar[dict] = {}
    heldOnTheWay = None

    @classmethod
    def setUpClass(cls):
        cls.server = serveInProcess(
            cls.app,
            listen=tlsEndpoint(KEY, CERT),
            lifespan="off",
            accessLog="off",
            **cls.serverArgs,
        )
        cls.url = f"https://127.0.0.1:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        for q in (ARRIVED, ENDED):
            while not q.empty():
                q.get_nowait()

    def peer(self):
        peer = SocketPeer(self.server.port, context())
        self.addCleanup(peer.close)
        peer.receive()
        return peer

    def test_hello(self):
        """httpx negotiates h2 and gets the application's answer."""
        with httpx.Client(http2=True, verify=context(), timeout=WAIT) as client:
            response = client.get(self.url + "/hello")
        self.assertEqual(response.http_version, "HTTP/2")
        self.assertEqual(response.text, "hello over HTTP/2")

    def test_hundredConcurrentStreams(self):
        """
        100 requests on one connection run at the same time (each answers
        only once all 100 are running) and all complete.
        """

        async def fetchAll():
            limits = httpx.Limits(max_connections=1)
            async with httpx.AsyncClient(
                http2=True, verify=context(), timeout=WAIT * 2, limits=limits
            ) as client:
                url = f"{self.url}/gather?n={STREAMS}&key={self.id()}"
                return await asyncio.gather(*(client.get(url) for _ in range(STREAMS)))

        responses = asyncio.run(fetchAll())
        self.assertEqual({r.status_code for r in responses}, {200})
        self.assertEqual({r.http_version for r in responses}, {"HTTP/2"})
        self.assertEqual(len({r.json()["port"] for r in responses}), 1)

    def test_streamedUpload(self):
        """
        An 8 MiB upload streamed without Content-Length (eight times the
        connection window, so it moves only as the windows reopen) arrives
        intact.
        """
        block = os.urandom(128 * 1024)

        def body():
            for _ in range(64):
                yield block

        with httpx.Client(http2=True, verify=context(), timeout=WAIT * 3) as client:
            response = client.post(self.url + "/upload", content=body())
        self.assertEqual(response.http_version, "HTTP/2")
        result = response.json()
        self.assertEqual(result["size"], 64 * len(block))
        self.assertEqual(result["sha256"], hashlib.sha256(block * 64).hexdigest())

    def test_resetReachesOnlyItsStream(self):
        """
        RST_STREAM disconnects its own application only; the sibling
        streams on the connection complete.
        """
        peer = self.peer()
        first = peer.send(request(path=b"/wait-release?key=a"))
        middle = peer.send(request(path=b"/wait-disconnect?key=b"))
        last = peer.send(request(path=b"/wait-release?key=c"))
        self.assertEqual({take(ARRIVED) for _ in range(3)}, {"a", "b", "c"})
        peer.reset(middle)
        self.assertEqual(take(ENDED), ("b", "disconnected"))
        release("a")
        release("c")
        responses = peer.waitFor(
            lambda: (
                (r := peer.responses()).get(first, {}).get("ended")
                and r.get(last, {}).get("ended")
                and r
            )
        )
        self.assertEqual(responses[first]["body"], b"released a")
        self.assertEqual(responses[last]["body"], b"released c")
        self.assertEqual({take(ENDED) for _ in range(2)}, {("a", "released"), ("c", "released")})

    def test_connectionLossReachesAll(self):
        """Closing the connection disconnects every stream's application."""
        peer = self.peer()
        for key in "xyz":
            peer.send(request(path=b"/wait-disconnect?key=" + key.encode()))
        self.assertEqual({take(ARRIVED) for _ in range(3)}, set("xyz"))
        peer.close()
        self.assertEqual({take(ENDED) for _ in range(3)}, {(k, "disconnected") for k in "xyz"})

    def test_zeroWindowBounded(self):
        """
        A client whose window stays shut: the application's writes stop
        at the stream's high-water mark, and after timeoutStall the stream
        is reset and the application told.
        """
        factory = self.server.service._factory

        def shortStall():
            self._settings = factory.settings
            factory.settings = replace(factory.settings, timeoutStall=0.5)

        self.server.call(shortStall)
        self.addCleanup(self.server.call, setattr, factory, "settings", self._settings)
        peer = self.peer()
        peer.raw(settingsFrame({4: 0}))
        streamId = peer.send(request(path=b"/flood?key=f"))
        self.assertEqual(take(ARRIVED), "f")
        key, written = take(ENDED)
        self.assertEqual(key, "f")
        self.assertLessEqual(written, HIGH_WATER + self.heldOnTheWay + 16384)
        peer.waitFor(lambda: peer.responses().get(streamId, {}).get("reset"))
        self.assertEqual(peer.responses()[streamId]["reset"], ErrorCodes.CANCEL)


class ASGIE2ETests(E2EMixin, TestCase):
    app = staticmethod(asgiApp)
    heldOnTheWay = 0


class WSGIE2ETests(E2EMixin, TestCase):
    app = staticmethod(wsgiApp)
    serverArgs: ClassVar[dict] = {"threads": STREAMS + 10}
    # What a worker thread hands the reactor before it waits.
    heldOnTheWay = BRIDGE_HIGH_WATER


class H2CTests(TestCase):
    """
    Cleartext HTTP/2 with prior knowledge, on the same port as HTTP/1.1.
    """

    def test_h2cAndHTTP11(self):
        """With --h2c an HTTP/2 client and an HTTP/1.1 client are both served."""
        server = serveInProcess(asgiApp, lifespan="off", accessLog="off", h2c=True)
        try:
            url = f"http://127.0.0.1:{server.port}/hello"
            with httpx.Client(http1=False, http2=True, timeout=WAIT) as client:
                self.assertEqual(client.get(url).text, "hello over HTTP/2")
            with httpx.Client(timeout=WAIT) as client:
                self.assertEqual(client.get(url).text, "hello over HTTP/1.1")
        finally:
            server.stop()


class ShutdownTests(TestCase):
    """
    A graceful stop over HTTP/2: GOAWAY, then the streams in flight finish.
    """

    def test_goAwayAtShutdown(self):
        """
        At a stop the client gets GOAWAY (NO_ERROR, the last stream it
        opened); a stream opened after it is refused; the stream in
        flight completes; then the stop ends.
        """
        server = serveInProcess(asgiApp, listen=tlsEndpoint(KEY, CERT), lifespan="off")
        peer = SocketPeer(server.port, context())
        self.addCleanup(peer.close)
        peer.receive()
        inFlight = peer.send(request(path=b"/wait-release?key=stop"))
        self.assertEqual(take(ARRIVED), "stop")
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        goAway = peer.waitFor(peer.goAway)
        self.assertEqual((goAway.error_code, goAway.last_stream_id), (0, inFlight))
        late = peer.send(request(path=b"/hello"))
        peer.waitFor(lambda: peer.responses().get(late, {}).get("reset"))
        self.assertEqual(peer.responses()[late]["reset"], ErrorCodes.REFUSED_STREAM)
        release("stop")
        peer.waitFor(lambda: peer.responses().get(inFlight, {}).get("ended"))
        self.assertEqual(peer.responses()[inFlight]["body"], b"released stop")
        # Its streams done, the client closes, as the GOAWAY asked.
        peer.close()
        stopping.join(WAIT)
        self.assertFalse(stopping.is_alive())


class AttackTests(TestCase):
    """
    Each known HTTP/2 attack is answered within its bound, and the
    server's memory stays flat over many rounds of them.
    """

    @classmethod
    def setUpClass(cls):
        cls.server = startSubprocess(
            "tests.test_e2e_http2:asgiApp",
            "--access-log",
            "off",
            cwd=REPO,
            listen=tlsEndpoint(KEY, CERT),
        )

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def connect(self):
        peer = SocketPeer(self.server.port, context())
        self.addCleanup(peer.close)
        peer.receive()
        return peer

    def goAwayThenClose(self, peer):
        """
        Wait for the server's GOAWAY, then close, as a client does.
        """
        goAway = peer.waitFor(peer.goAway)
        peer.close()
        return goAway

    def burst(self, peer, data):
        """
        Send C{data}; the server may close before it has read all of it.
        """
        try:
            peer._write(data)
        except (ConnectionError, ssl.SSLError):
            pass

    def rapidReset(self):
        """
        Open and reset streams, in one burst; return the GOAWAY.
        """
        peer = self.connect()
        client = peer.client
        for _ in range(RESET_BURST * 100 * 2):
            streamId = client.get_next_available_stream_id()
            client.send_headers(streamId, request(path=b"/hello"), end_stream=True)
            client.reset_stream(streamId, 8)
        self.burst(peer, client.data_to_send())
        return self.goAwayThenClose(peer)

    def flood(self, frame, count):
        peer = self.connect()
        self.burst(peer, frame.serialize() * count)
        return self.goAwayThenClose(peer)

    def continuation(self):
        peer = self.connect()
        frames = [HeadersFrame(1, data=b"\x82")]
        frames += [ContinuationFrame(1, data=b"\x00" * 16000) for _ in range(64)]
        self.burst(peer, b"".join(frame.serialize() for frame in frames))
        return self.goAwayThenClose(peer)

    def attacks(self):
        """
        Every attack once, each checked against its bound.
        """
        goAway = self.rapidReset()
        self.assertEqual(goAway.error_code, ErrorCodes.ENHANCE_YOUR_CALM)
        # The server stopped within its bound: it opened fewer streams
        # than the resets it allows plus the stream limit.
        self.assertLess(goAway.last_stream_id, 2 * (RESET_BURST * 100 + 100))
        for frame in (PingFrame(0, opaque_data=b"12345678"), settingsFrame()):
            goAway = self.flood(frame, IDLE_BURST * 3)
            self.assertEqual(goAway.error_code, ErrorCodes.ENHANCE_YOUR_CALM)
        goAway = self.continuation()
        self.assertEqual(goAway.error_code, ErrorCodes.ENHANCE_YOUR_CALM)
        self.assertEqual(goAway.additional_data, b"header block too large")

    def test_attacksBoundedMemoryFlat(self):
        """
        Rapid reset, PING and SETTINGS floods and a CONTINUATION flood are
        each answered with GOAWAY (ENHANCE_YOUR_CALM) within their bound;
        after 20 rounds the server's resident memory grew by less than
        4 MiB over the first, and it still serves.
        """
        pid = self.server.process.pid
        self.attacks()
        before = procStatus(pid, "VmRSS")
        for _ in range(20):
            self.attacks()
        after = procStatus(pid, "VmRSS")
        self.assertLess(after - before, 4 * 1024 * 1024)
        with httpx.Client(http2=True, verify=context(), timeout=WAIT) as client:
            response = client.get(f"https://127.0.0.1:{self.server.port}/hello")
        self.assertEqual(response.text, "hello over HTTP/2")


class FrameworkTestsMixin:
    """
    Real frameworks served over HTTP/2 (TLS, ALPN h2) by C{twist
    gracehttp}, spoken to with httpx.
    """

    appRef = None
    hello = None

    @classmethod
    def setUpClass(cls):
        cls.server = startSubprocess(cls.appRef, cwd=REPO, listen=tlsEndpoint(KEY, CERT))
        cls.base = f"https://127.0.0.1:{cls.server.port}"
        cls.client = httpx.Client(http2=True, verify=context(), timeout=WAIT * 3)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def test_hello(self):
        """A GET is answered over HTTP/2 with the framework's body and a Date header."""
        response = self.client.get(self.base + "/")
        self.assertEqual((response.http_version, response.status_code), ("HTTP/2", 200))
        self.assertEqual(response.text, self.hello)
        self.assertIn("date", response.headers)

    def test_echoLargeBody(self):
        """A 1 MiB POST body comes back unchanged."""
        body = os.urandom(1024 * 1024)
        response = self.client.post(self.base + "/echo", content=body)
        self.assertEqual((response.status_code, response.content), (200, body))

    def test_uploadWithoutLength(self):
        """An 8 MiB upload without Content-Length reaches the view whole."""
        chunks = (b"x" * 65536 for _ in range(128))
        response = self.client.post(self.base + "/size", content=chunks)
        self.assertEqual(response.json()["size"], 8 * 1024 * 1024)

    def test_streamedResponse(self):
        """A streamed response arrives whole."""
        response = self.client.get(self.base + "/stream")
        self.assertEqual(response.text, "".join(f"chunk {i}\n" for i in range(5)))

    def test_errorThen500AndStillServing(self):
        """An application error is a 500 on its stream; the connection serves on."""
        self.assertEqual(self.client.get(self.base + "/boom").status_code, 500)
        self.assertEqual(self.client.get(self.base + "/").status_code, 200)


class FastAPIHTTP2Tests(FrameworkTestsMixin, TestCase):
    appRef = "tests.apps.starlette_app:app"
    hello = "Hello from FastAPI"


class DjangoWSGIHTTP2Tests(FrameworkTestsMixin, TestCase):
    appRef = "tests.apps.djangoproject.wsgi:application"
    hello = "Hello from Django"


class DjangoASGIHTTP2Tests(FrameworkTestsMixin, TestCase):
    appRef = "tests.apps.djangoproject.asgi:application"
    hello = "Hello from Django"
