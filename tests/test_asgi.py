"""
Tests for L{gracehttp._apps.asgi.adapter}: the ASGI adapter, driven with a fake channel,
a L{Clock} and a fresh asyncio event loop per test.
"""

import asyncio
import json
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor

from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from gracehttp._apps.asgi import adapter as _asgi
from gracehttp._apps.asgi import pathsend as _pathsend
from gracehttp._apps.asgi.adapter import (
    ASGIAdapter,
    AsyncioReactorRequired,
    isASGI3,
    requireAsyncioReactor,
)
from gracehttp._core.exchange import CANCELLED, CLIENT_DISCONNECTED, COMPLETED
from gracehttp._core.interfaces import IAppAdapter
from gracehttp._errors import ClientDisconnected

from .fakes import makeExchange


def spin(loop, iterations=20):
    """
    Run C{iterations} rounds of C{loop}'s event loop.
    """
    for _ in range(iterations):
        loop.call_soon(loop.stop)
        loop.run_forever()


def closeLoop(loop):
    """
    Cancel what is still running on C{loop}, let it unwind, close C{loop}.
    """
    for task in asyncio.all_tasks(loop):
        task.cancel()
    spin(loop)
    loop.close()


async def respond(send, status=200, body=b"ok", headers=()):
    """
    Send a complete response.
    """
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


class ASGITestCase(SynchronousTestCase):
    """
    A fresh event loop, clock and captured log per test.
    """

    def setUp(self):
        self.loop = asyncio.new_event_loop()
        self.addCleanup(closeLoop, self.loop)
        self.clock = Clock()
        self.logged = []
        self.patch(_asgi, "_log", Logger(observer=self.logged.append))

    def adapter(self, app, **kwargs):
        return ASGIAdapter(app, self.clock, self.loop, **kwargs)

    def serve(self, app, adapter=None, **exchangeArgs):
        """
        Start C{app} for one request and run the loop until it settles.

        @return: C{(exchange, channel, adapter)}
        """
        if adapter is None:
            adapter = self.adapter(app)
        exchange, channel = makeExchange(self.clock, **exchangeArgs)
        adapter.handle(exchange)
        spin(self.loop)
        return exchange, channel, adapter

    def levels(self):
        return [event["log_level"] for event in self.logged]

    def assertNoErrorLogged(self):
        self.assertFalse(
            [level for level in self.levels() if level in (LogLevel.error, LogLevel.critical)],
            self.logged,
        )


class InterfaceTests(ASGITestCase):
    def test_verifyObject(self):
        """ASGIAdapter provides IAppAdapter."""

        async def app(scope, receive, send):
            pass

        adapter = self.adapter(app)
        self.assertTrue(verifyObject(IAppAdapter, adapter))


