"""
Tests for the WSGI adapter (L{gracehttp._apps.wsgi.adapter} and its helper modules),
driven with the fakes of L{tests.fakes}.

Most tests run the application synchronously: a L{SynchronousThreadPool}
runs the job on the test's thread and L{ImmediateReactor.callFromThread}
runs the hand-off at once, so an application can play the reactor's part
(disconnect the exchange, advance the clock) in the middle of its run.
Tests where the application must block (reading a body still arriving,
waiting on backpressure) run it on a real thread pool; the test's thread is
then the reactor and runs what the worker hands over with
L{ThreadedReactor.runUntil}, waiting on events, never sleeping.
"""

import errno
import hashlib
import io
import os
import queue
import sys
import threading
import time
import tracemalloc
import warnings
from tempfile import SpooledTemporaryFile
from wsgiref.validate import WSGIWarning, validator

from flask import Flask, request, send_file
from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel
from twisted.python.threadpool import ThreadPool
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from gracehttp._apps.wsgi import adapter as _wsgi
from gracehttp._apps.wsgi import bridge as _wsgibridge
from gracehttp._apps.wsgi import environ as _wsgienviron
from gracehttp._apps.wsgi import response as _wsgiresponse
from gracehttp._apps.wsgi import spool as _wsgispool
from gracehttp._apps.wsgi.adapter import WSGIAdapter
from gracehttp._apps.wsgi.bridge import HIGH_WATER
from gracehttp._apps.wsgi.response import FILE_BLOCK, FileWrapper
from gracehttp._core.exchange import (
    ABORTED,
    BODY_BUFFER_SIZE,
    CANCELLED,
    CLIENT_DISCONNECTED,
    COMPLETED,
    REJECTED,
)
from gracehttp._core.interfaces import IAppAdapter
from gracehttp._errors import ClientDisconnected

from .fakes import RecordingChannel, SynchronousThreadPool, makeExchange

TIMEOUT = 10.0
"""
Seconds a threaded test waits for an event before it fails (a safety net
against hanging, not a timing assumption).
"""


class ImmediateReactor(Clock):
    """
    A L{Clock} whose C{callFromThread} runs the call at once.
    """

    def callFromThread(self, f, *args, **kwargs):
        f(*args, **kwargs)


class RecordingReactor(Clock):
    """
    A L{Clock} whose C{callFromThread} records the call; L{runCalls} runs
    them, as the reactor's next iteration would.
    """

    def __init__(self):
        super().__init__()
        self.threadCalls = []

    def callFromThread(self, f, *args, **kwargs):
        self.threadCalls.append((f, args, kwargs))

    def runCalls(self):
        calls, self.threadCalls = self.threadCalls, []
        for f, args, kwargs in calls:
            f(*args, **kwargs)


class ThreadedReactor(Clock):
    """
    A L{Clock} whose C{callFromThread}, called from worker threads, queues
    the call for the test's thread (the reactor thread) to run.
    """

    def __init__(self):
        super().__init__()
        self.threadCalls = queue.Queue()

    def callFromThread(self, f, *args, **kwargs):
        self.threadCalls.put((f, args, kwargs))

    def runPending(self):
        """
        Run the calls already queued.
        """
        while True:
            try:
                f, args, kwargs = self.threadCalls.get_nowait()
            except queue.Empty:
                return
            f(*args, **kwargs)

    def runOne(self, timeout=TIMEOUT):
        """
        Wait for the next call and run it.
        """
        try:
            f, args, kwargs = self.threadCalls.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no call from the worker thread") from None
        f(*args, **kwargs)

    def runUntil(self, predicate, timeout=TIMEOUT):
        """
        Run calls as they arrive until C{predicate()} is true.
        """
        deadline = time.monotonic() + timeout
        while not predicate():
            self.runOne(max(deadline - time.monotonic(), 0.001))


def waitFor(event):
    """
    Wait for a L{threading.Event} set by a worker thread; fail if it never
    is.
    """
    if not event.wait(TIMEOUT):
        raise AssertionError("event not set by the worker thread")


class HookChannel(RecordingChannel):
    """
    A L{RecordingChannel} that runs C{onBody(data)} after recording each
    body write.
    """

    onBody = None

    def writeBody(self, exchange, data):
        super().writeBody(exchange, data)
        if self.onBody is not None:
            self.onBody(data)


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


class Closing:
    """
    A response iterable that records whether C{close()} was called.
    """

    def __init__(self, chunks, closed):
        self._chunks = chunks
        self._closed = closed

    def __iter__(self):
        return iter(self._chunks)

    def close(self):
        self._closed.append(True)


class WSGITestCase(SynchronousTestCase):
    """
    An L{ImmediateReactor}, a L{SynchronousThreadPool} and captured logs.
    """

    def setUp(self):
        self.reactor = ImmediateReactor()
        self.pool = SynchronousThreadPool()
        self.pool.max = 10
        self.logged = []
        log = Logger(observer=self.logged.append)
        self.patch(_wsgiresponse, "_log", log)
        self.patch(_wsgienviron, "_log", log)

    def runWorkers(self, reactor=None):
        """
        End the reactor turn (the adapter wakes a worker in a
        C{callLater(0)}), then run every job the pool was given.

        @param reactor: the adapter's reactor, if not C{self.reactor}.
        """
        (reactor or self.reactor).advance(0)
        self.pool.runAll()

    def serve(self, app, rootPath="", channel=None, attributes=(), **exchangeArgs):
        """
        Run C{app} for one request to completion.

        @param attributes: exchange attributes to set, as C{(name, value)}.
        @return: C{(exchange, channel)}
        """
        exchange, defaultChannel = makeExchange(self.reactor, **exchangeArgs)
        if channel is not None:
            exchange._channel = channel
        for name, value in attributes:
            setattr(exchange, name, value)
        adapter = WSGIAdapter(app, self.reactor, self.pool, rootPath=rootPath)
        adapter.handle(exchange)
        self.runWorkers()
        return exchange, channel or defaultChannel

    def environFor(self, **exchangeArgs):
        """
        @return: the C{environ} an application gets for a request.
        """
        seen = []

        def app(environ, start_response):
            seen.append(environ)
            return hello(environ, start_response)

        self.serve(app, **exchangeArgs)
        return seen[0]

    def levels(self, level):
        return [event for event in self.logged if event["log_level"] == level]

    def assertNoErrorLogged(self):
        self.assertEqual(self.levels(LogLevel.error) + self.levels(LogLevel.critical), [])

    def assertServerError(self, channel):
        self.assertEqual(channel.head[0], 500)
        self.assertEqual(channel.body, b"Internal Server Error\n")
        self.assertIn((b"content-type", b"text/plain; charset=utf-8"), channel.head[1])
        self.assertTrue(channel.finished)


class AdapterTests(WSGITestCase):
    def test_verifyObject(self):
        """WSGIAdapter provides IAppAdapter."""
        adapter = WSGIAdapter(hello, self.reactor, self.pool)
        self.assertTrue(verifyObject(IAppAdapter, adapter))

    def test_startupShutdown(self):
        """startup() starts the thread pool, shutdown() stops it; both fire."""
        adapter = WSGIAdapter(hello, self.reactor, self.pool)
        self.assertIsNone(self.successResultOf(adapter.startup()))
        self.assertTrue(self.pool.started)
        self.assertFalse(self.pool.joined)
        self.assertIsNone(self.successResultOf(adapter.shutdown()))
        self.assertTrue(self.pool.joined)

    def test_queuedNotRunByHandle(self):
        """handle() only queues the call: the application runs on a thread."""
        calls = []
        exchange, _channel = makeExchange(self.reactor)
        WSGIAdapter(lambda e, s: calls.append(e) or [], self.reactor, self.pool).handle(exchange)
        self.assertEqual(calls, [])
        self.assertEqual(self.pool.queue, [])
        self.reactor.advance(0)
        self.assertEqual(len(self.pool.queue), 1)
        self.assertIsNotNone(exchange.wake)


