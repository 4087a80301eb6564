"""
RFC 9112 request syntax end to end: a real gracehttp server in this process
(L{tests.server.startInProcess}) on 127.0.0.1, spoken to with raw sockets:
transfer codings refused before an ASGI application is started, C{Host}
rules and fragments as a WSGI application sees them, chunk extensions and
unknown methods.

Waits are on the server's answer (a socket read with a timeout), never
fixed sleeps.
"""

from unittest import TestCase

from .server import startInProcess
from .test_e2e_limits import connect, readAll, readResponse

SETTINGS = dict(accessLog="off", lifespan="off")


def wsgiApp(calls):
    """
    A WSGI application that records and echoes what it sees of each request.

    @param calls: gets C{(PATH_INFO, QUERY_STRING, HTTP_HOST, body)} per call.
    """

    def app(environ, start_response):
        seen = (
            environ["PATH_INFO"],
            environ["QUERY_STRING"],
            environ.get("HTTP_HOST"),
            environ["wsgi.input"].read(),
        )
        calls.append(seen)
        body = repr(seen).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    return app


def asgiApp(calls):
    """
    An ASGI application that records each scope's path and echoes the body.

    @param calls: gets each scope's C{path}, when the application is called.
    """

    async def app(scope, receive, send):
        calls.append(scope["path"])
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


class ServerMixin:
    makeApp = None

    @classmethod
    def setUpClass(cls):
        cls.calls = []
        _host, cls.port, cls.stop = startInProcess(cls.makeApp(cls.calls), **SETTINGS)

    @classmethod
    def tearDownClass(cls):
        cls.stop()

    def setUp(self):
        del self.calls[:]

    def exchange(self, data):
        """
        Send C{data} on a new connection and read until the server closes it.

        @return: what the server sent.
        """
        s = connect(self.port)
        try:
            s.sendall(data)
            received, closed = readAll(s)
        finally:
            s.close()
        self.assertTrue(closed, received)
        return received

    def assertRefused(self, data, status):
        """
        C{data} is answered C{status} and the connection closed, and no
        application was called; the server then serves a new connection.
        """
        received = self.exchange(data + b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertTrue(received.startswith(b"HTTP/1.1 %d " % status), received[:80])
        self.assertEqual(received.count(b"HTTP/1.1 "), 1, received)
        self.assertEqual(self.calls, [])
        s = connect(self.port)
        try:
            s.sendall(b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n")
            head, _ = readResponse(s)
        finally:
            s.close()
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        del self.calls[:]


class ASGITransferCodingTests(ServerMixin, TestCase):
    makeApp = staticmethod(asgiApp)

    def test_notChunkedFinal(self):
        """
        An ASGI application is never called for a request whose final
        transfer coding is not chunked (400) or that has a coding before
        chunked (501).
        """
        for value, status in [(b"gzip", 400), (b"blegh", 400), (b"gzip, chunked", 501)]:
            with self.subTest(value):
                self.assertRefused(
                    b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: %s\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n" % value,
                    status,
                )

    def test_chunkExtensionsWithWhitespace(self):
        """
        A chunked upload whose extensions have whitespace around C{;} and
        C{=} reaches the application whole.
        """
        s = connect(self.port)
        try:
            s.sendall(
                b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5 ; sig = abc\r\nhello\r\n6; x\r\n world\r\n0\r\n\r\n"
            )
            head, body = readResponse(s)
        finally:
            s.close()
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(body, b"hello world")

    def test_unknownMethod(self):
        """
        A method that is a token the server does not know is answered 501,
        one that is not a token 400; no application is called.
        """
        self.assertRefused(b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501)
        self.assertRefused(b"BR(W /pot HTTP/1.1\r\nHost: t\r\n\r\n", 400)


class WSGIHostTests(ServerMixin, TestCase):
    makeApp = staticmethod(wsgiApp)

    def test_twoHosts(self):
        """
        A second Host field is answered 400; the WSGI application is never
        called (it used to see C{HTTP_HOST=localhost,evil.example.com}).
        """
        self.assertRefused(
            b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example.com\r\n\r\n", 400
        )

    def test_missingOrInvalidHost(self):
        """
        An HTTP/1.1 request without Host, or with an invalid one, is
        answered 400; an HTTP/1.0 request without Host is served.
        """
        self.assertRefused(b"GET / HTTP/1.1\r\n\r\n", 400)
        self.assertRefused(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400)
        received = self.exchange(b"GET /old HTTP/1.0\r\n\r\n")
        self.assertTrue(received.startswith(b"HTTP/1.1 200 "), received)
        self.assertEqual(self.calls, [("/old", "", None, b"")])

    def test_absoluteFormAndFragment(self):
        """
        An absolute-form target's authority is the application's
        C{HTTP_HOST}, and a fragment never reaches C{PATH_INFO} or
        C{QUERY_STRING}.
        """
        received = self.exchange(
            b"GET http://example.org:8080/a?q=1#frag HTTP/1.1\r\nHost: other\r\n\r\n"
            b"GET /b#frag HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        self.assertEqual(received.count(b"HTTP/1.1 200 "), 2, received)
        self.assertEqual(
            self.calls,
            [("/a", "q=1", "example.org:8080", b""), ("/b", "", "t", b"")],
        )