class ScopeTests(ASGITestCase):
    def capture(self, **kwargs):
        scopes = []

        async def app(scope, receive, send):
            scopes.append(scope)
            await respond(send)

        self.serve(app, **kwargs)
        self.assertEqual(len(scopes), 1)
        return scopes[0]

    def test_fullScope(self):
        """The HTTP scope carries every ASGI 2.5 key, path decoded under root_path."""
        scopes = []

        async def app(scope, receive, send):
            scopes.append(scope)
            await respond(send)

        adapter = self.adapter(app, rootPath="/api")
        headers = [(b"host", b"example.com"), (b"x-a", b"1")]
        self.serve(
            app,
            adapter=adapter,
            method="POST",
            path=b"/caf%C3%A9/x%2Fy",
            query=b"a=1&b=%20",
            headers=headers,
            body=b"",
        )
        self.assertEqual(
            scopes,
            [
                {
                    "type": "http",
                    "asgi": {"version": "3.0", "spec_version": "2.5"},
                    "http_version": "1.1",
                    "method": "POST",
                    "scheme": "http",
                    "path": "/api/caf\u00e9/x/y",
                    "raw_path": b"/caf%C3%A9/x%2Fy",
                    "query_string": b"a=1&b=%20",
                    "root_path": "/api",
                    "headers": headers,
                    "client": ("127.0.0.1", 50000),
                    "server": ("127.0.0.1", 8000),
                    "state": {},
                    "extensions": {"http.response.pathsend": {}},
                }
            ],
        )

    def test_rawUTF8Path(self):
        """A path sent as raw UTF-8 bytes is decoded too."""
        scope = self.capture(path=b"/caf\xc3\xa9")
        self.assertEqual(scope["path"], "/caf\u00e9")
        self.assertEqual(scope["root_path"], "")

    def test_emptyStateWithoutLifespan(self):
        """Without lifespan the scope's "state" is a fresh empty dict per request."""
        scopes = []

        async def app(scope, receive, send):
            scopes.append(scope)
            scope["state"]["mine"] = True
            await respond(send)

        adapter = self.adapter(app, lifespan="off")
        self.serve(app, adapter=adapter)
        self.serve(app, adapter=adapter)
        self.assertEqual([scope["state"] for scope in scopes], [{"mine": True}] * 2)
        self.assertIsNot(scopes[0]["state"], scopes[1]["state"])

    def test_rootPathNotRepeated(self):
        """
        A target under the root path (a proxy that passes the mount point
        on) is not prefixed again; one outside it (the proxy stripped the
        mount point) is; a trailing slash of the root path is dropped.
        """
        cases = [
            (b"/api/items", "/api/items"),
            (b"/api", "/api"),
            (b"/items", "/api/items"),
            (b"/apix", "/api/apix"),
            (b"/", "/api/"),
            (b"/%61pi/x", "/api/x"),
        ]
        for rawPath, expected in cases:
            with self.subTest(rawPath=rawPath):
                scopes = []

                async def app(scope, receive, send, scopes=scopes):
                    scopes.append(scope)
                    await respond(send)

                adapter = self.adapter(app, rootPath="/api/")
                self.serve(app, adapter=adapter, path=rawPath)
                self.assertEqual(
                    (scopes[0]["path"], scopes[0]["root_path"], scopes[0]["raw_path"]),
                    (expected, "/api", rawPath),
                )