class AdmissionTests(WSGITestCase):
    """
    The adapter gives the pool at most C{threadpool.max} requests; the rest
    wait on the reactor thread.
    """

    def setUp(self):
        super().setUp()
        self.pool.max = 1
        self.adapter = WSGIAdapter(self.app, self.reactor, self.pool)
        self.ran = []

    def app(self, environ, start_response):
        self.ran.append(environ["PATH_INFO"])
        return hello(environ, start_response)

    def request(self, path):
        exchange, channel = makeExchange(self.reactor, path=path)
        self.adapter.handle(exchange)
        return exchange, channel

    def test_waitForAThread(self):
        """Requests beyond the pool's size wait and run, in order, as threads free up."""
        requests = [self.request(path) for path in (b"/a", b"/b", b"/c")]
        self.reactor.advance(0)
        self.assertEqual(len(self.pool.queue), 1)
        self.runWorkers()
        self.assertEqual(self.ran, ["/a"])
        self.assertEqual(self.pool.queue, [])
        self.reactor.advance(0)
        self.runWorkers()
        self.assertEqual(self.ran, ["/a", "/b"])
        self.reactor.advance(0)
        self.runWorkers()
        self.assertEqual(self.ran, ["/a", "/b", "/c"])
        for exchange, channel in requests:
            self.assertEqual(channel.body, b"hello")
            self.assertEqual(exchange.outcome, COMPLETED)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_newRequestDoesNotOvertakeWaiting(self):
        """
        A request arriving while others wait for a thread queues behind them, even when a thread was
        just freed.
        """
        _first, _ = self.request(b"/a")
        self.request(b"/b")
        self.runWorkers()
        self.assertEqual(self.ran, ["/a"])
        # /a is done and its thread free; /b's dispatch is still to come
        # when /c arrives.
        self.request(b"/c")
        self.runWorkers()
        self.assertEqual(self.ran, ["/a", "/b"])
        self.runWorkers()
        self.assertEqual(self.ran, ["/a", "/b", "/c"])

    def test_oneWakeUpPerTurn(self):
        """
        Requests queued in one reactor turn wake one worker at the end of the turn, not one each; a
        worker that sees more waiting wakes one more, and one worker may run them all.
        """
        self.pool.max = 10
        for path in (b"/a", b"/b", b"/c"):
            self.request(path)
        self.assertEqual(self.pool.queue, [])
        self.reactor.advance(0)
        self.assertEqual(len(self.pool.queue), 1)
        worker, _, _ = self.pool.queue.pop(0)
        worker()
        # The first worker ran all three (nothing else ran in between) and
        # woke one more when it took the first while two waited.
        self.assertEqual(self.ran, ["/a", "/b", "/c"])
        self.assertEqual(len(self.pool.queue), 1)
        self.runWorkers()
        self.assertEqual(self.adapter._workers, 0)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_waitingRequestDroppedAtDisconnect(self):
        """A waiting request whose client left never takes a thread; the next one runs."""
        _first, _firstChannel = self.request(b"/a")
        gone, goneChannel = self.request(b"/gone")
        _last, lastChannel = self.request(b"/c")
        gone.disconnect()
        self.runWorkers()
        self.reactor.advance(0)
        self.assertEqual(len(self.pool.queue), 1)
        self.runWorkers()
        self.assertEqual(self.ran, ["/a", "/c"])
        self.assertIsNone(goneChannel.head)
        self.assertEqual(gone.outcome, CLIENT_DISCONNECTED)
        self.assertEqual(lastChannel.body, b"hello")
        infos = self.levels(LogLevel.info)
        self.assertEqual([event["path"] for event in infos], ["/gone"])

    def test_inFlight(self):
        """inFlight is empty when idle, else one Deferred that fires when all are done."""
        self.assertEqual(self.adapter.inFlight, [])
        self.request(b"/a")
        self.request(b"/b")
        [drained] = self.adapter.inFlight
        self.runWorkers()
        self.assertNoResult(drained)
        self.reactor.advance(0)
        self.runWorkers()
        self.assertIsNone(self.successResultOf(drained))
        self.assertEqual(self.adapter.inFlight, [])


