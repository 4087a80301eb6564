"""
What HTTP/2 asks of the application adapters and the core: the ASGI
C{http_version}, the response trailers extension, WSGI's
C{SERVER_PROTOCOL} and its spooling of bodies without C{Content-Length},
the exchange's trailers, and the access log line.
"""

from twisted.logger import LogLevel

from gracehttp._apps.wsgi.adapter import WSGIAdapter
from gracehttp._core.accesslog import AccessLog
from gracehttp._core.exchange import COMPLETED
from gracehttp._core.responsehead import InvalidResponse

from .fakes import makeExchange
from .test_asgi import ASGITestCase, spin
from .test_wsgi import WSGITestCase


def http2Exchange(clock, trailers=False, **kwargs):
    """
    An exchange as the HTTP/2 protocol makes it.
    """
    exchange, channel = makeExchange(clock, **kwargs)
    exchange.httpVersion = "2"
    exchange.trailersOffered = trailers
    return exchange, channel


class ExchangeTrailersTests(ASGITestCase):
    """
    The exchange keeps the trailers given to finish() when the protocol
    offers them.
    """

    def test_offered(self):
        """Offered: the trailers are checked, lowercased, framing fields dropped."""
        exchange, _ = http2Exchange(self.clock, trailers=True)
        exchange.startResponse(200, [])
        exchange.finish([(b"Grpc-Status", b"0"), (b"content-length", b"1"), (b"x", b"y")])
        self.assertEqual(exchange.trailers, [(b"grpc-status", b"0"), (b"x", b"y")])

    def test_notOffered(self):
        """Not offered: the trailers are dropped."""
        exchange, _ = http2Exchange(self.clock)
        exchange.startResponse(200, [])
        exchange.finish([(b"grpc-status", b"0")])
        self.assertEqual(exchange.trailers, ())

    def test_invalid(self):
        """A trailer value with CR or LF is refused, as a header would be."""
        exchange, _ = http2Exchange(self.clock, trailers=True)
        exchange.startResponse(200, [])
        with self.assertRaises(InvalidResponse):
            exchange.finish([(b"x", b"a\r\nb")])


async def trailersApp(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
    await send({"type": "http.response.body", "body": b"data"})
    await send({"type": "http.response.trailers", "headers": [(b"a", b"1")], "more_trailers": True})
    await send({"type": "http.response.trailers", "headers": [(b"b", b"2")]})


class ASGITests(ASGITestCase):
    """
    The ASGI adapter over HTTP/2: the scope's version, and trailers.
    """

    def serveHTTP2(self, app, trailers=True):
        exchange, channel = http2Exchange(self.clock, trailers=trailers)
        self.adapter(app).handle(exchange)
        spin(self.loop)
        return exchange, channel

    def test_scope(self):
        """http_version is "2"; the trailers extension is offered when the exchange offers them."""
        scopes = []

        async def app(scope, receive, send):
            scopes.append(scope)
            await send({"type": "http.response.start", "status": 204})
            await send({"type": "http.response.body"})

        self.serveHTTP2(app, trailers=True)
        self.serveHTTP2(app, trailers=False)
        self.assertEqual([scope["http_version"] for scope in scopes], ["2", "2"])
        self.assertIn("http.response.trailers", scopes[0]["extensions"])
        self.assertNotIn("http.response.trailers", scopes[1]["extensions"])

    def test_trailers(self):
        """
        A response that announced trailers ends with the last trailers
        event, not with its body; the exchange gets all of them.
        """
        exchange, channel = self.serveHTTP2(trailersApp)
        self.assertEqual(channel.body, b"data")
        self.assertTrue(channel.finished)
        self.assertEqual(exchange.trailers, [(b"a", b"1"), (b"b", b"2")])
        self.assertEqual(exchange.outcome, COMPLETED)

    def test_bodyEndsWithoutTrailersPending(self):
        """Before the trailers come, the response is not finished."""
        finished = []

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "trailers": True})
            await send({"type": "http.response.body", "body": b"x"})
            finished.append(channel.finished)
            await send({"type": "http.response.trailers", "headers": []})

        exchange, channel = http2Exchange(self.clock, trailers=True)
        self.adapter(app).handle(exchange)
        spin(self.loop)
        self.assertEqual(finished, [False])
        self.assertTrue(channel.finished)

    def test_trailersOutOfOrder(self):
        """Trailers not announced by the start are an application error (500)."""

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.trailers", "headers": []})

        _, channel = self.serveHTTP2(app)
        self.assertEqual(channel.head[0], 500)
        self.assertIn(LogLevel.error, self.levels())

    def test_bodyAfterLastBody(self):
        """A body event after the last one, while trailers are awaited, is an error."""

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "trailers": True})
            await send({"type": "http.response.body", "body": b"x"})
            await send({"type": "http.response.body", "body": b"y"})

        _, channel = self.serveHTTP2(app)
        self.assertEqual(channel.body, b"x")
        self.assertTrue(channel.aborted)

    def test_trailersNotOffered(self):
        """Trailers the protocol did not offer: the response completes, they are dropped."""
        exchange, channel = self.serveHTTP2(trailersApp, trailers=False)
        self.assertTrue(channel.finished)
        self.assertEqual(exchange.trailers, ())


class WSGITests(WSGITestCase):
    """
    The WSGI adapter over HTTP/2.
    """

    def test_serverProtocol(self):
        """SERVER_PROTOCOL is HTTP/2."""
        seen = []

        def app(environ, start_response):
            seen.append(environ["SERVER_PROTOCOL"])
            start_response("200 OK", [])
            return [b""]

        exchange, _ = http2Exchange(self.reactor, body=b"")
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(seen, ["HTTP/2"])

    def test_bodyWithoutLengthSpooled(self):
        """
        An HTTP/2 body without Content-Length is received whole first: the
        application gets a CONTENT_LENGTH, as for a chunked HTTP/1.1 body.
        """
        seen = []

        def app(environ, start_response):
            seen.append((environ.get("CONTENT_LENGTH"), environ["wsgi.input"].read()))
            start_response("200 OK", [])
            return [b""]

        exchange, _ = http2Exchange(self.reactor)
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(seen, [])
        exchange.receiveBody(b"abc")
        exchange.receiveBody(b"de")
        exchange.endBody()
        self.runWorkers()
        self.assertEqual(seen, [("5", b"abcde")])

    def test_completeBodyNotSpooled(self):
        """An HTTP/2 request whose stream ended with its head starts at once."""
        seen = []

        def app(environ, start_response):
            seen.append(environ.get("CONTENT_LENGTH"))
            start_response("200 OK", [])
            return [b""]

        exchange, _ = http2Exchange(self.reactor, body=b"")
        WSGIAdapter(app, self.reactor, self.pool).handle(exchange)
        self.runWorkers()
        self.assertEqual(seen, [None])


class AccessLogTests(ASGITestCase):
    """
    The access log line of an HTTP/2 stream.
    """

    def test_line(self):
        """The request line says HTTP/2, and the outcome follows."""
        events = []
        exchange, _ = http2Exchange(self.clock, path=b"/p", query=b"q=1")
        exchange.startResponse(200, [])
        exchange.write(b"abc")
        exchange.finish()
        exchange.appFinished()
        AccessLog(self.clock, observer=events.append)(exchange)
        [event] = events
        self.assertEqual(
            (event["request"], event["httpVersion"], event["outcome"]),
            ("GET /p?q=1 HTTP/2", "2", COMPLETED),
        )