class ReceiveTests(ASGITestCase):
    def test_bodyInParts(self):
        """Body bytes arrive as http.request events, the last with more_body False."""
        received = []

        async def app(scope, receive, send):
            while True:
                message = await receive()
                received.append(message)
                if not message["more_body"]:
                    break
            await respond(send)

        exchange, channel, _ = self.serve(app, method="POST")
        self.assertEqual(received, [])
        exchange.receiveBody(b"ab")
        spin(self.loop)
        exchange.receiveBody(b"cd")
        exchange.receiveBody(b"ef")
        spin(self.loop)
        exchange.endBody()
        spin(self.loop)
        self.assertEqual(
            received,
            [
                {"type": "http.request", "body": b"ab", "more_body": True},
                {"type": "http.request", "body": b"cdef", "more_body": True},
                {"type": "http.request", "body": b"", "more_body": False},
            ],
        )
        self.assertTrue(channel.finished)

    def test_completeBodyInOneEvent(self):
        """A body complete before the first receive() comes in one event."""
        received = []

        async def app(scope, receive, send):
            received.append(await receive())
            await respond(send)

        self.serve(app, method="POST", body=b"hello")
        self.assertEqual(
            received,
            [
                {"type": "http.request", "body": b"hello", "more_body": False},
            ],
        )

    def test_receiveAfterBodyWaitsForDisconnect(self):
        """After the body, receive() waits until the client disconnects."""
        received = []

        async def app(scope, receive, send):
            received.append(await receive())
            received.append(await receive())

        exchange, _channel, _ = self.serve(app, body=b"")
        spin(self.loop, 100)
        self.assertEqual(len(received), 1)
        exchange.disconnect()
        spin(self.loop)
        self.assertEqual(received[1], {"type": "http.disconnect"})
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)

    def test_receiveAfterBodyReturnsWhenResponseComplete(self):
        """
        A receive() waiting after the body returns http.disconnect once the response is complete.
        """
        received = []

        async def listen(receive):
            await receive()
            received.append(await receive())

        async def app(scope, receive, send):
            listener = asyncio.ensure_future(listen(receive))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            self.assertEqual(received, [])
            await respond(send)
            await listener

        exchange, channel, _ = self.serve(app, body=b"")
        self.assertEqual(received, [{"type": "http.disconnect"}])
        self.assertTrue(channel.finished)
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_bufferedBodyBeforeDisconnect(self):
        """Body bytes buffered before the disconnect are delivered before http.disconnect."""
        received = []

        async def app(scope, receive, send):
            received.append(await receive())
            received.append(await receive())

        exchange, _channel = makeExchange(self.clock, method="POST")
        self.adapter(app).handle(exchange)
        exchange.receiveBody(b"xy")
        exchange.disconnect()
        spin(self.loop)
        self.assertEqual(
            received,
            [
                {"type": "http.request", "body": b"xy", "more_body": True},
                {"type": "http.disconnect"},
            ],
        )

    def test_pendingReceiveWokenByDisconnect(self):
        """A receive() waiting for body returns http.disconnect when the client leaves."""
        received = []

        async def app(scope, receive, send):
            received.append(await receive())

        exchange, _channel, _ = self.serve(app, method="POST")
        self.assertEqual(received, [])
        exchange.disconnect()
        spin(self.loop)
        self.assertEqual(received, [{"type": "http.disconnect"}])

    def test_expectContinue(self):
        """The first receive() sends 100 Continue, then waits for the body."""
        received = []

        async def app(scope, receive, send):
            received.append(await receive())
            await respond(send)

        exchange, channel = makeExchange(self.clock, method="POST")
        exchange.expectContinue = True
        self.adapter(app).handle(exchange)
        spin(self.loop)
        self.assertEqual(channel.continues, 1)
        self.assertEqual(received, [])
        exchange.receiveBody(b"data")
        exchange.endBody()
        spin(self.loop)
        self.assertEqual(
            received,
            [
                {"type": "http.request", "body": b"data", "more_body": False},
            ],
        )
        self.assertEqual(channel.continues, 1)

    def test_receiveDoesNotSwallowCancel(self):
        """Cancelling a task waiting in receive() raises CancelledError in it."""
        seen = []

        async def app(scope, receive, send):
            try:
                await receive()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        exchange, _channel = makeExchange(self.clock, grace=1.0, method="POST")
        self.adapter(app).handle(exchange)
        spin(self.loop)
        exchange.disconnect()
        spin(self.loop)
        self.assertEqual(seen, [])
        self.clock.advance(1.0)
        spin(self.loop)
        self.assertEqual(seen, [])
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)


class FastPathTests(ASGITestCase):
    def test_noFuturesWithoutWaiting(self):
        """
        receive() of a buffered complete body and send() without backpressure create no futures.
        """
        created = []
        createFuture = self.loop.create_future

        def countingCreateFuture():
            future = createFuture()
            created.append(future)
            return future

        async def app(scope, receive, send):
            await receive()
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            await send({"type": "http.response.body", "body": b"b"})

        self.loop.create_future = countingCreateFuture
        _exchange, channel, _ = self.serve(app, method="POST", body=b"x")
        self.assertEqual(channel.body, b"ab")
        self.assertEqual(created, [])