class EnvironTests(WSGITestCase):
    def test_requestKeys(self):
        """The environ carries the CGI and wsgi.* keys of PEP 3333."""
        environ = self.environFor(
            method="POST",
            path=b"/a/b",
            query=b"x=1&y=%20",
            headers=[
                (b"host", b"example.com:8080"),
                (b"content-type", b"text/plain"),
                (b"content-length", b"3"),
                (b"user-agent", b"test"),
            ],
            body=b"abc",
        )
        expected = {
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/a/b",
            "QUERY_STRING": "x=1&y=%20",
            "CONTENT_TYPE": "text/plain",
            "CONTENT_LENGTH": "3",
            "SERVER_NAME": "example.com",
            "SERVER_PORT": "8080",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "50000",
            "HTTP_HOST": "example.com:8080",
            "HTTP_USER_AGENT": "test",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        self.assertEqual({key: environ[key] for key in expected}, expected)
        self.assertNotIn("HTTP_CONTENT_TYPE", environ)
        self.assertNotIn("HTTP_CONTENT_LENGTH", environ)
        self.assertIsInstance(environ["gracehttp.disconnected"], threading.Event)
        self.assertFalse(environ["gracehttp.disconnected"].is_set())
        for name in ("read", "readline", "readlines", "__iter__"):
            self.assertTrue(callable(getattr(environ["wsgi.input"], name)))
        for name in ("write", "writelines", "flush"):
            self.assertTrue(callable(getattr(environ["wsgi.errors"], name)))

    def test_noContentHeaders(self):
        """CONTENT_TYPE and CONTENT_LENGTH are absent when the request has none."""
        environ = self.environFor()
        self.assertNotIn("CONTENT_TYPE", environ)
        self.assertNotIn("CONTENT_LENGTH", environ)

    def test_pathInfoLatin1(self):
        """PATH_INFO is the percent-decoded path's bytes as latin-1."""
        environ = self.environFor(path=b"/caf%C3%A9/a%2Fb")
        self.assertEqual(environ["PATH_INFO"], "/caf\xc3\xa9/a/b")
        self.assertEqual(environ["PATH_INFO"].encode("latin-1").decode("utf-8"), "/café/a/b")

    def test_rootPath(self):
        """rootPath becomes SCRIPT_NAME and is taken off PATH_INFO when there."""
        environ = self.environFor(rootPath="/app/", path=b"/app/x")
        self.assertEqual((environ["SCRIPT_NAME"], environ["PATH_INFO"]), ("/app", "/x"))
        environ = self.environFor(rootPath="/app", path=b"/app")
        self.assertEqual((environ["SCRIPT_NAME"], environ["PATH_INFO"]), ("/app", ""))
        environ = self.environFor(rootPath="/app", path=b"/application")
        self.assertEqual(environ["PATH_INFO"], "/application")

    def test_duplicateHeadersJoined(self):
        """Repeated fields are joined with ',' and Cookie fields with '; '."""
        environ = self.environFor(
            headers=[
                (b"accept", b"text/html"),
                (b"cookie", b"a=1"),
                (b"accept", b"text/plain"),
                (b"cookie", b"b=2"),
            ]
        )
        self.assertEqual(environ["HTTP_ACCEPT"], "text/html,text/plain")
        self.assertEqual(environ["HTTP_COOKIE"], "a=1; b=2")

    def test_underscoreHeaderDropped(self):
        """A field name with '_' cannot pose as the '-' field of the same CGI name."""
        environ = self.environFor(headers=[(b"x-real-ip", b"10.0.0.1"), (b"x_real_ip", b"6.6.6.6")])
        self.assertEqual(environ["HTTP_X_REAL_IP"], "10.0.0.1")

    def test_headerValueLatin1(self):
        """Header values are decoded as latin-1 (PEP 3333, bytes as latin-1 str)."""
        environ = self.environFor(headers=[(b"x-name", b"caf\xc3\xa9")])
        self.assertEqual(environ["HTTP_X_NAME"], "caf\xc3\xa9")

    def test_serverName(self):
        """SERVER_NAME/PORT come from Host, else from the local address."""
        environ = self.environFor()
        self.assertEqual((environ["SERVER_NAME"], environ["SERVER_PORT"]), ("127.0.0.1", "8000"))
        environ = self.environFor(headers=[(b"host", b"example.com")])
        self.assertEqual((environ["SERVER_NAME"], environ["SERVER_PORT"]), ("example.com", "80"))
        environ = self.environFor(headers=[(b"host", b"[::1]:9000")])
        self.assertEqual((environ["SERVER_NAME"], environ["SERVER_PORT"]), ("[::1]", "9000"))
        environ = self.environFor(headers=[(b"host", b"[::1]")])
        self.assertEqual((environ["SERVER_NAME"], environ["SERVER_PORT"]), ("[::1]", "80"))

    def test_httpsDefaultPort(self):
        """An https request without a port in Host gets SERVER_PORT 443."""
        environ = self.environFor(
            headers=[(b"host", b"example.com")], attributes=[("scheme", "https")]
        )
        self.assertEqual(environ["wsgi.url_scheme"], "https")
        self.assertEqual(environ["SERVER_PORT"], "443")

    def test_http10(self):
        """SERVER_PROTOCOL is the request's HTTP version."""
        environ = self.environFor(attributes=[("httpVersion", "1.0")])
        self.assertEqual(environ["SERVER_PROTOCOL"], "HTTP/1.0")

    def test_noAddresses(self):
        """No peer address: no REMOTE_*; no Host nor local address: SERVER_NAME localhost."""
        environ = self.environFor(attributes=[("client", None), ("server", None)])
        self.assertNotIn("REMOTE_ADDR", environ)
        self.assertNotIn("REMOTE_PORT", environ)
        self.assertEqual((environ["SERVER_NAME"], environ["SERVER_PORT"]), ("localhost", "80"))

    def test_unixSocketServerName(self):
        """A UNIX socket's local address (path, None) is not a name: SERVER_NAME localhost, 80."""
        environ = self.environFor(
            attributes=[("client", None), ("server", ("/run/app.sock", None))]
        )
        self.assertEqual((environ["SERVER_NAME"], environ["SERVER_PORT"]), ("localhost", "80"))

    def test_errorsStreamLogs(self):
        """Text written to wsgi.errors is logged at error level."""
        environ = self.environFor()
        environ["wsgi.errors"].write("something broke\n")
        environ["wsgi.errors"].writelines(["one", "two\n"])
        environ["wsgi.errors"].flush()
        texts = [event["text"] for event in self.levels(LogLevel.error)]
        self.assertEqual(texts, ["something broke", "one", "two"])


class ResponseTests(WSGITestCase):
    def test_simpleResponse(self):
        """A list response is sent with its status, headers and body, then finished."""
        exchange, channel = self.serve(hello)
        self.assertEqual(channel.head, (200, [(b"content-type", b"text/plain")]))
        self.assertEqual(channel.body, b"hello")
        self.assertTrue(channel.finished)
        self.assertEqual(exchange.outcome, COMPLETED)
        self.assertNoErrorLogged()

    def test_flaskApp(self):
        """A real Flask application answers GET and POST correctly."""
        app = Flask("gracehttp-test")

        @app.route("/hello")
        def helloView():
            return f"hello {request.args['name']}"

        @app.post("/echo")
        def echoView():
            return request.get_data()[::-1]

        _exchange, channel = self.serve(app, path=b"/hello", query=b"name=grace")
        self.assertEqual(channel.head[0], 200)
        self.assertIn((b"content-type", b"text/html; charset=utf-8"), channel.head[1])
        self.assertEqual(channel.body, b"hello grace")
        self.assertTrue(channel.finished)

        body = b"0123456789" * 1000
        _exchange, channel = self.serve(
            app,
            method="POST",
            path=b"/echo",
            headers=[(b"content-length", b"%d" % len(body))],
            body=body,
        )
        self.assertEqual(channel.head[0], 200)
        self.assertEqual(channel.body, body[::-1])

        _exchange, channel = self.serve(app, path=b"/missing")
        self.assertEqual(channel.head[0], 404)
        self.assertNoErrorLogged()

    def test_oneHandOffForSmallResponse(self):
        """A small response costs one callFromThread: start, head, body, finish together."""
        reactor = RecordingReactor()
        exchange, channel = makeExchange(reactor)
        WSGIAdapter(hello, reactor, self.pool).handle(exchange)
        self.runWorkers(reactor)
        self.assertEqual(len(reactor.threadCalls), 1)
        self.assertIsNone(channel.head)
        reactor.runCalls()
        self.assertEqual(channel.head[0], 200)
        self.assertEqual(channel.body, b"hello")
        self.assertTrue(channel.finished)
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_requestsShareOneHandOff(self):
        """Requests finished before the reactor runs share one callFromThread, run in order."""
        reactor = RecordingReactor()
        adapter = WSGIAdapter(hello, reactor, self.pool)
        first, firstChannel = makeExchange(reactor)
        second, secondChannel = makeExchange(reactor)
        adapter.handle(first)
        adapter.handle(second)
        self.runWorkers(reactor)
        self.assertEqual(len(reactor.threadCalls), 1)
        reactor.runCalls()
        self.assertEqual((first.outcome, second.outcome), (COMPLETED, COMPLETED))
        self.assertEqual(firstChannel.body + secondChannel.body, b"hellohello")
        # The next request after that run gets a hand-off of its own.
        third, thirdChannel = makeExchange(reactor)
        adapter.handle(third)
        self.runWorkers(reactor)
        self.assertEqual(len(reactor.threadCalls), 1)
        reactor.runCalls()
        self.assertEqual(thirdChannel.body, b"hello")

    def test_failingFlushDoesNotStopOthers(self):
        """A hand-off that raises on the reactor is logged; those posted after it still run."""
        reactor = RecordingReactor()
        outbox = _wsgibridge.Outbox(reactor)
        ran = []
        self.patch(_wsgibridge, "_log", Logger(observer=self.logged.append))
        outbox.post(lambda: 1 / 0)
        outbox.post(lambda: ran.append(True))
        reactor.runCalls()
        self.assertEqual(ran, [True])
        [event] = [e for e in self.logged if e.get("log_failure") is not None]
        self.assertTrue(event["log_failure"].check(ZeroDivisionError))

    def test_generatorResponse(self):
        """Each chunk of an iterable is sent before the next one is asked for."""
        sentBefore = []
        channel = RecordingChannel()

        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", "6")])
            yield b"one"
            sentBefore.append(channel.body)
            yield b""
            yield b"two"

        _exchange, channel = self.serve(app, channel=channel)
        self.assertEqual(sentBefore, [b"one"])
        self.assertEqual(channel.body, b"onetwo")
        self.assertEqual(channel.head, (200, [(b"content-length", b"6")]))
        self.assertTrue(channel.finished)

    def test_headNotSentBeforeFirstChunk(self):
        """The head waits for the first non-empty chunk, so exc_info may replace it."""
        heads = []
        channel = RecordingChannel()

        def app(environ, start_response):
            start_response("200 OK", [("X-First", "1")])
            yield b""
            heads.append(channel.head)
            try:
                raise ValueError("late")
            except ValueError:
                start_response("503 Service Unavailable", [("X-Second", "2")], sys.exc_info())
            yield b"sorry"

        _exchange, channel = self.serve(app, channel=channel)
        self.assertEqual(heads, [None])
        self.assertEqual(channel.head, (503, [(b"x-second", b"2")]))
        self.assertEqual(channel.body, b"sorry")

    def test_emptyResponseSendsHeadAtEnd(self):
        """A response with no body bytes sends its head when the app is done."""

        def app(environ, start_response):
            start_response("204 No Content", [])
            return []

        _exchange, channel = self.serve(app)
        self.assertEqual(channel.head, (204, []))
        self.assertEqual(channel.body, b"")
        self.assertTrue(channel.finished)

    def test_writeCallable(self):
        """Bytes passed to write() go out before the returned iterable's."""

        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"a")
            write(b"")
            write(b"b")
            return [b"c"]

        _exchange, channel = self.serve(app)
        self.assertEqual(channel.body, b"abc")
        self.assertTrue(channel.finished)

    def test_excInfoAfterHeadReraises(self):
        """start_response with exc_info after the head was sent re-raises; the response aborts."""
        raised = []

        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"partial")
            try:
                raise KeyError("boom")
            except KeyError:
                try:
                    start_response("500 Error", [], sys.exc_info())
                except KeyError as e:
                    raised.append(e)
                    raise

        _exchange, channel = self.serve(app)
        self.assertEqual(len(raised), 1)
        self.assertEqual(channel.head[0], 200)
        self.assertEqual(channel.body, b"partial")
        self.assertTrue(channel.aborted)
        self.assertFalse(channel.finished)

    def test_startResponseTwice(self):
        """A second start_response without exc_info is an error: 500."""

        def app(environ, start_response):
            start_response("200 OK", [])
            start_response("201 Created", [])
            return [b"x"]

        _exchange, channel = self.serve(app)
        self.assertServerError(channel)
        self.assertEqual(len(self.levels(LogLevel.error)), 1)

    def test_hopByHopHeaders(self):
        """
        A hop-by-hop header from the application is not sent (the same rule
        as for ASGI); C{Connection: close} ends keep-alive; C{Proxy-*}
        fields other than C{Proxy-Connection} are end-to-end and pass.
        """
        for name, value, keepAlive in (
            ("Connection", "keep-alive", True),
            ("Connection", "Upgrade, Close", False),
            ("Keep-Alive", "timeout=5", True),
            ("Proxy-Connection", "x", True),
            ("Transfer-Encoding", "chunked", True),
            ("Upgrade", "h2c", True),
            ("TE", "trailers", True),
            ("Trailer", "x-a", True),
        ):

            def app(environ, start_response, name=name, value=value):
                start_response("200 OK", [(name, value), ("Proxy-Authenticate", "Basic")])
                return [b"ok"]

            exchange, channel = self.serve(app)
            with self.subTest(name=name, value=value):
                self.assertEqual(channel.head, (200, [(b"proxy-authenticate", b"Basic")]))
                self.assertEqual(channel.body, b"ok")
                self.assertEqual(exchange.keepAlive, keepAlive)
        self.assertNoErrorLogged()

    def test_invalidResponses(self):
        """Bad statuses and headers are errors raised in the app: 500."""
        cases = [
            ("OK 200", []),
            ("600 Nope", []),
            ("2000 OK", []),
            (b"200 OK", []),
            ("200 OK", [("X-Bad", "a\r\nSet-Cookie: x=1")]),
            ("200 OK", [("X-Bad", "nul\0")]),
            ("200 OK", [("Bad Name", "x")]),
            ("200 OK", [(b"X-Bytes", "x")]),
            ("200 OK", [("X-Bytes", b"x")]),
            ("200 OK", [("X-Snowman", "\u2603")]),
            ("200 OK", (("X-Tuple", "x"),)),
        ]
        for status, headers in cases:

            def app(environ, start_response, status=status, headers=headers):
                start_response(status, headers)
                return [b"ok"]

            _exchange, channel = self.serve(app)
            self.assertServerError(channel)
        self.assertEqual(len(self.levels(LogLevel.error)), len(cases))

    def test_statusWithoutReason(self):
        """A bare three-digit status is accepted."""

        def app(environ, start_response):
            start_response("200", [])
            return [b"ok"]

        _exchange, channel = self.serve(app)
        self.assertEqual(channel.head, (200, []))

    def test_nonBytesChunk(self):
        """A str chunk is an error: 500 if nothing was sent yet."""

        def app(environ, start_response):
            start_response("200 OK", [])
            return ["text"]

        _exchange, channel = self.serve(app)
        self.assertServerError(channel)

    def test_noStartResponse(self):
        """An application that never calls start_response gets a 500."""
        _exchange, channel = self.serve(lambda environ, start_response: [])
        self.assertServerError(channel)
        _exchange, channel = self.serve(lambda environ, start_response: [b"x", b"y"])
        self.assertServerError(channel)

    def test_appRaisesBeforeStart(self):
        """An exception before the head is sent gives a small plain 500 and is logged."""

        def app(environ, start_response):
            start_response("200 OK", [])
            raise RuntimeError("kaput")

        exchange, channel = self.serve(app)
        self.assertServerError(channel)
        failures = self.levels(LogLevel.error)
        self.assertEqual(len(failures), 1)
        self.assertTrue(failures[0]["log_failure"].check(RuntimeError))
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_appRaisesAfterStart(self):
        """An exception after the head was sent aborts the response; close() is called."""
        closed = []

        def chunks():
            yield b"first"
            raise RuntimeError("kaput")

        def app(environ, start_response):
            start_response("200 OK", [])
            return Closing(chunks(), closed)

        exchange, channel = self.serve(app)
        self.assertEqual(channel.head[0], 200)
        self.assertEqual(channel.body, b"first")
        self.assertTrue(channel.aborted)
        self.assertFalse(channel.finished)
        self.assertEqual(closed, [True])
        self.assertEqual(len(self.levels(LogLevel.error)), 1)
        self.assertEqual(exchange.outcome, ABORTED)

    def test_closeCalledOnSuccess(self):
        """
        close() is called after the end of the response was handed to the
        reactor (which, here, finishes it at once): the client does not
        wait for close(), and the application counts as finished only
        after it.
        """
        closed = []
        channel = RecordingChannel()

        class Body(Closing):
            def close(self):
                closed.append((channel.finished, list(channel.finishedExchanges)))

        def app(environ, start_response):
            start_response("200 OK", [])
            return Body([b"a", b"b"], closed)

        exchange, channel = self.serve(app, channel=channel)
        self.assertEqual(closed, [(True, [])])
        self.assertEqual(channel.body, b"ab")
        self.assertEqual(channel.finishedExchanges, [exchange])

    def test_slowCloseAfterDeliveryIsCompleted(self):
        """
        A client that leaves while close() still runs, after it got the
        whole response, does not make the request 'client-disconnected'.
        """

        class LeavingBody(Closing):
            def close(self):
                # The client read everything and hung up meanwhile.
                exchange.disconnect()

        exchange, channel = makeExchange(self.reactor)

        def appWithSlowClose(environ, start_response):
            start_response("200 OK", [("Content-Length", "2")])
            return LeavingBody([b"ok"], [])

        adapter = WSGIAdapter(appWithSlowClose, self.reactor, self.pool)
        adapter.handle(exchange)
        self.runWorkers()
        self.assertEqual(channel.body, b"ok")
        self.assertTrue(channel.finished)
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_closeRaises(self):
        """
        An exception from close() is an application error, logged once; the
        response, complete before close() ran, stands.
        """

        class Body:
            def __iter__(self):
                return iter([])

            def close(self):
                raise RuntimeError("close failed")

        def app(environ, start_response):
            start_response("200 OK", [])
            return Body()

        exchange, channel = self.serve(app)
        self.assertEqual((channel.head[0], channel.body), (200, b""))
        self.assertTrue(channel.finished)
        self.assertFalse(channel.aborted)
        self.assertEqual(len(self.levels(LogLevel.error)), 1)
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_singleChunkIterable(self):
        """An iterable with len() 1 is sent with the head and the finish."""
        closed = []

        class One(Closing):
            def __len__(self):
                return 1

        def app(environ, start_response):
            start_response("200 OK", [])
            return One([b"only"], closed)

        _exchange, channel = self.serve(app)
        self.assertEqual(channel.body, b"only")
        self.assertTrue(channel.finished)
        self.assertEqual(closed, [True])