class SendTests(ASGITestCase):
    def test_response(self):
        """Start and body events become the exchange's head, body and finish."""

        async def app(scope, receive, send):
            await send(
                {
                    "type": "http.response.start",
                    "status": 201,
                    "headers": [[b"Content-Type", b"text/plain"]],
                    "trailers": False,
                }
            )
            await send({"type": "http.response.body", "body": b"hel", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": True})
            await send({"type": "http.response.body", "body": b"lo"})

        exchange, channel, adapter = self.serve(app)
        self.assertEqual(channel.head, (201, [(b"content-type", b"text/plain")]))
        self.assertEqual(channel.body, b"hello")
        self.assertTrue(channel.finished)
        self.assertFalse(channel.aborted)
        self.assertEqual(exchange.outcome, COMPLETED)
        self.assertEqual(adapter.inFlight, [])
        self.assertEqual(self.logged, [])

    def test_hopByHopHeaders(self):
        """
        Hop-by-hop headers from an ASGI application are not sent, as for
        WSGI; its C{connection: close} ends keep-alive.
        """

        async def app(scope, receive, send):
            await respond(
                send,
                headers=[
                    (b"connection", b"close"),
                    (b"transfer-encoding", b"chunked"),
                    (b"keep-alive", b"timeout=5"),
                    (b"x-a", b"1"),
                ],
            )

        exchange, channel, _adapter = self.serve(app)
        self.assertEqual(channel.head, (200, [(b"x-a", b"1")]))
        self.assertFalse(exchange.keepAlive)
        self.assertEqual(channel.body, b"ok")

    def test_sendAfterDisconnectRaises(self):
        """
        send() after the disconnect raises ClientDisconnected, an OSError, not logged as an error.
        """
        caught = []

        async def app(scope, receive, send):
            await receive()
            self.assertEqual(await receive(), {"type": "http.disconnect"})
            try:
                await respond(send)
            except OSError as e:
                caught.append(e)
                raise

        exchange, channel, _ = self.serve(app, body=b"")
        exchange.disconnect()
        spin(self.loop)
        self.assertEqual(len(caught), 1)
        self.assertIsInstance(caught[0], ClientDisconnected)
        self.assertIsNone(channel.head)
        self.assertNoErrorLogged()
        self.assertEqual(self.levels(), [LogLevel.info])
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)

    def test_bodyAfterDisconnectRaises(self):
        """A body event after the disconnect, even an empty one, raises ClientDisconnected too."""
        caught = []

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200})
            await receive()
            await receive()
            for body in b"", b"late":
                try:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                except ClientDisconnected as e:
                    caught.append(e)

        exchange, channel, _ = self.serve(app, body=b"")
        exchange.disconnect()
        spin(self.loop)
        self.assertEqual(len(caught), 2)
        self.assertEqual(channel.body, b"")
        self.assertNoErrorLogged()

    def test_backpressure(self):
        """A body event waits while the exchange's writing is paused, until resumeWriting."""
        sent = []

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            sent.append("a")
            await send({"type": "http.response.body", "body": b"b"})
            sent.append("b")

        exchange, channel = makeExchange(self.clock)
        exchange.pauseWriting()
        self.adapter(app).handle(exchange)
        spin(self.loop, 100)
        self.assertEqual(channel.body, b"a")
        self.assertEqual(sent, [])
        exchange.resumeWriting()
        spin(self.loop)
        self.assertEqual(sent, ["a", "b"])
        self.assertEqual(channel.body, b"ab")
        self.assertTrue(channel.finished)

    def test_backpressureThenDisconnect(self):
        """A body event waiting on backpressure raises ClientDisconnected when the client leaves."""
        caught = []

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200})
            try:
                await send({"type": "http.response.body", "body": b"a", "more_body": True})
            except ClientDisconnected as e:
                caught.append(e)
                raise

        exchange, _channel = makeExchange(self.clock)
        exchange.pauseWriting()
        self.adapter(app).handle(exchange)
        spin(self.loop)
        self.assertEqual(caught, [])
        exchange.disconnect()
        spin(self.loop)
        self.assertEqual(len(caught), 1)
        self.assertNoErrorLogged()

    def test_listenerAndSenderWaitTogether(self):
        """A receive() listener and a send() blocked by backpressure wait side by side."""
        received = []

        async def listen(receive):
            await receive()
            received.append(await receive())

        async def app(scope, receive, send):
            listener = asyncio.ensure_future(listen(receive))
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            await send({"type": "http.response.body", "body": b"b"})
            await listener

        exchange, channel = makeExchange(self.clock, body=b"")
        exchange.pauseWriting()
        self.adapter(app).handle(exchange)
        spin(self.loop)
        exchange.resumeWriting()
        spin(self.loop)
        self.assertEqual(channel.body, b"ab")
        self.assertEqual(received, [{"type": "http.disconnect"}])

    def badMessages(self, *messages):
        errors = []

        async def app(scope, receive, send):
            for message in messages[:-1]:
                await send(message)
            try:
                await send(messages[-1])
            except RuntimeError as e:
                errors.append(e)
            raise ValueError("stop")

        self.serve(app)
        self.assertEqual(len(errors), 1)
        return errors[0]

    def test_bodyBeforeStart(self):
        """A body event before http.response.start raises RuntimeError."""
        self.badMessages({"type": "http.response.body", "body": b"x"})

    def test_startTwice(self):
        """A second http.response.start raises RuntimeError."""
        start = {"type": "http.response.start", "status": 200}
        self.badMessages(start, start)

    def test_bodyAfterEnd(self):
        """A body event after the last one raises RuntimeError."""
        self.badMessages(
            {"type": "http.response.start", "status": 200},
            {"type": "http.response.body", "body": b"x"},
            {"type": "http.response.body", "body": b"y"},
        )

    def test_unknownType(self):
        """An unknown event type raises RuntimeError."""
        self.badMessages({"type": "http.response.trailers"})


class InlineExecutor(ThreadPoolExecutor):
    """
    An executor that runs each call at once, on the calling thread, so that
    code using the loop's default executor runs deterministically.
    """

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:
            future.set_exception(e)
        return future


class PathSendTests(ASGITestCase):
    """
    The http.response.pathsend extension: the server sends a file the
    application names.  File reads run on the loop's default executor,
    here an L{InlineExecutor}.
    """

    def setUp(self):
        super().setUp()
        self.loop.set_default_executor(InlineExecutor())
        handle, self.path = tempfile.mkstemp()
        self.addCleanup(os.remove, self.path)
        self.content = bytes(range(256)) * 4096 + b"tail"
        with os.fdopen(handle, "wb") as f:
            f.write(self.content)

    def app(self, path):
        async def app(scope, receive, send):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"%d" % len(self.content))],
                }
            )
            await send({"type": "http.response.pathsend", "path": path})

        return app

    def test_fileSent(self):
        """The file becomes the body, in blocks; the response is finished."""
        adapter = self.adapter(self.app(self.path))
        exchange, channel = makeExchange(self.clock)
        adapter.handle(exchange)
        spin(self.loop, 100)
        self.assertEqual(channel.body, self.content)
        self.assertTrue(channel.finished)
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_backpressure(self):
        """While the transport is above its high-water mark, no further block is read."""
        adapter = self.adapter(self.app(self.path))
        exchange, channel = makeExchange(self.clock)
        exchange.pauseWriting()
        adapter.handle(exchange)
        spin(self.loop, 100)
        self.assertEqual(len(channel.body), _pathsend.BLOCK_SIZE)
        exchange.resumeWriting()
        spin(self.loop, 100)
        self.assertEqual(channel.body, self.content)
        self.assertTrue(channel.finished)

    def test_missingFile(self):
        """A path that cannot be opened is the application's error: a 500 (nothing was sent)."""
        adapter = self.adapter(self.app(self.path + ".missing"))
        exchange, channel = makeExchange(self.clock)
        adapter.handle(exchange)
        spin(self.loop, 100)
        self.assertEqual(channel.head[0], 500)
        [event] = [e for e in self.logged if e["log_level"] == LogLevel.error]
        self.assertTrue(event["log_failure"].check(FileNotFoundError))