class RecordingBytesIO(io.BytesIO):
    """
    A file-like object that records the sizes read from it.
    """

    def __init__(self, data):
        super().__init__(data)
        self.sizes = []

    def read(self, size=-1):
        self.sizes.append(size)
        return super().read(size)


class FileWrapperTests(WSGITestCase):
    """
    C{environ["wsgi.file_wrapper"]} (PEP 3333, "Optional Platform-Specific
    File Handling").
    """

    def test_inEnviron(self):
        """Every environ has wsgi.file_wrapper: gracehttp's FileWrapper."""
        self.assertIs(self.environFor()["wsgi.file_wrapper"], FileWrapper)

    def test_iterationAndClose(self):
        """
        Iterated (as middleware would), the wrapper yields blocks of its block size; close() closes
        the file, and a file-like without close() is fine.
        """
        data = RecordingBytesIO(b"abcdefg")
        wrapper = FileWrapper(data, 3)
        self.assertEqual(list(wrapper), [b"abc", b"def", b"g"])
        self.assertFalse(data.closed)
        wrapper.close()
        self.assertTrue(data.closed)
        FileWrapper(iter([]), 3).close()
        self.assertEqual(FileWrapper(data).blksize, 8192)

    def test_sentInLargeBlocks(self):
        """
        A wrapper returned by the app is sent whole, read in FILE_BLOCK blocks whatever its block
        size, and closed.
        """
        body = os.urandom(2 * FILE_BLOCK + 100)
        data = RecordingBytesIO(body)
        wrapped = []

        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", str(len(body)))])
            wrapped.append(environ["wsgi.file_wrapper"](data, 4096))
            return wrapped[0]

        _exchange, channel = self.serve(app)
        self.assertEqual(channel.head[0], 200)
        self.assertEqual(channel.body, body)
        self.assertTrue(channel.finished)
        self.assertEqual(data.sizes, [FILE_BLOCK] * 4)
        self.assertTrue(data.closed)

    def test_largerBlockSizeKept(self):
        """A block size larger than FILE_BLOCK is kept."""
        data = RecordingBytesIO(b"x" * 10)

        def app(environ, start_response):
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](data, 4 * FILE_BLOCK)

        _exchange, channel = self.serve(app)
        self.assertEqual(channel.body, b"x" * 10)
        self.assertEqual(data.sizes, [4 * FILE_BLOCK] * 2)

    def test_stopsAtDisconnect(self):
        """Once the client is gone the file is read no further, and still closed."""
        data = RecordingBytesIO(b"y" * (3 * FILE_BLOCK))
        exchange, _channel = makeExchange(self.reactor)

        class Channel(RecordingChannel):
            def writeBody(self, exchange, chunk):
                super().writeBody(exchange, chunk)
                exchange.disconnect()

        exchange._channel = Channel()

        def app(environ, start_response):
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](data)

        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(exchange._channel.body, b"y" * FILE_BLOCK)
        self.assertEqual(data.sizes, [FILE_BLOCK])
        self.assertTrue(data.closed)
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertNoErrorLogged()

    def test_flaskSendFile(self):
        """
        Flask's send_file hands the server a FileWrapper: read in FILE_BLOCK blocks, sent whole,
        closed.
        """
        body = os.urandom(FILE_BLOCK + 1)
        data = RecordingBytesIO(body)
        flask = Flask(__name__)

        @flask.get("/file")
        def serve():
            return send_file(data, mimetype="application/octet-stream")

        _exchange, channel = self.serve(flask.wsgi_app, path=b"/file", body=b"")
        self.assertEqual((channel.head[0], channel.body), (200, body))
        # A block, the last byte, the end.
        self.assertEqual(data.sizes, [FILE_BLOCK] * 3)
        self.assertTrue(data.closed)

    def test_textFileIsAnError(self):
        """
        A file that reads str, not bytes, is an application error: 500 before anything is sent.
        """

        def app(environ, start_response):
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](io.StringIO("text"))

        _exchange, channel = self.serve(app)
        self.assertServerError(channel)