class OutcomeTests(ASGITestCase):
    def errorsLogged(self):
        return [event for event in self.logged if event["log_level"] == LogLevel.error]

    def assert500(self, channel):
        status, headers = channel.head
        self.assertEqual(status, 500)
        self.assertIn((b"content-type", b"text/plain; charset=utf-8"), headers)
        self.assertEqual(channel.body, b"Internal Server Error\n")
        self.assertIn((b"content-length", b"%d" % len(channel.body)), headers)
        self.assertTrue(channel.finished)

    def test_returnWithoutResponse(self):
        """An application returning without a response gets a 500, logged."""

        async def app(scope, receive, send):
            pass

        exchange, channel, _ = self.serve(app)
        self.assert500(channel)
        self.assertEqual(len(self.errorsLogged()), 1)
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_raiseBeforeStart(self):
        """An exception before the response starts gives a 500 and logs the traceback."""

        async def app(scope, receive, send):
            raise ZeroDivisionError("boom")

        _exchange, channel, adapter = self.serve(app)
        self.assert500(channel)
        [event] = self.errorsLogged()
        self.assertTrue(event["log_failure"].check(ZeroDivisionError))
        self.assertEqual(adapter.inFlight, [])

    def test_raiseAfterStart(self):
        """An exception after the response started aborts it and is logged."""

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
            raise ZeroDivisionError("boom")

        _exchange, channel, _ = self.serve(app)
        self.assertEqual(channel.head[0], 200)
        self.assertTrue(channel.aborted)
        self.assertFalse(channel.finished)
        [event] = self.errorsLogged()
        self.assertTrue(event["log_failure"].check(ZeroDivisionError))

    def test_raiseAfterStartBeforeBody(self):
        """
        An exception after http.response.start but before any body byte
        gives a 500: nothing of the application's response was sent.
        """

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
            await send({"type": "http.response.body", "body": b"", "more_body": True})
            raise ZeroDivisionError("boom")

        exchange, channel, _ = self.serve(app)
        self.assert500(channel)
        self.assertFalse(channel.aborted)
        self.assertEqual(exchange.status, 500)
        [event] = self.errorsLogged()
        self.assertTrue(event["log_failure"].check(ZeroDivisionError))

    def test_returnAfterStartWithoutFinish(self):
        """An application returning after a start with no body gets a 500 instead."""

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200})

        _exchange, channel, _ = self.serve(app)
        self.assert500(channel)
        self.assertEqual(len(self.errorsLogged()), 1)

    def test_returnMidBody(self):
        """An application returning mid-body has its response aborted."""

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"x", "more_body": True})

        _exchange, channel, _ = self.serve(app)
        self.assertTrue(channel.aborted)
        self.assertEqual(channel.head[0], 200)
        self.assertEqual(len(self.errorsLogged()), 1)

    def test_invalidHeader(self):
        """A response header with CR/LF is never emitted: the client gets a 500."""

        async def app(scope, receive, send):
            await respond(send, headers=[(b"x-bad", b"a\r\nset-cookie: x")])

        _exchange, channel, _ = self.serve(app)
        self.assert500(channel)
        self.assertEqual(len(self.errorsLogged()), 1)

    def test_inFlight(self):
        """A running task's Deferred is in inFlight until the task is done, then fires."""

        async def app(scope, receive, send):
            await receive()
            await receive()

        exchange, _channel, adapter = self.serve(app, body=b"")
        [done] = adapter.inFlight
        self.assertNoResult(done)
        exchange.disconnect()
        spin(self.loop)
        self.assertEqual(adapter.inFlight, [])
        self.assertIsNone(self.successResultOf(done))

    def test_errorAfterDisconnectIsLogged(self):
        """An exception unrelated to the disconnect is logged as an error even after it."""

        async def app(scope, receive, send):
            await receive()
            await receive()
            raise ZeroDivisionError("bug")

        exchange, channel, _ = self.serve(app, body=b"")
        exchange.disconnect()
        spin(self.loop)
        [event] = self.errorsLogged()
        self.assertTrue(event["log_failure"].check(ZeroDivisionError))
        self.assertIsNone(channel.head)

    def test_wrappedDisconnectNotLogged(self):
        """
        A framework exception chained to ClientDisconnected, or a group of disconnect errors, is
        logged at info.
        """

        class FrameworkDisconnect(Exception):
            pass

        async def wrapping(scope, receive, send):
            await receive()
            await receive()
            try:
                await respond(send)
            except OSError as e:
                raise FrameworkDisconnect() from e

        async def grouping(scope, receive, send):
            await receive()
            await receive()
            try:
                await respond(send)
            except OSError as e:
                raise ExceptionGroup("tasks", [e, ClientDisconnected()]) from None

        for app in wrapping, grouping:
            del self.logged[:]
            exchange, _channel, _ = self.serve(app, body=b"")
            exchange.disconnect()
            spin(self.loop)
            self.assertEqual(self.levels(), [LogLevel.info])

    def test_notStartedAfterDisconnect(self):
        """An exchange whose client already left is never given to the application."""
        calls = []

        async def app(scope, receive, send):
            calls.append(scope)

        exchange, _channel = makeExchange(self.clock)
        exchange.disconnect()
        adapter = self.adapter(app)
        adapter.handle(exchange)
        spin(self.loop)
        self.assertEqual(calls, [])
        self.assertEqual(adapter.inFlight, [])
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)


class GraceTests(ASGITestCase):
    EPSILON = 2**-10

    def stubbornApp(self, seen):
        """
        An application that ignores the disconnect and works forever.
        """

        async def app(scope, receive, send):
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        return app

    def test_cancelAtGrace(self):
        """
        At grace minus epsilon nothing is cancelled; at grace the app sees asyncio.CancelledError.
        """
        seen = []
        exchange, _channel, adapter = self.serve(self.stubbornApp(seen), grace=3.0)
        exchange.disconnect()
        self.clock.advance(3.0 - self.EPSILON)
        spin(self.loop)
        self.assertEqual(seen, [])
        self.assertEqual(len(adapter.inFlight), 1)
        self.clock.advance(self.EPSILON)
        spin(self.loop)
        self.assertEqual(seen, ["cancelled"])
        self.assertEqual(exchange.outcome, CANCELLED)
        self.assertEqual(adapter.inFlight, [])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertNoErrorLogged()

    def test_finishEarlyLeavesNoDelayedCall(self):
        """An app that finishes within the grace period leaves no delayed call behind."""

        async def app(scope, receive, send):
            await receive()
            await receive()

        exchange, _channel, _adapter = self.serve(app, body=b"")
        exchange.disconnect()
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        spin(self.loop)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(exchange.outcome, CLIENT_DISCONNECTED)
        self.assertNoErrorLogged()

    def test_graceZeroCancelsAtOnce(self):
        """With grace 0 the app is cancelled as soon as the client leaves."""
        seen = []
        exchange, _channel, _ = self.serve(self.stubbornApp(seen), grace=0)
        exchange.disconnect()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        spin(self.loop)
        self.assertEqual(seen, ["cancelled"])
        self.assertEqual(exchange.outcome, CANCELLED)

    def test_negativeGraceNeverCancels(self):
        """With a negative grace the app is never cancelled."""
        seen = []
        exchange, _channel, adapter = self.serve(self.stubbornApp(seen), grace=-1)
        exchange.disconnect()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(10**6)
        spin(self.loop)
        self.assertEqual(seen, [])
        self.assertEqual(len(adapter.inFlight), 1)