class ValidatorTests(WSGITestCase):
    """
    The adapter passes C{wsgiref.validate.validator}'s checks of a server.
    """

    def validated(self, **exchangeArgs):
        seen = []

        def app(environ, start_response):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            seen.append(body)
            start_response(
                "200 OK",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(body) + 2))],
            )
            return [b"ok", body]

        with warnings.catch_warnings():
            warnings.simplefilter("error", WSGIWarning)
            _exchange, channel = self.serve(validator(app), **exchangeArgs)
        self.assertNoErrorLogged()
        self.assertEqual(channel.head[0], 200)
        self.assertTrue(channel.finished)
        return seen[0], channel

    def test_get(self):
        """GET passes the validator."""
        _body, channel = self.validated(path=b"/x", query=b"a=1")
        self.assertEqual(channel.body, b"ok")

    def test_head(self):
        """HEAD passes the validator."""
        body, _channel = self.validated(method="HEAD")
        self.assertEqual(body, b"")

    def test_post(self):
        """POST with a body passes the validator and the body reaches the app."""
        body, channel = self.validated(
            method="POST",
            headers=[(b"content-type", b"text/plain"), (b"content-length", b"5")],
            body=b"hello",
        )
        self.assertEqual(body, b"hello")
        self.assertEqual(channel.body, b"okhello")


class InputTests(WSGITestCase):
    def reads(self, steps, body, headers=()):
        """
        Run an app that applies C{steps} (callables taking wsgi.input) to a
        complete body.

        @return: what each step returned.
        """
        results = []

        def app(environ, start_response):
            for step in steps:
                results.append(step(environ["wsgi.input"]))
            return hello(environ, start_response)

        self.serve(app, method="POST", headers=headers, body=body)
        return results

    def test_readEOF(self):
        """read(n) returns n bytes until the end of the body, then b''."""
        results = self.reads(
            [
                lambda i: i.read(2),
                lambda i: i.read(0),
                lambda i: i.read(3),
                lambda i: i.read(10),
                lambda i: i.read(10),
                lambda i: i.read(),
            ],
            b"abcdefg",
            headers=[(b"content-length", b"7")],
        )
        self.assertEqual(results, [b"ab", b"", b"cde", b"fg", b"", b""])

    def test_readAll(self):
        """read() and read(None) and read(-1) read to the end."""
        self.assertEqual(self.reads([lambda i: i.read()], b"xyz"), [b"xyz"])
        self.assertEqual(self.reads([lambda i: i.read(None)], b"xyz"), [b"xyz"])
        self.assertEqual(
            self.reads([lambda i: i.read(1), lambda i: i.read(-1)], b"xyz"), [b"x", b"yz"]
        )

    def test_readline(self):
        """readline() stops after b'\\n', at its size limit, or at the end."""
        results = self.reads(
            [
                lambda i: i.readline(),
                lambda i: i.readline(2),
                lambda i: i.readline(0),
                lambda i: i.readline(None),
                lambda i: i.readline(),
                lambda i: i.readline(),
            ],
            b"one\ntwo\nthree",
        )
        self.assertEqual(results, [b"one\n", b"tw", b"", b"o\n", b"three", b""])

    def test_readlinesAndIteration(self):
        """readlines() honours its hint; iterating yields the remaining lines."""
        results = self.reads(
            [lambda i: i.readlines(5), lambda i: list(i), lambda i: i.readlines()],
            b"a\nbb\nccc\ndddd\n",
        )
        self.assertEqual(results, [[b"a\n", b"bb\n", b"ccc\n"], [b"dddd\n"], []])

    def test_emptyBody(self):
        """A request without a body reads as empty."""
        results = self.reads([lambda i: i.read(), lambda i: i.readline()], b"")
        self.assertEqual(results, [b"", b""])

    def test_chunkedBodyStreamed(self):
        """
        With chunkedBody="stream" a chunked body reaches the app as it arrives, without
        Content-Length, read to its end.
        """
        seen = []

        def app(environ, start_response):
            seen.append("CONTENT_LENGTH" in environ)
            seen.append(environ["HTTP_TRANSFER_ENCODING"])
            seen.append(environ["wsgi.input_terminated"])
            seen.append(environ["wsgi.input"].read())
            return hello(environ, start_response)

        exchange, _channel = makeExchange(
            self.reactor, method="POST", headers=[(b"transfer-encoding", b"chunked")]
        )
        WSGIAdapter(app, self.reactor, self.pool, chunkedBody="stream").handle(exchange)
        # Admitted at once: a worker is woken at the end of the turn.
        self.reactor.advance(0)
        self.assertEqual(len(self.pool.queue), 1)
        exchange.receiveBody(b"part one, ")
        exchange.receiveBody(b"part two")
        exchange.endBody()
        self.runWorkers()
        self.assertEqual(seen, [False, "chunked", True, b"part one, part two"])


class DisconnectTests(WSGITestCase):
    def test_queuedRequestNeverStarted(self):
        """A request whose client left while queued is not started and is logged."""
        calls = []
        exchange, channel = makeExchange(self.reactor, grace=0)
        WSGIAdapter(lambda e, s: calls.append(e) or [], self.reactor, self.pool).handle(exchange)
        exchange.disconnect()
        self.runWorkers()
        self.assertEqual(calls, [])
        self.assertIsNone(channel.head)
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        infos = self.levels(LogLevel.info)
        self.assertEqual(len(infos), 1)
        self.assertIn("before it started", infos[0]["log_format"])
        self.assertEqual(self.levels(LogLevel.warn), [])

    def test_disconnectSignalsApp(self):
        """After a disconnect the Event is set and read()/write() raise ClientDisconnected."""
        seen = []
        closed = []

        def app(environ, start_response):
            write = start_response("200 OK", [])
            event = environ["gracehttp.disconnected"]
            seen.append(event.is_set())
            exchange.disconnect()
            seen.append(event.is_set())
            for attempt in (lambda: environ["wsgi.input"].read(1), lambda: write(b"x")):
                try:
                    attempt()
                except ClientDisconnected as e:
                    seen.append(isinstance(e, OSError))
            return Closing([b"never sent"], closed)

        exchange, channel = makeExchange(self.reactor, method="POST", body=b"complete")
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(seen, [False, True, True, True])
        self.assertEqual(closed, [True])
        self.assertIsNone(channel.head)
        self.assertEqual(channel.body, b"")
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertNoErrorLogged()

    def test_iterationStopsAfterDisconnect(self):
        """Once disconnected, the iterable is not asked for another chunk; close() is called."""
        resumed = []
        closed = []
        channel = HookChannel()

        def chunks():
            yield b"one"
            resumed.append(True)
            yield b"two"

        def app(environ, start_response):
            start_response("200 OK", [])
            return Closing(chunks(), closed)

        exchange, _defaultChannel = makeExchange(self.reactor)
        exchange._channel = channel
        channel.onBody = lambda data: exchange.disconnect()
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(channel.body, b"one")
        self.assertEqual(resumed, [])
        self.assertEqual(closed, [True])
        self.assertFalse(channel.finished)
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertNoErrorLogged()

    def test_writeRaisesInIteration(self):
        """A chunk produced after the disconnect is not sent and nothing is logged."""
        closed = []

        def chunks():
            yield b"one"
            exchange.disconnect()
            yield b"two"
            yield b"three"

        def app(environ, start_response):
            start_response("200 OK", [])
            return Closing(chunks(), closed)

        exchange, channel = makeExchange(self.reactor)
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(channel.body, b"one")
        self.assertEqual(closed, [True])
        self.assertFalse(channel.aborted)
        self.assertNoErrorLogged()

    def test_graceExpiryWarnsOnce(self):
        """At grace - epsilon nothing happens; at grace exactly one warning is logged."""
        seen = []

        def app(environ, start_response):
            exchange.disconnect()
            self.reactor.advance(2.0 - 1e-6)
            seen.append(len(self.levels(LogLevel.warn)))
            self.reactor.advance(1e-6)
            seen.append(len(self.levels(LogLevel.warn)))
            self.reactor.advance(100)
            seen.append(len(self.levels(LogLevel.warn)))
            return []

        exchange, _channel = makeExchange(self.reactor, grace=2.0)
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(seen, [0, 1, 1])
        warning = self.levels(LogLevel.warn)[0]
        self.assertIn("cannot be cancelled", warning["log_format"])
        self.assertEqual((warning["method"], warning["path"]), ("GET", "/"))
        self.assertEqual(exchange.outcome, CANCELLED)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_finishingEarlyLeavesNoDelayedCall(self):
        """An app that returns within the grace period leaves no delayed call and no warning."""
        pending = []

        def app(environ, start_response):
            exchange.disconnect()
            pending.append(len(self.reactor.getDelayedCalls()))
            self.reactor.advance(1)
            return []

        exchange, _channel = makeExchange(self.reactor, grace=2.0)
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(pending, [1])
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        self.assertEqual(self.levels(LogLevel.warn), [])
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)

    def test_graceZeroWarnsAtDisconnect(self):
        """With grace 0 the warning comes at the disconnect itself."""
        seen = []

        def app(environ, start_response):
            exchange.disconnect()
            seen.append(len(self.levels(LogLevel.warn)))
            return []

        exchange, _channel = makeExchange(self.reactor, grace=0)
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(seen, [1])

    def test_clientDisconnectedNotLogged(self):
        """ClientDisconnected escaping the app after a disconnect is not an error."""

        def app(environ, start_response):
            exchange.disconnect()
            environ["wsgi.input"].read()

        exchange, channel = makeExchange(self.reactor, method="POST", body=b"x")
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertNoErrorLogged()
        self.assertIsNone(channel.head)
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)

    def test_clientDisconnectedWithoutDisconnectLogged(self):
        """An app raising ClientDisconnected itself, while connected, is an error: 500."""

        def app(environ, start_response):
            raise ClientDisconnected("not really")

        _exchange, channel = self.serve(app)
        self.assertServerError(channel)
        self.assertEqual(len(self.levels(LogLevel.error)), 1)

    def test_disconnectDuringResponseHandOff(self):
        """A disconnect that beats the hand-off to the reactor is not an error."""
        reactor = RecordingReactor()
        exchange, channel = makeExchange(reactor)
        WSGIAdapter(hello, reactor, self.pool).handle(exchange)
        self.runWorkers(reactor)
        exchange.disconnect()
        reactor.runCalls()
        self.assertIsNone(channel.head)
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertNoErrorLogged()