class ASGI2Tests(ASGITestCase):
    def test_doubleCallable(self):
        """An ASGI 2 double-callable application is served, with asgi version 2.0."""
        scopes = []

        class App:
            def __init__(self, scope):
                scopes.append(scope)

            async def __call__(self, receive, send):
                message = await receive()
                await respond(send, body=message["body"].upper())

        self.assertFalse(isASGI3(App))
        _exchange, channel, _ = self.serve(App, method="POST", body=b"hi")
        self.assertEqual(scopes[0]["asgi"], {"version": "2.0", "spec_version": "2.5"})
        self.assertEqual(channel.body, b"HI")
        self.assertTrue(channel.finished)

    def test_isASGI3(self):
        """Coroutine functions, async __call__ instances and awaitable classes are ASGI 3."""

        async def function(scope, receive, send):
            pass

        class Instance:
            async def __call__(self, scope, receive, send):
                pass

        class Awaitable:
            def __init__(self, scope, receive, send):
                pass

            def __await__(self):
                return iter(())

        def asgi2(scope):
            return function

        self.assertTrue(isASGI3(function))
        self.assertTrue(isASGI3(Instance()))
        self.assertTrue(isASGI3(Awaitable))
        self.assertFalse(isASGI3(asgi2))

    def test_forcedASGI3(self):
        """asgi3=True overrides detection."""

        class Awaited:
            def __init__(self, scope, receive, send):
                self.send = send

            def __await__(self):
                return respond(self.send).__await__()

        _exchange, channel, _ = self.serve(None, adapter=self.adapter(Awaited, asgi3=True))
        self.assertEqual(channel.body, b"ok")


class ReactorTests(SynchronousTestCase):
    def test_requireAsyncioReactor(self):
        """A reactor without an asyncio loop gets a one-line error naming --reactor asyncio."""
        error = self.assertRaises(AsyncioReactorRequired, requireAsyncioReactor, Clock())
        self.assertIn("--reactor asyncio", str(error))
        self.assertNotIn("\n", str(error))

    def test_asyncioReactorLoop(self):
        """The asyncio reactor's loop is returned."""

        class FakeAsyncioReactor:
            _asyncioEventloop = object()

        self.assertIs(
            requireAsyncioReactor(FakeAsyncioReactor()), FakeAsyncioReactor._asyncioEventloop
        )


class FrameworkTests(ASGITestCase):
    def test_fastAPI(self):
        """A real FastAPI application answers JSON through the adapter."""
        from fastapi import FastAPI

        api = FastAPI()

        @api.get("/items/{item}")
        async def getItem(item: str, q: int = 0):
            return {"item": item, "q": q}

        @api.post("/echo")
        async def echo(payload: dict):
            return {"got": payload}

        _exchange, channel, adapter = self.serve(api, path=b"/items/caf%C3%A9", query=b"q=7")
        status, headers = channel.head
        self.assertEqual(status, 200)
        self.assertIn((b"content-type", b"application/json"), headers)
        self.assertEqual(json.loads(channel.body), {"item": "caf\u00e9", "q": 7})
        self.assertTrue(channel.finished)

        _exchange, channel, _ = self.serve(
            api,
            adapter=adapter,
            method="POST",
            path=b"/echo",
            headers=[(b"content-type", b"application/json")],
            body=b'{"a": [1, 2]}',
        )
        self.assertEqual(channel.head[0], 200)
        self.assertEqual(json.loads(channel.body), {"got": {"a": [1, 2]}})
        self.assertNoErrorLogged()

    def test_starletteStreamingDisconnect(self):
        """A Starlette streaming response stops quietly when the client leaves."""
        from starlette.applications import Starlette
        from starlette.responses import StreamingResponse
        from starlette.routing import Route

        produced = []
        gate = asyncio.Event()

        async def chunks():
            produced.append(1)
            yield b"first"
            await gate.wait()
            produced.append(2)
            yield b"second"

        async def stream(request):
            return StreamingResponse(chunks())

        app = Starlette(routes=[Route("/", stream)])
        exchange, channel, adapter = self.serve(app)
        self.assertEqual(channel.body, b"first")
        exchange.disconnect()
        gate.set()
        spin(self.loop)
        self.assertEqual(produced, [1, 2])
        self.assertEqual(channel.body, b"first")
        self.assertEqual(adapter.inFlight, [])
        self.assertNoErrorLogged()