class RecordingSpoolFile(SpooledTemporaryFile):
    """
    A L{SpooledTemporaryFile} that records its instances and whether each
    moved to a temporary file.
    """

    made = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rolled = False
        self.made.append(self)

    def rollover(self):
        self.rolled = True
        super().rollover()


class SpoolTests(WSGITestCase):
    """
    A chunked request body is spooled (the default): the application starts
    once it is complete and sees a C{CONTENT_LENGTH}.
    """

    def setUp(self):
        super().setUp()
        self.spools = []
        self.patch(RecordingSpoolFile, "made", self.spools)
        self.patch(_wsgispool, "SpooledTemporaryFile", RecordingSpoolFile)
        self.patch(_wsgispool, "_log", Logger(observer=self.logged.append))
        self.seen = []

    def app(self, environ, start_response):
        self.seen.append(
            (
                environ.get("CONTENT_LENGTH"),
                environ.get("HTTP_TRANSFER_ENCODING"),
                environ["wsgi.input"].read(),
            )
        )
        return hello(environ, start_response)

    def start(self, app=None, headers=(), **adapterArgs):
        """
        Hand a chunked request to a new adapter and end the reactor turn.

        @return: C{(exchange, channel, adapter)}
        """
        exchange, channel = makeExchange(
            self.reactor,
            method="POST",
            path=b"/upload",
            headers=[(b"transfer-encoding", b"chunked"), *headers],
        )
        adapter = WSGIAdapter(app or self.app, self.reactor, self.pool, **adapterArgs)
        adapter.handle(exchange)
        self.reactor.advance(0)
        return exchange, channel, adapter

    def test_startsWhenBodyComplete(self):
        """
        The app starts only once the chunked body is complete, and sees CONTENT_LENGTH and no
        Transfer-Encoding; the spool is closed at the end.
        """
        exchange, channel, _ = self.start()
        exchange.receiveBody(b"part one, ")
        self.reactor.advance(0)
        exchange.receiveBody(b"part two")
        self.reactor.advance(0)
        self.assertEqual(self.pool.queue, [])
        exchange.endBody()
        self.runWorkers()
        self.assertEqual(self.seen, [("18", None, b"part one, part two")])
        self.assertEqual((channel.head[0], channel.body), (200, b"hello"))
        self.assertEqual(exchange.outcome, COMPLETED)
        [spool] = self.spools
        self.assertFalse(spool.rolled)
        self.assertTrue(spool.closed)

    def test_bodyAlreadyComplete(self):
        """
        A chunked body that arrived whole with its head is spooled at once; an empty one has
        CONTENT_LENGTH 0.
        """
        for body in [b"all of it", b""]:
            del self.seen[:]
            exchange, channel = makeExchange(
                self.reactor, method="POST", headers=[(b"transfer-encoding", b"chunked")], body=body
            )
            WSGIAdapter(self.app, self.reactor, self.pool).handle(exchange)
            self.runWorkers()
            self.assertEqual(self.seen, [(str(len(body)), None, body)])
            self.assertEqual(channel.body, b"hello")

    def test_largeBodyMovesToDisk(self):
        """
        Past SPOOL_MEMORY bytes the spool moves to a temporary file; the app reads the body intact
        from it, in blocks.
        """
        self.patch(_wsgispool, "SPOOL_MEMORY", 1000)
        part = os.urandom(300)
        exchange, _channel, _ = self.start()
        for _ in range(3):
            exchange.receiveBody(part)
        [spool] = self.spools
        self.assertFalse(spool.rolled)
        exchange.receiveBody(part)
        self.assertTrue(spool.rolled)
        self.patch(_wsgispool, "READ_SIZE", 7)
        exchange.receiveBody(part)
        exchange.endBody()
        self.runWorkers()
        self.assertEqual(self.seen, [("1500", None, part * 5)])
        self.assertTrue(spool.closed)

    def test_readingStaysOn(self):
        """
        Spooling takes each part as it arrives: the exchange's buffer never stays full, so reading
        resumes at once.
        """
        exchange, channel, _ = self.start()
        channel.deliverBody(exchange, b"x" * (BODY_BUFFER_SIZE + 1))
        self.assertFalse(channel.readingPaused)
        self.assertEqual(exchange.bufferedBody, 0)

    def test_continueSentAtOnce(self):
        """
        Expect: 100-continue is answered when spooling starts: the app cannot start before the body
        arrives.
        """
        exchange, channel = makeExchange(
            self.reactor, method="POST", headers=[(b"transfer-encoding", b"chunked")]
        )
        exchange.expectContinue = True
        WSGIAdapter(self.app, self.reactor, self.pool).handle(exchange)
        self.assertEqual(channel.continues, 1)

    def test_otherCodingsKept(self):
        """
        Only the final chunked coding is removed from HTTP_TRANSFER_ENCODING; other codings stay for
        the app.
        """
        exchange, _channel = makeExchange(
            self.reactor,
            method="POST",
            headers=[(b"transfer-encoding", b"gzip, chunked")],
            body=b"zz",
        )
        WSGIAdapter(self.app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(self.seen, [("2", "gzip", b"zz")])
        self.assertEqual(_wsgispool.withoutChunked("chunked"), "")
        self.assertEqual(_wsgispool.withoutChunked(" Chunked "), "")
        self.assertEqual(_wsgispool.withoutChunked("gzip,deflate , chunked"), "gzip, deflate")

    def test_disconnectWhileSpoolingNeverStarts(self):
        """
        A client that leaves while its body is spooled: the app never starts, the exchange is
        finished and logged as dropped, the spool closed.
        """
        exchange, channel, adapter = self.start()
        exchange.receiveBody(b"some")
        exchange.disconnect()
        self.runWorkers()
        self.assertEqual(self.seen, [])
        self.assertEqual(self.pool.queue, [])
        self.assertIsNone(channel.head)
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertEqual(channel.finishedExchanges, [exchange])
        self.assertEqual(adapter.inFlight, [])
        [spool] = self.spools
        self.assertTrue(spool.closed)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        [info] = self.levels(LogLevel.info)
        self.assertIn("before its chunked body was complete", info["log_format"])
        self.assertEqual(info["path"], "/upload")

    def test_droppedWhileWaitingForThread(self):
        """
        A spooled request whose client leaves while it waits for a thread is dropped and its spool
        closed.
        """
        self.pool.max = 1
        adapter = WSGIAdapter(self.app, self.reactor, self.pool)
        first, _ = makeExchange(self.reactor, body=b"")
        adapter.handle(first)
        exchange, _channel = makeExchange(
            self.reactor, method="POST", headers=[(b"transfer-encoding", b"chunked")], body=b"x"
        )
        adapter.handle(exchange)
        [spool] = self.spools
        self.assertFalse(spool.closed)
        exchange.disconnect()
        self.runWorkers()
        self.reactor.advance(0)
        self.runWorkers()
        self.assertEqual(self.seen, [(None, None, b"")])
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertTrue(spool.closed)

    def test_disconnectWhileRunning(self):
        """
        Once the app runs, a disconnect sets the event and makes wsgi.input raise, though the body
        is all spooled; the spool is closed.
        """
        outcome = []

        def app(environ, start_response):
            body = environ["wsgi.input"]
            outcome.append(body.read(2))
            exchange.disconnect()
            outcome.append(environ["gracehttp.disconnected"].is_set())
            try:
                body.read()
            except ClientDisconnected as e:
                outcome.append(e)
                raise

        exchange, _channel, _ = self.start(app)
        exchange.receiveBody(b"abcdef")
        exchange.endBody()
        self.runWorkers()
        self.assertEqual(outcome[:2], [b"ab", True])
        self.assertIsInstance(outcome[2], ClientDisconnected)
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertTrue(self.spools[0].closed)
        self.assertNoErrorLogged()

    def test_appRaisesSpoolClosed(self):
        """An app that raises still gets its spool closed (and the client a 500)."""

        def app(environ, start_response):
            raise RuntimeError("boom")

        exchange, channel, _ = self.start(app)
        exchange.endBody()
        self.runWorkers()
        self.assertServerError(channel)
        self.assertTrue(self.spools[0].closed)

    def test_noTimer(self):
        """
        The spool sets no timer and waits as long as the client stays: a
        stalled body is the HTTP channel's to time (one rule for every
        interface).
        """
        exchange, _channel, _ = self.start()
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        exchange.endBody()
        self.runWorkers()
        self.assertEqual(self.seen, [("0", None, b"")])

    def test_spoolWriteFails500(self):
        """
        A spool that cannot be written (disk full) gets a 500 and a close, logged; the app never
        starts.
        """
        exchange, channel, _ = self.start()

        def full(data):
            raise OSError(errno.ENOSPC, "No space left on device")

        self.spools[0].write = full
        exchange.receiveBody(b"data")
        self.assertEqual(channel.head[0], 500)
        self.assertFalse(exchange.keepAlive)
        self.assertEqual(channel.finishedExchanges, [exchange])
        self.assertTrue(self.spools[0].closed)
        self.assertEqual(self.reactor.getDelayedCalls(), [])
        [error] = self.levels(LogLevel.error)
        self.assertIn("No space left", str(error["error"]))
        self.runWorkers()
        self.assertEqual(self.seen, [])

    def test_nonChunkedNotSpooled(self):
        """A request with a Content-Length (or no body) makes no spool and is admitted at once."""
        exchange, _channel = makeExchange(
            self.reactor, method="POST", headers=[(b"content-length", b"2")]
        )
        WSGIAdapter(self.app, self.reactor, self.pool).handle(exchange)
        self.reactor.advance(0)
        self.assertEqual(len(self.pool.queue), 1)
        exchange.receiveBody(b"ok")
        exchange.endBody()
        self.pool.runAll()
        self.assertEqual(self.seen, [("2", None, b"ok")])
        self.assertEqual(self.spools, [])


class Waits:
    """
    Counts the times worker threads started waiting on a bridge's
    condition, so a test knows when a worker is blocked.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self.count = 0

    def signal(self):
        with self._condition:
            self.count += 1
            self._condition.notify_all()

    def waitFor(self, count):
        """
        Wait until the count reaches C{count}; fail if it never does.
        """
        with self._condition:
            if not self._condition.wait_for(lambda: self.count >= count, TIMEOUT):
                raise AssertionError("the worker thread never waited")


class SignallingCondition(threading.Condition):
    """
    A condition that reports each wait to a L{Waits}.  The report is made
    with the lock held, so nothing can notify the waiter before it waits.
    """

    def __init__(self, lock, waits):
        super().__init__(lock)
        self._waits = waits

    def wait(self, timeout=None):
        self._waits.signal()
        return super().wait(timeout)


class ThreadedTests(WSGITestCase):
    """
    The application runs on a real thread; the test's thread is the
    reactor.
    """

    def setUp(self):
        super().setUp()
        self.threaded()

    def threaded(self):
        """
        A L{ThreadedReactor}, a started one-thread pool stopped at cleanup,
        and waits counted on the bridges' conditions.
        """
        self.reactor = ThreadedReactor()
        self.pool = ThreadPool(1, 1, name="test-wsgi")
        self.pool.start()
        self.exchanges = []
        self.addCleanup(self.stopPool)
        self.waits = Waits()
        self.patch(_wsgibridge, "Condition", lambda lock: SignallingCondition(lock, self.waits))

    def stopPool(self):
        # A failed test may leave its application waiting: a disconnect
        # releases it, so the pool can be joined.
        for exchange in self.exchanges:
            exchange.disconnect()
        self.pool.stop()

    def start(self, app, channel=None, paused=False, **exchangeArgs):
        """
        Hand a request to the adapter; the application starts on its thread.

        @param paused: the transport is above its high-water mark already.
        @return: C{(exchange, channel)}
        """
        exchange, defaultChannel = makeExchange(self.reactor, **exchangeArgs)
        if channel is not None:
            exchange._channel = channel
        if paused:
            exchange.pauseWriting()
        self.exchanges.append(exchange)
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        # The reactor turn ends: the adapter wakes a worker.
        self.reactor.advance(0)
        return exchange, channel or defaultChannel

    def waitUntilBlocked(self, waits=1):
        """
        Wait until the worker has started its C{waits}th wait, then run what
        it handed over before.
        """
        self.waits.waitFor(waits)
        self.reactor.runPending()

    def test_bodyInParts(self):
        """read() blocks until the body arrives, in parts, and ends at its end."""
        reads = []
        marks = []
        gotFirst = threading.Event()

        def app(environ, start_response):
            reads.append(environ["wsgi.input"].read(4))
            marks.append(self.waits.count)
            gotFirst.set()
            reads.append(environ["wsgi.input"].read())
            return hello(environ, start_response)

        exchange, channel = self.start(app, method="POST", headers=[(b"content-length", b"11")])
        self.waitUntilBlocked()
        self.assertEqual(reads, [])
        exchange.receiveBody(b"he")
        exchange.receiveBody(b"llo ")
        self.reactor.runUntil(gotFirst.is_set)
        self.assertEqual(reads, [b"hell"])
        self.waitUntilBlocked(marks[0] + 1)
        self.assertEqual(reads, [b"hell"])
        exchange.receiveBody(b"world")
        exchange.endBody()
        self.reactor.runUntil(lambda: channel.finished)
        self.assertEqual(reads, [b"hell", b"o world"])
        self.assertEqual(channel.body, b"hello")
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_continueOnFirstRead(self):
        """100 Continue is sent when the app first reads the body, not before."""
        go = threading.Event()
        reads = []

        def app(environ, start_response):
            waitFor(go)
            reads.append(environ["wsgi.input"].read())
            return hello(environ, start_response)

        exchange, channel = self.start(app, method="POST", headers=[(b"content-length", b"2")])
        exchange.expectContinue = True
        self.reactor.runOne()
        self.assertEqual(channel.continues, 0)
        go.set()
        self.reactor.runUntil(lambda: channel.continues == 1)
        exchange.receiveBody(b"ok")
        exchange.endBody()
        self.reactor.runUntil(lambda: channel.finished)
        self.assertEqual(reads, [b"ok"])
        self.assertEqual(channel.continues, 1)

    def test_truncatedBodyRaises(self):
        """A body cut short by a disconnect raises instead of ending early."""
        outcome = []
        closed = []

        def app(environ, start_response):
            try:
                outcome.append(environ["wsgi.input"].read())
            except ClientDisconnected as e:
                outcome.append(e)
                raise
            finally:
                closed.append(True)

        exchange, channel = self.start(app, method="POST", headers=[(b"content-length", b"100")])
        exchange.receiveBody(b"only part of it")
        self.waitUntilBlocked()
        exchange.disconnect()
        self.reactor.runUntil(lambda: exchange.outcome is not None)
        self.assertEqual(len(outcome), 1)
        self.assertIsInstance(outcome[0], ClientDisconnected)
        self.assertEqual(closed, [True])
        self.assertIsNone(channel.head)
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertNoErrorLogged()

    def test_largeUploadStreams(self):
        """An 8 MiB upload streams through bounded memory, paused and resumed."""
        part = os.urandom(64 * 1024)
        parts = 128
        expected = hashlib.sha256(part * parts).hexdigest()

        def app(environ, start_response):
            digest = hashlib.sha256()
            total = 0
            while True:
                data = environ["wsgi.input"].read(16 * 1024)
                if not data:
                    break
                digest.update(data)
                total += len(data)
            start_response("200 OK", [])
            return [b"%d %s" % (total, digest.hexdigest().encode())]

        tracemalloc.start()
        try:
            exchange, channel = self.start(
                app,
                method="POST",
                headers=[(b"content-length", b"%d" % (len(part) * parts))],
            )
            sent = 0
            while not channel.finished:
                # Deliver as the protocol does: only while reading is on.
                if sent < parts and not channel.readingPaused:
                    channel.deliverBody(exchange, part)
                    sent += 1
                    if sent == parts:
                        exchange.endBody()
                else:
                    self.reactor.runOne()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertEqual(channel.body, b"%d %s" % (len(part) * parts, expected.encode()))
        self.assertTrue(channel.pauses)
        self.assertLess(peak, 1024 * 1024)

    def test_writeWaitsWhilePaused(self):
        """With writing paused the worker waits in write() until resumeWriting()."""
        wrote = []

        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"first")
            wrote.append(True)
            return [b"second"]

        exchange, channel = self.start(app, paused=True)
        self.waitUntilBlocked()
        self.assertEqual(wrote, [])
        self.assertIsNone(channel.head)
        self.assertEqual(channel.body, b"")
        exchange.resumeWriting()
        self.reactor.runUntil(lambda: channel.finished)
        self.assertEqual(channel.body, b"firstsecond")
        self.assertEqual(wrote, [True])

    def test_writePausedByTransport(self):
        """A write that fills the transport (pauseWriting) makes the next write wait."""
        progress = []
        go = threading.Event()

        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"a")
            waitFor(go)
            for chunk in (b"b", b"c"):
                write(chunk)
                progress.append(chunk)
            return []

        exchange, channel = self.start(app, channel=HookChannel())
        channel.onBody = lambda data: exchange.pauseWriting()
        self.reactor.runUntil(lambda: channel.body == b"a")
        go.set()
        self.waitUntilBlocked()
        self.assertEqual(channel.body, b"a")
        self.assertEqual(progress, [])
        channel.onBody = None
        exchange.resumeWriting()
        self.reactor.runUntil(lambda: channel.finished)
        self.assertEqual(channel.body, b"abc")
        self.assertEqual(progress, [b"b", b"c"])

    def test_highWaterMark(self):
        """Past HIGH_WATER unwritten bytes the worker waits; its writes share one hand-off."""
        chunk = b"x" * (HIGH_WATER // 2 + 1)
        progress = []

        def app(environ, start_response):
            write = start_response("200 OK", [])
            for i in range(4):
                write(chunk)
                progress.append(i)
            return []

        _exchange, channel = self.start(app)
        self.waits.waitFor(1)
        self.assertEqual(progress, [0, 1])
        self.assertEqual(self.reactor.threadCalls.qsize(), 1)
        self.assertEqual(channel.body, b"")
        self.reactor.runUntil(lambda: channel.finished)
        self.assertEqual(channel.body, chunk * 4)
        self.assertEqual(progress, [0, 1, 2, 3])

    def test_disconnectReleasesBlockedWriter(self):
        """A worker waiting on backpressure is released by a disconnect: write() raises."""
        raised = []
        closed = []

        def app(environ, start_response):
            write = start_response("200 OK", [])
            try:
                write(b"x")
            except ClientDisconnected:
                raised.append(True)
                raise
            return Closing([], closed)

        exchange, channel = self.start(app, paused=True)
        self.waitUntilBlocked()
        exchange.disconnect()
        self.reactor.runUntil(lambda: exchange.outcome is not None)
        self.assertEqual(raised, [True])
        self.assertEqual(channel.body, b"")
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertNoErrorLogged()


class CountingThreadPool(ThreadPool):
    """
    A L{ThreadPool} that counts its C{callInThread} calls.
    """

    calls = 0

    def callInThread(self, f, *args, **kwargs):
        self.calls += 1
        super().callInThread(f, *args, **kwargs)


class WorkerTests(WSGITestCase):
    """
    While the adapter serves, the pool's threads run worker loops that wait
    for the next request instead of taking one pool job per request.
    """

    def setUp(self):
        super().setUp()
        self.reactor = ThreadedReactor()
        self.pool = CountingThreadPool(2, 2, name="test-wsgi-workers")
        self.waits = Waits()
        self.patch(_wsgi, "Condition", lambda lock: SignallingCondition(lock, self.waits))
        self.adapter = WSGIAdapter(hello, self.reactor, self.pool)
        self.adapter.startup()
        self.stopped = False
        self.addCleanup(self.shutdown)

    def shutdown(self):
        """
        Shut the adapter down on another thread (it joins the pool) and
        wait for it, so a worker that never returns fails the test instead
        of hanging it.
        """
        if self.stopped:
            return
        self.stopped = True
        done = threading.Event()
        threading.Thread(target=lambda: (self.adapter.shutdown(), done.set())).start()
        waitFor(done)

    def serveOne(self):
        exchange, channel = makeExchange(self.reactor)
        self.adapter.handle(exchange)
        self.reactor.advance(0)
        self.reactor.runUntil(lambda: exchange.outcome is not None)
        self.assertEqual(channel.body, b"hello")
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_idleWorkerTakesNextRequest(self):
        """A request arriving while a worker waits wakes it: no new pool job."""
        self.serveOne()
        self.waits.waitFor(1)
        self.serveOne()
        self.waits.waitFor(2)
        self.serveOne()
        self.assertEqual(self.pool.calls, 1)

    def serveTogether(self, count):
        """
        Hand C{count} requests over in one reactor turn to an application
        that returns only once all of them are running (so each needs a
        thread of its own), and wait until all completed.
        """
        barrier = threading.Barrier(count, timeout=TIMEOUT)

        def app(environ, start_response):
            barrier.wait()
            return hello(environ, start_response)

        self.adapter._app = app
        exchanges = [makeExchange(self.reactor)[0] for _ in range(count)]
        for exchange in exchanges:
            self.adapter.handle(exchange)
        # The turn ends: one worker is woken, and each one that takes a
        # request while more wait wakes (or starts) another.
        self.reactor.advance(0)
        self.reactor.runUntil(lambda: all(e.outcome is not None for e in exchanges))
        self.assertEqual([e.outcome for e in exchanges], [COMPLETED] * count)

    def test_requestsArrivingTogetherRunTogether(self):
        """Two requests handed over while one worker is idle run at once, on two threads."""
        self.serveOne()
        self.waits.waitFor(1)
        self.serveTogether(2)
        self.assertEqual(self.pool.calls, 2)

    def test_blockingRequestsSpreadOverThreads(self):
        """
        Requests queued in one turn that block (all wait for each other) still get a thread each, up
        to the pool's size.
        """
        self.shutdown()
        self.pool = CountingThreadPool(3, 3, name="test-wsgi-blocking")
        self.adapter = WSGIAdapter(hello, self.reactor, self.pool)
        self.adapter.startup()
        self.stopped = False
        self.serveTogether(3)
        self.assertEqual(self.pool.calls, 3)

    def test_shutdownReleasesIdleWorkers(self):
        """shutdown() wakes the idle workers; they return and the pool is joined."""
        self.serveOne()
        self.waits.waitFor(1)
        self.shutdown()
        self.assertEqual([t for t in self.pool.threads if t.is_alive()], [])
        self.assertEqual(self.adapter._workers, 0)

    def test_notServingWorkerReturns(self):
        """
        Before startup() a worker with nothing ready returns its thread: each request is a pool job.
        """
        # The serving adapter set up for the other tests is not wanted here:
        # shut it down (joining its pool) before replacing it.
        self.shutdown()
        self.pool = CountingThreadPool(1, 1, name="test-wsgi-not-serving")
        self.pool.start()
        self.addCleanup(self.pool.stop)
        self.adapter = WSGIAdapter(hello, self.reactor, self.pool)
        self.serveOne()
        self.serveOne()
        self.assertEqual(self.pool.calls, 2)
        self.assertEqual(self.waits.count, 0)


class BodyWaitTests(WSGITestCase):
    """
    A C{wsgi.input} read waits for body as long as the client stays: a body
    that stops arriving is timed by the HTTP channel, which disconnects the
    exchange; that releases the read.  The application runs on a real
    thread as in L{ThreadedTests}.
    """

    threaded = ThreadedTests.threaded
    start = ThreadedTests.start
    stopPool = ThreadedTests.stopPool
    waitUntilBlocked = ThreadedTests.waitUntilBlocked

    def setUp(self):
        super().setUp()
        self.threaded()

    def test_rejectedBodyReleasesRead(self):
        """
        A read woken with no body keeps waiting; when the channel gives the
        body up (disconnect, outcome 'rejected') read() raises
        ClientDisconnected, the disconnected event is set, nothing is
        logged as an error.
        """
        outcome = []

        def app(environ, start_response):
            try:
                outcome.append(environ["wsgi.input"].read())
            except ClientDisconnected as e:
                outcome.append(e)
                outcome.append(environ["gracehttp.disconnected"].is_set())
                raise
            start_response("200 OK", [])
            return [b"done"]

        exchange, channel = self.start(app, method="POST", headers=[(b"content-length", b"9")])
        self.waitUntilBlocked()
        self.reactor.runPending()
        exchange.resumeWriting()
        self.waitUntilBlocked(2)
        self.assertEqual(outcome, [])
        exchange.disconnect(REJECTED)
        self.reactor.runUntil(lambda: exchange.outcome is not None)
        [error, disconnectedSet] = outcome
        self.assertIsInstance(error, ClientDisconnected)
        self.assertTrue(disconnectedSet)
        self.assertEqual(exchange.outcome, REJECTED)
        self.assertIsNone(channel.head)
        self.assertNoErrorLogged()
